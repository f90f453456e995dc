"""Pure decisions of the operator: catch-up plans, concurrency, pruning and status summaries.

Every function takes the spec, the relevant times and the cluster's runs as
plain values and returns the actions to take. The controller carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from punctual import runstatus
from punctual.naming import LABEL_JOB_RUN, job_name
from punctual.models import (
    AppliedSchedule,
    CatchUpPolicy,
    ConcurrencyPolicy,
    JobRunStatus,
    LastRun,
    RunCounts,
    RunPhase,
    RunTrigger,
    ScheduledJobStatus,
    format_time,
    parse_time,
)

# Skipped reasons.
REASON_MISSED_DEADLINE = "MissedStartingDeadline"
REASON_CATCH_UP_POLICY = "CatchUpPolicy"
REASON_SUSPENDED = "Suspended"
REASON_SCHEDULE_CHANGED = "ScheduleChanged"
REASON_CONCURRENCY_FORBID = "ConcurrencyForbid"
REASON_BUFFER_FULL = "BufferFull"

# Occurrences are at whole seconds, so one microsecond before one excludes it alone.
_JUST_BEFORE = timedelta(microseconds=1)


class ScheduleLike(Protocol):
    def next_after(self, instant: datetime) -> datetime | None: ...
    def count_between(self, after: datetime, until: datetime) -> int: ...
    def latest_at_or_before(self, instant: datetime, *, not_before: datetime) -> datetime | None: ...


# ---------------------------------------------------------------- catch-up


@dataclass(frozen=True)
class SkipRange:
    """Occurrences recorded as one Skipped JobRun."""

    first: datetime
    last: datetime
    count: int
    reason: str
    message: str


@dataclass(frozen=True)
class CatchUpPlan:
    """Plan for missed occurrences, in time order: the skip ranges all precede the runs."""

    skips: list[SkipRange] = field(default_factory=list)
    runs: list[datetime] = field(default_factory=list)


def skip_range(
    schedule: ScheduleLike, after: datetime, until: datetime, reason: str, message: str
) -> SkipRange | None:
    """Return the range of occurrences in (after, until] as one record, or None when there are none."""
    if until <= after:
        return None
    count = schedule.count_between(after, until)
    if count == 0:
        return None
    first = schedule.next_after(after)
    last = schedule.latest_at_or_before(until, not_before=after)
    if first is None or last is None:
        return None
    return SkipRange(first=first, last=last, count=count, reason=reason, message=message)


def _latest_occurrences(schedule: ScheduleLike, after: datetime, until: datetime, limit: int) -> list[datetime]:
    """Return up to limit most recent occurrences in (after, until], ascending."""
    found: list[datetime] = []
    bound = until
    while len(found) < limit:
        latest = schedule.latest_at_or_before(bound, not_before=after)
        if latest is None:
            break
        found.append(latest)
        bound = latest - _JUST_BEFORE
    return sorted(found)


def plan_catch_up(
    schedule: ScheduleLike,
    *,
    after: datetime,
    until: datetime,
    now: datetime,
    policy: CatchUpPolicy,
    max_runs: int,
    starting_deadline_seconds: int | None,
) -> CatchUpPlan:
    """Plan the occurrences in (after, until] that were missed while the operator was down.

    Occurrences older than the starting deadline become one MissedStartingDeadline
    record. Of the rest, Latest runs the newest, All runs the newest max_runs, None
    runs none; the ones not run become one CatchUpPolicy record. Counting uses
    count_between, so a long outage of a frequent schedule costs no iteration.
    """
    plan = CatchUpPlan()
    fresh_after = after
    if starting_deadline_seconds is not None:
        cut = now - timedelta(seconds=starting_deadline_seconds)
        if cut > after:
            stale = skip_range(
                schedule,
                after,
                min(cut, until),
                REASON_MISSED_DEADLINE,
                f"found more than startingDeadlineSeconds ({starting_deadline_seconds} s) after its time",
            )
            if stale is not None:
                plan.skips.append(stale)
            fresh_after = min(cut, until)

    if until <= fresh_after:
        return plan
    if policy == CatchUpPolicy.NONE:
        limit = 0
    elif policy == CatchUpPolicy.LATEST:
        limit = 1
    else:
        limit = max_runs
    runs = _latest_occurrences(schedule, fresh_after, until, limit) if limit else []
    skipped_until = runs[0] - _JUST_BEFORE if runs else until
    rest = skip_range(
        schedule,
        fresh_after,
        skipped_until,
        REASON_CATCH_UP_POLICY,
        f"missed while the operator was down; catchUp.policy {policy.value} did not run it",
    )
    if rest is not None:
        plan.skips.append(rest)
    plan.runs.extend(runs)
    return plan


def is_late(scheduled_time: datetime, now: datetime, starting_deadline_seconds: int | None) -> bool:
    """Tell whether a run found at now is past its starting deadline."""
    if starting_deadline_seconds is None:
        return False
    return (now - scheduled_time).total_seconds() > starting_deadline_seconds


# ---------------------------------------------------------------- the cursor


def applied_schedule(expressions: list[str], time_zone: str) -> AppliedSchedule:
    return AppliedSchedule(expressions=list(expressions), timeZone=time_zone)


def schedule_changed(status: ScheduledJobStatus, expressions: list[str], time_zone: str) -> bool:
    """Tell whether the spec's schedule differs from the one the operator last applied."""
    if status.appliedSchedule is None:
        return False
    return status.appliedSchedule != applied_schedule(expressions, time_zone)


