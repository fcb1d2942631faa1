"""compare: hosts against a baseline, as drift items (fact path, expected, actual).

    from fleetaudit.compare import compare_run, ConsensusBaseline, load_baseline
    drift = compare_run(result)                      # fleet consensus, default ignores
    drift = compare_run(result, HostBaseline("web01"), ignore=["dns.resolves"])

Only audited hosts (status ok or partial) are compared; within a partial host, only the
collectors that reported completely. Unreachable hosts have no drift (their error class
is the finding).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ..models import RunResult
from .baseline import (Baseline, BaselineError, Consensus, ConsensusBaseline, HostBaseline,
                       SnapshotBaseline, save_baseline)
from .drift import DriftItem, Expected, compare_facts, describe_change, diff_host, sort_items
from .flatten import ABSENT, canon_at, flatten
from .ignore import DEFAULT_RULES, IDENTITY, VOLATILE, Ignore, as_ignore
from .index import FleetIndex, gc_paused, index_for
from ..facts import schema as paths
from ..facts.schema import CATALOGUE
from .policy import PolicyBaseline, PolicyError, load_policy

__all__ = [
    "ABSENT", "Baseline", "BaselineError", "CATALOGUE", "Consensus", "ConsensusBaseline",
    "DriftItem", "Expected", "FleetIndex", "HostBaseline", "Ignore", "PolicyBaseline",
    "PolicyError", "SnapshotBaseline", "annotate", "compare_facts", "compare_run", "diff_hosts",
    "describe_change", "drift_from_json", "drift_to_json", "fact_matrix", "flatten", "load_baseline",
    "load_policy", "save_baseline", "value_groups", "DEFAULT_RULES", "VOLATILE", "IDENTITY",
]

BaselineArg = Union[Baseline, Sequence[Baseline], None]


def compare_run(result: RunResult, baseline: BaselineArg = None,
                ignore: Any = None) -> Dict[str, List[DriftItem]]:
    """host -> drift items (sorted by path) for every audited host of `result`.

    baseline: one Baseline, several (their items are concatenated, e.g. consensus plus
    a policy), or None for the fleet consensus. ignore: user patterns (added to the
    default volatile/identity rules) or an Ignore. Raises BaselineError when a
    baseline cannot be used (golden host not audited).
    """
    baselines, ign, index = bind_baselines(result, baseline, ignore)
    with gc_paused():
        return {name: host_drift(name, h, baselines, ign) for name, h in index.hosts.items()}


def bind_baselines(result: RunResult, baseline: BaselineArg = None, ignore: Any = None
                   ) -> Tuple[List[Baseline], Ignore, FleetIndex]:
    """The baselines bound to `result`'s fleet index (consensus counted, golden host or
    snapshot looked up), with the Ignore and the index they used: compare_run's fleet-wide
    step, which the analysis over worker processes does once before forking."""
    ign = as_ignore(ignore)
    index = index_for(result)
    baselines = _baselines(baseline)
    for b in baselines:
        b.bind(result, index, ign)
    return baselines, ign, index


def host_drift(name: str, h, baselines: List[Baseline], ign: Ignore) -> List[DriftItem]:
    """One indexed host's drift against bound baselines, sorted by path (compare_run's
    per-host step; the analysis over worker processes runs it in the workers)."""
    items: List[DriftItem] = []
    for b in baselines:
        items.extend(diff_host(name, h.flat, h.keys, h.scope, b.expected_for(h.result), ign))
    return sort_items(items)


def _baselines(baseline: BaselineArg) -> List[Baseline]:
    if baseline is None:
        return [ConsensusBaseline()]
    if isinstance(baseline, Baseline):
        return [baseline]
    return list(baseline) or [ConsensusBaseline()]


def load_baseline(path: str) -> SnapshotBaseline:
    """A saved snapshot as baseline (`--baseline FILE`); raises BaselineError."""
    return SnapshotBaseline.load(path)


def diff_hosts(result: RunResult, a: str, b: str, ignore: Any = None) -> List[DriftItem]:
    """How host `b` differs from host `a` (for `fleetaudit diff A B`: A is the one that
    works). Items are B's, expected = A's value; share counts the whole run. Raises
    BaselineError when either host is unknown or was not audited."""
    ign = as_ignore(ignore)
    index = index_for(result)
    golden = HostBaseline(a).bind(result, index, ign)
    if b not in result.hosts:
        raise BaselineError(f"host {b!r} is not in this run")
    if b not in index:
        h = result.hosts[b]
        why = f"{h.error.cls}: {h.error.message}" if h.error else h.status
        raise BaselineError(f"host {b!r} was not audited ({why})")
    hb = index.hosts[b]
    return sort_items(diff_host(b, hb.flat, hb.keys, hb.scope, golden.expected_for(hb.result), ign))


def value_groups(result: RunResult, path: str,
                 hosts: Optional[Sequence[str]] = None) -> List[Tuple[Any, List[str]]]:
    """[(value, [hosts])] at `path` over the audited hosts that reported its collector,
    largest group first (ties: value text); hosts lacking the fact form the ABSENT group.
    `hosts` limits the hosts considered (a partition)."""
    index = index_for(result)
    holders = index.holders(path)
    wanted = set(hosts) if hosts is not None else None
    groups = []
    for key, names in holders.items():
        names = [n for n in names if wanted is None or n in wanted]
        if names:
            value = ABSENT if key is ABSENT else index.hosts[names[0]].value(path)
            groups.append((value, names))
    groups.sort(key=lambda g: (-len(g[1]), repr(canon_at(path, g[0]))))
    return groups


def fact_matrix(result: RunResult, ignore: Any = None,
                only_differing: bool = True) -> Dict[str, List[dict]]:
    """The report's fact matrix: {path: [{"value", "hosts"}, ...]}, largest group first.

    Hosts lacking the fact form a group {"value": None, "absent": True, "hosts"}. With
    only_differing, paths where every host agrees are left out; ignored
    (volatile/identity) paths always are. This is result.extra["matrix"].
    """
    ign = as_ignore(ignore)
    index = index_for(result)
    # One counting pass over all hosts (what consensus does), not one pass per path.
    everyone = Consensus("all audited hosts", list(index.hosts.values()), ign, min_hosts=1,
                         index=index)
    return matrix_of(everyone, list(index.hosts), only_differing)


def matrix_of(everyone: Consensus, audited: Sequence[str],
              only_differing: bool = True) -> Dict[str, List[dict]]:
    """fact_matrix from the counts of every audited host (`everyone`: a Consensus of
    them all, min_hosts=1); `audited`: their names in inventory order."""
    order = {name: i for i, name in enumerate(audited)}
    out: Dict[str, List[dict]] = {}
    for path, by_value in everyone.holders.items():
        reporting = everyone.reporting.get(paths.collector(path), [])
        present = sum(len(v) for v in by_value.values())
        if only_differing and len(by_value) == 1 and present == len(reporting):
            continue
        groups = [(everyone.value_of(path, k), sorted(names, key=order.__getitem__), repr(k))
                  for k, names in by_value.items()]
        if present < len(reporting):
            lacking = set(reporting).difference(*by_value.values())
            groups.append((ABSENT, [n for n in audited if n in lacking], ""))
        groups.sort(key=lambda g: (-len(g[1]), g[2]))
        out[path] = [{"value": None, "absent": True, "hosts": h} if v is ABSENT else {"value": v, "hosts": h}
                     for v, h, _ in groups]
    return out


def annotate(result: RunResult, baseline: BaselineArg = None,
             ignore: Any = None) -> Dict[str, List[DriftItem]]:
    """compare_run, then store what the renderers and the snapshot read:
    result.extra["drift"] (hosts with drift only), ["baseline"] (what hosts were
    compared with: {"kind", "name", ...}), ["matrix"] (fact_matrix). Returns the drift.
    """
    baselines = _baselines(baseline)
    drift = compare_run(result, baselines, ignore)
    store_extras(result, drift, baselines, fact_matrix(result, ignore))
    return drift


def store_extras(result: RunResult, drift: Dict[str, List[DriftItem]], baselines: list,
                 matrix) -> None:
    """What the renderers and the snapshot read from a comparison: result.extra["drift"]
    (hosts with drift only), ["baseline"] (the baselines described) and ["matrix"].
    One place for annotate and the analysis over worker processes (analysis_pool)."""
    result.extra["drift"] = drift_to_json({h: items for h, items in drift.items() if items})
    described = [b.describe() for b in baselines]
    head = dict(described[0])
    if len(described) > 1:
        head["also"] = described[1:]
        head["name"] = " + ".join(d.get("name", d["kind"]) for d in described)
    result.extra["baseline"] = head
    result.extra["matrix"] = matrix


def drift_to_json(drift: Dict[str, List[DriftItem]]) -> Dict[str, List[dict]]:
    """For the snapshot: result.extra["drift"] = drift_to_json(compare_run(...))."""
    return {host: [i.to_json() for i in items] for host, items in drift.items()}


def drift_from_json(data: Dict[str, List[dict]]) -> Dict[str, List[DriftItem]]:
    return {host: [DriftItem.from_json(d) for d in items] for host, items in (data or {}).items()}
