"""Join shard results into one fleet run (`fleetaudit merge`, `--workers`).

Only raw collection results are joined: hosts (status, error, facts), the content
catalog and run metadata. Findings, drift and every other analysis section of the
inputs are dropped; the caller analyses the joined run once, so the fleet consensus
is computed over all shards, exactly as in one run.

Pure: documents in, RunResult out, MergeError naming the files when the inputs do not
belong together.
"""
from __future__ import annotations

import calendar
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .models import SCHEMA_VERSION, HostResult, RunResult
from .shard import shard_of
from .snapshot import SnapshotError, from_json


class MergeError(Exception):
    """Inputs that are not the shards of one run; the message names the files."""


def _epoch(iso) -> Optional[float]:
    try:
        return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None


def join_runs(runs: Sequence[dict], host_count: int) -> dict:
    """Run metadata of a joined run: first start, last finish, union of groups and
    collectors; interrupted when any part was."""
    starts = [r.get("started") for r in runs if isinstance(r.get("started"), str)]
    ends = [r.get("finished") for r in runs if isinstance(r.get("finished"), str)]
    run: dict = {}
    if starts:
        run["started"] = min(starts)
    if ends:
        run["finished"] = max(ends)
    a, b = _epoch(run.get("started")), _epoch(run.get("finished"))
    run["duration_s"] = round(b - a, 3) if a is not None and b is not None else max(
        (r.get("duration_s") or 0 for r in runs), default=0)
    run["hosts"] = host_count
    collectors: List[str] = []
    for r in runs:
        for c in r.get("collectors") or []:
            if c not in collectors:
                collectors.append(c)
    run["collectors"] = collectors
    versions = list(dict.fromkeys(str(r.get("tool_version")) for r in runs if r.get("tool_version")))
    if versions:
        run["tool_version"] = versions[0]
        if len(versions) > 1:
            run["tool_versions"] = versions
    deadlines = [r["host_deadline_s"] for r in runs if isinstance(r.get("host_deadline_s"), (int, float))]
    if deadlines:
        run["host_deadline_s"] = max(deadlines)
    run["interrupted"] = any(bool(r.get("interrupted")) for r in runs)
    by = [r["interrupted_by"] for r in runs if r.get("interrupted_by")]
    if by:
        run["interrupted_by"] = by[0]
    for key in ("inventory", "limit"):
        if runs and key in runs[0]:
            run[key] = runs[0][key]
    return run


def join_results(parts: Sequence[RunResult], order: Sequence[str]) -> RunResult:
    """In-memory join (the --workers parent): hosts in `order` (the inventory's), the
    catalogs united, run metadata joined. Names in no part are left out."""
    hosts: Dict[str, HostResult] = {}
    for p in parts:
        hosts.update(p.hosts)
    ordered = {n: hosts[n] for n in order if n in hosts}
    run = join_runs([p.run for p in parts], len(ordered))
    run["groups"] = _join_groups([p.run for p in parts], {n: i for i, n in enumerate(order)})
    catalog: dict = {}
    for p in parts:
        catalog.update(p.catalog)
    return RunResult(run=run, hosts=ordered, catalog=catalog)


