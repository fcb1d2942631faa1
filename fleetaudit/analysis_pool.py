"""The per-host part of the analysis over several processes (`--workers N`).

The fleet-wide parts are computed once, in this process: the fleet index, every
baseline's expectations (consensus majorities), the fact matrix, and the FleetView's
fleet answers that the first host's rules ask for (the majorities, the fleet's
registries and CAs), by running the first host's rules here before any worker starts.
Then the hosts are cut into N contiguous runs in host order; each forked worker computes,
for its run, every host's drift (diff_host against the bound baselines) and every rule's
findings, and sends them back; this process does the first run itself. Results are
joined in host order and sorted exactly as the single-process diagnose sorts them, so
every output is byte-identical to workers=1.

Why fork: a worker must see the fleet (its flat facts, the consensus, the FleetView
memos); sending 10,000 hosts' facts to a spawned or forkserver process would cost more
than the analysis it saves, and a fork shares them copy-on-write for free. A fork is
only unsafe when another thread may hold a lock (logging, an allocator, a Queue feeder):
analysis runs after asyncio.run() returned (its executor threads are joined) and after
the progress bar stopped, so this process has no thread but the main one. That is
checked, not assumed: with another thread alive, or without os.fork, the analysis stays
in this process. A worker that fails in any way (an exception, a crash, a result that
does not pickle) has its hosts analysed again here: a worker can cost time, never a
finding.
"""
from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .models import Finding, RunResult

# Per-host analysis costs about 1-2 ms of CPU; a fork of a process holding a 10,000-host
# fleet, and the pickled results it sends back, cost tens of ms: below this many hosts per
# process a worker costs more than it saves.
MIN_HOSTS_PER_PROCESS = 500

HostWork = Callable[[str], Tuple[Optional[list], List[Finding]]]


