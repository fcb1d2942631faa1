"""Registry names and who uses which: a registry's canonical name (Docker Hub's aliases
folded), host/port, public or evidently internal, the registries a host's facts name
(credentials, certs.d, mirrors, insecure list, daemon log), and which users hold
credentials for which registry (root's are the ones `sudo docker pull` sends)."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from ..reference import DEFAULT_DOMAIN, DOCKER_HUB_ALIASES
from .daemon import insecure_registries, registry_mirrors
from .schema import dig, join_all
from .values import MISSING, pure_memo

DOCKER_HUB = DEFAULT_DOMAIN
ROOT = "root"


def registry_host(name: Any) -> Optional[str]:
    """host[:port] of a registry as config.json, certs.d, daemon.json or a URL name it;
    Docker Hub's aliases are all "docker.io"."""
    if not isinstance(name, str):
        return None
    return _registry_host(name)


# The same few registry names recur on every host (10,000 hosts x 8 names per run):
# these pure functions of a string are memoized (bounded).
@pure_memo(4096)
def _registry_host(name: str) -> Optional[str]:
    if not name.strip():
        return None
    s = name.strip().lower()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = s.split("/", 1)[0]
    if "@" in s:
        s = s.rsplit("@", 1)[1]
    if not s or any(c.isspace() for c in s):
        return None
    if s.split(":", 1)[0] in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    return s


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


@pure_memo(4096)
def host_and_port(entry: str) -> Tuple[str, Optional[int]]:
    """(host, port) of a NO_PROXY entry or registry name; port None when there is none."""
    host, port = _host_and_port_text(entry)
    return host, int(port) if port.isdigit() else None


def split_host_port(name: str) -> Tuple[str, int]:
    """("registry.example", 5000) for "registry.example:5000"; port 443 when none."""
    host, port = _host_and_port_text(name)
    return host, int(port) if port.isdigit() and len(port) < 6 else 443


@pure_memo(4096)
def ip_of(host: str) -> Optional[Any]:
    """The IP address a host name is, None when it is a name (ip_address objects are
    immutable: a memoized one is safe to share)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


# Public registries: going through a corporate proxy is their normal path.
PUBLIC_REGISTRIES = ("docker.io", "ghcr.io", "quay.io", "gcr.io", "pkg.dev", "mcr.microsoft.com",
                     "registry.k8s.io", "k8s.gcr.io", "public.ecr.aws", "amazonaws.com",
                     "azurecr.io", "registry.gitlab.com", "nvcr.io", "docker.elastic.co",
                     "registry.redhat.io", "registry.access.redhat.com", "cgr.dev", "lscr.io",
                     "ecr.aws", "icr.io", "ocir.io")
# Name suffixes that only resolve inside an organisation (RFC 6762/8375, common practice).
INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".corp", ".home", ".intranet", ".private",
                     ".localdomain", ".home.arpa", ".test", ".example", ".invalid", ".priv")


@pure_memo(4096)
def is_public(host: str) -> bool:
    """True for a public registry (Docker Hub, ghcr.io, quay.io, cloud registries...)."""
    name = host.split(":", 1)[0] if not host.startswith("[") else host
    return any(name == p or name.endswith("." + p) for p in PUBLIC_REGISTRIES)


@pure_memo(4096)
def internal_name(host: str) -> Optional[str]:
    """Why a registry name is evidently internal (private address, internal suffix,
    single label), or None."""
    name, _ = host_and_port(host)
    ip = ip_of(name)
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


def credential_users(facts: dict) -> Dict[str, dict]:
    """user -> their docker config facts (credentials.users), dict entries only."""
    users = dig(facts, "credentials.users")
    return {u: v for u, v in users.items() if isinstance(v, dict)} if isinstance(users, dict) else {}


def root_registries(facts: dict) -> Any:
    """Root's registries, [] when root has no config, MISSING when not known (no
    credentials facts, or root's home could not be read)."""
    cred = dig(facts, "credentials")
    if not isinstance(cred, dict) or cred.get("error"):
        return MISSING
    users = credential_users(facts)
    root = users.get(ROOT)
    if root is not None and root.get("error") and root.get("valid") is not True:
        return MISSING    # e.g. "permission denied": the audit could not read it
    if root is not None:
        return sorted(user_registries(root))
    if cred.get("scanned_as_root") is False:
        return MISSING    # root's home was not readable: root's logins are unknown
    if isinstance(cred.get("root_registries"), list):
        return sorted({h for h in map(registry_host, cred["root_registries"]) if h})
    if cred.get("root_has_auth") is False:
        return []
    return MISSING


# ------------------------------------------------------------------ registries a host names

@dataclass
class Registry:
    """A registry the fleet uses and the signals that say so."""

    name: str
    signals: Dict[str, str] = field(default_factory=dict)   # signal -> example fact path/host


def registries_of(facts: dict) -> Dict[str, Dict[str, str]]:
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
                add(r, "credentials", join_all(("credentials", "users", user, key)))
        for r in (u.get("cred_helpers") or {}) if isinstance(u.get("cred_helpers"), dict) else ():
            add(r, "credentials", join_all(("credentials", "users", user, "cred_helpers")))
    certs = dig(facts, "tls.certs_d")
    for r, files in (certs.items() if isinstance(certs, dict) else ()):
        kinds = [f.get("kind") for f in (files.values() if isinstance(files, dict) else files or [])
                 if isinstance(f, dict)]
        add(r, "private CA" if "ca" in kinds else "certs.d", join_all(("tls", "certs_d", r)))
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
            found.setdefault(h, {}).setdefault("daemon log", join_all(("daemon_log", "samples", cls)))
    return found


def own_registries(facts: dict) -> Dict[str, str]:
    """registry -> fact path that shows THIS host pulls from it: its credentials, its
    mirrors, its daemon log (not its certs.d: a CA directory is what the TLS rules check)."""
    out: Dict[str, str] = {}
    users = dig(facts, "credentials.users")
    for user, entry in sorted(users.items()) if isinstance(users, dict) else ():
        if isinstance(entry, dict):
            for reg in sorted(user_registries(entry)):
                out.setdefault(reg, join_all(("credentials", "users", user, "credential_registries")))
    mirrors = registry_mirrors(facts)
    for m in mirrors if mirrors is not MISSING else ():
        h = registry_host(m)
        if h:
            out.setdefault(h, "docker.info.registry_mirrors")
    samples = dig(facts, "daemon_log.samples")
    for cls, line in sorted(samples.items()) if isinstance(samples, dict) else ():
        text = line.get("line") if isinstance(line, dict) else line
        for h in sorted(log_hosts(text if isinstance(text, str) else "")):
            out.setdefault(h, join_all(("daemon_log", "samples", cls)))
    return out


def hub_names() -> List[str]:
    """Docker Hub's names, for matching text that may name it any way."""
    return list(DOCKER_HUB_ALIASES)
