"""Unit tests of runTTLSeconds retention and of the per-phase history limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from punctual import history, planning
from punctual.models import JobRunStatus, RunPhase

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def view(name: str, phase: RunPhase | None, *, ended_ago: float | None = None, job_exists: bool = False,
         job_finished: bool = False, scheduled_ago: float = 3600) -> planning.RunView:
    completion = NOW - timedelta(seconds=ended_ago) if ended_ago is not None else None
    return planning.RunView(
        name=name,
        scheduled_time=NOW - timedelta(seconds=scheduled_ago),
        trigger=None,
        status=JobRunStatus(phase=phase, completionTime=completion, jobName=name if phase != RunPhase.SKIPPED else None),
        job_exists=job_exists,
        job_finished=job_finished,
    )


def test_select_expired_oldest_first():
    runs = [
        view("young", RunPhase.SUCCEEDED, ended_ago=10),
        view("old", RunPhase.FAILED, ended_ago=500),
        view("older", RunPhase.SKIPPED, ended_ago=900),
        view("edge", RunPhase.SUCCEEDED, ended_ago=60),
    ]
    assert history.select_expired(runs, 60, NOW) == ["older", "old", "edge"]


def test_select_expired_never_takes_active_runs():
    runs = [
        view("running", RunPhase.RUNNING, job_exists=True, scheduled_ago=10_000),
        view("pending", RunPhase.PENDING, job_exists=True, scheduled_ago=10_000),
        view("unstarted", None, scheduled_ago=10_000),
    ]
    assert history.select_expired(runs, 1, NOW) == []


def test_select_expired_without_ttl():
    assert history.select_expired([view("old", RunPhase.SUCCEEDED, ended_ago=10**6)], None, NOW) == []


def test_finished_run_without_completion_time_uses_scheduled_time():
    run = view("legacy", RunPhase.SUCCEEDED, scheduled_ago=120)
    assert history.select_expired([run], 100, NOW) == ["legacy"]
    assert history.select_expired([run], 200, NOW) == []


def test_next_expiry_is_earliest_upcoming():
    runs = [
        view("a", RunPhase.SUCCEEDED, ended_ago=30),
        view("b", RunPhase.FAILED, ended_ago=50),
        view("gone", RunPhase.FAILED, ended_ago=500),
        view("running", RunPhase.RUNNING, job_exists=True),
    ]
    assert history.next_expiry(runs, 60, NOW) == NOW + timedelta(seconds=10)
    assert history.next_expiry(runs, None, NOW) is None
    assert history.next_expiry([view("running", RunPhase.RUNNING, job_exists=True)], 60, NOW) is None


def test_history_limits_keep_configured_count_per_phase():
    runs = [view(f"s{n}", RunPhase.SUCCEEDED, ended_ago=100 - n, scheduled_ago=1000 - n) for n in range(5)]
    runs += [view(f"f{n}", RunPhase.FAILED, ended_ago=100 - n, scheduled_ago=1000 - n) for n in range(4)]
    runs += [view(f"k{n}", RunPhase.SKIPPED, ended_ago=100 - n, scheduled_ago=1000 - n) for n in range(3)]
    runs += [view("active", RunPhase.RUNNING, job_exists=True, scheduled_ago=5000)]
    doomed = planning.select_prunable(runs, succeeded=2, failed=1, skipped=0)
    assert sorted(doomed) == sorted(["s0", "s1", "s2", "f0", "f1", "f2", "k0", "k1", "k2"])
    assert "active" not in doomed


async def test_expiry_timer_calls_back_when_due():
    due: list[object] = []
    timer = history.ExpiryTimer(due.append)
    try:
        timer.set("later", datetime.now(UTC) + timedelta(hours=1))
        timer.set("soon", datetime.now(UTC) + timedelta(seconds=0.2))
        timer.set("cancelled", datetime.now(UTC) + timedelta(seconds=0.1))
        timer.remove("cancelled")
        await asyncio.sleep(0.6)
        assert due == ["soon"]
    finally:
        await timer.stop()
