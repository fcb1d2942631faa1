"""explain's ranking with and without a snapshot, on real lab faults (issue 10, evidence side).

    sudo PYTHONPATH=$PWD python -m bench.explain_lab [--hosts a,b,c] [--json PATH]
        [--save-capture PATH]        # also keep the raw capture (snapshot + pull errors)
    PYTHONPATH=$PWD python -m bench.explain_lab --capture PATH[.gz] [--hosts ...] [--json PATH]
        # score a saved capture again (no fleet): the same faults, this tree's explain
        # (bench/results/explain-lab-2026-12-05-capture.json.gz: the run docs/explain.md cites)

Brings up the gate agreement fleet (lab/gatefleet.py: one docker host per failure class,
GATE_HOSTS[name] = (summary, expected category)) plus the demo fleet's `mtu-1400` and
`skew` hosts (lab/demo.py) and the bench's own `fw-envproxy` (BENCH_HOSTS), runs a real
read-only `fleetaudit gate` for the snapshot
(audit + the gate probe; nothing pulled), then has each host's own dockerd really pull the
image (`fleet.pull`) for the genuine error text. The image-side classes (lab/gatefleet.py
IMAGE_CASES: a platform missing from a manifest list, a wrong tag) are two more pulls on
the good host. A case that pulls fine is listed and not scored.

Each failing pull is explained three ways, scored against the planted category:
  text   explain(text)                     the error alone
  snap   explain(text, snapshot)           facts and findings of every audited host
  named  explain(text, snapshot, [host])   only the host that printed the error
and the table shows each way's first three causes, the rank of the expected one, and the
facts that raised or lowered a cause in the `named` way (explain's own output: Cause.facts,
Cause.lowered_by). Totals: top-1 / top-3 per way. Not a test: it asserts nothing.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

from fleetaudit import snapshot as snapmod
from fleetaudit.explain import explain

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
WAYS = ("text", "snap", "named")
# Demo-fleet hosts added to the gate fleet: their faults are kept only if a pull fails.
DEMO_EXTRA = {"mtu-1400": "mtu", "skew": "time"}
# The bench's own host, for the case rule proxy.shell-only describes ("on a network where
# only the proxy gets out the daemon connects directly and fails with ... i/o timeout"):
# only the proxy's port gets out, and the proxy is set for logins, not for dockerd.
BENCH_HOSTS = {"fw-envproxy": ("iptables OUTPUT tcp/443 DROP; the proxy (with its credentials) only "
                               "in /etc/environment, none for dockerd", "proxy")}


def bench_specs(fleet) -> list:
    from lab.common import HostSpec
    from lab.services import golden_docker_files

    files = dict(golden_docker_files(fleet))
    url = fleet.proxy_url_with_credentials
    files["/etc/environment"] = (f"http_proxy={url}\nhttps_proxy={url}\nHTTP_PROXY={url}\n"
                                 f"HTTPS_PROXY={url}\nno_proxy=localhost,127.0.0.1\n")
    return [HostSpec(name="fw-envproxy", kind="docker", files=files, groups=["gate"],
                     iptables=["-A OUTPUT -p tcp --dport 443 -j DROP"])]


# ------------------------------------------------------------------ capture (needs the lab)

def _last_line(out: str) -> str:
    lines = [ln.strip() for ln in (out or "").splitlines() if ln.strip() and not ln.startswith("(lab:")]
    return lines[-1] if lines else (out or "").strip()


def capture(hosts: Optional[List[str]], state_root: Path, demo_extra: bool = True,
            log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """Bring the fleet up, snapshot it with a read-only gate, pull, tear it down."""
    from lab.demo import demo_specs
    from lab.fleet import Fleet
    from lab.gatefleet import GATE_HOSTS, IMAGE_CASES, gate_specs

    state = state_root / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        specs = gate_specs(fleet) + bench_specs(fleet)
        if demo_extra:
            extra = [s for s in demo_specs(fleet) if s.name in DEMO_EXTRA]
            for s in extra:
                s.pulls = []
            specs += extra
        expected = {n: GATE_HOSTS[n][1] for n in GATE_HOSTS}
        expected.update({n: cat for n, (_summary, cat) in BENCH_HOSTS.items()})
        expected.update({n: DEMO_EXTRA[n] for n in DEMO_EXTRA if demo_extra})
        if hosts:
            unknown = set(hosts) - set(expected) - {f"good:{k}" for k in IMAGE_CASES}
            if unknown:
                raise SystemExit(f"--hosts: not in the gate fleet: {', '.join(sorted(unknown))}")
            wanted = {h.split(":", 1)[0] for h in hosts}
            specs = [s for s in specs if s.name in wanted]
        log(f"bringing up {len(specs)} hosts under {state}")
        fleet.up(specs, services=True, timeout=300, progress=log)
        names = [s.name for s in specs]
        app = fleet.images["app"]
        cases = [(n, n, app, expected[n]) for n in names]
        if "good" in names:
            image_refs = {"arm_only": fleet.images["arm_only"], "wrong_tag": app.rsplit(":", 1)[0] + ":nope"}
            cases += [(f"good:{k}", "good", image_refs[k], cat) for k, cat in IMAGE_CASES.items()]
        if hosts:
            cases = [c for c in cases if c[0] in hosts]
        inv = fleet.write_inventory(state / "inventory.ini", "ini")
        snap_path, gate_path = state / "snap.json", state / "gate.json"
        # The snapshot first, read-only (nothing pulled): the facts an operator holds when a
        # pull then fails; the daemon logs do not hold the error yet.
        refs = sorted({c[2] for c in cases})
        cmd = FLEETAUDIT + ["gate", "-i", str(inv), "--known-hosts", fleet.known_hosts_path,
                            "--connect-timeout", "5", "--limit", ",".join(names), "--no-history",
                            "--snapshot", str(snap_path), "--json", str(gate_path), "-q"]
        for ref in refs:
            cmd += ["--image", ref]
        log("read-only gate: " + " ".join(cmd[3:]))
        proc = subprocess.run(cmd, cwd=state, capture_output=True, text=True, timeout=900)
        if not snap_path.exists():
            raise RuntimeError(f"gate exited {proc.returncode} without a snapshot:\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        log(f"gate exit {proc.returncode}; pulling on {len(cases)} cases")

        def pull(case):
            key, host, ref, _cat = case
            rc, out = fleet.pull(host, ref, timeout=240)
            return key, {"rc": rc, "output": out[-4000:]}
        with ThreadPoolExecutor(8) as pool:
            pulls = dict(pool.map(pull, cases))
        snap = snapmod.load(snap_path)
        doc = {
            "registry": fleet.registry,
            "cases": [{"key": k, "host": h, "image": ref, "expected": cat, "rc": pulls[k]["rc"],
                       "output": pulls[k]["output"], "error": _last_line(pulls[k]["output"])}
                      for k, h, ref, cat in cases],
            "gate_exit": proc.returncode,
            "gate": json.loads(gate_path.read_text()) if gate_path.exists() else None,
            "snapshot": snapmod.to_json(snap),
        }
        secrets = fleet.planted_secrets
        blob = json.dumps(doc)
        leaked = [s for s in secrets if s in blob]
        if leaked:
            raise RuntimeError("a planted secret is in the capture: refusing to keep it")
        return doc
    finally:
        log("tearing the fleet down")
        fleet.down()


# ------------------------------------------------------------------ scoring (no lab)

def _rank(causes, want: str) -> Optional[int]:
    for i, c in enumerate(causes, 1):
        if c.category == want:
            return i
    return None


def _evidence(causes, limit: int = 2) -> List[str]:
    """What explain's output says raised or lowered a cause (the `named` way)."""
    out = []
    for c in causes:
        if c.lowered_by:
            out.append(f"-{c.category}: {c.lowered_by}")
    for c in causes:
        if c.hosts and c.facts:
            out.append(f"+{c.category}: {c.facts[0]}")
        if c.raised_by:
            out.append(f"+{c.category}: {c.raised_by}")
    return out


