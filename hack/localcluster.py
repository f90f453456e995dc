"""Start and stop a real Kubernetes control plane as local processes on 127.0.0.1.

The cluster is etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
KWOK, which plays the kubelet for a few fake Nodes, so the Pods of Jobs really
go Pending, Running, Succeeded or Failed. It exists because this project's
tests and demo must run against a real API server, and kind needs a Docker
engine and an image registry.

Usage: ``python hack/localcluster.py up|down|status|env``.

Everything lives under ``.punctual/`` in the repository (gitignored): the PKI,
etcd's data, the admin kubeconfig, one log per component under ``logs/`` and
``state.json`` with the PID of each process. ``up`` is idempotent: when every
recorded process is alive and the API server is ready, it keeps that cluster.
``down`` stops the recorded processes by PID (SIGTERM, then SIGKILL) and
removes the data, keeping the logs.

The binaries come from ``hack/cluster-build.sh``; ``hack/versions.sh`` names
their versions and cache folder.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("PUNCTUAL_STATE_DIR", REPO_ROOT / ".punctual"))
NODE_NAMES = ("kwok-node-0", "kwok-node-1")
SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.244.0.0/16"
POD_LOG_TEXT = "punctual test pod: hello from KWOK\nline 2 of the test log\n"
# Pods in this namespace log big_log_text() instead: 1 MiB, for tests of log truncation and archiving.
BIG_LOG_NAMESPACE = "punctual-biglog"
BIG_LOG_LINES = 8192
BIG_LOG_LINE_BYTES = 128
CONTROLLERS = ",".join(
    [
        "job-controller",
        "deployment-controller",
        "replicaset-controller",
        "cronjob-controller",
        "garbage-collector-controller",
        "ttl-after-finished-controller",
        "serviceaccount-token-controller",
        "serviceaccount-controller",
        "namespace-controller",
        "node-lifecycle-controller",
        "root-ca-certificate-publisher-controller",
        "pod-garbage-collector-controller",
    ]
)
# Order of start; stop goes in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def log(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


class ClusterError(RuntimeError):
    """The local cluster could not be built, started or reached."""


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state(self) -> Path:
        return self.root / "state.json"


def build_settings() -> dict[str, str]:
    """Return the cache folder, binary folders and versions that hack/versions.sh defines."""
    output = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "versions.sh"), "--print"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def binary_dirs() -> list[Path]:
    return [Path(p) for p in build_settings()["PUNCTUAL_BIN_DIRS"].split(":")]


def kwok_node_stages() -> str:
    """Return KWOK's own Node stages (initialize, heartbeat with lease) from the module cache.

    KWOK drops all built-in stages once its config lists any Stage, so the
    project's Pod stages need these Node stages beside them. The build step
    downloads the KWOK module, which contains them.
    """
    settings = build_settings()
    module = Path(settings["PUNCTUAL_CACHE"]) / "gomod" / f"sigs.k8s.io/kwok@{settings['KWOK_VERSION']}"
    files = [
        module / "kustomize/stage/node/fast/node-initialize.yaml",
        module / "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    ]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ClusterError(f"KWOK's Node stages are missing ({', '.join(missing)}): run `make cluster-build` to download the KWOK module.")
    return "\n---\n".join(f.read_text() for f in files)


def find_binary(name: str) -> Path:
    for folder in binary_dirs():
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ClusterError(f"{name} is not built yet: run `make cluster-build` first (it builds into the cache named in hack/versions.sh).")


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Return count distinct free ports on 127.0.0.1.

    All sockets stay bound until every port is picked: the kernel may hand a
    just-closed port out again, and two components on one port would pass each
    other's health checks.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- PKI -------------------------------------------------------------------------


def make_pki(pki: Path) -> None:
    """Write a CA, the API server's serving cert, an admin client cert and the service-account key pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    valid_until = now + datetime.timedelta(days=365)

    def new_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def write_cert(path: Path, cert: x509.Certificate) -> None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = new_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "punctual-local-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(valid_until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_key(pki / "ca.key", ca_key)
    write_cert(pki / "ca.crt", ca_cert)

    def issue(common_name: str, organizations: list[str], *, server: bool) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = new_key()
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(valid_until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.DNSName("kubernetes"),
                        x509.DNSName("kubernetes.default.svc"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                    ]
                ),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    serving_key, serving_cert = issue("kube-apiserver", [], server=True)
    write_key(pki / "apiserver.key", serving_key)
    write_cert(pki / "apiserver.crt", serving_cert)

    admin_key, admin_cert = issue("admin", ["system:masters"], server=False)
    write_key(pki / "admin.key", admin_key)
    write_cert(pki / "admin.crt", admin_cert)

    sa_key = new_key()
    write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def write_kubeconfig(paths: Paths, api_port: int) -> None:
    import base64

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "punctual-local",
                "cluster": {
                    "server": f"https://127.0.0.1:{api_port}",
                    "certificate-authority-data": b64(paths.pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": "punctual-admin",
                "user": {
                    "client-certificate-data": b64(paths.pki / "admin.crt"),
                    "client-key-data": b64(paths.pki / "admin.key"),
                },
            }
        ],
        "contexts": [{"name": "punctual-local", "context": {"cluster": "punctual-local", "user": "punctual-admin"}}],
        "current-context": "punctual-local",
    }
    # JSON is valid YAML, and kubectl and the Python client both read it.
    paths.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
    paths.kubeconfig.chmod(0o600)


