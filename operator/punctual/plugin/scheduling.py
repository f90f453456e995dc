"""The ``next`` command, and the parsing of a ScheduledJob's schedule shared by ``next`` and ``backfill``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from punctual.models import ScheduledJobSpec, format_time
from punctual.plugin.errors import PluginError, UsageError
from punctual.plugin.kubeapi import Body, Kube
from punctual.plugin.output import dump, format_table, note, write
from punctual.plugin.timeparse import format_duration, format_local, parse_user_time
from punctual.schedule import Schedule, ScheduleError, jitter_offset, parse_schedule

MAX_NEXT_COUNT = 1000


@dataclass(frozen=True)
class LoadedSchedule:
    """A ScheduledJob's spec and its parsed schedule, as the operator builds them."""

    spec: ScheduledJobSpec
    schedule: Schedule
    hash_key: str
    """The "namespace/name" that H tokens and jitter hash."""


def load_schedule(scheduled_job: Body) -> LoadedSchedule:
    """Parse a ScheduledJob's schedule with the operator's own code (punctual.schedule).

    Raises PluginError when the spec or the schedule is invalid, which the
    operator also reports in the ScheduleValid condition.
    """
    metadata = scheduled_job["metadata"]
    hash_key = f"{metadata['namespace']}/{metadata['name']}"
    try:
        spec = ScheduledJobSpec.model_validate(scheduled_job.get("spec") or {})
        schedule = parse_schedule(
            spec.expressions if spec.schedules else spec.schedule or "",
            time_zone=spec.timeZone,
            hash_key=hash_key,
            field=spec.schedule_field,
        )
    except (ScheduleError, ValidationError) as error:
        raise PluginError(
            f"ScheduledJob {metadata['name']} has an invalid spec: {error}; "
            f"fix it with `kubectl edit scheduledjob {metadata['name']} -n {metadata['namespace']}`"
        ) from None
    return LoadedSchedule(spec=spec, schedule=schedule, hash_key=hash_key)


@dataclass(frozen=True)
class NextTime:
    """One upcoming occurrence and when the operator starts it (its time plus the stable jitter)."""

    occurrence: datetime
    fires_at: datetime

    def to_api(self, time_zone: str) -> dict[str, str]:
        return {
            "scheduledTime": format_time(self.occurrence),
            "localTime": self.occurrence.astimezone(ZoneInfo(time_zone)).isoformat(),
            "firesAt": format_time(self.fires_at),
        }


def next_times(loaded: LoadedSchedule, after: datetime, count: int) -> list[NextTime]:
    """Return the next count occurrences strictly after ``after``, with their jittered start times."""
    result = []
    for occurrence in loaded.schedule.next_times(after, count):
        offset = jitter_offset(loaded.hash_key, occurrence, loaded.spec.jitterSeconds)
        result.append(NextTime(occurrence=occurrence, fires_at=occurrence + timedelta(seconds=offset)))
    return result


def command(kube: Kube, args: argparse.Namespace) -> int:
    """Print the next occurrences of a ScheduledJob, in UTC and in its time zone."""
    if not 1 <= args.count <= MAX_NEXT_COUNT:
        raise UsageError(f"invalid --count {args.count}: it must be between 1 and {MAX_NEXT_COUNT}")
    scheduled_job = kube.get_scheduled_job(args.scheduled_job)
    loaded = load_schedule(scheduled_job)
    now = datetime.now(UTC)
    time_zone = loaded.spec.timeZone
    after = parse_user_time(args.from_time, time_zone=time_zone, now=now, flag="--from") if args.from_time else now
    upcoming = next_times(loaded, after, args.count)

    if loaded.spec.suspend:
        note(f"ScheduledJob {args.scheduled_job} is suspended: no runs are created at these times until it is resumed.")
    if args.output in ("json", "yaml"):
        data = {
            "scheduledJob": args.scheduled_job,
            "namespace": kube.namespace,
            "timeZone": time_zone,
            "after": format_time(after),
            "suspended": loaded.spec.suspend,
            "times": [entry.to_api(time_zone) for entry in upcoming],
        }
        write(dump(data, args.output))
        return 0

    jitter = loaded.spec.jitterSeconds > 0
    headers = ["#", "UTC", f"LOCAL ({time_zone})", "IN"]
    if jitter or args.output == "wide":
        headers.append("STARTS AT (JITTER)")
    rows = []
    for index, entry in enumerate(upcoming, start=1):
        row = [index, format_time(entry.occurrence), format_local(entry.occurrence, time_zone),
               format_duration(round((entry.occurrence - now).total_seconds()))]
        if jitter or args.output == "wide":
            row.append(format_time(entry.fires_at))
        rows.append(row)

    if not rows:
        note(f"ScheduledJob {args.scheduled_job} has no occurrence after {format_time(after)}.")
        return 0
    write(format_table(headers, rows))
    return 0
