"""JobRun status as a pure function of its Job, its pods and the previous status.

No I/O here: the handlers feed in the Job and pod bodies they receive from
watches and write back what these functions return. A terminal phase is final:
later Job or pod events never change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from punctual.models import (
    Attempt,
    Condition,
    ConditionStatus,
    JobRunStatus,
    RetryReason,
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
# Reasons of a failed attempt, from its pod (describe_failure).
REASON_NON_ZERO_EXIT = "NonZeroExitCode"
REASON_OOM_KILLED = "OOMKilled"
REASON_EVICTED = "Evicted"
REASON_NODE_LOST = "NodeLost"
REASON_PREEMPTED = "Preempted"
REASON_IMAGE_PULL_FAILED = "ImagePullFailed"
# The operator's own endings of a run (sla.py, retry.py).
REASON_OPERATOR_TIMEOUT = "OperatorTimeout"
REASON_START_SLA_BREACHED = "StartSLABreached"
REASON_RETRY_SCHEDULED = "RetryScheduled"

CONDITION_STARTED = "Started"
CONDITION_FINISHED = "Finished"
CONDITION_START_SLA_BREACHED = "StartSLABreached"
CONDITION_SLA_BREACHED = "SLABreached"
CONDITION_RETRY_SCHEDULED = "RetryScheduled"

TIMEOUT_REASONS = frozenset({REASON_DEADLINE_EXCEEDED, REASON_OPERATOR_TIMEOUT})
# Failed runs that no retry policy retries: the operator or a person ended them, or a retry
# cannot help (the API server rejected the Job template). The strings match controller.py's.
NOT_RETRIED_REASONS = frozenset({
    REASON_JOB_DELETED, REASON_REPLACED, REASON_START_SLA_BREACHED,
    "JobRejected", "NameConflict", "ScheduledJobNotFound", "InvalidScheduledJob",
})
# DisruptionTarget condition reasons (Kubernetes 1.26+) of a pod removed for reasons
# outside the program: its node was lost (taint manager, pod GC) or drained (eviction API).
NODE_LOST_DISRUPTIONS = frozenset({"DeletionByTaintManager", "DeletionByPodGC", "EvictionByEvictionAPI"})
IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


@dataclass(frozen=True)
class PodInfo:
    """What the pods of one Job tell about its run."""

    start_time: datetime | None = None
    """When the first container of the first pod started running."""
    exit_code: int | None = None
    container_name: str | None = None
    termination_reason: str | None = None
    pod_name: str | None = None
    node_name: str | None = None
    phase: str | None = None
    pod_reason: str | None = None
    """The pod's status.reason, e.g. Evicted or NodeLost."""
    pod_message: str | None = None
    disruption: str | None = None
    """The reason of the pod's DisruptionTarget condition, e.g. DeletionByTaintManager."""
    disruption_message: str | None = None
    waiting_container: str | None = None
    waiting_reason: str | None = None
    """The reason a container is not running yet, e.g. ImagePullBackOff."""
    waiting_message: str | None = None
    unschedulable: str | None = None
    """The scheduler's message while the pod's PodScheduled condition is False."""


