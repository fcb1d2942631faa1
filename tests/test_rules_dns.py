"""dns rules on real captured facts (tests/facts/dns/*.json and the lab's golden host),
each fault planted by a minimal edit."""
import copy

import pytest

from rulekit import (
    facts_named, failed, findings, junk_variants, lab_fleet as fleet, lab_golden as golden, on,
    with_capture,
)


def dns_findings(run, **kw):
    return findings(run, "dns", **kw)


def with_dns(case):
    return with_capture("dns", case)


def test_clean_fleet_is_quiet():
    found = dns_findings(fleet(golden()))
    assert [f for f in found if f.severity in ("critical", "high", "medium")] == []


@pytest.mark.parametrize("case", ["no-output", "junk", "local-plain", "bionic-systemd-resolve-status"])
def test_other_captures_do_not_raise(case):
    found = dns_findings(fleet(with_dns(case)))
    assert not [f for f in found if "failed" in f.title]


# ---------------------------------------------------------------- resolver differs

def test_resolver_differs_is_high_when_the_servers_have_nothing_in_common():
    found = dns_findings(fleet(with_dns("lab-bad-dns")))
    f, = on(found, "bad", "dns.resolver-differs")
    assert (f.category, f.severity) == ("dns", "high")
    assert f.evidence[0]["fact"] == "dns.resolv_conf.nameservers"
    assert f.evidence[0]["actual"] == ["10.213.32.9"] and f.evidence[0]["expected"] == ["10.213.32.2"]
    assert any("10.213.32.2" in r for r in f.remediation)
    assert "no such host" in f.why
    assert on(found, "good-0", "dns.resolver-differs") == []


def test_resolver_partial_overlap_is_medium_and_order_only_low():
    bad = golden()
    bad["dns"]["resolv_conf"]["nameservers"] = ["10.213.32.9", "10.213.32.2"]
    assert [f.severity for f in on(dns_findings(fleet(bad)), "bad", "dns.resolver-differs")] == ["medium"]
    hosts = {}
    for i in range(3):
        hosts[i] = golden()
        hosts[i]["dns"]["resolv_conf"]["nameservers"] = ["10.213.32.2", "10.213.32.3"]
    bad = golden()
    bad["dns"]["resolv_conf"]["nameservers"] = ["10.213.32.3", "10.213.32.2"]
    run = fleet(bad, base=lambda: copy.deepcopy(hosts[0]))
    assert [f.severity for f in on(dns_findings(run), "bad", "dns.resolver-differs")] == ["low"]


def test_resolver_differs_with_dns_errors_in_the_log_stays_high_even_behind_a_proxy():
    bad = with_dns("lab-bad-dns")
    bad["docker"]["info"]["no_proxy"] = "localhost"        # every registry now goes through the proxy
    assert [f.severity for f in on(dns_findings(fleet(bad)), "bad", "dns.resolver-differs")] == ["medium"]
    bad["daemon_log"]["counts"] = {"no-such-host": 4}
    bad["daemon_log"]["samples"] = {"no-such-host": "lookup registry.fleet.test on 10.213.32.9:53: no such host"}
    f, = on(dns_findings(fleet(bad)), "bad", "dns.resolver-differs")
    assert f.severity == "high" and "daemon_log.counts.no-such-host" in facts_named(f)


def test_stub_hosts_compare_their_upstreams():
    base = lambda: with_dns("ubuntu-stub-resolvectl")                  # noqa: E731
    plain = golden()
    plain["dns"]["resolv_conf"]["nameservers"] = ["172.31.0.2"]        # same server, no stub
    assert on(dns_findings(fleet(plain, base=base)), "bad", "dns.resolver-differs") == []
    f, = on(dns_findings(fleet(golden(), base=base)), "bad", "dns.resolver-differs")
    assert f.evidence[0]["expected"] == ["172.31.0.2"]


# ---------------------------------------------------------------- stub without upstream

@pytest.mark.parametrize("case,state", [("stub-resolved-down", "does not answer"),
                                        ("stub-no-tool", "not installed")])
def test_stub_without_upstream(case, state):
    found = dns_findings(fleet(with_dns(case)))
    f, = on(found, "bad", "dns.stub-no-upstream")
    assert (f.category, f.severity) == ("dns", "high")
    assert state in f.title
    assert facts_named(f)[:2] == ["dns.resolv_conf.nameservers", "dns.resolved.upstreams"]
    assert any("10.213.32.2" in r for r in f.remediation)       # the fleet's server


