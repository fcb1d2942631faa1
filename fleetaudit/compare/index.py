"""FleetIndex: every audited host of a run, flattened once.

Consensus, comparison, the fact matrix and `diff` all need each host's flat facts;
flattening 10,000 hosts takes seconds, so it happens once per run and is shared.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..facts import schema as paths
from ..models import HostResult, RunResult
from ..snapshot import gc_paused  # noqa: F401  (re-exported: compare's callers import it from here)
from .flatten import ABSENT, canon_at, flatten_grouped, subtree


class HostIndex:
    """One audited host: flat facts and canonical keys, both grouped by collector."""

    __slots__ = ("name", "result", "flat", "keys", "scope", "groups")

    def __init__(self, result: HostResult, catalog: Mapping[str, Any], fp_cache: dict,
                 groups: Sequence[str], same: Optional[dict] = None):
        self.name = result.name
        self.result = result
        self.flat: Dict[str, Dict[str, Any]] = {}
        self.keys: Dict[str, Dict[str, Any]] = {}
        for col, data in (result.facts or {}).items():
            col = str(col)
            flat, keys = _flat_collector(col, data, catalog, fp_cache, same)
            if col in self.flat:  # two keys with one str() (not from JSON): merge as before,
                self.flat[col] = {**self.flat[col], **flat}   # into copies (maps may be shared)
                self.keys[col] = {**self.keys[col], **keys}
            else:
                self.flat[col], self.keys[col] = flat, keys
        self.scope: Set[str] = reported_collectors(result)
        self.groups: Tuple[str, ...] = tuple(groups)

    def value(self, path: str) -> Any:
        """The host's value at a leaf or subtree path, or ABSENT."""
        col = paths.collector(path)
        vals = self.flat.get(col, {})
        if path in vals:
            return vals[path]
        return subtree(vals, path)

    def key(self, path: str) -> Any:
        col = paths.collector(path)
        k = self.keys.get(col, {}).get(path, ABSENT)
        if k is ABSENT:
            v = self.value(path)
            return ABSENT if v is ABSENT else canon_at(path, v)
        return k


def _flat_collector(col: str, data: Any, catalog: Mapping[str, Any], fp_cache: dict,
                    same: Optional[dict]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """One collector's flat facts and canonical keys. Most collectors report the same
    thing on most hosts (proxy, dns, tls, firewall...): `same` maps a collector's exact
    content (its repr: types, key order and float bits included, unlike JSON text) to
    the flat maps already built for it, so those hosts share them instead of walking
    the same tree again. The shared maps are read-only by contract (nothing in compare
    writes into a host's flat facts)."""
    token = None
    if same is not None:
        try:
            token = (col, repr(data))
        except Exception:  # an exotic value whose repr fails: just do the work
            token = None
        if token is not None:
            hit = same.get(token)
            if hit is not None:
                return hit
    flat = flatten_grouped({col: data}, catalog, fp_cache).get(col, {})
    # str/int/None are their own keys whatever the path (canon's first case): skip the
    # per-path ordered-list lookup for them
    keys = {p: v if (type(v) is str or type(v) is int or v is None) else canon_at(p, v)
            for p, v in flat.items()}
    if token is not None:
        same[token] = (flat, keys)
    return flat, keys


def reported_collectors(result: HostResult) -> Set[str]:
    """Collectors whose facts are complete on this host (an incomplete collector's
    facts are not evidence of anything, so they are never compared)."""
    return {c for c in (result.facts or {}) if c not in (result.incomplete or {})}


def host_groups(result: RunResult) -> Dict[str, Tuple[str, ...]]:
    """host -> inventory groups, from `run["groups"]` (group -> [hosts], as the inventory
    gives it) or a `groups` attribute on HostResult; hosts without either are in 'all'."""
    out: Dict[str, List[str]] = {name: [] for name in result.hosts}
    groups = (result.run or {}).get("groups")
    if isinstance(groups, dict):
        for group, members in groups.items():
            for name in members or ():
                if name in out and group not in out[name]:
                    out[name].append(str(group))
    for name, h in result.hosts.items():
        for group in getattr(h, "groups", None) or ():
            if group not in out[name]:
                out[name].append(str(group))
    return {name: tuple(sorted(set(gs) | {"all"})) for name, gs in out.items()}


class FleetIndex:
    """The audited hosts (status ok or partial) of a run, in inventory order."""

    def __init__(self, result: RunResult):
        self.result = result
        groups = host_groups(result)
        fp_cache: dict = {}
        same: dict = {}  # collector content -> its flat maps, for this build only
        catalog = result.catalog or {}
        with gc_paused():
            self.hosts: Dict[str, HostIndex] = {
                name: HostIndex(h, catalog, fp_cache, groups.get(name, ("all",)), same)
                for name, h in result.hosts.items() if h.audited}
        self._counts: Dict[str, Dict[Any, List[str]]] = {}
        # (ignore rules, host names) -> a Consensus's value counts: the fleet-wide
        # consensus and the fact matrix count the same hosts the same way.
        self.counted: Dict[tuple, tuple] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.hosts

    def names(self) -> List[str]:
        return list(self.hosts)

    def holders(self, path: str) -> Dict[Any, List[str]]:
        """canonical value -> hosts with it (ABSENT: hosts that reported the collector
        but lack the fact), over every audited host; memoized per path."""
        hit = self._counts.get(path)
        if hit is None:
            col = paths.collector(path)
            hit = {}
            for name, h in self.hosts.items():
                if col in h.scope:
                    hit.setdefault(h.key(path), []).append(name)
            if len(self._counts) < 50_000:
                self._counts[path] = hit
        return hit

    def all_paths(self) -> List[str]:
        """Every leaf path any audited host has, first-seen order."""
        seen: Dict[str, None] = {}
        for h in self.hosts.values():
            for vals in h.flat.values():
                for p in vals:
                    seen.setdefault(p, None)
        return list(seen)


def index_for(result: RunResult) -> FleetIndex:
    """The run's index, cached on the result while its hosts stay the same objects."""
    stamp = tuple((name, id(h), id(h.facts), h.status) for name, h in result.hosts.items())
    cached = getattr(result, "_fleetaudit_index", None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    idx = FleetIndex(result)
    try:
        result._fleetaudit_index = (stamp, idx)  # type: ignore[attr-defined]
    except AttributeError:  # a result type with __slots__: no caching, still correct
        pass
    return idx
