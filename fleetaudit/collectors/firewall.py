"""firewall: iptables / ip6tables / nft rules, and whether they stop registry traffic.

Facts:
- iptables: {installed, version, backend ("nf_tables"|"legacy"|null), error,
  permission_denied, truncated, legacy_tables_present, policies {"filter.OUTPUT": ...,
  "nat.OUTPUT": ...}, rules {"filter": [-A lines], "nat": [-A lines]}} - `iptables -S`
  and `iptables -t nat -S`, rule order kept (it is the semantics). installed null when
  the host said nothing. legacy_tables_present: iptables-nft warned that legacy tables
  exist too (their rules are not in this view).
- ip6tables: {installed, error, permission_denied, truncated, policies, rules {"filter"}}.
- nft: {installed, error, permission_denied, truncated, ruleset (`nft -s list ruleset`:
  no counters, so it does not drift by itself), base_chains [{family, table, chain,
  type, hook, priority, policy}] sorted}.
- output_blocks_443: bool|null - would a new IPv4 TCP connection from the host (dockerd)
  to a remote port 443 be dropped/rejected by the filter rules (iptables filter OUTPUT
  and every nft output hook chain)?
- output_blocks_dns: bool|null - same for UDP port 53.
- forward_blocks_443: bool|null - same for TCP 443 from a container on docker0 routed
  out through the host (filter FORWARD / nft forward hooks).
- output_443_redirected: bool|null - nat OUTPUT DNATs/REDIRECTs that connection
  (a transparent proxy: the certificate then comes from the proxy).
- blocked_by: {output_443, output_dns, forward_443, redirect_443}: the rule or policy
  that decided a true verdict ("iptables filter OUTPUT: -A OUTPUT ... -j DROP"), else null.

Verdicts come from evaluating the rules in the parser, three-valued: a rule whose
match depends on something the host did not tell (destination address, owner, marks,
named sets, rate limits...) counts both ways, and when the two outcomes differ the
verdict is null. A cut-off rule list, a permission error, or iptables-nft hiding
legacy tables turn a "not blocked" into null: when unsure, null.

Why one module (~730 lines): the three parsers (iptables -S, nft -s list ruleset) feed
one rule model (conditions + action, three-valued matching) that the verdicts walk;
the parts share that model's types and the "unknown counts both ways" logic, and split
apart they would each need the others. Sections: three-valued logic, the rule model,
iptables parser, nft parser, verdicts.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .base import RC_MISSING, Collector, Part, Section, part

MAX_LINES = 2000
CUT_MARK = "#fa-cut"


def _capped(tool: str, cmd: str) -> str:
    """sh -c program: run cmd, keep the first MAX_LINES lines, keep cmd's status."""
    return (
        f'command -v {tool} >/dev/null 2>&1 || {{ echo "{tool}: not found"; exit 127; }}; '
        f'o=$({cmd} 2>&1); r=$?; '
        # Fewer characters than MAX_LINES: fewer lines too, no head and wc to run.
        f'if [ "${{#o}}" -lt {MAX_LINES} ]; then printf "%s\\n" "$o"; exit $r; fi; '
        f'printf "%s\\n" "$o" | head -n {MAX_LINES}; '
        f'n=$(printf "%s\\n" "$o" | wc -l); [ "$n" -le {MAX_LINES} ] || echo "{CUT_MARK} $n lines"; '
        f'exit $r'
    )


SCRIPT = "\n".join([
    # One process for the version and the four rule listings (fa_group), each still its
    # own part (the version as fa_brief printed it: "iptables: not found", rc 127).
    "fa_group"
    " ipt_version 'command -v iptables >/dev/null 2>&1 || { echo \"iptables: not found\"; exit 127; }; iptables -V'"
    f" ipt_filter '{_capped('iptables', 'iptables -S')}'"
    f" ipt_nat '{_capped('iptables', 'iptables -t nat -S')}'"
    f" ip6t_filter '{_capped('ip6tables', 'ip6tables -S')}'"
    f" nft '{_capped('nft', 'nft -s list ruleset')}'",
])

