"""network: route choice, MTU precedence, fallbacks, and the fragment under every shell."""
import shutil
import subprocess

import pytest

from fleetaudit.collectors import network
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output



def _ip(link="", addr="", route="", sys=""):
    return {"link": Part(link, 0), "addr": Part(addr, 0), "route": Part(route, 0), "sys": Part(sys, 0)}


def test_route_mtu_wins_over_interface_mtu():
    facts = network.parse(_ip(
        link="2: eth0: <UP,LOWER_UP> mtu 1500 state UP\n",
        route="default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.5 metric 100 mtu lock 1400\n"))
    assert facts["default_route"] == {"interface": "eth0", "gateway": "10.0.0.1", "metric": 100, "mtu": 1400}
    assert facts["default_mtu"] == 1400


def test_lowest_metric_default_wins_and_gatewayless_route():
    facts = network.parse(_ip(
        link="2: eth0: <UP> mtu 1500 state UP\n3: wg0: <POINTOPOINT,UP,LOWER_UP> mtu 1420 state UNKNOWN\n",
        route="default via 10.0.0.1 dev eth0 metric 600\ndefault dev wg0 scope link metric 50\n"))
    assert facts["default_route"] == {"interface": "wg0", "gateway": None, "metric": 50, "mtu": None}
    assert facts["default_mtu"] == 1420 and facts["default_route_count"] == 2


def test_no_default_route():
    facts = network.parse(_ip(link="1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n"))
    assert facts["default_route"] is None and facts["default_mtu"] is None
    assert facts["error"] is None


def test_ip_failing_is_an_error_fact_and_sys_still_counts():
    section = {"link": Part("Cannot open netlink socket: Operation not permitted\n", 1),
               "addr": Part("Cannot open netlink socket: Operation not permitted\n", 1),
               "route": Part("Cannot open netlink socket: Operation not permitted\n", 2),
               "sys": Part("", 0)}
    facts = network.parse(section)
    assert facts["ip_installed"] is True and facts["interfaces"] == []
    assert facts["error"] == "Cannot open netlink socket: Operation not permitted"
    section["sys"] = Part("eth0 1500 up -\n", 0)
    facts = network.parse(section)
    assert [i["name"] for i in facts["interfaces"]] == ["eth0"] and facts["error"] is None


def test_proc_route_without_ip():
    section = {
        "link": Part("ip: not found\n", 127),
        "proc_route": Part(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
            "ens3\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
            "tun0\t00000000\t00000000\t0001\t0\t0\t200\t00000000\t0\t0\t0\n"
            "ens3\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n", 0),
        "sys": Part("ens3 9001 up -\ntun0 1400 unknown virtual\n", 0),
    }
    facts = network.parse(section)
    assert facts["ip_installed"] is False
    assert facts["default_route"] == {"interface": "ens3", "gateway": "192.168.1.1", "metric": 100, "mtu": None}
    assert facts["default_mtu"] == 9001 and facts["default_route_count"] == 2
    assert facts["interfaces"][0]["addresses"] is None


SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_fragment_runs_under_every_shell(shell):
    """The real fragment on this machine: same facts from dash, bash and busybox sh."""
    nonce = new_nonce()
    script = build_script([network.COLLECTOR], nonce, ScriptOptions(part_timeout_s=60))  # a loaded CI box is slow, not broken
    cmd = ["busybox", "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    out = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=60).stdout
    section = split_output(out.decode(), nonce).sections["network"]
    assert all(p.rc == 0 for p in section.values()), section
    facts = network.parse(section)
    assert facts["error"] is None and facts["ip_installed"] is True
    assert any(i["name"] == "lo" for i in facts["interfaces"])
