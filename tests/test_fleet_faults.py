"""Host-side faults on real lab hosts, through the real CLI (issue 7).

A small dedicated fleet: one golden docker host and one host per fault the composite
script must survive:
- slow-sudo: login user deploy with NOPASSWD sudo, resolver dead and the host's own name
  not in /etc/hosts, so every sudo waits ~10 s for its hostname lookup;
- sudo-pw: sudo wants a password;
- wedged: dockerd SIGSTOPped after start (the docker CLI connects, then waits forever);
- busybox: nothing but busybox applets on PATH (no docker, iptables, journalctl, sudo).
Each must come out as its own classified row within the command timeout, with every fact
it could give.
"""
import json
import subprocess
import sys
import time

import pytest

from lab.demo import golden_files
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
DEFAULT_COMMAND_TIMEOUT = 60  # the CLI's default; the slow-sudo host must fit inside it
SESSION_PROXY = "http://session-only.fleet.test:3128"


@pytest.fixture(scope="module")
def fault_fleet(tmp_path_factory):
    state = tmp_path_factory.mktemp("faults") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        fleet.prepare()
        g = golden_files(fleet)
        deploy = dict(users=["deploy"], login_user="deploy")
        fleet.up([
            HostSpec("golden", files=dict(g)),
            HostSpec("slow-sudo", files=dict(g), sudo={"deploy": "nopasswd"}, dead_resolver=True,
                     session_env={"https_proxy": SESSION_PROXY}, **deploy),
            HostSpec("sudo-pw", files=dict(g), sudo={"deploy": "password"}, **deploy),
            HostSpec("wedged", files=dict(g), wedge="dockerd"),
            HostSpec("busybox", kind="busybox"),
        ], services=True)
        fleet.write_inventory(state / "inventory.yml")
        yield fleet
    finally:
        fleet.down()


def _audit(fleet, out_dir, *extra):
    out = out_dir / "snap.json"
    started = time.monotonic()
    proc = subprocess.run(
        FLEETAUDIT + ["audit", "-i", f"{fleet.state_dir}/inventory.yml", "--known-hosts",
                      fleet.known_hosts_path, "--json", str(out), "--connect-timeout", "3", "-q", *extra],
        capture_output=True, text=True, timeout=300, cwd=out_dir)
    wall = time.monotonic() - started
    assert out.exists(), proc.stderr[-2000:]
    return json.loads(out.read_text()), wall, proc


@pytest.fixture(scope="module")
def audit(fault_fleet, tmp_path_factory):
    return _audit(fault_fleet, tmp_path_factory.mktemp("audit"))


def test_the_lab_faults_are_real(fault_fleet):
    # what makes each host a fault, seen from inside the host
    assert fault_fleet.state["wedged"]["wedged"]["target"] == "dockerd"
    stat = fault_fleet.exec("wedged", "cat /proc/$(pidof dockerd)/stat").stdout.split()
    assert stat[2] == "T", "dockerd is stopped"
    bb = fault_fleet.exec("busybox", "for t in docker iptables nft journalctl sudo bash; do "
                                     "command -v $t; done; readlink /usr/bin/sh").stdout.split()
    assert bb == ["busybox"], bb
    t0 = time.monotonic()
    sudo = subprocess.run(fault_fleet.ssh_argv("slow-sudo", "sudo -n true"),
                          capture_output=True, text=True, timeout=60)
    assert sudo.returncode == 0 and "unable to resolve host" in sudo.stderr
    assert time.monotonic() - t0 > 5, "each sudo waits for the dead resolver"


def test_run_ends_within_the_command_timeout(audit):
    snap, wall, proc = audit
    for name, host in snap["hosts"].items():
        assert host["duration_s"] < DEFAULT_COMMAND_TIMEOUT, (name, host["duration_s"])
    assert wall < DEFAULT_COMMAND_TIMEOUT + 15, proc.stderr[-2000:]


def test_golden_is_complete(audit):
    host = audit[0]["hosts"]["golden"]
    assert (host["status"], host["error"], host["incomplete"]) == ("ok", None, {})


