"""JUnit XML for CI dashboards: one test case per (host, finding category).

Every audited host gets a stable set of test cases, classname "fleetaudit.<host>", name
"<category>" (the fixed category list, plus any other category a finding carries), so
CI trend views can follow a host's "dns" check from run to run:
- a finding at or above `fail_on` in that category -> <failure type="<severity>">;
- findings below the threshold are listed in the case's <system-out>, the case passes;
- a host that could not be audited -> its category cases are <skipped>, and one extra
  case "audit" carries an <error type="<error class>"> with the message;
- a partially audited host -> the "audit" case errors with type "incomplete" (or its
  error class), naming the sections that were not collected.

Hosts send anything: every string has its control and bidi characters shown as escapes
(render.safe, as on the terminal: CI pages display these strings) as well as the
characters XML 1.0 cannot carry (U+FFFE, U+FFFF), is capped, and ElementTree does the
escaping.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any, Dict, List

from ..models import CATEGORIES, SEVERITIES, RunResult, severity_rank
from ..models import get_field as _get
from .safe import visible

MAX_MESSAGE = 500
MAX_BODY = 20_000

# XML 1.0 forbids C0 controls other than tab/LF/CR, surrogates and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_junit(result: RunResult, *, fail_on: str = "medium", suite_name: str = "fleetaudit",
                 all_categories: bool = True) -> str:
    """JUnit XML (str) for `result`; findings at or above `fail_on` are failures.

    all_categories=False emits, per host, only the categories that have findings (plus
    "audit"): about 15x smaller for big fleets, at the cost of test names that come and go.

    The document is written as text, exactly as ElementTree would serialise the tree
    (ET.indent(space="  ") then ET.tostring, with ET's own escapers): at 10,000 hosts
    there are 150,000 test cases, and building Element objects for them, indenting and
    walking the tree was most of the time (tests/test_render_junit.py checks the writer
    against ElementTree).
    """
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}")
    threshold = SEVERITIES.index(fail_on)
    by_host: Dict[str, Dict[str, List[Any]]] = defaultdict(lambda: defaultdict(list))
    for f in result.findings or []:
        host = str(f.host or "(fleet)")
        by_host[host][str(f.category or "uncategorized")].append(f)
    extra_categories = sorted({c for cats in by_host.values() for c in cats} - set(CATEGORIES))
    categories = list(CATEGORIES) + extra_categories
    # each category's name attribute, cleaned and escaped once (not once per host); every
    # category a host's cases name is in `categories`
    cat_attr = {c: _ESC_ATTR(_x(c, 100)) for c in categories}

    suite_attrs = [("name", _x(suite_name, 200))]
    run = result.run if isinstance(result.run, dict) else {}
    if run.get("started"):
        suite_attrs.append(("timestamp", _x(str(run["started"]).rstrip("Z"), 40)))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    cases: List[str] = []   # each <testcase> element as text, without its indentation

    hosts = result.hosts or {}
    host_names = list(hosts.keys())
    host_names += [h for h in by_host if h not in hosts]  # findings-only hosts
    for name in host_names:
        host = hosts.get(name)
        status = _get(host, "status", "ok") if host is not None else "ok"
        error = _get(host, "error") if host is not None else None
        duration = float(_get(host, "duration_s", 0.0) or 0.0) if host is not None else 0.0
        total_time += duration
        case_open = '<testcase classname="%s" name="' % _ESC_ATTR("fleetaudit." + _x(name, 300))

        counts["tests"] += 1
        audit_open = case_open + 'audit" time="%s"' % _ESC_ATTR(f"{duration:.3f}")
        if status == "unreachable":
            cls = _x(_get(error, "cls") or "unreachable", 50) if error else "unreachable"
            msg = _x(_get(error, "message") or "host not audited", MAX_MESSAGE) if error else "host not audited"
            cases.append(_with_children(audit_open, [
                _element("error", (("type", cls), ("message", msg)), f"{cls}: {msg}")]))
            counts["errors"] += 1
        elif status == "partial":
            incomplete = _get(host, "incomplete") or {}
            cls = _x(_get(error, "cls") or "incomplete", 50) if error else "incomplete"
            detail = ", ".join(f"{k} ({v})" for k, v in sorted(incomplete.items())) if isinstance(incomplete, dict) else ""
            msg = _x(f"not collected: {detail}" if detail else (_get(error, "message") or "partial audit"), MAX_MESSAGE)
            cases.append(_with_children(audit_open, [
                _element("error", (("type", cls), ("message", msg)), msg)]))
            counts["errors"] += 1
        else:
            cases.append(audit_open + " />")

        host_findings = by_host.get(name) or {}
        names = categories if all_categories else sorted(host_findings)
        counts["tests"] += len(names)
        if status == "unreachable":
            skipped = [_element("skipped", (("message", f"host not audited ({cls})"),), None)]
            counts["skipped"] += len(names)
            cases.extend(_with_children(case_open + cat_attr[c] + '" time="0.000"', skipped)
                         for c in names)
            continue
        for category in names:
            case = case_open + cat_attr[category] + '" time="0.000"'
            found = host_findings.get(category)
            if not found:
                cases.append(case + " />")
                continue
            findings = sorted(found, key=lambda f: severity_rank(f.severity))
            failing = [f for f in findings if severity_rank(f.severity) <= threshold]
            passing = [f for f in findings if severity_rank(f.severity) > threshold]
            children = []
            if failing:
                worst = failing[0].severity
                title = failing[0].title or failing[0].rule or "finding"
                more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
                children.append(_element(
                    "failure", (("type", _x(worst, 20)), ("message", _x(f"[{worst}] {title}{more}", MAX_MESSAGE))),
                    _x("\n\n".join(_describe(f) for f in failing), MAX_BODY)))
                counts["failures"] += 1
            if passing:
                children.append(_element("system-out", (), _x(
                    "Below the --fail-on threshold:\n\n" + "\n\n".join(_describe(f) for f in passing), MAX_BODY)))
            cases.append(_with_children(case, children))

    suite_attrs += [(k, str(v)) for k, v in counts.items()]
    suite_attrs.append(("time", f"{total_time:.3f}"))
    root_attrs = [("name", _x(suite_name, 200)), *suite_attrs[-5:]]
    # ET.indent(space="  "): children one level deeper per level, the last child's tail
    # back at its parent's level; an element without children keeps its text as it is.
    suite = _start("testsuite", suite_attrs)
    suite += (">\n    " + "\n    ".join(cases) + "\n  </testsuite>") if cases else " />"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + _start("testsuites", root_attrs)
            + ">\n  " + suite + "\n</testsuites>" + "\n")


def _start(tag: str, attrs) -> str:
    """An element's start tag without its closing '>' (ET's attribute serialisation)."""
    return "<" + tag + "".join(' %s="%s"' % (k, _ESC_ATTR(v)) for k, v in attrs)


def _element(tag: str, attrs, text) -> str:
    """A child element without children, as ET writes it (no text: self-closing)."""
    head = _start(tag, attrs)
    return head + ">" + _ESC_TEXT(text) + "</" + tag + ">" if text else head + " />"


def _with_children(start: str, children: List[str]) -> str:
    """A <testcase> (its start tag without '>') holding `children`, indented by ET.indent
    at the case's level (4 spaces; its children at 6)."""
    if not children:
        return start + " />"
    return start + ">\n      " + "\n      ".join(children) + "\n    </testcase>"


