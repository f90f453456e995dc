"""Retries as new attempt Jobs, with backoff and across an operator restart; suspension after a failure streak."""

from __future__ import annotations

import time

import pytest

from support import Api, Operator, eventually, job_template, parse_time, phase, reason

pytestmark = pytest.mark.cluster

NEVER = "0 0 1 1 *"


def test_exit_code_retried_with_backoff(api: Api, operator: Operator):
    api.create_scheduled_job("flaky", {
        "schedule": NEVER,
        "retryPolicy": {"maxAttempts": 3, "backoffSeconds": 2, "maxBackoffSeconds": 10},
        "jobTemplate": job_template(outcome="fail", exit_code=3),
    })
    api.create_job_run("flaky-now", {"scheduledJobName": "flaky", "trigger": "Manual"})
    waiting = eventually(lambda: (r := api.job_run("flaky-now")) and reason(r) == "RetryScheduled" and r, timeout=30,
                         what="the first retry scheduled")
    assert phase(waiting) == "Pending"
    assert waiting["status"]["nextAttemptTime"]
    assert "attempt 1 of 3" in waiting["status"]["message"]
    # A restart while the retry waits must neither lose it nor create its Job twice.
    operator.restart(kill=True)

    run = eventually(lambda: (r := api.job_run("flaky-now")) and phase(r) == "Failed" and r, timeout=60,
                     what="the run Failed after its last attempt")
    status = run["status"]
    assert status["reason"] == "NonZeroExitCode"
    assert "container 'main' exited with code 3" in status["message"]
    assert "attempt 3 of 3" in status["message"]
    attempts = status["attempts"]
    assert [a["jobName"] for a in attempts] == ["flaky-now", "flaky-now-a2", "flaky-now-a3"]
    for attempt in attempts:
        assert attempt["exitCode"] == 3
        assert attempt["containerName"] == "main"
        assert attempt["reason"] == "NonZeroExitCode"
        assert attempt["completionTime"]
    # Backoff 2 s, then 4 s, from each attempt's end to the next Job (status times have seconds resolution).
    for before, after, backoff in zip(attempts, attempts[1:], (2, 4)):
        gap = (parse_time(after["createdTime"]) - parse_time(before["completionTime"])).total_seconds()
        assert gap >= backoff - 1, f"{after['jobName']} started {gap} s after {before['jobName']} ended"
    assert sorted(j.metadata.name for j in api.jobs("flaky")) == ["flaky-now", "flaky-now-a2", "flaky-now-a3"]
    assert "nextAttemptTime" not in status
    assert len(api.events("RetryScheduled")) >= 2
    assert api.events("RunFailed")


def test_node_lost_not_retried_unless_asked(api: Api, operator: Operator):
    # retryOn without Failed: an exit code is not retried.
    api.create_scheduled_job("strict", {
        "schedule": NEVER,
        "retryPolicy": {"maxAttempts": 3, "backoffSeconds": 1, "retryOn": ["NodeLost"]},
        "jobTemplate": job_template(outcome="fail", exit_code=2),
    })
    api.create_job_run("strict-now", {"scheduledJobName": "strict", "trigger": "Manual"})
    run = eventually(lambda: (r := api.job_run("strict-now")) and phase(r) == "Failed" and r, timeout=30,
                     what="the run Failed")
    time.sleep(3)
    assert len(api.job_run("strict-now")["status"]["attempts"]) == 1
    assert run["status"]["reason"] == "NonZeroExitCode"


def test_failure_streak_suspends_scheduled_job(api: Api, operator: Operator):
    api.create_scheduled_job("broken", {
        "schedule": "@every 3s",
        "concurrencyPolicy": "Forbid",
        "stopAfterConsecutiveFailures": 2,
        "failedRunsHistoryLimit": 1,
        "jobTemplate": job_template(outcome="fail", exit_code=1),
    })
    sj = eventually(lambda: (s := api.scheduled_job("broken")) and s["spec"].get("suspend") and s, timeout=40,
                    what="the ScheduledJob suspended")
    assert "2 failed runs in a row" in sj["spec"]["suspendReason"]
    assert "stopAfterConsecutiveFailures 2" in sj["spec"]["suspendReason"]
    eventually(lambda: (api.scheduled_job("broken").get("status") or {}).get("consecutiveFailures") == 2,
               timeout=10, what="status.consecutiveFailures 2")
    assert api.events("SuspendedAfterFailures")
    eventually(lambda: next(c for c in api.scheduled_job("broken")["status"]["conditions"]
                            if c["type"] == "Suspended")["status"] == "True", timeout=10, what="Suspended condition")
    started = {r["metadata"]["name"] for r in api.job_runs("broken") if (r.get("status") or {}).get("jobName")}
    time.sleep(7)
    started_later = {r["metadata"]["name"] for r in api.job_runs("broken") if (r.get("status") or {}).get("jobName")}
    assert started_later <= started, f"runs started while suspended: {started_later - started}"

    # Resuming resets the count, so the first failure after it does not suspend again.
    api.patch_spec("broken", {"suspend": False, "suspendReason": None})
    eventually(lambda: (api.scheduled_job("broken").get("status") or {}).get("consecutiveFailures") == 0,
               timeout=15, what="the count reset on resume")
    eventually(
        lambda: [r for r in api.job_runs("broken") if phase(r) == "Failed" and r["metadata"]["name"] not in started],
        timeout=20, what="a failure after resuming",
    )
    time.sleep(1)
    assert (api.scheduled_job("broken").get("status") or {}).get("consecutiveFailures") == 1
    assert not api.scheduled_job("broken")["spec"].get("suspend")
