"""The derived facts (fleetaudit.facts) on real captured facts.

tests/data/snapshots/facts-views.json is a real audit of a lab fleet
(tests/data/snapshots/make_facts_views.py) whose hosts' dockerd and login shells
disagree: the proxy only in /etc/environment (env-proxy), a proxy only in the SSH session
(session-proxy), the registry CA only in the system bundle (bundle-ca), an insecure
registry plus a CIDR (insecure), registry credentials only for user deploy (user-creds),
a clock two hours ahead (skew); golden, good-1, good-2 are the lab's golden configuration
(proxy drop-in whose NO_PROXY has registry.fleet.test, lab CA in bundle + certs.d, root
logged in, a registry mirror).
"""
import json
from pathlib import Path

import pytest

from fleetaudit import snapshot, verdict
from fleetaudit.diagnose import diagnose
from fleetaudit.facts import MISSING, FleetView, HostView
from fleetaudit.facts.proxy import no_proxy_covers
from fleetaudit.facts.registries import hub_names, registry_host
from fleetaudit.reference import DOCKER_HUB_ALIASES, parse

from rulekit import fixture

SNAP = Path(__file__).parent / "data" / "snapshots" / "facts-views.json"
REG = "registry.fleet.test"
PROXY = "http://proxy.fleet.test:3128"
GOLDEN = ("golden", "good-1", "good-2")


@pytest.fixture(scope="module")
def run():
    return snapshot.load(SNAP)


@pytest.fixture(scope="module")
def fleet(run):
    return FleetView(run)


def test_the_capture_is_a_real_audit_of_every_case(run):
    assert set(run.hosts) == {*GOLDEN, "env-proxy", "session-proxy", "bundle-ca", "insecure",
                              "user-creds", "skew"}
    assert all(h.status == "ok" for h in run.hosts.values())


# ---------------------------------------------------------------- the daemon's proxy

@pytest.mark.parametrize("name", GOLDEN)
def test_golden_daemon_goes_direct_to_the_registry_and_via_the_proxy_to_docker_hub(fleet, name):
    v = fleet.host(name)
    proxy, why = v.daemon_proxy_for(REG)
    assert proxy is None and f"NO_PROXY entry {REG!r}" in why
    hub = v.daemon_proxy_for("index.docker.io")          # an alias: Docker Hub's API host
    assert (hub.proxy, hub.via_proxy, hub.fact) == (PROXY, True, "docker.info.https_proxy")
    assert "registry-1.docker.io:443" in hub.reason


def test_proxy_only_in_the_login_shell(fleet):
    v = fleet.host("env-proxy")
    for reg in (REG, "docker.io"):
        d = v.daemon_proxy_for(reg)
        assert (d.proxy, d.known, d.via_proxy) == (None, True, False) and "no HTTPS_PROXY" in d.reason
        login = v.login_proxy_for(reg)
        # the planted user:pass never appears; the host side redacted it
        assert login.proxy == "http://REDACTED@proxy.fleet.test:3128" and login.via_proxy is True
        assert login.fact == "proxy.environment_file.HTTPS_PROXY"
        assert v.proxy_paths_differ(reg) is True
        assert v.session_proxy_for(reg).via_proxy is False   # a non-login SSH session has none
    assert fleet.host("golden").proxy_paths_differ(REG) is False


def test_proxy_only_in_the_ssh_session(fleet, run):
    v = fleet.host("session-proxy")
    assert v.daemon_proxy_for(REG).via_proxy is False
    s = v.session_proxy_for(REG)
    assert (s.proxy, s.via_proxy, s.fact) == (PROXY, True, "proxy.session_env.HTTPS_PROXY")
    ref = parse(f"{REG}/team/app:1.0")
    # the gate reads the same answers
    assert verdict.session_via_proxy(v, ref) is True
    assert verdict.daemon_via_proxy(run.hosts["session-proxy"].facts, ref) is False
    assert verdict.session_via_proxy(fleet.host("golden"), ref) is False


def test_the_fleets_daemons_proxy_docker_hub_but_not_the_registry(fleet):
    assert fleet.daemons_via_proxy("docker.io", exclude="env-proxy") is True
    assert fleet.daemons_via_proxy(REG) is False


# ---------------------------------------------------------------- CA trust

def test_golden_trust_is_bundle_plus_certs_d(fleet):
    t = fleet.host("golden").trust_for(REG)
    assert t.known and t.verified is True and t.insecure_entry is None
    assert t.ca_files == [f"/etc/docker/certs.d/{REG}/ca.crt"]
    assert t.system_bundle["present"] and t.bundle_known
    assert t.sources == ["system bundle /etc/ssl/certs/ca-certificates.crt",
                         f"certs.d CA /etc/docker/certs.d/{REG}/ca.crt"]


def test_ca_only_in_the_system_bundle(fleet):
    v = fleet.host("bundle-ca")
    t = v.trust_for(REG)
    assert t.certs_d is None and t.ca_files == [] and t.verified is True
    assert t.sources == ["system bundle /etc/ssl/certs/ca-certificates.crt"]
    cas, known = fleet.fleet_cas()
    fleet_ca = set(cas[REG].certs)
    assert fleet_ca and fleet_ca <= v.trust.bundle_fps       # the fleet's CA is in its bundle
    assert "bundle-ca" not in cas[REG].hosts
    expected = [e.registry for e in fleet.expected_cas("bundle-ca")]
    assert expected == [REG] and fleet.registry_gaps("bundle-ca") == []   # trusted: no gap


