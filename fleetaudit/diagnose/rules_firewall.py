"""Diagnosis rules: host firewalls that stop pulls.

The firewall collector already judges, from the rules, whether a new connection from the
host to a remote :443 (what dockerd opens) or :53 is dropped or rejected, and whether
nat OUTPUT redirects 443 (a transparent proxy). These rules turn the verdicts into
findings, aware of the daemon's proxy (a proxied registry never needs direct 443), and
compare the egress-relevant part of the rule set with the fleet.
"""
from __future__ import annotations

import re
import shlex
from collections import Counter
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from ..facts.daemon import log_counts
from ..facts.proxy import no_proxy_covers, proxy_endpoint
from ..facts.registries import split_host_port
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import cap, q, whose

# Pull errors a blocked egress produces (fleetaudit.pullerrors ids).
EGRESS_SYMPTOMS = ("io-timeout", "connection-refused", "no-route-to-host", "network-unreachable")
DNS_SYMPTOMS = ("dns-lookup-failed",)
# Chains that orchestrators rewrite by themselves (per container, per service): their
# content differs between healthy hosts and is not compared. DOCKER-USER is the user's.
_DYNAMIC_CHAIN = re.compile(r"^(DOCKER(?!-USER$)|KUBE-|cali-|CILIUM|CNI-|f2b-|FLANNEL|WEAVE)")
_DYNAMIC_IFACE = re.compile(r"(?:^|\s)[!]?\s*-[io]\s+(docker0|docker_gwbridge|br-[0-9a-f]{12}|cni\S*|cali\S*|veth\S*)(?:\s|$)")
_DYNAMIC_NFT_TABLE = re.compile(r"^(docker|kube|cilium|calico)", re.I)
EGRESS_POLICIES = ("filter.OUTPUT", "nat.OUTPUT")
FORWARD_POLICIES = ("filter.FORWARD",)
LINES_CAP = 500


# ------------------------------------------------------------------ how a block reads

def _block_error(blocked_by: str, target: str) -> str:
    """The error dockerd prints for a connection this rule stops."""
    text = blocked_by.lower()
    if "reject" not in text:
        return f'"dial tcp {target}: i/o timeout" (a DROP answers nothing)'
    if re.search(r"host-prohib|admin-prohib|icmpx? +admin|host-unreach", text):
        return f'"dial tcp {target}: connect: no route to host" (REJECT with an ICMP prohibited)'
    if re.search(r"net-unreach|net-prohib", text):
        return f'"dial tcp {target}: connect: network is unreachable"'
    return f'"dial tcp {target}: connect: connection refused" (REJECT)'


def _undo(blocked_by: str, port: str, proto: str) -> List[str]:
    """Commands that inspect and lift the deciding rule or policy. blocked_by reads
    "iptables TABLE CHAIN: -A ...|-P CHAIN POLICY" or "nft FAMILY TABLE CHAIN: rule|policy drop"."""
    ipt = re.match(r"^iptables (\S+) (\S+): (.*)$", blocked_by or "")
    nft = re.match(r"^nft (\S+) (\S+) (\S+): (.*)$", blocked_by or "")
    if ipt:
        table, chain, what = ipt.groups()
        out = [f"sudo iptables -t {q(table)} -S"]
        tokens: List[str] = []
        if what.startswith("-A "):
            try:
                tokens = shlex.split(what)
            except ValueError:
                tokens = []
        if tokens:
            out.append(f"sudo iptables -t {q(table)} -D " + " ".join(q(t) for t in tokens[1:]))
        else:
            out.append(f"sudo iptables -t {q(table)} -I {q(chain)} 1 -p {proto} --dport {port} -j ACCEPT"
                       f"   # {cap(what, 40)}: allow {proto}/{port} out (narrow it with -d REGISTRY_IP)")
        return out
    if nft:
        family, table, chain, what = nft.groups()
        out = [f"sudo nft -a list chain {q(family)} {q(table)} {q(chain)}   # -a shows rule handles"]
        if what.startswith("policy"):
            out.append(f"sudo nft insert rule {q(family)} {q(table)} {q(chain)} {proto} dport {port} accept")
        else:
            out.append(f"sudo nft delete rule {q(family)} {q(table)} {q(chain)} handle HANDLE"
                       f"   # the handle of: {cap(what, 80)}")
        return out
    return [f"sudo iptables -S; sudo nft list ruleset   # find what stops {proto}/{port} out"]


