"""The five-field cron dialect: parsing, H tokens and day matching.

Two rules come from Vixie cron (ISC cron 4.1, as in OpenBSD's entry.c and cron.c):
``load_entry`` in entry.c flags a field as a wildcard when its first character is
``*``, and ``find_jobs`` in cron.c uses those flags. When the day-of-month or the
day-of-week field is a wildcard, a day must match both fields, and otherwise either
one is enough. A job whose minute and hour fields are both not wildcards is a
"fixed-time" job, which gets the wall-clock DST treatment in zones.py. Punctual reads
``H/n`` (a hashed ``*/n``) and ``?`` (Quartz and Kubernetes spelling of ``*``) as
wildcards too. Unlike Vixie cron, a step anywhere in the minute or hour field
(``0-23/2``) also makes a job follow real time, because a step states an interval.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from .errors import ScheduleError, quote
from .hashing import stable_hash

MAX_EXPRESSION_LENGTH = 256

# A schedule must fire at least once in every period of this many days (10 years).
MAX_DAYS_BETWEEN_FIRES = 3653

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
WEEKDAY_NAMES = {
    name: number
    for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    position: int
    low: int
    high: int
    names: dict[str, int] | None
    # Range for a bare H. Day-of-month uses 1-28 so that the job fires every month.
    hash_low: int
    hash_high: int
    # Upper end of '*' and of the open range in 'a/n': day-of-week stops at 6 because
    # 7 is only another name for Sunday (robfig/cron and croniter do the same).
    open_high: int
    allows_question_mark: bool = False

    def describe_numbers(self) -> str:
        if self.names is WEEKDAY_NAMES:
            return "0-7 (0 and 7 are Sunday)"
        return f"{self.low}-{self.high}"

    def describe_range(self) -> str:
        if self.names is None:
            return self.describe_numbers()
        first, *_, last = self.names
        return f"{self.describe_numbers()} or {first}-{last}"


FIELDS = (
    _FieldSpec("minute", 0, 0, 59, None, 0, 59, 59),
    _FieldSpec("hour", 1, 0, 23, None, 0, 23, 23),
    _FieldSpec("day-of-month", 2, 1, 31, None, 1, 28, 31, allows_question_mark=True),
    _FieldSpec("month", 3, 1, 12, MONTH_NAMES, 1, 12, 12),
    _FieldSpec("day-of-week", 4, 0, 7, WEEKDAY_NAMES, 0, 6, 6, allows_question_mark=True),
)

# Builds the ScheduleError for a message about the expression being parsed.
_Fail = Callable[[str], ScheduleError]

_VALUE = r"[0-9A-Za-z]+"
_ELEMENT = re.compile(
    rf"""^(?:
        (?P<star>\*)
      | (?P<hash>H)(?:\((?P<hash_low>{_VALUE})-(?P<hash_high>{_VALUE})\))?
      | (?P<low>{_VALUE})(?:-(?P<high>{_VALUE}))?
    )(?:/(?P<step>[0-9]+))?$""",
    re.VERBOSE,
)
_QUARTZ_ELEMENT = re.compile(r"L|LW|L-[0-9]+|[0-9]+[LW]|[0-9A-Za-z]*#[0-9]+", re.IGNORECASE)
_DISALLOWED_CHARACTER = re.compile(r"[^\x21-\x7e \t\n\r]")


@dataclass(frozen=True)
class CronSpec:
    """A parsed five-field cron expression (macros are expanded before parsing).

    ``minutes_of_day`` lists every matching time of day as minutes after midnight,
    ascending. Day-of-week values are 0-6 with 0 = Sunday.
    """

    expression: str
    minutes_of_day: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    day_fields_need_both: bool
    wall_clock: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        day_of_month_matches = day.day in self.days_of_month
        day_of_week_matches = (day.weekday() + 1) % 7 in self.days_of_week
        if self.day_fields_need_both:
            return day_of_month_matches and day_of_week_matches
        return day_of_month_matches or day_of_week_matches


def parse_cron(text: str, *, hash_key: str, field: str) -> CronSpec:
    """Parse a five-field cron expression or macro, raising ScheduleError on any fault."""
    expanded = MACROS.get(text, text)
    if text.startswith("@") and expanded is text:
        _reject_descriptor(text, field)
    parts = expanded.split()
    if len(parts) != 5:
        _reject_field_count(text, parts, field)
    values = [
        _parse_field(part, spec, text=text, hash_key=hash_key, error_field=field)
        for part, spec in zip(parts, FIELDS)
    ]
    minutes, hours, days_of_month, months, days_of_week = values
    wildcard = [_is_wildcard(part) for part in parts]
    spec = CronSpec(
        expression=text,
        minutes_of_day=tuple(sorted(hour * 60 + minute for hour in hours for minute in minutes)),
        days_of_month=frozenset(days_of_month),
        months=frozenset(months),
        days_of_week=frozenset(value % 7 for value in days_of_week),
        day_fields_need_both=wildcard[2] or wildcard[4],
        wall_clock=not any(wildcard[i] or "/" in parts[i] for i in (0, 1)),
    )
    _check_fires(spec, text, field)
    return spec


def check_expression_text(text: object, field: str) -> str:
    """Return the stripped expression, or raise ScheduleError for a bad type or length."""
    if not isinstance(text, str):
        raise ScheduleError(
            field,
            f"{text!r} is not a string; write the schedule as a quoted string such as '0 3 * * *'",
        )
    # Only ASCII whitespace is stripped, so a stray no-break space is reported below.
    stripped = text.strip(" \t\n\r")
    if not stripped:
        raise ScheduleError(
            field,
            f"{quote(text)} is empty; set a 5-field cron expression such as '0 3 * * *', "
            "a macro such as '@daily', or '@every <duration>'",
        )
    if len(stripped) > MAX_EXPRESSION_LENGTH:
        raise ScheduleError(
            field,
            f"{quote(stripped)} is {len(stripped)} characters long; the maximum is "
            f"{MAX_EXPRESSION_LENGTH}, so split it into several spec.schedules entries",
        )
    bad = _DISALLOWED_CHARACTER.search(stripped)
    if bad:
        raise ScheduleError(
            field,
            f"{quote(stripped)} contains the character {bad.group()!r}; use ASCII digits, "
            "names, spaces and the symbols * , - / ? H",
        )
    return stripped


def _reject_descriptor(text: str, field: str) -> None:
    keyword = text.split()[0]
    if keyword == "@reboot":
        raise ScheduleError(
            field,
            f"{quote(text)} is not supported because a ScheduledJob has no boot event; "
            "create a Kubernetes Job for work that runs once",
        )
    if keyword.lower() in MACROS or keyword.lower() == "@every":
        raise ScheduleError(
            field,
            f"{quote(text)} is not recognized because macros are lowercase; "
            f"use {text.replace(keyword, keyword.lower(), 1)!r}",
        )
    raise ScheduleError(
        field,
        f"{quote(text)} is not a known macro; use one of {', '.join(MACROS)} "
        "or '@every <duration>'",
    )


def _reject_field_count(text: str, parts: list[str], field: str) -> None:
    count = len(parts)
    layout = "minute hour day-of-month month day-of-week"
    if count < 5:
        padded = " ".join(parts + ["*"] * (5 - count))
        raise ScheduleError(
            field,
            f"{quote(text)} has {count} field{'s' if count != 1 else ''}; Punctual takes "
            f"standard 5-field cron ({layout}), so add the missing fields, "
            f"for example {padded!r}",
        )
    if count == 6:
        seconds = parts[0]
        step = re.fullmatch(r"\*/([0-9]+)", seconds)
        if step:
            fix = f"use '@every {int(step.group(1))}s' for sub-minute intervals"
        elif seconds == "0":
            fix = f"drop the leading seconds field: {' '.join(parts[1:])!r}"
        else:
            fix = "use '@every <duration>' for sub-minute intervals"
        raise ScheduleError(
            field,
            f"{quote(text)} has 6 fields; Punctual takes standard 5-field cron ({layout}), "
            f"seconds are not supported: {fix}",
        )
    raise ScheduleError(
        field,
        f"{quote(text)} has {count} fields; Punctual takes standard 5-field cron ({layout}), "
        "seconds and years are not supported: keep only those five fields",
    )


def _is_wildcard(part: str) -> bool:
    return part.startswith(("*", "?", "H/"))


def _parse_field(
    part: str, spec: _FieldSpec, *, text: str, hash_key: str, error_field: str
) -> set[int]:
    def fail(message: str) -> ScheduleError:
        return ScheduleError(error_field, f"{quote(text)} has {message}")

    values: set[int] = set()
    for element in part.split(","):
        if element == "?":
            if not spec.allows_question_mark:
                raise fail(
                    f"'?' in the {spec.name} field; '?' is only allowed in the "
                    "day-of-month and day-of-week fields, so use '*'"
                )
            values.update(range(spec.low, spec.open_high + 1))
            continue
        match = _ELEMENT.match(element)
        if match is None or _QUARTZ_ELEMENT.fullmatch(element):
            raise fail(_describe_bad_element(element, spec))
        values.update(_expand_element(match, element, spec, hash_key, fail))
    return values


def _describe_bad_element(element: str, spec: _FieldSpec) -> str:
    where = f"the {spec.name} field"
    if element == "":
        return f"an empty list item in {where}; remove the extra comma"
    if _QUARTZ_ELEMENT.fullmatch(element):
        return (
            f"{element!r} in {where}; the Quartz forms L, W and # are not supported, "
            "so list the days explicitly"
        )
    return (
        f"the invalid item {element!r} in {where}; use a number, a range 'a-b', "
        "a step '*/n' or 'a-b/n', or H"
    )


def _expand_element(
    match: re.Match[str], element: str, spec: _FieldSpec, hash_key: str, fail: _Fail
) -> Iterable[int]:
    step_text = match.group("step")
    step = int(step_text) if step_text is not None else None
    if step == 0:
        raise fail(f"the step 0 in {element!r} in the {spec.name} field; use a step of 1 or more")

    if match.group("star"):
        return range(spec.low, spec.open_high + 1, step or 1)

    if match.group("hash"):
        return _expand_hash(match, element, spec, hash_key, step, fail)

    low = _parse_value(match.group("low"), element, spec, fail)
    if match.group("high") is not None:
        high = _parse_value(match.group("high"), element, spec, fail)
        _check_range_order(low, high, match.group("low"), match.group("high"), element, spec, fail)
    elif step is not None:
        # "a/n" means "a-max/n", as in robfig/cron and croniter ("7/2" is Sunday alone).
        high = max(low, spec.open_high)
    else:
        high = low
    return range(low, high + 1, step or 1)


def _expand_hash(
    match: re.Match[str],
    element: str,
    spec: _FieldSpec,
    hash_key: str,
    step: int | None,
    fail: _Fail,
) -> Iterable[int]:
    digest = stable_hash(hash_key, "H", str(spec.position))
    if match.group("hash_low") is not None:
        low = _parse_value(match.group("hash_low"), element, spec, fail)
        high = _parse_value(match.group("hash_high"), element, spec, fail)
        if low > high:
            raise fail(
                f"the reversed range {element!r} in the {spec.name} field; "
                "write the lower bound first"
            )
    elif step is not None:
        low, high = spec.low, spec.open_high
    else:
        low, high = spec.hash_low, spec.hash_high
    if step is None:
        return (low + digest % (high - low + 1),)
    start = low + digest % min(step, high - low + 1)
    return range(start, high + 1, step)


def _check_range_order(
    low: int, high: int, low_text: str, high_text: str, element: str, spec: _FieldSpec, fail: _Fail
) -> None:
    if low > high:
        top = "sat" if spec.names is WEEKDAY_NAMES and not low_text.isdigit() else spec.high
        bottom = "sun" if spec.names is WEEKDAY_NAMES and not high_text.isdigit() else spec.low
        raise fail(
            f"the reversed range {element!r} in the {spec.name} field; ranges do not wrap, "
            f"so write it as '{low_text}-{top},{bottom}-{high_text}'"
        )


def _parse_value(token: str, element: str, spec: _FieldSpec, fail: _Fail) -> int:
    if token.isdigit():
        value = int(token)
    elif spec.names is None:
        raise fail(
            f"{element!r} in the {spec.name} field, which takes numbers "
            f"{spec.describe_range()} only"
        )
    else:
        lowered = token.lower()
        if lowered in spec.names:
            value = spec.names[lowered]
        elif lowered[:3] in spec.names and len(lowered) > 3:
            raise fail(
                f"the name {token!r} in the {spec.name} field; use the three-letter "
                f"name {lowered[:3]!r}"
            )
        else:
            raise fail(
                f"the unknown {spec.name} name {token!r}; use {', '.join(spec.names)} "
                f"or numbers {spec.describe_numbers()}"
            )
    if not spec.low <= value <= spec.high:
        raise fail(
            f"the {spec.name} value {value} out of range; use {spec.describe_range()}"
        )
    return value


def _check_fires(spec: CronSpec, text: str, field: str) -> None:
    """Raise ScheduleError unless the expression fires at least once in every 10 years."""
    longest_gap = _max_days_between_fires(
        spec.months, spec.days_of_month, spec.days_of_week, spec.day_fields_need_both
    )
    if longest_gap is None:
        hashed = " (H picks its value from the ScheduledJob's name)" if "H" in text else ""
        raise ScheduleError(
            field,
            f"{quote(text)} never fires because {_describe_impossible_days(spec)}{hashed}; "
            "change the day-of-month, month or day-of-week field",
        )
    if longest_gap > MAX_DAYS_BETWEEN_FIRES:
        raise ScheduleError(
            field,
            f"{quote(text)} can go {longest_gap // 365} years without firing because its "
            "day-of-month and day-of-week fields must both match; "
            "restrict only one of the two day fields",
        )


def _describe_impossible_days(spec: CronSpec) -> str:
    if not spec.day_fields_need_both or len(spec.days_of_week) == 7:
        months = [calendar.month_name[month] for month in sorted(spec.months)]
        days = [str(day) for day in sorted(spec.days_of_month)]
        month_text = months[0] if len(months) == 1 else ", ".join(months[:-1]) + " and " + months[-1]
        verb = "has" if len(months) == 1 else "have"
        return f"{month_text} {verb} no day {' or '.join(days)}"
    return "no date matches its day-of-month, month and day-of-week fields together"


@functools.lru_cache(maxsize=256)
def _max_days_between_fires(
    months: frozenset[int],
    days_of_month: frozenset[int],
    days_of_week: frozenset[int],
    need_both: bool,
) -> int | None:
    """Return the most days from one matching date to the next, or None if none matches.

    The common cases return an upper bound. Only the rare case that needs both day
    fields and restricts both is computed exactly, by scanning one 400-year Gregorian
    cycle, after which weekdays and leap years repeat.
    """
    possible = [
        (month, day)
        for month in sorted(months)
        for day in sorted(days_of_month)
        if day <= (29 if month == 2 else calendar.monthrange(2001, month)[1])
    ]
    if not need_both:
        # Either field matching is enough, and every month has every weekday.
        return 366 if days_of_week or possible else None
    if len(days_of_week) == 7:
        if not possible:
            return None
        # Only February 29 can be missing for 8 years (2096 to 2104), within the limit.
        return 366 if any(pair != (2, 29) for pair in possible) else 8 * 366
    if len(days_of_month) == 31:
        return 366 if days_of_week else None
    matches = [
        date(year, month, day).toordinal()
        for year in range(2000, 2400)
        for month, day in possible
        if (month, day) != (2, 29) or calendar.isleap(year)
        if (date(year, month, day).weekday() + 1) % 7 in days_of_week
    ]
    if not matches:
        return None
    cycle_days = date(2400, 1, 1).toordinal() - date(2000, 1, 1).toordinal()
    gaps = [later - earlier for earlier, later in zip(matches, matches[1:])]
    gaps.append(matches[0] + cycle_days - matches[-1])
    return max(gaps)
