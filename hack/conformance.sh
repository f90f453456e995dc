#!/usr/bin/env bash
# Compare Punctual's schedule engine with robfig/cron v3 on generated cases.
#
#   hack/conformance.sh                 # 100,000 cases
#   CASES=5000 hack/conformance.sh      # fewer cases
#
# The harness builds the Go program in tests/conformance/robfig into
# ${PUNCTUAL_CACHE:-$HOME/.cache/punctual}/bin when it is missing or older than its
# sources. It prints "cases N mismatches N explained N unexplained N" and exits 1 when
# any mismatch is unexplained. CONFORMANCE_TIMEOUT (seconds, default 3600) bounds the
# run; 100,000 cases took 580 seconds on 2 shared cores (docs/schedule-semantics.md).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-${repo_root}/.venv/bin/python}"
if [[ ! -x "${python}" ]]; then
  python="$(command -v python3)"
fi

cd "${repo_root}"
exec timeout "${CONFORMANCE_TIMEOUT:-3600}" "${python}" tests/conformance/harness.py \
  --cases "${CASES:-100000}" "$@"
