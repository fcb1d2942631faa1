"""Facts -> a flat {fact path: value} map, the unit every comparison works on.

Why flat: a path is what a report, a policy file and an ignore rule all name, and a
flat map compares path by path in linear time, which keeps 10,000 hosts fast.

- dicts are walked key by key; an empty dict adds no path (nothing to compare);
- a list of scalars is ONE value (a list of rules is one fact); it compares as a
  multiset unless its path is in ORDERED_PATTERNS, where order changes behaviour;
- a list of dicts is walked by its natural key where KEYED says it has one
  (interfaces by name, CA files by path), so one changed MTU is one drift item, not
  "the interface list differs"; duplicate or missing keys fall back to one value;
- with the run's catalog, every hashed CA file gains `fingerprints` (the sorted
  sha256 fingerprints of the certificates in it), so a policy can require a CA.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from ..facts import schema as paths
from ..facts.values import canonical_json

def _basename(item: dict) -> Any:
    path = item.get("path")
    return path.rsplit("/", 1)[-1] if isinstance(path, str) and path else None


# Path pattern (paths.CATALOGUE syntax) of a list of dicts -> what names each element:
# a field (dropped from the element: it is already in the path) or a function.
KEYED: Dict[str, Any] = {
    "network.interfaces": "name",
    "tls.anchors": "path",
    "tls.certs_d.*": _basename,  # ca.crt, client.cert: the registry is the parent key
    "proxy.units": "path",
    "proxy.dropins": "path",
    "restarts.containers": "name",
    "restarts.units": "unit",
}

# Lists whose order changes behaviour: iptables evaluates rules top-down, the resolver
# asks nameservers and tries search domains in order, dockerd pairs a flag with the
# argument after it. Every other list compares as a multiset.
ORDERED_PATTERNS: Tuple[str, ...] = (
    "firewall.iptables.rules", "firewall.ip6tables.rules",          # older shape: one list
    "firewall.iptables.rules.*", "firewall.ip6tables.rules.*",      # per table
    "dns.resolv_conf.nameservers", "dns.resolv_conf.search", "dns.resolved.upstreams",
    "dns.uplink_nameservers", "dns.nsswitch_hosts",                 # sources are tried in order
    "daemon_json.dockerd_args", "docker.info.registry_mirrors",     # mirrors are tried in order
)
_ORDERED_SPLIT = [tuple(p.split(".")) for p in ORDERED_PATTERNS]
_ORDERED_MEMO: Dict[str, bool] = {}


def is_ordered(path: str) -> bool:
    hit = _ORDERED_MEMO.get(path)
    if hit is None:
        try:
            keys = paths.split(path) if path else ()
        except paths.PathSyntaxError:
            keys = ()
        hit = any(len(p) == len(keys) and all(a == "*" or a == b for a, b in zip(p, keys))
                  for p in _ORDERED_SPLIT)
        if len(_ORDERED_MEMO) < 100_000:
            _ORDERED_MEMO[path] = hit
    return hit


class _Absent:
    """The value of a fact a host does not have (distinct from a null value)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<absent>"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Absent, ())


ABSENT: Any = _Absent()

_KEYED_SPLIT = [(tuple(p.split(".")), field) for p, field in KEYED.items()]


def _keyed_field(keys: Tuple[str, ...]) -> Any:
    for pattern, field in _KEYED_SPLIT:
        if len(pattern) == len(keys) and all(p == "*" or p == k for p, k in zip(pattern, keys)):
            return field
    return None


def flatten(facts: Mapping[str, Any], catalog: Optional[Mapping[str, Any]] = None,
            fingerprint_cache: Optional[dict] = None) -> Dict[str, Any]:
    """Flatten one host's facts (collector -> dict) into {fact path: value}."""
    out: Dict[str, Any] = {}
    for vals in flatten_grouped(facts, catalog, fingerprint_cache).values():
        out.update(vals)
    return out


def flatten_grouped(facts: Mapping[str, Any], catalog: Optional[Mapping[str, Any]] = None,
                    fingerprint_cache: Optional[dict] = None) -> Dict[str, Dict[str, Any]]:
    """Like flatten, grouped by collector: {collector: {fact path: value}}."""
    grouped: Dict[str, Dict[str, Any]] = {}
    out: Dict[str, Any] = {}
    fp_cache = fingerprint_cache if fingerprint_cache is not None else {}

    def walk(value: Any, path: str, keys: Tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                k = k if isinstance(k, str) else str(k)
                walk(v, paths.join(path, k), keys + (k,))
            if catalog is not None and keys[0] == "tls" and isinstance(value.get("sha256"), str):
                fps = _fingerprints(value["sha256"], catalog, fp_cache)
                if fps is not None:
                    out[paths.join(path, "fingerprints")] = fps
            return
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            field = _keyed_field(keys)
            names = ([field(v) for v in value] if callable(field) else [v.get(field) for v in value]) \
                if field else []
            if field and all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in names) \
                    and len(set(map(str, names))) == len(names):
                for name, item in zip(names, value):
                    name = str(name)
                    child = {k: v for k, v in item.items() if callable(field) or k != field}
                    child_path = paths.join(path, name)
                    if child:
                        walk(child, child_path, keys + (name,))
                    else:  # an element with nothing but its name still exists
                        out[child_path] = {}
                return
        out[path] = value

    for collector, data in facts.items():
        out = grouped.setdefault(str(collector), {})
        walk(data, paths.join("", str(collector)), (str(collector),))
    return grouped


def _fingerprints(sha: str, catalog: Mapping[str, Any], cache: dict) -> Optional[list]:
    if sha in cache:
        return cache[sha]
    digest = catalog.get(sha)
    fps = None
    if isinstance(digest, list):
        fps = sorted({c["sha256"] for c in digest if isinstance(c, dict) and isinstance(c.get("sha256"), str)})
    cache[sha] = fps
    return fps


# --- canonical comparison keys ----------------------------------------------------------

def canon(value: Any, ordered: bool = False) -> Any:
    """A hashable key equal for values that compare equal as facts.

    Booleans never equal numbers (JSON true is not 1); unordered lists compare as
    multisets; dicts by content.
    """
    t = type(value)
    if t is str or t is int or value is None:
        return value
    if t is bool:
        return ("B", value)
    if t is float:
        return ("F", "nan") if math.isnan(value) else value
    if t is list or t is tuple:
        items = [canon(v) for v in value]
        if not ordered:
            if all(type(v) is str for v in items):
                items.sort()
            else:
                items.sort(key=lambda v: (type(v).__name__, repr(v)))
        return ("L", tuple(items))
    if value is ABSENT:
        return ABSENT
    return ("D", canonical_json(value))


def canon_at(path: str, value: Any) -> Any:
    return canon(value, is_ordered(path))


def subtree(flat: Mapping[str, Any], prefix: str) -> Any:
    """The value at `prefix`: a leaf, or the nested dict of its descendants, or ABSENT."""
    if prefix in flat:
        return flat[prefix]
    base = paths.split(prefix)
    found: Dict[str, Any] = {}
    for path, value in flat.items():
        if paths.is_under(path, prefix):
            node = found
            keys = paths.split(path)[len(base):]
            for k in keys[:-1]:
                node = node.setdefault(k, {})
                if not isinstance(node, dict):  # cannot happen for a real flat map
                    break
            else:
                node[keys[-1]] = value
    return found if found else ABSENT


def to_jsonable(value: Any) -> Any:
    """ABSENT becomes None; everything else is already JSON."""
    return None if value is ABSENT else value


def collectors_of(flat_paths: Iterable[str]) -> set:
    return {paths.collector(p) for p in flat_paths}
