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


# ---- facts that raise a cause: explain-gatelab.json, captured by bench/explain_lab.py
# (--hosts good,fw-drop,fw-reject,cert-notyet,cert-expired,proxy-nocreds,skew,fw-envproxy): a
# read-only gate's snapshot of those lab/gatefleet.py hosts (skew: lab/demo.py; fw-envproxy:
# the bench's own), then each host's own genuine `docker pull` error.
GATELAB_DOC = json.loads((DATA / "explain-gatelab.json").read_text())
GATELAB = snapshot.from_json(GATELAB_DOC["snapshot"])
PULLED = {c["key"]: c["error"] for c in GATELAB_DOC["cases"] if c["rc"] != 0}


def test_the_gatelab_errors_are_the_genuine_ones():
    assert "request canceled while waiting for connection" in PULLED["fw-drop"]
    assert "dial tcp " in PULLED["fw-reject"] and ":443: connect: connection refused" in PULLED["fw-reject"]
    assert "is before" in PULLED["cert-notyet"] and "is after" in PULLED["cert-expired"]
    assert GATELAB.hosts["fw-drop"].facts["firewall"]["output_blocks_443"] is True
    assert GATELAB.hosts["good"].facts["firewall"]["output_blocks_443"] is False


def test_a_right_clock_puts_a_validity_error_on_the_certificate():
    text = PULLED["cert-notyet"]          # "current time ... is before ...": text alone says clock
    assert explain(text)[0].category == "time"
    causes = explain(text, GATELAB, ["cert-notyet"])
    assert causes[0].category == "tls"
    assert causes[0].raised_by.startswith(
        "clock within 60s of the controller on cert-notyet, so a certificate outside its validity "
        "period has wrong dates itself: cert-notyet: time.clock.skew_s=")
    assert cat(causes)["time"].lowered_by.startswith("clock within 60s")
    # the skewed host in scope keeps the clock a candidate, and nothing raises the certificate
    fleet = cat(explain(text, GATELAB))
    assert fleet["tls"].raised_by == "" and fleet["time"].lowered_by == ""
    assert cat(explain(text, GATELAB, ["skew"]))["tls"].raised_by == ""


def test_the_hosts_own_firewall_on_the_failed_port_raises_firewall():
    for host in ("fw-drop", "fw-reject"):
        text = PULLED[host]
        assert explain(text)[0].category != "firewall"       # text alone: the registry unreachable
        causes = explain(text, GATELAB, [host])
        assert causes[0].category == "firewall", [(c.category, c.confidence) for c in causes]
        assert causes[0].raised_by == (
            "the host's own firewall blocks outgoing tcp/443, the port this connection to "
            f"registry.fleet.test failed on: {host}: firewall.output_blocks_443 (iptables filter OUTPUT: "
            f"-A OUTPUT -p tcp -m tcp --dport 443 -j {'DROP' if host == 'fw-drop' else 'REJECT --reject-with tcp-reset'})")
        # the whole fleet: explain does not know which host printed it; two hosts that block
        # tcp/443 outweigh the one whose dockerd lacks its logins' proxy
        fleet = explain(text, GATELAB)
        assert fleet[0].category == "firewall" and cat(fleet)["proxy"].raised_by
        assert "fw-drop: " in fleet[0].raised_by and "fw-reject: " in fleet[0].raised_by
        assert "fw-envproxy" not in fleet[0].raised_by
        # a host whose firewall lets 443 out says nothing for it
        assert cat(explain(text, GATELAB, ["good"]))["firewall"].raised_by == ""


def test_firewall_raise_needs_the_blocked_port_and_a_direct_dockerd():
    text = PULLED["fw-reject"]
    other_port = text.replace(":443:", ":5000:")
    assert cat(explain(other_port, GATELAB, ["fw-reject"]))["firewall"].raised_by == ""
    # dockerd sends the registry through its proxy: the proxy's port, not 443, is dialed
    snap = copy.deepcopy(GATELAB)
    snap.hosts["proxy-nocreds"].facts["firewall"]["output_blocks_443"] = True
    assert cat(explain(text, snap, ["proxy-nocreds"]))["firewall"].raised_by == ""
    # a failed lookup is the resolver's, not the registry port's
    lookup = ('Error response from daemon: Get "https://registry.fleet.test/v2/": dial tcp: lookup '
              'registry.fleet.test on 127.0.0.1:53: read udp 127.0.0.1:54787->127.0.0.1:53: read: connection refused')
    assert all(c.raised_by == "" for c in explain(lookup, GATELAB, ["fw-reject"]))
    # unknown firewall facts raise nothing
    del snap.hosts["fw-reject"].facts["firewall"]
    assert all(c.raised_by == "" for c in explain(text, snap, ["fw-reject"]))


def test_raising_is_snapshot_only_and_in_json_and_cli(tmp_path):
    import subprocess
    import sys
    for text in PULLED.values():
        assert all(c.raised_by == "" for c in explain(text))
    j = [c.to_json() for c in explain(PULLED["fw-drop"], GATELAB, ["fw-drop"])]
    assert j[0]["raised_by"].startswith("the host's own firewall") and j[1]["raised_by"] is None
    path = tmp_path / "snap.json"
    snapshot.save(GATELAB, path)
    proc = subprocess.run([sys.executable, "-m", "fleetaudit.cli", "explain", "--snapshot", str(path),
                           "--host", "cert-notyet", PULLED["cert-notyet"]],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("1. tls (")
    assert "   raised by: clock within 60s of the controller on cert-notyet" in proc.stdout


def test_a_login_proxy_dockerd_lacks_raises_proxy_over_the_blocked_port():
    text = PULLED["fw-envproxy"]           # a timeout: text alone says the registry is unreachable
    assert explain(text)[0].category == "reachability"
    causes = cat(explain(text, GATELAB, ["fw-envproxy"]))
    assert explain(text, GATELAB, ["fw-envproxy"])[0].category == "proxy"
    assert causes["proxy"].raised_by == (
        "dockerd connects to registry.fleet.test directly while the host's logins use a proxy (curl "
        "works, docker pull does not where only the proxy gets out): fw-envproxy: "
        "proxy.environment_file.HTTPS_PROXY set, dockerd direct")
    # its 443 block is the network's egress policy: the finding still raises firewall, no more
    assert causes["firewall"].raised_by == "" and causes["firewall"].hosts == ["fw-envproxy"]
    assert causes["proxy"].confidence > causes["firewall"].confidence


def test_login_proxy_raise_needs_dockerd_direct_and_the_registry_proxied():
    text = PULLED["fw-envproxy"]
    # proxy-nocreds' dockerd already goes through the proxy: nothing for this rule
    assert cat(explain(text, GATELAB, ["proxy-nocreds"]))["proxy"].raised_by == ""
    # logins' NO_PROXY sends the registry direct for curl too: no "curl works" contrast
    snap = copy.deepcopy(GATELAB)
    env = snap.hosts["fw-envproxy"].facts["proxy"]["environment_file"]
    env["no_proxy"] = env["NO_PROXY"] = "localhost,127.0.0.1,registry.fleet.test"
    causes = cat(explain(text, snap, ["fw-envproxy"]))
    assert causes["proxy"].raised_by == ""
    assert causes["firewall"].raised_by.startswith("the host's own firewall blocks outgoing tcp/443")
    # a good host (no login proxy, 443 open) raises neither
    good = cat(explain(text, GATELAB, ["good"]))
    assert good["proxy"].raised_by == "" and good["firewall"].raised_by == ""
