"""arch.* rules on small fleets built from real captured facts (tests/facts)."""
from fleetaudit.facts.platform import platform
from fleetaudit.models import HostResult, RunResult

from rulekit import fixture, found, plain_fleet


def golden():
    return {"system": fixture("system", "debian12-local"), "docker": fixture("docker", "lab-golden")}


def fleet(bad_facts, healthy=3):
    return plain_fleet(bad_facts, healthy, golden)


def arch_findings(run, host="bad"):
    return found(run, host, "arch.")


def test_arm_host_in_an_amd64_fleet():
    bad = golden()
    bad["system"] = fixture("system", "rocky9")          # a real aarch64 host
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
    bad["system"] = fixture("system", "rocky9")
    run = RunResult(hosts={"bad": HostResult("bad", facts=bad), "g": HostResult("g", facts=golden())})
    assert arch_findings(run) == []                 # one against one is not a majority


def test_platform_names():
    assert platform({"system": {"arch": "x86_64"}}) == "linux/amd64"
    assert platform({"system": {"arch": "armv7l"}}) == "linux/arm/v7"
    assert platform({"docker": {"server": {"arch": "arm64"}}}) == "linux/arm64/v8"
