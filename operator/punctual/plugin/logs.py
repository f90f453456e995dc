"""The ``logs`` command: a run's log from wherever it still is.

The sources, in order: the live pod of the run's Job (streamed with -f), and
the log tail the operator captured into the JobRun status (``status.logs``,
or ``status.attempts[i].logs`` per attempt). Then the archive that capture
names (``archiveRef``), else a message saying what is missing and why. The
capture fields are read as plain dict keys, so the plugin also works with
operators that do not write them.
"""

from __future__ import annotations

import argparse
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from punctual.models import RunPhase
from punctual.plugin.errors import NotFoundError, PluginError, UsageError
from punctual.plugin.kubeapi import Body, Kube
from punctual.plugin.output import note, write
from punctual.plugin.runs import run_status

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
POLL_SECONDS = 1.0
# How long a followed log may stay open after its container has terminated.
END_GRACE_SECONDS = 2.0
ARCHIVE_TIMEOUT_SECONDS = 15
# <service>.<namespace>.svc[.cluster.local]: reached through the API server's service proxy.
_SERVICE_HOST = re.compile(r"^(?P<service>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$")


@dataclass(frozen=True)
class Attempt:
    """The attempt whose log is requested: its 1-based number, Job name and captured log (if any)."""

    number: int
    total: int
    job_name: str | None
    container_name: str | None
    captured: dict[str, Any]


def select_attempt(status: dict[str, Any], number: int | None) -> Attempt:
    """Pick attempt ``number`` (1-based; default the latest) from a raw JobRun status.

    The run-level ``status.logs`` belongs to the latest attempt, so an earlier
    attempt only has the ``logs`` recorded in its own entry.
    """
    attempts = [entry for entry in status.get("attempts") or [] if isinstance(entry, dict)]
    total = len(attempts)
    if number is not None and not 1 <= number <= max(total, 1):
        raise NotFoundError(
            f"attempt {number} does not exist: the run has {total} attempt(s); pass --attempt 1 to {max(total, 1)}"
        )
    index = (number or max(total, 1)) - 1
    entry = attempts[index] if index < total else {}
    latest = index >= total - 1
    captured = entry.get("logs") if isinstance(entry.get("logs"), dict) else None
    if captured is None and latest and isinstance(status.get("logs"), dict):
        captured = status["logs"]
    return Attempt(
        number=index + 1,
        total=total,
        job_name=entry.get("jobName") or (status.get("jobName") if latest else None),
        container_name=entry.get("containerName"),
        captured=captured or {},
    )


def choose_container(pod: Body, requested: str | None, preferred: str | None) -> str:
    """Pick the container: -c, the kubectl default-container annotation, the attempt's container, else the first."""
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    all_names = names + [c["name"] for c in spec.get("initContainers") or []]
    pod_name = pod["metadata"]["name"]
    if requested:
        if requested not in all_names:
            raise NotFoundError(f"pod {pod_name} has no container {requested!r}; its containers are {', '.join(all_names)}")
        return requested
    annotated = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    for candidate in (annotated, preferred):
        if candidate in names:
            return candidate
    if not names:
        raise PluginError(f"pod {pod_name} has no containers")
    if len(names) > 1:
        note(f'Defaulted container "{names[0]}" out of: {", ".join(names)} (pick one with -c)')
    return names[0]


def container_state(pod: Body, container: str) -> str:
    """Return waiting, running or terminated for a container of a pod (waiting when not reported yet)."""
    status = pod.get("status") or {}
    for entry in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if entry.get("name") == container:
            state = entry.get("state") or {}
            for name in ("terminated", "running"):
                if state.get(name):
                    return name
    return "waiting"


def newest_pod(pods: list[Body]) -> Body | None:
    return max(pods, key=lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]), default=None)


def _pods_of(kube: Kube, namespace: str, job_name: str) -> list[Body]:
    return kube.list_pods(namespace, f"{JOB_NAME_LABEL}={job_name}")


