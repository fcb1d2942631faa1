"""Smoke test of the fleet benchmark: quick mode on a tiny fleet still produces its table
and JSON (three rows: audit, floor, and Ansible measured or skipped with a reason).

Speed is not asserted here (issue 4): CI only proves the benchmark still works.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.fleet


def test_fleet_bench_quick(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    out = tmp_path / "fleet.json"
    # the runner's own history location: the bench's audits must not record there
    env = {k: v for k, v in os.environ.items() if k != "FLEETAUDIT_HISTORY"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.fleet_bench", "--quick", "--sizes", "4", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "state" / "fleetaudit").exists()
    assert took < 60, f"quick mode took {took:.0f}s"

    # The printed table: one row per contender, Ansible skipped with its reason.
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip().startswith("4 ")]
    assert [r[1] for r in rows] == ["audit", "floor", "ansible"], proc.stdout
    assert rows[0][2] == rows[1][2] == "4"           # every host answered both
    assert "skipped" in rows[2] and "--quick" in " ".join(rows[2])

    doc = json.loads(out.read_text())
    size = doc["sizes"]["4"]
    med = size["median"]
    assert set(med) == {"audit", "floor"}
    assert size["skipped"]["ansible"]
    for name in ("audit", "floor"):
        assert med[name]["ok"] == 4
        assert med[name]["wall_s"] > 0 and med[name]["cpu_s"] > 0 and med[name]["maxrss_mb"] > 0
        assert med[name]["bytes_per_host"] > 1000
    # The audit and the floor ran the same script: the same bytes per host, give or take
    # the clock mark and the nonce.
    assert abs(med["audit"]["bytes_per_host"] - med["floor"]["bytes_per_host"]) < 200
    assert "audit_cpu_vs_floor" in size["ratios"] and "audit_wall_vs_floor" in size["ratios"]
    assert doc["targets"]["ansible_cpu_vs_audit"]["met"] is None
    # the fleet is gone again
    assert not (ROOT / ".lab" / "bench-4" / "lab.json").exists()


def test_synth_bench_tiny(tmp_path):
    """bench.synth_bench end to end at a tiny size: the real compare -> diagnose -> render
    pipeline on synthetic hosts. A changed analyze signature broke it once unnoticed."""
    out = tmp_path / "synth.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.synth_bench", "--sizes", "30", "--no-browser",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    (row,) = doc["sizes"]
    assert row["hosts"] == 30 and row["audited"] > 0
    assert row["findings"] > 0 and row["drift_items"] > 0   # the pipeline really ran
    assert row["html_bytes"] > 10_000 and row["json_bytes"] > 10_000
    assert set(row["stages"]) >= {"compare", "diagnose", "render_html", "write_json",
                                  "write_json_gz", "read_json", "read_json_gz"}
    assert 0 < row["json_gz_bytes"] < row["json_bytes"] / 3  # the compressed snapshot (issue 16)
    assert 0 < row["finding_rows"] <= row["findings"]  # one row per cause
    assert "snapshot: JSON" in proc.stdout and ".json.gz" in proc.stdout


def test_drift_bench_tiny(tmp_path):
    """bench.drift_bench end to end at a tiny size (the real changes_since on synthetic runs)."""
    out = tmp_path / "drift.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.drift_bench", "--hosts", "40", "--repeat", "1",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r["scenario"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"quiet", "1pct", "first"}
    # Volatile readings alone are no drift; a real change on 1% of hosts is.
    assert rows["quiet"]["new_drift"] is False and rows["quiet"]["facts_changed"] == 0
    assert rows["1pct"]["new_drift"] is True and rows["1pct"]["facts_changed"] >= 1
    assert rows["first"]["findings_new"] > 0


def test_report_tables_from_saved_results():
    """bench.report turns the committed fleet and synthetic results into Markdown tables."""
    results = ROOT / "bench" / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.report", str(results / "fleet-2026-11-29-main500.json"),
         str(results / "synth-2026-11-29.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("|") > 20 and "500" in proc.stdout


def test_shard_bench_quick(tmp_path):
    """bench.shard_bench on a 6-host fleet: every contender ran on every host, the merge
    saw the whole fleet, workers report their CPU and RSS, the model has its rows."""
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    out = tmp_path / "shard.json"
    proc = subprocess.run([sys.executable, "-m", "bench.shard_bench", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    size = doc["sizes"]["6"]
    rows = size["summary"]["rows"]
    assert set(rows) == {"floor", "floor_gcm", "workers1", "workers2", "3 shards + merge"}
    assert all(r["ok"] == 6 and r["cpu_s"] > 0 and r["wall_s"] > 0 for r in rows.values())
    assert size["runs"]["shards"][0]["merged_hosts"] == 6
    workers = size["summary"]["workers"]
    assert sorted(w["hosts"] for w in workers) == [2, 4]  # sha256(name) mod 2 of h0001..h0006
    assert all(w["cpu_s"] > 0 and w["max_rss_kb"] > 0 for w in workers)
    c = size["constants"]
    assert c["startup_cpu_s"] > 0 and c["analyse_cpu_per_host_s"] > 0
    # the audit's imports cost more than the bare CLI's (which loads no SSH stack)
    start = size["runs"]["startup"][0]
    assert 0 < start["cli_only_cpu_s"] < start["cpu_s"]
    assert size["summary"]["audit_cpu_vs_floor_gcm"] > 0
    assert len(size["model"]) == 18 and {m["dominant"] for m in size["model"].values()} <= {
        "collect CPU", "host latency", "merge+analysis"}
    assert "| 100,000 |" in proc.stdout
    assert not (ROOT / ".lab" / "shardbench-6" / "lab.json").exists()


def test_synth_bench_tiny_with_browser_and_its_table(tmp_path):
    """The browser half of bench.synth_bench at a tiny size (issue 16's views: group
    filter, host view, #host= permalink), and bench.report's table of those figures."""
    out = tmp_path / "synth.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.synth_bench", "--sizes", "40", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = json.loads(out.read_text())["sizes"]
    br = row["browser"]
    assert "error" not in br, br
    assert br["ready_s"] > 0 and br["filter_critical_s"] >= 0 and br["filter_group_s"] >= 0
    assert br["host_view_ok"] is True and br["permalink_ok"] is True and br["host_view_s"] > 0
    table = subprocess.run([sys.executable, "-m", "bench.report", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "host view open s" in table.stdout and "| 40 |" in table.stdout


def test_host_cost_quick(tmp_path):
    """bench.host_cost at its tiny size: host CPU of the script before/after per host,
    and the per-part breakdown, from a real 2-host lab fleet (speed not asserted)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    out = tmp_path / "host-cost.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.host_cost", "--quick", "--parts", "--baseline", "HEAD", "--out", str(out),
         "--state-dir", str(tmp_path / "lab")],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()
            if line.split() and line.split()[0] in ("dock", "bbox")}
    assert set(rows) == {"dock", "bbox"}, proc.stdout
    doc = json.loads(out.read_text())
    assert doc["kinds"] == {"dock": "docker", "bbox": "busybox"}
    for name in ("dock", "bbox"):
        for version in ("before", "after"):
            assert doc["hosts"][name][version]["script_ms"] > 0
    assert doc["hosts"]["bbox"]["after"]["daemon_ms"] == 0     # no daemon there
    for version in ("before", "after"):
        parts = dict((k, ms) for ms, k in doc["parts"][version])
        assert any(k.startswith("docker/") for k in parts), parts
    assert not (tmp_path / "lab" / "lab.json").exists()      # the fleet is gone again


def _analysis_harness():
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("analysis_outputs", ROOT / "bench" / "analysis_outputs.py")
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_analysis_outputs_tiny_is_deterministic(tmp_path):
    """bench/analysis_outputs.py (the harness behind bench/verify_analysis_equivalence.py)
    at a tiny size: two runs of this tree give byte-identical outputs, so a difference it
    reports between two trees is the code's, not the harness's noise; a third run with
    the analysis over 2 worker processes (forced at this size) gives them too."""
    runs = []
    for side, extra in (("a", []), ("b", []),
                        ("w", ["--workers", "2", "--min-hosts-per-process", "1"])):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "analysis_outputs.py"), "--code", str(ROOT),
             "--out", str(tmp_path / side), "--hosts", "12", "--variants", "consensus,hostile",
             *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert all(r["findings"] > 0 for r in runs[0])            # real work, not empty outputs
    assert (tmp_path / "a" / "hostile" / "report.html").stat().st_size > 10_000
    assert _analysis_harness().compare_dirs(tmp_path / "a", tmp_path / "b") == []
    assert all(r["processes"] == 2 and r["serial_cpu_s"] is not None for r in runs[2])
    assert _analysis_harness().compare_dirs(tmp_path / "a", tmp_path / "w") == []


def test_compare_dirs_sees_a_one_byte_change(tmp_path):
    """The comparison itself is not vacuous: a changed byte in one output is reported."""
    mod = _analysis_harness()
    for side in ("a", "b"):
        d = tmp_path / side / "consensus"
        d.mkdir(parents=True)
        for name in mod.OUTPUTS:
            (d / name).write_text("same")
    (tmp_path / "b" / "consensus" / "junit.xml").write_text("samf")
    assert mod.compare_dirs(tmp_path / "a", tmp_path / "b") == ["consensus/junit.xml"]
    (tmp_path / "b" / "consensus" / "report.md").unlink()
    assert "consensus/report.md" in mod.compare_dirs(tmp_path / "a", tmp_path / "b")


def test_report_wall_quick(tmp_path):
    """bench/report_wall.py (measured wall of `fleetaudit report` at fleet size) at a tiny
    size: every contender writes the same outputs, and each run is recorded."""
    out = tmp_path / "report-wall.json"
    proc = subprocess.run([sys.executable, "-m", "bench.report_wall", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert doc["outputs_identical"] is True
    assert [(r["tree"], r["workers"]) for r in doc["rows"]] == [("this", 1), ("this", 2)]
    assert all(r["wall_s"] > 0 and r["cpu_s"] > 0 for r in doc["rows"])


def test_explain_long_quick(tmp_path):
    """bench/explain_long.py (explain's seconds against the paste's length) at tiny sizes:
    every shape at every size explained, each with an answer."""
    out = tmp_path / "explain-long.json"
    proc = subprocess.run([sys.executable, "-m", "bench.explain_long", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    rows = doc["rows"]["this"]
    from bench.explain_long import SHAPES
    assert [(r["shape"], r["size"]) for r in rows] == [(s, n) for s in SHAPES for n in doc["sizes"]]
    assert all(r["seconds"] > 0 and r["first"] for r in rows)
    assert "letters" in proc.stdout and "ci-log" in proc.stdout
