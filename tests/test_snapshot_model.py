"""One result model end to end: a loaded snapshot holds the same types as a fresh run."""
import json

import pytest

from fleetaudit import snapshot
from fleetaudit.models import Finding, RunResult

DEMO = "tests/data/snapshots/demo-subset.json"


def test_loaded_findings_are_finding_objects_and_round_trip(tmp_path):
    result = snapshot.load(DEMO)
    assert result.findings, "the demo snapshot has findings"
    assert all(isinstance(f, Finding) for f in result.findings)
    with open(DEMO, encoding="utf-8") as fh:
        doc = json.load(fh)
    # Written back, the findings are exactly what the file held.
    assert snapshot.to_json(result)["findings"] == doc["findings"]


def test_unknown_keys_of_a_finding_survive_a_round_trip():
    doc = {"schema": "fleetaudit/1", "hosts": {},
           "findings": [{"host": "h1", "rule": "r", "category": "dns", "severity": "high",
                         "title": "t", "evidence": [], "remediation": [], "why": "",
                         "added_later": {"x": 1}}]}
    result = snapshot.from_json(doc)
    assert result.findings[0].rule == "r"
    assert snapshot.to_json(result)["findings"][0]["added_later"] == {"x": 1}


def test_dict_findings_given_to_runresult_become_findings():
    result = RunResult(findings=[{"host": "h", "rule": "R", "category": "arch", "severity": "low",
                                  "title": "T"}])
    assert isinstance(result.findings[0], Finding)
    assert (result.findings[0].evidence, result.findings[0].why) == ([], "")


@pytest.mark.parametrize("schema", ["fleetaudit/2", "fleetaudit/0", "fleetaudit/10.1"])
def test_unknown_major_version_is_a_clear_error(schema):
    with pytest.raises(snapshot.SnapshotError, match=r"schema .* is not supported.*fleetaudit/1"):
        snapshot.from_json({"schema": schema, "hosts": {}}, "old.json")


def test_a_minor_version_of_the_same_major_loads():
    result = snapshot.from_json({"schema": "fleetaudit/1.3", "hosts": {}, "findings": []})
    assert result.findings == []


@pytest.mark.parametrize("bad", [["not a finding"], [["h", "rule"]], [None]])
def test_a_malformed_finding_fails_closed_naming_its_index(bad):
    with pytest.raises(snapshot.SnapshotError, match=r"findings\[0\]"):
        snapshot.from_json({"schema": "fleetaudit/1", "hosts": {}, "findings": bad}, "x.json")


def test_loading_leaves_the_collector_on_and_cycles_collectable(tmp_path):
    """snapshot.load moves what it built to the collector's oldest generation
    (built_to_last): the collector must be back on afterwards, and garbage cycles that
    existed before, or are made after, must still be collected."""
    import gc
    import weakref

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    path = tmp_path / "s.json"
    snapshot.save(RunResult(run={"started": "2026-12-04T00:00:00Z"},
                            findings=[Finding("h", "R", "dns", "low", "t")]), path)
    before = cycle()          # unreachable already, not yet collected
    assert gc.isenabled()
    again = snapshot.load(path)
    after = cycle()
    assert gc.isenabled()
    assert again.findings[0].rule == "R"
    gc.collect()
    assert before() is None and after() is None


def test_loading_with_the_collector_off_leaves_it_off(tmp_path):
    import gc
    path = tmp_path / "s.json"
    snapshot.save(RunResult(), path)
    gc.disable()
    try:
        snapshot.load(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_cycle_is_still_refused_as_before():
    """dumps runs the C encoder without its circular-reference check (speed) and redoes a
    failed write with it: a cycle is the same ValueError as ever, not a crash."""
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        snapshot.dumps({"hosts": loop}, separators=(",", ":"))


def test_non_finite_numbers_are_still_noted_once():
    notes: list = []
    text = snapshot.dumps({"a": float("nan"), "b": [float("-inf")]}, notes=notes,
                          separators=(",", ":"))
    assert text == '{"a":"nan","b":["-inf"]}'
    assert len(notes) == 2 and notes[0].startswith("$.a:")
