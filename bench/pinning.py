"""CPU pinning for benchmarks: the client on one CPU, the lab hosts on another.

The lab's hosts are namespaces on the benchmark machine itself, so their own work (sshd,
the collection script) competes with the measured client for the same cores, and the
client's measured CPU then includes what that competition costs it (caches refilled after
every switch, more context switches, wake-ups spread over more loop iterations). A real
controller's hosts run on their own CPUs. Pinning is the nearest this one machine gets:

  - every process and thread of each host's tree (sshd is the host's PID 1; the sshd of a
    session, its shell and the script's commands are forked from it and inherit the mask)
    is restricted to the host CPUs with sched_setaffinity (`taskset -a -p`);
  - the measured client process gets the client CPUs before it execs (its threads, e.g.
    asyncssh's executor thread, inherit them).

What it cannot do: other users' processes (other fleets, other benchmarks) still run on
every CPU, and network softirq work is done on whichever CPU sends or receives, so the
client's CPU still carries some of the hosts' kernel work (and the other way round).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple


def parse_pin(spec: str) -> Tuple[Set[int], Set[int]]:
    """'0:1' -> ({0}, {1}); '0:1-3' -> ({0}, {1, 2, 3}): client CPUs : host CPUs."""
    try:
        client, hosts = spec.split(":")
        a, b = _cpus(client), _cpus(hosts)
    except ValueError:
        raise ValueError(f"--pin-cpus wants CLIENT:HOSTS, e.g. 0:1, got {spec!r}") from None
    if not a or not b or a & b:
        raise ValueError(f"--pin-cpus {spec!r}: client and host CPUs must be disjoint and non-empty")
    avail = available_cpus()
    if not (a | b) <= avail:
        raise ValueError(f"--pin-cpus {spec!r}: this machine has CPUs {sorted(avail)}")
    return a, b


def _cpus(text: str) -> Set[int]:
    out: Set[int] = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.update(range(int(lo), int(hi) + 1))
        elif part.strip():
            out.add(int(part))
    return out


def available_cpus() -> Set[int]:
    return set(os.sched_getaffinity(0))


def _children_map() -> Dict[int, List[int]]:
    """ppid -> pids, one pass over /proc."""
    kids: Dict[int, List[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_pids(roots: Iterable[int]) -> List[int]:
    """The roots and all their descendants (as they are now)."""
    kids = _children_map()
    out: List[int] = []
    todo = [p for p in roots if p]
    seen: Set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def set_tree_affinity(roots: Sequence[int], cpus: Set[int]) -> int:
    """Restrict every thread of every process in the roots' trees to `cpus`; returns the
    number of threads set. Processes that exit meanwhile are skipped."""
    n = 0
    for pid in tree_pids(roots):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
                n += 1
            except (ProcessLookupError, PermissionError):
                continue
    return n


def tree_affinity(roots: Sequence[int]) -> Dict[str, int]:
    """How many processes of the trees have which mask (a check that pinning held)."""
    counts: Dict[str, int] = {}
    for pid in tree_pids(roots):
        try:
            mask = ",".join(str(c) for c in sorted(os.sched_getaffinity(pid)))
        except OSError:
            continue
        counts[mask] = counts.get(mask, 0) + 1
    return counts


def cpu_busy_jiffies(cpus: Optional[Iterable[int]] = None) -> Dict[int, Tuple[int, int]]:
    """cpu -> (busy, total) jiffies from /proc/stat (for per-CPU busy % over a run)."""
    want = set(cpus) if cpus is not None else None
    out: Dict[int, Tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *vals = line.split()
        cpu = int(name[3:])
        if want is not None and cpu not in want:
            continue
        v = [int(x) for x in vals]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        out[cpu] = (sum(v) - idle, sum(v))
    return out


def busy_pct(before: Dict[int, Tuple[int, int]], after: Dict[int, Tuple[int, int]]) -> Dict[str, float]:
    return {f"cpu{c}": round(100 * (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]), 1)
            for c in sorted(after) if c in before}
