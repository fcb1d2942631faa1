"""daemon.* rules on small fleets built from real captured facts (tests/facts), each
mutated minimally to plant one fault. The fleet is the lab's golden host plus copies,
so the fleet majority is the golden configuration."""
import copy

import pytest

from fleetaudit.diagnose import diagnose
from fleetaudit.models import HostResult, RunResult

from rulekit import engine_golden as golden, facts_named, fixture, one, plain_fleet as fleet
from rulekit import found as found_on


def found(run, host="bad", prefix="daemon."):
    return found_on(run, host, prefix)


def test_golden_fleet_is_quiet():
    run = fleet(golden())
    for host in run.hosts:
        assert found(run, host) == []


def test_junk_and_empty_facts_never_break_a_rule():
    junk = {c: fixture(c, "junk") for c in ("system", "docker", "daemon_json", "proxy", "credentials",
                                            "daemon_log", "restarts", "tls")}
    empty = {c: fixture(c, "no-output") for c in junk}
    run = RunResult(hosts={"junk": HostResult("junk", facts=junk),
                           "empty": HostResult("empty", facts=empty),
                           "nothing": HostResult("nothing", facts={}),
                           "g": HostResult("g", facts=golden())})
    for f in diagnose(run):
        assert "failed" not in f.title, f.to_json()


# ---------------------------------------------------------------- daemon.json

def test_invalid_json_with_engine_down_is_critical():
    bad = golden()
    bad["daemon_json"] = fixture("daemon_json", "lab-bad-json")
    bad["docker"] = fixture("docker", "lab-bad-json-daemon-down")
    f = one(fleet(bad), "daemon.json-invalid")
    assert (f.category, f.severity) == ("daemon", "critical")
    assert "daemon_json.error" in facts_named(f)
    err = next(e for e in f.evidence if e["fact"] == "daemon_json.error")["actual"]
    assert "line 2 column" in err
    assert "unable to configure the Docker daemon" in f.why
    assert any("json.tool" in r for r in f.remediation)
    # the engine-down finding names the cause instead of guessing
    down = one(fleet(bad), "daemon.engine-down")
    assert down.severity == "critical"
    assert {"fact": "findings", "actual": ["daemon.json-invalid"],
            "note": "daemon.json explains it: that finding carries the fix"} in down.evidence


def test_invalid_json_while_engine_still_runs_is_high():
    bad = golden()
    bad["daemon_json"] = fixture("daemon_json", "syntax-error")
    f = one(fleet(bad), "daemon.json-invalid")
    assert f.severity == "high"
    assert "next restart" in f.title


def test_empty_daemon_json_fix_writes_an_object():
    bad = golden()
    bad["daemon_json"] = fixture("daemon_json", "empty-file")
    bad["docker"] = fixture("docker", "lab-bad-json-daemon-down")
    f = one(fleet(bad), "daemon.json-invalid")
    assert any("echo '{}'" in r for r in f.remediation)


def test_unknown_option_and_flag_conflict_and_ignored_keys():
    bad = golden()
    bad["daemon_json"] = fixture("daemon_json", "keys-and-docker-opts")
    run = fleet(bad)
    unknown = one(run, "daemon.json-unknown-option")
    assert (unknown.category, unknown.severity) == ("daemon", "high")    # engine still up
    assert unknown.evidence[0]["fact"] == "daemon_json.unrecognized_keys"
    assert unknown.evidence[0]["actual"] == ["live-restor"]
    conflict = one(run, "daemon.json-flag-conflict")
    assert conflict.evidence[0] == {"fact": "daemon_json.flag_conflicts", "actual": ["dns"],
                                    "expected": [], "note": conflict.evidence[0]["note"]}
    ignored = one(run, "daemon.json-ignored-key")
    assert ignored.severity == "medium"          # registry-mirror / insecure-registry do nothing
    assert "registry-mirror -> registry-mirrors" in ignored.title


def test_flag_conflict_with_engine_down_is_critical():
    bad = golden()
    bad["daemon_json"] = fixture("daemon_json", "hosts-conflict")
    bad["docker"] = fixture("docker", "lab-bad-json-daemon-down")
    f = one(fleet(bad), "daemon.json-flag-conflict")
    assert f.severity == "critical"
    assert any("hosts.conf" in r for r in f.remediation)


def test_proxies_key_on_docker_20_is_unknown():
    bad = golden()
    bad["daemon_json"]["config"]["proxies"] = {"http-proxy": "http://proxy.corp:3128"}
    f = one(fleet(bad), "daemon.json-unknown-option")
    assert f.evidence[0]["actual"] == ["http-proxy"]
    assert any(e["fact"] == "docker.server.version" and e["expected"] == ">= 23.0" for e in f.evidence)
    assert any("docker.service.d" in r for r in f.remediation)
    # the same file on Docker 24 is fine
    ok = copy.deepcopy(bad)
    ok["docker"]["server"]["version"] = "24.0.7"
    assert all(f.rule != "daemon.json-unknown-option" for f in found(fleet(ok)))


# ---------------------------------------------------------------- engine state

