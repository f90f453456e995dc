"""Run names are deterministic, unique per occurrence and fit Kubernetes' limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from punctual import naming

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?", fullmatch=True)
instants = st.datetimes(
    min_value=datetime(2001, 9, 10), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def test_run_name_short_form():
    t = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert naming.run_name("backup", t) == f"backup-{int(t.timestamp())}"


def test_run_name_ignores_subseconds():
    t = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert naming.run_name("backup", t) == naming.run_name("backup", t + timedelta(milliseconds=999))


@given(names, instants)
def test_run_name_fits_and_is_valid(name, instant):
    run = naming.run_name(name, instant)
    assert len(run) <= naming.MAX_RUN_NAME
    assert DNS_LABEL.match(run), run
    assert run.endswith(str(int(instant.timestamp())))
    assert naming.job_name(run) == run


@given(names, names, instants)
def test_long_names_stay_distinct(suffix_a, suffix_b, instant):
    prefix = "x" * 40
    a, b = prefix + suffix_a, prefix + suffix_b
    if a != b:
        assert naming.run_name(a[:52], instant) != naming.run_name(b[:52], instant) or a[:52] == b[:52]


def test_job_name_of_long_manual_run():
    run = "manual-" + "a" * 70
    job = naming.job_name(run)
    assert len(job) <= naming.MAX_RUN_NAME
    assert job != naming.job_name(run + "b")


def test_labels_hold_no_colon():
    t = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    labels = naming.run_labels("backup", t)
    assert labels == {"punctual.dev/scheduled-job": "backup", "punctual.dev/scheduled-time": str(int(t.timestamp()))}
    assert naming.run_annotations(t) == {"punctual.dev/scheduled-time": "2026-03-29T01:00:00Z"}
    assert naming.from_unix_seconds(labels["punctual.dev/scheduled-time"]) == t
