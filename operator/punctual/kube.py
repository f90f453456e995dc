"""Kubernetes API calls of the operator (kubernetes_asyncio), with bodies as plain dicts.

Every call here is async, so none blocks kopf's event loop. Creates return
``(body, created)`` and treat AlreadyExists as "return the existing object", so
callers decide whether that object is theirs by its controller ownerReference.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from punctual.models import GROUP, VERSION, format_time
from punctual.naming import LABEL_SCHEDULED_JOB, label_value

logger = logging.getLogger("punctual.kube")

MERGE_PATCH = "application/merge-patch+json"
SCHEDULED_JOBS = "scheduledjobs"
JOB_RUNS = "jobruns"
COMPONENT = "punctual-operator"

Body = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def object_ref(namespace: str, name: str) -> str:
    """Return the "[namespace/name]" prefix of the operator's log lines."""
    return f"[{namespace}/{name}]"


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


def controller_uid(body: Body) -> str | None:
    """Return the uid of an object's controller ownerReference, if any."""
    for reference in (body.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return reference.get("uid")
    return None


async def load_config() -> client.ApiClient:
    """Return an ApiClient for the in-cluster service account, or else for $KUBECONFIG / ~/.kube/config."""
    try:
        config.load_incluster_config()
    except ConfigException:
        await config.load_kube_config()
    return client.ApiClient()


class Kube:
    """The API calls the operator makes."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self._event_tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        if self._event_tasks:
            await asyncio.gather(*self._event_tasks, return_exceptions=True)
        await self.api.close()

    # -------------------------------------------------------- custom resources

    async def get_custom(self, plural: str, namespace: str, name: str) -> Body:
        return await self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)

    async def list_job_runs(self, namespace: str, scheduled_job: str) -> list[Body]:
        result = await self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, JOB_RUNS, label_selector=f"{LABEL_SCHEDULED_JOB}={label_value(scheduled_job)}"
        )
        return result.get("items", [])

    async def create_job_run(self, namespace: str, body: Body) -> tuple[Body, bool]:
        try:
            created = await self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, JOB_RUNS, body)
            return created, True
        except ApiException as error:
            if error.status != 409:
                raise
        return await self.get_custom(JOB_RUNS, namespace, body["metadata"]["name"]), False

    async def patch_status(self, plural: str, namespace: str, name: str, status: Body) -> Body:
        return await self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, plural, name, {"status": status}, _content_type=MERGE_PATCH
        )

    async def patch_metadata(self, plural: str, namespace: str, name: str, metadata: Body) -> Body:
        return await self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name, {"metadata": metadata}, _content_type=MERGE_PATCH
        )

    async def patch_spec(self, plural: str, namespace: str, name: str, spec: Body) -> Body:
        return await self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name, {"spec": spec}, _content_type=MERGE_PATCH
        )

    async def delete_job_run(self, namespace: str, name: str) -> None:
        try:
            await self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, JOB_RUNS, name, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    # -------------------------------------------------------- Jobs

    async def _json(self, call: Any) -> Body:
        """Await a call made with _preload_content=False, which returns error responses instead of raising."""
        response = await call
        data = await response.read()
        if not 200 <= response.status < 300:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = data.decode(errors="replace")
            raise error
        return json.loads(data)

    async def list_jobs(self, namespace: str, scheduled_job: str) -> list[Body]:
        result = await self._json(
            self.batch.list_namespaced_job(
                namespace,
                label_selector=f"{LABEL_SCHEDULED_JOB}={label_value(scheduled_job)}",
                _preload_content=False,
            )
        )
        return result.get("items", [])

    async def get_job(self, namespace: str, name: str) -> Body | None:
        try:
            return await self._json(self.batch.read_namespaced_job(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def create_job(self, namespace: str, body: Body, *, dry_run: bool = False) -> tuple[Body, bool]:
        try:
            extra = {"dry_run": "All"} if dry_run else {}
            created = await self._json(self.batch.create_namespaced_job(namespace, body, _preload_content=False, **extra))
            return created, True
        except ApiException as error:
            if error.status != 409 or dry_run:
                raise
        existing = await self.get_job(namespace, body["metadata"]["name"])
        if existing is None:
            # Deleted between the conflict and the read: report the conflict as a retryable error.
            raise ApiException(status=409, reason=f"Job {body['metadata']['name']} exists and vanished; retry")
        return existing, False

    async def delete_job(self, namespace: str, name: str) -> None:
        try:
            await self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    # -------------------------------------------------------- Pods

    async def get_pod(self, namespace: str, name: str) -> Body | None:
        try:
            return await self._json(self.core.read_namespaced_pod(name, namespace, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def list_pods(self, namespace: str, label_selector: str) -> list[Body]:
        result = await self._json(
            self.core.list_namespaced_pod(namespace, label_selector=label_selector, _preload_content=False)
        )
        return result.get("items", [])

    # -------------------------------------------------------- Events

    def post_event(self, involved: Body, type_: str, reason: str, message: str) -> None:
        """Post a core/v1 Event about an object in a background task, which logs a failure instead of raising it."""
        task = asyncio.get_running_loop().create_task(self._post_event(involved, type_, reason, message))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _post_event(self, involved: Body, type_: str, reason: str, message: str) -> None:
        metadata = involved["metadata"]
        now = format_time(datetime.now(UTC))
        event = {
            "metadata": {"generateName": f"{metadata['name']}.", "namespace": metadata["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", f"{GROUP}/{VERSION}"),
                "kind": involved.get("kind"),
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata.get("uid"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.core.create_namespaced_event(metadata["namespace"], event)
        except (ApiException, OSError, asyncio.TimeoutError) as error:
            logger.warning(
                "[%s/%s] posting Event %s failed: %s", metadata["namespace"], metadata["name"], reason, error
            )
