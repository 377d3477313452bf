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

want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
stamp="$venv/.requirements.sha256"
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  if ! "$python" -m venv "$venv" >&2; then
    log "could not create a venv with '$python' (Python 3.10+ with venv needed; set PYTHON)"
    exit 1
  fi
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  log "installing tests/infra/schemathesis/requirements.txt into $venv"
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" >&2; then
    log "could not install tests/infra/schemathesis/requirements.txt (is PyPI reachable?)"
    exit 1
  fi
  echo "$want" >"$stamp"
fi
echo "$venv/bin/st"
