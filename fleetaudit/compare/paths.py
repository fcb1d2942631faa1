"""Fact paths: how one fact of a host is named, and the catalogue of every name.

A fact path names one value in a host's facts, collector first:

    docker.info.registry_mirrors
    network.interfaces.eth0.mtu                      (a list keyed by name, see flatten)
    tls.certs_d["registry.example.com:5000"]         (a key that is not a plain word)

Plain segments ([A-Za-z0-9_-]+) are joined with dots; any other key (dots, colons,
slashes, empty) is written as a JSON string in brackets, so every path splits back
into exactly the keys it came from.

The catalogue lists every path the collectors produce, as segment patterns: `*` is
any one segment (an interface name, a registry), `**` any number of trailing segments
(daemon.json content, whose keys are the user's). Policy files are checked against it:
a misspelled path is an error, not a check that silently never fires.
"""
from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from typing import Iterable, List, Optional, Sequence, Tuple

_BARE = re.compile(r"[A-Za-z0-9_-]+\Z")
# One segment of a written path: a bare word (wildcards allowed) or ["json string"].
_TOKEN = re.compile(r'\.?(?:(?P<bare>[A-Za-z0-9_*?-]+)|\[(?P<quoted>"(?:[^"\\]|\\.)*")\])')


class PathSyntaxError(ValueError):
    pass


def segment(key: str) -> str:
    """One key as written inside a path (without the joining dot)."""
    return key if _BARE.match(key) else "[" + json.dumps(key) + "]"


_SUFFIX: dict = {}  # key -> how it extends a path (memo: the same keys recur on every host)


def join(prefix: str, key: str) -> str:
    """`prefix` extended by one key."""
    suffix = _SUFFIX.get(key)
    if suffix is None:
        suffix = ("." + key) if _BARE.match(key) else "[" + json.dumps(key) + "]"
        if len(_SUFFIX) < 100_000:
            _SUFFIX[key] = suffix
    if not prefix:
        return suffix[1:] if suffix[0] == "." else suffix
    return prefix + suffix


def join_all(keys: Iterable[str]) -> str:
    out = ""
    for key in keys:
        out = join(out, key)
    return out


@lru_cache(maxsize=65536)
def split(path: str) -> Tuple[str, ...]:
    """The keys of a written path; inverse of join_all. Raises PathSyntaxError."""
    keys: List[str] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or (m.group(0).startswith(".") and pos == 0):
            raise PathSyntaxError(f"bad fact path {path!r} at character {pos + 1}")
        if m.group("bare") is not None:
            if pos and not m.group(0).startswith("."):
                raise PathSyntaxError(f"bad fact path {path!r}: missing '.' at character {pos + 1}")
            keys.append(m.group("bare"))
        else:
            keys.append(json.loads(m.group("quoted")))
        pos = m.end()
    if not keys:
        raise PathSyntaxError("empty fact path")
    return tuple(keys)


def ancestors(path: str) -> List[str]:
    """Proper ancestors below the collector, shortest first: a.b.c.d -> [a.b, a.b.c]."""
    keys = split(path)
    return [join_all(keys[:n]) for n in range(2, len(keys))]


def is_under(path: str, prefix: str) -> bool:
    """Is `path` equal to `prefix` or inside it (segment-wise, not by string prefix)?"""
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix):]
    return rest == "" or rest[0] in ".["


# --- the catalogue ---------------------------------------------------------------------
# Keep in step with the collector docstrings (fleetaudit/collectors/*.py); a test
# flattens every fixture in tests/facts and fails on any path missing here.
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
               "no_proxy", "ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy")
_DISK = ("path", "size", "used", "avail", "used_pct", "inodes", "inodes_used",
         "inodes_used_pct", "fs_type", "mount", "device", "error")
_TLS_FILE = ("path", "sha256", "size", "count", "has_private_key", "kind", "suffix_ok",
             "fingerprints")

