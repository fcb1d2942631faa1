"""`fleetaudit gate` against the demo fleet: real sshd + dockerd per host, real pulls from
the fleet's TLS registry, checked against what lab.demo planted (PLANTED)."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.demo import PLANTED

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
LIMIT = "golden,good-1,no-ca,user-creds,disk-full"
PASSING = ("golden", "good-1")
FAILING = ("no-ca", "user-creds", "disk-full")


def run_gate(fleet, out: Path, *args):
    state = Path(fleet.state_dir)
    proc = subprocess.run(
        FLEETAUDIT + ["gate", "-i", str(state / "inventory.ini"),
                      "--known-hosts", fleet.known_hosts_path, "--connect-timeout", "3",
                      "--json", str(out / "gate.json"), "--junit", str(out / "gate.xml"),
                      "--snapshot", str(out / "snap.json"), *args],
        cwd=out, capture_output=True, text=True, timeout=600)
    path = out / "gate.json"
    assert path.exists(), f"gate exited {proc.returncode} without JSON:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, json.loads(path.read_text())


def _has_image(fleet, host, ref) -> bool:
    return fleet.exec(host, f"docker image inspect {ref} >/dev/null 2>&1").returncode == 0


@pytest.fixture(scope="module")
def pulled(demo_fleet, tmp_path_factory):
    """One `gate --pull` of the app image over five hosts; afterwards the passing hosts
    get their image removed again when they did not have it before (the fleet is shared)."""
    app = demo_fleet.images["app"]
    had = {h: _has_image(demo_fleet, h, app) for h in PASSING}
    out = tmp_path_factory.mktemp("gate-pull")
    proc, doc = run_gate(demo_fleet, out, "--image", app, "--pull", "--limit", LIMIT)
    yield {"proc": proc, "doc": doc, "dir": out, "app": app}
    for h, present in had.items():
        if not present:
            demo_fleet.exec(h, f"docker rmi {app} >/dev/null 2>&1")


@pytest.fixture(scope="module")
def readonly(demo_fleet, tmp_path_factory):
    """The read-only gate over the same hosts, with an arm64-only image as a second one."""
    out = tmp_path_factory.mktemp("gate-ro")
    images = [demo_fleet.images["app"], demo_fleet.images["arm_only"]]
    # good-1 starts without the image, so "pulls nothing" means something
    had = _has_image(demo_fleet, "good-1", images[0])
    if had:
        demo_fleet.exec("good-1", f"docker rmi {images[0]} >/dev/null 2>&1", check=True)
    proc, doc = run_gate(demo_fleet, out, "--image", images[0], "--image", images[1],
                         "--limit", LIMIT)
    after = _has_image(demo_fleet, "good-1", images[0])
    if had:
        demo_fleet.pull("good-1", images[0])
    return {"proc": proc, "doc": doc, "dir": out, "images": images, "pulled_by_gate": after}


def cell(doc, host, ref):
    return doc["hosts"][host][ref]


def test_pull_gate_passes_good_hosts_and_fails_planted_ones(pulled):
    doc, app = pulled["doc"], pulled["app"]
    assert pulled["proc"].returncode == 1, pulled["proc"].stdout[-3000:] + pulled["proc"].stderr[-2000:]
    assert doc["mode"] == "pull" and doc["exit_code"] == 1
    assert set(doc["hosts"]) == set(LIMIT.split(","))
    for h in PASSING:
        c = cell(doc, h, app)
        assert c["verdict"] == "pass", (h, c)
        assert c["pull"]["rc"] == 0 and c["pull"]["as"] == "root"
    for h in FAILING:
        c = cell(doc, h, app)
        assert c["verdict"] == "fail", (h, c)
        assert c["pull"]["rc"] not in (0, None)
        assert c["pull"]["category"] == PLANTED[h]["category"], (h, c["pull"])
        assert PLANTED[h]["pull_error"] in c["pull"]["error"], (h, c["pull"]["error"])
        lead = c["reasons"][0]
        assert lead["source"] == "pull" and lead["category"] == PLANTED[h]["category"]
        # the audit's finding that explains the failure comes along
        assert any(r["source"] == "finding" and r["category"] == PLANTED[h]["category"]
                   for r in c["reasons"]), (h, c["reasons"])


def test_pull_gate_junit_has_one_case_per_host_and_image(pulled):
    root = ET.parse(pulled["dir"] / "gate.xml").getroot()
    cases = {c.get("classname").rsplit(".", 1)[-1]: c for c in root.iter("testcase")}
    assert set(cases) == set(LIMIT.split(","))
    assert root.get("failures") == str(len(FAILING))
    for h in FAILING:
        assert cases[h].find("failure").get("type") == PLANTED[h]["category"]
    for h in PASSING:
        assert cases[h].find("failure") is None and cases[h].find("error") is None


def test_read_only_gate_flags_the_planted_blockers(readonly):
    doc = readonly["doc"]
    app, arm = readonly["images"]
    assert readonly["proc"].returncode == 1, readonly["proc"].stdout[-3000:]
    assert doc["mode"] == "read-only"
    for h in PASSING:
        c = cell(doc, h, app)
        assert c["verdict"] == "no-blocker", (h, c["reasons"])
        assert c["label"].startswith("no blocker found")
        assert c["pull"] is None
        assert c["probe"]["dns"]["resolved"] is True
        assert c["probe"]["manifest"]["platforms"] == ["linux/amd64"]
    for h in ("no-ca", "user-creds", "disk-full"):
        c = cell(doc, h, app)
        assert c["verdict"] == "blocked", (h, c)
        cats = {r["category"] for r in c["reasons"] if r["blocking"]}
        assert PLANTED[h]["category"] in cats, (h, c["reasons"])
    # the probe's own evidence: the CLI-side read as root fails the same way as the pull
    assert cell(doc, "no-ca", app)["probe"]["manifest"]["classes"] == ["x509-unknown-authority"]
    assert cell(doc, "user-creds", app)["probe"]["manifest"]["classes"] == ["no-basic-auth-credentials"]
    # an arm64-only image: the manifest says so, on every amd64 host that can read it
    for h in PASSING:
        c = cell(doc, h, arm)
        assert c["verdict"] == "blocked" and c["reasons"][0]["category"] == "arch", c["reasons"]
        assert "linux/arm64" in c["reasons"][0]["message"]
    assert "nothing was pulled" in readonly["proc"].stdout


def test_read_only_gate_pulls_nothing(readonly):
    assert readonly["pulled_by_gate"] is False, "a read-only gate must not download images"


def test_no_planted_secret_in_any_gate_output(demo_fleet, pulled, readonly):
    secrets = demo_fleet.planted_secrets
    assert secrets
    texts = []
    for run in (pulled, readonly):
        texts += [run["proc"].stdout, run["proc"].stderr]
        for path in run["dir"].rglob("*"):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
    blob = "\n".join(texts)
    for s in secrets:
        assert s not in blob


def test_pull_gate_names_an_arch_failure(demo_fleet, tmp_path):
    # On a host already planted with pull errors: a failed pull lands in the daemon log,
    # and the clean hosts must stay clean for the other fleet tests.
    proc, doc = run_gate(demo_fleet, tmp_path, "--image", demo_fleet.images["arm_only"], "--pull",
                         "--limit", "disk-full")
    c = cell(doc, "disk-full", demo_fleet.images["arm_only"])
    assert proc.returncode == 1 and c["verdict"] == "fail"
    assert c["pull"]["category"] == "arch"
    assert "no matching manifest" in c["pull"]["error"]


def test_gate_on_unreachable_and_sudo_refused_hosts_exits_3(demo_fleet, tmp_path):
    proc, doc = run_gate(demo_fleet, tmp_path, "--image", demo_fleet.images["app"],
                         "--limit", "refused,sudo-pw")
    assert proc.returncode == 3
    app = demo_fleet.images["app"]
    assert cell(doc, "refused", app)["verdict"] == "unknown"
    assert cell(doc, "sudo-pw", app)["verdict"] == "unknown"
    assert doc["host_status"]["refused"]["error"]["class"] == "refused"