def resume_cursor(status: ScheduledJobStatus, created: datetime) -> datetime:
    """Return the time after which occurrences are still unhandled.

    Every occurrence at or before lastScheduleTime has a run or a Skipped record,
    none before the object existed is due, and none of the current schedule is
    due before it took effect.
    """
    cursor = status.lastScheduleTime or created
    if status.scheduleEffectiveFrom is not None and status.scheduleEffectiveFrom > cursor:
        cursor = status.scheduleEffectiveFrom
    return cursor


# ---------------------------------------------------------------- runs as seen in the cluster


@dataclass(frozen=True)
class RunView:
    """One JobRun together with the state of its Job, if the Job exists."""

    name: str
    scheduled_time: datetime | None
    trigger: RunTrigger | None
    status: JobRunStatus
    job_exists: bool = False
    job_finished: bool = False

    @property
    def phase(self) -> RunPhase | None:
        return self.status.phase

    @property
    def active(self) -> bool:
        """A run whose Job exists (or is recorded) and has not finished, or that waits for a retry."""
        if self.phase is not None and self.phase.terminal:
            return False
        if runstatus.is_retry_pending(self.status):
            return True
        if self.job_exists:
            return not self.job_finished
        return bool(self.status.jobName)

    @property
    def waiting(self) -> bool:
        return runstatus.is_waiting(self.status) and not self.job_exists

    @property
    def finished(self) -> bool:
        return self.phase is not None and self.phase.terminal


def job_finished(job: dict[str, Any]) -> bool:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return True
    return False


def run_view(job_run: dict[str, Any], jobs_by_name: dict[str, dict[str, Any]]) -> RunView:
    """Build a RunView from a JobRun body and the Jobs of its ScheduledJob, keyed by Job name."""
    spec = job_run.get("spec") or {}
    status = JobRunStatus.model_validate(job_run.get("status") or {})
    name = job_run["metadata"]["name"]
    job = jobs_by_name.get(status.jobName or "") or _job_of_run(name, jobs_by_name)
    scheduled = spec.get("scheduledTime")
    trigger = spec.get("trigger")
    return RunView(
        name=name,
        scheduled_time=parse_time(scheduled) if scheduled else parse_time(job_run["metadata"]["creationTimestamp"]),
        trigger=RunTrigger(trigger) if trigger else None,
        status=status,
        job_exists=job is not None,
        job_finished=job is not None and job_finished(job),
    )


