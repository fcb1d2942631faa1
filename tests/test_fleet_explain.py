"""`fleetaudit explain` with a live snapshot: facts that rule a cause out lower it, and say
which fact did (issue 10). A small dedicated fleet: `golden` (lab CA in certs.d, clock in
sync), `no-ca` (no lab CA) and `skew` (clock +2h for shell commands); genuine pull
errors from their own dockerd, facts from a real `fleetaudit gate` run (audit + probe).

FLEETAUDIT_CAPTURE_EXPLAIN=1 also writes the snapshot and the error texts to
tests/data/snapshots/explain-lab.json (the fixture tests/test_explain_facts.py reads).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetaudit import snapshot
from fleetaudit.explain import explain

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
HOSTS = ("golden", "no-ca", "skew")
CAPTURE = Path(__file__).resolve().parent / "data" / "snapshots" / "explain-lab.json"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab.demo import demo_specs
    from lab.fleet import Fleet

    state = tmp_path_factory.mktemp("explain") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        specs = [s for s in demo_specs(fleet) if s.name in HOSTS]
        for s in specs:
            s.pulls = []
        fleet.up(specs, services=True, timeout=180)
        errors = {}
        for key, host, ref in (("expired", "golden", f"{fleet.expired_registry}/team/app:1.0"),
                               ("unknown-ca", "no-ca", fleet.images["app"]),
                               ("no-such-host", "golden", "nosuch.fleet.test/x:1")):
            rc, out = fleet.pull(host, ref)
            assert rc != 0, (key, out)
            errors[key] = out.strip().splitlines()[-1]
        inv = fleet.write_inventory(state / "inventory.ini", "ini")
        snap_path = state / "snap.json"
        proc = subprocess.run(FLEETAUDIT + [
            "gate", "-i", str(inv), "--known-hosts", fleet.known_hosts_path,
            "--image", fleet.images["app"], "--image", "nosuch.fleet.test/x:1",
            "--snapshot", str(snap_path), "--json", str(state / "gate.json")],
            cwd=state, capture_output=True, text=True, timeout=300)
        assert snap_path.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
        snap = snapshot.load(snap_path)
        if os.environ.get("FLEETAUDIT_CAPTURE_EXPLAIN") == "1":
            CAPTURE.write_text(json.dumps({"errors": errors, "registry": fleet.registry,
                                           "snapshot": snapshot.to_json(snap)}, indent=1) + "\n")
        yield {"fleet": fleet, "errors": errors, "snap": snap}
    finally:
        fleet.down()


def by_category(causes):
    return {c.category: c for c in causes}


def test_the_errors_are_the_genuine_ones(lab):
    e = lab["errors"]
    assert "certificate has expired or is not yet valid" in e["expired"]
    assert "certificate signed by unknown authority" in e["unknown-ca"]
    assert "no such host" in e["no-such-host"]


def test_a_clock_in_sync_lowers_time_and_a_skewed_one_does_not(lab):
    text, snap = lab["errors"]["expired"], lab["snap"]
    alone = by_category(explain(text))
    golden = by_category(explain(text, snap, ["golden"]))
    assert golden["time"].confidence < alone["time"].confidence
    assert golden["time"].lowered_by.startswith("clock within 60s of the controller on golden")
    assert "golden: time.clock.skew_s=" in golden["time"].lowered_by
    skewed = by_category(explain(text, snap, ["skew"]))
    assert skewed["time"].lowered_by == "" and skewed["time"].confidence >= alone["time"].confidence
    # over the whole fleet one skewed host keeps the clock a candidate
    assert by_category(explain(text, snap))["time"].lowered_by == ""


def test_a_trusted_ca_lowers_unknown_authority_on_that_host_only(lab):
    text, snap = lab["errors"]["unknown-ca"], lab["snap"]
    golden = explain(text, snap, ["golden"])
    tls = by_category(golden)["tls"]
    assert "CA trusted by dockerd on golden" in tls.lowered_by
    assert "golden: certs.d CA /etc/docker/certs.d/registry.fleet.test/ca.crt" in tls.lowered_by
    assert golden[0].category != "tls"
    assert tls.hosts == []   # golden's log shows expired certificates, not this error
    noca = explain(text, snap, ["no-ca"])
    assert noca[0].category == "tls" and noca[0].lowered_by == ""
    assert "no-ca" in noca[0].hosts      # its log finding raises it


def test_a_name_that_does_not_resolve_keeps_dns(lab):
    text, snap = lab["errors"]["no-such-host"], lab["snap"]
    causes = explain(text, snap, ["golden"])
    assert causes[0].category == "dns" and causes[0].lowered_by == ""
    assert "golden" in causes[0].hosts          # its log counted the same error class


def test_cli_says_which_fact_lowered_a_cause(lab, tmp_path):
    snap_path = tmp_path / "snap.json"
    snapshot.save(lab["snap"], snap_path)
    proc = subprocess.run(FLEETAUDIT + ["explain", "--snapshot", str(snap_path), "--host", "golden",
                                        lab["errors"]["unknown-ca"]],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "   lowered by: registry.fleet.test's CA trusted by dockerd on golden" in proc.stdout
    bad = subprocess.run(FLEETAUDIT + ["explain", "--snapshot", str(snap_path), "--host", "nope", "x"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2 and "--host nope: not in the snapshot" in bad.stderr