def pod_info(pod: dict[str, Any]) -> PodInfo:
    """Extract the start time, the most telling container exit and why the pod is not running from a Pod body."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    starts: list[datetime] = []
    exit_code = container = reason = None
    waiting_container = waiting_reason = waiting_message = None

    for container_status in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        state = container_status.get("state") or {}
        running = state.get("running") or {}
        terminated = state.get("terminated") or {}
        waiting = state.get("waiting") or {}
        for started in (running.get("startedAt"), terminated.get("startedAt")):
            if started:
                starts.append(parse_time(started))
        if terminated and (exit_code is None or (exit_code == 0 and terminated.get("exitCode", 0) != 0)):
            exit_code = terminated.get("exitCode")
            container = container_status.get("name")
            reason = terminated.get("reason")
        if waiting.get("reason") and waiting_reason is None:
            waiting_container = container_status.get("name")
            waiting_reason = waiting.get("reason")
            waiting_message = waiting.get("message")
    if not starts and status.get("phase") in ("Running", "Succeeded", "Failed") and status.get("startTime"):
        starts.append(parse_time(status["startTime"]))

    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    disruption = conditions.get("DisruptionTarget") or {}
    disrupted = disruption.get("status") == "True"
    scheduled = conditions.get("PodScheduled") or {}
    unschedulable = None
    if scheduled.get("status") == "False":
        unschedulable = scheduled.get("message") or scheduled.get("reason")

    return PodInfo(
        start_time=min(starts) if starts else None,
        exit_code=exit_code,
        container_name=container,
        termination_reason=reason,
        pod_name=metadata.get("name"),
        node_name=(pod.get("spec") or {}).get("nodeName"),
        phase=status.get("phase"),
        pod_reason=status.get("reason"),
        pod_message=status.get("message"),
        disruption=disruption.get("reason") if disrupted else None,
        disruption_message=disruption.get("message") if disrupted else None,
        waiting_container=waiting_container,
        waiting_reason=waiting_reason,
        waiting_message=waiting_message,
        unschedulable=unschedulable,
    )


def merge_pod_info(old: PodInfo | None, new: PodInfo) -> PodInfo:
    """Combine what two pods of the same Job tell.

    The earliest start wins, and a failing exit wins over a clean one. A pod's
    removal cause (eviction, lost node) is kept once seen. The waiting state is
    the latest pod's.
    """
    if old is None:
        return new
    starts = [t for t in (old.start_time, new.start_time) if t is not None]
    take_new_exit = new.exit_code is not None and (old.exit_code is None or old.exit_code == 0)
    source = new if take_new_exit else old
    removal = new if (new.disruption or new.pod_reason) else old
    return PodInfo(
        start_time=min(starts) if starts else None,
        exit_code=source.exit_code,
        container_name=source.container_name,
        termination_reason=source.termination_reason,
        pod_name=new.pod_name or old.pod_name,
        node_name=removal.node_name or new.node_name or old.node_name,
        phase=new.phase,
        pod_reason=removal.pod_reason,
        pod_message=removal.pod_message,
        disruption=removal.disruption,
        disruption_message=removal.disruption_message,
        waiting_container=new.waiting_container,
        waiting_reason=new.waiting_reason,
        waiting_message=new.waiting_message,
        unschedulable=new.unschedulable,
    )


def _true_conditions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        condition["type"]: condition
        for condition in (job.get("status") or {}).get("conditions") or []
        if condition.get("status") == "True"
    }


def _time_or(value: str | None, default: datetime) -> datetime:
    return parse_time(value) if value else default


def _with_detail(text: str, detail: str | None) -> str:
    return f"{text}: {detail}" if detail else text


def describe_failure(condition: dict[str, Any], pod: PodInfo) -> tuple[str, str]:
    """Return the reason and message of a Job that failed, from its Failed condition and its pods.

    The message states what happened in the words of the pod's status, and
    what to change where there is a fix. The Job's own reason ends it.
    """
    job_text = _with_detail(f"Job {condition.get('reason') or 'Failed'}", condition.get("message"))
    node = f" {pod.node_name}" if pod.node_name else ""
    if pod.disruption in NODE_LOST_DISRUPTIONS or pod.pod_reason == REASON_NODE_LOST:
        cause = _with_detail(pod.disruption or pod.pod_reason or "", pod.disruption_message or pod.pod_message)
        return REASON_NODE_LOST, (
            f"the pod's node{node} was lost or drained ({cause}); this is not the program's fault; {job_text}"
        )
    if pod.disruption == "PreemptionByScheduler":
        return REASON_PREEMPTED, (
            f"the pod was preempted to make room for a higher-priority pod ({pod.disruption_message or 'no message'}); "
            f"this is not the program's fault; give the Job a higher priorityClassName if it must not be preempted; "
            f"{job_text}"
        )
    if pod.pod_reason == REASON_EVICTED or pod.disruption == "TerminationByKubelet":
        cause = pod.pod_message or pod.disruption_message or "no message"
        return REASON_EVICTED, (
            f"the kubelet evicted the pod from node{node} ({cause}); set resource requests that cover the "
            f"program's use, or run it on nodes with more room; {job_text}"
        )
    if pod.termination_reason == REASON_OOM_KILLED:
        return REASON_OOM_KILLED, (
            f"container {pod.container_name!r} was killed for exceeding its memory limit (OOMKilled, exit code "
            f"{pod.exit_code}); raise resources.limits.memory in spec.jobTemplate or lower the program's memory use; "
            f"{job_text}"
        )
    if pod.exit_code is not None and pod.exit_code != 0:
        exit_text = f"container {pod.container_name!r} exited with code {pod.exit_code}"
        if pod.termination_reason and pod.termination_reason != "Error":
            exit_text += f" ({pod.termination_reason})"
        return REASON_NON_ZERO_EXIT, f"{exit_text}; its log tells why; {job_text}"
    if pod.waiting_reason in IMAGE_PULL_REASONS:
        return REASON_IMAGE_PULL_FAILED, f"{describe_not_running(None, pod)}; {job_text}"
    return condition.get("reason") or "Failed", job_text


def describe_not_running(status: JobRunStatus | None, pod: PodInfo | None) -> str:
    """Say why a run's pod is not running, and what to check, from the pod's waiting state."""
    if status is not None and not status.jobName:
        if is_waiting(status):
            return f"it waits for another run ({status.message})"
        return "its Job was not created yet"
    job = f" of Job {status.jobName}" if status is not None and status.jobName else ""
    if pod is None:
        return (
            f"no pod{job} exists yet, so the Job controller may be unable to create one: look for FailedCreate "
            f"Events of the Job (an exceeded ResourceQuota, a missing ServiceAccount)"
        )
    name = f"pod {pod.pod_name}" if pod.pod_name else "the pod"
    if pod.waiting_reason in IMAGE_PULL_REASONS:
        return (
            f"container {pod.waiting_container!r} of {name} cannot pull its image "
            f"({_with_detail(pod.waiting_reason or '', pod.waiting_message)}); check the image name and tag "
            f"and the pod's imagePullSecrets"
        )
    if pod.unschedulable:
        return (
            f"{name} cannot be scheduled ({pod.unschedulable}); check its resource requests, nodeSelector, "
            f"affinity and tolerations against the nodes"
        )
    if pod.waiting_reason:
        return (
            f"container {pod.waiting_container!r} of {name} is waiting "
            f"({_with_detail(pod.waiting_reason, pod.waiting_message)})"
        )
    return f"{name} is {pod.phase or 'not running'}"


def outcome_class(reason: str | None) -> RetryReason | None:
    """Return the retryPolicy.retryOn class of a failed attempt's reason, or None if it is never retried."""
    if reason is None or reason in NOT_RETRIED_REASONS:
        return None
    if reason in TIMEOUT_REASONS:
        return RetryReason.TIMED_OUT
    if reason in (REASON_NODE_LOST, REASON_PREEMPTED):
        return RetryReason.NODE_LOST
    return RetryReason.FAILED


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
    """Derive a JobRun status from its Job (None if unknown or deleted) and pod info.

    Only the current attempt's Job counts: a run waiting for a retry, or an
    event of an earlier attempt's Job, leaves the status as it is.
    """
    if current.phase is not None and current.phase.terminal:
        return current
    if is_retry_pending(current):
        return current
    if job is not None and current.jobName and (job.get("metadata") or {}).get("name") != current.jobName:
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
    status = replace_status(current, jobName=metadata.get("name") or current.jobName)
    recorded = _current_attempt(status)
    start = pod.start_time or (recorded.startTime if recorded is not None else None)
    if start is not None:
        status = replace_status(status, startTime=status.startTime or start)

    failed = conditions.get("Failed") or conditions.get("FailureTarget")
    complete = conditions.get("Complete") or conditions.get("SuccessCriteriaMet")
    if failed is not None:
        completion = _time_or(failed.get("lastTransitionTime"), now)
        if failed.get("reason") == REASON_DEADLINE_EXCEEDED:
            deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
            phase, reason = RunPhase.TIMED_OUT, REASON_DEADLINE_EXCEEDED
            message = (
                f"Job ran longer than its activeDeadlineSeconds ({deadline} s, sla.timeoutSeconds) and Kubernetes "
                f"stopped it; raise sla.timeoutSeconds if the run needs longer"
            )
            if start is None:
                message += f"; it never started running: {describe_not_running(None, pod)}"
        else:
            phase = RunPhase.FAILED
            reason, message = describe_failure(failed, pod)
    elif complete is not None:
        completion = _time_or(job_status.get("completionTime") or complete.get("lastTransitionTime"), now)
        phase, reason, message = RunPhase.SUCCEEDED, REASON_COMPLETED, "Job completed"
        if pod.exit_code is not None:
            message += f"; container {pod.container_name!r} exited with code {pod.exit_code}"
    elif start is not None:
        status = replace_status(
            status,
            phase=RunPhase.RUNNING,
            reason=REASON_STARTED,
            message=f"pod of Job {status.jobName} is running",
        )
        return _with_attempt(_with_conditions(status, now), created, start, pod, None, None)
    else:
        status = replace_status(status, phase=RunPhase.PENDING, reason=REASON_JOB_CREATED,
                                message=status.message or f"Job {status.jobName} created")
        return _with_attempt(_with_conditions(status, now), created, start, pod, None, None)

    if start is None and job_status.get("startTime") and phase == RunPhase.SUCCEEDED:
        start = parse_time(job_status["startTime"])
        status = replace_status(status, startTime=status.startTime or start)
    status = finish(status, phase, reason, message, completion)
    return _with_attempt(status, created, start, pod, reason, message)


