"""The gate's daemon-path probe (fleetaudit.collectors.probe_daemon): the parser on outputs
captured from the real program on the gate agreement fleet (lab/gatefleet.py: one host
per failure class; tests/data/gate_dpath/*.json), plus broken and cut-off outputs."""
import json
import subprocess
from pathlib import Path

import pytest

from fleetaudit.collectors import probe_daemon as pd
from fleetaudit.collectors.base import RC_SKIPPED, Part
from fleetaudit.collectors.probe import build_fragment, budget_s
from fleetaudit.reference import parse as parse_reference

DATA = Path(__file__).parent / "data" / "gate_dpath"


def facts(name: str) -> dict:
    doc = json.loads((DATA / f"{name}.json").read_text())
    return pd.parse_dpath(Part(doc["out"], doc["rc"]))


def test_good_host_reads_both_manifests_with_root_credentials():
    f = facts("good")
    assert f["tool"] == "curl" and f["unchecked"] == []
    assert f["path"]["via"] == "direct" and f["path"]["source"] == "environ"
    assert f["trust"]["certs_d"] == "1" and f["credentials"]["login"] == "yes"
    assert f["v2"]["status"] == 401 and f["v2"]["headers"]["www-authenticate"].startswith("Basic")
    assert f["v2_auth"]["status"] == 200
    app = f["manifests"]["team/app:1.0"]
    assert app["status"] == 200 and app["platforms"] == []
    assert app["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    arm = f["manifests"]["team/armonly:1.0"]
    assert arm["platforms"] == ["linux/arm64/v8"]
    assert arm["media_type"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    nope = f["manifests"]["team/app:nope"]
    assert nope["status"] == 404 and nope["codes"] == ["MANIFEST_UNKNOWN"]


def test_tls_failures_carry_the_reason_and_the_certificate_dates():
    missing = facts("ca-missing")
    assert missing["v2"]["failure"] == "tls" and "local issuer" in missing["v2"]["error"]
    assert missing["trust"]["certs_d"] == "0" and missing["manifests"] == {}
    assert missing["cert"]["issuer"].endswith("CN=fleetaudit lab CA")
    expired = facts("cert-expired")
    assert "certificate has expired" in expired["v2"]["error"]
    assert expired["cert"]["expire_date"].endswith("GMT") and expired["cert"]["start_date"]
    notyet = facts("cert-notyet")
    assert "not yet valid" in notyet["v2"]["error"]
    assert notyet["cert"]["start_date"].endswith("GMT")


def test_daemon_trust_and_insecure_registries_are_followed():
    assert facts("ca-system")["manifests"]["team/app:1.0"]["status"] == 200
    ins = facts("insecure")
    assert ins["path"]["insecure"] == "yes" and ins["trust"]["certs_d"] == "0"
    assert ins["manifests"]["team/app:1.0"]["status"] == 200


def test_credentials_missing_and_wrong():
    none = facts("no-creds")
    assert none["credentials"]["file"] == "no" and none["v2_auth"] is None
    assert none["manifests"]["team/app:1.0"]["status"] == 401
    bad = facts("bad-creds")
    assert bad["credentials"]["login"] == "yes" and bad["v2_auth"]["status"] == 401
    assert bad["manifests"]["team/app:1.0"]["codes"] == ["UNAUTHORIZED"]


def test_bearer_token_flow_follows_the_realm_with_roots_credentials():
    ok = facts("bearer-ok")
    assert ok["v2"]["headers"]["www-authenticate"].startswith("Bearer realm=")
    assert ok["tokens"]["team/app"] == {"got": True, "status": 200, "rc": 0, "error": None}
    assert ok["manifests"]["team/app:1.0"]["status"] == 200
    assert ok["manifests"]["team/armonly:1.0"]["platforms"] == ["linux/arm64/v8"]
    bad = facts("bearer-badcreds")
    assert bad["tokens"]["team/app"]["got"] is False and bad["tokens"]["team/app"]["status"] == 401
    assert bad["manifests"]["team/app:1.0"]["status"] == 401


def test_network_failures_are_told_apart():
    assert facts("bad-dns")["v2"]["failure"] == "dns"
    assert facts("fw-drop")["v2"]["failure"] == "timeout"
    assert facts("fw-reject")["v2"]["failure"] == "connect"


def test_proxy_answers_are_seen_through_the_daemons_proxy():
    ok = facts("proxy-ok")
    assert ok["path"]["via"] == "proxy" and ok["path"]["proxy_creds"] == "yes"
    assert ok["path"]["proxy"] == "proxy.fleet.test:3128"
    assert ok["v2"]["connect"] == 200 and ok["manifests"]["team/app:1.0"]["status"] == 200
    nocreds = facts("proxy-nocreds")
    assert nocreds["v2"]["connect"] == 407 and nocreds["path"]["proxy_creds"] == "no"
    assert nocreds["v2"]["headers"]["proxy-authenticate"].startswith("Basic")
    assert facts("proxy-badcreds")["v2"]["connect"] == 401


def test_fallback_tools_say_what_they_could_not_check():
    good = facts("openssl-good")
    assert good["tool"] == "openssl" and good["v2"]["verify"] == "0 (ok)"
    assert "credentials" in good["unchecked"] and "manifest" in good["unchecked"]
    exp = facts("openssl-cert-expired")
    assert exp["v2"]["verify"].startswith("10 ") and exp["v2"]["cert"]["expire_date"].endswith("GMT")
    assert facts("openssl-ca-missing")["v2"]["verify"].startswith("21 ")
    assert "Connection refused" in facts("openssl-fw-reject")["v2"]["error"] or \
        "errno=111" in facts("openssl-fw-reject")["v2"]["error"]
    w = facts("wget-good")
    assert w["tool"] == "wget" and w["v2"]["status"] == 401 and "tls-trust" in w["unchecked"]


def test_no_planted_secret_shape_in_fixtures():
    for p in DATA.glob("*.json"):
        out = json.loads(p.read_text())["out"]
        assert "LABSECRET" not in out and "Authorization" not in out, p.name


@pytest.mark.parametrize("out,rc,error", [
    ("", None, "no output (cut off)"),
    ("fa-skipped: deadline reached (command timeout)\n", RC_SKIPPED, "deadline reached (command timeout)"),
])
def test_broken_outputs(out, rc, error):
    assert pd.parse_dpath(Part(out, rc))["error"] == error


def test_junk_and_cut_off_output_never_raise():
    doc = json.loads((DATA / "good.json").read_text())
    for cut in range(0, len(doc["out"]), 37):
        f = pd.parse_dpath(Part(doc["out"][:cut] + "\x00junk fa-w code=abc\nfa-rc x\n", None))
        assert isinstance(f["manifests"], dict)


def test_noproxy_awk_follows_gos_rule():
    cases = [("registry.fleet.test", "443", ".fleet.test", "1"),
             ("fleet.test", "443", ".fleet.test", "0"),
             ("registry.fleet.test", "443", "fleet.test", "1"),
             ("registry.fleet.test", "443", "*.fleet.test", "1"),
             ("registry.fleet.test", "443", "registry.fleet.test:5000", "0"),
             ("registry.fleet.test", "5000", "registry.fleet.test:5000", "1"),
             ("xregistry.fleet.test", "443", "registry.fleet.test", "0"),
             ("registry.fleet.test", "443", "*", "1"),
             ("registry.fleet.test", "443", "", "0"),
             ("localhost", "443", "", "1")]
    for host, port, np, want in cases:
        got = subprocess.run(["awk", "-v", f"h={host}", "-v", f"p={port}", "-v", f"np={np}", pd.NOPROXY_AWK],
                             capture_output=True, text=True).stdout.strip()
        assert got == want, (host, port, np)


def test_cred_awk_keeps_the_secret_for_the_host_and_finds_keys_like_the_cli(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {"https://registry.fleet.test/v1/": {"auth": "c2VjcmV0"},
                                         "other.test": {"auth": "b3RoZXI="}},
                               "credsStore": "pass", "credHelpers": {"registry.fleet.test": "ecr-login"}}))
    out = subprocess.run(["awk", "-v", "keys=registry.fleet.test", pd.CRED_AWK, str(cfg)],
                         capture_output=True, text=True).stdout.split("\n")
    assert "auth c2VjcmV0" in out and "store pass" in out and "helper ecr-login" in out
    assert "auth b3RoZXI=" not in out


def test_fragment_has_one_part_per_registry_and_a_budget():
    refs = [parse_reference("registry.fleet.test/team/app:1.0"), parse_reference("nginx")]
    frag = build_fragment(refs)
    assert "fa_root dpath_0 " in frag and "fa_root dpath_1 " in frag
    assert "'registry-1.docker.io'" in frag and "'library/nginx' 'latest'" in frag
    assert budget_s(refs) > budget_s(refs, daemon_path=False)