# ---------------------------------------------------------------------------------
# Three-valued logic: True, False, None (= depends on something we do not know).

Tri = Optional[bool]


def _not(v: Tri) -> Tri:
    return None if v is None else not v


def _all(values: List[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


@dataclass(frozen=True)
class Packet:
    """The connection whose fate we want: the first packet of it (conntrack NEW)."""

    proto: str            # "tcp" | "udp"
    dport: int
    iif: Optional[str]    # None: locally generated (OUTPUT)
    # The outgoing interface is the host's uplink, whose name we do not know: only
    # "not lo, not a docker bridge/veth" is certain.


OUT_443 = Packet("tcp", 443, None)
OUT_DNS = Packet("udp", 53, None)
FWD_443 = Packet("tcp", 443, "docker0")

_DOCKERISH = re.compile(r"^(docker.|br-.|veth.)")
_SERVICES = {"https": 443, "http": 80, "domain": 53, "dns": 53}
_PROTOS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}


def _iface_match(pattern: str, actual: Optional[str], outgoing: bool) -> Tri:
    """Does an interface pattern (iptables "eth+", nft "eth*") match the packet's?"""
    pattern = pattern.strip('"')
    wildcard = pattern.endswith(("+", "*"))
    stem = pattern[:-1] if wildcard else pattern
    if not outgoing:
        if actual is None:  # locally generated packets have no input interface
            return False
        return actual.startswith(stem) if wildcard else actual == pattern
    # Outgoing: the host's uplink, name unknown. Certainly not loopback, not a docker
    # bridge or veth; anything else may or may not be it.
    if wildcard and stem == "":
        return True
    if pattern == "lo" or _DOCKERISH.match(stem):
        return False
    return None


def _addr_match(spec: str, dst: bool) -> Tri:
    spec = spec.strip()
    if spec in ("0.0.0.0/0", "::/0", "0/0"):
        return True
    if dst and (spec.startswith("127.") or spec in ("::1", "::1/128")):
        return False  # the registry is not on the loopback
    return None


def _port_in(spec: str, port: int) -> Tri:
    """'443', '1:1024', '1-1024', '80,443', 'https' -> is port in it? None if unreadable."""
    result: Tri = False
    for item in spec.replace(" ", "").split(","):
        if not item:
            continue
        bounds = re.split(r"[:-]", item, maxsplit=1)
        nums = []
        for b in bounds:
            if b.isdigit():
                nums.append(int(b))
            elif b in _SERVICES:
                nums.append(_SERVICES[b])
            elif b == "" and len(bounds) == 2:  # ":1024" / "1024:" open ranges
                nums.append(0 if not nums else 65535)
            else:
                return None
        lo, hi = (nums[0], nums[0]) if len(nums) == 1 else (nums[0], nums[1])
        if lo <= port <= hi:
            return True
    return result


# ---------------------------------------------------------------------------------
# A rule, whichever tool printed it: conditions on the packet and an action.
# Actions: ("accept",) ("drop",) ("return",) ("continue",) ("jump", chain)
# ("goto", chain) ("redirect",) ("unknown",)

Cond = Callable[[Packet], Tri]


@dataclass
class Rule:
    text: str
    conds: List[Cond] = field(default_factory=list)
    action: Tuple[str, ...] = ("continue",)


Outcome = Tuple[str, Optional[str]]  # (kind, deciding rule text or policy)


@dataclass
class Chains:
    """One table's chains, evaluated for one packet.

    Continuation-passing: a chain is evaluated with the outcome of falling off its end
    (`end`: the policy for a base chain, the caller's rest for a jumped-to chain), so a
    rule whose match is unknown is judged by comparing two final outcomes.
    """

    label: str                                   # "iptables filter", "nft inet filter"
    chains: Dict[str, List[Rule]] = field(default_factory=dict)
    incomplete: bool = False                     # the listing was cut off
    _memo: Dict[Tuple[str, Packet, Outcome], Outcome] = field(default_factory=dict)

    def verdict(self, chain: str, pkt: Packet, end: Outcome, _stack: Tuple[str, ...] = ()) -> Outcome:
        """("accept"|"drop"|"redirect"|"unknown", why) for pkt entering `chain`."""
        key = (chain, pkt, end)
        if key in self._memo:
            return self._memo[key]
        if chain not in self.chains or chain in _stack or len(_stack) > 32:
            return ("unknown", None)  # undefined target, a loop, or absurd nesting
        stack = _stack + (chain,)
        # Walk backwards: the outcome from rule i on depends only on rule i and the
        # outcome from rule i+1 on, so no recursion along a chain (chains are long).
        nxt: Outcome = ("unknown", None) if self.incomplete else end
        for rule in reversed(self.chains[chain]):
            match = _all([c(pkt) for c in rule.conds])
            if match is False:
                continue
            matched = self._act(rule, pkt, stack, nxt, end)
            nxt = ("unknown", rule.text) if match is None and matched[0] != nxt[0] else matched
        self._memo[key] = nxt
        return nxt

    def _act(self, rule: Rule, pkt: Packet, stack, nxt: Outcome, end: Outcome) -> Outcome:
        kind = rule.action[0]
        if kind == "continue":
            return nxt
        if kind == "return":
            return end
        if kind in ("accept", "drop", "redirect"):
            return (kind, rule.text)
        if kind == "jump":
            return self.verdict(rule.action[1], pkt, nxt, stack)
        if kind == "goto":
            return self.verdict(rule.action[1], pkt, end, stack)
        return ("unknown", rule.text)


# ---------------------------------------------------------------------------------
# iptables -S

_NONTERMINAL = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "TRACE", "AUDIT", "CT", "NOTRACK",
                "TCPMSS", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "SET", "CHECKSUM", "CONNSECMARK",
                "SECMARK", "IDLETIMER", "LED", "RATEEST", "SYNPROXY", "TEE"}


