#!/usr/bin/env bash
# Build the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, KWOK, helm) from their Go modules into a cache
# folder outside the repository, one versioned folder per tool.
#
# Each tool has its own wrapper module under hack/tools/<tool>/ so that minimal
# version selection never mixes the dependency graphs of two tools. A tool is
# rebuilt only when the stamp in its output folder no longer matches the hash of
# its wrapper go.mod, go.sum, build flags and Go version.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/versions.sh
source "${repo_root}/hack/versions.sh"

export GOTOOLCHAIN=local
export GOMODCACHE="${PUNCTUAL_CACHE}/gomod"
export GOCACHE="${PUNCTUAL_CACHE}/gobuild"
export GOFLAGS="-modcacherw -buildvcs=false"
export CGO_ENABLED=0

log() { printf '[cluster-build] %s\n' "$*"; }

build_date="2026-01-01T00:00:00Z"

kube_ldflags() {
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${KUBERNETES_VERSION}"
    flags+=" -X ${pkg}.gitMajor=${KUBERNETES_MAJOR}"
    flags+=" -X ${pkg}.gitMinor=${KUBERNETES_MINOR}"
    flags+=" -X ${pkg}.gitTreeState=clean"
    flags+=" -X ${pkg}.buildDate=${build_date}"
  done
  printf '%s' "${flags}"
}

# build_tool NAME VERSION LDFLAGS PACKAGE...
build_tool() {
  local name="$1" version="$2" ldflags="$3"
  shift 3
  local module_dir="${repo_root}/hack/tools/${name}"
  local out_dir="${PUNCTUAL_CACHE}/bin/${name}-${version}"
  local stamp
  stamp="$(cat "${module_dir}/go.mod" "${module_dir}/go.sum" \
    <(printf '%s\n%s\n%s\n' "${ldflags}" "$*" "$(go version)") | sha256sum | cut -d' ' -f1)"

  if [[ -f "${out_dir}/.stamp" && "$(cat "${out_dir}/.stamp")" == "${stamp}" ]]; then
    log "${name} ${version}: up to date in ${out_dir}"
    return 0
  fi

  local started=${SECONDS}
  log "${name} ${version}: downloading modules"
  if ! (cd "${module_dir}" && go mod download 2>"${PUNCTUAL_CACHE}/download-${name}.err"); then
    cat "${PUNCTUAL_CACHE}/download-${name}.err" >&2
    log "ERROR: downloading the modules of ${name} ${version} failed (wrapper module hack/tools/${name})." >&2
    log "Check that the Go module proxy serves every module named above (go env GOPROXY)." >&2
    return 1
  fi
  log "${name} ${version}: downloaded in $((SECONDS - started)) s, compiling $*"

  rm -rf "${out_dir}"
  mkdir -p "${out_dir}"
  local compile_started=${SECONDS}
  (cd "${module_dir}" && go build -trimpath -ldflags "${ldflags}" -o "${out_dir}/" "$@")
  printf '%s\n' "${stamp}" >"${out_dir}/.stamp"
  log "${name} ${version}: compiled in $((SECONDS - compile_started)) s (total $((SECONDS - started)) s)"
}

main() {
  mkdir -p "${PUNCTUAL_CACHE}/bin"
  local free_kib
  free_kib="$(df -Pk "${PUNCTUAL_CACHE}" | awk 'NR==2 {print $4}')"
  if ((free_kib < 8 * 1024 * 1024)); then
    log "WARNING: only $((free_kib / 1024)) MiB free under ${PUNCTUAL_CACHE}; a cold build needs about 8 GiB."
  fi

  local started=${SECONDS}
  build_tool etcd "${ETCD_VERSION}" "-s -w" go.etcd.io/etcd/server/v3
  # go build names the etcd server after its package folder, "server".
  if [[ -f "${PUNCTUAL_CACHE}/bin/etcd-${ETCD_VERSION}/server" ]]; then
    mv "${PUNCTUAL_CACHE}/bin/etcd-${ETCD_VERSION}/server" "${PUNCTUAL_CACHE}/bin/etcd-${ETCD_VERSION}/etcd"
  fi
  build_tool kwok "${KWOK_VERSION}" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" \
    sigs.k8s.io/kwok/cmd/kwok
  build_tool helm "${HELM_VERSION}" \
    "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v4/internal/version.metadata= -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
    helm.sh/helm/v4/cmd/helm
  build_tool kubernetes "${KUBERNETES_VERSION}" "$(kube_ldflags)" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  log "all tools ready in $((SECONDS - started)) s; binaries under ${PUNCTUAL_CACHE}/bin"
}

main "$@"
