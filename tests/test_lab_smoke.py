"""Smoke test of the namespace test fleet (lab/): a tiny fleet comes up, hosts are real
SSH/Docker hosts with their own /etc, and teardown (from a fresh process) leaves nothing."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.skipif(os.geteuid() != 0, reason="the test fleet needs root"),
]

REPO = Path(__file__).resolve().parent.parent


def _ssh(fleet, host, cmd, user="root"):
    h = fleet.hosts[host]
    return subprocess.run(
        ["ssh", "-i", fleet.key_path, "-o", f"UserKnownHostsFile={fleet.known_hosts_path}",
         "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"{user}@{h.address}", cmd],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def test_tiny_fleet(tmp_path):
    from lab.fleet import Fleet, HostSpec

    sd = tmp_path / "lab"
    fleet = Fleet(sd)
    specs = [
        HostSpec("d1", kind="docker", data_root_size="64m",
                 files={"/etc/docker/daemon.json": '{"log-level": "info"}\n'}),
        HostSpec("s1", kind="ssh", users=["ops"], groups=["bench"]),
        HostSpec("r1", kind="refused"),
    ]
    created_ns, pids, bridge = [], [], None
    try:
        fleet.up(specs, services=False, timeout=60)
        created_ns = list(fleet.state["netns"])
        bridge = fleet.bridge
        pids = [h.init_pid for h in fleet.hosts.values() if h.init_pid]
        assert set(fleet.hosts) == {"d1", "s1", "r1"}
        assert len({h.address for h in fleet.hosts.values()}) == 3

        # real logins with strict host-key checking; each host has its own hostname
        for name in ("d1", "s1"):
            p = _ssh(fleet, name, "hostname")
            assert p.returncode == 0, p.stderr
            assert p.stdout.strip() == name
        p = _ssh(fleet, "s1", "id -un", user="ops")
        assert p.returncode == 0 and p.stdout.strip() == "ops", p.stderr
        p = _ssh(fleet, "r1", "true")
        assert p.returncode == 255 and "refused" in p.stderr.lower()

        # the docker host's own dockerd answers, with its own data root
        r = fleet.exec("d1", "docker info --format '{{.Driver}} {{.DockerRootDir}}'")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["vfs", "/var/lib/docker"]
        assert fleet.hosts["d1"].docker is True
        assert "Daemon has completed initialization" in fleet.hosts["d1"].docker_log.read_text()

        # /etc is per host: planted files and writes stay in that host's overlay
        assert fleet.exec("d1", "cat /etc/docker/daemon.json").stdout == '{"log-level": "info"}\n'
        assert fleet.exec("s1", "test -e /etc/docker/daemon.json").returncode != 0
        marker = "/etc/lab-smoke-marker"
        assert fleet.exec("d1", f"echo d1 > {marker}").returncode == 0
        assert not os.path.exists(marker)
        assert fleet.hosts["d1"].upper(marker).read_text() == "d1\n"
        assert fleet.exec("s1", f"test -e {marker}").returncode != 0
        assert fleet.exec("s1", "cat /etc/hostname").stdout.strip() == "s1"

        # up() again with the same specs is a no-op on a healthy fleet
        fleet.up(specs, services=False)
        assert [h.init_pid for h in fleet.hosts.values() if h.init_pid] == pids

        # inventories
        inv = tmp_path / "inv.yml"
        fleet.write_inventory(inv)
        import yaml

        data = yaml.safe_load(inv.read_text())
        assert data["hosts"]["d1"] == {"address": fleet.hosts["d1"].address, "port": 22, "user": "root",
                                       "identity_file": fleet.key_path}
        assert data["groups"] == {"bench": {"hosts": ["s1"]}}
        ini = fleet.write_inventory(tmp_path / "inv.ini", fmt="ini")
        assert f"s1 ansible_host={fleet.hosts['s1'].address} ansible_port=22" in Path(ini).read_text()
    finally:
        # tear down from a fresh process, as `python -m lab down STATE_DIR`
        p = subprocess.run([sys.executable, "-m", "lab", "down", str(sd)], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr

    # nothing the fleet created is left
    existing_ns = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert created_ns and not (set(created_ns) & existing_ns)
    assert bridge and not os.path.exists(f"/sys/class/net/{bridge}")
    for pid in pids:  # dead: gone, or a zombie waiting for its parent (init) to reap it
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        assert state in ("Z", "X"), (pid, state)
    assert str(sd) not in Path("/proc/self/mountinfo").read_text()
    for ent in os.listdir("/proc"):
        if ent.isdigit():
            try:
                cmd = Path(f"/proc/{ent}/cmdline").read_bytes()
            except OSError:
                continue
            assert str(sd).encode() not in cmd, cmd  # zombies have an empty cmdline
    assert not (sd / "lab.json").exists()
    with pytest.raises(FileNotFoundError):
        json.loads((sd / "lab.json").read_text())


def test_a_link_left_on_the_slot_does_not_stop_the_next_fleet(tmp_path):
    """The kernel destroys a torn-down fleet's veths asynchronously; a new fleet on the
    same slot must not fail with "RTNETLINK answers: File exists" (seen in the suite
    after a 200-host teardown). Simulated with a link holding the slot's first veth name."""
    from lab.fleet import Fleet, HostSpec

    fleet = Fleet(tmp_path / "lab")
    fleet.prepare()
    veth = f"fl{fleet.state['slot']}v0"
    peer = f"flt{os.getpid()}"[:15]
    subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", peer], check=True)
    try:
        fleet.up([HostSpec("s1", kind="ssh")], services=False, timeout=60)
        p = _ssh(fleet, "s1", "hostname")
        assert p.returncode == 0 and p.stdout.strip() == "s1", p.stderr
    finally:
        fleet.down()
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert f" {veth}:" not in out and f" {veth}@" not in out
