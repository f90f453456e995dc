"""The Helm chart and the kustomize config install a working, least-privilege operator.

Rendering tests need only the helm and kubectl binaries of `make cluster-build`.
The others use the local cluster: server-side dry runs of both outputs, a real
`helm install` and `helm uninstall`, and `kubectl auth can-i` as the chart's
ServiceAccount. Last, the operator runs locally with that ServiceAccount's
token, which proves that the RBAC rules are enough for real runs.

CRDs are cluster-scoped and shared by the whole test session: the tests apply
them idempotently and never delete them.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from support import Api, Operator, eventually, job_template

import localcluster

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "punctual"
KUSTOMIZE_DEFAULT = REPO_ROOT / "config" / "default"
COMMAND_TIMEOUT = 120


# --------------------------------------------------------------------------- helpers


def run(command: list[str | Path], *, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command and return its result. With check, a non-zero exit fails the test and shows the output."""
    result = subprocess.run(
        [str(part) for part in command], input=input_text, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(str(part) for part in command)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = [obj for obj in objects if obj["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def release_name(namespace: str) -> str:
    """Return a release name unique to the test, since the ClusterRole it creates is cluster-wide."""
    return f"punctual-{namespace[-6:]}"


@pytest.fixture(scope="session")
def helm() -> Path:
    return localcluster.find_binary("helm")


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return localcluster.find_binary("kubectl")


def render_chart(helm: Path, *values: str, namespace: str = "punctual-system", release: str = "punctual") -> list[dict[str, Any]]:
    """Render the chart with `helm template` and `--set` values."""
    command: list[str | Path] = [helm, "template", release, CHART, "--namespace", namespace]
    for value in values:
        command += ["--set", value]
    return documents(run(command).stdout)


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    "values",
    [
        [],
        [
            "watchNamespaces={team-a,team-b}",
            "webhook.enabled=true",
            "metrics.enabled=true",
            "metrics.serviceMonitor.enabled=true",
            "logLevel=debug",
        ],
        ["serviceAccount.create=false", "serviceAccount.name=existing", "rbac.create=false"],
    ],
    ids=["defaults", "everything-on", "bring-your-own-account"],
)
def test_helm_lint_passes(helm: Path, values: list[str]) -> None:
    command: list[str | Path] = [helm, "lint", "--strict", CHART]
    for value in values:
        command += ["--set", value]
    run(command)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("logLevel=warning", "/logLevel"),
        ("replicaCount=2", "replicaCount"),
        ("watchNamespaces={team-*}", "/watchNamespaces/0"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
    ],
)
def test_helm_rejects_invalid_values(helm: Path, value: str, message: str) -> None:
    result = run([helm, "template", "punctual", CHART, "--set", value], check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_helm_template_cluster_wide(helm: Path) -> None:
    objects = render_chart(helm)
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "ServiceAccount"]

    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = container_of(deployment)
    assert container["args"] == ["--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz", "--metrics-port=9090"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}
    assert {"name": "liveness", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    metrics_service = named(objects, "Service", "punctual-metrics")
    assert metrics_service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container["image"] == f"punctual-operator:{app_version}"

    pod_spec = deployment["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == only(objects, "ServiceAccount")["metadata"]["name"]
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}

    binding = only(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == only(objects, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "punctual", "namespace": "punctual-system"}]


def rule_resources(rules: list[dict[str, Any]]) -> set[str]:
    return {f"{group or 'core'}/{resource}" for rule in rules for group in rule["apiGroups"] for resource in rule["resources"]}


def test_helm_template_namespaced(helm: Path) -> None:
    objects = render_chart(helm, "watchNamespaces={team-a,team-b}")
    roles = [obj for obj in objects if obj["kind"] == "Role"]
    bindings = [obj for obj in objects if obj["kind"] == "RoleBinding"]
    assert sorted(role["metadata"]["namespace"] for role in roles) == ["team-a", "team-b"]
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == ["team-a", "team-b"]
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "punctual", "namespace": "punctual-system"}]

    # The ClusterRole keeps only the cluster-scoped reads, so nothing outside
    # the two namespaces is writable.
    cluster_role = only(objects, "ClusterRole")
    assert rule_resources(cluster_role["rules"]) == {"core/namespaces", "apiextensions.k8s.io/customresourcedefinitions"}
    assert "punctual.dev/jobruns" in rule_resources(roles[0]["rules"])

    args = container_of(only(objects, "Deployment"))["args"]
    assert "--namespace=team-a" in args
    assert "--namespace=team-b" in args
    assert "--all-namespaces" not in args


