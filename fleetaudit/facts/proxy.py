"""The proxy dockerd really uses (HTTP_PROXY/HTTPS_PROXY/NO_PROXY: docker info for a
running daemon, else the proxy collector's view of its environ, unit + drop-ins and
daemon.json "proxies"), the SSH session's proxy (what the docker CLI and curl in a login
use, which the daemon does NOT), and Go's NO_PROXY semantics to decide whether a given
registry goes through the proxy."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

from .daemon import docker_running
from .registries import host_and_port, ip_of
from .schema import dig, join, join_all
from .values import pure_memo

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
# daemon.json "proxies" exists (and wins over the environment) from Docker 23; older
# engines reject its keys.
PROXIES_MIN_MAJOR = 23
PROXY_JSON_KEYS = {"HTTP_PROXY": "http-proxy", "HTTPS_PROXY": "https-proxy", "NO_PROXY": "no-proxy"}
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


def proxy_value(v: Any) -> str:
    """A proxy variable as the collectors report it: "url", {"value": "url"} or null."""
    if isinstance(v, dict):
        v = v.get("value")
    return v.strip() if isinstance(v, str) else ""


def proxy_lookup(d: Any, var: str) -> Tuple[str, Optional[str]]:
    """(value, key) of VAR in an env mapping; Go reads the upper-case name first."""
    if not isinstance(d, dict):
        return "", None
    for key in (var, var.lower()):
        val = proxy_value(d.get(key))
        if val:
            return val, key
    return "", None


@pure_memo(4096)  # pure; the fleet's few proxy URLs recur on every host
def proxy_endpoint(url: str) -> str:
    """scheme://host:port of a proxy URL without credentials ("" when unset); Go
    defaults a scheme-less value to http://."""
    url = (url or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return url.lower()
    if not host:
        return url.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}:{port}" if port else f"{parts.scheme.lower()}://{host}"


def redact_url(url: str) -> str:
    """A proxy URL without its user:pass@ (the host side already redacts; this is the
    second lock: a derived answer never carries a secret)."""
    url = (url or "").strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "REDACTED@" + authority.rsplit("@", 1)[1]
    return (scheme + sep if sep else "") + authority + slash + tail


@dataclass
class DaemonProxy:
    """The proxy dockerd uses, with the fact path each value came from."""

    values: Dict[str, str]
    origin: Dict[str, str] = field(default_factory=dict)
    via: str = ""   # "docker info" (the running daemon) or "configuration"

    def get(self, var: str) -> str:
        return self.values.get(var, "")

    @property
    def any_proxy(self) -> bool:
        return bool(self.get("HTTP_PROXY") or self.get("HTTPS_PROXY"))


def json_proxies(facts: dict) -> Tuple[Dict[str, str], str]:
    """daemon.json "proxies" as {VAR: value}, and its fact path."""
    d = dig(facts, "proxy.daemon_json_proxies")
    path = "proxy.daemon_json_proxies"
    if not isinstance(d, dict):
        d = dig(facts, "daemon_json.config.proxies")
        path = "daemon_json.config.proxies"
    if not isinstance(d, dict):
        return {}, path
    return {var: proxy_value(d.get(key)) for var, key in PROXY_JSON_KEYS.items() if proxy_value(d.get(key))}, path


def collected_proxy(facts: dict) -> Optional[DaemonProxy]:
    """The proxy collector's view of the daemon (its environ when readable, else what
    its configuration gives it, daemon.json "proxies" applied). None when unknown."""
    proxy = dig(facts, "proxy")
    daemon = dig(facts, "proxy.daemon")
    if not isinstance(proxy, dict) or not isinstance(daemon, dict):
        return None
    if proxy.get("daemon_source") is None and not any(proxy_value(v) for v in daemon.values()):
        return None   # the host said nothing we could read
    values, origin = {}, {}
    for var in PROXY_VARS:
        val, key = proxy_lookup(daemon, var)
        if val:
            values[var], origin[var] = val, join_all(("proxy", "daemon", key or var, "value"))
        else:
            origin[var] = join_all(("proxy", "daemon", var))
    via = {"environ": "dockerd's environment"}.get(proxy.get("daemon_source"),
                                                  f"{proxy.get('daemon_source') or 'its'} configuration")
    return DaemonProxy(values, origin, via)


def daemon_proxy(facts: dict) -> Optional[DaemonProxy]:
    """The proxy dockerd uses: what the running daemon reports (docker info), else the
    proxy collector's view. None when neither is known."""
    if docker_running(facts):
        values, origin = {}, {}
        for var, key in (("HTTP_PROXY", "http_proxy"), ("HTTPS_PROXY", "https_proxy"),
                         ("NO_PROXY", "no_proxy")):
            val = proxy_value(dig(facts, f"docker.info.{key}"))
            origin[var] = f"docker.info.{key}"
            if val:
                values[var] = val
        return DaemonProxy(values, origin, "docker info")
    return collected_proxy(facts)


def session_proxy(facts: dict) -> Optional[DaemonProxy]:
    """The SSH session's own proxy variables (proxy.session_env): what the docker CLI,
    curl and a manifest probe in that session use. The daemon never sees them. None when
    the collector did not report the session's environment."""
    env = dig(facts, "proxy.session_env")
    if not isinstance(env, dict):
        return None
    values, origin = {}, {}
    for var in PROXY_VARS:
        # As the gate always read it: the upper-case name, else the lower-case one.
        raw = env.get(var) or env.get(var.lower())
        key = var if env.get(var) else var.lower()
        if raw:
            values[var] = raw if isinstance(raw, str) else ""
            origin[var] = join_all(("proxy", "session_env", key))
        else:
            origin[var] = join_all(("proxy", "session_env", var))
    if "HTTPS_PROXY" in values and not values["HTTPS_PROXY"]:
        values["HTTPS_PROXY"] = "(not a string)"   # set, but junk: still "a proxy is set"
    return DaemonProxy({k: v for k, v in values.items() if v}, origin, "the SSH session")


