"""Prometheus node-exporter textfile output, written with the official client.

node_exporter's textfile collector reads every `*.prom` file in one directory and
refuses the whole scrape when two files carry the same series, so every metric here has
the labels `command` (audit, gate, drift) and `inventory` (the inventory file's stem):
an hourly drift and a CI audit of two inventories can share the directory. Every other
label has a fixed vocabulary (severity, category, status, against), except the per-host
drift gauge, whose host label is sanitised and capped in count.

`last_success_timestamp_seconds` must survive a failed run, and the file is replaced on
every run, so the previous value is read back from the file being replaced.
"""
from __future__ import annotations

import calendar
import re
import time
from pathlib import Path
from typing import Any, Dict, Optional

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from ..models import CATEGORIES, SEVERITIES, STATUSES, RunResult, get_field
from .since_view import HOST_CHANGES, SinceView, read_since

PREFIX = "fleetaudit"
MAX_HOST_SERIES = 500       # per-host drift series; the fleet-wide host count is always there
MAX_HOST_LABEL = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@-]")


def host_label(name: Any) -> str:
    """A host name safe and short as a label value: only [A-Za-z0-9._:@-], capped."""
    text = _UNSAFE.sub("_", str(name))
    return text[:MAX_HOST_LABEL] or "_"


def inventory_label(inventory: Any) -> str:
    stem = Path(str(inventory or "")).stem
    return host_label(stem) if stem else "unknown"


def _is_success(result: RunResult) -> bool:
    """The run did its job: it was not interrupted (unreachable hosts are a result)."""
    run = result.run if isinstance(result.run, dict) else {}
    return not run.get("interrupted")


def _run_time(result: RunResult, key: str, now: float) -> float:
    run = result.run if isinstance(result.run, dict) else {}
    text = run.get(key)
    if isinstance(text, str):
        try:
            return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
        except ValueError:
            pass
    return now


def previous_last_success(text: str, command: str, inventory: str) -> Optional[float]:
    """`last_success_timestamp_seconds` for this command and inventory in an earlier file."""
    name = f"{PREFIX}_last_success_timestamp_seconds"
    try:
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                if (sample.labels.get("command") == command
                        and sample.labels.get("inventory") == inventory):
                    return float(sample.value)
    except (ValueError, TypeError):  # a damaged file: start afresh
        return None
    return None


