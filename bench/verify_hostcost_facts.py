"""The cheaper composite script (issue 11, host cost) collects the same facts as before.

Run by hand (`python -m pytest bench/verify_hostcost_facts.py`, as root): it needs the
reference commit in the clone (FA_VERIFY_REF, default bench.host_cost.BASELINE_REF;
e.g. FA_VERIFY_REF=986e10b for the second round), and a later deliberate fact change
would fail it, so it is not part of the suite (tests/test_fleet_hostcost.py and
tests/test_fleet_docker_api.py are). On a small real lab fleet (the host-cost test's
four hosts, a docker host with images, containers and volumes, and a docker host
reached as a user outside the docker group without become), one `fleetaudit audit`
runs with the reference code (exported with `git archive`) and one with this tree:
every parsed fact must be identical, volatile readings aside (compare.ignore.VOLATILE:
clock, uptime, used bytes...), with ONE documented difference: disk.docker_df, which
VOLATILE would skip, is compared here: the same counts, and sizes where the Engine API
(where the docker collector's curl ran) gives exact bytes and the old code read the
CLI's "6.31MB" back (4 significant digits): equal within 0.1%.
"""
import os
import sys
from pathlib import Path

import pytest

from bench.host_cost import BASELINE_REF, export_tree
from fleetaudit.compare.ignore import VOLATILE, Ignore
from lab.fleet import Fleet, HostSpec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_fleet_docker_api import POPULATE  # noqa: E402
from test_fleet_hostcost import SPECS, audit_with, flat  # noqa: E402

pytestmark = pytest.mark.fleet

REF = os.environ.get("FA_VERIFY_REF", BASELINE_REF)
# "proxied": proxies everywhere the proxy collector looks (a docker.service drop-in,
# hence dockerd's own environment; an EnvironmentFile outside the defaults; daemon.json;
# /etc/environment; a profile script), so its reads that round 3 skips when a file holds
# no "prox" run there (round 3 counts first, with one grep, and reads only those).
PROXIED_FILES = {
    "/etc/systemd/system/docker.service.d/http-proxy.conf":
        '[Service]\nEnvironment="HTTPS_PROXY=http://u:pw@proxy.fleet.test:3128" "NO_PROXY=localhost"\n'
        "EnvironmentFile=-/etc/docker/proxy.env\n",
    "/etc/docker/proxy.env": "HTTP_PROXY=http://proxy.fleet.test:3128\n",
    # dockerd 20.10 refuses a "proxies" key; a label holding "prox" gets the file read.
    "/etc/docker/daemon.json": '{"labels": ["proxy-zone=a"]}\n',
    "/etc/environment": "http_proxy=http://proxy.fleet.test:3128\n",
    "/etc/profile.d/zz-proxy.sh": "export https_proxy=http://proxy.fleet.test:3128\n",
}
HOSTS = SPECS + [HostSpec("full"),
                 HostSpec("guest", users=["guest"], login_user="guest", become=False),
                 HostSpec("proxied", files=PROXIED_FILES)]


def _same_df(before, after) -> bool:
    """docker_df rows: equal counts; a size equal within the CLI's rounding."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return before == after
    for kind in set(before) | set(after):
        b, a = before.get(kind), after.get(kind)
        if not isinstance(b, dict) or not isinstance(a, dict):
            if a != b:
                return False
            continue
        if (b.get("total"), b.get("active")) != (a.get("total"), a.get("active")):
            return False
        for key in ("size", "reclaimable"):
            x, y = b.get(key), a.get(key)
            if x != y and (not isinstance(x, int) or not isinstance(y, int)
                           or abs(x - y) > max(1, y) * 1e-3):
                return False
    return True


def test_same_facts_before_and_after_the_host_cost_work(tmp_path):
    before_tree = export_tree(REF, tmp_path / "before")
    assert (before_tree / "fleetaudit" / "script.py").exists()
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up(HOSTS, services=False)
        populated = fleet.exec("full", f"sh -c \"{POPULATE}\"")
        assert populated.returncode == 0, populated.stdout + populated.stderr
        inventory = fleet.write_inventory(tmp_path / "inventory.ini", fmt="ini")
        before = audit_with(fleet, before_tree, inventory, tmp_path / "a" / "before.json")
        after = audit_with(fleet, ROOT, inventory, tmp_path / "b" / "after.json")
    finally:
        fleet.down()

    assert set(before["hosts"]) == set(after["hosts"]) == {s.name for s in HOSTS}
    volatile = Ignore(defaults=False, patterns=[p for p, _ in VOLATILE])
    differences = []
    for name, host in before["hosts"].items():
        assert host["status"] == after["hosts"][name]["status"] == "ok", (name, host["error"])
        a = dict(flat(host["facts"]))
        b = dict(flat(after["hosts"][name]["facts"]))
        assert len(a) > 100, f"{name}: too few facts to compare"
        for path in sorted(set(a) | set(b)):
            if not volatile(path) and a.get(path, "<absent>") != b.get(path, "<absent>"):
                differences.append((name, path, a.get(path, "<absent>"), b.get(path, "<absent>")))
        df_before = host["facts"]["disk"]["docker_df"]
        df_after = after["hosts"][name]["facts"]["disk"]["docker_df"]
        if not _same_df(df_before, df_after):
            differences.append((name, "disk.docker_df", df_before, df_after))
    assert differences == []
    full = after["hosts"]["full"]["facts"]
    assert full["disk"]["docker_df"]["volumes"]["size"] == 1234567      # exact bytes now
    assert after["hosts"]["guest"]["facts"]["docker"]["error_kind"] == "permission-denied"
    proxy = after["hosts"]["proxied"]["facts"]["proxy"]
    assert proxy["environ"]["HTTPS_PROXY"] == "http://REDACTED@proxy.fleet.test:3128"
    assert proxy["environment_file"] and proxy["profile"]
    assert proxy["env_files"]["/etc/docker/proxy.env"]["env"]