def _join_groups(runs: Sequence[dict], position: Dict[str, int]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = {}
    for r in runs:
        for g, names in (r.get("groups") or {}).items():
            groups.setdefault(g, []).extend(names)
    big = len(position)
    return {g: sorted(set(names), key=lambda n: (position.get(n, big), n)) for g, names in groups.items()}


def _shard_of_doc(source: str, doc: dict) -> dict:
    run = doc.get("run") if isinstance(doc.get("run"), dict) else {}
    rec = run.get("shard")
    if not isinstance(rec, dict) or not all(isinstance(rec.get(k), int) for k in ("index", "count", "hosts_total")):
        raise MergeError(f"{source}: not a shard snapshot (its run has no shard record: "
                         "written without --shard)")
    if not isinstance(rec.get("positions"), list) or not isinstance(rec.get("inventory_id"), str):
        raise MergeError(f"{source}: shard record without positions or inventory_id")
    return rec


def merge_documents(inputs: Sequence[Tuple[str, dict]], allow_missing: bool = False) -> RunResult:
    """Shard snapshot documents (source name, parsed JSON) -> one unanalysed RunResult."""
    if not inputs:
        raise MergeError("no shard snapshots given")
    schemas = {}
    for source, doc in inputs:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        schemas.setdefault(str(schema), []).append(source)
    if len(schemas) > 1:
        raise MergeError("mixed snapshot schema versions: " + "; ".join(
            f"{s} in {', '.join(srcs)}" for s, srcs in schemas.items()))
    only = next(iter(schemas))
    if only != SCHEMA_VERSION:
        raise MergeError(f"snapshot schema {only} ({', '.join(schemas[only])}) is not "
                         f"{SCHEMA_VERSION}, the one this fleetaudit merges")
    recs = [(source, doc, _shard_of_doc(source, doc)) for source, doc in inputs]
    first_src, _, first = recs[0]
    for source, _, rec in recs[1:]:
        if rec["inventory_id"] != first["inventory_id"] or rec["hosts_total"] != first["hosts_total"]:
            raise MergeError(f"mixed inventories: {first_src} is a shard of {first['inventory_id']} "
                             f"({first['hosts_total']} hosts), {source} of {rec['inventory_id']} "
                             f"({rec['hosts_total']} hosts)")
        if rec["count"] != first["count"]:
            raise MergeError(f"mixed shard counts: {first_src} is shard {first['index']}/{first['count']}, "
                             f"{source} is shard {rec['index']}/{rec['count']}")
    count = first["count"]
    seen_index: Dict[int, str] = {}
    owner: Dict[str, str] = {}
    position: Dict[str, int] = {}
    parts: List[RunResult] = []
    for source, doc, rec in recs:
        if rec["index"] in seen_index:
            raise MergeError(f"overlapping shards: {seen_index[rec['index']]} and {source} are both "
                             f"shard {rec['index']}/{count}")
        seen_index[rec["index"]] = source
        doc = {k: doc[k] for k in ("schema", "run", "hosts", "catalog") if k in doc}  # raw facts only
        try:
            part = from_json(doc, source)
        except SnapshotError as exc:
            raise MergeError(str(exc)) from exc
        names = list(part.hosts)
        if len(names) != len(rec["positions"]):
            raise MergeError(f"{source}: {len(names)} hosts but {len(rec['positions'])} positions in its shard record")
        for name, pos in zip(names, rec["positions"]):
            if name in owner:
                raise MergeError(f"overlapping hosts: {name!r} is in {owner[name]} and in {source}")
            if shard_of(name, count) != rec["index"]:
                raise MergeError(f"{source}: host {name!r} does not belong to shard {rec['index']}/{count} "
                                 f"(it hashes to shard {shard_of(name, count)})")
            owner[name] = source
            position[name] = pos if isinstance(pos, int) else len(position)
        parts.append(part)
    missing = sorted(set(range(count)) - set(seen_index))
    if missing and not allow_missing:
        raise MergeError(f"missing shard(s) {', '.join(f'{i}/{count}' for i in missing)} "
                         f"(got {', '.join(f'{i}/{count}' for i in sorted(seen_index))}); "
                         "pass --allow-missing to merge what there is, marked incomplete")
    if not missing and len(owner) != first["hosts_total"]:
        raise MergeError(f"the shards hold {len(owner)} hosts, their inventory has {first['hosts_total']}")
    order = sorted(owner, key=lambda n: (position[n], n))
    result = join_results(parts, order)
    result.run["shards"] = {
        "count": count, "inventory_id": first["inventory_id"], "hosts_total": first["hosts_total"],
        "history_key": first.get("history_key"), "missing": missing, "complete": not missing,
        "merged_from": [{"source": source, "shard": f"{rec['index']}/{count}",
                         "hosts": len(rec["positions"]), "started": doc.get("run", {}).get("started"),
                         "duration_s": doc.get("run", {}).get("duration_s")}
                        for source, doc, rec in recs]}
    if missing:
        result.run["incomplete"] = {"missing_shards": missing,
                                    "hosts_not_seen": first["hosts_total"] - len(owner)}
    return result
