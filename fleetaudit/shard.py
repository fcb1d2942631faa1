"""Shards: a stable share of an inventory's hosts, for runs split over processes,
machines or scheduler jobs (`--shard I/N`, `--workers N`, `fleetaudit merge`).

A host belongs to shard `int(sha256(name).hexdigest(), 16) % N`: the assignment depends
on the host's inventory name and N only, so adding or removing a host moves no other
host, and every runner that reads the same inventory agrees without talking to the
others. Indexes are 0-based (0..N-1), as Kubernetes' $JOB_COMPLETION_INDEX is.

Pure: no I/O. The shard record a shard run writes into `run.shard` is what `merge`
checks (merge.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence

MAX_SHARDS = 100_000


class ShardError(ValueError):
    """A --shard value that is not I/N with 0 <= I < N."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise ShardError(f"--shard {text!r}: expected I/N, e.g. 0/4 (I from 0 to N-1)")
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"--shard {text!r}: N must be between 1 and {MAX_SHARDS}")
    if index >= count:
        raise ShardError(f"--shard {text!r}: I must be between 0 and {count - 1} (indexes start at 0)")
    return Shard(index, count)


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) a host name belongs to."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return int(digest, 16) % count


def select(hosts: Sequence, shard: Shard) -> list:
    """The hosts (objects with .name) of `shard`, in inventory order."""
    return [h for h in hosts if shard_of(h.name, shard.count) == shard.index]


def split(hosts: Sequence, count: int) -> List[list]:
    """Every shard's hosts, in inventory order: split(hosts, n)[i] == select(hosts, i/n)."""
    out: List[list] = [[] for _ in range(count)]
    for h in hosts:
        out[shard_of(h.name, count)].append(h)
    return out


def inventory_id(names: Iterable[str]) -> str:
    """Identity of the host set being sharded (after --limit): sha256 over the sorted
    names. Two shard runs belong together only when they saw the same host set, whatever
    path the inventory file had on each runner."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode("utf-8", "surrogatepass") + b"\0")
    return "sha256:" + h.hexdigest()


def shard_record(shard: Shard, all_hosts: Sequence, chosen: Sequence, history_key: str) -> dict:
    """`run.shard` of a shard run: which share, of which host set, and where each host
    stood in the inventory (so merge restores the inventory order)."""
    position: Dict[str, int] = {h.name: i for i, h in enumerate(all_hosts)}
    return {"index": shard.index, "count": shard.count,
            "hosts_total": len(all_hosts), "inventory_id": inventory_id(position),
            "history_key": history_key,
            "positions": [position[h.name] for h in chosen]}
