"""Scores `fleetaudit explain` on the public pull-error corpus (tests/data/pull-errors/).

    python -m bench.explain_score [--misses] [--held-out-misses] [--by-file] [--json PATH]

Prints top-1 / top-3 / empty-answer rates on the development and held-out parts side by
side, then per category; --by-file adds the same per corpus file (each round's new entries
are a file, so a round scored before any tuning on it shows how explain does on texts it
has never seen). --misses lists the development part's misses (what to tune
on); held-out misses are listed only with --held-out-misses, which is for the final
report, never for tuning.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from collections import defaultdict
from pathlib import Path

from fleetaudit.explain import explain
from fleetaudit.pullcorpus import load, load_file, score, split

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pull-errors"


@functools.lru_cache(maxsize=None)
def _ranked(text: str) -> tuple:
    return tuple(c.category for c in explain(text))


def rank(text: str):
    """explain's categories, in order; each text is explained once per process (the parts,
    the per-category and the per-file tables score the same texts)."""
    return list(_ranked(text))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--held-out-misses", action="store_true")
    ap.add_argument("--by-file", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    parts = split(load(CORPUS))
    scores = {name: score(entries, rank) for name, entries in parts.items()}
    out = sys.stdout
    out.write(f"{'part':<10}{'n':>5}{'top-1':>9}{'top-3':>9}{'empty':>9}\n")
    for name, s in scores.items():
        out.write(f"{name:<10}{s.n:>5}{s.rate(s.top1):>9.1%}{s.rate(s.top3):>9.1%}"
                  f"{s.rate(s.empty):>9.1%}\n")
    out.write("\nper category (top-1/top-3 of n): dev | held-out\n")
    by_cat = defaultdict(dict)
    for name, entries in parts.items():
        for cat in sorted({e.cause for e in entries}):
            s = score([e for e in entries if e.cause == cat], rank)
            by_cat[cat][name] = f"{s.top1}/{s.top3} of {s.n}"
    for cat in sorted(by_cat):
        out.write(f"  {cat:<13}{by_cat[cat].get('dev', '-'):>14} | {by_cat[cat].get('held-out', '-')}\n")
    if args.by_file:
        out.write("\nper corpus file (top-1/top-3 of n): dev | held-out\n")
        for path in sorted(CORPUS.glob("*.jsonl")):
            counts = []
            for name, entries in split(load_file(path)).items():
                s = score(entries, rank)
                counts.append(f"{s.top1}/{s.top3} of {s.n}")
            out.write(f"  {path.name:<24}{counts[0]:>14} | {counts[1]}\n")
    shown = (["dev"] if args.misses else []) + (["held-out"] if args.held_out_misses else [])
    for name in shown:
        out.write(f"\n{name} misses (cause not in top 3):\n")
        for e, ranked in scores[name].misses:
            out.write(f"  want {e.cause:<12} got {','.join(ranked) or '(empty)':<30} {e.text[:150]!r}\n")
        out.write(f"\n{name}: in the top 3 but not first:\n")
        for e, ranked in scores[name].second:
            out.write(f"  want {e.cause:<12} got {','.join(ranked):<30} {e.text[:150]!r}\n")
    if args.json:
        args.json.write_text(json.dumps({name: {"n": s.n, "top1": s.rate(s.top1), "top3": s.rate(s.top3),
                                                "empty": s.rate(s.empty)} for name, s in scores.items()},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
