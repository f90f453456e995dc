"""SLA enforcement: timeouts (and the operator's backstop), the soft duration SLA and the start SLA."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

import localcluster
from support import Api, Operator, eventually, install_crds, job_template, parse_time, phase, reason, scheduled_unix
from webhooks import WebhookServer, create_url_secret, sink

pytestmark = pytest.mark.cluster

NEVER = "0 0 1 1 *"
HISTORY = {"successfulRunsHistoryLimit": 50, "failedRunsHistoryLimit": 50, "skippedRunsHistoryLimit": 50}


def condition(run: dict, condition_type: str) -> dict | None:
    return next((c for c in (run.get("status") or {}).get("conditions") or [] if c["type"] == condition_type), None)


def run_pods(api: Api, run: str) -> list[client.V1Pod]:
    return api.core.list_namespaced_pod(api.namespace, label_selector=f"punctual.dev/job-run={run}").items


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_timeout_stops_hanging_run(api: Api, operator: Operator):
    api.create_scheduled_job("hang", {
        "schedule": NEVER, "sla": {"timeoutSeconds": 6}, "jobTemplate": job_template(outcome="hang"),
    })
    api.create_job_run("hang-now", {"scheduledJobName": "hang", "trigger": "Manual"})
    run = eventually(lambda: (r := api.job_run("hang-now")) and phase(r) == "TimedOut" and r, timeout=30,
                     what="the run TimedOut")
    assert reason(run) == "DeadlineExceeded"
    assert "sla.timeoutSeconds" in run["status"]["message"]
    job = api.batch.read_namespaced_job("hang-now", api.namespace)
    ran_for = (parse_time(run["status"]["completionTime"]) - job.status.start_time).total_seconds()
    assert 6 <= ran_for <= 10, f"timed out {ran_for} s after the Job started"
    assert run["status"]["attempts"][0]["reason"] == "DeadlineExceeded"
    eventually(lambda: not run_pods(api, "hang-now"), timeout=20, what="the pod gone")
    assert api.events("RunTimedOut")


def test_backstop_ends_run_without_job_controller(tmp_path: Path, request: pytest.FixtureRequest):
    # A cluster of this test's own: pausing its kube-controller-manager stops only its Job controller.
    paths = localcluster.Paths(tmp_path / "state")
    localcluster.up(paths)
    try:
        api_client = config.new_client_from_config(config_file=str(paths.kubeconfig))
        install_crds(api_client)
        namespace = f"backstop-{uuid.uuid4().hex[:6]}"
        core = client.CoreV1Api(api_client)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        eventually(lambda: core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items,
                   timeout=30, what="the default ServiceAccount")
        api = Api(api_client, namespace)
        operator = Operator(str(paths.kubeconfig), namespace, tmp_path / "operator.log")
        request.node.punctual_operator = operator
        operator.start()
        controller_manager = int(json.loads(paths.state.read_text())["pids"]["kube-controller-manager"])
        paused = False
        try:
            api.create_scheduled_job("stuck", {
                "schedule": NEVER, "sla": {"timeoutSeconds": 4}, "jobTemplate": job_template(outcome="hang"),
            })
            api.create_job_run("stuck-now", {"scheduledJobName": "stuck", "trigger": "Manual"})
            eventually(lambda: phase(api.job_run("stuck-now")) == "Running", timeout=30, what="the run Running")
            os.kill(controller_manager, signal.SIGSTOP)
            paused = True
            stopped_at = time.monotonic()
            run = eventually(lambda: (r := api.job_run("stuck-now")) and phase(r) == "TimedOut" and r, timeout=40,
                             what="the operator's backstop")
            assert reason(run) == "OperatorTimeout"
            assert "the operator ended the attempt" in run["status"]["message"]
            assert time.monotonic() - stopped_at < 4 + 10 + 8
            assert "OperatorTimeout" in operator.log_text() or "deleted Job stuck-now" in operator.log_text()
            eventually(lambda: not [j for j in api.jobs("stuck") if j.metadata.deletion_timestamp is None],
                       timeout=10, what="the Job deleted")
            os.kill(controller_manager, signal.SIGCONT)
            paused = False
            eventually(lambda: not run_pods(api, "stuck-now"), timeout=60, what="the pod gone")
            assert api.events("RunTimedOut")
        finally:
            if paused:
                os.kill(controller_manager, signal.SIGCONT)
            operator.stop()
            api_client.close()
    finally:
        localcluster.down(paths)


def test_warn_after_breaches_and_run_goes_on(api: Api, operator_with_metrics: tuple[Operator, int]):
    _, metrics_port = operator_with_metrics
    server = WebhookServer().start()
    try:
        create_url_secret(api.core, api.namespace, "hooks", {"ops": server.url()})
        api.create_scheduled_job("slowish", {
            "schedule": "@every 6s", **HISTORY,
            "sla": {"warnAfterSeconds": 3},
            "notify": [sink("ops", ["SLABreached"], "hooks", "ops")],
            "jobTemplate": job_template(duration="10s"),
        })
        first = eventually(
            lambda: next((r for r in api.job_runs("slowish") if condition(r, "SLABreached")), None),
            timeout=30, what="an SLABreached run",
        )
        name = first["metadata"]["name"]
        breach = condition(first, "SLABreached")
        assert breach["status"] == "True"
        after_start = (parse_time(breach["lastTransitionTime"]) - parse_time(first["status"]["startTime"])).total_seconds()
        assert 3 <= after_start <= 5, f"breached {after_start} s after the start"
        assert phase(first) == "Running"
        done = eventually(lambda: (r := api.job_run(name)) and phase(r) == "Succeeded" and r, timeout=30,
                          what="the breached run Succeeded")
        assert condition(done, "SLABreached")["status"] == "True"
        later = [r for r in api.job_runs("slowish")
                 if scheduled_unix(r) > scheduled_unix(first) and "scheduleLagSeconds" in (r.get("status") or {})]
        assert later, "no later occurrence started"
        assert later[0]["status"]["scheduleLagSeconds"] < 1.5
        assert scheduled_unix(later[0]) == scheduled_unix(first) + 6
        assert api.events("SLABreached")
        eventually(lambda: server.received("SLABreached", name), timeout=15, what="the SLABreached notification")
        time.sleep(2)
        assert len(server.received("SLABreached", name)) == 1
        text = scrape(metrics_port)
        assert f'punctual_sla_breaches_total{{kind="warn",namespace="{api.namespace}",scheduled_job="slowish"}}' in text
    finally:
        server.stop()


def test_start_sla_warns_with_waiting_reason(api: Api, operator: Operator):
    api.create_scheduled_job("pull", {
        "schedule": NEVER, "sla": {"startWithinSeconds": 3}, "jobTemplate": job_template(outcome="pending"),
    })
    api.create_job_run("pull-now", {"scheduledJobName": "pull", "trigger": "Manual"})
    run = eventually(lambda: (r := api.job_run("pull-now")) and condition(r, "StartSLABreached") and r, timeout=20,
                     what="StartSLABreached")
    breach = condition(run, "StartSLABreached")
    assert breach["status"] == "True"
    assert "ImagePullBackOff" in breach["message"]
    assert phase(run) == "Pending"
    assert api.events("StartSLABreached")
    time.sleep(2)
    assert phase(api.job_run("pull-now")) == "Pending"
    assert api.jobs("pull")


def test_start_sla_deadline_survives_restart(api: Api, operator: Operator):
    api.create_scheduled_job("late", {
        "schedule": NEVER, "sla": {"startWithinSeconds": 8}, "jobTemplate": job_template(outcome="pending"),
    })
    created = api.create_job_run("late-now", {"scheduledJobName": "late", "trigger": "Manual"})
    eventually(lambda: api.jobs("late"), timeout=15, what="the Job")
    # Down across the deadline: the restarted operator must find it in the cluster, not in its memory.
    operator.kill()
    time.sleep(max(0.0, 9 - (time.time() - parse_time(created["metadata"]["creationTimestamp"]).timestamp())))
    assert not condition(api.job_run("late-now"), "StartSLABreached")
    operator.start()
    run = eventually(lambda: (r := api.job_run("late-now")) and condition(r, "StartSLABreached") and r, timeout=15,
                     what="StartSLABreached after the restart")
    assert condition(run, "StartSLABreached")["status"] == "True"
    assert "startWithinSeconds 8 s" in condition(run, "StartSLABreached")["message"]


def test_start_sla_fail_frees_forbid_schedule(api: Api, operator: Operator):
    api.create_scheduled_job("blocked", {
        "schedule": "@every 8s", "concurrencyPolicy": "Forbid", **HISTORY,
        "sla": {"startWithinSeconds": 3, "onStartBreach": "Fail"},
        "jobTemplate": job_template(outcome="pending"),
    })
    failed = eventually(
        lambda: [r for r in api.job_runs("blocked") if reason(r) == "StartSLABreached"], timeout=30,
        what="a run failed by the start SLA",
    )[0]
    assert phase(failed) == "Failed"
    assert "ImagePullBackOff" in failed["status"]["message"]
    assert "onStartBreach Fail" in failed["status"]["message"]
    eventually(lambda: not [j for j in api.jobs("blocked")
                            if j.metadata.name == failed["status"]["jobName"] and j.metadata.deletion_timestamp is None],
               timeout=10, what="the failed run's Job deleted")
    later = eventually(
        lambda: [r for r in api.job_runs("blocked")
                 if scheduled_unix(r) > scheduled_unix(failed) and "scheduleLagSeconds" in (r.get("status") or {})],
        timeout=20, what="the next occurrence started",
    )
    assert later[0]["status"]["scheduleLagSeconds"] < 1.5
    assert not [r for r in api.job_runs("blocked") if reason(r) == "ConcurrencyForbid"]
