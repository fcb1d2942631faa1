"""Collect facts from every host at once: the only module that does network I/O.

Per host: one connection, ONE exec of the composite script, and, only when the host
reported file contents (CA bundles) whose hash this run has not seen yet, one more
exec on the same connection to fetch them. Failures become HostResult data.
"""
from __future__ import annotations

import asyncio
import hashlib
import random
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import asyncssh

from .collectors import REGISTRY
from .collectors.base import Collector, FileRef, Part, skipped_parts
from .inventory.model import Host
from .models import HostError, HostResult, RunResult, SCHEMA_VERSION
from .script import ParsedOutput, ScriptOptions, build_script, new_nonce, split_output
from .ssh import TRANSIENT, ConnectFailed, Connector, SSHOptions

ProgressFn = Callable[[HostResult], None]


@dataclass
class CollectOptions:
    ssh: SSHOptions = field(default_factory=SSHOptions)
    script: ScriptOptions = field(default_factory=ScriptOptions)
    concurrency: int = 100
    command_timeout: float = 60.0          # the composite script on one host
    host_timeout: Optional[float] = None   # everything for one host, retries included
    run_timeout: Optional[float] = None    # the whole fleet
    retries: int = 2                       # extra attempts for transient failures
    backoff_s: float = 0.5
    max_output_bytes: int = 8 * 1024 * 1024  # controller-side cap, above the host's own
    max_fetch_bytes: int = 16 * 1024 * 1024  # CA bundles etc. fetched per host
    collectors: Sequence[Collector] = tuple(REGISTRY)
    # Extra sections for this run only (e.g. the gate's registry probe), appended to
    # `collectors` in the same single exec; their facts land under their own names.
    extra_collectors: Sequence[Collector] = ()
    # Optional `async fn(conn, host, result)` run on the same connection after a host was
    # collected (the gate's opt-in `docker pull`). It must record its own failures.
    post_exec: Optional[Callable[..., Awaitable[None]]] = None

    @property
    def all_collectors(self) -> Sequence[Collector]:
        return tuple(self.collectors) + tuple(self.extra_collectors)


class FileCatalog:
    """Digests of shared file contents, keyed by sha256, fetched once per run.

    Concurrent hosts reporting the same unseen hash wait for the first fetch instead of
    fetching it again.
    """

    def __init__(self, initial: Optional[dict] = None):
        self.entries: Dict[str, object] = dict(initial or {})
        self._pending: Dict[str, asyncio.Future] = {}

    def claim(self, sha: str) -> Tuple[bool, Optional[asyncio.Future]]:
        """(mine, waiter): mine=True means the caller must fetch and resolve it."""
        if sha in self.entries:
            return False, None
        fut = self._pending.get(sha)
        if fut is not None:
            return False, fut
        self._pending[sha] = asyncio.get_running_loop().create_future()
        return True, None

    def resolve(self, sha: str, value: object) -> None:
        if value is not None:
            self.entries[sha] = value
        fut = self._pending.pop(sha, None)
        if fut is not None and not fut.done():
            fut.set_result(value is not None)


def parse_sections(parsed: ParsedOutput, collectors: Sequence[Collector],
                   part_cap: int) -> Tuple[dict, dict]:
    """Run every collector's pure parser; a parser bug becomes an `incomplete` entry."""
    facts: dict = {}
    incomplete: dict = {}
    for c in collectors:
        section = parsed.sections.get(c.name)
        if section is None:
            incomplete[c.name] = "no output (script cut off before this section)"
            section = {}
        elif any(p.truncated or len(p.out) >= part_cap for p in section.values()):
            incomplete[c.name] = "output truncated at the size cap"
        elif skipped_parts(section):
            incomplete[c.name] = "skipped: " + "; ".join(
                f"{name} ({why})" for name, why in skipped_parts(section).items())[:500]
        try:
            facts[c.name] = c.parse(section)
        except Exception as exc:  # a parser must not take the host down with it
            facts[c.name] = {"error": f"parser failed: {type(exc).__name__}: {exc}"}
            incomplete[c.name] = "parser failed"
    return facts, incomplete


def clock_facts(host_epoch: Optional[float], sent: float, first_byte: float) -> dict:
    """Host clock skew, corrected by half the round trip that carried the timestamp."""
    if host_epoch is None:
        return {"host_epoch": None, "controller_epoch": None, "skew_s": None, "uncertainty_s": None}
    midpoint = (sent + first_byte) / 2
    return {
        "host_epoch": round(host_epoch, 3),
        "controller_epoch": round(midpoint, 3),
        "skew_s": round(host_epoch - midpoint, 3),
        "uncertainty_s": round((first_byte - sent) / 2, 3),
    }


_SAFE_PATH = re.compile(r"^/[^\x00-\x1f]*$")


