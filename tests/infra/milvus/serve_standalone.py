"""Runs the real Milvus standalone server from PyPI's `milvus` package (test infrastructure only).

    python serve_standalone.py --port 19530 --data-dir .cache/milvus-standalone [--parent-pid N]

The package unpacks the server binary into DATA_DIR and starts `milvus run standalone` with an
embedded etcd and local storage. Besides --port (the gRPC proxy) it binds further ports, most
moved to a free one when taken, but etcd's peer port 2380 is fixed: run one at a time. Prints one
line `MILVUS_STANDALONE_READY 127.0.0.1:port` once the server reports healthy; on SIGTERM or SIGINT
it stops the server (SIGTERM, then SIGKILL after 30 s). With --parent-pid it also stops when that
process is gone, so a test run that dies does not leave a server behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

READY = "MILVUS_STANDALONE_READY"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=19530)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    args = parser.parse_args()

    # Imported here so that --help works without the venv.
    from milvus import MilvusServer, __version__

    server = MilvusServer()
    server.set_base_dir(os.path.abspath(args.data_dir))
    server.listen_port = args.port
    try:
        server.start()  # waits until /healthz answers OK
    except Exception as e:  # a port taken, the binary failed to start, ...
        print(f"milvus standalone could not start on port {args.port}: {e}", file=sys.stderr)
        _stop(server)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"{READY} 127.0.0.1:{args.port} (milvus {__version__}, data {args.data_dir})", flush=True)

    while not stop.wait(0.5):
        if server.server_proc.poll() is not None:
            print("milvus standalone exited by itself", file=sys.stderr)
            return 1
        if args.parent_pid and not _alive(args.parent_pid):
            break
    _stop(server)
    return 0


def _stop(server) -> None:
    """The package's own stop() kills after 1 s; give the server time to flush and leave etcd."""
    proc = server.server_proc
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    server.server_proc = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


if __name__ == "__main__":
    sys.exit(main())
