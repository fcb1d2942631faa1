"""dns: resolv.conf, systemd-resolved output forms, /etc/hosts pins."""

import pytest

from fleetaudit.collectors.base import Part
from fleetaudit.collectors.dns import COLLECTOR, parse_hosts, parse_resolv, parse_resolved
from collectorkit import POSIX_SHELLS, run_section


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_fragment_runs_under_posix_shells(shell):
    section = run_section(COLLECTOR, shell)
    assert {"resolv_link", "resolv", "nsswitch", "hostname", "hosts"} <= set(section)
    assert all(p.rc is not None for p in section.values())
    facts = COLLECTOR.parse(section)
    assert facts["resolv_conf"]["present"] is True and facts["resolv_conf"]["nameservers"]


def test_resolv_order_kept_and_last_search_wins():
    facts = parse_resolv(Part("nameserver 10.0.0.2\nnameserver 10.0.0.1\nsearch a.example\n"
                              "domain b.example\noptions rotate ndots:2\nnameserver 10.0.0.2\n", 0), Part("", 1))
    assert facts["nameservers"] == ["10.0.0.2", "10.0.0.1"]
    assert facts["search"] == ["b.example"] and facts["options"] == ["ndots:2", "rotate"]
    assert facts["is_stub"] is False and facts["symlink"] is None


def test_resolvectl_one_line_forms():
    out = "Global: 1.1.1.1#cloudflare-dns.com 9.9.9.9:53\nLink 2 (eth0): 10.0.0.2 fe80::1%eth0 [2001:db8::1]:53\nLink 3 (docker0):\n"
    facts = parse_resolved(Part(out, 0), "resolvectl")
    assert facts["per_link"] == {"Global": ["1.1.1.1", "9.9.9.9"],
                                 "eth0": ["10.0.0.2", "fe80::1%eth0", "2001:db8::1"], "docker0": []}
    assert facts["upstreams"] == ["1.1.1.1", "9.9.9.9", "10.0.0.2", "fe80::1%eth0", "2001:db8::1"]


def test_ipv6_continuation_is_not_a_key():
    out = "Link 2 (ens3)\n         DNS Servers: 10.0.0.2\n                      dead:beef::1\n          DNS Domain: x\n"
    assert parse_resolved(Part(out, 0), "systemd-resolve")["upstreams"] == ["10.0.0.2", "dead:beef::1"]


def test_hosts_skip_boilerplate_and_own_name_and_cap():
    lines = "127.0.0.1 localhost\n10.0.0.5 web-1.corp web-1\n10.9.9.9 registry.corp\n"
    entries, capped = parse_hosts(Part(lines, 0), "web-1")
    assert entries == {"registry.corp": ["10.9.9.9"]} and capped is False
    many = "".join(f"10.0.{i // 250}.{i % 250} h{i}\n" for i in range(201))
    entries, capped = parse_hosts(Part(many, 0), None)
    assert capped is True and len(entries) == 200
