"""One time-ordered queue for the due occurrences of every ScheduledJob.

A single asyncio task sleeps until the earliest fire time, then hands each due
entry to a callback. Fire times are wall-clock UTC (Unix seconds), but the
task sleeps on the event loop's monotonic clock and sleeps at most
MAX_SLEEP_SECONDS at a time, so a jump of the wall clock delays no run by more
than that. The callback must return at once: firing runs in its own task.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime

logger = logging.getLogger("punctual.scheduler")

MAX_SLEEP_SECONDS = 5.0


@dataclass(order=True)
class _Item:
    fire_at: float
    sequence: int
    key: Hashable = field(compare=False)
    occurrence: datetime = field(compare=False)
    token: int = field(compare=False)


class TimeQueue:
    """A heap of (fire time, key) with at most one live item per key; replaced items are skipped lazily."""

    def __init__(self) -> None:
        self._heap: list[_Item] = []
        self._tokens: dict[Hashable, int] = {}
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._tokens

    def put(self, key: Hashable, occurrence: datetime, fire_at: float) -> None:
        """Set the one pending occurrence of key, replacing any earlier one."""
        self._sequence += 1
        self._tokens[key] = self._sequence
        heapq.heappush(self._heap, _Item(fire_at, self._sequence, key, occurrence, self._sequence))

    def remove(self, key: Hashable) -> None:
        self._tokens.pop(key, None)

    def _drop_stale(self) -> None:
        while self._heap and self._tokens.get(self._heap[0].key) != self._heap[0].token:
            heapq.heappop(self._heap)

    def next_fire_at(self) -> float | None:
        self._drop_stale()
        return self._heap[0].fire_at if self._heap else None

    def pop_due(self, now: float) -> list[tuple[Hashable, datetime]]:
        """Remove and return every live item whose fire time is at or before now, earliest first."""
        due = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0].fire_at > now:
                return due
            item = heapq.heappop(self._heap)
            del self._tokens[item.key]
            due.append((item.key, item.occurrence))


class Scheduler:
    """The task that fires queued occurrences when they are due."""

    def __init__(self, on_due: Callable[[Hashable, datetime], None], wall_clock: Callable[[], float] = time.time):
        self.queue = TimeQueue()
        self._on_due = on_due
        self._wall_clock = wall_clock
        self._wakeup = asyncio.Event()

    def put(self, key: Hashable, occurrence: datetime, fire_at: datetime) -> None:
        self.queue.put(key, occurrence, fire_at.astimezone(UTC).timestamp())
        self._wakeup.set()

    def remove(self, key: Hashable) -> None:
        self.queue.remove(key)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.queue

    async def run(self) -> None:
        logger.info("scheduler started")
        while True:
            now = self._wall_clock()
            for key, occurrence in self.queue.pop_due(now):
                try:
                    self._on_due(key, occurrence)
                except Exception:  # one broken entry must not stop every other schedule
                    logger.exception("[%s] dispatching the occurrence at %s failed", key, occurrence)
            next_fire = self.queue.next_fire_at()
            delay = MAX_SLEEP_SECONDS if next_fire is None else min(MAX_SLEEP_SECONDS, next_fire - now)
            if delay <= 0:
                continue
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
            except TimeoutError:
                pass
