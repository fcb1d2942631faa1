"""HostView: the derived answers of one host ("what this host's dockerd really uses"),
computed from its parsed facts at most once each.

A HostView never changes its host's facts; it caches its own answers in itself (a
FleetView builds one per host per run). Registry arguments take any spelling a user or
a config file might use ("docker.io", "index.docker.io", "reg.lab:5000",
"https://reg.lab:5000/v2/"); Docker Hub is answered for its API host
(registry-1.docker.io), the host dockerd connects to.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..reference import DOCKER_HUB_API
from . import clock, daemon, platform as _platform, proxy, registries, trust as _trust, versions
from .schema import dig
from .values import MISSING


def _no_catalog(_sha: Any) -> Any:
    return None


class HostView:
    """The derived facts of one host. `facts` is its parsed facts (a HostResult's
    `.facts`, or a baseline's nested facts); `catalog` looks up a file's certificates by
    sha256 (the run's catalog); `run_meta` is the run's metadata (for its start time)."""

    def __init__(self, name: str, facts: Any, catalog: Optional[Callable[[Any], Any]] = None,
                 run_meta: Any = None):
        self.name = name
        self.facts: dict = facts if isinstance(facts, dict) else {}
        self._catalog = catalog or _no_catalog
        self._run_meta = run_meta

    def __repr__(self) -> str:
        return f"HostView({self.name!r})"

    def fact(self, path: str, default: Any = None) -> Any:
        """A raw fact by dotted path (for facts with no derived answer yet)."""
        return dig(self.facts, path, default)

    # ------------------------------------------------------------ the system and daemon

    @cached_property
    def family(self) -> str:
        """OS family ("debian", "rhel", "alpine", ...), "unknown" when not known."""
        return str(dig(self.facts, "system.family", "unknown") or "unknown")

    @cached_property
    def platform_fact(self) -> Tuple[Optional[str], Any]:
        """(fact path, OCI platform) — see `platform`; (None, MISSING) when unknown."""
        return _platform.platform_fact(self.facts)

    @property
    def platform(self) -> Optional[str]:
        """The OCI platform this host pulls ("linux/amd64", "linux/arm64/v8",
        "linux/arm/v7"): uname -m first, then what the daemon reports; None when unknown."""
        p = self.platform_fact[1]
        return p if isinstance(p, str) else None

    def platform_matches(self, platforms: List[str]) -> Optional[bool]:
        """Does a manifest list offering `platforms` have this host's platform (os/arch,
        and the variant for 32-bit arm)? None when this host's platform is unknown."""
        return None if self.platform is None else _platform.platform_matches(self.platform, platforms)

    @cached_property
    def docker_installed(self) -> Optional[bool]:
        """Is Docker installed (docker.installed)? None when not known."""
        v = dig(self.facts, "docker.installed")
        return v if isinstance(v, bool) else None

    @cached_property
    def daemon_up(self) -> Optional[bool]:
        """Did the daemon answer (docker.daemon_up)? None when not known."""
        v = dig(self.facts, "docker.daemon_up")
        return v if isinstance(v, bool) else None

    @cached_property
    def daemon_unreadable(self) -> bool:
        """The daemon's socket refused the audit user (docker.error_kind "permission..."):
        "down" would be a guess."""
        return str(dig(self.facts, "docker.error_kind") or "").startswith("permission")

    @cached_property
    def docker_running(self) -> bool:
        """The daemon answered and `docker info` was collected."""
        return daemon.docker_running(self.facts)

    @cached_property
    def daemon_config(self) -> Optional[dict]:
        """daemon.json as a dict when present and valid, else None."""
        return daemon.daemon_config(self.facts)

    @cached_property
    def engine_version(self) -> Optional[str]:
        """The engine's version (running daemon's, else the dockerd binary's); None if unknown."""
        return versions.engine_version(self.facts)

    @cached_property
    def engine_major(self) -> Optional[int]:
        """The engine's major version, None when unknown."""
        return versions.engine_major(self.facts)

    @cached_property
    def data_root(self) -> Optional[str]:
        """dockerd's data root (Docker Root Dir), None when unknown."""
        return daemon.data_root(self.facts)[1]

    @cached_property
    def registry_mirrors(self) -> Any:
        """Mirrors the daemon uses (docker info), else daemon.json's; MISSING if unknown."""
        return daemon.registry_mirrors(self.facts)

    @cached_property
    def insecure_registries(self) -> Any:
        """Insecure registries and CIDRs the daemon uses (loopback left out); MISSING if unknown."""
        return daemon.insecure_registries(self.facts)

    # ------------------------------------------------------------ time

    @cached_property
    def clock_offset_s(self) -> Optional[float]:
        """This host's clock minus the auditor's, in seconds (None when not measured)."""
        s = clock.skew_of(self.facts)
        return s[0] if s else None

    @cached_property
    def clock_uncertainty_s(self) -> Optional[float]:
        """The offset's measuring uncertainty (half the SSH round trip), None when not measured."""
        s = clock.skew_of(self.facts)
        return s[1] if s else None

    @cached_property
    def now(self) -> clock.Now:
        """The real time and this host's time, for certificate validity checks."""
        return clock.clock_now(self.facts, self._run_meta)

    # ------------------------------------------------------------ proxy

    @cached_property
    def daemon_proxy(self) -> Optional[proxy.DaemonProxy]:
        """HTTP_PROXY/HTTPS_PROXY/NO_PROXY dockerd uses (docker info for a running daemon,
        else its environ / unit + drop-ins / daemon.json "proxies"); None when unknown."""
        return proxy.daemon_proxy(self.facts)

    @cached_property
    def session_proxy(self) -> Optional[proxy.DaemonProxy]:
        """The SSH session's proxy variables (the CLI's, never the daemon's); None when
        the session's environment was not reported."""
        return proxy.session_proxy(self.facts)

    @cached_property
    def login_proxy(self) -> Optional[proxy.DaemonProxy]:
        """The proxy a login shell gets (/etc/environment, the SSH session, profile
        scripts; first that sets a variable wins). dockerd never reads these. None when
        the proxy facts are missing."""
        return proxy.login_proxy(self.facts)

    @cached_property
    def login_proxies(self) -> Dict[str, str]:
        """fact path -> HTTP(S) proxy URL set for logins (what "works in my shell" uses)."""
        return proxy.shell_proxies(self.facts)

    def login_value(self, var: str) -> str:
        """A proxy variable's value in the first login environment that sets it ("" if none)."""
        return proxy.shell_value(self.facts, var)

    @staticmethod
    def endpoint(registry: str) -> Tuple[str, int]:
        """(host, port) dockerd connects to for a registry (Docker Hub: its API host)."""
        reg = registries.registry_host(registry) or registry
        if reg == registries.DOCKER_HUB:
            return DOCKER_HUB_API, 443
        return registries.split_host_port(reg)

    def daemon_route(self, host: str, port: int = 443) -> proxy.ProxyRoute:
        """How dockerd reaches host:port (daemon_proxy_for, for a host name already
        resolved to what dockerd dials, e.g. a Reference's api_host and port)."""
        return proxy.route(self.daemon_proxy, "dockerd", host, port)

    def session_route(self, host: str, port: int = 443) -> proxy.ProxyRoute:
        """How the SSH session's clients reach host:port (see session_proxy_for)."""
        return proxy.route(self.session_proxy, "the SSH session", host, port)

    def daemon_proxy_for(self, registry: str) -> proxy.ProxyRoute:
        """How dockerd reaches `registry`: (redacted proxy URL, reason) or (None, reason)
        for direct, with Go's NO_PROXY semantics. `.known` False / `.via_proxy` None when
        the daemon's proxy settings are unknown."""
        return self.daemon_route(*self.endpoint(registry))

    def session_proxy_for(self, registry: str) -> proxy.ProxyRoute:
        """How the docker CLI / curl in an SSH session reach `registry` (the session's
        own proxy variables); same shape as daemon_proxy_for."""
        return self.session_route(*self.endpoint(registry))

    def login_proxy_for(self, registry: str) -> proxy.ProxyRoute:
        """How a login shell's clients (curl, the docker CLI after `sudo -i`) reach
        `registry`; same shape as daemon_proxy_for."""
        return proxy.route(self.login_proxy, "login shells", *self.endpoint(registry))

    def proxy_paths_differ(self, registry: str) -> Optional[bool]:
        """True when dockerd and a login shell take different routes to `registry` (a
        check run in the shell then proves nothing about the daemon); None if unknown."""
        d, s = self.daemon_proxy_for(registry), self.login_proxy_for(registry)
        if not d.known or not s.known:
            return None
        return d.proxy != s.proxy

    # ------------------------------------------------------------ TLS trust

    @cached_property
    def trust(self) -> Optional[_trust.Trust]:
        """What this host trusts (bundle, anchors, certs.d) with the catalog's
        certificates; None when the tls facts are missing or incomplete."""
        return _trust.trust_of(self._catalog, self.facts)

    @cached_property
    def certs_d_dirs(self) -> List[str]:
        """The /etc/docker/certs.d/ directory names as they are on the host (unnormalized)."""
        d = dig(self.facts, "tls.certs_d")
        return [k for k in d if isinstance(k, str)] if isinstance(d, dict) else []

    @cached_property
    def insecure_entries(self) -> Any:
        """Every insecure-registries entry dockerd applies, loopback included; MISSING if unknown."""
        return daemon.insecure_entries(self.facts)

    def trust_for(self, registry: str) -> _trust.RegistryTrust:
        """The CA trust dockerd applies to `registry`: its certs.d CA files, the system
        bundle, whether an insecure-registries entry (name or CIDR) turns verification
        off, and (Docker Hub) the mirrors tried first."""
        return _trust.registry_trust(self.trust, registry, self.insecure_entries,
                                     self.registry_mirrors, registries.DOCKER_HUB)

    # ------------------------------------------------------------ registries and credentials

    @cached_property
    def own_registries(self) -> Dict[str, str]:
        """registry -> the fact that shows this host pulls from it (credentials, mirrors, daemon log)."""
        return registries.own_registries(self.facts)

    @cached_property
    def registries_named(self) -> Dict[str, Dict[str, str]]:
        """registry -> {signal: fact path} of every registry this host's facts name."""
        return registries.registries_of(self.facts)

    @cached_property
    def root_registries(self) -> Any:
        """Registries root has credentials for (sorted), [] for none, MISSING when unknown."""
        return registries.root_registries(self.facts)

    def root_has_credentials(self, registry: str) -> Optional[bool]:
        """Does root (whose config.json `sudo docker pull` uses) hold credentials for
        `registry`? None when root's credentials could not be read."""
        mine = self.root_registries
        if mine is MISSING:
            return None
        return (registries.registry_host(registry) or registry) in mine

    @cached_property
    def credentials_by_user(self) -> Dict[str, List[str]]:
        """user -> sorted registries that user's docker config has credentials for."""
        return {u: sorted(registries.user_registries(e))
                for u, e in sorted(registries.credential_users(self.facts).items())}

    def credential_users(self, registry: str) -> List[str]:
        """The users whose docker config holds credentials for `registry` (root included
        when it does)."""
        reg = registries.registry_host(registry) or registry
        return [u for u, regs in self.credentials_by_user.items() if reg in regs]

    def non_root_only_credentials(self, registry: str) -> bool:
        """Credentials for `registry` exist only for non-root users (root pulls anonymously)."""
        users = self.credential_users(registry)
        return bool(users) and self.root_has_credentials(registry) is False
