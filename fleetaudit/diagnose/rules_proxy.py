"""Diagnosis rules: the HTTP(S) proxy the Docker daemon really uses.

dockerd does the pulls, and it reads its proxy from its own start-up environment
(systemd drop-in, /etc/conf.d/docker) or, on Docker 23+, from daemon.json "proxies"
(which then wins over the environment). Shell profiles and /etc/environment never reach
it. NO_PROXY follows Go's rules (see no_proxy_covers).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from .base import Hit, HostContext, dig, ev, rule
from .rules_daemon import (
    DOCKER_HUB, MISSING, audited_hosts, cap, docker_running, engine_major, expect, fact_path,
    insecure_registries, q, registry_host, registry_mirrors, reload_and_restart, run_cache,
)

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
_JSON_KEYS = {"HTTP_PROXY": "http-proxy", "HTTPS_PROXY": "https-proxy", "NO_PROXY": "no-proxy"}
DAEMON_JSON_PROXIES_MAJOR = 23   # daemon.json "proxies" exists (and wins) from Docker 23
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


# ------------------------------------------------------------------ proxy values

def _value(v: Any) -> str:
    """A proxy variable as the collectors report it: "url", {"value": "url"} or null."""
    if isinstance(v, dict):
        v = v.get("value")
    return v.strip() if isinstance(v, str) else ""


def _lookup(d: Any, var: str) -> Tuple[str, Optional[str]]:
    """(value, key) of VAR in an env mapping; Go reads the upper-case name first."""
    if not isinstance(d, dict):
        return "", None
    for key in (var, var.lower()):
        val = _value(d.get(key))
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


def has_userinfo(url: str) -> bool:
    if not isinstance(url, str) or "@" not in url:
        return False
    rest = url.split("://", 1)[1] if "://" in url else url
    return "@" in rest.split("/", 1)[0]


def mask(url: str) -> str:
    """The URL with any user:password replaced (values are redacted on the host already;
    this keeps evidence safe even if one was not)."""
    if not has_userinfo(url):
        return url
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}***@{netloc.rsplit('@', 1)[1]}{slash}{path}"


def for_config(url: str) -> str:
    """A proxy URL to write into a config: credentials shown as placeholders."""
    if not has_userinfo(url):
        return url
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}USER:PASSWORD@{netloc.rsplit('@', 1)[1]}{slash}{path}"


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
    return {var: _value(d.get(key)) for var, key in _JSON_KEYS.items() if _value(d.get(key))}, path


def configured_proxy(facts: dict) -> Optional[DaemonProxy]:
    """What the daemon's configuration gives it at its next start (None: unknown)."""
    daemon = dig(facts, "proxy.daemon")
    if not isinstance(dig(facts, "proxy"), dict) or not isinstance(daemon, dict):
        return None
    values, origin = {}, {}
    for var in PROXY_VARS:
        val, key = _lookup(daemon, var)
        if val:
            values[var], origin[var] = val, fact_path("proxy", "daemon", key or var)
    if not values.get("NO_PROXY"):
        lst = [x for x in dig(facts, "proxy.daemon_no_proxy") or [] if isinstance(x, str)]
        if lst:
            values["NO_PROXY"], origin["NO_PROXY"] = ",".join(lst), "proxy.daemon_no_proxy"
    jp, jpath = json_proxies(facts)
    major = engine_major(facts)
    if jp and (major is None or major >= DAEMON_JSON_PROXIES_MAJOR):
        for var, val in jp.items():
            values[var], origin[var] = val, fact_path(*jpath.split("."), _JSON_KEYS[var])
    return DaemonProxy(values, origin, "configuration")


def daemon_proxy(facts: dict) -> Optional[DaemonProxy]:
    """The proxy dockerd uses: what the running daemon reports (docker info), else what
    its configuration gives it. None when neither is known."""
    if docker_running(facts):
        values, origin = {}, {}
        for var, key in (("HTTP_PROXY", "http_proxy"), ("HTTPS_PROXY", "https_proxy"),
                         ("NO_PROXY", "no_proxy")):
            val = _value(dig(facts, f"docker.info.{key}"))
            origin[var] = f"docker.info.{key}"
            if val:
                values[var] = val
        return DaemonProxy(values, origin, "docker info")
    return configured_proxy(facts)


