"""Diagnosis rules: facts and drift in, findings with evidence and the fix out.

A rule is a function decorated with @rule(...). It receives a HostContext and yields
Hit objects; the engine turns hits into Findings carrying the rule's id, category,
severity, why-text and remediation. Rules encode the field guide's general knowledge
(what breaks pulls, what a user sees, how to fix it), never the particulars of a fleet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from ..models import CATEGORIES, SEVERITIES, HostResult, RunResult

_MISSING = object()


@dataclass
class Hit:
    """One reason a rule fired on one host."""

    evidence: List[Any]
    title: Optional[str] = None            # specific title, e.g. naming the registry
    remediation: Optional[List[str]] = None
    severity: Optional[str] = None         # override when the specifics make it worse/milder


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    title: str
    why: str                      # what the user sees (the error text) and why it happens
    remediation: Sequence[str]    # default fix commands; may use {family}-specific hits
    check: Callable[["HostContext"], Iterable[Hit]]
    needs_docker: bool = False    # skip on hosts where docker is not installed at all

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: unknown category {self.category}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.id}: unknown severity {self.severity}")

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def to_json(self) -> dict:
        """The catalogue entry other tools read (`fleetaudit rules --json`); the check itself
        is code and stays out."""
        return {"id": self.id, "family": self.family, "category": self.category,
                "severity": self.severity, "title": self.title, "why": self.why,
                "remediation": list(self.remediation), "needs_docker": self.needs_docker}


_RULES: Dict[str, Rule] = {}


def rule(id: str, category: str, severity: str, title: str, why: str,
         remediation: Sequence[str] = (), needs_docker: bool = False):
    """Register a rule function. Ids are stable: reports and ignores refer to them."""
    def register(fn: Callable[["HostContext"], Iterable[Hit]]):
        if id in _RULES:
            raise ValueError(f"duplicate rule id {id}")
        _RULES[id] = Rule(id, category, severity, title, why.strip(), tuple(remediation), fn,
                          needs_docker)
        return fn
    return register


def all_rules() -> List[Rule]:
    return list(_RULES.values())


@dataclass
class HostContext:
    """What a rule may look at for one host."""

    host: HostResult
    run: RunResult
    drift: List[Any] = field(default_factory=list)   # DriftItem objects for this host
    baseline: Optional[dict] = None                   # expected facts (nested), if known

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def facts(self) -> dict:
        return self.host.facts

    @property
    def family(self) -> str:
        return str(self.fact("system.family", "unknown") or "unknown")

    def fact(self, path: str, default: Any = None) -> Any:
        return dig(self.host.facts, path, default)

    def expected(self, path: str, default: Any = None) -> Any:
        if self.baseline is None:
            return default
        return dig(self.baseline, path, default)

    def drifted(self, prefix: str) -> List[Any]:
        return [d for d in self.drift if d.path == prefix or d.path.startswith(prefix + ".")]

    def catalog(self, sha: Optional[str]) -> Any:
        return self.run.catalog.get(sha) if sha else None

    def other_hosts(self) -> Iterator[HostResult]:
        for h in self.run.hosts.values():
            if h.name != self.host.name and h.status != "unreachable":
                yield h


def dig(data: Any, path: str, default: Any = None) -> Any:
    """facts['a']['b']['c'] for path 'a.b.c', default when any step is missing."""
    cur = data
    for key in path.split("."):
        if isinstance(cur, dict) and key in cur:
            cur = cur[key]
        else:
            return default
    return cur


def ev(path: str, actual: Any, expected: Any = _MISSING, note: str = "") -> dict:
    """One piece of evidence: a fact path, its value, and what was expected."""
    item = {"fact": path, "actual": actual}
    if expected is not _MISSING:
        item["expected"] = expected
    if note:
        item["note"] = note
    return item
