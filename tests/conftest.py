"""Session fixtures for the tests that need a Kubernetes cluster.

By default the ``cluster`` fixture starts the local control plane of
``hack/localcluster.py`` (real etcd, kube-apiserver, controllers, scheduler and
KWOK as processes on 127.0.0.1) and stops it at the end of the session when it
started it. ``--kubeconfig`` or ``PUNCTUAL_KUBECONFIG`` uses an existing cluster
instead, and ``--cluster=kind`` uses pytest-kind on machines with Docker.

Tests that need no cluster never request these fixtures, so they never start it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "hack"))

import localcluster  # noqa: E402

# Which components' logs a failing cluster test prints, and how much of each.
LOG_TAIL_LINES = 40


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("punctual")
    group.addoption(
        "--kubeconfig",
        default=os.environ.get("PUNCTUAL_KUBECONFIG"),
        help="use the cluster of this kubeconfig instead of starting the local one (env: PUNCTUAL_KUBECONFIG)",
    )
    group.addoption(
        "--cluster",
        choices=["local", "kind"],
        default=os.environ.get("PUNCTUAL_CLUSTER", "local"),
        help="local: processes on 127.0.0.1 (default); kind: pytest-kind, needs Docker and a registry",
    )
    group.addoption(
        "--keep-cluster",
        action="store_true",
        default=os.environ.get("PUNCTUAL_KEEP_CLUSTER") == "1",
        help="leave a cluster this session started running at the end (env: PUNCTUAL_KEEP_CLUSTER=1)",
    )


@dataclass(frozen=True)
class Cluster:
    """A cluster the tests can reach."""

    kubeconfig: str
    log_dir: Path | None
    """Folder of the component logs; None for a cluster this project did not start."""

    local: bool


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    kubeconfig = request.config.getoption("--kubeconfig")
    if kubeconfig:
        yield Cluster(kubeconfig=str(Path(kubeconfig).resolve()), log_dir=None, local=False)
        return

    if request.config.getoption("--cluster") == "kind":
        if importlib.util.find_spec("pytest_kind") is None:
            pytest.fail("--cluster=kind needs pytest-kind: pip install -e '.[kind]' (and a Docker engine)")
        from pytest_kind import KindCluster

        kind = KindCluster("punctual-tests")
        kind.create()
        try:
            yield Cluster(kubeconfig=str(kind.kubeconfig_path), log_dir=None, local=False)
        finally:
            if not request.config.getoption("--keep-cluster"):
                kind.delete()
        return

    paths = localcluster.Paths(localcluster.STATE_DIR)
    already_running = localcluster.is_running(paths)
    try:
        localcluster.up(paths)
    except localcluster.ClusterError as error:
        pytest.fail(f"the local cluster did not start: {error}")
    try:
        yield Cluster(kubeconfig=str(paths.kubeconfig), log_dir=paths.logs, local=True)
    finally:
        if not already_running and not request.config.getoption("--keep-cluster"):
            localcluster.down(paths)


@pytest.fixture(scope="session")
def api_client(cluster: Cluster) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def namespace(api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """Create a fresh namespace for one test and delete it afterwards."""
    core = client.CoreV1Api(api_client)
    test_name = request.node.name.lower().replace("_", "-")
    name = f"t-{test_name[:40].strip('-')}-{uuid.uuid4().hex[:6]}"
    name = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"punctual.dev/test": "true"})))
    # ServiceAccount admission rejects Pods until the controller has made the default account.
    localcluster.wait_until(
        f"ServiceAccount default in {name}",
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        timeout=30,
    )
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the tail of each component log to the report of a failed cluster test."""
    report = yield
    if report.failed and call.when == "call" and "cluster" in getattr(item, "fixturenames", ()):
        log_dir = localcluster.STATE_DIR / "logs"
        for log_file in sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []:
            lines = log_file.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"component log {log_file.name} (last {LOG_TAIL_LINES} lines)", "\n".join(lines)))
    return report
