"""Schedule engine: dialect, DST rule, H tokens, @every anchoring, jitter and errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from punctual.schedule import (
    Schedule,
    ScheduleError,
    jitter_offset,
    parse_schedule,
    validate_time_zone,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """Return the UTC instant of a local wall-clock time (fold=1 is the second pass)."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def between(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    return schedule.occurrences(after, until)


# --- DST: Europe/Berlin springs forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC)
# and falls back 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC). America/New_York
# springs forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC) and falls back
# 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).


def test_berlin_daily_spring_gap():
    schedule = parse_schedule("30 2 * * *", time_zone="Europe/Berlin")

    runs = between(schedule, utc(2026, 3, 27), utc(2026, 3, 31))

    assert runs == [
        local("Europe/Berlin", 2026, 3, 27, 2, 30),
        local("Europe/Berlin", 2026, 3, 28, 2, 30),
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the first instant after the gap
        local("Europe/Berlin", 2026, 3, 30, 2, 30),
    ]


def test_berlin_daily_repeated_hour():
    schedule = parse_schedule("30 2 * * *", time_zone="Europe/Berlin")

    runs = between(schedule, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))

    assert runs == [utc(2026, 10, 25, 0, 30)]  # 02:30 CEST, the first pass


def test_hourly_on_berlin_transition_days():
    schedule = parse_schedule("0 * * * *", time_zone="Europe/Berlin")

    spring = between(schedule, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 2, 30))
    autumn = between(schedule, utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30))

    # 01:00 CET, then 03:00 CEST: no run is invented for the missing 02:00.
    assert spring == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]
    # 02:00 CEST and 02:00 CET both run: the job follows real time.
    assert autumn == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2)]
    assert [run.astimezone(ZoneInfo("Europe/Berlin")).hour for run in autumn] == [2, 2, 3]


def test_new_york_daily_spring_gap():
    schedule = parse_schedule("30 2 * * *", time_zone="America/New_York")

    runs = between(schedule, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))

    assert runs == [utc(2026, 3, 8, 7, 0), local("America/New_York", 2026, 3, 9, 2, 30)]
    assert runs[0] == local("America/New_York", 2026, 3, 8, 3, 0)


def test_new_york_daily_repeated_hour():
    schedule = parse_schedule("30 1 * * *", time_zone="America/New_York")

    runs = between(schedule, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))

    assert runs == [utc(2026, 11, 1, 5, 30), local("America/New_York", 2026, 11, 2, 1, 30)]


def test_hourly_on_new_york_transition_days():
    schedule = parse_schedule("0 * * * *", time_zone="America/New_York")

    spring = between(schedule, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 8, 30))
    autumn = between(schedule, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 30))

    assert spring == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)]
    assert [run.astimezone(ZoneInfo("America/New_York")).hour for run in spring] == [1, 3, 4]
    # 01:00 EDT and 01:00 EST, then 02:00 EST.
    assert autumn == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)]


def test_hour_list_is_wall_clock():
    # Neither the minute nor the hour field starts with '*', so Vixie cron treats the
    # job as fixed-time: 01:00 runs once, on the first pass.
    schedule = parse_schedule("0 1,2 * * *", time_zone="America/New_York")

    runs = between(schedule, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))

    assert runs == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 7)]


def test_hour_range_in_gap_runs_once():
    # 02:00 and 02:30 fall in the gap and both move to 03:00 CEST, which runs once.
    schedule = parse_schedule("0,30 2-3 * * *", time_zone="Europe/Berlin")

    runs = between(schedule, utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))

    assert runs == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)]


def test_hour_step_follows_real_time():
    # A step states an interval, so 01:00 runs on both passes of the repeated hour,
    # although the field does not start with '*'.
    schedule = parse_schedule("0 1-3/1 * * *", time_zone="America/New_York")

    runs = between(schedule, utc(2026, 11, 1, 4), utc(2026, 11, 1, 9))

    assert runs == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 6), utc(2026, 11, 1, 7), utc(2026, 11, 1, 8)]


