"""The audit's tail after the analysis, in one process vs with the reports rendered in a
forked process (fleetaudit/render_pool.py), interleaved, on one synthetic fleet.

    python bench/tail_ab.py --hosts 10000 --rounds 3 --out bench/results/tail-DATE.json

The tail is what `audit` does after analyze(): the snapshot text (to_json + dumps), the
HTML, JUnit and Markdown reports. "serial" renders them one after another here;
"forked" starts Rendering (one child renders the reports) and builds the snapshot text
meanwhile. Records CPU (this process and its children) and wall, the load average, and
checks the texts are identical. Optionally with gc.freeze() after the fleet is built
(--freeze), as the CLI now does after collection.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--freeze", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    spec = importlib.util.spec_from_file_location("fa_bench_synthetic", HERE / "synthetic.py")
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    from fleetaudit.analyze import AnalyzeOptions, analyze
    from fleetaudit.cli import GC_THRESHOLDS
    from fleetaudit.render_pool import Rendering
    from fleetaudit.render.html import render_html
    from fleetaudit.render.junit import render_junit
    from fleetaudit.render.markdown import render_markdown
    from fleetaudit.snapshot import text_of
    gc.set_threshold(*GC_THRESHOLDS)
    result = synth.synthetic_run(a.hosts, seed=7)
    result.findings, result.extra = [], {}
    if a.freeze:
        gc.freeze()
    analyze(result, AnalyzeOptions(workers=1))
    jobs = {"html": lambda: render_html(result), "junit": lambda: render_junit(result),
            "markdown": lambda: render_markdown(result)}
    rows, ref = [], None
    for rnd in range(a.rounds):
        for mode in ("serial", "forked"):
            load = os.getloadavg()[0]
            c0, w0, own0 = _cpu(), time.perf_counter(), time.process_time()
            if mode == "serial":
                snap = text_of(result)
                texts = {k: job() for k, job in jobs.items()}
            else:
                r = Rendering.start(jobs, a.hosts, workers=2)
                snap = text_of(result)
                texts = {k: r.text(k) for k in jobs}
                assert r.forked and not r.redone, r.redone
            w1, c1, own1 = time.perf_counter(), _cpu(), time.process_time()
            got = (snap, texts)
            ref = ref or got
            # own: this process only (the critical path when the child runs on another core)
            rows.append({"round": rnd, "mode": mode, "cpu_s": round(c1 - c0, 3),
                         "own_cpu_s": round(own1 - own0, 3), "child_cpu_s": round((c1 - c0) - (own1 - own0), 3),
                         "wall_s": round(w1 - w0, 3), "load": round(load, 1),
                         "identical": got == ref})
            print(json.dumps(rows[-1]), flush=True)
    Path(a.out).write_text(json.dumps({"hosts": a.hosts, "freeze": a.freeze, "cpus": os.cpu_count(),
                                       "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