def score(doc: dict, hosts: Optional[List[str]] = None) -> dict:
    snap = snapmod.from_json(doc["snapshot"])
    rows, skipped = [], []
    for case in doc["cases"]:
        if hosts and case["key"] not in hosts and case["host"] not in hosts:
            continue
        if case["expected"] is None or case["rc"] == 0:
            skipped.append({"key": case["key"], "expected": case["expected"], "rc": case["rc"],
                            "error": case["error"][:200]})
            continue
        text = case["error"]
        ways = {"text": explain(text), "snap": explain(text, snap),
                "named": explain(text, snap, [case["host"]])}
        row = {"key": case["key"], "host": case["host"], "expected": case["expected"], "error": text}
        for way, causes in ways.items():
            rank = _rank(causes, case["expected"])
            row[way] = {"top3": [(c.category, round(c.confidence, 2)) for c in causes[:3]],
                        "rank": rank, "top1": rank == 1, "top3_hit": rank is not None and rank <= 3}
        row["evidence"] = _evidence(ways["named"])
        rows.append(row)
    totals = {way: {"n": len(rows), "top1": sum(r[way]["top1"] for r in rows),
                    "top3": sum(r[way]["top3_hit"] for r in rows)} for way in WAYS}
    return {"rows": rows, "skipped": skipped, "totals": totals}