def test_slow_sudo_host_is_complete_with_its_dns_finding(audit):
    snap = audit[0]
    host = snap["hosts"]["slow-sudo"]
    assert (host["status"], host["error"], host["incomplete"]) == ("ok", None, {})
    # root-only facts came through the one sudo
    assert host["facts"]["docker"]["daemon_up"] is True
    assert host["facts"]["credentials"]["scanned_as_root"] is True
    # the login user's session environment is read as the login user, not through sudo
    # (which resets it)
    assert host["facts"]["proxy"]["session_env"] == {"https_proxy": SESSION_PROXY}
    assert host["facts"]["dns"]["resolv_conf"]["nameservers"] == [audit_dead_address(snap)]
    dns = [f for f in snap["findings"] if f["host"] == "slow-sudo" and f["category"] == "dns"]
    assert dns, [f["rule"] for f in snap["findings"] if f["host"] == "slow-sudo"]


def audit_dead_address(snap):
    # the resolver the golden host does not use: the lab's dead address
    golden = snap["hosts"]["golden"]["facts"]["dns"]["resolv_conf"]["nameservers"][0]
    return golden.rsplit(".", 1)[0] + ".9"


def test_sudo_with_a_password_is_partial_class_sudo_and_fast(audit):
    host = audit[0]["hosts"]["sudo-pw"]
    assert host["status"] == "partial"
    assert host["error"]["class"] == "sudo"
    assert "a password is required" in host["error"]["message"]     # sudo's own words
    assert host["duration_s"] < 15, "sudo -n fails at once: nothing waits"
    facts = host["facts"]
    assert facts["system"]["hostname"] == "sudo-pw"          # the login user's facts are kept
    assert facts["credentials"]["scanned_as_root"] is False
    assert "permission denied" in facts["docker"]["error"]


def test_wedged_dockerd_is_not_lost(audit):
    snap = audit[0]
    host = snap["hosts"]["wedged"]
    assert host["status"] == "partial" and host["error"] is None
    docker = host["facts"]["docker"]
    assert docker["responding"] is False and docker["error_kind"] == "timeout"
    assert docker["skipped"] == {"info": "docker CLI timed out earlier"}
    assert docker["dockerd"]["running"] is True
    # one docker call waited, the others were skipped and say so
    assert "docker CLI timed out earlier" in host["incomplete"]["disk"]
    assert "docker CLI timed out earlier" in host["incomplete"]["restarts"]
    assert host["duration_s"] < 2 * 15, "one part timeout, not five"
    # everything that does not need the daemon is there
    assert host["facts"]["daemon_json"]["valid"] is True
    assert host["facts"]["proxy"]["dockerd_running"] is True
    assert host["facts"]["tls"]["bundle"]["present"] is True
    hung = [f for f in snap["findings"] if f["host"] == "wedged" and f["rule"] == "daemon.engine-down"]
    assert len(hung) == 1 and "hangs" in hung[0]["title"] and hung[0]["severity"] == "critical"


def test_busybox_host_says_absent_and_nothing_crashes(audit):
    snap = audit[0]
    host = snap["hosts"]["busybox"]
    assert host["status"] in ("ok", "partial")
    assert not any("parser failed" in why for why in host["incomplete"].values()), host["incomplete"]
    facts = host["facts"]
    assert not any(isinstance(f, dict) and "parser failed" in str(f.get("error")) for f in facts.values())
    assert facts["docker"]["installed"] is False
    assert facts["firewall"]["iptables"]["installed"] is False
    assert facts["firewall"]["nft"]["installed"] is False
    assert "journalctl not installed" in facts["daemon_log"]["error"]
    assert facts["restarts"]["units_error"] == "systemctl: not found"
    assert facts["time"]["clock"]["host_epoch"] is not None   # busybox date has no %N
    assert facts["disk"]["root"]["size"] > 0
    assert "can't find mount point" in facts["disk"]["data_root"]["error"]
    rules = {f["rule"] for f in snap["findings"] if f["host"] == "busybox"}
    assert "firewall.rules-differ" not in rules, "no iptables: the rules are unknown, not different"


def test_part_timeouts_fit_a_short_command_timeout(fault_fleet, tmp_path):
    # 12 s: the wedged host's first docker call gets what is left of the deadline (not
    # its 15 s part timeout) and every part after it is reported as skipped.
    snap, wall, proc = _audit(fault_fleet, tmp_path, "--command-timeout", "12", "-l", "wedged,golden")
    host = snap["hosts"]["wedged"]
    assert host["status"] == "partial", (host["status"], host["error"])
    assert host["duration_s"] < 12
    assert host["facts"]["system"]["hostname"] == "wedged"
    assert host["facts"]["docker"]["responding"] is False
    deadline = [c for c, why in host["incomplete"].items() if "deadline reached" in why]
    assert deadline, host["incomplete"]
    assert snap["hosts"]["golden"]["status"] == "ok"
    assert wall < 12 + 15
