"""Since when? For one host of a run: since which run each of its findings has been there,
the last earlier run where the host was clean, and the facts that changed after it.

The strongest answer to "it worked yesterday": `fleetaudit diff` and `explain` show it
when a history store exists. Pure: the caller passes the earlier runs newest first as
(RunRef, snapshot document) pairs, lazily, so walking stops at the clean run and loads
no more of the history than that.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, List, Mapping, Optional, Tuple

from .flatten import ABSENT, to_jsonable
from .ignore import as_ignore
from ..models import severity_rank
from .since import FactChange, RunRef, _collapse, _get, _pair_findings, fact_changes, finding_key


@dataclass
class FindingSince:
    key: str
    rule: str
    category: str
    severity: str
    title: str
    first_seen: RunRef
    exact: bool   # False: the streak reaches back further than the runs searched

    def to_json(self) -> dict:
        return {"key": self.key, "rule": self.rule, "category": self.category,
                "severity": self.severity, "title": self.title,
                "first_seen": self.first_seen.to_json(), "exact": self.exact}


@dataclass
class HostSince:
    host: str
    current: RunRef
    last_clean: Optional[RunRef] = None
    changed_after: List[FactChange] = field(default_factory=list)
    findings: List[FindingSince] = field(default_factory=list)
    searched: int = 0       # earlier runs in which the host was audited and looked at

    def to_json(self) -> dict:
        return {"host": self.host, "current": self.current.to_json(),
                "last_clean": self.last_clean.to_json() if self.last_clean else None,
                "changed_after": [f.to_json() for f in self.changed_after],
                "findings": [f.to_json() for f in self.findings], "searched": self.searched}

    def changed_at(self, path: str) -> Optional[FactChange]:
        """The change of `path` (or of an ancestor element) since the clean run."""
        for f in self.changed_after:
            if path == f.path or path.startswith(f.path + ".") or path.startswith(f.path + "["):
                return f
        return None


def _host_findings(doc: Mapping, host: str) -> List[Any]:
    return [f for f in doc.get("findings") or [] if _get(f, "host") == host]


def _clean(findings: List[Any], fail_on: str) -> bool:
    limit = severity_rank(fail_on) if fail_on != "none" else -1
    return not any(severity_rank(_get(f, "severity")) <= limit for f in findings)


def since_when(host: str, current: Mapping, earlier: Iterable[Tuple[RunRef, Mapping]],
               current_ref: Optional[RunRef] = None, fail_on: str = "high",
               ignore: Any = None) -> HostSince:
    """`current`: the snapshot document the host is judged in; `earlier`: earlier runs,
    newest first. A run where the host was not audited neither breaks a finding's
    streak nor counts as clean (it says nothing). "Clean": audited with no finding at or
    above `fail_on`."""
    run = current.get("run") or {}
    cur_ref = current_ref or RunRef(run.get("history_id") or (run.get("history") or {}).get("run_id"),
                                    run.get("started"))
    out = HostSince(host, cur_ref)
    cur_host = (current.get("hosts") or {}).get(host)
    open_findings = _host_findings(current, host)
    first = {id(f): cur_ref for f in open_findings}
    exact = {id(f): False for f in open_findings}
    for ref, doc in earlier:
        entry = (doc.get("hosts") or {}).get(host)
        if entry is None or entry.get("status") == "unreachable":
            continue
        out.searched += 1
        then = _host_findings(doc, host)
        pairs, _, unmatched = _pair_findings(then, open_findings)
        for _, f in pairs:
            first[id(f)] = ref
        for f in unmatched:
            exact[id(f)] = True          # not there in this run: the streak starts after it
        open_findings = [f for _, f in pairs]
        if _clean(then, fail_on):
            out.last_clean = ref
            if cur_host is not None and cur_host.get("status") != "unreachable":
                changes = _collapse(fact_changes(host, entry, cur_host, as_ignore(ignore),
                                                 (doc.get("catalog") or {}, current.get("catalog") or {})))
                out.changed_after = [
                    FactChange(host, p, to_jsonable(x), to_jsonable(y),
                               "added" if x is ABSENT else "removed" if y is ABSENT else "changed")
                    for p, x, y in changes]
            break   # findings still open here go back further: first_seen is "at least since"
    for f in _host_findings(current, host):
        out.findings.append(FindingSince(finding_key(f), _get(f, "rule"), _get(f, "category"),
                                         _get(f, "severity"), _get(f, "title"), first[id(f)],
                                         exact[id(f)]))
    out.findings.sort(key=lambda f: (severity_rank(f.severity), f.rule))
    return out