def _endpoints(facts: dict) -> Any:
    dp = daemon_proxy(facts)
    if dp is None:
        return MISSING
    return {"HTTP_PROXY": proxy_endpoint(dp.get("HTTP_PROXY")),
            "HTTPS_PROXY": proxy_endpoint(dp.get("HTTPS_PROXY"))}


def shell_proxies(facts: dict) -> Dict[str, str]:
    """fact path -> proxy URL set for logins (/etc/environment, the login environment)."""
    out = {}
    for src in ("environment_file", "login_shell"):
        env = dig(facts, f"proxy.{src}")
        if not isinstance(env, dict):
            continue
        for k in sorted(env):
            if isinstance(k, str) and k.lower() in ("http_proxy", "https_proxy") and _value(env[k]):
                out[fact_path("proxy", src, k)] = _value(env[k])
    return out


def _shell_value(facts: dict, name: str) -> str:
    for src in ("environment_file", "login_shell"):
        val, _ = _lookup(dig(facts, f"proxy.{src}"), name)
        if val:
            return val
    return ""


# ------------------------------------------------------------------ NO_PROXY (Go semantics)

def _split_host_port(entry: str) -> Tuple[str, Optional[int]]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    return host, int(port) if port.isdigit() else None


def _ip(host: str) -> Optional[Any]:
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
        ehost, eport = _split_host_port(entry)
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
    name = host.split(":", 1)[0] if not host.startswith("[") else host
    return any(name == p or name.endswith("." + p) for p in PUBLIC_REGISTRIES)


def internal_name(host: str) -> Optional[str]:
    """Why a registry name is evidently internal (private address, internal suffix,
    single label), or None."""
    name, _ = _split_host_port(host)
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
    out = set()
    for rx in _LOG_HOSTS:
        for m in rx.finditer(line or ""):
            h = registry_host(m.group(1))
            if h and ("." in h or ":" in h or h == "localhost"):
                out.add(h)
    return out


@dataclass
class Registry:
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
        for r in u.get("auth_registries") or []:
            add(r, "credentials", fact_path("credentials", "users", user, "auth_registries"))
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
        merged: Dict[str, Dict[str, str]] = {}
        proxies: Set[str] = set()
        for h in audited_hosts(ctx.run):
            for name, sig in _registries_of(h.facts).items():
                for s, p in sig.items():
                    merged.setdefault(name, {}).setdefault(s, p if h.name == ctx.name else f"{p} on {h.name}")
            proxies |= _proxy_hosts(h.facts)
        cache["registries"] = (merged, proxies)
    merged, proxies = cache["registries"]
    out = {n: Registry(n, dict(s)) for n, s in merged.items()}
    if ctx.baseline is not None:
        for name, sig in _registries_of(ctx.baseline).items():
            reg = out.setdefault(name, Registry(name))
            for s, p in sig.items():
                reg.signals.setdefault(s, f"{p} (baseline)")
    for p in proxies:
        if p in out and set(out[p].signals) == {"daemon log"}:
            del out[p]
    return out


def _exempted_elsewhere(ctx: HostContext, host: str, port: int) -> Optional[str]:
    """The first place (baseline, another host) whose daemon sends this registry direct
    while it has a proxy: the fleet's own evidence that the registry must bypass it."""
    if ctx.baseline is not None:
        dp = daemon_proxy(ctx.baseline)
        if dp and dp.any_proxy and no_proxy_covers(dp.get("NO_PROXY"), host, port):
            return "baseline"
    for h in audited_hosts(ctx.run):
        if h.name == ctx.name:
            continue
        dp = daemon_proxy(h.facts)
        if dp and dp.any_proxy and no_proxy_covers(dp.get("NO_PROXY"), host, port):
            return h.name
    return None


def _log_counts(facts: dict, classes: Tuple[str, ...]) -> Dict[str, int]:
    counts = dig(facts, "daemon_log.counts")
    if not isinstance(counts, dict):
        return {}
    return {c: n for c, n in counts.items() if c in classes and isinstance(n, int) and n > 0}


# Pull errors a daemon without the network's proxy produces.
NO_PROXY_SYMPTOMS = ("io-timeout", "no-such-host", "dns-lookup-failed", "request-timeout",
                     "network-unreachable", "connection-refused", "tls-handshake-timeout")
