"""Facts that rule a cause out lower it (fleetaudit/explain_facts.py), on snapshots captured
from the lab fleet: demo-subset.json (golden, good-1..3, no-ca, env-proxy: an audit) and
explain-lab.json (golden, no-ca, skew: a gate run, with the genuine pull errors of those
hosts, captured by tests/test_fleet_explain.py)."""
import copy
import json
from pathlib import Path

import pytest

from fleetaudit import snapshot
from fleetaudit.explain import LOWER_FACTOR, explain
from fleetaudit.explain_facts import Registry, registry_of, ruled_out

DATA = Path(__file__).resolve().parent / "data" / "snapshots"
DEMO = snapshot.load(DATA / "demo-subset.json")
LAB_DOC = json.loads((DATA / "explain-lab.json").read_text())
LAB = snapshot.from_json(LAB_DOC["snapshot"])
ERR = LAB_DOC["errors"]


def cat(causes):
    return {c.category: c for c in causes}


@pytest.mark.parametrize("text,want", [
    ('Error response from daemon: Get "https://registry.fleet.test/v2/": x509: certificate signed by unknown authority',
     Registry("registry.fleet.test", "registry.fleet.test")),
    ("Get https://10.0.0.15:5000/v2/: http: server gave HTTP response to HTTPS client",
     Registry("10.0.0.15", "10.0.0.15:5000", 5000)),
    ("dial tcp: lookup index.docker.io on 127.0.1.1:53: no such host", Registry("registry-1.docker.io", "docker.io")),
    ("pull access denied for team/app, repository does not exist", Registry("registry-1.docker.io", "docker.io")),
    ('Failed to pull image "ghcr.io/org/app:1": rpc error: code = NotFound desc = not found',
     Registry("ghcr.io", "ghcr.io")),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", None),
    ("denied", None),
])
def test_registry_of(text, want):
    assert registry_of(text) == want


def test_unknown_authority_lowered_only_where_every_host_trusts_the_ca():
    text = ERR["unknown-ca"]
    alone = cat(explain(text))["tls"].confidence
    trusted = cat(explain(text, LAB, ["golden", "skew"]))["tls"]
    assert trusted.confidence == pytest.approx(alone * LOWER_FACTOR)
    assert trusted.lowered_by == (
        "registry.fleet.test's CA trusted by dockerd on both hosts, so an unknown authority means "
        "someone else's certificate (an intercepting proxy): golden: certs.d CA "
        "/etc/docker/certs.d/registry.fleet.test/ca.crt; skew: certs.d CA "
        "/etc/docker/certs.d/registry.fleet.test/ca.crt")
    # one host without the CA keeps the cause whole (and its finding raises it)
    everyone = cat(explain(text, LAB))["tls"]
    assert everyone.lowered_by == "" and everyone.hosts == ["no-ca"]


def test_public_registry_ca_is_in_a_full_bundle():
    text = "Error response from daemon: Get https://registry-1.docker.io/v2/: x509: certificate signed by unknown authority"
    tls = cat(explain(text, DEMO, ["golden"]))["tls"]
    assert "golden: system bundle with 151 roots" in tls.lowered_by
    assert explain(text, DEMO, ["golden"])[0].category == "proxy"   # the interceptor's certificate


def test_clock_in_sync_lowers_time_a_skewed_clock_keeps_it():
    text = ERR["expired"]
    assert "x509: certificate has expired" in text
    golden = cat(explain(text, LAB, ["golden"]))["time"]
    assert golden.lowered_by.startswith("clock within 60s of the controller on golden: golden: time.clock.skew_s=")
    skew = cat(explain(text, LAB, ["skew"]))["time"]
    assert skew.lowered_by == "" and skew.hosts == ["skew"]
    assert skew.confidence > golden.confidence


def test_proxy_only_errors_lowered_when_dockerd_has_no_proxy_for_the_registry():
    text = ("Error response from daemon: Get https://registry.fleet.test/v2/: proxyconnect tcp: dial tcp "
            "10.213.0.4:3128: connect: connection refused")
    # env-proxy's dockerd has no proxy at all; golden's NO_PROXY sends the registry direct
    env = cat(explain(text, DEMO, ["env-proxy"]))["proxy"]
    assert "env-proxy: direct: no HTTPS_PROXY (docker info)" in env.lowered_by
    golden = cat(explain(text, DEMO, ["golden"]))["proxy"]
    assert "golden: direct: NO_PROXY entry 'registry.fleet.test' covers registry.fleet.test:443" in golden.lowered_by
    # Docker Hub is not in NO_PROXY: golden really uses its proxy there, env-proxy does not
    hub = text.replace("registry.fleet.test", "registry-1.docker.io")
    assert cat(explain(hub, DEMO, ["golden", "env-proxy"]))["proxy"].lowered_by == ""


def test_credentials_daemon_and_disk_facts():
    nocreds = "Error response from daemon: Get https://registry.fleet.test/v2/team/app/manifests/1.0: no basic auth credentials"
    assert "root's credentials for registry.fleet.test present on golden" in cat(explain(nocreds, DEMO, ["golden"]))["auth"].lowered_by
    hub = nocreds.replace("registry.fleet.test", "registry-1.docker.io")
    assert cat(explain(hub, DEMO, ["golden"]))["auth"].lowered_by == ""
    down = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    assert "golden: docker.daemon_up" in cat(explain(down, DEMO, ["golden"]))["daemon"].lowered_by
    full = "write /var/lib/docker/tmp/GetImageBlob1: no space left on device"
    assert "golden: disk.data_root used 0%" in cat(explain(full, DEMO, ["golden"]))["disk"].lowered_by


def test_unknown_facts_never_rule_out():
    snap = copy.deepcopy(LAB)
    del snap.hosts["golden"].facts["time"]
    del snap.hosts["golden"].facts["tls"]
    assert ruled_out(ERR["expired"], ["x509-expired"], snap, ["golden"]) == {}
    assert "tls" not in ruled_out(ERR["unknown-ca"], ["x509-unknown-authority"], snap, ["golden"])
    assert ruled_out(ERR["expired"], ["x509-expired"], None) == {}
    assert ruled_out(ERR["expired"], ["x509-expired"], LAB, ["not-a-host"]) == {}


def test_dns_is_kept_for_a_name_no_host_pins():
    causes = explain(ERR["no-such-host"], LAB, ["golden"])
    assert causes[0].category == "dns" and causes[0].lowered_by == ""


def test_lowering_is_deterministic_and_in_json():
    a = [c.to_json() for c in explain(ERR["unknown-ca"], LAB, ["golden"])]
    b = [c.to_json() for c in explain(ERR["unknown-ca"], LAB, ["golden"])]
    assert a == b
    assert next(c for c in a if c["category"] == "tls")["lowered_by"].startswith("registry.fleet.test's CA")
    assert next(c for c in a if c["category"] == "proxy")["lowered_by"] is None