@pytest.mark.parametrize("case,severity,needle", [
    ("lab-bad-json-daemon-down", "critical", "Cannot connect to the Docker daemon"),
    ("daemon-timeout", "critical", "timed out"),  # a hung engine: every pull hangs too
    ("lab-api-too-new", "high", "client version 1.50 is too new"),
    ("lab-sudo-pw-no-become", "info", "permission denied"),
])
def test_engine_down_variants(case, severity, needle):
    bad = golden()
    bad["docker"] = fixture("docker", case)
    f = one(fleet(bad), "daemon.engine-down")
    assert (f.category, f.severity) == ("daemon", severity)
    error = next(e for e in f.evidence if e["fact"] == "docker.error")["actual"]
    assert needle in error


def test_docker_missing_on_a_docker_fleet():
    bad = golden()
    bad["docker"] = fixture("docker", "not-installed")
    f = one(fleet(bad), "daemon.engine-down")
    assert f.severity == "high"
    assert f.evidence[0]["fact"] == "docker.installed"
    assert any("apt-get install" in r for r in f.remediation)     # debian family


def test_docker_missing_alone_is_not_a_finding():
    bad = golden()
    bad["docker"] = fixture("docker", "not-installed")
    run = RunResult(hosts={"bad": HostResult("bad", facts=bad)})
    assert found(run) == []


# ---------------------------------------------------------------- version drift

@pytest.mark.parametrize("version,severity", [
    ("28.2.2", "high"), ("20.11.0", "medium"), ("20.10.21+dfsg1", "low"),
])
def test_version_drift_severity_follows_the_kind_of_difference(version, severity):
    bad = golden()
    bad["docker"]["server"]["version"] = version
    f = one(fleet(bad), "daemon.version-drift")
    assert (f.category, f.severity) == ("daemon", severity)
    assert f.evidence[0]["fact"] == "docker.server.version"
    assert f.evidence[0]["expected"] == "20.10.24"


def test_version_drift_remediation_follows_the_os_family():
    bad = golden()
    bad["docker"]["server"]["version"] = "28.2.2"
    bad["system"] = fixture("system", "rocky9")
    f = one(fleet(bad), "daemon.version-drift")
    assert any("dnf" in r for r in f.remediation)


def test_version_drift_needs_a_majority():
    a, b = golden(), golden()
    b["docker"]["server"]["version"] = "24.0.7"
    run = RunResult(hosts={"a": HostResult("a", facts=a), "b": HostResult("b", facts=b)})
    assert found(run, "a") == found(run, "b") == []


# ---------------------------------------------------------------- registries

def test_insecure_registry_outlier_is_medium_tls():
    bad = golden()
    bad["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "registry.fleet.test"]
    f = one(fleet(bad), "daemon.insecure-registry")
    assert (f.category, f.severity) == ("tls", "medium")
    assert f.evidence[0]["fact"] == "docker.info.insecure_registries"
    assert f.evidence[0]["actual"] == ["registry.fleet.test"]
    assert any("certs.d/registry.fleet.test" in r for r in f.remediation)


def test_insecure_registry_fleet_wide_is_low_and_missing_one_is_high():
    def insecure():
        h = golden()
        h["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "registry.fleet.test"]
        return h
    hosts = {f"h{i}": HostResult(f"h{i}", facts=insecure()) for i in range(3)}
    hosts["bad"] = HostResult("bad", facts=golden())
    run = RunResult(hosts=hosts)
    assert one(run, "daemon.insecure-registry", "h0").severity == "low"
    f = one(run, "daemon.insecure-registry-missing")
    assert (f.category, f.severity) == ("tls", "high")
    assert f.evidence[0]["expected"] == ["registry.fleet.test"]


def test_missing_mirror_is_found():
    bad = golden()
    bad["docker"]["info"]["registry_mirrors"] = []
    f = one(fleet(bad), "daemon.registry-mirrors")
    assert (f.category, f.severity) == ("daemon", "medium")
    assert f.evidence[0] == {"fact": "docker.info.registry_mirrors", "actual": [],
                             "expected": ["https://mirror.fleet.test"],
                             "note": "fleet majority (3 of 4 hosts)"}
    assert "Docker Hub pulls go direct" in f.title


def test_mirror_trailing_slash_and_daemon_json_agree():
    # A host whose daemon is down is compared through daemon.json (no trailing slash).
    bad = golden()
    bad["docker"] = fixture("docker", "lab-bad-json-daemon-down")
    assert all(f.rule != "daemon.registry-mirrors" for f in found(fleet(bad)))


# ---------------------------------------------------------------- restart loops

def test_restart_loops():
    bad = golden()
    bad["restarts"] = fixture("restarts", "stub-looping")
    hits = [f for f in found(fleet(bad)) if f.rule == "daemon.restart-loop"]
    by_title = {f.title: f for f in hits}
    engine = next(f for t, f in by_title.items() if t.startswith("docker.service"))
    assert engine.severity == "high"
    assert engine.evidence[0]["fact"] == 'restarts.units["docker.service"].restarts'
    containers = next(f for t, f in by_title.items() if "worker" in t)
    assert containers.severity == "medium"
    assert containers.evidence[0]["fact"] == "restarts.looping"


def test_old_restarts_only_are_low():
    bad = golden()
    bad["restarts"] = fixture("restarts", "stub-looping")
    bad["restarts"]["units"] = []
    for c in bad["restarts"]["containers"]:
        c["restarting"], c["status"] = False, "exited"
    f = one(fleet(bad), "daemon.restart-loop")
    assert f.severity == "low"
