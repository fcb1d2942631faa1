"""The pre-rollout gate: can every host pull image X?

Two modes:

- read-only (default): the normal audit (collect + analyze) plus a probe section per
  registry and image (fleetaudit.collectors.probe) in the SAME single exec. Per host and
  image the verdict comes from the findings that concern that image's registry, the probe
  (does the host resolve the registry; does the docker CLI, as root, read the manifest;
  does the image have this host's platform) and a direct credentials comparison with the
  rest of the fleet. Honest words: "no-blocker" means no known blocker was found, not that
  the pull will work; "blocked" names the blocking reasons.
- pull (opt-in, MODIFIES HOSTS: it downloads the image): after collection, on the same
  SSH connection, one more exec runs `docker pull REF` through each host's own daemon as
  root (`sudo -n` when the inventory says become), under `timeout`, output capped and
  passed through the same host-side secret redaction as the composite script. A failed
  pull is classified (fleetaudit.pullerrors + fleetaudit.explain) into a category and
  cause; findings about that registry come along as likely explanations.

Verdicts: pull mode "pass" | "fail" | "unknown"; read-only "no-blocker" | "blocked" |
"unknown". "unknown" means the host (or the part of it that decides) could not be seen:
unreachable, sudo refused, facts missing, or the pull could not be started.

The library never prints or exits: `run_gate` returns a GateResult; the CLI renders it.

Layers (this module only wires them): result types in fleetaudit.models_gate, the pull
step (host I/O) in fleetaudit.pull, the verdict (pure) in fleetaudit.verdict, the
outputs in fleetaudit.render.gate. The names are re-exported here for the CLI.
"""
from __future__ import annotations

import time
from typing import Dict, Optional

from .analyze import AnalyzeOptions, analyze
from .collect import CollectOptions, collect
from .collectors.probe import budget_s, probe_collector
from .reference import unique

# The stages, re-exported so `fleetaudit.gate` stays the one name the CLI (and tests) use.
from .models_gate import (DEFAULT_PULL_TIMEOUT_S, PULL_VERDICTS, READ_ONLY_VERDICTS,  # noqa: F401
                          SCHEMA, Cell, GateOptions, GateResult, PullOutcome, Reason)
from .pull import (PULL_OUTPUT_CAP, PULL_TOTAL_CAP, classify_pull, error_line,  # noqa: F401
                   make_pull_hook, parse_pull_output, pull_script)
from .verdict import (DECIDING_SECTIONS, HOST_WIDE, NOT_BLOCKING_RULES,  # noqa: F401
                      credential_reasons, daemon_reasons, daemon_via_proxy, evaluate,
                      evaluate_cell, finding_reasons, finding_text, fleet_via_proxy,
                      known_registries, mentions, probe_reasons, relevant,
                      session_via_proxy, split_probe)
from .render.gate import STYLE, render_json, render_junit, renderables  # noqa: F401


def run_gate(hosts, collect_opts: CollectOptions, gate_opts: GateOptions,
             analyze_opts: Optional[AnalyzeOptions] = None, progress=None,
             collect_fn=collect) -> GateResult:
    """Collect (with the probe section, and the pull when asked), analyse, decide."""
    refs = unique(gate_opts.images)
    gate_opts.images = refs
    collect_opts.extra_collectors = tuple(collect_opts.extra_collectors) + (
        probe_collector(refs, manifest=gate_opts.manifest_check),)
    # The probe runs inside the collection script: give the script its worst case on top.
    collect_opts.command_timeout += budget_s(refs, gate_opts.manifest_check)
    pulls: Dict[str, Dict[str, PullOutcome]] = {}
    if gate_opts.pull:
        collect_opts.post_exec = make_pull_hook(refs, gate_opts.pull_timeout, pulls)
        # The hook bounds itself (pull_timeout per image + 30 s); the collector's own
        # bound for post_exec sits just above it.
        collect_opts.post_exec_timeout = gate_opts.pull_timeout * len(refs) + 60
        # the pull runs after the collection script on the same connection
    started = time.time()
    result = collect_fn(hosts, collect_opts, progress) if progress else collect_fn(hosts, collect_opts)
    probes, missing = split_probe(result)
    analyze(result, analyze_opts or AnalyzeOptions())
    gate = evaluate(result, gate_opts, probes, missing, pulls)
    if isinstance(result.run, dict):
        result.run["gate"] = {"mode": gate.mode, "images": [str(r) for r in refs],
                              "pull_timeout_s": gate_opts.pull_timeout if gate_opts.pull else None,
                              "wall_s": round(time.time() - started, 3)}
    return gate

