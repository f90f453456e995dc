"""Fixtures for the operator's end-to-end tests: CRDs, the operator as a real subprocess, API helpers.

Each test gets its own namespace and its own operator process watching only
that namespace, so tests cannot see each other's runs. The operator's log goes
to the cluster's log folder and is attached to the report of a failed test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import GROUP, REPO_ROOT, VERSION, Api, Operator, eventually  # noqa: E402

CRD_FILES = [REPO_ROOT / "crds" / "scheduledjobs.punctual.dev.yaml", REPO_ROOT / "crds" / "jobruns.punctual.dev.yaml"]
OPERATOR_LOG_TAIL_LINES = 150


@pytest.fixture(scope="session")
def crds(api_client: client.ApiClient) -> None:
    """Install (or update) Punctual's CRDs once per session and wait until they are served."""
    extensions = client.ApiextensionsV1Api(api_client)
    for path in CRD_FILES:
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            existing = extensions.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = existing.metadata.resource_version
            extensions.replace_custom_resource_definition(name, body)
        except ApiException as error:
            if error.status != 404:
                raise
            extensions.create_custom_resource_definition(body)

    def established() -> bool:
        for path in CRD_FILES:
            crd = extensions.read_custom_resource_definition(yaml.safe_load(path.read_text())["metadata"]["name"])
            conditions = {c.type: c.status for c in (crd.status.conditions or [])}
            if conditions.get("Established") != "True":
                return False
        return True

    eventually(established, timeout=60, what="CRDs Established")
    # The API server serves a new CRD's resources a moment after Established.
    custom = client.CustomObjectsApi(api_client)
    eventually(
        lambda: _lists(custom, "scheduledjobs") and _lists(custom, "jobruns"), timeout=30, what="CRDs served"
    )


def _lists(custom: client.CustomObjectsApi, plural: str) -> bool:
    try:
        custom.list_cluster_custom_object(GROUP, VERSION, plural, limit=1)
        return True
    except ApiException:
        return False


@pytest.fixture
def operator(cluster: Any, crds: None, namespace: str, request: pytest.FixtureRequest) -> Iterator[Operator]:
    log_dir = Path(cluster.log_dir) if cluster.log_dir else Path(REPO_ROOT / ".punctual" / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"operator-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = Operator(cluster.kubeconfig, namespace, log_path)
    request.node.punctual_operator = running
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the operator's log tail to the report of a failed test."""
    report = yield
    running: Operator | None = getattr(item, "punctual_operator", None)
    if report.failed and running is not None:
        lines = running.log_text().splitlines()[-OPERATOR_LOG_TAIL_LINES:]
        report.sections.append((f"operator log {running.log_path} (last {len(lines)} lines)", "\n".join(lines)))
    return report


@pytest.fixture
def api(api_client: client.ApiClient, namespace: str) -> Api:
    return Api(api_client, namespace)
