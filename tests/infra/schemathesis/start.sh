#!/usr/bin/env bash
# Schemathesis for the OpenAPI conformance test (test infrastructure only).
#
#   tests/infra/schemathesis/start.sh      create/update the venv; prints the path of its `st`
#
# Environment: SCHEMATHESIS_VENV (.cache/schemathesis-venv), PYTHON (python3, 3.10+).
# Then: npx vitest run tests/http/openapi-conformance.test.ts (it finds the venv's `st` itself).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv=${SCHEMATHESIS_VENV:-$root/.cache/schemathesis-venv}
python=${PYTHON:-python3}

log() { printf 'schemathesis: %s\n' "$*" >&2; }

mkdir -p "$(dirname "$venv")"
# One installer at a time (parallel test workers, or CI next to a test run).
exec 9>"$venv.lock"
flock 9

# shellcheck source=../venv.sh
source "$here/../venv.sh"
ensure_venv tests/infra/schemathesis/requirements.txt
echo "$venv/bin/st"
