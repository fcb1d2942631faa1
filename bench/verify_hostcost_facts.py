"""The cheaper composite script (issue 11, host cost) collects the same facts as before.

On a small real lab fleet (a docker host, a docker host audited as a sudo user with
become, an sshd-only host with docker installed and no daemon, a busybox host), one
`fleetaudit audit` runs with the code as it was before the host-cost work
(bench.host_cost.BASELINE_REF, exported with `git archive`) and one with this tree:
every parsed fact must be identical, volatile readings aside (compare.ignore.VOLATILE:
clock, uptime, used bytes...). Then the raw parts say the shortcuts really ran
(no `dockerd --version` where the running daemon is the dockerd on PATH).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.host_cost import BASELINE_REF, export_tree
from fleetaudit.collectors import REGISTRY
from fleetaudit.compare.ignore import VOLATILE, Ignore
from fleetaudit.script import ScriptOptions, build_script, split_output
from lab.fleet import Fleet, HostSpec

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.fleet  # run by hand: python -m pytest bench/verify_hostcost_facts.py


def _flat(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _audit(fleet, tree: Path, inventory: str, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", inventory,
         "--known-hosts", fleet.known_hosts_path, "--json", str(out), "--no-history"],
        env=env, cwd=str(out.parent), capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_same_facts_before_and_after_the_host_cost_work(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    before_tree = export_tree(BASELINE_REF, tmp_path / "before")
    assert (before_tree / "fleetaudit" / "script.py").exists()
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up([
            HostSpec("dock"),
            HostSpec("become", users=["deploy"], sudo={"deploy": "nopasswd"}, login_user="deploy"),
            HostSpec("nodaemon", kind="ssh"),
            HostSpec("bbox", kind="busybox"),
        ], services=False)
        inventory = fleet.write_inventory(tmp_path / "inventory.ini", fmt="ini")
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        before = _audit(fleet, before_tree, inventory, tmp_path / "a" / "before.json")
        after = _audit(fleet, ROOT, inventory, tmp_path / "b" / "after.json")
        script = build_script(REGISTRY, "n0nce", ScriptOptions(command_timeout_s=60))
        raw = subprocess.run(fleet.ssh_argv("dock", "sh -s"), input=script, capture_output=True,
                             text=True, timeout=120).stdout
        docker_raw = split_output(raw, "n0nce").sections["docker"]
    finally:
        fleet.down()

    assert set(before["hosts"]) == set(after["hosts"]) == {"dock", "become", "nodaemon", "bbox"}
    volatile = Ignore(defaults=False, patterns=[p for p, _ in VOLATILE])
    differences = []
    for name, host in before["hosts"].items():
        assert host["status"] == after["hosts"][name]["status"] == "ok", (name, host["error"])
        a = dict(_flat(host["facts"]))
        b = dict(_flat(after["hosts"][name]["facts"]))
        assert len(a) > 100, f"{name}: too few facts to compare"
        for path in sorted(set(a) | set(b)):
            if not volatile(path) and a.get(path, "<absent>") != b.get(path, "<absent>"):
                differences.append((name, path, a.get(path, "<absent>"), b.get(path, "<absent>")))
    assert differences == []

    facts = {n: h["facts"] for n, h in after["hosts"].items()}
    # the docker hosts' dockerd version now comes from the daemon that answered...
    for name in ("dock", "become"):
        dockerd = facts[name]["docker"]["dockerd"]
        assert dockerd["running"] is True
        assert dockerd["version"] and dockerd["version"] == facts[name]["docker"]["server"]["version"]
    # ...and still from `dockerd --version` where no daemon runs
    assert facts["nodaemon"]["docker"]["daemon_up"] is False
    assert facts["nodaemon"]["docker"]["dockerd"]["version"]
    assert facts["bbox"]["docker"]["installed"] is False
    # the shortcut really ran: no `dockerd --version` (~70 ms) on the docker host
    assert "dockerd_version" not in docker_raw and docker_raw["dockerd_same"].rc == 0
