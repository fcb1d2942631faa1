"""Fleet benchmark: `fleetaudit audit` against the SSH floor and Ansible, same fleet, same run.

    .venv/bin/python -m bench.fleet_bench                       # N = 50, 200, 500; median of 3
    .venv/bin/python -m bench.fleet_bench --sizes 200 --reps 5
    .venv/bin/python -m bench.fleet_bench --quick               # N = 20, 1 rep, no Ansible (CI smoke)

For each N it builds an sshd-only namespace fleet (lab/, state dir .lab/bench-N, torn
down afterwards even on failure) and measures, on that fleet, as separate processes:

  audit    `fleetaudit audit -i INVENTORY --json --html` end to end (collect, parse,
           compare, diagnose, write the snapshot twice (--json and --reports-dir) and HTML)
  floor    plain asyncssh (bench/floor.py): one connection + one exec of the SAME
           composite script per host (fleetaudit.script.build_script over the collector
           registry), output discarded, same concurrency
  ansible  `ansible all -m shell -a SCRIPT -f 50` from bench/.venv-ansible (created here;
           pip install ansible-core), pipelining on, OpenSSH ControlPersist as shipped

Contenders run interleaved and in a rotating order per repetition so drift in the
machine's load hits all of them alike. Needs root (the lab). Writes
bench/results/fleet-<date>.json (-quick.json in quick mode) and prints a table.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.measure import Measured, loadavg, proc_tree_cpu_s, run_measured  # noqa: E402

ANSIBLE_VENV = ROOT / "bench" / ".venv-ansible"
RESULTS = ROOT / "bench" / "results"
CONTENDERS = ("audit", "floor", "ansible")

TARGETS = {  # issue 4, at the largest N measured (500 by default)
    "audit_cpu_vs_floor_max": 2.0,
    "audit_wall_vs_floor_max": 1.2,
    "ansible_cpu_vs_audit_min": 20.0,
    "ansible_wall_vs_audit_min": 5.0,
    "audit_peak_rss_mb_max": 250.0,
}


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ----- Ansible -------------------------------------------------------------------

def ensure_ansible(allow_install: bool = True) -> tuple:
    """(path to the ansible binary, version) or (None, reason)."""
    exe = ANSIBLE_VENV / "bin" / "ansible"
    if not exe.exists():
        if not allow_install:
            return None, "not installed (bench/.venv-ansible missing)"
        log("creating bench/.venv-ansible and installing ansible-core (pip)")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible-core"],
                           check=True, capture_output=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            return None, f"not installable here ({type(exc).__name__}: {detail.decode(errors='replace')[-300:].strip()})"
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
        version = out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout else None
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"not runnable ({exc})"
    if not version:
        return None, "not runnable (ansible --version failed)"
    return str(exe), version


def ansible_env(work: Path, known_hosts: str) -> dict:
    cfg = work / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(cfg),            # no ansible.cfg of the machine or the cwd
        "ANSIBLE_PIPELINING": "True",          # one ssh exec per host (its fastest setup)
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",  # no interpreter discovery round trip
        # Ansible's shipped ssh_args, plus the fleet's known_hosts, checked strictly.
        "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist=60s "
                            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_TIMEOUT": "60",
    })
    return env


def _close_control_masters(cp_dir: Path) -> None:
    """End OpenSSH ControlPersist masters the way OpenSSH offers: `ssh -O exit`."""
    if not cp_dir.is_dir():
        return
    for sock in cp_dir.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench-master"],
                       capture_output=True, timeout=10)


# ----- one fleet -----------------------------------------------------------------

class FleetRun:
    def __init__(self, n: int, state: Path, concurrency: int, forks: int):
        self.n = n
        self.state = state
        self.concurrency = concurrency
        self.forks = forks
        self.fleet = None
        self.work = Path(tempfile.mkdtemp(prefix=f"fleetaudit-bench-{n}-"))
        self.client_cpus = None  # set (bench/pinning.py): measured clients run on these CPUs

    def up(self) -> float:
        from lab.fleet import Fleet, HostSpec
        if (self.state / "lab.json").exists():
            log(f"tearing down a previous fleet in {self.state}")
            Fleet(str(self.state)).down()
        self.fleet = Fleet(str(self.state))
        specs = [HostSpec(f"h{i:04d}", kind="ssh", groups=["bench"]) for i in range(1, self.n + 1)]
        t0 = time.monotonic()
        self.fleet.up(specs, services=False, timeout=max(120.0, self.n * 0.5),
                      progress=lambda m: log(f"lab: {m}"))
        took = time.monotonic() - t0
        self.inv_yml = self.state / "inventory.yml"
        self.inv_ini = self.state / "inventory.ini"
        self.fleet.write_inventory(self.inv_yml, "native")
        self.fleet.write_inventory(self.inv_ini, "ini")
        self.key = self.fleet.key_path
        self.known_hosts = self.fleet.known_hosts_path
        hosts = [{"address": h.address, "port": h.port, "user": h.user} for h in self.fleet.hosts.values()]
        self.hosts_json = self.work / "hosts.json"
        self.hosts_json.write_text(json.dumps(hosts))
        self.init_pids = [h.init_pid for h in self.fleet.hosts.values() if h.init_pid]
        return took

    def down(self) -> None:
        if self.fleet is not None:
            try:
                self.fleet.down()
            except Exception as exc:  # report, but never mask the original error
                log(f"teardown of {self.state} failed: {exc}")
        shutil.rmtree(self.work, ignore_errors=True)

    def _host_cpu(self) -> Optional[float]:
        return proc_tree_cpu_s(self.init_pids)

    def _measure(self, label, argv, rep, **kw) -> Measured:
        kw.setdefault("cpus", self.client_cpus)
        h0 = self._host_cpu()
        m = run_measured(argv, f"{self.n}-{label}-{rep}",
                         stdout_path=str(self.work / f"{label}-{rep}.out"),
                         stderr_path=str(self.work / f"{label}-{rep}.err"), **kw)
        time.sleep(0.3)  # let the hosts' sshd reap their session processes
        h1 = self._host_cpu()
        if h0 is not None and h1 is not None:
            m.host_cpu_s = round(h1 - h0, 3)
        return m

    def _tail(self, label, rep, which="err", size=800) -> str:
        p = self.work / f"{label}-{rep}.{which}"
        try:
            return p.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def audit(self, rep: int, label: str = "audit", pythonpath: Optional[str] = None) -> Measured:
        """`fleetaudit audit` end to end; with pythonpath, fleetaudit is imported from that
        source tree instead (a variant: e.g. a patch measured against main in the same run)."""
        # Measure the checkout the bench lives in (or the variant's), not whatever tree the
        # venv's editable install points at.
        env = dict(os.environ)
        src = pythonpath or str(ROOT)
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # recorded as users' audits are, but not into the history of whoever runs the bench
        env["FLEETAUDIT_HISTORY"] = str(self.work / "history.sqlite")
        exe = Path(sys.executable).with_name("fleetaudit")
        argv = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "fleetaudit.cli"]),
                "audit", "-i", str(self.inv_yml), "--known-hosts", self.known_hosts,
                "--json", str(self.work / f"{label}-{rep}.json"),
                "--html", str(self.work / f"{label}-{rep}.html"),
                "--reports-dir", str(self.work / "reports"), "--quiet",
                "--concurrency", str(self.concurrency)]
        m = self._measure(label, argv, rep, cwd=str(ROOT), env=env)
        try:
            snap = json.loads((self.work / f"{label}-{rep}.json").read_text())
            hosts = snap.get("hosts", {})
            statuses: Dict[str, int] = {}
            for h in hosts.values():
                statuses[h.get("status")] = statuses.get(h.get("status"), 0) + 1
            sizes = sorted(h.get("bytes_received") or 0 for h in hosts.values() if h.get("status") != "unreachable")
            m.extra.update(
                ok=statuses.get("ok", 0), statuses=statuses,
                bytes_per_host=statuses and sizes and int(statistics.median(sizes)) or 0,
                bytes_total=sum(sizes), findings=len(snap.get("findings", [])),
                json_bytes=(self.work / f"{label}-{rep}.json").stat().st_size,
                html_bytes=(self.work / f"{label}-{rep}.html").stat().st_size,
                errors=sorted({(h.get("error") or {}).get("message", "") for h in hosts.values()
                               if h.get("error")})[:5],
            )
        except (OSError, ValueError) as exc:
            m.extra.update(ok=0, error=f"no snapshot: {exc}; stderr: {self._tail(label, rep)}")
        return m

    def floor(self, rep: int, script_path: Path, ciphers: str = "", label: str = "floor") -> Measured:
        argv = [sys.executable, "-m", "bench.floor", "--hosts", str(self.hosts_json),
                "--script", str(script_path), "--key", self.key, "--known-hosts", self.known_hosts,
                "--concurrency", str(self.concurrency)] + (["--ciphers", ciphers] if ciphers else [])
        m = self._measure(label, argv, rep, cwd=str(ROOT))
        try:
            out = json.loads((self.work / f"{label}-{rep}.out").read_text().strip().splitlines()[-1])
            m.extra.update(ok=out["ok"], bytes_per_host=out["bytes"] // max(1, out["ok"]),
                           bytes_total=out["bytes"], errors=list(out.get("errors", {}))[:5])
        except (OSError, ValueError, IndexError, KeyError) as exc:
            m.extra.update(ok=0, error=f"no result: {exc}; stderr: {self._tail(label, rep)}")
        return m

    def ansible(self, rep: int, exe: str, script: str, module: str) -> Measured:
        work = self.work / f"ansible-{rep}"
        (work / "cp").mkdir(parents=True, exist_ok=True)
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        env = ansible_env(work, self.known_hosts)
        # JSON args (no k=v parsing of the script) inside a raw block (no Jinja templating
        # of the script's `{{json .}}` Go templates).
        args = json.dumps({"cmd" if module == "shell" else "_raw_params":
                           "{% raw %}" + script + "{% endraw %}"})
        argv = [exe, "all", "-i", str(self.inv_ini), "-m", module, "-a", args, "-f", str(self.forks)]
        m = self._measure("ansible", argv, rep, env=env, cwd=str(work),
                          before_kill=lambda: _close_control_masters(work / "cp"))
        try:
            text = (self.work / f"ansible-{rep}.out").read_text(errors="replace")
            ok = sum(1 for line in text.splitlines() if " | CHANGED | rc=0 >>" in line or " | SUCCESS | rc=0 >>" in line)
            bad = sum(1 for line in text.splitlines() if " | FAILED" in line or " | UNREACHABLE" in line)
            m.extra.update(ok=ok, failed=bad, stdout_bytes=len(text),
                           markers_seen=text.count("@@"))
            if not ok:
                m.extra["error"] = self._tail("ansible", rep) or text[-800:]
        except OSError as exc:
            m.extra.update(ok=0, error=str(exc))
        return m


# ----- summary -------------------------------------------------------------------

def _median(runs: List[dict], key: str, extra: bool = False):
    vals = [(r["extra"] if extra else r).get(key) for r in runs]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return round(statistics.median(vals), 3) if vals else None


def summarize(runs: Dict[str, List[dict]], n: int) -> dict:
    med = {}
    for name, rs in runs.items():
        if not rs or isinstance(rs, dict):
            continue
        med[name] = {
            "wall_s": _median(rs, "wall_s"), "cpu_s": _median(rs, "cpu_s"),
            "user_s": _median(rs, "user_s"), "sys_s": _median(rs, "sys_s"),
            "maxrss_mb": _median(rs, "maxrss_mb"), "host_cpu_s": _median(rs, "host_cpu_s"),
            "ok": min(r["extra"].get("ok", 0) for r in rs),
            "bytes_per_host": _median(rs, "bytes_per_host", extra=True),
            "busy_pct": _median(rs, "machine_busy_pct"), "loadavg_before": _median(rs, "loadavg_before"),
        }
        med[name]["cpu_ms_per_host"] = round(1000 * med[name]["cpu_s"] / n, 2) if med[name]["cpu_s"] else None
    ratios = {}
    a, f, x = med.get("audit"), med.get("floor"), med.get("ansible")
    if a and f and f["cpu_s"] and f["wall_s"]:
        ratios["audit_cpu_vs_floor"] = round(a["cpu_s"] / f["cpu_s"], 2)
        ratios["audit_wall_vs_floor"] = round(a["wall_s"] / f["wall_s"], 2)
    if a and x and a["cpu_s"] and a["wall_s"]:
        ratios["ansible_cpu_vs_audit"] = round(x["cpu_s"] / a["cpu_s"], 1)
        ratios["ansible_wall_vs_audit"] = round(x["wall_s"] / a["wall_s"], 1)
    if f and x and f["cpu_s"] and f["wall_s"]:
        ratios["ansible_cpu_vs_floor"] = round(x["cpu_s"] / f["cpu_s"], 1)
        ratios["ansible_wall_vs_floor"] = round(x["wall_s"] / f["wall_s"], 1)
    for name, v in med.items():  # variants: audit:LABEL
        if name.startswith("audit:") and f and f["cpu_s"] and f["wall_s"] and v["cpu_s"]:
            ratios[f"{name}_cpu_vs_floor"] = round(v["cpu_s"] / f["cpu_s"], 2)
            ratios[f"{name}_wall_vs_floor"] = round(v["wall_s"] / f["wall_s"], 2)
            if x and v["wall_s"]:
                ratios[f"ansible_cpu_vs_{name}"] = round(x["cpu_s"] / v["cpu_s"], 1)
                ratios[f"ansible_wall_vs_{name}"] = round(x["wall_s"] / v["wall_s"], 1)
    return {"median": med, "ratios": ratios}


def evaluate_targets(sizes: Dict[str, dict]) -> dict:
    if not sizes:
        return {}
    n = max(sizes, key=int)
    s = sizes[n]
    r, med = s.get("ratios", {}), s.get("median", {})
    rss = (med.get("audit") or {}).get("maxrss_mb")

    def check(value, limit, kind):
        if value is None:
            return {"value": None, "target": limit, "met": None}
        return {"value": value, "target": limit, "met": value <= limit if kind == "max" else value >= limit}

    return {
        "at_hosts": int(n),
        "audit_cpu_vs_floor": check(r.get("audit_cpu_vs_floor"), TARGETS["audit_cpu_vs_floor_max"], "max"),
        "audit_wall_vs_floor": check(r.get("audit_wall_vs_floor"), TARGETS["audit_wall_vs_floor_max"], "max"),
        "ansible_cpu_vs_audit": check(r.get("ansible_cpu_vs_audit"), TARGETS["ansible_cpu_vs_audit_min"], "min"),
        "ansible_wall_vs_audit": check(r.get("ansible_wall_vs_audit"), TARGETS["ansible_wall_vs_audit_min"], "min"),
        "audit_peak_rss_mb": check(rss, TARGETS["audit_peak_rss_mb_max"], "max"),
    }


def format_table(doc: dict) -> str:
    lines = []
    hdr = (f"{'hosts':>5}  {'tool':<8} {'ok':>5} {'wall s':>8} {'CPU s':>7} {'ms/host':>8} "
           f"{'RSS MB':>7} {'B/host':>7} {'host CPU s':>10} {'wall/floor':>10} {'CPU/floor':>9} "
           f"{'ans/wall':>8} {'ans/CPU':>8}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for n, s in sorted(doc["sizes"].items(), key=lambda kv: int(kv[0])):
        med = s.get("median", {})
        for name in CONTENDERS + tuple(k for k in med if k not in CONTENDERS):
            m = med.get(name)
            if m is None:
                reason = (s.get("skipped") or {}).get(name) or "not measured"
                lines.append(f"{n:>5}  {name:<8} skipped: {reason}")
                continue
            f = med.get("floor")
            x = med.get("ansible")
            wf = f"{m['wall_s'] / f['wall_s']:.2f}x" if f and f["wall_s"] else "-"
            cf = f"{m['cpu_s'] / f['cpu_s']:.2f}x" if f and f["cpu_s"] else "-"
            aw = f"{x['wall_s'] / m['wall_s']:.1f}x" if x and m["wall_s"] else "-"
            ac = f"{x['cpu_s'] / m['cpu_s']:.1f}x" if x and m["cpu_s"] else "-"
            bph = m.get("bytes_per_host")
            hc = m.get("host_cpu_s")
            lines.append(
                f"{n:>5}  {name:<8} {m['ok']:>5} {m['wall_s']:>8.2f} {m['cpu_s']:>7.2f} "
                f"{m['cpu_ms_per_host'] or 0:>8.1f} {m['maxrss_mb']:>7.1f} "
                f"{int(bph) if bph else '-':>7} {hc if hc is not None else '-':>10} "
                f"{wf:>10} {cf:>9} {aw:>8} {ac:>8}")
    lines.append("ratios: wall/floor and CPU/floor = tool / plain asyncssh; ans/wall and ans/CPU = Ansible / tool")
    t = doc.get("targets") or {}
    if t:
        lines.append(f"targets at {t.get('at_hosts')} hosts:")
        for key, v in t.items():
            if isinstance(v, dict):
                state = {True: "met", False: "NOT met", None: "not measured"}[v["met"]]
                lines.append(f"  {key:<24} {v['value']!s:>8}  target {'<=' if 'max' in _target_kind(key) else '>='} {v['target']}: {state}")
    return "\n".join(lines)


def _target_kind(key: str) -> str:
    return "max" if key in ("audit_cpu_vs_floor", "audit_wall_vs_floor", "audit_peak_rss_mb") else "min"


def machine_info() -> dict:
    info = {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import asyncssh
        info["asyncssh"] = asyncssh.__version__
    except Exception:
        pass
    try:
        info["git"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "fleetaudit"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["fleetaudit_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_doc(doc: dict, out_path: Path) -> None:
    doc["targets"] = evaluate_targets({k: v for k, v in doc["sizes"].items() if "median" in v})
    doc["table"] = format_table(doc)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out_path)


# ----- main ----------------------------------------------------------------------

def _terminate(signum, frame):  # SIGTERM: unwind through the finally blocks (fleet down)
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fleet_bench",
                                 description="fleetaudit vs the SSH floor and Ansible on a namespace fleet")
    ap.add_argument("--sizes", default=None, help="comma-separated fleet sizes (default 50,200,500; quick: 20)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions, median reported (default 3; quick: 1)")
    ap.add_argument("--quick", action="store_true", help="N=20, 1 repetition, no Ansible (CI smoke)")
    ap.add_argument("--no-ansible", action="store_true", help="skip Ansible")
    ap.add_argument("--ansible-module", choices=("shell", "raw"), default="shell")
    ap.add_argument("--concurrency", type=int, default=100, help="hosts in flight for audit and floor")
    ap.add_argument("--forks", type=int, default=50, help="Ansible forks")
    ap.add_argument("--only", default=None, help="comma-separated subset of audit,floor,ansible")
    ap.add_argument("--ansible-reps", type=int, default=None,
                    help="repetitions for Ansible (default: --reps); it is the slowest contender")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=SRC",
                    help="also run `fleetaudit audit` imported from source tree SRC as row "
                         "audit:LABEL (a patch against main, same fleet, same run); repeatable")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/fleet-<date>[-quick].json)")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (it builds a namespace fleet with lab/)", file=sys.stderr)
        return 2
    sizes = [int(x) for x in (a.sizes or ("20" if a.quick else "50,200,500")).split(",") if x.strip()]
    reps = a.reps or (1 if a.quick else 3)
    only = set((a.only or ",".join(CONTENDERS)).split(","))
    variants = {}
    for v in a.variant:
        label, _, src = v.partition("=")
        if not label or not src or not (Path(src) / "fleetaudit" / "__init__.py").exists():
            ap.error(f"--variant {v!r}: expected LABEL=DIR with DIR/fleetaudit/__init__.py")
        variants[f"audit:{label}"] = str(Path(src).resolve())
    ansible_reps = a.ansible_reps or reps
    skipped: Dict[str, str] = {}
    ansible_exe = None
    ansible_version = None
    if "ansible" in only:
        if a.quick or a.no_ansible:
            skipped["ansible"] = "skipped (--quick)" if a.quick else "skipped (--no-ansible)"
        else:
            ansible_exe, ansible_version = ensure_ansible()
            if ansible_exe is None:
                skipped["ansible"] = f"ansible: {ansible_version}"
                print(f"ansible: {ansible_version}", flush=True)
                ansible_version = None
    else:
        skipped["ansible"] = "not selected (--only)"
    for name in ("audit", "floor"):
        if name not in only:
            skipped[name] = "not selected (--only)"

    from fleetaudit.collectors import REGISTRY
    from fleetaudit.script import ScriptOptions, build_script, new_nonce
    script = build_script(REGISTRY, new_nonce(), ScriptOptions())

    signal.signal(signal.SIGTERM, _terminate)
    date = _dt.date.today().isoformat()
    out_path = Path(a.out) if a.out else RESULTS / f"fleet-{date}{'-quick' if a.quick else ''}.json"
    doc = {
        "benchmark": "fleet", "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {"sizes": sizes, "reps": reps, "quick": a.quick, "concurrency": a.concurrency,
                   "ansible_forks": a.forks, "ansible_module": a.ansible_module,
                   "ansible": ansible_version, "ansible_reps": ansible_reps, "variants": variants,
                   "script_bytes": len(script.encode()),
                   "collectors": [c.name for c in REGISTRY]},
        "sizes": {},
    }
    rc = 0
    for n in sizes:
        fr = FleetRun(n, ROOT / ".lab" / f"bench-{n}", a.concurrency, a.forks)
        entry: dict = {"skipped": dict(skipped)}
        doc["sizes"][str(n)] = entry
        try:
            log(f"N={n}: building the fleet")
            entry["lab_up_s"] = round(fr.up(), 1)
            script_path = fr.work / "script.sh"
            script_path.write_text(script)
            runs: Dict[str, List[dict]] = {c: [] for c in CONTENDERS if c not in skipped}
            runs.update({v: [] for v in variants})
            order = list(runs)
            for rep in range(reps):
                k = rep % max(1, len(order))
                for name in order[k:] + order[:k]:  # rotate: no contender always goes first
                    if name == "ansible" and rep >= ansible_reps:
                        continue
                    log(f"N={n} rep {rep + 1}/{reps}: {name} (load {loadavg():.1f})")
                    if name == "audit":
                        m = fr.audit(rep)
                    elif name in variants:
                        m = fr.audit(rep, label=name.replace(":", "-"), pythonpath=variants[name])
                    elif name == "floor":
                        m = fr.floor(rep, script_path)
                    else:
                        m = fr.ansible(rep, ansible_exe, script, a.ansible_module)
                    d = m.to_json()
                    runs[name].append(d)
                    log(f"  {name}: wall {m.wall_s:.2f}s cpu {m.cpu_s:.2f}s rss {m.maxrss_mb}MB "
                        f"ok {m.extra.get('ok')}/{n} rc {m.rc}"
                        + (f" error: {m.extra['error'][:300]}" if m.extra.get("error") else ""))
                    if m.extra.get("ok", 0) < n:
                        rc = 1
            entry["runs"] = runs
            entry.update(summarize(runs, n))
        except KeyboardInterrupt:
            entry["error"] = "interrupted"
            rc = 130
            break
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            log(f"N={n} failed: {entry['error']}")
            rc = 1
        finally:
            log(f"N={n}: tearing the fleet down")
            fr.down()
            write_doc(doc, out_path)  # after every size: a long run interrupted later keeps these
    write_doc(doc, out_path)
    print(doc["table"])
    print(f"results: {out_path}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