def test_helm_template_webhook(helm: Path) -> None:
    objects = render_chart(helm, "webhook.enabled=true", "webhook.port=9555")
    service = named(objects, "Service", "punctual-webhook")
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 9555, "targetPort": "webhook", "protocol": "TCP"}]

    args = container_of(only(objects, "Deployment"))["args"]
    for expected in ("--webhook", "--webhook-host=punctual-webhook.punctual-system.svc", "--webhook-port=9555", "--webhook-listen=0.0.0.0"):
        assert expected in args

    webhook_rules = [
        rule for rule in only(objects, "ClusterRole")["rules"] if rule["apiGroups"] == ["admissionregistration.k8s.io"]
    ]
    assert webhook_rules == [
        {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"], "verbs": ["create"]},
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "resourceNames": ["punctual.dev"],
            "verbs": ["get", "update", "patch"],
        },
    ]


def test_helm_template_log_archive(helm: Path) -> None:
    objects = render_chart(helm, "logs.archive.enabled=true", "logs.archive.port=8099", "logs.archive.maxBytes=67108864")
    claim = only(objects, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "punctual-logs"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    service = named(objects, "Service", "punctual-logs")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8099, "targetPort": "logs", "protocol": "TCP"}]

    deployment = only(objects, "Deployment")
    container = container_of(deployment)
    for expected in (
        "--log-archive-dir=/var/lib/punctual/logs",
        "--log-archive-url=http://punctual-logs.punctual-system.svc:8099",
        "--log-server-port=8099",
        # Not 6.7108864e+07: values.yaml numbers are floats to Helm.
        "--log-archive-max-bytes=67108864",
    ):
        assert expected in container["args"]
    assert {"name": "logs", "containerPort": 8099, "protocol": "TCP"} in container["ports"]
    assert {"name": "log-archive", "mountPath": "/var/lib/punctual/logs"} in container["volumeMounts"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "log-archive", "persistentVolumeClaim": {"claimName": "punctual-logs"}} in volumes
    # The non-root user writes to the volume through its group.
    assert deployment["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 65532


def test_helm_template_existing_claim(helm: Path) -> None:
    objects = render_chart(helm, "logs.archive.enabled=true", "logs.archive.persistence.existingClaim=run-logs")
    assert [obj for obj in objects if obj["kind"] == "PersistentVolumeClaim"] == []
    volumes = only(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "log-archive", "persistentVolumeClaim": {"claimName": "run-logs"}} in volumes


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        (
            ["logs.tailBytes=65536", "logs.snapshotSeconds=0", "logs.captureWorkers=2"],
            ["--log-tail-bytes=65536", "--log-snapshot-seconds=0", "--log-capture-workers=2"],
        ),
    ],
    ids=["operator-defaults", "set"],
)
def test_helm_template_log_capture(helm: Path, values: list[str], expected: list[str]) -> None:
    args = container_of(only(render_chart(helm, *values), "Deployment"))["args"]
    # Unset values pass no option, so the operator's own defaults apply. But
    # snapshotSeconds=0 (snapshots off) is a value and must be passed.
    assert [arg for arg in args if arg.startswith("--log-")] == expected


def test_helm_template_metrics(helm: Path) -> None:
    objects = render_chart(helm, "metrics.serviceMonitor.enabled=true", "webhook.enabled=true")
    service = named(objects, "Service", "punctual-metrics")
    monitor = only(objects, "ServiceMonitor")
    # The ServiceMonitor's selector must match the metrics Service, and only
    # it, and name its port.
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        obj["metadata"]["name"]
        for obj in objects
        if obj["kind"] == "Service" and selector.items() <= obj["metadata"]["labels"].items()
    ]
    assert selected == ["punctual-metrics"]
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


