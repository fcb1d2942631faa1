"""Analysis CPU and wall: a reference tree vs this tree with --workers 1 and N, in one run.

    python bench/analysis_workers_ab.py --ref /tmp/main082 --sizes 1000,10000 \\
        --workers 1,2 --rounds 2 --out bench/results/analysis-workers-DATE.json

For each size and round, runs bench/analysis_outputs.py (one subprocess each, so each
imports its own tree) for the reference tree (phase by phase, as it has no workers) and
for this tree with analyze(workers=N), interleaved (ref, w1, w2, ref, w1, ...) so that
the machine's load hits every contender alike; then checks that every output is byte
for byte the reference's. Records, per contender: the analysis's CPU (baselines +
compare + diagnose, worker processes included) and wall, the serial CPU (up to the
fork) and each process's CPU for its hosts, plus the load average. CPU seconds are the
figure to trust on a shared machine; wall only when the load is below the core count.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HARNESS = HERE / "analysis_outputs.py"


def _run(code: Path, out: Path, hosts: int, variants: str, workers) -> dict:
    cmd = [sys.executable, str(HARNESS), "--code", str(code), "--out", str(out),
           "--hosts", str(hosts), "--variants", variants]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    for r in rows:
        if "analyze_cpu_s" not in r:  # the reference harness run phase by phase
            core = [k for k in ("baselines", "compare", "diagnose") if k in r["phases"]]
            r["analyze_cpu_s"] = round(sum(r["phases"][k]["cpu_s"] for k in core), 3)
            r["analyze_wall_s"] = round(sum(r["phases"][k]["wall_s"] for k in core), 3)
        r["load_before"] = round(load, 1)
    return {"rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", required=True, help="reference tree (git archive COMMIT | tar -x -C DIR)")
    ap.add_argument("--sizes", default="1000")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--variants", default="consensus")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    from analysis_outputs import compare_dirs  # noqa: E402  (this directory)
    contenders = [("ref", Path(a.ref), None)] + [(f"workers={n}", ROOT, int(n))
                                                 for n in a.workers.split(",")]
    doc = {"ref": str(a.ref), "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "variants": a.variants, "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, a.sizes.split(",")):
            runs = {name: [] for name, _, _ in contenders}
            identical = True
            for rnd in range(a.rounds):
                dirs = {}
                for name, code, workers in contenders:
                    dirs[name] = Path(tmp) / f"{size}-{rnd}-{name}"
                    runs[name].append(_run(code, dirs[name], size, a.variants, workers))
                for name, _, _ in contenders[1:]:
                    diffs = compare_dirs(dirs["ref"], dirs[name])
                    identical &= not diffs
                    if diffs:
                        print(f"{size} hosts, {name}: DIFFERENT: {', '.join(diffs)}", file=sys.stderr)
            summary = {}
            for name, rs in runs.items():
                cpu = [sum(r["analyze_cpu_s"] for r in run["rows"]) for run in rs]
                wall = [sum(r["analyze_wall_s"] for r in run["rows"]) for run in rs]
                summary[name] = {"analysis_cpu_s_median": round(statistics.median(cpu), 3),
                                 "analysis_wall_s_median": round(statistics.median(wall), 3),
                                 "ms_per_host_cpu": round(1000 * statistics.median(cpu) / size, 3),
                                 "runs": rs}
            doc["sizes"][str(size)] = {"identical": identical, "contenders": summary}
            print(json.dumps({size: {n: (s["analysis_cpu_s_median"], s["analysis_wall_s_median"])
                                     for n, s in summary.items()}, "identical": identical}), flush=True)
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