def test_minute_step_follows_real_time():
    schedule = parse_schedule("*/30 1 * * *", time_zone="America/New_York")

    runs = between(schedule, utc(2026, 11, 1, 4), utc(2026, 11, 1, 8))

    assert runs == [
        utc(2026, 11, 1, 5, 0),
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 6, 0),
        utc(2026, 11, 1, 6, 30),
    ]


def test_lord_howe_half_hour_shift():
    # Lord Howe Island springs forward 02:00 -> 02:30 on 2026-10-04 and falls back
    # 02:00 -> 01:30 on 2026-04-05.
    zone = "Australia/Lord_Howe"
    fixed = parse_schedule("15 2 * * *", time_zone=zone)
    repeated_fixed = parse_schedule("45 1 * * *", time_zone=zone)
    repeated_wild = parse_schedule("45 * * * *", time_zone=zone)

    assert fixed.next_after(utc(2026, 10, 3, 12)) == local(zone, 2026, 10, 4, 2, 30)
    assert fixed.next_after(utc(2026, 10, 3, 12)) == utc(2026, 10, 3, 15, 30)
    assert between(repeated_fixed, utc(2026, 4, 4, 12), utc(2026, 4, 5, 12)) == [
        local(zone, 2026, 4, 5, 1, 45)
    ]
    assert between(repeated_wild, utc(2026, 4, 4, 14), utc(2026, 4, 4, 16)) == [
        local(zone, 2026, 4, 5, 1, 45),
        local(zone, 2026, 4, 5, 1, 45, fold=1),
    ]


def test_santiago_midnight_gap():
    # Chile springs forward at local midnight: 2026-09-06 00:00 -04 becomes 01:00 -03.
    schedule = parse_schedule("@daily", time_zone="America/Santiago")

    runs = between(schedule, utc(2026, 9, 5), utc(2026, 9, 7, 12))

    assert runs == [
        local("America/Santiago", 2026, 9, 5, 0, 0),
        utc(2026, 9, 6, 4, 0),  # 01:00 -03, the first instant after the gap
        local("America/Santiago", 2026, 9, 7, 0, 0),
    ]


def test_dst_rule_is_a_pure_function():
    schedule = parse_schedule("30 2 * * *", time_zone="Europe/Berlin")
    later = parse_schedule("30 2 * * *", time_zone="Europe/Berlin")

    assert schedule.next_after(utc(2026, 3, 28, 12)) == later.next_after(utc(2026, 3, 28, 12))
    assert schedule.next_after(utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 29, 1)
    assert schedule.next_after(utc(2026, 3, 29, 1)) == local("Europe/Berlin", 2026, 3, 30, 2, 30)


# --- Calendar rules


def test_february_29_fires_only_in_leap_years():
    schedule = parse_schedule("0 0 29 2 *")

    assert schedule.next_after(utc(2026, 3, 1)) == utc(2028, 2, 29)
    assert between(schedule, utc(2026, 1, 1), utc(2028, 1, 1)) == []
    assert schedule.next_times(utc(2026, 3, 1), 3) == [
        utc(2028, 2, 29),
        utc(2032, 2, 29),
        utc(2036, 2, 29),
    ]


def test_february_29_skips_2100():
    schedule = parse_schedule("0 0 29 2 *")

    assert schedule.next_after(utc(2096, 3, 1)) == utc(2104, 2, 29)
    assert schedule.latest_at_or_before(utc(2104, 1, 1), not_before=utc(2000, 1, 1)) == utc(
        2096, 2, 29
    )


def test_day_of_month_or_day_of_week():
    schedule = parse_schedule("0 0 13 * 5")

    runs = between(schedule, utc(2026, 1, 31), utc(2026, 3, 14))

    fridays = [utc(2026, 2, day) for day in (6, 13, 20, 27)] + [utc(2026, 3, 6), utc(2026, 3, 13)]
    assert runs == fridays  # 2026-02-13 and 2026-03-13 are both Friday and the 13th
    assert schedule.next_after(utc(2026, 1, 12)) == utc(2026, 1, 13)  # a Tuesday


