"""JobRun status derivation from Job and pod bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from punctual import runstatus
from punctual.models import JobRunStatus, RunPhase, format_time

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def job(name: str = "backup-1", conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": format_time(T0)},
        "spec": {"activeDeadlineSeconds": 30},
        "status": {"conditions": conditions or [], **status},
    }


def condition(type_: str, reason: str = "", at: datetime = T0 + timedelta(seconds=20), message: str = "") -> dict:
    return {"type": type_, "status": "True", "reason": reason, "message": message, "lastTransitionTime": format_time(at)}


def pod(*, running_at: datetime | None = None, exit_code: int | None = None, container: str = "main") -> dict:
    state: dict[str, Any] = {}
    if exit_code is not None:
        state["terminated"] = {
            "exitCode": exit_code,
            "reason": "Error" if exit_code else "Completed",
            "startedAt": format_time(running_at or T0),
        }
    elif running_at is not None:
        state["running"] = {"startedAt": format_time(running_at)}
    return {"status": {"phase": "Running", "containerStatuses": [{"name": container, "state": state}]}}


def test_new_job_is_pending():
    status = runstatus.derive_status(JobRunStatus(), job(), None, T0)
    assert status.phase == RunPhase.PENDING
    assert status.jobName == "backup-1"
    assert status.reason == runstatus.REASON_JOB_CREATED


def test_running_pod_starts_run():
    info = runstatus.pod_info(pod(running_at=T0 + timedelta(seconds=1)))
    status = runstatus.derive_status(JobRunStatus(), job(active=1), info, T0)
    assert status.phase == RunPhase.RUNNING
    assert status.startTime == T0 + timedelta(seconds=1)
    assert status.attempts[0].startTime == T0 + timedelta(seconds=1)


def test_complete_job_succeeds_with_duration():
    info = runstatus.pod_info(pod(running_at=T0 + timedelta(seconds=1), exit_code=0))
    finished = job(conditions=[condition("SuccessCriteriaMet"), condition("Complete")], completionTime=format_time(T0 + timedelta(seconds=13)))
    status = runstatus.derive_status(JobRunStatus(), finished, info, T0 + timedelta(seconds=14))
    assert status.phase == RunPhase.SUCCEEDED
    assert status.completionTime == T0 + timedelta(seconds=13)
    assert status.durationSeconds == 12
    finished_condition = next(c for c in status.conditions if c.type == runstatus.CONDITION_FINISHED)
    assert finished_condition.status.value == "True"


def test_failed_job_names_exit_code_and_container():
    info = runstatus.pod_info(pod(running_at=T0, exit_code=3, container="worker"))
    failed = job(conditions=[condition("Failed", "BackoffLimitExceeded", message="Job has reached the specified backoff limit")])
    status = runstatus.derive_status(JobRunStatus(), failed, info, T0)
    assert status.phase == RunPhase.FAILED
    assert status.reason == runstatus.REASON_NON_ZERO_EXIT
    assert "'worker'" in status.message
    assert "code 3" in status.message
    assert status.attempts[0].exitCode == 3
    assert status.attempts[0].containerName == "worker"


def test_failure_target_counts_as_failed():
    status = runstatus.derive_status(JobRunStatus(), job(conditions=[condition("FailureTarget", "BackoffLimitExceeded")]), None, T0)
    assert status.phase == RunPhase.FAILED


def test_deadline_exceeded_times_out():
    timed_out = job(conditions=[condition("Failed", "DeadlineExceeded")])
    status = runstatus.derive_status(JobRunStatus(), timed_out, runstatus.PodInfo(start_time=T0), T0)
    assert status.phase == RunPhase.TIMED_OUT
    assert status.reason == "DeadlineExceeded"
    assert "30 s" in status.message


def test_deleted_job_fails_active_run():
    current = JobRunStatus(phase=RunPhase.RUNNING, jobName="backup-1", startTime=T0)
    status = runstatus.derive_status(current, None, None, T0 + timedelta(seconds=5), job_deleted=True)
    assert status.phase == RunPhase.FAILED
    assert status.reason == runstatus.REASON_JOB_DELETED
    assert status.durationSeconds == 5


def test_deleted_job_of_unstarted_run_without_job_name_changes_nothing():
    current = JobRunStatus(phase=RunPhase.PENDING, reason=runstatus.REASON_WAITING)
    assert runstatus.derive_status(current, None, None, T0, job_deleted=True) == current


def test_terminal_phase_is_final():
    for phase in (RunPhase.CANCELLED, RunPhase.SKIPPED, RunPhase.SUCCEEDED):
        current = JobRunStatus(phase=phase, jobName="backup-1")
        failed = job(conditions=[condition("Failed", "BackoffLimitExceeded")])
        assert runstatus.derive_status(current, failed, None, T0) == current


def test_job_created_does_not_undo_running():
    running = JobRunStatus(phase=RunPhase.RUNNING, jobName="backup-1", startTime=T0)
    status = runstatus.job_created(running, "backup-1", 0.2, T0)
    assert status.phase == RunPhase.RUNNING
    assert status.scheduleLagSeconds == 0.2


def test_pod_info_prefers_failing_container():
    body = {
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "sidecar", "state": {"terminated": {"exitCode": 0, "startedAt": format_time(T0)}}},
                {"name": "main", "state": {"terminated": {"exitCode": 2, "startedAt": format_time(T0 + timedelta(seconds=1))}}},
            ],
        }
    }
    info = runstatus.pod_info(body)
    assert info.exit_code == 2
    assert info.container_name == "main"
    assert info.start_time == T0


def test_merge_pod_info_keeps_earliest_start_and_failure():
    first = runstatus.PodInfo(start_time=T0, exit_code=1, container_name="main")
    retry = runstatus.PodInfo(start_time=T0 + timedelta(seconds=9), exit_code=0, container_name="main")
    merged = runstatus.merge_pod_info(first, retry)
    assert merged.start_time == T0
    assert merged.exit_code == 1


def test_transition_events():
    pending = JobRunStatus()
    created = runstatus.job_created(pending, "backup-1", 0.1, T0)
    events = runstatus.transition_events("backup-1", pending, created)
    assert [e.reason for e in events] == ["RunCreated"]
    done = runstatus.finish(created, RunPhase.FAILED, "BackoffLimitExceeded", "exit 3", T0)
    assert [e.reason for e in runstatus.transition_events("backup-1", created, done)] == ["RunFailed"]
    assert runstatus.transition_events("backup-1", done, done) == []


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_duration_never_negative(start_offset, end_offset):
    started = JobRunStatus(phase=RunPhase.RUNNING, jobName="x", startTime=T0 + timedelta(seconds=start_offset))
    done = runstatus.finish(started, RunPhase.SUCCEEDED, "Completed", "", T0 + timedelta(seconds=end_offset))
    assert done.durationSeconds == max(0, end_offset - start_offset)
    assert done.phase.terminal


@given(st.sampled_from(["Complete", "Failed", "SuccessCriteriaMet", "FailureTarget", None]), st.booleans())
def test_derived_status_round_trips_through_api_form(condition_type, started):
    conditions = [condition(condition_type, "BackoffLimitExceeded")] if condition_type else []
    info = runstatus.PodInfo(start_time=T0) if started else None
    status = runstatus.derive_status(JobRunStatus(), job(conditions=conditions), info, T0)
    assert JobRunStatus.model_validate(status.to_api()) == status
