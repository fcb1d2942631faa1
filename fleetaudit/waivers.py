"""Waivers: accepted deviations, with an owner, a reason and an end date (docs/waivers.md).

    version: 1
    waivers:
      - hosts: "legacy-*"                  # host glob(s), or `groups:` glob(s)
        rule: daemon.insecure-registry     # rule id glob, or `fact:` fact path glob
        reason: old registry until the migration (CHG-1234)
        owner: platform-team
        expires: 2027-03-31

A waived finding or fact change is still shown, marked waived, and does not count for
`drift`'s exit code. From the day after `expires` the waiver no longer holds: the item
counts again and says its waiver expired. A waiver that matches nothing in a run is
reported as stale (the deviation is gone, or the waiver was mistyped). Every mistake in
the file is a WaiverError naming FILE:LINE, like inventories and policies.

Pure apart from load_waivers (which reads the one file).
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import yaml

from .compare import paths
from .compare.ignore import matches as fact_glob_matches
from .compare.since import WaiverMark
from .inventory.errors import did_you_mean
from .yamlnodes import yaml_root

ENTRY_KEYS = ("hosts", "groups", "rule", "fact", "reason", "owner", "expires")
TOP_KEYS = ("version", "waivers")


class WaiverError(Exception):
    """A waiver file that cannot be used. str(): 'FILE:LINE: message'."""

    def __init__(self, file: str, line: Optional[int], message: str):
        super().__init__(message)
        self.file, self.line, self.message = file, line, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


@dataclass
class Waiver:
    hosts: Tuple[str, ...]          # host name globs (empty: see groups)
    groups: Tuple[str, ...]         # inventory group globs
    rule: Optional[str]             # rule id glob
    fact: Optional[str]             # fact path glob (compare/ignore.py syntax)
    reason: str
    owner: str
    expires: _dt.date
    file: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def expired(self, today: _dt.date) -> bool:
        return today > self.expires   # valid through its expiry day

    def applies_to_host(self, host: str, groups: Sequence[str]) -> bool:
        if any(fnmatch.fnmatchcase(host, g) for g in self.hosts):
            return True
        return any(fnmatch.fnmatchcase(g, pat) for pat in self.groups for g in groups)

    def to_json(self, status: Optional[str] = None) -> dict:
        out = {"where": self.where, "hosts": list(self.hosts), "groups": list(self.groups),
               "rule": self.rule, "fact": self.fact, "reason": self.reason,
               "owner": self.owner, "expires": self.expires.isoformat()}
        if status:
            out["status"] = status
        return out

    def mark(self, today: _dt.date) -> WaiverMark:
        return WaiverMark("expired" if self.expired(today) else "waived", self.where,
                          self.reason, self.owner, self.expires.isoformat())


@dataclass
class Waivers:
    entries: List[Waiver] = field(default_factory=list)
    file: Optional[str] = None

    def matcher(self, today: Union[str, _dt.date, None] = None) -> "Matcher":
        return Matcher(self, _as_date(today))


def _as_date(today: Union[str, _dt.date, None]) -> _dt.date:
    if isinstance(today, _dt.date):
        return today
    if isinstance(today, str) and re.match(r"\d{4}-\d{2}-\d{2}", today):
        return _dt.date.fromisoformat(today[:10])
    return _dt.date.today()


class Matcher:
    """Matches items of one run against the waivers and remembers which ones matched,
    so the run can report stale and expired waivers."""

    def __init__(self, waivers: Waivers, today: _dt.date):
        self.waivers, self.today = waivers, today
        self.hits: Dict[int, int] = {}

    def _first(self, candidates: Iterable[Tuple[int, Waiver]]) -> Optional[WaiverMark]:
        # A waiver in force wins over an expired one matching the same item.
        found = list(candidates)
        for i, _ in found:
            self.hits[i] = self.hits.get(i, 0) + 1
        live = [w for _, w in found if not w.expired(self.today)]
        chosen = live[0] if live else (found[0][1] if found else None)
        return chosen.mark(self.today) if chosen else None

    def finding(self, host: str, groups: Sequence[str], rule: str,
                facts: Sequence[str] = ()) -> Optional[WaiverMark]:
        """A finding is waived by a rule waiver for its rule, or by a fact waiver that
        covers one of the facts its evidence names."""
        return self._first(
            (i, w) for i, w in enumerate(self.waivers.entries)
            if w.applies_to_host(host, groups) and (
                (w.rule and fnmatch.fnmatchcase(str(rule), w.rule)) or
                (w.fact and any(fact_glob_matches(w.fact, f) for f in facts))))

    def fact(self, host: str, groups: Sequence[str], path: str) -> Optional[WaiverMark]:
        return self._first(
            (i, w) for i, w in enumerate(self.waivers.entries)
            if w.fact and w.applies_to_host(host, groups) and fact_glob_matches(w.fact, path))

    def stale(self) -> List[dict]:
        return [w.to_json("stale") for i, w in enumerate(self.waivers.entries) if i not in self.hits]

    def expired(self) -> List[dict]:
        return [w.to_json("expired") for i, w in enumerate(self.waivers.entries)
                if i in self.hits and w.expired(self.today)]


# --- the file ----------------------------------------------------------------------------

def load_waivers(path: Union[str, Path], rule_ids: Optional[Iterable[str]] = None) -> Waivers:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WaiverError(name, None, f"cannot read waiver file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise WaiverError(name, None, "waiver file is not UTF-8 text") from exc
    return parse_waivers(text, name, rule_ids)


def parse_waivers(text: str, file: str = "<waivers>",
                  rule_ids: Optional[Iterable[str]] = None) -> Waivers:
    """rule_ids: the known rule ids (default: the registry); a rule glob matching none of
    them is an error, since it could never waive anything."""
    if rule_ids is None:
        from .diagnose import load_rules
        rule_ids = [r.id for r in load_rules()]
    with yaml_root(text, lambda line, msg: WaiverError(file, line, msg)) as (loader, root):
        return Waivers(_Reader(loader, file, list(rule_ids)).waivers(root), file)


class _Reader:
    def __init__(self, loader: yaml.SafeLoader, file: str, rule_ids: List[str]):
        self.loader, self.file, self.rule_ids = loader, file, rule_ids

    def error(self, node: Any, message: str) -> WaiverError:
        return WaiverError(self.file, node.start_mark.line + 1 if node is not None else None, message)

    def value(self, node: Any) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.error(node, f"bad value: {exc}") from exc

    def mapping(self, node: Any, what: str, allowed: Sequence[str]) -> Dict[str, Tuple[Any, Any]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        out: Dict[str, Tuple[Any, Any]] = {}
        for knode, vnode in node.value:
            key = self.value(knode)
            if not isinstance(key, str):
                raise self.error(knode, f"{what}: keys must be strings, not {key!r}")
            if key in out:
                raise self.error(knode, f"{what}: duplicate key {key!r}")
            if key not in allowed:
                raise self.error(knode, f"{what}: unknown key {key!r}{did_you_mean(key, allowed)}"
                                        f" (expected: {', '.join(allowed)})")
            out[key] = (knode, vnode)
        return out

    def waivers(self, root: Any) -> List[Waiver]:
        if root is None:
            raise WaiverError(self.file, None, "empty waiver file (expected 'waivers:')")
        top = self.mapping(root, "the waiver file", TOP_KEYS)
        if "version" in top and self.value(top["version"][1]) not in (1, "1"):
            raise self.error(top["version"][1], "unsupported waiver file version (this fleetaudit reads version 1)")
        if "waivers" not in top:
            raise self.error(root, "no 'waivers:' list")
        node = top["waivers"][1]
        if isinstance(node, yaml.ScalarNode) and self.value(node) is None:
            return []  # an empty list of waivers is a valid file
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, "'waivers' must be a list of waivers")
        return [self.entry(n) for n in node.value]

    def entry(self, node: Any) -> Waiver:
        keys = self.mapping(node, "a waiver", ENTRY_KEYS)

        def need(key: str) -> Any:
            if key not in keys:
                raise self.error(node, f"waiver without '{key}'")
            return keys[key][1]

        hosts = self.globs(keys["hosts"][1], "hosts") if "hosts" in keys else ()
        groups = self.globs(keys["groups"][1], "groups") if "groups" in keys else ()
        if not hosts and not groups:
            raise self.error(node, "waiver without 'hosts' or 'groups' (use hosts: \"*\" for every host)")
        if ("rule" in keys) == ("fact" in keys):
            raise self.error(node, "a waiver names exactly one of 'rule' (a rule id) or 'fact' (a fact path)")
        rule = fact = None
        if "rule" in keys:
            rule = self.text(keys["rule"][1], "rule")
            if not any(fnmatch.fnmatchcase(r, rule) for r in self.rule_ids):
                raise self.error(keys["rule"][1], f"rule {rule!r} matches no rule"
                                 f"{did_you_mean(rule, self.rule_ids)} (see `fleetaudit rules`)")
        else:
            fact = self.text(keys["fact"][1], "fact")
            if not any(c in fact for c in "*?"):
                try:
                    known = paths.known(fact)
                except paths.PathSyntaxError as exc:
                    raise self.error(keys["fact"][1], f"fact {fact!r}: {exc}") from exc
                if not known:
                    hint = paths.suggest(fact)
                    raise self.error(keys["fact"][1], f"unknown fact path {fact!r}" + (
                        f" (did you mean '{hint}'?)" if hint else "; see docs/facts.md"))
        reason = self.text(need("reason"), "reason")
        owner = self.text(need("owner"), "owner")
        enode = need("expires")
        raw = self.value(enode)
        if isinstance(raw, _dt.datetime):
            raw = raw.date()
        if isinstance(raw, str):
            try:
                raw = _dt.date.fromisoformat(raw.strip())
            except ValueError:
                pass
        if not isinstance(raw, _dt.date):
            raise self.error(enode, f"'expires' must be a date (YYYY-MM-DD), not {raw!r}")
        return Waiver(hosts=hosts, groups=groups, rule=rule, fact=fact, reason=reason,
                      owner=owner, expires=raw, file=self.file, line=node.start_mark.line + 1)

    def text(self, node: Any, key: str) -> str:
        raw = self.value(node)
        if not isinstance(raw, str) or not raw.strip():
            raise self.error(node, f"'{key}' must be non-empty text")
        return raw.strip()

    def globs(self, node: Any, key: str) -> Tuple[str, ...]:
        raw = self.value(node)
        items = raw if isinstance(raw, list) else [raw]
        if not items or not all(isinstance(x, str) and x.strip() for x in items):
            raise self.error(node, f"'{key}' must be a name glob or a list of them")
        return tuple(x.strip() for x in items)
