"""Log capture end to end: the tail in JobRun status after the pods are gone, truncation, the archive.

KWOK plays the pods, and `kubectl logs` of any of them returns
localcluster.POD_LOG_TEXT, except in localcluster.BIG_LOG_NAMESPACE, where it
returns localcluster.big_log_text() (1 MiB). The shared cluster has that rule
only after a restart with the current hack/localcluster.py, so the big-log
tests start a small cluster of their own when it lacks the rule.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

import localcluster
from support import REPO_ROOT, Api, Operator, eventually, job_template, phase

pytestmark = pytest.mark.cluster

HISTORY = {"successfulRunsHistoryLimit": 20, "failedRunsHistoryLimit": 20, "skippedRunsHistoryLimit": 20}
POD_LOG = localcluster.POD_LOG_TEXT


def logs_of(run: dict[str, Any]) -> dict[str, Any]:
    return (run.get("status") or {}).get("logs") or {}


def kubectl(kubeconfig: str, *args: str) -> str:
    result = subprocess.run(
        [str(localcluster.find_binary("kubectl")), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@contextlib.contextmanager
def operators(
    kubeconfig: str, namespace: str, log_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Operator]]:
    """Yield a function that starts the operator with extra command-line options; stop all it started at exit."""
    started: list[Operator] = []
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"operator-{request.node.name}.log"
    log_path.unlink(missing_ok=True)

    def start(*extra_args: str) -> Operator:
        running = Operator(kubeconfig, namespace, log_path, tuple(extra_args))
        request.node.punctual_operator = running
        started.append(running)
        running.start()
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()


@pytest.fixture
def start_operator(cluster: Any, crds: None, namespace: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Start the operator on the shared cluster with extra command-line options."""
    log_dir = Path(cluster.log_dir) if cluster.log_dir else REPO_ROOT / ".punctual" / "logs"
    with operators(cluster.kubeconfig, namespace, log_dir, request) as start:
        yield start


def test_log_tail_outlives_job_ttl(api: Api, cluster: Any, start_operator: Any, namespace: str):
    start_operator()
    api.create_scheduled_job("tail", {
        "schedule": "@every 3s", **HISTORY, "jobTTLSecondsAfterFinished": 2, "jobTemplate": job_template(duration="1s"),
    })
    run = eventually(
        lambda: next((r for r in api.job_runs("tail") if phase(r) == "Succeeded" and logs_of(r).get("final")), None),
        timeout=30, what="a Succeeded run with a captured log",
    )
    name = run["metadata"]["name"]
    jobs = api.jobs("tail")
    assert any(job.spec.ttl_seconds_after_finished == 2 for job in jobs), "jobTTLSecondsAfterFinished not set on Jobs"

    def job_and_pods_gone() -> bool:
        job_names = {job.metadata.name for job in api.jobs("tail")}
        pods = api.core.list_namespaced_pod(namespace, label_selector=f"punctual.dev/job-run={name}").items
        return name not in job_names and not pods

    eventually(job_and_pods_gone, timeout=30, what=f"Job {name} and its pods deleted by ttlSecondsAfterFinished")

    shown = yaml.safe_load(kubectl(cluster.kubeconfig, "get", "jobrun", name, "-n", namespace, "-o", "yaml"))
    status = shown["status"]
    assert status["phase"] == "Succeeded", "the run lost its phase when its Job was deleted after finishing"
    assert status["reason"] == "Completed"
    assert status["logs"]["tail"] == POD_LOG
    assert status["logs"]["truncated"] is False
    assert status["logs"]["final"] is True
    assert status["logs"]["containers"] == ["main"]
    assert status["logs"]["pod"].startswith(f"{name}-")
    assert status["logs"]["capturedBytes"] == len(POD_LOG.encode())
    assert "note" not in status["logs"]
    assert status["attempts"][0]["logs"]["tail"] == POD_LOG

    plugin = subprocess.run(
        [sys.executable, "-m", "punctual.plugin.cli", "logs", name, "-n", namespace, "--kubeconfig", cluster.kubeconfig],
        capture_output=True, text=True, timeout=60,
    )
    assert plugin.returncode == 0, plugin.stderr
    assert plugin.stdout == POD_LOG


