# Versions of the local control plane and where its binaries live.
# Sourced by the build and cluster scripts; the Python side reads the same
# values through `bash hack/versions.sh --print`.
PUNCTUAL_CACHE="${PUNCTUAL_CACHE:-${HOME}/.cache/punctual}"
KUBERNETES_VERSION=v1.37.2
KUBERNETES_MAJOR=1
KUBERNETES_MINOR=37
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
HELM_VERSION=v4.3.2

PUNCTUAL_BIN_DIRS="${PUNCTUAL_CACHE}/bin/kubernetes-${KUBERNETES_VERSION}:${PUNCTUAL_CACHE}/bin/etcd-${ETCD_VERSION}:${PUNCTUAL_CACHE}/bin/kwok-${KWOK_VERSION}:${PUNCTUAL_CACHE}/bin/helm-${HELM_VERSION}"

if [[ "${1:-}" == "--print" ]]; then
  printf 'PUNCTUAL_CACHE=%s\nPUNCTUAL_BIN_DIRS=%s\nKWOK_VERSION=%s\n' "${PUNCTUAL_CACHE}" "${PUNCTUAL_BIN_DIRS}" "${KWOK_VERSION}"
fi
