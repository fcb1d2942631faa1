"""firewall rules on real captured firewall facts (tests/facts/firewall/*.json); where a fault
needs other rules, the captured section is edited and run through the collector's parser."""
import copy
import json

import pytest

from fleetaudit.collectors import firewall as firewall_collector
from fleetaudit.collectors.base import Part
from fleetaudit.compare.paths import known

from rulekit import (
    FACTS, facts_named, failed, findings, junk_variants, lab_fleet as fleet, lab_golden as golden,
    on, serious, with_capture,
)


def with_fw(case):
    return with_capture("firewall", case)


def parsed(case, edit):
    """The parser's facts for a captured section after edit(section_dict)."""
    doc = json.loads((FACTS / "firewall" / f"{case}.json").read_text())
    section = copy.deepcopy(doc["section"])
    edit(section)
    return firewall_collector.parse({k: Part.from_json(v) for k, v in section.items()})


def no_proxy(facts):
    for key in ("http_proxy", "https_proxy", "no_proxy"):
        facts["docker"]["info"][key] = ""
    return facts


def test_clean_fleet_is_quiet():
    assert serious(findings(fleet(golden()), "firewall")) == []


@pytest.mark.parametrize("case", ["no-output", "junk", "cut-off", "permission-denied", "lab-sudo-pw",
                                  "iptables-missing", "capped", "local-debian12"])
def test_other_captures_do_not_raise(case):
    found = findings(fleet(with_fw(case)), "firewall")
    assert not [f for f in found if "failed" in f.title]


def test_unreadable_rules_are_not_reported():
    found = findings(fleet(with_fw("permission-denied")), "firewall")
    assert on(found, "bad", "firewall.rules-differ") == [] and serious(on(found, "bad", "firewall.output-443-blocked")) == []


# ---------------------------------------------------------------- 443 out

def test_443_dropped_for_a_registry_in_no_proxy_is_high():
    found = findings(fleet(with_fw("lab-fw-443")), "firewall")
    f, = on(found, "bad", "firewall.output-443-blocked")
    assert (f.category, f.severity) == ("firewall", "high")
    assert facts_named(f)[:2] == ["firewall.output_blocks_443", "firewall.blocked_by.output_443"]
    assert "i/o timeout" in f.evidence[1]["note"]
    assert "sudo iptables -t filter -D OUTPUT -p tcp -m tcp --dport 443 -j DROP" in f.remediation
    assert f.evidence[2]["fact"] == "docker.info.no_proxy"
    assert f.evidence[2]["note"].endswith("directly on 443: registry.fleet.test")
    assert all(known(e["fact"]) for e in f.evidence)
    assert on(found, "good-0", "firewall.output-443-blocked") == []


def test_443_blocked_without_a_proxy_is_critical_and_reject_reads_refused():
    f, = on(findings(fleet(no_proxy(with_fw("reject-443"))), "firewall"), "bad", "firewall.output-443-blocked")
    assert f.severity == "critical"
    assert "connection refused" in f.evidence[1]["note"]


def test_443_blocked_while_every_registry_goes_through_the_proxy_is_low():
    bad = with_fw("lab-fw-443")
    bad["docker"]["info"]["no_proxy"] = "localhost,127.0.0.1"
    f, = on(findings(fleet(bad), "firewall"), "bad", "firewall.output-443-blocked")
    assert f.severity == "low" and "proxy" in f.title


def test_nft_policy_drop_remediation_names_the_chain():
    f, = on(findings(fleet(no_proxy(with_fw("nft-policy-drop"))), "firewall"), "bad", "firewall.output-443-blocked")
    assert "sudo nft insert rule inet fw out tcp dport 443 accept" in f.remediation


# ---------------------------------------------------------------- DNS out

def test_dns_blocked_by_nft_policy():
    def drop_dns(section):
        section["nft"]["out"] = section["nft"]["out"].replace("\t\tudp dport 53 accept\n", "")
    bad = golden()
    bad["firewall"] = parsed("nft-policy-drop", drop_dns)
    assert bad["firewall"]["output_blocks_dns"] is True
    f, = on(findings(fleet(bad), "firewall"), "bad", "firewall.output-dns-blocked")
    assert (f.category, f.severity) == ("firewall", "high")
    assert facts_named(f)[:2] == ["firewall.output_blocks_dns", "firewall.blocked_by.output_dns"]
    assert "sudo nft insert rule inet fw out udp dport 53 accept" in f.remediation
    assert on(findings(fleet(with_fw("nft-policy-drop")), "firewall"), "bad", "firewall.output-dns-blocked") == []