CATALOGUE: Tuple[str, ...] = tuple(
    # system
    ["system.hostname", "system.kernel", "system.arch", "system.family", "system.uptime_s"]
    + [f"system.os.{k}" for k in ("id", "id_like", "version_id", "version_codename", "pretty_name")]
    + ["system.os", "system.error"]
    # docker
    + ["docker.installed", "docker.daemon_up", "docker.error", "docker.client", "docker.server",
       "docker.info", "docker.context", "docker.socket"]
    + [f"docker.client.{k}" for k in ("version", "api_version", "os", "arch", "error")]
    + [f"docker.server.{k}" for k in ("version", "api_version", "min_api_version", "os", "arch",
                                      "containerd_version", "runc_version")]
    + [f"docker.info.{k}" for k in (
        "storage_driver", "docker_root_dir", "architecture", "os_type", "cgroup_driver",
        "cgroup_version", "registry_mirrors", "insecure_registries", "http_proxy",
        "https_proxy", "no_proxy", "live_restore", "server_version", "containers_running",
        "containers_total", "containers_paused", "containers_stopped", "containers", "images",
        "warnings", "default_address_pools", "default_runtime", "kernel_version",
        "operating_system", "index_server_address", "name", "ncpu", "mem_total", "debug",
        "experimental", "logging_driver", "security_options", "rootless", "id")]
    # daemon_json
    + [f"daemon_json.{k}" for k in ("path", "present", "size", "valid", "error", "keys",
                                    "config", "sha256", "readable")]
    + ["daemon_json.config.**"]
    # proxy
    + ["proxy.daemon", "proxy.daemon.*", "proxy.daemon.*.value", "proxy.daemon.*.source",
       "proxy.daemon_no_proxy", "proxy.dropins", "proxy.dropins.*", "proxy.dropins.*.path",
       "proxy.dropins.*.env", "proxy.dropins.*.env.*", "proxy.daemon_json_proxies",
       "proxy.daemon_json_proxies.*", "proxy.environment_file", "proxy.environment_file.*",
       "proxy.login_shell", "proxy.login_shell.*", "proxy.has_credentials", "proxy.error",
       ]
    # dns
    + ["dns.resolv_conf", "dns.resolv_conf.nameservers", "dns.resolv_conf.search",
       "dns.resolv_conf.options", "dns.resolv_conf.is_stub",
       "dns.resolved", "dns.resolved.upstreams", "dns.resolved.available",
       "dns.daemon_dns", "dns.resolves", "dns.resolves.*", "dns.error"]
    # tls (fingerprints are derived from the run's catalog, see flatten)
    + ["tls.bundle", "tls.bundle.present"] + [f"tls.bundle.{k}" for k in _TLS_FILE]
    + ["tls.anchors", "tls.anchors.*"] + [f"tls.anchors.*.{k}" for k in _TLS_FILE]
    + ["tls.certs_d", "tls.certs_d.*", "tls.certs_d.*.*"]
    + [f"tls.certs_d.*.*.{k}" for k in _TLS_FILE]
    + ["tls.anchor_dirs", "tls.certs_d_present", "tls.error"]
    # network
    + ["network.interfaces", "network.interfaces.*", "network.interfaces.*.mtu",
       "network.interfaces.*.state", "network.interfaces.*.addresses",
       "network.default_route", "network.default_route.interface",
       "network.default_route.gateway", "network.default_mtu",
       "network.docker0_mtu", "network.daemon_mtu", "network.error"]
    # firewall
    + [f"firewall.{t}" for t in ("iptables", "ip6tables")]
    + [f"firewall.{t}.{k}" for t in ("iptables", "ip6tables")
       for k in ("installed", "rules", "policies", "policies.*", "error", "backend")]
    + ["firewall.nft", "firewall.nft.installed", "firewall.nft.ruleset", "firewall.nft.error",
       "firewall.output_blocks_443", "firewall.error"]
    # time (clock is measured by the controller)
    + ["time.clock", "time.clock.host_epoch", "time.clock.controller_epoch",
       "time.clock.skew_s", "time.clock.uncertainty_s", "time.ntp", "time.ntp.source",
       "time.ntp.synchronized", "time.ntp.detail"]
    # disk
    + [f"disk.{fs}" for fs in ("data_root", "root")]
    + [f"disk.{fs}.{k}" for fs in ("data_root", "root") for k in _DISK]
    + ["disk.docker_df"] + [f"disk.docker_df.{k}" for k in (
        "images_size", "containers_size", "volumes_size", "build_cache_size",
        "images_reclaimable", "error")]
    + ["disk.error"]
    # credentials
    + ["credentials.users", "credentials.users.*", "credentials.users.*.path",
       "credentials.users.*.auth_registries", "credentials.users.*.creds_store",
       "credentials.users.*.cred_helpers", "credentials.users.*.cred_helpers.*",
       "credentials.root_has_auth", "credentials.error",
       ]
    # daemon_log
    + ["daemon_log.source", "daemon_log.window_hours", "daemon_log.counts",
       "daemon_log.counts.*", "daemon_log.samples", "daemon_log.samples.*",
       "daemon_log.error"]
    # restarts
    + ["restarts.containers", "restarts.containers.*", "restarts.containers.*.*",
       "restarts.looping", "restarts.units", "restarts.units.*", "restarts.units.*.*",
       "restarts.error"]
)
"""Every fact path the collectors produce (segment patterns; see the module doc)."""

COLLECTORS: Tuple[str, ...] = tuple(dict.fromkeys(p.split(".", 1)[0] for p in CATALOGUE))


def _match(pattern: Sequence[str], keys: Sequence[str], prefix_ok: bool) -> bool:
    """Does `keys` match the catalogue `pattern` (or lead into it when prefix_ok)?"""
    for i, pat in enumerate(pattern):
        if pat == "**":
            return True
        if i >= len(keys):
            return prefix_ok
        if pat != "*" and keys[i] != "*" and pat != keys[i]:
            return False
    return len(keys) == len(pattern)


_SPLIT_CATALOGUE = [tuple(p.split(".")) for p in CATALOGUE]


@lru_cache(maxsize=4096)
def known(path: str) -> bool:
    """Is `path` (which may use `*` segments) a catalogued fact or an ancestor of one?"""
    try:
        keys = split(path)
    except PathSyntaxError:
        return False
    return any(_match(pat, keys, True) for pat in _SPLIT_CATALOGUE)


def suggest(path: str) -> Optional[str]:
    """The closest catalogued path, for 'did you mean' in error messages."""
    concrete = [p for p in CATALOGUE if "*" not in p]
    close = difflib.get_close_matches(path, concrete, n=1, cutoff=0.6)
    return close[0] if close else None
