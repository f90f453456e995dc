"""Pydantic models of the ScheduledJob and JobRun resources (group punctual.dev, v1alpha1).

These models are the one description of the API: the operator validates specs
and builds statuses with them, and ``punctual.crdgen`` generates the CRD
OpenAPI schemas in ``crds/`` from them. Field names are the camelCase API names.
Times are timezone-aware datetimes, written as RFC 3339 UTC with seconds
resolution (``2026-03-29T01:00:00Z``), as Kubernetes writes its own timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator

GROUP = "punctual.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# A ScheduledJob name leaves room for "-<10-digit Unix seconds>" in its run names.
MAX_SCHEDULED_JOB_NAME = 52
MAX_EXPRESSION_LENGTH = 256
MAX_SCHEDULES = 16
MAX_JITTER_SECONDS = 3600
# Seven days: a run found later than this after its time is always stale.
MAX_STARTING_DEADLINE_SECONDS = 7 * 24 * 3600
MAX_TIMEOUT_SECONDS = 31 * 24 * 3600
MAX_HISTORY_LIMIT = 100
MAX_CATCH_UP_RUNS = 1000
# Ten years, and below 2**31 because Kubernetes' ttlSecondsAfterFinished is an int32.
MAX_TTL_SECONDS = 10 * 366 * 24 * 3600


def format_time(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with seconds resolution."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: Punctual only handles timezone-aware times")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | datetime) -> datetime:
    """Parse an RFC 3339 time (as the API server writes it) into an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset; write it as RFC 3339, e.g. 2026-01-01T00:00:00Z")
    return parsed.astimezone(UTC)


Time = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", use_enum_values=False)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return parse_time(value)
        return value

    def to_api(self) -> dict[str, Any]:
        """Return the JSON form the API server stores, without unset optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


def _cel(rule: str, message: str) -> dict[str, Any]:
    return {"rule": rule, "message": message}


# ---------------------------------------------------------------- ScheduledJob spec


class ConcurrencyPolicy(str, Enum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"
    BUFFER_ONE = "BufferOne"


class CatchUpPolicy(str, Enum):
    LATEST = "Latest"
    ALL = "All"
    NONE = "None"


class CatchUp(_Model):
    """What to do with occurrences missed while the operator was down."""

    policy: CatchUpPolicy = Field(
        CatchUpPolicy.LATEST,
        description=(
            "Latest runs the most recent missed occurrence and records the others as one Skipped range; "
            "All runs the most recent maxRuns missed occurrences and records the older ones as Skipped; "
            "None records every missed occurrence as Skipped."
        ),
    )
    maxRuns: int = Field(
        10,
        ge=1,
        le=MAX_CATCH_UP_RUNS,
        description="With policy All, the maximum number of missed occurrences run on resume.",
    )


class StartBreachAction(str, Enum):
    WARN = "Warn"
    FAIL = "Fail"


class SLA(_Model):
    """Service-level objectives of each run: by when it must start, when it is late, when it is stopped."""

    startWithinSeconds: int | None = Field(
        None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description=(
            "Start SLA, measured from the run's scheduled time (spec.scheduledTime): the run's pod must be "
            "running within this many seconds, or the JobRun gets the StartSLABreached condition, a Warning "
            "Event and a notification naming the pod's waiting reason (image pull, scheduling, quota)."
        ),
    )
    onStartBreach: StartBreachAction = Field(
        StartBreachAction.WARN,
        description=(
            "Warn: only report a start SLA breach. Fail: also end the run (phase Failed, reason "
            "StartSLABreached) and delete its Job, so that a Forbid schedule is not blocked by a pod that "
            "never starts. A run failed this way is not retried."
        ),
    )
    warnAfterSeconds: int | None = Field(
        None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description=(
            "Soft duration SLA, measured from status.startTime (when the run's first pod started running; "
            "retries included): past it the JobRun gets the SLABreached condition, a Warning Event and a "
            "notification, and the run goes on."
        ),
    )
    timeoutSeconds: int | None = Field(
        None,
        ge=1,
        le=MAX_TIMEOUT_SECONDS,
        description=(
            "Hard limit of each attempt, set as its Job's activeDeadlineSeconds, which Kubernetes measures from "
            "the Job's start (pod pending time included) and enforces by stopping the pods: the attempt ends "
            "TimedOut (DeadlineExceeded). If the Job is still running 10 s after that deadline, the operator "
            "ends the attempt itself (reason OperatorTimeout) and deletes the Job."
        ),
    )


class RetryReason(str, Enum):
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    NODE_LOST = "NodeLost"


class RetryPolicy(_Model):
    """Retries of a failed run, each a new Job of the same JobRun (<run>-a2, <run>-a3, ...).

    The Job's own backoffLimit stays the pod-level retry inside one attempt.
    """

    maxAttempts: int = Field(1, ge=1, le=10, description="Attempts per run, the first included; 1 means no retry.")
    backoffSeconds: int = Field(
        10,
        ge=0,
        le=86400,
        description="Delay after the first failed attempt, from its completion; it doubles after each further one.",
    )
    maxBackoffSeconds: int = Field(600, ge=0, le=86400, description="Maximum delay between two attempts.")
    retryOn: list[RetryReason] = Field(
        default_factory=lambda: [RetryReason.FAILED, RetryReason.NODE_LOST],
        max_length=3,
        description=(
            "Attempt outcomes that are retried (default Failed and NodeLost). Failed: the program failed "
            "(exit code, OOMKilled, evicted). TimedOut: the attempt hit sla.timeoutSeconds. NodeLost: the "
            "pod's node was lost or drained, which is not the program's fault. Runs ended by hand, by a "
            "rejected Job template or by onStartBreach Fail are never retried."
        ),
    )


class NotifyEvent(str, Enum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    SLA_BREACHED = "SLABreached"
    START_SLA_BREACHED = "StartSLABreached"
    SKIPPED = "Skipped"


class NotifyFormat(str, Enum):
    JSON = "json"
    SLACK = "slack"


class SecretKeyRef(_Model):
    """A key of a Secret in the ScheduledJob's namespace."""

    name: str = Field(min_length=1, max_length=253, description="Name of the Secret.")
    key: str = Field(min_length=1, max_length=253, description="Key in the Secret's data.")