def test_helm_template_metrics_disabled(helm: Path) -> None:
    objects = render_chart(helm, "metrics.enabled=false", "metrics.serviceMonitor.enabled=true")
    assert [obj["kind"] for obj in objects if obj["kind"] in ("Service", "ServiceMonitor")] == []
    assert not any(arg.startswith("--metrics") for arg in container_of(only(objects, "Deployment"))["args"])


def render_kustomize(kubectl: Path, folder: Path) -> list[dict[str, Any]]:
    return documents(run([kubectl, "kustomize", folder]).stdout)


def test_kustomize_renders(kubectl: Path) -> None:
    objects = render_kustomize(kubectl, KUSTOMIZE_DEFAULT)
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "Deployment",
        "Namespace",
        "Service",
        "ServiceAccount",
    ]
    for obj in objects:
        if obj["kind"] in ("Deployment", "ServiceAccount"):
            assert obj["metadata"]["namespace"] == "punctual-system"
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == only(objects, "ServiceAccount")["metadata"]["name"]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container_of(deployment)["image"] == f"punctual-operator:{app_version}"


def test_kustomize_rbac_matches_chart(helm: Path, kubectl: Path) -> None:
    chart_rules = only(render_chart(helm), "ClusterRole")["rules"]
    kustomize_rules = only(render_kustomize(kubectl, KUSTOMIZE_DEFAULT), "ClusterRole")["rules"]
    assert kustomize_rules == chart_rules


def test_kustomize_deployment_matches_chart(helm: Path, kubectl: Path) -> None:
    chart = only(render_chart(helm), "Deployment")
    kustomize = only(render_kustomize(kubectl, KUSTOMIZE_DEFAULT), "Deployment")
    for key in ("replicas", "strategy"):
        assert kustomize["spec"][key] == chart["spec"][key]
    chart_pod, kustomize_pod = chart["spec"]["template"]["spec"], kustomize["spec"]["template"]["spec"]
    assert kustomize_pod["securityContext"] == chart_pod["securityContext"]
    assert kustomize_pod["volumes"] == chart_pod["volumes"]
    chart_container, kustomize_container = container_of(chart), container_of(kustomize)
    for key in ("args", "env", "ports", "livenessProbe", "resources", "securityContext", "volumeMounts"):
        assert kustomize_container[key] == chart_container[key], f"container {key} differs"


# --------------------------------------------------------------------------- cluster


def server_dry_run(kubectl: Path, kubeconfig: str, manifest: str) -> str:
    result = run([kubectl, f"--kubeconfig={kubeconfig}", "apply", "--dry-run=server", "-f", "-"], input_text=manifest)
    return result.stdout


def test_kustomize_server_dry_run(cluster: Any, kubectl: Path, crds: None, namespace: str, tmp_path: Path) -> None:
    # An overlay puts the namespaced objects into the test's namespace: a dry
    # run of the Namespace punctual-system does not create it, so objects in it
    # would fail with NotFound.
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        # kustomize rejects absolute paths to bases.
        "resources": [os.path.relpath(KUSTOMIZE_DEFAULT, tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    manifest = run([kubectl, "kustomize", tmp_path]).stdout
    output = server_dry_run(kubectl, cluster.kubeconfig, manifest)
    for line in (
        f"deployment.apps/punctual-operator created (server dry run)",
        "clusterrole.rbac.authorization.k8s.io/punctual-operator created (server dry run)",
        "serviceaccount/punctual-operator created (server dry run)",
    ):
        assert line in output


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["webhook.enabled=true", "metrics.enabled=true", "logLevel=debug", "rbac.readSecrets=true"],
        ["logs.archive.enabled=true", "logs.tailBytes=4096"],
        ["watchNamespaces={NAMESPACE}"],
    ],
    ids=["defaults", "webhook-and-metrics", "log-archive", "namespaced"],
)
def test_helm_output_server_dry_run(
    cluster: Any, helm: Path, kubectl: Path, crds: None, namespace: str, values: list[str]
) -> None:
    values = [value.replace("NAMESPACE", namespace) for value in values]
    command: list[str | Path] = [helm, "template", release_name(namespace), CHART, "--namespace", namespace, "--include-crds"]
    for value in values:
        command += ["--set", value]
    manifest = run(command).stdout
    output = server_dry_run(kubectl, cluster.kubeconfig, manifest)
    assert f"deployment.apps/{release_name(namespace)} created (server dry run)" in output
    assert "customresourcedefinition.apiextensions.k8s.io/scheduledjobs.punctual.dev" in output


