"""Terminal summary (rich). Returns renderables; the CLI decides where they go.

Every string that came from a host, the inventory or a snapshot goes through
`safe.text`: control characters shown as escapes, rich markup never interpreted.
"""
from __future__ import annotations

from collections import Counter
from typing import List

from rich.table import Table
from rich.text import Text

from ..models import RunResult, severity_rank
from .safe import text as _safe, visible

_STATUS_STYLE = {"ok": "green", "partial": "yellow", "unreachable": "red"}
_SEV_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def summary_table(result: RunResult) -> Table:
    """Hosts ok / partial / unreachable, the latter two broken down by error class."""
    table = Table(title="fleetaudit: hosts", title_justify="left")
    table.add_column("status")
    table.add_column("hosts", justify="right")
    table.add_column("by error class")
    counts = result.counts()
    for status in ("ok", "partial", "unreachable"):
        classes = Counter(h.error.cls for h in result.hosts.values()
                          if h.status == status and h.error)
        detail = ", ".join(f"{visible(cls)} {n}" for cls, n in sorted(classes.items()))
        table.add_row(Text(status, style=_STATUS_STYLE[status]), str(counts.get(status, 0)), Text(detail))
    return table


def problem_hosts_table(result: RunResult, limit: int = 50) -> Table:
    """The hosts that were not fully audited, with the reason a person can act on."""
    table = Table(title="hosts not fully audited", title_justify="left")
    table.add_column("host")
    table.add_column("address")
    table.add_column("status")
    table.add_column("class")
    table.add_column("message", overflow="fold")
    rows = [h for h in result.hosts.values() if h.status != "ok"]
    for h in rows[:limit]:
        table.add_row(_safe(h.name), _safe(h.address), _safe(h.status, _STATUS_STYLE.get(h.status, "")),
                      _safe(h.error.cls if h.error else "-"),
                      _safe(h.error.message if h.error else ", ".join(sorted(h.incomplete))))
    if len(rows) > limit:
        table.caption = f"... and {len(rows) - limit} more (see the JSON snapshot)"
    return table


def findings_table(result: RunResult, limit: int = 40) -> Table:
    table = Table(title="findings", title_justify="left")
    table.add_column("severity")
    table.add_column("host")
    table.add_column("category")
    table.add_column("finding", overflow="fold")
    findings = sorted(result.findings, key=lambda f: (severity_rank(f.severity), str(f.host)))
    for f in findings[:limit]:
        sev = f.severity
        table.add_row(_safe(sev, _SEV_STYLE.get(sev, "")), _safe(f.host or "(fleet)"),
                      _safe(f.category), _safe(f.title))
    if len(findings) > limit:
        table.caption = f"... and {len(findings) - limit} more"
    return table


def renderables(result: RunResult) -> List:
    out: List = [summary_table(result)]
    if any(h.status != "ok" for h in result.hosts.values()):
        out.append(problem_hosts_table(result))
    if result.findings:
        out.append(findings_table(result))
    return out
