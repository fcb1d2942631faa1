"""Collect facts from every host at once: the only module that does network I/O.

Per host: one connection, ONE exec of the composite script, and, only when the host
reported file contents (CA bundles) whose hash this run has not seen yet, one more
exec on the same connection to fetch them. Failures become HostResult data.

Every await on a host is bounded by one per-host deadline (CollectOptions.host_deadline_s)
and every read is capped while it streams. What a host sent before a timeout, a dropped
connection or an interrupt is kept and parsed (status `partial`, `incomplete` naming the
sections missing or cut).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import asyncssh

from .collectors import REGISTRY
from .collectors.base import Collector, FileRef, Part, Section, skipped_parts
from .inventory.model import Host
from .hostread import Budget, Capture, read_capped, within
from .models import HostError, HostResult, RunResult, SCHEMA_VERSION
from .render.safe import visible
from .script import ParsedOutput, ScriptOptions, build_script, new_nonce, split_output
from .ssh import TRANSIENT, ConnectFailed, Connector, SSHOptions

ProgressFn = Callable[[HostResult], None]
log = logging.getLogger("fleetaudit.collect")  # host strings through visible(); never output
# Per-host lines are built under isEnabledFor: visible() is a regex substitution
# (~6 us a call, a dozen per host) that a run without -v would pay for nothing.


@dataclass
class CollectOptions:
    ssh: SSHOptions = field(default_factory=SSHOptions)
    script: ScriptOptions = field(default_factory=ScriptOptions)
    concurrency: int = 100
    command_timeout: float = 60.0          # the composite script on one host
    # Everything for one host (connect, exec, fetch, retries); None: host_deadline_s() derives it.
    host_timeout: Optional[float] = None
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
    # Bound for post_exec, which runs after the host deadline's phases (a pull can take
    # far longer than collecting). None: POST_EXEC_DEFAULT_S.
    post_exec_timeout: Optional[float] = None

    @property
    def all_collectors(self) -> Sequence[Collector]:
        return tuple(self.collectors) + tuple(self.extra_collectors)

    def host_deadline_s(self) -> float:
        """One host's whole budget: connect, banner and login, the script, the CA-bundle
        fetch (each up to command_timeout) and retry backoff. Derived when not set, so a
        caller raising command_timeout (the gate does) raises it too."""
        if self.host_timeout:
            return float(self.host_timeout)
        s = self.ssh
        return s.connect_timeout + s.banner_timeout + s.login_timeout + 2 * self.command_timeout + 10

    def post_exec_budget_s(self) -> float:
        return float(self.post_exec_timeout or POST_EXEC_DEFAULT_S) if self.post_exec else 0.0


POST_EXEC_DEFAULT_S = 3600.0
# The outer safety net waits this much past a host's deadline before cutting it off:
# each phase already stops at the deadline, so this only fires on a bug.
GRACE_S = 5.0


class Interrupt:
    """Asks a running collect_fleet to stop early (the CLI fires it on SIGINT/SIGTERM).

    Finished hosts are kept, hosts in flight keep what they sent, the rest are listed as
    not audited. fire() is safe to call from a signal handler, before or during the run.
    """

    def __init__(self) -> None:
        self.reason: Optional[str] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._event: Optional[asyncio.Event] = None

    @property
    def fired(self) -> bool:
        return self.reason is not None

    def fire(self, reason: str = "an interrupt") -> None:
        if self.reason is None:
            self.reason = reason
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop already closed: the run is over anyway
                pass

    def _attach(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self.fired:
            self._event.set()

    def _detach(self) -> None:
        self._loop = self._event = None

    async def wait(self) -> None:
        assert self._event is not None
        await self._event.wait()


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


def section_marks(text: str, nonce: str) -> List[str]:
    """Collector section markers in the order they arrived (the _meta ones left out). A
    section may come in pieces: the login user's part first, then root's.

    The matches of `(?:^|\n)@@nonce:S:([^\n]*)\n`, as re.finditer gives them: only S
    markers match, so the search goes straight for `\n@@nonce:S:` (str.find) and needs
    nothing but the end of that line."""
    head = f"@@{nonce}:S:"
    needle = "\n" + head
    find = text.find
    marks: List[str] = []
    pos = 0
    if text.startswith(head):  # the `^` alternative: only at position 0
        end = find("\n", len(head))
        if end >= 0:
            marks.append(text[len(head):end])
            pos = end + 1
    while True:
        at = find(needle, pos)
        if at < 0:
            break
        start = at + len(needle)
        end = find("\n", start)
        if end < 0:  # a cut-off last line: no match, and no later one either
            break
        marks.append(text[start:end])
        pos = end + 1
    return [m for m in marks if m != "_meta"]


def _pieces(c: Collector) -> int:
    """Section markers a collector prints: one, plus one for a login-user part."""
    login = getattr(c, "login_script", "") or ""
    return 2 if login and not login.isspace() else 1  # = login.strip(), without the copy


def parse_sections(parsed: ParsedOutput, collectors: Sequence[Collector],
                   part_cap: int, cut: Optional[str] = None,
                   marks: Optional[Sequence[str]] = None) -> Tuple[dict, dict]:
    """Run every collector's pure parser; a parser bug becomes an `incomplete` entry.

    `cut` says why the output stopped before the end marker; `marks` (section_marks)
    tells which pieces of each section arrived. A section missing a piece is named, and
    so is the last one received: nothing tells whether more of it was coming.
    """
    facts: dict = {}
    incomplete: dict = {}
    if cut is None and not parsed.complete:
        cut = "script output ended early"
    if marks is None:
        marks = list(parsed.sections)
    last = marks[-1] if cut and marks else None
    for c in collectors:
        section = parsed.sections.get(c.name)
        if section is None:
            incomplete[c.name] = f"no output: {cut} before this section" if cut else \
                "no output (script cut off before this section)"
            section = {}
        elif cut and marks.count(c.name) < _pieces(c):
            incomplete[c.name] = f"cut: {cut} before the rest of this section"
        elif c.name == last:
            incomplete[c.name] = f"cut: {cut} in or right after this section"
        elif _over_cap(section, part_cap):
            incomplete[c.name] = "output truncated at the size cap"
        else:
            skipped = skipped_parts(section)
            if skipped:
                incomplete[c.name] = "skipped: " + "; ".join(
                    f"{name} ({why})" for name, why in skipped.items())[:500]
        try:
            facts[c.name] = c.parse(section)
        except Exception as exc:  # a parser must not take the host down with it
            facts[c.name] = {"error": f"parser failed: {type(exc).__name__}: {exc}"}
            incomplete[c.name] = "parser failed"
    return facts, incomplete


def _over_cap(section: Section, part_cap: int) -> bool:
    for p in section.values():
        if p.truncated or len(p.out) >= part_cap:
            return True
    return False


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


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n % 2**20 == 0 else f"{n} bytes"


@dataclass
class InFlight:
    """What one host's audit has got so far, readable when the audit is cut from outside
    (an interrupt, the run deadline, the safety net)."""

    host: Host
    started: float = field(default_factory=time.monotonic)
    phase: str = "queued"              # connect, exec, fetch, post_exec, done
    attempts: int = 0
    collectors: Sequence[Collector] = ()
    nonce: str = ""
    part_cap: int = 0
    sent: float = 0.0                  # wall clock when the script was sent
    capture: Optional[Capture] = None  # the main exec's bytes
    result: Optional[HostResult] = None  # set once the main exec was parsed
    fetching: Tuple[str, ...] = ()     # collectors whose file contents are being fetched

    def salvage(self, error: HostError, why: Optional[str] = None) -> HostResult:
        """The best result from what arrived, for an audit stopped by `error` (`why`: the
        short reason written into `incomplete`)."""
        why = why or error.message
        if self.result is not None:
            res = self.result
            if self.phase == "fetch":
                for name in self.fetching:
                    res.incomplete.setdefault(name, f"file contents not fetched: {why}")
                if res.status == "ok":
                    res.status = "partial"
            elif self.phase == "post_exec":
                res.incomplete.setdefault("post_exec", why)
        elif self.capture is not None and self.capture.size:
            res = result_from_capture(self, error, why)
        else:
            res = HostResult(name=self.host.name, address=self.host.address,
                             status="unreachable", error=error)
        res.attempts = max(1, self.attempts)
        res.duration_s = time.monotonic() - self.started
        return res


def result_from_capture(flight: InFlight, cut: Optional[HostError],
                        cut_why: Optional[str] = None) -> HostResult:
    """Parse the main exec's output, complete or not, into a HostResult.

    `cut` is why reading stopped early (timeout, lost connection, interrupt), None when
    the host closed the stream itself.
    """
    host, capture = flight.host, flight.capture
    assert capture is not None
    result = HostResult(name=host.name, address=host.address, bytes_received=capture.size)
    text = capture.data().decode("utf-8", "replace")
    parsed = split_output(text, flight.nonce)
    if cut is not None and parsed.host_epoch is None and not parsed.sections and not parsed.meta:
        result.status = "unreachable"
        result.error = HostError(cut.cls, f"{cut.message} ({capture.size} bytes received, "
                                          "not one complete line of output)")
        return result
    why = cut_why if cut is not None else None
    if why is None and capture.overflow:
        why = f"output over the {_size(capture.cap)} cap"
    marks = section_marks(text, flight.nonce)
    facts, incomplete = parse_sections(parsed, flight.collectors, flight.part_cap, why, marks)
    facts.setdefault("time", {})["clock"] = clock_facts(parsed.host_epoch, flight.sent,
                                                        capture.first_at or time.time())
    result.facts = facts
    result.incomplete = incomplete
    if cut is not None:
        received = sum(1 for c in flight.collectors if marks.count(c.name) >= _pieces(c))
        result.status = "partial"
        result.error = HostError(cut.cls, f"{cut.message}; {received} of {len(flight.collectors)} "
                                          f"sections received ({capture.size} bytes), kept")
        return result
    if capture.overflow:
        result.status = "partial"
        result.error = HostError("protocol", f"host sent more than {capture.cap} bytes; output cut")
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
    return result


class HostAuditor:
    def __init__(self, opts: CollectOptions, connector: Connector, catalog: FileCatalog):
        self.opts = opts
        self.connector = connector
        self.catalog = catalog

    async def audit(self, host: Host, flight: Optional[InFlight] = None) -> HostResult:
        flight = flight or InFlight(host)
        flight.started = time.monotonic()
        budget = Budget(self.opts.host_deadline_s())
        while True:
            flight.attempts += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: attempt %d: connecting to %s", visible(host.name), flight.attempts,
                          visible(host.address))
            try:
                result = await self._attempt(host, flight, budget)
                break
            except ConnectFailed as exc:
                err = exc.error
            # Jittered exponential backoff so retries from many hosts do not align.
            delay = self.opts.backoff_s * (2 ** (flight.attempts - 1)) * (0.5 + random.random())
            if (err.cls not in TRANSIENT or flight.attempts > self.opts.retries
                    or budget.remaining() < delay + 1):
                result = HostResult(name=host.name, address=host.address, status="unreachable",
                                    error=err)
                break
            if log.isEnabledFor(logging.INFO):
                log.info("%s: attempt %d failed (%s: %s); retrying in %.1fs", visible(host.name),
                         flight.attempts, err.cls, visible(err.message), delay)
            await asyncio.sleep(delay)
        result.attempts = flight.attempts
        result.duration_s = time.monotonic() - flight.started
        flight.phase = "done"
        return result

    async def _attempt(self, host: Host, flight: InFlight, budget: Budget) -> HostResult:
        flight.phase = "connect"
        try:
            conn = await within(budget.end, self.connector.connect(host))
        except asyncio.TimeoutError:
            raise ConnectFailed(HostError(
                "connect-timeout", f"host deadline of {budget.seconds:g}s reached while "
                "connecting (TCP, SSH banner, login)"))
        try:
            return await self._collect(host, conn, flight, budget)
        finally:
            conn.close()

    def _timeout(self, by_host: bool, budget: Budget, what: str) -> Tuple[HostError, str]:
        if by_host:
            why = f"host deadline of {budget.seconds:g}s reached"
            return HostError("command-timeout", f"{why} during {what}"), why
        t = self.opts.command_timeout
        return HostError("command-timeout", f"{what} did not finish in {t:g}s"), f"timed out after {t:g}s"

    async def _start(self, conn, deadline: float, by_host: bool, budget: Budget, what: str):
        """create_process bounded: a server may accept the login and then never open the
        channel or never answer the exec request."""
        try:
            return await within(deadline, conn.create_process(
                "sh -s", encoding=None, stderr=asyncssh.DEVNULL))
        except asyncio.TimeoutError:
            limit = f"the host deadline of {budget.seconds:g}s" if by_host else \
                f"{self.opts.command_timeout:g}s"
            raise ConnectFailed(HostError(
                "command-timeout", f"SSH login succeeded but {what} did not start within "
                f"{limit}: the server never opened the session channel or never answered the "
                "exec request (sshd MaxSessions, a hung PAM session module or login shell)"))
        except (asyncssh.Error, OSError) as exc:
            raise ConnectFailed(HostError(
                "protocol", f"cannot start a session: {getattr(exc, 'reason', None) or exc}"))

    async def _collect(self, host: Host, conn, flight: InFlight, budget: Budget) -> HostResult:
        opts = self.opts
        flight.phase = "exec"
        flight.nonce = nonce = new_nonce()
        deadline, by_host = budget.phase(opts.command_timeout)
        # The host keeps every part inside what this phase may spend (a deadline in the
        # script), so it stops on its own before the controller cuts it off.
        script_opts = ScriptOptions(**{**opts.script.__dict__, "become": bool(host.become),
                                       "command_timeout_s": min(opts.command_timeout, budget.remaining())})
        flight.collectors = collectors = opts.all_collectors
        flight.part_cap = script_opts.part_cap_bytes
        script = build_script(collectors, nonce, script_opts)
        process = await self._start(conn, deadline, by_host, budget, "the collection script")
        capture = flight.capture = Capture(opts.max_output_bytes)
        flight.sent = time.time()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: exec: collection script sent (%d bytes)", visible(host.name), len(script))
        cut: Optional[HostError] = None
        why = ""
        try:
            process.stdin.write(script.encode())
            process.stdin.write_eof()
            await read_capped(process.stdout, capture, deadline)
        except asyncio.TimeoutError:
            cut, why = self._timeout(by_host, budget, "the collection script")
        except (asyncssh.Error, OSError) as exc:
            cut = HostError("protocol", "connection lost while collecting: "
                                        f"{getattr(exc, 'reason', None) or exc}")
            why = "connection lost"
        finally:
            process.close()
        if cut is not None and cut.cls == "protocol" and capture.size == 0:
            raise ConnectFailed(cut)  # nothing arrived: a transient drop is worth a retry
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: exec: %d bytes back in %.2fs%s", visible(host.name), capture.size,
                      time.time() - flight.sent, f" ({cut.cls})" if cut else "")
        result = flight.result = result_from_capture(flight, cut, why)
        if result.status == "unreachable":
            return result
        if budget.remaining() > 0:
            flight.phase = "fetch"
            await self._fetch_files(conn, result, flight, budget)
        if opts.post_exec is not None:
            flight.phase = "post_exec"
            limit = opts.post_exec_budget_s()
            try:
                await asyncio.wait_for(opts.post_exec(conn, host, result), limit)
            except asyncio.TimeoutError:
                result.incomplete["post_exec"] = f"did not finish in {limit:g}s"
            except Exception as exc:  # a hook bug must not lose the collected facts
                result.incomplete["post_exec"] = f"{type(exc).__name__}: {exc}"[:500]
        return result

    async def _fetch_files(self, conn, result: HostResult, flight: InFlight, budget: Budget) -> None:
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
        resolved: set = set()
        try:
            if wanted:
                flight.fetching = tuple(sorted({c.name for _, _, c in wanted}))
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s: fetch: %d file(s) by hash", visible(result.name), len(wanted))
                blobs, problem = await self._fetch(conn, wanted, result, budget)
                if problem:
                    for name in flight.fetching:
                        result.incomplete.setdefault(name, f"file contents not fetched: {problem}")
                    if result.status == "ok":
                        result.status = "partial"
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
                    resolved.add(sha)
        finally:
            # A fetch cut short must not leave other hosts waiting on these hashes.
            for _path, sha, _c in wanted:
                if sha not in resolved:
                    self.catalog.resolve(sha, None)
        if waits and budget.remaining() > 0:
            await asyncio.wait(waits, timeout=budget.remaining())

    async def _fetch(self, conn, wanted, result: HostResult,
                     budget: Budget) -> Tuple[Dict[int, bytes], Optional[str]]:
        """One exec printing every wanted file, read with the fetch cap while it streams."""
        opts = self.opts
        nonce = new_nonce()
        script = fetch_script([(p, s) for p, s, _ in wanted], nonce, opts.max_fetch_bytes)
        capture = Capture(opts.max_fetch_bytes)
        deadline, by_host = budget.phase(opts.command_timeout)
        problem: Optional[str] = None
        try:
            proc = await self._start(conn, deadline, by_host, budget, "the file fetch")
            try:
                proc.stdin.write(script.encode())
                proc.stdin.write_eof()
                await read_capped(proc.stdout, capture, deadline)
            finally:
                proc.close()
        except ConnectFailed as exc:
            problem = exc.error.message
        except asyncio.TimeoutError:
            problem = self._timeout(by_host, budget, "the file fetch")[0].message
        except (asyncssh.Error, OSError) as exc:
            problem = f"connection lost: {getattr(exc, 'reason', None) or exc}"
        result.bytes_received += capture.size
        if capture.overflow:
            problem = f"the host's answer went over the {_size(opts.max_fetch_bytes)} fetch cap; stopped reading"
        return split_fetch(capture.data(), nonce, len(wanted)), problem


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
                        catalog: Optional[dict] = None,
                        interrupt: Optional[Interrupt] = None) -> RunResult:
    """Audit every host; never raises for host trouble, never prints.

    `interrupt` (fired by the caller, e.g. on SIGINT) ends the run early: the RunResult
    then has run.interrupted true, finished hosts as they were, hosts in flight with what
    they sent, and the rest as not audited (error class `interrupted`).
    """
    started = time.time()
    connector = Connector(opts.ssh)
    files = FileCatalog(catalog)
    auditor = HostAuditor(opts, connector, files)
    gate = asyncio.Semaphore(max(1, opts.concurrency))
    results: Dict[str, HostResult] = {}
    flights: Dict[str, InFlight] = {}
    host_deadline = opts.host_deadline_s()
    outer = host_deadline + opts.post_exec_budget_s() + GRACE_S

    stopping = False  # set before collect_fleet itself cancels the host tasks

    def finish(res: HostResult) -> None:
        results[res.name] = res
        if log.isEnabledFor(logging.INFO):
            log.info("%s: %s in %.2fs, %d attempt(s)%s", visible(res.name), res.status,
                     res.duration_s or 0, res.attempts or 0,
                     f" ({res.error.cls}: {visible(res.error.message)})" if res.error else "")
        if progress:
            progress(res)

    async def one(host: Host) -> None:
        async with gate:
            flight = flights[host.name] = InFlight(host)
            try:
                res = await within(asyncio.get_running_loop().time() + outer, auditor.audit(host, flight))
            except asyncio.TimeoutError:
                res = flight.salvage(HostError(
                    "command-timeout", f"host deadline of {host_deadline:g}s passed"),
                    f"host deadline of {host_deadline:g}s passed")
            except asyncio.CancelledError:
                if stopping:
                    raise  # the run is stopping: collect_fleet salvages this host
                # Cancelled from inside (e.g. a jump host connection shared with a host
                # that was cut off): still a row, never a lost host.
                res = flight.salvage(HostError("protocol", "connection attempt was cancelled"))
            except Exception as exc:  # a bug here must not lose the other hosts
                res = flight.salvage(HostError(
                    "protocol", f"internal error while auditing: {type(exc).__name__}: {exc}"[:500]))
        finish(res)

    if interrupt is not None:
        interrupt._attach()
    tasks = [asyncio.ensure_future(one(h)) for h in hosts]
    try:
        if tasks:
            everything = asyncio.gather(*tasks, return_exceptions=True)
            watch = {everything}
            stopper = asyncio.ensure_future(interrupt.wait()) if interrupt is not None else None
            if stopper is not None:
                watch.add(stopper)
            await asyncio.wait(watch, timeout=opts.run_timeout, return_when=asyncio.FIRST_COMPLETED)
            if stopper is not None:
                stopper.cancel()
            if not everything.done():
                stopping = True
                for t in tasks:
                    t.cancel()
                await asyncio.gather(everything, return_exceptions=True)
    finally:
        interrupted = interrupt.reason if interrupt is not None and interrupt.fired else None
        if interrupt is not None:
            interrupt._detach()
        await connector.close()
    for h in hosts:
        if h.name in results:
            continue
        if interrupted:
            why = f"run interrupted by {interrupted}"
            err = HostError("interrupted", f"{why} before this host finished")
        elif opts.run_timeout:
            why = f"run deadline of {opts.run_timeout:g}s reached"
            err = HostError("command-timeout", f"{why} first")
        else:
            why = "no result"
            err = HostError("protocol", "host audit ended without a result")
        flight = flights.get(h.name)
        finish(flight.salvage(err, why) if flight is not None else
               HostResult(name=h.name, address=h.address, status="unreachable", error=err))
    ordered = {h.name: results[h.name] for h in hosts}
    for h in hosts:  # the report breaks the fleet down by its own inventory groups
        ordered[h.name].groups = [g for g in h.groups if g != "all"]
    finished = time.time()
    run = {
        "started": _iso(started), "finished": _iso(finished),
        "duration_s": round(finished - started, 3),
        "hosts": len(hosts), "collectors": [c.name for c in opts.all_collectors],
        "tool_version": _version(),
        # Inventory groups, so consensus and policies can be scoped by group later.
        "groups": _groups(hosts),
        "host_deadline_s": host_deadline,
        "interrupted": bool(interrupted),
    }
    if interrupted:
        run["interrupted_by"] = interrupted
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
            progress: Optional[ProgressFn] = None,
            interrupt: Optional[Interrupt] = None) -> RunResult:
    """Synchronous entry point for callers without an event loop."""
    return asyncio.run(collect_fleet(hosts, opts, progress, interrupt=interrupt))
