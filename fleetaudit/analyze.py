"""compare + diagnose: turn a collected RunResult into drift, a fact matrix and findings.

Used by `audit` after collection and by `report` when re-rendering a snapshot, so both
produce the same findings from the same facts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .compare import (BaselineError, ConsensusBaseline, HostBaseline, PolicyError,
                      SnapshotBaseline, annotate, load_policy)
from .diagnose import diagnose
from .models import RunResult


class AnalyzeError(Exception):
    """A baseline or policy that cannot be used; the message names the file/host."""


@dataclass
class AnalyzeOptions:
    baseline_host: Optional[str] = None     # --baseline-host NAME (a golden host)
    baseline_file: Optional[str] = None     # --baseline FILE (a saved snapshot)
    policy_file: Optional[str] = None       # --policy FILE (expected values, constraints)
    ignore: List[str] = field(default_factory=list)
    consensus_by: List[str] = field(default_factory=list)  # inventory groups to split consensus by
    # processes for the per-host part (analysis_pool): None = one per core, 1 = this
    # process only; fleets too small to gain stay in this process whatever is asked
    workers: Optional[int] = 1


def _baselines(result: RunResult, opts: AnalyzeOptions):
    chosen = []
    try:
        if opts.baseline_host:
            chosen.append(HostBaseline(opts.baseline_host))
        if opts.baseline_file:
            chosen.append(SnapshotBaseline.load(opts.baseline_file))
        if opts.policy_file:
            chosen.append(load_policy(opts.policy_file))
    except (BaselineError, PolicyError) as exc:
        raise AnalyzeError(str(exc)) from exc
    if not chosen or (opts.policy_file and len(chosen) == 1):
        # A policy states what it knows; the fleet's majority still catches the rest.
        chosen.insert(0, ConsensusBaseline(partition_by=opts.consensus_by))
    return chosen


def _expected_facts(result: RunResult, opts: AnalyzeOptions, baselines) -> Dict[str, dict]:
    """Nested baseline facts per host, for rules that compare more than one path at once."""
    if opts.baseline_host and opts.baseline_host in result.hosts:
        golden = result.hosts[opts.baseline_host].facts
        return {name: golden for name in result.hosts if name != opts.baseline_host}
    for b in baselines:  # the snapshot already loaded for the comparison, not read again
        if isinstance(b, SnapshotBaseline):
            saved = b.saved
            return {name: saved.hosts[name].facts for name in result.hosts if name in saved.hosts}
    return {}


def analyze(result: RunResult, opts: Optional[AnalyzeOptions] = None,
            stats: Optional[dict] = None) -> RunResult:
    """Fill result.findings and result.extra (baseline, drift, matrix) in place.

    The outputs are the same whatever opts.workers is. `stats` receives how it ran
    (processes used, workers that failed and whose hosts were redone here)."""
    from .analysis_pool import analyze_in_processes, analyze_split, plan_processes
    opts = opts or AnalyzeOptions()
    baselines = _baselines(result, opts)
    processes = plan_processes(opts.workers, len(result.hosts))
    try:
        if processes > 1 and len(baselines) == 1 and type(baselines[0]) is ConsensusBaseline:
            # the fleet consensus only: index and counts are built in the workers too
            found = analyze_split(result, baselines[0], opts.ignore or None,
                                  _expected_facts(result, opts, baselines), processes, stats)
            if found is not None:
                result.findings = found
                return result
            processes = 1   # no fork here, or a worker failed: everything in this process
        if processes > 1:
            result.findings = analyze_in_processes(
                result, baselines, opts.ignore or None, _expected_facts(result, opts, baselines),
                processes, stats)
            return result
        drift = annotate(result, baselines, ignore=opts.ignore or None)
    except BaselineError as exc:
        raise AnalyzeError(str(exc)) from exc
    if stats is not None and "processes" not in stats:
        stats.update(processes=1)
    result.findings = diagnose(result, drift=drift, baselines=_expected_facts(result, opts, baselines))
    return result
