"""SLA deadlines of a run and what happens when one passes, as pure functions.

Clocks, as the CRD field descriptions state them:

- startWithinSeconds counts from the run's scheduled time until its first pod runs;
- warnAfterSeconds counts from ``status.startTime``, when the run's first pod
  started running (attempts after the first included);
- timeoutSeconds is each attempt Job's ``activeDeadlineSeconds``, which
  Kubernetes counts from the Job's ``status.startTime``. The operator's
  backstop fires TIMEOUT_GRACE_SECONDS after that deadline, in case the Job
  controller did not stop the Job (it is down, or the deadline was removed).

The operator keeps one entry per run in its central time queue, at the
earliest deadline that ``next_deadline`` returns, and calls ``evaluate`` when
it is due. Both take only cluster state, so a restarted operator recomputes
the same deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from punctual import runstatus
from punctual.models import (
    SLA,
    Condition,
    ConditionStatus,
    JobRunStatus,
    RunPhase,
    StartBreachAction,
    format_time,
    parse_time,
)

CONDITION_START_SLA_BREACHED = runstatus.CONDITION_START_SLA_BREACHED
CONDITION_SLA_BREACHED = runstatus.CONDITION_SLA_BREACHED
REASON_START_SLA_BREACHED = runstatus.REASON_START_SLA_BREACHED
REASON_SLA_BREACHED = "SLABreached"
REASON_OPERATOR_TIMEOUT = runstatus.REASON_OPERATOR_TIMEOUT

# How long after a Job's activeDeadlineSeconds the operator waits for the Job
# controller before it ends the attempt itself.
TIMEOUT_GRACE_SECONDS = 10


class BreachKind(str, Enum):
    """The metric label of each kind of SLA breach."""

    START = "start"
    WARN = "warn"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Verdict:
    """The status a due deadline leads to, and the Job to delete once that status is written."""

    status: JobRunStatus
    delete_job: str | None = None


def _breached(status: JobRunStatus, condition_type: str) -> bool:
    return any(c.type == condition_type and c.status == ConditionStatus.TRUE for c in status.conditions or [])


def _active(status: JobRunStatus) -> bool:
    if status.phase is not None and status.phase.terminal:
        return False
    return not runstatus.is_retry_pending(status)


def job_start_time(status: JobRunStatus, job: dict[str, Any] | None) -> datetime | None:
    """Return when Kubernetes started counting the current attempt's activeDeadlineSeconds.

    That is the Job's status.startTime, or its creation time until the Job is seen.
    """
    if job is not None:
        started = (job.get("status") or {}).get("startTime") or (job.get("metadata") or {}).get("creationTimestamp")
        if started:
            return parse_time(started)
    current = (status.attempts or [None])[-1]
    if current is not None and current.jobName == status.jobName:
        return current.createdTime
    return None


def start_deadline(sla: SLA | None, status: JobRunStatus, scheduled_time: datetime) -> datetime | None:
    if sla is None or sla.startWithinSeconds is None:
        return None
    if status.startTime is not None or not _active(status) or _breached(status, CONDITION_START_SLA_BREACHED):
        return None
    return scheduled_time + timedelta(seconds=sla.startWithinSeconds)


def warn_deadline(sla: SLA | None, status: JobRunStatus) -> datetime | None:
    if sla is None or sla.warnAfterSeconds is None or status.startTime is None:
        return None
    if (status.phase is not None and status.phase.terminal) or _breached(status, CONDITION_SLA_BREACHED):
        return None
    return status.startTime + timedelta(seconds=sla.warnAfterSeconds)


def timeout_deadline(sla: SLA | None, status: JobRunStatus, job: dict[str, Any] | None) -> datetime | None:
    """Return when the operator's backstop ends the current attempt, or None when it has nothing to end."""
    if sla is None or sla.timeoutSeconds is None or not status.jobName or not _active(status):
        return None
    if job is not None and _job_finished(job):
        return None
    started = job_start_time(status, job)
    if started is None:
        return None
    return started + timedelta(seconds=sla.timeoutSeconds + TIMEOUT_GRACE_SECONDS)