# ElementTree's own escapers, so the text is exactly what ET.tostring writes; copies of
# Python 3.11's should a later Python move them.
def _escape_cdata(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape_attrib(text: str) -> str:
    text = _escape_cdata(text)
    if "\"" in text:
        text = text.replace("\"", "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


_ESC_TEXT = getattr(ET, "_escape_cdata", None) or _escape_cdata
_ESC_ATTR = getattr(ET, "_escape_attrib", None) or _escape_attrib


def _describe(f: Any) -> str:
    lines = [f"[{f.severity}] {f.rule or '?'}: {f.title or ''}"]
    if f.why:
        lines.append(f"why: {f.why}")
    for e in f.evidence or []:
        if isinstance(e, dict):
            path = e.get("path", e.get("fact", e.get("fact_path", "")))
            lines.append(f"evidence: {path}: expected {e.get('expected')!r}, actual {e.get('actual')!r}")
        else:
            lines.append(f"evidence: {e}")
    for cmd in f.remediation or []:
        lines.append(f"fix: {cmd}")
    return _x("\n".join(lines), MAX_BODY)


def _x(text: Any, cap: int) -> str:
    """Text XML 1.0 can carry: forbidden characters shown as \\xNN, length capped."""
    s = _NOT_XML.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                     else "\\u%04x" % ord(m.group()), visible(text, newlines=True))
    return s if len(s) <= cap else s[:cap] + f"... (+{len(s) - cap} chars)"