def test_star_day_field_needs_both():
    # Vixie cron: a day field starting with '*' makes both fields required.
    weekdays_only = parse_schedule("0 0 * * 1")
    odd_mondays = parse_schedule("0 0 */2 * mon")

    assert weekdays_only.next_after(utc(2026, 1, 1)) == utc(2026, 1, 5)
    # Mondays on odd days of the month: January 5 and 19, then February 9.
    assert odd_mondays.next_times(utc(2026, 1, 1), 3) == [
        utc(2026, 1, 5),
        utc(2026, 1, 19),
        utc(2026, 2, 9),
    ]


def test_day_of_week_seven_is_sunday():
    assert parse_schedule("0 0 * * 7").next_after(utc(2026, 1, 1)) == utc(2026, 1, 4)
    assert parse_schedule("0 0 * * 7/2").next_times(utc(2026, 1, 1), 2) == [
        utc(2026, 1, 4),
        utc(2026, 1, 11),
    ]
    assert parse_schedule("0 0 * * 5-7").next_times(utc(2026, 1, 1), 3) == [
        utc(2026, 1, 2),
        utc(2026, 1, 3),
        utc(2026, 1, 4),
    ]


def test_names_are_case_insensitive():
    lower = parse_schedule("0 9 * jan-mar mon-fri")
    mixed = parse_schedule("0 9 * JAN-Mar Mon-FRI")

    assert lower.next_times(utc(2026, 3, 30), 3) == mixed.next_times(utc(2026, 3, 30), 3)
    assert lower.next_times(utc(2026, 3, 30), 3) == [
        utc(2026, 3, 30, 9),
        utc(2026, 3, 31, 9),
        utc(2027, 1, 1, 9),
    ]


def test_steps_ranges_and_lists():
    schedule = parse_schedule("5-20/5,50 */6 1,15 * *")

    assert schedule.next_times(utc(2026, 1, 1), 6) == [
        utc(2026, 1, 1, 0, 5),
        utc(2026, 1, 1, 0, 10),
        utc(2026, 1, 1, 0, 15),
        utc(2026, 1, 1, 0, 20),
        utc(2026, 1, 1, 0, 50),
        utc(2026, 1, 1, 6, 5),
    ]
    assert parse_schedule("10/20 0 1 1 *").next_times(utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 0, 10),
        utc(2026, 1, 1, 0, 30),
        utc(2026, 1, 1, 0, 50),
    ]


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macro_expansion(macro, equivalent):
    start = utc(2026, 10, 24)
    zone = "Europe/Berlin"

    expected = parse_schedule(equivalent, time_zone=zone).next_times(start, 30)

    assert parse_schedule(macro, time_zone=zone).next_times(start, 30) == expected


def test_occurrence_is_strictly_after():
    schedule = parse_schedule("0 12 * * *")

    assert schedule.next_after(utc(2026, 1, 1, 12)) == utc(2026, 1, 2, 12)
    assert schedule.next_after(utc(2026, 1, 1, 11, 59, 59, 999999)) == utc(2026, 1, 1, 12)
    assert schedule.occurrences(utc(2026, 1, 1, 12), utc(2026, 1, 2, 12)) == [utc(2026, 1, 2, 12)]


def test_outputs_are_utc_for_any_input_zone():
    schedule = parse_schedule("0 12 * * *", time_zone="Asia/Kolkata")
    start = datetime(2026, 1, 1, 9, tzinfo=ZoneInfo("America/New_York"))

    result = schedule.next_after(start)

    assert result is not None
    assert result.tzinfo is UTC
    assert result == local("Asia/Kolkata", 2026, 1, 2, 12)


