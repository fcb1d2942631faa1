"""firewall: the three-valued rule evaluation, on iptables -S and nft listings."""
import shutil
import subprocess

import pytest

from fleetaudit.collectors import firewall
from fleetaudit.collectors.base import Part

MISSING = Part("x: not found\n", 127)
VERDICTS = ("output_blocks_443", "output_blocks_dns", "forward_blocks_443", "output_443_redirected")


def ipt(filter_rules, nat_rules="", policy="ACCEPT", backend="legacy"):
    filt = f"-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT {policy}\n" + filter_rules
    nat = "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n" + nat_rules
    return {"ipt_version": Part(f"iptables v1.8.9 ({backend})\n", 0),
            "ipt_filter": Part(filt, 0), "ipt_nat": Part(nat, 0), "nft": MISSING}


def nft(ruleset):
    return {"ipt_version": MISSING, "ipt_filter": MISSING, "ipt_nat": MISSING,
            "nft": Part(ruleset, 0)}


def verdicts(section):
    facts = firewall.parse(section)
    return tuple(facts[k] for k in VERDICTS)


def out443(section):
    return firewall.parse(section)["output_blocks_443"]


def dns(section):
    return firewall.parse(section)["output_blocks_dns"]


# --- iptables -------------------------------------------------------------------

def test_policy_drop_with_allow_for_443_only():
    s = ipt("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -p tcp -m tcp --dport 443 -j ACCEPT\n", policy="DROP")
    assert out443(s) is False
    assert dns(s) is True
    assert firewall.parse(s)["blocked_by"]["output_dns"] == "iptables filter OUTPUT: -P OUTPUT DROP"


@pytest.mark.parametrize("rule", [
    "-A OUTPUT -p tcp -m tcp --dport 443 -j DROP",
    "-A OUTPUT -p tcp -m multiport --dports 80,443 -j REJECT --reject-with icmp-port-unreachable",
    "-A OUTPUT -p tcp -m tcp --dport 1:1024 -j DROP",
    "-A OUTPUT ! -o lo -j DROP",
    "-A OUTPUT -p tcp -m conntrack --ctstate NEW -j REJECT",
    "-A OUTPUT ! -d 127.0.0.0/8 -j DROP",
    "-A OUTPUT -m comment --comment \"block -j ACCEPT web\" -p tcp --dport 443 -j DROP",
])
def test_rules_that_block_443(rule):
    assert out443(ipt(rule + "\n")) is True


@pytest.mark.parametrize("rule", [
    "-A OUTPUT -p tcp -m tcp --dport 80 -j DROP",
    "-A OUTPUT -p tcp -m tcp ! --dport 443 -j DROP",
    "-A OUTPUT -p udp -j DROP",
    "-A OUTPUT -o lo -j DROP",
    "-A OUTPUT -o docker0 -j DROP",
    "-A OUTPUT -d 127.0.0.1/32 -j DROP",
    "-A OUTPUT -m state --state INVALID -j DROP",
    "-A OUTPUT -p tcp -m tcp --dport 443 -j LOG --log-prefix \"443: \"",
    "-A OUTPUT -p icmp -m icmp --icmp-type 8 -m owner --uid-owner 0 -j DROP",
])
def test_rules_that_do_not_block_443(rule):
    assert out443(ipt(rule + "\n")) is False


@pytest.mark.parametrize("rules", [
    "-A OUTPUT -o eth0 -j DROP\n",                        # is eth0 the uplink?
    "-A OUTPUT -d 10.0.0.0/8 -j DROP\n",                  # is the registry in 10/8?
    "-A OUTPUT -m owner --uid-owner 0 -j DROP\n",         # does dockerd run as uid 0 here?
    "-A OUTPUT -p tcp --sport 1024:65535 -j DROP\n",
    "-A OUTPUT -j NFQUEUE --queue-num 1\n",               # userspace decides
])
def test_undecidable_rules_give_null(rules):
    assert out443(ipt(rules)) is None


def test_unknown_match_that_cannot_change_the_outcome_is_fine():
    # Whether or not the owner matches, the packet is accepted.
    assert out443(ipt("-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\n")) is False
    # Whether or not 10/8 matches, 443 is dropped by the next rule.
    assert out443(ipt("-A OUTPUT -d 10.0.0.0/8 -j DROP\n-A OUTPUT -p tcp --dport 443 -j DROP\n")) is True
    # ...but here it decides: accept when 10/8, drop otherwise.
    assert out443(ipt("-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n", policy="DROP")) is None


