"""proxy.* rules on small fleets built from real captured facts (tests/facts), each
mutated minimally to plant one fault; plus Go's NO_PROXY matching."""
import pytest

from fleetaudit.facts.proxy import no_proxy_covers, proxy_endpoint
from fleetaudit.models import HostResult, RunResult

from rulekit import engine_golden as golden, fixture, one, plain_fleet as fleet
from rulekit import found as found_on


def found(run, host="bad", prefix="proxy."):
    return found_on(run, host, prefix)


def none_of(run, rule, host="bad"):
    return all(f.rule != rule for f in found(run, host, ""))


def no_daemon_proxy(facts):
    for k in ("http_proxy", "https_proxy", "no_proxy"):
        facts["docker"]["info"][k] = None
    return facts


def env_proxy_host():
    """The lab's env-proxy host: proxy (with a password) in /etc/environment only."""
    h = no_daemon_proxy(golden())
    h["proxy"] = fixture("proxy", "lab-env-proxy")
    return h


def sandbox_host(docker_version=None):
    """A systemd host (captured in a sandbox): drop-ins, an EnvironmentFile with
    export lines, a missing required EnvironmentFile, a restart pending, and a
    daemon.json no-proxy that disagrees with the drop-in."""
    h = golden()
    h["proxy"] = fixture("proxy", "systemd-dropins-sandbox")
    if docker_version:
        h["docker"]["server"]["version"] = docker_version
    return h


def test_golden_fleet_is_quiet():
    run = fleet(golden())
    for host in run.hosts:
        assert found(run, host) == []


# ---------------------------------------------------------------- shell-only

def test_shell_only_proxy_is_high_when_the_fleet_daemons_use_one():
    f = one(fleet(env_proxy_host()), "proxy.shell-only")
    assert (f.category, f.severity) == ("proxy", "high")
    names = [e["fact"] for e in f.evidence]
    assert "proxy.environment_file.HTTPS_PROXY" in names
    daemon = next(e for e in f.evidence if e["fact"] == "docker.info.https_proxy")
    assert daemon["actual"] is None and daemon["expected"] == "http://proxy.fleet.test:3128"
    assert "i/o timeout" in f.why
    fix = "\n".join(f.remediation)
    assert "/etc/systemd/system/docker.service.d/http-proxy.conf" in fix
    assert "NO_PROXY=localhost,127.0.0.1,registry.fleet.test" in fix     # the fleet's own NO_PROXY
    assert "USER:PASSWORD@proxy.fleet.test:3128" in fix                  # never the secret
    assert "REDACTED" not in fix


def test_shell_only_alone_is_medium_and_fleetwide_is_low():
    alone = RunResult(hosts={"bad": HostResult("bad", facts=env_proxy_host())})
    assert one(alone, "proxy.shell-only").severity == "medium"
    everywhere = fleet(env_proxy_host(), make=env_proxy_host)
    assert one(everywhere, "proxy.shell-only").severity == "low"


def test_shell_only_on_alpine_writes_conf_d():
    h = env_proxy_host()
    h["system"] = fixture("system", "alpine-no-os-release")
    h["system"]["family"] = "alpine"
    f = one(fleet(h), "proxy.shell-only")
    assert any("/etc/conf.d/docker" in r for r in f.remediation)
    assert any("rc-service docker restart" in r for r in f.remediation)


# ---------------------------------------------------------------- daemon differs / https

def test_daemon_without_the_fleet_proxy_is_high():
    bad = no_daemon_proxy(golden())
    f = one(fleet(bad), "proxy.daemon-differs")
    assert (f.category, f.severity) == ("proxy", "high")
    assert {e["fact"] for e in f.evidence} == {"docker.info.https_proxy", "docker.info.http_proxy"}
    assert none_of(fleet(bad), "proxy.shell-only")