def _ipt_rule(tokens: List[str], text: str, chain_names: set, nat: bool) -> Rule:
    rule = Rule(text)
    i, neg = 0, False
    module = None

    def add(cond: Cond) -> None:
        rule.conds.append((lambda p, c=cond: _not(c(p))) if neg else cond)

    while i < len(tokens):
        tok = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "!":
            neg = True
            i += 1
            continue
        step = 2
        if tok in ("-p", "--protocol"):
            proto = _PROTOS.get(arg.lower(), "all" if arg.lower() in ("all", "0") else "other")
            add(lambda p, pr=proto: True if pr == "all" else p.proto == pr)
        elif tok in ("-d", "--destination"):
            add(lambda p, a=arg: _addr_match(a, True))
        elif tok in ("-s", "--source"):
            add(lambda p, a=arg: _addr_match(a, False))
        elif tok in ("-o", "--out-interface"):
            add(lambda p, a=arg: _iface_match(a, None, True))
        elif tok in ("-i", "--in-interface"):
            add(lambda p, a=arg: _iface_match(a, p.iif, False))
        elif tok in ("--dport", "--destination-port"):
            add(lambda p, a=arg: _port_in(a, p.dport))
        elif tok in ("--dports", "--destination-ports") and module == "multiport":
            add(lambda p, a=arg: _port_in(a, p.dport))
        elif tok == "--ports" and module == "multiport":
            add(lambda p, a=arg: True if _port_in(a, p.dport) else None)  # or the source port
        elif tok in ("--state", "--ctstate"):
            add(lambda p, a=arg: "NEW" in a.upper().split(","))
        elif tok == "--dst-type" and module == "addrtype":
            add(lambda p, a=arg: False if a.upper() == "LOCAL" else (True if a.upper() == "UNICAST" else None))
        elif tok == "--comment":
            pass
        elif tok == "-m" or tok == "--match":
            module = arg
            if module in ("tcp", "udp", "comment", "multiport", "state", "conntrack", "addrtype"):
                pass  # protocol helpers and matches handled by their options
            else:
                add(lambda p: None)  # owner, mark, set, limit, recent, physdev...: unknown
        elif tok in ("-j", "--jump", "-g", "--goto"):
            rule.action = _ipt_target(arg, tok in ("-g", "--goto"), chain_names, nat)
            break  # what follows are the target's own options
        elif tok in ("-A", "--append"):
            pass
        elif tok.startswith("-"):
            # An option we do not model (--sport, --tcp-flags, --syn, --uid-owner...):
            # the match is unknown. Flags without argument: guess by the next token.
            add(lambda p: None)
            if tok in ("--syn", "--log-uid", "--log-tcp-options", "--log-ip-options",
                       "--rcheck", "--update", "--set"):
                step = 1
            elif arg.startswith("-") or arg == "!":
                step = 1
        else:
            step = 1  # stray word (second word of a quoted value, etc.)
        neg = False
        i += step
    return rule


