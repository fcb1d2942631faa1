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

    suite = ET.Element("testsuite", name=_x(suite_name, 200))
    run = result.run if isinstance(result.run, dict) else {}
    if run.get("started"):
        suite.set("timestamp", _x(str(run["started"]).rstrip("Z"), 40))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0

    host_names = list((result.hosts or {}).keys())
    host_names += [h for h in by_host if h not in (result.hosts or {})]  # findings-only hosts
    for name in host_names:
        host = (result.hosts or {}).get(name)
        status = _get(host, "status", "ok") if host is not None else "ok"
        error = _get(host, "error") if host is not None else None
        duration = float(_get(host, "duration_s", 0.0) or 0.0) if host is not None else 0.0
        total_time += duration
        classname = "fleetaudit." + _x(name, 300)

        audit = _case(suite, classname, "audit", duration)
        counts["tests"] += 1
        if status == "unreachable":
            cls = _x(_get(error, "cls") or "unreachable", 50) if error else "unreachable"
            msg = _x(_get(error, "message") or "host not audited", MAX_MESSAGE) if error else "host not audited"
            ET.SubElement(audit, "error", type=cls, message=msg).text = f"{cls}: {msg}"
            counts["errors"] += 1
        elif status == "partial":
            incomplete = _get(host, "incomplete") or {}
            cls = _x(_get(error, "cls") or "incomplete", 50) if error else "incomplete"
            detail = ", ".join(f"{k} ({v})" for k, v in sorted(incomplete.items())) if isinstance(incomplete, dict) else ""
            msg = _x(f"not collected: {detail}" if detail else (_get(error, "message") or "partial audit"), MAX_MESSAGE)
            ET.SubElement(audit, "error", type=cls, message=msg).text = msg
            counts["errors"] += 1

        for category in categories if all_categories else sorted(by_host[name]):
            case = _case(suite, classname, _x(category, 100), 0.0)
            counts["tests"] += 1
            if status == "unreachable":
                ET.SubElement(case, "skipped", message=f"host not audited ({cls})")
                counts["skipped"] += 1
                continue
            findings = sorted(by_host[name].get(category, []),
                              key=lambda f: severity_rank(f.severity))
            failing = [f for f in findings if severity_rank(f.severity) <= threshold]
            passing = [f for f in findings if severity_rank(f.severity) > threshold]
            if failing:
                worst = failing[0].severity
                title = failing[0].title or failing[0].rule or "finding"
                more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
                ET.SubElement(case, "failure", type=_x(worst, 20),
                              message=_x(f"[{worst}] {title}{more}", MAX_MESSAGE)
                              ).text = _x("\n\n".join(_describe(f) for f in failing), MAX_BODY)
                counts["failures"] += 1
            if passing:
                ET.SubElement(case, "system-out").text = _x(
                    "Below the --fail-on threshold:\n\n" + "\n\n".join(_describe(f) for f in passing), MAX_BODY)

    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total_time:.3f}")
    root = ET.Element("testsuites", name=_x(suite_name, 200), **{k: suite.get(k) for k in counts},
                      time=suite.get("time"))
    root.append(suite)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _tostring(root) + "\n"


# ElementTree's own escapers, so the text is exactly what ET.tostring writes.
_ESC_TEXT = getattr(ET, "_escape_cdata", None)
_ESC_ATTR = getattr(ET, "_escape_attrib", None)


def _tostring(root: ET.Element) -> str:
    """ET.tostring(root, encoding="unicode") for this module's plain trees (no
    namespaces, comments or non-string values), without its generic machinery: at
    10,000 hosts (150,000 test cases) the serialisation was most of the renderer's time.
    Falls back to ET.tostring when ElementTree's escapers are not where expected."""
    if _ESC_TEXT is None or _ESC_ATTR is None:
        return ET.tostring(root, encoding="unicode")
    out: List[str] = []
    write = out.append
    esc_text, esc_attr = _ESC_TEXT, _ESC_ATTR

    def emit(elem: ET.Element) -> None:
        tag, text = elem.tag, elem.text
        write("<" + tag)
        for k, v in elem.items():
            write(' %s="%s"' % (k, esc_attr(v)))
        if text or len(elem):
            write(">")
            if text:
                write(esc_text(text))
            for child in elem:
                emit(child)
            write("</" + tag + ">")
        else:
            write(" />")
        if elem.tail:
            write(esc_text(elem.tail))

    emit(root)
    return "".join(out)


def _case(suite: ET.Element, classname: str, name: str, duration: float) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{duration:.3f}")


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
