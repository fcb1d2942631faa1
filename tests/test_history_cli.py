"""`fleetaudit history ...` and the recording of audit/gate runs, without SSH: runs
recorded from the demo-fleet snapshot (tests/data/snapshots/demo-subset.json), and real
audits of a host whose port refuses connections (a real refused TCP connect)."""
import copy
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main
from fleetaudit.cli_history import inventory_key, parse_age
from fleetaudit.history import open_store
from historykit import lock_held, refused_inventory

ROOT = Path(__file__).resolve().parent.parent
SNAP = json.loads((ROOT / "tests" / "data" / "snapshots" / "demo-subset.json").read_text())


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def eth0(doc, host):
    return next(i for i in doc["hosts"][host]["facts"]["network"]["interfaces"] if i["name"] == "eth0")


@pytest.fixture
def recorded(tmp_path):
    """Three runs of one inventory (good-1's MTU drops to 1400 in the second) and one of
    another; the store is FLEETAUDIT_HISTORY (tests/conftest.py)."""
    docs = [copy.deepcopy(SNAP) for _ in range(3)]
    eth0(docs[1], "good-1")["mtu"] = 1400
    eth0(docs[2], "good-1")["mtu"] = 1400
    with open_store() as store:
        ids = [store.record(d, "/inv/demo.ini", "audit") for d in docs]
        ids.append(store.record(SNAP, "/inv/other.ini", "gate"))
        recorded_at = [r.recorded for r in store.runs(limit=None)][::-1]
    return ids, docs, recorded_at


def test_list_table_and_json(recorded):
    ids, _, at = recorded
    res = run("history", "list")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        "  RUN  RECORDED              KIND   HOSTS ok/part/unr  FINDINGS c/h/m/l/i  NEW/RES  INVENTORY",
        f"{ids[3]:>5}  {at[3]}  gate   6/0/0              0/2/1/0/0           -        /inv/other.ini",
        f"{ids[2]:>5}  {at[2]}  audit  6/0/0              0/2/1/0/0           -        /inv/demo.ini",
        f"{ids[1]:>5}  {at[1]}  audit  6/0/0              0/2/1/0/0           -        /inv/demo.ini",
        f"{ids[0]:>5}  {at[0]}  audit  6/0/0              0/2/1/0/0           -        /inv/demo.ini",
    ]
    doc = json.loads(run("history", "list", "--inventory", "/inv/demo.ini", "-n", "2", "--json").output)
    assert [r["id"] for r in doc["runs"]] == [ids[2], ids[1]]
    assert doc["runs"][0]["since_last"] is None
    assert doc["runs"][0]["hosts"] == {"ok": 6, "partial": 0, "unreachable": 0}
    assert doc["runs"][0]["findings"] == {"critical": 0, "high": 2, "medium": 1, "low": 0, "info": 0}
    assert run("history", "list", "--inventory", "/nope").output.startswith("no runs recorded in ")


def test_show_rerenders_a_past_run(recorded, tmp_path):
    ids, docs, _ = recorded
    out = tmp_path / "out"
    res = run("history", "show", ids[1], "-q", "--json", out / "r.json", "--html", out / "r.html",
              "--markdown", out / "r.md", "--junit", out / "r.xml")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "r.json").read_text()) == docs[1]
    html = (out / "r.html").read_text()
    assert "no-ca" in html and "Content-Security-Policy" in html
    assert "env-proxy" in (out / "r.md").read_text()
    assert (out / "r.xml").read_text().startswith("<?xml")
    latest = run("history", "show", "latest", "--inventory", "/inv/demo.ini", "-q", "--json", out / "l.json")
    assert latest.exit_code == 0 and json.loads((out / "l.json").read_text()) == docs[2]
    missing = run("history", "show", "999")
    assert missing.exit_code == exitcodes.USAGE and "no run 999" in missing.output
    bad = run("history", "show", "yesterday")
    assert bad.exit_code == exitcodes.USAGE and "expected a run id" in bad.output


def test_host_timeline_and_fact(recorded):
    ids, _, at = recorded
    res = run("history", "host", "good-1", "--fact", "network.interfaces.eth0.mtu",
              "--inventory", "/inv/demo.ini")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"run {ids[0]:>5}  {at[0]}  ok                   1500",
        f"run {ids[1]:>5}  {at[1]}  ok          CHANGED  1400",
        f"run {ids[2]:>5}  {at[2]}  ok                   1400",
    ]
    res = run("history", "host", "good-1", "--json")
    line = json.loads(res.output)["timeline"]
    assert [e["run"] for e in line] == ids
    assert [e["facts_changed"] for e in line] == [None, True, False, True]
    res = run("history", "host", "good-2", "--inventory", "/inv/demo.ini")
    digest = line[0]["facts_digest"]  # good-1's; good-2 has its own
    assert digest[:12] not in res.output
    assert res.output.splitlines()[-1] == "(1 unchanged runs not shown; --all shows every run)"
    assert run("history", "host", "nobody").output == "nobody: not in any recorded run\n"
    bad = run("history", "host", "good-1", "--fact", 'tls.certs_d["unterminated')
    assert bad.exit_code == exitcodes.USAGE and "fact path" in bad.output


def test_prune(recorded):
    ids, docs, _ = recorded
    res = run("history", "prune", "--keep", "1", "--vacuum")
    assert res.exit_code == 0, res.output
    assert re.fullmatch(r"pruned 2 runs \(\d+ fact/section blobs, \d+ findings, 0 host names "
                        r"no longer referenced\)\n", res.output), res.output
    with open_store() as store:
        assert [r.id for r in store.runs()] == [ids[3], ids[2]]
        assert store.load(ids[2]) == docs[2]
    assert run("history", "prune", "--older-than", "30d").output == "pruned 0 runs\n"
    for args, msg in ((("--older-than", "soon"), "unit"), ((), "--keep N")):
        res = run("history", "prune", *args)
        assert res.exit_code == exitcodes.USAGE and msg in res.output


