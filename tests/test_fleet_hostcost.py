"""The cheaper composite script (issue 11, host cost) on a small real lab fleet: a docker
host, a docker host audited as a sudo user with become, an sshd-only host with docker
installed and no daemon, a busybox host. Every host is audited in full, the dockerd
version comes from the daemon that answered where that daemon is the dockerd on PATH (and
the `dockerd --version` shortcut really ran), and from `dockerd --version` elsewhere.

That the cheaper script collects exactly the facts the old one did was proved once, against
the code before the host-cost work: `python -m pytest bench/verify_hostcost_facts.py`
(needs that commit in the clone; figures in docs/benchmarks.md). It is not part of the
suite because a later deliberate fact change would fail it.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleetaudit.collectors import REGISTRY
from fleetaudit.script import ScriptOptions, build_script, split_output
from lab.fleet import Fleet, HostSpec

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.fleet


SPECS = [
    HostSpec("dock"),
    HostSpec("become", users=["deploy"], sudo={"deploy": "nopasswd"}, login_user="deploy"),
    HostSpec("nodaemon", kind="ssh"),
    HostSpec("bbox", kind="busybox"),
]


def flat(value, prefix=""):
    """(path, leaf value) of a fact tree."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flat(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def audit_with(fleet, tree: Path, inventory: str, out: Path) -> dict:
    """The snapshot of `fleetaudit audit` run with the package found in `tree`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", inventory,
         "--known-hosts", fleet.known_hosts_path, "--json", str(out), "--no-history"],
        env=env, cwd=str(out.parent), capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text())


def test_cheaper_script_collects_every_host_in_full(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up(SPECS, services=False)
        inventory = fleet.write_inventory(tmp_path / "inventory.ini", fmt="ini")
        after = audit_with(fleet, ROOT, inventory, tmp_path / "b" / "after.json")
        script = build_script(REGISTRY, "n0nce", ScriptOptions(command_timeout_s=60))
        raw = subprocess.run(fleet.ssh_argv("dock", "sh -s"), input=script, capture_output=True,
                             text=True, timeout=120).stdout
        docker_raw = split_output(raw, "n0nce").sections["docker"]
    finally:
        fleet.down()

    assert set(after["hosts"]) == {"dock", "become", "nodaemon", "bbox"}
    for name, host in after["hosts"].items():
        assert host["status"] == "ok" and not host.get("incomplete"), (name, host.get("error"))
        assert len(dict(flat(host["facts"]))) > 100, f"{name}: too few facts"

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
