"""Analysis outputs and per-phase timings of one code tree, for old-vs-new equivalence.

    python bench/analysis_outputs.py --code /tmp/old --out /tmp/o-old --hosts 10000
    python bench/analysis_outputs.py --code .        --out /tmp/o-new --hosts 10000
    python bench/analysis_outputs.py --compare /tmp/o-old /tmp/o-new

Run as a script (not -m) so that `--code` decides which `fleetaudit` is imported: the
synthetic fleets come from this file's own bench/synthetic.py either way, so an old
tree (`git archive COMMIT | tar -x -C DIR`) and the working tree analyse the same input.
For every variant (consensus, a hostile fleet, --baseline-host, --baseline FILE,
--consensus-by) it runs compare -> diagnose -> every renderer -> snapshot write/read
and writes each output to OUT/<variant>/; `--compare` checks two such directories byte
for byte. Nothing here reads the clock into an output; the one timestamp the pipeline
writes (a saved baseline's "at") is not among these outputs.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# variant -> (synthetic_run kwargs, analysis options)
VARIANTS = {
    "consensus": ({"seed": 7}, {}),
    "hostile": ({"seed": 11, "hostile": True, "fault_rate": 0.3, "unreachable_rate": 0.05,
                 "partial_rate": 0.05}, {"ignore": ["dns.resolves.*"]}),
    "golden": ({"seed": 13, "fault_rate": 0.1}, {"baseline_host": "first"}),
    "snapshot": ({"seed": 17, "fault_rate": 0.1}, {"baseline_file": "seed:19"}),
    "partitioned": ({"seed": 23, "fault_rate": 0.1}, {"consensus_by": ["zone_*"]}),
}
OUTPUTS = ("drift.json", "findings.json", "snapshot.json", "report.html", "junit.xml",
           "terminal.txt", "report.md", "reloaded.json")


def _synthetic():
    spec = importlib.util.spec_from_file_location("fa_bench_synthetic", HERE / "synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    spec.loader.exec_module(mod)
    sys.path[:] = saved  # the module adds its own tree when loaded as a script
    return mod


def _cpu() -> float:
    """This process's CPU and that of its finished children (analysis workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_variant(name: str, hosts: int, out: Path, work: Path, workers=None) -> dict:
    from fleetaudit import analyze as analyze_mod
    from fleetaudit import snapshot
    from fleetaudit.compare import annotate
    from fleetaudit.diagnose import diagnose
    from fleetaudit.render.html import render_html
    from fleetaudit.render.junit import render_junit
    from fleetaudit.render.markdown import render_markdown
    from fleetaudit.render.terminal import renderables
    from rich.console import Console

    synth = _synthetic()
    gen_kw, opt_kw = VARIANTS[name]
    result = synth.synthetic_run(hosts, **gen_kw)
    result.findings, result.extra = [], {}
    opt_kw = dict(opt_kw)
    if opt_kw.get("baseline_host") == "first":
        opt_kw["baseline_host"] = next(n for n, h in result.hosts.items() if h.status == "ok")
    if str(opt_kw.get("baseline_file", "")).startswith("seed:"):
        base = synth.synthetic_run(hosts, seed=int(opt_kw["baseline_file"][5:]), fault_rate=0.1)
        base.findings, base.extra = [], {}
        # a relative name: the file's path is part of the outputs (the baseline's name)
        os.chdir(work)
        path = f"baseline-{name}.json"
        snapshot.save(base, path)
        opt_kw["baseline_file"] = path
    opts = analyze_mod.AnalyzeOptions(**opt_kw)
    out.mkdir(parents=True, exist_ok=True)
    times: dict = {}

    def phase(label, fn):
        c0, t0 = _cpu(), time.perf_counter()
        value = fn()
        times[label] = {"wall_s": round(time.perf_counter() - t0, 4), "cpu_s": round(_cpu() - c0, 4)}
        return value

    how: dict = {}
    if workers is None:  # phase by phase: works on any tree (an old one has no workers)
        baselines = phase("baselines", lambda: analyze_mod._baselines(result, opts))
        drift = phase("compare", lambda: annotate(result, baselines, ignore=opts.ignore or None))
        result.findings = phase("diagnose", lambda: diagnose(
            result, drift=drift, baselines=analyze_mod._expected_facts(result, opts, baselines)))
    else:  # analyze(workers=N): baselines, compare and diagnose as one phase
        opts.workers = workers
        phase("analysis", lambda: analyze_mod.analyze(result, opts, stats=how))
        from fleetaudit.compare import drift_from_json
        stored = drift_from_json(result.extra["drift"])  # hosts with drift; the rest have none
        drift = {n: stored.get(n, []) for n, h in result.hosts.items() if h.audited}
    (out / "drift.json").write_text(json.dumps(
        {h: [d.to_json() if hasattr(d, "to_json") else d for d in items] for h, items in drift.items()},
        sort_keys=True, default=repr))
    (out / "findings.json").write_text(json.dumps([f.to_json() for f in result.findings]))
    html = phase("render_html", lambda: render_html(result))
    junit = phase("render_junit", lambda: render_junit(result))
    md = phase("render_markdown", lambda: render_markdown(result))

    def term():
        console = Console(file=io.StringIO(), width=140, record=True, color_system=None,
                          force_terminal=False)
        for r in renderables(result):
            console.print(r)
        return console.export_text()
    text = phase("render_terminal", term)
    snap = out / "snapshot.json"
    phase("write_json", lambda: snapshot.save(result, snap))
    again = phase("read_json", lambda: snapshot.load(snap))
    (out / "reloaded.json").write_text(snapshot.text_of(again))
    (out / "report.html").write_text(html)
    (out / "junit.xml").write_text(junit)
    (out / "report.md").write_text(md)
    (out / "terminal.txt").write_text(text)
    analysis = sum(times[k]["cpu_s"] for k in times)
    core = [k for k in ("baselines", "compare", "diagnose", "analysis") if k in times]
    return {"variant": name, "hosts": hosts, "findings": len(result.findings), "phases": times,
            "workers": workers, "processes": how.get("processes", 1), "worker_failures": how.get("failed", []),
            "serial_cpu_s": how.get("serial_cpu_s"), "hosts_cpu_s": how.get("hosts_cpu_s"),
            "pool": {k: v for k, v in how.items() if k not in ("failed",)},
            "analyze_cpu_s": round(sum(times[k]["cpu_s"] for k in core), 3),
            "analyze_wall_s": round(sum(times[k]["wall_s"] for k in core), 3),
            "analysis_cpu_s": round(analysis, 3), "ms_per_host": round(1000 * analysis / hosts, 3)}


