"""Drift items: how one host's facts differ from what its baseline expects.

The comparison is path by path over flattened facts (see flatten) with canonical keys,
which is linear and fast enough for 10,000 hosts. deepdiff is used where it adds
value: to say WHAT changed inside one compound value (which rules were added to a
firewall chain, which key of a nested dict changed), with ignore_order for lists whose
order carries no meaning.

Normalization: when a host lacks a whole subtree the baseline has (an interface, a
registry's certs.d directory), that is ONE "missing" item at the subtree's root, not
one per leaf; likewise for "extra"; and a leaf standing where the baseline has a
subtree (docker.info null on a host whose daemon is down) is ONE "changed" item.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set


from ..facts import schema as paths
from .flatten import ABSENT, canon_at, is_ordered, flatten, flatten_grouped, subtree, to_jsonable
from .ignore import Ignore, as_ignore

KINDS = ("changed", "missing", "extra", "violation")
DETAIL_CAP = 600  # characters of a drift item's detail text


@dataclass
class DriftItem:
    """One difference between a host and its baseline at one fact path.

    expected/actual are fact values (ABSENT when there is none: `missing` has no actual,
    `extra` no expected); for a `violation` of a policy, expected is the constraint as
    text. share says how common each value is in the fleet:
    {"expected": n, "actual": m, "of": hosts compared, "hosts": [some hosts with the
    actual value]}, or None when not known.
    """

    host: str
    path: str
    expected: Any
    actual: Any
    baseline: str
    kind: str
    detail: str = ""
    share: Optional[dict] = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown drift kind {self.kind!r}")

    @property
    def collector(self) -> str:
        return paths.split(self.path)[0]

    def to_json(self) -> dict:
        return {
            "host": self.host, "path": self.path, "kind": self.kind,
            "expected": to_jsonable(self.expected), "actual": to_jsonable(self.actual),
            "baseline": self.baseline, "detail": self.detail, "share": self.share,
        }

    @classmethod
    def from_json(cls, data: dict) -> "DriftItem":
        kind = data.get("kind", "changed")
        expected, actual = data.get("expected"), data.get("actual")
        if kind == "missing":
            actual = ABSENT
        elif kind == "extra":
            expected = ABSENT
        return cls(host=data.get("host", ""), path=data["path"], expected=expected, actual=actual,
                   baseline=data.get("baseline", ""), kind=kind, detail=data.get("detail", ""),
                   share=data.get("share"))


# Share lookup a baseline may offer: (path, expected value, actual value) -> share dict.
ShareFn = Callable[[str, Any, Any], Optional[dict]]


@dataclass
class Expected:
    """What a baseline expects of one host, grouped by collector.

    values: collector -> {path: expected value}; keys: the same with canonical keys
    (computed when not given). scope: collectors the values describe completely, so a
    host path absent from values there is `extra`. undecided: paths with no
    expectation (no majority) -> why; they produce no drift. checks: policy checks.
    """

    source: str
    values: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    scope: frozenset = frozenset()
    undecided: Dict[str, str] = field(default_factory=dict)
    keys: Optional[Dict[str, Dict[str, Any]]] = None
    checks: Sequence[Any] = ()
    share: Optional[ShareFn] = None
    _prefixes: Dict[str, Set[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = {c: {p: canon_at(p, v) for p, v in vals.items()}
                         for c, vals in self.values.items()}

    def prefixes(self, collector: str) -> Set[str]:
        if collector not in self._prefixes:
            self._prefixes[collector] = _prefix_set(self.values.get(collector, {}))
        return self._prefixes[collector]

    @classmethod
    def from_flat(cls, source: str, flat: Mapping[str, Any], scope: Sequence[str],
                  ignore: Ignore, share: Optional[ShareFn] = None) -> "Expected":
        values: Dict[str, Dict[str, Any]] = {c: {} for c in scope}
        for p, v in flat.items():
            col = _collector(p)
            if col in values and not ignore(p):
                values[col][p] = v
        return cls(source=source, values=values, scope=frozenset(scope), share=share)


_collector = paths.collector


def _prefix_set(flat: Mapping[str, Any]) -> Set[str]:
    out: Set[str] = set()
    for p in flat:
        out.update(paths.ancestors(p))
    return out


def group_by_collector(flat: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for p, v in flat.items():
        out.setdefault(_collector(p), {})[p] = v
    return out


def diff_host(host: str, flat: Mapping[str, Dict[str, Any]], keys: Mapping[str, Dict[str, Any]],
              scope: Set[str], expected: Expected, ignore: Ignore) -> List[DriftItem]:
    """Drift of one host (flat facts and canonical keys grouped by collector; `scope`
    the collectors it reported completely) against `expected`. Paths `ignore` covers
    and collectors outside either scope produce nothing."""
    items: List[DriftItem] = []
    undecided = expected.undecided
    for col, evals in expected.values.items():
        if col not in scope:
            continue
        hvals = flat.get(col, {})
        hkeys = keys.get(col, {})
        ekeys = expected.keys[col]
        missing: List[str] = []
        for p, ek in ekeys.items():
            hk = hkeys.get(p, ABSENT)
            if hk is ABSENT and p not in hvals:
                if not ignore(p):
                    missing.append(p)
            elif hk != ek and not ignore(p):
                items.append(_item(host, p, evals[p], hvals[p], expected, "changed"))
        extra: List[str] = []
        if col in expected.scope:
            extra = [p for p in hvals if p not in ekeys and p not in undecided and not ignore(p)]
        if missing or extra:
            # Subtrees shown as a value must not carry ignored facts (addresses, counters).
            shown = {p: v for p, v in hvals.items() if not ignore(p)}
            items.extend(_collapse(host, col, missing, extra, shown, evals, expected))
    for check in expected.checks:
        items.extend(check.violations(host, flat, scope, ignore, expected.share, expected.source))
    return items


def _collapse(host: str, col: str, missing: List[str], extra: List[str], hvals: Mapping[str, Any],
              evals: Mapping[str, Any], expected: Expected) -> List[DriftItem]:
    """Missing/extra leaves -> items at the highest subtree that differs as a whole."""
    out: List[DriftItem] = []
    host_prefixes = _prefix_set(hvals)
    exp_prefixes = expected.prefixes(col)
    done: Set[str] = set()
    for p in missing:
        if p in host_prefixes:  # host has a subtree where the baseline has a leaf
            out.append(_item(host, p, evals[p], subtree(hvals, p), expected, "changed",
                             share=(p, evals[p], ABSENT)))
            done.add(p)
            continue
        at, kind = p, "missing"
        for a in paths.ancestors(p):
            if a in hvals:  # host has a leaf where the baseline has a subtree
                at, kind = a, "changed"
                break
            if a not in host_prefixes and a != col:  # the collector did report: not missing
                at = a
                break
        if at in done:
            continue
        done.add(at)
        exp = evals[at] if at == p else subtree(evals, at)
        act = hvals[at] if kind == "changed" else ABSENT
        out.append(_item(host, at, exp, act, expected, kind, share=(p, evals[p], ABSENT)))
    for p in extra:
        if p in done or p in exp_prefixes:
            continue
        at = p
        skip = False
        for a in paths.ancestors(p):
            if a in evals or a in done:  # reported above as a changed subtree
                skip = True
                break
            if a not in exp_prefixes and a != col:
                at = a
                break
        if skip or at in done:
            continue
        done.add(at)
        act = hvals[at] if at == p else subtree(hvals, at)
        out.append(_item(host, at, ABSENT, act, expected, "extra", share=(p, ABSENT, hvals[p])))
    return out


def _item(host: str, path: str, exp: Any, act: Any, expected: Expected, kind: str,
          share: Optional[tuple] = None) -> DriftItem:
    """`share` names the leaf (path, expected, actual) whose fleet counts stand for a
    collapsed subtree; by default the item's own."""
    counts = None
    if expected.share is not None:
        counts = expected.share(*(share or (path, exp, act)))
    return DriftItem(host=host, path=path, expected=exp, actual=act, baseline=expected.source,
                     kind=kind, detail=describe_change(path, exp, act), share=counts)


