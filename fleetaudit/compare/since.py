"""What changed since the last run: a pure comparison of two snapshot documents.

    since = changes_since(previous_doc, current_doc, waivers=waivers, fail_on="high")
    since.to_json()          # the snapshot's `drift_since_last` section (docs/drift.md)
    since.new_drift          # does this run count as new drift (exit 1 of `drift`)?

No I/O: the caller loads the previous run (from the history store) and passes both
documents as dicts, the JSON shape of snapshot.to_json. "First seen" comes from data
too: the previous document's own `drift_since_last` section says since when each
persisting finding and unreachable host has been there, so the chain carries forward
one run at a time and never needs to walk the whole history.

Finding identity is host + rule + evidence key (the sorted fact paths the evidence
names). Evidence values and titles carry volatile numbers ("3 pull errors in the daemon
log"), so they are not part of the identity; a finding whose evidence paths changed but
whose host and rule match a leftover finding of the last run is still the same finding.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..models import severity_rank
from ..facts import schema as paths
from .flatten import ABSENT, canon_at, flatten_grouped, to_jsonable
from .ignore import Ignore, as_ignore
from .index import gc_paused

SECTION_VERSION = 1
# "unverified": a finding of the last run on a host this run could not check (unreachable,
# or the collectors its evidence comes from were cut short). Not resolved: nothing shows it
# is gone; it keeps its first-seen date and is re-paired when the host is checked again.
FINDING_STATES = ("new", "resolved", "persisting", "unverified")
# Host changes. "unreachable" = became unreachable since the last run; "still-unreachable"
# = unreachable in both runs (persisting); "back" = audited again after being unreachable.
HOST_CHANGES = ("appeared", "vanished", "unreachable", "back", "still-unreachable")
# Which host changes are new drift (count for the exit code) and which only with
# --fail-on-persisting; "back" never counts.
_HOST_COUNTS = {"appeared": True, "vanished": True, "unreachable": True, "back": False,
                "still-unreachable": False}


# --- the data model (the JSON shape is a contract: drift-integrations read it) ---------

@dataclass(frozen=True)
class RunRef:
    """A run of the history: its id in the store (None before it is recorded) and start."""

    run_id: Any = None
    started: Optional[str] = None

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "started": self.started}

    @classmethod
    def from_json(cls, data: Any) -> Optional["RunRef"]:
        if not isinstance(data, dict):
            return None
        return cls(data.get("run_id"), data.get("started"))


@dataclass
class WaiverMark:
    """A waiver that matched an item: `waived` (in force) or `expired` (fires again)."""

    status: str                 # "waived" | "expired"
    where: str                  # FILE:LINE of the waiver entry
    reason: str = ""
    owner: str = ""
    expires: Optional[str] = None   # YYYY-MM-DD

    def to_json(self) -> dict:
        return {"status": self.status, "where": self.where, "reason": self.reason,
                "owner": self.owner, "expires": self.expires}

    @property
    def in_force(self) -> bool:
        return self.status == "waived"


@dataclass
class FindingChange:
    state: str                  # new | resolved | persisting | unverified
    key: str                    # stable identity: host|rule|evidence key
    host: str
    rule: str
    category: str
    severity: str
    title: str
    first_seen: Optional[RunRef] = None
    waiver: Optional[WaiverMark] = None
    counts: bool = False        # counts for `drift`'s exit code

    def to_json(self) -> dict:
        return {"state": self.state, "key": self.key, "host": self.host, "rule": self.rule,
                "category": self.category, "severity": self.severity, "title": self.title,
                "first_seen": self.first_seen.to_json() if self.first_seen else None,
                "waiver": self.waiver.to_json() if self.waiver else None,
                "counts": self.counts}


@dataclass
class FactChange:
    host: str
    path: str
    before: Any                 # None when the fact did not exist (see `change`)
    after: Any
    change: str                 # "changed" | "added" | "removed"
    first_seen: Optional[RunRef] = None   # the run that first saw the new value
    waiver: Optional[WaiverMark] = None
    counts: bool = True

    def to_json(self) -> dict:
        return {"host": self.host, "path": self.path, "change": self.change,
                "before": self.before, "after": self.after,
                "first_seen": self.first_seen.to_json() if self.first_seen else None,
                "waiver": self.waiver.to_json() if self.waiver else None,
                "counts": self.counts}


@dataclass
class HostChange:
    host: str
    change: str                 # one of HOST_CHANGES
    before: Optional[str]       # status in the last run (None: not in it)
    after: Optional[str]        # status now (None: not in this run)
    error: Optional[dict] = None    # {class, message} when unreachable now
    first_seen: Optional[RunRef] = None   # since when (e.g. unreachable since run 40)
    counts: bool = False

    def to_json(self) -> dict:
        return {"host": self.host, "change": self.change, "before": self.before,
                "after": self.after, "error": self.error,
                "first_seen": self.first_seen.to_json() if self.first_seen else None,
                "counts": self.counts}


@dataclass
class SinceLast:
    """The result of changes_since: everything a drift report says about change."""

    previous: Optional[RunRef]
    current: RunRef
    fail_on: str = "high"
    fail_on_persisting: bool = False
    findings: Dict[str, List[FindingChange]] = field(
        default_factory=lambda: {s: [] for s in FINDING_STATES})
    facts: List[FactChange] = field(default_factory=list)
    hosts: List[HostChange] = field(default_factory=list)
    stale_waivers: List[dict] = field(default_factory=list)    # waivers matching nothing
    expired_waivers: List[dict] = field(default_factory=list)  # expired and matching
    waiver_file: Optional[str] = None

    @property
    def first_run(self) -> bool:
        return self.previous is None

    def counted(self) -> List[Any]:
        """The items that make this run new drift."""
        items: List[Any] = [f for fs in self.findings.values() for f in fs if f.counts]
        return items + [f for f in self.facts if f.counts] + [h for h in self.hosts if h.counts]

    @property
    def new_drift(self) -> bool:
        return bool(self.counted())

    def counts(self) -> dict:
        out = {f"findings_{s}": len(self.findings[s]) for s in FINDING_STATES}
        out["facts_changed"] = len(self.facts)
        for c in HOST_CHANGES:
            out["hosts_" + c.replace("-", "_")] = sum(1 for h in self.hosts if h.change == c)
        out["waived"] = sum(1 for fs in self.findings.values() for f in fs
                            if f.waiver and f.waiver.in_force) + \
            sum(1 for f in self.facts if f.waiver and f.waiver.in_force)
        out["counted"] = len(self.counted())
        return out

    def to_json(self) -> dict:
        return {
            "version": SECTION_VERSION,
            "previous": self.previous.to_json() if self.previous else None,
            "current": self.current.to_json(),
            "first_run": self.first_run,
            "fail_on": self.fail_on,
            "fail_on_persisting": self.fail_on_persisting,
            "new_drift": self.new_drift,
            "counts": self.counts(),
            "findings": {s: [f.to_json() for f in self.findings[s]] for s in FINDING_STATES},
            "facts": [f.to_json() for f in self.facts],
            "hosts": [h.to_json() for h in self.hosts],
            "waivers": {"file": self.waiver_file, "stale": list(self.stale_waivers),
                        "expired": list(self.expired_waivers)},
        }

    def set_current_run(self, run_id: Any) -> None:
        """Fill in the current run's id once the store has recorded it (every item
        first seen in this run points at it)."""
        old = self.current
        new = RunRef(run_id, old.started)
        self.current = new
        for items in (*self.findings.values(), self.facts, self.hosts):
            for item in items:
                if item.first_seen == old:
                    item.first_seen = new


# --- identity ---------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def evidence_facts(finding: Any) -> List[str]:
    """The fact paths a finding's evidence names, sorted and unique."""
    out = set()
    for item in _get(finding, "evidence") or ():
        if isinstance(item, dict) and isinstance(item.get("fact"), str):
            out.add(item["fact"])
    return sorted(out)


