"""Issue 9: the read-only gate must agree with a real `--pull` on every host.

A dedicated lab fleet (lab/gatefleet.py) has one docker host per failure class a
registry, resolver, proxy and firewall can produce, plus a good host; the image-side
classes (a platform missing from a manifest list, a wrong tag) are two more references
judged on the good host. The read-only gate runs first (and must pull nothing), then
`gate --pull` on the same hosts; for every host x image the verdicts must correspond
(no-blocker <-> pass, blocked <-> fail) and name the same category, and the pull must
have failed with the class the lab planted (so the test proves the fleet, too).
"""
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.gatefleet import GATE_HOSTS, IMAGE_CASES

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
CORRESPONDS = {"no-blocker": "pass", "blocked": "fail"}


@pytest.fixture(scope="module")
def gate_fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    from lab.fleet import Fleet
    from lab.gatefleet import gate_specs

    state = tmp_path_factory.mktemp("gatefleet") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        fleet.up(gate_specs(fleet), services=True)
        fleet.write_inventory(state / "inventory.ini", "ini")
        yield fleet
    finally:
        fleet.down()


def run_gate(fleet, out: Path, name: str, images, limit: str, *args) -> dict:
    path = out / f"{name}.json"
    cmd = FLEETAUDIT + ["gate", "-i", str(Path(fleet.state_dir) / "inventory.ini"),
                        "--known-hosts", fleet.known_hosts_path, "--connect-timeout", "5",
                        "--limit", limit, "--json", str(path), *args]
    for image in images:
        cmd += ["--image", image]
    proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=600)
    assert path.exists(), f"gate exited {proc.returncode} without JSON:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return {"doc": json.loads(path.read_text()), "proc": proc}


@pytest.fixture(scope="module")
def runs(gate_fleet, tmp_path_factory):
    out = tmp_path_factory.mktemp("gate-agreement")
    app = gate_fleet.images["app"]
    image_side = {"arm_only": gate_fleet.images["arm_only"], "wrong_tag": app.rsplit(":", 1)[0] + ":nope"}
    hosts = ",".join(GATE_HOSTS)
    # The image-side runs touch the good host only and run beside the fleet-wide ones
    # (CI time); read-only strictly before --pull.
    with ThreadPoolExecutor(2) as pool:
        ro_img_f = pool.submit(run_gate, gate_fleet, out, "ro-img", image_side.values(), "good")
        ro = run_gate(gate_fleet, out, "ro", [app], hosts)
        ro_img = ro_img_f.result()
        had = {h: gate_fleet.exec(h, f"docker image inspect {app} >/dev/null 2>&1").returncode == 0
               for h in GATE_HOSTS}
        pull_img_f = pool.submit(run_gate, gate_fleet, out, "pull-img", image_side.values(), "good",
                                 "--pull", "--pull-timeout", "90")
        pull = run_gate(gate_fleet, out, "pull", [app], hosts, "--pull", "--pull-timeout", "90")
        pull_img = pull_img_f.result()
    rows = [(h, app, ro["doc"], pull["doc"], GATE_HOSTS[h][1]) for h in GATE_HOSTS]
    rows += [("good", image_side[k], ro_img["doc"], pull_img["doc"], cat) for k, cat in IMAGE_CASES.items()]
    return {"rows": rows, "had": had, "out": out, "runs": [ro, ro_img, pull, pull_img]}


def _table(rows) -> str:
    lines = []
    for host, ref, ro, pull, planted in rows:
        a, b = ro["hosts"][host][ref], pull["hosts"][host][ref]
        lines.append(f"{host:15} {ref.rsplit('/', 1)[-1]:17} planted={planted} read-only={a['verdict']}/"
                     f"{a['category']} pull={b['verdict']}/{b['category']}  [{a['label'][:80]}]")
    return "\n".join(lines)


def test_the_read_only_gate_pulls_nothing(runs):
    assert not any(runs["had"].values()), f"images present after the read-only gate: {runs['had']}"


def test_the_lab_planted_each_class(runs):
    """The pull itself shows the planted class: otherwise agreement would prove nothing."""
    for host, ref, _ro, pull, planted in runs["rows"]:
        cell = pull["hosts"][host][ref]
        if planted is None:
            assert cell["verdict"] == "pass", (host, cell["label"], cell["pull"])
        else:
            assert cell["verdict"] == "fail" and cell["category"] == planted, \
                (host, ref, cell["label"], cell["pull"]["error"] if cell["pull"] else None)


def test_read_only_agrees_with_pull_on_every_host(runs):
    bad = []
    for host, ref, ro, pull, _planted in runs["rows"]:
        a, b = ro["hosts"][host][ref], pull["hosts"][host][ref]
        if CORRESPONDS.get(a["verdict"]) != b["verdict"] or a["category"] != b["category"]:
            bad.append(host + " " + ref)
    assert not bad, "read-only and --pull disagree on:\n" + "\n".join(bad) + "\n\n" + _table(runs["rows"])


def test_read_only_evidence_names_the_daemons_path(runs):
    """The deciding evidence of the classes only the daemon's path shows comes from it."""
    ro = runs["rows"][0][2]
    app = runs["rows"][0][1]
    for host in ("bad-creds", "proxy-nocreds", "proxy-badcreds", "cert-notyet"):
        cell = ro["hosts"][host][app]
        lead = cell["reasons"][0]
        assert lead["blocking"] and lead.get("rule") == "gate.daemon-path", (host, cell["reasons"][:2])
    notyet = ro["hosts"]["cert-notyet"][app]["reasons"][0]
    assert "clock is right" in notyet["message"] and "certificate" in notyet["fix"]
    dp = ro["hosts"]["proxy-nocreds"][app]["probe"]["daemon_path"]
    assert dp["tool"] == "curl" and dp["path"]["via"] == "proxy" and dp["v2"]["connect"] == 407
    insecure = ro["hosts"]["insecure"][app]
    assert insecure["verdict"] == "no-blocker"
    assert any("insecure-registries" in r["message"] for r in insecure["reasons"]), insecure["reasons"]


def test_no_planted_secret_in_any_output(gate_fleet, runs):
    texts = []
    for run in runs["runs"]:
        texts += [run["proc"].stdout, run["proc"].stderr]
    for path in runs["out"].rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    blob = "\n".join(texts)
    for secret in gate_fleet.planted_secrets:
        assert secret not in blob
