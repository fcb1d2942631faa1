"""`--workers N`: collect the shards of one run in N worker processes on one controller.

Each worker runs collect() (its own asyncio loop and SSH connections) on the hosts of
shard i/N (the same hash assignment as `--shard i/N`) and returns its raw RunResult;
the parent joins them in memory (merge.join_results) and the caller analyses once.
Workers report every finished host over a queue, so the parent drives one progress
bar. Workers ignore SIGINT/SIGTERM: the parent's SignalLatch catches the signal and
sets a shared stop event, each worker fires its own Interrupt, and every worker still
returns what it collected (finished hosts, partial hosts, the rest `interrupted`).

Workers come from a forkserver (spawn where there is none), never a fork of the
parent: the parent may hold an asyncio loop, threads and open sockets that must not be
duplicated. The forkserver imports the collection code once; still, a worker costs a
process and its connections, so the automatic count keeps small runs in one process.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import queue as queue_mod
import resource
import signal
import threading
from typing import List, Optional, Sequence

from .collect import CollectOptions, Interrupt, ProgressFn, collect
from .merge import join_results
from .models import HostError, HostResult, RunResult
from .shard import split

# Below this many hosts per worker a process costs more than it saves.
MIN_HOSTS_PER_WORKER = 50

def auto_workers(hosts: int, cores: Optional[int] = None) -> int:
    """The default: one worker per core, but no worker for fewer than
    MIN_HOSTS_PER_WORKER hosts (1 = the single process, no worker at all)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, hosts // MIN_HOSTS_PER_WORKER))


def can_share(opts: CollectOptions) -> Optional[str]:
    """Why these options cannot go to worker processes, or None when they can.
    A post_exec hook (the gate's --pull) writes into the parent's memory."""
    if opts.post_exec is not None:
        return "the run has a post-exec step (gate --pull) that reports into this process"
    try:
        pickle.dumps(opts)
    except Exception as exc:  # a collector built from a closure
        return f"the collection options cannot be sent to a worker ({type(exc).__name__})"
    return None


def _worker(hosts: list, opts: CollectOptions, index: int, messages, stop, reason) -> None:
    """One worker process: collect `hosts`, report each finished host and then the
    result (or the error) on `messages`."""
    # The parent owns the signals (cli_signals.SignalLatch) and tells us over `stop`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    interrupt = Interrupt()
    done = threading.Event()

    def watch() -> None:
        # `stop` is a lock-free shared byte, polled: a lock shared with the parent (an
        # Event's) could be left held by a worker that exits mid-wait, and the parent's
        # set() would then block for ever.
        while not done.wait(0.2):
            if stop.value:
                interrupt.fire(bytes(reason).rstrip(b"\0").decode() or "an interrupt")
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = collect(hosts, opts, lambda res: messages.put(("host", res.name, res.status)),
                         interrupt=interrupt)
    except BaseException as exc:  # reported, never a silent hole in the run
        messages.put(("failed", index, f"{type(exc).__name__}: {exc}"[:500]))
        raise
    finally:
        done.set()
        watcher.join()
    use = resource.getrusage(resource.RUSAGE_SELF)
    messages.put(("done", index, result, {
        "worker": index, "pid": os.getpid(), "hosts": len(hosts),
        "cpu_s": round(use.ru_utime + use.ru_stime, 3), "max_rss_kb": use.ru_maxrss}))


def _context():
    """forkserver: one clean server process (no loop, no threads, no sockets of ours)
    imports the collection modules once and forks each worker from there, so N workers
    pay the import once instead of N times; spawn where there is no forkserver."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload(["fleetaudit.workers"])
    return ctx


def _lost(hosts: Sequence, why: str) -> RunResult:
    err = HostError("protocol", f"worker process failed: {why}"[:500])
    return RunResult(run={}, hosts={h.name: HostResult(name=h.name, address=h.address,
                                                       status="unreachable", error=err)
                                    for h in hosts})


def collect_in_workers(hosts: Sequence, opts: CollectOptions,
                       progress: Optional[ProgressFn] = None,
                       interrupt: Optional[Interrupt] = None, *, workers: int) -> RunResult:
    """collect() over `workers` processes; run.workers lists each one's CPU and peak RSS.
    `opts.concurrency` is the controller's total: each worker gets its share."""
    shards = [s for s in split(hosts, workers) if s]
    per_worker = CollectOptions(**{**opts.__dict__,
                                   "concurrency": max(1, math.ceil(opts.concurrency / max(1, len(shards))))})
    ctx = _context()
    messages = ctx.Queue()
    stop = ctx.RawValue("b", 0)
    reason = ctx.RawArray("c", 64)
    procs = [ctx.Process(target=_worker, args=(list(part), per_worker, i, messages, stop, reason),
                         name=f"fleetaudit-worker-{i}", daemon=True)
             for i, part in enumerate(shards)]
    for p in procs:
        p.start()
    parts: List[RunResult] = []
    stats: List[dict] = []
    finished = set()
    failures = {}
    while len(finished) < len(procs):
        if interrupt is not None and interrupt.fired and not stop.value:
            reason.value = (interrupt.reason or "an interrupt").encode()[:63]
            stop.value = 1
        try:
            msg = messages.get(timeout=0.2)
        except queue_mod.Empty:
            for i, p in enumerate(procs):  # a worker that died without a word
                if i not in finished and not p.is_alive() and p.exitcode not in (None, 0):
                    finished.add(i)
                    failures.setdefault(i, f"exit code {p.exitcode}")
            continue
        if msg[0] == "host":
            if progress:
                progress(HostResult(name=msg[1], status=msg[2]))
        elif msg[0] == "done":
            finished.add(msg[1])
            parts.append(msg[2])
            stats.append(msg[3])
        else:  # "failed"
            failures[msg[1]] = msg[2]
    for i, why in sorted(failures.items()):
        if not any(st.get("worker") == i for st in stats):
            parts.append(_lost(shards[i], why))
            stats.append({"worker": i, "hosts": len(shards[i]), "error": why})
    for p in procs:
        p.join(timeout=10)
    stats.sort(key=lambda st: st["worker"])
    result = join_results(parts, [h.name for h in hosts])
    result.run["workers"] = stats
    return result
