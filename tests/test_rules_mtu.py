"""mtu rules on real captured network facts (tests/facts/network/*.json), each fault planted
by a minimal edit."""
import pytest

from rulekit import (
    facts_named, failed, findings, fixture, junk_variants, lab_fleet as fleet, lab_golden as golden,
    on, serious, with_capture,
)


def with_net(case):
    return with_capture("network", case)


def test_clean_fleet_is_quiet():
    assert serious(findings(fleet(golden()), "mtu")) == []


@pytest.mark.parametrize("case", ["no-output", "junk", "no-ip", "busybox-ip", "local-debian12"])
def test_other_captures_do_not_raise(case):
    found = findings(fleet(with_net(case)), "mtu")
    assert not [f for f in found if "failed" in f.title]


def test_uplink_below_the_fleet_without_default_route():
    found = findings(fleet(with_net("lab-mtu-1400")), "mtu")
    f, = on(found, "bad", "mtu.interface-differs")
    assert (f.category, f.severity) == ("mtu", "medium")
    assert f.evidence[0]["fact"] == "network.interfaces.eth0.mtu"
    assert (f.evidence[0]["actual"], f.evidence[0]["expected"]) == (1400, 1500)
    assert "below" in f.title
    assert "sudo ip link set dev eth0 mtu 1500   # takes effect now, lost on reboot" in f.remediation
    assert any(r.startswith("ping -c 3 -M do -s 1372 ") for r in f.remediation)
    assert "unexpected EOF" in f.why
    assert on(found, "good-0", "mtu.interface-differs") == []


def test_mtu_symptoms_in_the_log_make_it_high():
    bad = with_net("lab-mtu-1400")
    bad["daemon_log"]["counts"] = {"tls-handshake-timeout": 2}
    f, = on(findings(fleet(bad), "mtu"), "bad", "mtu.interface-differs")
    assert f.severity == "high" and "daemon_log.counts.tls-handshake-timeout" in facts_named(f)


def test_uplink_above_the_fleet():
    bad = golden()
    bad["network"]["interfaces"][0]["mtu"] = 9000
    f, = on(findings(fleet(bad), "mtu"), "bad", "mtu.interface-differs")
    assert "above" in f.title and f.evidence[0]["actual"] == 9000


def test_default_route_mtu_wins_and_docker0_above_it():
    found = findings(fleet(with_net("containers-bridge")), "mtu")
    f, = on(found, "bad", "mtu.interface-differs")
    assert f.evidence[0]["fact"] == "network.default_route.mtu" and f.evidence[0]["actual"] == 1400
    d, = on(found, "bad", "mtu.docker0-above-uplink")
    assert (d.category, d.severity) == ("mtu", "medium")
    assert facts_named(d) == ["network.docker0_mtu", "network.default_route.mtu"]


def test_daemon_mtu_above_the_uplink():
    bad = with_net("lab-mtu-1400")
    bad["daemon_json"]["config"]["mtu"] = 1500
    found = findings(fleet(bad), "mtu")
    f, = on(found, "bad", "mtu.daemon-above-uplink")
    assert (f.category, f.severity) == ("mtu", "high")
    assert facts_named(f) == ["daemon_json.config.mtu", "network.interfaces.eth0.mtu"]
    assert 'set "mtu": 1400 in /etc/docker/daemon.json' in f.remediation
    bad["daemon_json"]["config"]["mtu"] = 1400
    assert on(findings(fleet(bad), "mtu"), "bad", "mtu.daemon-above-uplink") == []


def test_several_candidate_uplinks_with_different_mtus_are_not_guessed():
    bad = golden()
    bad["network"]["interfaces"].append({"addresses": ["192.0.2.5/24"], "master": None, "mtu": 9000,
                                          "name": "eth1", "state": "UP", "virtual": False})
    assert on(findings(fleet(bad), "mtu"), "bad", "mtu.interface-differs") == []


def test_remediation_follows_the_os_family():
    bad = with_net("lab-mtu-1400")
    bad["system"] = fixture("system", "rocky9")
    f, = on(findings(fleet(bad), "mtu"), "bad", "mtu.interface-differs")
    assert any("nmcli" in r and "802-3-ethernet.mtu 1500" in r for r in f.remediation)


# ---------------------------------------------------------------- junk anywhere


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(golden, ('network', 'daemon_json')):
        broken = failed(findings(fleet(bad), "mtu"))
        assert broken == [], (collector, path, value, broken[0].evidence)
