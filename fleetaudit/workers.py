"""`--workers N`: collect the shards of one run in N worker processes on one controller.

Each worker runs collect() (its own asyncio loop and SSH connections) on the hosts of
shard i/N (the same hash assignment as `--shard i/N`) and returns its raw RunResult;
the parent joins them in memory (merge.join_results) and the caller analyses once.
Workers report every finished host over a queue, so the parent drives one progress
bar. Workers ignore SIGINT/SIGTERM: the parent's SignalLatch catches the signal and
sets a shared stop event, each worker fires its own Interrupt, and every worker still
returns what it collected (finished hosts, partial hosts, the rest `interrupted`).

Spawned processes (not fork): the parent may hold an asyncio loop, threads and open
sockets that must not be duplicated. A worker's start costs a Python start and the
package import (~0.3 s CPU), so the automatic count keeps small runs in one process.
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
import time
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional, Sequence

from .collect import CollectOptions, Interrupt, ProgressFn, collect
from .merge import join_results
from .models import HostError, HostResult, RunResult
from .shard import split

# Below this many hosts per worker a process costs more than it saves.
MIN_HOSTS_PER_WORKER = 50

_progress_q = None
_stop = None
_reason = None


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


def _init(progress_q, stop, reason) -> None:
    global _progress_q, _stop, _reason
    _progress_q, _stop, _reason = progress_q, stop, reason
    # The parent owns the signals (cli_signals.SignalLatch) and tells us over `stop`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _worker(hosts: list, opts: CollectOptions, index: int) -> tuple:
    interrupt = Interrupt()
    done = threading.Event()

    def watch() -> None:  # the stop event is a multiprocessing primitive: wait in a thread
        while not done.is_set():
            if _stop.wait(0.2):
                interrupt.fire(_reason.value.decode() or "an interrupt")
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def progress(res: HostResult) -> None:
        _progress_q.put((res.name, res.status))

    try:
        result = collect(hosts, opts, progress, interrupt=interrupt)
    finally:
        done.set()
    use = resource.getrusage(resource.RUSAGE_SELF)
    stats = {"worker": index, "pid": os.getpid(), "hosts": len(hosts),
             "cpu_s": round(use.ru_utime + use.ru_stime, 3),
             "max_rss_kb": use.ru_maxrss}
    return result, stats


def _lost(hosts: Sequence, exc: BaseException) -> RunResult:
    err = HostError("protocol", f"worker process failed: {type(exc).__name__}: {exc}"[:500])
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
    ctx = multiprocessing.get_context("spawn")
    progress_q = ctx.Queue()
    stop = ctx.Event()
    reason = ctx.Array("c", 64)
    parts: List[RunResult] = []
    stats: List[dict] = []
    with ProcessPoolExecutor(max_workers=len(shards) or 1, mp_context=ctx, initializer=_init,
                             initargs=(progress_q, stop, reason)) as pool:
        futures = [pool.submit(_worker, list(s), per_worker, i) for i, s in enumerate(shards)]
        while True:
            if interrupt is not None and interrupt.fired and not stop.is_set():
                reason.value = (interrupt.reason or "an interrupt").encode()[:63]
                stop.set()
            try:
                name, status = progress_q.get(timeout=0.1)
            except queue_mod.Empty:
                if all(f.done() for f in futures):
                    break
                continue
            if progress:
                progress(HostResult(name=name, status=status))
        for i, f in enumerate(futures):
            try:
                part, st = f.result()
            except Exception as exc:  # a dead worker loses its hosts, never the run
                part, st = _lost(shards[i], exc), {"worker": i, "hosts": len(shards[i]),
                                                   "error": f"{type(exc).__name__}: {exc}"[:300]}
            parts.append(part)
            stats.append(st)
    # Late progress messages (sent just before a worker returned) still count.
    while progress:
        try:
            name, status = progress_q.get_nowait()
        except queue_mod.Empty:
            break
        progress(HostResult(name=name, status=status))
    result = join_results(parts, [h.name for h in hosts])
    result.run["workers"] = stats
    return result
