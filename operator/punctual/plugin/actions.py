"""Commands that change the cluster: ``trigger``, ``backfill``, ``suspend`` and ``resume``.

``trigger`` and ``backfill`` create JobRuns with the user's credentials and
leave the rest to the operator: it creates the Job of a Manual or Backfill
JobRun that has none, under the ScheduledJob's concurrency policy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from punctual.models import RunTrigger, format_time, parse_time
from punctual.naming import job_run_body, run_name
from punctual.plugin.errors import PluginError, UsageError
from punctual.plugin.kubeapi import Body, Kube
from punctual.plugin.output import as_list, dump, format_table, note, write
from punctual.plugin.scheduling import load_schedule
from punctual.plugin.timeparse import format_local, parse_user_time
from punctual.schedule import Schedule

DEFAULT_BACKFILL_MAX = 50
MAX_BACKFILL = 1000
# Manual run names carry this infix, so that they never take the name of a scheduled occurrence.
MANUAL_INFIX = "manual"


def manual_run_name(scheduled_job: str, now: datetime) -> str:
    """Return ``<scheduled-job>-manual-<unix seconds>``, hash-shortened like every run name."""
    return run_name(f"{scheduled_job}-{MANUAL_INFIX}", now)


def _check_owner(run: Body, scheduled_job: str) -> None:
    owner = (run.get("spec") or {}).get("scheduledJobName")
    if owner != scheduled_job:
        raise PluginError(
            f"JobRun {run['metadata']['name']} already exists and belongs to ScheduledJob {owner}, "
            f"not {scheduled_job}; rename one of the ScheduledJobs"
        )


def _print_objects(objects: list[Body], output_format: str) -> None:
    write(dump(objects[0] if len(objects) == 1 else as_list(objects), output_format))


# ---------------------------------------------------------------- trigger


def trigger(kube: Kube, args: argparse.Namespace) -> int:
    """Create a Manual JobRun for now and print its name."""
    scheduled_job = kube.get_scheduled_job(args.scheduled_job)
    now = datetime.now(UTC).replace(microsecond=0)
    name = manual_run_name(args.scheduled_job, now)
    run, created = kube.create_job_run(job_run_body(scheduled_job, now, RunTrigger.MANUAL, name))
    _check_owner(run, args.scheduled_job)
    if not created:
        note(f"JobRun {name} already exists: it was triggered in the same second, so no second run was created.")
    if (scheduled_job.get("spec") or {}).get("suspend"):
        note(f"ScheduledJob {args.scheduled_job} is suspended; the operator still starts manual runs.")
    if args.output in ("json", "yaml"):
        _print_objects([run], args.output)
    else:
        write(name + "\n")
    return 0


# ---------------------------------------------------------------- backfill


@dataclass(frozen=True)
class BackfillPlan:
    """The occurrences of a backfill range, ascending."""

    first: datetime
    last: datetime
    occurrences: list[datetime]


def plan_backfill(schedule: Schedule, start: datetime, end: datetime, now: datetime, max_runs: int) -> BackfillPlan:
    """Return the occurrences t with start <= t <= end, or raise UsageError when the range is invalid.

    The range must be in the past, because the operator runs the future ones,
    and contain at most max_runs occurrences. They are counted with
    count_between, so an oversized range is rejected without listing it.
    """
    if not 1 <= max_runs <= MAX_BACKFILL:
        raise UsageError(f"invalid --max {max_runs}: it must be between 1 and {MAX_BACKFILL}")
    if end < start:
        raise UsageError(f"--to ({format_time(end)}) is before --from ({format_time(start)}); swap them")
    if end > now:
        raise UsageError(
            f"--to ({format_time(end)}) is in the future; backfill creates runs for past occurrences only, "
            "and the operator runs the future ones: use --to now"
        )
    after = start - timedelta(microseconds=1)
    count = schedule.count_between(after, end)
    if count > max_runs:
        raise UsageError(
            f"the range {format_time(start)} to {format_time(end)} has {count} occurrences, more than "
            f"--max {max_runs}; narrow --from/--to, or raise --max (at most {MAX_BACKFILL})"
        )
    return BackfillPlan(first=start, last=end, occurrences=schedule.occurrences(after, end, limit=max_runs))


def backfill(kube: Kube, args: argparse.Namespace) -> int:
    """Create a Backfill JobRun for each occurrence in [--from, --to]; existing ones are kept."""
    scheduled_job = kube.get_scheduled_job(args.scheduled_job)
    loaded = load_schedule(scheduled_job)
    time_zone = loaded.spec.timeZone
    now = datetime.now(UTC)
    start = parse_user_time(args.from_time, time_zone=time_zone, now=now, flag="--from")
    end = parse_user_time(args.to_time, time_zone=time_zone, now=now, flag="--to")
    plan = plan_backfill(loaded.schedule, start, end, now, args.max)
    if not plan.occurrences:
        note(f"ScheduledJob {args.scheduled_job} has no occurrence from {format_time(start)} to {format_time(end)}.")
        return 0
    existing = {run["metadata"]["name"]: run for run in kube.list_job_runs(kube.namespace, scheduled_job=args.scheduled_job)}
    bodies = [
        job_run_body(scheduled_job, occurrence, RunTrigger.BACKFILL, run_name(args.scheduled_job, occurrence))
        for occurrence in plan.occurrences
    ]
    if args.dry_run:
        return _print_dry_run(bodies, existing, time_zone, args.output)

    results: list[Body] = []
    rows: list[list[Any]] = []
    created_count = 0
    for body in bodies:
        run, created = kube.create_job_run(body)
        _check_owner(run, args.scheduled_job)
        if created:
            created_count += 1
        results.append(run)
        rows.append([run["metadata"]["name"], body["spec"]["scheduledTime"], "created" if created else _existing_text(run)])
    if args.output in ("json", "yaml"):
        _print_objects(results, args.output)
    else:
        write(format_table(["NAME", "SCHEDULED", "RESULT"], rows))
    note(f"{created_count} JobRun(s) created, {len(bodies) - created_count} already existed.")
    return 0


def _existing_text(run: Body) -> str:
    trigger = (run.get("spec") or {}).get("trigger")
    phase = (run.get("status") or {}).get("phase") or "no phase yet"
    return f"exists ({trigger}, {phase})"


def _print_dry_run(bodies: list[Body], existing: dict[str, Body], time_zone: str, output_format: str) -> int:
    if output_format in ("json", "yaml"):
        _print_objects(bodies, output_format)
        return 0
    rows = []
    would_create = 0
    for body in bodies:
        name = body["metadata"]["name"]
        scheduled = body["spec"]["scheduledTime"]
        local = format_local(parse_time(scheduled), time_zone)
        if name in existing:
            result = _existing_text(existing[name])
        else:
            result = "would create"
            would_create += 1
        rows.append([name, scheduled, local, result])
    write(format_table(["NAME", "SCHEDULED", f"LOCAL ({time_zone})", "RESULT"], rows))
    note(f"dry run: {would_create} JobRun(s) would be created; nothing was changed.")
    return 0


# ---------------------------------------------------------------- suspend and resume


def suspend(kube: Kube, args: argparse.Namespace) -> int:
    """Set spec.suspend (and spec.suspendReason) on a ScheduledJob."""
    return _set_suspend(kube, args, True, args.reason)


def resume(kube: Kube, args: argparse.Namespace) -> int:
    """Clear spec.suspend and spec.suspendReason on a ScheduledJob."""
    return _set_suspend(kube, args, False, None)


def _set_suspend(kube: Kube, args: argparse.Namespace, suspend_value: bool, reason: str | None) -> int:
    current = kube.get_scheduled_job(args.scheduled_job)
    spec = current.get("spec") or {}
    verb = "suspended" if suspend_value else "resumed"
    unchanged = bool(spec.get("suspend")) == suspend_value and spec.get("suspendReason") == reason
    if unchanged:
        updated = current
    else:
        updated = kube.patch_scheduled_job(args.scheduled_job, {"spec": {"suspend": suspend_value, "suspendReason": reason}})
    if args.output in ("json", "yaml"):
        _print_objects([updated], args.output)
    else:
        state = "unchanged (already " + verb + ")" if unchanged else verb
        write(f"scheduledjob.punctual.dev/{args.scheduled_job} {state}\n")
    return 0
