"""One reading of a since-last-run comparison for the renderers (Prometheus, webhook, HTML).

The comparison itself lives in fleetaudit.compare.since (`SinceLast`, its `to_json()` is
the snapshot's `drift_since_last` section). Renderers take either the object or that
JSON; this module turns both into the few lists they need, so a renderer never reaches
into the comparison's internals and a snapshot loaded from disk renders like a live run.
Unknown or malformed parts read as empty: a report must still render.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

FINDING_STATES = ("new", "persisting", "resolved", "unverified")
# Host changes, as fleetaudit.compare.since names them.
HOST_CHANGES = ("appeared", "vanished", "unreachable", "still-unreachable", "back")


@dataclass
class SinceView:
    previous: dict = field(default_factory=dict)    # the run compared with: id, started...
    first_run: bool = False                         # no earlier run of this inventory
    findings: Dict[str, List[dict]] = field(default_factory=dict)   # state -> findings
    facts_changed: List[dict] = field(default_factory=list)  # host, path, before, after, since
    hosts: Dict[str, List[str]] = field(default_factory=dict)  # change -> host names
    host_items: List[dict] = field(default_factory=list)  # the host changes as recorded

    @property
    def new(self) -> List[dict]:
        return self.findings.get("new", [])

    @property
    def resolved(self) -> List[dict]:
        return self.findings.get("resolved", [])

    @property
    def persisting(self) -> List[dict]:
        return self.findings.get("persisting", [])

    @property
    def unverified(self) -> List[dict]:
        """Last run's findings on hosts this run could not check (not resolved)."""
        return self.findings.get("unverified", [])

    def changes_per_host(self) -> Dict[str, int]:
        """Facts changed since the last run, per host (hosts with none are absent)."""
        out: Dict[str, int] = {}
        for item in self.facts_changed:
            host = str(item.get("host") or "")
            if host:
                out[host] = out.get(host, 0) + 1
        return out


def _finding_dict(f: Any) -> dict:
    if isinstance(f, dict):
        return f
    to_json = getattr(f, "to_json", None)
    return to_json() if callable(to_json) else {}


def _dicts(value: Any) -> List[dict]:
    if not isinstance(value, list):
        return []
    return [d for d in (_finding_dict(v) for v in value) if isinstance(d, dict) and d]


def read_since(since: Any) -> Optional[SinceView]:
    """A SinceView from a SinceLast, its to_json() dict, or a snapshot containing one."""
    if since is None:
        return None
    if not isinstance(since, dict):
        to_json = getattr(since, "to_json", None)
        since = to_json() if callable(to_json) else None
        if not isinstance(since, dict):
            return None
    if isinstance(since.get("drift_since_last"), dict):
        since = since["drift_since_last"]
    view = SinceView()
    prev = since.get("previous")
    view.previous = prev if isinstance(prev, dict) else {}
    view.first_run = bool(since.get("first_run")) or prev is None
    findings = since.get("findings") if isinstance(since.get("findings"), dict) else {}
    for state in FINDING_STATES:
        view.findings[state] = _dicts(findings.get(state))
    view.facts_changed = [d for d in _dicts(since.get("facts"))
                          if isinstance(d.get("path"), str) and d.get("host") is not None]
    for item in _dicts(since.get("hosts")):
        change, host = item.get("change"), item.get("host")
        if isinstance(change, str) and isinstance(host, str):
            view.hosts.setdefault(change, []).append(host)
            view.host_items.append(item)
    return view
