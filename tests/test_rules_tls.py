"""tls rules on real captured facts (tests/facts/*/lab-*.json) with a real certificate
catalog (certs.digest of tests/data/certs), each fault planted by a minimal edit."""
import copy

import pytest

from fleetaudit.certs import digest
from fleetaudit.compare.paths import known

from rulekit import HERE, facts_named, failed, findings, fixture, junk_variants, lab_fleet, on
from rulekit import lab_golden as golden, run_of as lab_run

LAB_CA = "a4046c7352a7a0119da7c8298f7d80f31f3f7ac124a594a85d3f950ff04930cc"      # lab CA file
GOLDEN_BUNDLE = "a612cb16aaa725ee0bf18aa289fc934d9d1813dcefa65d52c757637d64320cd6"  # roots + lab CA
NOCA_BUNDLE = "c1d649202327c251b9cd70d546d2b564998bbd8d2f17e4e6f1650155b704eb46"    # roots only
REG = "registry.fleet.test"
REG_PATH = 'tls.certs_d["registry.fleet.test"]'


def pem(name):
    return (HERE / "data" / "certs" / f"{name}.pem").read_bytes()


# The lab CA is played by the test root CA; "the distribution's roots" by the valid leaf.
CATALOG = {
    LAB_CA: digest(pem("ca")),
    GOLDEN_BUNDLE: digest(pem("valid") + pem("ca")),
    NOCA_BUNDLE: digest(pem("valid")),
}
CA_FP = CATALOG[LAB_CA][0]["sha256"]


def run_of(hosts, catalog=CATALOG):
    return lab_run(hosts, catalog)


def fleet(bad, bad_name="bad", catalog=CATALOG, good=3):
    return lab_fleet(bad, good, golden, catalog, bad_name)


def tls_findings(run, **kw):
    return findings(run, "tls", **kw)


def no_ca():
    facts = golden()
    facts["tls"] = fixture("tls", "lab-no-ca")
    return facts


# ---------------------------------------------------------------- clean fleets

@pytest.mark.parametrize("catalog", [CATALOG, {}], ids=["catalog", "no-catalog"])
def test_clean_fleet_is_quiet(catalog):
    found = tls_findings(fleet(golden(), catalog=catalog))
    assert [f for f in found if f.severity in ("critical", "high", "medium")] == []


@pytest.mark.parametrize("case", ["no-output", "junk", "unreadable-as-user", "lab-sudo-pw"])
def test_partial_or_broken_tls_facts_do_not_raise(case):
    facts = golden()
    facts["tls"] = fixture("tls", case)
    found = tls_findings(fleet(facts))
    assert not [f for f in found if "failed" in f.title]
    assert not [f for f in on(found, "bad") if f.severity in ("critical", "high")]


# ---------------------------------------------------------------- registry CA missing

def test_registry_ca_missing_is_critical_when_the_log_shows_x509():
    bad = no_ca()
    bad["daemon_log"] = fixture("daemon_log", "lab-no-ca-x509")
    found = tls_findings(fleet(bad, "no-ca"))
    hits = on(found, "no-ca", "tls.registry-ca-missing")
    assert len(hits) == 1
    f = hits[0]
    assert (f.category, f.severity) == ("tls", "critical")
    assert REG in f.title
    assert REG_PATH in facts_named(f)
    assert "daemon_log.counts.x509-unknown-authority" in facts_named(f)
    assert any("certs.d/registry.fleet.test" in r for r in f.remediation)
    assert "x509: certificate signed by unknown authority" in f.why
    assert all(known(e["fact"]) for e in f.evidence)
    # one fault, one finding: the same CA is not reported again as a missing anchor / bundle drift
    assert on(found, "no-ca", "tls.local-ca-missing") == []
    assert on(found, "no-ca", "tls.bundle-differs") == []
    assert on(found, "good-0") == []


def test_registry_ca_missing_high_without_log_medium_without_catalog():
    found = tls_findings(fleet(no_ca(), "no-ca"))
    assert [f.severity for f in on(found, "no-ca", "tls.registry-ca-missing")] == ["high"]
    found = tls_findings(fleet(no_ca(), "no-ca", catalog={}))
    hit, = on(found, "no-ca", "tls.registry-ca-missing")
    assert hit.severity == "medium" and "not known" in hit.title


