"""Time-based retention of JobRuns: ScheduledJob spec.runTTLSeconds.

A finished JobRun (Skipped records included) is deleted runTTLSeconds after
its completionTime, whatever the per-phase history limits keep; an active run
never is. The controller prunes during its status refresh of a ScheduledJob
and sets an ExpiryTimer to the next expiry, so a run expires on time even when
no other event refreshes its ScheduledJob.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta

from punctual.planning import RunView
from punctual.scheduler import Scheduler


def finished_at(run: RunView) -> datetime | None:
    """Return when a finished run ended: its completionTime, else its scheduled time; None while active."""
    if not run.finished or run.active:
        return None
    return run.status.completionTime or run.scheduled_time


def select_expired(runs: list[RunView], ttl_seconds: int | None, now: datetime) -> list[str]:
    """Return the names of finished runs that ended ttl_seconds or more before now, oldest first."""
    if ttl_seconds is None:
        return []
    cutoff = now - timedelta(seconds=ttl_seconds)
    expired = [(ended, run.name) for run in runs if (ended := finished_at(run)) is not None and ended <= cutoff]
    return [name for _, name in sorted(expired)]


def next_expiry(runs: list[RunView], ttl_seconds: int | None, now: datetime) -> datetime | None:
    """Return when the next finished run reaches its TTL (after now), or None when none will."""
    if ttl_seconds is None:
        return None
    ttl = timedelta(seconds=ttl_seconds)
    upcoming = [ended + ttl for run in runs if (ended := finished_at(run)) is not None and ended + ttl > now]
    return min(upcoming, default=None)


class ExpiryTimer:
    """A timer that calls on_due(key) when a ScheduledJob's next run expiry is due, with one pending time per key.

    It has its own queue and task, started at the first set(), so the
    scheduling queue contains only occurrences.
    """

    def __init__(self, on_due: Callable[[Hashable], None]) -> None:
        self._scheduler = Scheduler(lambda key, _when: on_due(key))
        self._task: asyncio.Task[None] | None = None

    def set(self, key: Hashable, when: datetime | None) -> None:
        """Wake at when for key (replacing an earlier time), or never when when is None."""
        if when is None:
            self._scheduler.remove(key)
            return
        self._scheduler.put(key, when, when)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._scheduler.run(), name="punctual-run-expiry")

    def remove(self, key: Hashable) -> None:
        self._scheduler.remove(key)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
