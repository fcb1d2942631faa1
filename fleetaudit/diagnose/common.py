"""Helpers the rule families share: what a host is expected to have (its baseline, else
the fleet's strict majority), the registries the fleet uses, the proxy dockerd uses and
what its NO_PROXY covers, OS-family remediation commands, and small text utilities.

Rule modules import these from here; nothing in this module registers a rule.

Why one module (~720 lines): it is the shared vocabulary of every rule family; each
section is small and used by several families, and one import site keeps the rule
modules from importing each other.
"""
from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from ..compare.paths import join as path_join
from .base import HostContext, dig

# ------------------------------------------------------------------ fleet helpers

MISSING = object()  # a getter's answer when the fact is unknown on a host

# A majority of one or two hosts is not a norm: below this many hosts that report a
# fact, the fleet has no expectation (same default as the consensus baseline).
MIN_MAJORITY_HOSTS = 3

Getter = Callable[[dict], Any]


@dataclass
class Expect:
    """An expected value and where the expectation comes from."""

    value: Any
    source: str       # "baseline" or "fleet majority (9 of 12 hosts)"


def _canon(value: Any) -> str:
    """A value as canonical JSON text (for counting equal values)."""
    return json.dumps(value, sort_keys=True, default=str)


def run_cache(run: Any) -> dict:
    """Per-run memo for fleet-wide computations (hosts do not change during diagnose)."""
    cache = getattr(run, "_diagnose_fleet_cache", None)
    if cache is None:
        cache = {}
        try:
            setattr(run, "_diagnose_fleet_cache", cache)
        except AttributeError:  # a frozen/slotted stand-in: just do not memoize
            pass
    return cache


def audited_hosts(run: Any) -> List[Any]:
    """The run's hosts that were reached and have facts."""
    return [h for h in run.hosts.values() if h.status != "unreachable" and isinstance(h.facts, dict)]


def fleet_majority(run: Any, key: str, getter: Getter) -> Optional[Expect]:
    """The value a strict majority of the audited hosts that know the fact share."""
    cache = run_cache(run)
    ck = ("majority", key)
    if ck not in cache:
        votes: Counter = Counter()
        sample: Dict[str, Any] = {}
        for h in audited_hosts(run):
            v = getter(h.facts)
            if v is MISSING:
                continue
            c = _canon(v)
            votes[c] += 1
            sample.setdefault(c, v)
        total = sum(votes.values())
        result = None
        if total >= MIN_MAJORITY_HOSTS:
            top, n = votes.most_common(1)[0]
            if n * 2 > total:
                result = Expect(sample[top], f"fleet majority ({n} of {total} hosts)")
        cache[ck] = result
    return cache[ck]


def fleet_element_majority(run: Any, key: str, getter: Getter) -> Tuple[Dict[str, int], int]:
    """For a set-valued fact: how many hosts have each element, and how many know the fact."""
    cache = run_cache(run)
    ck = ("elements", key)
    if ck not in cache:
        counts: Counter = Counter()
        total = 0
        for h in audited_hosts(run):
            v = getter(h.facts)
            if v is MISSING:
                continue
            total += 1
            counts.update(set(v))
        cache[ck] = (dict(counts), total)
    return cache[ck]


def expect(ctx: HostContext, key: str, getter: Getter) -> Optional[Expect]:
    """What this host should have: the run's baseline when there is one (the user chose
    it), else the fleet majority. None when nothing is known."""
    if ctx.baseline is not None:
        v = getter(ctx.baseline)
        return None if v is MISSING else Expect(v, "baseline")
    return fleet_majority(ctx.run, key, getter)


def expect_elements(ctx: HostContext, key: str, getter: Getter) -> Optional[Expect]:
    """For a set-valued fact: the elements the baseline has, else the elements a strict
    majority of the fleet has (robust when hosts differ in several ways at once)."""
    if ctx.baseline is not None:
        v = getter(ctx.baseline)
        return None if v is MISSING else Expect(sorted(set(v)), "baseline")
    counts, total = fleet_element_majority(ctx.run, key, getter)
    if total < MIN_MAJORITY_HOSTS:
        return None
    common = sorted(e for e, n in counts.items() if n * 2 > total)
    return Expect(common, f"fleet majority (of {total} hosts)")


def fact_path(*keys: str) -> str:
    """A fact path in the comparison's syntax (keys with dots go in brackets)."""
    out = ""
    for k in keys:
        out = path_join(out, str(k))
    return out