class NotifySink(_Model):
    """A webhook that receives a POST for each run event it lists, at most once per (run, event)."""

    name: str = Field(
        min_length=1, max_length=63, description="Names this sink in the JobRun's status.notifications."
    )
    events: list[NotifyEvent] = Field(min_length=1, max_length=6, description="The run events sent to this sink.")
    format: NotifyFormat = Field(
        NotifyFormat.JSON,
        description="json: a JSON object with the run, phase, reason, times and log tail. slack: a Slack-compatible {\"text\": ...} body.",
    )
    urlSecretRef: SecretKeyRef = Field(
        description="The Secret key whose value is the webhook URL (http or https); it never appears in status, Events or logs."
    )
    timeoutSeconds: int = Field(5, ge=1, le=60, description="Timeout of each request to the webhook.")


class TemplateMetadata(_Model):
    labels: dict[str, str] | None = Field(None, description="Labels copied onto each Job.")
    annotations: dict[str, str] | None = Field(None, description="Annotations copied onto each Job.")


class JobTemplate(_Model):
    """A batch/v1 JobTemplateSpec: the Job each run creates."""

    metadata: TemplateMetadata | None = None
    spec: Annotated[
        dict[str, Any],
        WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
    ] = Field(
        description="A batch/v1 JobSpec, checked by the API server when the Job is created.",
    )