def _job_of_run(run_name: str, jobs_by_name: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    job = jobs_by_name.get(job_name(run_name))
    if job is not None and ((job.get("metadata") or {}).get("labels") or {}).get(LABEL_JOB_RUN) == run_name:
        return job
    return None


# ---------------------------------------------------------------- concurrency


class Action(str, Enum):
    START = "Start"
    SKIP = "Skip"
    WAIT = "Wait"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    message: str = ""
    cancel: tuple[str, ...] = ()
    """Active runs to cancel first (Replace)."""
    promote: str | None = None
    """A waiting run to start first (BufferOne, when the active run ended before it was started)."""


def decide(policy: ConcurrencyPolicy, current: str, runs: list[RunView]) -> Decision:
    """Decide what the run named current does, given the ScheduledJob's runs in the cluster."""
    others = [run for run in runs if run.name != current]
    active = sorted(run.name for run in others if run.active)
    if policy == ConcurrencyPolicy.ALLOW:
        return Decision(Action.START)
    if policy == ConcurrencyPolicy.FORBID:
        if active:
            return Decision(
                Action.SKIP,
                REASON_CONCURRENCY_FORBID,
                f"concurrencyPolicy Forbid: JobRun {', '.join(active)} is still active",
            )
        return Decision(Action.START)
    if policy == ConcurrencyPolicy.REPLACE:
        return Decision(Action.START, cancel=tuple(active))

    waiting = sorted((run for run in others if run.waiting), key=_time_key)
    if not active and waiting:
        # The active run ended but its waiting successor was not started yet: start that one, then wait.
        return Decision(
            Action.WAIT,
            runstatus.REASON_WAITING,
            f"concurrencyPolicy BufferOne: waiting for JobRun {waiting[0].name} to end",
            promote=waiting[0].name,
        )
    if not active:
        return Decision(Action.START)
    if waiting:
        return Decision(
            Action.SKIP,
            REASON_BUFFER_FULL,
            f"concurrencyPolicy BufferOne: JobRun {waiting[0].name} is already waiting for {', '.join(active)}",
        )
    return Decision(
        Action.WAIT,
        runstatus.REASON_WAITING,
        f"concurrencyPolicy BufferOne: waiting for JobRun {', '.join(active)} to end",
    )


def next_waiting(runs: list[RunView]) -> RunView | None:
    """Return the waiting run to start now, if no run is active (BufferOne)."""
    if any(run.active for run in runs):
        return None
    waiting = sorted((run for run in runs if run.waiting), key=_time_key)
    return waiting[0] if waiting else None


def _time_key(run: RunView) -> tuple[str, str]:
    return (format_time(run.scheduled_time) if run.scheduled_time else "", run.name)


# ---------------------------------------------------------------- history and summaries


def select_prunable(runs: list[RunView], *, succeeded: int, failed: int, skipped: int) -> list[str]:
    """Return the finished runs beyond the history limits, oldest first; active runs are never returned."""
    groups: dict[str, list[RunView]] = {"succeeded": [], "failed": [], "skipped": []}
    for run in runs:
        if not run.finished or run.active:
            continue
        if run.phase == RunPhase.SUCCEEDED:
            groups["succeeded"].append(run)
        elif run.phase == RunPhase.SKIPPED:
            groups["skipped"].append(run)
        else:
            groups["failed"].append(run)
    limits = {"succeeded": succeeded, "failed": failed, "skipped": skipped}
    doomed: list[RunView] = []
    for group, members in groups.items():
        members.sort(key=_time_key)
        excess = len(members) - limits[group]
        if excess > 0:
            doomed.extend(members[:excess])
    return [run.name for run in sorted(doomed, key=_time_key)]


_COUNT_FIELDS = {
    RunPhase.PENDING: "pending",
    RunPhase.RUNNING: "running",
    RunPhase.SUCCEEDED: "succeeded",
    RunPhase.FAILED: "failed",
    RunPhase.TIMED_OUT: "timedOut",
    RunPhase.SKIPPED: "skipped",
    RunPhase.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class Summary:
    active: list[str]
    counts: RunCounts
    last_run: LastRun | None
    last_successful_time: datetime | None

    def status_patch(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "activeCount": len(self.active),
            "runCounts": self.counts.to_api(),
            "lastRun": self.last_run.to_api() if self.last_run else None,
            "lastSuccessfulTime": format_time(self.last_successful_time) if self.last_successful_time else None,
        }


def summarize(runs: list[RunView], previous_last_successful: datetime | None) -> Summary:
    """Summarize a ScheduledJob's runs for its status."""
    counts: dict[str, int] = {}
    for run in runs:
        key = _COUNT_FIELDS[run.phase or RunPhase.PENDING]
        counts[key] = counts.get(key, 0) + 1
    real_runs = [run for run in runs if run.phase != RunPhase.SKIPPED]
    last = max(real_runs, key=_time_key, default=None)
    successes = [
        run.status.completionTime
        for run in runs
        if run.phase == RunPhase.SUCCEEDED and run.status.completionTime is not None
    ]
    last_successful = max([*successes, *([previous_last_successful] if previous_last_successful else [])], default=None)
    return Summary(
        active=sorted(run.name for run in runs if run.active),
        counts=RunCounts(**counts),
        last_run=LastRun(name=last.name, phase=last.phase, scheduledTime=last.scheduled_time) if last else None,
        last_successful_time=last_successful,
    )