def build_registry(result: RunResult, *, command: str, since: Any = None,
                   gate_verdicts: Optional[Dict[str, int]] = None,
                   previous_text: str = "", now: Optional[float] = None) -> CollectorRegistry:
    """A registry holding this run's metrics. `since`: a SinceLast (or its JSON) for
    drift; `gate_verdicts`: verdict -> host/image pairs for gate (GateResult.counts())."""
    now = time.time() if now is None else now
    run = result.run if isinstance(result.run, dict) else {}
    base = {"command": command, "inventory": inventory_label(run.get("inventory"))}
    names = tuple(base)
    reg = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels=()):
        return Gauge(f"{PREFIX}_{name}", doc, labelnames=names + tuple(labels), registry=reg)

    findings = gauge("findings", "Findings in the last run, by severity and category.",
                     ("severity", "category"))
    counts: Dict[tuple, int] = {(s, c): 0 for s in SEVERITIES for c in CATEGORIES}
    for f in result.findings or []:
        sev = f.severity
        cat = f.category
        key = (sev if sev in SEVERITIES else "info", cat if cat in CATEGORIES else "other")
        counts[key] = counts.get(key, 0) + 1
    for (sev, cat), n in counts.items():
        findings.labels(**base, severity=sev, category=cat).set(n)

    hosts = gauge("hosts", "Hosts in the last run, by audit status.", ("status",))
    by_status = {s: 0 for s in STATUSES}
    for h in (result.hosts or {}).values():
        st = get_field(h, "status", "ok")
        by_status[st if st in STATUSES else "unreachable"] += 1
    for st, n in by_status.items():
        hosts.labels(**base, status=st).set(n)

    gauge("run_duration_seconds", "Wall time of the last run.").labels(**base).set(
        float(run.get("duration_s") or 0.0))
    gauge("run_interrupted", "1 when the last run was interrupted (SIGINT/SIGTERM).").labels(
        **base).set(1 if run.get("interrupted") else 0)
    gauge("last_run_timestamp_seconds", "When the last run finished (Unix time).").labels(
        **base).set(_run_time(result, "finished", now))
    last_ok = (_run_time(result, "finished", now) if _is_success(result)
               else previous_last_success(previous_text, base["command"], base["inventory"]))
    if last_ok is not None:
        gauge("last_success_timestamp_seconds",
              "When a run last completed without interruption (Unix time).").labels(**base).set(last_ok)

    if gate_verdicts is not None:
        g = gauge("gate_verdicts", "Gate verdicts of the last run (one per host and image).",
                  ("verdict",))
        for verdict, n in sorted(gate_verdicts.items()):
            g.labels(**base, verdict=host_label(verdict)).set(n)

    drift = (result.extra or {}).get("drift") if isinstance(result.extra, dict) else None
    per_host = {"baseline": {str(h): len(items) for h, items in drift.items()
                             if isinstance(items, list) and items}
                if isinstance(drift, dict) else {}}
    view: Optional[SinceView] = read_since(since)
    if view is not None:
        _since_metrics(gauge, base, view)
        per_host["last_run"] = view.changes_per_host()
    drifting = gauge("drift_hosts", "Hosts with at least one drift item, against the "
                     "baseline or the last run.", ("against",))
    host_drift = gauge("host_drift_items", f"Drift items per host (hosts with none are "
                       f"absent; at most {MAX_HOST_SERIES} hosts, most drift first).",
                       ("against", "host"))
    for against, table in per_host.items():
        drifting.labels(**base, against=against).set(len(table))
        ranked = sorted(table.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_HOST_SERIES]
        seen: Dict[str, int] = {}
        for host, n in ranked:
            label = host_label(host)
            seen[label] = seen.get(label, 0) + n  # two names sanitised alike: one sum
        for label, n in seen.items():
            host_drift.labels(**base, against=against, host=label).set(n)
    return reg


def _since_metrics(gauge, base: dict, view: SinceView) -> None:
    for state, doc in (("new", "Findings new since the last run, by severity."),
                       ("resolved", "Findings of the last run that are gone, by severity."),
                       ("persisting", "Findings present in the last run and this one, by severity."),
                       ("unverified", "Findings of the last run on hosts this run could not "
                                      "check (unreachable or cut short), by severity.")):
        g = gauge(f"{state}_findings", doc, ("severity",))
        counts = {s: 0 for s in SEVERITIES}
        for f in view.findings.get(state, []):
            sev = f.get("severity")
            counts[sev if sev in SEVERITIES else "info"] += 1
        for sev, n in counts.items():
            g.labels(**base, severity=sev).set(n)
    g = gauge("facts_changed", "Host facts changed since the last run.")
    g.labels(**base).set(len(view.facts_changed))
    g = gauge("host_changes", "Hosts that appeared, vanished, became unreachable, stayed "
              "unreachable or came back since the last run.", ("change",))
    for change in HOST_CHANGES:
        g.labels(**base, change=change.replace("-", "_")).set(len(view.hosts.get(change, [])))


def render_prom(result: RunResult, *, command: str, since: Any = None,
                gate_verdicts: Optional[Dict[str, int]] = None,
                previous_text: str = "", now: Optional[float] = None) -> str:
    """The textfile content (Prometheus text exposition format 0.0.4)."""
    reg = build_registry(result, command=command, since=since, gate_verdicts=gate_verdicts,
                         previous_text=previous_text, now=now)
    return generate_latest(reg).decode("utf-8")


def write_prom(path: str, result: RunResult, *, command: str, since: Any = None,
               gate_verdicts: Optional[Dict[str, int]] = None, now: Optional[float] = None) -> None:
    """Write (atomically: temp file + rename, by the client) the textfile at `path`."""
    try:
        previous = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        previous = ""
    reg = build_registry(result, command=command, since=since, gate_verdicts=gate_verdicts,
                         previous_text=previous, now=now)
    write_to_textfile(path, reg)
