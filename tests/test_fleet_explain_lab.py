"""bench/explain_lab.py runs end to end on a tiny lab (3 cases on 3 hosts) and its table's
counts are consistent: not a threshold on accuracy (the figures are the bench's to report)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.fleet

ROOT = Path(__file__).resolve().parent.parent
CASES = ["good:wrong_tag", "fw-reject", "cert-notyet"]
WAYS = ("text", "snap", "named")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    out = tmp_path_factory.mktemp("explain-lab")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench.explain_lab", "--hosts", ",".join(CASES),
                           "--no-demo-extra", "--state-dir", str(out / "state"),
                           "--json", str(out / "figures.json"), "--save-capture", str(out / "capture.json")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return {"proc": proc, "out": out, "env": env}


def test_the_bench_runs_and_tears_its_fleet_down(bench):
    proc = bench["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "tearing the fleet down" in proc.stderr
    state = bench["out"] / "state" / "lab" / "state.json"
    assert not state.exists() or json.loads(state.read_text()).get("netns") in ([], None)


def test_the_counts_are_consistent(bench):
    fig = json.loads((bench["out"] / "figures.json").read_text())
    rows, skipped = fig["rows"], fig["skipped"]
    assert sorted(r["key"] for r in rows + skipped) == sorted(CASES)
    for r in rows:
        assert r["expected"] and r["error"]
        for way in WAYS:
            cell = r[way]
            cats = [c for c, _p in cell["top3"]]
            assert 1 <= len(cats) <= 3
            assert cell["top1"] == (cell["rank"] == 1) and cell["top1"] == (cats[0] == r["expected"])
            assert cell["top3_hit"] == (r["expected"] in cats)
    for way in WAYS:
        t = fig["totals"][way]
        assert t["n"] == len(rows)
        assert t["top1"] == sum(r[way]["top1"] for r in rows)
        assert t["top3"] == sum(r[way]["top3_hit"] for r in rows)
        assert 0 <= t["top1"] <= t["top3"] <= t["n"]
    # the printed totals line says the same figures
    totals = next(line for line in bench["proc"].stdout.splitlines() if line.startswith("totals"))
    for way in WAYS:
        t = fig["totals"][way]
        assert f"top-1 {t['top1']}/{t['n']}  top-3 {t['top3']}/{t['n']}" in totals


def test_a_saved_capture_scores_the_same(bench, tmp_path):
    again = tmp_path / "again.json"
    proc = subprocess.run([sys.executable, "-m", "bench.explain_lab", "--capture", str(bench["out"] / "capture.json"),
                           "--json", str(again)], cwd=ROOT, env=bench["env"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(again.read_text()) == json.loads((bench["out"] / "figures.json").read_text())
    assert proc.stdout == bench["proc"].stdout
