"""Measured wall and CPU of the whole analysis at fleet size: `fleetaudit report` of a
synthetic snapshot (load, compare, diagnose, HTML + JUnit + Markdown, snapshot write),
with --workers 1 and N, this tree vs a reference tree, interleaved in one run.

    python -m bench.report_wall --hosts 10000 --ref 3f35906 --rounds 3
    python -m bench.report_wall --quick             # 300 hosts, 1 round (tests/test_bench_smoke.py)

`report` is the analysis half of an audit without the SSH half: what runs after
collection (the audit also pays its process start; the `startup` row of
bench/shard_bench.py measures that). CPU is the process's and its children's (the
workers and the forked renderer), from getrusage. Wall is only meaningful when the
cores are otherwise idle: the load average before each run is recorded with it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _synthetic():
    spec = importlib.util.spec_from_file_location("fa_bench_synthetic", HERE / "synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_snapshot(hosts: int, path: Path) -> None:
    from fleetaudit.snapshot import save
    result = _synthetic().synthetic_run(hosts, seed=7)
    result.findings, result.extra = [], {}      # `report` re-analyses: start from facts
    save(result, path)


def ref_tree(ref: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_report(code: Path, snapshot: Path, out: Path, workers: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", "from fleetaudit.cli import main; main()", "report", str(snapshot),
            "--json", str(out / "snap.json"), "--html", str(out / "r.html"),
            "--junit", str(out / "r.xml"), "--markdown", str(out / "r.md"),
            "--fail-on", "none", "-q", "--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(code))
    check = subprocess.run([sys.executable, "-c", "import fleetaudit; print(fleetaudit.__file__)"],
                           env=env, capture_output=True, text=True, cwd=out).stdout.strip()
    if not check.startswith(str(code)):
        raise SystemExit(f"report_wall: {code} imports fleetaudit from {check}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    # cwd: `python -c` puts the working directory first on sys.path, before PYTHONPATH.
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=out)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # 3: the synthetic fleet has unreachable hosts (exitcodes.NOT_AUDITED), as real ones do.
    if proc.returncode not in (0, 3):
        raise SystemExit(f"report failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "loadavg_before": round(load, 2),
            "maxrss_mb": round(after.ru_maxrss / 1024, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--ref", help="git ref of the reference tree (omit: this tree only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    if a.quick:
        a.hosts, a.rounds = 300, 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="fa-report-wall-") as tmp:
        tmp = Path(tmp)
        snapshot = tmp / "synthetic.json"
        write_snapshot(a.hosts, snapshot)
        trees = {"this": ROOT}
        if a.ref:
            trees[a.ref] = ref_tree(a.ref, tmp / "ref")
        contenders = [(t, w) for t in trees for w in sorted({1, a.workers})]
        outputs = {}
        for rnd in range(a.rounds):
            order = contenders[rnd % len(contenders):] + contenders[:rnd % len(contenders)]
            for tree, workers in order:
                out = tmp / f"{tree}-w{workers}"
                row = dict(tree=tree, workers=workers, round=rnd + 1,
                           **run_report(trees[tree], snapshot, out, workers))
                rows.append(row)
                print(f"report_wall: {tree} --workers {workers}: wall {row['wall_s']} s, "
                      f"cpu {row['cpu_s']} s, load {row['loadavg_before']}", file=sys.stderr)
                outputs[(tree, workers)] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        first = next(iter(outputs.values()))
        # The report's own outputs carry run timestamps from the snapshot only, so every
        # contender must write the same bytes (the equivalence the analysis work promises).
        identical = all(o == first for o in outputs.values())
    doc = {"benchmark": "report_wall", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "hosts": a.hosts, "cores": os.cpu_count(), "outputs_identical": identical, "rows": rows}
    if a.out:
        a.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({"outputs_identical": identical}))
    for key in dict.fromkeys((r["tree"], r["workers"]) for r in rows):
        sel = [r for r in rows if (r["tree"], r["workers"]) == key]
        walls = sorted(r["wall_s"] for r in sel)
        cpus = sorted(r["cpu_s"] for r in sel)
        print(f"{key[0]:>10} --workers {key[1]}: wall median {walls[len(walls) // 2]} s "
              f"(min {walls[0]}), cpu median {cpus[len(cpus) // 2]} s")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
