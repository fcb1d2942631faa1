"""Scale-out benchmark (issue 11): workers, shards + merge, and the model for 10k/100k hosts.

    .venv/bin/python -m bench.shard_bench                     # N = 200, 1 repetition
    .venv/bin/python -m bench.shard_bench --sizes 500 --reps 3
    .venv/bin/python -m bench.shard_bench --quick             # N = 6 (CI smoke)

On one sshd-only namespace fleet of N hosts (lab/, bench.fleet_bench.FleetRun), as
separate measured processes (bench.measure: wall, client CPU by cgroup, peak RSS):

  floor      plain asyncssh running the same composite script (bench/floor.py)
  floor_gcm  the same floor with fleetaudit's cipher preference (AES-GCM first,
             fleetaudit.ssh.CIPHERS): the floor for the connection's own cost
  workers1   `fleetaudit audit --workers 1` (one process), JSON + HTML like fleet_bench
  workers2   `fleetaudit audit --workers 2`; run.workers gives each worker's CPU and RSS
  shards     `fleetaudit audit --shard i/S --no-history` for i in 0..S-1, one after the
             other, then `fleetaudit merge` of the S snapshots (--json + --html)
  startup    `python -c 'import fleetaudit.cli, fleetaudit.collect, ...'`: the imports an
             audit pays (the model's fixed cost per process); startup_cli: the bare
             `import fleetaudit.cli` (what --help and completion pay)

With `--pin both` every contender also runs pinned (`NAME@pin`), interleaved with its
unpinned run: the client on one CPU, the lab hosts' process trees on the other
(`--pin-cpus CLIENT:HOSTS`, default 0:1; bench/pinning.py), the nearest this one machine
gets to hosts on their own CPUs. `merge1` is `fleetaudit merge` of workers1's own
snapshot (start, analysis, JSON + HTML of the same hosts, no network): workers1 minus
merge1 is the collection's own CPU. The `pinning` summary compares both conditions.

From these it derives the model's constants (per-host client CPU to collect, per-host
CPU to merge and analyse, process start, host latency) and predicts 10,000 and 100,000
hosts on 1, 2 and 8 cores and on K controllers, naming the dominant term. Writes
bench/results/shard-<date>[-quick].json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fleet_bench import FleetRun, log, machine_info  # noqa: E402
from bench.measure import loadavg  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_CPU_VS_FLOOR = 1.3  # issue 11: client CPU per host at most 1.3x the floor


def _fleetaudit_argv(*args: str) -> list:
    return [sys.executable, "-m", "fleetaudit.cli", *args]


def _env(root: Path = ROOT) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def precompile(root: Path) -> None:
    """Write the package's bytecode before measuring, as `pip install` does: a checkout run
    under PYTHONDONTWRITEBYTECODE=1 (the shared venv's shells set it) would otherwise
    compile all ~90 modules from source in every process (~0.3 s of CPU each), a cost no
    installed fleetaudit pays. Python still reads existing .pyc files under that setting."""
    import compileall
    compileall.compile_dir(str(root / "fleetaudit"), quiet=1)


def baseline_checkout(ref: str, dest: Path) -> Path:
    """The package (and its report templates) as of git `ref`, exported (no worktree) for a before/after contender
    measured in the same run as the current code."""
    import subprocess
    import tarfile
    dest.mkdir(parents=True, exist_ok=True)
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "fleetaudit", "templates"],
                         check=True, capture_output=True).stdout
    import io
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(dest)
    precompile(dest)
    return dest


def audit(fr: FleetRun, label: str, rep: int, *extra: str, html: bool = True,
          root: Path = ROOT) -> dict:
    out = fr.work / f"{label}-{rep}.json"
    argv = _fleetaudit_argv("audit", "-i", str(fr.inv_yml), "--known-hosts", fr.known_hosts,
                            "--json", str(out), "--reports-dir", str(fr.work / "reports"),
                            "--no-history", "--quiet", "--concurrency", str(fr.concurrency),
                            *(("--html", str(fr.work / f"{label}-{rep}.html")) if html else ()), *extra)
    m = fr._measure(label, argv, rep, cwd=str(fr.work), env=_env(root))
    d = m.to_json()
    try:
        snap = json.loads(out.read_text())
        d["ok"] = sum(1 for h in snap["hosts"].values() if h["status"] == "ok")
        d["hosts"] = len(snap["hosts"])
        d["workers"] = snap["run"].get("workers")
        d["snapshot"] = str(out)
    except (OSError, ValueError, KeyError) as exc:
        d["ok"] = 0
        d["error"] = f"no snapshot: {exc}: {fr._tail(label, rep)}"
    return d


def shards(fr: FleetRun, count: int, rep: int) -> dict:
    parts = [audit(fr, f"shard{i}of{count}", rep, "--shard", f"{i}/{count}", "--workers", "1", html=False)
             for i in range(count)]
    merged = fr.work / f"merged-{rep}.json"
    argv = _fleetaudit_argv("merge", *[p["snapshot"] for p in parts if p.get("snapshot")],
                            "--json", str(merged), "--html", str(fr.work / f"merged-{rep}.html"),
                            "--reports-dir", str(fr.work / "reports"), "--no-history", "--quiet")
    m = fr._measure("merge", argv, rep, cwd=str(fr.work), env=_env()).to_json()
    try:
        m["hosts"] = len(json.loads(merged.read_text())["hosts"])
    except (OSError, ValueError, KeyError) as exc:
        m["hosts"] = 0
        m["error"] = f"no merged snapshot: {exc}: {fr._tail('merge', rep)}"
    return {"shards": parts, "merge": m, "count": count,
            "cpu_s": round(sum(p["cpu_s"] for p in parts) + m["cpu_s"], 3),
            # as if each shard ran on its own machine at once, then the merge
            "wall_parallel_s": round(max(p["wall_s"] for p in parts) + m["wall_s"], 3),
            "wall_sequential_s": round(sum(p["wall_s"] for p in parts) + m["wall_s"], 3),
            "ok": sum(p.get("ok", 0) for p in parts), "merged_hosts": m["hosts"]}


def capture_output(fr: FleetRun, script: str) -> bytes:
    """The script's real output on the fleet's first host (one plain asyncssh exec)."""
    import asyncio
    import asyncssh
    h = next(iter(fr.fleet.hosts.values()))

    async def grab() -> bytes:
        async with asyncssh.connect(h.address, port=h.port, username=h.user, client_keys=[fr.key],
                                    known_hosts=fr.known_hosts, config=[]) as conn:
            r = await conn.run("sh -s", input=script.encode(), encoding=None)
            return r.stdout

    return asyncio.run(grab())


REPLAY_SH = """s=$(cat)
case $s in
*FA_N=*)
  n=${s#*FA_N=}; n=${n%%[!0-9A-Za-z]*}
  exec sed -e "s/@@OLD:T:[0-9.]*/@@$n:T:$(date +%s.%N)/" -e "s/@@OLD:/@@$n:/g" OUT ;;
*) printf '%s\\n' "$s" | exec /bin/sh ;;
esac
"""


def replay_hosts(fr: FleetRun, script: str) -> dict:
    """--replay-hosts: every host answers any collection script (one carrying `FA_N=`) with
    the real output captured on the first host, its nonce and clock mark made the
    script's own (sshd ForceCommand, then SIGHUP: sshd re-execs with the new config);
    other commands (the CA-bundle fetch) run as sent. The client receives what a real
    run gives, byte for byte but the nonce and the clock, while each host spends a few
    ms of CPU instead of ~0.25 s: hosts that answer like hosts with their own CPUs."""
    import re
    import time as _t
    from lab.fleet import _listening
    out = capture_output(fr, script)
    m = re.search(rb"@@([0-9A-Za-z]+):", out)
    if not m:
        raise RuntimeError("replay: no marker in the captured output")
    old = m.group(1).decode()
    out_path = fr.state / "replay.out"
    out_path.write_bytes(out)
    sh = fr.state / "replay.sh"
    sh.write_text(REPLAY_SH.replace("OLD", old).replace("OUT", str(out_path)))
    for h in fr.fleet.hosts.values():
        cfg = Path(h.dir) / "sshd_config"
        text = cfg.read_text()
        if "ForceCommand" not in text:
            cfg.write_text(text + f"ForceCommand /bin/sh {sh}\n")
        os.kill(h.init_pid, signal.SIGHUP)
    deadline = _t.monotonic() + 60
    waiting = {h.name for h in fr.fleet.hosts.values()}
    _t.sleep(0.5)
    while waiting and _t.monotonic() < deadline:
        waiting = {n for n in waiting if not _listening(fr.fleet.hosts[n].init_pid, 22)}
        _t.sleep(0.1)
    if waiting:
        raise RuntimeError(f"replay: sshd not listening again on {sorted(waiting)[:5]}")
    check = capture_output(fr, script)  # a fresh nonce: the replay must carry it
    nonce = re.search(r"FA_N=([0-9A-Za-z]+)", script).group(1)
    if check.count(f"@@{nonce}:".encode()) != out.count(f"@@{old}:".encode()) or len(check) < len(out) - 64:
        raise RuntimeError("replay: the replayed output does not carry the script's nonce")
    return {"bytes": len(out), "captured_nonce": old, "markers": out.count(f"@@{old}:".encode())}


def merge_of(fr: FleetRun, label: str, rep: int, snapshot: str) -> dict:
    """`fleetaudit merge` of one audit's snapshot: what that audit spent besides collecting
    (process start, analysis, JSON + HTML of the same hosts), with no host contacted."""
    out = fr.work / f"{label}-{rep}.json"
    # `merge` takes shard snapshots: the audit's snapshot as the one shard (0/1) of its
    # inventory (written before the measured process starts)
    doc = json.loads(Path(snapshot).read_text())
    doc["run"]["shard"] = {"index": 0, "count": 1, "hosts_total": len(doc["hosts"]),
                           "positions": list(range(len(doc["hosts"]))), "inventory_id": "bench"}
    source = fr.work / f"{label}-{rep}-src.json"
    source.write_text(json.dumps(doc))
    argv = _fleetaudit_argv("merge", str(source), "--json", str(out), "--html", str(fr.work / f"{label}-{rep}.html"),
                            "--reports-dir", str(fr.work / "reports"), "--no-history", "--quiet")
    d = fr._measure(label, argv, rep, cwd=str(fr.work), env=_env()).to_json()
    try:
        d["hosts"] = d["ok"] = len(json.loads(out.read_text())["hosts"])
    except (OSError, ValueError, KeyError) as exc:
        d["hosts"] = d["ok"] = 0
        d["error"] = f"no merged snapshot: {exc}: {fr._tail(label, rep)}"
    return d


# What an audit process imports before its first connection and for its analysis and
# writers (the CLI itself imports none of these since the lazy imports of issue 11).
AUDIT_IMPORTS = ("fleetaudit.cli, fleetaudit.collect, fleetaudit.inventory, fleetaudit.analyze, "
                 "fleetaudit.snapshot, fleetaudit.render.html")


def startup(fr: FleetRun, rep: int) -> dict:
    d = fr._measure("startup", [sys.executable, "-c", f"import {AUDIT_IMPORTS}"], rep,
                    cwd=str(fr.work), env=_env()).to_json()
    bare = fr._measure("startup_cli", [sys.executable, "-c", "import fleetaudit.cli"], rep,
                       cwd=str(fr.work), env=_env()).to_json()
    d["cli_only_cpu_s"] = bare["cpu_s"]
    return d


def _med(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return round(statistics.median(values), 4) if values else None


def constants(n: int, runs: Dict[str, List[dict]]) -> dict:
    """Per-host and fixed costs measured at N hosts."""
    start = _med([r["cpu_s"] for r in runs["startup"]])
    w1 = _med([r["cpu_s"] for r in runs["workers1"]])
    floor = _med([r["cpu_s"] for r in runs["floor"]])
    merge = _med([r["merge"]["cpu_s"] for r in runs["shards"]])
    shard_cpu = _med([sum(p["cpu_s"] for p in r["shards"]) for r in runs["shards"]])
    count = runs["shards"][0]["count"] if runs["shards"] else 1
    host_cpu = _med([r.get("host_cpu_s") for r in runs["floor"]])
    return {
        "startup_cpu_s": start,
        # collect + parse per host: one whole run minus what the merge of the same hosts
        # costs (start, analysis, JSON + HTML): the share that workers and shards divide
        "collect_cpu_per_host_s": round((w1 - merge) / n, 5) if w1 and merge else None,
        # shards: a shard run's own CPU beyond its process start (it also analyses its share)
        "shard_cpu_per_host_s": round((shard_cpu - count * start) / n, 5) if shard_cpu and start else None,
        # the merge at N hosts: read S snapshots, analyse and render the whole fleet; at a
        # few hundred hosts this is mostly fixed cost (JSON + HTML writers)
        "merge_cpu_per_host_at_n_s": round((merge - start) / n, 5) if merge and start else None,
        # for the model: compare + diagnose + render per host at 10,000 synthetic hosts
        # (bench/synth_bench.py, docs/benchmarks.md: 12.1 s) + JSON in and out (~0.2 ms)
        "analyse_cpu_per_host_s": ANALYSE_S_PER_HOST_AT_10K,
        "audit_cpu_per_host_s": round(w1 / n, 5) if w1 else None,
        "floor_cpu_per_host_s": round(floor / n, 5) if floor else None,
        # what the script costs one host (its sshd tree): its turnaround on its own CPU
        "host_cpu_per_host_s": round(host_cpu / n, 4) if host_cpu else None,
    }


ANALYSE_S_PER_HOST_AT_10K = 0.0014

# One host's turnaround beyond its own CPU: TCP + SSH handshake + exec round trips on a
# LAN or through a zone's bastion (an assumption, not measured here: the lab's hosts
# share this machine's cores, so its wall times say nothing about separate hosts).
NETWORK_S = 0.1


def model(c: dict, latency_s: float, concurrency: int) -> dict:
    """Wall time predictions. Per controller with `cores` cores and K controllers:
        collect = max(H/K * collect_cpu / cores,           CPU-bound
                      H/K * latency / (concurrency*cores)) host-bound (concurrency per worker)
        merge   = H * analyse_cpu (one process, one core) + start
    `latency_s` is one host's turnaround when the host has its own CPU."""
    out = {}
    for hosts in (10_000, 100_000):
        for k in (1, 4, 16):
            for cores in (1, 2, 8):
                per = hosts / k
                cpu_term = per * c["collect_cpu_per_host_s"] / cores + c["startup_cpu_s"]
                lat_term = per * latency_s / (concurrency * cores)
                merge = hosts * c["analyse_cpu_per_host_s"] + c["startup_cpu_s"]
                collect = max(cpu_term, lat_term)
                terms = {"collect CPU": cpu_term, "host latency": lat_term, "merge+analysis": merge}
                out[f"{hosts}/{k}x{cores}"] = {
                    "hosts": hosts, "controllers": k, "cores": cores,
                    "collect_s": round(collect, 1), "merge_s": round(merge, 1),
                    "total_s": round(collect + merge, 1),
                    "dominant": max(terms, key=terms.get)}
    return out