def _persist(family: str, blocked_by: str) -> str:
    if (blocked_by or "").startswith("nft"):
        return {"rhel": "persist in /etc/sysconfig/nftables.conf"}.get(family, "persist in /etc/nftables.conf")
    return {"debian": "persist: sudo netfilter-persistent save   (or the firewall manager in use: ufw, firewalld)",
            "rhel": "persist with the firewall manager in use (firewall-cmd --permanent ...; or service iptables save)",
            "alpine": "persist: sudo rc-service iptables save",
            "suse": "persist with firewalld (firewall-cmd --permanent ...)"}.get(
        family, "persist the change in the host's firewall configuration")


# ------------------------------------------------------------------ which registries go direct

def _routes(ctx: HostContext) -> Tuple[List[str], List[str], Optional[str]]:
    """(registries dockerd reaches directly on 443, registries it reaches through its
    HTTPS proxy, the proxy's host:port) for the registries the fleet uses."""
    dp = ctx.view.daemon_proxy
    proxy = proxy_endpoint(dp.get("HTTPS_PROXY")) if dp else ""
    proxy_hp = proxy.split("://", 1)[1] if proxy else None
    direct, proxied = [], []
    for reg in ctx.registries() or ["docker.io"]:
        host, port = split_host_port(reg)
        if port != 443:
            continue
        if proxy and not no_proxy_covers(dp.get("NO_PROXY"), host, port):
            proxied.append(reg)
        else:
            direct.append(reg)
    return direct, proxied, proxy_hp


def _symptoms(ctx: HostContext, classes: Tuple[str, ...]) -> List[dict]:
    return [ev(join_all(("daemon_log", "counts", c)), n, note="pulls already fail this way")
            for c, n in log_counts(ctx.facts, classes).items()]


@rule(
    id="firewall.output-443-blocked", category="firewall", severity="critical",
    title="the host firewall stops outgoing HTTPS (tcp/443)",
    why="""
dockerd connects to registries on tcp/443. An OUTPUT rule or policy that drops these
connections makes every such pull hang and fail with "dial tcp REGISTRY_IP:443: i/o
timeout" (DROP), or fail at once with "connect: connection refused" (REJECT) / "connect: no
route to host" (REJECT with icmp-host-prohibited). Registries reached through an HTTP(S)
proxy on another port are not affected; registries in NO_PROXY are.
""",
    remediation=["sudo iptables -S OUTPUT; sudo nft list ruleset", "allow tcp/443 out to the registries"],
)
def output_443_blocked(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "firewall.output_blocks_443") is not True:
        return
    by = dig(ctx.facts, "firewall.blocked_by.output_443")
    by = by if isinstance(by, str) else ""
    direct, proxied, proxy = _routes(ctx)
    proxy_blocked = bool(proxy and split_host_port(proxy)[1] == 443)
    if proxy_blocked:
        severity, reach = "critical", f"the proxy {proxy} itself is on 443"
        direct = direct + proxied
    elif direct and not proxied:
        severity, reach = "critical", "no proxy in between"
    elif direct:
        severity, reach = "high", (f"{len(direct)} registr{'y bypasses' if len(direct) == 1 else 'ies bypass'} "
                                   "the proxy (NO_PROXY)")
    else:
        severity, reach = "low", f"every registry the fleet uses goes through the proxy {proxy}"
    symptoms = _symptoms(ctx, EGRESS_SYMPTOMS)
    if symptoms and severity == "low":
        severity = "medium"
    host = split_host_port(direct[0] if direct else ctx.example_registry())[0]
    target = f"{'registry-1.docker.io' if host == 'docker.io' else host}:443"
    evidence = [ev("firewall.output_blocks_443", True, False, note=reach),
                ev("firewall.blocked_by.output_443", cap(by, 300) or None,
                   note="pulls fail with " + _block_error(by, target))]
    if direct:
        dp = ctx.view.daemon_proxy
        origin = dp.origin.get("NO_PROXY", "proxy.daemon.NO_PROXY") if dp else "proxy.daemon.NO_PROXY"
        evidence.append(ev(origin, (dp.get("NO_PROXY") or None) if dp else None,
                           note="registries dockerd reaches directly on 443: " + ", ".join(direct[:8])))
    yield Hit(evidence=evidence + symptoms, severity=severity,
              title=f"outgoing tcp/443 is blocked: {reach}"[:200],
              remediation=[*_undo(by, "443", "tcp"), _persist(ctx.family, by),
                           f"curl -sSI --max-time 10 https://{split_host_port(target)[0]}/v2/   # 401 or 200 = reachable"])