# Pull errors a proxy in the wrong place produces.
PROXY_SYMPTOMS = ("proxy-auth-required", "proxyconnect-failed", "forbidden",
                  "x509-unknown-authority", "http-eof", "registry-server-error", "tls-remote-error")


# ------------------------------------------------------------------ remediation text

def dropin_commands(family: str, values: Dict[str, str]) -> List[str]:
    """Commands that give dockerd these proxy variables, for the host's init system."""
    vals = {k: for_config(v) for k, v in values.items() if v}
    if family == "alpine":
        lines = [f"export {k}={q(v)}" for k, v in vals.items()]
        return [f"printf '%s\\n' {' '.join(q(x) for x in lines)} | sudo tee -a /etc/conf.d/docker",
                "sudo rc-service docker restart"]
    lines = ["[Service]"] + [f'Environment="{k}={v}"' for k, v in vals.items()]
    return ["sudo mkdir -p /etc/systemd/system/docker.service.d",
            f"printf '%s\\n' {' '.join(q(x) for x in lines)} | "
            "sudo tee /etc/systemd/system/docker.service.d/http-proxy.conf",
            *reload_and_restart(family),
            "systemctl show --property=Environment docker"]


def _with_registries(no_proxy: str, extra: List[str]) -> str:
    items = [x.strip() for x in (no_proxy or "").split(",") if x.strip()]
    for e in extra:
        if e not in items:
            items.append(e)
    return ",".join(items)


# ------------------------------------------------------------------ rules

@rule(
    id="proxy.shell-only", category="proxy", severity="high",
    title="proxy set for login shells but not for the Docker daemon",
    why="""
`docker pull` is done by dockerd, which never reads /etc/environment or shell profiles: a
proxy set there helps curl but not Docker. On a network where only the proxy gets out the
daemon connects directly and fails with "dial tcp 203.0.113.10:443: i/o timeout" (or "lookup
registry-1.docker.io: no such host" where only the proxy resolves outside names), while
`curl https://registry/v2/` from the same shell works.
""",
    remediation=[
        "sudo systemctl edit docker   # [Service] Environment=\"HTTP_PROXY=...\" \"HTTPS_PROXY=...\" \"NO_PROXY=...\"",
        "sudo systemctl daemon-reload && sudo systemctl restart docker",
        "systemctl show --property=Environment docker",
    ],
    needs_docker=True,
)
def shell_only(ctx: HostContext) -> Iterator[Hit]:
    dp = daemon_proxy(ctx.facts)
    shell = shell_proxies(ctx.facts)
    if dp is None or dp.any_proxy or not shell:
        return
    exp = expect(ctx, "proxy.daemon.endpoints", _endpoints)
    fleet_uses = exp is not None and any(exp.value.values())
    symptoms = _log_counts(ctx.facts, NO_PROXY_SYMPTOMS)
    if fleet_uses or symptoms:
        severity = "high"
    elif exp is not None:
        severity = "low"      # the fleet's daemons run without a proxy too: pulls go direct there
    else:
        severity = "medium"
    evidence = [ev(p, mask(v), note="not read by dockerd") for p, v in shell.items()]
    evidence.append(ev(dp.origin.get("HTTPS_PROXY", "proxy.daemon.HTTPS_PROXY"), None,
                       exp.value.get("HTTPS_PROXY") if exp else None,
                       note=f"the daemon has no proxy ({dp.via})" + (f"; expected from {exp.source}" if exp else "")))
    for cls, n in sorted(symptoms.items()):
        evidence.append(ev(fact_path("daemon_log", "counts", cls), n, note="pulls already fail this way"))
    values = {"HTTP_PROXY": _shell_value(ctx.facts, "HTTP_PROXY") or _shell_value(ctx.facts, "HTTPS_PROXY"),
              "HTTPS_PROXY": _shell_value(ctx.facts, "HTTPS_PROXY") or _shell_value(ctx.facts, "HTTP_PROXY")}
    no_proxy = _shell_value(ctx.facts, "NO_PROXY")
    internal = [r.name.split(":")[0] for r in fleet_registries(ctx).values()
                if r.name != DOCKER_HUB and not is_public(r.name) and internal_name(r.name)]
    values["NO_PROXY"] = _with_registries(no_proxy or "localhost,127.0.0.1", internal)
    yield Hit(evidence=evidence, severity=severity,
              title="proxy only in the login environment: dockerd pulls without it",
              remediation=dropin_commands(ctx.family, values))


