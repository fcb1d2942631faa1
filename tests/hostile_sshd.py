"""A small hostile SSH server on 127.0.0.1 for the collector's fault tests.

Real SSH (asyncssh server, real handshake, real channels); what the "host" does after
login is chosen by the login name, so one server plays a whole fleet of broken hosts:

    ok             run the composite script it receives with the local `sh` (genuine output)
    slow-S         the same, answered after S seconds
    stall-N        genuine output of the first N collector sections, then silence (channel open)
    stallmid-N     the same plus half of section N+1 (a section cut mid-part), then silence
    drop-N         the first N sections, then the TCP connection is dropped
    drip           the genuine output at one byte per second
    flood          the first 2 sections, then up to 1 GiB of junk inside the next part
    fetch48        genuine output; the second exec (the CA-bundle fetch) answers 48 MiB
    noopen         accepts the session channel request and never confirms it
    noexec         opens the channel, never answers the exec request

Genuine output: the script arrives on stdin with a fresh nonce; the server runs it once
with `sh -s` (cached with the nonce factored out, so a fleet of these costs one run) and
replays it, or a prefix of it, under the request's own nonce.

Run as a program: `python hostile_sshd.py STATE_DIR` writes STATE_DIR/host_key(.pub),
prints `PORT <n>` on stdout, and appends one JSON line per exec to STATE_DIR/events.jsonl
(behaviour, bytes sent, how it ended), then serves until killed.
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

import asyncssh

FLOOD_BYTES = 1 << 30
FETCH_BYTES = 48 << 20
_NONCE = re.compile(rb"FA_N=([0-9a-f]+)$", re.M)
# The script's own deadline (when it has one): replayed output must not depend on it,
# so the server runs the script with a generous one and caches that.
_DEADLINE = re.compile(rb"FA_END=\$\(\(FA_NOW \+ \d+\)\)")
_PLACEHOLDER = b"NONCEPLACEHOLDER"


class Genuine:
    """The composite script's real output on this machine, run once, replayed per nonce."""

    def __init__(self):
        self._cache: Dict[bytes, bytes] = {}
        self._lock = asyncio.Lock()

    async def output(self, script: bytes) -> Optional[tuple]:
        m = _NONCE.search(script)
        if not m:
            return None
        nonce = m.group(1)
        script = _DEADLINE.sub(b"FA_END=$((FA_NOW + 600))", script)
        key = script.replace(nonce, _PLACEHOLDER)
        async with self._lock:
            if key not in self._cache:
                proc = await asyncio.create_subprocess_exec(
                    "sh", "-s", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL)
                out, _ = await proc.communicate(script)
                self._cache[key] = out.replace(nonce, _PLACEHOLDER)
        out = self._cache[key].replace(_PLACEHOLDER, nonce)
        # A fresh clock mark: the cached one is from the first run.
        out = re.sub(rb"^(@@" + nonce + rb":T:)[^\n]*", lambda mm: mm.group(1) + b"%.3f" % time.time(),
                     out, count=1)
        return nonce, out


def section_starts(out: bytes, nonce: bytes) -> list:
    """Offsets of the collector section markers of the script's main body: those after
    the last _meta marker (login-user parts, when the script has them, come before)."""
    marks = list(re.finditer(rb"\n@@" + nonce + rb":S:([^\n]*)\n", out))
    metas = [i for i, m in enumerate(marks) if m.group(1) == b"_meta"]
    body = marks[metas[-1] + 1:] if metas else marks
    return [m.start() for m in body]


