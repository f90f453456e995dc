"""The ``describe`` command: status, conditions and recent Events of a ScheduledJob or a JobRun."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from punctual.models import format_time, parse_time
from punctual.plugin.errors import NotFoundError, UsageError
from punctual.plugin.kubeapi import JOB_RUNS, SCHEDULED_JOBS, Body, Kube
from punctual.plugin.logs import JOB_NAME_LABEL
from punctual.plugin.output import dump, format_table, note, write
from punctual.plugin.runs import headers, newest_first, run_rows, run_status, sla_breaches
from punctual.plugin.timeparse import format_duration

KIND_ALIASES = {
    "sj": SCHEDULED_JOBS, "scheduledjob": SCHEDULED_JOBS, "scheduledjobs": SCHEDULED_JOBS,
    "jr": JOB_RUNS, "run": JOB_RUNS, "jobrun": JOB_RUNS, "jobruns": JOB_RUNS, "runs": JOB_RUNS,
}
MAX_EVENTS = 25
RECENT_RUNS = 5


def parse_target(first: str, second: str | None) -> tuple[str | None, str]:
    """Split ``describe NAME`` or ``describe KIND NAME`` into (plural or None, name).

    KIND accepts sj, run, jr and the singular and plural kind names.
    """
    if second is None:
        return None, first
    kind = KIND_ALIASES.get(first.lower())
    if kind is None:
        raise UsageError(f"unknown kind {first!r}: use sj (ScheduledJob) or run (JobRun), e.g. describe sj NAME")
    return kind, second


def event_time(event: Body) -> datetime:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        if event.get(key):
            return parse_time(event[key])
    series = event.get("series") or {}
    if series.get("lastObservedTime"):
        return parse_time(series["lastObservedTime"])
    return parse_time(event["metadata"]["creationTimestamp"])


def merge_events(events: list[Body], limit: int = MAX_EVENTS) -> list[Body]:
    """Drop repeats of one Event posted on two objects (same time, type, reason and message) and keep the newest ``limit``, oldest first."""
    seen: set[tuple[Any, ...]] = set()
    unique = []
    # A JobRun's Event sorts before the same Event on its ScheduledJob, so the run's copy is kept.
    for event in sorted(events, key=lambda e: (event_time(e), (e.get("involvedObject") or {}).get("kind") == "ScheduledJob")):
        key = (format_time(event_time(event)), event.get("type"), event.get("reason"), event.get("message"))
        if key in seen:
            continue
        seen.add(key)
        unique.append(event)
    return unique[-limit:]


def events_table(events: list[Body], now: datetime) -> str:
    if not events:
        return "Events:  <none>\n"
    rows = []
    for event in events:
        involved = event.get("involvedObject") or {}
        count = event.get("count") or 1
        age = format_duration((now - event_time(event)).total_seconds())
        rows.append([
            event.get("type"), event.get("reason"), f"{age} ago" + (f" (x{count})" if count > 1 else ""),
            f"{involved.get('kind')}/{involved.get('name')}", event.get("message"),
        ])
    table = format_table(["TYPE", "REASON", "AGE", "OBJECT", "MESSAGE"], rows)
    return "Events:\n" + "".join(f"  {line}\n" for line in table.splitlines())


def conditions_table(conditions: list[dict[str, Any]]) -> str:
    if not conditions:
        return "Conditions:  <none>\n"
    rows = [
        [c.get("type"), c.get("status"), c.get("reason"), c.get("lastTransitionTime"), c.get("message")]
        for c in conditions
    ]
    table = format_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows)
    return "Conditions:\n" + "".join(f"  {line}\n" for line in table.splitlines())


def fields(pairs: list[tuple[str, Any]]) -> str:
    """Format label/value lines aligned like kubectl describe; None values print as <none>."""
    width = max(len(label) for label, _ in pairs) + 2
    lines = []
    for label, value in pairs:
        text = "<none>" if value is None or value == "" else str(value)
        lines.append(f"{(label + ':').ljust(width)}{text}")
    return "\n".join(lines) + "\n"


def _time(value: str | None, now: datetime) -> str | None:
    if not value:
        return None
    age = format_duration((now - parse_time(value)).total_seconds())
    return f"{value} ({age} ago)" if not age.startswith("-") else f"{value} (in {age[1:]})"


# ---------------------------------------------------------------- ScheduledJob


def describe_scheduled_job(kube: Kube, scheduled_job: Body, now: datetime) -> tuple[str, dict[str, Any]]:
    """Return the text and the data (for -o json|yaml) describing a ScheduledJob, its recent runs and their Events."""
    metadata = scheduled_job["metadata"]
    name, namespace = metadata["name"], metadata["namespace"]
    spec = scheduled_job.get("spec") or {}
    status = scheduled_job.get("status") or {}
    runs = kube.list_job_runs(namespace, scheduled_job=name)
    events = kube.list_events(namespace, "ScheduledJob", name)
    run_names = {run["metadata"]["name"] for run in runs}
    events += [e for e in kube.list_events(namespace, "JobRun") if (e.get("involvedObject") or {}).get("name") in run_names]
    events = merge_events(events)

    expressions = spec.get("schedules") or ([spec["schedule"]] if spec.get("schedule") else [])
    counts = status.get("runCounts") or {}
    suspend = "true" if spec.get("suspend") else "false"
    if spec.get("suspend") and spec.get("suspendReason"):
        suspend += f" ({spec['suspendReason']})"
    text = fields([
        ("Name", name),
        ("Namespace", namespace),
        ("Schedule", " | ".join(expressions)),
        ("Time Zone", spec.get("timeZone", "UTC")),
        ("Suspend", suspend),
        ("Concurrency Policy", spec.get("concurrencyPolicy", "Allow")),
        ("Starting Deadline", f"{spec['startingDeadlineSeconds']}s" if spec.get("startingDeadlineSeconds") is not None else None),
        ("SLA", _sla_text(spec.get("sla"))),
        ("Last Schedule Time", _time(status.get("lastScheduleTime"), now)),
        ("Last Successful Time", _time(status.get("lastSuccessfulTime"), now)),
        ("Next Schedule Times", ", ".join(status.get("nextScheduleTimes") or []) or None),
        ("Active Runs", ", ".join(status.get("active") or []) or None),
        ("Run Counts", ", ".join(f"{key} {value}" for key, value in counts.items() if value) or None),
    ])
    text += conditions_table(status.get("conditions") or [])
    recent = newest_first(runs)[:RECENT_RUNS]
    if recent:
        table = format_table(
            headers(wide=False, all_namespaces=False, show_scheduled_job=False),
            [row.cells(wide=False, all_namespaces=False, show_scheduled_job=False) for row in run_rows(recent, [scheduled_job], now)],
        )
        text += f"Recent Runs ({len(recent)} of {len(runs)}):\n" + "".join(f"  {line}\n" for line in table.splitlines())
    else:
        text += "Recent Runs:  <none>\n"
    text += events_table(events, now)
    return text, {"object": scheduled_job, "runs": recent, "events": events}


def _sla_text(sla: dict[str, Any] | None) -> str | None:
    if not sla:
        return None
    parts = [f"{key} {value}" for key, value in sla.items() if value is not None]
    return ", ".join(parts) or None


# ---------------------------------------------------------------- JobRun


def describe_job_run(kube: Kube, run: Body, now: datetime) -> tuple[str, dict[str, Any]]:
    """Return the text and the data describing a JobRun, its attempts, captured log and the Events of it, its Job and pods."""
    metadata = run["metadata"]
    name, namespace = metadata["name"], metadata["namespace"]
    spec = run.get("spec") or {}
    raw_status = run.get("status") or {}
    status = run_status(run)
    scheduled_job = kube.find_custom(SCHEDULED_JOBS, spec.get("scheduledJobName", ""), namespace)
    breaches = sla_breaches(run)

    events = kube.list_events(namespace, "JobRun", name)
    if status.jobName:
        events += kube.list_events(namespace, "Job", status.jobName)
        for pod in kube.list_pods(namespace, f"{JOB_NAME_LABEL}={status.jobName}"):
            events += kube.list_events(namespace, "Pod", pod["metadata"]["name"])
    events = merge_events(events)

    skipped = status.skipped
    text = fields([
        ("Name", name),
        ("Namespace", namespace),
        ("Scheduled Job", spec.get("scheduledJobName") + ("" if scheduled_job else " (not found)")),
        ("Trigger", spec.get("trigger")),
        ("Scheduled Time", _time(spec.get("scheduledTime"), now)),
        ("Phase", status.phase.value if status.phase else None),
        ("Reason", status.reason),
        ("Message", status.message),
        ("Skipped Range", f"{skipped.count} occurrence(s), {format_time(skipped.first)} to {format_time(skipped.last)}" if skipped else None),
        ("Job", status.jobName),
        ("Schedule Lag", format_duration(status.scheduleLagSeconds, fractional=True) if status.scheduleLagSeconds is not None else None),
        ("Start Time", _time(raw_status.get("startTime"), now)),
        ("Completion Time", _time(raw_status.get("completionTime"), now)),
        ("Duration", format_duration(status.durationSeconds) if status.durationSeconds is not None else None),
        ("SLA Breaches", ", ".join(breaches) or None),
        ("Captured Log", _captured_text(raw_status.get("logs"))),
    ])
    attempts = raw_status.get("attempts") or []
    if attempts:
        rows = [
            [index, a.get("jobName"), a.get("startTime"), a.get("completionTime"), a.get("exitCode"), a.get("reason"),
             _captured_text(a.get("logs")) if a.get("logs") else None]
            for index, a in enumerate(attempts, start=1)
        ]
        table = format_table(["#", "JOB", "STARTED", "COMPLETED", "EXIT CODE", "REASON", "CAPTURED LOG"], rows)
        text += "Attempts:\n" + "".join(f"  {line}\n" for line in table.splitlines())
    text += conditions_table(raw_status.get("conditions") or [])
    text += events_table(events, now)
    return text, {"object": run, "events": events}


def _captured_text(logs: Any) -> str | None:
    if not isinstance(logs, dict) or not logs:
        return None
    parts = []
    if logs.get("tail"):
        lines = len(str(logs["tail"]).splitlines())
        parts.append(f"{lines} line(s)" + (" (truncated)" if logs.get("truncated") else ""))
    if logs.get("archiveRef"):
        parts.append(f"archive {logs['archiveRef']}")
    if logs.get("note"):
        parts.append(f"note: {logs['note']}")
    return "; ".join(parts) or None


# ---------------------------------------------------------------- command


def command(kube: Kube, args: argparse.Namespace) -> int:
    """Describe a ScheduledJob or a JobRun; without a kind, a ScheduledJob of that name wins."""
    kind, name = parse_target(args.kind_or_name, args.name)
    now = datetime.now(UTC)
    found_sj = kube.find_custom(SCHEDULED_JOBS, name) if kind in (None, SCHEDULED_JOBS) else None
    found_run = kube.find_custom(JOB_RUNS, name) if kind in (None, JOB_RUNS) and found_sj is None else None
    if found_sj is not None:
        if kind is None and kube.find_custom(JOB_RUNS, name) is not None:
            note(f"a JobRun named {name} exists too: describe it with `describe run {name}`")
        text, data = describe_scheduled_job(kube, found_sj, now)
    elif found_run is not None:
        text, data = describe_job_run(kube, found_run, now)
    else:
        kinds = {None: "ScheduledJob or JobRun", SCHEDULED_JOBS: "ScheduledJob", JOB_RUNS: "JobRun"}[kind]
        raise NotFoundError(
            f"no {kinds} named {name!r} in namespace {kube.namespace!r}; list them with "
            f"`kubectl get scheduledjobs,jobruns -n {kube.namespace}`, or pick the namespace with -n"
        )
    if args.output in ("json", "yaml"):
        write(dump(data, args.output))
    else:
        write(text)
    return 0