@rule(
    id="proxy.daemon-differs", category="proxy", severity="medium",
    title="the daemon's proxy differs from the fleet",
    why="""
Hosts on one network reach registries the same way. A daemon without the fleet's proxy
connects directly and fails where only the proxy gets out ("dial tcp ...:443: i/o timeout",
"no such host"); a daemon with a proxy the fleet does not use (or another one) gets that
proxy's answers: "proxyconnect tcp: dial tcp ...: connect: connection refused", "Proxy
Authentication Required", 403s, or TLS interception ("x509: certificate signed by unknown
authority").
""",
    remediation=["align the daemon's proxy with the fleet (systemd drop-in or daemon.json \"proxies\")",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def daemon_differs(ctx: HostContext) -> Iterator[Hit]:
    dp = daemon_proxy(ctx.facts)
    if dp is None or (not dp.any_proxy and shell_proxies(ctx.facts)):
        return   # proxy.shell-only explains it better
    exp = expect(ctx, "proxy.daemon.endpoints", _endpoints)
    if exp is None or not isinstance(exp.value, dict):
        return
    mine = _endpoints(ctx.facts)
    diffs = [(v, mine[v], exp.value.get(v, "")) for v in ("HTTPS_PROXY", "HTTP_PROXY")
             if mine[v] != exp.value.get(v, "")]
    if not diffs:
        return
    missing = [v for v, a, e in diffs if e and not a]
    severity = "high" if missing else "medium"
    if missing:
        title = f"daemon has no {' / '.join(missing)} (the fleet uses {diffs[0][2] or exp.value.get(missing[0])})"
    elif all(not e for _, _, e in diffs):
        title = f"daemon uses a proxy ({diffs[0][1]}) the fleet does not"
    else:
        title = f"daemon proxy {diffs[0][1]} differs from the fleet's {diffs[0][2]}"
    evidence = [ev(dp.origin.get(v, fact_path("proxy", "daemon", v)), mask(dp.get(v)) or None, e or None,
                   note=exp.source) for v, _, e in diffs]
    for cls, n in sorted(_log_counts(ctx.facts, NO_PROXY_SYMPTOMS + PROXY_SYMPTOMS).items()):
        evidence.append(ev(fact_path("daemon_log", "counts", cls), n))
    target = {v: exp.value.get(v, "") for v in ("HTTP_PROXY", "HTTPS_PROXY")}
    if any(target.values()):
        target["NO_PROXY"] = dp.get("NO_PROXY") or "localhost,127.0.0.1"
        fixes = dropin_commands(ctx.family, target)
        fixes.insert(0, "# the fleet's proxy (add credentials if it needs them):")
    else:
        fixes = ["remove the proxy from the daemon: "
                 + ", ".join(sorted({dp.origin.get(v, '') for v, _, _ in diffs if dp.origin.get(v)})),
                 *reload_and_restart(ctx.family)]
    yield Hit(evidence=evidence, severity=severity, title=title, remediation=fixes)


@rule(
    id="proxy.https-proxy-missing", category="proxy", severity="medium",
    title="HTTP_PROXY set for the daemon but HTTPS_PROXY is not",
    why="""
Registries speak HTTPS, and Go uses HTTPS_PROXY for https:// URLs only; it never falls
back to HTTP_PROXY. With just HTTP_PROXY set the daemon connects to registries directly,
failing on a proxy-only network with "dial tcp ...:443: i/o timeout".
""",
    remediation=["set HTTPS_PROXY (usually the same http://proxy:port URL) next to HTTP_PROXY "
                 "for the daemon", "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def https_proxy_missing(ctx: HostContext) -> Iterator[Hit]:
    dp = daemon_proxy(ctx.facts)
    if dp is None or not dp.get("HTTP_PROXY") or dp.get("HTTPS_PROXY"):
        return
    exp = expect(ctx, "proxy.daemon.endpoints", _endpoints)
    if exp is not None and exp.value.get("HTTPS_PROXY"):
        return   # proxy.daemon-differs reports it against the fleet
    severity = "low" if exp is not None and exp.value.get("HTTP_PROXY") else "medium"
    values = {"HTTP_PROXY": dp.get("HTTP_PROXY"), "HTTPS_PROXY": dp.get("HTTP_PROXY"),
              "NO_PROXY": dp.get("NO_PROXY") or "localhost,127.0.0.1"}
    yield Hit(
        evidence=[ev(dp.origin.get("HTTP_PROXY", "proxy.daemon.HTTP_PROXY"), mask(dp.get("HTTP_PROXY"))),
                  ev(dp.origin.get("HTTPS_PROXY", "proxy.daemon.HTTPS_PROXY"), None,
                     note="https:// registry traffic goes direct")],
        severity=severity, remediation=dropin_commands(ctx.family, values),
        title="daemon has HTTP_PROXY but no HTTPS_PROXY: registry traffic bypasses the proxy",
    )


@rule(
    id="proxy.no-proxy-registry", category="proxy", severity="high",
    title="NO_PROXY does not cover a private registry or mirror the fleet uses",
    why="""
With a proxy set, the daemon sends every registry not matched by NO_PROXY through it. An
internal registry or mirror then fails through the proxy: "proxyconnect tcp: ...", "Proxy
Authentication Required", "received unexpected HTTP status: 403 Forbidden" / 502, timeouts,
or, when the proxy intercepts TLS, "x509: certificate signed by unknown authority". NO_PROXY
matches host names (a.com also covers b.a.com), not resolved addresses.
""",
    remediation=["add the registry host to the daemon's NO_PROXY (drop-in or daemon.json \"proxies\")",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def no_proxy_registry(ctx: HostContext) -> Iterator[Hit]:
    dp = daemon_proxy(ctx.facts)
    if dp is None or not dp.any_proxy:
        return
    insecure = insecure_registries(ctx.facts)
    insecure = insecure if insecure is not MISSING else []
    uncovered = []
    for reg in sorted(fleet_registries(ctx).values(), key=lambda r: r.name):
        if reg.name == DOCKER_HUB:
            continue
        host, port = _split_host_port(reg.name)
        via = dp.get("HTTPS_PROXY") or (dp.get("HTTP_PROXY") if reg.name in insecure else "")
        if not via or no_proxy_covers(dp.get("NO_PROXY"), host, port or 443):
            continue
        elsewhere = _exempted_elsewhere(ctx, host, port or 443)
        internal = internal_name(reg.name)
        if elsewhere is None and is_public(reg.name):
            continue
        weak = [s for s in ("private CA", "insecure") if s in reg.signals]
        if elsewhere is None and internal is None and not weak:
            continue
        reason = (f"exempt from the proxy on {elsewhere}" if elsewhere else internal or
                  f"{weak[0]} (an internal registry)")
        severity = "high" if (elsewhere or internal) else "medium"
        uncovered.append((reg, host, via, reason, severity))
    if not uncovered:
        return
    no_proxy = dp.get("NO_PROXY")
    target = dict(dp.values)
    target["NO_PROXY"] = _with_registries(no_proxy, [u[1] for u in uncovered])
    symptoms = _log_counts(ctx.facts, PROXY_SYMPTOMS)
    for reg, host, via, reason, severity in uncovered:
        sig, where = next(iter(sorted(reg.signals.items())))
        evidence = [
            ev(dp.origin.get("NO_PROXY", "proxy.daemon.NO_PROXY"), no_proxy or None,
               f"an entry matching {host}", note=f"{host} goes through {mask(via)}"),
            ev(where.split(" ", 1)[0], reg.name, note=f"the fleet uses it ({sig}); {reason}"),
        ]
        for cls, n in sorted(symptoms.items()):
            evidence.append(ev(fact_path("daemon_log", "counts", cls), n))
        yield Hit(evidence=evidence, severity=severity,
                  title=f"{cap(reg.name, 80)} is not in the daemon's NO_PROXY: pulls go through {mask(via)}",
                  remediation=dropin_commands(ctx.family, target)
                  if not dp.origin.get("NO_PROXY", "").startswith(("daemon_json", "proxy.daemon_json"))
                  else [f"set \"no-proxy\": {q(target['NO_PROXY'])} in \"proxies\" of /etc/docker/daemon.json",
                        *reload_and_restart(ctx.family)])


_CRED_FIX = {
    "environment_file": "remove user:password from /etc/environment (world-readable, copied into every "
                        "login session); dockerd does not read it anyway",
    "login_shell": "remove user:password from the profile scripts that export the proxy",
    "daemon_json": "sudo chmod 600 /etc/docker/daemon.json   # it is world-readable by default",
    "dropin": "move the variables to an EnvironmentFile only root can read: "
              "sudo install -m 600 /dev/null /etc/docker/proxy.env; put HTTP_PROXY=... there; "
              "EnvironmentFile=/etc/docker/proxy.env in the drop-in (systemctl show prints "
              "Environment= to any user)",
    "conf.d": "sudo chmod 600 /etc/conf.d/docker",
}


def _cred_kind(where: str) -> str:
    w = where.lower()
    if "environment_file" in w or w == "/etc/environment":
        return "environment_file"
    if "login_shell" in w or "profile" in w or "bashrc" in w:
        return "login_shell"
    if "daemon_json" in w or "daemon.json" in w:
        return "daemon_json"
    if "conf.d" in w:
        return "conf.d"
    return "dropin"


def credential_locations(facts: dict) -> Dict[str, str]:
    """where (fact path or file) -> masked proxy URL, for every proxy URL with user:pass."""
    out: Dict[str, str] = {}
    for w in dig(facts, "proxy.has_credentials") or []:
        if isinstance(w, str) and w:
            out.setdefault(cap(w, 200), "")
        elif isinstance(w, dict) and isinstance(w.get("path") or w.get("where"), str):
            out.setdefault(cap(w.get("path") or w.get("where"), 200), "")
    for src in ("environment_file", "login_shell"):
        env = dig(facts, f"proxy.{src}")
        for k, v in (env.items() if isinstance(env, dict) else ()):
            if k.lower().endswith("_proxy") and has_userinfo(_value(v)):
                out[fact_path("proxy", src, k)] = mask(_value(v))
    for i, d in enumerate(dig(facts, "proxy.dropins") or []):
        if not isinstance(d, dict) or not isinstance(d.get("env"), dict):
            continue
        for k, v in d["env"].items():
            if has_userinfo(_value(v)):
                out[fact_path("proxy", "dropins", str(d.get("path") or i), "env", k)] = mask(_value(v))
    jp, jpath = json_proxies(facts)
    for var, v in jp.items():
        if has_userinfo(v):
            out[fact_path(*jpath.split("."), _JSON_KEYS[var])] = mask(v)
    if not out and docker_running(facts):
        for key in ("http_proxy", "https_proxy"):
            v = _value(dig(facts, f"docker.info.{key}"))
            if has_userinfo(v):
                out[f"docker.info.{key}"] = mask(v)
    return out


@rule(
    id="proxy.credentials-plaintext", category="proxy", severity="medium",
    title="proxy password stored in plain text",
    why="""
A proxy URL with user:password in a systemd drop-in, /etc/environment or daemon.json is
readable by every local user (`systemctl show docker` prints Environment= lines, the
files are world-readable by default) and ends up in process listings and support bundles.
It does not break pulls; a rotated password does, with "Proxy Authentication Required".
""",
    remediation=["keep the credentials in a root-only file (EnvironmentFile= with mode 600)",
                 "rotate the proxy password if the file was readable"],
)
def credentials_plaintext(ctx: HostContext) -> Iterator[Hit]:
    where = credential_locations(ctx.facts)
    if not where:
        return
    kinds = sorted({_cred_kind(w) for w in where})
    yield Hit(
        evidence=[ev(w if "." in w and not w.startswith("/") else "proxy.has_credentials",
                     v or w, note="user:password in a proxy URL (value redacted)") for w, v in where.items()],
        title=f"proxy credentials in plain text ({len(where)} place{'s' if len(where) > 1 else ''})",
        remediation=[_CRED_FIX[k] for k in kinds] + ["rotate the proxy password if the file was readable",
                                                     *reload_and_restart(ctx.family)],
    )


def _dropin_env(facts: dict) -> Dict[str, Tuple[str, str]]:
    """VAR -> (value, fact path) from the daemon's environment configuration (not daemon.json)."""
    out: Dict[str, Tuple[str, str]] = {}
    dropins = dig(facts, "proxy.dropins")
    for i, d in enumerate(dropins if isinstance(dropins, list) else []):
        if not isinstance(d, dict):
            continue
        for var in PROXY_VARS:
            val, key = _lookup(d.get("env"), var)
            if val:  # later drop-ins win, as in systemd
                out[var] = (val, fact_path("proxy", "dropins", str(d.get("path") or i), "env", key or var))
    if not out:
        daemon = dig(facts, "proxy.daemon")
        for var in PROXY_VARS:
            raw = daemon.get(var) if isinstance(daemon, dict) else None
            src = raw.get("source") if isinstance(raw, dict) else None
            val = _value(raw)
            if val and not (isinstance(src, str) and "daemon.json" in src):
                out[var] = (val, fact_path("proxy", "daemon", var))
    return out


@rule(
    id="proxy.json-env-conflict", category="proxy", severity="medium",
    title="daemon.json \"proxies\" and the daemon's environment disagree",
    why="""
The daemon's proxy is configured twice with different values: daemon.json "proxies" and
the environment (systemd drop-in). On Docker 23+ the daemon.json value takes precedence, so
the drop-in everyone reads is not what the daemon uses; before Docker 23 dockerd does not
know "proxies" at all and refuses to start ("the following directives don't match any
configuration option: http-proxy").
""",
    remediation=["keep one source of truth: remove the proxy from the drop-in or from daemon.json",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker",
                 "docker info | grep -i proxy   # what the daemon really uses"],
    needs_docker=True,
)
def json_env_conflict(ctx: HostContext) -> Iterator[Hit]:
    jp, jpath = json_proxies(ctx.facts)
    env = _dropin_env(ctx.facts)
    conflicts = []
    for var in PROXY_VARS:
        if var not in jp or var not in env:
            continue
        a, b = jp[var], env[var][0]
        same = (proxy_endpoint(a) == proxy_endpoint(b)) if var != "NO_PROXY" else \
            sorted(x.strip() for x in a.split(",") if x.strip()) == sorted(x.strip() for x in b.split(",") if x.strip())
        if not same:
            conflicts.append(var)
    if not conflicts:
        return
    major = engine_major(ctx.facts)
    winner = ("daemon.json wins (Docker 23+)" if major is not None and major >= DAEMON_JSON_PROXIES_MAJOR
              else "dockerd before 23 refuses daemon.json \"proxies\"" if major is not None
              else "daemon.json wins on Docker 23+")
    evidence = []
    for var in conflicts:
        evidence.append(ev(fact_path(*jpath.split("."), _JSON_KEYS[var]), mask(jp[var]), note=winner))
        evidence.append(ev(env[var][1], mask(env[var][0])))
    if docker_running(ctx.facts):
        evidence.append(ev("docker.info.https_proxy", mask(_value(dig(ctx.facts, "docker.info.https_proxy"))) or None,
                           note="what the running daemon uses"))
    yield Hit(evidence=evidence,
              title=f"{', '.join(conflicts)} set differently in daemon.json and the daemon's environment: {winner}")


@rule(
    id="proxy.restart-pending", category="proxy", severity="medium",
    title="the running daemon does not use the configured proxy (restart pending)",
    why="""
dockerd reads its proxy only when it starts. After editing the drop-in (or daemon.json) the
running daemon keeps the old value until `systemctl daemon-reload && systemctl restart
docker`: pulls keep failing the old way ("i/o timeout" without a proxy, "proxyconnect tcp" with
a dead one) although the configuration looks right.
""",
    remediation=["sudo systemctl daemon-reload && sudo systemctl restart docker",
                 "docker info | grep -i proxy"],
    needs_docker=True,
)
def restart_pending(ctx: HostContext) -> Iterator[Hit]:
    if not docker_running(ctx.facts):
        return
    conf = configured_proxy(ctx.facts)
    running = daemon_proxy(ctx.facts)
    if conf is None or running is None:
        return
    diffs = []
    for var in ("HTTP_PROXY", "HTTPS_PROXY"):
        want = proxy_endpoint(conf.get(var))
        # Only a configured value the daemon lacks: a proxy the daemon has from a source
        # the collector cannot see (EnvironmentFile=) is not evidence of anything.
        if want and want != proxy_endpoint(running.get(var)):
            diffs.append(var)
    if not diffs:
        return
    evidence = []
    for var in diffs:
        evidence.append(ev(running.origin.get(var, var), mask(running.get(var)) or None, mask(conf.get(var)),
                           note=f"configured in {conf.origin.get(var, 'the daemon configuration')}"))
    yield Hit(evidence=evidence, remediation=reload_and_restart(ctx.family) + ["docker info | grep -i proxy"],
              title=f"dockerd runs without its configured {', '.join(diffs)}: restart pending")
