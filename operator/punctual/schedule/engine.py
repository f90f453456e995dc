"""The Schedule type and parse_schedule, which builds it from spec fields."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .cron import check_expression_text, parse_cron
from .cron_times import CronTimes
from .errors import ScheduleError, quote
from .every import EverySpec, parse_every
from .zones import validate_time_zone

MAX_EXPRESSIONS = 16

_TimeSource = CronTimes | EverySpec


@dataclass(frozen=True)
class Schedule:
    """The union of one or more schedule expressions in one time zone.

    Build it with parse_schedule. Every method takes timezone-aware datetimes
    (ValueError for naive ones) and returns aware datetimes in UTC.
    """

    expressions: tuple[str, ...]
    time_zone: str
    # Parsed expressions, compared too: the same text with another hash key differs.
    _sources: tuple[_TimeSource, ...] = field(repr=False)

    def next_after(self, instant: datetime) -> datetime | None:
        """Return the first occurrence strictly after ``instant``.

        Returns None when nothing fires within about 11 years, which for a valid
        expression happens only near the end of the datetime range (year 9999).
        """
        _require_aware(instant, "instant")
        return next(self._iter_after(instant), None)

    def occurrences(
        self, after: datetime, until: datetime, *, limit: int | None = None
    ) -> list[datetime]:
        """Return every occurrence t with after < t <= until, ascending, at most ``limit``."""
        _require_aware(after, "after")
        _require_aware(until, "until")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, got {limit}")
        if until <= after:
            return []
        result: list[datetime] = []
        for instant in self._iter_after(after):
            if instant > until or (limit is not None and len(result) >= limit):
                break
            result.append(instant)
        return result

    def count_between(self, after: datetime, until: datetime) -> int:
        """Return how many occurrences t satisfy after < t <= until.

        A single expression is counted by arithmetic (per day for cron), so an
        ``@every 1s`` schedule over a week of downtime is immediate.
        """
        _require_aware(after, "after")
        _require_aware(until, "until")
        if until <= after:
            return 0
        if len(self._sources) == 1:
            return self._sources[0].count_between(after, until)
        return _count_union(self._sources, after, until)

    def latest_at_or_before(self, instant: datetime, *, not_before: datetime) -> datetime | None:
        """Return the most recent occurrence t with not_before < t <= instant, or None."""
        _require_aware(instant, "instant")
        _require_aware(not_before, "not_before")
        if instant <= not_before:
            return None
        candidates = [
            latest
            for source in self._sources
            if (latest := source.latest_at_or_before(instant, not_before)) is not None
        ]
        return max(candidates, default=None)

    def next_times(self, after: datetime, count: int) -> list[datetime]:
        """Return the next ``count`` occurrences strictly after ``after``, ascending."""
        _require_aware(after, "after")
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        return list(itertools.islice(self._iter_after(after), count))

    def _iter_after(self, after: datetime) -> Iterator[datetime]:
        after = after.astimezone(timezone.utc)
        if len(self._sources) == 1:
            return self._sources[0].iter_after(after)
        return _unique(heapq.merge(*(source.iter_after(after) for source in self._sources)))


def parse_schedule(
    expressions: str | Sequence[str],
    *,
    time_zone: str = "UTC",
    hash_key: str = "",
    field: str = "spec.schedule",
) -> Schedule:
    """Parse spec.schedule (a string) or spec.schedules (a list, meaning their union).

    ``hash_key`` is the ScheduledJob's "namespace/name", which H tokens hash. Errors
    for a list name the entry, as ``spec.schedules[1]``; with the default ``field``
    a list is reported under ``spec.schedules``. Raises ScheduleError for every
    invalid input, including the time zone (reported under ``spec.timeZone``).
    """
    zone = validate_time_zone(time_zone)
    if isinstance(expressions, str):
        entries = [(field, expressions)]
    elif isinstance(expressions, Sequence) and not isinstance(expressions, (bytes, bytearray)):
        list_field = "spec.schedules" if field == "spec.schedule" else field
        if not expressions:
            raise ScheduleError(
                list_field, "is an empty list; list at least one schedule such as '0 3 * * *'"
            )
        if len(expressions) > MAX_EXPRESSIONS:
            raise ScheduleError(
                list_field,
                f"has {len(expressions)} entries; the maximum is {MAX_EXPRESSIONS}, "
                "so combine entries with cron lists such as '0 3,15 * * *'",
            )
        entries = [(f"{list_field}[{index}]", text) for index, text in enumerate(expressions)]
    else:
        raise ScheduleError(
            field,
            f"{expressions!r} is neither a string nor a list of strings; "
            "write a cron expression such as '0 3 * * *'",
        )
    parsed = [_parse_expression(text, zone, hash_key, entry_field) for entry_field, text in entries]
    return Schedule(
        expressions=tuple(text for text, _ in parsed),
        time_zone=time_zone,
        _sources=tuple(source for _, source in parsed),
    )


def _parse_expression(
    text: object, zone: ZoneInfo, hash_key: str, field: str
) -> tuple[str, _TimeSource]:
    stripped = check_expression_text(text, field)
    if stripped.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, rest = stripped.partition(" ")
        zone_name = prefix.partition("=")[2]
        raise ScheduleError(
            field,
            f"{quote(stripped)} sets its time zone inside the schedule; remove the "
            f"{prefix!r} prefix, leaving {rest.strip()!r}, and set spec.timeZone: {zone_name} "
            "instead",
        )
    if stripped == "@every" or stripped.startswith(("@every ", "@every\t")):
        return stripped, parse_every(stripped, field=field)
    return stripped, CronTimes(parse_cron(stripped, hash_key=hash_key, field=field), zone)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _unique(instants: Iterator[datetime]) -> Iterator[datetime]:
    previous = None
    for instant in instants:
        if instant != previous:
            yield instant
            previous = instant


def _count_union(sources: Sequence[_TimeSource], after: datetime, until: datetime) -> int:
    """Count the union of several sources without listing the @every occurrences.

    The @every grids are all anchored at the epoch, so any set of them meets on the
    grid of the least common multiple of their intervals, and inclusion-exclusion
    counts their union exactly. Cron occurrences are then listed and counted unless
    an @every grid already contains them.
    """
    every_specs = [source for source in sources if isinstance(source, EverySpec)]
    cron_sources = [source for source in sources if isinstance(source, CronTimes)]
    total = 0
    for size in range(1, len(every_specs) + 1):
        sign = 1 if size % 2 else -1
        for subset in itertools.combinations(every_specs, size):
            interval = math.lcm(*(spec.interval_seconds for spec in subset))
            total += sign * EverySpec("", interval).count_between(after, until)
    # NOTE: overlapping dense cron entries are listed one by one, which takes about a
    # second per million occurrences.
    cron_instants = _unique(heapq.merge(*(source.iter_after(after) for source in cron_sources)))
    for instant in cron_instants:
        if instant > until:
            break
        if not any(spec.contains(instant) for spec in every_specs):
            total += 1
    return total
