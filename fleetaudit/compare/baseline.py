"""Baselines: what each host is expected to look like.

One interface: `bind(result, index, ignore)` once per run, then
`expected_for(host_result) -> Expected` per host (see drift.Expected).

- ConsensusBaseline (the default): per fact path, the strict majority value among the
  audited hosts of the host's partition (all hosts, or one inventory group each with
  `partition_by`). Below quorum or without a strict majority there is no expectation,
  and the path is recorded as undecided ("no majority") instead of guessed.
- HostBaseline: a golden host of the same run (`--baseline-host NAME`).
- SnapshotBaseline: a saved snapshot (`--baseline FILE`): each host is compared with
  the same-named host in the file; a host the file does not have (or has only as
  unreachable) is compared with the consensus of the file's audited hosts.
- PolicyBaseline (policy.py): constraints per fact path from a YAML file.
"""
from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .. import snapshot
from ..facts import schema as paths
from ..models import HostResult, RunResult
from .drift import Expected
from .flatten import ABSENT, canon_at
from .ignore import Ignore, as_ignore
from .index import FleetIndex, HostIndex, gc_paused, index_for

SHARE_HOSTS = 20  # host names a drift item lists per value (counts are always exact)


class BaselineError(Exception):
    """A baseline that cannot be used (unknown or unaudited golden host, bad snapshot)."""


class Baseline:
    kind = "baseline"

    def bind(self, result: RunResult, index: Optional[FleetIndex] = None,
             ignore: Optional[Ignore] = None) -> "Baseline":
        raise NotImplementedError

    def expected_for(self, host: HostResult) -> Expected:
        raise NotImplementedError

    def describe(self) -> dict:
        """JSON for reports: what the hosts were compared with."""
        return {"kind": self.kind}


def fleet_share(index: FleetIndex):
    """Share lookup over every audited host of `index` (golden host, snapshot, policy)."""
    def share(path: str, expected: Any, actual: Any) -> dict:
        holders = index.holders(path)
        return _share(holders, path, expected, actual)
    return share


def _share(holders: Mapping[Any, List[str]], path: str, expected: Any, actual: Any) -> dict:
    ek = ABSENT if expected is ABSENT else canon_at(path, expected)
    ak = ABSENT if actual is ABSENT else canon_at(path, actual)
    with_actual = holders.get(ak, [])
    return {"expected": len(holders.get(ek, ())), "actual": len(with_actual),
            "of": sum(len(v) for v in holders.values()), "hosts": list(with_actual[:SHARE_HOSTS])}


# --- fleet consensus -----------------------------------------------------------------

def count_hosts(hosts: Sequence[HostIndex], ignore: Ignore) -> tuple:
    """(reporting, holders, reps) of `hosts` (in name order): collector -> hosts that
    reported it; path -> canonical key -> hosts with it; path -> key -> the value (as the
    first of those hosts has it). Ignored paths are not counted."""
    reporting: Dict[str, List[str]] = {}
    holders: Dict[str, Dict[Any, List[str]]] = {}
    reps: Dict[str, Dict[Any, Any]] = {}
    for h in hosts:
        for col in h.scope:
            reporting.setdefault(col, []).append(h.name)
        for col, keys in h.keys.items():
            if col not in h.scope:
                continue
            vals = h.flat[col]
            for p, k in keys.items():
                if ignore(p):
                    continue
                by_value = holders.get(p)
                if by_value is None:
                    holders[p] = {k: [h.name]}
                    reps[p] = {k: vals[p]}
                else:
                    names = by_value.get(k)
                    if names is None:
                        by_value[k] = [h.name]
                        reps[p][k] = vals[p]
                    else:
                        names.append(h.name)
    return reporting, holders, reps