def test_user_chains_jump_return_goto():
    chain = "-N X\n-A X -p tcp -m tcp --dport 443 -j DROP\n-A X -j RETURN\n"
    s = ipt(chain + "-A OUTPUT -j X\n-A OUTPUT -p udp -j REJECT\n")
    assert out443(s) is True and dns(s) is True
    # goto: X's RETURN returns from OUTPUT itself, so the later REJECT is skipped
    s = ipt(chain + "-A OUTPUT -g X\n-A OUTPUT -p udp -j REJECT\n")
    assert out443(s) is True and dns(s) is False
    # chains that loop or a target nobody defined: unknown
    assert out443(ipt("-N A\n-N B\n-A OUTPUT -j A\n-A A -j B\n-A B -j A\n")) is None


def test_docker_forward_rules():
    s = ipt("-N DOCKER-USER\n-A FORWARD -j DOCKER-USER\n-A FORWARD -i docker0 ! -o docker0 -j ACCEPT\n"
            "-A DOCKER-USER -j RETURN\n")
    s["ipt_filter"] = Part(s["ipt_filter"].out.replace("-P FORWARD ACCEPT", "-P FORWARD DROP"), 0)
    assert firewall.parse(s)["forward_blocks_443"] is False
    s["ipt_filter"] = Part(s["ipt_filter"].out.replace(
        "-A DOCKER-USER -j RETURN", "-A DOCKER-USER -p tcp -m tcp --dport 443 -j DROP\n-A DOCKER-USER -j RETURN"), 0)
    assert firewall.parse(s)["forward_blocks_443"] is True


def test_nat_redirect_of_443():
    s = ipt("", nat_rules="-A OUTPUT -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 3129\n")
    facts = firewall.parse(s)
    assert facts["output_443_redirected"] is True and facts["output_blocks_443"] is False
    docker = "-N DOCKER\n-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n"
    assert firewall.parse(ipt("", nat_rules=docker))["output_443_redirected"] is False


def test_permission_denied_and_missing_tools():
    denied = Part("iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: "
                  "Permission denied (you must be root)\n", 4)
    s = {"ipt_version": Part("iptables v1.8.9 (nf_tables)\n", 0), "ipt_filter": denied,
         "ipt_nat": denied, "nft": MISSING}
    facts = firewall.parse(s)
    assert facts["iptables"]["permission_denied"] is True and facts["output_blocks_443"] is None
    assert verdicts({"ipt_version": MISSING, "ipt_filter": MISSING, "ipt_nat": MISSING,
                     "nft": MISSING}) == (None, None, None, None)
    facts = firewall.parse({"ipt_version": MISSING, "ipt_filter": MISSING, "ipt_nat": MISSING,
                            "ip6t_filter": MISSING, "nft": MISSING})
    assert facts["iptables"]["installed"] is False and facts["iptables"]["error"] is None


def test_legacy_tables_hidden_behind_iptables_nft():
    s = ipt("", backend="nf_tables")
    s["ipt_filter"] = Part(s["ipt_filter"].out + "# Warning: iptables-legacy tables present, "
                           "use iptables-legacy to see them\n", 0)
    facts = firewall.parse(s)
    assert facts["iptables"]["legacy_tables_present"] is True
    assert facts["output_blocks_443"] is None  # "open" cannot be claimed
    s["ipt_filter"] = Part(s["ipt_filter"].out + "-A OUTPUT -p tcp --dport 443 -j DROP\n", 0)
    assert firewall.parse(s)["output_blocks_443"] is True  # a seen DROP still counts


# --- nft -------------------------------------------------------------------------

def chain(body, hook="output", policy="accept", family="inet", table="t", ctype="filter"):
    return (f"table {family} {table} {{\n\tchain c {{\n\t\ttype {ctype} hook {hook} priority 0; "
            f"policy {policy};\n" + "".join(f"\t\t{r}\n" for r in body) + "\t}\n}\n")


def test_nft_policy_drop_with_allows():
    s = nft(chain(["ct state established,related accept", 'oifname "lo" accept',
                   "tcp dport { 80, 443 } counter accept"], policy="drop"))
    assert out443(s) is False and dns(s) is True
    assert firewall.parse(s)["blocked_by"]["output_dns"] == "nft inet t c: policy drop"


