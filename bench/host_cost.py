"""What the composite script costs each HOST, next to what the audit costs the client.

    .venv/bin/python -m bench.host_cost                      # 4 lab hosts, 7 reps, vs BASELINE_REF
    .venv/bin/python -m bench.host_cost --reps 15 --parts    # + where the ms go, per part
    .venv/bin/python -m bench.host_cost --quick              # 2 hosts, 1 rep (CI smoke)

Builds a small lab fleet (state dir .lab/hostcost-bench, torn down afterwards even on
failure): a docker host, a docker host reached as a sudo user (become), an sshd-only
host (docker CLI and dockerd installed, no daemon running) and a busybox host. For two
versions of the code, this worktree ("after") and BASELINE_REF ("before", exported with
`git archive`), interleaved and in rotating order per repetition (the machine's load
hits both alike), it measures:

  script   the composite script of that version, sent over OpenSSH to `sh -c 'sh -s;
           read /proc/$$/stat'`: the outer shell's cutime+cstime is the CPU of the
           script's whole process tree on the host (sudo and its shell included);
           dockerd/containerd CPU during the run is reported apart (daemon_ms).
  audit    `fleetaudit audit` of that version over the fleet: client CPU per host (the
           process tree, rusage) and host CPU per host (each host's sshd PID 1 tree: the
           SSH session, sshd's own crypto included, plus its docker daemons).
  parts    (--parts) one docker host, the script with every part marker also printing
           the shell's CPU ticks: the ms between one marker and the next of the same
           process, i.e. what each part costs (a part run inside $(...) is counted in
           the part before it: `docker/version` holds `docker info`).

Prints a table and writes bench/results/host-cost-<date>.json (-quick.json in quick mode).
Figures: docs/benchmarks.md, "Host CPU per host".
"""
from __future__ import annotations

import argparse
import collections
import datetime as _dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import run_measured  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# The last commit before the host-cost work (issue 11): "before" in the figures.
BASELINE_REF = "0c3c374"
HZ = os.sysconf("SC_CLK_TCK")
NONCE = "b3nchn0nce"
# The outer shell prints its own /proc stat after the script: fields after the ")".
WRAP = "sh -c 'sh -s; read -r l < /proc/$$/stat; printf \"\\n@@HOSTCPU %s\\n\" \"${l##*)}\"'"
TARGET_MS = 150

# Run inside the measured version's tree: print its composite script (optionally with
# per-part CPU marks, see --parts).
_BUILD = r"""
import sys
import fleetaudit.script as S
from fleetaudit.collectors import REGISTRY
if sys.argv[2] == "1":
    PROF = ("fa_prof() { read -r FA_PS </proc/self/stat; FA_PP=${FA_PS%% *}; set -- \"$1\" ${FA_PS##*)}; "
            "printf '\\n@@PROF %s %s %s\\n' \"$FA_PP\" \"$1\" \"$(( ${13} + ${14} + ${15} + ${16} ))\"; }\n")
    S.PREAMBLE = S.PREAMBLE.replace("fa_mark() {", PROF + "fa_mark() { case $1 in P|S|E) fa_prof \"$1:$2\";; esac;")
sys.stdout.write(S.build_script(REGISTRY, sys.argv[3], S.ScriptOptions(become=sys.argv[1] == "1", command_timeout_s=60)))
"""


def log(msg: str) -> None:
    print(f"host_cost: {msg}", file=sys.stderr, flush=True)


def export_tree(ref: str, dest: Path) -> Path:
    """The fleetaudit package as it was at ref (git archive), for the "before" runs."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "fleetaudit"],
                             capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True, timeout=120)
    return dest


def build_script(tree: Path, become: bool, profile: bool = False) -> str:
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, "-c", _BUILD, "1" if become else "0",
                           "1" if profile else "0", NONCE],
                          env=env, cwd=str(tree), capture_output=True, text=True, check=True,
                          timeout=120).stdout  # cwd: `python -c` puts it first on sys.path


def _stat_ticks(pid: int, children: bool = True) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(x) for x in f[11:15 if children else 13])


def _descendants(pid: int) -> List[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def daemon_ticks(init_pid: Optional[int]) -> int:
    """CPU ticks of the host's docker daemons (own time: they are never reaped)."""
    if not init_pid:
        return 0
    return sum(_stat_ticks(p, children=False) or 0 for p in _descendants(init_pid)
               if _comm(p).startswith(("dockerd", "containerd")))


