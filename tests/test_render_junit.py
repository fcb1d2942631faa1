"""JUnit XML: one case per (host, category), failures at the threshold, errors for hosts
that were not audited, valid XML whatever a host sends."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.synthetic import XSS_SCRIPT, synthetic_run
from fleetaudit.models import CATEGORIES, Finding, HostError, HostResult, RunResult
from fleetaudit.render.junit import render_junit

SYSTEM = json.loads((Path(__file__).parent / "facts/system/debian12-local.json").read_text())["facts"]


def _run() -> RunResult:
    hosts = {
        "web-1": HostResult("web-1", "192.0.2.1", facts={"system": SYSTEM}, duration_s=1.25),
        "web-2": HostResult("web-2", "192.0.2.2", facts={"system": SYSTEM}),
        "db-1": HostResult("db-1", "192.0.2.3", status="unreachable",
                           error=HostError("hostkey-changed", "host key for 192.0.2.3 changed")),
        "db-2": HostResult("db-2", "192.0.2.4", status="partial", error=HostError("sudo", "sudo: a password is required"),
                           facts={"system": SYSTEM}, incomplete={"firewall": "sudo"}),
    }
    findings = [
        Finding("web-1", "DNS-RESOLVER-DRIFT", "dns", "high", "Resolver differs from the fleet baseline",
                evidence=[{"path": "dns.resolv_conf.nameservers", "expected": ["10.0.0.53"], "actual": ["8.8.8.8"]}],
                remediation=["cat /etc/resolv.conf"], why="dial tcp: lookup registry: no such host"),
        Finding("web-1", "TIME-NTP-UNSYNC", "time", "low", "NTP not synchronized"),
        Finding("web-2", "RATELIMIT-HUB-ANONYMOUS", "ratelimit", "info", "Docker Hub pulls are anonymous"),
    ]
    return RunResult(run={"started": "2026-11-30T08:00:00Z"}, hosts=hosts, findings=findings)


def _cases(xml: str):
    root = ET.fromstring(xml.encode())
    return root, {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_one_case_per_host_and_category_plus_audit():
    root, cases = _cases(render_junit(_run()))
    names = {"audit", *CATEGORIES}
    for host in ("web-1", "web-2", "db-1", "db-2"):
        assert {n for (cls, n) in cases if cls == f"fleetaudit.{host}"} == names
    suite = root.find("testsuite")
    assert suite.get("tests") == str(4 * len(names)) == root.get("tests")
    assert suite.get("timestamp") == "2026-11-30T08:00:00"


def test_failures_at_or_above_threshold_only():
    root, cases = _cases(render_junit(_run(), fail_on="medium"))
    dns = cases[("fleetaudit.web-1", "dns")]
    failure = dns.find("failure")
    assert failure.get("type") == "high"
    assert failure.get("message") == "[high] Resolver differs from the fleet baseline"
    assert "dns.resolv_conf.nameservers" in failure.text and "fix: cat /etc/resolv.conf" in failure.text
    # low finding: passes, but is reported in system-out
    time_case = cases[("fleetaudit.web-1", "time")]
    assert time_case.find("failure") is None
    assert "NTP not synchronized" in time_case.find("system-out").text
    assert root.find("testsuite").get("failures") == "1"
    # a stricter threshold fails the low finding too
    _, cases = _cases(render_junit(_run(), fail_on="low"))
    assert cases[("fleetaudit.web-1", "time")].find("failure").get("type") == "low"
    assert cases[("fleetaudit.web-2", "ratelimit")].find("failure") is None


def test_unreachable_host_errors_with_its_class_and_skips_its_checks():
    root, cases = _cases(render_junit(_run()))
    err = cases[("fleetaudit.db-1", "audit")].find("error")
    assert err.get("type") == "hostkey-changed"
    assert "host key for 192.0.2.3 changed" in err.get("message")
    assert all(cases[("fleetaudit.db-1", c)].find("skipped") is not None for c in CATEGORIES)
    partial = cases[("fleetaudit.db-2", "audit")].find("error")
    assert partial.get("type") == "sudo" and "firewall (sudo)" in partial.get("message")
    suite = root.find("testsuite")
    assert (suite.get("errors"), suite.get("skipped")) == ("2", str(len(CATEGORIES)))


def test_hostile_and_control_characters_give_valid_xml():
    run = _run()
    nasty = f"]]></failure>{XSS_SCRIPT}\x00\x07\x1b[0m\ud800\ufffe &amp; \"q\" 'a'"
    run.hosts["db-1"].error = HostError("refused", nasty)
    run.findings.append(Finding(f"web-1{nasty}", "R", "dns", "critical", nasty, evidence=[nasty],
                                remediation=[nasty], why=nasty))
    xml = render_junit(run)
    root, cases = _cases(xml)  # parses: well-formed XML 1.0
    err = cases[("fleetaudit.db-1", "audit")].find("error")
    assert "\\x00\\x07\\x1b[0m" in err.get("message")
    assert XSS_SCRIPT in err.get("message")  # escaped in the file, exact once parsed
    assert "<script>" not in xml
    ghost = [c for (cls, n), c in cases.items() if cls.startswith("fleetaudit.web-1]]>") and n == "dns"]
    assert ghost and ghost[0].find("failure").get("type") == "critical"


def test_only_categories_with_findings_when_asked():
    _, cases = _cases(render_junit(_run(), all_categories=False))
    assert set(cases) == {("fleetaudit.web-1", "audit"), ("fleetaudit.web-1", "dns"),
                          ("fleetaudit.web-1", "time"), ("fleetaudit.web-2", "audit"),
                          ("fleetaudit.web-2", "ratelimit"), ("fleetaudit.db-1", "audit"),
                          ("fleetaudit.db-2", "audit")}


def test_bad_threshold_is_refused():
    with pytest.raises(ValueError, match="fail_on"):
        render_junit(_run(), fail_on="severe")


def test_synthetic_fleet_counts_match_findings():
    run = synthetic_run(400)
    root, cases = _cases(render_junit(run, fail_on="high"))
    failing = {(f"fleetaudit.{f.host}", f.category) for f in run.findings
               if f.severity in ("critical", "high")}
    got = {k for k, c in cases.items() if c.find("failure") is not None}
    assert got == failing
    assert int(root.get("errors")) == sum(1 for h in run.hosts.values() if h.status != "ok")


def _as_elementtree_writes(xml: str) -> str:
    """`xml` parsed and written back by ElementTree (indent + tostring): the writer in
    render/junit.py produces the text itself and must match this byte for byte."""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    assert xml.startswith(head) and xml.endswith("\n")
    root = ET.fromstring(xml[len(head):].encode())
    ET.indent(root, space="  ")
    return head + ET.tostring(root, encoding="unicode") + "\n"


@pytest.mark.parametrize("fail_on,all_categories", [("medium", True), ("low", False), ("critical", True)])
def test_text_is_what_elementtree_writes(fail_on, all_categories):
    run = _run()
    nasty = f"]]></failure>{XSS_SCRIPT}\x00\t\r\n\x1b[0m\ud800\ufffe &amp; \"q\" 'a' <b>"
    run.hosts["db-1"].error = HostError("refused", nasty)
    run.hosts["db-2"].incomplete = {nasty: nasty}
    run.hosts[f"x{nasty}"] = HostResult(f"x{nasty}", nasty, status="unreachable", duration_s=0.5,
                                           error=HostError("connect-timeout", nasty))
    run.findings.append(Finding(f"web-1{nasty}", "R", f"cat{nasty}", "critical", nasty,
                                evidence=[nasty, {"path": nasty, "expected": nasty}],
                                remediation=[nasty], why=nasty))
    run.findings.append(Finding("web-2", nasty, "dns", "low", "", why=nasty))
    run.run["started"] = f"2026{nasty}Z"
    xml = render_junit(run, fail_on=fail_on, all_categories=all_categories, suite_name=nasty)
    assert xml == _as_elementtree_writes(xml)


def test_empty_run_is_what_elementtree_writes():
    xml = render_junit(RunResult())
    assert xml == _as_elementtree_writes(xml)
    assert "<testsuite " in xml and 'tests="0"' in xml


def test_synthetic_fleet_text_is_what_elementtree_writes():
    run = synthetic_run(150, seed=11, hostile=True, fault_rate=0.3, unreachable_rate=0.05,
                        partial_rate=0.05)
    xml = render_junit(run)
    assert xml == _as_elementtree_writes(xml)
