"""The operator's actions: loading ScheduledJobs, firing occurrences and keeping JobRun status true.

State lives in the API server. In memory there is only a cache: per
ScheduledJob the parsed spec and the dispatch cursor (every occurrence at or
before it has been handed to a firing task), plus the latest JobRun, Job and
pod bodies seen on the watches.

Firing one occurrence, in an order that is safe against a crash between any
two steps (a restart repeats the steps, and deterministic names turn every
repeated create into AlreadyExists):

1. create the JobRun ``<scheduled-job>-<unix seconds>``;
2. decide by the concurrency policy from the JobRuns and Jobs in the cluster;
3. create the Job of the same name, owned by the JobRun;
4. write the JobRun status and advance the ScheduledJob's ``lastScheduleTime``.

``lastScheduleTime`` is advanced only after an occurrence has a run or a
Skipped record, and the firings of one ScheduledJob are serialized by a lock,
so on restart every occurrence after it is exactly the unhandled ones.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from punctual import failpoints, history, planning, runstatus
from punctual.kube import (
    JOB_RUNS,
    SCHEDULED_JOBS,
    Body,
    Kube,
    controller_uid,
    object_ref,
    utcnow,
)
from punctual.models import (
    API_VERSION,
    ConcurrencyPolicy,
    ConditionStatus,
    JobRunStatus,
    RunPhase,
    RunTrigger,
    ScheduledJobSpec,
    ScheduledJobStatus,
    SkippedRange,
    format_time,
    parse_time,
)
from punctual.naming import (
    ANNOTATION_SCHEDULED_TIME,
    LABEL_JOB_RUN,
    job_name,
    job_run_body,
    label_value,
    owner_reference,
    run_annotations,
    run_labels,
    run_name,
)
from punctual.background import Background, retrying
from punctual.metrics import Metrics
from punctual.runtracker import RunTracker, fresher
from punctual.schedule import Schedule, ScheduleError, jitter_offset, parse_schedule
from punctual.scheduler import Scheduler
from punctual.supervisor import RunTimer, Supervisor

logger = logging.getLogger("punctual")

Key = tuple[str, str]  # (namespace, name)

NEXT_TIMES_SHOWN = 3
MAX_CONCURRENT_FIRINGS = 32
REFRESH_DELAY_SECONDS = 0.3

CONDITION_READY = "Ready"
CONDITION_SCHEDULE_VALID = "ScheduleValid"
CONDITION_SUSPENDED = "Suspended"
REASON_NAME_CONFLICT = "NameConflict"
REASON_SCHEDULED_JOB_NOT_FOUND = "ScheduledJobNotFound"
REASON_JOB_REJECTED = "JobRejected"



class NameConflictError(Exception):
    """An object with a run's deterministic name exists and is not ours."""


@dataclass
class Entry:
    """What the operator keeps in memory about one ScheduledJob."""

    namespace: str
    name: str
    uid: str
    body: Body
    spec: ScheduledJobSpec
    schedule: Schedule
    cursor: datetime
    """Every occurrence at or before this has been dispatched to a firing task."""
    last_schedule_time: datetime | None
    conditions: list = field(default_factory=list)
    loaded: bool = False
    """False until the resume (catch-up) pass after loading has finished."""

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @property
    def hash_key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def fire_time(self, occurrence: datetime) -> datetime:
        offset = jitter_offset(self.hash_key, occurrence, self.spec.jitterSeconds)
        return occurrence + timedelta(seconds=offset)


