"""Audits of a real lab host recorded into the history: a clean run whose history write
fails exits 6 with its reports written; two audits in a row of an untouched host have
the same stable facts digest (only readings moved); a stored run re-renders."""
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main
from fleetaudit.history import open_store

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.skipif(os.geteuid() != 0, reason="the test fleet needs root"),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from lab.fleet import Fleet, HostSpec
    state = tmp_path_factory.mktemp("histfleet") / "lab"
    lab = Fleet(state)
    try:
        lab.up([HostSpec("h1", kind="docker", data_root_size="64m")], services=False, timeout=90)
        lab.write_inventory(state / "inventory.ini", "ini")
        yield lab, state / "inventory.ini"
    finally:
        lab.down()


def audit(inv, known_hosts, tmp_path, *extra):
    args = ["audit", "-i", inv, "--known-hosts", known_hosts, "--reports-dir", tmp_path / "r",
            "--fail-on", "none", "-q", *extra]
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_history_of_a_real_host(fleet, tmp_path):
    lab, inv = fleet
    (tmp_path / "file").write_text("")
    broken = audit(inv, lab.known_hosts_path, tmp_path, "--json", tmp_path / "a.json",
                   "--history", tmp_path / "file" / "h.sqlite")
    assert broken.exit_code == exitcodes.HISTORY, broken.output
    assert "it is not in the history" in broken.output
    assert json.loads((tmp_path / "a.json").read_text())["hosts"]["h1"]["status"] == "ok"

    for _ in range(2):
        res = audit(inv, lab.known_hosts_path, tmp_path, "--json", tmp_path / "b.json")
        assert res.exit_code == exitcodes.CLEAN, res.output
    with open_store() as store:
        runs = store.runs()
        assert [r.hosts["ok"] for r in runs] == [1, 1]
        assert store.load(runs[0].id) == json.loads((tmp_path / "b.json").read_text())
        line = store.host_timeline("h1")
        first, second = (store.load(r.id)["hosts"]["h1"]["facts"] for r in runs[::-1])
    assert first["system"]["uptime_s"] != second["system"]["uptime_s"]
    assert [e["facts_changed"] for e in line] == [None, False], \
        "an untouched host's stable facts changed between two audits"

    show = CliRunner().invoke(main, ["history", "show", "latest", "-q", "--html",
                                     str(tmp_path / "h.html")], catch_exceptions=False)
    assert show.exit_code == 0, show.output
    assert "h1" in Path(tmp_path / "h.html").read_text()