def test_job_deleted_at_finish_keeps_phase(api: Api, start_operator: Any):
    start_operator()
    api.create_scheduled_job("instant", {
        "schedule": "@every 2s", **HISTORY, "jobTTLSecondsAfterFinished": 0, "jobTemplate": job_template(duration="1s"),
    })
    finished = eventually(
        lambda: (runs := [r for r in api.job_runs("instant") if phase(r) not in (None, "Pending", "Running")])
        and len(runs) >= 4 and runs,
        timeout=40, what="four finished runs",
    )
    for run in finished:
        name = run["metadata"]["name"]
        assert phase(run) == "Succeeded", f"{name}: {run['status'].get('reason')}: {run['status'].get('message')}"
        logs = logs_of(run)
        # With no time between the end and the Job's deletion the log may be gone, and the note records that.
        assert logs.get("tail") == POD_LOG or "deleted" in (logs.get("note") or ""), f"{name}: {logs}"


def test_pod_deleted_while_running_keeps_snapshot(api: Api, start_operator: Any, namespace: str):
    start_operator("--log-snapshot-seconds", "1")
    api.create_scheduled_job("stuck", {
        "schedule": "@every 3s", "concurrencyPolicy": "Forbid", **HISTORY,
        "jobTemplate": job_template(outcome="hang"),
    })
    run = eventually(
        lambda: next((r for r in api.job_runs("stuck") if logs_of(r).get("tail")), None),
        timeout=30, what="a snapshot of the running pod's log",
    )
    name = run["metadata"]["name"]
    assert phase(run) == "Running"
    assert logs_of(run)["tail"] == POD_LOG
    assert logs_of(run)["final"] is False
    pod = logs_of(run)["pod"]

    api.core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
    ended = eventually(
        lambda: (r := api.job_run(name)) and phase(r) not in ("Pending", "Running") and logs_of(r).get("note") and r,
        timeout=40, what=f"JobRun {name} to end with a note about its log",
    )
    logs = logs_of(ended)
    assert logs["tail"] == POD_LOG, "the snapshot taken while the pod ran was lost"
    assert f"pod {pod} was deleted before its final log could be read" in logs["note"]
    assert logs["final"] is False


