"""Session fixtures for the browser tests: the 10,000-host synthetic report is generated
and rendered once per test session (about 10 s), whatever module uses it."""
from pathlib import Path

import pytest

from bench.synthetic import synthetic_run
from fleetaudit.render.html import render_html


@pytest.fixture(scope="session")
def fleet10k():
    """10,000 hosts in zone_* and role_* groups; hostile strings on hosts 0 and 1."""
    return synthetic_run(10_000, hostile=True)


@pytest.fixture(scope="session")
def report10k(tmp_path_factory, fleet10k) -> Path:
    path = tmp_path_factory.mktemp("fleet10k") / "report-10000.html"
    path.write_text(render_html(fleet10k), encoding="utf-8")
    return path