# --- HTTP readiness ------------------------------------------------------------


def http_get(url: str, *, paths: Paths | None = None, timeout: float = 3.0) -> tuple[int, str]:
    """GET url; for https, trust our CA and present the admin cert when paths is given."""
    context: ssl.SSLContext | None = None
    if url.startswith("https://"):
        if paths is not None:
            context = ssl.create_default_context(cafile=str(paths.pki / "ca.crt"))
            context.load_cert_chain(str(paths.pki / "admin.crt"), str(paths.pki / "admin.key"))
        else:
            # The controller manager and scheduler serve /healthz with a self-signed cert.
            context = ssl._create_unverified_context()  # noqa: S323 - loopback health check only
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_until(description: str, check: Any, *, timeout: float, process: subprocess.Popen[bytes] | None = None, log_file: Path | None = None) -> Any:
    """Poll check() until it returns a truthy value; fail with the component log tail on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ClusterError(f"{description}: the process exited with code {process.returncode}.{log_tail(log_file)}")
        try:
            result = check()
            if result:
                return result
        except (OSError, urllib.error.URLError, subprocess.CalledProcessError, ValueError, KeyError) as error:
            last_error = error
        time.sleep(0.2)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {description} (last error: {last_error}).{log_tail(log_file)}")


def log_tail(log_file: Path | None, lines: int = 30) -> str:
    if log_file is None or not log_file.exists():
        return ""
    tail = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"\nLast lines of {log_file}:\n" + "\n".join(tail)


# --- processes -----------------------------------------------------------------


def start_process(name: str, argv: list[str], paths: Paths, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_file = paths.logs / f"{name}.log"
    handle = log_file.open("ab")
    # A new session keeps the component alive after this script exits and away
    # from the terminal's Ctrl-C, so only `down` stops it.
    process = subprocess.Popen(
        argv,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=paths.root,
    )
    handle.close()
    log(f"started {name} (pid {process.pid}), log {log_file}")
    return process


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill(0) succeeds on a zombie too, so read its state: a zombie counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def read_state(paths: Paths) -> dict[str, Any]:
    try:
        return dict(json.loads(paths.state.read_text()))
    except (OSError, ValueError):
        return {}


def write_state(paths: Paths, state: dict[str, Any]) -> None:
    paths.state.write_text(json.dumps(state, indent=2) + "\n")


def stop_pid(name: str, pid: int, *, timeout: float = 10.0) -> None:
    if not pid_alive(pid):
        return
    log(f"stopping {name} (pid {pid})")
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        log(f"{name} (pid {pid}) ignored SIGTERM for {timeout:.0f} s; sending SIGKILL")
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def is_running(paths: Paths) -> bool:
    """Return True when every recorded component is alive and the API server is ready."""
    state = read_state(paths)
    pids = state.get("pids", {})
    if set(pids) != set(COMPONENTS) or not all(pid_alive(int(pid)) for pid in pids.values()):
        return False
    try:
        status, _ = http_get(f"https://127.0.0.1:{state['ports']['apiserver']}/readyz", paths=paths)
    except (OSError, urllib.error.URLError):
        return False
    return status == 200 and paths.kubeconfig.exists()


def kubectl(paths: Paths, *args: str, input_text: str | None = None) -> str:
    result = subprocess.run(
        [str(find_binary("kubectl")), f"--kubeconfig={paths.kubeconfig}", *args],
        input=input_text,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
    return result.stdout


def big_log_text() -> str:
    """Return the log of pods in BIG_LOG_NAMESPACE: BIG_LOG_LINES numbered lines of BIG_LOG_LINE_BYTES bytes."""
    lines = []
    for number in range(1, BIG_LOG_LINES + 1):
        head = f"big log line {number:06d} "
        lines.append(head + "x" * (BIG_LOG_LINE_BYTES - len(head) - 1) + "\n")
    return "".join(lines)


def cri_log(text: str) -> str:
    """Return text in the CRI log format KWOK reads: "<RFC 3339 time> <stream> <F|P> <text>" per line."""
    return "".join(f"2026-01-01T00:00:00.000000000Z stdout F {line}\n" for line in text.splitlines())


def kwok_config(paths: Paths) -> Path:
    """Write KWOK's config: the project's Pod stages and the ClusterLogs rules of every Pod's log."""
    pod_log = paths.root / "pod.log"
    pod_log.write_text(cri_log(POD_LOG_TEXT))
    big_log = paths.root / "big-pod.log"
    big_log.write_text(cri_log(big_log_text()))
    stages = (REPO_ROOT / "hack" / "kwok" / "stages.yaml").read_text()
    # KWOK uses the first ClusterLogs rule that matches a Pod, in the order of this file.
    cluster_logs = f"""
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: punctual-big-log
spec:
  selector:
    matchNamespaces: [{json.dumps(BIG_LOG_NAMESPACE)}]
  logs:
  - logsFile: {json.dumps(str(big_log))}
    follow: false
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: punctual-all-pods
spec:
  selector: {{}}
  logs:
  - logsFile: {json.dumps(str(pod_log))}
    follow: false
"""
    config = paths.root / "kwok.yaml"
    config.write_text(stages + "\n---\n" + kwok_node_stages() + cluster_logs)
    return config