def q(value: Any) -> str:
    """Host-provided text quoted for a shell command line (it is untrusted)."""
    return shlex.quote(str(value))


def cap(text: Any, limit: int = 300) -> str:
    """Host-provided text without control characters, cut to `limit` characters."""
    s = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(text))
    return s if len(s) <= limit else s[:limit] + "…"


# ------------------------------------------------------------------ versions

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(value: Any) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of "20.10.24+dfsg1", "28.2.2", "17.03.2-ce"; None if junk."""
    if not isinstance(value, str):
        return None
    m = _VERSION.match(value.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def engine_version_fact(facts: dict) -> Tuple[Optional[str], Optional[str]]:
    """(fact path, version) of the engine: the running daemon's, else the installed
    dockerd binary's (known even when the daemon is down)."""
    for path in ("docker.server.version", "docker.info.server_version", "docker.dockerd.version"):
        v = dig(facts, path)
        if isinstance(v, str) and version_tuple(v):
            return path, v
    return None, None


def engine_version(facts: dict) -> Optional[str]:
    """The engine's version string (see engine_version_fact), None when unknown."""
    return engine_version_fact(facts)[1]


def engine_major(facts: dict) -> Optional[int]:
    """The engine's major version, None when unknown."""
    t = version_tuple(engine_version(facts))
    return t[0] if t else None


# ------------------------------------------------------------------ registries

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
                "hub.docker.com"}


def registry_host(name: Any) -> Optional[str]:
    """host[:port] of a registry as config.json, certs.d, daemon.json or a URL name it;
    Docker Hub's aliases are all "docker.io"."""
    if not isinstance(name, str) or not name.strip():
        return None
    s = name.strip().lower()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = s.split("/", 1)[0]
    if "@" in s:
        s = s.rsplit("@", 1)[1]
    if not s or any(c.isspace() for c in s):
        return None
    if s.split(":", 1)[0] in _HUB_ALIASES:
        return DOCKER_HUB
    return s


def docker_running(facts: dict) -> bool:
    """True when the daemon answered and `docker info` was collected."""
    return bool(dig(facts, "docker.daemon_up")) and isinstance(dig(facts, "docker.info"), dict)


def daemon_config(facts: dict) -> Optional[dict]:
    """daemon.json as a dict when it is present and valid, else None."""
    cfg = dig(facts, "daemon_json.config")
    return cfg if isinstance(cfg, dict) and dig(facts, "daemon_json.valid") is True else None


def str_list(value: Any) -> List[str]:
    """The non-blank strings of a list fact ([] when it is not a list)."""
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def daemon_list_path(facts: dict, info_key: str, json_key: str) -> str:
    """The fact path a daemon list setting comes from: docker info when the daemon runs, else daemon.json."""
    return f"docker.info.{info_key}" if docker_running(facts) else f"daemon_json.config.{json_key}"


def _daemon_list(facts: dict, info_key: str, json_key: str) -> Any:
    """A list setting as the running daemon reports it, else as daemon.json sets it ([] without
    a daemon.json); MISSING when unknown."""
    if docker_running(facts):
        return str_list(dig(facts, f"docker.info.{info_key}"))
    if dig(facts, "daemon_json.present") is False:
        return []
    cfg = daemon_config(facts)
    return MISSING if cfg is None else str_list(cfg.get(json_key))


def registry_mirrors(facts: dict) -> Any:
    """Mirrors the daemon uses (docker info), else those daemon.json sets; MISSING if unknown."""
    raw = _daemon_list(facts, "registry_mirrors", "registry-mirrors")
    if raw is MISSING:
        return MISSING
    return sorted({m.strip().lower().rstrip("/") for m in raw})


# dockerd always marks loopback insecure; these are not a configuration choice.
DEFAULT_INSECURE = {"127.0.0.0/8", "::1/128"}


def insecure_registries(facts: dict) -> Any:
    """Insecure registries the daemon uses, else daemon.json's (loopback left out); MISSING if unknown."""
    raw = _daemon_list(facts, "insecure_registries", "insecure-registries")
    if raw is MISSING:
        return MISSING
    out = set()
    for r in raw:
        r = r.strip().lower()
        if "://" in r:
            r = r.split("://", 1)[1]
        r = r.rstrip("/")
        if r and r not in DEFAULT_INSECURE:
            out.add(r)
    return sorted(out)


# ------------------------------------------------------------------ OS family commands

def restart_docker(family: str) -> str:
    """The command that restarts dockerd on an OS family."""
    if family == "alpine":
        return "sudo rc-service docker restart"
    return "sudo systemctl restart docker"