def fetch_script(refs: Sequence[FileRef], nonce: str, cap: int) -> str:
    """Shell that prints each file framed by markers. Paths come from the host, so they
    are quoted, never interpolated raw."""
    lines = ["export LC_ALL=C"]
    for i, (path, _sha) in enumerate(refs):
        lines.append(f"printf '\\n@@{nonce}:F:{i}\\n'; head -c {int(cap)} {shlex.quote(path)} 2>/dev/null")
    lines.append(f"printf '\\n@@{nonce}:E:\\n'")
    return "\n".join(lines) + "\n"


def split_fetch(data: bytes, nonce: str, count: int) -> Dict[int, bytes]:
    out: Dict[int, bytes] = {}
    pattern = re.compile(rb"\n@@" + nonce.encode() + rb":([FE]):(\d*)\n")
    matches = list(pattern.finditer(data))
    for m, nxt in zip(matches, matches[1:]):
        if m.group(1) == b"F" and m.group(2):
            idx = int(m.group(2))
            if 0 <= idx < count:
                out[idx] = data[m.end():nxt.start()]
    return out


async def _read_capped(process, cap: int) -> Tuple[bytes, Optional[float], bool]:
    """Read stdout up to cap bytes; note when the first line (the clock mark) arrived."""
    chunks: List[bytes] = []
    size = 0
    first_line_at: Optional[float] = None
    while True:
        chunk = await process.stdout.read(65536)
        if not chunk:
            return b"".join(chunks), first_line_at, False
        if first_line_at is None:  # the clock mark is the first thing the host sends
            first_line_at = time.time()
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], first_line_at, True


class HostAuditor:
    def __init__(self, opts: CollectOptions, connector: Connector, catalog: FileCatalog):
        self.opts = opts
        self.connector = connector
        self.catalog = catalog

    async def audit(self, host: Host) -> HostResult:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._attempt(host)
                result.attempts = attempt
                result.duration_s = time.monotonic() - started
                return result
            except ConnectFailed as exc:
                err = exc.error
            if err.cls not in TRANSIENT or attempt > self.opts.retries:
                return HostResult(name=host.name, address=host.address, status="unreachable",
                                  error=err, attempts=attempt,
                                  duration_s=time.monotonic() - started)
            # Jittered exponential backoff so retries from many hosts do not align.
            delay = self.opts.backoff_s * (2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.5 + random.random()))

    async def _attempt(self, host: Host) -> HostResult:
        conn = await self.connector.connect(host)
        try:
            return await self._collect(host, conn)
        finally:
            conn.close()

    async def _collect(self, host: Host, conn) -> HostResult:
        opts = self.opts
        nonce = new_nonce()
        # The host keeps every part inside the command timeout (a deadline in the script).
        script_opts = ScriptOptions(**{**opts.script.__dict__, "become": bool(host.become),
                                       "command_timeout_s": min(filter(None, (opts.command_timeout, opts.host_timeout)),
                                                            default=None)})
        collectors = opts.all_collectors
        script = build_script(collectors, nonce, script_opts)
        result = HostResult(name=host.name, address=host.address)
        try:
            process = await conn.create_process("sh -s", encoding=None)
        except asyncssh.Error as exc:
            raise ConnectFailed(HostError("protocol", f"cannot start a session: {exc.reason}"))
        sent = time.time()
        process.stdin.write(script.encode())
        process.stdin.write_eof()
        try:
            data, first_at, overflow = await asyncio.wait_for(
                _read_capped(process, opts.max_output_bytes), opts.command_timeout)
        except asyncio.TimeoutError:
            process.close()
            return HostResult(
                name=host.name, address=host.address, status="unreachable",
                error=HostError("command-timeout",
                                f"collection script did not finish in {opts.command_timeout:g}s"))
        except (asyncssh.Error, OSError) as exc:
            raise ConnectFailed(HostError("protocol", f"connection lost while collecting: {exc}"))
        process.close()
        result.bytes_received = len(data)
        parsed = split_output(data.decode("utf-8", "replace"), nonce)
        facts, incomplete = parse_sections(parsed, collectors, script_opts.part_cap_bytes)
        facts.setdefault("time", {})["clock"] = clock_facts(parsed.host_epoch, sent, first_at or time.time())
        result.facts = facts
        result.incomplete = incomplete
        if overflow:
            result.status = "partial"
            result.error = HostError("protocol", f"host sent more than {opts.max_output_bytes} bytes; output cut")
        elif not parsed.complete:
            result.status = "partial"
            result.error = HostError("protocol", "collection script output ended early"
                                     if parsed.sections else "host sent no collector output")
        sudo_state = parsed.meta.get("sudo")
        if sudo_state is not None and sudo_state.out.strip() == "2":
            result.status = "partial"
            said = (parsed.meta.get("become") or Part("", None)).out.strip().splitlines()
            result.error = HostError(
                "sudo", f"`sudo -n sh -s` refused for user {host.user or '(login user)'}"
                + (f" ({said[-1][:200]})" if said else "") + ": root-only "
                "facts (docker, firewall, credentials, logs) are missing; grant it NOPASSWD "
                "sudo (the root part runs as one `sudo -n sh -s`, like Ansible's become) or log in as root")
        elif incomplete and result.status == "ok":
            result.status = "partial"
        await self._fetch_files(conn, result)
        if opts.post_exec is not None:
            try:
                await opts.post_exec(conn, host, result)
            except Exception as exc:  # a hook bug must not lose the collected facts
                result.incomplete["post_exec"] = f"{type(exc).__name__}: {exc}"[:500]
        return result

    async def _fetch_files(self, conn, result: HostResult) -> None:
        wanted: List[Tuple[str, str, Collector]] = []
        waits = []
        for c in self.opts.all_collectors:
            if not c.file_refs or not c.digest:
                continue
            facts = result.facts.get(c.name) or {}
            try:
                refs = c.file_refs(facts)
            except Exception:
                continue
            for path, sha in refs:
                if not (_SAFE_PATH.match(path) and re.fullmatch(r"[0-9a-f]{64}", sha or "")):
                    continue
                mine, waiter = self.catalog.claim(sha)
                if mine:
                    wanted.append((path, sha, c))
                elif waiter is not None:
                    waits.append(waiter)
        if wanted:
            nonce = new_nonce()
            script = fetch_script([(p, s) for p, s, _ in wanted], nonce, self.opts.max_fetch_bytes)
            blobs: Dict[int, bytes] = {}
            try:
                proc = await asyncio.wait_for(
                    conn.run("sh -s", input=script.encode(), encoding=None,
                             ), self.opts.command_timeout)
                data = proc.stdout or b""
                result.bytes_received += len(data)
                blobs = split_fetch(data[: self.opts.max_fetch_bytes], nonce, len(wanted))
            except (asyncio.TimeoutError, asyncssh.Error, OSError):
                pass
            for i, (path, sha, c) in enumerate(wanted):
                content = blobs.get(i)
                value = None
                # Trust content only if it hashes to what the host claimed: a hostile host
                # must not poison the catalog entry other hosts will share.
                if content is not None and hashlib.sha256(content).hexdigest() == sha:
                    value = digest_entry(c, content)
                    if isinstance(value, dict) and "error" in value:
                        result.incomplete[c.name] = f"{path}: {value['error']}"[:500]
                        if result.status == "ok":
                            result.status = "partial"
                self.catalog.resolve(sha, value)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)


