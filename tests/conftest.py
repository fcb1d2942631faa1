"""Shared test setup.

Fleet tests talk to real sshd and dockerd processes in network namespaces built by
lab/. They need root. Under CI=true a fleet test that would be skipped fails instead:
a run where the real-host tests did not run must not count as green.
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so tests can import lab/


_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """Under CI, a skipped test fails the run: the real-host tests must really run."""
    if os.environ.get("CI") and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if os.environ.get("CI") and _skipped:
        terminalreporter.write_line(
            f"CI: {len(_skipped)} tests were skipped, so this run fails", red=True)


@pytest.fixture(autouse=True)
def _heap_unfrozen_after_each_test():
    """A command run in process (CliRunner) freezes the heap on purpose
    (cli._keep_collected) and nothing in the process undoes it; a later test must not
    inherit that."""
    import gc
    yield
    if gc.get_freeze_count():
        gc.unfreeze()


@pytest.fixture(scope="session")
def demo_fleet(tmp_path_factory):
    """The demo fleet (lab.demo), built once per test session and torn down after."""
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    from lab.demo import build_demo
    from lab.fleet import Fleet

    state = tmp_path_factory.mktemp("fleet") / "demo"
    fleet = Fleet(state_dir=str(state))
    try:
        build_demo(fleet)
        fleet.write_inventory(state / "inventory.ini", "ini")
        fleet.write_inventory(state / "inventory.yml", "native")
        yield fleet
    finally:
        fleet.down()


@pytest.fixture(autouse=True, scope="session")
def _session_history_in_tmp(tmp_path_factory):
    """Runs record into a history store by default: never into the real home's one.
    Session scope so module- and session-scoped fixtures that run the CLI (they are set
    up before any function-scoped fixture) are covered too."""
    old = os.environ.get("FLEETAUDIT_HISTORY")
    os.environ["FLEETAUDIT_HISTORY"] = str(tmp_path_factory.mktemp("history") / "history.sqlite")
    yield
    if old is None:
        os.environ.pop("FLEETAUDIT_HISTORY", None)
    else:
        os.environ["FLEETAUDIT_HISTORY"] = old


@pytest.fixture(autouse=True)
def _history_in_tmp(tmp_path, monkeypatch):
    """Each test its own empty history store."""
    monkeypatch.setenv("FLEETAUDIT_HISTORY", str(tmp_path / "history.sqlite"))
    # The machine's own ./fleetaudit.yml, ~/.config or /etc config must not steer tests.
    monkeypatch.setenv("FLEETAUDIT_CONFIG", os.devnull)


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL server (tests/pgserver.py) for the whole session."""
    from tests.pgserver import PgServer, available
    why = available()
    if why:
        pytest.skip(why)
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def history_spec(request, tmp_path):
    """A fresh, empty history store spec on each backend: the same tests run on both."""
    if request.param == "sqlite":
        return str(tmp_path / "store" / "history.sqlite")
    return request.getfixturevalue("pg_server").new_database()