@pytest.fixture
def install_chart(cluster: Any, helm: Path, crds: None, namespace: str) -> Iterator[Callable[..., str]]:
    """Return a function that installs the chart into the test namespace; the fixture uninstalls it."""
    installed: list[str] = []

    def install(*values: str) -> str:
        release = release_name(namespace)
        # No --wait: the local cluster runs no Deployment controller, so the
        # Deployment never gets a pod (test_pod_template_passes_restricted_admission
        # checks the pod template instead).
        command: list[str | Path] = [
            helm, "install", release, CHART, f"--kubeconfig={cluster.kubeconfig}", "--namespace", namespace,
        ]
        for value in values:
            command += ["--set", value]
        run(command)
        installed.append(release)
        return release

    yield install
    for release in installed:
        run([helm, "uninstall", release, f"--kubeconfig={cluster.kubeconfig}", "--namespace", namespace, "--wait"], check=False)


def exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def test_helm_install_and_uninstall(cluster: Any, helm: Path, api_client: client.ApiClient, install_chart: Callable[..., str], namespace: str) -> None:
    release = install_chart()
    apps, core, rbac = client.AppsV1Api(api_client), client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)

    deployment = apps.read_namespaced_deployment(release, namespace)
    assert deployment.spec.template.spec.service_account_name == release
    account = core.read_namespaced_service_account(release, namespace)
    assert account.metadata.labels["app.kubernetes.io/instance"] == release
    assert exists(lambda: rbac.read_cluster_role(release))
    binding = rbac.read_cluster_role_binding(release)
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", release, namespace)]

    run([helm, "uninstall", release, f"--kubeconfig={cluster.kubeconfig}", "--namespace", namespace, "--wait"])
    assert not exists(lambda: apps.read_namespaced_deployment(release, namespace))
    assert not exists(lambda: core.read_namespaced_service_account(release, namespace))
    assert not exists(lambda: rbac.read_cluster_role(release))
    assert not exists(lambda: rbac.read_cluster_role_binding(release))
    # Helm never deletes the CRDs of a chart's crds/ folder.
    extensions = client.ApiextensionsV1Api(api_client)
    assert exists(lambda: extensions.read_custom_resource_definition("scheduledjobs.punctual.dev"))


def test_pod_template_passes_restricted_admission(
    cluster: Any, helm: Path, kubectl: Path, api_client: client.ApiClient, namespace: str
) -> None:
    # Pod Security admission enforces a namespace's level on Pods only, so a
    # dry-run Pod made from the Deployment's template shows whether the
    # operator's pod may run in a namespace that enforces "restricted".
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    for source, objects in (
        ("chart", render_chart(helm, namespace=namespace)),
        ("kustomize", render_kustomize(kubectl, KUSTOMIZE_DEFAULT)),
    ):
        template = only(objects, "Deployment")["spec"]["template"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"operator-{source}", **template["metadata"]}, "spec": template["spec"]}
        pod["spec"]["serviceAccountName"] = "default"
        try:
            core.create_namespaced_pod(namespace, pod, dry_run="All")
        except client.ApiException as error:
            pytest.fail(f"the {source} pod template is rejected in a restricted namespace: {error.body}")


def test_pod_security_check_rejects_root_pod(api_client: client.ApiClient, namespace: str) -> None:
    # The same dry run rejects a pod without the restricted settings, so the
    # test above would notice if the chart lost them.
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_pod(namespace, pod, dry_run="All")
    assert raised.value.status == 403
    assert "restricted" in raised.value.body


