"""Stable hashing for H tokens and jitter.

Both derive their value from SHA-256, never from Python's ``hash()``, because a
restarted operator (a new process with a new hash seed) must compute the same values.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone

from .errors import ScheduleError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def stable_hash(*parts: str) -> int:
    """Return a 64-bit integer derived from SHA-256 of the NUL-joined parts."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def jitter_offset(hash_key: str, scheduled_time: datetime, jitter_seconds: int) -> float:
    """Return the delay in seconds, in [0, jitter_seconds), for one occurrence.

    The delay depends only on ``hash_key`` (the ScheduledJob's "namespace/name") and
    the scheduled instant, so every operator replica and every restart computes the
    same fire time. Raises ScheduleError (field spec.jitterSeconds) for a negative or
    non-integer ``jitter_seconds``, and ValueError for a naive ``scheduled_time``.
    """
    if isinstance(jitter_seconds, bool) or not isinstance(jitter_seconds, int):
        raise ScheduleError(
            "spec.jitterSeconds",
            f"{jitter_seconds!r} is not an integer; set a whole number of seconds, 0 or more",
        )
    if jitter_seconds < 0:
        raise ScheduleError(
            "spec.jitterSeconds",
            f"{jitter_seconds} is negative; set a whole number of seconds, 0 or more",
        )
    if scheduled_time.tzinfo is None or scheduled_time.utcoffset() is None:
        raise ValueError(f"scheduled_time must be timezone-aware, got {scheduled_time!r}")
    if jitter_seconds == 0:
        return 0.0
    # The instant, not its local rendering, is hashed: two spellings of one instant
    # in different zones get the same delay.
    micros = (scheduled_time - _EPOCH) // _MICROSECOND
    fraction = (stable_hash(hash_key, "jitter", str(micros)) >> 11) / float(1 << 53)
    # fraction < 1, but the product can round up to jitter_seconds for large values.
    return min(fraction * jitter_seconds, math.nextafter(float(jitter_seconds), 0.0))
