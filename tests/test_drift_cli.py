"""`fleetaudit drift` and `fleetaudit history diff` without SSH: usage errors, the lock,
runs recorded into the history, and history diff between recorded real snapshots.
Live hosts: tests/test_fleet_drift.py."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main
from fleetaudit.history import open_store
from historykit import lock_held, refused_inventory

ROOT = Path(__file__).resolve().parents[1]
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)



def drift(inv, tmp_path, *extra):
    return run("drift", "-i", inv, "--reports-dir", tmp_path / "r", "--retries", "0",
               "--connect-timeout", "2", *extra)


def test_malformed_waivers_exit_2_with_file_and_line_before_auditing(tmp_path):
    inv = refused_inventory(tmp_path)
    w = tmp_path / "w.yml"
    w.write_text("version: 1\nwaivers:\n  - hosts: web-1\n    rule: clock.skew\n"
                 "    reason: r\n    ownr: me\n    expires: 2099-01-01\n")
    res = drift(inv, tmp_path, "--waivers", w)
    assert res.exit_code == exitcodes.USAGE
    assert f"{w}:6: a waiver: unknown key 'ownr' (did you mean 'owner'?)" in res.output
    assert not (tmp_path / "r").exists()
    with open_store() as store:
        assert store.runs() == []


def test_no_history_is_a_usage_error(tmp_path):
    res = drift(refused_inventory(tmp_path), tmp_path, "--no-history")
    assert res.exit_code == exitcodes.USAGE
    assert "drift compares with the history: --no-history is not possible here" in res.output


def test_runs_are_recorded_and_compared_with_the_previous_one(tmp_path):
    inv = refused_inventory(tmp_path)
    first = drift(inv, tmp_path, "--json", tmp_path / "1.json")
    # Nothing could be audited at all: 3, whatever the history says.
    assert first.exit_code == exitcodes.NOT_AUDITED, first.output
    assert "drift first run of this inventory: everything counts as new" in first.output
    doc1 = json.loads((tmp_path / "1.json").read_text())
    s1 = doc1["drift_since_last"]
    assert s1["first_run"] and s1["current"]["run_id"] == 1
    assert [(h["host"], h["change"], h["after"]) for h in s1["hosts"]] == [("web-1", "appeared", "unreachable")]
    second = drift(inv, tmp_path, "--json", tmp_path / "2.json", "--markdown", tmp_path / "d.md")
    assert second.exit_code == exitcodes.NOT_AUDITED
    s2 = json.loads((tmp_path / "2.json").read_text())["drift_since_last"]
    assert s2["previous"]["run_id"] == 1 and s2["current"]["run_id"] == 2
    assert [(h["change"], h["first_seen"]["run_id"], h["counts"]) for h in s2["hosts"]] == [
        ("still-unreachable", 1, False)]
    assert not s2["new_drift"]
    assert (tmp_path / "d.md").read_text().startswith("### fleetaudit drift: no new drift\n")
    with open_store() as store:
        runs = store.runs()
        assert [(r.id, r.kind, r.inventory_key) for r in runs] == [
            (2, "drift", str(inv.resolve())), (1, "drift", str(inv.resolve()))]
        # The recorded copy carries the section (first seen chains from it).
        assert store.load(2)["drift_since_last"]["hosts"][0]["change"] == "still-unreachable"



def test_overlapping_drift_exits_5(tmp_path):
    inv = refused_inventory(tmp_path)
    with lock_held(str(inv.resolve())):
        res = drift(inv, tmp_path, "-q", "--wait-lock", "0.3")
        assert res.exit_code == exitcodes.HISTORY_LOCKED
        assert "Nothing was audited" in res.output and not (tmp_path / "r").exists()


def _record_two_runs():
    base = json.loads(SNAP.read_text())
    later = copy.deepcopy(base)
    later["run"]["started"] = "2026-11-29T15:21:10Z"
    for iface in later["hosts"]["good-3"]["facts"]["network"]["interfaces"]:
        if iface["name"] == "eth0":
            iface["mtu"] = 1400
    later["findings"] = [f for f in later["findings"] if f["rule"] != "logs.tls"]
    with open_store() as store:
        return store.record(base, "demo", "audit"), store.record(later, "demo", "drift")


def test_history_diff_between_two_recorded_runs(tmp_path):
    a, b = _record_two_runs()
    res = run("history", "diff", a, b, "--markdown", tmp_path / "d.md")
    assert res.exit_code == exitcodes.FINDINGS, res.output
    assert res.output.splitlines() == [
        "drift since run 1 (2026-11-29T14:21:10Z)",
        "  findings: 0 new, 1 resolved, 2 persisting; facts changed: 1; hosts: 0 appeared, "
        "0 vanished, 0 became unreachable, 0 back, 0 still unreachable; waived: 0",
        "  resolved  no-ca: logs.tls: Certificate signed by an unknown CA: 3 pull errors in the "
        "daemon log (last 24 h)",
        "  changed   good-3: network.interfaces.eth0.mtu: 1500 -> 1400",
        "new drift: yes",
    ]
    digest = (tmp_path / "d.md").read_text()
    assert "| good-3 | network.interfaces.eth0.mtu | 1500 | 1400 |  |" in digest
    same = run("history", "diff", b, b, "--json")
    assert same.exit_code == exitcodes.CLEAN
    section = json.loads(same.output)
    assert section["counts"]["findings_persisting"] == 2 and section["facts"] == []
    bad = run("history", "diff", a, "99")
    assert bad.exit_code == exitcodes.USAGE and "no run 99" in bad.output


# --- "since when" in diff and explain ----------------------------------------------------

def _history_of_good3(tmp_path):
    """Run 1: good-3 clean. Run 2: its eth0 MTU is 1400 and a finding says so."""
    base = json.loads(SNAP.read_text())
    later = copy.deepcopy(base)
    later["run"]["started"] = "2026-11-29T15:21:10Z"
    for iface in later["hosts"]["good-3"]["facts"]["network"]["interfaces"]:
        if iface["name"] == "eth0":
            iface["mtu"] = 1400
    later["findings"].append({
        "host": "good-3", "rule": "mtu.interface-differs", "category": "mtu", "severity": "high",
        "title": "eth0 MTU 1400 is below the fleet's 1500", "remediation": [], "why": "",
        "evidence": [{"fact": "network.interfaces.eth0.mtu", "actual": 1400, "expected": 1500}]})
    with open_store() as store:
        store.record(base, "demo", "audit")
        store.record(later, "demo", "audit")
    path = tmp_path / "later.json"
    path.write_text(json.dumps(later))
    return path


def test_diff_says_since_when(tmp_path):
    snap = _history_of_good3(tmp_path)
    res = run("diff", "good-1", "good-3", "--snapshot", snap)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    at = lines.index(f"since when (history {os.environ['FLEETAUDIT_HISTORY']}):")
    assert lines[at + 1:] == [
        "  good-3: last clean in run 1 (2026-11-29T14:21:10Z); 1 fact changed after it:",
        "    network.interfaces.eth0.mtu: 1500 -> 1400",
        "  mtu.interface-differs (high) first seen in run 2 (2026-11-29T15:21:10Z)",
    ]
    items = json.loads(run("diff", "good-1", "good-3", "--snapshot", snap, "--json").output)
    mtu = next(i for i in items if i["path"] == "network.interfaces.eth0.mtu")
    assert mtu["changed_since_clean"] == {
        "last_clean": {"run_id": 1, "started": "2026-11-29T14:21:10Z"},
        "path": "network.interfaces.eth0.mtu", "before": 1500}


def test_diff_without_a_history_store_creates_none(tmp_path):
    snap = tmp_path / "s.json"
    snap.write_text(SNAP.read_text())
    res = run("diff", "good-1", "good-3", "--snapshot", snap)
    assert res.exit_code == 0 and "since when" not in res.output
    assert not Path(os.environ["FLEETAUDIT_HISTORY"]).exists()


def test_explain_says_since_when_for_hosts_showing_the_cause(tmp_path):
    snap = _history_of_good3(tmp_path)
    res = run("explain", "x509: certificate signed by unknown authority", "--snapshot", snap, "--json")
    assert res.exit_code == 0, res.output
    tls = next(c for c in json.loads(res.output)["causes"] if c["category"] == "tls")
    assert "no-ca" in tls["hosts"]
    since = tls["since_when"]["no-ca"]
    assert since["last_clean"] is None and since["searched"] == 1
    assert [(f["rule"], f["first_seen"]["run_id"], f["exact"]) for f in since["findings"]] == [
        ("logs.tls", 1, False)]
    text = run("explain", "x509: certificate signed by unknown authority", "--snapshot", snap).output
    assert "   since: no-ca: not clean in any of the 1 earlier recorded runs" in text
    assert "   since: logs.tls (high) first seen in run 1 (2026-11-29T14:21:10Z) or earlier" in text