def _merge_order(parts: Sequence[Mapping[str, Any]], first_of) -> List[str]:
    """The keys of several dicts in the order one pass over all their hosts in name order
    would have inserted them: by the first host (in name order) that has the key, and
    for keys first seen on the same host (so in the same part), in that part's order."""
    first: Dict[str, tuple] = {}
    for i, part in enumerate(parts):
        for pos, (key, val) in enumerate(part.items()):
            f = first_of(val)
            cur = first.get(key)
            if cur is None or f < cur[0]:
                first[key] = (f, i, pos)
    return sorted(first, key=first.__getitem__)


def _joined(lists: List[List[str]]) -> List[str]:
    if len(lists) == 1:
        return lists[0]
    out = [n for names in lists for n in names]
    out.sort()   # sorted runs: timsort merges them
    return out


def merge_counts(parts: Sequence[tuple]) -> tuple:
    """count_hosts of the union of disjoint host sets, from count_hosts of each set: the
    same dicts, in the same order, with the same representative values and key objects
    as one count_hosts over all the hosts in name order (host names are unique, so
    every list is a merge of sorted runs and every "first host" is in one part only)."""
    if len(parts) == 1:
        return parts[0]
    reportings = [p[0] for p in parts]
    reporting = {col: _joined([r[col] for r in reportings if col in r])
                 for col in _merge_order(reportings, lambda names: names[0])}
    holders: Dict[str, Dict[Any, List[str]]] = {}
    reps: Dict[str, Dict[Any, Any]] = {}
    all_holders = [p[1] for p in parts]
    for path in _merge_order(all_holders, lambda by_value: min(n[0] for n in by_value.values())):
        entries: Dict[Any, list] = {}   # key -> [first host, key object, value, [name lists]]
        for _, h, r in parts:
            by_value = h.get(path)
            if by_value is None:
                continue
            rp = r[path]
            for k, names in by_value.items():
                e = entries.get(k)
                if e is None:
                    entries[k] = [names[0], k, rp[k], [names]]
                else:
                    e[3].append(names)
                    if names[0] < e[0]:
                        e[0], e[1], e[2] = names[0], k, rp[k]
        ranked = sorted(entries.values(), key=lambda e: e[0])
        holders[path] = {e[1]: _joined(e[3]) for e in ranked}
        reps[path] = {e[1]: e[2] for e in ranked}
    return reporting, holders, reps