def reload_and_restart(family: str) -> List[str]:
    """Commands that reload the init system's configuration and restart dockerd."""
    if family == "alpine":
        return ["sudo rc-service docker restart"]
    return ["sudo systemctl daemon-reload", "sudo systemctl restart docker"]


def daemon_log_command(family: str) -> str:
    """The command that shows dockerd's recent log on an OS family."""
    if family == "alpine":
        return "sudo tail -n 200 /var/log/docker.log"
    return "journalctl -u docker --since '30 min ago' --no-pager"


# ------------------------------------------------------------------ the daemon's proxy

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
            values[var], origin[var] = val, fact_path("proxy", "daemon", key or var, "value")
        else:
            origin[var] = fact_path("proxy", "daemon", var)
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


# ------------------------------------------------------------------ NO_PROXY (Go semantics)

def _host_and_port_text(entry: str) -> Tuple[str, str]:
    """("host", "port") of "host:port" / "[v6]:port"; port "" when there is none."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    return host, port


def host_and_port(entry: str) -> Tuple[str, Optional[int]]:
    """(host, port) of a NO_PROXY entry or registry name; port None when there is none."""
    host, port = _host_and_port_text(entry)
    return host, int(port) if port.isdigit() else None


def _ip(host: str) -> Optional[Any]:
    """The IP address a host name is, None when it is a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def no_proxy_covers(no_proxy: str, host: str, port: int = 443) -> bool:
    """Does Go's NO_PROXY handling (golang.org/x/net/http/httpproxy) send host:port
    direct? "*" matches all; "a.com" matches a.com and its subdomains; ".a.com" and
    "*.a.com" subdomains only; an entry with a port matches that port only; CIDRs and
    IPs match IP hosts only (no DNS); localhost and loopback are never proxied."""
    host = host.lower().strip("[]")
    ip = _ip(host)
    if host == "localhost" or (ip is not None and ip.is_loopback):
        return True
    for raw in (no_proxy or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if ip is not None and ip.version == net.version and ip in net:
                return True
            continue
        ehost, eport = host_and_port(entry)
        if eport is not None and eport != port:
            continue
        eip = _ip(ehost)
        if eip is not None:
            if ip is not None and eip == ip:
                return True
            continue
        if ehost.startswith("*."):
            ehost = ehost[1:]
        if ehost.startswith("."):
            if host.endswith(ehost):
                return True
        elif host == ehost or host.endswith("." + ehost):
            return True
    return False


# ------------------------------------------------------------------ registries the fleet uses

# Public registries: going through a corporate proxy is their normal path.
PUBLIC_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "gcr.io", "pkg.dev", "mcr.microsoft.com",
                     "registry.k8s.io", "k8s.gcr.io", "public.ecr.aws", "amazonaws.com",
                     "azurecr.io", "registry.gitlab.com", "nvcr.io", "docker.elastic.co",
                     "registry.redhat.io", "registry.access.redhat.com", "cgr.dev", "lscr.io",
                     "ecr.aws", "icr.io", "ocir.io")
# Name suffixes that only resolve inside an organisation (RFC 6762/8375, common practice).
INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".corp", ".home", ".intranet", ".private",
                     ".localdomain", ".home.arpa", ".test", ".example", ".invalid", ".priv")


def is_public(host: str) -> bool:
    """True for a public registry (Docker Hub, ghcr.io, quay.io, cloud registries...)."""
    name = host.split(":", 1)[0] if not host.startswith("[") else host
    return any(name == p or name.endswith("." + p) for p in PUBLIC_REGISTRIES)


def internal_name(host: str) -> Optional[str]:
    """Why a registry name is evidently internal (private address, internal suffix,
    single label), or None."""
    name, _ = host_and_port(host)
    ip = _ip(name)
    if ip is not None:
        return "private address" if (ip.is_private or ip.is_link_local or ip.is_loopback) else None
    if "." not in name:
        return "single-label name"
    for s in INTERNAL_SUFFIXES:
        if name.endswith(s):
            return f"internal suffix {s}"
    return None


_LOG_HOSTS = (
    re.compile(r"https?://([a-z0-9][a-z0-9.-]*(?::\d+)?)/v2/", re.I),
    re.compile(r"lookup ([a-z0-9][a-z0-9.-]*)(?: on |: )", re.I),
    re.compile(r"dial tcp:? ([a-z0-9][a-z0-9.-]*\.[a-z][a-z0-9-]*:\d+)", re.I),
)