def test_daemon_with_another_proxy_is_medium():
    bad = golden()
    bad["docker"]["info"]["https_proxy"] = "http://other.corp:8080"
    f = one(fleet(bad), "proxy.daemon-differs")
    assert f.severity == "medium"
    assert f.evidence[0] == {"fact": "docker.info.https_proxy", "actual": "http://other.corp:8080",
                             "expected": "http://proxy.fleet.test:3128",
                             "note": "fleet majority (3 of 4 hosts)"}


def test_https_proxy_missing():
    bad = golden()
    bad["docker"]["info"]["https_proxy"] = None
    alone = RunResult(hosts={"bad": HostResult("bad", facts=bad)})
    f = one(alone, "proxy.https-proxy-missing")
    assert (f.category, f.severity) == ("proxy", "medium")
    assert f.evidence[1]["fact"] == "docker.info.https_proxy"
    # in a fleet that has HTTPS_PROXY the drift rule reports it instead (once)
    run = fleet(bad)
    assert none_of(run, "proxy.https-proxy-missing")
    assert one(run, "proxy.daemon-differs").severity == "high"


# ---------------------------------------------------------------- NO_PROXY

def test_registry_not_exempt_while_the_fleet_exempts_it():
    bad = golden()
    bad["docker"]["info"]["no_proxy"] = "localhost,127.0.0.1"
    f = one(fleet(bad), "proxy.no-proxy-registry")
    assert (f.category, f.severity) == ("proxy", "high")
    assert f.evidence[0]["fact"] == "docker.info.no_proxy"
    assert f.evidence[0]["actual"] == "localhost,127.0.0.1"
    assert f.evidence[1]["fact"].startswith("credentials.")          # how we know it is used
    assert "registry.fleet.test" in f.title
    assert any("NO_PROXY=localhost,127.0.0.1,registry.fleet.test" in r for r in f.remediation)


def test_fleetwide_proxied_registry_is_quiet_unless_pulls_fail():
    # The lab's mirror goes through the proxy on every host: a consistent, working choice.
    run = fleet(golden())
    assert none_of(run, "proxy.no-proxy-registry")
    # ... but a host whose log shows the proxy refusing the mirror gets it, high.
    bad = golden()
    bad["daemon_log"]["counts"] = {"proxy-auth-required": 4}
    bad["daemon_log"]["samples"] = {"proxy-auth-required": (
        'level=error msg="Handler for POST /v1.41/images/create returned error: Get '
        '\\"https://mirror.fleet.test/v2/\\": Proxy Authentication Required"')}
    f = one(fleet(bad), "proxy.no-proxy-registry")
    assert f.severity == "high"
    assert "mirror.fleet.test" in f.title
    assert any(e["fact"] == "daemon_log.samples.proxy-auth-required" for e in f.evidence)


def test_public_registries_may_go_through_the_proxy():
    # One host, nobody to compare with: only the name says whether a registry is internal.
    bad = golden()
    bad["credentials"]["users"]["root"]["credential_registries"] = ["ghcr.io", "registry.corp"]
    bad["docker"]["info"]["registry_mirrors"] = []
    run = RunResult(hosts={"bad": HostResult("bad", facts=bad)})
    hits = [f for f in found(run) if f.rule == "proxy.no-proxy-registry"]
    assert [f.title.split()[0] for f in hits] == ["registry.corp"]
    assert hits[0].severity == "medium"
    assert "internal suffix .corp" in hits[0].evidence[1]["note"]


@pytest.mark.parametrize("no_proxy,host,port,covered", [
    ("registry.corp", "registry.corp", 443, True),
    ("corp", "registry.corp", 443, True),               # a domain covers its subdomains
    (".corp", "corp", 443, False),                      # a leading dot: subdomains only
    ("*.corp", "registry.corp", 5000, True),
    ("registry.corp:5000", "registry.corp", 443, False),  # a port limits the entry
    ("registry.corp:5000", "registry.corp", 5000, True),
    ("10.0.0.0/8", "10.1.2.3", 443, True),
    ("10.0.0.0/8", "registry.corp", 443, False),        # no DNS lookups for CIDRs
    ("*", "anything.example", 443, True),
    ("", "localhost", 443, True),                       # loopback is never proxied
    ("", "127.0.0.1", 5000, True),
    (" other.corp , , registry.corp ", "registry.corp", 443, True),
    ("egistry.corp", "registry.corp", 443, False),
])
def test_no_proxy_follows_go(no_proxy, host, port, covered):
    assert no_proxy_covers(no_proxy, host, port) is covered