def compare_dirs(a: Path, b: Path) -> list:
    """Names of outputs that differ (or are missing) between two output directories."""
    diffs = []
    for variant in sorted({p.name for p in a.iterdir() if p.is_dir() and p.name in VARIANTS} |
                          {p.name for p in b.iterdir() if p.is_dir() and p.name in VARIANTS}):
        for fname in OUTPUTS:
            pa, pb = a / variant / fname, b / variant / fname
            if not (pa.exists() and pb.exists()) or pa.read_bytes() != pb.read_bytes():
                diffs.append(f"{variant}/{fname}")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", help="root of the fleetaudit tree to import")
    ap.add_argument("--out", help="directory for the outputs (one subdirectory per variant)")
    ap.add_argument("--hosts", type=int, default=300)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--profile", help="write a cProfile of the whole run here")
    ap.add_argument("--workers", type=int, default=None,
                    help="analyse with analyze(workers=N) (this tree's, not an old one's)")
    ap.add_argument("--min-hosts-per-process", type=int, default=None,
                    help="override analysis_pool.MIN_HOSTS_PER_PROCESS (to force workers on a small fleet)")
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"))
    a = ap.parse_args(argv)
    if a.compare:
        diffs = compare_dirs(Path(a.compare[0]), Path(a.compare[1]))
        print("identical" if not diffs else "DIFFERENT: " + ", ".join(diffs))
        return 1 if diffs else 0
    sys.path.insert(0, str(Path(a.code).resolve()))
    import fleetaudit  # noqa: F401  (from --code, before synthetic.py imports its models)
    if a.min_hosts_per_process is not None:
        from fleetaudit import analysis_pool
        analysis_pool.MIN_HOSTS_PER_PROCESS = a.min_hosts_per_process
    out = Path(a.out).resolve()
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    prof = None
    if a.profile:
        import cProfile
        prof = cProfile.Profile(time.process_time)  # CPU: the machine is shared
        prof.enable()
    report = [run_variant(v, a.hosts, out / v, work, a.workers) for v in a.variants.split(",") if v]
    if prof:
        prof.disable()
        prof.dump_stats(a.profile)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