def test_multi_container_pod_has_a_section_per_container(api: Api, start_operator: Any):
    start_operator()
    template = job_template(duration="1s")
    template["spec"]["template"]["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]
    template["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    api.create_scheduled_job("multi", {"schedule": "@every 3s", **HISTORY, "jobTemplate": template})
    run = eventually(
        lambda: next((r for r in api.job_runs("multi") if logs_of(r).get("final")), None),
        timeout=30, what="a captured multi-container log",
    )
    logs = logs_of(run)
    # KWOK reports only the pod's containers as started, not its init containers.
    assert logs["containers"] == ["main", "sidecar"]
    assert logs["tail"] == f"==> container main <==\n{POD_LOG}==> container sidecar <==\n{POD_LOG}"


# ---------------------------------------------------------------- 1 MiB logs


@dataclass(frozen=True)
class BigLogCluster:
    kubeconfig: str
    log_dir: Path


@pytest.fixture(scope="module")
def big_log_cluster(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigLogCluster]:
    """A cluster whose pods in BIG_LOG_NAMESPACE log 1 MiB: the shared one if it has the rule, else a new one."""
    shared_config = localcluster.STATE_DIR / "kwok.yaml"
    if cluster.local and shared_config.is_file() and localcluster.BIG_LOG_NAMESPACE in shared_config.read_text():
        yield BigLogCluster(cluster.kubeconfig, Path(cluster.log_dir))
        return
    paths = localcluster.Paths(tmp_path_factory.mktemp("biglog") / "state")
    localcluster.up(paths)
    try:
        kubectl(str(paths.kubeconfig), "apply", "-f", str(REPO_ROOT / "crds" / "scheduledjobs.punctual.dev.yaml"),
                "-f", str(REPO_ROOT / "crds" / "jobruns.punctual.dev.yaml"))
        kubectl(str(paths.kubeconfig), "wait", "--for=condition=Established", "--timeout=60s",
                "crd/scheduledjobs.punctual.dev", "crd/jobruns.punctual.dev")
        yield BigLogCluster(str(paths.kubeconfig), paths.logs)
    finally:
        localcluster.down(paths)


@pytest.fixture
def big_log_api(big_log_cluster: BigLogCluster) -> Iterator[Api]:
    """An Api on a fresh BIG_LOG_NAMESPACE, deleted (and waited for) afterwards."""
    api_client = config.new_client_from_config(config_file=big_log_cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    namespace = localcluster.BIG_LOG_NAMESPACE
    eventually(lambda: _namespace_absent(core, namespace), timeout=120, what=f"namespace {namespace} gone")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    eventually(
        lambda: core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items,
        timeout=30, what=f"ServiceAccount default in {namespace}",
    )
    try:
        yield Api(api_client, namespace)
    finally:
        core.delete_namespace(namespace, propagation_policy="Background")
        eventually(lambda: _namespace_absent(core, namespace), timeout=120, what=f"namespace {namespace} deleted")
        api_client.close()


def _namespace_absent(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
        return False
    except ApiException as error:
        if error.status == 404:
            return True
        raise


@pytest.fixture
def big_log_operator(big_log_cluster: BigLogCluster, big_log_api: Api, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Start the operator on the big-log cluster with extra command-line options."""
    with operators(big_log_cluster.kubeconfig, big_log_api.namespace, big_log_cluster.log_dir, request) as start:
        yield start


def one_finished_run(api: Api, scheduled_job: str) -> dict[str, Any]:
    return eventually(
        lambda: next((r for r in api.job_runs(scheduled_job) if logs_of(r).get("final")), None),
        timeout=60, what="a run with its final log captured",
    )


def test_big_log_default_tail_is_truncated(big_log_api: Api, big_log_operator: Any):
    big_log_operator()
    big_log_api.create_scheduled_job("big", {
        "schedule": "@every 5s", "concurrencyPolicy": "Forbid", **HISTORY, "jobTemplate": job_template(duration="1s"),
    })
    logs = logs_of(one_finished_run(big_log_api, "big"))
    expected = localcluster.big_log_text()[-16384:]
    assert logs["truncated"] is True
    assert logs["capturedBytes"] == 16384
    assert logs["tail"] == expected
    assert "archiveRef" not in logs
    assert "note" not in logs


def test_big_log_archived_and_served(big_log_api: Api, big_log_operator: Any, tmp_path: Path):
    port = localcluster.free_port()
    archive = tmp_path / "archive"
    base_url = f"http://127.0.0.1:{port}"
    big_log_operator(
        "--log-tail-bytes", "65536", "--log-archive-dir", str(archive), "--log-archive-url", base_url,
        "--log-server-host", "127.0.0.1", "--log-server-port", str(port),
    )
    namespace = big_log_api.namespace
    big_log_api.create_scheduled_job("big", {
        "schedule": "@every 5s", "concurrencyPolicy": "Forbid", **HISTORY, "jobTemplate": job_template(duration="1s"),
    })
    run = one_finished_run(big_log_api, "big")
    name = run["metadata"]["name"]
    logs = logs_of(run)
    full = localcluster.big_log_text()
    assert len(full.encode()) == 1024 * 1024
    assert logs["truncated"] is True
    assert logs["tail"] == full[-65536:]
    assert logs["capturedBytes"] == 65536
    assert logs["archivedBytes"] == len(full.encode())
    assert logs["archiveRef"] == f"{base_url}/logs/{namespace}/{name}?attempt=1"
    assert run["status"]["attempts"][0]["logs"]["archiveRef"] == logs["archiveRef"]

    status, body = http_get(logs["archiveRef"])
    assert status == 200
    assert body == full
    assert http_get(f"{base_url}/logs/{namespace}/{name}") == (200, full)
    assert http_get(f"{base_url}/logs/{namespace}/{name}?attempt=2")[0] == 404
    assert http_get(f"{base_url}/logs/{namespace}/no-such-run")[0] == 404
    assert http_get(f"{base_url}/logs/{namespace}/{name}?attempt=x")[0] == 400
    assert http_get(f"{base_url}/logs/{namespace}/Not_A_Name")[0] == 400
    assert (archive / namespace / name / "attempt-1.log").read_text() == full


def test_archive_follows_job_run_deletion(big_log_api: Api, big_log_operator: Any, tmp_path: Path):
    port = localcluster.free_port()
    archive = tmp_path / "archive"
    options = ("--log-archive-dir", str(archive), "--log-server-host", "127.0.0.1", "--log-server-port", str(port))
    operator = big_log_operator(*options)
    namespace = big_log_api.namespace
    big_log_api.create_scheduled_job("big", {
        "schedule": "@every 4s", "concurrencyPolicy": "Forbid", **HISTORY, "jobTemplate": job_template(duration="1s"),
    })
    archived = eventually(
        lambda: (runs := [r for r in big_log_api.job_runs("big") if logs_of(r).get("archiveRef")]) and len(runs) >= 3
        and runs,
        timeout=60, what="three archived runs",
    )
    first, second, third = (run["metadata"]["name"] for run in archived[:3])
    # Without --log-archive-url the reference is the file itself.
    assert logs_of(archived[0])["archiveRef"] == str(archive / namespace / first / "attempt-1.log")

    big_log_api.custom.delete_namespaced_custom_object("punctual.dev", "v1alpha1", namespace, "jobruns", first)
    eventually(lambda: not (archive / namespace / first).exists(), timeout=20,
               what=f"the archive of deleted JobRun {first} removed")
    assert http_get(f"http://127.0.0.1:{port}/logs/{namespace}/{first}")[0] == 404

    # Deleted while the operator is down: the sweep after the restart removes the orphan.
    operator.stop()
    big_log_api.custom.delete_namespaced_custom_object("punctual.dev", "v1alpha1", namespace, "jobruns", second)
    big_log_api.patch_spec("big", {"suspend": True})
    operator.start()
    eventually(lambda: not (archive / namespace / second).exists(), timeout=60,
               what=f"the sweep to remove the archive of {second}")
    assert (archive / namespace / third / "attempt-1.log").is_file(), f"the sweep removed {third}, which exists"


def test_pod_that_never_started_gets_note(api: Api, start_operator: Any, namespace: str):
    start_operator()
    api.create_scheduled_job("unpulled", {
        "schedule": "@every 30s", "concurrencyPolicy": "Forbid", **HISTORY,
        "jobTemplate": job_template(outcome="pending"),
    })
    run = eventually(
        lambda: next((r for r in api.job_runs("unpulled") if (r.get("status") or {}).get("jobName")), None),
        timeout=40, what="a run with a Job",
    )
    name = run["metadata"]["name"]
    eventually(
        lambda: [pod for pod in api.core.list_namespaced_pod(namespace, label_selector=f"punctual.dev/job-run={name}").items
                 if any(s.state.waiting for s in pod.status.container_statuses or [])],
        timeout=20, what="the pod waiting for its image",
    )
    api.batch.delete_namespaced_job(run["status"]["jobName"], namespace, propagation_policy="Background")
    ended = eventually(
        lambda: (r := api.job_run(name)) and logs_of(r).get("note") and r,
        timeout=30, what=f"a note on the log of JobRun {name}",
    )
    note = logs_of(ended)["note"]
    assert "started (ImagePullBackOff" in note, note
    assert "tail" not in logs_of(ended)
