"""Times the user types on the command line, and durations as the plugin prints them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from punctual.plugin.errors import UsageError

TIME_FORMATS_HELP = (
    "RFC 3339 with an offset (2026-03-01T02:00:00Z, 2026-03-01T03:00:00+01:00), "
    "a date or date-time without offset (2026-03-01, 2026-03-01T02:00) read in the ScheduledJob's "
    "spec.timeZone, 'now', or now plus or minus a duration (now-2h, now+30m; units s, m, h, d)"
)

_RELATIVE = re.compile(r"^now\s*(?:(?P<sign>[+-])\s*(?P<amount>(?:\d+[smhd])+))?$")
_DURATION_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_user_time(text: str, *, time_zone: str, now: datetime, flag: str) -> datetime:
    """Parse a time given on the command line into an aware UTC datetime.

    A time without an offset is read in ``time_zone`` (the ScheduledJob's
    spec.timeZone). Raises UsageError naming ``flag`` for anything else.
    """
    value = text.strip()
    relative = _RELATIVE.match(value.lower())
    if relative:
        if not relative.group("sign"):
            return now.astimezone(UTC)
        seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(relative.group("amount")))
        delta = timedelta(seconds=seconds)
        return (now + delta if relative.group("sign") == "+" else now - delta).astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"invalid time for {flag}: {text!r}; write {TIME_FORMATS_HELP}") from None
    if parsed.tzinfo is None:
        # fold=0: a wall time repeated by a DST fall-back is its first instant, and one
        # inside a spring-forward gap is read with the offset before the gap (02:30 -> 03:30).
        parsed = parsed.replace(tzinfo=ZoneInfo(time_zone), fold=0)
    return parsed.astimezone(UTC)


def format_duration(seconds: float | None, *, fractional: bool = False) -> str:
    """Format seconds like kubectl ages: 45s, 3m12s, 2h5m, 3d4h; with fractional, under 10 s as 0.25s."""
    if seconds is None:
        return "-"
    negative = seconds < 0
    value = abs(seconds)
    if fractional and value < 10 and value != int(value):
        text = f"{value:.2f}".rstrip("0").rstrip(".") + "s"
    else:
        whole = int(round(value))
        days, rest = divmod(whole, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        if days:
            text = f"{days}d{hours}h" if hours else f"{days}d"
        elif hours:
            text = f"{hours}h{minutes}m" if minutes else f"{hours}h"
        elif minutes:
            text = f"{minutes}m{secs}s" if secs else f"{minutes}m"
        else:
            text = f"{secs}s"
    return f"-{text}" if negative else text


def format_local(instant: datetime, time_zone: str) -> str:
    """Format an instant as wall-clock time in a zone with its offset, e.g. 2026-03-29 03:00:00 CEST (+02:00)."""
    local = instant.astimezone(ZoneInfo(time_zone))
    offset = local.strftime("%z")
    return f"{local.strftime('%Y-%m-%d %H:%M:%S')} {local.tzname()} ({offset[:3]}:{offset[3:]})"
