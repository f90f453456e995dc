"""Webhook notifications of run events (spec.notify), delivered at most once per run, event and sink.

The delivery record of each (sink, event) lives in the JobRun's
``status.notifications``, so it survives an operator restart:

1. The status write that records a run event (phase Succeeded, the
   SLABreached condition, ...) also adds a Pending record for each sink that
   wants the event (``add_pending``). An owed notification is in the cluster
   before anything is sent, so a crash right after the state change loses none.
2. A ``Notifier`` worker, apart from the scheduling path, takes each Pending
   record: it writes Sending (attempts + 1), POSTs, then writes Delivered; or
   Pending again with a later nextAttemptTime when the request certainly was
   not accepted (no connection, or HTTP 408, 429 or 5xx); or Failed.
3. A record in Sending that this process is not sending was in flight when an
   operator stopped. Its outcome is unknown, so it becomes Failed and is not
   resent: a webhook never receives one event twice, at the price of losing
   the event when the operator dies mid-request. A request that timed out
   after it was sent is not resent for the same reason.

Webhook URLs come from Secrets and never appear in status, Events or logs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from yarl import URL

from punctual import runstatus, sla
from punctual.kube import Body, Kube, object_ref, utcnow
from punctual.models import (
    ConditionStatus,
    DeliveryState,
    JobRunStatus,
    Notification,
    NotifyEvent,
    NotifyFormat,
    NotifySink,
    RunPhase,
    format_time,
)

logger = logging.getLogger("punctual.notify")

Key = tuple[str, str]  # (namespace, JobRun name)
WriteStatus = Callable[[str, str, Callable[[JobRunStatus], JobRunStatus]], Awaitable[JobRunStatus | None]]

MAX_DELIVERY_ATTEMPTS = 5
RETRY_DELAYS_SECONDS = (2, 4, 8, 16)
DELIVERY_WORKERS = 4
CONNECT_TIMEOUT_SECONDS = 5
LOG_TAIL_CHARS = {NotifyFormat.JSON: 4000, NotifyFormat.SLACK: 2000}
USER_AGENT = "punctual-operator"

_PHASE_EVENTS = {
    RunPhase.SUCCEEDED: NotifyEvent.SUCCEEDED,
    RunPhase.FAILED: NotifyEvent.FAILED,
    RunPhase.TIMED_OUT: NotifyEvent.TIMED_OUT,
    RunPhase.SKIPPED: NotifyEvent.SKIPPED,
}
_CONDITION_EVENTS = {
    sla.CONDITION_START_SLA_BREACHED: NotifyEvent.START_SLA_BREACHED,
    sla.CONDITION_SLA_BREACHED: NotifyEvent.SLA_BREACHED,
}


# ---------------------------------------------------------------- pure parts


def events_between(old: JobRunStatus, new: JobRunStatus) -> list[NotifyEvent]:
    """Return the notifiable run events that a status change from old to new records."""
    events = []
    if new.phase != old.phase and new.phase in _PHASE_EVENTS:
        events.append(_PHASE_EVENTS[new.phase])
    old_true = {c.type for c in old.conditions or [] if c.status == ConditionStatus.TRUE}
    for condition in new.conditions or []:
        event = _CONDITION_EVENTS.get(condition.type)
        if event is not None and condition.status == ConditionStatus.TRUE and condition.type not in old_true:
            events.append(event)
    return events


def find_record(status: JobRunStatus, sink: str, event: NotifyEvent) -> Notification | None:
    return next((r for r in status.notifications or [] if r.sink == sink and r.event == event), None)


def add_pending(status: JobRunStatus, sinks: list[NotifySink] | None, events: list[NotifyEvent]) -> JobRunStatus:
    """Return status with a Pending record for each (sink, event) wanted and not recorded yet."""
    records = list(status.notifications or [])
    for event in events:
        for sink in sinks or []:
            if event in sink.events and find_record(status, sink.name, event) is None:
                records.append(Notification(sink=sink.name, event=event, state=DeliveryState.PENDING))
    if len(records) == len(status.notifications or []):
        return status
    return runstatus.replace_status(status, notifications=records)


def set_record(status: JobRunStatus, sink: str, event: NotifyEvent, **changes: Any) -> JobRunStatus:
    """Return status with one delivery record changed."""
    records = [
        record.model_copy(update=changes) if record.sink == sink and record.event == event else record
        for record in status.notifications or []
    ]
    return runstatus.replace_status(status, notifications=records)


def retry_delay(attempts: int) -> int:
    """Return the delay before delivery try attempts + 1."""
    return RETRY_DELAYS_SECONDS[min(max(attempts - 1, 0), len(RETRY_DELAYS_SECONDS) - 1)]


@dataclass(frozen=True)
class RunFacts:
    """The parts of a JobRun that a notification reports."""

    namespace: str
    run: str
    scheduled_job: str
    scheduled_time: str | None
    status: JobRunStatus
    log_tail: str | None

    @classmethod
    def from_body(cls, body: Body) -> RunFacts:
        metadata = body["metadata"]
        spec = body.get("spec") or {}
        raw_status = body.get("status") or {}
        return cls(
            namespace=metadata["namespace"],
            run=metadata["name"],
            scheduled_job=spec.get("scheduledJobName", ""),
            scheduled_time=spec.get("scheduledTime") or metadata.get("creationTimestamp"),
            status=JobRunStatus.model_validate(raw_status),
            log_tail=(raw_status.get("logs") or {}).get("tail"),
        )


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _event_detail(facts: RunFacts, event: NotifyEvent) -> str:
    """Return the message of the condition behind an SLA event, or the run's own message."""
    condition_type = {
        NotifyEvent.SLA_BREACHED: sla.CONDITION_SLA_BREACHED,
        NotifyEvent.START_SLA_BREACHED: sla.CONDITION_START_SLA_BREACHED,
    }.get(event)
    if condition_type is not None:
        for condition in facts.status.conditions or []:
            if condition.type == condition_type:
                return condition.message
    return facts.status.message or ""


