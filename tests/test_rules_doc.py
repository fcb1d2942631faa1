"""docs/rules.md is generated from the rule registry; this keeps it current.

Regenerate with:
    .venv/bin/python -c "from fleetaudit.diagnose.docs import rules_markdown; open('docs/rules.md','w').write(rules_markdown())"
"""
from pathlib import Path

from fleetaudit.diagnose import load_rules
from fleetaudit.diagnose.docs import rules_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_rules_md_is_current():
    assert DOC.exists(), "docs/rules.md missing: regenerate it (see this module's docstring)"
    assert DOC.read_text() == rules_markdown(), \
        "docs/rules.md is stale: regenerate it (see this module's docstring)"


def test_every_rule_is_documented_with_why_and_fix():
    text = rules_markdown()
    for r in load_rules():
        assert f"### {r.id}\n" in text
        assert r.why.split()[0] in text
        for line in r.remediation:
            assert line in text


def test_table_cells_escape_pipes():
    from fleetaudit.diagnose.base import Rule
    r = Rule("x.pipe", "daemon", "low", "a | b", "why | not", ("cmd | grep x",), lambda ctx: ())
    text = rules_markdown([r])
    assert "| a \\| b |" in text
    assert "cmd | grep x" in text      # inside the code fence, unchanged
