"""Diagnosis rules: facts and drift in, findings with evidence and the fix out.

A rule is a function decorated with @rule(...). It receives a HostContext and yields
Hit objects; the engine turns hits into Findings carrying the rule's id, category,
severity, why-text and remediation. Rules encode the field guide's general knowledge
(what breaks pulls, what a user sees, how to fix it), never the particulars of a fleet.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from ..facts import Expect, FleetView, HostView
from ..facts.fleet import Getter
from ..facts.schema import dig
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
    """What a rule may look at for one host: its facts, its derived facts (`view`), the
    run's (`fleet`: one FleetView shared by every host of a diagnose pass), its drift and
    its baseline."""

    host: HostResult
    run: RunResult
    drift: List[Any] = field(default_factory=list)   # DriftItem objects for this host
    baseline: Optional[dict] = None                   # expected facts (nested), if known
    fleet: Optional[FleetView] = None                 # built here when the caller has none

    def __post_init__(self) -> None:
        if self.fleet is None:
            self.fleet = FleetView(self.run)

    @cached_property
    def view(self) -> HostView:
        """This host's derived facts (the FleetView's cached HostView; kept on the
        context too: rules ask ~30 times per host)."""
        v = self.fleet.host(self.name)
        return v if v is not None else self.fleet.view_of(self.name, self.host.facts)

    def expect(self, key: str, getter: Getter) -> Optional[Expect]:
        """What this host should have: the run's baseline when there is one (the user
        chose it), else the fleet majority. None when nothing is known."""
        return self.fleet.expect(key, getter, self.baseline)

    def expect_elements(self, key: str, getter: Getter) -> Optional[Expect]:
        """For a set-valued fact: the baseline's elements, else those a strict majority
        of the fleet has."""
        return self.fleet.expect_elements(key, getter, self.baseline)

    def registries(self) -> List[str]:
        """The registries the fleet evidently uses, this host's own first, then private
        ones, then by name."""
        return self.fleet.registry_names(self.name, self.baseline)

    def example_registry(self) -> str:
        """A registry name to put into check commands (Docker Hub's API host when none)."""
        regs = self.registries()
        if not regs or regs[0] == "docker.io":
            return "registry-1.docker.io"
        return regs[0]

    def address_of(self, name: str) -> str:
        """How to reach an inventory host from the auditor (for scp in remediation)."""
        h = self.run.hosts.get(name)
        return (getattr(h, "address", "") or name) if h is not None else name

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def facts(self) -> dict:
        return self.host.facts

    @property
    def family(self) -> str:
        """OS family for remediation commands (the view's answer)."""
        return self.view.family

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


def ev(path: str, actual: Any, expected: Any = _MISSING, note: str = "") -> dict:
    """One piece of evidence: a fact path, its value, and what was expected."""
    item = {"fact": path, "actual": actual}
    if expected is not _MISSING:
        item["expected"] = expected
    if note:
        item["note"] = note
    return item
