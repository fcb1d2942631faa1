"""Shared set-up for the history and drift CLI tests: a host that really refuses
connections, and another process holding an inventory's history lock."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_HOLDER = textwrap.dedent("""
    import sys
    from fleetaudit.history import open_store
    with open_store(sys.argv[1]) as store, store.lock(sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def refused_inventory(tmp_path) -> Path:
    """One host on 127.0.0.1 at a port nothing listens on: a real 'connection refused'."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inv = tmp_path / "inv.ini"
    inv.write_text(f"[web]\nweb-1 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n")
    return inv


@contextlib.contextmanager
def lock_held(key: str):
    """Another process holds the history lock of `key` (in $FLEETAUDIT_HISTORY) until the
    block ends; yields that process."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, os.environ["FLEETAUDIT_HISTORY"], key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
