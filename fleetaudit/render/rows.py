"""The report's grouping, as pure functions: findings folded into one row per cause, and
the fleet broken down by its own inventory groups.

At 10,000 hosts a row per exact evidence splits one cause into dozens of one-host rows
("SSH host key changed" x 19). A person scanning the fleet wants one row per cause (rule
id) with its host count and severity, the evidence variants folded inside it, most
impact first. Renderers (html.py) only turn these into output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..facts.values import canonical_json
from ..models import CATEGORIES, severity_rank

# Impact = weight x hosts. A decade per severity: one critical host outweighs nine high
# ones, and the fleet-wide info notes (often on half the fleet) stay below any real
# problem on more than a handful of hosts.
SEVERITY_WEIGHT = {"critical": 10_000, "high": 1_000, "medium": 100, "low": 10, "info": 1}
NO_GROUP = "(no group)"
UNREACHABLE = "unreachable"


def impact(severity: Any, hosts: int) -> int:
    return SEVERITY_WEIGHT.get(severity, 0) * hosts


@dataclass
class Variant:
    """One exact form of a cause (title, evidence, fix) and the hosts that show it."""
    severity: str
    title: str
    why: str
    evidence: list
    remediation: list
    hosts: List[str] = field(default_factory=list)      # sorted, unique
    findings: list = field(default_factory=list)        # the Finding objects, in input order


@dataclass
class Cause:
    """One rule: every host it fired on, its worst severity, its variants (most hosts first)."""
    rule: str
    category: str
    severity: str
    variants: List[Variant]
    hosts: List[str]                                    # sorted, unique

    @property
    def impact(self) -> int:
        return impact(self.severity, len(self.hosts))

    @property
    def title(self) -> str:
        return self.variants[0].title


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def fold_findings(findings: Iterable[Any]) -> List[Cause]:
    """Findings -> one Cause per (rule, category), sorted by impact (then severity, rule).

    A finding without a rule id is its own cause by title (hand-written or foreign
    snapshots). Evidence and remediation are compared as canonical JSON.
    """
    variants: Dict[Tuple[str, str], Dict[tuple, Variant]] = {}
    for f in findings:
        sev = _text(f.severity) or "info"
        rule, cat = _text(f.rule), _text(f.category)
        evidence, remediation = _list(f.evidence), _list(f.remediation)
        vkey = (sev, _text(f.title), _text(f.why),
                canonical_json(evidence), canonical_json(remediation))
        by_variant = variants.setdefault((rule or f"title:{_text(f.title)}", cat), {})
        v = by_variant.get(vkey)
        if v is None:
            v = by_variant[vkey] = Variant(sev, vkey[1], vkey[2], evidence, remediation)
        v.findings.append(f)
    causes = []
    for (rule, cat), by_variant in variants.items():
        vs = list(by_variant.values())
        all_hosts = set()
        for v in vs:
            v.hosts = sorted({_host(f) for f in v.findings})
            all_hosts.update(v.hosts)
        vs.sort(key=lambda v: (severity_rank(v.severity), -len(v.hosts), v.title))
        worst = min((v.severity for v in vs), key=severity_rank)
        causes.append(Cause(rule[6:] if rule.startswith("title:") else rule, cat, worst, vs,
                            sorted(all_hosts)))
    causes.sort(key=lambda c: (-c.impact, severity_rank(c.severity), -len(c.hosts), c.rule, c.title))
    return causes


def _host(f: Any) -> str:
    return str(f.host) if f.host not in (None, "") else "(fleet)"


@dataclass
class GroupRow:
    name: str
    hosts: int
    unreachable: int
    by_category: Dict[str, int]      # category -> hosts of this group with such a finding


@dataclass
class GroupBreakdown:
    categories: List[str]            # column order: the fixed category list, then others
    rows: List[GroupRow]             # by name, NO_GROUP last

    def __bool__(self) -> bool:
        return bool(self.rows)


def group_breakdown(host_groups: Mapping[str, Sequence[str]], host_status: Mapping[str, str],
                    causes: Sequence[Cause]) -> GroupBreakdown:
    """Per inventory group: its host count, how many are unreachable, and per category how
    many of its hosts have a finding there. Counts are hosts, not findings, so a cell
    reads "7 hosts of zone_eu1 have a dns problem".

    Empty when no host has a group (a snapshot from before groups were recorded).
    """
    if not any(host_groups.get(h) for h in host_status):
        return GroupBreakdown([], [])
    members: Dict[str, set] = {}
    for host in host_status:
        for g in host_groups.get(host) or (NO_GROUP,):
            members.setdefault(g, set()).add(host)
    by_cat: Dict[str, set] = {}
    for c in causes:
        by_cat.setdefault(c.category, set()).update(c.hosts)
    categories = [c for c in CATEGORIES if c in by_cat] + sorted(c for c in by_cat if c not in CATEGORIES)
    rows = []
    for name in sorted(members, key=lambda g: (g == NO_GROUP, g)):
        hosts = members[name]
        rows.append(GroupRow(
            name, len(hosts), sum(1 for h in hosts if host_status.get(h) == UNREACHABLE),
            {cat: len(hosts & by_cat[cat]) for cat in categories}))
    return GroupBreakdown(categories, rows)


def host_groups_of(result_hosts: Mapping[str, Any]) -> Dict[str, List[str]]:
    """name -> its inventory groups, from HostResults or their JSON (missing: none)."""
    out = {}
    for name, h in result_hosts.items():
        groups = h.get("groups") if isinstance(h, dict) else getattr(h, "groups", None)
        out[str(name)] = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
    return out


def first_variant_of(cause: Cause, host: str) -> Optional[Variant]:
    """The variant `host` shows (the most severe when it shows several)."""
    return next((v for v in cause.variants if host in v.hosts), None)
