"""Retries of failed runs and the failure streak that suspends a ScheduledJob, as pure functions.

A retry is a new attempt of the same JobRun: a new Job named ``<run>-a<n>``
(``naming.attempt_job_name``) for the same scheduled time. Between two
attempts the run stays non-final: phase Pending, reason RetryScheduled,
``status.nextAttemptTime`` set, so the concurrency policies count it active
and an operator restart finds the retry time in the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from punctual import runstatus
from punctual.models import ConditionStatus, JobRunStatus, RetryPolicy, RetryReason, RunPhase, format_time

# Finished phases that count in a failure streak; Skipped and Cancelled runs neither count nor reset it.
STREAK_FAILURES = (RunPhase.FAILED, RunPhase.TIMED_OUT)


def backoff_seconds(policy: RetryPolicy, failed_attempts: int) -> int:
    """Return the delay before the next attempt after failed_attempts failures (1 or more).

    backoffSeconds after the first failure, doubled after each further one,
    at most maxBackoffSeconds.
    """
    exponent = max(0, failed_attempts - 1)
    # Cap the exponent so the product stays small; 2**20 times any allowed backoff exceeds every cap.
    delay = policy.backoffSeconds * (2 ** min(exponent, 20))
    return min(delay, policy.maxBackoffSeconds)


def retry_reason(status: JobRunStatus) -> RetryReason | None:
    """Return the retryOn class of a finished attempt, or None when no retry policy may retry it."""
    if status.phase == RunPhase.TIMED_OUT:
        return RetryReason.TIMED_OUT
    if status.phase != RunPhase.FAILED:
        return None
    return runstatus.outcome_class(status.reason)


def plan_retry(policy: RetryPolicy | None, old: JobRunStatus, new: JobRunStatus, now: datetime) -> JobRunStatus:
    """Return new, or when it ends an attempt that policy retries, new turned into a scheduled retry.

    old is the status before the change; a run that was already final stays final.
    """
    if policy is None or (old.phase is not None and old.phase.terminal):
        return new
    if new.phase not in STREAK_FAILURES:
        return new
    outcome = retry_reason(new)
    attempts = len(new.attempts or [])
    if outcome is None or outcome not in policy.retryOn:
        return new
    if attempts >= policy.maxAttempts:
        if policy.maxAttempts > 1:
            return runstatus.replace_status(
                new, message=f"{new.message} (attempt {attempts} of {policy.maxAttempts}; no retry left)"
            )
        return new
    delay = backoff_seconds(policy, attempts)
    retry_at = (new.completionTime or now) + timedelta(seconds=delay)
    message = (
        f"attempt {attempts} of {policy.maxAttempts} ended {new.phase.value} ({new.reason}: {new.message}); "
        f"attempt {attempts + 1} starts at {format_time(retry_at)}, {delay} s after it ended"
    )
    retrying = runstatus.replace_status(
        new,
        phase=RunPhase.PENDING,
        reason=runstatus.REASON_RETRY_SCHEDULED,
        message=message,
        completionTime=None,
        durationSeconds=None,
        nextAttemptTime=retry_at,
    )
    conditions = runstatus.set_condition(
        retrying.conditions, runstatus.CONDITION_RETRY_SCHEDULED, ConditionStatus.TRUE,
        runstatus.REASON_RETRY_SCHEDULED, message, now,
    )
    conditions = runstatus.set_condition(
        conditions, runstatus.CONDITION_FINISHED, ConditionStatus.FALSE, runstatus.REASON_RETRY_SCHEDULED,
        "the run has not finished: a retry is scheduled", now,
    )
    return runstatus.replace_status(retrying, conditions=conditions)


@dataclass(frozen=True)
class FinishedRun:
    """The fields of one run that the failure streak reads."""

    name: str
    scheduled_time: datetime
    phase: RunPhase | None


@dataclass(frozen=True)
class Streak:
    """Runs in a row that ended Failed or TimedOut, counted up to one scheduled time."""

    count: int
    through: datetime | None
    """Scheduled time of the latest finished run counted; later-finishing older runs are not counted."""
    last_failed: str | None = None
    """Name of the latest failed run counted in this fold, for the suspension message."""


def fold_streak(count: int, through: datetime | None, runs: Iterable[FinishedRun]) -> Streak:
    """Add the finished runs scheduled after through, in scheduled-time order, to a failure streak.

    A Succeeded run resets the count, a Failed or TimedOut run adds one, and
    other phases (Skipped, Cancelled, still active) are passed over. A run that
    finishes after a later-scheduled run was counted is not counted.
    """
    last_failed = None
    for run in sorted(runs, key=lambda r: (r.scheduled_time, r.name)):
        if through is not None and run.scheduled_time <= through:
            continue
        if run.phase == RunPhase.SUCCEEDED:
            count = 0
        elif run.phase in STREAK_FAILURES:
            count += 1
            last_failed = run.name
        else:
            continue
        through = run.scheduled_time
    return Streak(count=count, through=through, last_failed=last_failed)
