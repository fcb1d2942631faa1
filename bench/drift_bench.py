"""Drift analysis time at scale: `changes_since` between two synthetic runs, no SSH.

    .venv/bin/python -m bench.drift_bench                 # 10000 hosts
    .venv/bin/python -m bench.drift_bench --hosts 1000 2000

For each size: run A is bench/synthetic.py's run (JSON round-tripped, as the history
store hands it back); run B is A an hour later: every host's volatile facts moved
(uptime, used bytes/inodes, clock), and then three scenarios:
  - quiet:   nothing else changed;
  - 1pct:    1% of hosts changed a real fact (eth0 MTU), 0.5% became unreachable,
             1% of findings resolved and as many new ones appeared;
  - first:   no previous run (everything new).
Times `changes_since(A, B)` (median wall and CPU of --repeat runs) plus its to_json, and peak RSS.
Prints a table; --json writes the figures.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synthetic import synthetic_run  # noqa: E402
from fleetaudit import snapshot  # noqa: E402
from fleetaudit.compare.since import changes_since  # noqa: E402


def runs(n: int):
    a = json.loads(json.dumps(snapshot.to_json(synthetic_run(n)), default=str))
    b = copy.deepcopy(a)
    b["run"]["started"] = "2026-12-04T15:00:00Z"
    for h in b["hosts"].values():
        f = h.get("facts") or {}
        if "system" in f:
            f["system"]["uptime_s"] = f["system"].get("uptime_s", 0) + 3600
        for part in (f.get("disk") or {}).values():
            if isinstance(part, dict) and "used" in part:
                part["used"] += 8192
                part["avail"] = part.get("avail", 0) - 8192
        if isinstance(f.get("time"), dict):
            f["time"]["clock"] = {"epoch": 1764860400}
    return a, b


def one_percent(b: dict) -> dict:
    c = copy.deepcopy(b)
    audited = [n for n, h in c["hosts"].items() if h["status"] != "unreachable"]
    for name in audited[::100]:
        for iface in c["hosts"][name]["facts"].get("network", {}).get("interfaces", []):
            if iface.get("name") == "eth0":
                iface["mtu"] = 1400
    for name in audited[50::200]:
        c["hosts"][name].update(status="unreachable", facts={}, incomplete={},
                                error={"class": "connect-timeout", "message": "timed out"})
    k = max(1, len(c["findings"]) // 100)
    moved = c["findings"][:k]
    c["findings"] = c["findings"][k:] + [dict(f, host=audited[i * 7 % len(audited)])
                                         for i, f in enumerate(moved)]
    return c


def timed(fn, repeat: int):
    """Median wall and CPU seconds: on a shared machine CPU time is the steadier figure."""
    out, walls, cpus = None, [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return out, statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, nargs="+", default=[10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args()
    rows = []
    for n in args.hosts:
        a, b = runs(n)
        c = one_percent(b)
        for label, prev, cur in (("quiet", a, b), ("1pct", a, c), ("first", None, b)):
            since, secs, cpu = timed(lambda: changes_since(prev, cur).to_json(), args.repeat)
            counts = since["counts"]
            rows.append({"hosts": n, "scenario": label, "seconds": round(secs, 3),
                         "cpu_seconds": round(cpu, 3),
                         "facts_changed": counts["facts_changed"],
                         "findings_new": counts["findings_new"],
                         "findings_resolved": counts["findings_resolved"],
                         "hosts_unreachable": counts["hosts_unreachable"],
                         "new_drift": since["new_drift"]})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'hosts':>6} {'scenario':<8} {'seconds':>8} {'cpu s':>8} {'facts':>6} {'new':>5} {'resolved':>8} "
          f"{'unreach':>7} new_drift")
    for r in rows:
        print(f"{r['hosts']:>6} {r['scenario']:<8} {r['seconds']:>8.3f} {r['cpu_seconds']:>8.3f} "
              f"{r['facts_changed']:>6} "
              f"{r['findings_new']:>5} {r['findings_resolved']:>8} {r['hosts_unreachable']:>7} "
              f"{r['new_drift']}")
    print(f"peak RSS (whole process, incl. building the runs): {rss:.0f} MB")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"rows": rows, "peak_rss_mb": round(rss)}, indent=1))


if __name__ == "__main__":
    main()
