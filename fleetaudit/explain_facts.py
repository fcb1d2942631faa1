"""What a snapshot's facts say against a cause `fleetaudit explain` ranked from text alone.

The one place explain reads host facts, through the fact views of fleetaudit.facts
(HostView answers: dockerd's proxy route and CA trust for a registry, root's credentials,
the clock offset). Each question answers True / False for one host, or None
when the host's facts do not say (a missing collector, a failed section): unknown never
rules anything out.

A cause is ruled out only when EVERY host in scope answers the ruling-out question
(explain does not know which host printed the error, so one host that could show the
cause keeps it). Each rule returns the sentence the output prints, naming the facts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .facts import FleetView, HostView
from .facts.proxy import no_proxy_covers
from .models import RunResult
from .reference import ReferenceError, parse as parse_reference

CLOCK_OK_S = 60.0            # a clock within a minute cannot fail certificate validity
DISK_FREE_OK_PCT = 90.0      # used below this share (and inodes too): space is no cause
PUBLIC_BUNDLE_MIN = 100      # a system CA bundle this large holds the public roots

# Hosts whose certificates are renewed long before they expire: "expired or not yet
# valid" from them says more about this host's clock than about their certificate.
PUBLIC_REGISTRY_HOSTS = re.compile(
    r"(?:^|[/@.\s\"'])(?:(?:registry-1|index|auth|production\.cloudflare|production\.cloudfront|registry)\.docker\.(?:io|com)|"
    r"docker\.io|(?:[a-z0-9-]+\.)?gcr\.io|registry\.k8s\.io|k8s\.gcr\.io|quay\.io|cdn\d*\.quay\.io|"
    r"ghcr\.io|pkg-containers\.githubusercontent\.com|public\.ecr\.aws|"
    r"[a-z0-9-]+\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com|mcr\.microsoft\.com|"
    r"[a-z0-9-]+-docker\.pkg\.dev|storage\.googleapis\.com|[a-z0-9]+\.cloudfront\.net|"
    r"docker\.elastic\.co|registry\.access\.redhat\.com|registry\.redhat\.io|nvcr\.io|"
    # Cloudflare R2 buckets (Docker Hub's blobs since 2024): a public CA's certificate, like S3's
    r"(?:[a-z0-9-]+\.)?[a-f0-9]{32}\.r2\.cloudflarestorage\.com)"
    r"(?=[:/\s\"'\\]|$)", re.IGNORECASE)
_URL_HOST = re.compile(r"https?:/+\[?([A-Za-z0-9.-]+)(?:\]?:(\d+))?[/\"'\\\s]", re.IGNORECASE)
_LOOKUP_HOST = re.compile(r"lookup ([A-Za-z0-9.-]+\.[A-Za-z]{2,})", re.IGNORECASE)
_IMAGE = re.compile(r"(?:pull access denied for|manifest for|image|docker://|reference|pulling)\s+"
                    r"\\?\"?([A-Za-z0-9][\w.:/@-]*[\w])", re.IGNORECASE)
# Hosts a pull talks to that are not the registry named in certs.d/config.json.
_HUB_HOSTS = ("registry-1.docker.io", "index.docker.io", "auth.docker.io", "docker.io")


@dataclass(frozen=True)
class Registry:
    host: str           # as certs.d and /etc/hosts name it, without port
    domain: str         # host[:port] as config.json / certs.d name it
    port: int = 443


def registry_of(text: str) -> Optional[Registry]:
    """The registry the error is about: the first URL's host, else a looked-up name, else
    the registry part of an image reference in the text."""
    m = _URL_HOST.search(text + " ")
    if m and not m.group(1).lower().endswith(".sock") and m.group(1).lower() not in ("docker", "localhost"):
        host = m.group(1).lower()
        port = int(m.group(2)) if m.group(2) else 443
        if host in _HUB_HOSTS:
            return Registry("registry-1.docker.io", "docker.io")
        return Registry(host, f"{host}:{port}" if m.group(2) else host, port)
    m = _LOOKUP_HOST.search(text)
    if m:
        host = m.group(1).lower()
        return Registry("registry-1.docker.io", "docker.io") if host in _HUB_HOSTS else Registry(host, host)
    for m in _IMAGE.finditer(text):
        try:
            ref = parse_reference(m.group(1).rstrip(".,'"))
        except (ReferenceError, ValueError):
            continue
        if ref.domain == "docker.io":
            return Registry("registry-1.docker.io", "docker.io")
        return Registry(ref.host, ref.domain, ref.port)
    return None


# ------------------------------------------------------------------ per-host questions

def _get(facts: dict, *path):
    """A raw fact whose keys may hold dots (host names), which HostView.fact cannot address."""
    node = facts
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node

# Each takes a HostView (fleetaudit.facts) and answers (True/False/None, the fact it rests on).

def daemon_proxy_for(view: HostView, reg: Registry) -> Tuple[Optional[bool], str]:
    """(does dockerd send this registry's traffic through a proxy?, why)."""
    route = view.daemon_proxy_for(reg.domain)
    if not route.known:
        return None, ""
    return route.via_proxy, route.reason


def daemon_trusts_ca(view: HostView, reg: Registry) -> Tuple[Optional[bool], str]:
    """(does dockerd have a CA for this registry?, the fact): certs.d/REGISTRY/ca.crt, an
    insecure-registries entry (nothing verified), or for a public registry a full system
    bundle (its CA is a public root)."""
    trust = view.trust_for(reg.domain)
    if not trust.known:
        return None, ""
    if trust.verified is False:
        return True, f"insecure-registries entry {trust.insecure_entry!r} (no verification)"
    if trust.ca_files:
        return True, f"certs.d CA {trust.ca_files[0]}"
    bundle = trust.system_bundle or {}
    count = bundle.get("count")
    if PUBLIC_REGISTRY_HOSTS.search(" " + reg.host + " ") and bundle.get("present") and \
            isinstance(count, int) and not isinstance(count, bool) and count >= PUBLIC_BUNDLE_MIN:
        return True, f"system bundle with {count} roots (a public registry's CA is among them)"
    return False, ""


def clock_offset(view: HostView) -> Tuple[Optional[float], str]:
    """(the worst-case clock offset from the controller in seconds, the fact)."""
    skew = view.clock_offset_s
    if skew is None:
        return None, ""
    worst = abs(skew) + (view.clock_uncertainty_s or 0.0)
    return worst, f"time.clock.skew_s={skew:+.3f}"


def resolves(view: HostView, reg: Registry) -> Tuple[Optional[bool], str]:
    """(does this host resolve the registry?, the fact): an /etc/hosts pin, or the gate
    probe's getent when the snapshot carries it."""
    pins = _get(view.facts, "dns", "hosts_entries")
    if isinstance(pins, dict) and isinstance(pins.get(reg.host), list) and pins[reg.host]:
        return True, f"dns.hosts_entries[{reg.host}]"
    probe = _get(view.facts, "gate_probe", "registries")
    if isinstance(probe, dict):
        for name in (reg.domain, reg.host):
            entry = probe.get(name)
            if isinstance(entry, dict) and isinstance(entry.get("resolved"), bool):
                return entry["resolved"], f"gate_probe.registries[{name}].resolved"
    return None, ""


def has_credentials(view: HostView, reg: Registry) -> Tuple[Optional[bool], str]:
    """(does root's docker config hold credentials for the registry?, the fact)."""
    has = view.root_has_credentials(reg.domain)
    return has, (f"credentials.root_registries has {reg.domain}" if has else "")


def docker_daemon_up(view: HostView) -> Tuple[Optional[bool], str]:
    if view.docker_running:
        return True, "docker.daemon_up"
    running = view.fact("proxy.dockerd_running")
    return (running, "proxy.dockerd_running") if isinstance(running, bool) else (None, "")


def disk_room(view: HostView) -> Tuple[Optional[bool], str]:
    root = view.fact("disk.data_root")
    if not isinstance(root, dict) or root.get("error"):
        return None, ""
    used, inodes = root.get("used_pct"), root.get("inodes_used_pct")
    if not isinstance(used, (int, float)) or not isinstance(inodes, (int, float)):
        return None, ""
    ok = used < DISK_FREE_OK_PCT and inodes < DISK_FREE_OK_PCT
    return ok, f"disk.data_root used {used:.0f}%, inodes {inodes:.0f}%"


# ------------------------------------------------------------------ ruling out

# Error classes that cannot happen without a proxy configured for dockerd (Go reports
# these only for a proxy it was told to use).
NEEDS_CONFIGURED_PROXY = ("proxyconnect-failed", "proxy-scheme-mismatch", "proxy-auth-required",
                          "proxy-connect-status")
# Error classes that claim credentials are absent.
CLAIMS_NO_CREDENTIALS = ("no-basic-auth-credentials",)
CLAIMS_UNKNOWN_CA = ("x509-unknown-authority",)
CLAIMS_NO_RESOLUTION = ("no-such-host", "dns-server-misbehaving", "dns-lookup-failed")
CLAIMS_DAEMON_DOWN = ("daemon-not-running",)
CLAIMS_DISK = ("no-space-left", "disk-quota-exceeded")


def scope_of(snapshot: Optional[RunResult], hosts: Optional[Sequence[str]] = None) -> Dict[str, HostView]:
    """name -> HostView of the hosts to judge by: the named ones (else all) that were audited."""
    if snapshot is None:
        return {}
    fleet = FleetView(snapshot)
    return {h.name: fleet.host(h.name) for h in fleet.audited()
            if h.facts and (not hosts or h.name in hosts)}


def _on_every_host(scope: Dict[str, HostView], question: Callable[[HostView], Tuple[object, str]],
                   rules_out: Callable[[object], bool]) -> Optional[List[str]]:
    """The per-host facts when every host's answer rules the cause out, else None."""
    said = []
    for name, facts in scope.items():
        answer, fact = question(facts)
        if answer is None or not rules_out(answer):
            return None
        said.append(f"{name}: {fact}")
    return said or None


def _every(scope: Dict[str, HostView]) -> str:
    """How a reason names all the hosts in scope: the host, "both hosts", "all N hosts"."""
    n = len(scope)
    return next(iter(scope)) if n == 1 else ("both hosts" if n == 2 else f"all {n} hosts")


def _summary(said: List[str], limit: int = 3) -> str:
    more = f" (+{len(said) - limit} more)" if len(said) > limit else ""
    return "; ".join(said[:limit]) + more


def ruled_out(text: str, matched: Sequence[str], snapshot: Optional[RunResult],
              hosts: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """category -> why the snapshot's facts rule that cause out, for the causes the
    matched error classes (or any text, for the clock) put forward."""
    scope = scope_of(snapshot, hosts)
    if not scope:
        return {}
    reg = registry_of(text)
    out: Dict[str, str] = {}
    every = _every(scope)

    said = _on_every_host(scope, clock_offset, lambda worst: worst <= CLOCK_OK_S)
    if said:
        out["time"] = f"clock within {CLOCK_OK_S:.0f}s of the controller on {every}: {_summary(said)}"
    said = _on_every_host(scope, docker_daemon_up, lambda up: up is True)
    if said and any(c in CLAIMS_DAEMON_DOWN for c in matched):
        out["daemon"] = f"dockerd answering on {every}: {_summary(said)}"
    said = _on_every_host(scope, disk_room, lambda ok: ok is True)
    if said and any(c in CLAIMS_DISK for c in matched):
        out["disk"] = f"room on the Docker data root now on {every}: {_summary(said)}"
    if reg is None:
        return out
    if any(c in NEEDS_CONFIGURED_PROXY for c in matched):
        said = _on_every_host(scope, lambda f: daemon_proxy_for(f, reg), lambda p: p is False)
        if said:
            out["proxy"] = (f"no proxy for {reg.host} in dockerd's settings on {every}, and this "
                            f"error only comes from a configured one: {_summary(said)}")
    if any(c in CLAIMS_UNKNOWN_CA for c in matched):
        said = _on_every_host(scope, lambda f: daemon_trusts_ca(f, reg), lambda t: t is True)
        if said:
            out["tls"] = (f"{reg.domain}'s CA trusted by dockerd on {every}, so an unknown authority "
                          f"means someone else's certificate (an intercepting proxy): {_summary(said)}")
    if any(c in CLAIMS_NO_RESOLUTION for c in matched):
        said = _on_every_host(scope, lambda f: resolves(f, reg), lambda r: r is True)
        if said:
            out["dns"] = f"{reg.host} resolving on {every}: {_summary(said)}"
    if any(c in CLAIMS_NO_CREDENTIALS for c in matched):
        said = _on_every_host(scope, lambda f: has_credentials(f, reg), lambda c: c is True)
        if said:
            out["auth"] = f"root's credentials for {reg.domain} present on {every}: {_summary(said)}"
    return out


# ------------------------------------------------------------------ raising

# Validity errors: either the host's clock or the certificate's own dates are wrong.
CLAIMS_VALIDITY = ("x509-expired", "x509-not-yet-valid", "x509-expired-or-not-yet-valid")
# Failures to open a connection, which this host's own packet filter produces when it drops
# (timeouts), rejects (refused, reset, unreachable) or refuses (EPERM) its outgoing packets.
CONNECT_FAILURES = ("connection-refused", "io-timeout", "request-timeout", "connection-reset",
                    "no-route-to-host", "network-unreachable", "local-egress-blocked")
_DIAL_PORT = re.compile(r"dial tcp[46]? (?!lookup)\[?[^\s\]]+?\]?:(\d+)\b", re.IGNORECASE)


def connect_port(text: str, reg: Optional[Registry]) -> Optional[int]:
    """The TCP port the failed connection went to: the dialed one when the text says, else
    the registry's (its URL's, 443 by default)."""
    m = _DIAL_PORT.search(text)
    if m:
        return int(m.group(1))
    return reg.port if reg is not None else None


def output_blocks(view: HostView, reg: Registry, port: int) -> Tuple[Optional[bool], str]:
    """(does this host's own firewall block dockerd's outgoing connection to the registry
    on `port`?, the fact). Only tcp/443 is a collected fact; a dockerd that sends the
    registry through a proxy connects to the proxy, not to this port."""
    if port != 443:
        return None, ""
    blocks = view.fact("firewall.output_blocks_443")
    if not isinstance(blocks, bool):
        return None, ""
    if blocks and daemon_proxy_for(view, reg)[0] is True:
        return False, ""
    rule = view.fact("firewall.blocked_by.output_443")
    return blocks, ("firewall.output_blocks_443" + (f" ({rule})" if isinstance(rule, str) and rule else ""))


def login_proxy_only(view: HostView, reg: Registry) -> Tuple[Optional[bool], str]:
    """(do logins on this host reach the registry through a proxy that dockerd does not
    use?, the fact): dockerd goes direct to it while /etc/environment, a profile script or
    the SSH session sets HTTPS_PROXY and its NO_PROXY does not cover the registry. That is
    "curl works, docker pull does not" (rule proxy.shell-only): on a network where only the
    proxy gets out, dockerd's direct connection is the one that fails."""
    direct = daemon_proxy_for(view, reg)[0]
    if direct is None:
        return None, ""
    if direct is True:
        return False, ""
    url = view.login_value("HTTPS_PROXY")
    if not url:
        return False, ""
    if no_proxy_covers(view.login_value("NO_PROXY"), reg.host, reg.port):
        return False, ""
    path = next((p for p in view.login_proxies if p.lower().endswith(".https_proxy")), "")
    return True, f"{path or 'a login HTTPS_PROXY'} set, dockerd direct"


def raised(text: str, matched: Sequence[str], snapshot: Optional[RunResult],
           hosts: Optional[Sequence[str]] = None) -> Dict[str, Tuple[str, float]]:
    """category -> (why the snapshot's facts point at that cause of THIS error, weight):
    a fact that explains the error's own mechanism, not just a finding in its category.

    - a certificate validity error with every host's clock right: the certificate's dates
      are wrong (the complement of ruling the clock out, so on every host in scope);
    - a failure to connect to the registry's port where a host's own firewall blocks its
      outgoing connections to that port, or where a host's logins use a proxy its dockerd
      does not (then a blocked port is the network's egress policy, and the daemon's missing
      proxy the cause). Any host in scope can have printed the error: each of these causes
      weighs the share of those hosts that show it (1 when the host is named).
    """
    scope = scope_of(snapshot, hosts)
    if not scope:
        return {}
    out: Dict[str, Tuple[str, float]] = {}
    every = _every(scope)
    if any(c in CLAIMS_VALIDITY for c in matched):
        said = _on_every_host(scope, clock_offset, lambda worst: worst <= CLOCK_OK_S)
        if said:
            out["tls"] = (f"clock within {CLOCK_OK_S:.0f}s of the controller on {every}, so a certificate "
                          f"outside its validity period has wrong dates itself: {_summary(said)}", 1.0)
    reg = registry_of(text)
    if reg is None or not any(c in CONNECT_FAILURES for c in matched) \
            or any(c in CLAIMS_NO_RESOLUTION for c in matched):
        return out
    port = connect_port(text, reg)
    proxied: Dict[str, str] = {}
    blocked: Dict[str, str] = {}
    for name, view in scope.items():
        answer, fact = login_proxy_only(view, reg)
        if answer is True:
            proxied[name] = fact
        elif port:
            answer, fact = output_blocks(view, reg, port)
            if answer is True:
                blocked[name] = fact
    shown = len(proxied) + len(blocked)
    if proxied:
        out["proxy"] = (f"dockerd connects to {reg.host} directly while the host's logins use a proxy "
                        f"(curl works, docker pull does not where only the proxy gets out): "
                        f"{_summary([f'{h}: {f}' for h, f in proxied.items()])}", len(proxied) / shown)
    if blocked:
        out["firewall"] = (f"the host's own firewall blocks outgoing tcp/{port}, the port this connection "
                           f"to {reg.host} failed on: {_summary([f'{h}: {f}' for h, f in blocked.items()])}",
                           len(blocked) / shown)
    return out