def test_proxy_endpoint_normalizes():
    assert proxy_endpoint("http://REDACTED@Proxy.Corp:3128/") == "http://proxy.corp:3128"
    assert proxy_endpoint("proxy.corp:3128") == "http://proxy.corp:3128"   # Go's default scheme
    assert proxy_endpoint("https://proxy.corp") == "https://proxy.corp:443"
    assert proxy_endpoint("") == ""


# ---------------------------------------------------------------- credentials

def test_proxy_password_in_etc_environment():
    f = one(fleet(env_proxy_host()), "proxy.credentials-plaintext")
    assert (f.category, f.severity) == ("proxy", "medium")
    assert f.evidence[0]["fact"] == "proxy.has_credentials"
    assert "/etc/environment:HTTPS_PROXY" in f.evidence[0]["actual"]
    assert any("/etc/environment" in r for r in f.remediation)


def test_proxy_password_only_in_an_environment_file_is_low():
    bad = golden()
    bad["proxy"]["has_credentials"] = ["/etc/docker/proxy.env:HTTPS_PROXY", "dockerd environ:HTTPS_PROXY"]
    f = one(fleet(bad), "proxy.credentials-plaintext")
    assert f.severity == "low"
    assert f.evidence[0]["actual"] == ["/etc/docker/proxy.env:HTTPS_PROXY"]
    assert any("chmod 600 /etc/docker/proxy.env" in r for r in f.remediation)


# ---------------------------------------------------------------- sandboxed systemd host

def test_daemon_json_and_dropin_disagree():
    f = one(fleet(sandbox_host("24.0.7")), "proxy.json-env-conflict")
    assert (f.category, f.severity) == ("proxy", "medium")
    assert [e["fact"] for e in f.evidence] == ["proxy.daemon_json_proxies.no-proxy", "proxy.environ.NO_PROXY"]
    assert "daemon.json wins" in f.title
    old = one(fleet(sandbox_host()), "proxy.json-env-conflict")      # the lab's 20.10
    assert "refuses" in old.title


def test_restart_pending():
    f = one(fleet(sandbox_host()), "proxy.restart-pending")
    assert (f.category, f.severity) == ("proxy", "medium")
    https = next(e for e in f.evidence if e["fact"] == "proxy.environ.HTTPS_PROXY")
    assert https["actual"] == "http://***@proxy.corp:3128"
    assert https["expected"] == "http://proxy2.corp:8080"
    assert "proxy.pending_restart" in [e["fact"] for e in f.evidence]


def test_export_lines_in_environment_files():
    hits = [f for f in found(fleet(sandbox_host())) if f.rule == "proxy.env-file-export"]
    assert sorted(f.evidence[0]["fact"] for f in hits) == [
        'proxy.env_files["/etc/default/docker"].ignored', 'proxy.env_files["/etc/docker/proxy.env"].ignored']
    assert all(f.severity == "medium" for f in hits)   # the daemon has HTTP_PROXY from elsewhere


def test_missing_required_environment_file():
    f = one(fleet(sandbox_host()), "proxy.env-file-missing")
    assert (f.category, f.severity) == ("daemon", "high")            # daemon still up
    assert f.evidence[0] == {"fact": "proxy.missing_env_files", "actual": ["/etc/docker/required.env"],
                             "expected": []}
    not_systemd = sandbox_host()
    not_systemd["proxy"]["init"] = "other"
    assert none_of(fleet(not_systemd), "proxy.env-file-missing")
