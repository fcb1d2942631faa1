"""Real OpenSSH: a host whose `timedatectl` hangs would run the script past
--command-timeout. Whoever stops it (the script's own deadline, or the controller's),
everything it sent before is kept (partial, the rest named), within the deadline, and a
healthy host in the same run is unaffected. A two-host lab fleet (kind=ssh: no
dockerd), torn down after."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from fleetaudit.collectors import REGISTRY

pytestmark = pytest.mark.fleet

ORDER = [c.name for c in REGISTRY]
HANG = "#!/bin/sh\n# timedatectl waiting for a D-Bus that never answers\nexec sleep 600\n"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    from lab.fleet import Fleet, HostSpec

    state = tmp_path_factory.mktemp("fleet-cut") / "lab"
    f = Fleet(state_dir=str(state))
    try:
        f.up([HostSpec("cut-ok", kind="ssh"),
              HostSpec("cut-hang", kind="ssh", files={"/usr/local/bin/timedatectl": HANG},
                       file_modes={"/usr/local/bin/timedatectl": 0o755})])
        f.write_inventory(state / "inventory.ini", "ini")
        yield f
    finally:
        f.down()


def test_script_cut_by_the_command_timeout_keeps_sections_over_real_sshd(fleet, tmp_path):
    state = fleet.state_dir
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", f"{state}/inventory.ini",
         "--known-hosts", fleet.known_hosts_path, "--json", str(tmp_path / "snap.json"),
         "--reports-dir", str(tmp_path / "reports"), "--command-timeout", "6", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    snap = json.loads((tmp_path / "snap.json").read_text())
    ok, hang = snap["hosts"]["cut-ok"], snap["hosts"]["cut-hang"]
    assert ok["status"] in ("ok", "partial") and ok["error"] is None or ok["error"]["class"] == "sudo"
    assert ok["facts"]["network"]["interfaces"]
    assert hang["status"] == "partial"
    assert hang["facts"]["system"]["hostname"] == "cut-hang"
    inc = hang["incomplete"]
    if hang["error"] is None:
        # The script's own deadline (inside --command-timeout) skipped the hanging part
        # and everything after it: the host stopped itself, all it printed arrived.
        at = ORDER.index("time")
        assert all(inc[name].startswith("skipped") for name in ORDER[at:]), inc
    else:
        # The controller cut the host off. The host-side redaction filter (sed) writes in
        # blocks, so the cut lands at or before the hanging section: one section named
        # "cut", every later one "no output", every earlier one kept whole.
        assert hang["error"]["class"] == "command-timeout"
        cut = [name for name in ORDER if inc.get(name, "").startswith("cut")]
        assert len(cut) == 1 and ORDER.index(cut[0]) <= ORDER.index("time"), inc
        at = ORDER.index(cut[0])
        assert all(inc[name].startswith("no output: timed out after 6s") for name in ORDER[at + 1:])
        assert f"{at + 1} of {len(ORDER)} sections received" in hang["error"]["message"]
    assert sorted(inc) == sorted(ORDER[at:])
    assert proc.returncode in (1, 0), proc.stderr   # every host audited (partial counts)
    assert took < 6 + 30
