"""kopf handlers: they feed watch events into the Controller and start its scheduler.

Importing this module registers the handlers with kopf's default registry.
Handlers return None, so kopf writes nothing of theirs into status.

RBAC the operator needs (cluster-wide, or per namespace with --namespace):

- punctual.dev scheduledjobs: get, list, watch, patch; scheduledjobs/status: get, patch
- punctual.dev jobruns: get, list, watch, create, patch, delete; jobruns/status: get, patch
- batch jobs: get, list, watch, create, delete
- core pods: get, list, watch (to see when a run's pod starts running and how it exits)
- core pods/log: get (to capture each run's log into its JobRun status)
- core secrets: get (to read the webhook URLs of spec.notify[].urlSecretRef)
- core events and events.k8s.io events: create, patch
- apiextensions.k8s.io customresourcedefinitions: get, list, watch (kopf scans the resources it serves)
- core namespaces: get, list, watch (kopf, for --namespace patterns)
- with the admission webhook on (--webhook): admissionregistration.k8s.io
  validatingwebhookconfigurations: get, list, watch, create, patch; and batch jobs create for the
  server-side dry run of the template

The operator runs as a single instance: kopf peering is off (standalone) by
default, so two replicas would both fire every occurrence's steps. Deterministic
names keep that from creating duplicate runs, but Events and log lines would be
doubled; run one replica (a Deployment with replicas: 1 and strategy Recreate).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from punctual.controller import Controller
from punctual.kube import Kube, load_config
from punctual.logservice import LogService
from punctual.metrics import Metrics, MetricsServer
from punctual.models import GROUP, VERSION
from punctual.naming import LABEL_JOB_RUN, LABEL_SCHEDULED_JOB

logger = logging.getLogger("punctual")

PREFIX = GROUP


class _State:
    controller: Controller | None = None
    scheduler_task: asyncio.Task[None] | None = None
    logs: LogService | None = None
    metrics_server: MetricsServer | None = None


state = _State()


def _controller() -> Controller:
    if state.controller is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return state.controller


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply Punctual's kopf settings: our own annotation prefix, watch timeouts, quiet kopf Events."""
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # A watch that receives nothing for this long is reconnected, so a silently dropped
    # connection cannot leave the operator blind.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # Punctual posts its own Events; kopf only reports handler errors and warnings as Events.
    settings.posting.level = logging.WARNING
    settings.peering.standalone = True


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    configure(settings)
    api = await load_config()
    metrics = Metrics()
    state.metrics_server = MetricsServer(metrics)
    await state.metrics_server.start()
    state.controller = Controller(Kube(api), metrics=metrics)
    state.controller.supervisor.start()
    state.scheduler_task = asyncio.create_task(state.controller.scheduler.run(), name="punctual-scheduler")
    # Standalone (kopf peering off), so this instance schedules runs from its start to its end.
    metrics.set_leader(True)
    runs = state.controller.runs
    state.logs = LogService(state.controller.kube, runs.write_status, lambda ns, name: runs.job_runs.get((ns, name)))
    await state.logs.start()
    logger.info("Punctual operator started")


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if state.logs is not None:
        await state.logs.stop()
    if state.scheduler_task is not None:
        state.scheduler_task.cancel()
        await asyncio.gather(state.scheduler_task, return_exceptions=True)
    if state.controller is not None:
        state.controller.supervisor.metrics.set_leader(False)
        await state.controller.stop()
        await state.controller.kube.close()
    if state.metrics_server is not None:
        await state.metrics_server.stop()
    logger.info("Punctual operator stopped")


@kopf.on.resume(GROUP, VERSION, "scheduledjobs")
@kopf.on.create(GROUP, VERSION, "scheduledjobs")
@kopf.on.update(GROUP, VERSION, "scheduledjobs")
async def scheduled_job_changed(body: kopf.Body, **_: Any) -> None:
    await _controller().upsert(_plain(body))


@kopf.on.delete(GROUP, VERSION, "scheduledjobs", optional=True)
async def scheduled_job_deleting(namespace: str, name: str, **_: Any) -> None:
    _controller().forget(namespace, name)


@kopf.on.event(GROUP, VERSION, "scheduledjobs")
async def scheduled_job_event(type: str | None, namespace: str, name: str, **_: Any) -> None:
    # kopf calls no delete handler for an object removed without a finalizer; this event is the signal.
    if type == "DELETED":
        _controller().forget(namespace, name)


@kopf.on.event(GROUP, VERSION, "jobruns")
async def job_run_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    plain = _plain(body)
    _controller().runs.on_job_run_event(type, plain)
    _controller().supervisor.on_run_event(type, plain)
    if state.logs is not None:
        state.logs.capture.on_job_run_event(type, plain)


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_SCHEDULED_JOB: kopf.PRESENT})
async def job_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    _controller().runs.on_job_event(type, _plain(body))


@kopf.on.event("", "v1", "pods", labels={LABEL_JOB_RUN: kopf.PRESENT})
async def pod_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    plain = _plain(body)
    _controller().runs.on_pod_event(type, plain)
    if state.logs is not None:
        state.logs.capture.on_pod_event(type, plain)


def _plain(body: kopf.Body) -> dict[str, Any]:
    """Return a plain dict copy of a kopf body, safe to keep after the handler returns."""
    import copy

    return copy.deepcopy(dict(body))
