"""The ``runs`` command: a ScheduledJob's run history as a table, newest first."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from punctual.models import SLA, JobRunStatus, RunPhase, ScheduledJobSpec, format_time, parse_time
from punctual.plugin.kubeapi import Body, Kube
from punctual.plugin.output import as_list, dump, format_table, note, write
from punctual.plugin.timeparse import format_duration

HEADERS = ["NAME", "PHASE", "SCHEDULED", "LAG", "DURATION", "SLA", "REASON"]
WIDE_HEADERS = [*HEADERS, "TRIGGER", "JOB", "STARTED", "COMPLETED", "MESSAGE"]

# Shown in the SLA column for a run that ended TimedOut (the Job's activeDeadlineSeconds, set from sla.timeoutSeconds).
BREACH_TIMED_OUT = "TimedOut"


def scheduled_time(run: Body) -> datetime:
    """Return a run's scheduled time, or its creation time for a Manual run without one."""
    scheduled = (run.get("spec") or {}).get("scheduledTime") or run["metadata"].get("creationTimestamp")
    return parse_time(scheduled)


def newest_first(runs: list[Body]) -> list[Body]:
    return sorted(runs, key=lambda run: (scheduled_time(run), run["metadata"]["name"]), reverse=True)


def run_status(run: Body) -> JobRunStatus:
    """Return the typed status of a run, or an empty one when the status does not validate."""
    try:
        return JobRunStatus.model_validate(run.get("status") or {})
    except ValidationError:
        return JobRunStatus()


def sla_of(scheduled_job: Body | None) -> SLA | None:
    if scheduled_job is None:
        return None
    try:
        return ScheduledJobSpec.model_validate(scheduled_job.get("spec") or {}).sla
    except ValidationError:
        return None


def sla_breaches(run: Body) -> list[str]:
    """List the SLA breaches the operator recorded on a run.

    These are TimedOut for a run that ended in that phase, and the type of each
    condition with status True whose type mentions SLA or Breach (the operator
    writes StartSLABreached and SLABreached).
    """
    status = run_status(run)
    breaches: list[str] = []
    if status.phase == RunPhase.TIMED_OUT:
        breaches.append(BREACH_TIMED_OUT)
    for condition in (run.get("status") or {}).get("conditions") or []:
        kind = str(condition.get("type") or "")
        if condition.get("status") == "True" and ("SLA" in kind or "Breach" in kind) and kind not in breaches:
            breaches.append(kind)
    return breaches


def duration_seconds(status: JobRunStatus, now: datetime) -> float | None:
    """Return durationSeconds, or the time since start for a run still running."""
    if status.durationSeconds is not None:
        return status.durationSeconds
    if status.startTime is not None and not (status.phase and status.phase.terminal):
        return (now - status.startTime).total_seconds()
    return None


def reason_text(status: JobRunStatus) -> str | None:
    if status.skipped is not None and status.skipped.count > 1:
        return f"{status.reason} ({status.skipped.count} occurrences to {format_time(status.skipped.last)})"
    return status.reason


@dataclass(frozen=True)
class RunRow:
    """One run as the table shows it."""

    namespace: str
    name: str
    scheduled_job: str
    phase: str | None
    scheduled: str
    lag: str
    duration: str
    sla: str
    reason: str | None
    trigger: str | None
    job: str | None
    started: str | None
    completed: str | None
    message: str | None

    def cells(self, *, wide: bool, all_namespaces: bool, show_scheduled_job: bool) -> list[Any]:
        cells: list[Any] = [self.namespace] if all_namespaces else []
        if show_scheduled_job:
            cells.append(self.scheduled_job)
        cells += [self.name, self.phase, self.scheduled, self.lag, self.duration, self.sla, self.reason]
        if wide:
            cells += [self.trigger, self.job, self.started, self.completed, self.message]
        return cells


def run_row(run: Body, sla: SLA | None, now: datetime) -> RunRow:
    status = run_status(run)
    breaches = sla_breaches(run)
    if breaches:
        sla_text = ",".join(breaches)
    else:
        sla_text = "ok" if sla is not None and status.phase != RunPhase.SKIPPED else "-"
    spec = run.get("spec") or {}
    return RunRow(
        namespace=run["metadata"].get("namespace", ""),
        name=run["metadata"]["name"],
        scheduled_job=spec.get("scheduledJobName", ""),
        phase=status.phase.value if status.phase else None,
        scheduled=format_time(scheduled_time(run)),
        lag=format_duration(status.scheduleLagSeconds, fractional=True),
        duration=format_duration(duration_seconds(status, now)),
        sla=sla_text,
        reason=reason_text(status),
        trigger=spec.get("trigger"),
        job=status.jobName,
        started=format_time(status.startTime) if status.startTime else None,
        completed=format_time(status.completionTime) if status.completionTime else None,
        message=status.message,
    )


def headers(*, wide: bool, all_namespaces: bool, show_scheduled_job: bool) -> list[str]:
    columns = list(WIDE_HEADERS if wide else HEADERS)
    if show_scheduled_job:
        columns.insert(0, "SCHEDULEDJOB")
    if all_namespaces:
        columns.insert(0, "NAMESPACE")
    return columns


def run_rows(runs: list[Body], scheduled_jobs: list[Body], now: datetime) -> list[RunRow]:
    """Build the rows of runs, newest first, with each run's SLA from its ScheduledJob."""
    slas = {
        (sj["metadata"].get("namespace"), sj["metadata"]["name"]): sla_of(sj) for sj in scheduled_jobs
    }
    return [
        run_row(run, slas.get((run["metadata"].get("namespace"), (run.get("spec") or {}).get("scheduledJobName"))), now)
        for run in newest_first(runs)
    ]


def command(kube: Kube, args: argparse.Namespace) -> int:
    """List runs of one ScheduledJob, or of all in the namespace (or every namespace with -A)."""
    if args.scheduled_job:
        scheduled_job = kube.get_scheduled_job(args.scheduled_job)
        runs = kube.list_job_runs(kube.namespace, scheduled_job=args.scheduled_job)
        scheduled_jobs = [scheduled_job]
    else:
        runs = kube.list_job_runs(kube.namespace, all_namespaces=args.all_namespaces)
        scheduled_jobs = kube.list_scheduled_jobs(kube.namespace, all_namespaces=args.all_namespaces)
    if args.output in ("json", "yaml"):
        write(dump(as_list(newest_first(runs)), args.output))
        return 0
    if not runs:
        where = "any namespace" if args.all_namespaces else f"namespace {kube.namespace}"
        of = f" of ScheduledJob {args.scheduled_job}" if args.scheduled_job else ""
        note(f"No JobRuns{of} found in {where}.")
        return 0
    wide = args.output == "wide"
    show_scheduled_job = not args.scheduled_job
    rows = run_rows(runs, scheduled_jobs, datetime.now(UTC))
    columns = headers(wide=wide, all_namespaces=args.all_namespaces, show_scheduled_job=show_scheduled_job)
    cells = [row.cells(wide=wide, all_namespaces=args.all_namespaces, show_scheduled_job=show_scheduled_job) for row in rows]
    write(format_table(columns, cells))
    return 0
