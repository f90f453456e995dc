"""Deterministic names, labels and annotations of runs.

One occurrence is (ScheduledJob, scheduled instant at seconds resolution), and
its JobRun and Job share one name derived from it, so a re-fired occurrence
hits AlreadyExists instead of creating a second run. A Job's name becomes the
``job-name`` label of its pods and the Job controller appends ``-xxxxx`` to it
for pod names, so run names stay within 57 characters (57 + 6 = 63, the label
value and host name limit).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from typing import Any

from punctual.models import API_VERSION, GROUP, RunTrigger, format_time

MAX_RUN_NAME = 57
HASH_LENGTH = 8

LABEL_SCHEDULED_JOB = f"{GROUP}/scheduled-job"
LABEL_SCHEDULED_TIME = f"{GROUP}/scheduled-time"
LABEL_JOB_RUN = f"{GROUP}/job-run"
ANNOTATION_SCHEDULED_TIME = f"{GROUP}/scheduled-time"


def unix_seconds(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: pass a timezone-aware time")
    return int(instant.timestamp())


def from_unix_seconds(seconds: int | str) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=UTC)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _fit(prefix: str, suffix: str) -> str:
    """Join prefix and suffix with '-', shortening the prefix with a hash of it when too long."""
    name = f"{prefix}-{suffix}" if suffix else prefix
    if len(name) <= MAX_RUN_NAME:
        return name
    room = MAX_RUN_NAME - len(suffix) - HASH_LENGTH - (2 if suffix else 1)
    head = prefix[:room].rstrip("-.")
    shortened = f"{head}-{_short_hash(prefix)}"
    return f"{shortened}-{suffix}" if suffix else shortened


def run_name(scheduled_job: str, scheduled_time: datetime) -> str:
    """Return the name of the JobRun and the Job of one occurrence: ``<scheduled-job>-<unix seconds>``."""
    return _fit(scheduled_job, str(unix_seconds(scheduled_time)))


def job_name(job_run: str) -> str:
    """Return the Job name of a JobRun: the JobRun's own name, hash-shortened when too long."""
    return _fit(job_run, "")


def attempt_job_name(job_run: str, attempt: int) -> str:
    """Return the Job name of a run's attempt: job_name for the first, ``<run>-a<n>`` for retries.

    The name depends only on the run and the attempt number, so an operator
    restarted mid-retry finds the Job it created instead of making a second one.
    """
    if attempt < 1:
        raise ValueError(f"attempt {attempt} is invalid: attempts count from 1")
    return job_name(job_run) if attempt == 1 else _fit(job_run, f"a{attempt}")


def run_labels(scheduled_job: str, scheduled_time: datetime) -> dict[str, str]:
    return {
        LABEL_SCHEDULED_JOB: label_value(scheduled_job),
        LABEL_SCHEDULED_TIME: str(unix_seconds(scheduled_time)),
    }


def run_annotations(scheduled_time: datetime) -> dict[str, str]:
    return {ANNOTATION_SCHEDULED_TIME: format_time(scheduled_time)}


def label_value(name: str) -> str:
    """Return a name as a label value: unchanged up to 63 characters, else hash-shortened."""
    if len(name) <= 63:
        return name
    return f"{name[:54].rstrip('-.')}-{_short_hash(name)}"


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    """Return a controller ownerReference to owner that blocks its deletion until dependents are gone."""
    metadata = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def job_run_body(scheduled_job: dict[str, Any], occurrence: datetime, trigger: RunTrigger, name: str) -> dict[str, Any]:
    """Build the JobRun for one occurrence: labels, annotations and the controller ownerReference.

    The operator and the kubectl plugin both create JobRuns with it, so a run
    created by either looks the same to the operator.
    """
    metadata = scheduled_job["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "JobRun",
        "metadata": {
            "name": name,
            "namespace": metadata["namespace"],
            "labels": run_labels(metadata["name"], occurrence),
            "annotations": run_annotations(occurrence),
            "ownerReferences": [owner_reference(scheduled_job)],
        },
        "spec": {
            "scheduledJobName": metadata["name"],
            "scheduledTime": format_time(occurrence),
            "trigger": trigger.value,
        },
    }