def replace_status(status: JobRunStatus, **changes: Any) -> JobRunStatus:
    return status.model_copy(update=changes)


def _current_attempt(status: JobRunStatus) -> Attempt | None:
    """Return the attempt record of status.jobName, which is the last one."""
    attempts = status.attempts or []
    if attempts and status.jobName and attempts[-1].jobName == status.jobName:
        return attempts[-1]
    return None


def _with_attempt(
    status: JobRunStatus,
    created: datetime,
    start: datetime | None,
    pod: PodInfo,
    reason: str | None,
    message: str | None,
) -> JobRunStatus:
    """Return status with the current Job's attempt record updated, or appended when it is a new Job."""
    changes: dict[str, Any] = {
        "jobName": status.jobName or "",
        "createdTime": created,
        "startTime": start,
        "completionTime": status.completionTime if reason is not None else None,
        "exitCode": pod.exit_code,
        "containerName": pod.container_name,
        "reason": reason,
        "message": message,
    }
    recorded = _current_attempt(status)
    attempts = list(status.attempts or [])
    if recorded is None:
        attempts.append(Attempt(**changes))
    else:
        # The log captured for this attempt is written apart from the Job's state, so model_copy keeps it.
        attempts[-1] = recorded.model_copy(update=changes)
    return replace_status(status, attempts=attempts)


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
    """Return status moved to a terminal phase with its completion time and duration.

    The current attempt, if still open, ends with it and records the same reason and message.
    """
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
    recorded = _current_attempt(finished)
    if recorded is not None and recorded.completionTime is None:
        closed = recorded.model_copy(update={"completionTime": completion, "reason": reason, "message": message})
        finished = replace_status(finished, attempts=[*(finished.attempts or [])[:-1], closed])
    return _with_conditions(finished, completion)


