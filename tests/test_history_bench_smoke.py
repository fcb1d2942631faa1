"""Smoke test of the history benchmark at a tiny size, both backends (the bench starts
its own PostgreSQL like tests/pgserver.py). Speed is not asserted: bench/ measures it."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_history_bench_tiny(tmp_path):
    out = tmp_path / "history.json"
    proc = subprocess.run([sys.executable, "-m", "bench.history_bench", "--hosts", "40",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert [b["backend"] for b in doc["backends"]] == ["sqlite", "postgres"]
    for b in doc["backends"]:
        steps = b["steps"]
        assert list(steps) == ["first", "unchanged", "volatile", "changed_1pct", "load", "timeline"]
        assert steps["load"]["hosts"] == 40 and steps["timeline"]["entries"] == 4
        assert [steps[s]["run_id"] for s in ("first", "unchanged", "volatile", "changed_1pct")] == [1, 2, 3, 4]
        # an identical rerun costs far less than the first run (at this size page
        # granularity decides finer comparisons; the 10k figures are in docs/benchmarks.md)
        assert 0 <= steps["unchanged"]["growth_bytes"] < steps["first"]["growth_bytes"] / 4
    assert "history store, 40 synthetic hosts" in proc.stdout
    assert any(line.startswith("first ") for line in proc.stdout.splitlines())
