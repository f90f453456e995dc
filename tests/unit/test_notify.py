"""Notification events, delivery records, bodies and the classification of webhook responses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from punctual import notify, runstatus, sla
from punctual.models import (
    ConditionStatus,
    DeliveryState,
    JobRunStatus,
    NotifyEvent,
    NotifyFormat,
    NotifySink,
    RunPhase,
    SecretKeyRef,
    format_time,
)

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
SECRET_URL = "https://hooks.example.invalid/services/T000/B000/SECRET-TOKEN"


def sink(name: str, *events: NotifyEvent, sink_format: NotifyFormat = NotifyFormat.JSON) -> NotifySink:
    return NotifySink(name=name, events=list(events), format=sink_format,
                      urlSecretRef=SecretKeyRef(name="hooks", key=name))


def running() -> JobRunStatus:
    created = runstatus.job_created(JobRunStatus(), "run-1", 0.2, T0)
    return runstatus.replace_status(created, phase=RunPhase.RUNNING, startTime=T0 + timedelta(seconds=1))


def test_events_of_phase_changes():
    old = running()
    for phase, event in [
        (RunPhase.SUCCEEDED, NotifyEvent.SUCCEEDED),
        (RunPhase.FAILED, NotifyEvent.FAILED),
        (RunPhase.TIMED_OUT, NotifyEvent.TIMED_OUT),
        (RunPhase.SKIPPED, NotifyEvent.SKIPPED),
    ]:
        new = runstatus.finish(old, phase, "r", "m", T0)
        assert notify.events_between(old, new) == [event]
        assert notify.events_between(new, new) == []
    cancelled = runstatus.finish(old, RunPhase.CANCELLED, "Replaced", "m", T0)
    assert notify.events_between(old, cancelled) == []


def test_events_of_sla_conditions():
    old = running()
    conditions = runstatus.set_condition(old.conditions, sla.CONDITION_SLA_BREACHED, ConditionStatus.TRUE, "SLABreached", "late", T0)
    conditions = runstatus.set_condition(conditions, sla.CONDITION_START_SLA_BREACHED, ConditionStatus.TRUE, "StartSLABreached", "late", T0)
    new = runstatus.replace_status(old, conditions=conditions)
    assert set(notify.events_between(old, new)) == {NotifyEvent.SLA_BREACHED, NotifyEvent.START_SLA_BREACHED}
    assert notify.events_between(new, new) == []


def test_add_pending_once_per_sink_and_event():
    sinks = [sink("ops", NotifyEvent.FAILED, NotifyEvent.SLA_BREACHED), sink("chat", NotifyEvent.SUCCEEDED)]
    status = notify.add_pending(running(), sinks, [NotifyEvent.FAILED])
    assert [(r.sink, r.event, r.state) for r in status.notifications] == [("ops", NotifyEvent.FAILED, DeliveryState.PENDING)]
    assert notify.add_pending(status, sinks, [NotifyEvent.FAILED]) is status
    delivered = notify.set_record(status, "ops", NotifyEvent.FAILED, state=DeliveryState.DELIVERED)
    again = notify.add_pending(delivered, sinks, [NotifyEvent.FAILED])
    assert len(again.notifications) == 1
    assert again.notifications[0].state == DeliveryState.DELIVERED
    assert notify.add_pending(running(), None, [NotifyEvent.FAILED]).notifications is None


def body(status: JobRunStatus, tail: str | None = None) -> dict:
    raw = status.to_api()
    if tail is not None:
        raw["logs"] = {"tail": tail}
    return {
        "metadata": {"namespace": "team", "name": "nightly-1780315200", "creationTimestamp": format_time(T0)},
        "spec": {"scheduledJobName": "nightly", "scheduledTime": format_time(T0)},
        "status": raw,
    }


def test_json_body_has_run_facts_and_log_tail():
    done = runstatus.finish(running(), RunPhase.FAILED, "NonZeroExitCode", "container 'main' exited with code 3", T0 + timedelta(seconds=9))
    facts = notify.RunFacts.from_body(body(done, tail="line 1\nline 2\n"))
    payload = notify.build_body(NotifyFormat.JSON, facts, NotifyEvent.FAILED)
    assert payload["event"] == "Failed"
    assert payload["run"] == "nightly-1780315200"
    assert payload["scheduledJob"] == "nightly"
    assert payload["namespace"] == "team"
    assert payload["phase"] == "Failed"
    assert payload["reason"] == "NonZeroExitCode"
    assert payload["message"] == "container 'main' exited with code 3"
    assert payload["scheduledTime"] == "2026-06-01T12:00:00Z"
    assert payload["durationSeconds"] == 8
    assert payload["logTail"] == "line 1\nline 2\n"
    without_tail = notify.build_body(NotifyFormat.JSON, notify.RunFacts.from_body(body(done)), NotifyEvent.FAILED)
    assert "logTail" not in without_tail


def test_json_body_of_sla_event_has_condition_message():
    old = running()
    conditions = runstatus.set_condition(old.conditions, sla.CONDITION_SLA_BREACHED, ConditionStatus.TRUE, "SLABreached",
                                         "running for 3 s", T0)
    facts = notify.RunFacts.from_body(body(runstatus.replace_status(old, conditions=conditions)))
    assert notify.build_body(NotifyFormat.JSON, facts, NotifyEvent.SLA_BREACHED)["message"] == "running for 3 s"


def test_slack_body_is_text_only():
    done = runstatus.finish(running(), RunPhase.SUCCEEDED, "Completed", "Job completed", T0 + timedelta(seconds=9))
    payload = notify.build_body(NotifyFormat.SLACK, notify.RunFacts.from_body(body(done, tail="x" * 5000)), NotifyEvent.SUCCEEDED)
    assert list(payload) == ["text"]
    assert "*Succeeded*" in payload["text"]
    assert "team/nightly-1780315200" in payload["text"]
    assert payload["text"].count("x") <= notify.LOG_TAIL_CHARS[NotifyFormat.SLACK]


@pytest.mark.parametrize(
    ("http_status", "outcome"),
    [(200, notify.Outcome.DELIVERED), (204, notify.Outcome.DELIVERED), (500, notify.Outcome.RETRY),
     (503, notify.Outcome.RETRY), (429, notify.Outcome.RETRY), (408, notify.Outcome.RETRY),
     (404, notify.Outcome.FAILED), (400, notify.Outcome.FAILED), (301, notify.Outcome.FAILED)],
)
def test_http_answers(http_status, outcome):
    assert notify.result_of_status(http_status).outcome == outcome


def test_errors_retried_only_before_sending():
    refused = aiohttp.ClientConnectorError(connection_key=None, os_error=OSError(111, f"refused {SECRET_URL}"))
    assert notify.result_of_error(refused, 5).outcome == notify.Outcome.RETRY
    assert notify.result_of_error(aiohttp.ConnectionTimeoutError(), 5).outcome == notify.Outcome.RETRY
    read_timeout = notify.result_of_error(asyncio.TimeoutError(), 5)
    assert read_timeout.outcome == notify.Outcome.FAILED
    assert "within 5 s" in read_timeout.error
    assert notify.result_of_error(aiohttp.ServerDisconnectedError(), 5).outcome == notify.Outcome.FAILED
    for error in (refused, aiohttp.InvalidURL(SECRET_URL)):
        assert "SECRET-TOKEN" not in (notify.result_of_error(error, 5).error or "")


def test_retry_delays_grow():
    delays = [notify.retry_delay(n) for n in range(1, notify.MAX_DELIVERY_ATTEMPTS)]
    assert delays == sorted(delays)
    assert delays[0] >= 1