def test_insecure_registry_and_cidr(fleet):
    v = fleet.host("insecure")
    t = v.trust_for(REG)
    assert (t.verified, t.insecure_entry, t.ca_files) == (False, REG, [])
    assert t.sources[0] == f"TLS not verified: insecure-registries entry {REG!r}"
    assert v.insecure_registries == ["10.99.0.0/16", REG]
    assert v.trust_for("10.99.3.4:5000").insecure_entry == "10.99.0.0/16"     # an IP inside the CIDR
    assert v.trust_for("10.98.3.4:5000").verified is True
    assert v.trust_for("localhost:5000").insecure_entry == "127.0.0.0/8"      # dockerd's own default
    assert fleet.host("golden").trust_for(REG).verified is True
    assert fleet.registry_gaps("insecure") == []     # not verified there: a missing CA is no gap


def test_docker_hub_trust_names_the_mirror(fleet):
    t = fleet.host("golden").trust_for("registry-1.docker.io")
    assert t.registry == "docker.io" and t.mirrors == ["https://mirror.fleet.test"]
    assert t.sources[0] == "mirrors first: https://mirror.fleet.test"


# ---------------------------------------------------------------- credentials

def test_credentials_only_for_a_non_root_user(fleet):
    v = fleet.host("user-creds")
    assert v.root_registries == [] and v.root_has_credentials(REG) is False
    assert v.credential_users(REG) == ["deploy"] and v.non_root_only_credentials(REG)
    assert v.credentials_by_user == {"deploy": [REG]}
    g = fleet.host("golden")
    assert g.root_has_credentials(f"https://{REG}/v2/") is True and not g.non_root_only_credentials(REG)
    assert fleet.root_credential_counts(REG, exclude="user-creds") == (8, 8)


def test_root_credentials_unknown_is_none_not_false():
    v = HostView("x", {"credentials": fixture("credentials", "not-root")})
    assert v.root_registries is MISSING and v.root_has_credentials(REG) is None


# ---------------------------------------------------------------- platform, clock, data root

def test_platform_clock_and_data_root(fleet):
    for v in fleet.views():
        assert v.platform == "linux/amd64" and v.data_root == "/var/lib/docker"
        assert v.platform_matches(["linux/arm64/v8", "linux/amd64"]) is True
        assert v.platform_matches(["linux/arm64/v8"]) is False
    skew = fleet.host("skew")
    assert 7190 < skew.clock_offset_s < 7210 and skew.clock_uncertainty_s < 1
    assert abs(fleet.host("golden").clock_offset_s) < 5
    assert abs(fleet.clock_median_s()) < 5        # one skewed host does not move the median


def test_majority_and_registries_the_fleet_uses(fleet):
    exp = fleet.majority("platform", lambda f: HostView("", f).platform or MISSING)
    assert exp.value == "linux/amd64" and exp.source == "fleet majority (9 of 9 hosts)"
    regs = fleet.registries()
    assert {REG, "mirror.fleet.test"} <= set(regs)
    assert "proxy.fleet.test:3128" not in regs
    assert fleet.registry_names("user-creds")[0] == REG


# ---------------------------------------------------------------- caching and robustness

def test_views_are_built_once_and_nothing_is_hung_on_the_run(run):
    before = {n: set(vars(h)) for n, h in run.hosts.items()}
    run_attrs = set(vars(run))
    fleet = FleetView(run)
    assert fleet.host("golden") is fleet.host("golden")
    diagnose(run)
    assert set(vars(run)) == run_attrs
    assert {n: set(vars(h)) for n, h in run.hosts.items()} == before


JUNK_CASES = [("junk", c) for c in ("proxy", "credentials", "tls", "docker", "daemon_json", "time", "system")] + \
             [("no-output", c) for c in ("proxy", "credentials", "tls", "docker", "daemon_json", "time", "system")]


@pytest.mark.parametrize("case,collector", JUNK_CASES)
def test_every_answer_survives_junk_facts(case, collector):
    v = HostView("junk", {collector: fixture(collector, case)})
    for reg in (REG, "docker.io", "10.99.3.4:5000", "[::1]:5000"):
        for route in (v.daemon_proxy_for(reg), v.session_proxy_for(reg), v.login_proxy_for(reg)):
            assert isinstance(route.reason, str) and route.via_proxy in (True, False, None)
        assert v.trust_for(reg).registry
        assert v.root_has_credentials(reg) in (True, False, None)
    assert v.platform is None or v.platform.startswith("linux/")
    assert v.clock_offset_s is None or isinstance(v.clock_offset_s, float)
    json.dumps([v.credentials_by_user, v.own_registries, v.data_root])


# ---------------------------------------------------------------- one Docker Hub alias list

def test_one_docker_hub_alias_list():
    assert set(hub_names()) == set(DOCKER_HUB_ALIASES)
    assert all(registry_host(a) == "docker.io" for a in DOCKER_HUB_ALIASES)
    assert set(verdict.HUB_NAMES) == set(DOCKER_HUB_ALIASES) | {"Docker Hub"}


def test_no_proxy_go_semantics():
    assert no_proxy_covers(".fleet.test", "registry.fleet.test") and not no_proxy_covers(".fleet.test", "fleet.test")
    assert no_proxy_covers("fleet.test", "fleet.test") and no_proxy_covers("*.fleet.test", "a.fleet.test")
    assert no_proxy_covers("registry.fleet.test:5000", "registry.fleet.test", 5000)
    assert not no_proxy_covers("registry.fleet.test:5000", "registry.fleet.test", 443)
    assert no_proxy_covers("10.0.0.0/8", "10.1.2.3") and not no_proxy_covers("10.0.0.0/8", "ten.example")
    assert no_proxy_covers("", "localhost") and no_proxy_covers("*", "anything.example")