def command(kube: Kube, args: argparse.Namespace) -> int:
    """Print a run's log: live from the pod, else the captured tail, else the archive."""
    if args.output in ("json", "yaml"):
        raise UsageError("logs prints the log text; -o json and -o yaml do not apply to it")
    run = kube.get_job_run(args.run)
    namespace = run["metadata"]["namespace"]
    attempt = select_attempt(run.get("status") or {}, args.attempt)
    if args.follow and attempt.number >= attempt.total:
        run, attempt = _wait_for_start(kube, run, args.attempt)

    problems: list[str] = []
    if attempt.job_name:
        pod = newest_pod(_pods_of(kube, namespace, attempt.job_name))
        if pod is not None:
            printed = _print_pod_log(kube, pod, args, attempt, problems)
            if printed:
                return 0
        else:
            problems.append(f"the pods of Job {attempt.job_name} are gone (deleted, or garbage-collected with the Job)")
    else:
        problems.append(_why_no_job(run))
        if not attempt.captured:
            raise NotFoundError(f"no log of JobRun {args.run}: " + "; ".join(problems))

    if _print_captured(kube, run, attempt, problems, archive_first=args.archive):
        return 0
    raise NotFoundError(f"no log of JobRun {args.run} (attempt {attempt.number}): " + "; ".join(problems))


def _wait_for_start(kube: Kube, run: Body, number: int | None) -> tuple[Body, Attempt]:
    """With -f, wait until the latest attempt's pod has started or the run has ended."""
    announced = False
    while True:
        attempt = select_attempt(run.get("status") or {}, number)
        status = run_status(run)
        if status.phase is not None and status.phase.terminal:
            return run, attempt
        if attempt.job_name:
            pod = newest_pod(_pods_of(kube, run["metadata"]["namespace"], attempt.job_name))
            if pod is not None and any(
                container_state(pod, c["name"]) != "waiting" for c in (pod.get("spec") or {}).get("containers") or []
            ):
                return run, attempt
        if not announced:
            note(f"waiting for the pod of JobRun {run['metadata']['name']} to start (phase {status.phase.value if status.phase else 'none yet'}); Ctrl-C stops")
            announced = True
        time.sleep(POLL_SECONDS)
        run = kube.get_job_run(run["metadata"]["name"], run["metadata"]["namespace"])


def _print_pod_log(kube: Kube, pod: Body, args: argparse.Namespace, attempt: Attempt, problems: list[str]) -> bool:
    """Print the log of the pod; return False (and record why) when the pod has none to give."""
    namespace = pod["metadata"]["namespace"]
    pod_name = pod["metadata"]["name"]
    container = choose_container(pod, args.container, attempt.container_name)
    state = container_state(pod, container)
    if state == "waiting":
        waiting = _waiting_reason(pod, container)
        problems.append(f"container {container} of pod {pod_name} has not started{waiting}")
        return False
    try:
        if args.follow and state == "running":
            follow_log(kube, namespace, pod_name, container)
        else:
            write(kube.read_log(namespace, pod_name, container))
    except PluginError as error:
        problems.append(f"the log of pod {pod_name} could not be read ({error.message})")
        return False
    return True


def follow_log(kube: Kube, namespace: str, pod_name: str, container: str) -> None:
    """Copy a container's log stream to stdout until the stream ends or the container has ended.

    The API server normally closes a followed log when the container exits, but
    a log server can keep it open (KWOK v0.8.0 in the local cluster does). So
    the pod is polled while the stream is idle, and the copy stops
    END_GRACE_SECONDS after the container has terminated or the pod is gone.
    """
    chunks: queue.Queue[bytes | Exception | None] = queue.Queue()

    def pump() -> None:
        try:
            for chunk in kube.stream_log(namespace, pod_name, container):
                chunks.put(chunk)
            chunks.put(None)
        except Exception as error:  # handed to the main thread, which raises it
            chunks.put(error)

    threading.Thread(target=pump, name="log-stream", daemon=True).start()
    ended_at: float | None = None
    while True:
        try:
            item = chunks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if ended_at is None:
                pod = kube.get_pod(namespace, pod_name)
                if pod is None or container_state(pod, container) == "terminated":
                    ended_at = time.monotonic()
            elif time.monotonic() - ended_at >= END_GRACE_SECONDS:
                return
            continue
        if item is None:
            return
        if isinstance(item, Exception):
            raise item
        sys.stdout.buffer.write(item)
        sys.stdout.buffer.flush()


