"""Supervision of active runs: SLA deadlines, retries, the failure streak, metrics and notifications.

The Controller and its RunTracker call in at a few points:

- ``amend`` inside every JobRun status write, so a retried failure becomes
  RetryScheduled and an owed notification is recorded in the same write as
  the change that causes it;
- ``on_transition`` after every write, and ``on_run_event`` on every JobRun
  watch event, which keep one item per run in the controller's central time
  queue at the run's next SLA deadline or retry time (``RunTimer`` keys);
- ``on_due`` when such an item is due, ``on_spec`` when a ScheduledJob is
  loaded or edited, ``after_refresh`` when its summary is recomputed.

The deadlines come from the JobRun, its Job and the spec alone, so after a
restart the watch events of the existing JobRuns queue the same ones again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from punctual import notify, planning, retry, runstatus, sla
from punctual.background import retrying
from punctual.kube import JOB_RUNS, SCHEDULED_JOBS, Body, object_ref, utcnow
from punctual.metrics import Metrics
from punctual.models import (
    JobRunStatus,
    NotifySink,
    ScheduledJobSpec,
    ScheduledJobStatus,
    format_time,
    parse_time,
)
from punctual.naming import attempt_job_name

if TYPE_CHECKING:
    from punctual.controller import Controller, Entry

logger = logging.getLogger("punctual")

Key = tuple[str, str]  # (namespace, name)

REASON_SUSPENDED_AFTER_FAILURES = "SuspendedAfterFailures"
# A deadline still due right after its check (the check could not act on it) is checked again this much later.
RECHECK_SECONDS = 5
MAX_SUSPEND_REASON = 256


@dataclass(frozen=True)
class RunTimer:
    """The central time queue's key for one run's next SLA deadline or retry."""

    namespace: str
    name: str

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


def scheduled_time(run: Body) -> datetime:
    """Return the occurrence a JobRun is for: spec.scheduledTime, or its creation time for a manual run."""
    return parse_time((run.get("spec") or {}).get("scheduledTime") or run["metadata"]["creationTimestamp"])


def _status(run: Body) -> JobRunStatus | None:
    try:
        return JobRunStatus.model_validate(run.get("status") or {})
    except ValidationError:
        return None


def _sj_status(body: Body) -> ScheduledJobStatus:
    try:
        return ScheduledJobStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return ScheduledJobStatus()


class Supervisor:
    def __init__(self, controller: Controller, metrics: Metrics) -> None:
        self.controller = controller
        self.metrics = metrics
        self.notifier = notify.Notifier(
            controller.kube,
            lambda namespace, name, change: self.controller.runs.write_status(namespace, name, change),
            lambda key: self.controller.runs.job_runs.get(key),
            self._sinks_of,
            self.metrics.count_notification,
        )
        # Specs of ScheduledJobs that amend read because they were not loaded here; None for an invalid spec.
        self._fetched_specs: dict[Key, ScheduledJobSpec | None] = {}
        # The time each run's RunTimer is queued at, so an unchanged deadline is not queued again.
        self._armed: dict[Key, datetime] = {}
        # Failure streak per ScheduledJob: (count, through), as last written to its status.
        self._streaks: dict[Key, tuple[int, datetime | None]] = {}

    def start(self) -> None:
        self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop()

    # ------------------------------------------------------------ specs

    def _entry(self, run: Body) -> Entry | None:
        sj_name = (run.get("spec") or {}).get("scheduledJobName")
        return self.controller.entries.get((run["metadata"]["namespace"], sj_name)) if sj_name else None

    def _sinks_of(self, namespace: str, scheduled_job: str) -> list[NotifySink] | None:
        entry = self.controller.entries.get((namespace, scheduled_job))
        if entry is not None:
            return entry.spec.notify or []
        fetched = self._fetched_specs.get((namespace, scheduled_job))
        return fetched.notify or [] if fetched is not None else None

    async def _spec_for(self, run: Body) -> ScheduledJobSpec | None:
        """Return the spec of a run's ScheduledJob, reading it when it is not loaded here yet."""
        entry = self._entry(run)
        if entry is not None:
            return entry.spec
        namespace = run["metadata"]["namespace"]
        sj_name = (run.get("spec") or {}).get("scheduledJobName")
        if not sj_name:
            return None
        if (namespace, sj_name) in self._fetched_specs:
            return self._fetched_specs[(namespace, sj_name)]
        try:
            sj = await self.controller.kube.get_custom(SCHEDULED_JOBS, namespace, sj_name)
        except ApiException as error:
            if error.status != 404:
                raise
            # Remembered, so later writes do not read it again, until a ScheduledJob of that name loads (on_spec).
            self._fetched_specs[(namespace, sj_name)] = None
            return None
        try:
            spec = ScheduledJobSpec.model_validate(sj.get("spec") or {})
        except ValidationError:
            spec = None
        self._fetched_specs[(namespace, sj_name)] = spec
        return spec

    # ------------------------------------------------------------ status writes

    async def amend(self, run: Body, old: JobRunStatus, new: JobRunStatus) -> JobRunStatus:
        """Complete a status change before it is written: plan a retry, record owed notifications."""
        if new == old:
            return new
        spec = await self._spec_for(run)
        if spec is None:
            return new
        new = retry.plan_retry(spec.retryPolicy, old, new, utcnow())
        events = notify.events_between(old, new)
        if events:
            new = notify.add_pending(new, spec.notify, events)
        return new

    def on_transition(self, run: Body, old: JobRunStatus, new: JobRunStatus) -> None:
        """Count a written status change, log what it means, and re-arm the run's timer."""
        namespace, name = run["metadata"]["namespace"], run["metadata"]["name"]
        spec = run.get("spec") or {}
        self.metrics.observe_transition(namespace, spec.get("scheduledJobName", ""), spec.get("trigger"), old, new)
        for kind in sla.breaches_between(old, new):
            logger.warning("%s SLA breach (%s): %s", object_ref(namespace, name), kind.value, _breach_message(new, kind))
        if runstatus.is_retry_pending(new) and not runstatus.is_retry_pending(old):
            logger.warning("%s %s", object_ref(namespace, name), new.message)
        self.arm((namespace, name))
        if new.notifications != old.notifications:
            self.notifier.consider((namespace, name))

    def on_run_event(self, event_type: str | None, body: Body) -> None:
        """Follow a JobRun watch event: re-arm its timer, deliver what it owes, or forget it."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED":
            self._disarm(key)
            return
        self.arm(key)
        self.notifier.consider(key)

    # ------------------------------------------------------------ timers

    def arm(self, key: Key, checked_at: datetime | None = None) -> None:
        """Queue the run's earliest SLA deadline or retry time, or take it off the queue when it has none.

        checked_at is when a check of the run just ran: a deadline it left due is queued RECHECK_SECONDS later.
        """
        timer = RunTimer(*key)
        run = self.controller.runs.job_runs.get(key)
        entry = self._entry(run) if run is not None else None
        status = _status(run) if run is not None else None
        if run is None or status is None or entry is None:
            # A run of a ScheduledJob not loaded yet is armed again by on_spec.
            self._disarm(key)
            return
        job = self.controller.runs.jobs.get((key[0], status.jobName)) if status.jobName else None
        due = [sla.next_deadline(entry.spec.sla, status, scheduled_time(run), job)]
        if runstatus.is_retry_pending(status):
            due.append(status.nextAttemptTime or utcnow())
        earliest = min((t for t in due if t is not None), default=None)
        if earliest is not None and checked_at is not None and earliest <= checked_at:
            earliest = checked_at + timedelta(seconds=RECHECK_SECONDS)
        if earliest is None:
            self._disarm(key)
        elif self._armed.get(key) != earliest or timer not in self.controller.scheduler:
            self._armed[key] = earliest
            self.controller.scheduler.put(timer, earliest, earliest)

    def _disarm(self, key: Key) -> None:
        self._armed.pop(key, None)
        self.controller.scheduler.remove(RunTimer(*key))

    def on_due(self, timer: RunTimer) -> None:
        """Handle a due RunTimer in its own task (called by the scheduler loop, which must not wait)."""
        self.controller.background.spawn(self._check(timer.key), f"{object_ref(*timer.key)} SLA and retry check")

    async def _check(self, key: Key) -> None:
        try:
            await retrying(f"{object_ref(*key)} SLA and retry check", lambda: self._check_once(key))
        finally:
            self.arm(key, checked_at=utcnow())

    async def _check_once(self, key: Key) -> None:
        run = self.controller.runs.job_runs.get(key)
        entry = self._entry(run) if run is not None else None
        status = _status(run) if run is not None else None
        if run is None or entry is None or status is None:
            return
        now = utcnow()
        if runstatus.is_retry_pending(status):
            if status.nextAttemptTime is None or status.nextAttemptTime <= now:
                await self._start_attempt(entry, key)
            return
        if entry.spec.sla is None:
            return
        namespace, name = key
        occurrence = scheduled_time(run)
        verdicts: list[sla.Verdict] = []

        def evaluate(current: JobRunStatus) -> JobRunStatus:
            job = self.controller.runs.jobs.get((namespace, current.jobName)) if current.jobName else None
            pod = self.controller.runs.pods.get((namespace, current.jobName)) if current.jobName else None
            verdict = sla.evaluate(entry.spec.sla, current, occurrence, job, pod, utcnow())
            verdicts.append(verdict)
            return verdict.status

        await self.controller.runs.write_status(namespace, name, evaluate)
        doomed = verdicts[-1].delete_job if verdicts else None
        if doomed:
            await self.controller.kube.delete_job(namespace, doomed)
            logger.warning("%s deleted Job %s: %s", object_ref(*key), doomed, verdicts[-1].status.message)

    async def _start_attempt(self, entry: Entry, key: Key) -> None:
        """Create the next attempt's Job of a run waiting for a retry, under the ScheduledJob's lock."""
        namespace, name = key
        async with self.controller._sj_lock(entry.key):  # noqa: SLF001 (firings and retries of one ScheduledJob are serialized)
            try:
                run = await self.controller.kube.get_custom(JOB_RUNS, namespace, name)
            except ApiException as error:
                if error.status == 404:
                    return
                raise
            self.controller.runs.remember(run)
            status = _status(run)
            if status is None or not runstatus.is_retry_pending(status):
                return
            attempt = len(status.attempts or []) + 1
            job = attempt_job_name(name, attempt)
            logger.info("%s starting attempt %d with Job %s", object_ref(*key), attempt, job)
            await self.controller._create_job(entry, run, scheduled_time(run), attempt_job=job)  # noqa: SLF001

    # ------------------------------------------------------------ ScheduledJobs

    def on_spec(self, entry: Entry) -> None:
        """Re-arm the runs of a loaded or edited ScheduledJob, and reset its failure streak when it resumes."""
        self._fetched_specs.pop(entry.key, None)
        status = _sj_status(entry.body)
        if not entry.spec.suspend and status.suspendedAt is not None and status.consecutiveFailures:
            self._streaks[entry.key] = (0, status.failuresCountedThrough)
            self.controller.background.spawn(
                self._write_streak(entry, 0, status.failuresCountedThrough), f"{object_ref(*entry.key)} streak reset"
            )
        for key, run in list(self.controller.runs.job_runs.items()):
            if key[0] == entry.namespace and (run.get("spec") or {}).get("scheduledJobName") == entry.name:
                self.arm(key)
                self.notifier.consider(key)

    def forget(self, namespace: str, name: str) -> None:
        self._streaks.pop((namespace, name), None)
        self._fetched_specs.pop((namespace, name), None)
        self.metrics.forget(namespace, name)

    async def _write_streak(self, entry: Entry, count: int, through: datetime | None) -> None:
        patch: dict[str, Any] = {"consecutiveFailures": count}
        if through is not None:
            patch["failuresCountedThrough"] = format_time(through)
        await self.controller.kube.patch_status(SCHEDULED_JOBS, entry.namespace, entry.name, patch)

    async def after_refresh(self, entry: Entry, views: list[planning.RunView], active: int) -> None:
        """Update the active-runs gauge and the failure streak; suspend the ScheduledJob when the streak is long."""
        self.metrics.set_active(entry.namespace, entry.name, active)
        status = _sj_status(entry.body)
        count, through = self._streaks.get(entry.key, (status.consecutiveFailures or 0, status.failuresCountedThrough))
        finished = [
            retry.FinishedRun(name=view.name, scheduled_time=view.scheduled_time, phase=view.phase)
            for view in views
            if view.scheduled_time is not None and view.finished
        ]
        streak = retry.fold_streak(count, through, finished)
        if (streak.count, streak.through) != (count, through):
            await self._write_streak(entry, streak.count, streak.through)
        self._streaks[entry.key] = (streak.count, streak.through)
        limit = entry.spec.stopAfterConsecutiveFailures
        if limit is None or streak.count < limit or streak.last_failed is None or entry.spec.suspend:
            return
        last = next((view for view in views if view.name == streak.last_failed), None)
        cause = f" ({last.status.reason})" if last is not None and last.status.reason else ""
        reason = (
            f"suspended by the operator after {streak.count} failed runs in a row "
            f"(stopAfterConsecutiveFailures {limit}); the last was JobRun {streak.last_failed}{cause}. "
            f"Fix the cause, then set spec.suspend to false"
        )
        await self.controller.kube.patch_spec(
            SCHEDULED_JOBS, entry.namespace, entry.name, {"suspend": True, "suspendReason": reason[:MAX_SUSPEND_REASON]}
        )
        logger.warning("%s %s", object_ref(*entry.key), reason)
        self.controller.kube.post_event(entry.body, "Warning", REASON_SUSPENDED_AFTER_FAILURES, reason)


def _breach_message(status: JobRunStatus, kind: sla.BreachKind) -> str:
    condition_type = {
        sla.BreachKind.START: sla.CONDITION_START_SLA_BREACHED,
        sla.BreachKind.WARN: sla.CONDITION_SLA_BREACHED,
    }.get(kind)
    if condition_type is None:
        return status.attempts[-1].message if status.attempts and status.attempts[-1].message else status.message or ""
    return next((c.message for c in status.conditions or [] if c.type == condition_type), "")