def test_naive_datetimes_are_rejected():
    schedule = parse_schedule("@hourly")

    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_after(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.count_between(utc(2026, 1, 1), datetime(2026, 1, 2))


# --- Queries


def test_occurrences_limit_and_empty_range():
    schedule = parse_schedule("* * * * *")

    assert len(schedule.occurrences(utc(2026, 1, 1), utc(2026, 1, 2), limit=5)) == 5
    assert schedule.occurrences(utc(2026, 1, 1), utc(2026, 1, 2), limit=0) == []
    assert schedule.occurrences(utc(2026, 1, 2), utc(2026, 1, 1)) == []
    assert schedule.count_between(utc(2026, 1, 2), utc(2026, 1, 1)) == 0


def test_count_between_dense_schedules():
    every_second = parse_schedule("@every 1s")
    every_minute = parse_schedule("* * * * *", time_zone="Europe/Berlin")
    week = (utc(2026, 3, 1), utc(2026, 3, 8))
    decade = (utc(2026, 1, 1), utc(2036, 1, 1))

    started = time.perf_counter()
    assert every_second.count_between(*week) == 7 * 86400
    assert every_second.count_between(*decade) == (decade[1] - decade[0]).total_seconds()
    # 2026 has one 23-hour and one 25-hour day in Berlin, which cancel out.
    assert every_minute.count_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 365 * 1440
    elapsed = time.perf_counter() - started

    # Listing 315 million seconds would take minutes; counting takes milliseconds.
    assert elapsed < 2.0


def test_latest_at_or_before():
    schedule = parse_schedule("0 3 * * *", time_zone="Europe/Berlin")

    latest = schedule.latest_at_or_before(utc(2026, 6, 10, 12), not_before=utc(2026, 1, 1))

    assert latest == local("Europe/Berlin", 2026, 6, 10, 3)
    assert schedule.latest_at_or_before(latest, not_before=utc(2026, 1, 1)) == latest
    assert schedule.latest_at_or_before(utc(2026, 6, 10, 12), not_before=latest) is None
    assert schedule.latest_at_or_before(
        utc(2026, 6, 10, 12), not_before=latest - timedelta(seconds=1)
    ) == latest


def test_latest_at_or_before_far_back():
    yearly = parse_schedule("@yearly", time_zone="Pacific/Auckland")

    latest = yearly.latest_at_or_before(utc(2026, 12, 1), not_before=utc(1990, 1, 1))

    assert latest == local("Pacific/Auckland", 2026, 1, 1)


def test_union_of_expressions():
    schedule = parse_schedule(["0 9 * * mon-fri", "0 12 * * sat", "0 9 * * 1"])

    runs = schedule.next_times(utc(2026, 1, 2), 4)  # a Friday

    assert runs == [utc(2026, 1, 2, 9), utc(2026, 1, 3, 12), utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)]
    assert schedule.expressions == ("0 9 * * mon-fri", "0 12 * * sat", "0 9 * * 1")


def test_union_counts_shared_instants_once():
    schedule = parse_schedule(["@every 20m", "@every 30m", "0,15 * * * *"])
    after, until = utc(2026, 1, 1), utc(2026, 1, 2)

    listed = schedule.occurrences(after, until)

    # Per hour: :00 :15 :20 :30 :40 = 5 instants.
    assert len(listed) == 24 * 5
    assert schedule.count_between(after, until) == len(listed)
    assert schedule.latest_at_or_before(until, not_before=after) == until
    assert schedule.next_after(after) == utc(2026, 1, 1, 0, 15)


# --- @every


def test_every_is_anchored_to_the_epoch():
    schedule = parse_schedule("@every 90m")
    interval = timedelta(minutes=90)

    for start in (utc(2026, 1, 1), utc(2026, 1, 1, 0, 7, 13), utc(2026, 1, 1, 1, 30)):
        first = schedule.next_after(start)
        assert first is not None
        assert (first - utc(1970, 1, 1)) % interval == timedelta(0)
        assert first - interval <= start < first

    assert schedule.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 1, 30)


def test_every_ignores_time_zone():
    start = utc(2026, 3, 29, 0, 13)

    in_utc = parse_schedule("@every 7m", time_zone="UTC").next_times(start, 20)
    in_berlin = parse_schedule("@every 7m", time_zone="Europe/Berlin").next_times(start, 20)

    assert in_utc == in_berlin
    assert all(later - earlier == timedelta(minutes=7) for earlier, later in zip(in_utc, in_utc[1:]))


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("@every 90s", 90),
        ("@every 5m", 300),
        ("@every 1h30m", 5400),
        ("@every 2h", 7200),
        ("@every 1.5h", 5400),
        ("@every 1000ms", 1),
        ("@every 744h", 744 * 3600),
    ],
)
def test_every_go_durations(expression, seconds):
    schedule = parse_schedule(expression)

    first, second = schedule.next_times(utc(2026, 1, 1, 0, 0, 1), 2)

    assert (second - first).total_seconds() == seconds


