"""Markdown tables from benchmark results, for docs/benchmarks.md and the README.

    .venv/bin/python -m bench.report bench/results/fleet-DATE.json bench/results/synth-DATE.json
"""
from __future__ import annotations

import json
import sys
from typing import List


def _f(v, fmt="{:.2f}", dash="–"):
    return fmt.format(v) if isinstance(v, (int, float)) else dash


def _others(runs: list, cores: int) -> str:
    """CPU the rest of the machine (other engineers' tests) used during the runs: busy
    time of all cores minus this tool's client CPU and the test hosts' CPU; median, as a
    share of the machine."""
    vals = []
    for r in runs:
        busy, wall = r.get("machine_busy_pct"), r.get("wall_s")
        if busy is None or not wall:
            continue
        other = busy / 100 * cores * wall - r.get("cpu_s", 0) - (r.get("host_cpu_s") or 0)
        vals.append(max(0.0, other) / (cores * wall))
    if not vals:
        return "–"
    vals.sort()
    return f"{100 * vals[len(vals) // 2]:.0f} %"


def fleet_md(doc: dict) -> str:
    out: List[str] = []
    m = doc.get("machine", {})
    c = doc.get("config", {})
    out.append(f"Run {doc.get('date')} at commit {m.get('git')} · {m.get('cores')} cores "
               f"({m.get('cpu', '?')}), {m.get('mem_gb')} GB · Python {m.get('python')}, "
               f"asyncssh {m.get('asyncssh')} · {c.get('ansible') or 'Ansible not run'} · "
               f"median of {c.get('reps')} (Ansible {c.get('ansible_reps', c.get('reps'))}) · "
               f"concurrency {c.get('concurrency')}, Ansible forks {c.get('ansible_forks')} · "
               f"script {c.get('script_bytes')} bytes, {len(c.get('collectors', []))} collectors")
    out.append("")
    out.append("| hosts | tool | ok | wall s | client CPU s | CPU ms/host | peak RSS MB | bytes/host "
               "| host CPU s | others' CPU | wall / floor | CPU / floor | Ansible wall / tool | Ansible CPU / tool |")
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    cores = m.get("cores") or 2
    for n, s in sorted(doc["sizes"].items(), key=lambda kv: int(kv[0])):
        med = s.get("median", {})
        f, x = med.get("floor"), med.get("ansible")
        names = ["audit", "floor", "ansible"] + [k for k in med if k not in ("audit", "floor", "ansible")]
        for name in names:
            r = med.get(name)
            if r is None:
                why = (s.get("skipped") or {}).get(name) or s.get("error") or "not measured"
                out.append(f"| {n} | {name} | {why} |||||||||||")
                continue
            wf = r["wall_s"] / f["wall_s"] if f and f["wall_s"] else None
            cf = r["cpu_s"] / f["cpu_s"] if f and f["cpu_s"] else None
            aw = x["wall_s"] / r["wall_s"] if x and r["wall_s"] else None
            ac = x["cpu_s"] / r["cpu_s"] if x and r["cpu_s"] else None
            out.append(
                f"| {n} | {name} | {r['ok']} | {_f(r['wall_s'], '{:.1f}')} | {_f(r['cpu_s'])} | "
                f"{_f(r.get('cpu_ms_per_host'), '{:.1f}')} | {_f(r['maxrss_mb'], '{:.0f}')} | "
                f"{_f(r.get('bytes_per_host'), '{:,.0f}')} | {_f(r.get('host_cpu_s'), '{:.0f}')} | "
                f"{_others(s.get('runs', {}).get(name, []), cores)} | "
                f"{_f(wf, '{:.2f}x')} | {_f(cf, '{:.2f}x')} | {_f(aw, '{:.1f}x')} | {_f(ac, '{:.1f}x')} |")
    t = doc.get("targets") or {}
    if t:
        out.append("")
        out.append(f"Targets at {t.get('at_hosts')} hosts (row `audit`):")
        out.append("")
        out.append("| target | measured | limit | |")
        out.append("|---|---:|---:|---|")
        for key, v in t.items():
            if isinstance(v, dict):
                op = "≤" if key in ("audit_cpu_vs_floor", "audit_wall_vs_floor", "audit_peak_rss_mb") else "≥"
                state = {True: "met", False: "**not met**", None: "not measured"}[v["met"]]
                out.append(f"| {key} | {v['value']} | {op} {v['target']} | {state} |")
    return "\n".join(out)