_SCHEDULE_RULES = [
    _cel(
        "self.startsWith('@') || self.matches('^\\\\s*\\\\S+(\\\\s+\\\\S+){4}\\\\s*$')",
        "must be standard 5-field cron (minute hour day-of-month month day-of-week) or a macro such as "
        "@hourly or '@every 30s'; 6-field expressions with seconds are not supported, use '@every' instead",
    ),
    _cel(
        "!self.trim().startsWith('@reboot')",
        "@reboot is not supported: a ScheduledJob needs a time-based schedule",
    ),
    _cel(
        "!self.matches('^\\\\s*(CRON_)?TZ=')",
        "must not start with TZ= or CRON_TZ=: set the time zone in spec.timeZone",
    ),
]

ScheduleExpression = Annotated[
    str,
    Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH, json_schema_extra={"x-kubernetes-validations": _SCHEDULE_RULES}),
]


class ScheduledJobSpec(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "has(self.schedule) != has(self.schedules)",
                    "set exactly one of spec.schedule (one expression) or spec.schedules (a list), and remove the other",
                ),
            ]
        }
    )

    schedule: ScheduleExpression | None = Field(
        None, description="A cron expression, a macro (@hourly) or '@every <duration>'. Exclusive with schedules."
    )
    schedules: list[ScheduleExpression] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SCHEDULES,
        description="Several expressions; the job runs at the union of their times. Exclusive with schedule.",
    )
    timeZone: str = Field(
        "UTC", min_length=1, max_length=64, description="IANA time zone of the cron expressions, e.g. Europe/Berlin."
    )
    jitterSeconds: int = Field(
        0,
        ge=0,
        le=MAX_JITTER_SECONDS,
        description="Each run starts a stable pseudo-random delay in [0, jitterSeconds) after its scheduled time.",
    )
    concurrencyPolicy: ConcurrencyPolicy = Field(
        ConcurrencyPolicy.ALLOW,
        description=(
            "Allow: runs overlap. Forbid: an occurrence is Skipped while a run is active. "
            "Replace: the active run is Cancelled and its Job deleted. "
            "BufferOne: one occurrence waits for the active run to end; further ones are Skipped."
        ),
    )
    startingDeadlineSeconds: int | None = Field(
        None,
        ge=0,
        le=MAX_STARTING_DEADLINE_SECONDS,
        description="A run that cannot start within this many seconds of its time is Skipped (MissedStartingDeadline).",
    )
    catchUp: CatchUp = Field(default_factory=CatchUp)
    suspend: bool = Field(False, description="Stop creating runs; occurrences while suspended are recorded as one Skipped range.")
    suspendReason: str | None = Field(None, max_length=256, description="Why the job is suspended, shown in the Suspended condition.")
    successfulRunsHistoryLimit: int = Field(
        3, ge=0, le=MAX_HISTORY_LIMIT, description="Succeeded JobRuns kept; older ones are deleted."
    )
    failedRunsHistoryLimit: int = Field(
        3, ge=0, le=MAX_HISTORY_LIMIT, description="Failed, TimedOut and Cancelled JobRuns kept; older ones are deleted."
    )
    skippedRunsHistoryLimit: int = Field(
        3, ge=0, le=MAX_HISTORY_LIMIT, description="Skipped records kept; older ones are deleted."
    )
    runTTLSeconds: int | None = Field(
        None,
        ge=0,
        le=MAX_TTL_SECONDS,
        description=(
            "Finished JobRuns (Skipped records included) are deleted this many seconds after their completionTime, "
            "whatever the history limits; active runs never are. Unset: only the history limits apply."
        ),
    )
    jobTTLSecondsAfterFinished: int | None = Field(
        None,
        ge=0,
        le=MAX_TTL_SECONDS,
        description=(
            "Set as each Job's ttlSecondsAfterFinished (over jobTemplate.spec's): Kubernetes deletes a finished "
            "Job and its pods this many seconds after it finishes, while the JobRun keeps its phase, status and "
            "captured log. Leave the operator a few seconds to read the log before the pods go."
        ),
    )
    jobTemplate: JobTemplate
    sla: SLA | None = None
    retryPolicy: RetryPolicy | None = None
    stopAfterConsecutiveFailures: int | None = Field(
        None,
        ge=1,
        le=1000,
        description=(
            "Suspend this ScheduledJob (spec.suspend true, with suspendReason) once this many runs in a row, "
            "in scheduled-time order, end Failed or TimedOut after their last attempt. Skipped and Cancelled "
            "runs neither count nor reset the count; resuming resets it. Unset: never."
        ),
    )
    notify: list[NotifySink] | None = Field(
        None,
        max_length=10,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="Webhooks that receive run events. The operator needs RBAC to get Secrets in this namespace.",
    )

    @property
    def expressions(self) -> list[str]:
        """Return the schedule expressions whichever of schedule or schedules is set."""
        if self.schedules:
            return list(self.schedules)
        return [self.schedule] if self.schedule else []

    @property
    def schedule_field(self) -> str:
        return "spec.schedules" if self.schedules else "spec.schedule"


