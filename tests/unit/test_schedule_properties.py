"""Property tests of the schedule engine over generated expressions, zones and instants."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from punctual.schedule import jitter_offset, parse_schedule

# The generators live with the conformance harness, which draws the same dialect.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))

from cron_strategies import (  # noqa: E402
    ZONES,
    accepted,
    cron_expressions,
    every_expressions,
    expressions,
    start_instants,
)

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@st.composite
def schedules_and_starts(draw: st.DrawFn, hashed: bool = True):
    zone = draw(st.sampled_from(ZONES))
    key = draw(st.sampled_from(("default/backup", "payments/nightly", "ns/a")))
    # H can make an expression valid for one key and invalid for another.
    expression = draw(expressions(hashed=hashed, hash_key=key))
    start = draw(start_instants(zone))
    return parse_schedule(expression, time_zone=zone, hash_key=key), start


def _unambiguous(instant: datetime, zone: ZoneInfo) -> bool:
    """Return whether the instant's local time exists once (no gap, no fold)."""
    naive = instant.astimezone(zone).replace(tzinfo=None)
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    return first.utcoffset() == second.utcoffset() and first.astimezone(UTC) == instant


@PROPERTY_SETTINGS
@given(schedules_and_starts())
def test_next_after_is_strictly_increasing(case):
    schedule, start = case

    times = schedule.next_times(start, 25)

    assert len(times) == 25
    assert times[0] > start
    assert all(earlier < later for earlier, later in zip(times, times[1:]))
    assert all(instant.tzinfo is UTC for instant in times)


@PROPERTY_SETTINGS
@given(schedules_and_starts(), st.integers(1, 72 * 60))
def test_occurrences_equal_repeated_next_after(case, window_minutes):
    schedule, start = case
    until = start + timedelta(minutes=window_minutes)

    listed = schedule.occurrences(start, until, limit=400)

    stepped = []
    instant = schedule.next_after(start)
    while instant is not None and instant <= until and len(stepped) < 400:
        stepped.append(instant)
        instant = schedule.next_after(instant)
    assert listed == stepped
    assert schedule.next_times(start, len(listed)) == listed


@PROPERTY_SETTINGS
@given(schedules_and_starts(), st.integers(0, 5 * 86400))
def test_count_between_equals_len_occurrences(case, window_seconds):
    schedule, start = case
    until = start + timedelta(seconds=window_seconds)

    assert schedule.count_between(start, until) == len(schedule.occurrences(start, until))


@PROPERTY_SETTINGS
@given(schedules_and_starts(), st.integers(1, 40 * 86400))
def test_latest_at_or_before_is_last_occurrence(case, window_seconds):
    schedule, start = case
    instant = start + timedelta(seconds=window_seconds)

    latest = schedule.latest_at_or_before(instant, not_before=start)

    tail = schedule.occurrences(start, instant)[-1:] if window_seconds <= 86400 else None
    if tail is not None:
        assert latest == (tail[0] if tail else None)
    if latest is not None:
        assert start < latest <= instant
        assert schedule.next_after(latest) is None or schedule.next_after(latest) > instant


@PROPERTY_SETTINGS
@given(
    st.sampled_from(ZONES),
    cron_expressions(croniter_compatible=True).filter(accepted),
    st.data(),
)
def test_occurrences_match_local_time(zone_name, expression, data):
    # croniter is the independent oracle for field matching. The DST rule is
    # Punctual's own, so instants whose local time is skipped or repeated are left out.
    zone = ZoneInfo(zone_name)
    schedule = parse_schedule(expression, time_zone=zone_name)
    start = data.draw(start_instants(zone_name))

    for instant in schedule.next_times(start, 20):
        if _unambiguous(instant, zone):
            local = instant.astimezone(zone).replace(tzinfo=None)
            assert croniter.match(expression, local), (expression, zone_name, local)


@PROPERTY_SETTINGS
@given(cron_expressions(croniter_compatible=True).filter(accepted), st.data())
def test_utc_occurrences_equal_croniter(expression, data):
    start = data.draw(start_instants("UTC"))
    schedule = parse_schedule(expression)

    iterator = croniter(expression, start.replace(tzinfo=None))
    expected = [iterator.get_next(datetime).replace(tzinfo=UTC) for _ in range(15)]

    assert schedule.next_times(start, 15) == expected


@PROPERTY_SETTINGS
@given(every_expressions(), st.sampled_from(ZONES), st.data())
def test_every_stays_on_epoch_grid(expression, zone, data):
    schedule = parse_schedule(expression, time_zone=zone)
    interval = schedule.next_times(EPOCH, 1)[0] - EPOCH
    start = data.draw(start_instants(zone))

    times = schedule.next_times(start, 10)

    assert times[0] - interval <= start < times[0]
    assert all((instant - EPOCH) % interval == timedelta(0) for instant in times)
    assert all(later - earlier == interval for earlier, later in zip(times, times[1:]))
    assert schedule.count_between(start, times[-1]) == 10


@PROPERTY_SETTINGS
@given(
    st.lists(expressions(hashed=True, hash_key="ns/job"), min_size=2, max_size=4),
    st.sampled_from(ZONES),
    st.data(),
)
def test_union_is_sorted_set_union(members, zone, data):
    start = data.draw(start_instants(zone))
    until = start + timedelta(hours=data.draw(st.integers(1, 30)))
    union = parse_schedule(members, time_zone=zone, hash_key="ns/job")

    separate = set()
    for member in members:
        separate.update(parse_schedule(member, time_zone=zone, hash_key="ns/job").occurrences(start, until))

    assert union.occurrences(start, until) == sorted(separate)
    assert union.count_between(start, until) == len(separate)
    assert union.latest_at_or_before(until, not_before=start) == max(separate, default=None)


@PROPERTY_SETTINGS
@given(
    st.text(min_size=0, max_size=40),
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([ZoneInfo(zone) for zone in ZONES]),
    ),
    st.integers(0, 7 * 86400),
)
def test_jitter_in_range_and_deterministic(key, scheduled, jitter):
    offset = jitter_offset(key, scheduled, jitter)

    assert offset == jitter_offset(key, scheduled.astimezone(UTC), jitter)
    if jitter == 0:
        assert offset == 0.0
    else:
        assert 0.0 <= offset < jitter


@PROPERTY_SETTINGS
@given(cron_expressions(hashed=True), st.text(max_size=30), st.data())
def test_hash_tokens_stable_per_key(expression, key, data):
    assume(accepted(expression, hash_key=key))
    start = data.draw(start_instants("UTC"))

    first = parse_schedule(expression, hash_key=key).next_times(start, 5)
    second = parse_schedule(expression, hash_key=key).next_times(start, 5)

    assert first == second
