"""Webhook notifications: one delivery per (run, event), across operator kills, off the scheduling path."""

from __future__ import annotations

import time

import pytest

from support import Api, Operator, eventually, job_template, phase
from webhooks import WebhookServer, create_url_secret, free_port, sink

pytestmark = pytest.mark.cluster

NEVER = "0 0 1 1 *"
SECRET = "hooks"


def notifications(api: Api, run: str) -> dict[tuple[str, str], dict]:
    records = (api.job_run(run).get("status") or {}).get("notifications") or []
    return {(r["sink"], r["event"]): r for r in records}


def record_state(api: Api, run: str, sink_name: str, event: str) -> str | None:
    record = notifications(api, run).get((sink_name, event))
    return record["state"] if record else None


def manual_run(api: Api, scheduled_job: str, name: str) -> None:
    api.create_job_run(name, {"scheduledJobName": scheduled_job, "trigger": "Manual"})


def assert_no_secret_leak(api: Api, operator: Operator, token: str) -> None:
    assert token not in operator.log_text()
    for event in api.core.list_namespaced_event(api.namespace).items:
        assert token not in (event.message or "")
    for run in api.job_runs():
        assert token not in str(run.get("status"))


def test_webhook_gets_each_event_once(api: Api, operator: Operator):
    server = WebhookServer().start()
    try:
        token = "json-token-4f1c"
        create_url_secret(api.core, api.namespace, SECRET, {
            "ops": server.url(f"/ops/{token}"), "chat": server.url(f"/chat/{token}"),
        })
        api.create_scheduled_job("notified", {
            "schedule": NEVER,
            "notify": [
                sink("ops", ["Succeeded", "Failed"], SECRET, "ops"),
                sink("chat", ["Succeeded"], SECRET, "chat", format="slack"),
            ],
            "jobTemplate": job_template(duration="1s"),
        })
        manual_run(api, "notified", "notified-ok")
        eventually(lambda: record_state(api, "notified-ok", "ops", "Succeeded") == "Delivered", timeout=30,
                   what="the ops notification Delivered")
        eventually(lambda: record_state(api, "notified-ok", "chat", "Succeeded") == "Delivered", timeout=10,
                   what="the chat notification Delivered")
        time.sleep(3)  # a duplicate would arrive in this time

        ops = [d for d in server.deliveries if d.path.startswith("/ops/")]
        chat = [d for d in server.deliveries if d.path.startswith("/chat/")]
        assert len(ops) == 1, [d.body for d in ops]
        assert len(chat) == 1, [d.body for d in chat]
        body = ops[0].body
        assert body["event"] == "Succeeded"
        assert body["run"] == "notified-ok"
        assert body["scheduledJob"] == "notified"
        assert body["namespace"] == api.namespace
        assert body["phase"] == "Succeeded"
        assert body["completionTime"]
        assert list(chat[0].body) == ["text"]
        assert "notified-ok" in chat[0].body["text"]
        record = notifications(api, "notified-ok")[("ops", "Succeeded")]
        assert record["attempts"] == 1
        assert ("ops", "Failed") not in notifications(api, "notified-ok")
        assert_no_secret_leak(api, operator, token)
    finally:
        server.stop()


def test_delivery_survives_operator_kill(api: Api, operator: Operator):
    port = free_port()  # nothing listens yet, so the first tries fail to connect
    create_url_secret(api.core, api.namespace, SECRET, {"ops": f"http://127.0.0.1:{port}/ops"})
    api.create_scheduled_job("killed", {
        "schedule": NEVER,
        "notify": [sink("ops", ["Succeeded"], SECRET, "ops")],
        "jobTemplate": job_template(duration="1s"),
    })
    manual_run(api, "killed", "killed-ok")
    eventually(lambda: phase(api.job_run("killed-ok")) == "Succeeded", timeout=30, what="the run Succeeded")
    eventually(lambda: notifications(api, "killed-ok").get(("ops", "Succeeded"), {}).get("attempts", 0) >= 1,
               timeout=15, what="a failed delivery try")
    record = notifications(api, "killed-ok")[("ops", "Succeeded")]
    assert record["state"] == "Pending"
    assert "could not connect" in record["lastError"]

    operator.kill()
    server = WebhookServer(port).start()
    try:
        operator.start()
        eventually(lambda: record_state(api, "killed-ok", "ops", "Succeeded") == "Delivered", timeout=40,
                   what="delivery after the restart")
        time.sleep(3)
        assert len(server.received("Succeeded", "killed-ok")) == 1
    finally:
        server.stop()


