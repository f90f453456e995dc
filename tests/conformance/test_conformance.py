"""Conformance of the schedule engine with robfig/cron v3, the Kubernetes CronJob parser.

The test builds the Go program in robfig/ (Go must be installed) and compares a few
thousand generated cases. hack/conformance.sh (``make conformance``) runs the same
harness on 100,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import harness

CASES = 2500

# Expressions exactly one side accepts, with the side that accepts. Each row is
# explained in docs/schedule-semantics.md.
EXPECTED_ACCEPTANCE_DIFFERENCES = {
    "0 0 * * 7": "punctual",
    "0 0 * * 5-7": "punctual",
    "0 0 * * 7/2": "punctual",
    "H H * * *": "punctual",
    "H/15 * * * *": "punctual",
    "@daily ": "punctual",
    "@every  5m": "punctual",
    "0 0 +5 * *": "robfig",
    "TZ=Europe/Berlin 0 9 * * *": "robfig",
    "CRON_TZ=UTC 0 9 * * *": "robfig",
    "@every 500ms": "robfig",
    "@every 0s": "robfig",
    "@every 1000h": "robfig",
    "0 0 31 2 *": "robfig",
    "0 0 30 2 *": "robfig",
}


@pytest.fixture(scope="module")
def binary() -> Path:
    try:
        return harness.ensure_binary()
    except RuntimeError as error:
        pytest.fail(f"the robfig/cron conformance program is required: {error}")


def test_no_unexplained_mismatches(binary: Path):
    cases = harness.generate_cases(CASES, harness.DEFAULT_SEED)

    tally = harness.compare(cases, binary)

    print(tally.summary(), dict(tally.classes))
    assert tally.cases == CASES
    assert tally.unexplained == 0, "\n".join(tally.examples)
    # The known differences must show up, or the comparison is not looking.
    assert tally.classes[harness.EVERY_ANCHOR] > 0
    assert tally.classes[harness.DAY_FIELD_STAR] > 0


def test_acceptance_differences_documented(binary: Path):
    rows = harness.acceptance_differences(binary)

    for expression, punctual, robfig in rows:
        print(f"{expression!r}: punctual {punctual} | robfig {robfig}")
    accepting_side = {
        expression: "punctual" if punctual == "accepts" else "robfig"
        for expression, punctual, robfig in rows
    }
    assert accepting_side == EXPECTED_ACCEPTANCE_DIFFERENCES


def test_known_differences_classified(binary: Path):
    # A fixed case for each class, so a class that generation misses is still checked.
    utc = harness.UTC
    cases = [
        harness.Case("30 2 * * *", "Europe/Berlin", harness.datetime(2026, 3, 28, tzinfo=utc), 3),
        harness.Case("30 1 * * *", "America/New_York", harness.datetime(2026, 10, 31, tzinfo=utc), 3),
        harness.Case("@daily", "America/Santiago", harness.datetime(2026, 9, 5, tzinfo=utc), 3),
        harness.Case("@weekly", "Australia/Lord_Howe", harness.datetime(2028, 3, 30, tzinfo=utc), 3),
        harness.Case("0 0 */2 * 1", "UTC", harness.datetime(2026, 1, 1, tzinfo=utc), 6),
        harness.Case("0 6 * * fri-sat", "America/Santiago", harness.datetime(2024, 9, 8, 3, 59, tzinfo=utc), 2),
        # robfig/cron needs day 31 in February here and so finds nothing.
        harness.Case("0 0 31 2 thu,*/1", "UTC", harness.datetime(2026, 1, 1, tzinfo=utc), 3),
        harness.Case("0 0 29 2 *", "UTC", harness.datetime(2096, 3, 1, tzinfo=utc), 2),
        # Lord Howe springs forward 02:00 -> 02:30 on 2034-10-01.
        harness.Case("37 0-1,4 * * *", "Australia/Lord_Howe", harness.datetime(2034, 9, 30, 13, tzinfo=utc), 3),
    ]
    expected = [
        {harness.DST_GAP_SHIFT},
        {harness.DST_FOLD_ONCE},
        {harness.DST_GAP_SHIFT},
        {harness.ROBFIG_HALF_HOUR_DRIFT},
        {harness.DAY_FIELD_STAR},
        {harness.ROBFIG_MIDNIGHT_GAP_DAY},
        {harness.DAY_FIELD_STAR},
        {harness.ROBFIG_FIVE_YEAR_LIMIT},
        {harness.ROBFIG_HALF_HOUR_DRIFT},
    ]

    results = harness.run_robfig(binary, cases)

    for case, robfig, classes in zip(cases, results, expected):
        mismatch, found = harness.classify(case, harness.run_punctual(case), robfig)
        assert mismatch, case
        assert found == classes, case