@rule(
    id="firewall.output-dns-blocked", category="firewall", severity="high",
    title="the host firewall stops outgoing DNS (udp/53)",
    why="""
Registry names are resolved before anything else. With udp/53 out dropped the lookup times
out: "dial tcp: lookup REGISTRY on NAMESERVER:53: read udp ...: i/o timeout" (REJECT: "...
read: connection refused"). A local caching resolver (127.0.0.53) only hides it until its
cache is empty. Pulls through an HTTP(S) proxy only need the proxy's own name resolved.
""",
    remediation=["allow udp/53 (and tcp/53) out to the host's nameservers"],
)
def output_dns_blocked(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "firewall.output_blocks_dns") is not True:
        return
    by = dig(ctx.facts, "firewall.blocked_by.output_dns")
    by = by if isinstance(by, str) else ""
    direct, proxied, proxy = _routes(ctx)
    servers = [s for s in _list(dig(ctx.facts, "dns.resolv_conf.nameservers")) if isinstance(s, str)]
    severity = "high"
    note = f"nameservers: {', '.join(servers)[:80]}" if servers else "nameservers unknown"
    if proxied and not direct:
        severity = "medium"
        note += f"; registries go through the proxy {proxy}, which resolves them"
    yield Hit(evidence=[ev("firewall.output_blocks_dns", True, False, note=note),
                        ev("firewall.blocked_by.output_dns", cap(by, 300) or None),
                        *_symptoms(ctx, DNS_SYMPTOMS)],
              severity=severity, title="outgoing DNS (udp/53) is blocked",
              remediation=[*_undo(by, "53", "udp"), _persist(ctx.family, by),
                           f"getent hosts {q(split_host_port(ctx.example_registry())[0])}"])


@rule(
    id="firewall.forward-443-blocked", category="firewall", severity="low",
    title="containers cannot open HTTPS connections (FORWARD blocks tcp/443)",
    why="""
FORWARD rules (DOCKER-USER, a FORWARD policy of DROP without Docker's own accept rules) stop
traffic from containers, not dockerd's pulls. `docker build` RUN steps and containers that
download anything fail ("Could not connect", "i/o timeout"), while `docker pull` works.
""",
    remediation=["sudo iptables -S FORWARD; sudo iptables -S DOCKER-USER"],
    needs_docker=True,
)
def forward_443_blocked(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "firewall.forward_blocks_443") is not True:
        return
    by = dig(ctx.facts, "firewall.blocked_by.forward_443")
    by = by if isinstance(by, str) else ""
    yield Hit(evidence=[ev("firewall.forward_blocks_443", True, False),
                        ev("firewall.blocked_by.forward_443", cap(by, 300) or None)],
              title="FORWARD drops tcp/443 from containers (builds and containers, not pulls)",
              remediation=[*_undo(by, "443", "tcp"), _persist(ctx.family, by)])


def _redirected(facts: Any) -> Any:
    v = dig(facts, "firewall.output_443_redirected")
    return v if isinstance(v, bool) else MISSING