def _cell(way: dict) -> str:
    mark = {1: "*"}.get(way["rank"], "")
    top = " ".join(f"{c}:{p:.2f}" for c, p in way["top3"])
    return f"{('#' + str(way['rank'])) if way['rank'] else '-':>3}{mark:1} {top}"


def render(result: dict, width: int = 48) -> str:
    lines = [f"{'case':17} {'expected':12} " + " ".join(f"{w:{width}}" for w in WAYS)]
    for r in result["rows"]:
        lines.append(f"{r['key']:17} {r['expected']:12} " +
                     " ".join(f"{_cell(r[w]):{width}}" for w in WAYS))
        lines.append(f"{'':17} error: {r['error'][:150]}")
        for ev in r["evidence"][:3]:
            lines.append(f"{'':17} {ev[:170]}")
    for s in result["skipped"]:
        lines.append(f"{s['key']:17} {str(s['expected']):12} not scored (pull rc={s['rc']}): {s['error'][:100]}")
    t = result["totals"]
    lines.append("")
    cells = [f"top-1 {t[w]['top1']}/{t[w]['n']}  top-3 {t[w]['top3']}/{t[w]['n']}" for w in WAYS]
    lines.append(f"{'totals':30} " + " ".join(f"{c:{width}}" for c in cells))
    lines.append("(#N: rank of the expected category; * first; +cat raised by / -cat lowered by: the named way's facts)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", help="comma-separated cases to run (host names; good:arm_only, good:wrong_tag)")
    ap.add_argument("--json", help="write the figures (rows, totals) here")
    ap.add_argument("--capture", help="score this saved capture instead of bringing a fleet up")
    ap.add_argument("--save-capture", help="keep the raw capture (snapshot, pull outputs) here")
    ap.add_argument("--no-demo-extra", action="store_true", help="without the demo's mtu-1400 and skew hosts")
    ap.add_argument("--state-dir", help="lab state under this directory (default: a temp dir)")
    a = ap.parse_args(argv)
    hosts = [h.strip() for h in a.hosts.split(",") if h.strip()] if a.hosts else None
    if a.capture:
        raw = Path(a.capture).read_bytes()
        doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    else:
        if os.geteuid() != 0:
            print("needs root to build the lab fleet (or --capture PATH)", file=sys.stderr)
            return 2
        root = Path(a.state_dir) if a.state_dir else Path(tempfile.mkdtemp(prefix="explain-lab-"))
        root.mkdir(parents=True, exist_ok=True)
        doc = capture(hosts, root, demo_extra=not a.no_demo_extra)
        if a.save_capture:
            Path(a.save_capture).write_text(json.dumps(doc, indent=1) + "\n")
    result = score(doc, hosts)
    print(render(result))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