def run_script(fleet, name: str, script: str) -> Dict[str, float]:
    h = fleet.hosts[name]
    d0 = daemon_ticks(h.init_pid)
    p = subprocess.run(fleet.ssh_argv(name, WRAP), input=script, capture_output=True,
                       text=True, timeout=120)
    d1 = daemon_ticks(h.init_pid)
    tail = p.stdout.rsplit("@@HOSTCPU ", 1)
    if len(tail) != 2 or f"@@{NONCE}:E:" not in p.stdout:
        raise RuntimeError(f"{name}: the script did not complete (rc {p.returncode}): {p.stderr[-300:]}")
    f = tail[1].split()
    # cutime + cstime of the outer shell: the script's whole tree (f[0] is the state)
    return {"script_ms": (int(f[13]) + int(f[14])) * 1000 / HZ, "daemon_ms": (d1 - d0) * 1000 / HZ}


def run_audit(fleet, tree: Path, inventory: str, work: Path, label: str) -> Dict[str, float]:
    hosts = [h for h in fleet.hosts.values()]
    inits = {h.name: h.init_pid for h in hosts}
    h0 = {n: (_stat_ticks(p) or 0) + daemon_ticks(p) for n, p in inits.items()}
    # the audit records its run as users' audits do, but into this bench's work dir, not
    # the history of whoever runs the bench
    env = dict(os.environ, PYTHONPATH=str(tree), FLEETAUDIT_HISTORY=str(work / "history.sqlite"))
    m = run_measured([sys.executable, "-m", "fleetaudit.cli", "audit", "-i", inventory,
                      "--known-hosts", fleet.known_hosts_path, "--json", str(work / f"{label}.json")],
                     f"hostcost-{label}", stdout_path=str(work / f"{label}.out"),
                     stderr_path=str(work / f"{label}.err"), env=env, cwd=str(work), timeout=300)
    # sshd PID 1 reaps the session a moment after the client is gone
    for _ in range(50):
        if all(not any(_comm(k) in ("sshd", "sshd-session", "sh", "bash", "sudo")
                       for k in _descendants(p) if p) for p in inits.values() if p):
            break
        subprocess.run(["sleep", "0.1"])
    h1 = {n: (_stat_ticks(p) or 0) + daemon_ticks(p) for n, p in inits.items()}
    doc = json.loads((work / f"{label}.json").read_text())
    ok = sum(1 for h in doc["hosts"].values() if h["status"] == "ok")
    n = len(hosts)
    return {"ok": ok, "client_ms_per_host": m.cpu_s * 1000 / n,
            "host_ms_per_host": sum(h1[k] - h0[k] for k in h1) * 1000 / HZ / n,
            "wall_s": m.wall_s}


def profile_parts(fleet, name: str, script: str, reps: int) -> List[tuple]:
    """[(ms per run, "collector/part")], largest first."""
    acc: Dict[str, int] = collections.defaultdict(int)
    for _ in range(reps):
        out = subprocess.run(fleet.ssh_argv(name, "sh -s"), input=script, capture_output=True,
                             text=True, timeout=120).stdout
        prev: Dict[str, tuple] = {}
        section = "-"
        for line in out.splitlines():
            if not line.startswith("@@PROF "):
                continue
            _, pid, label, ticks = line.split(" ", 3)
            if label.startswith("S:"):
                section = label[2:]
            if pid in prev:
                acc[prev[pid][0]] += int(ticks) - prev[pid][1]
            what = "(section start)" if label.startswith("S:") else label[2:]
            prev[pid] = (f"{section}/{what}", int(ticks))
    rows = sorted(((v * 1000 / HZ / reps, k) for k, v in acc.items()), reverse=True)
    return [(round(ms, 1), k) for ms, k in rows if ms > 0]


def specs(quick: bool):
    from lab.fleet import HostSpec
    if quick:
        return [HostSpec("dock"), HostSpec("bbox", kind="busybox")]
    return [HostSpec("dock"), HostSpec("become", users=["deploy"], sudo={"deploy": "nopasswd"},
                                        login_user="deploy"),
            HostSpec("nodaemon", kind="ssh"), HostSpec("bbox", kind="busybox")]


