"""Editing, suspending, deleting ScheduledJobs, and runs that fail or time out."""

from __future__ import annotations

import time

import pytest

from support import (
    Api,
    Operator,
    eventually,
    job_template,
    parse_time,
    phase,
    reason,
    scheduled_unix,
)

pytestmark = pytest.mark.cluster

HISTORY = {"successfulRunsHistoryLimit": 50, "failedRunsHistoryLimit": 50, "skippedRunsHistoryLimit": 50}


def condition(sj: dict, type_: str) -> dict:
    return next(c for c in sj["status"]["conditions"] if c["type"] == type_)


def test_schedule_edit_fires_no_surprise_run(api: Api, operator: Operator):
    api.create_scheduled_job("edit", {"schedule": "@every 4s", **HISTORY, "jobTemplate": job_template(duration="1s")})
    eventually(lambda: len(api.job_runs("edit")) >= 2, timeout=15, what="two runs under @every 4s")

    edited = time.time()
    api.patch_spec("edit", {"schedule": "@every 3s"})
    time.sleep(8)
    # Edited while the operator is down: no run for times before it sees the edit.
    operator.stop()
    api.patch_spec("edit", {"schedule": "@every 5s"})
    time.sleep(7)
    operator.start()
    restarted = time.time()
    time.sleep(8)

    sj = api.scheduled_job("edit")
    effective = parse_time(sj["status"]["scheduleEffectiveFrom"]).timestamp()
    assert effective >= restarted - 3
    for run in api.job_runs("edit"):
        t = scheduled_unix(run)
        ran = bool((run.get("status") or {}).get("jobName"))
        if t <= edited:
            assert t % 4 == 0, f"run at {t} before the first edit is not an @every 4s time"
        elif t < effective:
            # Between the edits the @every 3s schedule was in force.
            assert t % 3 == 0, f"run at {t} is not an @every 3s time"
        else:
            assert t % 5 == 0, f"run at {t} after the second edit is not an @every 5s time"
        if ran and run["spec"]["trigger"] == "CatchUp":
            pytest.fail(f"the edit caused a catch-up run at {t}")
    assert any(scheduled_unix(run) % 5 == 0 and scheduled_unix(run) >= effective for run in api.job_runs("edit"))


def test_suspend_and_resume_record_one_skipped_range(api: Api, operator: Operator):
    api.create_scheduled_job("pause", {"schedule": "@every 2s", **HISTORY, "jobTemplate": job_template(duration="1s")})
    eventually(lambda: api.job_runs("pause"), timeout=10, what="a first run")
    api.patch_spec("pause", {"suspend": True, "suspendReason": "database maintenance"})
    suspended = eventually(
        lambda: (sj := api.scheduled_job("pause")).get("status", {}).get("suspendedAt") and sj,
        timeout=10, what="suspendedAt",
    )
    assert condition(suspended, "Suspended")["status"] == "True"
    assert condition(suspended, "Suspended")["message"] == "database maintenance"
    time.sleep(1)
    before = {run["metadata"]["name"] for run in api.job_runs("pause")}
    time.sleep(8)
    assert {run["metadata"]["name"] for run in api.job_runs("pause")} == before, "runs created while suspended"

    api.patch_spec("pause", {"suspend": False})
    resumed = time.time()
    # A restart right after resuming must neither back-fill nor record the gap twice.
    time.sleep(1)
    operator.restart(kill=True)
    time.sleep(6)

    runs = api.job_runs("pause")
    ranges = [run for run in runs if reason(run) == "Suspended"]
    assert len(ranges) == 1, f"{len(ranges)} Suspended records"
    assert ranges[0]["status"]["skipped"]["count"] >= 4
    gap_first = parse_time(ranges[0]["status"]["skipped"]["first"]).timestamp()
    gap_last = parse_time(ranges[0]["status"]["skipped"]["last"]).timestamp()
    for run in runs:
        t = scheduled_unix(run)
        if (run.get("status") or {}).get("jobName"):
            assert not gap_first <= t <= gap_last, f"run at {t} inside the suspended period"
    assert any(scheduled_unix(run) > resumed for run in runs if (run.get("status") or {}).get("jobName"))
    assert condition(api.scheduled_job("pause"), "Suspended")["status"] == "False"