class Consensus:
    """The consensus of one set of hosts: per path, counts of each value and the
    majority (if any). Built from hosts in name order so that it does not depend on
    inventory order (even the representative of equal values is the same)."""

    def __init__(self, label: str, hosts: Sequence[HostIndex], ignore: Ignore,
                 min_hosts: int = 3, majority: float = 0.5, index: Optional[FleetIndex] = None):
        self.label = label
        self.hosts = sorted(hosts, key=lambda h: h.name)
        self.min_hosts = min_hosts
        self.majority = majority
        self._lacking_memo: Dict[str, List[str]] = {}   # path -> hosts lacking it (_lacking)
        with gc_paused():
            # The counts depend only on the hosts and the ignore rules (not on quorum or
            # majority): the fleet-wide consensus and the fact matrix share them.
            memo = getattr(index, "counted", None)
            token = (tuple(ignore.rules), tuple(h.name for h in self.hosts)) if memo is not None else None
            hit = memo.get(token) if memo is not None else None
            if hit is not None and all(a is b for a, b in zip(hit[3], self.hosts)):
                self.reporting, self.holders, self._reps = hit[:3]
            else:
                self._count(ignore)
                if memo is not None:
                    memo[token] = (self.reporting, self.holders, self._reps, self.hosts)
            self.expected = self._decide()

    def _count(self, ignore: Ignore) -> None:
        self.reporting, self.holders, self._reps = count_hosts(self.hosts, ignore)

    @classmethod
    def from_counts(cls, label: str, names: Sequence[str], counts: tuple, min_hosts: int = 3,
                    majority: float = 0.5) -> "Consensus":
        """A Consensus from counts already made (count_hosts over the hosts in name order,
        or merge_counts of disjoint parts): what the analysis over worker processes builds
        in the parent from the workers' partial counts. `names`: the hosts, in name order."""
        self = cls.__new__(cls)
        self.label = label
        self.hosts = list(names)
        self.min_hosts = min_hosts
        self.majority = majority
        self._lacking_memo = {}
        self.reporting, self.holders, self._reps = counts
        self.expected = self._decide()
        return self

    def _decide(self) -> Expected:
        quorate = {col for col, names in self.reporting.items() if len(names) >= self.min_hosts}
        values: Dict[str, Dict[str, Any]] = {col: {} for col in sorted(quorate)}
        keys: Dict[str, Dict[str, Any]] = {col: {} for col in values}
        undecided: Dict[str, str] = {}
        for p, by_value in self.holders.items():
            col = paths.collector(p)
            if col not in quorate:
                continue
            n = len(self.reporting[col])
            absent = n - sum(len(v) for v in by_value.values())
            ranked = sorted(((len(v), k) for k, v in by_value.items()),
                            key=lambda t: -t[0])
            top_count, top_key = ranked[0]
            second = ranked[1][0] if len(ranked) > 1 else 0
            if absent > top_count:
                top_count, top_key, second = absent, ABSENT, max(top_count, second)
            else:
                second = max(second, absent)
            if top_count > self.majority * n and top_count > second:
                if top_key is not ABSENT:
                    values[col][p] = self._reps[p][top_key]
                    keys[col][p] = top_key
            else:
                undecided[p] = (f"no majority in {self.label}: most common value on "
                                f"{top_count} of {n} hosts")
        return Expected(source=f"consensus of {self.label}", values=values, keys=keys,
                        scope=frozenset(quorate), undecided=undecided, share=self.share)

    def value_of(self, path: str, key: Any) -> Any:
        """The value behind a canonical key (as the first host in name order has it)."""
        return self._reps[path][key]

    def share(self, path: str, expected: Any, actual: Any) -> dict:
        by_value = self.holders.get(path, {})
        col = paths.collector(path)
        reporting = self.reporting.get(col, [])
        if expected is ABSENT or actual is ABSENT:
            holders = dict(by_value)
            holders[ABSENT] = self._lacking(path, by_value, reporting)
            return _share(holders, path, expected, actual)
        return _share(by_value, path, expected, actual)  # read only: no copy needed

    def _lacking(self, path: str, by_value: Mapping[Any, List[str]], reporting: List[str]) -> List[str]:
        """Hosts that reported the path's collector but lack the path; once per path
        (every missing/extra drift item asks, and each answer is a pass over the fleet)."""
        got = self._lacking_memo.get(path)
        if got is None:
            have = {n for names in by_value.values() for n in names}
            got = self._lacking_memo[path] = [n for n in reporting if n not in have]
        return got

    def majority_of(self, path: str) -> Tuple[Any, int, int, List[str]]:
        """(majority value or ABSENT, its count, hosts reporting, outlier hosts);
        value None-with-count-0 when there is no majority."""
        col = paths.collector(path)
        n = len(self.reporting.get(col, []))
        by_value = self.holders.get(path, {})
        exp = self.expected
        if path in exp.undecided or col not in exp.scope:
            return None, 0, n, []
        key = exp.keys.get(col, {}).get(path, ABSENT)
        if key is ABSENT:
            outliers = sorted(n_ for names in by_value.values() for n_ in names)
            return ABSENT, n - len(outliers), n, outliers
        outliers = sorted(n_ for k, names in by_value.items() if k != key for n_ in names)
        have = {n_ for names in by_value.values() for n_ in names}
        outliers += [n_ for n_ in self.reporting[col] if n_ not in have]
        return exp.values[col][path], len(by_value[key]), n, sorted(outliers)


