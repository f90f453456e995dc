#!/usr/bin/env bash
# The main job: a cluster, Punctual's CRDs, the operator and the sample
# ScheduledJobs, then every JobRun change as it happens.
#
# With KUBECONFIG unset it starts the local cluster (building it first if
# needed); with KUBECONFIG set it uses that cluster. DEMO_SECONDS=60 stops the
# demo after 60 s; without it, the demo runs until Ctrl-C. The operator logs to
# .punctual/logs/operator-demo.log.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
# shellcheck source=hack/versions.sh
source hack/versions.sh
python=".venv/bin/python"
demo_namespace="${DEMO_NAMESPACE:-punctual-demo}"

log() { printf '[demo] %s\n' "$*"; }

if [[ -z "${KUBECONFIG:-}" ]]; then
  log "KUBECONFIG is not set: starting the local cluster"
  bash hack/cluster-build.sh
  "${python}" hack/localcluster.py up
  export KUBECONFIG="${PUNCTUAL_STATE_DIR:-${repo_root}/.punctual}/kubeconfig"
else
  log "using the cluster of KUBECONFIG=${KUBECONFIG}"
fi

# Prefer the kubectl built for the local cluster; fall back to the one on PATH.
kubectl_bin="${PUNCTUAL_CACHE}/bin/kubernetes-${KUBERNETES_VERSION}/kubectl"
[[ -x "${kubectl_bin}" ]] || kubectl_bin="$(command -v kubectl)"
kubectl() { "${kubectl_bin}" "$@"; }

log "installing the CRDs"
kubectl apply --server-side --force-conflicts -k crds/
kubectl wait --for condition=Established --timeout=60s crd/scheduledjobs.punctual.dev crd/jobruns.punctual.dev

mkdir -p .punctual/logs
operator_log=".punctual/logs/operator-demo.log"
log "starting the operator (log: ${operator_log})"
"${python}" -m punctual >"${operator_log}" 2>&1 &
operator_pid=$!

cleanup() {
  log "stopping the operator"
  kill "${operator_pid}" 2>/dev/null || true
  wait "${operator_pid}" 2>/dev/null || true
}
trap cleanup EXIT

kubectl create namespace "${demo_namespace}" --dry-run=client -o yaml | kubectl apply -f -
log "applying the samples in config/samples/ to namespace ${demo_namespace}"
kubectl apply -n "${demo_namespace}" -k config/samples/
kubectl get scheduledjobs -n "${demo_namespace}"

log "JobRuns as they change (Ctrl-C stops the demo):"
# demo_watch stops by itself after DEMO_SECONDS when that is set.
"${python}" -m punctual.demo_watch --namespace "${demo_namespace}" || true
if [[ -n "${DEMO_SECONDS:-}" ]]; then
  echo
  kubectl get scheduledjobs,jobruns -n "${demo_namespace}"
fi