# ---------------------------------------------------------------- conditions


class ConditionStatus(str, Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(_Model):
    """A metav1.Condition."""

    type: str = Field(max_length=316)
    status: ConditionStatus
    reason: str = Field(max_length=1024)
    message: str = Field("", max_length=32768)
    lastTransitionTime: Time
    observedGeneration: int | None = Field(None, ge=0)


# ---------------------------------------------------------------- JobRun


class RunTrigger(str, Enum):
    SCHEDULE = "Schedule"
    CATCH_UP = "CatchUp"
    MANUAL = "Manual"
    BACKFILL = "Backfill"


class RunPhase(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    SKIPPED = "Skipped"
    CANCELLED = "Cancelled"

    @property
    def terminal(self) -> bool:
        return self not in (RunPhase.PENDING, RunPhase.RUNNING)


class JobRunSpec(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel("self == oldSelf", "spec is immutable: create a new JobRun instead"),
            ]
        }
    )

    scheduledJobName: str = Field(min_length=1, max_length=253, description="The ScheduledJob whose template this run uses.")
    scheduledTime: Time | None = Field(
        None, description="The occurrence this run is for (RFC 3339 UTC); a Manual run without it uses its creation time."
    )
    trigger: RunTrigger = Field(
        RunTrigger.MANUAL,
        description="Schedule and CatchUp runs are created by the operator; create Manual or Backfill runs yourself.",
    )


class SkippedRange(_Model):
    """The occurrences one Skipped record stands for."""

    first: Time
    last: Time
    count: int = Field(ge=1)


class RunLogs(_Model):
    """The log of one attempt's pod, as the operator captured it before the pod could go."""

    tail: str | None = Field(
        None,
        description=(
            "The end of the pod's log, at most the operator's --log-tail-bytes in UTF-8. In a pod with several "
            "containers each container's part starts with a line '==> container <name> <=='."
        ),
    )
    truncated: bool = Field(False, description="True when earlier log text was cut to fit the tail size.")
    archiveRef: str | None = Field(
        None, description="Where the full log is archived: a URL of the operator's /logs endpoint, or a file path."
    )
    note: str | None = Field(None, description="What could not be captured, and why.")
    pod: str | None = Field(None, description="The pod whose log this is.")
    containers: list[str] | None = Field(None, description="The containers captured, in the order of tail.")
    capturedBytes: int | None = Field(None, ge=0, description="Size of tail in bytes (UTF-8).")
    archivedBytes: int | None = Field(None, ge=0, description="Size of the archived log in bytes.")
    capturedTime: Time | None = Field(None, description="When the operator read the log.")
    final: bool = Field(
        False,
        description="True when captured after the containers ended; false for a snapshot of a still running pod.",
    )


class Attempt(_Model):
    """One Job of a run."""

    jobName: str
    createdTime: Time | None = None
    startTime: Time | None = None
    completionTime: Time | None = None
    exitCode: int | None = None
    containerName: str | None = None
    reason: str | None = None
    message: str | None = Field(None, description="Why the attempt failed, in words a user can act on.")
    logs: RunLogs | None = None


class DeliveryState(str, Enum):
    PENDING = "Pending"
    SENDING = "Sending"
    DELIVERED = "Delivered"
    FAILED = "Failed"