@rule(
    id="firewall.https-redirected", category="proxy", severity="medium",
    title="outgoing HTTPS is redirected to a transparent proxy (nat OUTPUT)",
    why="""
A nat OUTPUT DNAT/REDIRECT of tcp/443 hands dockerd's registry connections to a transparent
proxy. The certificate then comes from that proxy: without its CA in the system bundle
pulls fail with "x509: certificate signed by unknown authority"; a proxy that blocks or
throttles gives "remote error: tls: ...", 403s or stalled layers. On a fleet where only this
host does it, it is the reason the same pull behaves differently here.
""",
    remediation=["sudo iptables -t nat -S OUTPUT"],
)
def https_redirected(ctx: HostContext) -> Iterator[Hit]:
    if _redirected(ctx.facts) is not True:
        return
    by = dig(ctx.facts, "firewall.blocked_by.redirect_443")
    by = by if isinstance(by, str) else ""
    exp = ctx.expect("firewall.output_443_redirected", _redirected)
    deliberate = exp is not None and exp.value is True
    yield Hit(evidence=[ev("firewall.output_443_redirected", True, exp.value if exp else False,
                           note=exp.source if exp else "no fleet expectation"),
                        ev("firewall.blocked_by.redirect_443", cap(by, 300) or None)],
              severity="low" if deliberate else "medium",
              title="tcp/443 out is redirected to a transparent proxy" + (" (like the fleet)" if deliberate else ""),
              remediation=[*_undo(by, "443", "tcp")[:1],
                           "trust the proxy's CA (tls.local-ca-missing shows whether the fleet does), or remove the redirect",
                           f"openssl s_client -connect {q(split_host_port(ctx.example_registry())[0] + ':443')} </dev/null "
                           "2>/dev/null | grep -E 'issuer=|Verify return code'"])


@rule(
    id="firewall.legacy-tables", category="firewall", severity="low",
    title="iptables-legacy rules exist next to the nf_tables ones",
    why="""
iptables-nft warns that legacy (xtables) tables exist too. The kernel applies both sets, but
`iptables -S` (nft) does not show the legacy rules, so whatever blocks egress there is
invisible to `iptables -S` and to this audit. Hosts usually get there when a tool (an old
Docker, kube-proxy, a firewall script) uses the other backend.
""",
    remediation=["sudo iptables-legacy -S; sudo iptables-legacy -t nat -S",
                 "move the rules to one backend (update-alternatives --config iptables)"],
)
def legacy_tables(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "firewall.iptables.legacy_tables_present") is not True:
        return
    unknown = dig(ctx.facts, "firewall.output_blocks_443") is None
    yield Hit(evidence=[ev("firewall.iptables.legacy_tables_present", True, False),
                        ev("firewall.output_blocks_443", dig(ctx.facts, "firewall.output_blocks_443"),
                           note="unknown: the legacy rules are not visible" if unknown else "")],
              severity="medium" if unknown else "low",
              title="legacy iptables tables hide rules from the audit"
                    + (": whether tcp/443 out is blocked is unknown" if unknown else ""))


# ------------------------------------------------------------------ rule set drift

def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _chain_of(line: str) -> Optional[str]:
    m = re.match(r"^-A (\S+)", line)
    return m.group(1) if m else None


def _targets(line: str) -> List[str]:
    return re.findall(r"\s-[jg]\s+(\S+)", line)


def _reachable(lines: List[str], roots: Tuple[str, ...]) -> Set[str]:
    graph: Dict[str, Set[str]] = {}
    for ln in lines:
        c = _chain_of(ln)
        if c:
            graph.setdefault(c, set()).update(_targets(ln))
    seen: Set[str] = set()
    todo = [r for r in roots]
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        todo.extend(graph.get(c, ()))
    return seen


def _static(line: str) -> bool:
    chain = _chain_of(line) or ""
    if _DYNAMIC_CHAIN.match(chain) or (chain != "DOCKER-USER" and _DYNAMIC_IFACE.search(line)):
        return False
    if any(_DYNAMIC_CHAIN.match(t) for t in _targets(line)):
        return False
    if line.strip() == "-A DOCKER-USER -j RETURN":
        return False      # what dockerd puts there itself
    return True


# The tables iptables-nft / ip6tables-nft create: with the nf_tables backend they are
# compared through `iptables -S` (older nft versions do not mark them with a comment).
_XTABLES = {f"{fam} {t}" for fam in ("ip", "ip6") for t in ("filter", "nat", "mangle", "raw", "security")}


def _nft_tables(ruleset: str, xtables_nft: bool) -> Dict[str, List[str]]:
    """'family name' -> normalized lines of the nft tables iptables-nft does not manage
    (those are compared through iptables -S), orchestrators' tables left out."""
    out: Dict[str, List[str]] = {}
    managed: Set[str] = set(_XTABLES) if xtables_nft else set()
    current, depth = None, 0
    for raw in ruleset.splitlines():
        s = raw.strip()
        m = re.match(r"^# Warning: table (\S+ \S+) is managed by iptables-nft", s)
        if m:
            managed.add(m.group(1))
            continue
        if not s or s.startswith("#"):
            continue
        if current is None:
            m = re.match(r"^table (\S+) (\S+) \{$", s)
            if m:
                current, depth = f"{m.group(1)} {m.group(2)}", 1
                if current not in managed and not _DYNAMIC_NFT_TABLE.match(m.group(2)):
                    out[current] = []
            continue
        depth += s.count("{") - s.count("}")
        if current in out and s != "}":
            out[current].append(s)
        if depth <= 0:
            current = None
    return out