def log_hosts(line: str) -> Set[str]:
    """Registry hosts a daemon-log line names (URLs, DNS lookups, dials)."""
    out = set()
    for rx in _LOG_HOSTS:
        for m in rx.finditer(line or ""):
            h = registry_host(m.group(1))
            if h and ("." in h or ":" in h or h == "localhost"):
                out.add(h)
    return out


@dataclass
class Registry:
    """A registry the fleet uses and the signals that say so."""

    name: str
    signals: Dict[str, str] = field(default_factory=dict)   # signal -> example fact path/host


def _registries_of(facts: dict) -> Dict[str, Dict[str, str]]:
    """registry -> {signal: fact path} found in one host's (or a baseline's) facts."""
    found: Dict[str, Dict[str, str]] = {}

    def add(name: Any, signal: str, path: str) -> None:
        h = registry_host(name)
        if h:
            found.setdefault(h, {}).setdefault(signal, path)

    users = dig(facts, "credentials.users")
    for user, u in (users.items() if isinstance(users, dict) else ()):
        if not isinstance(u, dict):
            continue
        for key in ("credential_registries", "auth_registries"):
            for r in u.get(key) or []:
                add(r, "credentials", fact_path("credentials", "users", user, key))
        for r in (u.get("cred_helpers") or {}) if isinstance(u.get("cred_helpers"), dict) else ():
            add(r, "credentials", fact_path("credentials", "users", user, "cred_helpers"))
    certs = dig(facts, "tls.certs_d")
    for r, files in (certs.items() if isinstance(certs, dict) else ()):
        kinds = [f.get("kind") for f in (files.values() if isinstance(files, dict) else files or [])
                 if isinstance(f, dict)]
        add(r, "private CA" if "ca" in kinds else "certs.d", fact_path("tls", "certs_d", r))
    mirrors = registry_mirrors(facts)
    for m in mirrors if mirrors is not MISSING else ():
        add(m, "mirror", "docker.info.registry_mirrors")
    insecure = insecure_registries(facts)
    for r in insecure if insecure is not MISSING else ():
        if "/" not in r:
            add(r, "insecure", "docker.info.insecure_registries")
    samples = dig(facts, "daemon_log.samples")
    for cls, line in (samples.items() if isinstance(samples, dict) else ()):
        text = line.get("line") if isinstance(line, dict) else line
        for h in log_hosts(text if isinstance(text, str) else ""):
            found.setdefault(h, {}).setdefault("daemon log", fact_path("daemon_log", "samples", cls))
    return found


def _proxy_hosts(facts: dict) -> Set[str]:
    """host:port and host of the daemon's proxies (they show up in logs like registries)."""
    out = set()
    dp = daemon_proxy(facts)
    for var in ("HTTP_PROXY", "HTTPS_PROXY"):
        ep = proxy_endpoint(dp.get(var)) if dp else ""
        if ep:
            out.add(ep.split("://", 1)[1])
            out.add(ep.split("://", 1)[1].rsplit(":", 1)[0])
    return out


def fleet_registries(ctx: HostContext) -> Dict[str, Registry]:
    """Registries the fleet evidently uses (this host, the other audited hosts, the
    baseline), with the signals that say so; proxies seen in logs are not registries."""
    cache = run_cache(ctx.run)
    if "registries" not in cache:
        first: Dict[str, Dict[str, str]] = {}           # name -> signal -> "path on host"
        by_host: Dict[str, Dict[str, Dict[str, str]]] = {}
        proxies: Set[str] = set()
        for h in audited_hosts(ctx.run):
            mine = by_host[h.name] = _registries_of(h.facts)
            for name, sig in mine.items():
                for s, p in sig.items():
                    first.setdefault(name, {}).setdefault(s, f"{p} on {h.name}")
            proxies |= _proxy_hosts(h.facts)
        cache["registries"] = (first, by_host, proxies)
    first, by_host, proxies = cache["registries"]
    own = by_host.get(ctx.name, {})
    out: Dict[str, Registry] = {}
    for name, sigs in first.items():
        reg = out[name] = Registry(name)
        for s, where in sigs.items():
            reg.signals[s] = own.get(name, {}).get(s) or where
    if ctx.baseline is not None:
        for name, sig in _registries_of(ctx.baseline).items():
            reg = out.setdefault(name, Registry(name))
            for s, p in sig.items():
                reg.signals.setdefault(s, f"{p} (baseline)")
    for p in proxies:
        if p in out and set(out[p].signals) == {"daemon log"}:
            del out[p]
    return out