def _ipt_target(target: str, goto: bool, chain_names: set, nat: bool) -> Tuple[str, ...]:
    if target == "ACCEPT":
        return ("accept",)
    if target in ("DROP", "REJECT"):
        return ("drop",)
    if target == "RETURN":
        return ("return",)
    if nat and target in ("DNAT", "REDIRECT"):
        return ("redirect",)
    if nat and target in ("SNAT", "MASQUERADE", "NETMAP"):
        return ("accept",)
    if target in _NONTERMINAL:
        return ("continue",)
    if target in chain_names:
        return ("goto" if goto else "jump", target)
    return ("unknown",)


@dataclass
class IptView:
    facts: Dict[str, Any]
    tables: Dict[str, Chains]   # "filter"/"nat" -> chains (only when readable)
    policies: Dict[str, str]    # "filter.OUTPUT" -> "DROP"


def _lines(p: Part) -> List[str]:
    """The part's complete lines: a cut-off part's unfinished last line is dropped."""
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()
    return lines


def _error(p: Part) -> Tuple[Optional[str], bool]:
    """(error text, permission denied?) for a part that did not read cleanly."""
    if p.rc == 0:
        return None, False
    text = next((ln.strip() for ln in reversed(p.out.splitlines())
                 if ln.strip() and not ln.startswith(CUT_MARK)), "")
    if p.rc is None:
        return ("no output" if not p.out else "output cut off"), False
    denied = bool(re.search(r"permission denied|operation not permitted|you must be root", p.out, re.I))
    return (text[:300] or f"exit status {p.rc}"), denied


def _read_iptables(parts: Dict[str, Part], tool: str) -> IptView:
    facts: Dict[str, Any] = {"installed": None, "error": None, "permission_denied": False,
                             "truncated": False, "policies": {}, "rules": {}}
    tables: Dict[str, Chains] = {}
    for table, p in parts.items():
        if p.rc == RC_MISSING:
            facts["installed"] = False
            continue
        if p.rc is None and not p.out:
            continue
        if facts["installed"] is None:
            facts["installed"] = True
        err, denied = _error(p)
        if err and not facts["error"]:
            facts["error"], facts["permission_denied"] = err, denied
        lines = _lines(p)
        cut = p.rc is None or any(ln.startswith(CUT_MARK) for ln in lines)
        facts["truncated"] = facts["truncated"] or cut
        chain_names = {ln.split()[1] for ln in lines if ln.startswith(("-N ", "-A ")) and len(ln.split()) > 1}
        rules: List[str] = []
        chains = Chains(f"{tool} {table}", incomplete=cut)
        for ln in lines:
            words = ln.split()
            if len(words) >= 3 and words[0] == "-P" and re.match(r"^[A-Z]+$", words[2]):
                facts["policies"][f"{table}.{words[1]}"] = words[2]
                chains.chains.setdefault(words[1], [])
            elif len(words) >= 2 and words[0] == "-N":
                chains.chains.setdefault(words[1], [])
            elif len(words) >= 2 and words[0] == "-A":
                rules.append(ln)
                try:
                    tokens = shlex.split(ln)
                except ValueError:
                    tokens = None
                rule = (_ipt_rule(tokens, ln, chain_names, table == "nat") if tokens
                        else Rule(ln, [lambda p: None], ("unknown",)))
                chains.chains.setdefault(words[1], []).append(rule)
        if rules or any(k.startswith(table + ".") for k in facts["policies"]):
            facts["rules"][table] = rules
        if p.rc == 0 or (p.rc is None and lines):
            tables[table] = chains
    if facts["installed"] is False:
        facts["error"] = None
    policies = dict(facts["policies"])
    facts["policies"] = dict(sorted(policies.items()))
    return IptView(facts, tables, policies)


