#!/usr/bin/env bash
# A Milvus server for the Milvus tests (test infrastructure only: the app talks to any Milvus).
# Two kinds, chosen by MILVUS_SERVER:
#   standalone  the real Milvus standalone server (Go/C++, embedded etcd, local storage) from
#               PyPI's `milvus` package; what .ci/run runs the contract and store-mix tests on.
#               It binds further fixed ports (etcd 2380 among them): one at a time.
#   lite        (default) Milvus Lite 3.x, a Python re-implementation with faiss: starts in about
#               a second and several run at once, so the restart tests start private ones.
#
#   tests/infra/milvus/start.sh          start it on 127.0.0.1:${MILVUS_PORT:-19530} in the
#                                        background, unless something already answers there;
#                                        waits until it is ready and prints the address
#   tests/infra/milvus/start.sh venv     only create/update the venv; prints its python
#   tests/infra/milvus/start.sh stop     stops the server this script started
#
# Environment: MILVUS_SERVER (lite), MILVUS_HOST (127.0.0.1), MILVUS_PORT (19530),
# MILVUS_DATA_DIR (.cache/milvus-<kind>), MILVUS_VENV (.venv-milvus, .venv-milvus-standalone),
# PYTHON (python3, 3.10+), MILVUS_PARENT_PID (the server exits when that process does),
# MILVUS_START_TIMEOUT (seconds to wait for readiness, 180).
# Then: LOOKALIKE_TEST_MILVUS_ADDRESS=127.0.0.1:19530 npx vitest run tests/stores/milvus-index.test.ts
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
kind=${MILVUS_SERVER:-lite}
case "$kind" in
  lite)
    requirements=tests/infra/milvus/requirements.txt
    venv=${MILVUS_VENV:-$root/.venv-milvus}
    serve=(serve.py --host "${MILVUS_HOST:-127.0.0.1}")
    ready=MILVUS_LITE_READY
    ;;
  standalone)
    requirements=tests/infra/milvus/requirements-standalone.txt
    venv=${MILVUS_VENV:-$root/.venv-milvus-standalone}
    serve=(serve_standalone.py)
    ready=MILVUS_STANDALONE_READY
    ;;
  *)
    echo "MILVUS_SERVER must be lite or standalone, not '$kind'" >&2
    exit 2
    ;;
esac
host=${MILVUS_HOST:-127.0.0.1}
port=${MILVUS_PORT:-19530}
data=${MILVUS_DATA_DIR:-$root/.cache/milvus-$kind}
python=${PYTHON:-python3}
wait_s=${MILVUS_START_TIMEOUT:-180}
pidfile="$data/server-$port.pid"
logfile="$data/server-$port.log"

log() { printf 'milvus-%s: %s\n' "$kind" "$*" >&2; }

# shellcheck source=../venv.sh
source "$here/../venv.sh"

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

case "${1:-start}" in
  venv)
    ensure_venv "$requirements"
    echo "$venv/bin/python"
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        log "stopped (pid $pid)"
      fi
      rm -f "$pidfile"
    else
      log "no server started by this script on port $port"
    fi
    ;;
  start)
    mkdir -p "$data"
    # One starter at a time (parallel test workers).
    exec 9>"$data/start-$port.lock"
    flock 9
    if answers; then
      log "something already answers on $host:$port; not starting another"
      echo "$host:$port"
      exit 0
    fi
    ensure_venv "$requirements"
    parent=()
    if [ -n "${MILVUS_PARENT_PID:-}" ]; then parent=(--parent-pid "$MILVUS_PARENT_PID"); fi
    : >"$logfile"
    # setsid: the server outlives this script (and its process group) until stopped.
    setsid "$venv/bin/python" "$here/${serve[0]}" "${serve[@]:1}" --port "$port" \
      --data-dir "$data" "${parent[@]}" >>"$logfile" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pidfile"
    for _ in $(seq 1 $((wait_s * 10))); do
      if grep -q "^$ready" "$logfile"; then
        log "ready on $host:$port (pid $pid, data $data, log $logfile)"
        echo "$host:$port"
        exit 0
      fi
      if ! kill -0 "$pid" 2>/dev/null; then
        log "the server exited before it was ready:"
        tail -n 20 "$logfile" >&2
        rm -f "$pidfile"
        exit 1
      fi
      sleep 0.1
    done
    log "not ready after ${wait_s}s; log:"
    tail -n 20 "$logfile" >&2
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    exit 1
    ;;
  *)
    echo "usage: $0 [start|venv|stop]" >&2
    exit 2
    ;;
esac
