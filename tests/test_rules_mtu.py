"""mtu rules on real captured network facts (tests/facts/network/*.json), each fault planted
by a minimal edit."""
import copy
import json
from pathlib import Path

import pytest

from fleetaudit.diagnose import diagnose, load_rules
from fleetaudit.models import HostResult, RunResult

HERE = Path(__file__).parent
NOW = 1795910400.0            # 2026-11-29T00:00:00Z, when the lab fixtures were captured


def fixture(collector, case):
    return copy.deepcopy(json.loads((HERE / "facts" / collector / f"{case}.json").read_text())["facts"])


def golden():
    """The lab's golden host, collector by collector, as captured."""
    facts = {c: fixture(c, "lab-golden") for c in
             ("docker", "daemon_json", "tls", "dns", "network", "firewall", "disk", "proxy", "credentials")}
    facts["system"] = fixture("system", "debian12-local")
    facts["time"] = fixture("time", "timedatectl-systemd")
    facts["time"]["clock"] = {"host_epoch": NOW, "controller_epoch": NOW, "skew_s": 0.0, "uncertainty_s": 0.004}
    facts["daemon_log"] = fixture("daemon_log", "lab-golden-clean")
    return facts


def fleet(bad, good=3, base=golden, catalog=None):
    hosts = {f"good-{i}": base() for i in range(good)}
    hosts["bad"] = bad
    return RunResult(run={"started": "2026-11-29T00:00:00Z"},
                     hosts={n: HostResult(name=n, address=f"10.0.0.{i}", facts=f)
                            for i, (n, f) in enumerate(hosts.items(), 1)},
                     catalog=dict(catalog or {}))


def findings(run, family, **kw):
    return diagnose(run, rules=[r for r in load_rules() if r.id.startswith(family + ".")], **kw)


def on(found, host, rule_id):
    return [f for f in found if f.host == host and f.rule == rule_id]


def facts_named(f):
    return [e["fact"] for e in f.evidence]


def serious(found):
    return [f for f in found if f.severity in ("critical", "high", "medium")]


def with_net(case):
    facts = golden()
    facts["network"] = fixture("network", case)
    return facts


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

JUNK = [None, "", "<script>x</script>", 0, -1, 1e300, float("nan"), True, [], {}, ["x", None, 3], {"a": None}]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _replaced(facts, collector, path, junk):
    facts = copy.deepcopy(facts)
    if not path:
        facts[collector] = junk
        return facts
    cur = facts[collector]
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = junk
    return facts


def junk_cases(make, collectors):
    base = make()
    return [(c, p, j) for c in collectors for p in _paths(base[c]) for j in JUNK]


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value in junk_cases(golden, ('network', 'daemon_json')):
        bad = _replaced(golden(), collector, path, value)
        run = fleet(bad)
        broken = [f for f in findings(run, "mtu") if f.title.startswith("rule ") and "failed" in f.title]
        assert broken == [], (collector, path, value, broken[0].evidence)
