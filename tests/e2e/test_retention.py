"""History retention end to end: per-phase limits, runTTLSeconds, and active runs that are never pruned."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from support import Api, Operator, eventually, job_template, parse_time, phase, scheduled_unix

pytestmark = pytest.mark.cluster

FINISHED = ("Succeeded", "Failed", "TimedOut", "Cancelled", "Skipped")


def phases(api: Api, scheduled_job: str) -> Counter[str | None]:
    return Counter(phase(run) for run in api.job_runs(scheduled_job))


def newest(seen: dict[str, tuple[int, str | None]], target_phase: str, count: int) -> set[str]:
    """Return the names of the count newest runs seen in target_phase."""
    matching = sorted((t, name) for name, (t, seen_phase) in seen.items() if seen_phase == target_phase)
    return {name for _, name in matching[-count:]}


def record(api: Api, scheduled_job: str, seen: dict[str, tuple[int, str | None]]) -> None:
    for run in api.job_runs(scheduled_job):
        seen[run["metadata"]["name"]] = (scheduled_unix(run), phase(run))


def test_history_limits_keep_exact_counts(api: Api, operator: Operator):
    api.create_scheduled_job("ok", {
        "schedule": "@every 2s", "successfulRunsHistoryLimit": 2, "failedRunsHistoryLimit": 1,
        "skippedRunsHistoryLimit": 1, "jobTemplate": job_template(duration="1s"),
    })
    api.create_scheduled_job("bad", {
        "schedule": "@every 2s", "successfulRunsHistoryLimit": 1, "failedRunsHistoryLimit": 2,
        "jobTemplate": job_template(outcome="fail"),
    })
    api.create_scheduled_job("stuck", {
        "schedule": "@every 2s", "concurrencyPolicy": "Forbid", "successfulRunsHistoryLimit": 0,
        "failedRunsHistoryLimit": 0, "skippedRunsHistoryLimit": 1, "jobTemplate": job_template(outcome="hang"),
    })
    seen: dict[str, dict[str, tuple[int, str | None]]] = {"ok": {}, "bad": {}, "stuck": {}}
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        for name, runs in seen.items():
            record(api, name, runs)
        time.sleep(0.5)
    for name in seen:
        api.patch_spec(name, {"suspend": True})

    eventually(lambda: phases(api, "ok") == Counter({"Succeeded": 2}), timeout=20,
               what=f"exactly 2 Succeeded runs of ok (have {dict(phases(api, 'ok'))})")
    eventually(lambda: phases(api, "bad") == Counter({"Failed": 2}), timeout=20,
               what=f"exactly 2 Failed runs of bad (have {dict(phases(api, 'bad'))})")
    eventually(lambda: phases(api, "stuck") == Counter({"Running": 1, "Skipped": 1}), timeout=20,
               what=f"the active run and 1 Skipped record of stuck (have {dict(phases(api, 'stuck'))})")
    for name, runs in seen.items():
        record(api, name, runs)

    assert len(seen["ok"]) >= 6, f"only {len(seen['ok'])} runs of ok were created; pruning was not exercised"
    assert {run["metadata"]["name"] for run in api.job_runs("ok")} == newest(seen["ok"], "Succeeded", 2)
    assert {run["metadata"]["name"] for run in api.job_runs("bad")} == newest(seen["bad"], "Failed", 2)
    stuck = api.job_runs("stuck")
    first = min(seen["stuck"].items(), key=lambda item: item[1][0])[0]
    assert {run["metadata"]["name"] for run in stuck if phase(run) == "Running"} == {first}, \
        "the active run was pruned or replaced"
    assert {run["metadata"]["name"] for run in stuck if phase(run) == "Skipped"} == newest(seen["stuck"], "Skipped", 1)


def finished_age(run: dict[str, Any], now: datetime) -> float | None:
    status = run.get("status") or {}
    if status.get("phase") not in FINISHED or not status.get("completionTime"):
        return None
    return (now - parse_time(status["completionTime"])).total_seconds()


def test_run_ttl_deletes_old_finished_runs(api: Api, operator: Operator):
    ttl = 4
    limits = {"successfulRunsHistoryLimit": 50, "failedRunsHistoryLimit": 50, "skippedRunsHistoryLimit": 50}
    api.create_scheduled_job("short", {
        "schedule": "@every 2s", "runTTLSeconds": ttl, **limits, "jobTemplate": job_template(duration="1s"),
    })
    api.create_scheduled_job("hanging", {
        "schedule": "@every 2s", "concurrencyPolicy": "Forbid", "runTTLSeconds": 1, **limits,
        "jobTemplate": job_template(outcome="hang"),
    })
    created: set[str] = set()
    active: str | None = None
    # Deletion follows the expiry after the status refresh, so allow a few seconds.
    slack = 3
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        for run in api.job_runs("short"):
            created.add(run["metadata"]["name"])
            age = finished_age(run, now)
            assert age is None or age <= ttl + slack, f"{run['metadata']['name']} finished {age:.1f} s ago, still kept"
        running = [run["metadata"]["name"] for run in api.job_runs("hanging") if phase(run) == "Running"]
        if running:
            active = active or running[0]
            assert running == [active], f"the active run changed: {running}"
        time.sleep(0.5)

    present = {run["metadata"]["name"] for run in api.job_runs("short")}
    assert len(created - present) >= 3, f"runTTLSeconds deleted too few runs: created {len(created)}, kept {len(present)}"
    assert active is not None, "the hanging run never started"

    # Suspended, nothing fires any more: the expiry timer alone removes the rest.
    api.patch_spec("short", {"suspend": True})
    eventually(
        lambda: not [run for run in api.job_runs("short") if phase(run) in FINISHED],
        timeout=ttl + 10, what="every finished run of short deleted after runTTLSeconds",
    )
    hanging = api.job_runs("hanging")
    assert [run["metadata"]["name"] for run in hanging if phase(run) == "Running"] == [active]
    old_skips = [run for run in hanging if (age := finished_age(run, datetime.now(UTC))) and age > 1 + slack]
    assert not old_skips, f"Skipped records older than runTTLSeconds kept: {[r['metadata']['name'] for r in old_skips]}"
