"""Helpers of the operator's end-to-end tests: the operator subprocess, API calls and run analysis."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

REPO_ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "punctual.dev", "v1alpha1"
SCHEDULED_TIME = "punctual.dev/scheduled-time"
CRD_FILES = [REPO_ROOT / "crds" / "scheduledjobs.punctual.dev.yaml", REPO_ROOT / "crds" / "jobruns.punctual.dev.yaml"]

T = TypeVar("T")


def eventually(check: Callable[[], T | None], *, timeout: float, interval: float = 0.25, what: str = "condition") -> T:
    """Poll check until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class Operator:
    """The operator as a subprocess (python -m punctual), watching one namespace."""

    def __init__(self, kubeconfig: str, namespace: str, log_path: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *, failpoint: str | None = None) -> None:
        """Start the operator; with failpoint, it exits (code 137) when it reaches that step."""
        assert self.process is None or self.process.poll() is not None, "the operator is already running"
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        env.pop("PUNCTUAL_FAILPOINT", None)
        if failpoint:
            env["PUNCTUAL_FAILPOINT"] = failpoint
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"===== operator start #{self.starts} at {datetime.now(UTC).isoformat()}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "punctual", "--namespace", self.namespace, *self.extra_args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        # The operator is ready when its scheduler has started.
        eventually(lambda: "scheduler started" in self.log_text().split("===== operator start")[-1],
                   timeout=30, what="operator start")

    def kill(self) -> None:
        """Kill the operator with SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the operator gracefully (SIGTERM), falling back to SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, *, kill: bool = True, downtime: float = 0.0) -> None:
        if kill:
            self.kill()
        else:
            self.stop()
        if downtime:
            time.sleep(downtime)
        self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Api:
    """Small helpers over the sync client for ScheduledJobs, JobRuns and Jobs in one namespace."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)

    def create_scheduled_job(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ScheduledJob", "metadata": {"name": name}, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "scheduledjobs", body)

    def scheduled_job(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "scheduledjobs", name)

    def patch_spec(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "scheduledjobs", name, {"spec": spec}
        )

    def delete_scheduled_job(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, "scheduledjobs", name)

    def create_job_run(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JobRun", "metadata": {"name": name}, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "jobruns", body)

    def job_run(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "jobruns", name)

    def job_runs(self, scheduled_job: str | None = None) -> list[dict[str, Any]]:
        selector = f"punctual.dev/scheduled-job={scheduled_job}" if scheduled_job else ""
        result = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "jobruns", label_selector=selector
        )
        return sorted(result["items"], key=lambda run: run["spec"].get("scheduledTime", ""))

    def jobs(self, scheduled_job: str | None = None) -> list[client.V1Job]:
        selector = f"punctual.dev/scheduled-job={scheduled_job}" if scheduled_job else ""
        return self.batch.list_namespaced_job(self.namespace, label_selector=selector).items

    def events(self, reason: str) -> list[client.CoreV1Event]:
        return [e for e in self.core.list_namespaced_event(self.namespace).items if e.reason == reason]


def job_template(*, duration: str | None = None, outcome: str | None = None, exit_code: int | None = None,
                 backoff_limit: int = 0) -> dict[str, Any]:
    """Return a jobTemplate whose pods KWOK plays as its test.punctual.dev annotations request."""
    annotations = {}
    if duration:
        annotations["test.punctual.dev/duration"] = duration
    if outcome:
        annotations["test.punctual.dev/outcome"] = outcome
    if exit_code is not None:
        annotations["test.punctual.dev/exit-code"] = str(exit_code)
    return {
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
            },
        }
    }


def scheduled_unix(run: dict[str, Any]) -> int:
    return int(run["metadata"]["labels"][SCHEDULED_TIME])


def phase(run: dict[str, Any]) -> str | None:
    return (run.get("status") or {}).get("phase")


def reason(run: dict[str, Any]) -> str | None:
    return (run.get("status") or {}).get("reason")


def covered(run: dict[str, Any], every: int) -> list[int]:
    """Return the occurrences (Unix seconds) one JobRun stands for: its own, or its Skipped range."""
    skipped = (run.get("status") or {}).get("skipped")
    if skipped:
        first = int(parse_time(skipped["first"]).timestamp())
        last = int(parse_time(skipped["last"]).timestamp())
        members = list(range(first, last + 1, every))
        assert len(members) == skipped["count"], f"{run['metadata']['name']}: count {skipped['count']} != {members}"
        return members
    return [scheduled_unix(run)]


def occurrences(every: int, after: datetime | float, until: datetime | float) -> list[int]:
    """Return the epoch-anchored @every occurrences t with after < t <= until, in Unix seconds."""
    start = after.timestamp() if isinstance(after, datetime) else after
    end = until.timestamp() if isinstance(until, datetime) else until
    first = (math.floor(start / every) + 1) * every
    return list(range(first, math.floor(end) + 1, every))


def job_scheduled_unix(job: client.V1Job) -> int:
    return int(job.metadata.labels[SCHEDULED_TIME])


def job_finished(job: client.V1Job) -> bool:
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in (job.status.conditions or []))


def running_jobs(jobs: list[client.V1Job]) -> list[client.V1Job]:
    """Return the Jobs that are neither finished nor being deleted."""
    return [job for job in jobs if not job_finished(job) and job.metadata.deletion_timestamp is None]


def install_crds(api_client: client.ApiClient) -> None:
    """Install (or update) Punctual's CRDs in a cluster and wait until they are served."""
    extensions = client.ApiextensionsV1Api(api_client)
    for path in CRD_FILES:
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            existing = extensions.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = existing.metadata.resource_version
            extensions.replace_custom_resource_definition(name, body)
        except ApiException as error:
            if error.status != 404:
                raise
            extensions.create_custom_resource_definition(body)

    def established() -> bool:
        for path in CRD_FILES:
            crd = extensions.read_custom_resource_definition(yaml.safe_load(path.read_text())["metadata"]["name"])
            conditions = {c.type: c.status for c in (crd.status.conditions or [])}
            if conditions.get("Established") != "True":
                return False
        return True

    eventually(established, timeout=60, what="CRDs Established")
    # The API server serves a new CRD's resources a moment after Established.
    custom = client.CustomObjectsApi(api_client)
    eventually(
        lambda: _lists(custom, "scheduledjobs") and _lists(custom, "jobruns"), timeout=30, what="CRDs served"
    )


def _lists(custom: client.CustomObjectsApi, plural: str) -> bool:
    try:
        custom.list_cluster_custom_object(GROUP, VERSION, plural, limit=1)
        return True
    except ApiException:
        return False