# --- H tokens

KEYS = [f"team-{index}/job-{index}" for index in range(200)]


def test_hash_tokens_are_stable():
    first = parse_schedule("H H * * *", hash_key="payments/nightly")
    second = parse_schedule("H H * * *", hash_key="payments/nightly")

    assert first.next_times(utc(2026, 1, 1), 3) == second.next_times(utc(2026, 1, 1), 3)


def test_schedule_equality_includes_hash_key():
    first = parse_schedule("H H * * *", hash_key="payments/nightly")
    same = parse_schedule("H H * * *", hash_key="payments/nightly")
    other = parse_schedule("H H * * *", hash_key="payments/hourly")

    assert first == same
    assert hash(first) == hash(same)
    assert first != other


def test_hash_never_fires_names_h():
    verdicts = []
    for key in KEYS:
        try:
            parse_schedule("0 0 30 H *", hash_key=key)
        except ScheduleError as error:
            verdicts.append(str(error))

    # About one key in twelve hashes the month to February, which has no day 30.
    assert verdicts
    assert len(verdicts) < len(KEYS) // 4
    assert all("February has no day 30" in message for message in verdicts)
    assert all("H picks its value from the ScheduledJob's name" in message for message in verdicts)


def test_hash_tokens_spread_across_keys():
    minutes = set()
    hours = set()
    for key in KEYS:
        run = parse_schedule("H H * * *", hash_key=key).next_after(utc(2026, 1, 1))
        assert run is not None
        minutes.add(run.minute)
        hours.add(run.hour)

    # 200 keys over 60 minutes and 24 hours: a fixed or badly mixed hash would
    # collapse onto a few values.
    assert len(minutes) >= 45
    assert len(hours) == 24


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("H * * * *", lambda t: 0 <= t.minute <= 59),
        ("0 H(9-17) * * *", lambda t: 9 <= t.hour <= 17),
        ("0 0 H * *", lambda t: 1 <= t.day <= 28),
        ("0 0 1 H *", lambda t: 1 <= t.month <= 12),
        ("0 0 * * H(1-5)", lambda t: 1 <= t.isoweekday() <= 5),
        ("H(0-29) 1 * * *", lambda t: t.minute <= 29 and t.hour == 1),
    ],
)
def test_hash_tokens_stay_in_range(expression, check):
    for key in KEYS:
        runs = parse_schedule(expression, hash_key=key).next_times(utc(2026, 1, 1), 3)
        assert all(check(run) for run in runs), (key, runs)


def test_hash_step_offset():
    offsets = set()
    for key in KEYS:
        runs = parse_schedule("H/15 * * * *", hash_key=key).next_times(utc(2026, 1, 1), 8)
        minutes = [run.minute for run in runs]
        offset = minutes[0] % 15
        assert all(minute % 15 == offset for minute in minutes)
        assert all(later - earlier == timedelta(minutes=15) for earlier, later in zip(runs, runs[1:]))
        offsets.add(offset)

    assert len(offsets) == 15


def test_hash_range_step_stays_in_range():
    for key in KEYS:
        runs = parse_schedule("H(30-59)/10 * * * *", hash_key=key).next_times(utc(2026, 1, 1), 6)
        assert all(30 <= run.minute <= 59 for run in runs)
        assert runs[0].minute < 40


def test_hash_differs_per_field():
    # Minute and hour draw separate hashes, so they are not the same value mod 24.
    pairs = {
        (run.minute % 24, run.hour)
        for key in KEYS
        if (run := parse_schedule("H H * * *", hash_key=key).next_after(utc(2026, 1, 1)))
    }

    assert sum(1 for minute, hour in pairs if minute == hour) < 30


# --- Jitter


def test_jitter_deterministic_in_range():
    scheduled = utc(2026, 5, 1, 3, 0)

    first = jitter_offset("ns/job", scheduled, 300)
    second = jitter_offset("ns/job", scheduled.astimezone(ZoneInfo("Asia/Kolkata")), 300)

    assert first == second
    assert 0 <= first < 300
    assert jitter_offset("ns/job", scheduled, 0) == 0.0