@pytest.mark.parametrize("rule,expected", [
    ("tcp dport 443 drop", True),
    ("tcp dport https counter reject with tcp reset", True),
    ("meta l4proto { tcp, udp } th dport 443 drop", True),
    ("tcp dport 1-1024 log prefix \"out \" level warn drop", True),
    ("tcp dport != 443 drop", False),
    ('oifname != "lo" drop', True),
    ('oif "docker0" drop', False),
    ('oifname "eth*" drop', None),
    ("ct state new drop", True),
    ("ct state { established, related } drop", False),
    ("ip daddr 1.2.3.4 tcp dport 443 drop", None),
    ("ip daddr != 127.0.0.0/8 drop", True),
    ("ip6 daddr ::/0 drop", False),
    ("meta nfproto ipv6 drop", False),
    ("tcp dport @blocked drop", None),
    ("tcp dport vmap { 443 : drop }", None),
    ("meta skuid 0 drop", None),
    ("tcp dport 443 limit rate 10/second drop", None),
    ("udp dport 443 drop", False),
    ('tcp dport 443 comment "drop it" counter', False),
])
def test_nft_rule_matching(rule, expected):
    assert out443(nft(chain([rule]))) is expected


def test_nft_unknown_condition_keeps_the_verdict():
    # skuid is unknown: accepted when it matches, dropped by policy otherwise -> null
    assert out443(nft(chain(["skuid 0 counter accept"], policy="drop"))) is None


def test_nft_every_base_chain_must_pass_and_families():
    allow = chain(["tcp dport 443 accept"], policy="drop", table="a")
    deny = chain(["tcp dport 443 drop"], table="b")
    assert out443(nft(allow + deny)) is True
    assert out443(nft(allow + chain(["drop"], family="ip6", table="v6"))) is False
    assert out443(nft(allow + chain(["drop"], family="netdev", table="n", hook="ingress"))) is False
    assert out443(nft(chain(["drop"], hook="input"))) is False


def test_nft_jump_and_sets_are_not_rules():
    rs = ("table inet t {\n\tset blocked {\n\t\ttype inet_service\n\t\telements = { 443,\n"
          "\t\t\t     8443 }\n\t}\n\n\tchain sub {\n\t\ttcp dport 443 drop\n\t}\n\n"
          "\tchain c {\n\t\ttype filter hook output priority 0; policy accept;\n"
          "\t\tjump sub\n\t}\n}\n")
    facts = firewall.parse(nft(rs))
    assert facts["output_blocks_443"] is True and facts["output_blocks_dns"] is False
    assert facts["nft"]["base_chains"] == [{"family": "inet", "table": "t", "chain": "c", "type": "filter",
                                            "hook": "output", "priority": "0", "policy": "accept"}]


def test_nft_forward_and_nat():
    s = nft(chain(['iifname "docker0" tcp dport 443 drop'], hook="forward")
            + chain(["tcp dport 443 redirect to :3129"], ctype="nat", table="n"))
    assert verdicts(s) == (False, False, True, True)


def test_iptables_nft_tables_are_judged_once():
    # The same DROP seen by iptables-nft and in nft's listing of table ip filter.
    s = ipt("-A OUTPUT -p tcp -m tcp --dport 443 -j DROP\n", backend="nf_tables")
    s["nft"] = Part(chain(["tcp dport 443 counter drop"], family="ip", table="filter"), 0)
    facts = firewall.parse(s)
    assert facts["output_blocks_443"] is True
    assert facts["blocked_by"]["output_443"].startswith("iptables filter OUTPUT")


def test_combination_with_unreadable_nft():
    s = ipt("")
    s["nft"] = Part("netlink: Error: cache initialization failed: Operation not permitted\n", 1)
    assert out443(s) is None
    s = ipt("-A OUTPUT -p tcp --dport 443 -j DROP\n")
    s["nft"] = Part("netlink: Error: cache initialization failed: Operation not permitted\n", 1)
    assert out443(s) is True


SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_capped_program_keeps_status_and_marks_the_cut(shell, monkeypatch):
    monkeypatch.setattr(firewall, "MAX_LINES", 5)
    cmd = ["busybox", "sh"] if shell == "busybox" else [shell]
    prog = firewall._capped("seq", "seq 1 12")
    out = subprocess.run(cmd + ["-c", prog], capture_output=True, text=True)
    assert out.stdout.splitlines() == ["1", "2", "3", "4", "5", "#fa-cut 12 lines"]
    assert out.returncode == 0
    prog = firewall._capped("no-such-tool-here", "no-such-tool-here -S")
    out = subprocess.run(cmd + ["-c", prog], capture_output=True, text=True)
    assert (out.stdout, out.returncode) == ("no-such-tool-here: not found\n", 127)
    prog = firewall._capped("sh", "sh -c \"echo denied; exit 4\"")
    out = subprocess.run(cmd + ["-c", prog], capture_output=True, text=True)
    assert (out.stdout, out.returncode) == ("denied\n", 4)
