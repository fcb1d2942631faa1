"""arch.* rules on small fleets built from real captured facts (tests/facts)."""
import copy
import json
from pathlib import Path

from fleetaudit.diagnose import diagnose
from fleetaudit.diagnose.rules_arch import platform
from fleetaudit.models import HostResult, RunResult

FACTS = Path(__file__).parent / "facts"


def fx(collector, case):
    return copy.deepcopy(json.loads((FACTS / collector / f"{case}.json").read_text())["facts"])


def golden():
    return {"system": fx("system", "debian12-local"), "docker": fx("docker", "lab-golden")}


def fleet(bad_facts, healthy=3):
    hosts = {f"good-{i}": HostResult(f"good-{i}", facts=golden()) for i in range(healthy)}
    hosts["bad"] = HostResult("bad", facts=bad_facts)
    return RunResult(hosts=hosts)


def arch_findings(run, host="bad"):
    return [f for f in diagnose(run) if f.host == host and f.rule.startswith("arch.")]


def test_arm_host_in_an_amd64_fleet():
    bad = golden()
    bad["system"] = fx("system", "rocky9")          # a real aarch64 host
    [f] = arch_findings(fleet(bad))
    assert (f.rule, f.category, f.severity) == ("arch.differs", "arch", "medium")
    assert f.evidence[0]["fact"] == "system.arch"
    assert (f.evidence[0]["actual"], f.evidence[0]["expected"]) == ("aarch64", "linux/amd64")
    assert "linux/arm64/v8" in f.title
    assert "no matching manifest for linux/arm64/v8" in f.why
    assert any("--platform linux/amd64,linux/arm64/v8" in r for r in f.remediation)


def test_same_architecture_in_other_words_is_not_drift():
    other = golden()
    other["system"]["arch"] = None                  # uname failed: docker's view decides
    other["docker"]["info"]["architecture"] = "x86_64"
    run = fleet(other)
    for host in run.hosts:
        assert arch_findings(run, host) == []


def test_no_fleet_no_finding():
    bad = golden()
    bad["system"] = fx("system", "rocky9")
    run = RunResult(hosts={"bad": HostResult("bad", facts=bad), "g": HostResult("g", facts=golden())})
    assert arch_findings(run) == []                 # one against one is not a majority


def test_platform_names():
    assert platform({"system": {"arch": "x86_64"}}) == "linux/amd64"
    assert platform({"system": {"arch": "armv7l"}}) == "linux/arm/v7"
    assert platform({"docker": {"server": {"arch": "arm64"}}}) == "linux/arm64/v8"
