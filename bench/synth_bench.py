"""Synthetic benchmark, no SSH: compare, diagnose and render for 1,000 and 10,000 hosts.

    .venv/bin/python -m bench.synth_bench                    # 1000,10000
    .venv/bin/python -m bench.synth_bench --sizes 500 --no-browser

Each size runs in its own process (so ru_maxrss is that size's peak): bench/synthetic.py
builds a RunResult of N hosts with realistic facts (a few percent drifted, some hosts
unreachable or partial); its precomputed findings and drift are dropped and the real
pipeline runs on the facts: compare (fleetaudit.compare.annotate against the fleet
consensus) -> diagnose -> render_html, plus the JSON snapshot write. Then headless
chromium loads the report: DevTools-protocol timing of the load event and of the
report's own `data-ready` mark (tests/browser/chromium_cdp.py), a severity filter
applied through the page's UI, and the process wall of `chromium --dump-dom`.

Writes bench/results/synth-<date>.json and prints a table.
"""
from __future__ import annotations

import argparse
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
TARGET_SECONDS = 30.0     # 10k hosts: compare + diagnose + render
TARGET_RSS_MB = 1024.0
TARGET_HTML_MB = 10.0


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(n: int, out_dir: Path, seed: int) -> dict:
    """One size, in this process: time and peak memory per stage."""
    from bench.synthetic import synthetic_run
    from fleetaudit.analyze import AnalyzeOptions
    from fleetaudit import analyze as analyze_mod
    from fleetaudit.compare import annotate
    from fleetaudit.diagnose import diagnose
    from fleetaudit.render.html import render_html
    from fleetaudit.render.rows import fold_findings
    from fleetaudit import snapshot

    stages = {}
    rss_import = _rss_mb()

    def stage(name, fn):
        c0, t0 = _cpu(), time.perf_counter()
        value = fn()
        stages[name] = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(_cpu() - c0, 3),
                        "peak_rss_mb_after": _rss_mb()}
        return value

    result = stage("generate", lambda: synthetic_run(n, seed=seed))
    # The generator precomputes what compare/diagnose would say (for render tests);
    # drop it so the real pipeline does the work.
    result.findings = []
    result.extra = {}
    opts = AnalyzeOptions()
    baselines = analyze_mod._baselines(result, opts)
    drift = stage("compare", lambda: annotate(result, baselines, ignore=None))
    result.findings = stage("diagnose", lambda: diagnose(
        result, drift=drift, baselines=analyze_mod._expected_facts(result, opts, baselines)))
    html = stage("render_html", lambda: render_html(result))
    html_path = out_dir / f"report-{n}.html"
    stage("write_html", lambda: html_path.write_text(html, encoding="utf-8"))
    json_path = out_dir / f"snapshot-{n}.json"
    stage("write_json", lambda: snapshot.save(result, json_path))
    # The compressed form (issue 16): --json X.json.gz, read back by every command.
    gz_path = out_dir / f"snapshot-{n}.json.gz"
    stage("write_json_gz", lambda: snapshot.save(result, gz_path))
    stage("read_json", lambda: snapshot.load(json_path))
    stage("read_json_gz", lambda: snapshot.load(gz_path))
    pipeline = sum(stages[s]["wall_s"] for s in ("compare", "diagnose", "render_html"))
    audited = sum(1 for h in result.hosts.values() if h.status != "unreachable")
    drift_items = sum(len(v) for v in (result.extra.get("drift") or {}).values()) \
        if isinstance(result.extra.get("drift"), dict) else None
    return {
        "hosts": n, "audited": audited, "findings": len(result.findings),
        "finding_rows": len(fold_findings(result.findings)),  # the report's rows: one per cause
        "drift_items": drift_items, "matrix_paths": len(result.extra.get("matrix") or {}),
        "stages": stages, "pipeline_wall_s": round(pipeline, 3),
        "peak_rss_mb": _rss_mb(), "rss_after_imports_mb": rss_import,
        "pipeline_rss_mb": stages["render_html"]["peak_rss_mb_after"],
        "rss_after_generate_mb": stages["generate"]["peak_rss_mb_after"],
        "html_bytes": len(html.encode()), "json_bytes": json_path.stat().st_size,
        "json_gz_bytes": gz_path.stat().st_size,
        "html_path": str(html_path),
    }