def job_created(current: JobRunStatus, job_name: str, lag_seconds: float, now: datetime) -> JobRunStatus:
    """Return the status of a run whose Job was just created (a later watch event may be ahead of it).

    The Job of a retry becomes the current attempt; scheduleLagSeconds stays the first Job's.
    """
    lag = current.scheduleLagSeconds if current.scheduleLagSeconds is not None else round(lag_seconds, 3)
    status = replace_status(current, jobName=job_name, scheduleLagSeconds=lag)
    if is_retry_pending(current) and current.jobName != job_name:
        conditions = set_condition(
            status.conditions, CONDITION_RETRY_SCHEDULED, ConditionStatus.FALSE, REASON_JOB_CREATED,
            f"attempt {len(status.attempts or []) + 1} started with Job {job_name}", now,
        )
        status = replace_status(status, phase=RunPhase.PENDING, nextAttemptTime=None, conditions=conditions)
    if status.phase is None or status.phase == RunPhase.PENDING:
        status = replace_status(status, phase=RunPhase.PENDING, reason=REASON_JOB_CREATED, message=f"Job {job_name} created")
    if not any(attempt.jobName == job_name for attempt in status.attempts or []):
        status = replace_status(status, attempts=[*(status.attempts or []), Attempt(jobName=job_name, createdTime=now)])
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


def is_retry_pending(status: JobRunStatus) -> bool:
    """Tell whether an attempt of the run failed and the next one is scheduled (retry.plan_retry)."""
    return status.phase == RunPhase.PENDING and status.reason == REASON_RETRY_SCHEDULED


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


def _true(status: JobRunStatus, condition_type: str) -> Condition | None:
    return next(
        (c for c in status.conditions or [] if c.type == condition_type and c.status == ConditionStatus.TRUE), None
    )


def transition_events(name: str, old: JobRunStatus, new: JobRunStatus) -> list[RunEvent]:
    """Return the Events that a status change from old to new stands for."""
    events = []
    if new.jobName and new.jobName != old.jobName:
        attempt = len(new.attempts or [])
        detail = f" (attempt {attempt})" if attempt > 1 else ""
        events.append(RunEvent("Normal", "RunCreated", f"JobRun {name} created Job {new.jobName}{detail}"))
    if new.startTime and not old.startTime:
        events.append(RunEvent("Normal", "RunStarted", f"JobRun {name}: pod started running"))
    for condition_type in (CONDITION_START_SLA_BREACHED, CONDITION_SLA_BREACHED):
        breach = _true(new, condition_type)
        if breach is not None and _true(old, condition_type) is None:
            events.append(RunEvent("Warning", condition_type, f"JobRun {name}: {breach.message}"))
    if is_retry_pending(new) and not is_retry_pending(old):
        events.append(RunEvent("Warning", REASON_RETRY_SCHEDULED, f"JobRun {name}: {new.message}"))
    if new.phase != old.phase and new.phase in _FINISH_EVENTS:
        type_, reason = _FINISH_EVENTS[new.phase]
        detail = f" ({new.reason}: {new.message})" if new.reason else ""
        events.append(RunEvent(type_, reason, f"JobRun {name} {new.phase.value}{detail}"))
    return events