class Session:
    def __init__(self, server: "HostileServer", behaviour: str):
        self.server = server
        self.behaviour = behaviour
        self.sent = 0

    async def __call__(self, stdin, stdout, stderr):
        ended = "finished"
        try:
            ended = await self._run(stdin, stdout) or ended
        except (asyncssh.Error, ConnectionError, BrokenPipeError, OSError) as exc:
            ended = f"client went away: {type(exc).__name__}"
        finally:
            self.server.log(self.behaviour, self.sent, ended)
        try:
            stdout.channel.exit(0)
        except Exception:
            pass

    async def _write(self, stdout, data: bytes):
        stdout.write(data)
        self.sent += len(data)
        await stdout.drain()

    async def _read_script(self, stdin) -> bytes:
        chunks = []
        while True:
            chunk = await stdin.read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    async def _run(self, stdin, stdout):
        b, _, arg = self.behaviour.partition("-")
        script = await self._read_script(stdin)
        self.server.execs[self.behaviour] = self.server.execs.get(self.behaviour, 0) + 1
        if b == "fetch48" and not _NONCE.search(script):
            # The fetch exec: frame a 48 MiB "file" the way fetch_script would.
            m = re.search(rb"@@([0-9a-f]+):F:0", script)
            nonce = m.group(1) if m else b"0"
            await self._write(stdout, b"\n@@" + nonce + b":F:0\n")
            block = b"-----BEGIN CERTIFICATE-----\n" + b"A" * (1 << 20)
            while self.sent < FETCH_BYTES:
                await self._write(stdout, block)
            await self._write(stdout, b"\n@@" + nonce + b":E:\n")
            return "fetch answered"
        genuine = await self.server.genuine.output(script)
        if genuine is None:
            return "not a fleetaudit script"
        nonce, out = genuine
        starts = section_starts(out, nonce)
        if b in ("ok", "fetch48"):
            await self._write(stdout, out)
            return None
        if b == "slow":
            await asyncio.sleep(float(arg or 5))
            await self._write(stdout, out)
            return None
        if b == "drip":
            for i in range(len(out)):
                await self._write(stdout, out[i:i + 1])
                await asyncio.sleep(1)
            return None
        n = int(arg or 0)
        if b in ("stall", "drop", "stallmid"):
            cut = starts[n] if n < len(starts) else len(out)
            if b == "stallmid" and n + 1 < len(starts):
                cut = (starts[n] + starts[n + 1]) // 2
            await self._write(stdout, out[:cut])
            if b == "drop":
                stdout.channel.get_connection().abort()
                return "dropped the connection"
            self.server.log(self.behaviour, self.sent, "stalling")
            await asyncio.sleep(3600)
            return "stalled"
        if b == "flood":
            await self._write(stdout, out[:starts[2]] + b"\n@@" + nonce + b":S:tls\n@@" + nonce + b":P:x\n")
            block = b"x" * (1 << 20)
            while self.sent < FLOOD_BYTES:
                await self._write(stdout, block)
            return "flooded 1 GiB"
        return "unknown behaviour"


class NeverAnswerExec(asyncssh.SSHServerSession):
    """exec_requested returning None leaves the request unanswered (no SUCCESS/FAILURE)."""

    def exec_requested(self, command):
        return None

    def shell_requested(self):
        return None


class HostileServer(asyncssh.SSHServer):
    def __init__(self, owner: "Hostile"):
        self.owner = owner
        self.conn = None

    def connection_made(self, conn):
        self.conn = conn

    def begin_auth(self, username):
        return False  # no authentication: the test is about what happens after login

    def session_requested(self):
        user = self.conn.get_extra_info("username") or "ok"
        if user == "noopen":
            self.owner.log(user, 0, "channel open never confirmed")
            return asyncio.get_running_loop().create_future()  # never completes
        if user == "noexec":
            self.owner.log(user, 0, "exec never answered")
            return NeverAnswerExec()
        return Session(self.owner, user)


class Hostile:
    def __init__(self, state: Path):
        self.state = state
        self.genuine = Genuine()
        self.execs: Dict[str, int] = {}
        self.events = state / "events.jsonl"

    def log(self, behaviour: str, sent: int, ended: str):
        with open(self.events, "a") as fh:
            fh.write(json.dumps({"user": behaviour, "sent": sent, "ended": ended,
                                 "t": time.time()}) + "\n")

    async def start(self, port: int = 0) -> int:
        key_path = self.state / "host_key"
        if not key_path.exists():
            key = asyncssh.generate_private_key("ssh-ed25519")
            key.write_private_key(str(key_path))
            key.write_public_key(str(key_path) + ".pub")
        self.server = await asyncssh.create_server(
            lambda: HostileServer(self), "127.0.0.1", port, server_host_keys=[str(key_path)],
            encoding=None, keepalive_interval=0)
        return self.server.sockets[0].getsockname()[1]


async def _main(state: Path):
    hostile = Hostile(state)
    port = await hostile.start()
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    state = Path(sys.argv[1])
    state.mkdir(parents=True, exist_ok=True)
    asyncio.run(_main(state))