def evidence_key(finding: Any) -> str:
    """What distinguishes two findings of one rule on one host, without the volatile
    parts: the evidence's fact paths, else the title with its numbers blanked."""
    facts = evidence_facts(finding)
    if facts:
        return ",".join(facts)
    return _DIGITS.sub("#", str(_get(finding, "title") or ""))


def finding_key(finding: Any) -> str:
    return f"{_get(finding, 'host')}|{_get(finding, 'rule')}|{evidence_key(finding)}"


def _pair_findings(prev: Sequence[Any], cur: Sequence[Any]):
    """(pairs of (prev, cur), unmatched prev, unmatched cur): exact key first, then the
    leftovers of the same host and rule in order (their evidence paths moved)."""
    by_key: Dict[str, List[int]] = {}
    for i, f in enumerate(prev):
        by_key.setdefault(finding_key(f), []).append(i)
    used = [False] * len(prev)
    pairs: List[Tuple[Any, Any]] = []
    left_cur: List[Any] = []
    for f in cur:
        slot = by_key.get(finding_key(f))
        if slot:
            i = slot.pop(0)
            used[i] = True
            pairs.append((prev[i], f))
        else:
            left_cur.append(f)
    by_rule: Dict[Tuple[str, str], List[int]] = {}
    for i, f in enumerate(prev):
        if not used[i]:
            by_rule.setdefault((_get(f, "host"), _get(f, "rule")), []).append(i)
    new: List[Any] = []
    for f in left_cur:
        slot = by_rule.get((_get(f, "host"), _get(f, "rule")))
        if slot:
            i = slot.pop(0)
            used[i] = True
            pairs.append((prev[i], f))
        else:
            new.append(f)
    resolved = [f for i, f in enumerate(prev) if not used[i]]
    return pairs, resolved, new