def node_manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
    }


def nodes_ready(paths: Paths) -> bool:
    nodes = json.loads(kubectl(paths, "get", "nodes", "-o", "json"))["items"]
    ready = 0
    for node in nodes:
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        taints = node.get("spec", {}).get("taints") or []
        if conditions.get("Ready") == "True" and not taints:
            ready += 1
    return ready == len(NODE_NAMES)


def up(paths: Paths) -> None:
    if is_running(paths):
        log("cluster already running; keeping it")
        print_env(paths)
        return
    if read_state(paths):
        log("found a stopped or partial cluster; cleaning it up first")
        down(paths, quiet=True)

    binaries = {name: find_binary(name) for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok")}
    started = time.monotonic()
    for folder in (paths.root, paths.logs, paths.data):
        folder.mkdir(parents=True, exist_ok=True)
    port_names = ("etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok")
    ports = dict(zip(port_names, free_ports(len(port_names)), strict=True))
    state: dict[str, Any] = {"ports": ports, "pids": {}}
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def launch(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = start_process(name, argv, paths, env=env)
        processes[name] = process
        state["pids"][name] = process.pid
        write_state(paths, state)
        return process

    try:
        make_pki(paths.pki)

        # etcd
        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        etcd = launch(
            "etcd",
            [
                str(binaries["etcd"]),
                f"--data-dir={paths.data / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
                f"--initial-cluster=default=http://127.0.0.1:{ports['etcd_peer']}",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
            ],
        )
        wait_until("etcd /health", lambda: http_get(f"{etcd_url}/health")[0] == 200, timeout=30, process=etcd, log_file=paths.logs / "etcd.log")

        # kube-apiserver
        api_url = f"https://127.0.0.1:{ports['apiserver']}"
        apiserver = launch(
            "kube-apiserver",
            [
                str(binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['apiserver']}",
                f"--tls-cert-file={paths.pki / 'apiserver.crt'}",
                f"--tls-private-key-file={paths.pki / 'apiserver.key'}",
                f"--cert-dir={paths.pki}",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--service-account-issuer={api_url}",
                f"--service-account-key-file={paths.pki / 'sa.pub'}",
                f"--service-account-signing-key-file={paths.pki / 'sa.key'}",
                "--authorization-mode=RBAC",
                f"--client-ca-file={paths.pki / 'ca.crt'}",
                "--allow-privileged=true",
                "--kubelet-preferred-address-types=InternalIP",
                "--profiling=false",
                "--v=1",
            ],
        )
        wait_until(
            "kube-apiserver /readyz",
            lambda: http_get(f"{api_url}/readyz", paths=paths)[0] == 200,
            timeout=90,
            process=apiserver,
            log_file=paths.logs / "kube-apiserver.log",
        )
        write_kubeconfig(paths, ports["apiserver"])

        # controllers and scheduler
        controller_manager = launch(
            "kube-controller-manager",
            [
                str(binaries["kube-controller-manager"]),
                f"--kubeconfig={paths.kubeconfig}",
                "--leader-elect=false",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={paths.pki / 'sa.key'}",
                f"--root-ca-file={paths.pki / 'ca.crt'}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['controller_manager']}",
                f"--cluster-cidr={POD_CIDR}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # A Node turns NotReady 40 s after its last heartbeat.
                "--node-monitor-grace-period=40s",
                "--v=1",
            ],
        )
        scheduler = launch(
            "kube-scheduler",
            [
                str(binaries["kube-scheduler"]),
                f"--kubeconfig={paths.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports['scheduler']}",
                "--v=1",
            ],
        )
        wait_until(
            "kube-controller-manager /healthz",
            lambda: http_get(f"https://127.0.0.1:{ports['controller_manager']}/healthz")[0] == 200,
            timeout=60,
            process=controller_manager,
            log_file=paths.logs / "kube-controller-manager.log",
        )
        wait_until(
            "kube-scheduler /healthz",
            lambda: http_get(f"https://127.0.0.1:{ports['scheduler']}/healthz")[0] == 200,
            timeout=60,
            process=scheduler,
            log_file=paths.logs / "kube-scheduler.log",
        )

        # KWOK, then the fake Nodes it manages
        kwok_home = paths.root / "kwok-home"
        kwok_home.mkdir(exist_ok=True)
        kwok = launch(
            "kwok",
            [
                str(binaries["kwok"]),
                f"--kubeconfig={paths.kubeconfig}",
                f"--config={kwok_config(paths)}",
                "--manage-all-nodes=true",
                "--node-ip=127.0.0.1",
                f"--node-port={ports['kwok']}",
                f"--server-address=127.0.0.1:{ports['kwok']}",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
            ],
            env={"HOME": str(kwok_home)},
        )
        for name in NODE_NAMES:
            kubectl(paths, "apply", "-f", "-", input_text=json.dumps(node_manifest(name)))
        wait_until("the fake Nodes to be Ready and untainted", lambda: nodes_ready(paths), timeout=90, process=kwok, log_file=paths.logs / "kwok.log")
        wait_until(
            "the default ServiceAccount",
            lambda: kubectl(paths, "get", "serviceaccount", "default", "-n", "default", "-o", "name").strip(),
            timeout=60,
            process=controller_manager,
            log_file=paths.logs / "kube-controller-manager.log",
        )
        exited = {name: process.returncode for name, process in processes.items() if process.poll() is not None}
        if exited:
            logs = "".join(log_tail(paths.logs / f"{name}.log", 10) for name in exited)
            raise ClusterError(f"components exited during start-up (name: exit code): {exited}.{logs}")
    except BaseException:
        log("start failed; stopping what was started")
        down(paths, quiet=True)
        raise

    log(f"cluster ready in {time.monotonic() - started:.1f} s")
    print_env(paths)


def down(paths: Paths, *, quiet: bool = False) -> None:
    state = read_state(paths)
    pids = state.get("pids", {})
    for name in reversed(COMPONENTS):
        if name in pids:
            stop_pid(name, int(pids[name]))
    import shutil

    for leftover in (paths.data, paths.pki, paths.root / "kwok-home"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in (paths.state, paths.kubeconfig, paths.root / "kwok.yaml", paths.root / "pod.log", paths.root / "big-pod.log"):
        leftover.unlink(missing_ok=True)
    if not quiet:
        log(f"cluster stopped; logs kept under {paths.logs}")


def print_env(paths: Paths) -> None:
    print(f"export KUBECONFIG={paths.kubeconfig}")


def status(paths: Paths) -> int:
    if is_running(paths):
        state = read_state(paths)
        log(f"running: API server https://127.0.0.1:{state['ports']['apiserver']}, pids {state['pids']}")
        return 0
    log("not running")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "status", "env"], help="up starts (or keeps) the cluster, down stops it and removes its data")
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="folder for the kubeconfig, PKI, data and logs (default: .punctual/)")
    args = parser.parse_args(argv)
    paths = Paths(args.state_dir.resolve())
    try:
        if args.command == "up":
            up(paths)
        elif args.command == "down":
            down(paths)
        elif args.command == "status":
            return status(paths)
        else:
            print_env(paths)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