# What the operator needs in the namespaces it serves: (verb, resource[, subresource]).
NAMESPACED_ALLOWED = [
    *[(verb, "scheduledjobs.punctual.dev") for verb in ("get", "list", "watch", "update", "patch")],
    *[(verb, "jobruns.punctual.dev") for verb in ("get", "list", "watch", "create", "update", "patch", "delete")],
    *[(verb, f"{plural}.punctual.dev", "status") for plural in ("scheduledjobs", "jobruns") for verb in ("get", "update", "patch")],
    *[(verb, "jobs.batch") for verb in ("get", "list", "watch", "create", "delete", "patch")],
    *[(verb, "pods") for verb in ("get", "list", "watch")],
    ("get", "pods", "log"),
    *[(verb, resource) for resource in ("events", "events.events.k8s.io") for verb in ("create", "patch")],
]
# What it must not do in those namespaces.
NAMESPACED_DENIED = [
    ("create", "scheduledjobs.punctual.dev"),
    ("delete", "scheduledjobs.punctual.dev"),
    ("get", "secrets"),
    ("list", "secrets"),
    ("get", "configmaps"),
    ("create", "pods"),
    ("delete", "pods"),
    ("create", "pods", "exec"),
    ("create", "cronjobs.batch"),
    ("create", "deployments.apps"),
    ("create", "serviceaccounts", "token"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
]
CLUSTER_ALLOWED = [
    ("list", "namespaces"),
    ("watch", "namespaces"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
]
CLUSTER_DENIED = [
    ("get", "namespaces"),
    ("delete", "namespaces"),
    ("create", "namespaces"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("update", "customresourcedefinitions.apiextensions.k8s.io"),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "nodes"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("escalate", "clusterroles.rbac.authorization.k8s.io"),
    ("impersonate", "serviceaccounts"),
    ("create", "validatingwebhookconfigurations.admissionregistration.k8s.io"),
    ("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io"),
]


def can_i(kubectl: Path, kubeconfig: str, account: str, check: tuple[str, ...], namespace: str | None) -> bool:
    """Ask `kubectl auth can-i` whether the ServiceAccount may do check = (verb, resource[, subresource])."""
    verb, resource, *subresource = check
    command: list[str | Path] = [kubectl, f"--kubeconfig={kubeconfig}", "auth", "can-i", verb, resource, f"--as={account}"]
    if subresource:
        command.append(f"--subresource={subresource[0]}")
    command += ["--namespace", namespace] if namespace else ["--all-namespaces"]
    result = run(command, check=False)
    # can-i exits with 0 for yes and 1 for no. Any other code is an error.
    assert result.returncode in (0, 1), f"{' '.join(map(str, command))} failed: {result.stderr}"
    return result.returncode == 0


def assert_permissions(
    kubectl: Path, kubeconfig: str, account: str, expected: list[tuple[tuple[str, ...], str | None, bool]]
) -> None:
    """Check every (check, namespace, allowed) and report all mismatches at once."""
    wrong = [
        f"{check[0]} {'/'.join(check[1:])} in {scope or 'all namespaces'}: expected {'allowed' if allowed else 'denied'}"
        for check, scope, allowed in expected
        if can_i(kubectl, kubeconfig, account, check, scope) != allowed
    ]
    assert not wrong, f"{account} has wrong permissions:\n" + "\n".join(wrong)


def test_cluster_wide_permissions(cluster: Any, kubectl: Path, install_chart: Callable[..., str], namespace: str) -> None:
    release = install_chart()
    account = f"system:serviceaccount:{namespace}:{release}"
    expected = [
        *[(check, namespace, True) for check in NAMESPACED_ALLOWED],
        # Cluster-wide: the same rules hold in every namespace and across all.
        *[(check, "default", True) for check in NAMESPACED_ALLOWED],
        *[(check, None, True) for check in NAMESPACED_ALLOWED if check[0] in ("list", "watch")],
        *[(check, namespace, False) for check in NAMESPACED_DENIED],
        *[(check, None, True) for check in CLUSTER_ALLOWED],
        *[(check, None, False) for check in CLUSTER_DENIED],
    ]
    assert_permissions(kubectl, cluster.kubeconfig, account, expected)


def test_namespaced_permissions(cluster: Any, kubectl: Path, install_chart: Callable[..., str], namespace: str) -> None:
    release = install_chart(f"watchNamespaces={{{namespace}}}")
    account = f"system:serviceaccount:{namespace}:{release}"
    expected = [
        *[(check, namespace, True) for check in NAMESPACED_ALLOWED],
        # Nothing in any other namespace, and no cluster-wide list or watch.
        *[(check, "default", False) for check in NAMESPACED_ALLOWED],
        *[(check, None, False) for check in NAMESPACED_ALLOWED if check[0] in ("list", "watch")],
        *[(check, namespace, False) for check in NAMESPACED_DENIED],
        *[(check, None, True) for check in CLUSTER_ALLOWED],
        *[(check, None, False) for check in CLUSTER_DENIED],
    ]
    assert_permissions(kubectl, cluster.kubeconfig, account, expected)


def test_webhook_permissions(cluster: Any, kubectl: Path, install_chart: Callable[..., str], namespace: str) -> None:
    release = install_chart("webhook.enabled=true")
    account = f"system:serviceaccount:{namespace}:{release}"
    webhooks = "validatingwebhookconfigurations.admissionregistration.k8s.io"
    expected: list[tuple[tuple[str, ...], str | None, bool]] = [
        (("create", webhooks), None, True),
        *[((verb, f"{webhooks}/punctual.dev"), None, True) for verb in ("get", "update", "patch")],
        # Only its own configuration: not another webhook's, and not all of them.
        *[((verb, f"{webhooks}/other-webhook"), None, False) for verb in ("get", "update", "patch", "delete")],
        (("delete", f"{webhooks}/punctual.dev"), None, False),
        (("list", webhooks), None, False),
        (("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io"), None, False),
    ]
    assert_permissions(kubectl, cluster.kubeconfig, account, expected)


def test_read_secrets_permission(cluster: Any, kubectl: Path, install_chart: Callable[..., str], namespace: str) -> None:
    release = install_chart("rbac.readSecrets=true")
    account = f"system:serviceaccount:{namespace}:{release}"
    expected: list[tuple[tuple[str, ...], str | None, bool]] = [
        (("get", "secrets"), namespace, True),
        # A Secret named by a notify sink, never a listing of them.
        (("list", "secrets"), namespace, False),
        (("watch", "secrets"), namespace, False),
        (("create", "secrets"), namespace, False),
    ]
    assert_permissions(kubectl, cluster.kubeconfig, account, expected)


# --------------------------------------------------------------------------- the operator as the ServiceAccount


def service_account_kubeconfig(kubectl: Path, admin_kubeconfig: str, namespace: str, account: str, path: Path) -> Path:
    """Write a kubeconfig for the admin kubeconfig's cluster that authenticates with a token of the ServiceAccount."""
    token = run(
        [kubectl, f"--kubeconfig={admin_kubeconfig}", "create", "token", account, "--namespace", namespace, "--duration=1h"]
    ).stdout.strip()
    admin = yaml.safe_load(Path(admin_kubeconfig).read_text())
    cluster_entry = dict(admin["clusters"][0]["cluster"])
    if "certificate-authority" in cluster_entry:
        authority = Path(admin_kubeconfig).parent / cluster_entry.pop("certificate-authority")
        cluster_entry["certificate-authority-data"] = base64.b64encode(authority.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster_entry}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": account, "namespace": namespace}}],
        "current-context": "operator",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def liveness_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.mark.parametrize("mode", ["namespaced", "cluster-wide"])
def test_operator_runs_as_service_account(
    cluster: Any,
    helm: Path,
    kubectl: Path,
    api: Api,
    install_chart: Callable[..., str],
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    mode: str,
) -> None:
    liveness_port = free_port()
    metrics_port = free_port()
    log_port = free_port()
    values = [f"liveness.port={liveness_port}", f"metrics.port={metrics_port}"]
    if mode == "namespaced":
        # This mode also archives run logs, with the chart's --log-* options.
        values += [f"watchNamespaces={{{namespace}}}", "logs.archive.enabled=true", f"logs.archive.port={log_port}"]
    release = install_chart(*values)

    # The operator gets the arguments of the chart's Deployment, with these
    # changes. Its endpoints listen on loopback here, and the archive is a
    # local folder in place of the pod's volume. And it serves only the test's
    # namespace (Operator adds --namespace), even in cluster-wide mode,
    # because other tests share the local cluster and their ScheduledJobs must
    # not run twice. test_cluster_wide_permissions checks that the ClusterRole
    # grants the same verbs in every namespace.
    deployment = only(render_chart(helm, *values, namespace=namespace, release=release), "Deployment")
    archive_dir = tmp_path / "archive"
    args = [
        arg.replace("http://0.0.0.0:", "http://127.0.0.1:").replace("=/var/lib/punctual/logs", f"={archive_dir}")
        for arg in container_of(deployment)["args"]
    ]
    scope = "--all-namespaces" if mode == "cluster-wide" else f"--namespace={namespace}"
    assert args[0] == scope
    operator_args = tuple(args[1:]) + ("--metrics-host=127.0.0.1",)
    if mode == "namespaced":
        assert f"--log-archive-dir={archive_dir}" in operator_args
        operator_args += ("--log-server-host=127.0.0.1",)

    kubeconfig = service_account_kubeconfig(kubectl, cluster.kubeconfig, namespace, release, tmp_path / "kubeconfig")
    log_dir = Path(cluster.log_dir) if cluster.log_dir else tmp_path
    operator = Operator(str(kubeconfig), namespace, log_dir / f"operator-{request.node.name}.log", operator_args)
    operator.log_path.unlink(missing_ok=True)
    # conftest.py attaches this operator's log to the report of a failure.
    request.node.punctual_operator = operator
    operator.start()
    try:
        liveness_url = f"http://127.0.0.1:{liveness_port}/healthz"
        eventually(lambda: liveness_ok(liveness_url), timeout=30, what=f"liveness endpoint {liveness_url}")

        api.create_scheduled_job("rbac-probe", {"schedule": "@every 5s", "jobTemplate": job_template()})
        runs = eventually(lambda: api.job_runs("rbac-probe"), timeout=30, what="a JobRun")
        jobs = eventually(lambda: api.jobs("rbac-probe"), timeout=30, what="a Job")
        assert jobs[0].metadata.labels["punctual.dev/job-run"] == runs[0]["metadata"]["name"]
        eventually(
            lambda: api.scheduled_job("rbac-probe").get("status", {}).get("lastScheduleTime"),
            timeout=30,
            what="status.lastScheduleTime of the ScheduledJob",
        )
        # Succeeded needs the watches on Jobs and Pods and the JobRun status patches.
        first_run = runs[0]["metadata"]["name"]
        eventually(
            lambda: api.job_run(first_run).get("status", {}).get("phase") == "Succeeded",
            timeout=30,
            what=f"JobRun {first_run} to reach phase Succeeded",
        )
        # The captured log tail needs pods/log. KWOK serves the same text for every pod.
        def final_logs() -> dict[str, Any] | None:
            logs = api.job_run(first_run).get("status", {}).get("logs") or {}
            return logs if logs.get("final") else None

        logs = eventually(final_logs, timeout=30, what=f"the final log capture of JobRun {first_run}")
        assert logs.get("tail") == localcluster.POD_LOG_TEXT, f"log capture failed: {logs.get('note')}"
        if mode == "namespaced":
            service_url = f"http://{release}-logs.{namespace}.svc:{log_port}"
            assert logs["archiveRef"] == f"{service_url}/logs/{namespace}/{first_run}?attempt=1"
            local_url = f"http://127.0.0.1:{log_port}/logs/{namespace}/{first_run}"
            with urllib.request.urlopen(local_url, timeout=5) as response:
                assert response.read().decode() == localcluster.POD_LOG_TEXT
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            assert "punctual_runs_started_total" in response.read().decode()
        assert operator.alive, "the operator exited"
    finally:
        operator.stop()

    log = operator.log_text()
    # kubernetes_asyncio's ApiException prints "Reason: Forbidden", and kopf
    # logs "APIForbiddenError" for a denied watch and "Not enough permissions"
    # when it falls back from a denied list.
    for denial in ("Forbidden", "Not enough permissions"):
        assert denial not in log, f"the operator was denied an API call (log: {operator.log_path})"
