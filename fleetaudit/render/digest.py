"""Markdown digest of a drift run for a chat channel or a ticket: what is new since the
last run, what was resolved, which facts changed and which hosts came or went.

Takes the snapshot's `drift_since_last` section (a dict, so a run re-read from the
history renders the same) and optionally the run itself for its host counts. Short by
design: at most `top` rows per list, the rest counted. Host strings go through
markdown.md (escaped, one line, capped) like the Markdown summary.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional

from .markdown import md


def render_digest(section: dict, result: Any = None, *, top: int = 10) -> str:
    c = section.get("counts") or {}
    prev = section.get("previous")
    cur = section.get("current") or {}
    verdict = "new drift" if section.get("new_drift") else "no new drift"
    head = f"### fleetaudit drift: {verdict}"
    out = [head, ""]
    if prev is None:
        out.append("**First run of this inventory:** everything counts as new.  ")
    else:
        out.append(f"**Since run {md(prev.get('run_id'), 20)}** ({md(prev.get('started') or '?', 40)})"
                   f" → run {md(cur.get('run_id'), 20)} ({md(cur.get('started') or '?', 40)})  ")
    if result is not None and getattr(result, "hosts", None):
        counts = result.counts()
        out.append("**Hosts:** " + " · ".join(f"{counts.get(s, 0):,} {s}"
                                               for s in ("ok", "partial", "unreachable")) + "  ")
    out.append(f"**Findings:** {c.get('findings_new', 0):,} new · {c.get('findings_resolved', 0):,} "
               f"resolved · {c.get('findings_persisting', 0):,} persisting"
               + (f" · {c['findings_unverified']:,} unverified" if c.get("findings_unverified") else "")
               + (f" · {c['waived']:,} waived" if c.get("waived") else "") + "  ")
    if prev is not None:
        out.append(f"**Facts changed:** {c.get('facts_changed', 0):,}  ")

    findings = section.get("findings") or {}
    # Every cell is escaped here, once: _table writes cells as given.
    _table(out, "New findings", ["Severity", "Host", "Finding", "Waiver"],
           [[md(f.get("severity"), 20), md(f.get("host"), 80), _finding(f), _waiver(f.get("waiver"))]
            for f in findings.get("new") or []], top)
    _table(out, "Resolved findings", ["Severity", "Host", "Finding"],
           [[md(f.get("severity"), 20), md(f.get("host"), 80), _finding(f)]
            for f in findings.get("resolved") or []], top)
    _table(out, "Not re-checked (host unreachable or cut short; not resolved)",
           ["Severity", "Host", "Finding"],
           [[md(f.get("severity"), 20), md(f.get("host"), 80), _finding(f)]
            for f in findings.get("unverified") or []], top)
    if prev is not None:
        _table(out, "Changed facts", ["Host", "Fact", "Before", "After", "Waiver"],
               [[md(f.get("host"), 80), md(f.get("path"), 160),
                 _value(f.get("before"), f.get("change") == "added"),
                 _value(f.get("after"), f.get("change") == "removed"), _waiver(f.get("waiver"))]
                for f in section.get("facts") or []], top)
    hosts = [h for h in section.get("hosts") or []
             if not (prev is None and h.get("change") == "appeared")]
    _table(out, "Hosts", ["Host", "Change", "Error"],
           [[md(h.get("host"), 80), md(h.get("change"), 30),
             md((h.get("error") or {}).get("class", ""), 40)] for h in hosts], top)
    waivers = section.get("waivers") or {}
    notes = [f"stale waiver `{md(w.get('where'), 120)}`: matches nothing" for w in waivers.get("stale") or []]
    notes += [f"expired waiver `{md(w.get('where'), 120)}` ({md(w.get('expires'), 20)}): its items count again"
              for w in waivers.get("expired") or []]
    if notes:
        out += ["", "#### Waivers", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def _table(out: List[str], title: str, header: List[str], rows: List[list], top: int) -> None:
    if not rows:
        return
    out += ["", f"#### {title} ({len(rows):,})", "", "| " + " | ".join(header) + " |",
            "|" + " --- |" * len(header)]
    for row in rows[:top]:
        out.append("| " + " | ".join(row) + " |")
    if len(rows) > top:
        out += ["", f"_… and {len(rows) - top:,} more: see the JSON `drift_since_last` section._"]


def _finding(f: dict) -> str:
    return f"{md(f.get('title'), 140)} ({md(f.get('rule'), 60)})"


def _value(value: Any, absent: bool) -> str:
    if absent:
        return "_(absent)_"
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return md(text, 80)


def _waiver(w: Optional[dict]) -> str:
    if not w:
        return ""
    if w.get("status") == "expired":
        return f"**expired** {md(w.get('expires'), 20)}"
    return f"waived ({md(w.get('owner'), 40)}: {md(w.get('reason'), 80)})"