def test_request_in_flight_at_kill_is_not_resent(api: Api, operator: Operator):
    server = WebhookServer(delay=60).start()  # accepts the request and responds only after the timeout
    try:
        create_url_secret(api.core, api.namespace, SECRET, {"ops": server.url()})
        api.create_scheduled_job("inflight", {
            "schedule": NEVER,
            "notify": [sink("ops", ["Succeeded"], SECRET, "ops", timeoutSeconds=30)],
            "jobTemplate": job_template(duration="1s"),
        })
        manual_run(api, "inflight", "inflight-ok")
        eventually(lambda: record_state(api, "inflight-ok", "ops", "Succeeded") == "Sending", timeout=30,
                   what="the request in flight")
        eventually(lambda: server.received("Succeeded"), timeout=10, what="the request at the webhook")
        operator.kill()
        operator.start()
        eventually(lambda: record_state(api, "inflight-ok", "ops", "Succeeded") == "Failed", timeout=20,
                   what="the interrupted delivery marked Failed")
        record = notifications(api, "inflight-ok")[("ops", "Succeeded")]
        assert "in flight" in record["lastError"]
        time.sleep(3)
        assert len(server.received("Succeeded", "inflight-ok")) == 1
    finally:
        server.stop()


def test_slow_webhook_delays_no_run(api: Api, operator: Operator):
    server = WebhookServer(delay=30).start()
    try:
        create_url_secret(api.core, api.namespace, SECRET, {"ops": server.url()})
        api.create_scheduled_job("busy", {
            "schedule": "@every 2s",
            "notify": [sink("ops", ["Succeeded"], SECRET, "ops", timeoutSeconds=3)],
            "successfulRunsHistoryLimit": 50,
            "jobTemplate": job_template(duration="1s"),
        })
        eventually(lambda: len([r for r in api.job_runs("busy") if phase(r) == "Succeeded"]) >= 5, timeout=40,
                   what="five Succeeded runs")
        lags = [r["status"]["scheduleLagSeconds"] for r in api.job_runs("busy")
                if "scheduleLagSeconds" in (r.get("status") or {})]
        assert len(lags) >= 5
        assert max(lags) < 1.5, lags
        timed_out = eventually(
            lambda: [r for r in api.job_runs("busy")
                     if record_state(api, r["metadata"]["name"], "ops", "Succeeded") == "Failed"],
            timeout=30, what="a timed-out delivery",
        )
        record = notifications(api, timed_out[0]["metadata"]["name"])[("ops", "Succeeded")]
        assert "did not answer within 3 s" in record["lastError"]
    finally:
        server.stop()


def test_missing_secret_is_reported_without_url(api: Api, operator: Operator):
    api.create_scheduled_job("nosecret", {
        "schedule": NEVER,
        "notify": [sink("ops", ["Succeeded"], "absent", "ops")],
        "jobTemplate": job_template(duration="1s"),
    })
    manual_run(api, "nosecret", "nosecret-ok")
    eventually(lambda: notifications(api, "nosecret-ok").get(("ops", "Succeeded"), {}).get("lastError"),
               timeout=30, what="a delivery error")
    record = notifications(api, "nosecret-ok")[("ops", "Succeeded")]
    assert "Secret absent" in record["lastError"]
    assert "not found" in record["lastError"]
