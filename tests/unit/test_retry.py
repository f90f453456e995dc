"""Retry backoff, retry planning and the failure streak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punctual import naming, retry, runstatus
from punctual.models import JobRunStatus, RetryPolicy, RetryReason, RunPhase

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def running() -> JobRunStatus:
    created = runstatus.job_created(JobRunStatus(), "run-1", 0.1, T0)
    return runstatus.replace_status(created, phase=RunPhase.RUNNING, startTime=T0)


def ended(phase: RunPhase = RunPhase.FAILED, reason: str = "NonZeroExitCode", at: float = 5) -> tuple[JobRunStatus, JobRunStatus]:
    old = running()
    return old, runstatus.finish(old, phase, reason, "container 'main' exited with code 3", T0 + timedelta(seconds=at))


def test_backoff_doubles_up_to_cap():
    policy = RetryPolicy(backoffSeconds=2, maxBackoffSeconds=10)
    assert [retry.backoff_seconds(policy, n) for n in range(1, 6)] == [2, 4, 8, 10, 10]


def test_backoff_zero_retries_at_once():
    assert retry.backoff_seconds(RetryPolicy(backoffSeconds=0), 3) == 0


@given(st.integers(0, 86400), st.integers(0, 86400), st.integers(1, 1000))
def test_backoff_within_bounds(backoff, cap, failures):
    delay = retry.backoff_seconds(RetryPolicy(backoffSeconds=backoff, maxBackoffSeconds=cap), failures)
    assert 0 <= delay <= cap


def test_failed_attempt_becomes_retry_scheduled():
    old, new = ended()
    planned = retry.plan_retry(RetryPolicy(maxAttempts=3, backoffSeconds=2), old, new, T0 + timedelta(seconds=5))
    assert planned.phase == RunPhase.PENDING
    assert planned.reason == runstatus.REASON_RETRY_SCHEDULED
    assert planned.nextAttemptTime == T0 + timedelta(seconds=7)
    assert planned.completionTime is None
    assert "attempt 1 of 3" in planned.message
    assert "exited with code 3" in planned.message
    assert planned.attempts[0].completionTime == T0 + timedelta(seconds=5)
    assert runstatus.is_retry_pending(planned)
    conditions = {c.type: c.status.value for c in planned.conditions}
    assert conditions[runstatus.CONDITION_RETRY_SCHEDULED] == "True"
    assert conditions[runstatus.CONDITION_FINISHED] == "False"


def test_last_attempt_stays_failed():
    old, new = ended()
    three = runstatus.replace_status(new, attempts=[*new.attempts, *new.attempts[:1] * 2])
    planned = retry.plan_retry(RetryPolicy(maxAttempts=3), old, three, T0)
    assert planned.phase == RunPhase.FAILED
    assert "no retry left" in planned.message


def test_no_policy_or_single_attempt_keeps_failure():
    old, new = ended()
    assert retry.plan_retry(None, old, new, T0) == new
    assert retry.plan_retry(RetryPolicy(), old, new, T0) == new


def test_retry_on_filters_outcomes():
    old, timed_out = ended(RunPhase.TIMED_OUT, "DeadlineExceeded")
    assert retry.plan_retry(RetryPolicy(maxAttempts=2), old, timed_out, T0).phase == RunPhase.TIMED_OUT
    policy = RetryPolicy(maxAttempts=2, retryOn=[RetryReason.TIMED_OUT])
    assert retry.plan_retry(policy, old, timed_out, T0).phase == RunPhase.PENDING
    old, lost = ended(reason="NodeLost")
    assert retry.plan_retry(policy, old, lost, T0).phase == RunPhase.FAILED
    assert retry.plan_retry(RetryPolicy(maxAttempts=2, retryOn=[RetryReason.NODE_LOST]), old, lost, T0).phase == RunPhase.PENDING


def test_operator_endings_are_not_retried():
    policy = RetryPolicy(maxAttempts=5, retryOn=list(RetryReason))
    for reason in ("JobDeleted", "JobRejected", "StartSLABreached"):
        old, new = ended(reason=reason)
        assert retry.plan_retry(policy, old, new, T0).phase == RunPhase.FAILED, reason


def test_final_run_is_never_reopened():
    _, new = ended()
    assert retry.plan_retry(RetryPolicy(maxAttempts=3), new, new, T0) == new


def test_success_is_untouched():
    old = running()
    done = runstatus.finish(old, RunPhase.SUCCEEDED, "Completed", "Job completed", T0)
    assert retry.plan_retry(RetryPolicy(maxAttempts=3), old, done, T0) == done


def run(name: str, seconds: int, phase: RunPhase | None) -> retry.FinishedRun:
    return retry.FinishedRun(name=name, scheduled_time=T0 + timedelta(seconds=seconds), phase=phase)


def test_streak_counts_failures_in_order():
    streak = retry.fold_streak(0, None, [run("b", 20, RunPhase.TIMED_OUT), run("a", 10, RunPhase.FAILED)])
    assert streak.count == 2
    assert streak.through == T0 + timedelta(seconds=20)
    assert streak.last_failed == "b"


def test_streak_resets_on_success_and_skips_others():
    runs = [
        run("a", 10, RunPhase.FAILED),
        run("b", 20, RunPhase.SUCCEEDED),
        run("c", 30, RunPhase.SKIPPED),
        run("d", 40, RunPhase.CANCELLED),
        run("e", 50, RunPhase.FAILED),
        run("f", 60, RunPhase.RUNNING),
    ]
    streak = retry.fold_streak(0, None, runs)
    assert streak.count == 1
    assert streak.through == T0 + timedelta(seconds=50)


def test_streak_counts_each_run_once():
    runs = [run("a", 10, RunPhase.FAILED), run("b", 20, RunPhase.FAILED)]
    first = retry.fold_streak(0, None, runs)
    again = retry.fold_streak(first.count, first.through, runs)
    assert again.count == 2
    assert again.last_failed is None
    later = retry.fold_streak(again.count, again.through, [*runs, run("c", 30, RunPhase.FAILED)])
    assert later.count == 3


def test_attempt_job_names_are_fixed():
    assert naming.attempt_job_name("nightly-1780315200", 1) == naming.job_name("nightly-1780315200")
    assert naming.attempt_job_name("nightly-1780315200", 2) == "nightly-1780315200-a2"
    long_run = "x" * naming.MAX_RUN_NAME
    third = naming.attempt_job_name(long_run, 3)
    assert len(third) <= naming.MAX_RUN_NAME
    assert third.endswith("-a3")
    assert third == naming.attempt_job_name(long_run, 3)
    assert third != naming.attempt_job_name(long_run, 2)
    with pytest.raises(ValueError, match="attempt 0 is invalid"):
        naming.attempt_job_name("nightly-1780315200", 0)
