"""Serves Milvus Lite over gRPC on host:port, for the Milvus tests (test infrastructure only).

    python serve.py --host 127.0.0.1 --port 19530 --data-dir .cache/milvus-lite [--parent-pid N]

Keeps its data in DATA_DIR/lookalike.db (Milvus Lite 3.x stores a directory there and holds a
lock on it while it runs). Prints one line `MILVUS_LITE_READY host:port` once it accepts
connections, and exits cleanly (flushing the engine and releasing the lock) on SIGTERM or SIGINT.
With --parent-pid it also exits when that process is gone, so a test run that dies does not leave
a server behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

READY = "MILVUS_LITE_READY"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19530)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args()

    # Imported here so that --help works without the venv.
    from milvus_lite import __version__
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    os.makedirs(args.data_dir, exist_ok=True)
    db_path = os.path.join(os.path.abspath(args.data_dir), "lookalike.db")
    try:
        server, db, port = start_server_in_thread(data_dir=db_path, host=args.host, port=args.port)
    except Exception as e:  # port taken, data dir locked by another server, ...
        print(f"milvus-lite could not start on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    if port == 0:  # grpc returns 0 when it could not bind
        print(f"milvus-lite could not bind {args.host}:{args.port}", file=sys.stderr)
        db.close()
        return 1

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print(f"{READY} {args.host}:{port} (milvus-lite {__version__}, data {db_path})", flush=True)

    while not stop.wait(0.5):
        if args.parent_pid and not _alive(args.parent_pid):
            break
    server.stop(grace=2).wait()
    db.close()
    try:
        print("milvus-lite stopped", flush=True)
    except OSError:  # the parent that read our output is gone
        pass
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
