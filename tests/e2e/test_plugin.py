"""kubectl punctual against the local cluster, with the operator running in the test's namespace.

Each test runs the installed ``kubectl-punctual`` console script as a
subprocess, the way kubectl runs it, and checks its output and exit code
against what the API server holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

import localcluster
from support import Api, Operator, eventually, job_template, parse_time, phase, reason

pytestmark = pytest.mark.cluster

PLUGIN = Path(sys.executable).parent / "kubectl-punctual"
# A schedule that never fires during a test, for ScheduledJobs that only run what the test starts.
YEARLY = "0 0 1 1 *"
LOG_LINES = localcluster.POD_LOG_TEXT.splitlines()


def plugin(cluster: Any, namespace: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PLUGIN), "--kubeconfig", cluster.kubeconfig, "-n", namespace, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit code {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def table(text: str) -> list[dict[str, str]]:
    """Parse a kubectl-style table into rows keyed by header; columns are split at the header positions."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    # A column starts after two or more spaces; single spaces stay inside headers such as "EXIT CODE".
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[max(0, i - 2):i] == "  ")]
    names = [header[start:end].strip() for start, end in zip(starts, [*starts[1:], None])]
    rows = []
    for line in lines[1:]:
        rows.append({name: line[start:end].strip() for name, start, end in zip(names, starts, [*starts[1:], None])})
    return rows


def wait_for_phase(api: Api, name: str, expected: set[str], timeout: float = 30) -> dict[str, Any]:
    return eventually(
        lambda: (run := api.job_run(name)) and phase(run) in expected and run,
        timeout=timeout, what=f"JobRun {name} in phase {sorted(expected)}",
    )


# ---------------------------------------------------------------- runs and describe


def test_runs_and_describe(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job(
        "tick",
        {
            "schedule": "@every 3s",
            "sla": {"timeoutSeconds": 60},
            # Enough history that no run this test looks at is pruned while it runs.
            "successfulRunsHistoryLimit": 50,
            "jobTemplate": job_template(duration="1s"),
        },
    )
    done = eventually(
        lambda: len([r for r in api.job_runs("tick") if phase(r) == "Succeeded"]) >= 2 and api.job_runs("tick"),
        timeout=40, what="two Succeeded runs",
    )
    assert done

    listed = table(succeeded(plugin(cluster, namespace, "runs", "tick")).stdout)
    assert list(listed[0]) == ["NAME", "PHASE", "SCHEDULED", "LAG", "DURATION", "SLA", "REASON"]
    scheduled = [row["SCHEDULED"] for row in listed]
    assert scheduled == sorted(scheduled, reverse=True)
    finished = [row for row in listed if row["PHASE"] == "Succeeded"]
    assert len(finished) >= 2
    for row in finished:
        assert row["SLA"] == "ok"
        assert row["REASON"] == "Completed"
        assert row["DURATION"].endswith("s")
        assert row["LAG"].endswith("s")

    as_json = json.loads(succeeded(plugin(cluster, namespace, "runs", "tick", "-o", "json")).stdout)
    assert as_json["kind"] == "List"
    names = {run["metadata"]["name"] for run in as_json["items"]}
    assert {row["NAME"] for row in finished} <= names

    everything = table(succeeded(plugin(cluster, namespace, "runs", "-o", "wide")).stdout)
    assert list(everything[0])[:2] == ["SCHEDULEDJOB", "NAME"]
    assert {row["SCHEDULEDJOB"] for row in everything} == {"tick"}
    assert {row["TRIGGER"] for row in everything} == {"Schedule"}

    cluster_wide = table(succeeded(plugin(cluster, namespace, "runs", "-A")).stdout)
    assert list(cluster_wide[0])[0] == "NAMESPACE"
    assert namespace in {row["NAMESPACE"] for row in cluster_wide}

    # kubectl finds the plugin on PATH by its name, kubectl-punctual.
    kubectl = localcluster.find_binary("kubectl")
    via_kubectl = subprocess.run(
        [str(kubectl), "punctual", "runs", "tick", "--kubeconfig", cluster.kubeconfig, "-n", namespace],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": f"{PLUGIN.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert succeeded(via_kubectl).stdout.startswith("NAME ")

    described = succeeded(plugin(cluster, namespace, "describe", "tick")).stdout
    assert "Name:                 tick" in described
    assert "Schedule:             @every 3s" in described
    assert "Conditions:" in described
    assert "ScheduleValid" in described
    assert "Recent Runs" in described
    assert "RunSucceeded" in described
    assert "JobRun/tick-" in described

    run_name = finished[0]["NAME"]
    for args in (["describe", run_name], ["describe", "run", run_name], ["describe", "jr", run_name]):
        text = succeeded(plugin(cluster, namespace, *args)).stdout
        assert f"Name:            {run_name}" in text
        assert "Phase:           Succeeded" in text
        assert "Attempts:" in text
        assert "Events:" in text
        assert f"Job/{run_name}" in text, "the Job's own Events are part of the run's description"
    as_yaml = yaml.safe_load(succeeded(plugin(cluster, namespace, "describe", "sj", "tick", "-o", "yaml")).stdout)
    assert as_yaml["object"]["metadata"]["name"] == "tick"
    assert as_yaml["events"]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "missing"],
        ["trigger", "missing"],
        ["next", "missing"],
        ["suspend", "missing"],
        ["resume", "missing"],
        ["backfill", "missing", "--from", "2025-01-01", "--to", "2025-01-02"],
        ["describe", "missing"],
        ["describe", "run", "missing"],
        ["logs", "missing-1767225600"],
    ],
)
def test_missing_object_exits_3(cluster, crds, namespace: str, args: list[str]):
    result = plugin(cluster, namespace, *args)
    assert result.returncode == 3, result.stderr
    assert "missing" in result.stderr
    assert "not found" in result.stderr or "no ScheduledJob or JobRun" in result.stderr or "no JobRun" in result.stderr
    assert namespace in result.stderr
    assert result.stdout == ""