# --- hosts a run could not check ---------------------------------------------------------

def checked(host: Mapping, finding: Any) -> bool:
    """Could this run have seen `finding` on `host`? Not when the host was unreachable, nor
    when a collector its evidence names was cut short (a finding naming no collector
    fact counts as unchecked on a partial host: when in doubt, do not call it resolved)."""
    if host.get("status") == "unreachable":
        return False
    incomplete = host.get("incomplete") or {}
    if not incomplete:
        return True
    collectors = {p.split(".", 1)[0].split("[", 1)[0] for p in evidence_facts(finding)}
    collectors &= set(host.get("facts") or {}) | set(incomplete)  # not "error", "findings"
    if not collectors:
        return False
    return not any(c in incomplete for c in collectors)


def _unverified_items(previous: Optional[Mapping]) -> Dict[str, dict]:
    """key -> item for the findings the previous run listed as unverified, in the shape
    `change()` reads (the evidence's fact paths are rebuilt from the key)."""
    section = previous.get("drift_since_last") if isinstance(previous, Mapping) else None
    items = ((section.get("findings") or {}).get("unverified") or ()) \
        if isinstance(section, dict) else ()
    out: Dict[str, dict] = {}
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("key"), str)
                and isinstance(item.get("host"), str)):
            continue
        head = f"{item['host']}|{item.get('rule')}|"
        ev = item["key"][len(head):] if item["key"].startswith(head) else ""
        facts = [p for p in ev.split(",") if p and "#" not in p and " " not in p]
        out[item["key"]] = {**item, "evidence": [{"fact": p} for p in facts]}
    return out


# --- earlier first-seen data ------------------------------------------------------------

def _earlier(previous: Optional[Mapping], prev_ref: Optional[RunRef]):
    """From the previous document's own section: finding key -> first seen, and host ->
    (change, first seen) for hosts still unreachable there. An item first seen in the
    previous run has run_id None in the recorded copy: it is the previous run."""
    findings: Dict[str, RunRef] = {}
    hosts: Dict[str, RunRef] = {}
    section = previous.get("drift_since_last") if isinstance(previous, Mapping) else None
    if not isinstance(section, dict):
        return findings, hosts
    recorded_as = RunRef.from_json(section.get("current"))

    def resolve(ref: Optional[RunRef]) -> Optional[RunRef]:
        if ref is None:
            return None
        if ref.run_id is None and (recorded_as is None or ref.started == recorded_as.started):
            return prev_ref
        return ref

    for state in ("new", "persisting", "unverified"):
        for item in (section.get("findings") or {}).get(state) or ():
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                ref = resolve(RunRef.from_json(item.get("first_seen")))
                if ref:
                    findings[item["key"]] = ref
    for item in section.get("hosts") or ():
        if isinstance(item, dict) and item.get("change") in ("unreachable", "still-unreachable"):
            ref = resolve(RunRef.from_json(item.get("first_seen")))
            if ref and isinstance(item.get("host"), str):
                hosts[item["host"]] = ref
    return findings, hosts


