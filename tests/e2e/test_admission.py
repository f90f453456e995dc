"""The API server rejects what the CRD schema and CEL rules can see; the operator flags the rest."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from support import REPO_ROOT, Api, Operator, eventually, job_template

pytestmark = pytest.mark.cluster


def rejection(api: Api, name: str, spec: dict) -> str:
    with pytest.raises(ApiException) as raised:
        api.create_scheduled_job(name, spec)
    assert raised.value.status == 422, raised.value.body
    return json.loads(raised.value.body)["message"]


@pytest.mark.parametrize(
    ("spec_change", "field", "words"),
    [
        ({"schedule": "*/5 * * * * *"}, "spec.schedule", "5-field"),
        ({"schedule": "@reboot"}, "spec.schedule", "@reboot"),
        ({"schedule": "TZ=Europe/Berlin 0 9 * * *"}, "spec.schedule", "spec.timeZone"),
        ({"schedule": "CRON_TZ=UTC 0 9 * * *"}, "spec.schedule", "spec.timeZone"),
        ({"schedules": ["@hourly", "0 0 * * * *"]}, "spec.schedules[1]", "5-field"),
        ({"schedule": "@hourly", "schedules": ["@daily"]}, "spec", "exactly one"),
        ({"schedule": None}, "spec", "exactly one"),
        ({"jitterSeconds": -1}, "spec.jitterSeconds", "greater than or equal to 0"),
        ({"startingDeadlineSeconds": 10**9}, "spec.startingDeadlineSeconds", "less than or equal to"),
        ({"sla": {"timeoutSeconds": 0}}, "spec.sla.timeoutSeconds", "greater than or equal to 1"),
        ({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy", "Unsupported value"),
    ],
)
def test_schema_rejects_invalid_spec(api: Api, crds: None, spec_change: dict, field: str, words: str):
    spec = {"schedule": "@hourly", "jobTemplate": job_template()}
    spec.update(spec_change)
    spec = {key: value for key, value in spec.items() if value is not None}
    message = rejection(api, "invalid", spec)
    assert field in message, message
    assert words in message, message


def test_schema_rejects_long_name(api: Api, crds: None):
    message = rejection(api, "n" * 53, {"schedule": "@hourly", "jobTemplate": job_template()})
    assert "metadata.name" in message
    assert "52" in message
    api.create_scheduled_job("n" * 52, {"schedule": "@hourly", "jobTemplate": job_template()})


def test_job_run_spec_is_immutable(api: Api, crds: None):
    api.create_job_run("fixed", {"scheduledJobName": "someone", "trigger": "Manual"})
    with pytest.raises(ApiException) as raised:
        api.custom.patch_namespaced_custom_object(
            "punctual.dev", "v1alpha1", api.namespace, "jobruns", "fixed", {"spec": {"scheduledJobName": "other"}}
        )
    assert raised.value.status == 422
    assert "immutable" in json.loads(raised.value.body)["message"]


@pytest.mark.parametrize(
    ("spec_change", "reason", "words"),
    [
        ({"schedule": "0 0 31 2 *"}, "InvalidSchedule", "spec.schedule"),
        ({"schedule": "0 9 * * *", "timeZone": "Mars/Olympus_Mons"}, "UnknownTimeZone", "spec.timeZone"),
        ({"schedule": "61 * * * *"}, "InvalidSchedule", "spec.schedule"),
    ],
)
def test_operator_flags_invalid_schedule(api: Api, operator: Operator, spec_change: dict, reason: str, words: str):
    api.create_scheduled_job("meaningless", {"jobTemplate": job_template(), **spec_change})

    def flagged():
        conditions = (api.scheduled_job("meaningless").get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "ScheduleValid" and c["status"] == "False"), None)

    condition = eventually(flagged, timeout=15, what="ScheduleValid=False")
    assert condition["reason"] == reason
    assert words in condition["message"]
    ready = next(c for c in api.scheduled_job("meaningless")["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert eventually(lambda: api.events(reason), timeout=10, what=f"a Warning Event {reason}")[0].type == "Warning"
    assert not api.job_runs("meaningless")

    # Fixing the schedule makes the ScheduledJob valid again.
    api.patch_spec("meaningless", {"schedule": "@every 2s", "timeZone": "UTC"})
    eventually(lambda: api.job_runs("meaningless"), timeout=15, what="a run after the fix")
    fixed = next(c for c in api.scheduled_job("meaningless")["status"]["conditions"] if c["type"] == "ScheduleValid")
    assert fixed["status"] == "True"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_webhook_rejects_what_the_schema_cannot(
    api: Api, cluster: Any, crds: None, namespace: str, api_client: client.ApiClient, request: pytest.FixtureRequest
):
    log_dir = Path(cluster.log_dir) if cluster.log_dir else REPO_ROOT / ".punctual" / "logs"
    running = Operator(
        cluster.kubeconfig, namespace, log_dir / f"operator-{request.node.name}.log",
        ("--webhook", "--webhook-port", str(_free_port())),
    )
    running.log_path.unlink(missing_ok=True)
    request.node.punctual_operator = running
    admission = client.AdmissionregistrationV1Api(api_client)
    running.start()
    try:
        def rejected_message(name: str, spec: dict) -> str | None:
            try:
                api.create_scheduled_job(name, spec)
            except ApiException as error:
                assert error.status in (400, 403, 422), error.body
                return json.loads(error.body)["message"]
            api.delete_scheduled_job(name)
            return None

        # kopf registers the ValidatingWebhookConfiguration shortly after start.
        message = eventually(
            lambda: rejected_message("never", {"schedule": "0 0 31 2 *", "jobTemplate": job_template()}),
            timeout=30, what="the webhook to reject 0 0 31 2 *",
        )
        assert "spec.schedule" in message
        message = rejected_message("nowhere", {"schedule": "@hourly", "timeZone": "Mars/Olympus", "jobTemplate": job_template()})
        assert message is not None and "spec.timeZone" in message
        bad_template = job_template()
        bad_template["spec"]["template"]["spec"]["restartPolicy"] = "Always"
        message = rejected_message("badtemplate", {"schedule": "@hourly", "jobTemplate": bad_template})
        assert message is not None and "spec.jobTemplate" in message
        api.create_scheduled_job("fine", {"schedule": "@hourly", "jobTemplate": job_template()})
    finally:
        running.stop()
        try:
            admission.delete_validating_webhook_configuration("punctual.dev")
        except ApiException as error:
            if error.status != 404:
                raise
