"""Prometheus textfile output, read back with the official client's own parser.

Expected values are recounted here from the raw snapshot JSON (tests/data/snapshots/
demo-subset.json, captured from the demo fleet), not from the renderer's code path.
"""
import copy
import json
import re
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from fleetaudit import snapshot
from fleetaudit.compare.since import changes_since
from fleetaudit.models import CATEGORIES, SEVERITIES
from fleetaudit.render.prom import MAX_HOST_LABEL, render_prom, write_prom

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"
# Prometheus naming: snake case, the prefix, base units; `_total` is for counters only.
NAME = re.compile(r"^fleetaudit_[a-z][a-z0-9_]*$")


def samples(text):
    """{(metric name, frozenset(labels)): value} and {family name: type}."""
    values, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types


def value(values, name, **labels):
    base = {"command": "audit", "inventory": "inventory"}
    return values[(name, frozenset({**base, **labels}.items()))]


def test_audit_metrics_match_the_snapshot(tmp_path):
    raw = json.loads(SNAP.read_text())
    path = tmp_path / "fleetaudit.prom"
    write_prom(str(path), snapshot.load(SNAP), command="audit")
    values, types = samples(path.read_text())

    assert all(NAME.match(n) for n in types), types
    assert all(t == "gauge" and not n.endswith("_total") for n, t in types.items())
    want = Counter((f["severity"], f["category"]) for f in raw["findings"])
    assert sum(want.values()) == 3  # the snapshot has findings: the test can fail
    for sev in SEVERITIES:
        for cat in CATEGORIES:  # every combination, zeros included (absent != 0)
            assert value(values, "fleetaudit_findings", severity=sev, category=cat) == want[(sev, cat)]
    statuses = Counter(h["status"] for h in raw["hosts"].values())
    for st in ("ok", "partial", "unreachable"):
        assert value(values, "fleetaudit_hosts", status=st) == statuses[st]
    assert value(values, "fleetaudit_run_duration_seconds") == raw["run"]["duration_s"]
    assert value(values, "fleetaudit_run_interrupted") == 0
    # finished 2026-11-29T14:21:12Z, as Unix time
    assert value(values, "fleetaudit_last_success_timestamp_seconds") == 1795962072
    assert value(values, "fleetaudit_last_run_timestamp_seconds") == 1795962072
    drift = {h: len(items) for h, items in raw["drift"].items() if items}
    assert value(values, "fleetaudit_drift_hosts", against="baseline") == len(drift)
    for host, n in drift.items():
        assert value(values, "fleetaudit_host_drift_items", against="baseline", host=host) == n
    # no host label anywhere else
    assert {n for (n, labels) in values if any(k == "host" for k, _ in labels)} == {
        "fleetaudit_host_drift_items"}
    assert not list(tmp_path.glob("*.tmp*")), "written by rename: no temp file left behind"


def test_drift_metrics_new_resolved_and_changes_per_host():
    raw = json.loads(SNAP.read_text())
    before = copy.deepcopy(raw)
    # the previous run: no-ca had no tls finding yet, and one more finding existed
    gone = {"host": "good-1", "rule": "clock.skew", "category": "time", "severity": "medium",
            "title": "clock skew", "evidence": [{"fact": "time.clock.skew_s"}]}
    before["findings"] = [f for f in raw["findings"] if f["category"] != "tls"] + [gone]
    before["hosts"]["good-2"]["facts"]["network"]["default_mtu"] = 9000
    before["run"]["started"] = "2026-11-29T13:21:10Z"
    since = changes_since(before, raw)
    result = snapshot.load(SNAP)
    values, types = samples(render_prom(result, command="drift", since=since))
    v = lambda name, **kw: values[(name, frozenset({"command": "drift", "inventory": "inventory", **kw}.items()))]

    new_tls = [f for f in raw["findings"] if f["category"] == "tls"]
    assert v("fleetaudit_new_findings", severity="high") == len(new_tls) == 1
    assert v("fleetaudit_resolved_findings", severity="medium") == 1
    assert v("fleetaudit_persisting_findings", severity="high") == 1
    assert v("fleetaudit_persisting_findings", severity="medium") == 1
    assert v("fleetaudit_facts_changed") == len(since.facts) >= 1
    assert v("fleetaudit_host_drift_items", against="last_run", host="good-2") == sum(
        1 for f in since.facts if f.host == "good-2")
    assert v("fleetaudit_drift_hosts", against="last_run") == len({f.host for f in since.facts})
    assert v("fleetaudit_host_changes", change="appeared") == 0
    assert v("fleetaudit_host_changes", change="still_unreachable") == 0


def test_last_success_survives_an_interrupted_run(tmp_path):
    path = tmp_path / "fa.prom"
    ok = snapshot.load(SNAP)
    write_prom(str(path), ok, command="audit")
    first, _ = samples(path.read_text())
    stopped = snapshot.load(SNAP)
    stopped.run["interrupted"] = True
    stopped.run["finished"] = "2026-11-29T15:00:00Z"
    write_prom(str(path), stopped, command="audit")
    after, _ = samples(path.read_text())
    assert value(after, "fleetaudit_run_interrupted") == 1
    assert value(after, "fleetaudit_last_run_timestamp_seconds") == 1795964400
    assert (value(after, "fleetaudit_last_success_timestamp_seconds")
            == value(first, "fleetaudit_last_success_timestamp_seconds") == 1795962072)


def test_hostile_host_names_are_sanitised_label_values():
    result = snapshot.load(SNAP)
    evil = 'x"} 1\nfleetaudit_pwned 1\n#' + "a" * 500
    result.extra["drift"] = {evil: [{"path": "dns.x"}], "ok-host.example:22": [{"path": "a"}]}
    values, types = samples(render_prom(result, command="audit"))
    assert "fleetaudit_pwned" not in types
    hosts = {dict(labels)["host"] for (n, labels) in values if n == "fleetaudit_host_drift_items"}
    assert "ok-host.example:22" in hosts
    (bad,) = hosts - {"ok-host.example:22"}
    assert re.fullmatch(r"[A-Za-z0-9._:@-]+", bad) and len(bad) == MAX_HOST_LABEL
