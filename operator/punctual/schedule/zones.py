"""Time zone validation and the mapping from local wall-clock times to instants.

This module holds the DST rule that Punctual shares with Vixie cron. A wall-clock
(fixed-time) job whose local time falls in a spring-forward gap runs once at the first
instant after the gap, and one whose local time occurs twice runs only on the first
pass. Any other job follows real time: it skips local times that do not exist and runs
in both passes of a repeated hour.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .errors import ScheduleError, quote

UTC = timezone.utc
_ONE_SECOND = timedelta(seconds=1)
_ONE_HOUR = timedelta(hours=1)

# Entries of the zoneinfo directory that are not real zones: 'localtime' is the
# machine's own setting and 'posixrules' and 'Factory' are tzdata internals.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


@functools.lru_cache(maxsize=1)
def _zone_names_by_casefold() -> dict[str, str]:
    return {name.casefold(): name for name in _zone_names()}


def validate_time_zone(name: str, *, field: str = "spec.timeZone") -> zoneinfo.ZoneInfo:
    """Return the ZoneInfo for an IANA time zone name, or raise ScheduleError.

    Only names in the installed tz database are accepted (``Europe/Berlin``, ``UTC``),
    so the machine-dependent ``localtime`` and file paths are rejected.
    """
    example = "set an IANA time zone name such as 'Europe/Berlin' or 'UTC'"
    if not isinstance(name, str):
        raise ScheduleError(field, f"{name!r} is not a string; {example}")
    if not name.strip():
        raise ScheduleError(field, f"{quote(name)} is empty; {example}")
    if name not in _zone_names():
        suggestion = _zone_names_by_casefold().get(name.strip().casefold())
        hint = f"use {suggestion!r}" if suggestion else example
        raise ScheduleError(field, f"{quote(name)} is not a known IANA time zone; {hint}")
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class DayShape:
    """How one local calendar day maps to UTC.

    ``floor`` is a lower bound for every instant whose local date is this day.
    ``regular`` is true when the UTC offset is the same over the whole day, and then
    ``midnight`` is the UTC instant of local 00:00 and every local time of the day is
    ``midnight`` plus its time of day.
    """

    floor: datetime
    midnight: datetime
    regular: bool


@functools.lru_cache(maxsize=8192)
def day_shape(zone: zoneinfo.ZoneInfo, day: date) -> DayShape:
    """Return the DayShape of ``day`` in ``zone``."""
    naive_midnight = datetime.combine(day, time())
    offset_first = naive_midnight.replace(tzinfo=zone, fold=0).utcoffset()
    offset_second = naive_midnight.replace(tzinfo=zone, fold=1).utcoffset()
    assert offset_first is not None and offset_second is not None
    floor = (naive_midnight - max(offset_first, offset_second)).replace(tzinfo=UTC)
    if offset_first != offset_second:
        return DayShape(floor=floor, midnight=floor, regular=False)
    # Sample the offset every hour through the next local midnight. No zone in tzdata
    # 2025b changes its offset twice within an hour after 1970, so equal samples mean
    # no transition.
    for hour in range(1, 25):
        if (floor + hour * _ONE_HOUR).astimezone(zone).utcoffset() != offset_first:
            return DayShape(floor=floor, midnight=floor, regular=False)
    return DayShape(floor=floor, midnight=floor, regular=True)


def resolve_local_time(
    zone: zoneinfo.ZoneInfo, local: datetime, *, wall_clock: bool
) -> tuple[datetime, ...]:
    """Return the UTC instants at which a job due at naive ``local`` time runs.

    An unambiguous time gives one instant. A time repeated by a fall-back transition
    gives both passes, or only the first for a wall-clock job. A time in a
    spring-forward gap gives nothing, or for a wall-clock job the first instant after
    the gap.
    """
    offset_first = local.replace(tzinfo=zone, fold=0).utcoffset()
    offset_second = local.replace(tzinfo=zone, fold=1).utcoffset()
    assert offset_first is not None and offset_second is not None
    if offset_first == offset_second:
        return ((local - offset_first).replace(tzinfo=UTC),)
    if offset_first > offset_second:
        first_pass = (local - offset_first).replace(tzinfo=UTC)
        if wall_clock:
            return (first_pass,)
        return first_pass, (local - offset_second).replace(tzinfo=UTC)
    if wall_clock:
        return (_gap_end(zone, local),)
    return ()


@functools.lru_cache(maxsize=1024)
def _gap_end(zone: zoneinfo.ZoneInfo, local: datetime) -> datetime:
    """Return the transition instant that ends the spring-forward gap holding ``local``.

    For a local time in a gap, PEP 495 gives fold=0 the offset before the transition
    and fold=1 the offset after it. Reading ``local`` with the later offset lands
    before the transition and reading it with the earlier offset lands at or after it,
    so a bisection over whole seconds (tzdata transitions are whole seconds) finds it.
    """
    offset_before = local.replace(tzinfo=zone, fold=0).utcoffset()
    offset_after = local.replace(tzinfo=zone, fold=1).utcoffset()
    assert offset_before is not None and offset_after is not None
    low = (local - offset_after).replace(tzinfo=UTC)
    high = (local - offset_before).replace(tzinfo=UTC)
    while high - low > _ONE_SECOND:
        middle = low + ((high - low) // 2 // _ONE_SECOND) * _ONE_SECOND
        if middle.astimezone(zone).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return high
