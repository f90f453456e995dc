"""SLA deadlines and their evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from punctual import runstatus, sla
from punctual.models import SLA, JobRunStatus, RunPhase, StartBreachAction, format_time

SCHEDULED = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return SCHEDULED + timedelta(seconds=seconds)


def job(start: int = 1, finished: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Complete", "status": "True"}] if finished else []
    return {
        "metadata": {"name": "run-1", "creationTimestamp": format_time(at(0))},
        "status": {"startTime": format_time(at(start)), "conditions": conditions},
    }


def pending() -> JobRunStatus:
    return runstatus.job_created(JobRunStatus(), "run-1", 0.2, at(0))


def running(started: float = 1) -> JobRunStatus:
    return runstatus.replace_status(pending(), phase=RunPhase.RUNNING, reason="PodRunning", startTime=at(started))


def condition(status: JobRunStatus, condition_type: str):
    return next((c for c in status.conditions or [] if c.type == condition_type), None)


def image_pull_pod() -> runstatus.PodInfo:
    return runstatus.PodInfo(pod_name="run-1-abcde", phase="Pending", waiting_container="main",
                             waiting_reason="ImagePullBackOff", waiting_message="Back-off pulling image busybox")


def test_start_deadline_counts_from_scheduled_time():
    policy = SLA(startWithinSeconds=5)
    assert sla.start_deadline(policy, pending(), SCHEDULED) == at(5)
    assert sla.start_deadline(policy, running(), SCHEDULED) is None
    assert sla.start_deadline(SLA(), pending(), SCHEDULED) is None


def test_start_breach_warns_with_waiting_reason():
    policy = SLA(startWithinSeconds=5)
    early = sla.evaluate(policy, pending(), SCHEDULED, job(), image_pull_pod(), at(4.9))
    assert early.status == pending()
    verdict = sla.evaluate(policy, pending(), SCHEDULED, job(), image_pull_pod(), at(5))
    breach = condition(verdict.status, sla.CONDITION_START_SLA_BREACHED)
    assert breach is not None
    assert breach.status.value == "True"
    assert "ImagePullBackOff" in breach.message
    assert "startWithinSeconds 5 s" in breach.message
    assert verdict.status.phase == RunPhase.PENDING
    assert verdict.delete_job is None
    assert sla.start_deadline(policy, verdict.status, SCHEDULED) is None


def test_start_breach_fail_ends_run_and_deletes_job():
    policy = SLA(startWithinSeconds=5, onStartBreach=StartBreachAction.FAIL)
    verdict = sla.evaluate(policy, pending(), SCHEDULED, job(), image_pull_pod(), at(6))
    assert verdict.status.phase == RunPhase.FAILED
    assert verdict.status.reason == sla.REASON_START_SLA_BREACHED
    assert verdict.delete_job == "run-1"
    assert "Job run-1 deleted" in verdict.status.message
    assert verdict.status.attempts[-1].reason == sla.REASON_START_SLA_BREACHED


def test_start_breach_of_waiting_run_has_no_job_to_delete():
    queued = runstatus.waiting(JobRunStatus(), "concurrencyPolicy BufferOne: waiting for JobRun a to end", at(0))
    policy = SLA(startWithinSeconds=5, onStartBreach=StartBreachAction.FAIL)
    verdict = sla.evaluate(policy, queued, SCHEDULED, None, None, at(5))
    assert verdict.status.phase == RunPhase.FAILED
    assert verdict.delete_job is None
    assert "waits for another run" in verdict.status.message


def test_warn_breach_keeps_run_going():
    policy = SLA(warnAfterSeconds=3)
    status = running(started=1)
    assert sla.warn_deadline(policy, status) == at(4)
    verdict = sla.evaluate(policy, status, SCHEDULED, job(), None, at(4.2))
    assert verdict.status.phase == RunPhase.RUNNING
    assert condition(verdict.status, sla.CONDITION_SLA_BREACHED).status.value == "True"
    assert "sla.warnAfterSeconds (3 s)" in condition(verdict.status, sla.CONDITION_SLA_BREACHED).message
    assert verdict.delete_job is None
    assert sla.warn_deadline(policy, verdict.status) is None
    assert sla.breaches_between(status, verdict.status) == [sla.BreachKind.WARN]


def test_timeout_backstop_after_grace():
    policy = SLA(timeoutSeconds=6)
    status = running()
    deadline = at(2 + 6 + sla.TIMEOUT_GRACE_SECONDS)
    assert sla.timeout_deadline(policy, status, job(start=2)) == deadline
    assert sla.evaluate(policy, status, SCHEDULED, job(start=2), None, deadline - timedelta(seconds=1)).status == status
    verdict = sla.evaluate(policy, status, SCHEDULED, job(start=2), None, deadline)
    assert verdict.status.phase == RunPhase.TIMED_OUT
    assert verdict.status.reason == sla.REASON_OPERATOR_TIMEOUT
    assert "operator ended" in verdict.status.message
    assert verdict.delete_job == "run-1"
    assert sla.breaches_between(status, verdict.status) == [sla.BreachKind.TIMEOUT]


def test_timeout_backstop_uses_attempt_creation_without_job():
    policy = SLA(timeoutSeconds=6)
    assert sla.timeout_deadline(policy, running(), None) == at(6 + sla.TIMEOUT_GRACE_SECONDS)


def test_no_backstop_for_finished_job_or_final_run():
    policy = SLA(timeoutSeconds=6)
    assert sla.timeout_deadline(policy, running(), job(finished=True)) is None
    done = runstatus.finish(running(), RunPhase.SUCCEEDED, "Completed", "", at(3))
    assert sla.next_deadline(SLA(timeoutSeconds=6, warnAfterSeconds=1, startWithinSeconds=1), done, SCHEDULED, job()) is None


def test_no_deadlines_while_retry_pending():
    failed = runstatus.finish(running(), RunPhase.FAILED, "NonZeroExitCode", "exit 3", at(2))
    retrying = runstatus.replace_status(failed, phase=RunPhase.PENDING, reason=runstatus.REASON_RETRY_SCHEDULED,
                                        completionTime=None)
    policy = SLA(timeoutSeconds=6, startWithinSeconds=1)
    assert sla.timeout_deadline(policy, retrying, job()) is None
    assert sla.start_deadline(policy, retrying, SCHEDULED) is None


def test_next_deadline_is_earliest():
    policy = SLA(startWithinSeconds=30, timeoutSeconds=5)
    assert sla.next_deadline(policy, pending(), SCHEDULED, job(start=0)) == at(5 + sla.TIMEOUT_GRACE_SECONDS)
    assert sla.next_deadline(None, pending(), SCHEDULED, job()) is None


def test_deadlines_depend_only_on_cluster_state():
    # A restarted operator sees the same JobRun and Job, so it queues the same deadline.
    policy = SLA(startWithinSeconds=30, warnAfterSeconds=10, timeoutSeconds=60)
    status = running(started=2)
    copy = JobRunStatus.model_validate(status.to_api())
    assert sla.next_deadline(policy, copy, SCHEDULED, job()) == sla.next_deadline(policy, status, SCHEDULED, job())


def test_kubernetes_timeout_counts_as_breach_once_per_attempt():
    status = running()
    timed_out = runstatus.finish(status, RunPhase.TIMED_OUT, runstatus.REASON_DEADLINE_EXCEEDED, "stopped", at(7))
    assert sla.breaches_between(status, timed_out) == [sla.BreachKind.TIMEOUT]
    assert sla.breaches_between(timed_out, timed_out) == []