def synth_md(doc: dict) -> str:
    out = [f"Run {doc.get('date')} · load before {' '.join(doc.get('machine', {}).get('loadavg_before', []))}",
           "",
           "| hosts | findings | compare s | diagnose s | render s | **total s** | CPU s (total) | RSS MB after render "
           "| RSS MB incl. JSON write | HTML MB | JSON MB | chromium load event s | data-ready s | filter s "
           "| DOM nodes | `--dump-dom` s (blank page) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in doc["sizes"]:
        if "error" in r:
            out.append(f"| {r['hosts']} | error: {r['error'][-200:]!r} |" + "|" * 14)
            continue
        st, b = r["stages"], r.get("browser") or {}
        cpu = sum(st[k]["cpu_s"] for k in ("compare", "diagnose", "render_html"))
        out.append(
            f"| {r['hosts']:,} | {r['findings']} | {st['compare']['wall_s']:.2f} | {st['diagnose']['wall_s']:.2f} | "
            f"{st['render_html']['wall_s']:.2f} | **{r['pipeline_wall_s']:.2f}** | {cpu:.2f} | "
            f"{r['pipeline_rss_mb']:.0f} | {r['process']['maxrss_mb']:.0f} | {r['html_bytes'] / 1e6:.2f} | "
            f"{r['json_bytes'] / 1e6:.1f} | {_f(b.get('load_event_s'))} | {_f(b.get('ready_s'))} | "
            f"{_f(b.get('filter_critical_s'))} | {_f(b.get('dom_nodes'), '{:,}')} | "
            f"{_f(b.get('dump_dom_s'))} ({_f(b.get('dump_dom_blank_s'))}) |")
    views = [r for r in doc["sizes"] if "error" not in r and "json_gz_bytes" in r]
    if views:  # issue 16: fleet-scale views and the compressed snapshot
        out += ["", "| hosts | group filter s | host view open s | `#host=` permalink load s "
                "| JSON MB | write s | read s | .json.gz MB | ratio | gz write s | gz read s |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in views:
            st, b = r["stages"], r.get("browser") or {}
            out.append(
                f"| {r['hosts']:,} | {_f(b.get('filter_group_s'))} | {_f(b.get('host_view_s'))} | "
                f"{_f(b.get('permalink_ready_s'))} | {r['json_bytes'] / 1e6:.1f} | "
                f"{st['write_json']['wall_s']:.2f} | {st['read_json']['wall_s']:.2f} | "
                f"{r['json_gz_bytes'] / 1e6:.2f} | {r['json_bytes'] / max(1, r['json_gz_bytes']):.1f}x | "
                f"{st['write_json_gz']['wall_s']:.2f} | {st['read_json_gz']['wall_s']:.2f} |")
    t = doc.get("targets") or {}
    if t:
        out += ["", f"Targets at {t.get('at_hosts'):,} hosts:", "", "| target | measured | limit | |", "|---|---:|---:|---|"]
        for key, v in t.items():
            if isinstance(v, dict):
                state = {True: "met", False: "**not met**", None: "not measured"}[v["met"]]
                out.append(f"| {key} | {v['value']} | {v['target']} | {state} |")
    return "\n".join(out)


def main(argv=None) -> int:
    for path in (argv if argv is not None else sys.argv[1:]):
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        print(fleet_md(doc) if doc.get("benchmark") == "fleet" else synth_md(doc))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