# ------------------------------------------------------------------ credentials

def user_registries(entry: dict) -> Set[str]:
    """Registries a user can send credentials to: the collector's normalized
    credential_registries, else config.json auths plus credHelpers."""
    if isinstance(entry.get("credential_registries"), list):
        return {h for h in map(registry_host, entry["credential_registries"]) if h}
    out = set()
    for r in entry.get("auth_registries") or []:
        h = registry_host(r)
        if h:
            out.add(h)
    helpers = entry.get("cred_helpers")
    for r in helpers if isinstance(helpers, dict) else ():
        h = registry_host(r)
        if h:
            out.add(h)
    return out


# ------------------------------------------------------------------ registries this host pulls from, log symptoms


def split_host_port(name: str) -> Tuple[str, int]:
    """("registry.example", 5000) for "registry.example:5000"; port 443 when none."""
    host, port = _host_and_port_text(name)
    return host, int(port) if port.isdigit() and len(port) < 6 else 443


def own_registries(facts: dict) -> Dict[str, str]:
    """registry -> fact path that shows THIS host pulls from it: its credentials, its
    mirrors, its daemon log (not its certs.d: a CA directory is what the TLS rules check)."""
    out: Dict[str, str] = {}
    users = dig(facts, "credentials.users")
    for user, entry in sorted(users.items()) if isinstance(users, dict) else ():
        if isinstance(entry, dict):
            for reg in sorted(user_registries(entry)):
                out.setdefault(reg, fact_path("credentials", "users", user, "credential_registries"))
    mirrors = registry_mirrors(facts)
    for m in mirrors if mirrors is not MISSING else ():
        h = registry_host(m)
        if h:
            out.setdefault(h, "docker.info.registry_mirrors")
    samples = dig(facts, "daemon_log.samples")
    for cls, line in sorted(samples.items()) if isinstance(samples, dict) else ():
        text = line.get("line") if isinstance(line, dict) else line
        for h in sorted(log_hosts(text if isinstance(text, str) else "")):
            out.setdefault(h, fact_path("daemon_log", "samples", cls))
    return out


def registries(ctx: HostContext) -> List[str]:
    """The registries the fleet evidently uses (see fleet_registries), this
    host's own first, then private ones, then by name."""
    memo = host_memo(ctx)
    if "registries" in memo:
        return memo["registries"]
    cache = run_cache(ctx.run)
    if "registry-names" not in cache:
        # The fleet's names do not depend on the host asking (only its baseline adds some):
        # one call per run, not one per host (fleet_registries walks every host).
        cache["registry-names"] = set(fleet_registries(HostContext(host=ctx.host, run=ctx.run)))
    own = own_registries(ctx.facts)
    names = set(cache["registry-names"]) | set(own)
    if isinstance(ctx.baseline, dict):
        names |= set(own_registries(ctx.baseline))
        base_dirs = dig(ctx.baseline, "tls.certs_d")
        names |= {h for h in map(registry_host, base_dirs if isinstance(base_dirs, dict) else ()) if h}
    memo["registries"] = sorted(names, key=lambda n: (n not in own, is_public(n) or n == DOCKER_HUB,
                                                      not own.get(n, "").startswith("credentials"), n))
    return memo["registries"]


def example_registry(ctx: HostContext) -> str:
    """A registry name to put into check commands (Docker Hub's API host when none)."""
    regs = registries(ctx)
    if not regs or regs[0] == DOCKER_HUB:
        return "registry-1.docker.io"
    return regs[0]


def whose(exp: Any) -> str:
    """"the baseline's" or "the fleet's", for titles comparing with an expectation."""
    return "the baseline's" if str(getattr(exp, "source", "")).startswith("baseline") else "the fleet's"


def log_counts(facts: dict, classes: Tuple[str, ...]) -> Dict[str, int]:
    """class -> count of this host's daemon-log pull errors among `classes`."""
    counts = dig(facts, "daemon_log.counts")
    if not isinstance(counts, dict):
        return {}
    return {c: n for c, n in sorted(counts.items())
            if c in classes and isinstance(n, int) and not isinstance(n, bool) and n > 0}


def number(value: Any) -> Optional[float]:
    """A finite, plausible number fact as float; None for bools, NaN, junk."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None  # NaN, absurd


def host_memo(ctx: HostContext) -> dict:
    """Per-host memo shared by the rules that look at one host's registries and trust."""
    return ctx.__dict__.setdefault("_tls_memo", {})