# ---------------------------------------------------------------------------------
# nft -s list ruleset

_HEADER = re.compile(r"type\s+(\w+)\s+hook\s+(\w+)(?:\s+device\s+\S+)?\s+priority\s+([^;]+);")
_POLICY = re.compile(r"policy\s+(accept|drop)\s*;")


def _nft_tokens(line: str) -> Optional[List[str]]:
    """Split a rule line; quoted strings and { sets } stay one token. None if unbalanced."""
    tokens, i, n = [], 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = line.find('"', i + 1)
            if j == -1:
                return None
            tokens.append(line[i:j + 1])
            i = j + 1
        elif c == "{":
            j = line.find("}", i)
            if j == -1:
                return None
            tokens.append(line[i:j + 1])
            i = j + 1
        else:
            j = i
            while j < n and not line[j].isspace() and line[j] not in '"{':
                j += 1
            tokens.append(line[i:j])
            i = j
    return tokens


def _set_items(token: str) -> List[str]:
    if token.startswith("{"):
        return [x.strip() for x in token.strip("{} ").split(",") if x.strip()]
    return [token]


_NFT_VERDICTS = {"accept": ("accept",), "drop": ("drop",), "reject": ("drop",),
                 "return": ("return",), "continue": ("continue",), "queue": ("unknown",)}
# Statements that never decide the verdict; their own arguments are skipped below.
_NFT_NOOP = {"counter", "log", "comment", "notrack", "nftrace"}
_NFT_NOOP_ARGS = {"prefix", "level", "group", "snaplen", "queue-threshold", "flags", "packets",
                  "bytes", "name"}


