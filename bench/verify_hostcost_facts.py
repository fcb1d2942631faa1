"""The cheaper composite script (issue 11, host cost) collects the same facts as before.

Run by hand (`python -m pytest bench/verify_hostcost_facts.py`, as root): it needs commit
bench.host_cost.BASELINE_REF in the clone, and a later deliberate fact change would fail
it, so it is not part of the suite (tests/test_fleet_hostcost.py is). On the same small
real lab fleet as that test, one `fleetaudit audit` runs with the code as it was before
the host-cost work (exported with `git archive`) and one with this tree: every parsed
fact must be identical, volatile readings aside (compare.ignore.VOLATILE: clock,
uptime, used bytes...).
"""
import sys
from pathlib import Path

import pytest

from bench.host_cost import BASELINE_REF, export_tree
from fleetaudit.compare.ignore import VOLATILE, Ignore
from lab.fleet import Fleet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_fleet_hostcost import SPECS, audit_with, flat  # noqa: E402

pytestmark = pytest.mark.fleet


def test_same_facts_before_and_after_the_host_cost_work(tmp_path):
    before_tree = export_tree(BASELINE_REF, tmp_path / "before")
    assert (before_tree / "fleetaudit" / "script.py").exists()
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up(SPECS, services=False)
        inventory = fleet.write_inventory(tmp_path / "inventory.ini", fmt="ini")
        before = audit_with(fleet, before_tree, inventory, tmp_path / "a" / "before.json")
        after = audit_with(fleet, ROOT, inventory, tmp_path / "b" / "after.json")
    finally:
        fleet.down()

    assert set(before["hosts"]) == set(after["hosts"]) == {s.name for s in SPECS}
    volatile = Ignore(defaults=False, patterns=[p for p, _ in VOLATILE])
    differences = []
    for name, host in before["hosts"].items():
        assert host["status"] == after["hosts"][name]["status"] == "ok", (name, host["error"])
        a = dict(flat(host["facts"]))
        b = dict(flat(after["hosts"][name]["facts"]))
        assert len(a) > 100, f"{name}: too few facts to compare"
        for path in sorted(set(a) | set(b)):
            if not volatile(path) and a.get(path, "<absent>") != b.get(path, "<absent>"):
                differences.append((name, path, a.get(path, "<absent>"), b.get(path, "<absent>")))
    assert differences == []
