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
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import REPO_ROOT, Api, Operator, install_crds  # noqa: E402
from webhooks import free_port  # noqa: E402

OPERATOR_LOG_TAIL_LINES = 150


@pytest.fixture(scope="session")
def crds(api_client: client.ApiClient) -> None:
    """Install (or update) Punctual's CRDs once per session and wait until they are served."""
    install_crds(api_client)


def _running_operator(
    cluster: Any, namespace: str, request: pytest.FixtureRequest, extra_args: tuple[str, ...] = ()
) -> Iterator[Operator]:
    log_dir = Path(cluster.log_dir) if cluster.log_dir else Path(REPO_ROOT / ".punctual" / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"operator-{request.node.name}.log"
    log_path.unlink(missing_ok=True)
    running = Operator(cluster.kubeconfig, namespace, log_path, extra_args)
    request.node.punctual_operator = running
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def operator(cluster: Any, crds: None, namespace: str, request: pytest.FixtureRequest) -> Iterator[Operator]:
    yield from _running_operator(cluster, namespace, request)


@pytest.fixture
def operator_with_metrics(
    cluster: Any, crds: None, namespace: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Operator, int]]:
    """The operator with its metrics endpoint on a free port of 127.0.0.1, and that port."""
    port = free_port()
    extra_args = ("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    for running in _running_operator(cluster, namespace, request, extra_args):
        yield running, port


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