def plan_processes(requested: Optional[int], hosts: int, cores: Optional[int] = None,
                   min_hosts: Optional[int] = None) -> int:
    """How many processes analyse `hosts` hosts: `requested` (None: one per core), but
    never fewer than `min_hosts` hosts each (1 = this process only)."""
    cores = cores or os.cpu_count() or 1
    want = requested if requested else cores
    floor = MIN_HOSTS_PER_PROCESS if min_hosts is None else min_hosts
    return max(1, min(want, hosts // max(1, floor)))


def why_not_fork() -> Optional[str]:
    """Why this process must not fork workers now, or None when it may."""
    import multiprocessing  # here, not at the top: a one-process run should not pay for it
    if not hasattr(os, "fork") or "fork" not in multiprocessing.get_all_start_methods():
        return "this platform has no fork"
    if threading.active_count() > 1:
        return "another thread is running in this process"
    return None


def flush_std_streams() -> None:
    """Flush stdout and stderr before a fork: a child must not repeat buffered output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def fork_child(ctx, target: Callable[..., None], args: Callable[[Any], tuple], name: str,
               duplex: bool = False):
    """Start `target(*args(child_end))` in a forked daemon process (ctx: a "fork"
    multiprocessing context), the standard streams flushed and the heap frozen while it
    forks. Returns (process, this side's end of the pipe); the child's end is closed here."""
    flush_std_streams()
    ours, theirs = ctx.Pipe(duplex=duplex)
    # A heap the CLI froze (cli._keep_collected) stays frozen: gc.unfreeze() would undo
    # all of it, not just what this fork froze.
    was_frozen = gc.get_freeze_count() > 0
    gc.freeze()   # the child's collector and ours leave the inherited heap alone
    try:
        proc = ctx.Process(target=target, args=args(theirs), name=name, daemon=True)
        proc.start()
    except BaseException:
        ours.close()
        raise
    finally:
        if not was_frozen:
            gc.unfreeze()
        theirs.close()
    return proc, ours


def send_failure(conn, exc: BaseException) -> None:
    """Tell the parent a worker failed (it redoes the work); the pipe may be gone too."""
    try:
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:300]))
    except Exception:
        pass


def chunks(names: Sequence[str], n: int) -> List[List[str]]:
    """`names` cut into n contiguous runs of (almost) equal length, in order."""
    size, rest = divmod(len(names), n)
    out, at = [], 0
    for i in range(n):
        step = size + (1 if i < rest else 0)
        out.append(list(names[at:at + step]))
        at += step
    return [c for c in out if c]


def _run_chunk(work: HostWork, names: Sequence[str]) -> List[Tuple[str, Optional[list], List[Finding]]]:
    return [(name, *work(name)) for name in names]


def _child(work: HostWork, names: List[str], conn, fail: Optional[Callable[[], None]]) -> None:
    """A worker: analyse `names`, send [(host, drift or None, findings)] or an error."""
    gc.disable()  # a short-lived copy of a big heap: collections would only copy pages
    # the parent owns the signals: on ^C it decides, and a daemon worker is ended with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if fail is not None:
            fail()
        done = _run_chunk(work, names)
        t = os.times()
        conn.send(("ok", done, round(t.user + t.system, 3)))
    except BaseException as exc:  # reported; the parent redoes these hosts
        send_failure(conn, exc)
    finally:
        conn.close()


def run_hosts(work: HostWork, names: Sequence[str], processes: int,
              stats: Optional[dict] = None,
              fail_in_worker: Optional[Callable[[], None]] = None,
              started_cpu: Optional[float] = None) -> List[Tuple[str, Optional[list], List[Finding]]]:
    """work(name) for every name, over `processes` processes (this one included), in
    the order of `names`. The first name is done here before any fork (so the fleet
    answers it computes are shared with every worker). `stats` receives what happened:
    processes used, workers that failed and were redone here, serial_cpu_s (this
    process's CPU from `started_cpu` to the fork: the part no worker shares) and
    hosts_cpu_s (each process's CPU for its hosts). fail_in_worker: tests only, called
    in each worker before its work (to prove the fallback)."""
    stats = stats if stats is not None else {}
    names = list(names)
    why = why_not_fork() if processes > 1 else "one process asked"
    if why is not None or len(names) < 2:
        stats.update(processes=1, reason=why)
        return _run_chunk(work, names)
    out = _run_chunk(work, names[:1])           # warms the shared fleet answers
    if started_cpu is not None:
        stats["serial_cpu_s"] = round(time.process_time() - started_cpu, 3)
    parts = chunks(names[1:], processes)
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    children = []
    for part in parts[1:]:
        p, recv = fork_child(ctx, _child, lambda send: (work, part, send, fail_in_worker),
                             "fleetaudit-analysis")
        children.append((part, p, recv))
    from .snapshot import gc_paused
    c0 = time.process_time()
    with gc_paused():  # as in the workers: the rules make no cycles worth a collection pass
        out.extend(_run_chunk(work, parts[0]))
    worker_cpu = [round(time.process_time() - c0, 3)]   # this process's share of the hosts
    failed = []
    for part, p, recv in children:
        try:
            status, payload, *cpu = recv.recv()
            worker_cpu.extend(cpu)
        except (EOFError, OSError, Exception) as exc:  # died, or sent what does not unpickle
            status, payload = "error", f"{type(exc).__name__}: {exc}"[:300]
        recv.close()
        p.join()
        if status != "ok" or len(payload) != len(part):
            failed.append({"hosts": len(part), "error": str(payload) if status != "ok" else "short result",
                           "exitcode": p.exitcode})
            payload = _run_chunk(work, part)   # never lose a host's findings
        out.extend(payload)
    stats.update(processes=1 + len(children), failed=failed, hosts_cpu_s=worker_cpu)
    return out


def analyze_in_processes(result: RunResult, baselines: list, ignore: Any,
                         expected: Dict[str, dict], processes: int,
                         stats: Optional[dict] = None,
                         fail_in_worker: Optional[Callable[[], None]] = None) -> List[Finding]:
    """annotate() then diagnose(), with the per-host work over `processes` processes;
    fills result.extra (drift, baseline, matrix) as annotate does and returns the
    findings as diagnose does."""
    from .compare import bind_baselines, fact_matrix, host_drift, store_extras
    from .compare.index import gc_paused
    from .diagnose import load_rules
    from .diagnose.engine import diagnose_host, sort_findings
    from .facts import FleetView

    started_cpu = time.process_time()
    bases, ign, index = bind_baselines(result, baselines, ignore)
    with gc_paused():  # the fleet-wide counting, as annotate does it (shared memo)
        matrix = fact_matrix(result, ignore)
    rules = load_rules()
    fleet = FleetView(result)
    hosts = result.hosts

    def work(name: str) -> Tuple[Optional[list], List[Finding]]:
        h = index.hosts.get(name)
        drift = host_drift(name, h, bases, ign) if h is not None else None
        return drift, diagnose_host(hosts[name], result, drift or [], expected.get(name),
                                    fleet, rules)

    done = run_hosts(work, list(hosts), processes, stats, fail_in_worker, started_cpu)
    drift: Dict[str, list] = {}
    findings: List[Finding] = []
    for name, items, found in done:
        if items is not None:
            drift[name] = items
        findings.extend(found)
    # `done` is in result.hosts order, and index.hosts (the audited hosts, the only ones
    # with drift) keeps that order: the map is already in compare_run's order
    store_extras(result, drift, bases, matrix)
    return sort_findings(findings, list(hosts))


# --- the fleet-wide part in the workers too (consensus baselines) ---------------------
#
# With the fleet consensus as the only baseline (audit's default, and --consensus-by),
# the index and the consensus counts are built in the workers as well: each worker
# flattens its own run of hosts (contiguous, in host order) and counts them per
# partition (and for the fact matrix), and computes the fleet answers that are counts
# (FleetView majority votes, element counts, the registry scan) over its own hosts, by
# running its first host's rules once against a FleetView of its part (findings
# discarded: fleet answers depend on the facts only, never on a host's drift). This
# process merges the partial counts by canonical key into exactly what one pass over
# every host in name order gives (compare.baseline.merge_counts) and the tallies into
# what one FleetView gives (facts.fleet.merge_tallies), decides each partition's
# majorities and sends them and the tallies back. Then every worker diffs and
# diagnoses its hosts; fleet answers that are not counts (the fleet's CAs, rule
# families' own figures) are computed over the whole run in each worker when first
# asked, as before in the parent. A drift item's share (how many hosts have each
# value: counts a worker does not have) is filled in here from the merged counts. Any
# failure of any worker: the whole analysis is done again in this process, as
# workers=1 does it (a worker can cost time, never a finding).


class _Share:
    """A drift item's share, to be computed by this process from the merged counts."""

    __slots__ = ("label", "args")

    def __init__(self, label: str, args: tuple):
        self.label = label
        self.args = args


def _deferred_share(label: str):
    def share(path: str, expected: Any, actual: Any) -> _Share:
        return _Share(label, (path, expected, actual))
    return share


class _Expecting:
    """A bound consensus baseline as a worker sees it: the partitions' expectations."""

    def __init__(self, by_label: dict, of_host: Dict[str, str]):
        self.by_label = by_label
        self.of_host = of_host

    def expected_for(self, host) -> Any:
        return self.by_label[self.of_host[host.name]]


def _cpu_now() -> float:
    t = os.times()
    return t.user + t.system


def _split_child(conn, result: RunResult, names: List[str], groups: Dict[str, tuple],
                 members: List[frozenset], ign: Any, of_host: Dict[str, str],
                 expected_facts: Dict[str, dict], fail: Optional[Callable[[], None]]) -> None:
    """A worker of analyze_split: index + partial counts, fleet answers, then drift and
    rules for `names` (a contiguous run of the hosts, in host order)."""
    import pickle
    from .compare import host_drift
    from .compare.baseline import count_hosts
    from .compare.index import HostIndex
    from .diagnose import load_rules
    from .diagnose.engine import diagnose_host
    from .facts import FleetView

    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cpu = {}
    try:
        if fail is not None:
            fail()
        c0 = _cpu_now()
        catalog = result.catalog or {}
        fp_cache: dict = {}
        same: dict = {}
        hosts = result.hosts
        index = {n: HostIndex(hosts[n], catalog, fp_cache, groups.get(n, ("all",)), same)
                 for n in names if hosts[n].audited}
        by_name = sorted(index.values(), key=lambda h: h.name)
        partial = [count_hosts([h for h in by_name if h.name in m], ign) for m in members]
        cpu["index_s"] = round(_cpu_now() - c0, 3)
        c0 = _cpu_now()
        # the fleet answers that are counts (majority votes, element counts, the registry
        # scan), over this worker's hosts only: the rules of its first host ask for them
        rules = load_rules()
        part = FleetView(result, only=names)
        first = next((n for n in names if hosts[n].status != "unreachable"), None)
        if first is not None:
            diagnose_host(hosts[first], result, [], expected_facts.get(first), part, rules)
        cpu["fleet_s"] = round(_cpu_now() - c0, 3)
        conn.send(("counts", partial, part.tallies()))
        del partial
        by_label, tallies = pickle.loads(conn.recv_bytes())
        c0 = _cpu_now()
        # every other fleet answer is computed over the whole run when first asked; the
        # host views built for the partial answers are kept (a view is its host's only)
        fleet = FleetView(result, views=part._views)
        fleet.cache.update(tallies)
        del part
        for label, exp in by_label.items():
            exp.share = _deferred_share(label)
        bases = [_Expecting(by_label, of_host)]
        done = []
        for n in names:
            h = index.get(n)
            drift = host_drift(n, h, bases, ign) if h is not None else None
            done.append((n, drift, diagnose_host(hosts[n], result, drift or [],
                                                 expected_facts.get(n), fleet, rules)))
        cpu["hosts_s"] = round(_cpu_now() - c0, 3)   # with the other fleet answers
        conn.send(("ok", done, cpu))
    except BaseException as exc:  # reported; the parent redoes the analysis
        send_failure(conn, exc)
    finally:
        conn.close()


class _WorkerFailed(Exception):
    pass


def _receive(conns: list, want: str) -> list:
    """One message from each connection (in readiness order), in connection order."""
    from multiprocessing.connection import wait
    got: Dict[int, Any] = {}
    waiting = {id(c): i for i, c in enumerate(conns)}
    pending = list(conns)
    while pending:
        for c in wait(pending):
            i = waiting[id(c)]
            try:
                msg = c.recv()
            except (EOFError, OSError, Exception) as exc:  # died, or sent what does not unpickle
                raise _WorkerFailed(i, f"{type(exc).__name__}: {exc}"[:300])
            if msg[0] != want:
                raise _WorkerFailed(i, str(msg[1]) if msg[0] == "error" else f"unexpected {msg[0]!r}")
            got[i] = msg
            pending.remove(c)
    return [got[i] for i in range(len(conns))]


def analyze_split(result: RunResult, consensus: Any, ignore: Any, expected: Dict[str, dict],
                  processes: int, stats: Optional[dict] = None,
                  fail_in_worker: Optional[Callable[[], None]] = None) -> Optional[List[Finding]]:
    """annotate() then diagnose() with the fleet consensus `consensus` (a
    ConsensusBaseline) as the only baseline, index, counts and per-host work all over
    `processes` forked workers (see above). Fills result.extra as annotate does and
    returns the findings, or None when this process may not fork (the caller then
    analyses here)."""
    import pickle
    from .snapshot import gc_paused
    from .compare import matrix_of, store_extras
    from .compare.baseline import Consensus, merge_counts
    from .compare.drift import Expected
    from .compare.ignore import as_ignore
    from .compare.index import host_groups
    from .diagnose import load_rules
    from .diagnose.engine import sort_findings
    from .facts.fleet import merge_tallies

    stats = stats if stats is not None else {}
    why = why_not_fork()
    if why is not None:
        stats.update(processes=1, reason=why)
        return None
    c_start = time.process_time()
    ign = as_ignore(ignore)
    hosts = result.hosts
    names = list(hosts)
    audited = [n for n in names if hosts[n].audited]
    groups = host_groups(result)
    plan, of_host = consensus.plan([(n, groups.get(n, ("all",))) for n in audited])
    # the host sets counted: each partition's, and every audited host's (the fact matrix);
    # equal sets are counted once (as compare's `counted` memo shares them)
    target_of: Dict[tuple, int] = {}
    for _, hs in plan.values():
        target_of.setdefault(tuple(sorted(hs)), len(target_of))
    everyone = tuple(sorted(audited))
    target_of.setdefault(everyone, len(target_of))
    members = [frozenset(t) for t in target_of]
    load_rules()   # imported once, before the fork
    parts = chunks(names, processes)
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    children = []
    for part in parts:
        p, mine = fork_child(ctx, _split_child,
                             lambda theirs: (theirs, result, part, groups, members, ign, of_host,
                                             expected, fail_in_worker),
                             "fleetaudit-analysis", duplex=True)
        children.append((part, p, mine))
    conns = [c for _, _, c in children]
    fork_cpu = time.process_time() - c_start
    try:
        counts = _receive(conns, "counts")
        c0 = time.process_time()
        with gc_paused():
            merged = {t: merge_counts([m[1][i] for m in counts]) for t, i in target_of.items()}
            tallies = merge_tallies([m[2] for m in counts])
            del counts
            partitions = {}
            for label, (text, hs) in plan.items():
                key = tuple(sorted(hs))
                partitions[label] = Consensus.from_counts(text, key, merged[key],
                                                          consensus.min_hosts, consensus.majority)
            payload = pickle.dumps(({label: Expected(
                source=c.expected.source, values=c.expected.values, keys=c.expected.keys,
                scope=c.expected.scope, undecided=c.expected.undecided)
                for label, c in partitions.items()}, tallies), protocol=pickle.HIGHEST_PROTOCOL)
        merge_cpu = time.process_time() - c0
        for c in conns:
            c.send_bytes(payload)
        c0 = time.process_time()
        with gc_paused():
            all_hosts = Consensus.from_counts("all audited hosts", list(everyone), merged[everyone],
                                              min_hosts=1)
            matrix = matrix_of(all_hosts, audited)
        matrix_cpu = time.process_time() - c0
        done = _receive(conns, "ok")
    except (_WorkerFailed, OSError) as exc:   # OSError: a worker gone before the send
        i, why = exc.args if isinstance(exc, _WorkerFailed) else (0, f"{type(exc).__name__}: {exc}")
        for _, p, c in children:
            if p.is_alive():
                p.kill()
            p.join()
            c.close()
        part, p, _ = children[i]
        stats.update(processes=len(children), split=True,
                     failed=[{"hosts": len(names), "error": why, "exitcode": p.exitcode}])
        return None
    c0 = time.process_time()
    consensus.partitions = partitions
    consensus._of_host = of_host
    drift: Dict[str, list] = {}
    findings: List[Finding] = []
    worker_cpu = []
    with gc_paused():
        for (_, p, c), (_, rows, cpu) in zip(children, done):
            c.close()
            p.join()
            worker_cpu.append(cpu)
            for name, items, found in rows:
                if items is not None:
                    for item in items:
                        s = item.share
                        if type(s) is _Share:
                            item.share = partitions[s.label].share(*s.args)
                    drift[name] = items
                findings.extend(found)
        drift = {n: drift[n] for n in audited if n in drift}
        store_extras(result, drift, [consensus], matrix)
        out = sort_findings(findings, names)
    stats.update(processes=len(children), failed=[], split=True,
                 serial_cpu_s=round(fork_cpu + merge_cpu, 3), matrix_cpu_s=round(matrix_cpu, 3),
                 join_cpu_s=round(time.process_time() - c0, 3), workers_cpu=worker_cpu)
    return out
