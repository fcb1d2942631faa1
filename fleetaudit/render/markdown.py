"""Markdown summary for a chat message or a pull-request comment.

Short by design: host counts, findings by severity, the top findings (identical findings
on many hosts share one row), unreachable hosts by error class. The HTML report has the
rest. Host data is untrusted: every cell is one line, capped, with Markdown syntax
(`|`, backticks, emphasis, links) backslash-escaped and HTML (`<`, `>`, `&`) entity-escaped,
so a host cannot break the table, open a code span or inject markup. Whitespace runs
(newlines included) become one space; other control characters and bidi controls are
shown as escapes (render.safe), so a host cannot disguise text either.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any, Dict, List, Tuple

from ..models import SEVERITIES, STATUSES, RunResult, severity_rank
from ..models import get_field as _get
from .safe import visible

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BASELINES = {"consensus": "fleet consensus", "host": "golden host", "snapshot": "snapshot",
              "policy": "policy"}


def render_markdown(result: RunResult, *, top: int = 10, hosts_per_row: int = 3) -> str:
    """A Markdown summary (str): counts, the `top` findings, unreachable hosts."""
    hosts = result.hosts or {}
    status = Counter(_get(h, "status", "ok") for h in hosts.values())
    groups = _group_findings(result.findings or [])
    by_sev = Counter()
    for (sev, *_), names in groups.items():
        by_sev[sev] += len(names)
    affected = {n for names in groups.values() for n in names}

    worst = [f"{by_sev[s]:,} {s}" for s in SEVERITIES[:2] if by_sev[s]]
    headline = f"### fleetaudit: {len(hosts):,} host{'' if len(hosts) == 1 else 's'}" + (
        " · " + " · ".join(worst) if worst else (" · no findings" if not groups else ""))
    out = [headline, ""]
    out.append("**Hosts:** " + " · ".join(f"{status.get(s, 0):,} {s}" for s in STATUSES) + "  ")
    if groups:
        out.append("**Findings:** " + " · ".join(f"{by_sev[s]:,} {s}" for s in SEVERITIES if by_sev[s])
                   + f" (on {len(affected):,} hosts)  ")
    baseline = result.extra.get("baseline") if isinstance(result.extra, dict) else None
    if isinstance(baseline, dict) and baseline.get("kind"):
        kind = _BASELINES.get(baseline["kind"], baseline["kind"])
        name = baseline.get("name") or ""
        label = kind if not name or "consensus" in str(name).lower() else f"{kind} {name}"
        out.append(f"**Baseline:** {md(label, 120)}  ")
    run = result.run if isinstance(result.run, dict) else {}
    when = ", ".join(x for x in (md(run.get("started") or "", 40),
                                 f"{run['duration_s']} s" if run.get("duration_s") else "") if x)
    if when:
        out.append(f"**Run:** {when}  ")

    if groups:
        ranked = sorted(groups.items(), key=lambda kv: (severity_rank(kv[0][0]), -len(kv[1]), kv[0][3]))
        out += ["", "#### Top findings", "", "| Severity | Category | Finding | Hosts |",
                "| --- | --- | --- | --- |"]
        for (sev, cat, rule, title), names in ranked[:top]:
            finding = md(title, 160) + (f" ({md(rule, 60)})" if rule else "")
            out.append(f"| {md(sev, 20)} | {md(cat, 30)} | {finding} | {_host_cell(names, hosts_per_row)} |")
        if len(ranked) > top:
            out.append("")
            out.append(f"_… and {len(ranked) - top:,} more distinct findings: see the HTML report._")

    unreachable = [(n, _get(h, "error")) for n, h in hosts.items() if _get(h, "status") == "unreachable"]
    if unreachable:
        by_class: Dict[str, List[Tuple[str, Any]]] = defaultdict(list)
        for name, err in unreachable:
            by_class[str(_get(err, "cls") or "unknown")].append((name, err))
        out += ["", f"#### Unreachable hosts ({len(unreachable):,})", "",
                "| Error class | Hosts | Example message |", "| --- | --- | --- |"]
        for cls, items in sorted(by_class.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            names = [n for n, _ in items]
            example = _get(items[0][1], "message") or ""
            out.append(f"| {md(cls, 40)} | {_host_cell(names, hosts_per_row)} | {md(example, 120)} |")
    return "\n".join(out) + "\n"


def md(text: Any, cap: int = 200) -> str:
    """One line of host text safe inside Markdown (and a table cell)."""
    s = text if isinstance(text, str) else str(text)
    s = visible(" ".join(s.split()))
    if len(s) > cap:
        s = s[:cap].rstrip() + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _host_cell(names: List[str], shown: int) -> str:
    listed = ", ".join(md(n, 80) for n in names[:shown])
    more = f" +{len(names) - shown:,} more" if len(names) > shown else ""
    return f"{len(names):,}: {listed}{more}"


def _group_findings(findings: List[Any]) -> Dict[tuple, List[str]]:
    groups: Dict[tuple, Dict[str, None]] = defaultdict(dict)  # dict: an ordered set
    for f in findings:
        key = (str(f.severity or "info"), str(f.category or ""),
               str(f.rule or ""), str(f.title or ""))
        groups[key][str(f.host or "(fleet)")] = None
    return {key: list(hosts) for key, hosts in groups.items()}