def test_delete_removes_runs_and_stops_scheduling(api: Api, operator: Operator):
    api.create_scheduled_job("doomed", {"schedule": "@every 2s", "jobTemplate": job_template(outcome="hang")})
    eventually(lambda: len(api.jobs("doomed")) >= 2, timeout=15, what="two Jobs")
    api.delete_scheduled_job("doomed")
    eventually(lambda: not api.job_runs("doomed") and not api.jobs("doomed"), timeout=60,
               what="JobRuns and Jobs garbage-collected")
    time.sleep(5)
    assert not api.job_runs("doomed"), "a JobRun was created after the ScheduledJob was deleted"
    assert not api.jobs("doomed")
    assert "deleted: scheduling stopped" in operator.log_text()


def test_failed_run_reports_exit_code(api: Api, operator: Operator):
    api.create_scheduled_job(
        "failing", {"schedule": "@every 3s", **HISTORY, "jobTemplate": job_template(outcome="fail", exit_code=3)}
    )
    run = eventually(
        lambda: next((r for r in api.job_runs("failing") if phase(r) == "Failed"), None), timeout=20, what="a failed run"
    )
    assert reason(run) == "NonZeroExitCode"
    assert "code 3" in run["status"]["message"]
    assert "'main'" in run["status"]["message"]
    assert run["status"]["attempts"][0]["exitCode"] == 3
    # The operator posts the Event after the status write, so it may arrive a moment later.
    assert eventually(lambda: api.events("RunFailed"), timeout=10, what="a RunFailed Event")


def test_timeout_seconds_times_out_run(api: Api, operator: Operator):
    api.create_scheduled_job(
        "slow",
        {"schedule": "0 0 1 1 *", "sla": {"timeoutSeconds": 3}, "jobTemplate": job_template(outcome="hang")},
    )
    api.create_job_run("slow-now", {"scheduledJobName": "slow", "trigger": "Manual"})
    run = eventually(lambda: (r := api.job_run("slow-now")) and phase(r) == "TimedOut" and r, timeout=30,
                     what="the run TimedOut")
    assert reason(run) == "DeadlineExceeded"
    assert api.jobs("slow")[0].spec.active_deadline_seconds == 3


def test_deleting_job_fails_active_run(api: Api, operator: Operator):
    api.create_scheduled_job("handdelete", {"schedule": "0 0 1 1 *", "jobTemplate": job_template(outcome="hang")})
    api.create_job_run("handdelete-now", {"scheduledJobName": "handdelete", "trigger": "Manual"})
    eventually(lambda: phase(api.job_run("handdelete-now")) == "Running", timeout=15, what="the run Running")
    api.batch.delete_namespaced_job("handdelete-now", api.namespace, propagation_policy="Background")
    run = eventually(lambda: (r := api.job_run("handdelete-now")) and phase(r) == "Failed" and r, timeout=15,
                     what="the run Failed")
    assert reason(run) == "JobDeleted"


def test_history_limits_prune_oldest(api: Api, operator: Operator):
    api.create_scheduled_job(
        "pruned", {"schedule": "@every 2s", "successfulRunsHistoryLimit": 2, "jobTemplate": job_template(duration="1s")}
    )
    time.sleep(16)
    runs = api.job_runs("pruned")
    succeeded = [run for run in runs if phase(run) == "Succeeded"]
    assert 1 <= len(succeeded) <= 2
    newest_success = max(scheduled_unix(run) for run in succeeded)
    assert newest_success >= time.time() - 8, "pruning removed the newest runs"
    status = api.scheduled_job("pruned")["status"]
    assert status["runCounts"]["succeeded"] <= 2
    assert status["lastSuccessfulTime"]