# ------------------------------------------------------------------ logins (never the daemon)

def shell_envs(facts: dict) -> List[Tuple[str, dict]]:
    """(fact path, {VAR: value}) of the environments logins get, which dockerd never reads."""
    out = []
    for src in ("environment_file", "session_env"):
        env = dig(facts, f"proxy.{src}")
        if isinstance(env, dict):
            out.append((join_all(("proxy", src)), env))
    profile = dig(facts, "proxy.profile")
    for path, env in sorted(profile.items()) if isinstance(profile, dict) else ():
        if isinstance(env, dict):
            out.append((join_all(("proxy", "profile", path)), env))
    return out


def shell_proxies(facts: dict) -> Dict[str, str]:
    """fact path -> proxy URL set for logins (/etc/environment, profile scripts, the
    SSH session's environment)."""
    out = {}
    for base, env in shell_envs(facts):
        for k in sorted(env):
            if isinstance(k, str) and k.lower() in ("http_proxy", "https_proxy") and proxy_value(env[k]):
                out[join(base, k)] = proxy_value(env[k])
    return out


def shell_value(facts: dict, name: str) -> str:
    """VAR's value in the first login environment that sets it ("" when none does)."""
    for _, env in shell_envs(facts):
        val, _ = proxy_lookup(env, name)
        if val:
            return val
    return ""


def login_proxy(facts: dict) -> Optional[DaemonProxy]:
    """The proxy a login shell gets (/etc/environment, the SSH session, profile scripts;
    the first that sets a variable), which dockerd never reads. None when the proxy
    facts are missing."""
    if not isinstance(dig(facts, "proxy"), dict):
        return None
    values, origin = {}, {}
    for var in PROXY_VARS:
        for base, env in shell_envs(facts):
            val, key = proxy_lookup(env, var)
            if val:
                values[var], origin[var] = val, join(base, key or var)
                break
    return DaemonProxy(values, origin, "login shells")


# ------------------------------------------------------------------ NO_PROXY (Go semantics)

def no_proxy_covers(no_proxy: str, host: str, port: int = 443) -> bool:
    """Does Go's NO_PROXY handling (golang.org/x/net/http/httpproxy) send host:port
    direct? "*" matches all; "a.com" matches a.com and its subdomains; ".a.com" and
    "*.a.com" subdomains only; an entry with a port matches that port only; CIDRs and
    IPs match IP hosts only (no DNS); localhost and loopback are never proxied."""
    return no_proxy_entry(no_proxy, host, port) is not None


@pure_memo(8192)  # pure; (NO_PROXY, registry) pairs recur on every host
def no_proxy_entry(no_proxy: str, host: str, port: int = 443) -> Optional[str]:
    """The NO_PROXY entry that sends host:port direct (see no_proxy_covers), "localhost"
    for the built-in loopback rule, None when the proxy is used."""
    host = host.lower().strip("[]")
    ip = ip_of(host)
    if host == "localhost" or (ip is not None and ip.is_loopback):
        return "localhost"
    for raw in (no_proxy or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return entry
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip is not None and ip.version == net.version and ip in net:
                return entry
            continue
        ehost, eport = host_and_port(entry)
        if eport is not None and eport != port:
            continue
        eip = ip_of(ehost)
        if eip is not None:
            if ip is not None and eip == ip:
                return entry
            continue
        if ehost.startswith("*."):
            ehost = ehost[1:]
        if ehost.startswith("."):
            if host.endswith(ehost):
                return entry
        elif host == ehost or host.endswith("." + ehost):
            return entry
    return None


@dataclass
class ProxyRoute:
    """How one client (dockerd, or the SSH session) reaches one registry: the proxy URL
    (credentials redacted) or None for direct, and why. Unpacks as (proxy, reason).
    `known` is False when the client's proxy settings were not collected (then `proxy`
    is None and `reason` says so: direct is a guess)."""

    proxy: Optional[str]
    reason: str
    known: bool = True
    fact: Optional[str] = None      # the fact path the answer rests on

    def __iter__(self) -> Iterator[Any]:
        return iter((self.proxy, self.reason))

    @property
    def via_proxy(self) -> Optional[bool]:
        """True through a proxy, False direct, None unknown."""
        return None if not self.known else self.proxy is not None


def route(dp: Optional[DaemonProxy], who: str, host: str, port: int) -> ProxyRoute:
    """The route `who` takes to host:port given its proxy settings (HTTPS_PROXY: registries
    are spoken to over https)."""
    if dp is None:
        return ProxyRoute(None, f"unknown: {who}'s proxy settings were not collected", known=False)
    proxy = dp.get("HTTPS_PROXY")
    if not proxy:
        return ProxyRoute(None, f"direct: no HTTPS_PROXY ({dp.via})",
                          fact=dp.origin.get("HTTPS_PROXY"))
    entry = no_proxy_entry(dp.get("NO_PROXY"), host, port)
    if entry is not None:
        why = ("localhost and loopback are never proxied" if entry == "localhost" and
               "localhost" not in (dp.get("NO_PROXY") or "").lower()
               else f"NO_PROXY entry {entry!r} covers {host}:{port}")
        return ProxyRoute(None, f"direct: {why} ({dp.via})", fact=dp.origin.get("NO_PROXY"))
    return ProxyRoute(redact_url(proxy), f"via HTTPS_PROXY from {dp.via}; NO_PROXY does not cover "
                      f"{host}:{port}", fact=dp.origin.get("HTTPS_PROXY"))
