"""The plugin's API calls (synchronous ``kubernetes`` client), with objects as plain dicts.

Every method turns an ApiException into a PluginError that names the request,
so commands only handle the cases they treat specially (404 on a lookup,
409 on a create).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from punctual.models import GROUP, VERSION
from punctual.naming import LABEL_SCHEDULED_JOB, label_value
from punctual.plugin.errors import NotFoundError, PluginError, is_missing_object, translate

SCHEDULED_JOBS = "scheduledjobs"
JOB_RUNS = "jobruns"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_NAMESPACE = "default"
# Seconds to wait for the API server on each request (connect, read); log streams wait forever.
REQUEST_TIMEOUT = (10, 60)

Body = dict[str, Any]


@dataclass(frozen=True)
class Connection:
    """The kubeconfig file (None: $KUBECONFIG or ~/.kube/config) and context that requests use."""

    kubeconfig: str | None = None
    context: str | None = None


def _load(connection: Connection) -> tuple[client.ApiClient, str]:
    """Return an ApiClient and the context's default namespace, or in-cluster config when there is no kubeconfig."""
    try:
        api = config.new_client_from_config(config_file=connection.kubeconfig, context=connection.context)
    except (ConfigException, OSError) as error:
        if connection.kubeconfig is None and connection.context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
            return client.ApiClient(), _in_cluster_namespace()
        raise PluginError(
            f"cannot load the kubeconfig ({connection.kubeconfig or os.environ.get('KUBECONFIG') or '~/.kube/config'}"
            f"{', context ' + connection.context if connection.context else ''}): {error}; "
            "pass --kubeconfig FILE or --context NAME"
        ) from None
    return api, _context_namespace(connection)


def _context_namespace(connection: Connection) -> str:
    try:
        contexts, active = config.list_kube_config_contexts(config_file=connection.kubeconfig)
    except (ConfigException, OSError):
        return DEFAULT_NAMESPACE
    chosen = next((c for c in contexts if c.get("name") == connection.context), None) if connection.context else active
    return ((chosen or {}).get("context") or {}).get("namespace") or DEFAULT_NAMESPACE


def _in_cluster_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding="utf-8") as handle:
            return handle.read().strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE


