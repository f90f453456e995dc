"""The /metrics endpoint of a running operator: what it counts and that it follows Prometheus naming."""

from __future__ import annotations

import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import Api, Operator, eventually, job_template, phase

pytestmark = pytest.mark.cluster

NAME = re.compile(r"^[a-z_:][a-z0-9_:]*$")
# Label names a punctual_* series may have: at most the namespace and ScheduledJob name, plus fixed sets.
BOUNDED_LABELS = {"namespace", "scheduled_job", "phase", "trigger", "reason", "kind", "result", "le",
                  "version", "python_version"}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def sample_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_metrics_count_runs_and_follow_naming(api: Api, operator_with_metrics: tuple[Operator, int]):
    _, port = operator_with_metrics
    api.create_scheduled_job("counted", {
        "schedule": "@every 2s",
        "concurrencyPolicy": "Forbid",
        "successfulRunsHistoryLimit": 50,
        "skippedRunsHistoryLimit": 50,
        "jobTemplate": job_template(duration="3s"),
    })
    eventually(lambda: [r for r in api.job_runs("counted") if phase(r) == "Succeeded"], timeout=30,
               what="a Succeeded run")
    eventually(lambda: [r for r in api.job_runs("counted") if phase(r) == "Skipped"], timeout=30,
               what="a Skipped run")
    runs = {r["metadata"]["name"] for r in api.job_runs("counted")}
    labels = {"namespace": api.namespace, "scheduled_job": "counted"}

    text = eventually(
        lambda: (t := scrape(port)) and sample_value(t, "punctual_runs_finished_total", phase="Succeeded", **labels) and t,
        timeout=10, what="runs_finished counted",
    )
    assert sample_value(text, "punctual_runs_started_total", trigger="Schedule", **labels) >= 1
    assert sample_value(text, "punctual_runs_skipped_total", reason="ConcurrencyForbid", **labels) >= 1
    assert sample_value(text, "punctual_schedule_lag_seconds_count", **labels) >= 1
    assert sample_value(text, "punctual_schedule_lag_seconds_bucket", le="0.05", **labels) is not None
    assert sample_value(text, "punctual_schedule_lag_seconds_bucket", le="600.0", **labels) is not None
    assert sample_value(text, "punctual_active_runs", **labels) is not None
    assert sample_value(text, "punctual_leader") == 1

    families = [f for f in text_string_to_metric_families(text) if f.name.startswith("punctual_")]
    assert {f.name for f in families} >= {
        "punctual_schedule_lag_seconds", "punctual_runs_started", "punctual_runs_finished", "punctual_runs_skipped",
        "punctual_sla_breaches", "punctual_retries", "punctual_active_runs", "punctual_leader", "punctual_build_info",
    }
    for family in families:
        assert NAME.match(family.name), family.name
        assert family.documentation, f"{family.name} has no HELP text"
        if family.name.endswith("_seconds"):
            assert family.type == "histogram", family.name
        for sample in family.samples:
            assert NAME.match(sample.name), sample.name
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
            assert set(sample.labels) <= BOUNDED_LABELS, sample.labels
            assert not runs & set(sample.labels.values()), f"{sample.name} has a JobRun name as a label value"