def run_ref(doc: Optional[Mapping], run_id: Any = None) -> Optional[RunRef]:
    """A RunRef for a snapshot document (its run id from `run.history_id` if recorded)."""
    if not isinstance(doc, Mapping):
        return None
    run = doc.get("run") if isinstance(doc.get("run"), dict) else {}
    return RunRef(run_id if run_id is not None else run.get("history_id"), run.get("started"))


# --- facts ------------------------------------------------------------------------------

def _complete(host: Mapping) -> Dict[str, Any]:
    """Collectors whose facts are complete on this host (the others prove nothing)."""
    facts = host.get("facts") or {}
    incomplete = host.get("incomplete") or {}
    return {c: v for c, v in facts.items() if c not in incomplete}


def fact_changes(host: str, before: Mapping, after: Mapping, ignore: Ignore,
                 catalogs: Tuple[Mapping, Mapping] = ({}, {})) -> List[Tuple[str, Any, Any]]:
    """(path, before, after) for every compared fact that differs between two host
    entries; only collectors complete in both runs, volatile/identity paths skipped.

    Walks both fact trees together and descends only into subtrees that differ (dict
    equality is one C call), skipping ignored subtrees before flattening them: at
    10,000 hosts almost everything is equal except the volatile leaves. Paths and
    value semantics are flatten's: a differing subtree is flattened (as if it were the
    whole host's) and compared leaf by leaf with canon_at.
    """
    a, b = _complete(before), _complete(after)
    out: List[Tuple[str, Any, Any]] = []
    for col in a.keys() & b.keys():
        if a[col] != b[col] and not ignore(col):
            _walk_diff(a[col], b[col], paths.join("", col), (col,), ignore, catalogs, out)
    out.sort(key=lambda c: c[0])
    return out


def _walk_diff(va: Any, vb: Any, path: str, keys: Tuple[str, ...], ignore: Ignore,
               catalogs: Tuple[Mapping, Mapping], out: List[Tuple[str, Any, Any]]) -> None:
    if (type(va) is dict and type(vb) is dict and va and vb and not _KEYED_OR_HASHED(keys, va, vb)):
        for k in dict.fromkeys([*va, *vb]):
            x, y = va.get(k, ABSENT), vb.get(k, ABSENT)
            if x is not ABSENT and y is not ABSENT and x == y:
                continue
            ks = k if isinstance(k, str) else str(k)
            sub = paths.join(path, ks)
            if not ignore(sub):
                _walk_diff(x, y, sub, keys + (ks,), ignore, catalogs, out)
        return
    fa, fb = _flat_at(keys, va, catalogs[0]), _flat_at(keys, vb, catalogs[1])
    for p in fa.keys() | fb.keys():
        if ignore(p):
            continue
        x, y = fa.get(p, ABSENT), fb.get(p, ABSENT)
        if x is not ABSENT and y is not ABSENT and canon_at(p, x) == canon_at(p, y):
            continue
        out.append((p, x, y))


def _KEYED_OR_HASHED(keys: Tuple[str, ...], va: dict, vb: dict) -> bool:
    """Dicts that flatten does not simply walk key by key: TLS file records gain a
    synthetic `fingerprints` path from the catalog, so they are flattened whole."""
    return keys[0] == "tls" and ("sha256" in va or "sha256" in vb)


def _flat_at(keys: Tuple[str, ...], value: Any, catalog: Mapping) -> Dict[str, Any]:
    """flatten's view of one subtree, with the paths it has in the whole host."""
    if value is ABSENT:
        return {}
    nested = value
    for k in reversed(keys[1:]):
        nested = {k: nested}
    return flatten_grouped({keys[0]: nested}, catalog).get(keys[0], {})


