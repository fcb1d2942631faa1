"""Ansible-style host patterns for --limit.

    web*,db01           union (',' or, as in Ansible, ':' between terms)
    docker:!canary      exclusion     docker:&eu   intersection
    ~web\\d+            regular expression (matched from the start)
    web[0] web[1:3]     subscript into a group's hosts (inclusive, as in Ansible)
    all / *             every host

Like Ansible, unions apply first, then intersections, then exclusions, and a
pattern of only `!`/`&` terms starts from all hosts. A name is a group if a
group matches; hosts are searched when no group matched or the term is a
glob or regex. Unlike Ansible, a term that matches nothing is an error rather
than a warning: a typo must not silently audit a different set of hosts.
"""
from __future__ import annotations

import fnmatch
import re
from typing import Iterable, List, Optional, Set, Tuple

from .errors import LimitError, did_you_mean
from .model import Host, Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?\d+)|(\d+):(\d*))\]$")
_SPLIT_COLON = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_GLOB_CHARS = ("*", "?", "[", ".")


def split_pattern(pattern: str, names: Iterable[str] = ()) -> List[str]:
    """'a,b' or 'a:b' -> ['a', 'b']; a pattern that is itself a name stays whole."""
    if "," in pattern:
        parts = pattern.split(",")
    elif pattern.strip() in set(names):
        parts = [pattern]  # e.g. an IPv6 address used as a host name
    else:
        parts = _SPLIT_COLON.findall(pattern)
    return [p.strip() for p in parts if p.strip()]


def _subscript(term: str) -> Tuple[str, Optional[Tuple[int, Optional[int]]]]:
    if term.startswith("~"):
        return term, None
    m = _SUBSCRIPT.match(term)
    if not m:
        return term, None
    base, index, start, end = m.groups()
    if index is not None:
        return base, (int(index), None)
    return base, (int(start), int(end) if end else -1)


def _matcher(term: str, whole: str):
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as exc:
            raise LimitError(whole, f"limit pattern {term!r}: bad regular expression: {exc}") from None
        return regex.match
    return lambda name: fnmatch.fnmatchcase(name, term)


def _match(inventory: Inventory, term: str, whole: str) -> List[str]:
    base, subscript = _subscript(term)
    match = _matcher(base, whole)
    selected: Set[str] = set()
    groups = [g for g in inventory.groups if match(g)]
    for g in groups:
        selected.update(inventory.groups[g])
    if not groups or base.startswith("~") or any(c in base for c in _GLOB_CHARS):
        selected.update(h for h in inventory.hosts if match(h))
    ordered = [h for h in inventory.hosts if h in selected]
    if not ordered:
        hint = did_you_mean(base, list(inventory.groups) + list(inventory.hosts))
        raise LimitError(whole, f"limit pattern {term!r} matches no host or group{hint}")
    if subscript is None:
        return ordered
    start, end = subscript
    if end is None:
        if not -len(ordered) <= start < len(ordered):
            raise LimitError(whole, f"limit pattern {term!r}: index {start} is out of range "
                                    f"({len(ordered)} hosts match {base!r})")
        return [ordered[start]]
    if end == -1:
        end = len(ordered) - 1
    picked = ordered[start:end + 1]
    if not picked:
        raise LimitError(whole, f"limit pattern {term!r}: range is out of range "
                                f"({len(ordered)} hosts match {base!r})")
    return picked


def apply_limit(inventory: Inventory, pattern: Optional[str]) -> List[Host]:
    """Hosts selected by an Ansible-style pattern, in inventory order.

    None means every host. Raises LimitError for an empty or malformed
    pattern, or a term that matches nothing. An intersection or exclusion
    that leaves no hosts is not an error: the result is [].
    """
    if pattern is None:
        return list(inventory.hosts.values())
    names = list(inventory.hosts) + list(inventory.groups)
    terms = split_pattern(pattern, names)
    if not terms:
        raise LimitError(pattern, "limit pattern is empty")
    unions = [t for t in terms if t[0] not in "!&"]
    intersections = [t[1:].strip() for t in terms if t[0] == "&"]
    exclusions = [t[1:].strip() for t in terms if t[0] == "!"]
    for t in intersections + exclusions:
        if not t:
            raise LimitError(pattern, f"limit pattern {pattern!r} has '!' or '&' with no name after it")
    selected: Set[str] = set()
    for t in unions or ["all"]:
        selected.update(_match(inventory, t, pattern))
    for t in intersections:
        selected.intersection_update(_match(inventory, t, pattern))
    for t in exclusions:
        selected.difference_update(_match(inventory, t, pattern))
    return [host for name, host in inventory.hosts.items() if name in selected]
