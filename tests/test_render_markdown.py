"""Markdown summary: short, counts right, and host data cannot break out of its cell."""
import re

from bench.synthetic import XSS_SCRIPT, synthetic_run
from fleetaudit.models import Finding, HostError, HostResult, RunResult
from fleetaudit.render.markdown import md, render_markdown


def _table_rows(text: str, header: str):
    lines = text.splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _cells(row: str):
    # split on pipes not preceded by a backslash: what a GFM table parser does
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_summary_counts_and_top_findings():
    run = synthetic_run(1000, hub_anonymous_rate=1.0)
    text = render_markdown(run, top=5)
    counts = run.counts()
    assert text.startswith("### fleetaudit: 1,000 hosts · ")
    assert (f"**Hosts:** {counts['ok']:,} ok · {counts['partial']:,} partial · "
            f"{counts['unreachable']:,} unreachable") in text
    rows = _table_rows(text, "| Severity | Category | Finding | Hosts |")
    assert len(rows) == 5
    assert [_cells(r)[0] for r in rows] == sorted((_cells(r)[0] for r in rows),
                                                 key=["critical", "high", "medium", "low", "info"].index)
    assert "more distinct findings: see the HTML report" in text
    # the fleet-wide info finding is one row, not one per host
    anon = sum(1 for f in run.findings if f.rule == "RATELIMIT-HUB-ANONYMOUS")
    full = render_markdown(run, top=100)
    row = [r for r in _table_rows(full, "| Severity | Category | Finding | Hosts |") if "RATELIMIT" in r]
    assert len(row) == 1 and _cells(row[0])[3].startswith(f"{anon:,}: ")
    assert len(text.splitlines()) < 40  # short enough for a chat message


def test_unreachable_grouped_by_error_class():
    run = synthetic_run(1000)
    text = render_markdown(run)
    failed = run.failed_hosts
    assert f"#### Unreachable hosts ({len(failed)})" in text
    rows = _table_rows(text, "| Error class | Hosts | Example message |")
    by_class = {}
    for h in failed:
        by_class[h.error.cls] = by_class.get(h.error.cls, 0) + 1
    assert {_cells(r)[0].replace("\\", ""): int(_cells(r)[1].split(":")[0]) for r in rows} == by_class


def test_host_data_cannot_break_the_table_or_inject_markup():
    evil = "a|b `code` <img src=x onerror=alert(1)> **bold** [link](http://x) \n| new | row |\x1b[31m"
    run = RunResult(
        hosts={"h|1": HostResult("h|1", facts={}),
               "h2": HostResult("h2", status="unreachable", error=HostError("refused", evil))},
        findings=[Finding("h|1", "R`1", "dns", "critical", evil)],
    )
    text = render_markdown(run)
    for header in ("| Severity | Category | Finding | Hosts |", "| Error class | Hosts | Example message |"):
        rows = _table_rows(text, header)
        assert len(rows) == 1
        assert len(_cells(rows[0])) == len(_cells(header))
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "`" not in text.replace("\\`", "")
    assert "**bold**" not in text and "\\*\\*bold\\*\\*" in text
    assert "[link](" not in text
    assert "\x1b" not in text


def test_md_escape_is_one_capped_line():
    assert md(XSS_SCRIPT) == "&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt;"
    assert md("x\ny\r\tz") == "x y z"
    assert md("a" * 500, cap=10) == "a" * 10 + "…"


def test_clean_fleet_says_so():
    run = RunResult(hosts={"a": HostResult("a", facts={})})
    text = render_markdown(run)
    assert text.startswith("### fleetaudit: 1 host · no findings")
    assert "Top findings" not in text and "Unreachable" not in text