def firewall_shape(facts: Any) -> Any:
    """The egress-relevant firewall of a host: the filter rules reachable from OUTPUT and
    FORWARD (orchestrator chains left out), nat OUTPUT, the OUTPUT/FORWARD policies, and
    native nft tables with output/forward hooks. MISSING when the rules are unknown."""
    fw = dig(facts, "firewall")
    if not isinstance(fw, dict):
        return MISSING
    ipt, nft = fw.get("iptables") or {}, fw.get("nft") or {}
    if not isinstance(ipt, dict) or not isinstance(nft, dict):
        return MISSING
    if not ipt.get("installed") and not nft.get("installed"):
        return MISSING  # no tool to list the kernel's rules with: unknown, not "none"
    for tool in (ipt, nft):
        if tool.get("installed") and (tool.get("error") or tool.get("permission_denied") or tool.get("truncated")):
            return MISSING
    rules = ipt.get("rules") if isinstance(ipt.get("rules"), dict) else {}
    filt = [ln for ln in _list(rules.get("filter")) if isinstance(ln, str)]
    nat = [ln for ln in _list(rules.get("nat")) if isinstance(ln, str)]
    out_chains = _reachable(filt, ("OUTPUT",))
    fwd_chains = _reachable(filt, ("FORWARD",)) - out_chains
    policies = ipt.get("policies") if isinstance(ipt.get("policies"), dict) else {}
    nft_out, nft_fwd = [], []
    hooks: Dict[str, Set[str]] = {}
    for bc in _list(nft.get("base_chains")):
        if isinstance(bc, dict):
            hooks.setdefault(f"{bc.get('family')} {bc.get('table')}", set()).add(str(bc.get("hook")))
    ruleset = nft.get("ruleset") if isinstance(nft.get("ruleset"), str) else ""
    for table, lines in sorted(_nft_tables(ruleset, ipt.get("backend") == "nf_tables").items()):
        lines = [f"{table}: {ln}" for ln in lines]
        if "output" in hooks.get(table, ()):
            nft_out += lines
        elif "forward" in hooks.get(table, ()):
            nft_fwd += lines
    return {
        "output": {
            "policies": {k: policies[k] for k in EGRESS_POLICIES if k in policies},
            "rules": [ln for ln in filt if _chain_of(ln) in out_chains and _static(ln)][:LINES_CAP]
                     + [ln for ln in nat if _chain_of(ln) == "OUTPUT" and _static(ln)][:LINES_CAP],
            "nft": nft_out[:LINES_CAP],
        },
        "forward": {
            "policies": {k: policies[k] for k in FORWARD_POLICIES if k in policies},
            "rules": [ln for ln in filt if _chain_of(ln) in fwd_chains and _static(ln)][:LINES_CAP],
            "nft": nft_fwd[:LINES_CAP],
        },
    }


def _diff(mine: dict, want: dict, other: str = "fleet") -> Tuple[List[str], List[str], List[str], bool]:
    """(policy changes, extra lines, missing lines, order differs) of one direction."""
    pol = [f"{k} {mine['policies'].get(k, '-')} ({other} {want['policies'].get(k, '-')})"
           for k in sorted(set(mine["policies"]) | set(want["policies"]))
           if mine["policies"].get(k) != want["policies"].get(k)]
    a, b = Counter(mine["rules"] + mine["nft"]), Counter(want["rules"] + want["nft"])
    extra = sorted((a - b).elements())
    missing = sorted((b - a).elements())
    reordered = not extra and not missing and (mine["rules"] + mine["nft"]) != (want["rules"] + want["nft"])
    return pol, extra, missing, reordered


