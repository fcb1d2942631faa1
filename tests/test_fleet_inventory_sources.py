"""An audit of a real lab host through an inventory script and a --list JSON file.

The script prints the JSON an Ansible dynamic inventory prints (`_meta.hostvars` with
ansible_host/port/user/ssh key), built from the lab's own record of the host; the same
JSON saved to a file is the `ansible-inventory --list > fleet.json` path. Both must
audit the host as the INI inventory does.
"""
import json
import re
import subprocess
import sys

import pytest

from lab.demo import golden_files
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    state = tmp_path_factory.mktemp("sources") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        fleet.prepare()
        fleet.up([HostSpec("golden", files=dict(golden_files(fleet)))])
        yield fleet
    finally:
        fleet.down()


def _list_json(fleet) -> dict:
    h = fleet.hosts["golden"]
    hostvars = {"ansible_host": h.address, "ansible_port": h.port, "ansible_user": h.user,
                "ansible_ssh_private_key_file": h.key_path,
                "vault_token": {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n3131\n"}}
    if h.become:
        hostvars["ansible_become"] = True
    return {"_meta": {"hostvars": {"golden": hostvars}},
            "all": {"children": ["ungrouped", "docker"]}, "docker": {"hosts": ["golden"]}}


def _audit(fleet, tmp_path, source):
    out = tmp_path / "snap.json"
    proc = subprocess.run(FLEETAUDIT + ["audit", "-i", str(source), "--known-hosts", fleet.known_hosts_path,
                                        "--json", str(out), "--fail-on", "none", "--reports-dir",
                                        str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return proc, json.loads(out.read_text())


@pytest.mark.parametrize("kind", ["script", "list-json"])
def test_audit_through_a_script_and_a_list_json(fleet, tmp_path, kind):
    doc = json.dumps(_list_json(fleet))
    if kind == "script":
        source = tmp_path / "inventory.py"
        source.write_text(f"#!{sys.executable}\nimport sys\nassert sys.argv[1:] == ['--list']\nprint({doc!r})\n")
        source.chmod(0o755)
    else:
        source = tmp_path / "fleet.json"
        source.write_text(doc)
    proc, snap = _audit(fleet, tmp_path, source)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.fullmatch(r"collected 1/1 hosts, 0 not audited, \d+s\n", proc.stderr), proc.stderr[-2000:]
    assert snap["hosts"]["golden"]["status"] == "ok", snap["hosts"]["golden"]["error"]
    assert snap["hosts"]["golden"]["facts"]["docker"]["installed"] is True
    assert snap["run"]["inventory"] == str(source)
