"""The central time queue and its scheduling loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from punctual.scheduler import Scheduler, TimeQueue

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_queue_pops_due_in_time_order():
    queue = TimeQueue()
    queue.put("b", T0 + timedelta(seconds=2), 2.0)
    queue.put("a", T0 + timedelta(seconds=1), 1.0)
    queue.put("c", T0 + timedelta(seconds=3), 3.0)
    assert queue.pop_due(2.5) == [("a", T0 + timedelta(seconds=1)), ("b", T0 + timedelta(seconds=2))]
    assert queue.next_fire_at() == 3.0
    assert len(queue) == 1


def test_queue_put_replaces_pending_item():
    queue = TimeQueue()
    queue.put("a", T0, 1.0)
    queue.put("a", T0 + timedelta(seconds=9), 9.0)
    assert queue.pop_due(5.0) == []
    assert queue.pop_due(9.0) == [("a", T0 + timedelta(seconds=9))]


def test_queue_remove():
    queue = TimeQueue()
    queue.put("a", T0, 1.0)
    queue.remove("a")
    assert "a" not in queue
    assert queue.next_fire_at() is None
    assert queue.pop_due(10.0) == []


async def test_scheduler_fires_near_time_and_in_order():
    fired: list[tuple[str, float]] = []
    scheduler = Scheduler(lambda key, occurrence: fired.append((key, time.time())))
    task = asyncio.create_task(scheduler.run())
    try:
        start = datetime.now(UTC)
        scheduler.put("late", start, start + timedelta(seconds=0.6))
        scheduler.put("early", start, start + timedelta(seconds=0.3))
        await asyncio.sleep(0.9)
    finally:
        task.cancel()
    assert [key for key, _ in fired] == ["early", "late"]
    early_at = fired[0][1] - start.timestamp()
    late_at = fired[1][1] - start.timestamp()
    assert 0.3 <= early_at < 0.45
    assert 0.6 <= late_at < 0.75


async def test_scheduler_survives_failing_callback():
    calls: list[str] = []

    def on_due(key, occurrence):
        calls.append(key)
        if key == "bad":
            raise RuntimeError("broken entry")

    scheduler = Scheduler(on_due)
    task = asyncio.create_task(scheduler.run())
    try:
        now = datetime.now(UTC)
        scheduler.put("bad", now, now)
        scheduler.put("good", now, now + timedelta(seconds=0.1))
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
    assert calls == ["bad", "good"]