def test_stub_with_upstream_is_quiet_and_fallback_server_is_medium():
    assert on(dns_findings(fleet(with_dns("ubuntu-stub-resolvectl"))), "bad", "dns.stub-no-upstream") == []
    bad = with_dns("stub-resolved-down")
    bad["dns"]["resolv_conf"]["nameservers"] = ["127.0.0.53", "10.213.32.2"]
    f, = on(dns_findings(fleet(bad)), "bad", "dns.stub-no-upstream")
    assert f.severity == "medium" and "falls back to 10.213.32.2" in f.title


# ---------------------------------------------------------------- no nameserver, nsswitch

def test_no_resolv_conf_is_critical():
    bad = golden()
    bad["dns"]["resolv_conf"].update(present=False, nameservers=[], search=[])
    f, = on(dns_findings(fleet(bad)), "bad", "dns.no-nameserver")
    assert (f.category, f.severity) == ("dns", "critical")
    assert facts_named(f) == ["dns.resolv_conf.present"]


def test_resolv_conf_without_nameserver_names_the_fleet_servers():
    bad = golden()
    bad["dns"]["resolv_conf"]["nameservers"] = []
    f, = on(dns_findings(fleet(bad)), "bad", "dns.no-nameserver")
    assert facts_named(f) == ["dns.resolv_conf.nameservers"]
    assert any("10.213.32.2" in r for r in f.remediation)


def test_unknown_resolv_conf_is_not_missing():
    assert on(dns_findings(fleet(with_dns("no-output"))), "bad", "dns.no-nameserver") == []


@pytest.mark.parametrize("hosts_line", [["files"], ["files", "[NOTFOUND=return]", "dns"]])
def test_nsswitch_without_dns(hosts_line):
    bad = golden()
    bad["dns"]["nsswitch_hosts"] = hosts_line
    f, = on(dns_findings(fleet(bad)), "bad", "dns.nsswitch-no-dns")
    assert (f.category, f.severity) == ("dns", "high")
    assert facts_named(f) == ["dns.nsswitch_hosts"]


def test_nsswitch_with_mdns_before_dns_is_fine():
    # the lab's line: files mdns4_minimal [NOTFOUND=return] dns
    assert on(dns_findings(fleet(golden())), "bad", "dns.nsswitch-no-dns") == []


# ---------------------------------------------------------------- daemon.json dns, /etc/hosts

def test_daemon_dns_loopback_is_medium_and_other_servers_low():
    bad = golden()
    bad["daemon_json"]["config"]["dns"] = ["127.0.0.53"]
    f, = on(dns_findings(fleet(bad)), "bad", "dns.daemon-dns")
    assert (f.category, f.severity) == ("dns", "medium")
    assert facts_named(f) == ["daemon_json.config.dns"]
    bad["daemon_json"]["config"]["dns"] = ["10.213.32.2"]
    f, = on(dns_findings(fleet(bad)), "bad", "dns.daemon-dns")
    assert f.severity == "low" and f.evidence[0]["expected"] == []


def test_hosts_pin_only_here():
    bad = golden()
    bad["dns"]["hosts_entries"] = {"registry.fleet.test": ["10.213.40.40"]}
    found = dns_findings(fleet(bad))
    f, = on(found, "bad", "dns.hosts-pin")
    assert (f.category, f.severity) == ("dns", "medium")
    assert facts_named(f) == ['dns.hosts_entries["registry.fleet.test"]']
    assert f.evidence[0]["actual"] == ["10.213.40.40"] and f.evidence[0]["expected"] is None
    assert on(found, "good-0", "dns.hosts-pin") == []


def test_hosts_pin_missing_that_the_fleet_relies_on():
    def pinned():
        facts = golden()
        facts["dns"]["hosts_entries"] = {"registry.fleet.test": ["10.213.32.3"]}
        return facts
    f, = on(dns_findings(fleet(golden(), base=pinned)), "bad", "dns.hosts-pin")
    assert "no pin" in f.title and any("10.213.32.3 registry.fleet.test" in r for r in f.remediation)


def test_hosts_pin_of_a_name_that_is_no_registry_is_ignored():
    bad = golden()
    bad["dns"]["hosts_entries"] = {"intranet.example": ["10.1.1.1"]}
    assert on(dns_findings(fleet(bad)), "bad", "dns.hosts-pin") == []


# ---------------------------------------------------------------- junk anywhere


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(golden, ('dns', 'daemon_json')):
        broken = failed(dns_findings(fleet(bad)))
        assert broken == [], (collector, path, value, broken[0].evidence)
