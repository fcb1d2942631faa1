"""The fact schema: how one fact of a host is named, the catalogue of every name every
collector produces, and how a fact is read by its path.

(Moved here from compare/paths.py by issue 15: it is every collector's schema, not the
comparison's; fleetaudit.compare.paths re-exports it.)

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
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

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


def collector(path: str) -> str:
    """The first key of a path: the collector that reported the fact."""
    if path.startswith("["):
        return split(path)[0]
    return path.split(".", 1)[0].split("[", 1)[0]


def ancestors(path: str) -> List[str]:
    """Proper ancestors, shortest first: a.b.c.d -> [a, a.b, a.b.c]."""
    keys = split(path)
    return [join_all(keys[:n]) for n in range(1, len(keys))]


def dig(data: Any, path: str, default: Any = None) -> Any:
    """facts['a']['b']['c'] for the dotted path 'a.b.c', default when any step is missing
    (a plain-word path only: keys with dots are read with the dict itself)."""
    keys = _DIG_KEYS.get(path) if type(path) is str else None
    if keys is None:
        keys = tuple(path.split("."))  # a non-str path fails here, as it always did
        if len(_DIG_KEYS) < 50_000:
            _DIG_KEYS[path] = keys
    cur = data
    for key in keys:
        if isinstance(cur, dict) and key in cur:
            cur = cur[key]
        else:
            return default
    return cur


# dig's paths, split once: the rules read the same few hundred paths on every host
# (~190 dig calls per host).
_DIG_KEYS: Dict[str, Tuple[str, ...]] = {}


def is_under(path: str, prefix: str) -> bool:
    """Is `path` equal to `prefix` or inside it (segment-wise, not by string prefix)?"""
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix):]
    return rest == "" or rest[0] in ".["


# --- the catalogue ---------------------------------------------------------------------
# Keep in step with the collector docstrings (fleetaudit/collectors/*.py); a test
# flattens every fixture in tests/facts and fails on any path missing here.
# A tree per collector: a key maps to None (a value) or to its children; "*" is any key
# (an interface, a registry, a user), "**" any subtree (the user's own daemon.json).
_ = None
_PROXY_VALUE = {"value": _, "var": _, "source": _}
_DISK_FS = {k: _ for k in ("path", "source", "filesystem", "mount", "size", "used", "avail",
                           "used_pct", "inodes", "inodes_used", "inodes_free", "inodes_used_pct",
                           "error")}
_CA_FILE = {k: _ for k in ("path", "sha256", "size", "count", "has_private_key", "kind",
                           "suffix_ok", "fingerprints")}
_IPTABLES = {"installed": _, "version": _, "backend": _, "error": _, "permission_denied": _,
             "truncated": _, "legacy_tables_present": _, "policies": {"*": _},
             "rules": {"*": _}}
_TOOL = {"available": _, "synchronized": _, "enabled": _, "error": _}

TREE = {
    "system": {"hostname": _, "kernel": _, "arch": _, "family": _, "uptime_s": _, "error": _,
               "os": {k: _ for k in ("id", "id_like", "version_id", "version_codename", "pretty_name")}},
    "docker": {
        "installed": _, "daemon_up": _, "error": _, "error_kind": _, "cli_warnings": _,
        "responding": _, "skipped": {"*": _},
        "info_source": _,
        "client": {k: _ for k in ("version", "api_version", "os", "arch", "context")},
        "server": {"version": _, "api_version": _, "min_api_version": _, "os": _, "arch": _,
                   "kernel_version": _, "experimental": _, "components": {"*": _}},
        "info": {k: _ for k in (
            "storage_driver", "docker_root_dir", "architecture", "os_type", "operating_system",
            "kernel_version", "cgroup_driver", "cgroup_version", "registry_mirrors",
            "insecure_registries", "http_proxy", "https_proxy", "no_proxy", "live_restore",
            "rootless", "server_version", "index_server_address", "default_address_pools",
            "warnings", "containers_count", "containers_running_count", "images_count")},
        "dockerd": {k: _ for k in ("installed", "path", "version", "running")},
    },
    "daemon_json": {
        **{k: _ for k in ("path", "path_source", "present", "size", "valid", "error", "empty",
                          "bom", "keys", "duplicate_keys", "unrecognized_keys", "dockerd_args", "notes",
                          "args_source", "flag_conflicts")},
        "config": {"**": _}, "ignored_keys": {"*": _},
    },
    "proxy": {
        "daemon": {v: _PROXY_VALUE for v in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")},
        **{k: _ for k in ("daemon_source", "daemon_no_proxy", "dockerd_running",
                          "environ_readable", "init", "pending_restart", "missing_env_files",
                          "has_credentials")},
        "environ": {"*": _},
        "configured": {"*": {"value": _, "source": _}},
        "units": {"*": {"env": {"*": _}, "env_files": _, "reset": _, "unset": _}},
        "env_files": {"*": {"present": _, "readable": _, "env": {"*": _}, "ignored": _}},
        "daemon_json_proxies": {"*": _},
        "environment_file": {"*": _},
        "profile": {"*": {"*": _}},
        "session_env": {"*": _},
    },
    "dns": {
        "resolv_conf": {"present": _, "symlink": _, "nameservers": _, "search": _, "options": _,
                        "is_stub": _},
        "resolved": {"available": _, "tool": _, "upstreams": _, "per_link": {"*": _}, "error": _},
        "uplink_nameservers": _, "nsswitch_hosts": _, "hosts_entries": {"*": _},
        "hosts_capped": _, "error": _,
    },
    "tls": {
        "bundle": {"present": _, **_CA_FILE},
        "anchors": {"*": _CA_FILE},
        "anchor_dirs": _,
        "certs_d": {"*": {"*": _CA_FILE}},
        "certs_d_present": _, "error": _,
    },
    "network": {
        "ip_installed": _,
        "interfaces": {"*": {k: _ for k in ("mtu", "state", "addresses", "virtual", "master")}},
        "default_route": {k: _ for k in ("interface", "gateway", "metric", "mtu")},
        "default_route_count": _, "default_mtu": _, "docker0_mtu": _, "error": _,
    },
    "firewall": {
        "iptables": _IPTABLES, "ip6tables": _IPTABLES,
        "nft": {k: _ for k in ("installed", "error", "permission_denied", "truncated", "ruleset",
                               "base_chains")},
        **{k: _ for k in ("output_blocks_443", "output_blocks_dns", "forward_blocks_443",
                          "output_443_redirected")},
        "blocked_by": {k: _ for k in ("output_443", "output_dns", "forward_443", "redirect_443")},
    },
    "time": {
        "clock": {k: _ for k in ("host_epoch", "controller_epoch", "skew_s", "uncertainty_s")},
        "ntp": {k: _ for k in ("source", "synchronized", "enabled", "detail")},
        "timezone": _,
        "timedatectl": _TOOL,
        "chrony": {k: _ for k in ("available", "synchronized", "reference", "stratum",
                                  "leap_status", "error")},
        "ntpd": {k: _ for k in ("available", "synchronized", "sys_peer", "peers", "error")},
        "timesyncd_flag": _,
    },
    "disk": {
        "data_root": _DISK_FS, "root": _DISK_FS, "same_filesystem": _,
        "docker_df": {k: {"total": _, "active": _, "size": _, "reclaimable": _}
                      for k in ("images", "containers", "volumes", "build_cache")},
        "docker_df_error": _, "error": _,
    },
    "credentials": {
        "users": {"*": {
            **{k: _ for k in ("path", "size", "mode", "owner", "owner_matches", "valid", "error",
                              "empty", "auth_registries", "creds_store", "credential_registries",
                              "missing_helpers")},
            "auths": {"*": _}, "cred_helpers": {"*": _}}},
        **{k: _ for k in ("helpers_installed", "missing_helpers", "root_has_auth",
                          "root_registries", "scanned_as_root", "error")},
    },
    "daemon_log": {
        **{k: _ for k in ("source", "window_hours", "matched_count", "unclassified_count",
                          "unclassified_sample", "capped", "error")},
        "counts": {"*": _}, "samples": {"*": _},
    },
    "restarts": {
        **{k: _ for k in ("installed", "daemon_up", "error", "containers_total", "capped",
                          "looping", "systemd", "units_error")},
        "containers": {"*": {k: _ for k in ("image", "status", "restarting", "restart_count",
                                            "exit_code", "restart_policy")}},
        "units": {"*": {k: _ for k in ("load_state", "active_state", "sub_state", "result",
                                       "restarts")}},
    },
}


def _patterns(tree: dict, prefix: Tuple[str, ...] = ()) -> List[str]:
    out = []
    for key, sub in tree.items():
        keys = prefix + (key,)
        out.append(".".join(keys))
        if isinstance(sub, dict):
            out.extend(_patterns(sub, keys))
    return out


CATALOGUE: Tuple[str, ...] = tuple(_patterns(TREE))
"""Every fact path the collectors produce (segment patterns; see the module doc)."""

COLLECTORS: Tuple[str, ...] = tuple(TREE)


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