class Kube:
    """The requests of the plugin, in one namespace (``namespace``) unless a method takes one."""

    def __init__(self, connection: Connection, namespace: str | None) -> None:
        self.api, default_namespace = _load(connection)
        self.namespace = namespace or default_namespace
        self.custom = client.CustomObjectsApi(self.api)
        self.server = self.api.configuration.host

    # CoreV1Api and BatchV1Api are built on first use: importing their modules takes
    # seconds with kubernetes 37, and most commands only read punctual.dev objects.
    @cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    def close(self) -> None:
        self.api.close()

    def _call(self, action: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
        except ApiException as error:
            raise translate(error, action) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(action, error) from None

    def _unreachable(self, action: str, error: Exception) -> PluginError:
        return PluginError(
            f"cannot {action}: the API server at {self.server} is unreachable ({error}); "
            "check --kubeconfig and --context"
        )

    def _json(self, action: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        response = self._call(action, function, *args, _preload_content=False, **kwargs)
        return json.loads(response.data)

    # ------------------------------------------------------------ ScheduledJobs and JobRuns

    def get_scheduled_job(self, name: str, namespace: str | None = None) -> Body:
        namespace = namespace or self.namespace
        return self._get_custom(SCHEDULED_JOBS, "ScheduledJob", name, namespace, "kubectl get scheduledjobs")

    def get_job_run(self, name: str, namespace: str | None = None) -> Body:
        namespace = namespace or self.namespace
        return self._get_custom(JOB_RUNS, "JobRun", name, namespace, "kubectl punctual runs")

    def find_custom(self, plural: str, name: str, namespace: str | None = None) -> Body | None:
        """Return the object, or None when it does not exist (other errors raise)."""
        namespace = namespace or self.namespace
        try:
            return self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, _request_timeout=REQUEST_TIMEOUT
            )
        except ApiException as error:
            if is_missing_object(error):
                return None
            raise translate(error, f"get {plural} {name} in namespace {namespace}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(f"get {plural} {name}", error) from None

    def _get_custom(self, plural: str, kind: str, name: str, namespace: str, list_hint: str) -> Body:
        found = self.find_custom(plural, name, namespace)
        if found is None:
            raise NotFoundError(
                f"{kind} {name!r} not found in namespace {namespace!r}; "
                f"list them with `{list_hint} -n {namespace}`, or pick the namespace with -n"
            )
        return found

    def list_scheduled_jobs(self, namespace: str | None, *, all_namespaces: bool = False) -> list[Body]:
        return self._list_custom(SCHEDULED_JOBS, namespace, all_namespaces, None)

    def list_job_runs(
        self, namespace: str | None, *, all_namespaces: bool = False, scheduled_job: str | None = None
    ) -> list[Body]:
        selector = f"{LABEL_SCHEDULED_JOB}={label_value(scheduled_job)}" if scheduled_job else None
        runs = self._list_custom(JOB_RUNS, namespace, all_namespaces, selector)
        if scheduled_job:
            # The label contains a hash-shortened name for long names, so match the spec too.
            runs = [run for run in runs if (run.get("spec") or {}).get("scheduledJobName") == scheduled_job]
        return runs

    def _list_custom(self, plural: str, namespace: str | None, all_namespaces: bool, selector: str | None) -> list[Body]:
        extra = {"label_selector": selector} if selector else {}
        if all_namespaces:
            result = self._call(
                f"list {plural} in all namespaces", self.custom.list_cluster_custom_object, GROUP, VERSION, plural, **extra
            )
        else:
            namespace = namespace or self.namespace
            result = self._call(
                f"list {plural} in namespace {namespace}",
                self.custom.list_namespaced_custom_object, GROUP, VERSION, namespace, plural, **extra,
            )
        return list(result.get("items") or [])

    def create_job_run(self, body: Body) -> tuple[Body, bool]:
        """Create a JobRun; AlreadyExists returns the existing object and False."""
        namespace = body["metadata"]["namespace"]
        name = body["metadata"]["name"]
        try:
            created = self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, JOB_RUNS, body, _request_timeout=REQUEST_TIMEOUT
            )
            return created, True
        except ApiException as error:
            if error.status != 409:
                raise translate(error, f"create JobRun {name} in namespace {namespace}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise self._unreachable(f"create JobRun {name}", error) from None
        return self.get_job_run(name, namespace), False

    def patch_scheduled_job(self, name: str, patch: Body) -> Body:
        return self._call(
            f"patch ScheduledJob {name} in namespace {self.namespace}",
            self.custom.patch_namespaced_custom_object,
            GROUP, VERSION, self.namespace, SCHEDULED_JOBS, name, patch, _content_type=MERGE_PATCH,
        )

    # ------------------------------------------------------------ Jobs, pods, logs and Events

    def get_job(self, name: str, namespace: str) -> Body | None:
        try:
            return self._json(f"get Job {name}", self.batch.read_namespaced_job, name, namespace)
        except NotFoundError:
            return None

    def get_pod(self, namespace: str, name: str) -> Body | None:
        try:
            return self._json(f"get pod {name}", self.core.read_namespaced_pod, name, namespace)
        except NotFoundError:
            return None

    def list_pods(self, namespace: str, selector: str) -> list[Body]:
        result = self._json(
            f"list pods in namespace {namespace}", self.core.list_namespaced_pod, namespace, label_selector=selector
        )
        return list(result.get("items") or [])

    def read_log(self, namespace: str, pod: str, container: str) -> str:
        return self._call(
            f"read the log of pod {pod} container {container}",
            self.core.read_namespaced_pod_log, pod, namespace, container=container,
        )

    def stream_log(self, namespace: str, pod: str, container: str) -> Iterator[bytes]:
        """Yield the log of a container as it is written (follow), until the container ends."""
        try:
            # No _request_timeout: a followed log is silent for as long as the container is.
            response = self.core.read_namespaced_pod_log(
                pod, namespace, container=container, follow=True, _preload_content=False
            )
        except ApiException as error:
            raise translate(error, f"stream the log of pod {pod} container {container}") from None
        try:
            yield from response.stream(4096, decode_content=True)
        finally:
            response.release_conn()

    def list_events(self, namespace: str, kind: str, name: str | None = None) -> list[Body]:
        """Return the core/v1 Events about objects of one kind (and name) in a namespace."""
        selector = f"involvedObject.kind={kind}" + (f",involvedObject.name={name}" if name else "")
        result = self._json(
            f"list Events in namespace {namespace}", self.core.list_namespaced_event, namespace, field_selector=selector
        )
        return list(result.get("items") or [])

    def proxy_service_get(self, namespace: str, target: str, path: str) -> str:
        """GET a path of a Service through the API server's service proxy; target is [https:]name[:port]."""
        return self._call(
            f"get {path} from Service {namespace}/{target} through the API server proxy",
            self.core.connect_get_namespaced_service_proxy_with_path, target, namespace, path.lstrip("/"),
        )
