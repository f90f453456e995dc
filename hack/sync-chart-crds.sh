#!/usr/bin/env bash
# Copy the generated CRDs from crds/ into the Helm chart's crds/ folder.
#
# Helm installs a chart's crds/ folder before its templates and never renders
# it, so the chart carries plain copies. Run this after `make crds`.
# tests/unit/test_packaging.py fails while the copies differ.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_dir="${repo_root}/crds"
chart_dir="${repo_root}/charts/punctual/crds"

shopt -s nullglob
crd_files=("${source_dir}"/*.punctual.dev.yaml)
if (( ${#crd_files[@]} == 0 )); then
  echo "error: no CRD files (*.punctual.dev.yaml) in ${source_dir}; run 'make crds' first" >&2
  exit 1
fi

mkdir -p "${chart_dir}"
# Remove copies of CRDs that crds/ no longer has.
for copy in "${chart_dir}"/*.yaml; do
  [[ -e "${source_dir}/$(basename "${copy}")" ]] || rm -v -- "${copy}"
done
for crd in "${crd_files[@]}"; do
  cp -- "${crd}" "${chart_dir}/"
  echo "copied $(basename "${crd}") to ${chart_dir#"${repo_root}/"}/"
done