def test_jitter_spreads_keys_and_occurrences():
    scheduled = utc(2026, 5, 1, 3, 0)

    per_key = {jitter_offset(key, scheduled, 3600) for key in KEYS}
    per_time = {
        jitter_offset("ns/job", scheduled + timedelta(hours=hour), 3600) for hour in range(200)
    }

    assert len(per_key) == len(KEYS)
    assert len(per_time) == 200
    assert max(per_key) - min(per_key) > 3000


@pytest.mark.parametrize("jitter", [-1, 1.5, "30", True])
def test_jitter_rejects_invalid_seconds(jitter):
    with pytest.raises(ScheduleError) as raised:
        jitter_offset("ns/job", utc(2026, 1, 1), jitter)

    assert raised.value.field == "spec.jitterSeconds"
    assert str(raised.value).startswith("spec.jitterSeconds: ")


def test_jitter_rejects_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        jitter_offset("ns/job", datetime(2026, 1, 1), 30)


# --- Time zones


def test_validate_time_zone_accepts_iana_names():
    assert validate_time_zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert validate_time_zone("UTC") == ZoneInfo("UTC")
    assert parse_schedule("@daily", time_zone="Asia/Kolkata").time_zone == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("Mars/Olympus_Mons", "not a known IANA time zone"),
        ("europe/berlin", "use 'Europe/Berlin'"),
        ("localtime", "not a known IANA time zone"),
        ("../../etc/passwd", "not a known IANA time zone"),
        ("CET ", "not a known IANA time zone"),
    ],
)
def test_validate_time_zone_rejects(name, fragment):
    with pytest.raises(ScheduleError) as raised:
        parse_schedule("@daily", time_zone=name)

    assert raised.value.field == "spec.timeZone"
    assert str(raised.value).startswith("spec.timeZone: ")
    assert fragment in str(raised.value)


def test_validate_time_zone_custom_field():
    with pytest.raises(ScheduleError) as raised:
        validate_time_zone("Nowhere/City", field="spec.window.timeZone")

    assert raised.value.field == "spec.window.timeZone"


# --- Rejected expressions: each error names the field, the bad value and a fix.

