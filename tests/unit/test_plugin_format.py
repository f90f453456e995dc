"""kubectl punctual: tables, durations, run rows and the SLA column."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from punctual.plugin import output, runs
from punctual.plugin.describe import merge_events
from punctual.plugin.timeparse import format_duration, format_local

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_run(name, scheduled, *, phase=None, sj="nightly", namespace="team-a", **status):
    body = {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": scheduled},
        "spec": {"scheduledJobName": sj, "scheduledTime": scheduled, "trigger": "Schedule"},
    }
    if phase or status:
        body["status"] = {"phase": phase, **status} if phase else status
    return body


def make_scheduled_job(name="nightly", namespace="team-a", sla=None):
    spec = {"schedule": "@every 10s", "jobTemplate": {"spec": {}}}
    if sla is not None:
        spec["sla"] = sla
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_table_aligns_columns():
    text = output.format_table(["NAME", "PHASE"], [["a", "Succeeded"], ["longer-name", None]])
    assert text.splitlines() == [
        "NAME          PHASE",
        "a             Succeeded",
        "longer-name   <none>",
    ]


def test_table_strips_trailing_spaces():
    text = output.format_table(["A", "B"], [["x", ""]])
    assert all(line == line.rstrip() for line in text.splitlines())


def test_dump_json_and_yaml_round_trip():
    data = output.as_list([{"metadata": {"name": "x"}}])
    assert json.loads(output.dump(data, "json")) == data
    assert yaml.safe_load(output.dump(data, "yaml")) == data


def test_dump_rejects_table():
    with pytest.raises(ValueError):
        output.dump({}, "table")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (192, "3m12s"),
        (3600, "1h"),
        (7500, "2h5m"),
        (86400 * 3 + 3600 * 4, "3d4h"),
        (-30, "-30s"),
        (0.4, "0s"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.254, "0.25s"), (1.5, "1.5s"), (2.0, "2s"), (12.6, "13s")])
def test_format_duration_fractional(seconds, text):
    assert format_duration(seconds, fractional=True) == text


def test_format_local_shows_zone_and_offset():
    summer = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
    assert format_local(summer, "Europe/Berlin") == "2026-07-01 03:00:00 CEST (+02:00)"
    assert format_local(summer, "America/New_York") == "2026-06-30 21:00:00 EDT (-04:00)"


def test_runs_newest_first():
    rows = runs.run_rows(
        [
            make_run("nightly-1", "2026-03-01T10:00:00Z", phase="Succeeded"),
            make_run("nightly-3", "2026-03-01T11:00:00Z", phase="Running"),
            make_run("nightly-2", "2026-03-01T10:30:00Z", phase="Failed"),
        ],
        [make_scheduled_job()],
        NOW,
    )
    assert [row.name for row in rows] == ["nightly-3", "nightly-2", "nightly-1"]


def test_run_without_scheduled_time_sorts_by_creation():
    manual = make_run("nightly-manual", "2026-03-01T11:30:00Z")
    del manual["spec"]["scheduledTime"]
    rows = runs.run_rows([make_run("nightly-1", "2026-03-01T11:00:00Z"), manual], [], NOW)
    assert rows[0].name == "nightly-manual"
    assert rows[0].scheduled == "2026-03-01T11:30:00Z"


def test_run_row_fields():
    run = make_run(
        "nightly-1", "2026-03-01T10:00:00Z", phase="Succeeded", reason="Completed", message="Job completed",
        jobName="nightly-1", scheduleLagSeconds=0.42, durationSeconds=125,
        startTime="2026-03-01T10:00:01Z", completionTime="2026-03-01T10:02:06Z",
    )
    row = runs.run_row(run, None, NOW)
    assert row.phase == "Succeeded"
    assert row.scheduled == "2026-03-01T10:00:00Z"
    assert row.lag == "0.42s"
    assert row.duration == "2m5s"
    assert row.sla == "-"
    assert row.reason == "Completed"
    assert row.job == "nightly-1"
    assert row.started == "2026-03-01T10:00:01Z"


def test_running_run_duration_counts_to_now():
    run = make_run("nightly-1", "2026-03-01T11:58:00Z", phase="Running", startTime="2026-03-01T11:58:30Z")
    assert runs.run_row(run, None, NOW).duration == "1m30s"


def test_new_run_has_no_phase():
    row = runs.run_row(make_run("nightly-manual-1", "2026-03-01T11:58:00Z"), None, NOW)
    assert row.phase is None
    assert row.lag == "-"


def test_skipped_range_in_reason():
    run = make_run(
        "nightly-1", "2026-03-01T10:00:00Z", phase="Skipped", reason="Suspended",
        skipped={"first": "2026-03-01T10:00:00Z", "last": "2026-03-01T11:00:00Z", "count": 7},
    )
    assert runs.run_row(run, None, NOW).reason == "Suspended (7 occurrences to 2026-03-01T11:00:00Z)"


def test_sla_column_ok_without_breach():
    sla = runs.sla_of(make_scheduled_job(sla={"timeoutSeconds": 60}))
    run = make_run("nightly-1", "2026-03-01T10:00:00Z", phase="Succeeded")
    assert runs.run_row(run, sla, NOW).sla == "ok"


def test_sla_column_timed_out():
    sla = runs.sla_of(make_scheduled_job(sla={"timeoutSeconds": 60}))
    run = make_run("nightly-1", "2026-03-01T10:00:00Z", phase="TimedOut")
    assert runs.run_row(run, sla, NOW).sla == "TimedOut"


def test_sla_column_lists_breach_conditions():
    conditions = [
        {"type": "StartSLABreached", "status": "True", "reason": "StartSLABreached", "lastTransitionTime": "2026-03-01T10:01:00Z"},
        {"type": "SLABreached", "status": "False", "reason": "WithinSLA", "lastTransitionTime": "2026-03-01T10:01:00Z"},
        {"type": "Started", "status": "True", "reason": "PodRunning", "lastTransitionTime": "2026-03-01T10:01:00Z"},
    ]
    run = make_run("nightly-1", "2026-03-01T10:00:00Z", phase="Running", conditions=conditions)
    assert runs.sla_breaches(run) == ["StartSLABreached"]


def test_sla_column_skipped_run():
    sla = runs.sla_of(make_scheduled_job(sla={"timeoutSeconds": 60}))
    run = make_run("nightly-1", "2026-03-01T10:00:00Z", phase="Skipped", reason="ConcurrencyForbid")
    assert runs.run_row(run, sla, NOW).sla == "-"


def test_rows_take_sla_of_their_own_scheduled_job():
    with_sla = make_scheduled_job("a", sla={"timeoutSeconds": 60})
    without = make_scheduled_job("b")
    rows = runs.run_rows(
        [make_run("a-1", "2026-03-01T10:00:00Z", phase="Succeeded", sj="a"),
         make_run("b-1", "2026-03-01T09:00:00Z", phase="Succeeded", sj="b")],
        [with_sla, without],
        NOW,
    )
    assert [(row.name, row.sla) for row in rows] == [("a-1", "ok"), ("b-1", "-")]


def test_headers_and_cells_line_up():
    row = runs.run_row(make_run("nightly-1", "2026-03-01T10:00:00Z", phase="Succeeded"), None, NOW)
    for wide in (False, True):
        for all_namespaces in (False, True):
            for show_sj in (False, True):
                columns = runs.headers(wide=wide, all_namespaces=all_namespaces, show_scheduled_job=show_sj)
                cells = row.cells(wide=wide, all_namespaces=all_namespaces, show_scheduled_job=show_sj)
                assert len(columns) == len(cells)
    columns = runs.headers(wide=True, all_namespaces=True, show_scheduled_job=True)
    cells = row.cells(wide=True, all_namespaces=True, show_scheduled_job=True)
    assert dict(zip(columns, cells))["NAMESPACE"] == "team-a"
    assert dict(zip(columns, cells))["SCHEDULEDJOB"] == "nightly"
    assert dict(zip(columns, cells))["TRIGGER"] == "Schedule"


def test_merge_events_drops_copies():
    def event(kind, name, at, reason="RunSucceeded", message="JobRun x Succeeded"):
        return {
            "metadata": {"creationTimestamp": at},
            "involvedObject": {"kind": kind, "name": name},
            "lastTimestamp": at, "type": "Normal", "reason": reason, "message": message,
        }

    merged = merge_events([
        event("ScheduledJob", "nightly", "2026-03-01T10:00:05Z"),
        event("JobRun", "nightly-1", "2026-03-01T10:00:05Z"),
        event("JobRun", "nightly-1", "2026-03-01T10:00:01Z", reason="RunCreated", message="created"),
    ])
    assert [(e["reason"], e["involvedObject"]["kind"]) for e in merged] == [("RunCreated", "JobRun"), ("RunSucceeded", "JobRun")]


def test_merge_events_keeps_newest_up_to_limit():
    events = [
        {"metadata": {"creationTimestamp": f"2026-03-01T10:00:{second:02d}Z"}, "reason": f"R{second}", "type": "Normal",
         "message": "m", "involvedObject": {"kind": "JobRun", "name": "x"}}
        for second in range(30)
    ]
    merged = merge_events(events, limit=5)
    assert [e["reason"] for e in merged] == ["R25", "R26", "R27", "R28", "R29"]