# ---------------------------------------------------------------- forward, redirect, legacy

def test_forward_block_is_low():
    f, = on(findings(fleet(with_fw("docker-forward")), "firewall"), "bad", "firewall.forward-443-blocked")
    assert (f.category, f.severity) == ("firewall", "low")
    assert "DOCKER-USER" in f.evidence[1]["actual"]


def test_transparent_proxy_redirect():
    found = findings(fleet(with_fw("egress-allowlist")), "firewall")
    f, = on(found, "bad", "firewall.https-redirected")
    assert (f.category, f.severity) == ("proxy", "medium")
    assert facts_named(f) == ["firewall.output_443_redirected", "firewall.blocked_by.redirect_443"]
    # the same redirect on the whole fleet is a design, not a fault
    deliberate = findings(fleet(with_fw("egress-allowlist"), base=lambda: with_fw("egress-allowlist")), "firewall")
    assert [x.severity for x in on(deliberate, "bad", "firewall.https-redirected")] == ["low"]


def test_legacy_tables_hiding_the_verdict():
    f, = on(findings(fleet(with_fw("legacy-hidden")), "firewall"), "bad", "firewall.legacy-tables")
    assert (f.category, f.severity) == ("firewall", "medium")
    assert facts_named(f)[0] == "firewall.iptables.legacy_tables_present"


# ---------------------------------------------------------------- rules differ

def test_an_extra_output_rule_the_verdict_cannot_judge_is_medium():
    def drop_one_address(section):
        section["ipt_filter"]["out"] += "-A OUTPUT -d 10.213.32.3/32 -j DROP\n"
    bad = golden()
    bad["firewall"] = parsed("lab-golden", drop_one_address)
    f, = on(findings(fleet(bad), "firewall"), "bad", "firewall.rules-differ")
    assert (f.category, f.severity) == ("firewall", "medium")
    assert "firewall.iptables.rules" in facts_named(f)
    assert "-A OUTPUT -d 10.213.32.3/32 -j DROP" in f.evidence[0]["actual"]
    assert "sudo iptables -t filter -D OUTPUT -d 10.213.32.3/32 -j DROP   # a rule only this host has" in f.remediation


def test_output_policy_difference_is_reported_with_its_path():
    def allowlist(section):
        section["ipt_filter"]["out"] = section["ipt_filter"]["out"].replace("-P OUTPUT ACCEPT", "-P OUTPUT DROP") \
            + "-A OUTPUT -p tcp -m tcp --dport 443 -j ACCEPT\n-A OUTPUT -p udp -m udp --dport 53 -j ACCEPT\n"
    bad = golden()
    bad["firewall"] = parsed("lab-golden", allowlist)
    f, = on(findings(fleet(bad), "firewall"), "bad", "firewall.rules-differ")
    assert 'firewall.iptables.policies["filter.OUTPUT"]' in facts_named(f)
    assert "OUTPUT policy filter.OUTPUT DROP (fleet ACCEPT)" in f.title


def test_docker_managed_chains_are_not_compared():
    def published_port(section):
        section["ipt_filter"]["out"] += ("-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp "
                                         "-m tcp --dport 80 -j ACCEPT\n")
    bad = golden()
    bad["firewall"] = parsed("docker-forward", published_port)
    found = findings(fleet(bad, base=lambda: with_fw("docker-forward")), "firewall")
    assert on(found, "bad", "firewall.rules-differ") == []


# ---------------------------------------------------------------- junk anywhere


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(golden, ('firewall',)):
        broken = failed(findings(fleet(bad), "firewall"))
        assert broken == [], (collector, path, value, broken[0].evidence)


def test_a_docker_user_rule_is_the_users_and_is_compared():
    def no_user_rule(section):
        section["ipt_filter"]["out"] = section["ipt_filter"]["out"].replace(
            "-A DOCKER-USER -i docker0 -p tcp -m tcp --dport 443 -j DROP\n", "")
    bad = golden()
    bad["firewall"] = parsed("docker-forward", no_user_rule)
    found = findings(fleet(bad, base=lambda: with_fw("docker-forward")), "firewall")
    f, = on(found, "bad", "firewall.rules-differ")
    assert f.severity == "low" and "FORWARD" in f.title     # containers only, not pulls
    assert "-A DOCKER-USER -i docker0 -p tcp -m tcp --dport 443 -j DROP" in f.evidence[0]["expected"]
