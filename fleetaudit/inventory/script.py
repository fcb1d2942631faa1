"""Executable inventory scripts, run the way Ansible's `script` plugin runs them.

`SCRIPT --list` prints JSON (ansible_list.py); when that JSON has no
`_meta.hostvars`, `SCRIPT --host NAME` is asked for each host. Unlike Ansible we
bound what a script may cost: a timeout (its whole process group is killed), a cap
on its output, and its exit status checked, with the tail of its stderr in the error.
A file that starts with `#!` is a script: run if executable, refused with the fix if
not, never read as INI (a Python script "parsed" as hosts is a confusing error at best).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from typing import Any, List, Tuple

from .errors import InventoryError

DEFAULT_TIMEOUT = 60.0
MAX_OUTPUT = 64 * 1024 * 1024   # a 10,000-host cloud inventory with hostvars is ~20 MB
STDERR_TAIL = 2000               # characters of stderr quoted in an error


def looks_like_script(path: str) -> bool:
    """`#!` (any interpreter) or an ELF binary: what the kernel would execute."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head.startswith(b"#!") or head == b"\x7fELF"


def check_executable(path: str) -> None:
    if not os.access(path, os.X_OK):
        raise InventoryError(
            path, None,
            "looks like an inventory script (it starts with '#!') but is not executable: "
            f"`chmod +x {path}` to run it as Ansible would (`{path} --list`), or save its "
            f"output once with `ansible-inventory -i {path} --list > inventory.json` and pass that")


def _read_capped(stream, limit: int, out: List[bytes], over: List[bool]) -> None:
    size = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        if size < limit:
            out.append(chunk[: limit - size])
        size += len(chunk)
        if size > limit:
            over[0] = True  # keep draining so the script is not blocked on a full pipe


def run_script(path: str, args: Tuple[str, ...], timeout: float = DEFAULT_TIMEOUT,
               max_output: int = MAX_OUTPUT) -> bytes:
    """Run `path *args`; return its stdout or raise InventoryError saying why not."""
    shown = " ".join((path,) + args)
    try:
        proc = subprocess.Popen([os.path.abspath(path), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)  # its own group: a timeout kills its children too
    except OSError as exc:
        raise InventoryError(path, None, f"cannot run inventory script `{shown}`: {exc.strerror or exc}") from None
    out: List[bytes] = []
    err: List[bytes] = []
    out_over, err_over = [False], [False]
    readers = [threading.Thread(target=_read_capped, args=(proc.stdout, max_output, out, out_over), daemon=True),
               threading.Thread(target=_read_capped, args=(proc.stderr, 64 * 1024, err, err_over), daemon=True)]
    for r in readers:
        r.start()
    timed_out = False
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        proc.wait()
    grace = time.monotonic() + 2
    for r in readers:
        r.join(max(0.0, grace - time.monotonic()))
    if any(r.is_alive() for r in readers):  # a child it left behind still holds a pipe open
        _kill_group(proc.pid)
        for r in readers:
            r.join()
    proc.stdout.close()
    proc.stderr.close()
    stderr = b"".join(err).decode("utf-8", "replace").strip()
    tail = f"; its stderr ends:\n{stderr[-STDERR_TAIL:]}" if stderr else " (nothing on stderr)"
    if timed_out:
        raise InventoryError(path, None, f"inventory script `{shown}` did not finish within {timeout:g}s "
                                         f"and was killed{tail}")
    if out_over[0]:
        raise InventoryError(path, None, f"inventory script `{shown}` printed more than "
                                         f"{max_output // (1024 * 1024)} MiB; refusing to read it")
    if proc.returncode != 0:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exited with status {proc.returncode}")
        raise InventoryError(path, None, f"inventory script `{shown}` {how}{tail}")
    return b"".join(out)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass  # already gone


def parse_json(output: bytes, path: str, args: Tuple[str, ...]) -> Any:
    where = f"{path} {' '.join(args)} output"
    try:
        text = output.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(where, None, f"not UTF-8 ({exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (it printed nothing)" if not text.strip() else ""
        raise InventoryError(where, exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}{hint}") from None
    except RecursionError:
        raise InventoryError(where, None, "invalid JSON: nested too deeply") from None
