"""The public pull-error corpus (tests/data/pull-errors/*.jsonl) and how explain is scored on it.

Each entry is an error text quoted verbatim from a public thread, with the cause that
thread concluded (one of design.md's categories). The corpus is split into a development
part (tuned against) and a held-out part (only scored) by a keyed hash of the text, so
the split was fixed before any tuning and an entry never changes sides when others are
added.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Sequence

from .models import CATEGORIES

SPLIT_SEED = "fleetaudit-pull-errors-2026-12-04"
HELD_OUT_PERCENT = 35          # at least 30% held out, per issue 10
REQUIRED = ("text", "source", "cause", "fix", "runtime")


@dataclass(frozen=True)
class Entry:
    text: str
    source: str
    cause: str
    fix: str
    runtime: str
    notes: str = ""


def split_of(text: str, seed: str = SPLIT_SEED, held_out_percent: int = HELD_OUT_PERCENT) -> str:
    """'held-out' or 'dev': a stable function of the text alone (not of the corpus order)."""
    digest = hashlib.sha256((seed + "\0" + text).encode("utf-8")).digest()
    return "held-out" if int.from_bytes(digest[:8], "big") % 100 < held_out_percent else "dev"


def load(directory: Path) -> List[Entry]:
    """Every entry of every *.jsonl under `directory`; a malformed line fails loudly."""
    entries: List[Entry] = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        entries.extend(load_file(path))
    return entries


def load_file(path: Path) -> List[Entry]:
    """The entries of one corpus file (one round's additions)."""
    entries: List[Entry] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        missing = [k for k in REQUIRED if not raw.get(k)]
        if missing or raw["cause"] not in CATEGORIES:
            raise ValueError(f"{path.name}:{n}: missing {missing} or bad cause {raw.get('cause')!r}")
        entries.append(Entry(**{k: raw.get(k, "") for k in Entry.__dataclass_fields__}))
    return entries


def split(entries: Iterable[Entry]) -> Dict[str, List[Entry]]:
    out: Dict[str, List[Entry]] = {"dev": [], "held-out": []}
    for e in entries:
        out[split_of(e.text)].append(e)
    return out


@dataclass
class Score:
    n: int
    top1: int
    top3: int
    empty: int
    misses: List[tuple]          # (entry, ranked categories) not in the top 3
    second: List[tuple]          # (entry, ranked categories) in the top 3 but not first

    def rate(self, count: int) -> float:
        return count / self.n if self.n else 0.0


def score(entries: Sequence[Entry], rank: Callable[[str], List[str]]) -> Score:
    """How often the thread's cause is `rank(text)`'s first / among its first three answers."""
    top1 = top3 = empty = 0
    misses, second = [], []
    for e in entries:
        ranked = rank(e.text)
        if not ranked:
            empty += 1
        if ranked[:1] == [e.cause]:
            top1 += 1
        if e.cause in ranked[:3]:
            top3 += 1
            if ranked[0] != e.cause:
                second.append((e, ranked[:3]))
        else:
            misses.append((e, ranked[:3]))
    return Score(len(entries), top1, top3, empty, misses, second)
