"""Unit tests of the pure helpers of log capture: pod states, request merging and settings checks."""

from __future__ import annotations

from typing import Any

import pytest

from punctual import logcapture
from punctual.logcapture import CaptureRequest, CaptureSettings


def pod(phase: str, *states: dict[str, Any], init_states: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    containers = [{"name": f"c{n}"} for n in range(len(states))]
    init_containers = [{"name": f"init{n}"} for n in range(len(init_states))]
    return {
        "metadata": {"name": "run-1-abcde"},
        "spec": {"containers": containers, "initContainers": init_containers},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": f"c{n}", "state": state} for n, state in enumerate(states)],
            "initContainerStatuses": [{"name": f"init{n}", "state": state} for n, state in enumerate(init_states)],
        },
    }


RUNNING = {"running": {"startedAt": "2026-03-01T12:00:00Z"}}
TERMINATED = {"terminated": {"exitCode": 0}}
WAITING = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image busybox"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (pod("Succeeded", TERMINATED), True),
        (pod("Failed", TERMINATED), True),
        (pod("Running", TERMINATED, TERMINATED), True),
        (pod("Running", TERMINATED, RUNNING), False),
        (pod("Pending", WAITING), False),
        (pod("Pending"), False),
    ],
)
def test_pod_terminated(body: dict[str, Any], expected: bool):
    assert logcapture.pod_terminated(body) == expected


def test_started_containers_in_spec_order():
    body = pod("Running", WAITING, RUNNING, TERMINATED, init_states=(TERMINATED,))
    assert logcapture.started_containers(body) == ["init0", "c1", "c2"]


def test_restarted_container_counts_as_started():
    body = pod("Running", {"waiting": {"reason": "CrashLoopBackOff"}})
    body["status"]["containerStatuses"][0]["lastState"] = {"terminated": {"exitCode": 1}}
    assert logcapture.started_containers(body) == ["c0"]


def test_never_started_note_names_waiting_reason():
    note = logcapture.never_started_note(pod("Pending", WAITING))
    assert note == (
        "no container of pod run-1-abcde started (ImagePullBackOff: Back-off pulling image busybox), so it has no log"
    )
    assert "pod phase Pending" in logcapture.never_started_note(pod("Pending"))


def test_request_merge_keeps_strongest():
    snapshot = CaptureRequest("ns", "run", "job", "pod", final=False)
    deleted = CaptureRequest("ns", "run", "job", "pod", final=True, deleted=True, note="never started")
    merged = snapshot.merged(deleted)
    assert merged.final
    assert merged.deleted
    assert merged.note == "never started"
    assert snapshot.key == ("ns", "pod")
    assert CaptureRequest("ns", "run", "job", None, final=True).key == ("ns", "job:job")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tail_bytes": 0}, "out of range"),
        ({"tail_bytes": 256 * 1024 + 1}, "out of range"),
        ({"snapshot_seconds": -1}, "negative"),
        ({"workers": 0}, "log capture workers"),
        ({"archive_max_bytes": 0}, "archive size limit"),
    ],
)
def test_settings_reject_invalid_values(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        CaptureSettings(**changes)


def test_read_limit_leaves_room_for_long_lines():
    assert CaptureSettings(tail_bytes=16384).read_limit_bytes == 4 * 16384 + 64 * 1024


@pytest.mark.parametrize(("status", "transient"), [(500, True), (503, True), (429, True), (404, False), (400, False)])
def test_log_read_error_transient(status: int, transient: bool):
    assert logcapture.LogReadError(status, "message").transient == transient