def table(doc: dict) -> str:
    lines = []
    for n, e in doc["sizes"].items():
        if "summary" not in e:
            continue
        s = e["summary"]
        lines += [f"### {n} hosts", "",
                  "| run | ok | wall s | client CPU s | CPU ms/host | peak RSS MB | vs floor CPU |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, row in s["rows"].items():
            lines.append(f"| {name} | {row['ok']} | {row['wall_s']} | {row['cpu_s']} | "
                         f"{row['cpu_ms_per_host']} | {row['maxrss_mb']} | {row['cpu_vs_floor']}x |")
        if s.get("workers"):
            lines += ["", "| worker | hosts | CPU s | peak RSS MB |", "|---:|---:|---:|---:|"]
            for w in s["workers"]:
                lines.append(f"| {w['worker']} | {w['hosts']} | {w.get('cpu_s')} | "
                             f"{round((w.get('max_rss_kb') or 0) / 1024, 1)} |")
        lines += ["", "constants: " + json.dumps(e["constants"]), ""]
        lines += ["| hosts | controllers | cores each | collect s | merge s | total s | dominant |",
                  "|---:|---:|---:|---:|---:|---:|---|"]
        for m in e["model"].values():
            lines.append(f"| {m['hosts']:,} | {m['controllers']} | {m['cores']} | {m['collect_s']} | "
                         f"{m['merge_s']} | {m['total_s']} | {m['dominant']} |")
        lines.append("")
    return "\n".join(lines)


def summarize(n: int, runs: Dict[str, List[dict]]) -> dict:
    floor_cpu = _med([r["cpu_s"] for r in runs["floor"]]) or 1
    rows = {}
    for name in ("floor", "floor_gcm", "baseline1", "workers1", "workers2"):
        rs = runs.get(name)
        if not rs:
            continue
        cpu = _med([r["cpu_s"] for r in rs])
        rows[name] = {"ok": min(r.get("ok", 0) for r in rs), "wall_s": _med([r["wall_s"] for r in rs]),
                      "cpu_s": cpu, "cpu_ms_per_host": round(1000 * cpu / n, 1),
                      "maxrss_mb": _med([r["maxrss_mb"] for r in rs]),
                      "cpu_vs_floor": round(cpu / floor_cpu, 2)}
    sh = runs["shards"]
    cpu = _med([r["cpu_s"] for r in sh])
    rows[f"{sh[0]['count']} shards + merge"] = {
        "ok": min(r["ok"] for r in sh), "wall_s": _med([r["wall_parallel_s"] for r in sh]),
        "cpu_s": cpu, "cpu_ms_per_host": round(1000 * cpu / n, 1),
        "maxrss_mb": max(max(p["maxrss_mb"] for p in r["shards"] + [r["merge"]]) for r in sh),
        "cpu_vs_floor": round(cpu / floor_cpu, 2)}
    return {"rows": rows, "workers": runs["workers2"][0].get("workers") or [],
            "shards_wall_sequential_s": _med([r["wall_sequential_s"] for r in sh]),
            "merge_wall_s": _med([r["merge"]["wall_s"] for r in sh]),
            "merge_cpu_s": _med([r["merge"]["cpu_s"] for r in sh]),
            "audit_cpu_vs_floor": rows["workers1"]["cpu_vs_floor"],
            # the same ratio against a floor with fleetaudit's own cipher preference
            "audit_cpu_vs_floor_gcm": (round(rows["workers1"]["cpu_s"] / rows["floor_gcm"]["cpu_s"], 2)
                                       if rows.get("floor_gcm", {}).get("cpu_s") else None),
            # before/after in the same run (--baseline): this code's audit CPU / the ref's
            "workers1_cpu_vs_baseline": (round(rows["workers1"]["cpu_s"] / rows["baseline1"]["cpu_s"], 3)
                                         if "baseline1" in rows else None),
            "target_audit_cpu_vs_floor_max": TARGET_CPU_VS_FLOOR,
            "workers2_vs_workers1_wall": round(rows["workers2"]["wall_s"] / rows["workers1"]["wall_s"], 2)}


PIN_ROWS = ("floor", "floor_gcm", "baseline1", "workers1", "merge1")


def pin_summary(n: int, runs: Dict[str, List[dict]]) -> dict:
    """Per condition (unpinned, pinned): client CPU per host of each contender, its ratio
    to that condition's floor and floor_gcm, and the collection's own CPU per host
    (workers1 - merge1, baseline1 - merge1)."""
    out: dict = {}
    for cond, suffix in (("unpinned", ""), ("pinned", "@pin")):
        rows = {}
        for name in PIN_ROWS:
            rs = [r for r in runs.get(name + suffix, []) if isinstance(r.get("cpu_s"), (int, float))]
            if not rs:
                continue
            cpu = _med([r["cpu_s"] for r in rs])
            rows[name] = {"reps": len(rs), "ok": min(r.get("ok", 0) for r in rs), "cpu_s": cpu,
                          "cpu_runs": [r["cpu_s"] for r in rs],
                          "ms_per_host": round(1000 * cpu / n, 2),
                          "wall_s": _med([r["wall_s"] for r in rs]),
                          "host_cpu_s": _med([r.get("host_cpu_s") for r in rs]),
                          "load": [r.get("loadavg_before") for r in rs],
                          "cpu_busy_pct": [r.get("cpu_busy_pct") for r in rs],
                          "client_cpus": rs[0].get("client_cpus")}
        if not rows:
            continue
        for name, row in rows.items():
            for base in ("floor", "floor_gcm"):
                if base in rows and name != base and rows[base]["cpu_s"]:
                    row[f"vs_{base}"] = round(row["cpu_s"] / rows[base]["cpu_s"], 3)
        if "merge1" in rows:
            for name in ("workers1", "baseline1"):
                if name in rows:
                    rows[name]["collect_ms_per_host"] = round(
                        1000 * (rows[name]["cpu_s"] - rows["merge1"]["cpu_s"]) / n, 2)
        out[cond] = rows
    if "unpinned" in out and "pinned" in out:
        out["pinned_vs_unpinned"] = {name: round(out["pinned"][name]["cpu_s"] / out["unpinned"][name]["cpu_s"], 3)
                                     for name in out["pinned"] if name in out["unpinned"]
                                     and out["unpinned"][name]["cpu_s"]}
    return out


def pin_table(doc: dict) -> str:
    lines = []
    for n, e in doc["sizes"].items():
        ps = e.get("pinning")
        if not ps:
            continue
        lines += [f"### {n} hosts: client CPU, unpinned vs pinned", "",
                  "| run | condition | client CPU s | ms/host | collect ms/host | vs floor | vs floor_gcm | wall s |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name in PIN_ROWS:
            for cond in ("unpinned", "pinned"):
                row = ps.get(cond, {}).get(name)
                if row:
                    lines.append(f"| {name} | {cond} | {row['cpu_s']} | {row['ms_per_host']} | "
                                 f"{row.get('collect_ms_per_host', '')} | {row.get('vs_floor', '')} | "
                                 f"{row.get('vs_floor_gcm', '')} | {row['wall_s']} |")
        lines.append("")
    return "\n".join(lines)


def write_doc(doc: dict, out_path: Path) -> None:
    doc["table"] = table(doc) + "\n" + pin_table(doc)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(out_path)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.shard_bench", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="comma-separated fleet sizes (default 200; quick: 6)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions, median reported (default 1)")
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--host-latency", type=float, default=None,
                    help="seconds one host takes with its own CPU, for the model (default: the "
                         "script's measured host CPU per host + 0.1 s of network)")
    ap.add_argument("--quick", action="store_true", help="N=6, 1 repetition (CI smoke)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None, metavar="NAMES",
                    help="comma-separated contenders to run (floor,floor_gcm,workers1,baseline1,merge1,workers2,"
                         "shards,startup; --replay-hosts makes every contender's hosts answer with the real "
                         "output); the summary and model need floor, workers1, workers2 and shards")
    ap.add_argument("--baseline", default=None, metavar="GIT_REF",
                    help="also run `audit --workers 1` with the package as of GIT_REF (before/after "
                         "in one run: same fleet, same load)")
    ap.add_argument("--pin", choices=("off", "both"), default="off",
                    help="pin the measured client to one CPU and the lab hosts to the other "
                         "(bench/pinning.py): off, or both (each contender "
                         "unpinned and pinned, interleaved; pinned ones are named NAME@pin)")
    ap.add_argument("--pin-cpus", default="0:1", metavar="CLIENT:HOSTS",
                    help="CPUs for the client and for the hosts when pinning (default 0:1)")
    ap.add_argument("--replay-hosts", action="store_true",
                    help="every host answers the collection script with the real output captured on the "
                         "first host (nonce and clock mark made the script's own; ForceCommand): the client "
                         "gets the same bytes while each host spends a few ms, as hosts with their own CPUs")
    ap.add_argument("--remodel", default=None, metavar="RESULTS.json",
                    help="recompute constants, model and tables of a saved results file (no fleet)")
    a = ap.parse_args(argv)
    if a.remodel:
        doc = json.loads(Path(a.remodel).read_text())
        for n, entry in doc["sizes"].items():
            if "runs" in entry:
                entry["summary"] = summarize(int(n), entry["runs"])
                entry["constants"] = constants(int(n), entry["runs"])
                latency = a.host_latency or (entry["constants"]["host_cpu_per_host_s"] or 0.5) + NETWORK_S
                entry["model"] = model(entry["constants"], latency, doc["config"]["concurrency"])
                entry["model_latency_s"] = latency
        write_doc(doc, Path(a.out or a.remodel))
        print(doc["table"])
        return 0
    if os.geteuid() != 0:
        print("bench: needs root (it builds a namespace fleet with lab/)", file=sys.stderr)
        return 2
    sizes = [int(x) for x in (a.sizes or ("6" if a.quick else "200")).split(",") if x.strip()]
    reps = a.reps or 1
    from fleetaudit.collectors import REGISTRY
    from fleetaudit.script import ScriptOptions, build_script, new_nonce
    from fleetaudit.ssh import CIPHERS
    script = build_script(REGISTRY, new_nonce(), ScriptOptions())
    precompile(ROOT)
    signal.signal(signal.SIGTERM, _terminate)
    date = _dt.date.today().isoformat()
    out_path = Path(a.out) if a.out else RESULTS / f"shard-{date}{'-quick' if a.quick else ''}.json"
    doc = {"benchmark": "shard", "date": _dt.datetime.now().isoformat(timespec="seconds"),
           "machine": machine_info(),
           "config": {"sizes": sizes, "reps": reps, "shards": a.shards, "concurrency": a.concurrency},
           "sizes": {}}
    rc = 0
    for n in sizes:
        fr = FleetRun(n, ROOT / ".lab" / f"shardbench-{n}", a.concurrency, 0)
        entry: dict = {}
        doc["sizes"][str(n)] = entry
        try:
            log(f"N={n}: building the fleet")
            entry["lab_up_s"] = round(fr.up(), 1)
            if a.replay_hosts:
                entry["replay"] = replay_hosts(fr, script)
                doc["config"]["replay_hosts"] = True
                log(f"N={n}: hosts replay the captured output ({entry['replay']})")
            script_path = fr.work / "script.sh"
            script_path.write_text(script)
            runs: Dict[str, list] = {"floor": [], "floor_gcm": [], "workers1": [], "workers2": [],
                                     "shards": [], "startup": []}
            order = ["floor", "workers1", "floor_gcm", "workers2", "shards", "startup"]
            if a.baseline:
                base_root = baseline_checkout(a.baseline, fr.work / "baseline")
                runs["baseline1"] = []
                order.insert(2, "baseline1")
                doc["config"]["baseline"] = a.baseline
            if a.only:
                order = [name for name in order if name in a.only.split(",")]
            tail = ["merge1"] if (not a.only or "merge1" in a.only.split(",")) else []
            if a.pin == "both":  # each contender unpinned and pinned, side by side
                order = [x for name in order for x in (name, name + "@pin")]
                tail = [x for name in tail for x in (name, name + "@pin")]
            for name in order + tail:
                runs.setdefault(name, [])
            client_cpus = host_cpus = None
            if a.pin != "off":
                from bench.pinning import parse_pin
                client_cpus, host_cpus = parse_pin(a.pin_cpus)
                doc["config"].update(pin=a.pin, pin_cpus=a.pin_cpus)
            all_cpus = None
            for rep in range(reps):
                k = rep % len(order)
                for name in order[k:] + order[:k] + tail:
                    base, pinned = name.split("@")[0], name.endswith("@pin")
                    if a.pin != "off":
                        from bench.pinning import available_cpus, set_tree_affinity, tree_affinity
                        all_cpus = all_cpus or available_cpus()
                        set_tree_affinity(fr.init_pids, host_cpus if pinned else all_cpus)
                        fr.client_cpus = sorted(client_cpus) if pinned else None
                        entry.setdefault("pin_check", {})[name] = tree_affinity(fr.init_pids)
                    log(f"N={n} rep {rep + 1}/{reps}: {name} (load {loadavg():.1f})")
                    if base in ("floor", "floor_gcm"):
                        m = fr.floor(rep, script_path, label=name,
                                     ciphers=",".join(CIPHERS) if base == "floor_gcm" else "")
                        d = m.to_json()
                        d["ok"] = m.extra.get("ok", 0)
                    elif base == "workers1":
                        d = audit(fr, name, rep, "--workers", "1")
                    elif base == "baseline1":
                        d = audit(fr, name, rep, "--workers", "1", root=base_root)
                    elif base == "workers2":
                        d = audit(fr, name, rep, "--workers", "2")
                    elif base == "shards":
                        d = shards(fr, a.shards, rep)
                    elif base == "merge1":
                        src = [r for r in runs.get(name.replace("merge1", "workers1"), []) if r.get("snapshot")]
                        if not src:
                            continue
                        d = merge_of(fr, name, rep, src[-1]["snapshot"])
                    else:
                        d = startup(fr, rep)
                    runs[name].append(d)
                    log(f"  {name}: wall {d.get('wall_s', d.get('wall_parallel_s'))}s cpu {d['cpu_s']}s "
                        f"ok {d.get('ok', '-')} host cpu {d.get('host_cpu_s')} busy {d.get('cpu_busy_pct')}")
                    if base != "startup" and d.get("ok", 0) < n:
                        rc = 1
            if a.pin != "off":
                set_tree_affinity(fr.init_pids, all_cpus)
                fr.client_cpus = None
            entry["pinning"] = pin_summary(n, runs)
            entry["runs"] = runs
            if a.only:  # a partial run: the raw measurements only
                continue
            entry["summary"] = summarize(n, runs)
            entry["constants"] = constants(n, runs)
            latency = a.host_latency or (entry["constants"]["host_cpu_per_host_s"] or 0.5) + NETWORK_S
            entry["model"] = model(entry["constants"], latency, a.concurrency)
            entry["model_latency_s"] = latency
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
            write_doc(doc, out_path)
    print(doc.get("table", ""))
    print(f"results: {out_path}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