class Controller:
    def __init__(
        self, kube: Kube, *, max_concurrent_firings: int = MAX_CONCURRENT_FIRINGS, metrics: Metrics | None = None
    ) -> None:
        self.kube = kube
        self.background = Background()
        self.scheduler = Scheduler(self._dispatch)
        self.expiry = history.ExpiryTimer(self.request_refresh)
        self.supervisor = Supervisor(self, metrics or Metrics())
        self.runs = RunTracker(
            kube, self.background, self._on_transition, self._on_manual_run, amend=self.supervisor.amend
        )
        self.entries: dict[Key, Entry] = {}
        self._sj_locks: dict[Key, asyncio.Lock] = {}
        self._firing_slots = asyncio.Semaphore(max_concurrent_firings)
        self._refresh_pending: set[Key] = set()
        self._manual_pending: set[Key] = set()

    async def stop(self) -> None:
        await self.supervisor.stop()
        await self.expiry.stop()
        await self.background.stop()


    def _sj_lock(self, key: Key) -> asyncio.Lock:
        return self._sj_locks.setdefault(key, asyncio.Lock())

    async def _retrying(self, what: str, key: Key, uid: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run action until it succeeds, while the ScheduledJob with this uid is still scheduled here."""

        def still_wanted() -> bool:
            entry = self.entries.get(key)
            return entry is not None and entry.uid == uid

        await retrying(f"{object_ref(*key)} {what}", action, still_wanted)

    # ------------------------------------------------------------ ScheduledJob lifecycle

    async def upsert(self, body: Body) -> None:
        """Load or update one ScheduledJob (kopf create, update and resume handlers)."""
        metadata = body["metadata"]
        key = (metadata["namespace"], metadata["name"])
        async with self._sj_lock(key):
            await self._upsert_locked(key, body)

    async def _upsert_locked(self, key: Key, body: Body) -> None:
        namespace, name = key
        metadata = body["metadata"]
        now = utcnow()
        status = _sj_status(body)
        previous = self.entries.get(key)
        if previous is not None and previous.uid != metadata["uid"]:
            self.forget(namespace, name)
            previous = None
        conditions = previous.conditions if previous else list(status.conditions or [])

        try:
            spec = ScheduledJobSpec.model_validate(body.get("spec") or {})
            schedule = parse_schedule(
                spec.expressions if spec.schedules else spec.schedule or "",
                time_zone=spec.timeZone,
                hash_key=f"{namespace}/{name}",
                field=spec.schedule_field,
            )
        except (ScheduleError, ValidationError) as error:
            await self._reject_spec(key, body, conditions, error, now)
            return

        status_patch: dict[str, Any] = {"observedGeneration": metadata.get("generation")}
        applied = planning.applied_schedule(spec.expressions, spec.timeZone)
        if previous is not None:
            cursor = previous.cursor
            last_schedule_time = previous.last_schedule_time
        else:
            cursor = planning.resume_cursor(status, parse_time(metadata["creationTimestamp"]))
            last_schedule_time = status.lastScheduleTime
        cursor_reset = False

        if planning.schedule_changed(status, spec.expressions, spec.timeZone):
            cursor, last_schedule_time = await self._apply_schedule_change(
                key, body, status, cursor, last_schedule_time, now
            )
            cursor_reset = True
            status_patch["scheduleEffectiveFrom"] = format_time(now)
            logger.info("%s schedule changed to %s; it applies from %s", object_ref(*key), applied.expressions, format_time(now))
        if status.appliedSchedule != applied:
            status_patch["appliedSchedule"] = applied.to_api()

        if spec.suspend:
            if status.suspendedAt is None:
                status_patch["suspendedAt"] = format_time(now)
                logger.info("%s suspended: no runs until spec.suspend is false", object_ref(*key))
            self.scheduler.remove(key)
        elif status.suspendedAt is not None:
            record = planning.skip_range(
                schedule, cursor, now, planning.REASON_SUSPENDED,
                "occurred while the ScheduledJob was suspended",
            )
            if record is not None:
                await self._record_skip(key, body, record, RunTrigger.SCHEDULE)
                last_schedule_time = max(filter(None, [last_schedule_time, record.last]))
            cursor = max(cursor, now)
            cursor_reset = True
            status_patch["suspendedAt"] = None
            logger.info("%s resumed from suspension", object_ref(*key))

        conditions = self._spec_conditions(conditions, spec, metadata.get("generation"), now)
        status_patch.update(
            conditions=[c.to_api() for c in conditions],
            scheduleDisplay=" | ".join(spec.expressions),
            nextScheduleTimes=[] if spec.suspend else [format_time(t) for t in schedule.next_times(now, NEXT_TIMES_SHOWN)],
        )
        if last_schedule_time is not None and last_schedule_time != status.lastScheduleTime:
            status_patch["lastScheduleTime"] = format_time(last_schedule_time)
        await self.kube.patch_status(SCHEDULED_JOBS, namespace, name, status_patch)

        if previous is not None and self.entries.get(key) is previous:
            # Update in place: a firing dispatched during the awaits above has advanced previous.cursor.
            entry = previous
            entry.body, entry.spec, entry.schedule, entry.conditions = body, spec, schedule, conditions
            entry.cursor = max(cursor, entry.cursor) if cursor_reset else entry.cursor
            if entry.last_schedule_time is None or (last_schedule_time and last_schedule_time > entry.last_schedule_time):
                entry.last_schedule_time = last_schedule_time
        else:
            entry = Entry(
                namespace=namespace,
                name=name,
                uid=metadata["uid"],
                body=body,
                spec=spec,
                schedule=schedule,
                cursor=cursor,
                last_schedule_time=last_schedule_time,
                conditions=conditions,
            )
            self.entries[key] = entry
        self.supervisor.on_spec(entry)
        if spec.suspend:
            return
        if entry.loaded:
            self._queue_next(entry)
        else:
            self.background.spawn(self._resume(key, entry.uid), f"{object_ref(*key)} resume")

    async def _apply_schedule_change(
        self,
        key: Key,
        body: Body,
        status: ScheduledJobStatus,
        cursor: datetime,
        last_schedule_time: datetime | None,
        now: datetime,
    ) -> tuple[datetime, datetime | None]:
        """Record occurrences of the old schedule not yet handled as Skipped, and start the new one at now."""
        old = status.appliedSchedule
        assert old is not None
        try:
            old_schedule = parse_schedule(
                old.expressions, time_zone=old.timeZone, hash_key=f"{key[0]}/{key[1]}", field="status.appliedSchedule"
            )
        except ScheduleError:
            old_schedule = None
        if old_schedule is not None and not (body.get("spec") or {}).get("suspend"):
            record = planning.skip_range(
                old_schedule, cursor, now, planning.REASON_SCHEDULE_CHANGED,
                "due under the previous schedule while the operator was not running; the schedule was edited since",
            )
            if record is not None:
                await self._record_skip(key, body, record, RunTrigger.CATCH_UP)
                last_schedule_time = max(filter(None, [last_schedule_time, record.last]))
        return max(cursor, now), last_schedule_time

    def _spec_conditions(self, conditions: list, spec: ScheduledJobSpec, generation: int | None, now: datetime) -> list:
        conditions = runstatus.set_condition(
            conditions, CONDITION_SCHEDULE_VALID, ConditionStatus.TRUE, "Valid",
            f"schedule {' | '.join(spec.expressions)} in {spec.timeZone} is valid", now, generation,
        )
        if spec.suspend:
            conditions = runstatus.set_condition(
                conditions, CONDITION_SUSPENDED, ConditionStatus.TRUE, "Suspended",
                spec.suspendReason or "spec.suspend is true", now, generation,
            )
        else:
            conditions = runstatus.set_condition(
                conditions, CONDITION_SUSPENDED, ConditionStatus.FALSE, "NotSuspended", "", now, generation,
            )
        ready = not spec.suspend
        return runstatus.set_condition(
            conditions, CONDITION_READY,
            ConditionStatus.TRUE if ready else ConditionStatus.FALSE,
            "Scheduling" if ready else "Suspended",
            "runs are created at each scheduled time" if ready else "no runs are created while suspended",
            now, generation,
        )

    async def _reject_spec(
        self, key: Key, body: Body, conditions: list, error: ScheduleError | ValidationError, now: datetime
    ) -> None:
        """Stop scheduling an invalid ScheduledJob and say why in its conditions and a Warning Event."""
        namespace, name = key
        self.scheduler.remove(key)
        self.entries.pop(key, None)
        if isinstance(error, ScheduleError):
            reason = "UnknownTimeZone" if error.field == "spec.timeZone" else "InvalidSchedule"
            message = str(error)
        else:
            reason = "InvalidSpec"
            message = "; ".join(
                f"spec.{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}" for detail in error.errors()
            )
        generation = body["metadata"].get("generation")
        conditions = runstatus.set_condition(conditions, CONDITION_SCHEDULE_VALID, ConditionStatus.FALSE, reason, message, now, generation)
        conditions = runstatus.set_condition(conditions, CONDITION_READY, ConditionStatus.FALSE, reason, "no runs are created until the spec is fixed", now, generation)
        logger.warning("%s %s: %s", object_ref(*key), reason, message)
        self.kube.post_event(body, "Warning", reason, message)
        await self.kube.patch_status(
            SCHEDULED_JOBS,
            namespace,
            name,
            {
                "observedGeneration": generation,
                "conditions": [c.to_api() for c in conditions],
                "nextScheduleTimes": [],
            },
        )

    def forget(self, namespace: str, name: str) -> None:
        """Stop scheduling a deleted ScheduledJob; its runs go with it through the garbage collector."""
        key = (namespace, name)
        self.scheduler.remove(key)
        self.expiry.remove(key)
        self.supervisor.forget(namespace, name)
        lock = self._sj_locks.get(key)
        if lock is not None and not lock.locked():
            del self._sj_locks[key]
        if self.entries.pop(key, None) is not None:
            logger.info("%s deleted: scheduling stopped", object_ref(*key))

    # ------------------------------------------------------------ the queue

    def _queue_next(self, entry: Entry) -> None:
        occurrence = entry.schedule.next_after(entry.cursor)
        if occurrence is None:
            self.scheduler.remove(entry.key)
            return
        self.scheduler.put(entry.key, occurrence, entry.fire_time(occurrence))

    def _dispatch(self, key: Hashable, occurrence: datetime) -> None:
        """Hand a due occurrence to its own task and queue the next one (called by the scheduler loop)."""
        if isinstance(key, RunTimer):
            self.supervisor.on_due(key)
            return
        entry = self.entries.get(key)  # type: ignore[arg-type]
        if entry is None or entry.spec.suspend:
            return
        entry.cursor = max(entry.cursor, occurrence)
        self._queue_next(entry)
        self.background.spawn(self._fire(entry.key, entry.uid, occurrence, RunTrigger.SCHEDULE), f"{object_ref(*entry.key)} firing")

    async def _fire(self, key: Key, uid: str, occurrence: datetime, trigger: RunTrigger) -> None:
        async with self._firing_slots, self._sj_lock(key):
            entry = self.entries.get(key)
            if entry is None or entry.uid != uid:
                return
            await self._retrying(
                f"firing {format_time(occurrence)}", key, uid, lambda: self._fire_locked(entry, occurrence, trigger)
            )

    # ------------------------------------------------------------ resume and catch-up

    async def _resume(self, key: Key, uid: str) -> None:
        async with self._sj_lock(key):
            entry = self.entries.get(key)
            if entry is None or entry.uid != uid:
                return
            await self._retrying("resume", key, uid, lambda: self._resume_locked(entry))
            entry.loaded = True
            if not entry.spec.suspend and self.entries.get(key) is entry:
                self._queue_next(entry)
        self.request_refresh(key)

    async def _resume_locked(self, entry: Entry) -> None:
        """Finish the occurrence a crash interrupted, then catch up on the ones missed while down."""
        now = utcnow()
        runs = {run["metadata"]["name"]: run for run in await self.kube.list_job_runs(entry.namespace, entry.name)}
        await self._fail_runs_without_jobs(entry, runs)

        cursor = entry.cursor
        while True:
            occurrence = entry.schedule.next_after(cursor)
            if occurrence is None or occurrence > now:
                break
            existing = runs.get(run_name(entry.name, occurrence))
            if existing is None or controller_uid(existing) != entry.uid:
                break
            skipped = JobRunStatus.model_validate(existing.get("status") or {}).skipped
            if skipped is not None:
                await self._advance(entry, skipped.last)
                cursor = skipped.last
                continue
            trigger = RunTrigger((existing.get("spec") or {}).get("trigger") or RunTrigger.SCHEDULE.value)
            await self._fire_locked(entry, occurrence, trigger, existing=existing)
            cursor = occurrence

        window_end = now - timedelta(seconds=entry.spec.jitterSeconds)
        plan = planning.plan_catch_up(
            entry.schedule,
            after=cursor,
            until=window_end,
            now=now,
            policy=entry.spec.catchUp.policy,
            max_runs=entry.spec.catchUp.maxRuns,
            starting_deadline_seconds=entry.spec.startingDeadlineSeconds,
        )
        if plan.skips or plan.runs:
            logger.info(
                "%s catching up after %s: %d run(s), %d occurrence(s) recorded Skipped",
                object_ref(*entry.key), format_time(cursor), len(plan.runs), sum(s.count for s in plan.skips),
            )
        for record in plan.skips:
            await self._record_skip(entry.key, entry.body, record, RunTrigger.CATCH_UP)
            await self._advance(entry, record.last)
        for occurrence in plan.runs:
            await self._fire_locked(entry, occurrence, RunTrigger.CATCH_UP)
        entry.cursor = max(cursor, window_end, entry.cursor)

    async def _fail_runs_without_jobs(self, entry: Entry, runs: dict[str, Body]) -> None:
        """Mark runs Failed whose recorded Job was deleted while the operator was not watching."""
        jobs = {job["metadata"]["name"] for job in await self.kube.list_jobs(entry.namespace, entry.name)}
        now = utcnow()
        for name, run in runs.items():
            status = JobRunStatus.model_validate(run.get("status") or {})
            if status.phase is not None and status.phase.terminal:
                continue
            if status.jobName and status.jobName not in jobs:
                self.runs.remember(run)
                await self.runs.write_status(
                    entry.namespace, name, lambda s: runstatus.derive_status(s, None, None, now, job_deleted=True)
                )

    async def _advance(self, entry: Entry, occurrence: datetime) -> None:
        """Persist that every occurrence up to this one is handled."""
        if entry.last_schedule_time is not None and occurrence <= entry.last_schedule_time:
            return
        now = utcnow()
        await self.kube.patch_status(
            SCHEDULED_JOBS,
            entry.namespace,
            entry.name,
            {
                "lastScheduleTime": format_time(occurrence),
                "nextScheduleTimes": [format_time(t) for t in entry.schedule.next_times(now, NEXT_TIMES_SHOWN)],
            },
        )
        entry.last_schedule_time = occurrence

    # ------------------------------------------------------------ firing one occurrence

    async def _create_job_run(self, entry: Entry, occurrence: datetime, trigger: RunTrigger) -> tuple[Body, bool]:
        name = run_name(entry.name, occurrence)
        body = job_run_body(entry.body, occurrence, trigger, name)
        run, created = await self.kube.create_job_run(entry.namespace, body)
        if not created and controller_uid(run) != entry.uid:
            raise NameConflictError(f"JobRun {name} exists and is not controlled by this ScheduledJob")
        if created:
            logger.info("%s created JobRun %s for %s (%s)", object_ref(*entry.key), name, format_time(occurrence), trigger.value)
        self.runs.remember(run)
        return run, created

    async def _fire_locked(
        self, entry: Entry, occurrence: datetime, trigger: RunTrigger, *, existing: Body | None = None
    ) -> None:
        try:
            if existing is not None:
                run, fresh = existing, False
            else:
                run, fresh = await self._create_job_run(entry, occurrence, trigger)
                failpoints.reached(failpoints.AFTER_JOB_RUN_CREATED)
            await self._start_run(entry, run, occurrence, check_deadline=True, fresh=fresh)
        except NameConflictError as error:
            await self._report_conflict(entry, str(error))
        await self._advance(entry, occurrence)
        self.request_refresh(entry.key)

    async def _start_run(
        self, entry: Entry, run: Body, occurrence: datetime, *, check_deadline: bool, fresh: bool
    ) -> None:
        """Steps 2 and 3 for one JobRun: decide by policy, then create its Job (or record why not).

        fresh means this call created the JobRun, so no Job of it can exist yet.
        """
        namespace = entry.namespace
        name = run["metadata"]["name"]
        status = JobRunStatus.model_validate(run.get("status") or {})
        if (status.phase is not None and status.phase.terminal) or status.jobName:
            return
        if not fresh:
            job = await self.kube.get_job(namespace, job_name(name))
            if job is not None and controller_uid(job) == run["metadata"]["uid"]:
                await self._record_job(entry, run, job, occurrence, created_now=False)
                return

        now = utcnow()
        single = SkippedRange(first=occurrence, last=occurrence, count=1)
        late = check_deadline and not runstatus.is_waiting(status)
        if late and planning.is_late(occurrence, now, entry.spec.startingDeadlineSeconds):
            message = (
                f"found {int((now - occurrence).total_seconds())} s after its time, more than "
                f"startingDeadlineSeconds ({entry.spec.startingDeadlineSeconds} s)"
            )
            await self.runs.write_status(
                namespace, name, lambda s: runstatus.skipped(s, planning.REASON_MISSED_DEADLINE, message, now, single)
            )
            return

        decision = planning.Decision(planning.Action.START)
        if entry.spec.concurrencyPolicy != ConcurrencyPolicy.ALLOW:
            decision = planning.decide(entry.spec.concurrencyPolicy, name, await self._run_views(entry))
        if decision.action == planning.Action.SKIP:
            await self.runs.write_status(
                namespace, name, lambda s: runstatus.skipped(s, decision.reason, decision.message, now, single)
            )
            return
        if decision.promote:
            await self._start_waiting(entry, decision.promote)
        if decision.action == planning.Action.WAIT:
            await self.runs.write_status(namespace, name, lambda s: runstatus.waiting(s, decision.message, now))
            logger.info("%s JobRun %s waits: %s", object_ref(*entry.key), name, decision.message)
            return
        for victim in decision.cancel:
            await self._cancel(entry, victim, f"replaced by JobRun {name} (concurrencyPolicy Replace)")
        await self._create_job(entry, run, occurrence)

    async def _run_views(self, entry: Entry) -> list[planning.RunView]:
        runs = await self.kube.list_job_runs(entry.namespace, entry.name)
        jobs = {job["metadata"]["name"]: job for job in await self.kube.list_jobs(entry.namespace, entry.name)}
        views = []
        for run in runs:
            cached = self.runs.job_runs.get((entry.namespace, run["metadata"]["name"]))
            views.append(planning.run_view(fresher(run, cached), jobs))
        return views

    def _job_body(self, entry: Entry, run: Body, occurrence: datetime, attempt_job: str | None = None) -> Body:
        template = entry.spec.jobTemplate
        run_metadata = run["metadata"]
        labels = {**(template.metadata.labels if template.metadata and template.metadata.labels else {})}
        labels.update(run_labels(entry.name, occurrence))
        labels[LABEL_JOB_RUN] = label_value(run_metadata["name"])
        annotations = {**(template.metadata.annotations if template.metadata and template.metadata.annotations else {})}
        annotations.update(run_annotations(occurrence))
        spec = copy.deepcopy(template.spec)
        pod_template = spec.setdefault("template", {})
        pod_metadata = pod_template.setdefault("metadata", {})
        pod_metadata["labels"] = {**(pod_metadata.get("labels") or {}), **run_labels(entry.name, occurrence),
                                  LABEL_JOB_RUN: label_value(run_metadata["name"])}
        if entry.spec.sla is not None and entry.spec.sla.timeoutSeconds is not None:
            spec["activeDeadlineSeconds"] = entry.spec.sla.timeoutSeconds
        if entry.spec.jobTTLSecondsAfterFinished is not None:
            spec["ttlSecondsAfterFinished"] = entry.spec.jobTTLSecondsAfterFinished
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": attempt_job or job_name(run_metadata["name"]),
                "namespace": entry.namespace,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_reference({**run, "apiVersion": API_VERSION, "kind": "JobRun"})],
            },
            "spec": spec,
        }

    async def _create_job(self, entry: Entry, run: Body, occurrence: datetime, attempt_job: str | None = None) -> None:
        """Create a run's Job (attempt_job names a retry's Job) and record it, or record why it was rejected."""
        name = run["metadata"]["name"]
        body = self._job_body(entry, run, occurrence, attempt_job)
        try:
            job, created = await self.kube.create_job(entry.namespace, body)
        except ApiException as error:
            if error.status not in (400, 403, 422):
                raise
            message = f"the API server rejected Job {body['metadata']['name']}: {_api_message(error)}"
            now = utcnow()
            await self.runs.write_status(
                entry.namespace, name, lambda s: runstatus.finish(s, RunPhase.FAILED, REASON_JOB_REJECTED, message, now)
            )
            return
        if not created and controller_uid(job) != run["metadata"]["uid"]:
            message = f"Job {body['metadata']['name']} exists and is not controlled by JobRun {name}"
            now = utcnow()
            await self.runs.write_status(
                entry.namespace, name, lambda s: runstatus.finish(s, RunPhase.FAILED, REASON_NAME_CONFLICT, message, now)
            )
            raise NameConflictError(message)
        if created:
            logger.info("%s created Job %s", object_ref(entry.namespace, name), job["metadata"]["name"])
            failpoints.reached(failpoints.AFTER_JOB_CREATED)
        await self._record_job(entry, run, job, occurrence, created_now=created)

    async def _record_job(self, entry: Entry, run: Body, job: Body, occurrence: datetime, *, created_now: bool) -> None:
        """Step 4: record the Job on the JobRun, with the lag from scheduled time to Job creation."""
        now = utcnow()
        created_at = now if created_now else parse_time(job["metadata"].get("creationTimestamp") or format_time(now))
        lag = (created_at - occurrence).total_seconds()
        job_key = (entry.namespace, job["metadata"]["name"])
        self.runs.jobs.setdefault(job_key, job)
        await self.runs.write_status(
            entry.namespace,
            run["metadata"]["name"],
            lambda s: runstatus.derive_status(
                runstatus.job_created(s, job["metadata"]["name"], lag, now),
                self.runs.jobs.get(job_key),
                self.runs.pods.get(job_key),
                now,
            ),
        )

    async def _cancel(self, entry: Entry, name: str, message: str) -> None:
        """Cancel an active run (Replace): mark it Cancelled first, then delete its Job."""
        now = utcnow()
        cancelled = await self.runs.write_status(
            entry.namespace, name, lambda s: runstatus.finish(s, RunPhase.CANCELLED, runstatus.REASON_REPLACED, message, now)
        )
        # After a retry the current Job is an attempt Job, not the run's first.
        await self.kube.delete_job(entry.namespace, (cancelled.jobName if cancelled else None) or job_name(name))
        logger.info("%s cancelled JobRun %s and deleted its Job: %s", object_ref(*entry.key), name, message)

    async def _start_waiting(self, entry: Entry, name: str) -> None:
        run = await self.kube.get_custom(JOB_RUNS, entry.namespace, name)
        occurrence = parse_time((run.get("spec") or {}).get("scheduledTime") or run["metadata"]["creationTimestamp"])
        logger.info("%s starting waiting JobRun %s", object_ref(*entry.key), name)
        await self._create_job(entry, run, occurrence)

    async def _record_skip(self, key: Key, sj: Body, record: planning.SkipRange, trigger: RunTrigger) -> None:
        """Create (or extend) the one Skipped JobRun that stands for a range of occurrences."""
        namespace, sj_name = key
        name = run_name(sj_name, record.first)
        run, created = await self.kube.create_job_run(namespace, job_run_body(sj, record.first, trigger, name))
        if not created and controller_uid(run) != sj["metadata"]["uid"]:
            raise NameConflictError(f"JobRun {name} exists and is not controlled by this ScheduledJob")
        self.runs.remember(run)
        current = JobRunStatus.model_validate(run.get("status") or {})
        if current.phase is not None and current.phase != RunPhase.SKIPPED:
            logger.warning("%s JobRun %s is a run, not a Skipped record; leaving it", object_ref(*key), name)
            return
        covered = SkippedRange(first=record.first, last=record.last, count=record.count)
        if record.count == 1:
            message = f"{format_time(record.first)} {record.message}"
        else:
            message = f"{record.count} occurrences from {format_time(record.first)} to {format_time(record.last)} {record.message}"
        now = utcnow()
        await self.runs.write_status(
            namespace, name,
            lambda s: runstatus.skipped(runstatus.replace_status(s, phase=None), record.reason, message, now, covered),
        )

    async def _report_conflict(self, entry: Entry, message: str) -> None:
        now = utcnow()
        entry.conditions = runstatus.set_condition(
            entry.conditions, CONDITION_READY, ConditionStatus.FALSE, REASON_NAME_CONFLICT, message, now,
            entry.body["metadata"].get("generation"),
        )
        logger.warning("%s %s: %s", object_ref(*entry.key), REASON_NAME_CONFLICT, message)
        self.kube.post_event(entry.body, "Warning", REASON_NAME_CONFLICT, message)
        await self.kube.patch_status(
            SCHEDULED_JOBS, entry.namespace, entry.name, {"conditions": [c.to_api() for c in entry.conditions]}
        )

    # ------------------------------------------------------------ JobRun status changes

    def _on_transition(self, run: Body, old: JobRunStatus, new: JobRunStatus) -> None:
        """Repeat a JobRun's Events on its ScheduledJob and refresh the ScheduledJob's summary."""
        self.supervisor.on_transition(run, old, new)
        namespace = run["metadata"]["namespace"]
        sj_name = (run.get("spec") or {}).get("scheduledJobName")
        if not sj_name:
            return
        entry = self.entries.get((namespace, sj_name))
        if entry is not None:
            for event in runstatus.transition_events(run["metadata"]["name"], old, new):
                self.kube.post_event(entry.body, event.type, event.reason, event.message)
        self.request_refresh((namespace, sj_name))

    def _on_manual_run(self, key: Key) -> None:
        if key not in self._manual_pending:
            self._manual_pending.add(key)
            task = self.background.spawn(self._start_manual(key), f"{object_ref(*key)} manual run")
            task.add_done_callback(lambda _: self._manual_pending.discard(key))

    # ------------------------------------------------------------ manual and backfill runs

    async def _start_manual(self, key: Key) -> None:
        namespace, name = key
        run = self.runs.job_runs.get(key)
        if run is None:
            return
        spec = run.get("spec") or {}
        sj_key = (namespace, spec.get("scheduledJobName", ""))
        async with self._sj_lock(sj_key):
            await retrying(f"{object_ref(*key)} manual run", lambda: self._start_manual_locked(sj_key, key))

    async def _start_manual_locked(self, sj_key: Key, key: Key) -> None:
        namespace, name = key
        try:
            run = await self.kube.get_custom(JOB_RUNS, namespace, name)
        except ApiException as error:
            if error.status == 404:
                return
            raise
        self.runs.remember(run)
        status = JobRunStatus.model_validate(run.get("status") or {})
        if status.phase is not None or status.jobName:
            return
        now = utcnow()
        try:
            sj = await self.kube.get_custom(SCHEDULED_JOBS, *sj_key)
        except ApiException as error:
            if error.status != 404:
                raise
            message = f"ScheduledJob {sj_key[1]} not found in namespace {namespace}"
            await self.runs.write_status(
                namespace, name,
                lambda s: runstatus.finish(s, RunPhase.FAILED, REASON_SCHEDULED_JOB_NOT_FOUND, message, now),
            )
            return
        entry = self.entries.get(sj_key)
        if entry is None or entry.uid != sj["metadata"]["uid"]:
            try:
                entry = _detached_entry(sj)
            except (ScheduleError, ValidationError) as error:
                message = f"ScheduledJob {sj_key[1]} is invalid: {error}"
                await self.runs.write_status(
                    namespace, name, lambda s: runstatus.finish(s, RunPhase.FAILED, "InvalidScheduledJob", message, now)
                )
                return
        scheduled = (run.get("spec") or {}).get("scheduledTime")
        occurrence = parse_time(scheduled) if scheduled else parse_time(run["metadata"]["creationTimestamp"])
        if controller_uid(run) != entry.uid:
            labels = {**run_labels(entry.name, occurrence)}
            run = await self.kube.patch_metadata(
                JOB_RUNS, namespace, name,
                {
                    "labels": labels,
                    "annotations": {ANNOTATION_SCHEDULED_TIME: format_time(occurrence)},
                    "ownerReferences": [owner_reference(sj)],
                },
            )
            self.runs.remember(run)
            logger.info("%s adopted %s JobRun %s", object_ref(*sj_key), (run.get("spec") or {}).get("trigger"), name)
        try:
            await self._start_run(entry, run, occurrence, check_deadline=False, fresh=False)
        except NameConflictError as error:
            await self._report_conflict(entry, str(error))
        self.request_refresh(sj_key)

    # ------------------------------------------------------------ ScheduledJob status summary

    def request_refresh(self, key: Key) -> None:
        """Recompute a ScheduledJob's run summary soon; several requests in a short time coalesce."""
        if key in self._refresh_pending:
            return
        self._refresh_pending.add(key)
        self.background.spawn(self._refresh(key), f"{object_ref(*key)} status refresh")

    async def _refresh(self, key: Key) -> None:
        await asyncio.sleep(REFRESH_DELAY_SECONDS)
        self._refresh_pending.discard(key)
        entry = self.entries.get(key)
        if entry is None:
            return
        async with self._sj_lock(key):
            if self.entries.get(key) is not entry:
                return
            await self._retrying("status refresh", key, entry.uid, lambda: self._refresh_locked(entry))

    async def _refresh_locked(self, entry: Entry) -> None:
        views = await self._run_views(entry)
        if entry.spec.concurrencyPolicy == ConcurrencyPolicy.BUFFER_ONE and entry.loaded:
            waiting = planning.next_waiting(views)
            if waiting is not None:
                await self._start_waiting(entry, waiting.name)
                views = await self._run_views(entry)
        doomed = planning.select_prunable(
            views,
            succeeded=entry.spec.successfulRunsHistoryLimit,
            failed=entry.spec.failedRunsHistoryLimit,
            skipped=entry.spec.skippedRunsHistoryLimit,
        )
        now = utcnow()
        ttl = entry.spec.runTTLSeconds
        expired = [name for name in history.select_expired(views, ttl, now) if name not in doomed]
        for name in doomed:
            await self.kube.delete_job_run(entry.namespace, name)
            logger.info("%s deleted JobRun %s (history limit)", object_ref(*entry.key), name)
        for name in expired:
            await self.kube.delete_job_run(entry.namespace, name)
            logger.info("%s deleted JobRun %s (finished more than runTTLSeconds %s s ago)", object_ref(*entry.key), name, ttl)
        kept = [view for view in views if view.name not in doomed and view.name not in expired]
        self.expiry.set(entry.key, history.next_expiry(kept, ttl, now))
        previous = _sj_status(entry.body).lastSuccessfulTime
        summary = planning.summarize(kept, previous)
        await self.kube.patch_status(SCHEDULED_JOBS, entry.namespace, entry.name, summary.status_patch())
        # views still has the runs pruned above, so the failure streak counts each finished run once.
        await self.supervisor.after_refresh(entry, views, len(summary.active))


def _sj_status(body: Body) -> ScheduledJobStatus:
    try:
        return ScheduledJobStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return ScheduledJobStatus()


def _api_message(error: ApiException) -> str:
    try:
        return json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(error.reason)


def _detached_entry(sj: Body) -> Entry:
    """Build an entry for a ScheduledJob that is not scheduled here (suspended or not loaded), for manual runs."""
    metadata = sj["metadata"]
    spec = ScheduledJobSpec.model_validate(sj.get("spec") or {})
    schedule = parse_schedule(
        spec.expressions if spec.schedules else spec.schedule or "",
        time_zone=spec.timeZone,
        hash_key=f"{metadata['namespace']}/{metadata['name']}",
        field=spec.schedule_field,
    )
    return Entry(
        namespace=metadata["namespace"],
        name=metadata["name"],
        uid=metadata["uid"],
        body=sj,
        spec=spec,
        schedule=schedule,
        cursor=utcnow(),
        last_schedule_time=None,
        loaded=True,
    )
