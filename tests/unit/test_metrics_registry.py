"""The operator's Prometheus metrics: what each status change counts, and naming rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from punctual import metrics, runstatus, sla
from punctual.models import ConditionStatus, JobRunStatus, RunPhase, SkippedRange

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
NAME = re.compile(r"^punctual_[a-z0-9]+(_[a-z0-9]+)*$")
BOUNDED_LABELS = {"namespace", "scheduled_job", "phase", "trigger", "reason", "kind", "result", "version", "python_version"}


def samples(registry_metrics: metrics.Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(registry_metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(m: metrics.Metrics, name: str, **labels: str) -> float | None:
    return samples(m).get((name, tuple(sorted(labels.items()))))


def test_run_lifecycle_is_counted():
    m = metrics.Metrics()
    created = runstatus.job_created(JobRunStatus(), "run-1", 0.3, T0)
    m.observe_transition("team", "nightly", "Schedule", JobRunStatus(), created)
    running = runstatus.replace_status(created, phase=RunPhase.RUNNING, startTime=T0)
    m.observe_transition("team", "nightly", "Schedule", created, running)
    done = runstatus.finish(running, RunPhase.SUCCEEDED, "Completed", "", T0 + timedelta(seconds=5))
    m.observe_transition("team", "nightly", "Schedule", running, done)
    labels = {"namespace": "team", "scheduled_job": "nightly"}
    assert value(m, "punctual_runs_started_total", trigger="Schedule", **labels) == 1
    assert value(m, "punctual_runs_finished_total", phase="Succeeded", **labels) == 1
    assert value(m, "punctual_schedule_lag_seconds_count", **labels) == 1
    assert value(m, "punctual_schedule_lag_seconds_bucket", le="0.5", **labels) == 1
    assert value(m, "punctual_schedule_lag_seconds_bucket", le="0.25", **labels) == 0
    m.observe_transition("team", "nightly", "Backfill", JobRunStatus(), runstatus.job_created(JobRunStatus(), "old", 86400, T0))
    assert value(m, "punctual_schedule_lag_seconds_count", **labels) == 1


def test_skip_ranges_count_occurrences_once():
    m = metrics.Metrics()
    first = runstatus.skipped(JobRunStatus(), "CatchUpPolicy", "m", T0, SkippedRange(first=T0, last=T0, count=1))
    m.observe_transition("team", "nightly", "CatchUp", JobRunStatus(), first)
    wider = runstatus.skipped(first, "CatchUpPolicy", "m", T0, SkippedRange(first=T0, last=T0 + timedelta(minutes=2), count=3))
    m.observe_transition("team", "nightly", "CatchUp", first, wider)
    assert value(m, "punctual_runs_skipped_total", namespace="team", scheduled_job="nightly", reason="CatchUpPolicy") == 3
    assert value(m, "punctual_runs_finished_total", namespace="team", scheduled_job="nightly", phase="Skipped") is None


def test_breaches_and_retries_are_counted():
    m = metrics.Metrics()
    running = runstatus.replace_status(runstatus.job_created(JobRunStatus(), "run-1", 0.1, T0), phase=RunPhase.RUNNING, startTime=T0)
    conditions = runstatus.set_condition(running.conditions, sla.CONDITION_SLA_BREACHED, ConditionStatus.TRUE, "SLABreached", "late", T0)
    breached = runstatus.replace_status(running, conditions=conditions)
    m.observe_transition("team", "nightly", "Schedule", running, breached)
    failed = runstatus.finish(breached, RunPhase.FAILED, "NonZeroExitCode", "exit 3", T0)
    retrying = runstatus.replace_status(failed, phase=RunPhase.PENDING, reason=runstatus.REASON_RETRY_SCHEDULED, completionTime=None)
    m.observe_transition("team", "nightly", "Schedule", breached, retrying)
    labels = {"namespace": "team", "scheduled_job": "nightly"}
    assert value(m, "punctual_sla_breaches_total", kind="warn", **labels) == 1
    assert value(m, "punctual_retries_total", reason="Failed", **labels) == 1
    assert value(m, "punctual_runs_finished_total", phase="Failed", **labels) is None


def test_forget_removes_series_of_deleted_scheduled_job():
    m = metrics.Metrics()
    m.set_active("team", "nightly", 2)
    m.set_active("team", "hourly", 1)
    m.count_notification("team", "nightly", "delivered")
    m.forget("team", "nightly")
    assert value(m, "punctual_active_runs", namespace="team", scheduled_job="nightly") is None
    assert value(m, "punctual_notifications_total", namespace="team", scheduled_job="nightly", result="delivered") is None
    assert value(m, "punctual_active_runs", namespace="team", scheduled_job="hourly") == 1


def test_names_and_labels_follow_prometheus_rules():
    m = metrics.Metrics()
    m.set_leader(True)
    m.set_active("team", "nightly", 1)
    m.count_notification("team", "nightly", "failed")
    m.observe_transition("team", "nightly", "Schedule", JobRunStatus(), runstatus.job_created(JobRunStatus(), "r", 0.1, T0))
    families = {f.name: f for f in text_string_to_metric_families(m.render().decode()) if f.name.startswith("punctual_")}
    expected = {
        "punctual_schedule_lag_seconds": "histogram",
        "punctual_runs_started": "counter",
        "punctual_runs_finished": "counter",
        "punctual_runs_skipped": "counter",
        "punctual_sla_breaches": "counter",
        "punctual_retries": "counter",
        "punctual_notifications": "counter",
        "punctual_active_runs": "gauge",
        "punctual_leader": "gauge",
        "punctual_build_info": "gauge",
    }
    for name, kind in expected.items():
        assert name in families, f"{name} is missing"
        assert families[name].type == kind, f"{name} is a {families[name].type}"
    for family in families.values():
        assert NAME.match(family.name), family.name
        assert family.documentation, f"{family.name} has no help text"
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
            assert set(sample.labels) - {"le"} <= BOUNDED_LABELS, sample.labels
    assert value(m, "punctual_leader") == 1
    assert samples(m)[("punctual_build_info", tuple(sorted({"version": metrics.VERSION,
                                                            "python_version": __import__("platform").python_version()}.items())))] == 1
