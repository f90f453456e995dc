"""Capture of run logs into JobRun status, off the scheduling path.

The kopf handlers pass every pod and JobRun event here as well as to the
controller. Reading logs happens in a few worker tasks fed by a queue, so a
slow kubelet or a large log delays no run's creation and no status update of
the controller. What gets read:

- when a pod's containers have ended, the tail of each container's log (and,
  with an archive, the whole log) for the attempt's ``logs`` and, for the
  latest attempt, the run's ``status.logs``;
- every ``snapshot_seconds``, the tail of each running pod, so a pod that is
  deleted or whose node goes away still leaves what it logged until then;
- when a run has ended and its latest attempt has no capture yet (the
  operator was down, or the pod event was missed), the newest pod of its Job.

A log that cannot be read leaves a ``note`` saying why, and keeps the text
captured before. When a JobRun is deleted its archived logs are deleted too,
and a periodic sweep removes archived logs whose JobRun no longer exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from punctual import logtail
from punctual.archive import LogArchive
from punctual.background import Background
from punctual.kube import JOB_RUNS, Body, Kube
from punctual.models import GROUP, VERSION, JobRunStatus, RunLogs
from punctual.naming import LABEL_JOB_RUN

logger = logging.getLogger("punctual.logs")

Key = tuple[str, str]  # (namespace, name)
StatusWriter = Callable[[str, str, Callable[[JobRunStatus], JobRunStatus]], Awaitable[JobRunStatus | None]]
RunLookup = Callable[[str, str], Body | None]

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
CHUNK_BYTES = 64 * 1024
READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = (1.0, 2.0, 4.0)
# A finished run's fallback capture waits this long, so the capture started by its pod's end goes first.
RUN_CHECK_DELAY_SECONDS = 2.0
SWEEP_INTERVAL_SECONDS = 3600.0
SWEEP_FIRST_DELAY_SECONDS = 10.0


@dataclass(frozen=True)
class CaptureSettings:
    """How much log to keep and how to read it (the operator's --log-* options)."""

    tail_bytes: int = logtail.DEFAULT_TAIL_BYTES
    snapshot_seconds: float = 60.0
    """Interval of the snapshots of running pods; 0 turns them off."""
    workers: int = 4
    """Maximum number of pod logs read at the same time."""
    read_timeout_seconds: float = 60.0
    """Maximum wait, in seconds, for the next bytes of a log before the read fails."""
    archive_max_bytes: int = 64 * 1024 * 1024
    """Maximum bytes archived per container and attempt; the archive keeps the beginning of a longer log."""
    archive_url: str | None = None
    """Base URL of the operator's /logs endpoint as clients reach it; archiveRef is a file path without it."""

    def __post_init__(self) -> None:
        if not 1 <= self.tail_bytes <= logtail.MAX_TAIL_BYTES:
            raise ValueError(
                f"log tail size {self.tail_bytes} bytes is out of range: choose 1 to {logtail.MAX_TAIL_BYTES}"
            )
        if self.snapshot_seconds < 0:
            raise ValueError(f"snapshot interval {self.snapshot_seconds} s is negative: use 0 to turn snapshots off")
        if self.workers < 1:
            raise ValueError(f"invalid number of log capture workers {self.workers}: use 1 or more")
        if self.archive_max_bytes < 1:
            raise ValueError(f"invalid archive size limit {self.archive_max_bytes} bytes: use 1 or more")

    @property
    def read_limit_bytes(self) -> int:
        """Maximum bytes one tail read transfers: the tail and room for the lines before it."""
        return 4 * self.tail_bytes + 64 * 1024


@dataclass(frozen=True)
class CaptureRequest:
    namespace: str
    run: str
    job: str
    pod: str | None
    """None: capture the newest pod of the Job."""
    final: bool
    """True when the pod's containers have ended (or the run has), false for a snapshot."""
    deleted: bool = False
    """The pod is gone: record a note without reading."""
    note: str | None = None
    """With deleted: why the pod has no log, when it is known from the pod's last state."""

    @property
    def key(self) -> Key:
        return (self.namespace, self.pod or f"job:{self.job}")

    def merged(self, other: CaptureRequest) -> CaptureRequest:
        return replace(
            self, final=self.final or other.final, deleted=self.deleted or other.deleted, note=self.note or other.note
        )


class LogReadError(Exception):
    """The API server did not return a container's log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def transient(self) -> bool:
        """The kubelet was unreachable or the API server overloaded; a later read may work."""
        return self.status >= 500 or self.status in (0, 429)


def utcnow() -> datetime:
    return datetime.now(UTC)


def pod_terminated(pod: Body) -> bool:
    """Tell whether a pod has ended: phase Succeeded or Failed, or every container terminated."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all((entry.get("state") or {}).get("terminated") for entry in statuses)


def started_containers(pod: Body) -> list[str]:
    """Return the init containers and containers of a pod that have started, in spec order."""
    status = pod.get("status") or {}
    started = set()
    for entry in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = entry.get("state") or {}
        last = entry.get("lastState") or {}
        if state.get("running") or state.get("terminated") or last.get("terminated"):
            started.add(entry.get("name"))
    spec = pod.get("spec") or {}
    names = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
    return [name for name in names if name in started]


def never_started_note(pod: Body) -> str:
    """Return the note of a pod without a log: none of its containers started, and why (their waiting state)."""
    reason = f"pod phase {(pod.get('status') or {}).get('phase') or 'unknown'}"
    for entry in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (entry.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reason = waiting["reason"] + (f": {waiting['message']}" if waiting.get("message") else "")
            break
    return f"no container of pod {pod['metadata']['name']} started ({reason}), so it has no log"


def _labels(body: Body) -> tuple[str | None, str | None]:
    labels = (body.get("metadata") or {}).get("labels") or {}
    job = next((labels[name] for name in JOB_NAME_LABELS if labels.get(name)), None)
    return labels.get(LABEL_JOB_RUN), job


def _ref(namespace: str, name: str) -> str:
    return f"[{namespace}/{name}]"


class LogCapture:
    """The queue of log reads, its worker tasks and the archive housekeeping."""

    def __init__(
        self,
        kube: Kube,
        settings: CaptureSettings,
        write_status: StatusWriter,
        lookup_run: RunLookup,
        archive: LogArchive | None = None,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.archive = archive
        self._write_status = write_status
        self._lookup_run = lookup_run
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._pending: dict[Key, CaptureRequest] = {}
        self._in_flight: set[Key] = set()
        self._deferred: dict[Key, CaptureRequest] = {}
        self._running_pods: dict[Key, tuple[str, str]] = {}
        """Pods with a running container: (namespace, pod) -> (run, job)."""
        self._final_queued: set[Key] = set()
        """Pods whose final capture is queued or done: (namespace, pod)."""
        self._checked_runs: set[tuple[str, str, str]] = set()
        """Finished runs whose fallback capture was requested: (namespace, run, job)."""
        self._background = Background()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for number in range(self.settings.workers):
            self._background.spawn(self._worker(), f"log capture worker {number + 1}")
        if self.settings.snapshot_seconds > 0:
            self._background.spawn(self._snapshot_loop(), "log snapshots")
        if self.archive is not None:
            self._background.spawn(self._sweep_loop(), "log archive sweep")
        logger.info(
            "log capture started: tail %d bytes per run, %d workers, snapshots %s, archive %s",
            self.settings.tail_bytes,
            self.settings.workers,
            f"every {self.settings.snapshot_seconds:g} s" if self.settings.snapshot_seconds else "off",
            "on" if self.archive is not None else "off",
        )

    async def stop(self) -> None:
        await self._background.stop()

    @property
    def queued(self) -> int:
        return len(self._pending)

    # ------------------------------------------------------------ watch events

    def on_pod_event(self, event_type: str | None, body: Body) -> None:
        run, job = _labels(body)
        if not run or not job:
            return
        metadata = body["metadata"]
        key = (metadata["namespace"], metadata["name"])
        if event_type == "DELETED":
            self._running_pods.pop(key, None)
            if key in self._final_queued:
                self._final_queued.discard(key)
                return
            note = None if started_containers(body) else never_started_note(body)
            self._enqueue(CaptureRequest(key[0], run, job, key[1], final=True, deleted=True, note=note))
            return
        if pod_terminated(body):
            self._running_pods.pop(key, None)
            if key not in self._final_queued:
                self._final_queued.add(key)
                self._enqueue(CaptureRequest(key[0], run, job, key[1], final=True))
        elif started_containers(body):
            self._running_pods[key] = (run, job)

    def on_job_run_event(self, event_type: str | None, body: Body) -> None:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if event_type == "DELETED":
            self._checked_runs = {entry for entry in self._checked_runs if entry[:2] != (namespace, name)}
            if self.archive is not None:
                self._background.spawn(self._delete_archive(namespace, name), f"{_ref(namespace, name)} archive deletion")
            return
        try:
            status = JobRunStatus.model_validate(body.get("status") or {})
        except ValidationError:
            return
        job = logtail.needs_final_capture(status)
        if job is None or (namespace, name, job) in self._checked_runs:
            return
        self._checked_runs.add((namespace, name, job))
        self._background.spawn(
            self._enqueue_later(CaptureRequest(namespace, name, job, None, final=True)),
            f"{_ref(namespace, name)} finished-run log check",
        )

    async def _enqueue_later(self, request: CaptureRequest) -> None:
        await asyncio.sleep(RUN_CHECK_DELAY_SECONDS)
        self._enqueue(request)

    def _enqueue(self, request: CaptureRequest) -> None:
        key = request.key
        if key in self._pending:
            self._pending[key] = self._pending[key].merged(request)
            return
        self._pending[key] = request
        self._queue.put_nowait(key)

    # ------------------------------------------------------------ workers

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            request = self._pending.pop(key, None)
            if request is None:
                continue
            if key in self._in_flight:
                # Another worker reads this pod now; run this request after it.
                earlier = self._deferred.get(key)
                self._deferred[key] = earlier.merged(request) if earlier else request
                continue
            self._in_flight.add(key)
            try:
                await self._capture(request)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one failed capture must not stop the worker
                logger.error("%s log capture of %s failed: %r", _ref(request.namespace, request.run),
                             request.pod or f"Job {request.job}", error, exc_info=error)
            finally:
                self._in_flight.discard(key)
                deferred = self._deferred.pop(key, None)
                if deferred is not None:
                    self._enqueue(deferred)

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.snapshot_seconds)
            for (namespace, pod), (run, job) in list(self._running_pods.items()):
                self._enqueue(CaptureRequest(namespace, run, job, pod, final=False))

    # ------------------------------------------------------------ one capture

    async def _capture(self, request: CaptureRequest) -> None:
        status = await self._run_status(request.namespace, request.run)
        if status is None:
            return
        existing = logtail.attempt_logs(status, request.job)
        if existing is not None and existing.final and request.pod in (None, existing.pod):
            return

        now = utcnow()
        if request.deleted:
            note = request.note or f"pod {request.pod} was deleted before its final log could be read"
            await self._record(request, logtail.note_only(request.pod, note, now))
            return
        pod = await self._find_pod(request)
        if pod is None:
            if not request.final:
                return
            if request.pod is not None:
                note = f"pod {request.pod} was deleted before its final log could be read"
            else:
                note = (f"Job {request.job} has no pods: they were deleted (with the Job, or by hand) "
                        "before the operator read their log, or none was created")
            await self._record(request, logtail.note_only(request.pod, note, now))
            return
        if existing is not None and existing.final and existing.pod == pod["metadata"]["name"]:
            return
        await self._capture_pod(request, status, pod, now)

    async def _capture_pod(self, request: CaptureRequest, status: JobRunStatus, pod: Body, now: datetime) -> None:
        pod_name = pod["metadata"]["name"]
        containers = started_containers(pod)
        if not containers:
            if request.final:
                await self._record(request, logtail.note_only(pod_name, never_started_note(pod), now))
            return

        ended = pod_terminated(pod)
        attempt = logtail.attempt_number(status, request.job)
        logs = await self._read_pod(request.namespace, request.run, attempt, pod_name, containers, archive=ended)
        if not ended and not request.final and logs.tail is None:
            return  # a failed snapshot writes nothing, because the final capture records what is missing

        notes = [logs.note] if logs.note else []
        if request.final and not ended:
            notes.append(f"pod {pod_name} was still running when the run ended; this is its log at that time")
        logs = logs.model_copy(update={"final": ended, "note": "; ".join(notes) or None})
        await self._record(request, logs)

    async def _record(self, request: CaptureRequest, logs: RunLogs) -> None:
        """Merge a capture into the JobRun status, retrying when the API server is briefly unavailable."""
        for attempt, delay in enumerate(READ_BACKOFF_SECONDS):
            try:
                await self._write_status(
                    request.namespace, request.run, lambda status: logtail.with_capture(status, request.job, logs)
                )
                if logs.tail is not None:
                    logger.info(
                        "%s captured %d bytes of log from pod %s%s%s",
                        _ref(request.namespace, request.run), logs.capturedBytes or 0, logs.pod,
                        " (truncated)" if logs.truncated else "", "" if logs.final else " (snapshot)",
                    )
                elif logs.note:
                    logger.warning("%s log not captured: %s", _ref(request.namespace, request.run), logs.note)
                return
            except (ApiException, aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                if isinstance(error, ApiException) and error.status in (400, 403, 422):
                    raise
                if attempt == len(READ_BACKOFF_SECONDS) - 1:
                    raise
                logger.warning("%s writing the captured log failed, retrying in %s s: %s",
                               _ref(request.namespace, request.run), delay, error)
                await asyncio.sleep(delay)

    async def _run_status(self, namespace: str, run: str) -> JobRunStatus | None:
        body = self._lookup_run(namespace, run)
        if body is None:
            try:
                body = await self.kube.get_custom(JOB_RUNS, namespace, run)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
        try:
            return JobRunStatus.model_validate(body.get("status") or {})
        except ValidationError:
            return JobRunStatus()

    async def _find_pod(self, request: CaptureRequest) -> Body | None:
        if request.pod is not None:
            return await self.kube.get_pod(request.namespace, request.pod)
        pods: list[Body] = []
        for label in JOB_NAME_LABELS:
            listed = await self.kube.list_pods(request.namespace, f"{label}={request.job}")
            pods = [pod for pod in listed if _labels(pod)[0] == request.run]
            if pods:
                break
        return max(pods, key=lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]),
                   default=None)

    # ------------------------------------------------------------ reading logs

    async def _read_pod(
        self, namespace: str, run: str, attempt: int, pod: str, containers: list[str], *, archive: bool
    ) -> RunLogs:
        """Read the containers' logs of one pod: the tails, and the whole logs into the archive when asked."""
        notes: list[str] = []
        sections: list[logtail.Section] = []
        archive_ref = archived_bytes = None
        if archive and self.archive is not None:
            sections, archived_bytes, archive_ref = await self._archive_pod(
                namespace, run, attempt, pod, containers, notes)
        else:
            for container in containers:
                section = await self._read_tail(namespace, pod, container, self.settings.tail_bytes, notes)
                if section is not None:
                    sections.append(section)
        several = len(containers) > 1
        headers = sum(len(logtail.section_header(s.container).encode()) for s in sections) if several else 0
        budget = max(0, self.settings.tail_bytes - headers)
        shares = logtail.allocate(budget, [logtail.tail_size(s.text) for s in sections])
        fitted = []
        for section, share in zip(sections, shares, strict=True):
            text, cut = logtail.keep_end(section.text, share)
            fitted.append(logtail.Section(section.container, text, section.truncated or cut))
        tail = logtail.join_sections(fitted) if fitted else None
        return RunLogs(
            tail=tail,
            truncated=any(section.truncated for section in fitted),
            archiveRef=archive_ref,
            note="; ".join(notes) or None,
            pod=pod,
            containers=[section.container for section in fitted] or None,
            capturedBytes=logtail.tail_size(tail),
            archivedBytes=archived_bytes,
            capturedTime=utcnow(),
        )

    async def _archive_pod(
        self, namespace: str, run: str, attempt: int, pod: str, containers: list[str], notes: list[str]
    ) -> tuple[list[logtail.Section], int | None, str | None]:
        """Stream every container's whole log into the archive, keeping each one's tail on the way."""
        assert self.archive is not None
        several = len(containers) > 1
        limit = self.settings.archive_max_bytes
        buffers: dict[str, logtail.TailBuffer] = {}
        cut_short: list[str] = []
        size = 0

        async def stream() -> AsyncIterator[bytes]:
            nonlocal size
            for container in containers:
                if several:
                    header = logtail.section_header(container).encode()
                    size += len(header)
                    yield header
                buffer = buffers[container] = logtail.TailBuffer(self.settings.tail_bytes)
                try:
                    async for chunk in self._stream_log(namespace, pod, container, limit_bytes=limit):
                        buffer.write(chunk)
                        size += len(chunk)
                        yield chunk
                except (LogReadError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                    message = f"the log of container {container} could not be read: {_describe(error)}"
                    notes.append(message)
                    del buffers[container]
                    line = f"\n[punctual: {message}]\n".encode()
                    size += len(line)
                    yield line
                    continue
                if buffer.total >= limit:
                    cut_short.append(container)
                    line = f"\n[punctual: the archive keeps the first {limit} bytes of this log]\n".encode()
                    size += len(line)
                    yield line

        try:
            ref = await self.archive.put(namespace, run, attempt, stream())
        except OSError as error:
            notes.append(f"archiving the log failed: {error}")
            logger.error("%s archiving the log of pod %s failed: %s", _ref(namespace, run), pod, error)
            ref = None
        sections = []
        for container in containers:
            if container in cut_short:
                notes.append(f"the log of container {container} is longer than the archive limit of {limit} bytes; "
                             "the archive holds its beginning")
                section = await self._read_tail(namespace, pod, container, self.settings.tail_bytes, notes)
                if section is not None:
                    sections.append(section)
            elif container in buffers:
                buffer = buffers[container]
                sections.append(logtail.Section(container, buffer.text(), buffer.truncated))
        if ref is None:
            return sections, None, None
        return sections, size, self._public_ref(namespace, run, attempt, ref)

    def _public_ref(self, namespace: str, run: str, attempt: int, ref: str) -> str:
        if not self.settings.archive_url:
            return ref
        return f"{self.settings.archive_url.rstrip('/')}/logs/{namespace}/{run}?attempt={attempt}"

    async def _read_tail(
        self, namespace: str, pod: str, container: str, budget: int, notes: list[str]
    ) -> logtail.Section | None:
        """Read the last budget bytes of a container's log with bounded requests.

        The first request is for as many lines as budget has bytes, which
        covers the last budget bytes. When the reply hits the byte limit (long
        lines), the request is repeated with fewer lines.
        """
        limit = self.settings.read_limit_bytes
        lines = logtail.tail_lines_for(budget)
        for _ in range(4):
            buffer = logtail.TailBuffer(budget)
            try:
                async for chunk in self._retrying_stream(namespace, pod, container, tail_lines=lines, limit_bytes=limit):
                    buffer.write(chunk)
            except (LogReadError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                notes.append(f"the log of container {container} could not be read: {_describe(error)}")
                return None
            if buffer.total < limit:
                return logtail.Section(container, buffer.text(), buffer.truncated or buffer.newlines >= lines)
            fewer = logtail.fewer_lines(lines, buffer.total, buffer.newlines, limit)
            if fewer >= lines:
                break
            lines = fewer
        notes.append(f"the last line of container {container} is longer than {limit} bytes; the tail shows a part of it")
        return logtail.Section(container, buffer.text(), True)

    async def _retrying_stream(self, namespace: str, pod: str, container: str, **query: int) -> AsyncIterator[bytes]:
        """Stream a log, retrying a read that fails before its first byte with a transient error."""
        for attempt, delay in enumerate(READ_BACKOFF_SECONDS):
            received = False
            try:
                async for chunk in self._stream_log(namespace, pod, container, **query):
                    received = True
                    yield chunk
                return
            except (LogReadError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                transient = not isinstance(error, LogReadError) or error.transient
                if received or not transient or attempt == len(READ_BACKOFF_SECONDS) - 1:
                    raise
                logger.warning("[%s/%s] reading the log of container %s failed, retrying in %s s: %s",
                               namespace, pod, container, delay, _describe(error))
                await asyncio.sleep(delay)

    async def _stream_log(self, namespace: str, pod: str, container: str, **query: int) -> AsyncIterator[bytes]:
        """Yield a container's log as the API server sends it; raise LogReadError on an error reply."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.settings.read_timeout_seconds)
        response = await self.kube.core.read_namespaced_pod_log(
            pod, namespace, container=container, _preload_content=False, _request_timeout=timeout, **query
        )
        try:
            if response.status != 200:
                raise LogReadError(response.status, _status_message(await response.read(), response.status))
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                yield chunk
        finally:
            response.release()

    # ------------------------------------------------------------ archive housekeeping

    async def _delete_archive(self, namespace: str, run: str) -> None:
        assert self.archive is not None
        if await self.archive.attempts(namespace, run):
            await self.archive.delete(namespace, run)
            logger.info("%s deleted the archived log: the JobRun was deleted", _ref(namespace, run))

    async def _sweep_loop(self) -> None:
        await asyncio.sleep(SWEEP_FIRST_DELAY_SECONDS)
        while True:
            try:
                await self.sweep()
            except (ApiException, aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                logger.warning("log archive sweep failed, next try in %g s: %s", SWEEP_INTERVAL_SECONDS, error)
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)

    async def sweep(self) -> int:
        """Delete archived logs whose JobRun no longer exists; return how many runs' logs went."""
        assert self.archive is not None
        by_namespace: dict[str, list[str]] = {}
        for namespace, run in await self.archive.runs():
            by_namespace.setdefault(namespace, []).append(run)
        deleted = 0
        for namespace, runs in by_namespace.items():
            try:
                listed = await self.kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, JOB_RUNS)
            except ApiException as error:
                if error.status in (403, 404):
                    continue  # a namespace this operator does not serve, or that is gone with its runs
                raise
            existing = {item["metadata"]["name"] for item in listed.get("items", [])}
            for run in runs:
                if run not in existing:
                    await self.archive.delete(namespace, run)
                    deleted += 1
        if deleted:
            logger.info("log archive sweep deleted the logs of %d JobRun(s) that no longer exist", deleted)
        return deleted


def _status_message(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", errors="replace").strip() or f"HTTP {status}"


def _describe(error: BaseException) -> str:
    if isinstance(error, LogReadError):
        detail = " (the pod's node may be unreachable)" if error.transient else ""
        return f"{error.message}{detail}"
    if isinstance(error, asyncio.TimeoutError):
        return "timed out waiting for log data"
    return str(error) or type(error).__name__
