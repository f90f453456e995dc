"""Generators of schedule expressions, time zones and start instants for tests.

The unit property tests and the robfig/cron conformance harness share these, so both
exercise the same dialect: numbers, names in any letter case, ranges, steps and lists
in every field, the macros and ``@every`` intervals.

Each generator takes a Picker. The Hypothesis strategies below drive it with draws,
which shrink well and suit property tests of a few hundred examples. The harness
needs 100,000 cases, and Hypothesis took about 15 ms per case for 60 separate draws
(measured on 2 shared cores), so the harness draws one seeded random.Random per case
(``RandomPicker``) instead.
"""

from __future__ import annotations

import bisect
import functools
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from punctual.schedule import ScheduleError, parse_schedule

UTC = timezone.utc
T = TypeVar("T")

# Zones with DST in both hemispheres, a 30-minute DST shift (Lord_Howe), transitions
# at local midnight (Santiago) and zones without DST.
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Auckland",
)

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# (low, high, names) of minute, hour, day-of-month, month and day-of-week.
_FIELDS = (
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, MONTH_NAMES),
    (0, 7, WEEKDAY_NAMES),
)

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

# Instants are drawn between these years, and transitions are listed for the same span.
FIRST_YEAR = 2020
LAST_YEAR = 2036

_LETTER_CASES = (str, str.upper, str.capitalize)
_ELEMENT_KINDS = ("star_step", "number", "range", "range_step", "start_step")
_HASH_KINDS = ("hash", "hash_range", "hash_step")


class Picker(Protocol):
    """A source of choices for the generators."""

    def integer(self, low: int, high: int) -> int: ...

    def choice(self, options: Sequence[T]) -> T: ...


# Strategy objects are built once per set of arguments, because Hypothesis validates
# each new strategy object on first use.
_integers = functools.lru_cache(maxsize=None)(st.integers)
_sampled = functools.lru_cache(maxsize=None)(st.sampled_from)


class DrawPicker:
    """Choices drawn from Hypothesis, so failing examples shrink."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(_integers(low, high))

    def choice(self, options: Sequence[T]) -> T:
        return self._draw(_sampled(tuple(options)))


class RandomPicker:
    """Choices from a seeded random.Random, a tenth of them at each bound of a range."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def integer(self, low: int, high: int) -> int:
        roll = self._rng.random()
        if roll < 0.1:
            return low
        if roll < 0.2:
            return high
        return self._rng.randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return self._rng.choice(options)


# --- Expressions


def build_cron(pick: Picker, *, croniter_compatible: bool = False, hashed: bool = False) -> str:
    """Return a five-field cron expression (which Punctual may still reject)."""
    return " ".join(
        _build_field(pick, position, croniter_compatible, hashed) for position in range(5)
    )


def _build_field(pick: Picker, position: int, croniter_compatible: bool, hashed: bool) -> str:
    if pick.integer(0, 3) == 0:
        if position in (2, 4) and not croniter_compatible and pick.integer(0, 1):
            return "?"
        return "*"
    items = [
        _build_element(pick, position, croniter_compatible, hashed)
        for _ in range(pick.integer(1, 3))
    ]
    text = ",".join(items)
    if croniter_compatible and position in (2, 4) and "*" in text:
        # croniter and Vixie cron disagree on which day fields count as restricted.
        return "*"
    return text


