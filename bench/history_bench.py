"""History store benchmark: record a synthetic run of N hosts (default 10,000) into
SQLite and into PostgreSQL, and measure how the store grows on later runs.

    .venv/bin/python -m bench.history_bench                  # 10000 hosts, both backends
    .venv/bin/python -m bench.history_bench --hosts 1000 --backends sqlite

Per backend, one fresh store and these steps, each in its own process (so ru_maxrss is
that step's peak; the snapshot is read from a JSON file the parent wrote once):
  first       record the run into the empty store
  unchanged   record the identical run again (nothing changed at all)
  volatile    a rerun where only volatile facts moved on every host (uptime, used disk,
              clock readings): what "nothing changed" looks like on a real fleet
  changed_1pct  as volatile, plus a real fact change (resolver) on 1% of the hosts
  load        read the last run back (store.load)
  timeline    one host's fact timeline over the four runs (store.host_timeline)
Growth = store size after the step - before (SQLite: file after a WAL checkpoint;
PostgreSQL: pg_total_relation_size of the store's tables). PostgreSQL is a throwaway
server started like the tests do (tests/pgserver.py: initdb, unix socket, fsync=off).

Writes bench/results/history-<date>.json and prints a table.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
STEPS = ("first", "unchanged", "volatile", "changed_1pct", "load", "timeline")
TARGET_UNCHANGED_MB_PER_10K = 1.0
_TABLES = ("blobs", "hosts", "runs", "run_parts", "run_hosts", "findings", "run_findings",
           "schema_version")


def _vmrss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def mutate(doc: dict, step: str) -> dict:
    """The run recorded at `step` (deterministic)."""
    if step in ("first", "unchanged"):
        return doc
    doc = copy.deepcopy(doc)
    # Each step moves the volatile facts to new values (the next hour's readings).
    hour = 3600 if step == "volatile" else 7200
    audited = [h for h in doc["hosts"].values() if h.get("status") != "unreachable" and h.get("facts")]
    for i, h in enumerate(audited):
        f = h["facts"]
        f["system"]["uptime_s"] = f["system"].get("uptime_s", 0) + hour
        clock = f.get("time", {}).get("clock") or {}
        for k in ("host_epoch", "controller_epoch"):
            if isinstance(clock.get(k), (int, float)):
                clock[k] += hour
        root = f.get("disk", {}).get("data_root") or {}
        if isinstance(root.get("used"), int):
            root["used"] += hour * 1000 + i
            root["avail"] -= hour * 1000 + i
        if step == "changed_1pct" and i % 100 == 0:
            f["dns"]["resolv_conf"]["nameservers"] = ["10.99.0.53"]
    return doc


def child(step: str, spec: str, snapshot_path: str) -> dict:
    from fleetaudit.history import open_store

    with open(snapshot_path) as fh:
        base = json.load(fh)
    doc = mutate(base, {"load": "first", "timeline": "first"}.get(step, step))
    del base
    rss_before = _vmrss_mb()
    t0 = time.perf_counter()
    out = {"step": step}
    with open_store(spec) as store:
        if step in ("load", "timeline"):
            run_id = store.runs(limit=1)[0].id
            if step == "load":
                loaded = store.load(run_id)
                out["hosts"] = len(loaded["hosts"])
            else:
                host = next(n for n, h in doc["hosts"].items() if h.get("status") == "ok")
                out["entries"] = len(store.host_timeline(host, "dns.resolv_conf.nameservers"))
        else:
            out["run_id"] = store.record(doc, "bench", "audit")
        out["seconds"] = round(time.perf_counter() - t0, 3)
        if store.db.dialect == "sqlite":
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out.update(peak_rss_mb=round(ru.ru_maxrss / 1024, 1), rss_before_mb=rss_before)
    return out


def store_bytes(spec: str) -> int:
    if spec.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(spec, autocommit=True) as conn:
            return int(sum(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] or 0
                           for t in _TABLES))
    return sum(os.path.getsize(p) for p in (spec, spec + "-wal") if os.path.exists(p))


def run_backend(name: str, spec: str, snapshot_path: Path) -> dict:
    res = {"backend": name, "steps": {}}
    for step in STEPS:
        # The empty store (no tables yet) counts as 0: its DDL is part of the first run.
        before = store_bytes(spec) if step != "first" else 0
        proc = subprocess.run([sys.executable, "-m", "bench.history_bench", "--child", step,
                               "--spec", spec, "--snapshot", str(snapshot_path)],
                              cwd=ROOT, capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if proc.returncode:
            res["steps"][step] = {"error": (proc.stderr or proc.stdout)[-2000:]}
            break
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["store_bytes"] = store_bytes(spec)
        out["growth_bytes"] = out["store_bytes"] - before
        res["steps"][step] = out
    return res


def format_table(doc: dict) -> str:
    n = doc["hosts"]
    names = [r["backend"] for r in doc["backends"]]
    lines = [f"history store, {n} synthetic hosts ({doc['snapshot_mb']:.1f} MB snapshot JSON)",
             f"{'step':<13}" + "".join(f" | {b + ' s':>12} {'peak RSS MB':>12} {'growth MB':>10}"
                                       for b in names)]
    lines.append("-" * len(lines[-1]))
    for step in STEPS:
        row = f"{step:<13}"
        for r in doc["backends"]:
            s = r["steps"].get(step)
            if not s or "error" in s:
                row += f" | {'error' if s else '-':>12} {'':>12} {'':>10}"
                continue
            growth = f"{s['growth_bytes'] / 1e6:.3f}" if step not in ("load", "timeline") else "-"
            row += f" | {s['seconds']:>12.2f} {s['peak_rss_mb']:>12.1f} {growth:>10}"
        lines.append(row)
    lines.append("peak RSS includes the snapshot the process holds (RSS before the store call: "
                 + ", ".join(f"{r['backend']} {r['steps'].get('first', {}).get('rss_before_mb', '-')} MB"
                             for r in doc["backends"]) + ")")
    for k, v in (doc.get("targets") or {}).items():
        state = {True: "met", False: "NOT met"}[v["met"]]
        lines.append(f"  {k:<34} {v['value']!s:>8}  target {v['target']}: {state}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.history_bench",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/history-<date>.json)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--snapshot", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.spec, a.snapshot)))
        return 0

    from bench.synthetic import synthetic_run
    from fleetaudit import snapshot

    work = Path(tempfile.mkdtemp(prefix="fleetaudit-histbench-"))
    server = None
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    doc = {"benchmark": "history", "date": _dt.datetime.now().isoformat(timespec="seconds"),
           "hosts": a.hosts, "machine": {"cores": os.cpu_count(), "loadavg_before": load},
           "backends": []}
    try:
        print(f"bench: building a {a.hosts}-host synthetic run", file=sys.stderr, flush=True)
        snap_path = work / "run.json"
        snap_path.write_text(json.dumps(snapshot.to_json(synthetic_run(a.hosts, seed=a.seed))))
        doc["snapshot_mb"] = round(snap_path.stat().st_size / 1e6, 2)
        for name in [b.strip() for b in a.backends.split(",") if b.strip()]:
            print(f"bench: {name}", file=sys.stderr, flush=True)
            if name == "sqlite":
                spec = str(work / "history.sqlite")
            elif name == "postgres":
                from tests.pgserver import PgServer
                server = server or PgServer().start()
                spec = server.new_database()
            else:
                raise SystemExit(f"unknown backend {name!r}")
            doc["backends"].append(run_backend(name, spec, snap_path))
    finally:
        if server:
            server.stop()
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    doc["targets"] = {}
    for r in doc["backends"]:
        s = r["steps"].get("unchanged")
        if s and "error" not in s:
            per10k = round(s["growth_bytes"] / 1e6 * 10000 / a.hosts, 3)
            doc["targets"][f"{r['backend']} unchanged MB per 10k hosts"] = {
                "value": per10k, "target": f"< {TARGET_UNCHANGED_MB_PER_10K}",
                "met": per10k < TARGET_UNCHANGED_MB_PER_10K}
    doc["table"] = format_table(doc)
    out = Path(a.out) if a.out else RESULTS / f"history-{_dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(doc["table"])
    print(f"results: {out}")
    ok = all("error" not in s for r in doc["backends"] for s in r["steps"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