class Notification(_Model):
    """The delivery of one run event to one sink."""

    sink: str
    event: NotifyEvent
    state: DeliveryState = Field(
        description=(
            "Pending: owed, no request in flight. Sending: a request may be in flight. Delivered: the webhook "
            "answered 2xx. Failed: given up; a request whose outcome is unknown is never resent."
        )
    )
    attempts: int = Field(0, ge=0, description="Delivery tries so far, a missing Secret included.")
    lastError: str | None = None
    lastAttemptTime: Time | None = None
    nextAttemptTime: Time | None = None


class JobRunStatus(_Model):
    phase: RunPhase | None = None
    reason: str | None = None
    message: str | None = None
    jobName: str | None = None
    startTime: Time | None = Field(None, description="When the run's pod started running.")
    completionTime: Time | None = None
    durationSeconds: int | None = Field(None, ge=0, description="completionTime (or now) minus startTime.")
    scheduleLagSeconds: float | None = Field(None, description="Job creation time minus scheduled time.")
    attempts: list[Attempt] | None = Field(None, description="Every Job of the run, the current one last.")
    nextAttemptTime: Time | None = Field(
        None, description="While reason is RetryScheduled: when the next attempt's Job is created."
    )
    skipped: SkippedRange | None = None
    logs: RunLogs | None = Field(None, description="The captured log of the latest attempt.")
    conditions: list[Condition] | None = None
    notifications: list[Notification] | None = None
    observedGeneration: int | None = None


# ---------------------------------------------------------------- ScheduledJob status


class LastRun(_Model):
    name: str
    phase: RunPhase | None = None
    scheduledTime: Time | None = None


class AppliedSchedule(_Model):
    """The schedule the operator last applied, to tell a schedule edit from a restart."""

    expressions: list[str]
    timeZone: str


class RunCounts(_Model):
    """JobRuns currently kept, by phase (pruning lowers these)."""

    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    timedOut: int = 0
    skipped: int = 0
    cancelled: int = 0


class ScheduledJobStatus(_Model):
    observedGeneration: int | None = None
    conditions: list[Condition] | None = None
    scheduleDisplay: str | None = Field(None, description="The schedule expressions joined, for kubectl get.")
    lastScheduleTime: Time | None = Field(
        None, description="The latest occurrence handled, by a run or a Skipped record."
    )
    lastSuccessfulTime: Time | None = Field(None, description="Completion time of the latest Succeeded run.")
    nextScheduleTimes: list[Time] | None = None
    active: list[str] | None = Field(None, description="Names of the JobRuns whose Job is running or starting.")
    activeCount: int | None = None
    runCounts: RunCounts | None = None
    lastRun: LastRun | None = None
    appliedSchedule: AppliedSchedule | None = None
    scheduleEffectiveFrom: Time | None = Field(
        None, description="When the current schedule took effect; no earlier occurrence of it runs."
    )
    suspendedAt: Time | None = Field(None, description="When the operator saw spec.suspend become true.")
    consecutiveFailures: int | None = Field(
        None, ge=0, description="Runs in a row, by scheduled time, that ended Failed or TimedOut."
    )
    failuresCountedThrough: Time | None = Field(
        None, description="Scheduled time of the latest finished run counted in consecutiveFailures."
    )


# ---------------------------------------------------------------- whole resources (for schema generation)


class ObjectMeta(_Model):
    name: str | None = None


class ScheduledJob(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    f"size(self.metadata.name) <= {MAX_SCHEDULED_JOB_NAME}",
                    f"metadata.name must be at most {MAX_SCHEDULED_JOB_NAME} characters so that run names "
                    "(name, '-', Unix seconds) fit Kubernetes' 63-character label limit; choose a shorter name",
                ),
            ]
        }
    )

    spec: ScheduledJobSpec
    status: ScheduledJobStatus | None = None


class JobRun(_Model):
    spec: JobRunSpec
    status: JobRunStatus | None = None


Kind = Literal["ScheduledJob", "JobRun"]