def _collapse(changes: List[Tuple[str, Any, Any]]) -> List[Tuple[str, Any, Any]]:
    """A keyed element that appeared or vanished (a drop-in file, a CA file) shows as
    one change at its own path instead of one per field: 'proxy.dropins[...]: removed'."""
    out: List[Tuple[str, Any, Any]] = []
    groups: Dict[str, List[Tuple[str, Any, Any]]] = {}
    order: List[str] = []
    for path, x, y in changes:
        try:
            keys = paths.split(path)
        except paths.PathSyntaxError:
            keys = (path,)
        parent = paths.join_all(keys[:3]) if len(keys) > 3 else path
        if parent not in groups:
            order.append(parent)
        groups.setdefault(parent, []).append((path, x, y))
    for parent in order:
        items = groups[parent]
        if len(items) > 1 and all(x is ABSENT for _, x, _ in items):
            out.append((parent, ABSENT, {_tail(p, parent): y for p, _, y in items}))
        elif len(items) > 1 and all(y is ABSENT for _, _, y in items):
            out.append((parent, {_tail(p, parent): x for p, x, _ in items}, ABSENT))
        else:
            out.extend(items)
    return out


def _tail(path: str, parent: str) -> str:
    return path[len(parent):].lstrip(".") or path


# --- the comparison ---------------------------------------------------------------------


def _host_groups(doc: Mapping) -> Dict[str, Tuple[str, ...]]:
    out: Dict[str, List[str]] = {}
    groups = (doc.get("run") or {}).get("groups")
    if isinstance(groups, dict):
        for group, members in groups.items():
            for name in members or ():
                out.setdefault(name, []).append(str(group))
    return {n: tuple(sorted(set(g) | {"all"})) for n, g in out.items()}


