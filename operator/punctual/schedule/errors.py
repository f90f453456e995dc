"""The exception raised for every invalid schedule setting."""

from __future__ import annotations


class ScheduleError(ValueError):
    """An invalid schedule, time zone or jitter setting in a ScheduledJob spec.

    ``field`` is the spec field path at fault, such as ``spec.schedules[1]``.
    ``str(error)`` is one sentence that starts with that path and names the bad value
    and the fix, so the admission webhook can return it unchanged.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


def quote(value: str, max_length: int = 60) -> str:
    """Return ``value`` quoted for an error message, shortened if it is long."""
    if len(value) > max_length:
        value = value[: max_length - 3] + "..."
    return repr(value)
