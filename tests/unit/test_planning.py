"""Catch-up plans, concurrency decisions, pruning and summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from punctual import planning, runstatus
from punctual.models import (
    CatchUpPolicy,
    ConcurrencyPolicy,
    JobRunStatus,
    RunPhase,
    RunTrigger,
    ScheduledJobStatus,
)
from punctual.planning import Action, RunView

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Every:
    """Epoch-anchored fixed-interval schedule with exact arithmetic, for planning tests."""

    seconds: int

    def _index_at_or_before(self, instant: datetime) -> int:
        return math.floor(instant.timestamp() / self.seconds)

    def _at(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.seconds, tz=UTC)

    def next_after(self, instant: datetime) -> datetime:
        return self._at(self._index_at_or_before(instant) + 1)

    def count_between(self, after: datetime, until: datetime) -> int:
        return max(0, self._index_at_or_before(until) - self._index_at_or_before(after))

    def latest_at_or_before(self, instant: datetime, *, not_before: datetime) -> datetime | None:
        latest = self._at(self._index_at_or_before(instant))
        return latest if latest > not_before else None

    def occurrences(self, after: datetime, until: datetime) -> list[datetime]:
        first = self._index_at_or_before(after) + 1
        return [self._at(i) for i in range(first, self._index_at_or_before(until) + 1)]


def plan(policy, *, after, until, now=None, max_runs=10, deadline=None, every=60):
    return planning.plan_catch_up(
        Every(every),
        after=after,
        until=until,
        now=now or until,
        policy=policy,
        max_runs=max_runs,
        starting_deadline_seconds=deadline,
    )


def test_catch_up_latest_skips_rest_as_range():
    result = plan(CatchUpPolicy.LATEST, after=T0, until=T0 + timedelta(minutes=10, seconds=30))
    assert result.runs == [T0 + timedelta(minutes=10)]
    assert len(result.skips) == 1
    skip = result.skips[0]
    assert (skip.first, skip.last, skip.count) == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=9), 9)
    assert skip.reason == planning.REASON_CATCH_UP_POLICY


def test_catch_up_all_runs_newest_max_runs():
    result = plan(CatchUpPolicy.ALL, after=T0, until=T0 + timedelta(minutes=10), max_runs=3)
    assert result.runs == [T0 + timedelta(minutes=m) for m in (8, 9, 10)]
    assert result.skips[0].count == 7
    assert result.skips[0].last == T0 + timedelta(minutes=7)


def test_catch_up_all_within_max_runs_skips_nothing():
    result = plan(CatchUpPolicy.ALL, after=T0, until=T0 + timedelta(minutes=3), max_runs=5)
    assert result.runs == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    assert result.skips == []


def test_catch_up_none_runs_nothing():
    result = plan(CatchUpPolicy.NONE, after=T0, until=T0 + timedelta(minutes=5))
    assert result.runs == []
    assert [(s.count, s.reason) for s in result.skips] == [(5, planning.REASON_CATCH_UP_POLICY)]


def test_catch_up_nothing_missed():
    assert plan(CatchUpPolicy.LATEST, after=T0, until=T0 + timedelta(seconds=59)) == planning.CatchUpPlan()


def test_catch_up_deadline_skips_stale_occurrences():
    until = T0 + timedelta(minutes=10)
    result = plan(CatchUpPolicy.ALL, after=T0, until=until, deadline=150, max_runs=10)
    # Occurrences at minutes 1..7 are more than 150 s old at minute 10.
    assert result.skips[0].reason == planning.REASON_MISSED_DEADLINE
    assert result.skips[0].count == 7
    assert result.runs == [T0 + timedelta(minutes=m) for m in (8, 9, 10)]


def test_catch_up_deadline_longer_than_outage():
    result = plan(CatchUpPolicy.LATEST, after=T0, until=T0 + timedelta(minutes=2), deadline=3600)
    assert result.runs == [T0 + timedelta(minutes=2)]
    assert [s.count for s in result.skips] == [1]


def test_catch_up_week_of_seconds_is_fast():
    after = T0
    until = T0 + timedelta(days=7)
    result = plan(CatchUpPolicy.LATEST, after=after, until=until, every=1)
    assert result.skips[0].count == 7 * 24 * 3600 - 1
    assert result.runs == [until]


@given(
    st.sampled_from(list(CatchUpPolicy)),
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=1, max_value=20),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3000)),
    st.integers(min_value=1, max_value=120),
)
def test_catch_up_accounts_for_every_occurrence_once(policy, span, max_runs, deadline, every):
    schedule = Every(every)
    until = T0 + timedelta(seconds=span)
    result = planning.plan_catch_up(
        schedule, after=T0, until=until, now=until, policy=policy, max_runs=max_runs,
        starting_deadline_seconds=deadline,
    )
    covered = []
    for skip in result.skips:
        members = schedule.occurrences(skip.first - timedelta(microseconds=1), skip.last)
        assert len(members) == skip.count
        covered.extend(members)
    covered.extend(result.runs)
    assert covered == schedule.occurrences(T0, until)
    if policy == CatchUpPolicy.NONE:
        assert result.runs == []
    if policy == CatchUpPolicy.LATEST:
        assert len(result.runs) <= 1
    assert len(result.runs) <= max_runs
    for run in result.runs:
        assert not planning.is_late(run, until, deadline)


def test_is_late():
    assert not planning.is_late(T0, T0 + timedelta(seconds=10), None)
    assert not planning.is_late(T0, T0 + timedelta(seconds=10), 10)
    assert planning.is_late(T0, T0 + timedelta(seconds=11), 10)


def test_resume_cursor():
    created = T0
    assert planning.resume_cursor(ScheduledJobStatus(), created) == created
    later = T0 + timedelta(hours=1)
    assert planning.resume_cursor(ScheduledJobStatus(lastScheduleTime=later), created) == later
    effective = T0 + timedelta(hours=2)
    status = ScheduledJobStatus(lastScheduleTime=later, scheduleEffectiveFrom=effective)
    assert planning.resume_cursor(status, created) == effective


def test_schedule_changed():
    status = ScheduledJobStatus(appliedSchedule=planning.applied_schedule(["@every 5s"], "UTC"))
    assert not planning.schedule_changed(status, ["@every 5s"], "UTC")
    assert planning.schedule_changed(status, ["@every 6s"], "UTC")
    assert planning.schedule_changed(status, ["@every 5s"], "Europe/Berlin")
    assert not planning.schedule_changed(ScheduledJobStatus(), ["@every 5s"], "UTC")


def view(name, phase=None, *, job=False, finished=False, reason=None, minute=0, completed=None):
    status = JobRunStatus(
        phase=phase,
        reason=reason,
        jobName=name if job else None,
        completionTime=completed,
    )
    return RunView(
        name=name,
        scheduled_time=T0 + timedelta(minutes=minute),
        trigger=RunTrigger.SCHEDULE,
        status=status,
        job_exists=job,
        job_finished=finished,
    )


WAITING = runstatus.REASON_WAITING


def test_allow_always_starts():
    runs = [view("a", RunPhase.RUNNING, job=True)]
    assert planning.decide(ConcurrencyPolicy.ALLOW, "b", runs).action == Action.START


def test_forbid_skips_while_active():
    runs = [view("a", RunPhase.RUNNING, job=True), view("b")]
    decision = planning.decide(ConcurrencyPolicy.FORBID, "b", runs)
    assert decision.action == Action.SKIP
    assert decision.reason == planning.REASON_CONCURRENCY_FORBID
    assert "a" in decision.message


def test_forbid_starts_when_job_finished_before_status():
    runs = [view("a", RunPhase.RUNNING, job=True, finished=True), view("b")]
    assert planning.decide(ConcurrencyPolicy.FORBID, "b", runs).action == Action.START


def test_forbid_counts_job_created_before_crash_without_status():
    # The Job exists but the crash came before its JobRun status was written.
    runs = [view("a", None, job=True), view("b")]
    assert planning.decide(ConcurrencyPolicy.FORBID, "b", runs).action == Action.SKIP


def test_forbid_ignores_skipped_and_unstarted():
    runs = [view("a", RunPhase.SKIPPED), view("c", None), view("b")]
    assert planning.decide(ConcurrencyPolicy.FORBID, "b", runs).action == Action.START


def test_replace_cancels_active():
    runs = [view("a", RunPhase.RUNNING, job=True), view("c", RunPhase.SUCCEEDED, job=True, finished=True), view("b")]
    decision = planning.decide(ConcurrencyPolicy.REPLACE, "b", runs)
    assert decision.action == Action.START
    assert decision.cancel == ("a",)


def test_buffer_one_waits_then_skips():
    active = view("a", RunPhase.RUNNING, job=True)
    first = planning.decide(ConcurrencyPolicy.BUFFER_ONE, "b", [active, view("b")])
    assert first.action == Action.WAIT
    waiting = view("b", RunPhase.PENDING, reason=WAITING, minute=1)
    second = planning.decide(ConcurrencyPolicy.BUFFER_ONE, "c", [active, waiting, view("c", minute=2)])
    assert second.action == Action.SKIP
    assert second.reason == planning.REASON_BUFFER_FULL


def test_buffer_one_promotes_waiting_when_active_ended():
    done = view("a", RunPhase.SUCCEEDED, job=True, finished=True)
    waiting = view("b", RunPhase.PENDING, reason=WAITING, minute=1)
    decision = planning.decide(ConcurrencyPolicy.BUFFER_ONE, "c", [done, waiting, view("c", minute=2)])
    assert decision.action == Action.WAIT
    assert decision.promote == "b"
    assert planning.next_waiting([done, waiting]).name == "b"
    assert planning.next_waiting([view("x", RunPhase.RUNNING, job=True), waiting]) is None


def test_buffer_one_starts_when_idle():
    assert planning.decide(ConcurrencyPolicy.BUFFER_ONE, "b", [view("b")]).action == Action.START


def test_prune_keeps_limits_and_active():
    runs = [view(f"s{i}", RunPhase.SUCCEEDED, job=True, finished=True, minute=i) for i in range(5)]
    runs += [view(f"f{i}", RunPhase.FAILED, job=True, finished=True, minute=i) for i in range(2)]
    runs += [view(f"k{i}", RunPhase.SKIPPED, minute=i) for i in range(4)]
    runs += [view("r", RunPhase.RUNNING, job=True, minute=0)]
    doomed = planning.select_prunable(runs, succeeded=3, failed=3, skipped=1)
    assert sorted(doomed) == sorted(["s0", "s1", "k0", "k1", "k2"])
    assert "r" not in planning.select_prunable(runs, succeeded=0, failed=0, skipped=0)


def test_summary():
    done_at = T0 + timedelta(minutes=3)
    runs = [
        view("a", RunPhase.SUCCEEDED, job=True, finished=True, minute=1, completed=done_at),
        view("b", RunPhase.RUNNING, job=True, minute=2),
        view("c", RunPhase.SKIPPED, minute=3),
    ]
    summary = planning.summarize(runs, previous_last_successful=T0)
    assert summary.active == ["b"]
    assert summary.counts.succeeded == 1
    assert summary.counts.running == 1
    assert summary.counts.skipped == 1
    assert summary.last_run.name == "b"
    assert summary.last_successful_time == done_at
    patch = summary.status_patch()
    assert patch["activeCount"] == 1
    assert patch["lastSuccessfulTime"] == "2026-06-01T12:03:00Z"


def test_run_view_from_bodies():
    job_run = {
        "metadata": {"name": "backup-100", "creationTimestamp": "2026-06-01T12:00:00Z"},
        "spec": {"scheduledJobName": "backup", "scheduledTime": "2026-06-01T12:00:00Z", "trigger": "Schedule"},
        "status": {},
    }
    job = {
        "metadata": {"name": "backup-100", "labels": {"punctual.dev/job-run": "backup-100"}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]},
    }
    seen = planning.run_view(job_run, {"backup-100": job})
    assert seen.job_exists
    assert seen.job_finished
    assert not seen.active
    unseen = planning.run_view(job_run, {})
    assert not unseen.job_exists
    assert not unseen.active