def _waiting_reason(pod: Body, container: str) -> str:
    for entry in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (entry.get("state") or {}).get("waiting") or {}
        if entry.get("name") == container and waiting.get("reason"):
            return f" ({waiting['reason']}: {waiting.get('message') or 'no message'})"
    phase = (pod.get("status") or {}).get("phase")
    return f" (pod phase {phase})" if phase else ""


def _why_no_job(run: Body) -> str:
    status = run_status(run)
    detail = f" ({status.reason}: {status.message})" if status.reason else ""
    if status.phase == RunPhase.SKIPPED:
        return f"the run was Skipped{detail}, so it never had a Job or a log"
    if status.phase is None:
        return "the run has no Job yet: the operator has not started it (check that the operator is running)"
    if status.phase.terminal:
        return f"the run ended {status.phase.value}{detail} without a Job, so there is no log"
    return f"the run is {status.phase.value}{detail} and has no Job yet"


def _print_captured(kube: Kube, run: Body, attempt: Attempt, problems: list[str], *, archive_first: bool) -> bool:
    """Print the captured tail or the archive; return False (and record why) when neither is there."""
    captured = attempt.captured
    tail = captured.get("tail")
    archive = captured.get("archiveRef")
    if tail and not archive_first:
        captured_at = f" at {captured['capturedTime']}" if captured.get("capturedTime") else ""
        kind = "log tail" if captured.get("final", True) else "snapshot of the log of the still running pod"
        note(f"the pod is gone; showing the {kind} the operator captured{captured_at} in JobRun {run['metadata']['name']}")
        write(tail if tail.endswith("\n") else tail + "\n")
        if captured.get("truncated"):
            hint = f"; the full log is archived at {archive} (pass --archive)" if archive else ""
            note(f"the captured tail is truncated: earlier lines were not kept{hint}")
        return True
    if archive:
        try:
            write(fetch_archive(kube, archive))
            return True
        except PluginError as error:
            problems.append(f"the archived log at {archive} could not be read ({error.message})")
            if tail:
                write(tail if tail.endswith("\n") else tail + "\n")
                note("showing the captured tail instead of the archive")
                return True
    if not captured:
        problems.append("the JobRun has no captured log (status.logs is not set)")
    elif not tail and not archive:
        problems.append("the JobRun has no captured log (status.logs has no tail and no archiveRef)")
    if captured.get("note"):
        problems.append(f"the operator noted: {captured['note']}")
    return False


def service_proxy_request(reference: str) -> tuple[str, str, str] | None:
    """Return (namespace, proxy target, path) for a URL of an in-cluster Service, else None.

    The API server's service proxy names its target ``[https:]<service>[:<port>]``.
    """
    parsed = urlparse(reference)
    service = _SERVICE_HOST.match(parsed.hostname or "") if parsed.scheme in ("http", "https") else None
    if service is None:
        return None
    target = service["service"] + (f":{parsed.port}" if parsed.port else "")
    if parsed.scheme == "https":
        target = f"https:{target}"
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return service["namespace"], target, path


def fetch_archive(kube: Kube, reference: str) -> str:
    """Read an archived log: an in-cluster Service URL through the API server proxy, another http(s) URL directly, or a local path."""
    proxied = service_proxy_request(reference)
    if proxied is not None:
        return kube.proxy_service_get(*proxied)
    parsed = urlparse(reference)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(reference, timeout=ARCHIVE_TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only)
                return response.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as error:
            raise PluginError(f"GET {reference} failed: {error}") from None
    if parsed.scheme in ("", "file"):
        try:
            with open(parsed.path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError as error:
            raise PluginError(
                f"{parsed.path} is not readable here ({error.strerror}); it is a path on the operator's volume"
            ) from None
    raise PluginError(f"archiveRef {reference!r} has scheme {parsed.scheme!r}; only http, https and paths are supported")
