"""Policy files: expected values and constraints per fact path (docs/policy.md).

    version: 1
    checks:
      - path: docker.server.version
        version: ">=24.0, <28"
      - path: disk.data_root.used_pct
        max: 85
      - path: proxy.daemon_no_proxy
        contains: [registry.corp.example]
        groups: [dc1]

Every mistake is a PolicyError naming file, line and fact path; a path the collectors
never produce is a mistake too (checked against paths.CATALOGUE), because a misspelled
check would otherwise pass on every host forever.
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import yaml

from ..facts import schema as paths
from .baseline import Baseline, fleet_share
from .drift import DriftItem, Expected
from .flatten import ABSENT, canon_at, subtree
from .ignore import Ignore
from .index import index_for
from ..yamlnodes import yaml_root

OPERATORS = ("equals", "in", "version", "min", "max", "contains", "excludes", "present", "absent")
CHECK_KEYS = ("path", "groups", "note") + OPERATORS
TOP_KEYS = ("version", "checks")


class PolicyError(Exception):
    """A policy file that cannot be used. str(): 'FILE:LINE: PATH: message'."""

    def __init__(self, file: str, line: Optional[int], path: Optional[str], message: str):
        super().__init__(message)
        self.file, self.line, self.path, self.message = file, line, path, message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


# --- versions --------------------------------------------------------------------------

_VERSION = re.compile(r"\s*v?(\d+(?:\.\d+)*)")
_CLAUSE = re.compile(r"\s*(>=|<=|==|!=|>|<|=)?\s*v?(\d+(?:\.\d+)*)(\.\*)?\s*\Z")


def parse_version(text: Any) -> Optional[Tuple[int, ...]]:
    """Leading numeric part of a version string: '20.10.24+dfsg1' -> (20, 10, 24)."""
    if not isinstance(text, str):
        return None
    m = _VERSION.match(text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


class VersionSpec:
    """Comma-separated clauses, all of which must hold: '>=24.0, <28'.

    Missing components count as 0 (28 == 28.0.0), except that `==`/`!=` (or a bare
    version) compare only the components written: '==24' means any 24.x.y.
    """

    def __init__(self, text: str):
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise ValueError("version needs a string such as \">=24.0, <28\"")
        self.text = str(text).strip()
        self.clauses: List[Tuple[str, Tuple[int, ...]]] = []
        for raw in self.text.split(","):
            m = _CLAUSE.match(raw)
            if not m:
                raise ValueError(f"bad version clause {raw.strip()!r} (use e.g. >=24.0, <28, ==27)")
            op = m.group(1) or "=="
            self.clauses.append(("==" if op == "=" else op, tuple(int(x) for x in m.group(2).split("."))))

    def __contains__(self, version: Tuple[int, ...]) -> bool:
        return all(_holds(version, op, want) for op, want in self.clauses)

    def __str__(self) -> str:
        return self.text


def _holds(have: Tuple[int, ...], op: str, want: Tuple[int, ...]) -> bool:
    if op in ("==", "!="):
        same = have[:len(want)] + (0,) * (len(want) - len(have)) == want
        return same if op == "==" else not same
    width = max(len(have), len(want))
    a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


# --- one check -------------------------------------------------------------------------

def _is_set(value: Any) -> bool:
    return value is not ABSENT and value is not None and value != "" and value != [] and value != {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


@dataclass
class Check:
    path: str
    ops: List[Tuple[str, Any]]
    groups: Tuple[str, ...] = ()
    note: str = ""
    file: str = ""
    line: int = 0
    keys: Tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = paths.split(self.path)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def applies_to(self, host_groups: Sequence[str]) -> bool:
        return not self.groups or any(fnmatch.fnmatchcase(g, pat) for pat in self.groups
                                      for g in host_groups)

    def targets(self, flat: Mapping[str, Dict[str, Any]]) -> List[Tuple[str, Any]]:
        """(concrete path, value) pairs this check looks at on one host."""
        col = self.keys[0]
        vals = flat.get(col, {})
        if "*" not in self.keys:
            return [(self.path, vals[self.path] if self.path in vals else subtree(vals, self.path))]
        n = len(self.keys)
        found: Dict[str, None] = {}
        for p in vals:
            ks = paths.split(p)
            if len(ks) >= n and all(w == "*" or w == k for w, k in zip(self.keys, ks)):
                found.setdefault(paths.join_all(ks[:n]), None)
        return [(p, vals[p] if p in vals else subtree(vals, p)) for p in found]

    def violations(self, host: str, flat: Mapping[str, Dict[str, Any]], scope: Set[str],
                   ignore: Ignore, share, source: str) -> List[DriftItem]:
        if self.keys[0] not in scope:
            return []  # the collector's facts are incomplete: nothing to judge
        targets = self.targets(flat)
        if not targets and any(op == "present" and arg or op == "absent" and not arg
                               for op, arg in self.ops):
            targets = [(self.path, ABSENT)]
        out = []
        for path, value in targets:
            if ignore.user_ignored(path):
                continue
            for op, arg in self.ops:
                failed = self._fails(op, arg, path, value)
                if failed is None:
                    continue
                detail = self.where + (f": {self.note}" if self.note else "") + (
                    f" ({failed})" if failed else "")
                out.append(DriftItem(host=host, path=path, expected=_describe(op, arg),
                                     actual=value, baseline=source, kind="violation",
                                     detail=detail,
                                     share=share(path, ABSENT, value) if share else None))
        return out

    def _fails(self, op: str, arg: Any, path: str, value: Any) -> Optional[str]:
        """None when the value satisfies the operator, else why not ('' = obvious)."""
        if op == "present":
            return None if _is_set(value) == bool(arg) else ""
        if op == "absent":
            return None if _is_set(value) != bool(arg) else ""
        if value is ABSENT:
            return "the host does not have this fact"
        if op == "equals":
            return None if _same(path, value, arg) else ""
        if op == "in":
            return None if any(_same(path, value, a) for a in arg) else ""
        if op == "version":
            have = parse_version(value)
            if have is None:
                return f"{_repr(value)} is not a version"
            return None if have in arg else ""
        if op in ("min", "max"):
            if not _number(value):
                return f"{_repr(value)} is not a number"
            return None if (value >= arg if op == "min" else value <= arg) else ""
        if op in ("contains", "excludes"):
            present = [a for a in arg if _has(value, a)]
            if op == "contains":
                lacking = [a for a in arg if a not in present]
                return None if not lacking else "lacks " + ", ".join(map(_short, lacking))
            return None if not present else "has " + ", ".join(map(_short, present))
        raise AssertionError(op)


def _same(path: str, value: Any, want: Any) -> bool:
    """Fact equality, except that a number written in YAML matches the same number
    reported as text (docker reports cgroup_version "2"; a policy says 2)."""
    if canon_at(path, value) == canon_at(path, want):
        return True
    pair = (value, want)
    if any(isinstance(x, str) for x in pair) and any(_number(x) for x in pair):
        return str(value).strip() == str(want).strip()
    return False


def _has(value: Any, item: Any) -> bool:
    if isinstance(value, list):
        return any(_same("", v, item) for v in value)
    if isinstance(value, dict):
        return str(item) in value
    if isinstance(value, str):
        return str(item) in value
    return value == item


def _describe(op: str, arg: Any) -> str:
    if op == "present":
        return "present" if arg else "absent"
    if op == "absent":
        return "absent" if arg else "present"
    if op == "equals":
        return f"== {_short(arg)}"
    if op == "in":
        return "one of " + ", ".join(map(_short, arg))
    if op == "version":
        return f"version {arg}"
    if op == "min":
        return f">= {arg}"
    if op == "max":
        return f"<= {arg}"
    return f"{op} " + ", ".join(map(_short, arg))


# --- the file ----------------------------------------------------------------------------

def load_policy(path: Union[str, Path]) -> "PolicyBaseline":
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(name, None, None, f"cannot read policy file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(name, None, None, "policy file is not UTF-8 text") from exc
    return PolicyBaseline(parse_policy(text, name), source=f"policy {name}")


def parse_policy(text: str, file: str = "<policy>") -> List[Check]:
    with yaml_root(text, lambda line, msg: PolicyError(file, line, None, msg)) as (loader, root):
        return _Reader(loader, file).policy(root)


class _Reader:
    def __init__(self, loader: yaml.SafeLoader, file: str):
        self.loader, self.file = loader, file

    def error(self, node: Any, message: str, path: Optional[str] = None) -> PolicyError:
        line = node.start_mark.line + 1 if node is not None else None
        return PolicyError(self.file, line, path, message)

    def value(self, node: Any) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.error(node, f"bad value: {exc}") from exc

    def mapping(self, node: Any, what: str) -> List[Tuple[str, Any, Any]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        out, seen = [], set()
        for knode, vnode in node.value:
            key = self.value(knode)
            if not isinstance(key, str):
                raise self.error(knode, f"{what}: keys must be strings, not {key!r}")
            if key in seen:
                raise self.error(knode, f"{what}: duplicate key {key!r}")
            seen.add(key)
            out.append((key, knode, vnode))
        return out

    def policy(self, root: Any) -> List[Check]:
        if root is None:
            raise PolicyError(self.file, None, None, "empty policy file (expected 'checks:')")
        checks_node = None
        for key, knode, vnode in self.mapping(root, "the policy"):
            if key == "version":
                if self.value(vnode) not in (1, "1"):
                    raise self.error(vnode, "unsupported policy version (this fleetaudit reads version 1)")
            elif key == "checks":
                checks_node = vnode
            else:
                raise self.error(knode, f"unknown top-level key {key!r} (expected: {', '.join(TOP_KEYS)})")
        if checks_node is None:
            raise self.error(root, "no 'checks:' list")
        if not isinstance(checks_node, yaml.SequenceNode):
            raise self.error(checks_node, "'checks' must be a list of checks")
        return [self.check(n) for n in checks_node.value]

    def check(self, node: Any) -> Check:
        entries = self.mapping(node, "a check")
        by_key = {k: (kn, vn) for k, kn, vn in entries}
        if "path" not in by_key:
            raise self.error(node, "check without 'path'")
        pnode = by_key["path"][1]
        path = self.value(pnode)
        if not isinstance(path, str) or not path.strip():
            raise self.error(pnode, "'path' must be a fact path such as docker.server.version")
        path = path.strip()
        try:
            keys = paths.split(path)
        except paths.PathSyntaxError as exc:
            raise self.error(pnode, str(exc), path) from exc
        if not paths.known(path):
            hint = paths.suggest(path)
            raise self.error(pnode, "unknown fact path" + (f" (did you mean {hint}?)" if hint else
                                                           "; see docs/facts.md"), path)
        if any("*" in k and k != "*" or "?" in k for k in keys):
            raise self.error(pnode, "wildcards must be whole segments ('*')", path)
        ops: List[Tuple[str, Any]] = []
        groups: Tuple[str, ...] = ()
        note = ""
        for key, knode, vnode in entries:
            if key == "path":
                continue
            if key not in CHECK_KEYS:
                raise self.error(knode, f"unknown key {key!r} (expected one of: {', '.join(CHECK_KEYS)})", path)
            raw = self.value(vnode)
            if key == "groups":
                groups = tuple(self._strings(vnode, raw, "groups", path))
            elif key == "note":
                note = str(raw)
            else:
                ops.append((key, self._operand(vnode, key, raw, path)))
        if not ops:
            raise self.error(node, f"check has no constraint (one of: {', '.join(OPERATORS)})", path)
        return Check(path=path, ops=ops, groups=groups, note=note, file=self.file,
                     line=pnode.start_mark.line + 1)

    def _strings(self, node: Any, raw: Any, key: str, path: str) -> List[str]:
        items = raw if isinstance(raw, list) else [raw]
        if not items or not all(isinstance(x, str) and x for x in items):
            raise self.error(node, f"'{key}' must be a list of names", path)
        return items

    def _operand(self, node: Any, op: str, raw: Any, path: str) -> Any:
        if op in ("present", "absent"):
            if not isinstance(raw, bool):
                raise self.error(node, f"'{op}' must be true or false", path)
            return raw
        if op in ("min", "max"):
            if not _number(raw):
                raise self.error(node, f"'{op}' must be a number, not {raw!r}", path)
            return raw
        if op == "version":
            try:
                return VersionSpec(raw)
            except ValueError as exc:
                raise self.error(node, str(exc), path) from exc
        if op == "in":
            if not isinstance(raw, list) or not raw:
                raise self.error(node, "'in' must be a non-empty list of allowed values", path)
            return raw
        if op in ("contains", "excludes"):
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise self.error(node, f"'{op}' needs at least one item", path)
            return items
        return raw  # equals: any value


class PolicyBaseline(Baseline):
    """Constraints from a policy file; hosts get only the checks scoped to their groups."""

    kind = "policy"

    def __init__(self, checks: Sequence[Check], source: str = "policy"):
        self.checks = list(checks)
        self.source = source
        self.warnings: List[str] = []
        self._by_groups: Dict[Tuple[str, ...], Expected] = {}
        self._groups: Dict[str, Tuple[str, ...]] = {}
        self._share = None

    @classmethod
    def load(cls, path: Union[str, Path]) -> "PolicyBaseline":
        return load_policy(path)

    def bind(self, result, index=None, ignore=None) -> "PolicyBaseline":
        index = index or index_for(result)
        self._groups = {name: h.groups for name, h in index.hosts.items()}
        self._share = fleet_share(index)
        self._by_groups = {}
        known = {g for gs in self._groups.values() for g in gs}
        self.warnings = [f"{c.where}: {c.path}: group {pat!r} matches no audited host"
                         for c in self.checks for pat in c.groups
                         if not any(fnmatch.fnmatchcase(g, pat) for g in known)]
        return self

    def expected_for(self, host) -> Expected:
        groups = self._groups.get(host.name, ("all",))
        exp = self._by_groups.get(groups)
        if exp is None:
            exp = Expected(source=self.source, checks=[c for c in self.checks if c.applies_to(groups)],
                           share=self._share)
            self._by_groups[groups] = exp
        return exp

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.source.replace("policy ", "", 1),
                "source": self.source, "checks": len(self.checks),
                "warnings": list(self.warnings)}
