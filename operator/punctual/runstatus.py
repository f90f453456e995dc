"""JobRun status as a pure function of its Job, its pods and the previous status.

No I/O here: the handlers feed in the Job and pod bodies they receive from
watches and write back what these functions return. A terminal phase is final:
later Job or pod events never change it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from punctual.models import (
    Attempt,
    Condition,
    ConditionStatus,
    JobRunStatus,
    RunPhase,
    SkippedRange,
    format_time,
    parse_time,
)

# Reasons written to JobRun status.reason and used as Event reasons.
REASON_JOB_CREATED = "JobCreated"
REASON_STARTED = "PodRunning"
REASON_COMPLETED = "Completed"
REASON_JOB_DELETED = "JobDeleted"
REASON_DEADLINE_EXCEEDED = "DeadlineExceeded"
REASON_WAITING = "Waiting"
REASON_REPLACED = "Replaced"

CONDITION_STARTED = "Started"
CONDITION_FINISHED = "Finished"


@dataclass(frozen=True)
class PodInfo:
    """What the pods of one Job tell about its run."""

    start_time: datetime | None = None
    """When the first container of the first pod started running."""
    exit_code: int | None = None
    container_name: str | None = None
    termination_reason: str | None = None


def pod_info(pod: dict[str, Any]) -> PodInfo:
    """Extract the running start time and the most telling container exit from a Pod body."""
    status = pod.get("status") or {}
    starts: list[datetime] = []
    exit_code = container = reason = None
    for container_status in status.get("containerStatuses") or []:
        state = container_status.get("state") or {}
        running = state.get("running") or {}
        terminated = state.get("terminated") or {}
        for started in (running.get("startedAt"), terminated.get("startedAt")):
            if started:
                starts.append(parse_time(started))
        if terminated and (exit_code is None or (exit_code == 0 and terminated.get("exitCode", 0) != 0)):
            exit_code = terminated.get("exitCode")
            container = container_status.get("name")
            reason = terminated.get("reason")
    if not starts and status.get("phase") in ("Running", "Succeeded", "Failed") and status.get("startTime"):
        starts.append(parse_time(status["startTime"]))
    return PodInfo(
        start_time=min(starts) if starts else None,
        exit_code=exit_code,
        container_name=container,
        termination_reason=reason,
    )


def merge_pod_info(old: PodInfo | None, new: PodInfo) -> PodInfo:
    """Combine what two pods of the same Job tell: the earliest start, a failing exit over a clean one."""
    if old is None:
        return new
    starts = [t for t in (old.start_time, new.start_time) if t is not None]
    take_new_exit = new.exit_code is not None and (old.exit_code is None or old.exit_code == 0)
    source = new if take_new_exit else old
    return PodInfo(
        start_time=min(starts) if starts else None,
        exit_code=source.exit_code,
        container_name=source.container_name,
        termination_reason=source.termination_reason,
    )


def _true_conditions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        condition["type"]: condition
        for condition in (job.get("status") or {}).get("conditions") or []
        if condition.get("status") == "True"
    }


def _time_or(value: str | None, default: datetime) -> datetime:
    return parse_time(value) if value else default


def _failure_message(condition: dict[str, Any], pod: PodInfo) -> str:
    parts = []
    if pod.exit_code is not None:
        exit_text = f"container {pod.container_name!r} exited with code {pod.exit_code}"
        if pod.termination_reason:
            exit_text += f" ({pod.termination_reason})"
        parts.append(exit_text)
    job_reason = condition.get("reason") or "Failed"
    job_message = condition.get("message")
    parts.append(f"Job {job_reason}" + (f": {job_message}" if job_message else ""))
    return "; ".join(parts)


def set_condition(
    conditions: list[Condition] | None,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> list[Condition]:
    """Return conditions with one type set, keeping lastTransitionTime when the status did not change."""
    result = [c for c in conditions or [] if c.type != type_]
    previous = next((c for c in conditions or [] if c.type == type_), None)
    transition = previous.lastTransitionTime if previous and previous.status == status else now
    result.append(
        Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            lastTransitionTime=transition,
            observedGeneration=generation,
        )
    )
    return sorted(result, key=lambda c: c.type)


def derive_status(
    current: JobRunStatus,
    job: dict[str, Any] | None,
    pod: PodInfo | None,
    now: datetime,
    *,
    job_deleted: bool = False,
) -> JobRunStatus:
    """Derive a JobRun status from its Job (None if unknown or deleted) and pod info."""
    if current.phase is not None and current.phase.terminal:
        return current
    if job is None:
        if job_deleted and current.jobName:
            return finish(
                current,
                RunPhase.FAILED,
                REASON_JOB_DELETED,
                f"Job {current.jobName} was deleted before it finished",
                now,
            )
        return current

    pod = pod or PodInfo()
    metadata = job.get("metadata") or {}
    job_status = job.get("status") or {}
    conditions = _true_conditions(job)
    created = _time_or(metadata.get("creationTimestamp"), now)
    start = pod.start_time
    status = replace_status(current, jobName=metadata.get("name") or current.jobName)
    if start is not None:
        status = replace_status(status, startTime=status.startTime or start)

    failed = conditions.get("Failed") or conditions.get("FailureTarget")
    complete = conditions.get("Complete") or conditions.get("SuccessCriteriaMet")
    if failed is not None:
        completion = _time_or(failed.get("lastTransitionTime"), now)
        if failed.get("reason") == REASON_DEADLINE_EXCEEDED:
            deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
            phase, reason = RunPhase.TIMED_OUT, REASON_DEADLINE_EXCEEDED
            message = f"Job ran longer than its activeDeadlineSeconds ({deadline} s) and was stopped"
        else:
            phase, reason = RunPhase.FAILED, failed.get("reason") or "Failed"
            message = _failure_message(failed, pod)
    elif complete is not None:
        completion = _time_or(job_status.get("completionTime") or complete.get("lastTransitionTime"), now)
        phase, reason, message = RunPhase.SUCCEEDED, REASON_COMPLETED, "Job completed"
        if pod.exit_code is not None:
            message += f"; container {pod.container_name!r} exited with code {pod.exit_code}"
    elif status.startTime is not None:
        status = replace_status(
            status,
            phase=RunPhase.RUNNING,
            reason=REASON_STARTED,
            message=f"pod of Job {status.jobName} is running",
        )
        return _with_attempt(_with_conditions(status, now), created, pod, None)
    else:
        status = replace_status(status, phase=RunPhase.PENDING, reason=REASON_JOB_CREATED,
                                message=status.message or f"Job {status.jobName} created")
        return _with_attempt(_with_conditions(status, now), created, pod, None)

    if status.startTime is None and job_status.get("startTime") and phase == RunPhase.SUCCEEDED:
        status = replace_status(status, startTime=parse_time(job_status["startTime"]))
    status = finish(status, phase, reason, message, completion)
    return _with_attempt(status, created, pod, reason)


def replace_status(status: JobRunStatus, **changes: Any) -> JobRunStatus:
    return status.model_copy(update=changes)


def _with_attempt(status: JobRunStatus, created: datetime, pod: PodInfo, reason: str | None) -> JobRunStatus:
    attempt = Attempt(
        jobName=status.jobName or "",
        createdTime=created,
        startTime=status.startTime,
        completionTime=status.completionTime,
        exitCode=pod.exit_code,
        containerName=pod.container_name,
        reason=reason,
    )
    return replace_status(status, attempts=[attempt])


def _with_conditions(status: JobRunStatus, now: datetime) -> JobRunStatus:
    conditions = status.conditions
    if status.startTime is not None:
        conditions = set_condition(
            conditions, CONDITION_STARTED, ConditionStatus.TRUE, REASON_STARTED,
            f"pod started running at {format_time(status.startTime)}", now,
        )
    if status.phase is not None and status.phase.terminal:
        conditions = set_condition(
            conditions, CONDITION_FINISHED, ConditionStatus.TRUE, status.reason or status.phase.value,
            status.message or "", now,
        )
    else:
        conditions = set_condition(
            conditions, CONDITION_FINISHED, ConditionStatus.FALSE, status.reason or "Pending",
            "the run has not finished", now,
        )
    return replace_status(status, conditions=conditions)


def finish(status: JobRunStatus, phase: RunPhase, reason: str, message: str, completion: datetime) -> JobRunStatus:
    """Return status moved to a terminal phase with its completion time and duration."""
    began = status.startTime
    duration = max(0, int((completion - began).total_seconds())) if began is not None else None
    finished = replace_status(
        status,
        phase=phase,
        reason=reason,
        message=message,
        completionTime=completion,
        durationSeconds=duration,
    )
    return _with_conditions(finished, completion)


def job_created(current: JobRunStatus, job_name: str, lag_seconds: float, now: datetime) -> JobRunStatus:
    """Return the status of a run whose Job was just created (a later watch event may be ahead of it)."""
    status = replace_status(current, jobName=job_name, scheduleLagSeconds=round(lag_seconds, 3))
    if status.phase is None or status.phase == RunPhase.PENDING:
        status = replace_status(status, phase=RunPhase.PENDING, reason=REASON_JOB_CREATED, message=f"Job {job_name} created")
    if not status.attempts:
        status = replace_status(status, attempts=[Attempt(jobName=job_name, createdTime=now)])
    return _with_conditions(status, now)


def waiting(current: JobRunStatus, message: str, now: datetime) -> JobRunStatus:
    """Return the status of a BufferOne run that waits for the active run to end."""
    status = replace_status(current, phase=RunPhase.PENDING, reason=REASON_WAITING, message=message)
    return _with_conditions(status, now)


def skipped(
    current: JobRunStatus,
    reason: str,
    message: str,
    now: datetime,
    skipped_range: SkippedRange | None = None,
) -> JobRunStatus:
    status = replace_status(current, skipped=skipped_range)
    return finish(status, RunPhase.SKIPPED, reason, message, now)


def is_waiting(status: JobRunStatus) -> bool:
    return status.phase == RunPhase.PENDING and status.reason == REASON_WAITING and not status.jobName


@dataclass(frozen=True)
class RunEvent:
    type: str  # Normal or Warning
    reason: str
    message: str


_FINISH_EVENTS = {
    RunPhase.SUCCEEDED: ("Normal", "RunSucceeded"),
    RunPhase.FAILED: ("Warning", "RunFailed"),
    RunPhase.TIMED_OUT: ("Warning", "RunTimedOut"),
    RunPhase.SKIPPED: ("Normal", "RunSkipped"),
    RunPhase.CANCELLED: ("Normal", "RunCancelled"),
}


def transition_events(name: str, old: JobRunStatus, new: JobRunStatus) -> list[RunEvent]:
    """Return the Events that a status change from old to new stands for."""
    events = []
    if new.jobName and not old.jobName:
        events.append(RunEvent("Normal", "RunCreated", f"JobRun {name} created Job {new.jobName}"))
    if new.startTime and not old.startTime:
        events.append(RunEvent("Normal", "RunStarted", f"JobRun {name}: pod started running"))
    if new.phase != old.phase and new.phase in _FINISH_EVENTS:
        type_, reason = _FINISH_EVENTS[new.phase]
        detail = f" ({new.reason}: {new.message})" if new.reason else ""
        events.append(RunEvent(type_, reason, f"JobRun {name} {new.phase.value}{detail}"))
    return events
