"""docs/rules.md, generated from the rule registry so the reference cannot go stale.

    python -c "from fleetaudit.diagnose.docs import rules_markdown; \
               open('docs/rules.md', 'w').write(rules_markdown())"

tests/test_rules_doc.py fails when the committed file differs from what the code says.
"""
from __future__ import annotations

from typing import Iterable, List, Optional

from ..models import CATEGORIES, SEVERITIES
from .base import Rule

HEADER = """# Diagnosis rules

Generated from the code by `fleetaudit.diagnose.docs.rules_markdown()`; do not edit by
hand (tests/test_rules_doc.py keeps this file current). `fleetaudit rules` prints the same
list.

Each rule has a stable id (reports, ignores and JUnit cases refer to it), a category from
the fixed list, a default severity (a finding may be raised or lowered when the specifics
make it worse or milder: the finding's own severity is what counts), why it breaks
`docker pull` with the error text a user sees, and the default fix. Findings carry
fix commands adapted to the host (its OS family, the registry, file and value involved);
the commands below are the general form.
"""


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _para(text: str) -> str:
    """The rule's why-text as one paragraph (it is wrapped in the source)."""
    return " ".join(str(text).split())


def _fence(lines: Iterable[str]) -> List[str]:
    body = [str(line) for line in lines]
    fence = "```"
    while any(fence in line for line in body):
        fence += "`"
    return [fence + "sh", *body, fence]


def _order(r: Rule) -> tuple:
    family = r.id.split(".", 1)[0]
    return (family, r.id)


def rules_markdown(rules: Optional[Iterable[Rule]] = None) -> str:
    """The Markdown reference of every registered rule (all families loaded), grouped by
    family in id order, deterministic for a given set of rules."""
    if rules is None:
        from . import load_rules
        rules = load_rules()
    ordered = sorted(rules, key=_order)
    out: List[str] = [HEADER]
    out.append("| id | category | severity | title |")
    out.append("|---|---|---|---|")
    for r in ordered:
        out.append(f"| [`{r.id}`](#{_anchor(r.id)}) | {r.category} | {r.severity} | {_cell(r.title)} |")
    out.append("")
    out.append(f"Categories: {', '.join(CATEGORIES)}. Severities: {', '.join(SEVERITIES)}.")
    family = None
    for r in ordered:
        fam = r.id.split(".", 1)[0]
        if fam != family:
            family = fam
            out.append("")
            out.append(f"## {fam}")
        out.append("")
        out.append(f"### {r.id}")
        out.append("")
        out.append(f"**{_cell(r.title)}** · category `{r.category}` · severity `{r.severity}`"
                   + (" · only on hosts with Docker installed" if r.needs_docker else ""))
        out.append("")
        out.append(f"Why pulls break: {_para(r.why)}")
        if r.remediation:
            out.append("")
            out.append("Fix:")
            out.append("")
            out.extend(_fence(r.remediation))
    out.append("")
    return "\n".join(out)


def _anchor(rule_id: str) -> str:
    """GitHub's heading anchor for "### daemon.json-invalid": lowercase, dots dropped."""
    return "".join(c for c in rule_id.lower() if c.isalnum() or c in "-_ ").replace(" ", "-")
