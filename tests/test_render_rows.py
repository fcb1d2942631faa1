"""rows.py: findings folded into one row per cause, and the inventory-group breakdown."""
from bench.synthetic import synthetic_run
from fleetaudit.models import Finding
from fleetaudit.render.rows import (NO_GROUP, SEVERITY_WEIGHT, fold_findings, group_breakdown,
                                    host_groups_of, impact)


def hostkey(host, key):
    return Finding(host=host, rule="ssh.hostkey-changed", category="ssh", severity="critical",
                   title="SSH host key changed", evidence=[f"offered key {key}"],
                   remediation=["ssh-keygen -R HOST"])


def blocked(host, port_line):
    return Finding(host=host, rule="firewall.output-443", category="firewall", severity="high",
                   title="outgoing tcp/443 is blocked", evidence=[port_line])


def info(host):
    return Finding(host=host, rule="ratelimit.hub-anonymous", category="ratelimit",
                   severity="info", title="Docker Hub pulls are anonymous")


def test_one_cause_per_rule_with_its_variants():
    findings = [hostkey(f"h{i}", f"SHA256:{i}") for i in range(19)]
    findings += [blocked(f"w{i}", "-A OUTPUT -p tcp --dport 443 -j DROP") for i in range(15)]
    findings += [blocked(f"x{i}", "nft: tcp dport 443 drop") for i in range(4)]
    causes = fold_findings(findings)
    assert [c.rule for c in causes] == ["ssh.hostkey-changed", "firewall.output-443"]
    keys, fw = causes
    assert len(keys.hosts) == 19 and len(keys.variants) == 19          # 19 one-host variants, one row
    assert all(len(v.hosts) == 1 for v in keys.variants)
    assert len(fw.hosts) == 19 and [len(v.hosts) for v in fw.variants] == [15, 4]  # most hosts first
    assert fw.title == "outgoing tcp/443 is blocked" and fw.severity == "high"


def test_sorted_by_severity_weight_times_hosts():
    findings = [info(f"h{i}") for i in range(5000)]            # 5000 x 1
    findings += [blocked(f"w{i}", "drop") for i in range(6)]    # 6 x 1000
    findings += [hostkey("k", "SHA256:x")]                      # 1 x 10000
    causes = fold_findings(findings)
    assert [c.rule for c in causes] == ["ssh.hostkey-changed", "firewall.output-443",
                                        "ratelimit.hub-anonymous"]
    assert [c.impact for c in causes] == [10_000, 6_000, 5_000]
    assert impact("medium", 3) == 3 * SEVERITY_WEIGHT["medium"] and impact("bogus", 9) == 0


def test_a_host_counts_once_per_cause_and_mixed_severities_take_the_worst():
    f1 = blocked("a", "one")
    f2 = blocked("a", "two")
    f3 = Finding(host="b", rule="firewall.output-443", category="firewall", severity="critical",
                 title="outgoing tcp/443 is blocked everywhere")
    (cause,) = fold_findings([f1, f2, f3])
    assert cause.hosts == ["a", "b"] and cause.severity == "critical"
    assert cause.variants[0].severity == "critical"                   # worst variant leads
    assert [v.findings for v in cause.variants[1:]] == [[f1], [f2]]


def test_findings_without_rule_or_host_fold_by_title():
    a = Finding(host="", rule="", category="dns", severity="low", title="odd")
    b = Finding(host=None, rule="", category="dns", severity="low", title="odd")
    c = Finding(host="x", rule="", category="dns", severity="low", title="other")
    causes = fold_findings([a, b, c])
    assert sorted((c.rule, c.title, tuple(c.hosts)) for c in causes) == [
        ("odd", "odd", ("(fleet)",)), ("other", "other", ("x",))]


def test_group_breakdown_counts_hosts_not_findings():
    status = {"a": "ok", "b": "ok", "c": "unreachable", "d": "ok"}
    groups = {"a": ["zone_eu", "web"], "b": ["zone_eu"], "c": ["zone_eu"], "d": []}
    findings = [blocked("a", "1"), blocked("a", "2"), hostkey("b", "k"), info("d")]
    gb = group_breakdown(groups, status, fold_findings(findings))
    assert gb.categories == ["firewall", "ratelimit", "ssh"]  # the fixed category order
    rows = {r.name: r for r in gb.rows}
    assert [r.name for r in gb.rows] == ["web", "zone_eu", NO_GROUP]
    assert (rows["zone_eu"].hosts, rows["zone_eu"].unreachable) == (3, 1)
    assert rows["zone_eu"].by_category == {"firewall": 1, "ratelimit": 0, "ssh": 1}
    assert rows["web"].by_category["firewall"] == 1                  # two findings, one host
    assert rows[NO_GROUP].by_category["ratelimit"] == 1


def test_no_groups_anywhere_is_an_empty_breakdown():
    gb = group_breakdown({"a": []}, {"a": "ok"}, fold_findings([info("a")]))
    assert not gb and gb.rows == [] and gb.categories == []
    # hosts read from an old snapshot's JSON (no "groups" key) or with junk in it
    assert host_groups_of({"a": {"status": "ok"}, "b": {"groups": "web"},
                           "c": {"groups": ["web", 3]}}) == {"a": [], "b": [], "c": ["web"]}


def test_synthetic_fleet_folds_to_one_row_per_rule():
    run = synthetic_run(2000)
    causes = fold_findings(run.findings)
    assert len(causes) == len({f.rule for f in run.findings})
    assert sum(len(c.hosts) for c in causes) == len({(f.rule, f.host) for f in run.findings})
    assert any(len(c.variants) > 1 for c in causes)                   # e.g. MTU 1400/1450/1380
    impacts = [c.impact for c in causes]
    assert impacts == sorted(impacts, reverse=True)
    status = {n: h.status for n, h in run.hosts.items()}
    gb = group_breakdown(host_groups_of(run.hosts), status, causes)
    zones = [r for r in gb.rows if r.name.startswith("zone_")]
    assert sum(r.hosts for r in zones) == 2000
    assert sum(r.unreachable for r in zones) == sum(1 for s in status.values() if s == "unreachable")
