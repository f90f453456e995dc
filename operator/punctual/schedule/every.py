"""``@every <duration>`` schedules, anchored to the Unix epoch.

Occurrences are the instants 1970-01-01T00:00:00Z + k * interval for integer k, so
they do not depend on when the operator started, when the ScheduledJob was created or
on spec.timeZone, and a restart never shifts them. ``@every 1h`` fires on every UTC
hour, and ``@every 90m`` fires at 00:00, 01:30 and 03:00 UTC on 1970-01-01 and
continues that grid forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from .errors import ScheduleError, quote

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_INTERVAL_SECONDS = 31 * 24 * 3600
_MICROSECOND = timedelta(microseconds=1)

# Units of Go's time.ParseDuration (the micro sign spellings are non-ASCII, which
# check_expression_text rejects before this point).
_UNIT_SECONDS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "ms": Fraction(1, 10**3),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_DURATION = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[^0-9.]+)+$")
_COMPONENT = re.compile(r"([0-9]*\.?[0-9]*)([^0-9.]+)")


@dataclass(frozen=True)
class EverySpec:
    """A parsed ``@every`` schedule: a whole number of seconds between occurrences."""

    expression: str
    interval_seconds: int

    @property
    def _interval_micros(self) -> int:
        return self.interval_seconds * 1_000_000

    def _index_at_or_before(self, instant: datetime) -> int:
        """Return k of the last occurrence EPOCH + k * interval at or before ``instant``."""
        return ((instant - EPOCH) // _MICROSECOND) // self._interval_micros

    def _occurrence(self, index: int) -> datetime:
        return EPOCH + timedelta(seconds=index * self.interval_seconds)

    def contains(self, instant: datetime) -> bool:
        return ((instant - EPOCH) // _MICROSECOND) % self._interval_micros == 0

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        index = self._index_at_or_before(after) + 1
        while True:
            try:
                yield self._occurrence(index)
            except OverflowError:
                return
            index += 1

    def count_between(self, after: datetime, until: datetime) -> int:
        return max(0, self._index_at_or_before(until) - self._index_at_or_before(after))

    def latest_at_or_before(self, instant: datetime, not_before: datetime) -> datetime | None:
        latest = self._occurrence(self._index_at_or_before(instant))
        return latest if latest > not_before else None


def parse_every(text: str, *, field: str) -> EverySpec:
    """Parse ``@every <Go duration>``, raising ScheduleError unless it is 1s to 31 days."""
    parts = text.split()
    if len(parts) != 2:
        raise ScheduleError(
            field,
            f"{quote(text)} needs exactly one duration after '@every'; "
            "write it without spaces, such as '@every 1h30m'",
        )
    duration = parts[1]
    seconds = _parse_go_duration(duration, text, field)
    if seconds <= 0:
        raise ScheduleError(
            field,
            f"{quote(text)} has a {'negative' if seconds < 0 else 'zero'} interval; "
            "use a duration of at least 1s, such as '@every 30s'",
        )
    if seconds.denominator != 1:
        raise ScheduleError(
            field,
            f"{quote(text)} is not a whole number of seconds; Punctual schedules at "
            f"one-second resolution, so use a duration such as '@every {max(1, round(seconds))}s'",
        )
    if seconds > MAX_INTERVAL_SECONDS:
        raise ScheduleError(
            field,
            f"{quote(text)} is longer than the maximum '@every 744h' (31 days); "
            "use a cron expression such as '@monthly' for longer intervals",
        )
    return EverySpec(expression=text, interval_seconds=int(seconds))


def _parse_go_duration(duration: str, text: str, field: str) -> Fraction:
    """Return the value of a Go time.ParseDuration string in seconds, exactly."""
    example = "use a Go duration such as '90s', '5m' or '1h30m'"
    if duration in ("0", "+0", "-0"):
        return Fraction(0)
    if not _DURATION.match(duration):
        raise ScheduleError(field, f"{quote(text)} has the invalid duration {duration!r}; {example}")
    sign = -1 if duration.startswith("-") else 1
    total = Fraction(0)
    for number, unit in _COMPONENT.findall(duration.lstrip("+-")):
        if unit not in _UNIT_SECONDS:
            hint = " (Go durations have no day unit, so write days as hours)" if unit == "d" else ""
            raise ScheduleError(
                field,
                f"{quote(text)} has the unknown duration unit {unit!r}{hint}; "
                "use h, m, s, ms, us or ns",
            )
        total += Fraction(number if number != "." else "0") * _UNIT_SECONDS[unit]
    return sign * total