REJECTED = [
    ("*/5 * * * * *", "has 6 fields", "'@every 5s'"),
    ("0 */5 * * * *", "has 6 fields", "drop the leading seconds field: '*/5 * * * *'"),
    ("0 0 12 * * ? 2026", "has 7 fields", "seconds and years are not supported"),
    ("0 0 * *", "has 4 fields", "'0 0 * * *'"),
    ("@reboot", "no boot event", "Kubernetes Job"),
    ("TZ=Europe/Berlin 0 9 * * *", "remove the 'TZ=Europe/Berlin' prefix", "spec.timeZone"),
    ("CRON_TZ=UTC 0 9 * * *", "remove the 'CRON_TZ=UTC' prefix", "spec.timeZone: UTC"),
    ("0 0 31 2 *", "never fires", "February has no day 31"),
    ("0 0 30 2 *", "never fires", "February has no day 30"),
    ("0 0 31 4,6,9,11 *", "never fires", "have no day 31"),
    ("0 0 */30 2 1", "years without firing", "restrict only one"),
    ("", "is empty", "'0 3 * * *'"),
    ("   ", "is empty", "'@daily'"),
    ("0 " * 130, "characters long", "the maximum is 256"),
    ("@every 0s", "zero interval", "at least 1s"),
    ("@every 0", "zero interval", "at least 1s"),
    ("@every -5m", "negative interval", "at least 1s"),
    ("@every 500ms", "whole number of seconds", "'@every 1s'"),
    ("@every 1500ms", "whole number of seconds", "'@every 2s'"),
    ("@every 745h", "maximum", "'@monthly'"),
    ("@every 2d", "unknown duration unit 'd'", "hours"),
    ("@every five minutes", "exactly one duration", "'@every 1h30m'"),
    ("@every 5 m", "exactly one duration", "without spaces"),
    ("@every", "exactly one duration", "'@every 1h30m'"),
    ("@every 5x", "unknown duration unit 'x'", "h, m, s"),
    ("@every m", "invalid duration", "'90s'"),
    ("@fortnightly", "not a known macro", "@daily"),
    ("@Daily", "macros are lowercase", "'@daily'"),
    ("60 * * * *", "minute value 60 out of range", "0-59"),
    ("0 24 * * *", "hour value 24 out of range", "0-23"),
    ("0 0 0 * *", "day-of-month value 0 out of range", "1-31"),
    ("0 0 32 * *", "day-of-month value 32 out of range", "1-31"),
    ("0 0 * 13 *", "month value 13 out of range", "jan-dec"),
    ("0 0 * * 8", "day-of-week value 8 out of range", "0-7"),
    ("0 0 * * fry", "unknown day-of-week name 'fry'", "fri"),
    ("0 0 * jun-sept *", "the name 'sept'", "'sep'"),
    ("0 0 * * monday", "the name 'monday'", "'mon'"),
    ("0 noon * * *", "'noon' in the hour field", "numbers 0-23"),
    ("0 22-2 * * *", "reversed range '22-2'", "'22-23,0-2'"),
    ("0 0 * * fri-mon", "reversed range 'fri-mon'", "'fri-sat,sun-mon'"),
    ("*/0 * * * *", "step 0", "1 or more"),
    ("0 0 L * *", "'L'", "Quartz"),
    ("0 0 * * 5#3", "'5#3'", "Quartz"),
    ("0 0 15W * *", "'15W'", "Quartz"),
    ("? * * * *", "'?' in the minute field", "use '*'"),
    ("0 0 1,,15 * *", "empty list item", "remove the extra comma"),
    ("0 0 1-5-9 * *", "invalid item '1-5-9'", "a range 'a-b'"),
    ("0 0 */2/3 * *", "invalid item '*/2/3'", "a step"),
    ("0 0 * * *\u00a0x", "character '\\xa0'", "ASCII"),
    ("H(40-20) * * * *", "reversed range 'H(40-20)'", "lower bound first"),
    ("H(0-60) * * * *", "minute value 60 out of range", "0-59"),
    ("H/0 * * * *", "step 0", "1 or more"),
]


@pytest.mark.parametrize(("expression", "problem", "fix"), REJECTED)
def test_rejected_expression_message(expression, problem, fix):
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(expression)

    message = str(raised.value)
    assert raised.value.field == "spec.schedule"
    assert message.startswith("spec.schedule: ")
    shown = (repr(expression)[:20], repr(expression.strip())[:20])
    assert any(value in message for value in shown) or "characters long" in message
    assert problem in message
    assert fix in message
    assert "\n" not in message


def test_rejected_list_entry_index():
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(["@daily", "0 0 * * *", "*/5 * * * * *"])

    assert raised.value.field == "spec.schedules[2]"
    assert str(raised.value).startswith("spec.schedules[2]: '*/5 * * * * *' has 6 fields")


def test_rejected_list_with_custom_field():
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(["@daily", "@reboot"], field="spec.extraSchedules")

    assert raised.value.field == "spec.extraSchedules[1]"


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ([], "spec.schedules", "empty list"),
        (["@daily"] * 17, "spec.schedules", "the maximum is 16"),
        (5, "spec.schedule", "neither a string nor a list"),
        (["@daily", 5], "spec.schedules[1]", "not a string"),
        ([None], "spec.schedules[0]", "not a string"),
    ],
)
def test_rejected_non_string_input(value, field, fragment):
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(value)

    assert raised.value.field == field
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 29 2 *",
        "0 0 ? * MON",
        "0 0 * * 0,7",
        "  0 3 * * *\n",
        "0\t3 *\t* *",
        "59/15 * * * *",
        "*/100 * * * *",
        "0 0 1-31/31 * *",
        "H H(0-5) H/7 * H",
        "@every 1s",
        "@every 744h",
    ],
)
def test_accepted_expression(expression):
    schedule = parse_schedule(expression, hash_key="ns/name")

    assert schedule.next_after(utc(2026, 1, 1)) is not None
    assert schedule.expressions == (expression.strip(),)