def digest_entry(c: Collector, content: bytes) -> object:
    """The catalog entry for a fetched file: the collector's digest, or {"error": why}.

    A digest that fails (certs.DigestUnavailable: a cryptography too old to read
    certificates) must not look like an empty file: the error is the recorded fact.
    """
    try:
        return c.digest(content)
    except Exception as exc:
        return {"error": f"{c.name} digest failed: {exc}"[:500]}


async def collect_fleet(hosts: Sequence[Host], opts: CollectOptions,
                        progress: Optional[ProgressFn] = None,
                        catalog: Optional[dict] = None) -> RunResult:
    started = time.time()
    connector = Connector(opts.ssh)
    files = FileCatalog(catalog)
    auditor = HostAuditor(opts, connector, files)
    gate = asyncio.Semaphore(max(1, opts.concurrency))
    results: Dict[str, HostResult] = {}

    async def one(host: Host) -> None:
        async with gate:
            try:
                coro = auditor.audit(host)
                if opts.host_timeout:
                    res = await asyncio.wait_for(coro, opts.host_timeout)
                else:
                    res = await coro
            except asyncio.TimeoutError:
                res = HostResult(name=host.name, address=host.address, status="unreachable",
                                 error=HostError("command-timeout",
                                                 f"host not done within {opts.host_timeout:g}s"))
        results[host.name] = res
        if progress:
            progress(res)

    tasks = [asyncio.ensure_future(one(h)) for h in hosts]
    try:
        done, pending = await asyncio.wait(tasks, timeout=opts.run_timeout) if tasks else (set(), set())
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        await connector.close()
    for h in hosts:
        if h.name not in results:
            res = HostResult(name=h.name, address=h.address, status="unreachable",
                             error=HostError("command-timeout",
                                             f"run deadline of {opts.run_timeout:g}s reached first"))
            results[h.name] = res
            if progress:
                progress(res)
    ordered = {h.name: results[h.name] for h in hosts}
    finished = time.time()
    run = {
        "started": _iso(started), "finished": _iso(finished),
        "duration_s": round(finished - started, 3),
        "hosts": len(hosts), "collectors": [c.name for c in opts.all_collectors],
        "tool_version": _version(),
        # Inventory groups, so consensus and policies can be scoped by group later.
        "groups": _groups(hosts),
    }
    return RunResult(run=run, hosts=ordered, catalog=files.entries)


def _groups(hosts: Sequence[Host]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = {}
    for h in hosts:
        for g in h.groups:
            groups.setdefault(g, []).append(h.name)
    return groups


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _version() -> str:
    from . import __version__
    return __version__


def collect(hosts: Sequence[Host], opts: CollectOptions,
            progress: Optional[ProgressFn] = None) -> RunResult:
    """Synchronous entry point for callers without an event loop."""
    return asyncio.run(collect_fleet(hosts, opts, progress))