def _nft_rule(line: str, nat: bool) -> Rule:
    rule = Rule(line)
    tokens = _nft_tokens(line)
    if tokens is None or "vmap" in tokens:  # unbalanced, or a verdict map: per packet
        return Rule(line, [lambda p: None], ("unknown",))
    i = 0

    def value_at(j: int) -> Tuple[bool, str, int]:
        """(negated, value token, index after) for the value starting at tokens[j]."""
        neg = False
        if j < len(tokens) and tokens[j] in ("!=", "==", "eq", "ne"):
            neg = tokens[j] in ("!=", "ne")
            j += 1
        return neg, tokens[j] if j < len(tokens) else "", j + 1

    def add(cond: Cond, neg: bool) -> None:
        rule.conds.append((lambda p, c=cond: _not(c(p))) if neg else cond)

    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ("tcp", "udp", "th") and nxt in ("dport", "sport"):
            neg, val, i = value_at(i + 2)
            if t != "th":
                add(lambda p, pr=t: p.proto == pr, False)
            if val.startswith("@"):
                add(lambda p: None, False)
            elif nxt == "sport":
                add(lambda p: None, False)
            else:
                add(lambda p, v=val: _port_in(",".join(_set_items(v)), p.dport), neg)
        elif (t, nxt) in (("meta", "l4proto"), ("ip", "protocol"), ("ip6", "nexthdr")):
            neg, val, i = value_at(i + 2)
            names = {_PROTOS.get(x, x) for x in _set_items(val)}
            add(lambda p, ns=names: p.proto in ns if not any(x.startswith("@") for x in ns) else None, neg)
        elif (t, nxt) in (("meta", "nfproto"), ("meta", "protocol")):
            neg, val, i = value_at(i + 2)
            items = set(_set_items(val))
            add(lambda p, it=items: bool(it & {"ipv4", "ip"}), neg)  # the packets here are IPv4
        elif t == "ct" and nxt == "state":
            neg, val, i = value_at(i + 2)
            states = {x.strip().lower() for v in _set_items(val) for x in v.split(",")}
            add(lambda p, s=states: "new" in s, neg)
        elif t in ("oifname", "oif", "iifname", "iif") or (t == "meta" and nxt in ("oifname", "oif", "iifname", "iif")):
            if t == "meta":
                i += 1
                t = nxt
            neg, val, i = value_at(i + 1)
            items = _set_items(val)
            out = t.startswith("o")
            if any(x.startswith("@") for x in items):
                add(lambda p: None, neg)
            else:
                add(lambda p, it=items, o=out: _any([_iface_match(x, p.iif, o) for x in it]), neg)
        elif t in ("ip", "ip6") and nxt in ("daddr", "saddr"):
            neg, val, i = value_at(i + 2)
            items = _set_items(val)
            dst = nxt == "daddr"
            if t == "ip6":
                add(lambda p: False, neg)  # IPv6 header match never fits an IPv4 packet
            else:
                add(lambda p, it=items, d=dst: _any([None if x.startswith("@") else _addr_match(x, d) for x in it]), neg)
        elif t in _NFT_VERDICTS:
            rule.action = _NFT_VERDICTS[t]
            break  # a verdict ends the rule (reject's "with ..." follows it)
        elif t in ("jump", "goto") and nxt:
            rule.action = (t, nxt)
            break
        elif nat and t in ("dnat", "redirect"):
            rule.action = ("redirect",)
            break
        elif nat and t in ("snat", "masquerade"):
            rule.action = ("accept",)
            break
        elif t in _NFT_NOOP:
            i += 1
            while i < len(tokens) and (tokens[i] in _NFT_NOOP_ARGS or tokens[i - 1] in _NFT_NOOP_ARGS
                                       or tokens[i].startswith('"') or tokens[i].isdigit()):
                i += 1
        else:
            # Anything else (skuid, meta mark, fib, limit, named sets, payload
            # expressions...) is a condition we cannot judge. The rule's verdict is still
            # its first bare verdict word after it; a verdict map decides per packet.
            add(lambda p: None, False)
            rule.action = _nft_tail_action(tokens[i:], nat)
            break
    return rule


def _nft_tail_action(tokens: List[str], nat: bool) -> Tuple[str, ...]:
    for j, t in enumerate(tokens):
        if t == "vmap":
            return ("unknown",)
        if t in _NFT_VERDICTS:
            return _NFT_VERDICTS[t]
        if t in ("jump", "goto") and j + 1 < len(tokens):
            return (t, tokens[j + 1])
        if nat and t in ("dnat", "redirect"):
            return ("redirect",)
        if nat and t in ("snat", "masquerade"):
            return ("accept",)
    return ("continue",)


def _any(values: List[Tri]) -> Tri:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


@dataclass
class NftChain:
    family: str
    table: str
    name: str
    type: Optional[str] = None
    hook: Optional[str] = None
    priority: Optional[str] = None
    policy: Optional[str] = None


