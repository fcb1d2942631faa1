"""Measuring a command the same way for every contender: wall time, client CPU, peak RSS.

CPU is taken twice:
- `rusage`: os.wait4 on the child, i.e. user+sys of the child and every descendant it
  waited for (what `resource.getrusage(RUSAGE_CHILDREN)` deltas would show);
- `cgroup`: a cpuacct cgroup (v1) the child enters before exec, so processes that
  daemonize and are never waited for (OpenSSH ControlPersist masters started by
  Ansible) are counted too. Used as "client CPU" when available.

Peak RSS is the child's ru_maxrss (the largest single process of the tree).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
_HZ = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    argv0: str
    rc: int
    wall_s: float
    user_s: float                 # rusage of the child tree
    sys_s: float
    maxrss_mb: float
    cgroup_cpu_s: Optional[float]  # cpuacct, daemonized helpers included
    cgroup_leftover: int = 0       # processes still in the cgroup after the child exited
    timed_out: bool = False
    machine_busy_pct: Optional[float] = None  # all cores, all processes, during the run
    loadavg_before: Optional[float] = None
    host_cpu_s: Optional[float] = None        # test hosts' sshd trees (filled by the caller)
    client_cpus: Optional[List[int]] = None   # the CPUs the client was pinned to (None: all)
    cpu_busy_pct: Optional[Dict[str, float]] = None  # per CPU, all processes, during the run
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        """Client CPU: the cgroup figure when there is one, else rusage."""
        return self.cgroup_cpu_s if self.cgroup_cpu_s is not None else self.user_s + self.sys_s

    def to_json(self) -> dict:
        d = asdict(self)
        d["cpu_s"] = round(self.cpu_s, 3)
        return d


class CpuCgroup:
    """A throwaway cpuacct cgroup for one measured command (None when unavailable)."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, label: str) -> Optional["CpuCgroup"]:
        if not (CPUACCT / "cgroup.procs").exists():
            return None
        path = CPUACCT / f"fleetaudit-bench-{os.getpid()}-{label}"
        try:
            path.mkdir(exist_ok=True)
        except OSError:
            return None
        return cls(path)

    def enter(self) -> None:  # runs in the child between fork and exec
        with open(self.path / "cgroup.procs", "w") as fh:
            fh.write("0")

    def usage_s(self) -> Optional[float]:
        try:
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None

    def pids(self) -> List[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def kill_leftovers(self) -> int:
        """SIGKILL what the measured command left behind (by pid: all of them are its
        own descendants), then remove the cgroup."""
        left = self.pids()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            self.path.rmdir()
        except OSError:
            pass
        return len(left)


def _busy_jiffies() -> tuple:
    with open("/proc/stat") as fh:
        vals = [int(x) for x in fh.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def run_measured(argv: Sequence[str], label: str, *, stdout_path: str, stderr_path: str,
                 env: Optional[dict] = None, cwd: Optional[str] = None,
                 timeout: float = 3600.0, before_kill=None,
                 cpus: Optional[Sequence[int]] = None) -> Measured:
    """Run argv to completion and measure it. before_kill() runs after the child exited
    and before leftover processes in its cgroup are killed (e.g. `ssh -O exit`). `cpus`:
    pin the child (and so its threads and children) to these CPUs (bench/pinning.py)."""
    from bench.pinning import busy_pct, cpu_busy_jiffies
    cg = CpuCgroup.create(label)
    la = loadavg()
    b0, t0j = _busy_jiffies()
    per0 = cpu_busy_jiffies()

    def preexec():
        if cg:
            cg.enter()
        if cpus:
            os.sched_setaffinity(0, set(cpus))
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, preexec_fn=preexec if (cg or cpus) else None)
        timed_out = False
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline and not timed_out:
                timed_out = True
                proc.kill()
            time.sleep(0.02)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    b1, t1j = _busy_jiffies()
    per1 = cpu_busy_jiffies()
    cpu_cg = cg.usage_s() if cg else None
    if before_kill:
        before_kill()
    leftover = cg.kill_leftovers() if cg else 0
    return Measured(
        argv0=os.path.basename(argv[0]) if argv else "", rc=proc.returncode,
        wall_s=round(wall, 3), user_s=round(ru.ru_utime, 3), sys_s=round(ru.ru_stime, 3),
        maxrss_mb=round(ru.ru_maxrss / 1024, 1),
        cgroup_cpu_s=round(cpu_cg, 3) if cpu_cg is not None else None,
        cgroup_leftover=leftover, timed_out=timed_out,
        machine_busy_pct=round(100 * (b1 - b0) / max(1, t1j - t0j), 1),
        loadavg_before=la, client_cpus=sorted(cpus) if cpus else None,
        cpu_busy_pct=busy_pct(per0, per1),
    )


def proc_tree_cpu_s(pids: Sequence[int]) -> Optional[float]:
    """utime+stime+cutime+cstime of these processes (their reaped descendants included)."""
    total = 0
    seen = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3): utime is field 14 -> index 11
        total += sum(int(x) for x in fields[11:15])
        seen += 1
    return total / _HZ if seen else None
