"""Forbid, Replace and BufferOne, decided from cluster state across an operator restart; manual runs."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from support import (
    Api,
    Operator,
    covered,
    eventually,
    job_template,
    occurrences,
    parse_time,
    phase,
    reason,
    running_jobs,
    scheduled_unix,
)

pytestmark = pytest.mark.cluster

HISTORY = {"successfulRunsHistoryLimit": 50, "failedRunsHistoryLimit": 50, "skippedRunsHistoryLimit": 50}


def watch_running(api: Api, name: str, seconds: float, operator: Operator, restart_at: float) -> int:
    """Sample the running Jobs for seconds, restarting the operator once; return the maximum seen."""
    max_running = 0
    start = time.time()
    restarted = False
    while time.time() - start < seconds:
        max_running = max(max_running, len(running_jobs(api.jobs(name))))
        if not restarted and time.time() - start >= restart_at:
            operator.restart(kill=True)
            restarted = True
        time.sleep(0.3)
    return max_running


def test_forbid_skips_while_active(api: Api, operator: Operator):
    every = 4
    sj = api.create_scheduled_job(
        "forbid",
        {"schedule": f"@every {every}s", "concurrencyPolicy": "Forbid", **HISTORY,
         "jobTemplate": job_template(duration="9s")},
    )
    created = parse_time(sj["metadata"]["creationTimestamp"])
    max_running = watch_running(api, "forbid", 28, operator, restart_at=13)
    assert max_running == 1, f"{max_running} Jobs ran at once under Forbid"
    end = time.time() - 1

    runs = api.job_runs("forbid")
    started = [run for run in runs if (run.get("status") or {}).get("jobName")]
    forbidden = [run for run in runs if reason(run) == "ConcurrencyForbid"]
    assert len(started) >= 2
    assert len(forbidden) >= 2
    for run in forbidden:
        assert phase(run) == "Skipped"
        assert "still active" in run["status"]["message"]
    # Each started run began after the previous one finished (status times have seconds resolution).
    started.sort(key=scheduled_unix)
    for before, after in zip(started, started[1:]):
        if "completionTime" in before["status"]:
            assert parse_time(after["status"]["attempts"][0]["createdTime"]) >= parse_time(before["status"]["completionTime"])
    counts = Counter(t for run in runs for t in covered(run, every))
    for t in occurrences(every, created, end):
        assert counts[t] == 1, f"occurrence {t} has {counts[t]} records"


def test_replace_cancels_active_run(api: Api, operator: Operator):
    every = 5
    api.create_scheduled_job(
        "replace",
        {"schedule": f"@every {every}s", "concurrencyPolicy": "Replace", **HISTORY,
         "jobTemplate": job_template(outcome="hang")},
    )
    max_running = watch_running(api, "replace", 22, operator, restart_at=11)
    assert max_running == 1, f"{max_running} Jobs ran at once under Replace"

    runs = api.job_runs("replace")
    assert len(runs) >= 4
    *older, newest = runs
    assert phase(newest) in ("Pending", "Running")
    for run in older:
        assert phase(run) == "Cancelled", f"{run['metadata']['name']} is {phase(run)}"
        assert reason(run) == "Replaced"
        assert "replaced by JobRun" in run["status"]["message"]
    eventually(
        lambda: {job.metadata.name for job in api.jobs("replace")} <= {newest["metadata"]["name"]} | {
            job.metadata.name for job in api.jobs("replace") if job.metadata.deletion_timestamp
        },
        timeout=15,
        what="the Jobs of cancelled runs deleted",
    )
    assert api.events("RunCancelled")


def test_buffer_one_keeps_one_waiting(api: Api, operator: Operator):
    every = 3
    sj = api.create_scheduled_job(
        "buffer",
        {"schedule": f"@every {every}s", "concurrencyPolicy": "BufferOne", **HISTORY,
         "jobTemplate": job_template(duration="7s")},
    )
    created = parse_time(sj["metadata"]["creationTimestamp"])
    max_waiting = 0
    max_running = 0
    start = time.time()
    restarted = False
    while time.time() - start < 30:
        runs = api.job_runs("buffer")
        max_waiting = max(max_waiting, sum(1 for run in runs if reason(run) == "Waiting"))
        max_running = max(max_running, len(running_jobs(api.jobs("buffer"))))
        if not restarted and time.time() - start > 14:
            operator.restart(kill=True)
            restarted = True
        time.sleep(0.3)
    end = time.time() - 1
    assert max_running == 1, f"{max_running} Jobs ran at once under BufferOne"
    assert max_waiting == 1, f"at most one run waits under BufferOne, saw {max_waiting}"

    runs = api.job_runs("buffer")
    full = [run for run in runs if reason(run) == "BufferFull"]
    assert full, "no occurrence was skipped with BufferFull"
    waited = [
        run for run in runs
        if (run.get("status") or {}).get("jobName") and run["status"].get("scheduleLagSeconds", 0) > 1.5
    ]
    assert waited, "no buffered run was started after the active one ended"
    counts = Counter(t for run in runs for t in covered(run, every))
    for t in occurrences(every, created, end):
        assert counts[t] == 1, f"occurrence {t} has {counts[t]} records"


def test_manual_run_counts_for_forbid(api: Api, operator: Operator):
    api.create_scheduled_job(
        "manual",
        {"schedule": "0 0 1 1 *", "concurrencyPolicy": "Forbid", "jobTemplate": job_template(outcome="hang")},
    )
    api.create_job_run("manual-first", {"scheduledJobName": "manual", "trigger": "Manual"})
    first = eventually(
        lambda: (run := api.job_run("manual-first")) and phase(run) == "Running" and run,
        timeout=15, what="the manual run Running",
    )
    assert first["metadata"]["labels"]["punctual.dev/scheduled-job"] == "manual"
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("ScheduledJob", "manual", True)
    assert [job.metadata.name for job in api.jobs("manual")] == ["manual-first"]

    api.create_job_run("manual-second", {"scheduledJobName": "manual", "trigger": "Manual"})
    second = eventually(
        lambda: (run := api.job_run("manual-second")) and phase(run) and run, timeout=15, what="the second manual run"
    )
    assert phase(second) == "Skipped"
    assert reason(second) == "ConcurrencyForbid"
    assert "manual-first" in second["status"]["message"]
    assert len(api.jobs("manual")) == 1


def test_manual_run_of_missing_scheduled_job_fails(api: Api, operator: Operator):
    api.create_job_run("orphan", {"scheduledJobName": "does-not-exist", "trigger": "Manual"})
    run = eventually(lambda: (r := api.job_run("orphan")) and phase(r) and r, timeout=15, what="the run to fail")
    assert phase(run) == "Failed"
    assert reason(run) == "ScheduledJobNotFound"


def test_backfill_run_uses_its_scheduled_time(api: Api, operator: Operator):
    api.create_scheduled_job("backfill", {"schedule": "0 0 1 1 *", "jobTemplate": job_template(duration="1s")})
    api.create_job_run(
        "backfill-2026", {"scheduledJobName": "backfill", "trigger": "Backfill", "scheduledTime": "2026-01-01T00:00:00Z"}
    )
    run = eventually(
        lambda: (r := api.job_run("backfill-2026")) and phase(r) == "Succeeded" and r, timeout=20, what="backfill run"
    )
    assert scheduled_unix(run) == int(parse_time("2026-01-01T00:00:00Z").timestamp())
    job = api.jobs("backfill")[0]
    assert job.metadata.annotations["punctual.dev/scheduled-time"] == "2026-01-01T00:00:00Z"