def test_parse_age_and_inventory_key(tmp_path):
    assert [parse_age(t) for t in ("30d", "12h", "90m", "2w", "10s", "1.5h")] == \
        [30 * 86400, 12 * 3600, 5400, 14 * 86400, 10, 5400]
    inv = tmp_path / "inv.ini"
    assert inventory_key(str(inv)) == str(inv.resolve())
    assert inventory_key("inv.ini", "web*") == str(Path("inv.ini").resolve()) + " --limit web*"
    assert inventory_key(str(inv), "web*", "zone-a") == "zone-a"


def test_store_errors_exit_6(tmp_path):
    (tmp_path / "file").write_text("")
    res = run("history", "--history", tmp_path / "file" / "h.sqlite", "list")
    assert res.exit_code == exitcodes.HISTORY and "cannot open history store" in res.output


# --- audit and gate record their runs --------------------------------------------------


def test_audit_records_its_run(tmp_path):
    inv = refused_inventory(tmp_path)
    res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "--json", tmp_path / "a.json",
              "--retries", "0", "--connect-timeout", "2")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output
    assert f"\nhistory: run 1 in {os.environ['FLEETAUDIT_HISTORY']}\n" in res.output, res.output
    with open_store() as store:
        info = store.runs()[0]
        assert (info.kind, info.inventory_key, info.hosts["unreachable"]) == ("audit", str(inv.resolve()), 1)
        assert store.load(info.id) == json.loads((tmp_path / "a.json").read_text())
        assert store.load(info.id)["hosts"]["web-1"]["error"]["class"] == "refused"
    res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "-q", "--retries", "0",
              "--limit", "web-1", "--history-key", "zone-a")
    res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "-q", "--retries", "0", "--no-history")
    with open_store() as store:
        assert [r.inventory_key for r in store.runs()] == ["zone-a", str(inv.resolve())]


def test_gate_records_its_run_with_the_verdicts(tmp_path):
    inv = refused_inventory(tmp_path)
    res = run("gate", "-i", inv, "--image", "registry.example.com/team/app:1.0", "-q",
              "--retries", "0", "--json", tmp_path / "g.json")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output
    with open_store() as store:
        info = store.runs()[0]
        doc = store.load(info.id)
    assert info.kind == "gate"
    assert doc["gate"] == json.loads((tmp_path / "g.json").read_text())
    assert doc["hosts"]["web-1"]["status"] == "unreachable"


def test_broken_history_keeps_reports_and_the_runs_own_exit_code(tmp_path):
    inv = refused_inventory(tmp_path)
    (tmp_path / "file").write_text("")
    res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "--json", tmp_path / "a.json",
              "-q", "--retries", "0", "--history", tmp_path / "file" / "h.sqlite")
    assert res.exit_code == exitcodes.NOT_AUDITED  # the run's own verdict is not masked
    assert "fleetaudit: history: " in res.output and "it is not in the history" in res.output
    assert json.loads((tmp_path / "a.json").read_text())["hosts"]["web-1"]["status"] == "unreachable"
    assert len(list((tmp_path / "r").glob("*.json"))) == 1



def test_overlapping_audit_exits_5_without_auditing(tmp_path):
    inv = refused_inventory(tmp_path)
    with lock_held(str(inv.resolve())) as holder:
        res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "-q", "--wait-lock", "0.5")
        assert res.exit_code == exitcodes.HISTORY_LOCKED
        assert f"another run of '{inv.resolve()}' is in progress after waiting 0.5 s: " \
               f"held by pid {holder.pid}" in res.output
        assert "Nothing was audited" in res.output
        assert not (tmp_path / "r").exists()
        other = run("audit", "-i", inv, "--reports-dir", tmp_path / "r", "-q", "--retries", "0",
                    "--history-key", "another-zone")
        assert other.exit_code == exitcodes.NOT_AUDITED


def test_list_shows_new_and_resolved_of_drift_runs(tmp_path):
    """A drift run carries its comparison with the run before: `history list` shows its
    new/resolved finding counts from that section, without loading the run's hosts."""
    from fleetaudit.compare.since import changes_since
    before = copy.deepcopy(SNAP)
    after = copy.deepcopy(SNAP)
    gone = after["findings"].pop(0)                      # one finding resolved
    after["findings"].append(dict(gone, host="good-2") if gone["host"] != "good-2"
                             else dict(gone, host="good-1"))   # one new elsewhere
    with open_store() as store:
        store.record(before, "/inv/drift.ini", "drift")
        after["drift_since_last"] = changes_since(before, after).to_json()
        counts = after["drift_since_last"]["counts"]
        run_id = store.record(after, "/inv/drift.ini", "drift")
    assert counts["findings_new"] >= 1 and counts["findings_resolved"] >= 1
    res = run("history", "list", "--inventory", "/inv/drift.ini")
    assert res.exit_code == 0, res.output
    row = res.output.splitlines()[1].split()
    assert row[0] == str(run_id) and row[2] == "drift"
    assert row[5] == f"{counts['findings_new']}/{counts['findings_resolved']}"
    doc = json.loads(run("history", "list", "--inventory", "/inv/drift.ini", "--json").output)
    assert doc["runs"][0]["since_last"]["findings_new"] == counts["findings_new"]