class ConsensusBaseline(Baseline):
    """Fleet consensus (the default).

    partition_by: group names or globs ("dc-*"); each host is compared within the
    first of its inventory groups that matches (patterns in the given order, groups
    in name order); hosts in no such group, and partitions smaller than `min_hosts`,
    use the consensus of all audited hosts. min_hosts: quorum below which no value is
    expected. majority: the share a value needs, strictly more than (0.5 = half).
    """

    kind = "consensus"

    def __init__(self, partition_by: Sequence[str] = (), min_hosts: int = 3,
                 majority: float = 0.5):
        if min_hosts < 1:
            raise ValueError("min_hosts must be at least 1")
        if not 0 <= majority < 1:
            raise ValueError("majority must be in [0, 1)")
        self.partition_by = [p for p in partition_by if p]
        self.min_hosts = min_hosts
        self.majority = majority
        self.partitions: Dict[str, Consensus] = {}
        self._of_host: Dict[str, str] = {}

    def bind(self, result, index=None, ignore=None) -> "ConsensusBaseline":
        index = index or index_for(result)
        ign = as_ignore(ignore)
        plan, self._of_host = self.plan([(h.name, h.groups) for h in index.hosts.values()])
        self.partitions = {label: Consensus(text, [index.hosts[n] for n in names], ign,
                                            self.min_hosts, self.majority, index=index)
                           for label, (text, names) in plan.items()}
        return self

    def plan(self, hosts: Sequence[Tuple[str, Sequence[str]]]
             ) -> Tuple[Dict[str, Tuple[str, List[str]]], Dict[str, str]]:
        """For the audited hosts given as (name, groups) in index order: partition label
        -> (its consensus's label, its hosts in that order), and host -> the partition it
        is compared within. Hosts of partitions smaller than min_hosts are compared with
        the fleet-wide consensus."""
        members: Dict[str, List[str]] = {}
        for name, groups in hosts:
            members.setdefault(self._partition_of_groups(groups), []).append(name)
        fleet_label = "all audited hosts"
        small = [label for label, hs in members.items()
                 if label != fleet_label and len(hs) < self.min_hosts]
        plan = {label: (label if label == fleet_label else f"group {label}", hs)
                for label, hs in members.items() if label not in small}
        of_host = {n: label for label, (_, hs) in plan.items() for n in hs}
        if small:
            plan.setdefault(fleet_label, (fleet_label, [name for name, _ in hosts]))
            for label in small:
                for n in members[label]:
                    of_host[n] = fleet_label
        return plan, of_host

    def _partition_of(self, h: HostIndex) -> str:
        return self._partition_of_groups(h.groups)

    def _partition_of_groups(self, groups: Sequence[str]) -> str:
        for pattern in self.partition_by:
            for group in groups:
                if fnmatch.fnmatchcase(group, pattern):
                    return group
        return "all audited hosts"

    def consensus_for(self, name: str) -> Optional[Consensus]:
        label = self._of_host.get(name)
        return self.partitions.get(label) if label is not None else None

    def expected_for(self, host: HostResult) -> Expected:
        cons = self.consensus_for(host.name)
        if cons is None:
            raise BaselineError(f"host {host.name} was not audited; it has no consensus")
        return cons.expected

    def describe(self) -> dict:
        name = "fleet consensus" + (f" per group ({', '.join(self.partition_by)})"
                                    if self.partition_by else "")
        return {
            "kind": self.kind, "name": name, "min_hosts": self.min_hosts, "majority": self.majority,
            "partition_by": list(self.partition_by),
            "partitions": {label: {"hosts": len(c.hosts), "undecided": len(c.expected.undecided)}
                           for label, c in self.partitions.items()},
        }


# --- golden host ---------------------------------------------------------------------