def _build_element(pick: Picker, position: int, croniter_compatible: bool, hashed: bool) -> str:
    low, high, _ = _FIELDS[position]
    if position == 4 and (croniter_compatible or pick.integer(0, 5)):
        # 7 is Sunday again. robfig/cron rejects it, so it appears in a sixth of the
        # day-of-week items only, and croniter reads it in a stepped range unlike cron.
        high = 6
    if position == 2 and not croniter_compatible and pick.integer(0, 1):
        low = 26  # the month ends, where day-of-month and leap-year bugs live
    kind = pick.choice(_ELEMENT_KINDS + (_HASH_KINDS if hashed else ()))
    if pick.integer(0, 1):
        step = pick.integer(1, max(1, (high - low) // 2 + 1))
    else:
        step = pick.integer(1, high)
    if kind == "star_step":
        return f"*/{step}"
    if kind == "hash":
        return "H"
    if kind == "hash_step":
        return f"H/{step}"
    if kind == "number":
        return _render(pick, position, pick.integer(low, high))
    if kind == "start_step":
        return f"{_render(pick, position, pick.integer(low, high))}/{step}"
    first = pick.integer(low, high - 1)
    last = pick.integer(first + 1, high)
    if kind == "hash_range":
        return f"H({first}-{last})"
    text = f"{_render(pick, position, first)}-{_render(pick, position, last)}"
    return text if kind == "range" else f"{text}/{step}"


def _render(pick: Picker, position: int, number: int) -> str:
    """Render a field value as a number or, in month and day-of-week, as a name."""
    names = _FIELDS[position][2]
    if names is None or number == 7 or pick.integer(0, 1) == 0:
        return str(number)
    name = names[number - 1] if names is MONTH_NAMES else names[number]
    return pick.choice(_LETTER_CASES)(name)


def build_every(pick: Picker) -> str:
    """Return an ``@every`` expression of 1 second to 31 days in Go duration syntax."""
    kind = pick.integer(0, 2)
    if kind == 0:
        seconds = pick.integer(1, 120)
    elif kind == 1:
        seconds = pick.choice((300, 900, 3600, 5400, 7200, 86400, 90000))
    else:
        seconds = pick.integer(1, 31 * 24 * 3600)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = ((hours, "h"), (minutes, "m"), (secs, "s"))
    return "@every " + "".join(f"{value}{unit}" for value, unit in parts if value)


def build_expression(pick: Picker, *, hashed: bool = False, hash_key: str = "ns/name") -> str:
    """Return an expression Punctual accepts: cron (three in five), a macro or ``@every``."""
    kind = pick.integer(0, 4)
    if kind == 3:
        return pick.choice(MACROS)
    if kind == 4:
        return build_every(pick)
    while True:
        expression = build_cron(pick, hashed=hashed)
        if accepted(expression, hash_key=hash_key):
            return expression


def accepted(expression: str, time_zone: str = "UTC", hash_key: str = "ns/name") -> bool:
    """Return whether Punctual accepts the expression (a few generated ones never fire)."""
    try:
        parse_schedule(expression, time_zone=time_zone, hash_key=hash_key)
    except ScheduleError:
        return False
    return True


# --- Start instants


@functools.lru_cache(maxsize=None)
def transitions(time_zone: str) -> tuple[datetime, ...]:
    """Return the UTC instants at which the zone's offset changes, FIRST_YEAR to LAST_YEAR."""
    zone = ZoneInfo(time_zone)
    found = []
    step = timedelta(hours=6)
    instant = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
    offset = instant.astimezone(zone).utcoffset()
    while instant < end:
        following = instant + step
        if following.astimezone(zone).utcoffset() != offset:
            low, high = instant, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
            offset = following.astimezone(zone).utcoffset()
        instant = following
    return tuple(found)


def latest_transition(time_zone: str, instant: datetime) -> datetime | None:
    """Return the zone's last transition at or before ``instant``, or None."""
    found = transitions(time_zone)
    index = bisect.bisect_right(found, instant)
    return found[index - 1] if index else None


def build_start(pick: Picker, time_zone: str) -> datetime:
    """Return a UTC instant near a DST transition, a month end, a leap day or anywhere."""
    zone = ZoneInfo(time_zone)
    anchor_kind = pick.choice(("transition", "month_end", "leap_day", "anywhere"))
    if anchor_kind == "transition" and transitions(time_zone):
        anchor = pick.choice(transitions(time_zone))
    elif anchor_kind == "month_end":
        year = pick.integer(FIRST_YEAR, LAST_YEAR - 1)
        month = pick.integer(1, 12)
        first_of_next = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
        anchor = first_of_next.astimezone(UTC)
    elif anchor_kind == "leap_day":
        year = pick.choice((2024, 2028, 2032))
        anchor = datetime(year, 2, 29, tzinfo=zone).astimezone(UTC)
    else:
        offset_seconds = pick.integer(0, 14 * 365 * 86400)
        anchor = datetime(FIRST_YEAR + 1, 1, 1, tzinfo=UTC) + timedelta(seconds=offset_seconds)
    shift_kind = pick.integer(0, 2)
    if shift_kind == 0:
        shift = pick.integer(-7200, 7200)
    elif shift_kind == 1:
        shift = pick.integer(-3 * 86400, 3 * 86400)
    else:
        shift = pick.choice((-60, -1, 0, 1, 60))
    instant = anchor + timedelta(seconds=shift)
    if pick.integer(0, 4) == 0:
        instant += timedelta(milliseconds=pick.integer(1, 999))
    return instant


# --- Hypothesis strategies


@st.composite
def cron_expressions(
    draw: st.DrawFn, *, croniter_compatible: bool = False, hashed: bool = False
) -> str:
    """Draw a five-field cron expression (filter with ``accepted`` where it must parse)."""
    return build_cron(DrawPicker(draw), croniter_compatible=croniter_compatible, hashed=hashed)


@st.composite
def every_expressions(draw: st.DrawFn) -> str:
    return build_every(DrawPicker(draw))


@st.composite
def expressions(draw: st.DrawFn, *, hashed: bool = False, hash_key: str = "ns/name") -> str:
    """Draw any expression Punctual accepts for ``hash_key``: cron, macro or ``@every``."""
    return build_expression(DrawPicker(draw), hashed=hashed, hash_key=hash_key)


@st.composite
def start_instants(draw: st.DrawFn, time_zone: str) -> datetime:
    return build_start(DrawPicker(draw), time_zone)
