"""logs.* rules: pull errors in the daemon log (real captured daemon_log facts) mapped to
their cause, one finding per error class, pointing at the finding that carries the fix."""
import pytest

from fleetaudit.diagnose import diagnose

from rulekit import engine_golden as golden, fixture, plain_fleet as fleet


def with_log(case, facts=None):
    h = facts or golden()
    h["daemon_log"] = fixture("daemon_log", case)
    return h


def logs(run, host="bad"):
    return {f.rule: f for f in diagnose(run) if f.host == host and f.rule.startswith("logs.")}


def evidence(f, fact):
    return next(e for e in f.evidence if e["fact"] == fact)


@pytest.mark.parametrize("case", ["lab-golden-clean", "local-no-journal", "syslog-unreadable", "no-output"])
def test_quiet_without_pull_errors(case):
    assert logs(fleet(with_log(case))) == {}


def test_cut_off_log_reports_the_line_it_has():
    # junk: a cut-off docker.log whose one readable line is an x509 error
    f = logs(fleet(with_log("junk")))["logs.tls"]
    assert evidence(f, "daemon_log.counts.x509-other")["actual"] == 1


def test_x509_errors_become_a_tls_finding_with_count_and_sample():
    f = logs(fleet(with_log("lab-no-ca-x509")))["logs.tls"]
    assert (f.category, f.severity) == ("tls", "high")
    assert evidence(f, "daemon_log.counts.x509-unknown-authority")["actual"] == 3
    sample = evidence(f, "daemon_log.samples.x509-unknown-authority")
    assert "x509: certificate signed by unknown authority" in sample["actual"]
    assert "unknown CA" in f.title and "3 pull errors" in f.title and "last 24 h" in f.title
    assert any("certs.d" in r for r in f.remediation)       # the field guide's fix, no cause known


def test_x509_on_a_host_without_the_fleets_ca_says_the_tls_finding_has_the_fix():
    bad = with_log("lab-no-ca-x509")
    bad["tls"] = fixture("tls", "lab-no-ca")             # the lab's no-ca host: CA in neither place
    f = logs(fleet(bad))["logs.tls"]
    certs = evidence(f, "tls.certs_d")
    assert (certs["actual"], certs["expected"]) == ([], ["registry.fleet.test"])
    assert "the tls finding carries the fix" in certs["note"]
    assert evidence(f, "tls.bundle.sha256")["actual"] != evidence(f, "tls.bundle.sha256")["expected"]
    linked = [e for e in f.evidence if e["fact"] == "findings"]
    if linked:      # a tls rule fires on this host: it carries the fix, the log finding points at it
        assert all(rid.startswith(("tls.", "daemon.", "proxy.")) for rid in linked[0]["actual"])
        assert all(r.startswith("fix what ") for r in f.remediation)
    else:           # no such rule: the short form of the fix, for this OS family
        assert f.remediation[0] == "install the CA the fleet trusts (see this host's tls finding)"
        assert any("/etc/docker/certs.d/registry.fleet.test/ca.crt" in r for r in f.remediation)
        assert any("update-ca-certificates" in r for r in f.remediation)      # debian family


def test_one_finding_per_class_each_with_its_category():
    found = logs(fleet(with_log("journal-x509")))
    assert found["logs.tls"].severity == "high"
    assert (found["logs.ratelimit"].category, found["logs.ratelimit"].severity) == ("ratelimit", "medium")
    assert "toomanyrequests" in evidence(found["logs.ratelimit"], "daemon_log.samples.toomanyrequests")["actual"]


def test_incomplete_log_still_reports_what_it_saw():
    assert "logs.tls" in logs(fleet(with_log("journal-timeout")))


def test_auth_errors_point_at_the_credentials_finding():
    bad = with_log("lab-user-creds")
    bad["credentials"] = fixture("credentials", "lab-user-creds")
    f = logs(fleet(bad))["logs.auth"]
    assert (f.category, f.severity) == ("auth", "high")
    link = evidence(f, "findings")
    assert link["actual"] == ["auth.user-only-credentials"]
    assert f.remediation == ["fix what auth.user-only-credentials reports on this host (its finding has the commands)"]


def test_x509_explained_by_a_missing_insecure_registry_entry():
    def insecure():
        h = golden()
        h["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "registry.lab:5000"]
        return h
    bad = with_log("journal-x509")                  # x509 errors for registry.lab:5000
    f = logs(fleet(bad, make=insecure))["logs.tls"]
    assert evidence(f, "findings")["actual"] == ["daemon.insecure-registry-missing"]
    assert len(f.remediation) == 1


def test_daemon_config_errors_point_at_daemon_json():
    bad = with_log("lab-bad-json-daemon-down")
    bad["daemon_json"] = fixture("daemon_json", "lab-bad-json")
    bad["docker"] = fixture("docker", "lab-bad-json-daemon-down")
    f = logs(fleet(bad))["logs.daemon"]
    assert "daemon.json-invalid" in evidence(f, "findings")["actual"]


def test_a_rare_network_symptom_is_low_a_frequent_one_is_not():
    line = ('level=error msg="Handler for POST /v1.41/images/create returned error: Get '
            '\\"https://registry.lab:5000/v2/\\": dial tcp 10.0.0.5:443: i/o timeout"')
    bad = golden()
    bad["daemon_log"].update(counts={"io-timeout": 1}, samples={"io-timeout": line})
    assert logs(fleet(bad))["logs.reachability"].severity == "low"
    bad["daemon_log"]["counts"] = {"io-timeout": 7}
    f = logs(fleet(bad))["logs.reachability"]
    assert f.severity == "medium"
    assert evidence(f, "daemon_log.counts.io-timeout")["actual"] == 7


def test_sample_is_capped_and_clean():
    bad = golden()
    bad["daemon_log"].update(counts={"no-space-left": 2},
                             samples={"no-space-left": "\x1b[31m" + "x" * 5000 + " no space left on device"})
    f = logs(fleet(bad))["logs.disk"]
    sample = evidence(f, "daemon_log.samples.no-space-left")["actual"]
    assert len(sample) <= 401 and "\x1b" not in sample
