"""Occurrence instants of one cron expression in one time zone.

The iteration walks local calendar days. On a day whose UTC offset does not change
(almost every day), the occurrences are local midnight plus each matching time of day,
which are counted and searched by bisection without building datetimes. A day with a
DST transition resolves each time through zones.resolve_local_time, which applies the
wall-clock rule.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .cron import CronSpec
from .zones import day_shape, resolve_local_time

_MINUTE = timedelta(minutes=1)
_MICROS_PER_MINUTE = 60_000_000
_MICROSECOND = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)

# next_after searches this far ahead. parse_cron guarantees a matching day in every
# 10 years, so only the DST rule could leave a longer stretch without occurrences.
SEARCH_HORIZON = timedelta(days=11 * 366)


def _minutes_floor(instant: datetime, midnight: datetime) -> int:
    """Return the whole minutes from ``midnight`` to ``instant``, rounded down."""
    return ((instant - midnight) // _MICROSECOND) // _MICROS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class _RegularDay:
    """The occurrences ``midnight + minutes[i]`` for ``start <= i < len(minutes)``."""

    midnight: datetime
    minutes: Sequence[int]
    start: int

    def __len__(self) -> int:
        return len(self.minutes) - self.start

    def __iter__(self) -> Iterator[datetime]:
        for index in range(self.start, len(self.minutes)):
            yield self.midnight + self.minutes[index] * _MINUTE

    @property
    def first(self) -> datetime:
        return self.midnight + self.minutes[self.start] * _MINUTE

    @property
    def last(self) -> datetime:
        return self.midnight + self.minutes[-1] * _MINUTE

    def count_at_or_before(self, until: datetime) -> int:
        stop = bisect.bisect_right(self.minutes, _minutes_floor(until, self.midnight))
        return max(0, stop - self.start)

    def last_at_or_before(self, until: datetime) -> datetime | None:
        count = self.count_at_or_before(until)
        if count == 0:
            return None
        return self.midnight + self.minutes[self.start + count - 1] * _MINUTE


@dataclass(frozen=True, slots=True)
class _ExplicitInstants:
    """Occurrences listed one by one, ascending (days with a DST transition)."""

    instants: list[datetime]

    def __len__(self) -> int:
        return len(self.instants)

    def __iter__(self) -> Iterator[datetime]:
        return iter(self.instants)

    @property
    def first(self) -> datetime:
        return self.instants[0]

    @property
    def last(self) -> datetime:
        return self.instants[-1]

    def count_at_or_before(self, until: datetime) -> int:
        return bisect.bisect_right(self.instants, until)

    def last_at_or_before(self, until: datetime) -> datetime | None:
        count = self.count_at_or_before(until)
        return self.instants[count - 1] if count else None


_Batch = _RegularDay | _ExplicitInstants


@dataclass(frozen=True)
class CronTimes:
    """The occurrences of a CronSpec in a time zone, as aware UTC datetimes."""

    spec: CronSpec
    zone: ZoneInfo

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        # Each pass searches one horizon ahead of the last occurrence, so the iterator
        # ends only after a whole horizon without any occurrence.
        while True:
            found = False
            for batch in self._batches(after, _add_clamped(after, SEARCH_HORIZON)):
                for instant in batch:
                    found = True
                    after = instant
                    yield instant
            if not found:
                return

    def count_between(self, after: datetime, until: datetime) -> int:
        total = 0
        for batch in self._batches(after, until):
            if batch.first > until:
                break
            total += batch.count_at_or_before(until)
            if batch.last > until:
                break
        return total

    def latest_at_or_before(self, instant: datetime, not_before: datetime) -> datetime | None:
        # Search windows that end at ``instant`` and grow eightfold, so a frequent
        # schedule looks at two days and a yearly one at a few windows.
        window = timedelta(days=2)
        while True:
            reaches_not_before = instant - not_before <= window
            low = not_before if reaches_not_before else instant - window
            latest = None
            for batch in self._batches(low, instant):
                if batch.first > instant:
                    break
                latest = batch.last_at_or_before(instant)
                if batch.last > instant:
                    break
            if latest is not None or reaches_not_before or window > SEARCH_HORIZON:
                return latest
            window *= 8

    def _batches(self, after: datetime, until: datetime) -> Iterator[_Batch]:
        """Yield the occurrences after ``after`` in ascending batches, one day at a time.

        Iteration stops after the local day two days past ``until``. Instants from days
        with a transition wait in a heap until no later day can produce an earlier
        instant: every instant of a day is at or after that day's DayShape.floor.
        """
        spec, zone = self.spec, self.zone
        try:
            day = after.astimezone(zone).date() - _ONE_DAY
            last_day = until.astimezone(zone).date() + 2 * _ONE_DAY
        except OverflowError:
            return
        last = after
        pending: list[datetime] = []
        while day <= last_day:
            if pending:
                released = _pop_below(pending, day_shape(zone, day).floor, last)
                if released:
                    last = released[-1]
                    yield _ExplicitInstants(released)
            if day.month not in spec.months:
                day = _first_of_next_month(day)
                if day is None:
                    break
                continue
            if spec.matches_day(day):
                shape = day_shape(zone, day)
                if shape.regular and not pending:
                    start = 0
                    if last >= shape.midnight:
                        start = bisect.bisect_right(
                            spec.minutes_of_day, _minutes_floor(last, shape.midnight)
                        )
                    if start < len(spec.minutes_of_day):
                        batch = _RegularDay(shape.midnight, spec.minutes_of_day, start)
                        last = batch.last
                        yield batch
                else:
                    self._push_day(pending, day, last)
            try:
                day += _ONE_DAY
            except OverflowError:
                break
        released = _pop_below(pending, None, last)
        if released:
            yield _ExplicitInstants(released)

    def _push_day(self, pending: list[datetime], day: date, last: datetime) -> None:
        local_midnight = datetime.combine(day, time())
        for minutes in self.spec.minutes_of_day:
            local = local_midnight + minutes * _MINUTE
            for instant in resolve_local_time(self.zone, local, wall_clock=self.spec.wall_clock):
                if instant > last:
                    heapq.heappush(pending, instant)


def _pop_below(pending: list[datetime], bound: datetime | None, last: datetime) -> list[datetime]:
    """Pop the instants below ``bound`` (all if None), dropping those at or before ``last``."""
    released: list[datetime] = []
    while pending and (bound is None or pending[0] < bound):
        instant = heapq.heappop(pending)
        if instant > last and (not released or instant > released[-1]):
            released.append(instant)
    return released


_LATEST_SEARCH_END = datetime(9999, 12, 29, tzinfo=timezone.utc)


def _add_clamped(instant: datetime, delta: timedelta) -> datetime:
    """Return ``instant + delta``, but no later than a few days before datetime.max."""
    if _LATEST_SEARCH_END - instant <= delta:
        return _LATEST_SEARCH_END
    return instant + delta


def _first_of_next_month(day: date) -> date | None:
    if day.month == 12:
        if day.year == date.max.year:
            return None
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)
