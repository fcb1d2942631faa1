"""The real thing: `fleetaudit audit` against the demo fleet (real sshd + dockerd per
host, in network namespaces), checked against what lab.demo planted on each host."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.demo import PLANTED

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]


def run_cli(args, cwd, **kw):
    return subprocess.run(FLEETAUDIT + args, cwd=cwd, capture_output=True, text=True,
                          timeout=300, **kw)


@pytest.fixture(scope="session")
def audit(demo_fleet, tmp_path_factory):
    """One real audit of the whole demo fleet through the CLI, with every output."""
    out = tmp_path_factory.mktemp("audit")
    state = Path(demo_fleet.state_dir)
    proc = run_cli([
        "audit", "-i", str(state / "inventory.ini"), "--known-hosts", demo_fleet.known_hosts_path,
        "--json", str(out / "snap.json"), "--html", str(out / "report.html"),
        "--junit", str(out / "junit.xml"), "--markdown", str(out / "summary.md"),
        "--reports-dir", str(out / "reports"), "--connect-timeout", "3",
    ], cwd=out)
    snap = json.loads((out / "snap.json").read_text())
    return {"proc": proc, "snap": snap, "dir": out, "fleet": demo_fleet}


def facts(audit, host):
    return audit["snap"]["hosts"][host]["facts"]


def test_exit_code_says_hosts_were_not_audited(audit):
    assert audit["proc"].returncode == 3, audit["proc"].stderr[-2000:]


def test_snapshot_follows_the_contract(audit):
    snap = audit["snap"]
    assert snap["schema"].startswith("fleetaudit/")
    assert set(snap["hosts"]) == set(PLANTED)
    for name, host in snap["hosts"].items():
        assert host["status"] in ("ok", "partial", "unreachable")
        assert host["error"] is None or set(host["error"]) >= {"class", "message"}
    for f in snap["findings"]:
        assert set(f) >= {"host", "rule", "category", "severity", "title", "evidence", "remediation"}
    kept = list((audit["dir"] / "reports").glob("*.json"))
    assert len(kept) == 1, "every run keeps its snapshot under the reports dir"


@pytest.mark.parametrize("host", [h for h, p in PLANTED.items() if p.get("error_class")])
def test_fault_hosts_get_their_error_class(audit, host):
    got = audit["snap"]["hosts"][host]
    assert got["error"]["class"] == PLANTED[host]["error_class"], got["error"]
    expected_status = "partial" if PLANTED[host]["error_class"] == "sudo" else "unreachable"
    assert got["status"] == expected_status


def test_docker_hosts_are_audited_with_their_own_hostname(audit):
    for host, planted in PLANTED.items():
        if planted.get("error_class"):
            continue
        got = audit["snap"]["hosts"][host]
        assert got["status"] == planted.get("status", "ok"), (host, got["error"], got["incomplete"])
        assert facts(audit, host)["system"]["hostname"] == host


def test_engine_facts(audit):
    golden = facts(audit, "golden")["docker"]
    assert golden["daemon_up"] is True
    assert golden["server"]["version"].startswith("20.10")
    assert golden["info"]["registry_mirrors"] == ["https://mirror.fleet.test/"]
    bad = facts(audit, "bad-json")
    assert bad["docker"]["daemon_up"] is False
    assert "Cannot connect to the Docker daemon" in bad["docker"]["error"]
    assert bad["daemon_json"]["valid"] is False
    assert "line 2 column" in bad["daemon_json"]["error"]
    assert facts(audit, "golden")["daemon_json"]["valid"] is True


def test_tls_facts(audit):
    golden = facts(audit, "golden")["tls"]
    no_ca = facts(audit, "no-ca")["tls"]
    assert "registry.fleet.test" in golden["certs_d"]
    assert "registry.fleet.test" not in (no_ca["certs_d"] or {})
    assert golden["bundle"]["sha256"] != no_ca["bundle"]["sha256"]
    assert golden["bundle"]["count"] == no_ca["bundle"]["count"] + 1
    # The bundle's certificates are described once, in the catalog, keyed by content.
    catalog = audit["snap"]["catalog"]
    assert golden["bundle"]["sha256"] in catalog and no_ca["bundle"]["sha256"] in catalog


def test_network_firewall_time_facts(audit):
    mtus = {i["name"]: i["mtu"] for i in facts(audit, "mtu-1400")["network"]["interfaces"]}
    assert mtus["eth0"] == 1400
    assert {i["name"]: i["mtu"] for i in facts(audit, "golden")["network"]["interfaces"]}["eth0"] == 1500
    assert facts(audit, "fw-443")["firewall"]["output_blocks_443"] is True
    assert facts(audit, "golden")["firewall"]["output_blocks_443"] is False
    skew = facts(audit, "skew")["time"]["clock"]["skew_s"]
    assert 7200 - 30 < skew < 7200 + 30
    assert abs(facts(audit, "golden")["time"]["clock"]["skew_s"]) < 30


def test_credentials_facts_have_names_not_secrets(audit):
    golden = facts(audit, "golden")["credentials"]
    assert golden["root_has_auth"] is True
    assert "registry.fleet.test" in golden["root_registries"]
    user = facts(audit, "user-creds")["credentials"]
    assert user["root_has_auth"] is False
    assert "registry.fleet.test" in user["users"]["deploy"]["auth_registries"]


def test_no_planted_secret_leaves_a_host(audit):
    """Tokens, passwords and proxy credentials: in no output, report, log or snapshot."""
    secrets = audit["fleet"].planted_secrets
    assert secrets, "the lab must plant secrets for this test to mean anything"
    texts = [audit["proc"].stdout, audit["proc"].stderr]
    for path in audit["dir"].rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob


BLOCKING = ("critical", "high", "medium")


@pytest.mark.parametrize("host", [h for h, p in PLANTED.items() if p.get("category")])
def test_planted_fault_is_found_with_its_category(audit, host):
    """Every planted difference yields a finding on that host in the planted category."""
    want = PLANTED[host]["category"]
    found = [f for f in audit["snap"]["findings"] if f["host"] == host]
    cats = {f["category"] for f in found if f["severity"] in BLOCKING}
    assert want in cats, (host, [(f["rule"], f["category"], f["severity"]) for f in found])


@pytest.mark.parametrize("host", ["golden", "good-1", "good-2", "good-3", "sudo-nopw"])
def test_clean_hosts_have_no_finding_at_or_above_medium(audit, host):
    bad = [(f["rule"], f["severity"], f["title"]) for f in audit["snap"]["findings"]
           if f["host"] == host and f["severity"] in BLOCKING]
    assert not bad


def test_unreachable_hosts_are_findings_too(audit):
    rules = {f["host"]: f["rule"] for f in audit["snap"]["findings"] if f["rule"].startswith("ssh.")}
    for host, planted in PLANTED.items():
        cls = planted.get("error_class")
        if cls and cls != "sudo":
            assert rules.get(host) == f"ssh.{cls}"


def test_ssh_config_aliases_and_jump_hosts(demo_fleet, tmp_path):
    """~/.ssh/config-style aliases (HostName, User, IdentityFile, ProxyJump) and
    inventory jump hosts reach real hosts; a refused target behind a jump host is
    classified from what the jump host reports."""
    h = demo_fleet.hosts
    key = demo_fleet.key_path
    cfg = tmp_path / "ssh_config"
    cfg.write_text(
        f"Host web-alias\n  HostName {h['good-1'].address}\n  User root\n  IdentityFile {key}\n"
        f"Host behind-golden\n  HostName {h['good-2'].address}\n  User root\n  IdentityFile {key}\n"
        f"  ProxyJump root@{h['golden'].address}\n"
        f"Host {h['golden'].address}\n  IdentityFile {key}\n"
    )
    inv = tmp_path / "fleet.yml"
    inv.write_text(
        "hosts:\n"
        "  web-alias: {}\n"
        "  behind-golden: {}\n"
        f"  jumped: {{address: {h['good-3'].address}, user: root, identity_file: {key},"
        f" jump: 'root@{h['golden'].address}:22'}}\n"
        f"  jumped-refused: {{address: {h['refused'].address}, user: root, identity_file: {key},"
        f" jump: 'root@{h['golden'].address}:22'}}\n"
    )
    out = tmp_path / "snap.json"
    proc = run_cli(["audit", "-i", str(inv), "--ssh-config", str(cfg), "--known-hosts",
                    demo_fleet.known_hosts_path, "--json", str(out), "-q",
                    "--reports-dir", str(tmp_path / "r")], cwd=tmp_path)
    hosts = json.loads(out.read_text())["hosts"]
    assert hosts["web-alias"]["facts"]["system"]["hostname"] == "good-1"
    assert hosts["behind-golden"]["facts"]["system"]["hostname"] == "good-2"
    assert hosts["jumped"]["facts"]["system"]["hostname"] == "good-3"
    assert hosts["jumped-refused"]["error"]["class"] == "refused"
    assert proc.returncode == 3


def test_accept_new_records_keys_and_strict_mode_refuses_unknown(demo_fleet, tmp_path):
    inv = Path(demo_fleet.state_dir) / "inventory.ini"
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    base = ["audit", "-i", str(inv), "--limit", "golden", "-q", "--reports-dir", str(tmp_path / "r"),
            "--json", str(tmp_path / "s.json")]
    strict = run_cli(base + ["--known-hosts", str(empty)], cwd=tmp_path)
    snap = json.loads((tmp_path / "s.json").read_text())
    assert strict.returncode == 3
    assert snap["hosts"]["golden"]["error"]["class"] == "hostkey-unknown"
    tofu = run_cli(base + ["--known-hosts", str(empty), "--accept-new"], cwd=tmp_path)
    assert json.loads((tmp_path / "s.json").read_text())["hosts"]["golden"]["status"] == "ok"
    assert demo_fleet.hosts["golden"].address in empty.read_text()
    again = run_cli(base + ["--known-hosts", str(empty)], cwd=tmp_path)
    assert json.loads((tmp_path / "s.json").read_text())["hosts"]["golden"]["status"] == "ok"
    assert tofu.returncode in (0, 1) and again.returncode in (0, 1)