# --- what changed inside one value ----------------------------------------------------

_DESCRIBED: Dict[tuple, str] = {}  # the same change recurs on many hosts: describe it once


def describe_change(path: str, expected: Any, actual: Any) -> str:
    """Short text saying what differs inside a compound value ('' for plain values)."""
    if expected is ABSENT or actual is ABSENT:
        return ""
    if not isinstance(expected, (list, dict, str)) or not isinstance(actual, (list, dict, str)):
        return ""
    memo = (path, canon_at(path, expected), canon_at(path, actual))
    text = _DESCRIBED.get(memo)
    if text is None:
        text = _describe(path, expected, actual)
        if len(_DESCRIBED) > 20_000:
            _DESCRIBED.clear()
        _DESCRIBED[memo] = text
    return text


def _describe(path: str, expected: Any, actual: Any) -> str:
    if isinstance(expected, str) and isinstance(actual, str):
        if "\n" in expected or "\n" in actual:
            return _cap(_text_diff(expected, actual))
        return ""
    if not isinstance(expected, (list, dict)) or not isinstance(actual, (list, dict)):
        return ""
    ordered = is_ordered(path)
    if ordered and isinstance(expected, list) and isinstance(actual, list) \
            and sorted(map(repr, expected)) == sorted(map(repr, actual)):
        first = next(i for i, (a, b) in enumerate(zip(expected, actual)) if a != b)
        return f"same entries in a different order (first difference at position {first + 1})"
    from deepdiff import DeepDiff  # ~50 ms of import: only when a drift is worded
    dd = DeepDiff(expected, actual, ignore_order=not ordered, verbose_level=2,
                  max_diffs=200, cache_size=0)
    parts: List[str] = []
    for key, label in (("iterable_item_added", "added"), ("dictionary_item_added", "added"),
                       ("iterable_item_removed", "removed"), ("dictionary_item_removed", "removed")):
        for where, value in (dd.get(key) or {}).items():
            parts.append(f"{label} {_where(where, key)}{_short(value)}")
    for key in ("values_changed", "type_changes"):
        for where, change in (dd.get(key) or {}).items():
            parts.append(f"{_where(where, key) or 'value'}: {_short(change.get('old_value'))} -> "
                         f"{_short(change.get('new_value'))}")
    return _cap("; ".join(parts))


