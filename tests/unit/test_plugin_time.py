"""kubectl punctual: times typed on the command line, and backfill range bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from punctual.plugin.actions import MAX_BACKFILL, manual_run_name, plan_backfill
from punctual.plugin.errors import UsageError
from punctual.plugin.timeparse import parse_user_time
from punctual.schedule import parse_schedule

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def parse(text, zone="UTC"):
    return parse_user_time(text, time_zone=zone, now=NOW, flag="--from")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T02:00:00Z", datetime(2026, 3, 1, 2, 0, tzinfo=UTC)),
        ("2026-03-01T03:00:00+01:00", datetime(2026, 3, 1, 2, 0, tzinfo=UTC)),
        ("2026-03-01T02:00:00.5Z", datetime(2026, 3, 1, 2, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
        ("now", NOW),
        ("NOW", NOW),
        ("now-2h", NOW - timedelta(hours=2)),
        ("now+30m", NOW + timedelta(minutes=30)),
        ("now-1d12h", NOW - timedelta(days=1, hours=12)),
        ("now - 90s", NOW - timedelta(seconds=90)),
    ],
)
def test_parse_user_time(text, expected):
    assert parse(text) == expected


def test_time_without_offset_uses_zone():
    assert parse("2026-03-01T02:00", "Europe/Berlin") == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert parse("2026-07-01", "America/New_York") == datetime(2026, 7, 1, 4, 0, tzinfo=UTC)


def test_time_with_offset_ignores_zone():
    assert parse("2026-03-01T02:00:00Z", "Asia/Tokyo") == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_wall_time_in_dst_gap_moves_forward():
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29; 02:30 reads as 03:30 CEST.
    assert parse("2026-03-29T02:30", "Europe/Berlin") == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_repeated_wall_time_is_first_instant():
    # Europe/Berlin repeats 02:00-03:00 on 2026-10-25; 02:30 reads as 02:30 CEST.
    assert parse("2026-10-25T02:30", "Europe/Berlin") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026/03/01", "now-2x", "now-", "1700000000", ""])
def test_invalid_time_raises_usage_error(text):
    with pytest.raises(UsageError) as raised:
        parse(text)
    assert raised.value.exit_code == 2
    assert "--from" in raised.value.message
    assert "RFC 3339" in raised.value.message


# ---------------------------------------------------------------- backfill bounds

HOURLY = parse_schedule("0 * * * *")
START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_backfill_range_is_inclusive():
    plan = plan_backfill(HOURLY, START, START + timedelta(hours=3), NOW, 50)
    assert plan.occurrences == [START + timedelta(hours=hour) for hour in range(4)]


def test_backfill_single_instant():
    plan = plan_backfill(HOURLY, START, START, NOW, 50)
    assert plan.occurrences == [START]


def test_backfill_range_without_occurrence():
    plan = plan_backfill(HOURLY, START + timedelta(minutes=1), START + timedelta(minutes=59), NOW, 50)
    assert plan.occurrences == []


def test_backfill_exactly_max_is_allowed():
    plan = plan_backfill(HOURLY, START, START + timedelta(hours=9), NOW, 10)
    assert len(plan.occurrences) == 10


def test_backfill_over_max_rejected():
    with pytest.raises(UsageError) as raised:
        plan_backfill(HOURLY, START, START + timedelta(hours=10), NOW, 10)
    assert raised.value.exit_code == 2
    assert "11 occurrences" in raised.value.message
    assert "--max 10" in raised.value.message


def test_backfill_huge_range_counted_without_listing():
    every_second = parse_schedule("@every 1s")
    with pytest.raises(UsageError, match="31536000 occurrences"):
        plan_backfill(every_second, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), NOW, 50)


def test_backfill_reversed_range_rejected():
    with pytest.raises(UsageError, match="before --from"):
        plan_backfill(HOURLY, START + timedelta(hours=2), START, NOW, 50)


def test_backfill_future_rejected():
    with pytest.raises(UsageError, match="in the future"):
        plan_backfill(HOURLY, START, NOW + timedelta(hours=1), NOW, 50)


@pytest.mark.parametrize("max_runs", [0, -1, MAX_BACKFILL + 1])
def test_backfill_max_out_of_range(max_runs):
    with pytest.raises(UsageError, match="invalid --max"):
        plan_backfill(HOURLY, START, START, NOW, max_runs)


def test_manual_run_name_differs_from_scheduled_name():
    instant = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert manual_run_name("nightly", instant) == f"nightly-manual-{int(instant.timestamp())}"


def test_manual_run_name_fits_limit():
    name = manual_run_name("x" * 52, datetime(2026, 3, 1, tzinfo=UTC))
    assert len(name) <= 57