def build_body(sink_format: NotifyFormat, facts: RunFacts, event: NotifyEvent) -> dict[str, Any]:
    """Return the JSON body of one notification in the sink's format."""
    status = facts.status
    tail = facts.log_tail[-LOG_TAIL_CHARS[sink_format]:] if facts.log_tail else None
    detail = _event_detail(facts, event)
    if sink_format == NotifyFormat.SLACK:
        lines = [
            f"*{event.value}*: JobRun `{facts.namespace}/{facts.run}` of ScheduledJob `{facts.scheduled_job}`",
            f"phase {status.phase.value if status.phase else 'unknown'}"
            + (f", reason {status.reason}" if status.reason else "")
            + (f": {detail}" if detail else ""),
            f"scheduled {facts.scheduled_time or 'unknown'}"
            + (f", started {_time(status.startTime)}" if status.startTime else "")
            + (f", took {status.durationSeconds} s" if status.durationSeconds is not None else ""),
        ]
        if tail:
            lines.append("```\n" + tail.replace("```", "'''") + "\n```")
        return {"text": "\n".join(lines)}
    body: dict[str, Any] = {
        "event": event.value,
        "namespace": facts.namespace,
        "scheduledJob": facts.scheduled_job,
        "run": facts.run,
        "phase": status.phase.value if status.phase else None,
        "reason": status.reason,
        "message": detail,
        "scheduledTime": facts.scheduled_time,
        "startTime": _time(status.startTime),
        "completionTime": _time(status.completionTime),
        "durationSeconds": status.durationSeconds,
        "attempts": len(status.attempts or []),
    }
    if tail is not None:
        body["logTail"] = tail
    return body


