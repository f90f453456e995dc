"""Prometheus metrics of the operator, served at /metrics by punctual.server.

Labels are bounded: at most the namespace and the ScheduledJob name, plus
label values from fixed sets (phase, trigger, reason, kind, result). No
metric has a JobRun or Job name. The series of a deleted ScheduledJob are
removed with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import threading
from collections import defaultdict
from dataclasses import dataclass

from aiohttp import web

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector, disable_created_metrics
from prometheus_client.metrics import MetricWrapperBase

from punctual import runstatus, sla
from punctual.models import JobRunStatus, RunPhase

try:
    from importlib.metadata import PackageNotFoundError, version

    VERSION = version("punctual")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "unknown"

logger = logging.getLogger("punctual.metrics")


# From 50 ms (the scheduler's normal lag) to 10 minutes (a catch-up or an overloaded API server).
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

SJ_LABELS = ("namespace", "scheduled_job")


class Metrics:
    """The operator's metrics in a registry of their own."""

    def __init__(self) -> None:
        # The *_created series double the output and no dashboard of this operator reads them.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

        registry = self.registry
        self.schedule_lag = Histogram(
            "punctual_schedule_lag_seconds",
            "Seconds from a scheduled run's time to the creation of its first Job (trigger Schedule only).",
            SJ_LABELS, buckets=LAG_BUCKETS, registry=registry,
        )
        self.runs_started = Counter(
            "punctual_runs_started_total", "Runs whose first Job was created, by trigger.",
            (*SJ_LABELS, "trigger"), registry=registry,
        )
        self.runs_finished = Counter(
            "punctual_runs_finished_total", "Runs that reached a final phase other than Skipped, by phase.",
            (*SJ_LABELS, "phase"), registry=registry,
        )
        self.runs_skipped = Counter(
            "punctual_runs_skipped_total", "Occurrences recorded as Skipped, by reason.",
            (*SJ_LABELS, "reason"), registry=registry,
        )
        self.sla_breaches = Counter(
            "punctual_sla_breaches_total",
            "SLA breaches by kind: start (startWithinSeconds), warn (warnAfterSeconds), timeout (timeoutSeconds).",
            (*SJ_LABELS, "kind"), registry=registry,
        )
        self.retries = Counter(
            "punctual_retries_total", "Retries scheduled, by the outcome of the failed attempt.",
            (*SJ_LABELS, "reason"), registry=registry,
        )
        self.notifications = Counter(
            "punctual_notifications_total", "Notification delivery tries, by result (delivered, retry, failed).",
            (*SJ_LABELS, "result"), registry=registry,
        )
        self.active_runs = Gauge(
            "punctual_active_runs", "Runs whose Job is running or starting, or that wait for a retry.",
            SJ_LABELS, registry=registry,
        )

        self.leader = Gauge(
            "punctual_leader", "1 while this operator instance schedules runs, else 0.", registry=registry,
        )
        self.build = Info("punctual_build", "Version of the operator and of Python.", registry=registry)
        self.build.info({"version": VERSION, "python_version": platform.python_version()})

        self._per_scheduled_job: list[MetricWrapperBase] = [
            self.schedule_lag, self.runs_started, self.runs_finished, self.runs_skipped,
            self.sla_breaches, self.retries, self.notifications, self.active_runs,
        ]
        # Label values used per ScheduledJob, to remove its series when it is deleted.
        self._series: dict[tuple[str, str], set[tuple[MetricWrapperBase, tuple[str, ...]]]] = defaultdict(set)
        self._lock = threading.Lock()

    def _child(self, metric: MetricWrapperBase, namespace: str, scheduled_job: str, *extra: str):
        values = (namespace, scheduled_job, *extra)
        with self._lock:
            self._series[(namespace, scheduled_job)].add((metric, values))
        return metric.labels(*values)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def observe_transition(self, namespace: str, scheduled_job: str, trigger: str | None,
                           old: JobRunStatus, new: JobRunStatus) -> None:
        """Count what one JobRun status change stands for."""
        if new.jobName and not old.jobName:
            self._child(self.runs_started, namespace, scheduled_job, trigger or "Unknown").inc()
        # Catch-up and backfill runs are late by design; their lag would hide the scheduler's own.
        if trigger == "Schedule" and new.scheduleLagSeconds is not None and old.scheduleLagSeconds is None:
            self._child(self.schedule_lag, namespace, scheduled_job).observe(max(0.0, new.scheduleLagSeconds))
        if new.phase == RunPhase.SKIPPED:
            before = old.skipped.count if old.phase == RunPhase.SKIPPED and old.skipped else 0
            added = (new.skipped.count if new.skipped else 1) - before
            if added > 0:
                self._child(self.runs_skipped, namespace, scheduled_job, new.reason or "Unknown").inc(added)
        elif new.phase != old.phase and new.phase is not None and new.phase.terminal:
            self._child(self.runs_finished, namespace, scheduled_job, new.phase.value).inc()
        if runstatus.is_retry_pending(new) and not runstatus.is_retry_pending(old):
            outcome = runstatus.outcome_class(new.attempts[-1].reason if new.attempts else None)
            self._child(self.retries, namespace, scheduled_job, outcome.value if outcome else "Unknown").inc()
        for kind in sla.breaches_between(old, new):
            self._child(self.sla_breaches, namespace, scheduled_job, kind.value).inc()

    def set_active(self, namespace: str, scheduled_job: str, count: int) -> None:
        self._child(self.active_runs, namespace, scheduled_job).set(count)

    def count_notification(self, namespace: str, scheduled_job: str, result: str) -> None:
        self._child(self.notifications, namespace, scheduled_job, result).inc()

    def set_leader(self, active: bool) -> None:
        self.leader.set(1 if active else 0)

    def forget(self, namespace: str, scheduled_job: str) -> None:
        """Remove every series of a deleted ScheduledJob."""
        with self._lock:
            series = self._series.pop((namespace, scheduled_job), set())
        for metric, values in series:
            try:
                metric.remove(*values)
            except KeyError:
                pass