def browser_timing(html_path: str, timeout: float = 120.0) -> dict:
    """Load the report in headless chromium over CDP; time the load event, the report's
    data-ready mark and one filter change made through the page's own controls."""
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    try:
        from chromium_cdp import Chromium, find_chromium
    except ImportError as exc:
        return {"skipped": f"CDP helper not importable: {exc}"}
    exe = find_chromium()
    if not exe:
        return {"skipped": "chromium not installed"}
    out: dict = {}
    b = Chromium(exe, timeout=timeout)
    try:
        b.open_page()
        b.call("Performance.enable")
        b.navigate("about:blank")
        uri = Path(html_path).as_uri()
        t0 = time.perf_counter()
        b.navigate(uri)
        out["load_event_s"] = round(time.perf_counter() - t0, 3)
        deadline = time.monotonic() + timeout
        while b.eval("document.documentElement.getAttribute('data-ready')") != "1":
            if time.monotonic() > deadline:
                out["error"] = "data-ready never set"
                break
            time.sleep(0.01)
        out["ready_s"] = round(time.perf_counter() - t0, 3)
        nav = b.eval("JSON.stringify(performance.getEntriesByType('navigation')[0] || {})")
        try:
            nav = json.loads(nav)
            out["dom_content_loaded_ms"] = round(nav.get("domContentLoadedEventEnd", 0))
            out["load_event_end_ms"] = round(nav.get("loadEventEnd", 0))
        except (TypeError, ValueError):
            pass
        out["dom_nodes"] = b.eval("document.getElementsByTagName('*').length")
        metrics = {m["name"]: m["value"] for m in b.call("Performance.getMetrics").get("metrics", [])}
        out["js_heap_mb"] = round(metrics.get("JSHeapUsedSize", 0) / 1e6, 1)
        has_filter = b.eval("!!document.getElementById('f-sev')")
        if has_filter:
            t1 = time.perf_counter()
            b.eval("(() => { const s = document.getElementById('f-sev'); s.value = 'critical';"
                   " s.dispatchEvent(new Event('change', {bubbles: true}));"
                   " return new Promise(r => requestAnimationFrame(() => setTimeout(r, 0))); })()")
            out["filter_critical_s"] = round(time.perf_counter() - t1, 3)
        out.update(_fleet_view_timing(b, uri, timeout))
    except Exception as exc:  # the timing is a measurement, not a test: report it
        out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        b.close()
    # The plain CLI way: process wall of --dump-dom (browser start included), minus an
    # empty page's, so the report's share is visible.
    def dump(url):
        with tempfile.TemporaryDirectory(prefix="fa-chromium-") as prof:
            t = time.perf_counter()
            p = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                                f"--user-data-dir={prof}", "--dump-dom", url],
                               capture_output=True, timeout=timeout)
            return time.perf_counter() - t, len(p.stdout), p.returncode
    try:
        blank, _, _ = dump("about:blank")
        full, size, rc = dump(Path(html_path).as_uri())
        out.update(dump_dom_s=round(full, 3), dump_dom_blank_s=round(blank, 3),
                   dump_dom_bytes=size, dump_dom_rc=rc)
    except (subprocess.SubprocessError, OSError) as exc:
        out["dump_dom_error"] = str(exc)
    return out


_SETTLE = "new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"


def _fleet_view_timing(b, uri: str, timeout: float) -> dict:
    """Issue 16's views: the group filter, the host view opened by a click on a host
    link, and the #host=NAME permalink loaded fresh (navigation to data-ready)."""
    out: dict = {}
    if not b.eval("!!document.getElementById('sec-host')"):
        return out
    b.eval("document.getElementById('f-clear').click()")
    if b.eval("!!document.getElementById('f-grp')"):
        t = time.perf_counter()
        b.eval("(() => { const g = document.getElementById('f-grp'); g.value = g.options[1].value;"
               f" g.dispatchEvent(new Event('change')); return {_SETTLE}; }})()")
        out["filter_group_s"] = round(time.perf_counter() - t, 3)
        b.eval("document.getElementById('f-clear').click()")
    name = b.eval("document.querySelector('#findings tbody tr.row a.host')?.textContent")
    if not name:
        return out
    t = time.perf_counter()
    b.eval("(() => { document.querySelector('#findings tbody tr.row a.host').click();"
           f" return {_SETTLE}; }})()")
    out["host_view_s"] = round(time.perf_counter() - t, 3)
    out["host_view_ok"] = b.eval("document.getElementById('sec-host').dataset.host") == name
    from urllib.parse import quote
    b.navigate("about:blank")
    t = time.perf_counter()
    b.navigate(uri + "#host=" + quote(name, safe=""))
    deadline = time.monotonic() + timeout
    while b.eval("document.documentElement.getAttribute('data-ready')") != "1":
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    out["permalink_ready_s"] = round(time.perf_counter() - t, 3)
    out["permalink_ok"] = b.eval("document.getElementById('sec-host').dataset.host") == name
    return out