def next_deadline(
    sla: SLA | None, status: JobRunStatus, scheduled_time: datetime, job: dict[str, Any] | None
) -> datetime | None:
    """Return the earliest SLA deadline still ahead of the run, or None."""
    deadlines = [
        start_deadline(sla, status, scheduled_time),
        warn_deadline(sla, status),
        timeout_deadline(sla, status, job),
    ]
    return min((d for d in deadlines if d is not None), default=None)


def evaluate(
    sla: SLA | None,
    status: JobRunStatus,
    scheduled_time: datetime,
    job: dict[str, Any] | None,
    pod: runstatus.PodInfo | None,
    now: datetime,
) -> Verdict:
    """Apply every SLA deadline that has passed at now to the run's status."""
    if sla is None:
        return Verdict(status)
    delete_job = None

    start = start_deadline(sla, status, scheduled_time)
    if start is not None and now >= start:
        late = int((now - scheduled_time).total_seconds())
        cause = runstatus.describe_not_running(status, pod)
        message = (
            f"not running {late} s after its scheduled time {format_time(scheduled_time)} "
            f"(sla.startWithinSeconds {sla.startWithinSeconds} s): {cause}"
        )
        status = _set_breach(status, CONDITION_START_SLA_BREACHED, REASON_START_SLA_BREACHED, message, now)
        if sla.onStartBreach == StartBreachAction.FAIL:
            if status.jobName:
                message += f"; the run was ended (onStartBreach Fail) and Job {status.jobName} deleted"
                delete_job = status.jobName
            else:
                message += "; the run was ended (onStartBreach Fail)"
            status = runstatus.finish(status, RunPhase.FAILED, REASON_START_SLA_BREACHED, message, now)
            return Verdict(status, delete_job)

    warn = warn_deadline(sla, status)
    if warn is not None and now >= warn:
        assert status.startTime is not None
        running = int((now - status.startTime).total_seconds())
        message = (
            f"running for {running} s since {format_time(status.startTime)}, longer than "
            f"sla.warnAfterSeconds ({sla.warnAfterSeconds} s); the run goes on"
        )
        status = _set_breach(status, CONDITION_SLA_BREACHED, REASON_SLA_BREACHED, message, now)

    timeout = timeout_deadline(sla, status, job)
    if timeout is not None and now >= timeout:
        message = (
            f"Job {status.jobName} was still running {TIMEOUT_GRACE_SECONDS} s after its "
            f"activeDeadlineSeconds ({sla.timeoutSeconds} s, sla.timeoutSeconds), so Kubernetes did not stop it "
            f"(is the kube-controller-manager's Job controller running?); the operator ended the attempt and "
            f"deleted the Job"
        )
        delete_job = status.jobName
        status = runstatus.finish(status, RunPhase.TIMED_OUT, REASON_OPERATOR_TIMEOUT, message, now)
    return Verdict(status, delete_job)


def _set_breach(status: JobRunStatus, condition_type: str, reason: str, message: str, now: datetime) -> JobRunStatus:
    conditions = runstatus.set_condition(status.conditions, condition_type, ConditionStatus.TRUE, reason, message, now)
    return runstatus.replace_status(status, conditions=conditions)


def _job_finished(job: dict[str, Any]) -> bool:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


def _newly_true(old: JobRunStatus, new: JobRunStatus, condition_type: str) -> Condition | None:
    if _breached(old, condition_type):
        return None
    return next(
        (c for c in new.conditions or [] if c.type == condition_type and c.status == ConditionStatus.TRUE), None
    )


def breaches_between(old: JobRunStatus, new: JobRunStatus) -> list[BreachKind]:
    """Return the SLA breaches that a status change from old to new records.

    A timeout counts once per attempt that ends TimedOut, whether Kubernetes or
    the operator stopped it and whether or not a retry follows.
    """
    kinds = []
    if _newly_true(old, new, CONDITION_START_SLA_BREACHED):
        kinds.append(BreachKind.START)
    if _newly_true(old, new, CONDITION_SLA_BREACHED):
        kinds.append(BreachKind.WARN)
    old_timeouts = {a.jobName for a in old.attempts or [] if a.reason in runstatus.TIMEOUT_REASONS}
    for attempt in new.attempts or []:
        if attempt.reason in runstatus.TIMEOUT_REASONS and attempt.jobName not in old_timeouts:
            kinds.append(BreachKind.TIMEOUT)
    return kinds