def test_registry_ca_quiet_when_the_bundle_has_the_ca():
    bad = golden()
    bad["tls"]["certs_d"] = {}       # only certs.d is gone; the bundle still holds the lab CA
    bad["tls"]["certs_d_present"] = False
    found = tls_findings(fleet(bad))
    assert on(found, "bad", "tls.registry-ca-missing") == []


def test_registry_ca_different_ca_in_certs_d():
    other = "b" * 64
    bad = golden()
    bad["tls"]["certs_d"][REG][0]["sha256"] = other
    bad["tls"]["bundle"]["sha256"] = NOCA_BUNDLE
    catalog = dict(CATALOG, **{other: digest(pem("expired"))})
    found = tls_findings(fleet(bad, catalog=catalog))
    hit, = on(found, "bad", "tls.registry-ca-missing")
    assert hit.severity == "high" and "not the fleet's CA" in hit.title


def test_registry_ca_against_a_golden_baseline():
    # two hosts only: no fleet majority, the golden host decides
    run = run_of({"golden": golden(), "no-ca": no_ca()})
    found = tls_findings(run, baselines={"no-ca": run.hosts["golden"].facts})
    hit, = on(found, "no-ca", "tls.registry-ca-missing")
    assert any(e.get("note") == "baseline" for e in hit.evidence)


def test_insecure_registry_needs_no_ca():
    bad = no_ca()
    bad["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", REG]
    found = tls_findings(fleet(bad))
    assert on(found, "bad", "tls.registry-ca-missing") == []


# ---------------------------------------------------------------- local anchors

def _anchors_only(facts):
    facts["tls"]["certs_d"] = {}
    facts["tls"]["certs_d_present"] = False
    return facts


def test_local_ca_missing_when_the_fleet_trusts_it_by_anchor_only():
    run = run_of({**{f"good-{i}": _anchors_only(golden()) for i in range(3)}, "bad": no_ca()})
    found = tls_findings(run)
    hit, = on(found, "bad", "tls.local-ca-missing")
    assert (hit.category, hit.severity) == ("tls", "high")
    assert "Fleetaudit Test Root CA" in hit.title
    assert "tls.anchors" in facts_named(hit)
    assert any("update-ca-certificates" in r for r in hit.remediation)
    assert on(found, "good-0", "tls.local-ca-missing") == []


def test_local_ca_missing_uses_the_family_tool():
    bad = no_ca()
    bad["system"] = fixture("system", "rocky9")
    bad["system"]["arch"] = "x86_64"
    run = run_of({**{f"good-{i}": _anchors_only(golden()) for i in range(3)}, "bad": bad})
    hit, = on(tls_findings(run), "bad", "tls.local-ca-missing")
    assert any("update-ca-trust" in r and "anchors" not in r for r in hit.remediation)
    assert any("/etc/pki/ca-trust/source/anchors/" in r for r in hit.remediation)


def test_anchor_not_merged_into_bundle():
    bad = golden()
    bad["tls"]["bundle"]["sha256"] = NOCA_BUNDLE       # anchor copied, update-ca-certificates not run
    found = tls_findings(fleet(bad))
    hit, = on(found, "bad", "tls.anchor-not-merged")
    assert hit.severity == "medium"
    assert 'tls.anchors["/usr/local/share/ca-certificates/fleet-lab-ca.crt"]' in facts_named(hit)
    assert "sudo update-ca-certificates" in hit.remediation
    # certs.d still trusts the CA for the registry: that is not reported as missing
    assert on(found, "bad", "tls.registry-ca-missing") == []


def test_anchor_with_wrong_suffix():
    bad = golden()
    anchor = next(a for a in bad["tls"]["anchors"] if a["path"].endswith("fleet-lab-ca.crt"))
    anchor["path"] = "/usr/local/share/ca-certificates/fleet-lab-ca.pem"
    anchor["suffix_ok"] = False
    found = tls_findings(fleet(bad))
    hit, = on(found, "bad", "tls.anchor-not-merged")
    assert "not named *.crt" in hit.title
    assert any("mv" in r and "fleet-lab-ca.crt" in r for r in hit.remediation)


