"""Punctual's schedule engine: pure functions from schedule text to instants.

``parse_schedule`` turns spec.schedule or spec.schedules, spec.timeZone and the
ScheduledJob's "namespace/name" into an immutable Schedule. Invalid input raises
ScheduleError, whose ``field`` names the spec path at fault. docs/schedule-semantics.md
describes the dialect, the DST rule and how it differs from robfig/cron and croniter.
"""

from .engine import Schedule, parse_schedule
from .errors import ScheduleError
from .hashing import jitter_offset
from .zones import validate_time_zone

__all__ = [
    "Schedule",
    "ScheduleError",
    "jitter_offset",
    "parse_schedule",
    "validate_time_zone",
]