def test_invalid_time_exits_2(cluster, crds, api: Api, namespace: str):
    api.create_scheduled_job("hourly", {"schedule": "0 * * * *", "jobTemplate": job_template()})
    for args in (
        ["next", "hourly", "--from", "tomorrow"],
        ["backfill", "hourly", "--from", "2025-02-30", "--to", "2025-03-01"],
        ["backfill", "hourly", "--from", "2025-01-01", "--to", "later"],
    ):
        result = plugin(cluster, namespace, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "invalid time for --" in result.stderr
        assert "RFC 3339" in result.stderr


def test_forbidden_exits_4(cluster, crds, api: Api, api_client: client.ApiClient, namespace: str, tmp_path: Path):
    """A ServiceAccount without RBAC grants gets exit code 4 and a message naming the request."""
    api.create_scheduled_job("hourly", {"schedule": "0 * * * *", "jobTemplate": job_template()})
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody")))
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
    ).status.token
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    server = admin["clusters"][0]["cluster"]
    kubeconfig = tmp_path / "nobody.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": server}],
        "users": [{"name": "nobody", "user": {"token": token}}],
        "contexts": [{"name": "nobody", "context": {"cluster": "local", "user": "nobody", "namespace": namespace}}],
        "current-context": "nobody",
    }))
    for args in (["runs", "hourly"], ["trigger", "hourly"], ["runs"]):
        result = subprocess.run([str(PLUGIN), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 4, (args, result.stderr)
        assert "forbidden" in result.stderr
        assert "RBAC" in result.stderr


# ---------------------------------------------------------------- trigger


def test_trigger_under_forbid_is_skipped(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job(
        "exclusive",
        {"schedule": YEARLY, "concurrencyPolicy": "Forbid", "jobTemplate": job_template(outcome="hang")},
    )
    first = succeeded(plugin(cluster, namespace, "trigger", "exclusive")).stdout.strip()
    assert first.startswith("exclusive-manual-")
    run = wait_for_phase(api, first, {"Running"})
    assert run["spec"]["trigger"] == "Manual"
    assert run["metadata"]["labels"]["punctual.dev/scheduled-job"] == "exclusive"
    owner = run["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("ScheduledJob", "exclusive", True)

    # Run names carry Unix seconds, so the second trigger must fall in a later second.
    time.sleep(1.1)
    second = succeeded(plugin(cluster, namespace, "trigger", "exclusive")).stdout.strip()
    assert second != first
    skipped = wait_for_phase(api, second, {"Skipped", "Pending", "Running", "Succeeded", "Failed"})
    assert phase(skipped) == "Skipped"
    assert reason(skipped) == "ConcurrencyForbid"
    assert first in skipped["status"]["message"]
    assert len(api.jobs("exclusive")) == 1

    rows = {row["NAME"]: row for row in table(succeeded(plugin(cluster, namespace, "runs", "exclusive")).stdout)}
    assert rows[second]["PHASE"] == "Skipped"
    assert rows[second]["REASON"] == "ConcurrencyForbid"
    assert rows[first]["PHASE"] == "Running"

    as_json = json.loads(succeeded(plugin(cluster, namespace, "trigger", "exclusive", "-o", "json")).stdout)
    assert as_json["kind"] == "JobRun"
    assert as_json["spec"]["trigger"] == "Manual"


# ---------------------------------------------------------------- backfill


def test_backfill_bounded_and_idempotent(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job(
        "hourly",
        {
            "schedule": "0 * * * *",
            "timeZone": "Europe/Berlin",
            # Backfill is idempotent while the runs exist; the default limit of 3 would prune two of the five.
            "successfulRunsHistoryLimit": 10,
            "jobTemplate": job_template(duration="1s"),
        },
    )
    window = ["--from", "2025-06-01T00:00:00Z", "--to", "2025-06-01T04:00:00Z"]
    expected = [f"hourly-{int(datetime(2025, 6, 1, hour, tzinfo=UTC).timestamp())}" for hour in range(5)]

    rejected = plugin(cluster, namespace, "backfill", "hourly", *window, "--max", "4")
    assert rejected.returncode == 2
    assert "5 occurrences" in rejected.stderr
    assert "--max 4" in rejected.stderr
    assert api.job_runs("hourly") == []

    dry = table(succeeded(plugin(cluster, namespace, "backfill", "hourly", *window, "--dry-run")).stdout)
    assert [row["NAME"] for row in dry] == expected
    assert {row["RESULT"] for row in dry} == {"would create"}
    assert dry[0]["LOCAL (Europe/Berlin)"].startswith("2025-06-01 02:00:00 CEST")
    assert api.job_runs("hourly") == []

    created = table(succeeded(plugin(cluster, namespace, "backfill", "hourly", *window)).stdout)
    assert [row["NAME"] for row in created] == expected
    assert {row["RESULT"] for row in created} == {"created"}
    runs = {run["metadata"]["name"]: run for run in api.job_runs("hourly")}
    assert sorted(runs) == expected
    for name in expected:
        assert runs[name]["spec"]["trigger"] == "Backfill"
        assert runs[name]["metadata"]["ownerReferences"][0]["name"] == "hourly"
    for name in expected:
        wait_for_phase(api, name, {"Succeeded"}, timeout=60)

    again = plugin(cluster, namespace, "backfill", "hourly", *window)
    rows = table(succeeded(again).stdout)
    assert [row["RESULT"] for row in rows] == ["exists (Backfill, Succeeded)"] * 5
    assert "0 JobRun(s) created, 5 already existed" in again.stderr
    assert len(api.job_runs("hourly")) == 5

    future = plugin(cluster, namespace, "backfill", "hourly", "--from", "now", "--to", "now+2h")
    assert future.returncode == 2
    assert "in the future" in future.stderr


# ---------------------------------------------------------------- logs


def test_logs_follow_streams_running_pod(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job("slow", {"schedule": YEARLY, "jobTemplate": job_template(duration="6s")})
    name = succeeded(plugin(cluster, namespace, "trigger", "slow")).stdout.strip()

    started = time.monotonic()
    followed = succeeded(plugin(cluster, namespace, "logs", name, "-f", timeout=90))
    assert followed.stdout.splitlines() == LOG_LINES
    assert time.monotonic() - started >= 6, "-f returned before the 6 s container ended"
    wait_for_phase(api, name, {"Succeeded"})

    again = succeeded(plugin(cluster, namespace, "logs", name))
    assert again.stdout.splitlines() == LOG_LINES


def test_logs_of_running_run_without_follow(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job("hang", {"schedule": YEARLY, "jobTemplate": job_template(outcome="hang")})
    name = succeeded(plugin(cluster, namespace, "trigger", "hang")).stdout.strip()
    wait_for_phase(api, name, {"Running"})
    result = succeeded(plugin(cluster, namespace, "logs", name, timeout=30))
    assert result.stdout.splitlines() == LOG_LINES

    missing = plugin(cluster, namespace, "logs", name, "--attempt", "2")
    assert missing.returncode == 3
    assert "attempt 2 does not exist" in missing.stderr


def test_logs_after_pods_deleted_fall_back(cluster, api: Api, operator: Operator, namespace: str, tmp_path: Path):
    api.create_scheduled_job("brief", {"schedule": YEARLY, "jobTemplate": job_template(duration="1s")})
    name = succeeded(plugin(cluster, namespace, "trigger", "brief")).stdout.strip()
    wait_for_phase(api, name, {"Succeeded"})
    selector = f"batch.kubernetes.io/job-name={name}"
    api.core.delete_collection_namespaced_pod(namespace, label_selector=selector, grace_period_seconds=0)
    eventually(lambda: not api.core.list_namespaced_pod(namespace, label_selector=selector).items,
               timeout=30, what="the run's pods deleted")

    result = plugin(cluster, namespace, "logs", name)
    captured = (api.job_run(name).get("status") or {}).get("logs") or {}
    if captured.get("tail"):
        # The operator captured the tail before the pods went.
        assert succeeded(result).stdout.splitlines()[-len(LOG_LINES):] == LOG_LINES
        assert "captured" in result.stderr
    else:
        assert result.returncode == 3, result.stderr
        assert "no captured log" in result.stderr
        assert f"the pods of Job {name} are gone" in result.stderr

    # A truncated tail and an archive, as the log capture writes them for the latest attempt.
    tail = "first captured line\nlast captured line\n"
    set_captured_log(api, name, {"tail": tail, "truncated": True, "final": True})
    from_status = succeeded(plugin(cluster, namespace, "logs", name))
    assert from_status.stdout == tail
    assert "truncated" in from_status.stderr

    archived = tmp_path / "archived.log"
    archived.write_text("the whole archived log\n")
    set_captured_log(api, name, {"truncated": False, "final": True, "archiveRef": str(archived)})
    from_archive = succeeded(plugin(cluster, namespace, "logs", name))
    assert from_archive.stdout == "the whole archived log\n"

    set_captured_log(api, name, {"note": "pod brief-x was deleted before its final log could be read"})
    nothing = plugin(cluster, namespace, "logs", name)
    assert nothing.returncode == 3
    assert "no captured log" in nothing.stderr
    assert "pod brief-x was deleted before its final log could be read" in nothing.stderr


def set_captured_log(api: Api, name: str, logs: dict[str, Any]) -> None:
    """Write logs into status.logs and the latest attempt's logs, replacing what the operator captured."""
    status = api.job_run(name)["status"]
    attempts = status.get("attempts") or []
    if attempts:
        attempts[-1]["logs"] = logs
    api.custom.patch_namespaced_custom_object_status(
        "punctual.dev", "v1alpha1", api.namespace, "jobruns", name,
        {"status": {"logs": None, "attempts": attempts}},
    )
    api.custom.patch_namespaced_custom_object_status(
        "punctual.dev", "v1alpha1", api.namespace, "jobruns", name, {"status": {"logs": logs}},
    )


def test_logs_of_skipped_run_says_why(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job(
        "single", {"schedule": YEARLY, "concurrencyPolicy": "Forbid", "jobTemplate": job_template(outcome="hang")}
    )
    first = succeeded(plugin(cluster, namespace, "trigger", "single")).stdout.strip()
    wait_for_phase(api, first, {"Running"})
    time.sleep(1.1)
    second = succeeded(plugin(cluster, namespace, "trigger", "single")).stdout.strip()
    wait_for_phase(api, second, {"Skipped"})
    result = plugin(cluster, namespace, "logs", second)
    assert result.returncode == 3
    assert "Skipped" in result.stderr
    assert "never had a Job" in result.stderr


# ---------------------------------------------------------------- next, suspend and resume


def test_next_agrees_with_operator_status(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job(
        "fivemin", {"schedule": "*/5 * * * *", "timeZone": "America/New_York", "jobTemplate": job_template()}
    )
    status_times = eventually(
        lambda: (api.scheduled_job("fivemin").get("status") or {}).get("nextScheduleTimes"),
        timeout=20, what="status.nextScheduleTimes",
    )
    first = parse_time(status_times[0])
    before_first = (first - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = json.loads(succeeded(plugin(
        cluster, namespace, "next", "fivemin", "--from", before_first, "--count", str(len(status_times)), "-o", "json",
    )).stdout)
    assert [entry["scheduledTime"] for entry in result["times"]] == status_times
    assert result["timeZone"] == "America/New_York"
    local = datetime.fromisoformat(result["times"][0]["localTime"])
    assert local == first
    assert local.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))

    text = succeeded(plugin(cluster, namespace, "next", "fivemin", "--count", "3")).stdout
    rows = table(text)
    assert len(rows) == 3
    assert "LOCAL (America/New_York)" in rows[0]
    assert rows[0]["LOCAL (America/New_York)"].split()[2] in ("EST", "EDT")
    now = datetime.now(UTC)
    upcoming = [parse_time(row["UTC"]) for row in rows]
    assert all(now - timedelta(seconds=5) < t <= now + timedelta(minutes=15) for t in upcoming)
    assert [t.minute % 5 for t in upcoming] == [0, 0, 0]


def test_suspend_and_resume(cluster, api: Api, operator: Operator, namespace: str):
    api.create_scheduled_job("pausable", {"schedule": YEARLY, "jobTemplate": job_template()})
    result = succeeded(plugin(cluster, namespace, "suspend", "pausable", "--reason", "database migration"))
    assert result.stdout.strip() == "scheduledjob.punctual.dev/pausable suspended"
    spec = api.scheduled_job("pausable")["spec"]
    assert spec["suspend"] is True
    assert spec["suspendReason"] == "database migration"

    def suspended_condition() -> dict[str, Any] | None:
        conditions = (api.scheduled_job("pausable").get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Suspended" and c["status"] == "True"), None)

    condition = eventually(suspended_condition, timeout=20, what="the Suspended condition")
    assert condition["message"] == "database migration"
    described = succeeded(plugin(cluster, namespace, "describe", "sj", "pausable")).stdout
    assert "Suspend:              true (database migration)" in described

    again = succeeded(plugin(cluster, namespace, "suspend", "pausable", "--reason", "database migration"))
    assert "unchanged" in again.stdout

    resumed = succeeded(plugin(cluster, namespace, "resume", "pausable"))
    assert resumed.stdout.strip() == "scheduledjob.punctual.dev/pausable resumed"
    spec = api.scheduled_job("pausable")["spec"]
    assert spec["suspend"] is False
    assert "suspendReason" not in spec
    eventually(lambda: suspended_condition() is None, timeout=20, what="the Suspended condition cleared")
