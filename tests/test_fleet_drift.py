"""Three `fleetaudit drift` runs against a small dedicated lab fleet (real sshd + dockerd
per host), with real changes made between the first and the second run:

    d-proxy  its docker proxy drop-in removed
    d-ca     a CA added to /usr/local/share/ca-certificates
    d-mtu    eth0's MTU set to 1400 (`ip -n NS link set eth0 mtu 1400`)
    d-stop   the host stopped (its sshd, PID 1 of the host, killed)
    d-same   nothing (the control)

The second run must report exactly those changes on exactly those hosts and exit 1;
the third (nothing changed since) reports no new drift and exits 0.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.demo import DROPIN, golden_files
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

NEW_CA = "/usr/local/share/ca-certificates/extra-ca.crt"
HOSTS = ("d-proxy", "d-ca", "d-mtu", "d-stop", "d-same")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    state = tmp_path_factory.mktemp("drift-fleet") / "lab"
    f = Fleet(state_dir=str(state))
    try:
        f.prepare()
        files = golden_files(f)
        f.up([HostSpec(name, kind="docker", files=dict(files), groups=["docker"]) for name in HOSTS])
        f.write_inventory(state / "inventory.yml", "native")
        yield f
    finally:
        f.down()


def drift(fleet, out: Path, history: Path, name: str):
    state = Path(fleet.state_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "drift", "-i", str(state / "inventory.yml"),
         "--known-hosts", fleet.known_hosts_path, "--connect-timeout", "3", "--retries", "1",
         "--history", str(history), "--json", str(out / f"{name}.json"),
         "--markdown", str(out / f"{name}.md"), "--reports-dir", str(out / "reports")],
        cwd=out, capture_output=True, text=True, timeout=600)
    path = out / f"{name}.json"
    assert path.exists(), f"drift exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, json.loads(path.read_text())["drift_since_last"]


def change_the_fleet(fleet):
    fleet.exec("d-proxy", f"rm {DROPIN}", check=True)
    fleet.exec("d-ca", f"cat > {NEW_CA}", input=fleet.ca_cert_pem, check=True)
    subprocess.run(["ip", "-n", fleet.hosts["d-mtu"].netns, "link", "set", "eth0", "mtu", "1400"],
                   check=True)
    pid = fleet.hosts["d-stop"].init_pid
    os.kill(pid, signal.SIGKILL)   # a process this test's fleet started
    for _ in range(100):           # the host's PID namespace goes with its init
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)


def test_three_drift_runs(fleet, tmp_path):
    history = tmp_path / "history.sqlite"
    p1, s1 = drift(fleet, tmp_path, history, "run1")
    assert p1.returncode == 1, p1.stdout[-3000:] + p1.stderr[-3000:]
    assert s1["first_run"] and s1["previous"] is None
    assert sorted((h["host"], h["change"], h["after"]) for h in s1["hosts"]) == sorted(
        (h, "appeared", "ok") for h in HOSTS)

    change_the_fleet(fleet)
    p2, s2 = drift(fleet, tmp_path, history, "run2")
    assert p2.returncode == 1, p2.stdout[-3000:] + p2.stderr[-3000:]
    assert s2["previous"]["run_id"] == s1["current"]["run_id"] == 1
    facts = {}
    for f in s2["facts"]:
        facts.setdefault(f["host"], []).append(f)
    # exactly those hosts ...
    assert set(facts) == {"d-proxy", "d-ca", "d-mtu"}, json.dumps(s2["facts"], indent=1)[:4000]
    assert [(h["host"], h["change"], h["before"], h["after"]) for h in s2["hosts"]] == [
        ("d-stop", "unreachable", "ok", "unreachable")]
    assert s2["hosts"][0]["error"]["class"] in ("refused", "connect-timeout", "no-route")
    # ... and exactly those changes
    assert [(f["path"], f["change"], f["after"]) for f in facts["d-ca"]] == [
        (f'tls.anchors["{NEW_CA}"]', "added", facts["d-ca"][0]["after"])]
    assert facts["d-ca"][0]["after"]["sha256"]
    assert [(f["path"], f["before"], f["after"]) for f in facts["d-mtu"]] == [
        ("network.interfaces.eth0.mtu", 1500, 1400)], facts["d-mtu"]
    proxy_paths = [f["path"] for f in facts["d-proxy"]]
    assert f'proxy.units["{DROPIN}"]' in proxy_paths, proxy_paths
    assert all(p.startswith("proxy.") for p in proxy_paths), proxy_paths
    removed = next(f for f in facts["d-proxy"] if f["path"] == f'proxy.units["{DROPIN}"]')
    assert removed["change"] == "removed" and removed["after"] is None
    # findings that appeared or went away are on the changed hosts only
    touched = {f["host"] for state in ("new", "resolved") for f in s2["findings"][state]}
    assert touched <= {"d-proxy", "d-ca", "d-mtu", "d-stop"}, s2["findings"]
    digest = (tmp_path / "run2.md").read_text()
    assert digest.startswith("### fleetaudit drift: new drift\n")
    assert "| d-mtu | network.interfaces.eth0.mtu | 1500 | 1400 |  |" in digest
    assert "| d-stop | unreachable |" in digest

    p3, s3 = drift(fleet, tmp_path, history, "run3")
    assert p3.returncode == 0, p3.stdout[-3000:] + json.dumps(s3, indent=1)[:3000]
    assert not s3["new_drift"] and s3["facts"] == [] and s3["findings"]["new"] == []
    assert [(h["host"], h["change"], h["first_seen"]["run_id"]) for h in s3["hosts"]] == [
        ("d-stop", "still-unreachable", 2)]
    assert "new drift: no" in p3.stdout


def test_waived_change_does_not_count_and_stale_waiver_is_reported(fleet, tmp_path):
    """A fourth kind of run on the same fleet: d-same's MTU changes under a waiver."""
    history = tmp_path / "history.sqlite"
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(
        "version: 1\nwaivers:\n"
        "  - hosts: d-same\n    fact: network.interfaces.*.mtu\n    reason: jumbo test\n"
        "    owner: net-team\n    expires: 2099-12-31\n"
        "  - groups: nobody\n    rule: dns.*\n    reason: gone\n    owner: ops\n"
        "    expires: 2099-12-31\n")
    p1, _ = drift(fleet, tmp_path, history, "w1")
    assert p1.returncode == 1   # first run of this history
    netns = fleet.hosts["d-same"].netns
    subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "mtu", "1400"], check=True)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fleetaudit.cli", "drift", "-i",
             str(Path(fleet.state_dir) / "inventory.yml"), "--known-hosts", fleet.known_hosts_path,
             "--connect-timeout", "3", "--retries", "1", "--history", str(history),
             "--waivers", str(waivers), "--fail-on", "critical",
             "--json", str(tmp_path / "w2.json"), "--reports-dir", str(tmp_path / "reports")],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "mtu", "1500"], check=True)
    s = json.loads((tmp_path / "w2.json").read_text())["drift_since_last"]
    # --fail-on critical: the MTU finding (below critical) does not count; the waived fact neither
    assert proc.returncode == 0, proc.stdout[-3000:] + json.dumps(s, indent=1)[:3000]
    assert [(f["host"], f["path"], f["after"], f["waiver"]["status"], f["counts"]) for f in s["facts"]] == [
        ("d-same", "network.interfaces.eth0.mtu", 1400, "waived", False)]
    assert [w["where"] for w in s["waivers"]["stale"]] == [f"{waivers}:8"]
    assert "[waived until 2099-12-31 by net-team: jumbo test]" in proc.stdout
    assert f"stale waiver {waivers}:8: matches nothing in this run" in proc.stdout