def _where(deep_path: str, key: str) -> str:
    """deepdiff's root['a']['b'] / root[3] -> 'a.b ' (list positions say nothing here)."""
    if deep_path == "root":
        return ""
    keys = []
    for token in deep_path[4:].replace("][", "]\0[").split("\0"):
        token = token.strip("[]")
        if token[:1] in "'\"":
            keys.append(token[1:-1])
        elif not key.startswith("iterable"):
            keys.append(token)
    return (paths.join_all(keys) + " ") if keys else ""


def _short(value: Any, cap: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= cap else text[:cap - 1] + "…"


def _text_diff(a: str, b: str) -> str:
    lines = [ln for ln in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
             if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return "\n".join(lines)


def _cap(text: str) -> str:
    return text if len(text) <= DETAIL_CAP else text[:DETAIL_CAP - 1] + "…"


# --- the plain two-facts comparison -------------------------------------------------------

def compare_facts(host_facts: Mapping[str, Any], baseline_facts: Mapping[str, Any],
                  ignore: Any = None, host: str = "", baseline: str = "baseline",
                  catalog: Optional[Mapping[str, Any]] = None) -> List[DriftItem]:
    """Drift of one host's facts against another facts dict (collector -> facts).

    Only collectors both sides reported are compared. `ignore` is an Ignore, a list of
    user patterns (added to the default volatile/identity rules) or None (defaults).
    """
    ign = as_ignore(ignore)
    hflat = flatten_grouped(host_facts, catalog)
    hkeys = {c: {p: canon_at(p, v) for p, v in vals.items()} for c, vals in hflat.items()}
    scope = set(host_facts) & set(baseline_facts)
    expected = Expected.from_flat(baseline, flatten(baseline_facts, catalog), sorted(scope), ign)
    return sort_items(diff_host(host, hflat, hkeys, scope, expected, ign))


def sort_items(items: List[DriftItem]) -> List[DriftItem]:
    return sorted(items, key=lambda i: (i.host, i.path, i.kind))