def _read_nft(p: Part) -> Tuple[Dict[str, Any], Dict[Tuple[str, str], Chains], List[NftChain]]:
    facts: Dict[str, Any] = {"installed": None, "error": None, "permission_denied": False,
                             "truncated": False, "ruleset": "", "base_chains": []}
    tables: Dict[Tuple[str, str], Chains] = {}
    base: List[NftChain] = []
    if p.rc == RC_MISSING:
        facts["installed"] = False
        return facts, tables, base
    if p.rc is None and not p.out:
        return facts, tables, base
    facts["installed"] = True
    facts["error"], facts["permission_denied"] = _error(p)
    lines = _lines(p)
    cut = p.rc is None or any(ln.startswith(CUT_MARK) for ln in lines)
    facts["truncated"] = cut
    if p.rc == 0 or p.rc is None:
        facts["ruleset"] = "\n".join(ln for ln in lines if not ln.startswith(CUT_MARK))

    table: Optional[Tuple[str, str]] = None
    chain: Optional[NftChain] = None
    depth = 0          # brace depth: 1 inside a table, 2 inside a chain/set/map
    in_other = False   # inside a set/map/flowtable/... block: not rules
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^table\s+(\w+)\s+(\S+)\s*\{$", line)
        if m and depth == 0:
            table, depth = (m.group(1), m.group(2)), 1
            tables.setdefault(table, Chains(f"nft {table[0]} {table[1]}", incomplete=cut))
            continue
        m = re.match(r"^chain\s+(\S+)\s*\{$", line)
        if m and depth == 1 and table:
            chain, depth = NftChain(table[0], table[1], m.group(1)), 2
            tables[table].chains.setdefault(chain.name, [])
            continue
        if depth == 1 and line.endswith("{"):
            in_other, depth = True, 2
            continue
        if line == "}":
            if depth == 2 and chain is not None and not in_other:
                if chain.hook:
                    base.append(chain)
                chain = None
            in_other = False
            depth = max(depth - 1, 0)
            if depth == 0:
                table = None
            continue
        if in_other or chain is None or table is None:
            continue  # set/map/flowtable bodies, table flags: not rules
        h = _HEADER.search(line)
        if h and line.startswith("type "):
            chain.type, chain.hook, chain.priority = h.group(1), h.group(2), h.group(3).strip()
            pm = _POLICY.search(line)
            chain.policy = pm.group(1) if pm else "accept"
            continue
        if line.startswith(("policy ", "comment ", "devices ")):
            continue
        tables[table].chains[chain.name].append(_nft_rule(line, nat=chain.type == "nat"))
    if chain is not None and chain.hook and chain not in base:
        base.append(chain)  # cut off inside a base chain: still evaluated (incomplete)
    facts["base_chains"] = sorted(
        ({"family": c.family, "table": c.table, "chain": c.name, "type": c.type,
          "hook": c.hook, "priority": c.priority, "policy": c.policy} for c in base),
        key=lambda c: (c["family"], c["table"], c["hook"] or "", c["chain"]))
    return facts, tables, base


# ---------------------------------------------------------------------------------
# Verdicts


def _ipt_verdict(view: IptView, table: str, chain: str, pkt: Packet, want: str = "drop"
                 ) -> Tuple[Tri, Optional[str]]:
    """Is the outcome `want` ("drop" or "redirect")? With the deciding rule when it is."""
    chains = view.tables.get(table)
    if chains is None or chain not in chains.chains:
        return None, None
    policy = view.policies.get(f"{table}.{chain}", "ACCEPT")
    end = ("drop" if policy == "DROP" else "accept", f"-P {chain} {policy}")
    kind, why = chains.verdict(chain, pkt, end)
    if kind == "unknown":
        return None, None
    return (True, f"{chains.label} {chain}: {why}") if kind == want else (False, None)


def _nft_verdicts(tables, base: List[NftChain], hook: str, types: Tuple[str, ...], pkt: Packet,
                  skip: set, want: str = "drop") -> List[Tuple[Tri, Optional[str]]]:
    out: List[Tuple[Tri, Optional[str]]] = []
    for c in base:
        if c.hook != hook or c.type not in types or c.family not in ("ip", "inet"):
            continue
        if (c.family, c.table) in skip:
            continue
        chains = tables[(c.family, c.table)]
        end = ("drop" if c.policy == "drop" else "accept", f"policy {c.policy}")
        kind, why = chains.verdict(c.name, pkt, end)
        if kind == "unknown":
            out.append((None, None))
        elif kind == want:
            out.append((True, f"nft {c.family} {c.table} {c.name}: {why}"))
        else:
            out.append((False, None))
    return out


def _combine(results: List[Tuple[Tri, Optional[str]]]) -> Tuple[Tri, Optional[str]]:
    """Every hook must let the packet through: one true blocks, any unknown is unknown."""
    for value, why in results:
        if value is True:
            return True, why
    if not results or any(v is None for v, _ in results):
        return None, None
    return False, None


def parse(section: Section) -> dict:
    version = part(section, "ipt_version")
    ipt = _read_iptables({"filter": part(section, "ipt_filter"), "nat": part(section, "ipt_nat")}, "iptables")
    ip6 = _read_iptables({"filter": part(section, "ip6t_filter")}, "ip6tables")
    nft_facts, nft_tables, nft_base = _read_nft(part(section, "nft"))

    m = re.search(r"iptables v([\d.]+)(?:\s+\((\w+)\))?", version.out)
    ipt.facts["version"] = m.group(1) if m and version.rc == 0 else None
    backend = (m.group(2) if m and m.group(2) else ("legacy" if m else None)) if version.rc == 0 else None
    ipt.facts["backend"] = backend
    if ipt.facts["installed"] is None and version.rc == RC_MISSING:
        ipt.facts["installed"] = False
    all_ipt_text = part(section, "ipt_filter").out + part(section, "ipt_nat").out
    ipt.facts["legacy_tables_present"] = "iptables-legacy tables present" in all_ipt_text

    # iptables-nft tables also show in nft's listing: judge them once, from iptables.
    skip = set()
    if backend == "nf_tables" and "filter" in ipt.tables:
        skip |= {("ip", t) for t in ("filter", "nat", "mangle", "raw", "security")}

    def hooks(pkt: Packet, chain: str, hook: str):
        results = []
        if ipt.facts["installed"]:
            v = _ipt_verdict(ipt, "filter", chain, pkt)
            if ipt.facts["legacy_tables_present"] and v[0] is False:
                v = (None, None)  # rules in legacy tables we did not see
            results.append(v)
        if nft_facts["installed"]:
            # Read cleanly with no matching chain = nft lets it through.
            results.append((None, None) if nft_facts["error"] else (False, None))
            results += _nft_verdicts(nft_tables, nft_base, hook, ("filter", "route"), pkt, skip)
        return _combine(results)

    out443, why443 = hooks(OUT_443, "OUTPUT", "output")
    outdns, whydns = hooks(OUT_DNS, "OUTPUT", "output")
    fwd443, whyfwd = hooks(FWD_443, "FORWARD", "forward")

    redirects = []
    if ipt.facts["installed"]:
        redirects.append(_ipt_verdict(ipt, "nat", "OUTPUT", OUT_443, want="redirect"))
    if nft_facts["installed"]:
        redirects.append((None, None) if nft_facts["error"] else (False, None))
        redirects += _nft_verdicts(nft_tables, nft_base, "output", ("nat",), OUT_443, skip, want="redirect")
    redir, whyredir = _combine(redirects)

    return {
        "iptables": dict(sorted(ipt.facts.items())),
        "ip6tables": dict(sorted(ip6.facts.items())),
        "nft": nft_facts,
        "output_blocks_443": out443,
        "output_blocks_dns": outdns,
        "forward_blocks_443": fwd443,
        "output_443_redirected": redir,
        "blocked_by": {"output_443": why443, "output_dns": whydns, "forward_443": whyfwd,
                       "redirect_443": whyredir},
    }


COLLECTOR = Collector(name="firewall", script=SCRIPT, parse=parse, doc=__doc__)
