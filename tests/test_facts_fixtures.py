"""One generic test runs every parser fixture (the pyinfra pattern).

tests/facts/<collector>/<case>.json holds a section captured from a real host
(`python -m fleetaudit.devtools.capture`) or a deliberately broken one (junk lines,
no output, cut-off parts) and the facts the parser must return for it.
"""
import json
from pathlib import Path

import pytest

from fleetaudit.collectors import REGISTRY, by_name
from fleetaudit.collectors.base import Part

FIXTURES = sorted((Path(__file__).parent / "facts").glob("*/*.json"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_parser_fixture(path):
    doc = json.loads(path.read_text())
    collector = by_name(path.parent.name)
    section = {name: Part.from_json(p) for name, p in doc["section"].items()}
    assert collector.parse(section) == doc["facts"]


@pytest.mark.parametrize("collector", REGISTRY, ids=lambda c: c.name)
def test_every_collector_has_real_and_broken_fixtures(collector):
    cases = {p.stem for p in FIXTURES if p.parent.name == collector.name}
    assert "no-output" in cases, f"{collector.name}: add a no-output fixture"
    assert "junk" in cases, f"{collector.name}: add a junk fixture"
    assert len(cases) >= 3, f"{collector.name}: add at least one captured real case"


@pytest.mark.parametrize("collector", REGISTRY, ids=lambda c: c.name)
def test_parser_survives_empty_section(collector):
    facts = collector.parse({})
    assert isinstance(facts, dict)
    json.dumps(facts)  # facts must be JSON-serialisable as they are
