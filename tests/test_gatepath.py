"""fleetaudit.gatepath: the daemon-path probe's evidence, weighed (pure), on the outputs
captured from the lab gate fleet (tests/data/gate_dpath) and bare host facts."""
import json
from pathlib import Path

from fleetaudit import gatepath
from fleetaudit.collectors.base import Part
from fleetaudit.collectors.probe_daemon import parse_dpath
from fleetaudit.facts import HostView
from fleetaudit.reference import parse

DATA = Path(__file__).parent / "data" / "gate_dpath"
APP = parse("registry.fleet.test/team/app:1.0")
ARM = parse("registry.fleet.test/team/armonly:1.0")
NOPE = parse("registry.fleet.test/team/app:nope")


def dpath(name: str) -> dict:
    doc = json.loads((DATA / f"{name}.json").read_text())
    return parse_dpath(Part(doc["out"], doc["rc"]))


def host(skew: float = 0.3) -> HostView:
    return HostView("h", {"time": {"clock": {"skew_s": skew, "uncertainty_s": 0.01}}})


def clue(name: str, ref=APP, view=None, **kw):
    return gatepath.daemon_path_clue(dpath(name), ref, view or host(), **kw)


def test_a_working_path_is_a_positive_clue_and_gives_platforms():
    for name in ("good", "ca-system", "insecure", "proxy-ok", "disk-full"):
        c = clue(name)
        assert c is not None and c.ok, name
    assert gatepath.platforms(dpath("good"), ARM) == ["linux/arm64/v8"]
    assert gatepath.platforms(dpath("good"), APP) == []


def test_each_failure_class_points_to_its_category():
    want = {"ca-missing": ("tls", "x509-unknown-authority"), "no-creds": ("auth", "no-basic-auth-credentials"),
            "bad-creds": ("auth", "unauthorized"), "bad-dns": ("dns", "dns-lookup-failed"),
            "fw-drop": ("reachability", "request-timeout"), "fw-reject": ("reachability", "connection-refused"),
            "proxy-nocreds": ("proxy", "proxy-auth-required"), "proxy-badcreds": ("proxy", "proxy-auth-required"),
            "cert-expired": ("tls", "x509-expired"), "cert-notyet": ("tls", "x509-not-yet-valid")}
    for name, (category, pull_class) in want.items():
        c = clue(name)
        assert (c.category, c.pull_class, c.ok) == (category, pull_class, False), (name, c)
    assert clue("bearer-ok").ok
    bearer = clue("bearer-badcreds")
    assert bearer.category == "auth" and "token server refuses" in bearer.message
    assert clue("fw-drop", firewall_finding=True).category == "firewall"
    assert clue("good", NOPE).category == "reference"


def test_a_404_that_other_hosts_can_read_is_this_hosts_login():
    c = clue("good", NOPE, fleet_read_ok=3)
    assert c.category == "auth" and "3 other host(s)" in c.message


def test_validity_window_blames_the_clock_only_when_it_is_off():
    right = clue("cert-notyet", view=host(0.4))
    assert right.category == "tls" and "clock is right" in right.message
    assert "Dec  6" in right.message or "GMT" in right.message   # the certificate's dates
    assert "Reissue" in right.fix
    off = clue("cert-notyet", view=host(-3 * 86400))
    assert off.category == "time" and "NTP" in off.fix
    assert clue("cert-expired", view=host(5 * 86400)).category == "time"
    unknown = gatepath.daemon_path_clue(dpath("cert-notyet"), APP, HostView("h", {}))
    assert unknown.category == "tls" and "offset unknown" in unknown.message


def test_insecure_registry_is_never_a_tls_clue():
    d = dpath("ca-missing")
    d["path"]["insecure"] = "yes"
    assert gatepath.daemon_path_clue(d, APP, host()) is None
    assert gatepath.registry_insecure(host(), dpath("insecure"), APP.registry)


def test_an_unknown_route_or_missing_probe_says_nothing():
    d = dpath("good")
    d["path"]["source"] = "unreadable"
    assert gatepath.daemon_path_clue(d, APP, host()) is None
    assert gatepath.daemon_path_clue(None, APP, host()) is None
    assert gatepath.daemon_path_clue(parse_dpath(Part("", None)), APP, host()) is None
    # wget can only say /v2/ answered: no clue either way
    assert gatepath.daemon_path_clue(dpath("wget-good"), APP, host()) is None


def test_openssl_fallback_judges_tls_only():
    assert gatepath.daemon_path_clue(dpath("openssl-good"), APP, host()) is None
    assert gatepath.daemon_path_clue(dpath("openssl-ca-missing"), APP, host()).category == "tls"
    assert gatepath.daemon_path_clue(dpath("openssl-cert-expired"), APP, host()).pull_class == "x509-expired"


def test_pull_categories_weighed_like_read_only():
    pc = gatepath.pull_category
    assert pc("time", ["x509-not-yet-valid"], host(0.2), None, {}) == "tls"
    assert pc("time", ["x509-not-yet-valid"], host(-86400 * 3), None, {}) == "time"
    assert pc("reachability", ["request-timeout"], host(), dpath("fw-drop"), {"firewall": "critical"}) == "firewall"
    assert pc("reachability", ["connection-refused"], host(), dpath("fw-reject"), {}) == "reachability"
    assert pc(None, [], host(), dpath("proxy-badcreds"), {}) == "proxy"
    assert pc("auth", ["unauthorized"], host(), dpath("bad-creds"), {}) == "auth"
    # dockerd's bare 'Head ".../manifests/1.0": unauthorized' is in no class: the probe decides
    token_refused = gatepath.daemon_path_clue(dpath("bearer-badcreds"), APP, host())
    assert pc(None, [], host(), dpath("bearer-badcreds"), {}, token_refused) == "auth"
    assert pc("disk", ["no-space"], host(), dpath("disk-full"), {"disk": "critical"}) == "disk"


def test_read_ok_takes_either_path():
    assert gatepath.read_ok(dpath("good"), None, APP)
    assert not gatepath.read_ok(dpath("bad-creds"), None, APP)
    assert gatepath.read_ok(None, {"ok": True}, APP)
    assert not gatepath.read_ok(None, None, APP)
