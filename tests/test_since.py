"""changes_since on real snapshot documents (tests/data/snapshots/demo-subset.json, edited
the way hosts really change between two runs)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from fleetaudit.compare.since import (RunRef, changes_since, evidence_key, finding_key)
from fleetaudit.waivers import parse_waivers

DEMO = Path(__file__).parent / "data" / "snapshots" / "demo-subset.json"
DROPIN = "/etc/systemd/system/docker.service.d/http-proxy.conf"
NEW_CA = "/usr/local/share/ca-certificates/extra-ca.crt"


@pytest.fixture(scope="module")
def base() -> dict:
    return json.loads(DEMO.read_text())


def later(doc: dict, started: str = "2026-11-29T15:21:10Z") -> dict:
    out = copy.deepcopy(doc)
    out["run"]["started"] = started
    return out


def remove_dropin(host: dict) -> None:
    proxy = host["facts"]["proxy"]
    proxy["units"] = [u for u in proxy["units"] if u["path"] != DROPIN]
    proxy["configured"] = {}


def add_ca(host: dict) -> None:
    host["facts"]["tls"]["anchors"].append({
        "path": NEW_CA, "sha256": "ab" * 32, "size": 700, "count": 1,
        "has_private_key": False, "suffix_ok": True})


def set_mtu(host: dict, mtu: int) -> None:
    for iface in host["facts"]["network"]["interfaces"]:
        if iface["name"] == "eth0":
            iface["mtu"] = mtu


def make_unreachable(host: dict) -> None:
    host.update(status="unreachable", facts={}, incomplete={},
                error={"class": "refused", "message": "connect to 10.0.0.9:22: Connection refused"})


def changed_paths(since) -> set:
    return {(f.host, f.path, f.change) for f in since.facts}


def test_first_run_counts_everything_as_new(base):
    since = changes_since(None, base)
    assert since.first_run and since.previous is None
    assert [h.change for h in since.hosts] == ["appeared"] * 6
    assert {f.key for f in since.findings["new"]} == {finding_key(f) for f in base["findings"]}
    assert since.facts == [] and since.findings["persisting"] == []
    assert since.new_drift


def test_identical_run_is_no_new_drift(base):
    since = changes_since(base, later(base))
    assert not since.new_drift
    assert since.facts == [] and since.hosts == [] and since.findings["new"] == []
    assert len(since.findings["persisting"]) == len(base["findings"])
    # first seen of a persisting finding without earlier data: the previous run
    assert {f.first_seen.started for f in since.findings["persisting"]} == {base["run"]["started"]}


def test_volatile_facts_do_not_count(base):
    cur = later(base)
    for h in cur["hosts"].values():
        h["facts"]["system"]["uptime_s"] = h["facts"]["system"].get("uptime_s", 0) + 3600
        h["facts"]["time"]["clock"] = {"epoch": 1}
        for key, disk in h["facts"]["disk"].items():
            if isinstance(disk, dict) and "used" in disk:
                disk["used"] += 4096
    since = changes_since(base, cur)
    assert since.facts == [] and not since.new_drift


def test_the_four_fleet_changes_exactly(base):
    cur = later(base)
    remove_dropin(cur["hosts"]["good-1"])
    add_ca(cur["hosts"]["good-2"])
    set_mtu(cur["hosts"]["good-3"], 1400)
    make_unreachable(cur["hosts"]["no-ca"])
    since = changes_since(base, cur)
    assert {f.host for f in since.facts} == {"good-1", "good-2", "good-3"}
    paths = changed_paths(since)
    assert ("good-2", f'tls.anchors["{NEW_CA}"]', "added") in paths
    assert ("good-3", "network.interfaces.eth0.mtu", "changed") in paths
    assert ("good-1", f'proxy.units["{DROPIN}"]', "removed") in paths
    mtu = next(f for f in since.facts if f.path == "network.interfaces.eth0.mtu")
    assert (mtu.before, mtu.after) == (1500, 1400)
    # The whole removed drop-in is one item, not one per field.
    assert not any(p.startswith(f'proxy.units["{DROPIN}"].') for _, p, _ in paths)
    assert [(h.host, h.change, h.before, h.after) for h in since.hosts] == [
        ("no-ca", "unreachable", "ok", "unreachable")]
    assert since.hosts[0].error["class"] == "refused"
    assert since.new_drift and all(f.counts for f in since.facts)


def test_unreachable_then_still_unreachable_then_back(base):
    run2 = later(base, "2026-11-29T15:00:00Z")
    make_unreachable(run2["hosts"]["no-ca"])
    s2 = changes_since(base, run2, previous_ref=RunRef(1, base["run"]["started"]),
                       current_ref=RunRef(None, "2026-11-29T15:00:00Z"))
    s2.set_current_run(2)
    run2["drift_since_last"] = s2.to_json()
    run3 = later(run2, "2026-11-29T16:00:00Z")
    s3 = changes_since(run2, run3, previous_ref=RunRef(2, "2026-11-29T15:00:00Z"))
    assert [(h.change, h.counts, h.first_seen.run_id) for h in s3.hosts] == [
        ("still-unreachable", False, 2)]
    assert not s3.new_drift
    s3p = changes_since(run2, run3, previous_ref=RunRef(2, "x"), fail_on_persisting=True)
    assert s3p.new_drift
    back = later(base, "2026-11-29T17:00:00Z")
    s4 = changes_since(run3, back, previous_ref=RunRef(3, "2026-11-29T16:00:00Z"))
    assert [(h.host, h.change, h.counts) for h in s4.hosts] == [("no-ca", "back", False)]


def test_vanished_and_appeared_hosts(base):
    cur = later(base)
    cur["hosts"]["good-4"] = copy.deepcopy(cur["hosts"]["good-1"])
    del cur["hosts"]["good-2"]
    cur["findings"] = [f for f in cur["findings"] if f["host"] != "good-2"]
    since = changes_since(base, cur)
    assert {(h.host, h.change) for h in since.hosts} == {("good-4", "appeared"), ("good-2", "vanished")}
    assert since.new_drift


def test_finding_identity_ignores_volatile_numbers(base):
    cur = later(base)
    f = next(f for f in cur["findings"] if f["rule"] == "logs.tls")
    f["title"] = f["title"].replace("3 pull errors", "17 pull errors")
    f["evidence"][0]["actual"] = 17
    since = changes_since(base, cur)
    assert since.findings["new"] == [] and since.findings["resolved"] == []


def test_same_rule_with_moved_evidence_is_the_same_finding(base):
    cur = later(base)
    f = next(f for f in cur["findings"] if f["rule"] == "proxy.shell-only")
    f["evidence"] = f["evidence"][1:]   # one variable fewer in /etc/environment
    since = changes_since(base, cur)
    assert since.findings["new"] == [] and since.findings["resolved"] == []


def test_new_and_resolved_findings_and_threshold(base):
    prev = copy.deepcopy(base)
    gone = prev["findings"][0]
    cur = later(base)
    cur["findings"] = cur["findings"][1:]
    medium = next(f for f in cur["findings"] if f["severity"] == "medium")
    extra = dict(medium, host="good-1")
    cur["findings"].append(extra)
    since = changes_since(prev, cur, fail_on="high")
    assert [f.key for f in since.findings["resolved"]] == [finding_key(gone)]
    assert [(f.host, f.rule, f.counts) for f in since.findings["new"]] == [("good-1", medium["rule"], False)]
    assert not since.new_drift        # a new medium finding is below --fail-on high
    assert changes_since(prev, cur, fail_on="medium").new_drift


def test_first_seen_carries_forward(base):
    run1 = copy.deepcopy(base)
    s1 = changes_since(None, run1, current_ref=RunRef(None, run1["run"]["started"]))
    run1["drift_since_last"] = s1.to_json()      # recorded before its id was known
    run2 = later(base, "2026-11-30T00:00:00Z")
    s2 = changes_since(run1, run2, previous_ref=RunRef(7, run1["run"]["started"]))
    s2.set_current_run(8)
    run2["drift_since_last"] = s2.to_json()
    run3 = later(base, "2026-12-01T00:00:00Z")
    s3 = changes_since(run2, run3, previous_ref=RunRef(8, "2026-11-30T00:00:00Z"))
    assert {f.first_seen.run_id for f in s3.findings["persisting"]} == {7}


def test_partial_collector_is_not_compared(base):
    cur = later(base)
    set_mtu(cur["hosts"]["good-3"], 1400)
    cur["hosts"]["good-3"]["incomplete"] = {"network": "timed out"}
    assert changes_since(base, cur).facts == []


def test_waivers_mark_but_never_hide(base):
    cur = later(base)
    set_mtu(cur["hosts"]["good-3"], 1400)
    waivers = parse_waivers(
        "version: 1\nwaivers:\n"
        "  - hosts: good-3\n    fact: network.interfaces.*.mtu\n    reason: jumbo test\n"
        "    owner: net\n    expires: 2099-01-01\n"
        "  - hosts: '*'\n    rule: proxy.shell-only\n    reason: r\n    owner: o\n    expires: 2020-01-01\n"
        "  - hosts: nobody\n    rule: dns.*\n    reason: r\n    owner: o\n    expires: 2099-01-01\n",
        "w.yml")
    since = changes_since(base, cur, waivers=waivers, fail_on_persisting=True)
    mtu = since.facts[0]
    assert mtu.waiver.status == "waived" and not mtu.counts
    shell = next(f for f in since.findings["persisting"] if f.rule == "proxy.shell-only")
    assert shell.waiver.status == "expired" and shell.waiver.expires == "2020-01-01" and shell.counts
    assert [w["where"] for w in since.stale_waivers] == ["w.yml:13"]
    assert [w["where"] for w in since.expired_waivers] == ["w.yml:8"]
    assert since.to_json()["counts"]["waived"] == 1


def test_to_json_round_trips_through_json(base):
    cur = later(base)
    set_mtu(cur["hosts"]["good-3"], 1400)
    doc = changes_since(base, cur).to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["counts"]["facts_changed"] == 1 and doc["new_drift"] is True
    assert set(doc) == {"version", "previous", "current", "first_run", "fail_on",
                        "fail_on_persisting", "new_drift", "counts", "findings", "facts",
                        "hosts", "waivers"}


def test_evidence_key_without_fact_paths_blanks_numbers():
    a = {"host": "h", "rule": "r", "title": "disk 91% full", "evidence": ["91%"]}
    b = {"host": "h", "rule": "r", "title": "disk 97% full", "evidence": ["97%"]}
    assert evidence_key(a) == evidence_key(b) == "disk #% full"


# --- since when (fleetaudit.compare.sincewhen) ------------------------------------------

def test_since_when_finds_last_clean_run_and_changes_after_it(base):
    from fleetaudit.compare.sincewhen import since_when
    # run 1: good-3 clean; run 2: MTU changed (no finding yet); run 3: MTU + finding
    run1 = later(base, "2026-11-29T10:00:00Z")
    run2 = later(base, "2026-11-29T11:00:00Z")
    set_mtu(run2["hosts"]["good-3"], 1400)
    mtu_finding = {"host": "good-3", "rule": "mtu.interface-differs", "category": "mtu",
                   "severity": "high", "title": "eth0 MTU 1400 is below the fleet's 1500",
                   "evidence": [{"fact": "network.interfaces.eth0.mtu", "actual": 1400}]}
    run2["findings"] = run2["findings"] + [mtu_finding]
    run3 = later(run2, "2026-11-29T12:00:00Z")
    add_ca(run3["hosts"]["good-3"])
    earlier = [(RunRef(2, "2026-11-29T11:00:00Z"), run2), (RunRef(1, "2026-11-29T10:00:00Z"), run1)]
    hs = since_when("good-3", run3, iter(earlier), current_ref=RunRef(3, "2026-11-29T12:00:00Z"))
    assert hs.last_clean == RunRef(1, "2026-11-29T10:00:00Z") and hs.searched == 2
    assert [(f.path, f.change) for f in hs.changed_after] == [
        ("network.interfaces.eth0.mtu", "changed"), (f'tls.anchors["{NEW_CA}"]', "added")]
    assert [(f.rule, f.first_seen.run_id, f.exact) for f in hs.findings] == [
        ("mtu.interface-differs", 2, True)]
    assert hs.changed_at("network.interfaces.eth0.mtu").before == 1500
    assert json.loads(json.dumps(hs.to_json()))["last_clean"]["run_id"] == 1


def test_since_when_stops_loading_at_the_clean_run(base):
    from fleetaudit.compare.sincewhen import since_when
    loaded = []

    def runs():
        for i in (5, 4, 3):
            loaded.append(i)
            yield RunRef(i, f"t{i}"), base

    hs = since_when("good-1", later(base), runs())   # good-1 has no finding: clean at once
    assert loaded == [5] and hs.last_clean.run_id == 5 and hs.changed_after == []
    still = since_when("no-ca", later(base), runs())  # never clean: walks everything
    assert still.last_clean is None and still.searched == 3
    assert {(f.rule, f.first_seen.run_id, f.exact) for f in still.findings} == {("logs.tls", 3, False)}


def _drop_host(doc: dict, name: str) -> None:
    """The host as an unreachable run records it: no facts, no findings."""
    make_unreachable(doc["hosts"][name])
    doc["findings"] = [f for f in doc["findings"] if f["host"] != name]


def _record(since, doc: dict, run_id: int) -> dict:
    since.set_current_run(run_id)
    doc["drift_since_last"] = since.to_json()
    return doc


def test_an_outage_neither_resolves_nor_renews_a_hosts_findings(base):
    """A flapping host must not make a scheduled drift report say "resolved" while it is
    down and "new" (exit 1) when it is back: its findings are unverified meanwhile and
    persisting afterwards, first seen in the run that saw them first."""
    mine = {finding_key(f) for f in base["findings"] if f["host"] == "no-ca"}
    assert mine, "the demo subset has findings on no-ca"
    run1 = _record(changes_since(None, copy.deepcopy(base), current_ref=RunRef(None, "t1")),
                   copy.deepcopy(base), 1)
    run2 = later(base, "t2")
    _drop_host(run2, "no-ca")
    s2 = changes_since(run1, run2, previous_ref=RunRef(1, "t1"), current_ref=RunRef(None, "t2"))
    assert {c.key for c in s2.findings["unverified"]} == mine
    assert not {c.key for c in s2.findings["resolved"]} & mine
    assert not any(c.counts for c in s2.findings["unverified"])
    assert s2.to_json()["counts"]["findings_unverified"] == len(mine)
    run2 = _record(s2, run2, 2)
    run3 = later(run2, "t3")      # still down: carried, first seen still run 1
    s3 = changes_since(run2, run3, previous_ref=RunRef(2, "t2"), current_ref=RunRef(None, "t3"))
    assert {(c.key, c.first_seen.run_id) for c in s3.findings["unverified"]} == {(k, 1) for k in mine}
    run3 = _record(s3, run3, 3)
    run4 = later(base, "t4")      # back, with the same findings
    s4 = changes_since(run3, run4, previous_ref=RunRef(3, "t3"), current_ref=RunRef(None, "t4"))
    assert not {c.key for c in s4.findings["new"]} & mine
    back = {c.key: c.first_seen.run_id for c in s4.findings["persisting"] if c.key in mine}
    assert back == {k: 1 for k in mine}
    assert s4.findings["unverified"] == [] and not s4.new_drift


def test_a_finding_unseen_before_an_outage_is_new_after_it(base):
    run1 = copy.deepcopy(base)
    _drop_host(run1, "no-ca")
    run1 = _record(changes_since(None, run1, current_ref=RunRef(None, "t1")), run1, 1)
    s2 = changes_since(run1, later(base, "t2"), previous_ref=RunRef(1, "t1"))
    assert {c.key for c in s2.findings["new"]} >= {finding_key(f) for f in base["findings"]
                                                  if f["host"] == "no-ca"}


def test_a_cut_short_collector_leaves_its_findings_unverified_only(base):
    host = "env-proxy"
    gone = [f for f in base["findings"] if f["host"] == host]
    assert gone and all(any(e.get("fact", "").startswith("proxy.") for e in f["evidence"])
                        for f in gone)
    cur = later(base)
    cur["hosts"][host]["incomplete"] = {"proxy": "command timed out"}
    cur["findings"] = [f for f in cur["findings"] if f["host"] != host]
    since = changes_since(base, cur)
    assert {c.key for c in since.findings["unverified"]} == {finding_key(f) for f in gone}
    assert since.findings["resolved"] == []
    # another collector cut short says nothing about these: resolved
    cur["hosts"][host]["incomplete"] = {"network": "command timed out"}
    assert {c.key for c in changes_since(base, cur).findings["resolved"]} == {finding_key(f) for f in gone}