def run_size(n: int, out_dir: Path, seed: int, browser: bool) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.synth_bench", "--child", str(n),
                             "--dir", str(out_dir), "--seed", str(seed)],
                            cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"hosts": n, "error": stderr.decode(errors="replace")[-2000:]}
    res = json.loads(stdout.decode().strip().splitlines()[-1])
    res["process"] = {"wall_s": round(wall, 3), "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
                      "maxrss_mb": round(ru.ru_maxrss / 1024, 1)}
    if browser:
        res["browser"] = browser_timing(res["html_path"])
    return res


def format_table(doc: dict) -> str:
    lines = []
    hdr = (f"{'hosts':>6} {'findings':>8} {'compare s':>9} {'diagnose s':>10} {'render s':>8} "
           f"{'total s':>7} {'RSS MB':>7} {'+JSON MB':>8} {'HTML MB':>7} {'JSON MB':>7} {'load s':>6} "
           f"{'ready s':>7} {'filter s':>8} {'group s':>7} {'host s':>6} {'dump-dom s':>10}")
    lines += [hdr, "-" * len(hdr)]
    for r in doc["sizes"]:
        if "error" in r:
            lines.append(f"{r['hosts']:>6} error: {r['error'][-300:]}")
            continue
        st, br = r["stages"], r.get("browser") or {}

        def g(key, fmt="{:.2f}"):
            v = br.get(key)
            return fmt.format(v) if isinstance(v, (int, float)) else "-"
        lines.append(
            f"{r['hosts']:>6} {r['findings']:>8} {st['compare']['wall_s']:>9.2f} "
            f"{st['diagnose']['wall_s']:>10.2f} {st['render_html']['wall_s']:>8.2f} "
            f"{r['pipeline_wall_s']:>7.2f} {r['pipeline_rss_mb']:>7.1f} {r['process']['maxrss_mb']:>8.1f} "
            f"{r['html_bytes'] / 1e6:>7.2f} {r['json_bytes'] / 1e6:>7.2f} {g('load_event_s'):>6} "
            f"{g('ready_s'):>7} {g('filter_critical_s'):>8} {g('filter_group_s'):>7} "
            f"{g('host_view_s'):>6} {g('dump_dom_s'):>10}")
        if "json_gz_bytes" in r:
            lines.append(
                f"{'':>6} snapshot: JSON {r['json_bytes'] / 1e6:.1f} MB, write {st['write_json']['wall_s']:.2f} s, "
                f"read {st['read_json']['wall_s']:.2f} s; .json.gz {r['json_gz_bytes'] / 1e6:.1f} MB "
                f"({r['json_bytes'] / max(1, r['json_gz_bytes']):.1f}x smaller), write "
                f"{st['write_json_gz']['wall_s']:.2f} s, read {st['read_json_gz']['wall_s']:.2f} s")
    lines.append("total = compare + diagnose + render (the issue's target). RSS MB = peak RSS of the "
                 "process after render (synthetic data included); +JSON MB = peak after also "
                 "writing the JSON snapshot")
    for k, v in (doc.get("targets") or {}).items():
        if isinstance(v, dict):
            state = {True: "met", False: "NOT met", None: "not measured"}[v["met"]]
            lines.append(f"  {k:<22} {v['value']!s:>8}  target {v['target']}: {state}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.synth_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/synth-<date>.json)")
    ap.add_argument("--keep", default=None, help="directory to keep the reports in")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child is not None:
        print(json.dumps(child(a.child, Path(a.dir), a.seed)))
        return 0
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="fleetaudit-synth-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in a.sizes.split(",") if x.strip()]
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    doc = {"benchmark": "synthetic", "date": _dt.datetime.now().isoformat(timespec="seconds"),
           "machine": {"cores": os.cpu_count(), "loadavg_before": load}, "sizes": []}
    try:
        for n in sizes:
            print(f"bench: synthetic N={n}", file=sys.stderr, flush=True)
            doc["sizes"].append(run_size(n, work, a.seed, not a.no_browser))
    finally:
        if not a.keep:
            import shutil
            shutil.rmtree(work, ignore_errors=True)
    big = max((r for r in doc["sizes"] if "error" not in r), key=lambda r: r["hosts"], default=None)
    if big:
        def check(v, limit):
            return {"value": v, "target": f"<= {limit}", "met": v <= limit}
        doc["targets"] = {"at_hosts": big["hosts"],
                          "pipeline_s": check(big["pipeline_wall_s"], TARGET_SECONDS),
                          "peak_rss_mb": check(big["pipeline_rss_mb"], TARGET_RSS_MB),
                          "peak_rss_mb_with_json": check(big["process"]["maxrss_mb"], TARGET_RSS_MB),
                          "html_mb": check(round(big["html_bytes"] / 1e6, 2), TARGET_HTML_MB)}
    doc["table"] = format_table(doc)
    out = Path(a.out) if a.out else RESULTS / f"synth-{_dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(doc["table"])
    print(f"results: {out}")
    return 0 if all("error" not in r for r in doc["sizes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