@rule(
    id="firewall.rules-differ", category="firewall", severity="medium",
    title="the host's egress firewall differs from the fleet",
    why="""
Hosts of one fleet should let the same traffic out. An OUTPUT policy or rule the others do
not have can block the registry's address or a registry port other than 443 (a :5000
registry, a proxy port): "dial tcp REGISTRY:PORT: i/o timeout" or "connect: connection
refused". Differences that only touch FORWARD affect containers and builds, not pulls.
Docker's, Kubernetes' and other orchestrators' own chains are left out of the comparison.
""",
    remediation=["sudo iptables -S; sudo iptables -t nat -S; sudo nft list ruleset   # here and on a working host"],
)
def rules_differ(ctx: HostContext) -> Iterator[Hit]:
    mine = firewall_shape(ctx.facts)
    if mine is MISSING:
        return
    exp = ctx.expect("firewall.egress_shape", firewall_shape)
    if exp is None or not isinstance(exp.value, dict) or exp.value == mine:
        return
    other = whose(exp)[4:-2]
    pol_o, extra_o, missing_o, order_o = _diff(mine["output"], exp.value["output"], other)
    pol_f, extra_f, missing_f, order_f = _diff(mine["forward"], exp.value["forward"], other)
    egress = bool(pol_o or extra_o or missing_o or order_o)
    if not egress and not (pol_f or extra_f or missing_f or order_f):
        return
    blocked = dig(ctx.facts, "firewall.output_blocks_443") is True or dig(ctx.facts, "firewall.output_blocks_dns") is True
    proven_open = (dig(ctx.facts, "firewall.output_blocks_443") is False
                   and dig(ctx.facts, "firewall.output_blocks_dns") is False
                   and all(split_host_port(r)[1] == 443 for r in ctx.registries()))
    if not egress:
        severity = "low"
    elif blocked or proven_open:
        severity = "low"      # the verdict rules say what it does to 443/53 already
    else:
        severity = "medium"
    parts = []
    for label, pol, extra, missing, order in (("OUTPUT", pol_o, extra_o, missing_o, order_o),
                                              ("FORWARD", pol_f, extra_f, missing_f, order_f)):
        if pol:
            parts.append(f"{label} policy " + "; ".join(pol))
        if extra:
            parts.append(f"{len(extra)} {label} rule(s) only here")
        if missing:
            parts.append(f"{len(missing)} {other} {label} rule(s) missing")
        if order:
            parts.append(f"{label} rules in another order")
    evidence = []
    for k in sorted(set(mine["output"]["policies"]) | set(exp.value["output"]["policies"])
                    | set(mine["forward"]["policies"]) | set(exp.value["forward"]["policies"])):
        a = {**mine["output"]["policies"], **mine["forward"]["policies"]}.get(k)
        b = {**exp.value["output"]["policies"], **exp.value["forward"]["policies"]}.get(k)
        if a != b:
            evidence.append(ev(join_all(("firewall", "iptables", "policies", k)), a, b, note=exp.source))
    if extra_o or extra_f:
        evidence.append(ev("firewall.iptables.rules", [cap(x, 200) for x in (extra_o + extra_f)[:8]],
                           note="only on this host"))
    if missing_o or missing_f:
        evidence.append(ev("firewall.iptables.rules", None, [cap(x, 200) for x in (missing_o + missing_f)[:8]],
                           note=f"on the {exp.source}, not here"))
    if not evidence:
        evidence.append(ev("firewall.iptables.rules", "same rules, other order", note=exp.source))
    fixes = ["sudo iptables -S; sudo iptables -t nat -S; sudo nft list ruleset   # compare with a working host"]
    for line in (extra_o + extra_f)[:3]:
        if line.startswith("-A "):
            try:
                tokens = shlex.split(line)
            except ValueError:
                continue
            table = "nat" if line in mine["output"]["rules"] and line not in _filter_lines(ctx.facts) else "filter"
            fixes.append(f"sudo iptables -t {table} -D " + " ".join(q(t) for t in tokens[1:])
                         + "   # a rule only this host has")
    fixes.append(_persist(ctx.family, ""))
    yield Hit(evidence=evidence, severity=severity,
              title=f"firewall differs from {whose(exp)[:-2]}: " + "; ".join(parts)[:200], remediation=fixes)


def _filter_lines(facts: Any) -> List[str]:
    rules = dig(facts, "firewall.iptables.rules.filter")
    return [ln for ln in rules if isinstance(ln, str)] if isinstance(rules, list) else []