def changes_since(previous: Optional[Mapping], current: Mapping, waivers: Any = None,
                  fail_on: str = "high", fail_on_persisting: bool = False,
                  ignore: Any = None, previous_ref: Optional[RunRef] = None,
                  current_ref: Optional[RunRef] = None, today: Optional[str] = None,
                  earlier: Optional[Mapping[str, RunRef]] = None) -> SinceLast:
    """Compare the current run with the previous run of the same inventory.

    previous/current: snapshot documents (dicts); previous None = first run (all new).
    waivers: a fleetaudit.waivers.Waivers (or None). fail_on: severity threshold for
    new findings ("none": findings never count). ignore: user ignore patterns on top of
    the volatile/identity defaults. today: YYYY-MM-DD for waiver expiry (default: the
    current run's start date). earlier: extra finding key -> first-seen RunRef (e.g.
    from the store) that wins over what the previous section says.
    """
    ign = as_ignore(ignore)
    prev_ref = (previous_ref or run_ref(previous)) if previous is not None else None
    cur_ref = current_ref or run_ref(current) or RunRef()
    today = today or str(cur_ref.started or "")[:10] or None
    limit = severity_rank(fail_on) if fail_on != "none" else -1
    out = SinceLast(previous=prev_ref, current=cur_ref, fail_on=fail_on,
                    fail_on_persisting=fail_on_persisting,
                    waiver_file=getattr(waivers, "file", None))
    seen_f, seen_h = _earlier(previous, prev_ref)
    if earlier:
        seen_f.update(earlier)
    groups = _host_groups(current)
    matcher = waivers.matcher(today) if waivers is not None else None

    # hosts
    prev_hosts: Mapping = (previous or {}).get("hosts") or {} if previous is not None else {}
    cur_hosts: Mapping = current.get("hosts") or {}
    for name, h in cur_hosts.items():
        now = h.get("status", "ok")
        p = prev_hosts.get(name)
        was = p.get("status", "ok") if p is not None else None
        err = h.get("error") if now == "unreachable" else None
        change = None
        first = cur_ref
        if p is None:
            change = "appeared"  # also every host of a first run; `after` says its status
        elif now == "unreachable" and was != "unreachable":
            change = "unreachable"
        elif now == "unreachable":
            change, first = "still-unreachable", seen_h.get(name, prev_ref)
        elif was == "unreachable":
            change = "back"
        if change:
            counts = _HOST_COUNTS[change] or (fail_on_persisting and change == "still-unreachable")
            out.hosts.append(HostChange(name, change, was, now, err, first, counts))
    for name, p in prev_hosts.items():
        if name not in cur_hosts:
            out.hosts.append(HostChange(name, "vanished", p.get("status", "ok"), None, None,
                                        cur_ref, True))

    # facts (hosts audited in both runs)
    if previous is not None:
        cats = (previous.get("catalog") or {}, current.get("catalog") or {})
        for name, h in cur_hosts.items():
            p = prev_hosts.get(name)
            if p is None or h.get("status") == "unreachable" or p.get("status") == "unreachable":
                continue
            for path, x, y in _collapse(fact_changes(name, p, h, ign, cats)):
                change = "added" if x is ABSENT else "removed" if y is ABSENT else "changed"
                mark = matcher.fact(name, groups.get(name, ("all",)), path) if matcher else None
                out.facts.append(FactChange(name, path, to_jsonable(x), to_jsonable(y), change,
                                            cur_ref, mark, not (mark and mark.in_force)))

    # findings
    prev_findings = list((previous or {}).get("findings") or []) if previous is not None else []
    cur_findings = list(current.get("findings") or [])
    pairs, resolved, new = _pair_findings(prev_findings, cur_findings)

    def change(state: str, f: Any, first: Optional[RunRef]) -> FindingChange:
        host, sev = _get(f, "host"), _get(f, "severity")
        mark = None
        if matcher and state != "resolved":
            mark = matcher.finding(host, groups.get(host, ("all",)), _get(f, "rule"),
                                   evidence_facts(f))
        counts = False
        if state == "new" or (state == "persisting" and fail_on_persisting):
            counts = severity_rank(sev) <= limit and not (mark and mark.in_force)
        return FindingChange(state, finding_key(f), host, _get(f, "rule"), _get(f, "category"),
                             sev, _get(f, "title"), first, mark, counts)

    # A host this run could not check proves nothing about last run's findings, and a
    # host the last run could not check proves nothing about this run's being new.
    unverified_before = _unverified_items(previous)
    for f in new:
        key = finding_key(f)
        if key in unverified_before:   # seen before the run that could not check it
            out.findings["persisting"].append(change("persisting", f, seen_f.get(key) or prev_ref))
        else:
            out.findings["new"].append(change("new", f, cur_ref))
    for p, f in pairs:
        first = seen_f.get(finding_key(p)) or seen_f.get(finding_key(f)) or prev_ref
        item = change("persisting", f, first)
        out.findings["persisting"].append(item)
    for f in resolved:
        host = cur_hosts.get(_get(f, "host"))
        state = "unverified" if host is not None and not checked(host, f) else "resolved"
        out.findings[state].append(change(state, f, seen_f.get(finding_key(f)) or
                                          (prev_ref if state == "unverified" else None)))
    # Carried on while the host stays unchecked, so the first-seen chain survives outages.
    listed = {c.key for items in out.findings.values() for c in items}
    for key, item in unverified_before.items():
        host = cur_hosts.get(item["host"])
        if key not in listed and host is not None and not checked(host, item):
            out.findings["unverified"].append(change("unverified", item, seen_f.get(key)))
    for items in out.findings.values():
        items.sort(key=lambda c: (severity_rank(c.severity), c.host, c.rule, c.key))

    if matcher:
        # A fact waiver that covers a standing deviation from the baseline is in use even
        # in runs where that fact did not change: not stale.
        drift = current.get("drift") if isinstance(current.get("drift"), dict) else {}
        for host, items in drift.items():
            for item in items or ():
                if isinstance(item, dict) and isinstance(item.get("path"), str):
                    matcher.fact(host, groups.get(host, ("all",)), item["path"])
        out.stale_waivers = matcher.stale()
        out.expired_waivers = matcher.expired()
    return out
