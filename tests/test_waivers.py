"""Waiver files: the example parses, and every mistake names FILE:LINE."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fleetaudit.waivers import WaiverError, load_waivers, parse_waivers

EXAMPLE = Path(__file__).resolve().parents[1] / "inventories" / "waivers-example.yml"
GOOD = """version: 1
waivers:
  - hosts: web-*
    rule: daemon.insecure-registry
    reason: r
    owner: o
    expires: 2027-03-31
"""


def test_example_file_loads():
    w = load_waivers(EXAMPLE)
    assert [(e.line, e.rule, e.fact) for e in w.entries] == [
        (5, "daemon.insecure-registry", None), (12, None, "network.interfaces.*.mtu"),
        (19, "proxy.*", None)]
    assert w.entries[1].groups == ("gpu",) and w.entries[2].hosts == ("lab-*", "sandbox-*")
    assert w.entries[0].expires == dt.date(2027, 3, 31)


def test_matcher_hosts_groups_expiry():
    w = parse_waivers(GOOD.replace("hosts: web-*", "groups: [dc*]"), "w.yml")
    m = w.matcher("2027-03-31")
    assert m.finding("x", ("all", "dc1"), "daemon.insecure-registry").status == "waived"
    assert m.finding("x", ("all", "eu"), "daemon.insecure-registry") is None
    assert w.matcher("2027-04-01").finding("x", ("dc2",), "daemon.insecure-registry").status == "expired"


@pytest.mark.parametrize("text, where, message", [
    (GOOD.replace("reason: r", "reasn: r"), "w.yml:5", "unknown key 'reasn' (did you mean 'reason'?)"),
    (GOOD.replace("    owner: o\n", ""), "w.yml:3", "waiver without 'owner'"),
    (GOOD.replace("2027-03-31", "next year"), "w.yml:7", "'expires' must be a date"),
    (GOOD.replace("daemon.insecure-registry", "daemon.insecure-registy"), "w.yml:4",
     "matches no rule (did you mean 'daemon.insecure-registry'?)"),
    (GOOD.replace("rule: daemon.insecure-registry", "fact: network.interface.eth0.mtu"), "w.yml:4",
     "unknown fact path 'network.interface.eth0.mtu' (did you mean 'network.interfaces'?)"),
    (GOOD.replace("    rule: daemon.insecure-registry\n", ""), "w.yml:3", "exactly one of 'rule'"),
    (GOOD.replace("  - hosts: web-*\n", "  - owner2: x\n"), "w.yml:3", "unknown key 'owner2'"),
    (GOOD.replace("hosts: web-*", "hosts: [web-*"), "w.yml:4", "not valid YAML"),
    (GOOD.replace("waivers:", "waiver:"), "w.yml:2", "unknown key 'waiver' (did you mean 'waivers'?)"),
    (GOOD.replace("version: 1", "version: 2"), "w.yml:1", "unsupported waiver file version"),
    ("version: 1\nwaivers:\n  - just text\n", "w.yml:3", "a waiver must be a mapping"),
    (GOOD.replace("  - hosts: web-*\n", "  -\n"), "w.yml:4", "waiver without 'hosts' or 'groups'"),
])
def test_malformed_files_name_file_and_line(text, where, message):
    with pytest.raises(WaiverError) as err:
        parse_waivers(text, "w.yml")
    assert str(err.value).startswith(where + ": "), str(err.value)
    assert message in str(err.value)


def test_unreadable_and_empty_files(tmp_path):
    with pytest.raises(WaiverError, match=r"cannot read waiver file"):
        load_waivers(tmp_path / "missing.yml")
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    with pytest.raises(WaiverError, match=r"empty\.yml: empty waiver file"):
        load_waivers(empty)
    assert parse_waivers("version: 1\nwaivers:\n", "x").entries == []