def _med(xs):
    return round(statistics.median(xs), 1) if xs else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--baseline", default=BASELINE_REF, help="git ref of the 'before' code")
    ap.add_argument("--quick", action="store_true", help="2 hosts, 1 rep, no audit runs")
    ap.add_argument("--parts", action="store_true", help="per-part breakdown on the docker host")
    ap.add_argument("--state-dir", default=str(ROOT / ".lab" / "hostcost-bench"))
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("host_cost: needs root (the lab fleet)", file=sys.stderr)
        return 2
    reps = 1 if args.quick else args.reps
    from lab.fleet import Fleet

    work = Path(tempfile.mkdtemp(prefix="fa-hostcost-"))
    # "after" is a copy taken now: edits to the worktree during the run do not leak in.
    shutil.copytree(ROOT / "fleetaudit", work / "after" / "fleetaudit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    trees = {"before": export_tree(args.baseline, work / "before"), "after": work / "after"}
    fleet = Fleet(args.state_dir)
    result: dict = {"baseline": args.baseline, "reps": reps, "hz": HZ, "hosts": {}, "audit": {},
                    "target_ms": TARGET_MS}
    try:
        log("building the lab fleet")
        fleet.up(specs(args.quick), services=False)  # no registry/proxy: not measured
        names = list(fleet.hosts)
        result["kinds"] = {n: ("docker+become" if fleet.hosts[n].become else fleet.hosts[n].kind)
                           for n in names}
        scripts = {(v, n): build_script(t, fleet.hosts[n].become) for v, t in trees.items() for n in names}
        samples: dict = collections.defaultdict(list)
        inventory = fleet.write_inventory(work / "inventory.ini", fmt="ini")
        order = list(trees)
        for rep in range(reps):
            log(f"rep {rep + 1}/{reps}")
            for v in order:
                for n in names:
                    samples[(v, n)].append(run_script(fleet, n, scripts[(v, n)]))
                if not args.quick:
                    samples[(v, "audit")].append(run_audit(fleet, trees[v], inventory, work, f"{v}-{rep}"))
            order.reverse()
        for n in names:
            row = result["hosts"].setdefault(n, {"kind": result["kinds"][n]})
            for v in trees:
                row[v] = {k: _med([s[k] for s in samples[(v, n)]]) for k in ("script_ms", "daemon_ms")}
        if not args.quick:
            for v in trees:
                rs = samples[(v, "audit")]
                result["audit"][v] = {k: _med([r[k] for r in rs])
                                      for k in ("ok", "client_ms_per_host", "host_ms_per_host", "wall_s")}
        if args.parts:
            host = "dock"
            result["parts"] = {v: profile_parts(fleet, host, build_script(t, False, profile=True), reps)
                               for v, t in trees.items()}
    finally:
        fleet.down()
        shutil.rmtree(work, ignore_errors=True)

    print_table(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / (
        f"host-cost-{_dt.date.today().isoformat()}{'-quick' if args.quick else ''}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {out}")
    return 0


def print_table(r: dict) -> None:
    print(f"host CPU of the composite script per host and run (median of {r['reps']}; "
          f"before = {r['baseline']}, target {r['target_ms']} ms)")
    print(f"{'host':10} {'kind':14} {'before_ms':>10} {'after_ms':>9} {'daemon_before':>14} {'daemon_after':>13}")
    for n, row in r["hosts"].items():
        print(f"{n:10} {row['kind']:14} {row['before']['script_ms']:>10} {row['after']['script_ms']:>9} "
              f"{row['before']['daemon_ms']:>14} {row['after']['daemon_ms']:>13}")
    if r["audit"]:
        print("fleetaudit audit over the same hosts, per host (host: sshd session tree + daemons)")
        print(f"{'version':8} {'ok':>3} {'client_ms':>10} {'host_ms':>8} {'wall_s':>7}")
        for v, a in r["audit"].items():
            print(f"{v:8} {a['ok']:>3} {a['client_ms_per_host']:>10} {a['host_ms_per_host']:>8} {a['wall_s']:>7}")
    for v, rows in (r.get("parts") or {}).items():
        print(f"parts ({v}, docker host), ms per run:")
        for ms, k in rows[:25]:
            print(f"  {ms:6.1f}  {k}")


if __name__ == "__main__":
    sys.exit(main())
