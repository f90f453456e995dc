"""The local control plane behaves like a real cluster for the things Punctual relies on."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch
from support import eventually

import localcluster


def kubectl(cluster: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(localcluster.find_binary("kubectl")), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def make_job(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    backoff_limit: int = 0,
    active_deadline_seconds: int | None = None,
    ttl_seconds_after_finished: int | None = None,
) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            backoff_limit=backoff_limit,
            active_deadline_seconds=active_deadline_seconds,
            ttl_seconds_after_finished=ttl_seconds_after_finished,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations=annotations or {}),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[client.V1Container(name="main", image="busybox", command=["true"])],
                ),
            ),
        ),
    )


def job_condition(batch: client.BatchV1Api, namespace: str, name: str, condition_type: str) -> client.V1JobCondition | None:
    job = batch.read_namespaced_job(name, namespace)
    for condition in job.status.conditions or []:
        if condition.type == condition_type and condition.status == "True":
            return condition
    return None


def job_pods(core: client.CoreV1Api, namespace: str, job_name: str) -> list[client.V1Pod]:
    return list(core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job_name}").items)


def test_server_version_and_readyz(cluster: Any) -> None:
    version = kubectl(cluster, "version", "-o", "json")
    assert version.returncode == 0, version.stderr
    server = json.loads(version.stdout)["serverVersion"]
    assert server["gitVersion"].startswith("v1.37."), server
    assert server["minor"] == "37"

    readyz = kubectl(cluster, "get", "--raw", "/readyz")
    assert readyz.returncode == 0, readyz.stderr
    assert readyz.stdout.strip() == "ok"


def test_job_succeeds_after_duration(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    started = time.monotonic()
    batch.create_namespaced_job(namespace, make_job("succeed", annotations={"test.punctual.dev/duration": "3s"}))

    phases: list[str] = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, namespace, timeout_seconds=30):
        phase = event["object"].status.phase
        if not phases or phases[-1] != phase:
            phases.append(phase)
        if phase == "Succeeded":
            stream.stop()
    elapsed = time.monotonic() - started

    assert "Running" in phases, phases
    assert phases[-1] == "Succeeded", phases
    assert phases.index("Running") < phases.index("Succeeded")
    assert elapsed >= 3, f"the pod succeeded after {elapsed:.1f} s, before its 3 s duration"
    eventually(lambda: job_condition(batch, namespace, "succeed", "Complete"), timeout=20, what="Job Complete")


def test_job_fails_with_exit_code(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    annotations = {"test.punctual.dev/outcome": "fail", "test.punctual.dev/exit-code": "2", "test.punctual.dev/duration": "1s"}
    batch.create_namespaced_job(namespace, make_job("fail", annotations=annotations, backoff_limit=1))

    condition = eventually(lambda: job_condition(batch, namespace, "fail", "Failed"), timeout=60, what="Job Failed")
    assert condition.reason == "BackoffLimitExceeded"

    pods = job_pods(core, namespace, "fail")
    failed = [pod for pod in pods if pod.status.phase == "Failed"]
    assert len(failed) == 2, [(pod.metadata.name, pod.status.phase) for pod in pods]
    for pod in failed:
        terminated = pod.status.container_statuses[0].state.terminated
        assert terminated is not None
        assert terminated.exit_code == 2


def test_active_deadline_kills_hanging_job(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    started = time.monotonic()
    batch.create_namespaced_job(
        namespace,
        make_job("hang", annotations={"test.punctual.dev/outcome": "hang"}, active_deadline_seconds=5),
    )

    condition = eventually(lambda: job_condition(batch, namespace, "hang", "Failed"), timeout=20, what="Job Failed")
    elapsed = time.monotonic() - started
    assert condition.reason == "DeadlineExceeded"
    assert elapsed <= 12, f"DeadlineExceeded came after {elapsed:.1f} s for a 5 s deadline"


def test_deleting_job_removes_pods(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    batch.create_namespaced_job(namespace, make_job("doomed", annotations={"test.punctual.dev/outcome": "hang"}))
    eventually(
        lambda: [p for p in job_pods(core, namespace, "doomed") if p.status.phase == "Running"],
        timeout=20,
        what="a Running pod",
    )

    batch.delete_namespaced_job("doomed", namespace, propagation_policy="Background")
    eventually(lambda: not job_pods(core, namespace, "doomed"), timeout=30, what="the garbage collector to delete the pods")


def test_ttl_after_finished_removes_job(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    batch.create_namespaced_job(namespace, make_job("short-lived", ttl_seconds_after_finished=1))
    eventually(lambda: job_condition(batch, namespace, "short-lived", "Complete"), timeout=20, what="Job Complete")

    def job_gone() -> bool:
        return not batch.list_namespaced_job(namespace, field_selector="metadata.name=short-lived").items

    eventually(job_gone, timeout=30, what="ttl-after-finished to delete the Job")


def test_kubectl_logs_prints_configured_text(cluster: Any, api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    batch.create_namespaced_job(namespace, make_job("chatty", annotations={"test.punctual.dev/outcome": "hang"}))
    pod = eventually(
        lambda: next((p for p in job_pods(core, namespace, "chatty") if p.status.phase == "Running"), None),
        timeout=20,
        what="a Running pod",
    )

    result = kubectl(cluster, "logs", "-n", namespace, pod.metadata.name)
    assert result.returncode == 0, result.stderr
    assert result.stdout == localcluster.POD_LOG_TEXT


def test_pending_pod_never_starts(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    core = client.CoreV1Api(api_client)
    batch.create_namespaced_job(namespace, make_job("stuck", annotations={"test.punctual.dev/outcome": "pending"}))

    def waiting_pod() -> client.V1Pod | None:
        for pod in job_pods(core, namespace, "stuck"):
            statuses = pod.status.container_statuses or []
            if statuses and statuses[0].state.waiting is not None:
                return pod
        return None

    pod = eventually(waiting_pod, timeout=20, what="a pod with a waiting container")
    time.sleep(3)
    pod = core.read_namespaced_pod(pod.metadata.name, namespace)
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"


def test_pod_without_annotations_succeeds_quickly(api_client: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api_client)
    started = time.monotonic()
    batch.create_namespaced_job(namespace, make_job("plain"))
    eventually(lambda: job_condition(batch, namespace, "plain", "Complete"), timeout=15, what="Job Complete")
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"a plain Job took {elapsed:.1f} s to complete"


@pytest.mark.usefixtures("cluster")
def test_second_cluster_up_keeps_and_down_stops_everything(tmp_path: Path) -> None:
    """A second, separate cluster: up twice keeps the same processes, down leaves none."""
    paths = localcluster.Paths(tmp_path / "state")
    localcluster.up(paths)
    try:
        first_pids = localcluster.read_state(paths)["pids"]
        localcluster.up(paths)
        assert localcluster.read_state(paths)["pids"] == first_pids
        assert all(localcluster.pid_alive(int(pid)) for pid in first_pids.values())
    finally:
        localcluster.down(paths)

    alive = {name: pid for name, pid in first_pids.items() if localcluster.pid_alive(int(pid))}
    assert alive == {}
    assert not paths.state.exists()
    assert not paths.data.exists()
