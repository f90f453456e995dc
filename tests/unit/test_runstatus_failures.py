"""Failure reasons, pod waiting states and attempts in JobRun status derivation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from punctual import runstatus
from punctual.models import JobRunStatus, RetryReason, RunLogs, RunPhase, format_time

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def job(name: str = "backup-1", conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": format_time(T0)},
        "spec": {"activeDeadlineSeconds": 30},
        "status": {"conditions": conditions or [], **status},
    }


def failed_condition(reason: str = "BackoffLimitExceeded", message: str = "Job has reached the specified backoff limit"):
    return {"type": "Failed", "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": format_time(T0 + timedelta(seconds=20))}


def pod_body(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "backup-1-xk2p9"}, "spec": {"nodeName": "node-a"}, "status": status}


def terminated(exit_code: int, reason: str, container: str = "main") -> dict[str, Any]:
    return {"name": container, "state": {"terminated": {"exitCode": exit_code, "reason": reason,
                                                         "startedAt": format_time(T0)}}}


def waiting(reason: str, message: str, container: str = "main") -> dict[str, Any]:
    return {"name": container, "state": {"waiting": {"reason": reason, "message": message}}}


def fail_with(pod: dict[str, Any], condition: dict[str, Any] | None = None) -> JobRunStatus:
    info = runstatus.pod_info(pod)
    return runstatus.derive_status(JobRunStatus(), job(conditions=[condition or failed_condition()]), info, T0)


def test_exit_code_names_container_and_code():
    status = fail_with(pod_body(phase="Failed", containerStatuses=[terminated(3, "Error", "worker")]))
    assert status.phase == RunPhase.FAILED
    assert status.reason == runstatus.REASON_NON_ZERO_EXIT
    assert "container 'worker' exited with code 3" in status.message
    assert "BackoffLimitExceeded" in status.message


def test_oom_killed_says_raise_memory_limit():
    status = fail_with(pod_body(phase="Failed", containerStatuses=[terminated(137, "OOMKilled")]))
    assert status.reason == runstatus.REASON_OOM_KILLED
    assert "resources.limits.memory" in status.message
    assert "137" in status.message


def test_evicted_pod_is_evicted():
    pod = pod_body(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    status = fail_with(pod)
    assert status.reason == runstatus.REASON_EVICTED
    assert "low on resource: memory" in status.message
    assert "node-a" in status.message


@pytest.mark.parametrize("disruption", ["DeletionByTaintManager", "DeletionByPodGC", "EvictionByEvictionAPI"])
def test_lost_or_drained_node_is_node_lost(disruption):
    pod = pod_body(
        phase="Failed",
        conditions=[{"type": "DisruptionTarget", "status": "True", "reason": disruption, "message": "node gone"}],
        containerStatuses=[terminated(137, "Error")],
    )
    status = fail_with(pod)
    assert status.reason == runstatus.REASON_NODE_LOST
    assert "not the program's fault" in status.message
    assert disruption in status.message
    assert runstatus.outcome_class(status.reason) == RetryReason.NODE_LOST


def test_node_lost_pod_reason_is_node_lost():
    status = fail_with(pod_body(phase="Failed", reason="NodeLost", message="Node node-a which was running pod is unresponsive"))
    assert status.reason == runstatus.REASON_NODE_LOST


def test_preempted_pod_counts_as_node_lost():
    pod = pod_body(phase="Failed", conditions=[
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler", "message": "by pod x"}])
    status = fail_with(pod)
    assert status.reason == runstatus.REASON_PREEMPTED
    assert runstatus.outcome_class(status.reason) == RetryReason.NODE_LOST


def test_false_disruption_condition_is_ignored():
    pod = pod_body(phase="Failed", conditions=[
        {"type": "DisruptionTarget", "status": "False", "reason": "DeletionByTaintManager"}],
        containerStatuses=[terminated(2, "Error")])
    assert fail_with(pod).reason == runstatus.REASON_NON_ZERO_EXIT


def test_image_pull_failure_is_named():
    pod = pod_body(phase="Pending", containerStatuses=[waiting("ImagePullBackOff", "Back-off pulling image nope:1")])
    status = fail_with(pod, failed_condition("PodFailurePolicy", "matched a rule"))
    assert status.reason == runstatus.REASON_IMAGE_PULL_FAILED
    assert "Back-off pulling image nope:1" in status.message
    assert "imagePullSecrets" in status.message


def test_deadline_before_start_names_waiting_reason():
    pod = pod_body(phase="Pending", containerStatuses=[waiting("ErrImagePull", "manifest unknown")])
    status = fail_with(pod, failed_condition("DeadlineExceeded", "Job was active longer than specified deadline"))
    assert status.phase == RunPhase.TIMED_OUT
    assert status.reason == runstatus.REASON_DEADLINE_EXCEEDED
    assert "never started running" in status.message
    assert "manifest unknown" in status.message


def test_failure_without_pod_keeps_job_reason():
    status = runstatus.derive_status(JobRunStatus(), job(conditions=[failed_condition()]), None, T0)
    assert status.reason == "BackoffLimitExceeded"
    assert runstatus.outcome_class(status.reason) == RetryReason.FAILED


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("NonZeroExitCode", RetryReason.FAILED),
        ("OOMKilled", RetryReason.FAILED),
        ("Evicted", RetryReason.FAILED),
        ("DeadlineExceeded", RetryReason.TIMED_OUT),
        ("OperatorTimeout", RetryReason.TIMED_OUT),
        ("NodeLost", RetryReason.NODE_LOST),
        ("JobDeleted", None),
        ("JobRejected", None),
        ("StartSLABreached", None),
        ("Replaced", None),
        (None, None),
    ],
)
def test_outcome_class(reason, expected):
    assert runstatus.outcome_class(reason) == expected


def test_not_running_reasons():
    image = runstatus.pod_info(pod_body(phase="Pending", containerStatuses=[waiting("ImagePullBackOff", "Back-off")]))
    assert "cannot pull its image" in runstatus.describe_not_running(JobRunStatus(jobName="j"), image)
    unschedulable = runstatus.pod_info(pod_body(phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/2 nodes are available: 2 Insufficient cpu."}]))
    text = runstatus.describe_not_running(JobRunStatus(jobName="j"), unschedulable)
    assert "0/2 nodes are available" in text
    assert "resource requests" in text
    assert "FailedCreate" in runstatus.describe_not_running(JobRunStatus(jobName="j"), None)
    queued = JobRunStatus(phase=RunPhase.PENDING, reason=runstatus.REASON_WAITING, message="waiting for x")
    assert "waits for another run" in runstatus.describe_not_running(queued, None)


def test_merge_keeps_removal_cause_and_latest_waiting_state():
    lost = runstatus.pod_info(pod_body(phase="Failed", reason="NodeLost", message="unresponsive"))
    retry_pod = runstatus.pod_info(pod_body(phase="Pending", containerStatuses=[waiting("ContainerCreating", "")]))
    merged = runstatus.merge_pod_info(lost, retry_pod)
    assert merged.pod_reason == "NodeLost"
    assert merged.waiting_reason == "ContainerCreating"


# ---------------------------------------------------------------- attempts


def running_attempt_one() -> JobRunStatus:
    created = runstatus.job_created(JobRunStatus(), "run-1", 0.2, T0)
    info = runstatus.PodInfo(start_time=T0 + timedelta(seconds=1))
    return runstatus.derive_status(created, job("run-1", active=1), info, T0 + timedelta(seconds=1))


def retry_pending(status: JobRunStatus) -> JobRunStatus:
    return runstatus.replace_status(
        status, phase=RunPhase.PENDING, reason=runstatus.REASON_RETRY_SCHEDULED,
        nextAttemptTime=T0 + timedelta(seconds=30), completionTime=None,
    )


def test_finish_closes_current_attempt():
    done = runstatus.finish(running_attempt_one(), RunPhase.TIMED_OUT, "OperatorTimeout", "ended", T0 + timedelta(seconds=9))
    assert done.attempts[-1].completionTime == T0 + timedelta(seconds=9)
    assert done.attempts[-1].reason == "OperatorTimeout"
    assert done.attempts[-1].message == "ended"


def test_retry_pending_ignores_job_events():
    failed = runstatus.finish(running_attempt_one(), RunPhase.FAILED, "NonZeroExitCode", "exit 3", T0 + timedelta(seconds=5))
    pending = retry_pending(failed)
    again = runstatus.derive_status(pending, job("run-1", conditions=[failed_condition()]), None, T0 + timedelta(seconds=6))
    assert again == pending
    assert runstatus.derive_status(pending, None, None, T0, job_deleted=True) == pending


def test_second_attempt_appends_record_and_keeps_lag():
    failed = runstatus.finish(running_attempt_one(), RunPhase.FAILED, "NonZeroExitCode", "exit 3", T0 + timedelta(seconds=5))
    pending = retry_pending(failed)
    second = runstatus.job_created(pending, "run-1-a2", 35.0, T0 + timedelta(seconds=35))
    assert second.jobName == "run-1-a2"
    assert [a.jobName for a in second.attempts] == ["run-1", "run-1-a2"]
    assert second.scheduleLagSeconds == 0.2
    assert second.nextAttemptTime is None
    assert second.reason == runstatus.REASON_JOB_CREATED
    retry_condition = next(c for c in second.conditions if c.type == runstatus.CONDITION_RETRY_SCHEDULED)
    assert retry_condition.status.value == "False"
    events = runstatus.transition_events("run-1", pending, second)
    assert [e.reason for e in events] == ["RunCreated"]
    assert "attempt 2" in events[0].message


def test_second_attempt_pending_until_its_pod_runs():
    failed = runstatus.finish(running_attempt_one(), RunPhase.FAILED, "NonZeroExitCode", "exit 3", T0 + timedelta(seconds=5))
    second = runstatus.job_created(retry_pending(failed), "run-1-a2", 35.0, T0 + timedelta(seconds=35))
    status = runstatus.derive_status(second, job("run-1-a2"), None, T0 + timedelta(seconds=36))
    assert status.phase == RunPhase.PENDING
    assert status.startTime == T0 + timedelta(seconds=1)
    info = runstatus.PodInfo(start_time=T0 + timedelta(seconds=37))
    status = runstatus.derive_status(status, job("run-1-a2", active=1), info, T0 + timedelta(seconds=37))
    assert status.phase == RunPhase.RUNNING
    assert status.attempts[-1].startTime == T0 + timedelta(seconds=37)
    assert status.attempts[0].startTime == T0 + timedelta(seconds=1)


def test_event_of_earlier_attempt_job_is_ignored():
    failed = runstatus.finish(running_attempt_one(), RunPhase.FAILED, "NonZeroExitCode", "exit 3", T0 + timedelta(seconds=5))
    second = runstatus.job_created(retry_pending(failed), "run-1-a2", 35.0, T0 + timedelta(seconds=35))
    stale = runstatus.derive_status(second, job("run-1", conditions=[failed_condition()]), None, T0 + timedelta(seconds=36))
    assert stale == second


def test_attempt_update_keeps_captured_log():
    status = running_attempt_one()
    marked = runstatus.replace_status(
        status, attempts=[status.attempts[0].model_copy(update={"logs": RunLogs(tail="hello")})]
    )
    info = runstatus.PodInfo(start_time=T0 + timedelta(seconds=1), exit_code=0, container_name="main")
    finished = job("run-1", conditions=[{"type": "Complete", "status": "True", "lastTransitionTime": format_time(T0)}])
    again = runstatus.derive_status(marked, finished, info, T0 + timedelta(seconds=2))
    assert again.phase == RunPhase.SUCCEEDED
    assert len(again.attempts) == 1
    assert again.attempts[0].logs.tail == "hello"
    assert again.attempts[0].exitCode == 0


def test_breach_and_retry_events():
    running = running_attempt_one()
    conditions = runstatus.set_condition(running.conditions, runstatus.CONDITION_SLA_BREACHED,
                                         runstatus.ConditionStatus.TRUE, "SLABreached", "running for 3 s", T0)
    breached = runstatus.replace_status(running, conditions=conditions)
    events = runstatus.transition_events("run-1", running, breached)
    assert [(e.type, e.reason) for e in events] == [("Warning", "SLABreached")]
    assert runstatus.transition_events("run-1", breached, breached) == []
    pending = runstatus.replace_status(retry_pending(breached), message="attempt 1 of 3 ended Failed")
    events = runstatus.transition_events("run-1", breached, pending)
    assert [e.reason for e in events] == [runstatus.REASON_RETRY_SCHEDULED]