# ---------------------------------------------------------------- the /metrics endpoint


@dataclass(frozen=True)
class ServerOptions:
    host: str = "0.0.0.0"  # noqa: S104 (Prometheus scrapes the pod IP)
    port: int = 0
    """0: no metrics endpoint."""


_options = ServerOptions()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metrics")
    group.add_argument(
        "--metrics-port", type=int, default=int(os.environ.get("PUNCTUAL_METRICS_PORT") or 0),
        help="serve Prometheus metrics at http://<host>:<port>/metrics (env PUNCTUAL_METRICS_PORT; "
        "default 0, no endpoint)",
    )
    group.add_argument(
        "--metrics-host", default=os.environ.get("PUNCTUAL_METRICS_HOST", ServerOptions.host),
        help=f"address the metrics endpoint listens on (env PUNCTUAL_METRICS_HOST; default {ServerOptions.host})",
    )


def configure(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Store the parsed metrics options for the next MetricsServer; report an invalid port through parser.error."""
    global _options
    if not 0 <= args.metrics_port < 65536:
        parser.error(f"--metrics-port {args.metrics_port} is not a TCP port: choose 1 to 65535, or 0 for none")
    _options = ServerOptions(host=args.metrics_host, port=args.metrics_port)


class MetricsServer:
    """GET /metrics in the Prometheus text format, on its own aiohttp server."""

    def __init__(self, metrics: Metrics, options: ServerOptions | None = None) -> None:
        self.metrics = metrics
        self.options = options or _options
        self._runner: web.AppRunner | None = None

    async def _get(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def start(self) -> None:
        """Start listening, unless the port is 0; raise OSError when the port cannot be bound."""
        if not self.options.port:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.options.host, self.options.port).start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(
                f"cannot listen on {self.options.host}:{self.options.port} for metrics: {error}; "
                f"choose another --metrics-port"
            ) from error
        logger.info("serving metrics at http://%s:%d/metrics", self.options.host, self.options.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