# ---------------------------------------------------------------- bundle / certs.d drift

def test_bundle_lacking_a_certificate_is_medium():
    other = "c" * 64
    bad = golden()
    bad["tls"]["bundle"]["sha256"] = other
    catalog = dict(CATALOG, **{other: digest(pem("ca"))})   # lab CA kept, a "root" gone
    found = tls_findings(fleet(bad, catalog=catalog))
    hit, = on(found, "bad", "tls.bundle-differs")
    assert (hit.category, hit.severity) == ("tls", "medium")
    assert "CN=registry.test" in hit.title and "lacks 1" in hit.title
    assert "tls.bundle.sha256" in facts_named(hit)


def test_bundle_with_extra_certificates_only_is_low():
    other = "d" * 64
    bad = golden()
    bad["tls"]["bundle"]["sha256"] = other
    catalog = dict(CATALOG, **{other: digest(pem("valid") + pem("ca") + pem("future"))})
    hit, = on(tls_findings(fleet(bad, catalog=catalog)), "bad", "tls.bundle-differs")
    assert hit.severity == "low" and "extra" in hit.title


def test_bundle_of_another_os_release_is_not_compared():
    other = "e" * 64
    bad = golden()
    bad["tls"]["bundle"]["sha256"] = other
    bad["system"]["os"]["version_id"] = "11"
    found = tls_findings(fleet(bad, catalog=dict(CATALOG, **{other: digest(pem("ca"))})))
    assert on(found, "bad", "tls.bundle-differs") == []


def _with_client_pair(facts):
    files = facts["tls"]["certs_d"][REG]
    files.append({"count": 1, "has_private_key": False, "kind": "cert",
                  "path": f"/etc/docker/certs.d/{REG}/client.cert", "sha256": "1" * 64, "size": 700})
    files.append({"count": None, "has_private_key": None, "kind": "key",
                  "path": f"/etc/docker/certs.d/{REG}/client.key", "sha256": "2" * 64, "size": None})
    files.sort(key=lambda f: f["path"])
    return facts


def test_certs_d_client_pair_missing_against_the_fleet():
    run = run_of({**{f"good-{i}": _with_client_pair(golden()) for i in range(3)}, "bad": golden()})
    found = tls_findings(run)
    hit, = on(found, "bad", "tls.certs-d-differs")
    assert (hit.category, hit.severity) == ("tls", "high")
    assert "client.cert" in hit.title and "client.key" in hit.title
    assert facts_named(hit)[0] == REG_PATH
    assert on(found, "good-0", "tls.certs-d-differs") == []


def test_certs_d_ca_content_differs_without_catalog():
    bad = golden()
    bad["tls"]["certs_d"][REG][0]["sha256"] = "f" * 64
    found = tls_findings(fleet(bad, catalog={}))
    hit, = on(found, "bad", "tls.certs-d-differs")
    assert hit.severity == "medium" and "ca.crt" in hit.title
    assert f'{REG_PATH}["ca.crt"].sha256' in facts_named(hit)


def test_certs_d_of_a_registry_this_host_does_not_use_is_not_expected():
    # one host of four has a private registry's directory: the others need not have it
    hosts = {f"good-{i}": golden() for i in range(3)}
    special = _with_client_pair(golden())
    special["tls"]["certs_d"]["other.fleet.test"] = copy.deepcopy(special["tls"]["certs_d"].pop(REG))
    hosts["special"] = special
    found = tls_findings(run_of(hosts))
    assert [f for f in found if f.rule == "tls.certs-d-differs" and f.host.startswith("good")] == []


# ---------------------------------------------------------------- expiry

def _expired_ca_everywhere(clock):
    exp = "9" * 64
    hosts = {}
    for i in range(3):
        facts = golden()
        facts["tls"]["certs_d"][REG][0]["sha256"] = exp
        facts["time"]["clock"] = dict(facts["time"]["clock"], host_epoch=clock, controller_epoch=clock)
        hosts[f"h{i}"] = facts
    return run_of(hosts, dict(CATALOG, **{exp: digest(pem("expired"))}))   # not_after 2021-01-01


