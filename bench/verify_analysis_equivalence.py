"""The analysis speed-ups (issue 11) change no output: the same synthetic fleets through
the code of main 986e10b (before them) and this tree (in one process, and with the
analysis over 3 worker processes) give byte-identical drift, findings,
snapshot JSON (written and read back), HTML, JUnit, Markdown and terminal output.

bench/analysis_outputs.py does the work in one subprocess per tree (each imports its own
`fleetaudit`); the reference tree comes from this repository's history by `git archive`.
The by-hand version at 10,000 hosts is in docs/benchmarks.md.

Run by hand (`python -m pytest bench/verify_analysis_equivalence.py`): it needs the
reference commit in the clone (FA_VERIFY_REF, default 986e10b), and a later deliberate
output change makes it fail by design, so it is not part of the suite (CI may clone
shallow). The suite keeps tests/test_bench_smoke.py's tiny run of the harness and the
check that its comparison is not vacuous.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bench" / "analysis_outputs.py"
REFERENCE = os.environ.get("FA_VERIFY_REF", "986e10b")   # main before the analysis speed-ups
HOSTS = 120


def _outputs(code: Path, out: Path, variants: str, extra: tuple = ()) -> list:
    proc = subprocess.run([sys.executable, str(HARNESS), "--code", str(code), "--out", str(out),
                           "--hosts", str(HOSTS), "--variants", variants, *extra],
                          capture_output=True, text=True, timeout=600, cwd=str(out.parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference_tree(tmp_path_factory):
    dest = tmp_path_factory.mktemp("reference")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", REFERENCE],
                             capture_output=True, timeout=120)
    assert archive.returncode == 0, (
        f"git archive {REFERENCE} failed (a shallow clone without main's history?): "
        + archive.stderr.decode(errors="replace"))
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True, timeout=120)
    assert (dest / "fleetaudit" / "analyze.py").is_file()
    return dest


@pytest.mark.parametrize("variants", ["consensus,hostile", "golden,snapshot,partitioned"])
def test_outputs_identical_to_reference(reference_tree, tmp_path, variants):
    old = _outputs(reference_tree, tmp_path / "old", variants)
    new = _outputs(ROOT, tmp_path / "new", variants)
    # the analysis over worker processes (forced at this size: the floor is 500 hosts each)
    par = _outputs(ROOT, tmp_path / "par", variants, ("--workers", "3", "--min-hosts-per-process", "1"))
    assert all(r["processes"] == 3 and not r["worker_failures"] for r in par)
    # the fleets are real work, not empty: findings and drift on every variant
    for o, n in zip(old, new):
        assert o["variant"] == n["variant"]
        assert n["findings"] == o["findings"] > 0
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("analysis_outputs", HARNESS)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    for v in variants.split(","):
        drift = json.loads((tmp_path / "new" / v / "drift.json").read_text())
        assert any(drift.values()), f"{v}: no drift at all"
        assert (tmp_path / "new" / v / "report.html").stat().st_size > 10_000
    assert mod.compare_dirs(tmp_path / "old", tmp_path / "new") == []
    assert mod.compare_dirs(tmp_path / "old", tmp_path / "par") == []

