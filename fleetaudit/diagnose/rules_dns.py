"""Diagnosis rules: name resolution of the registries.

dockerd resolves registry names with the host's resolver: /etc/hosts and nsswitch.conf
first, then the nameservers of /etc/resolv.conf (re-read within seconds, no restart).
With systemd-resolved that file names the stub 127.0.0.53, which forwards to the
upstream servers resolved knows. daemon.json "dns" only sets containers' resolvers.
"""
from __future__ import annotations

from typing import Any, Iterator, List, Optional

from ..facts.daemon import daemon_config, log_counts
from ..facts.fleet import Expect
from ..facts.proxy import no_proxy_covers
from ..facts.registries import split_host_port
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import cap, q, restart_docker, whose

STUBS = ("127.0.0.53", "127.0.0.54")
# Pull errors a resolver problem produces (fleetaudit.pullerrors ids).
DNS_SYMPTOMS = ("no-such-host", "dns-server-misbehaving", "dns-lookup-failed")
# nsswitch sources that end up asking DNS (nss-resolve asks systemd-resolved).
DNS_SOURCES = {"dns", "resolve"}


def _str_list(value: Any) -> List[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _resolv(facts: Any) -> Optional[dict]:
    rc = dig(facts, "dns.resolv_conf")
    return rc if isinstance(rc, dict) else None


def upstreams(facts: Any) -> List[str]:
    """The servers systemd-resolved forwards to (resolvectl, else its uplink file)."""
    ups = _str_list(dig(facts, "dns.resolved.upstreams"))
    return ups or _str_list(dig(facts, "dns.uplink_nameservers"))


def effective_servers(facts: Any) -> Any:
    """The nameservers lookups really reach, in order: resolv.conf's, with the stub
    replaced by resolved's upstreams. MISSING when unknown (no file, no servers, a stub
    whose upstreams are not known: other rules report those)."""
    rc = _resolv(facts)
    if rc is None or rc.get("present") is not True:
        return MISSING
    servers: List[str] = []
    for ns in _str_list(rc.get("nameservers")):
        if ns in STUBS:
            ups = upstreams(facts)
            if not ups:
                return MISSING
            servers += [u for u in ups if u not in servers]
        elif ns not in servers:
            servers.append(ns)
    return servers or MISSING


def _servers_path(facts: Any) -> str:
    rc = _resolv(facts) or {}
    if rc.get("is_stub"):
        return "dns.resolved.upstreams" if _str_list(dig(facts, "dns.resolved.upstreams")) else "dns.uplink_nameservers"
    return "dns.resolv_conf.nameservers"


def _via_systemd(facts: Any) -> bool:
    rc = _resolv(facts) or {}
    link = rc.get("symlink") if isinstance(rc.get("symlink"), str) else ""
    return bool(rc.get("is_stub")) or "systemd/resolve" in link


def set_resolvers(ctx: HostContext, servers: List[str]) -> List[str]:
    """Commands that make the host resolve with `servers`, the way this host manages it."""
    if not servers:
        return ["point /etc/resolv.conf at the network's nameservers"]
    listed = " ".join(servers)
    if _via_systemd(ctx.facts):
        return [f"sudo sed -i -E 's/^#?DNS=.*/DNS={listed}/' /etc/systemd/resolved.conf",
                "sudo systemctl restart systemd-resolved", "resolvectl status"]
    if ctx.family == "rhel":
        return ["nmcli -g NAME,DEVICE connection show --active",
                f"sudo nmcli connection modify CONNECTION ipv4.dns {q(listed)} ipv4.ignore-auto-dns yes",
                "sudo nmcli connection up CONNECTION   # NetworkManager rewrites /etc/resolv.conf"]
    return ["sudo cp /etc/resolv.conf /etc/resolv.conf.bak",
            "sudo sed -i '/^[[:space:]]*nameserver/d' /etc/resolv.conf",
            "printf 'nameserver %s\\n' " + " ".join(q(s) for s in servers) + " | sudo tee -a /etc/resolv.conf"]


def check_lookup(ctx: HostContext, server: Optional[str] = None) -> List[str]:
    reg = split_host_port(ctx.example_registry())[0]
    out = [f"getent hosts {q(reg)}   # dockerd resolves like this; no docker restart needed"]
    if server:
        out.append(f"dig +short {q(reg)} @{q(server)}")
    return out


def _symptoms(ctx: HostContext) -> List[dict]:
    return [ev(join_all(("daemon_log", "counts", c)), n, note="pulls already fail this way")
            for c, n in log_counts(ctx.facts, DNS_SYMPTOMS).items()]


def _all_proxied(ctx: HostContext) -> bool:
    """Every registry the fleet uses goes through the daemon's HTTPS proxy, which
    resolves registry names itself: the host's resolver then matters less."""
    dp = ctx.view.daemon_proxy
    if dp is None or not dp.get("HTTPS_PROXY"):
        return False
    regs = ctx.registries()
    return bool(regs) and not any(no_proxy_covers(dp.get("NO_PROXY"), *split_host_port(r)) for r in regs)


@rule(
    id="dns.no-nameserver", category="dns", severity="critical",
    title="no nameserver configured: registry names cannot resolve",
    why="""
Without /etc/resolv.conf or a nameserver line in it, lookups go to 127.0.0.1:53 / [::1]:53,
where usually nothing answers: pulls fail with "dial tcp: lookup REGISTRY on [::1]:53: read
udp [::1]:...->[::1]:53: read: connection refused" (or "no such host" / "Temporary failure
in name resolution" from other tools). Only names pinned in /etc/hosts still resolve.
""",
    remediation=["restore /etc/resolv.conf with the network's nameservers"],
)
def no_nameserver(ctx: HostContext) -> Iterator[Hit]:
    rc = _resolv(ctx.facts)
    if rc is None or rc.get("present") is None:
        return
    if rc["present"] is False:
        evidence = [ev("dns.resolv_conf.present", False, True)]
        title = "/etc/resolv.conf does not exist: registry names cannot resolve"
    elif not _str_list(rc.get("nameservers")):
        evidence = [ev("dns.resolv_conf.nameservers", [], "at least one nameserver")]
        title = None
    else:
        return
    exp = ctx.expect("dns.effective_servers", effective_servers)
    servers = exp.value if exp is not None and isinstance(exp.value, list) else []
    if servers:
        evidence[0]["note"] = f"{exp.source}: {', '.join(servers)}"
    fixes = (["sudo ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf   # systemd-resolved hosts"]
             if isinstance(dig(ctx.facts, "dns.resolved"), dict) and dig(ctx.facts, "dns.resolved.available") else [])
    fixes += set_resolvers(ctx, servers) if servers else [
        "printf 'nameserver %s\\n' NAMESERVER_IP | sudo tee -a /etc/resolv.conf"]
    yield Hit(evidence=evidence + _symptoms(ctx), title=title, remediation=fixes + check_lookup(ctx))


@rule(
    id="dns.stub-no-upstream", category="dns", severity="high",
    title="resolv.conf points at the systemd-resolved stub, which has no upstream server",
    why="""
With nameserver 127.0.0.53 every lookup goes to systemd-resolved, which forwards it to the
DNS servers it learned (DHCP, netplan, resolved.conf). With none, or with resolved not
running, lookups fail: "dial tcp: lookup REGISTRY on 127.0.0.53:53: server misbehaving" (no
upstream) or "... read udp 127.0.0.1:...->127.0.0.53:53: read: connection refused" (nothing
listening).
""",
    remediation=["resolvectl status", "configure DNS= in /etc/systemd/resolved.conf (or the network config)",
                 "sudo systemctl restart systemd-resolved"],
)
def stub_no_upstream(ctx: HostContext) -> Iterator[Hit]:
    rc = _resolv(ctx.facts)
    resolved = dig(ctx.facts, "dns.resolved")
    if rc is None or not rc.get("is_stub") or upstreams(ctx.facts):
        return
    if not isinstance(resolved, dict) and dig(ctx.facts, "dns.uplink_nameservers") is None:
        return   # nothing tells what the stub forwards to
    nameservers = _str_list(rc.get("nameservers"))
    others = [n for n in nameservers if n not in STUBS]
    error = resolved.get("error") if isinstance(resolved, dict) else None
    if isinstance(resolved, dict) and resolved.get("available") is False:
        state = "systemd-resolved is not installed"
    elif error:
        state = "systemd-resolved does not answer"
    else:
        state = "systemd-resolved has no upstream DNS server"
    evidence = [ev("dns.resolv_conf.nameservers", nameservers, note="127.0.0.53 is systemd-resolved's stub"),
                ev("dns.resolved.upstreams", [], "at least one upstream server",
                   note=cap(error, 200) if error else state)]
    exp = ctx.expect("dns.effective_servers", effective_servers)
    servers = exp.value if exp is not None and isinstance(exp.value, list) else []
    if servers:
        evidence[-1]["note"] += f"; {exp.source}: {', '.join(servers)}"
    listed = " ".join(servers) or "NAMESERVER_IP"
    if state.endswith("not installed"):
        fixes = ["sudo rm /etc/resolv.conf   # a stub file without systemd-resolved behind it",
                 f"printf 'nameserver %s\\n' {' '.join(q(s) for s in servers) or 'NAMESERVER_IP'} | sudo tee /etc/resolv.conf"]
    else:
        fixes = ["resolvectl status", "sudo systemctl enable --now systemd-resolved",
                 f"sudo sed -i -E 's/^#?DNS=.*/DNS={listed}/' /etc/systemd/resolved.conf",
                 "sudo systemctl restart systemd-resolved"]
    yield Hit(evidence=evidence + _symptoms(ctx),
              severity="medium" if others else "high",
              title=f"resolv.conf uses the 127.0.0.53 stub but {state}"
                    + (f" (falls back to {', '.join(others)[:60]})" if others else ""),
              remediation=fixes + check_lookup(ctx))


@rule(
    id="dns.resolver-differs", category="dns", severity="high",
    title="the host asks other nameservers than the fleet",
    why="""
Hosts on one network should ask the same resolvers. Other nameservers may not know the
private zone the registry lives in, or not answer at all: "dial tcp: lookup REGISTRY on
NAMESERVER:53: no such host", "... server misbehaving", or "... read udp ...: i/o timeout".
The same set in another order only slows lookups down when the first server is dead.
""",
    remediation=["point the host at the fleet's nameservers"],
)
def resolver_differs(ctx: HostContext) -> Iterator[Hit]:
    mine = effective_servers(ctx.facts)
    if mine is MISSING:
        return
    exp = ctx.expect("dns.effective_servers", effective_servers)
    if exp is None or not isinstance(exp.value, list) or not exp.value or exp.value == mine:
        return
    want = exp.value
    symptoms = _symptoms(ctx)
    if not set(mine) & set(want):
        severity, how = "high", f"asks {', '.join(mine)[:80]} instead of {whose(exp)} {', '.join(want)[:80]}"
    elif set(mine) != set(want):
        severity, how = "medium", f"nameservers {', '.join(mine)[:80]} differ from {whose(exp)} {', '.join(want)[:80]}"
    else:
        severity, how = "low", f"same nameservers in another order ({', '.join(mine)[:80]})"
    if symptoms:
        severity = "high"
    elif severity == "high" and _all_proxied(ctx):
        severity = "medium"   # the proxy resolves registry names; the host resolves the proxy only
    yield Hit(evidence=[ev(_servers_path(ctx.facts), mine, want, note=exp.source), *symptoms],
              severity=severity, title="resolver " + how,
              remediation=set_resolvers(ctx, want) + check_lookup(ctx, want[0]))


def _nss_problem(sources: List[str]) -> Optional[str]:
    words = [s.lower() for s in sources]
    plain = [w for w in words if not w.startswith("[")]
    if not plain:
        return None   # an empty hosts line: glibc's default asks DNS
    if not DNS_SOURCES & set(plain):
        return "no DNS source"
    first = next(i for i, w in enumerate(words) if w in DNS_SOURCES)
    for i, w in enumerate(words[:first]):
        if w == "files" and i + 1 < len(words) and words[i + 1].replace(" ", "") in ("[notfound=return]", "[!success=return]"):
            return f"'{sources[i + 1]}' after files stops before DNS"
    return None


@rule(
    id="dns.nsswitch-no-dns", category="dns", severity="high",
    title="nsswitch.conf never asks DNS for host names",
    why="""
The "hosts:" line of /etc/nsswitch.conf decides which sources name lookups use; Go (dockerd)
honors it like glibc. Without "dns" (or "resolve"), or with "[NOTFOUND=return]" right after
"files", only /etc/hosts is consulted and every registry name not pinned there fails: "dial
tcp: lookup REGISTRY: no such host".
""",
    remediation=["sudo sed -i -E 's/^hosts:.*/hosts: files dns/' /etc/nsswitch.conf"],
)
def nsswitch_no_dns(ctx: HostContext) -> Iterator[Hit]:
    sources = _str_list(dig(ctx.facts, "dns.nsswitch_hosts"))
    problem = _nss_problem(sources) if sources else None
    if not problem:
        return
    yield Hit(evidence=[ev("dns.nsswitch_hosts", sources, ["files", "dns"], note=problem), *_symptoms(ctx)],
              title=f"nsswitch.conf hosts: {' '.join(sources)[:80]} ({problem})",
              remediation=["sudo cp /etc/nsswitch.conf /etc/nsswitch.conf.bak",
                           "sudo sed -i -E 's/^hosts:.*/hosts: files dns/' /etc/nsswitch.conf"
                           + ("   # keep 'resolve' or 'myhostname' if the fleet uses them" if ctx.family != "alpine" else ""),
                           *check_lookup(ctx)])


def daemon_dns(facts: Any) -> Any:
    """daemon.json "dns" ([] when unset), MISSING when the file could not be read."""
    if dig(facts, "daemon_json.present") is False:
        return []
    cfg = daemon_config(facts)
    if cfg is None:
        return MISSING
    return _str_list(cfg.get("dns"))


@rule(
    id="dns.daemon-dns", category="dns", severity="low",
    title='daemon.json "dns" differs from the fleet (containers and builds resolve differently)',
    why="""
daemon.json "dns" sets the nameservers of containers, not of dockerd itself: pulls are not
affected, but `docker build` RUN steps and containers resolve through them ("Temporary
failure resolving ...", "Could not resolve host"). A loopback address there (127.0.0.53,
127.0.0.1) is the host's own loopback, which containers on a bridge network cannot reach.
""",
    remediation=['set "dns" in /etc/docker/daemon.json like the fleet', "restart docker"],
    needs_docker=True,
)
def daemon_dns_differs(ctx: HostContext) -> Iterator[Hit]:
    mine = daemon_dns(ctx.facts)
    if mine is MISSING:
        return
    loopback = [s for s in mine if s.startswith("127.") or s == "::1"]
    exp = ctx.expect("daemon_json.dns", daemon_dns)
    want = exp.value if exp is not None and isinstance(exp.value, list) else None
    if not loopback and (want is None or sorted(want) == sorted(mine)):
        return
    path = "daemon_json.config.dns"
    if loopback:
        title = f'daemon.json "dns" holds loopback {", ".join(loopback)[:60]}: containers cannot reach it'
    elif not mine:
        title = f'no daemon.json "dns" ({whose(exp)[:-2]} sets {", ".join(want)[:80]})'
    else:
        title = (f'daemon.json "dns" {", ".join(mine)[:60]} differs from {whose(exp)} '
                 f'{", ".join(want or [])[:60] or "(none)"}')
    target = [s for s in (want or []) if not s.startswith("127.")]
    fixes = [f'set "dns": [{", ".join(q(s) for s in target)}] in /etc/docker/daemon.json' if target
             else 'remove "dns" from /etc/docker/daemon.json (containers then get the host\'s upstream servers)',
             restart_docker(ctx.family),
             "docker run --rm busybox nslookup " + q(split_host_port(ctx.example_registry())[0])]
    yield Hit(evidence=[ev(path, mine, want if want is not None else [],
                           note=exp.source if exp else "no fleet expectation")],
              severity="medium" if loopback else "low", title=title, remediation=fixes)


def _pins(name: str):
    def getter(facts: Any) -> Any:
        entries = dig(facts, "dns.hosts_entries")
        if not isinstance(entries, dict):
            return MISSING
        got = entries.get(name)
        if got is None and dig(facts, "dns.hosts_capped"):
            return MISSING     # the listing was cut: an absent pin is unknown
        return sorted(_str_list(got)) or None
    return getter


@rule(
    id="dns.hosts-pin", category="dns", severity="medium",
    title="/etc/hosts pins a registry name differently from the fleet",
    why="""
An /etc/hosts entry wins over DNS. A stale or extra pin sends pulls to another address:
"dial tcp ADDRESS:443: connect: connection refused" / "i/o timeout", or another server's
certificate: "x509: certificate is valid for OTHER, not REGISTRY". Without a pin the fleet
relies on, the name goes to DNS, which may not know it: "no such host".
""",
    remediation=["make the /etc/hosts entry for the registry match the fleet (or remove it)"],
)
def hosts_pin(ctx: HostContext) -> Iterator[Hit]:
    for reg in ctx.registries():
        name = split_host_port(reg)[0].lower()
        getter = _pins(name)
        mine = getter(ctx.facts)
        if mine is MISSING:
            continue
        exp: Optional[Expect] = ctx.expect(f"dns.hosts_entries.{name}", getter)
        if exp is None or exp.value == mine:
            continue
        want = exp.value
        if mine and not want:
            title = f"/etc/hosts pins {name} to {', '.join(mine)[:60]}; {whose(exp)[:-2]} resolves it via DNS"
            fixes = [f"sudo sed -i.bak -E '/[[:space:]]{_sed_name(name)}([[:space:]]|$)/d' /etc/hosts"]
        elif want and not mine:
            title = f"/etc/hosts has no pin for {name}; {whose(exp)[:-2]} pins it to {', '.join(want)[:60]}"
            fixes = [f"echo {q(want[0] + ' ' + name)} | sudo tee -a /etc/hosts"]
        else:
            title = f"/etc/hosts pins {name} to {', '.join(mine)[:60]}, {whose(exp)[:-2]} to {', '.join(want)[:60]}"
            fixes = [f"sudo sed -i.bak -E '/[[:space:]]{_sed_name(name)}([[:space:]]|$)/d' /etc/hosts",
                     f"echo {q(want[0] + ' ' + name)} | sudo tee -a /etc/hosts"]
        yield Hit(evidence=[ev(join_all(("dns", "hosts_entries", name)), mine, want, note=exp.source),
                            *_symptoms(ctx)],
                  title=title, remediation=fixes + [f"getent hosts {q(name)}"])


def _sed_name(name: str) -> str:
    """A host name as a literal in a sed ERE (names are [a-z0-9.-], dots escaped)."""
    return "".join(c if c.isalnum() or c == "-" else "\\." if c == "." else "" for c in name)
