"""kubectl punctual logs: choosing the attempt, the container and the captured log."""

from __future__ import annotations

import pytest

from punctual.plugin import logs
from punctual.plugin.errors import NotFoundError, PluginError


def pod(containers=("main",), *, annotations=None, statuses=None):
    return {
        "metadata": {"name": "nightly-1-abcde", "namespace": "team-a", "annotations": annotations or {}},
        "spec": {"containers": [{"name": name} for name in containers]},
        "status": {"containerStatuses": statuses or []},
    }


def test_latest_attempt_by_default():
    status = {
        "jobName": "nightly-1-2",
        "attempts": [{"jobName": "nightly-1"}, {"jobName": "nightly-1-2", "containerName": "main"}],
        "logs": {"tail": "latest\n"},
    }
    attempt = logs.select_attempt(status, None)
    assert attempt.number == 2
    assert attempt.total == 2
    assert attempt.job_name == "nightly-1-2"
    assert attempt.container_name == "main"
    assert attempt.captured == {"tail": "latest\n"}


def test_earlier_attempt_uses_only_its_own_capture():
    status = {"attempts": [{"jobName": "nightly-1"}, {"jobName": "nightly-1-2"}], "logs": {"tail": "latest\n"}}
    attempt = logs.select_attempt(status, 1)
    assert attempt.job_name == "nightly-1"
    assert attempt.captured == {}


def test_attempt_capture_wins_over_run_capture():
    status = {"attempts": [{"jobName": "nightly-1", "logs": {"tail": "own\n"}}], "logs": {"tail": "run\n"}}
    assert logs.select_attempt(status, None).captured == {"tail": "own\n"}


def test_run_without_attempts_uses_status_job():
    attempt = logs.select_attempt({"jobName": "nightly-1", "logs": {"note": "pod gone"}}, None)
    assert attempt.number == 1
    assert attempt.total == 0
    assert attempt.job_name == "nightly-1"
    assert attempt.captured == {"note": "pod gone"}


def test_empty_status():
    attempt = logs.select_attempt({}, None)
    assert attempt.job_name is None
    assert attempt.captured == {}


@pytest.mark.parametrize("number", [0, 3, -1])
def test_missing_attempt_is_not_found(number):
    status = {"attempts": [{"jobName": "a"}, {"jobName": "b"}]}
    with pytest.raises(NotFoundError, match=f"attempt {number} does not exist"):
        logs.select_attempt(status, number)


def test_container_requested():
    assert logs.choose_container(pod(("main", "sidecar")), "sidecar", None) == "sidecar"


def test_container_requested_missing():
    with pytest.raises(NotFoundError, match="has no container 'other'"):
        logs.choose_container(pod(("main",)), "other", None)


def test_container_from_default_annotation():
    annotated = pod(("main", "sidecar"), annotations={logs.DEFAULT_CONTAINER_ANNOTATION: "sidecar"})
    assert logs.choose_container(annotated, None, "main") == "sidecar"


def test_container_from_attempt():
    assert logs.choose_container(pod(("main", "sidecar")), None, "sidecar") == "sidecar"


def test_container_defaults_to_first(capsys):
    assert logs.choose_container(pod(("main", "sidecar")), None, None) == "main"
    assert 'Defaulted container "main" out of: main, sidecar' in capsys.readouterr().err


def test_container_state():
    statuses = [
        {"name": "a", "state": {"running": {"startedAt": "2026-03-01T10:00:00Z"}}},
        {"name": "b", "state": {"terminated": {"exitCode": 0}}},
        {"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
    ]
    subject = pod(("a", "b", "c", "d"), statuses=statuses)
    assert logs.container_state(subject, "a") == "running"
    assert logs.container_state(subject, "b") == "terminated"
    assert logs.container_state(subject, "c") == "waiting"
    assert logs.container_state(subject, "d") == "waiting"


def test_newest_pod():
    older = {"metadata": {"name": "a", "creationTimestamp": "2026-03-01T10:00:00Z"}}
    newer = {"metadata": {"name": "b", "creationTimestamp": "2026-03-01T10:05:00Z"}}
    assert logs.newest_pod([newer, older]) is newer
    assert logs.newest_pod([]) is None


def test_archive_from_local_path(tmp_path):
    archived = tmp_path / "run.log"
    archived.write_text("full log\n")
    assert logs.fetch_archive(None, str(archived)) == "full log\n"
    assert logs.fetch_archive(None, archived.as_uri()) == "full log\n"


def test_archive_path_not_readable(tmp_path):
    with pytest.raises(PluginError, match="not readable here"):
        logs.fetch_archive(None, str(tmp_path / "missing.log"))


def test_archive_unknown_scheme():
    with pytest.raises(PluginError, match="only http, https and paths"):
        logs.fetch_archive(None, "s3://bucket/run.log")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://punctual.punctual-system.svc:8080/logs/team-a/nightly-1", ("punctual-system", "punctual:8080", "/logs/team-a/nightly-1")),
        ("http://punctual.ops.svc.cluster.local/logs/a/b?attempt=2", ("ops", "punctual", "/logs/a/b?attempt=2")),
        ("https://punctual.ops.svc:8443/logs/a/b", ("ops", "https:punctual:8443", "/logs/a/b")),
        ("http://logs.example.com/logs/a/b", None),
        ("/var/lib/punctual/logs/a/b/1.log", None),
    ],
)
def test_service_proxy_request(url, expected):
    assert logs.service_proxy_request(url) == expected