class HostBaseline(Baseline):
    """Every host is compared with one golden host of the same run."""

    kind = "host"

    def __init__(self, name: str):
        self.name = name
        self._expected: Optional[Expected] = None

    def bind(self, result, index=None, ignore=None) -> "HostBaseline":
        index = index or index_for(result)
        h = result.hosts.get(self.name)
        if h is None:
            known = ", ".join(list(result.hosts)[:10])
            raise BaselineError(f"baseline host {self.name!r} is not in this run (hosts: {known}"
                                f"{', ...' if len(result.hosts) > 10 else ''})")
        if not h.audited or self.name not in index:
            why = f"{h.error.cls}: {h.error.message}" if h.error else h.status
            raise BaselineError(f"baseline host {self.name!r} was not audited ({why})")
        golden = index.hosts[self.name]
        flat = {p: v for vals in golden.flat.values() for p, v in vals.items()}
        self._expected = Expected.from_flat(f"host {self.name}", flat, sorted(golden.scope),
                                            as_ignore(ignore), share=fleet_share(index))
        return self

    def expected_for(self, host: HostResult) -> Expected:
        if self._expected is None:
            raise BaselineError("baseline not bound to a run")
        return self._expected

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "host": self.name}


# --- saved snapshot ------------------------------------------------------------------

BASELINE_MARK = "baseline_saved"


def save_baseline(result: RunResult, path: Union[str, Path]) -> None:
    """Write `result` as a baseline file: a normal snapshot (per-host facts, so any
    `audit --json` snapshot works as a baseline too) marked with when it was saved."""
    doc = snapshot.to_json(result)
    doc[BASELINE_MARK] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          "hosts": sum(1 for h in result.hosts.values() if h.audited)}
    snapshot.write_snapshot_file(path, snapshot.dumps(doc, indent=1) + "\n")


class SnapshotBaseline(Baseline):
    """Hosts compared with the same-named host of a saved snapshot, else with the
    consensus of the snapshot's audited hosts."""

    kind = "snapshot"

    def __init__(self, saved: RunResult, source: str = "snapshot", min_hosts: int = 3):
        self.saved = saved
        self.source = source
        self.min_hosts = min_hosts
        self._index: Optional[FleetIndex] = None
        self._ignore: Ignore = as_ignore(None)
        self._per_host: Dict[str, Expected] = {}
        self._consensus: Optional[Consensus] = None
        self._share = None

    @classmethod
    def load(cls, path: Union[str, Path], min_hosts: int = 3) -> "SnapshotBaseline":
        try:
            saved = snapshot.load(path)
        except snapshot.SnapshotError as exc:
            raise BaselineError(str(exc)) from exc
        if not any(h.audited for h in saved.hosts.values()):
            raise BaselineError(f"{path}: the snapshot has no audited host to compare with")
        return cls(saved, source=f"snapshot {path}", min_hosts=min_hosts)

    def bind(self, result, index=None, ignore=None) -> "SnapshotBaseline":
        self._index = index_for(self.saved)
        self._ignore = as_ignore(ignore)
        self._per_host = {}
        self._consensus = None
        self._share = fleet_share(index or index_for(result))
        return self

    def expected_for(self, host: HostResult) -> Expected:
        if self._index is None:
            raise BaselineError("baseline not bound to a run")
        saved = self._index.hosts.get(host.name)
        if saved is not None:
            exp = self._per_host.get(host.name)
            if exp is None:
                flat = {p: v for vals in saved.flat.values() for p, v in vals.items()}
                exp = Expected.from_flat(f"{self.source}, host {host.name}", flat,
                                         sorted(saved.scope), self._ignore, share=self._share)
                self._per_host[host.name] = exp
            return exp
        if self._consensus is None:
            self._consensus = Consensus(f"{self.source}", list(self._index.hosts.values()),
                                        self._ignore, self.min_hosts)
        return self._consensus.expected

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.source.replace("snapshot ", "", 1),
                "source": self.source, "saved": (self.saved.extra or {}).get(BASELINE_MARK),
                "hosts": sum(1 for h in self.saved.hosts.values() if h.audited)}