class Outcome(str, Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: str | None = None


def result_of_status(http_status: int) -> Result:
    """Classify the webhook's HTTP response: 2xx delivered, 408, 429 and 5xx retried, other codes failed."""
    if 200 <= http_status < 300:
        return Result(Outcome.DELIVERED)
    if http_status in (408, 429) or http_status >= 500:
        return Result(Outcome.RETRY, f"the webhook answered HTTP {http_status}")
    return Result(Outcome.FAILED, f"the webhook answered HTTP {http_status}; check the URL in the Secret")


def result_of_error(error: BaseException, timeout_seconds: int) -> Result:
    """Classify a failed request: retried only when it certainly did not reach the webhook.

    The text never contains the URL: aiohttp's own messages may, so only the error type is used.
    """
    if isinstance(error, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return Result(Outcome.RETRY, f"could not connect to the webhook ({type(error).__name__})")
    if isinstance(error, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return Result(
            Outcome.FAILED,
            f"the webhook did not answer within {timeout_seconds} s; not resent because it may have received it",
        )
    return Result(
        Outcome.FAILED,
        f"the request failed after it was sent ({type(error).__name__}); not resent because the webhook may have received it",
    )


# ---------------------------------------------------------------- delivery


class SecretError(Exception):
    """The webhook URL could not be read from its Secret; the message names the Secret, never the value."""


class Notifier:
    """Delivers Pending notifications from JobRun status, in worker tasks of its own."""

    def __init__(
        self,
        kube: Kube,
        write_status: WriteStatus,
        cached_run: Callable[[Key], Body | None],
        sinks_of: Callable[[str, str], list[NotifySink] | None],
        on_result: Callable[[str, str, Outcome], None] | None = None,
        *,
        workers: int = DELIVERY_WORKERS,
    ) -> None:
        self.kube = kube
        self._write_status = write_status
        self._cached_run = cached_run
        self._sinks_of = sinks_of
        self._on_result = on_result
        self._worker_count = workers
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        # One worker at a time handles a JobRun; a run queued again meanwhile is handled once more after.
        self._busy: set[Key] = set()
        self._again: set[Key] = set()
        self._in_flight: set[tuple[Key, str, NotifyEvent]] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        for number in range(self._worker_count):
            self._workers.append(asyncio.create_task(self._work(), name=f"punctual-notify-{number}"))

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def consider(self, key: Key) -> None:
        """Queue a JobRun whose cached status owes a notification or contains one interrupted mid-request."""
        body = self._cached_run(key)
        if body is None:
            return
        for record in (body.get("status") or {}).get("notifications") or []:
            if record.get("state") in (DeliveryState.PENDING.value, DeliveryState.SENDING.value):
                self._enqueue(key)
                return

    def _enqueue(self, key: Key) -> None:
        self._timers.pop(key, None)
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.put_nowait(key)

    def _enqueue_later(self, key: Key, at: datetime) -> None:
        delay = max(0.0, (at - utcnow()).total_seconds())
        loop = asyncio.get_running_loop()
        current = self._timers.get(key)
        if current is not None:
            if current.when() <= loop.time() + delay:
                return
            current.cancel()
        self._timers[key] = loop.call_later(delay, self._enqueue, key)

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            if key in self._busy:
                self._again.add(key)
                continue
            self._busy.add(key)
            try:
                await self._process(key)
            except asyncio.CancelledError:
                raise
            except Exception:  # one broken delivery must not stop the worker
                logger.exception("%s notification delivery failed", object_ref(*key))
            finally:
                self._busy.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self._enqueue(key)

    async def _process(self, key: Key) -> None:
        body = self._cached_run(key)
        if body is None:
            return
        facts = RunFacts.from_body(body)
        sinks = self._sinks_of(facts.namespace, facts.scheduled_job)
        if sinks is None:
            return  # the ScheduledJob is not loaded yet; loading it considers its runs again
        by_name = {sink.name: sink for sink in sinks}
        now = utcnow()
        for record in facts.status.notifications or []:
            if record.state == DeliveryState.SENDING and (key, record.sink, record.event) not in self._in_flight:
                await self._give_up(
                    key, record,
                    "the operator stopped while a request was in flight; not resent, so the webhook never gets it twice",
                )
            elif record.state == DeliveryState.PENDING:
                if record.nextAttemptTime is not None and record.nextAttemptTime > now:
                    self._enqueue_later(key, record.nextAttemptTime)
                    continue
                sink = by_name.get(record.sink)
                if sink is None:
                    await self._give_up(key, record, f"sink {record.sink} is no longer in spec.notify")
                    continue
                await self._deliver(key, record, sink)

    async def _give_up(self, key: Key, record: Notification, error: str) -> None:
        """Mark a record Failed without a request, keeping its count of tries."""
        await self._record_result(key, record, record.attempts, Result(Outcome.FAILED, error), None)

    async def _deliver(self, key: Key, record: Notification, sink: NotifySink) -> None:
        namespace, name = key
        flight = (key, record.sink, record.event)
        if flight in self._in_flight:
            return
        self._in_flight.add(flight)
        try:
            attempts = record.attempts + 1
            now = utcnow()
            try:
                url = await self._webhook_url(namespace, sink)
            except SecretError as error:
                await self._record_result(key, record, attempts, Result(Outcome.RETRY, str(error)), now)
                return

            def to_sending(status: JobRunStatus) -> JobRunStatus:
                current = find_record(status, record.sink, record.event)
                if current is None or current.state != DeliveryState.PENDING or current.attempts != record.attempts:
                    return status
                return set_record(status, record.sink, record.event, state=DeliveryState.SENDING, attempts=attempts,
                                  lastAttemptTime=now, nextAttemptTime=None)

            written = await self._write_status(namespace, name, to_sending)
            current = find_record(written, record.sink, record.event) if written is not None else None
            if current is None or current.state != DeliveryState.SENDING or current.attempts != attempts:
                return  # another writer got there first, or the JobRun is gone
            body = self._cached_run(key)
            if body is None:
                return
            payload = build_body(sink.format, RunFacts.from_body(body), record.event)
            result = await self._post(url, payload, sink.timeoutSeconds)
            await self._record_result(key, current, attempts, result, utcnow())
        finally:
            self._in_flight.discard(flight)

    async def _record_result(
        self, key: Key, record: Notification, attempts: int, result: Result, tried_at: datetime | None
    ) -> None:
        """Write the outcome of a delivery try (tried_at None: no request was made), then log and report it."""
        if result.outcome == Outcome.RETRY and attempts >= MAX_DELIVERY_ATTEMPTS:
            result = Result(Outcome.FAILED, f"{result.error}; gave up after {attempts} tries")
        changes: dict[str, Any] = {"attempts": attempts, "lastError": result.error, "nextAttemptTime": None}
        if tried_at is not None:
            changes["lastAttemptTime"] = tried_at
        if result.outcome == Outcome.DELIVERED:
            changes["state"] = DeliveryState.DELIVERED
        elif result.outcome == Outcome.RETRY:
            changes["state"] = DeliveryState.PENDING
            changes["nextAttemptTime"] = utcnow() + timedelta(seconds=retry_delay(attempts))
        else:
            changes["state"] = DeliveryState.FAILED

        def apply(status: JobRunStatus) -> JobRunStatus:
            current = find_record(status, record.sink, record.event)
            if current is None or current.state != record.state or current.attempts != record.attempts:
                return status
            return set_record(status, record.sink, record.event, **changes)

        written = await self._write_status(key[0], key[1], apply)
        current = find_record(written, record.sink, record.event) if written is not None else None
        if current is None or current.state != changes["state"] or current.attempts != attempts:
            return  # another writer changed the record first, or the JobRun is gone
        body = self._cached_run(key)
        where = f"{object_ref(*key)} notification {record.event.value} to sink {record.sink}"
        if result.outcome == Outcome.DELIVERED:
            logger.info("%s delivered (try %d)", where, attempts)
        elif result.outcome == Outcome.RETRY:
            logger.warning("%s try %d failed, retrying in %d s: %s", where, attempts, retry_delay(attempts), result.error)
            self._enqueue_later(key, changes["nextAttemptTime"])
        else:
            logger.warning("%s failed: %s", where, result.error)
            if body is not None:
                message = f"notification {record.event.value} to sink {record.sink} failed: {result.error}"
                self.kube.post_event(body, "Warning", "NotificationFailed", message)
        if body is not None:
            self._report(RunFacts.from_body(body), result.outcome)

    def _report(self, facts: RunFacts, outcome: Outcome) -> None:
        if self._on_result is not None:
            self._on_result(facts.namespace, facts.scheduled_job, outcome)

    async def _webhook_url(self, namespace: str, sink: NotifySink) -> str:
        ref = sink.urlSecretRef
        where = f"Secret {ref.name} key {ref.key} (sink {sink.name})"
        try:
            secret = await self.kube.core.read_namespaced_secret(ref.name, namespace)
        except ApiException as error:
            if error.status == 404:
                raise SecretError(f"{where}: the Secret was not found in namespace {namespace}") from None
            if error.status == 403:
                raise SecretError(f"{where}: the operator may not get Secrets in namespace {namespace} (RBAC)") from None
            raise SecretError(f"{where}: reading the Secret failed with HTTP {error.status}") from None
        encoded = (secret.data or {}).get(ref.key)
        if encoded is None:
            raise SecretError(f"{where}: the Secret has no such key")
        try:
            url = base64.b64decode(encoded).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretError(f"{where}: the value is not UTF-8 text") from None
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise SecretError(f"{where}: the value is not an http or https URL")
        return url

    async def _post(self, url: str, payload: dict[str, Any], timeout_seconds: int) -> Result:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=min(timeout_seconds, CONNECT_TIMEOUT_SECONDS))
        try:
            async with self._session.post(url, json=payload, timeout=timeout, allow_redirects=False) as response:
                return result_of_status(response.status)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return result_of_error(error, timeout_seconds)
