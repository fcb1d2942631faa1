"""The gate's outputs: JUnit XML (one test case per host x image), JSON, rich tables.

Host-provided text is never interpreted as markup and its control characters are
shown as escapes (render.safe); XML-illegal characters are escaped too.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, List

from ..models_gate import Cell, GateResult
from ..snapshot import dumps
from .safe import text as safe_text, visible

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: Any, cap: int = 20000) -> str:
    s = _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text, newlines=True))
    return s if len(s) <= cap else s[:cap] + "…"


def _reason_lines(cell: Cell) -> List[str]:
    lines = []
    for r in cell.reasons:
        mark = "BLOCKS" if r.blocking else "note"
        src = r.rule or r.source
        lines.append(f"[{mark}] {r.category} {r.severity} ({src}): {r.message}")
        if r.fix:
            lines.append(f"    fix: {r.fix}")
    return lines


def render_junit(gate: GateResult, suite_name: str = "fleetaudit gate") -> str:
    """One test case per host x image: fail/blocked -> <failure>, unknown -> <error>."""
    suite = ET.Element("testsuite", name=_x(suite_name, 200))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host, row in gate.cells.items():
        for ref, cell in row.items():
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=_x(f"fleetaudit.gate.{host}", 300),
                                 name=_x(ref, 500))
            if cell.pull and cell.pull.duration_s is not None:
                case.set("time", f"{cell.pull.duration_s:.3f}")
            body = "\n".join(_reason_lines(cell))
            top = cell.blockers[0] if cell.blockers else None
            if cell.verdict in ("fail", "blocked"):
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=_x(cell.label, 500),
                                   type=_x(top.category if top else cell.verdict, 50))
                tail = ("\n\n" + cell.pull.output) if cell.pull and cell.pull.output else ""
                el.text = _x(body + tail)
            elif cell.verdict == "unknown":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=_x(cell.label, 500), type="unknown")
                el.text = _x(body)
            else:
                out = ET.SubElement(case, "system-out")
                head = ("pulled" if cell.verdict == "pass" else
                        "read-only: no blocker found (the image was not pulled)")
                out.text = _x(head + ("\n" + body if body else ""))
    for k, v in counts.items():
        suite.set(k, str(v))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def render_json(gate: GateResult) -> str:
    return dumps(gate.to_json(), indent=1, default=str) + "\n"


STYLE = {"pass": "green", "no-blocker": "green", "fail": "bold red", "blocked": "bold red",
         "unknown": "yellow"}


def renderables(gate: GateResult, details: bool = True) -> list:
    """rich renderables: the host x image table, then the reasons of every cell that did
    not pass. Host-provided text is never interpreted as markup and its control
    characters are shown as escapes (render.safe)."""
    from rich.table import Table
    from rich.text import Text

    mode = ("pull: each host's daemon pulled the image" if gate.mode == "pull" else
            "read-only: nothing was pulled; 'no blocker found' is not a promise that the pull works")
    table = Table(title=Text(f"fleetaudit gate ({mode})"), show_lines=False)
    table.add_column("host", no_wrap=True)
    for ref in gate.images:
        table.add_column(safe_text(ref.familiar), overflow="fold")
    for host, row in gate.cells.items():
        cells = [safe_text(host)]
        for ref in gate.images:
            cell = row[str(ref)]
            cells.append(safe_text(cell.label, STYLE.get(cell.verdict, "")))
        table.add_row(*cells)
    out: list = [table]
    counts = gate.counts()
    out.append(Text("  ".join(f"{k}: {v}" for k, v in counts.items()) + f"   exit {gate.exit_code()}"))
    if details:
        for host, row in gate.cells.items():
            for ref, cell in row.items():
                if cell.verdict in ("pass", "no-blocker"):
                    continue
                out.append(Text("\n" + visible(f"{host}  {ref}  -> {cell.label}"),
                                style=STYLE.get(cell.verdict, "")))
                for line in _reason_lines(cell)[:12]:
                    out.append(safe_text("  " + line))
    return out