def test_expired_registry_ca():
    found = tls_findings(_expired_ca_everywhere(1640995200.0))          # 2022-01-01
    hit, = on(found, "h0", "tls.ca-expired")
    assert (hit.category, hit.severity) == ("tls", "high")
    assert "2021-01-01" in hit.title and REG in hit.title
    assert facts_named(hit) == [f'{REG_PATH}["ca.crt"]']
    assert hit.evidence[0]["actual"] == "2021-01-01T00:00:00Z"
    assert on(found, "h0", "tls.ca-expiring") == []


def test_expiring_registry_ca_uses_the_measured_clock_not_the_wall_clock():
    found = tls_findings(_expired_ca_everywhere(1608422400.0))          # 2020-12-20: 12 days left
    hit, = on(found, "h0", "tls.ca-expiring")
    assert hit.severity == "medium" and "12 day" in hit.title
    assert on(found, "h0", "tls.ca-expired") == []


def test_valid_ca_has_no_expiry_finding():
    found = tls_findings(fleet(golden()))
    assert [f for f in found if f.rule in ("tls.ca-expired", "tls.ca-expiring")] == []


# ---------------------------------------------------------------- certs.d file names

def test_client_cert_without_key():
    bad = _with_client_pair(golden())
    bad["tls"]["certs_d"][REG] = [f for f in bad["tls"]["certs_d"][REG] if f["kind"] != "key"]
    found = tls_findings(fleet(bad))
    hit, = on(found, "bad", "tls.client-cert-incomplete")
    assert (hit.category, hit.severity) == ("tls", "high")
    assert "client.key missing" in hit.title
    assert facts_named(hit) == [REG_PATH]
    assert on(tls_findings(fleet(_with_client_pair(golden()))), "bad", "tls.client-cert-incomplete") == []


def test_ca_saved_as_pem_is_ignored():
    bad = golden()
    ca = bad["tls"]["certs_d"][REG][0]
    ca.update(kind="other", path=f"/etc/docker/certs.d/{REG}/ca.pem")
    found = tls_findings(fleet(bad))
    hit, = on(found, "bad", "tls.certs-d-misnamed")
    assert hit.severity == "high"
    assert f'{REG_PATH}["ca.pem"].kind' in facts_named(hit)
    assert any("ca.crt" in r for r in hit.remediation)


# ---------------------------------------------------------------- bundle missing

def test_bundle_missing_is_critical():
    bad = golden()
    bad["tls"]["bundle"] = {"path": None, "present": False, "sha256": None, "size": None,
                            "count": None, "has_private_key": None}
    hit, = on(tls_findings(fleet(bad)), "bad", "tls.bundle-missing")
    assert (hit.category, hit.severity) == ("tls", "critical")
    assert facts_named(hit) == ["tls.bundle.present"]
    assert "sudo apt-get install --reinstall -y ca-certificates" in hit.remediation


def test_bundle_unknown_is_not_missing():
    bad = golden()
    bad["tls"] = fixture("tls", "no-output")          # listing never arrived
    assert on(tls_findings(fleet(bad)), "bad", "tls.bundle-missing") == []


# ---------------------------------------------------------------- junk anywhere


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(no_ca, ('tls', 'time', 'credentials', 'daemon_log')):
        broken = failed(tls_findings(run_of({"good-0": golden(), "good-1": golden(), "good-2": golden(), "bad": bad})))
        assert broken == [], (collector, path, value, broken[0].evidence)


def test_junk_catalog_entries_never_break_a_rule():
    junk = {LAB_CA: "junk", GOLDEN_BUNDLE: [None, {"sha256": 5}, {"sha256": "ab", "subject": ["x"]}],
            NOCA_BUNDLE: [{"sha256": "cd", "subject": "CN=x", "not_after": ["x"], "not_before": 7}]}
    bad = no_ca()
    bad["daemon_log"] = fixture("daemon_log", "lab-no-ca-x509")
    found = tls_findings(fleet(bad, catalog=junk))
    assert not [f for f in found if f.title.startswith("rule ") and "failed" in f.title]
    assert on(found, "bad", "tls.registry-ca-missing")      # still found: by file, not by content


def test_hosts_without_docker_get_no_docker_trust_findings():
    bad = no_ca()
    bad["docker"] = fixture("docker", "not-installed")
    assert on(tls_findings(fleet(bad)), "bad") == []
