"""Keeping each JobRun's status true to its Job and pods, from the watches.

The kopf handlers pass every JobRun, Job and Pod event here. Status writes
for one JobRun are serialized by a lock and start from the newest body seen,
so out-of-order events cannot move a run backwards; runstatus makes a
terminal phase final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from punctual import planning, runstatus
from punctual.background import Background, retrying
from punctual.kube import JOB_RUNS, Body, Kube, object_ref, utcnow
from punctual.models import JobRunStatus, RunPhase, RunTrigger
from punctual.naming import LABEL_JOB_RUN

logger = logging.getLogger("punctual")

Key = tuple[str, str]  # (namespace, name)
TransitionCallback = Callable[[Body, JobRunStatus, JobRunStatus], None]
AmendCallback = Callable[[Body, JobRunStatus, JobRunStatus], Awaitable[JobRunStatus]]


class RunTracker:
    """Caches of JobRuns, Jobs and pod info, and the one writer of JobRun status."""

    def __init__(
        self,
        kube: Kube,
        background: Background,
        on_transition: TransitionCallback,
        on_manual_run: Callable[[Key], None],
        amend: AmendCallback | None = None,
    ) -> None:
        self.kube = kube
        self._background = background
        self._on_transition = on_transition
        self._on_manual_run = on_manual_run
        self._amend = amend
        self._run_locks: dict[Key, asyncio.Lock] = {}
        self.job_runs: dict[Key, Body] = {}
        self.jobs: dict[Key, Body] = {}
        self.pods: dict[Key, runstatus.PodInfo] = {}

    def _run_lock(self, key: Key) -> asyncio.Lock:
        return self._run_locks.setdefault(key, asyncio.Lock())

    def remember(self, body: Body) -> None:
        """Cache the newer of this JobRun body and the cached one."""
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        self.job_runs[key] = fresher(body, self.job_runs.get(key))

    async def write_status(
        self, namespace: str, name: str, change: Callable[[JobRunStatus], JobRunStatus]
    ) -> JobRunStatus | None:
        """Apply change to a JobRun's status, write it if it differs, and post Events for the transition.

        Returns the new status, or None when the JobRun no longer exists.
        """
        key = (namespace, name)
        async with self._run_lock(key):
            body = self.job_runs.get(key)
            if body is None:
                try:
                    body = await self.kube.get_custom(JOB_RUNS, namespace, name)
                except ApiException as error:
                    if error.status == 404:
                        return None
                    raise
                self.remember(body)
            old = JobRunStatus.model_validate(body.get("status") or {})
            new = change(old)
            if self._amend is not None:
                # Retries and owed notifications go into the same write as the change that causes them.
                new = await self._amend(body, old, new)
            if new == old:
                return old
            new = runstatus.replace_status(new, observedGeneration=body["metadata"].get("generation"))
            old_api, new_api = old.to_api(), new.to_api()
            patch: dict[str, Any] = {field_name: None for field_name in old_api if field_name not in new_api}
            patch.update(new_api)
            try:
                updated = await self.kube.patch_status(JOB_RUNS, namespace, name, patch)
            except ApiException as error:
                if error.status == 404:
                    self.job_runs.pop(key, None)
                    return None
                raise
            self.remember(updated)
        self._report_transition(updated, old, new)
        return new

    def _report_transition(self, run: Body, old: JobRunStatus, new: JobRunStatus) -> None:
        namespace = run["metadata"]["namespace"]
        name = run["metadata"]["name"]
        if new.phase != old.phase:
            detail = f" ({new.reason}: {new.message})" if new.reason else ""
            old_phase = old.phase.value if old.phase else None
            new_phase = new.phase.value if new.phase else None
            logger.info("%s JobRun phase %s -> %s%s", object_ref(namespace, name), old_phase, new_phase, detail)
        for event in runstatus.transition_events(name, old, new):
            self.kube.post_event(run, event.type, event.reason, event.message)
        self._on_transition(run, old, new)

    # ------------------------------------------------------------ watch events

    def on_job_run_event(self, event_type: str | None, body: Body) -> None:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if event_type == "DELETED":
            self.job_runs.pop(key, None)
            self._run_locks.pop(key, None)
            return
        self.remember(body)
        spec = body.get("spec") or {}
        status = body.get("status") or {}
        if spec.get("trigger") in (RunTrigger.MANUAL.value, RunTrigger.BACKFILL.value):
            if not status.get("phase") and not status.get("jobName"):
                self._on_manual_run(key)

    def on_job_event(self, event_type: str | None, body: Body) -> None:
        metadata = body["metadata"]
        namespace = metadata["namespace"]
        run = ((metadata.get("labels") or {}).get(LABEL_JOB_RUN))
        if not run:
            return
        job_key = (namespace, metadata["name"])
        if event_type == "DELETED":
            self.jobs.pop(job_key, None)
            pods = self.pods.pop(job_key, None)
            self._background.spawn(self._job_deleted(namespace, run, body, pods), f"{object_ref(namespace, run)} Job deleted")
            return
        self.jobs[job_key] = body
        self._background.spawn(self._refresh_run(namespace, run, job_key), f"{object_ref(namespace, run)} Job status")

    def on_pod_event(self, event_type: str | None, body: Body) -> None:
        if event_type == "DELETED":
            return
        metadata = body["metadata"]
        labels = metadata.get("labels") or {}
        run = labels.get(LABEL_JOB_RUN)
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        if not run or not job:
            return
        job_key = (metadata["namespace"], job)
        info = runstatus.merge_pod_info(self.pods.get(job_key), runstatus.pod_info(body))
        if info == self.pods.get(job_key):
            return
        self.pods[job_key] = info
        if job_key in self.jobs:
            self._background.spawn(self._refresh_run(metadata["namespace"], run, job_key), f"{object_ref(metadata['namespace'], run)} pod status")

    async def _refresh_run(self, namespace: str, run: str, job_key: Key) -> None:
        job = self.jobs.get(job_key)
        if job is None:
            return
        now = utcnow()
        new = await self._write_retrying(
            namespace, run, lambda s: runstatus.derive_status(s, self.jobs.get(job_key), self.pods.get(job_key), now)
        )
        if new is not None and new.phase == RunPhase.CANCELLED and not planning.job_finished(job):
            if not (job.get("metadata") or {}).get("deletionTimestamp"):
                await self.kube.delete_job(namespace, job_key[1])

    async def _job_deleted(self, namespace: str, run: str, job: Body, pods: runstatus.PodInfo | None) -> None:
        # The DELETED event carries the Job's last state. A Job removed after it finished
        # (ttlSecondsAfterFinished, or by hand) ends its run with that outcome, even when the
        # event that it finished has not been handled yet.
        finished = job if planning.job_finished(job) else None
        deleted = job["metadata"]["name"]
        now = utcnow()

        def change(status: JobRunStatus) -> JobRunStatus:
            if status.jobName and status.jobName != deleted:
                return status  # the Job of an earlier attempt; the run has moved on to a retry
            return runstatus.derive_status(status, finished, pods, now, job_deleted=True)

        await self._write_retrying(namespace, run, change)

    async def _write_retrying(
        self, namespace: str, name: str, change: Callable[[JobRunStatus], JobRunStatus]
    ) -> JobRunStatus | None:
        result: list[JobRunStatus | None] = [None]

        async def write() -> None:
            result[0] = await self.write_status(namespace, name, change)

        await retrying(f"{object_ref(namespace, name)} status update", write)
        return result[0]


def fresher(body: Body, cached: Body | None) -> Body:
    """Return whichever of two versions of an object has the higher resourceVersion."""
    if cached is None:
        return body
    try:
        newer = int(body["metadata"]["resourceVersion"]) >= int(cached["metadata"]["resourceVersion"])
    except (KeyError, ValueError, TypeError):
        newer = True
    return body if newer else cached
