"""Snapshots the CLI reads (issue 14): a file that is not a usable snapshot is a usage
error (exit 2) naming the file in every command that reads one; the default snapshot of
reports/ is the newest *audit snapshot*, said on stderr."""
import gzip
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


# Each of these crashed one reader or another (exit 4, a traceback) before.
BAD_SNAPSHOTS = {
    "truncated.json": b'{"schema": "fleetaudit/1", "hosts": {',
    "not-utf8.json": b"\xff\xfe{}",
    "a-list.json": b"[]",
    "gate.json": b'{"hosts": [], "verdicts": []}',
    "hosts-a-list.json": b'{"schema": "fleetaudit/1", "hosts": [1]}',
    "facts-a-list.json": b'{"schema": "fleetaudit/1", "hosts": {"a": {"status": "ok", "facts": [1]}}}',
    "run-a-list.json": b'{"schema": "fleetaudit/1", "run": [], "hosts": {}}',
    "error-a-string.json": b'{"schema": "fleetaudit/1", "hosts": {"a": {"status": "unreachable", "error": "x"}}}',
    # gzip is read by magic bytes (issue 16): a cut-short archive is still a usage error
    "cut-short.json.gz": gzip.compress(b'{"schema": "fleetaudit/1", "hosts": {}}')[:-8],
    "gzip-of-junk.json": gzip.compress(b"[]"),
}

COMMANDS = {
    "explain": lambda p, tmp: ["explain", "x509: certificate signed by unknown authority", "--snapshot", p],
    "diff": lambda p, tmp: ["diff", "a", "b", "--snapshot", p],
    "report": lambda p, tmp: ["report", p, "-q"],
    "report --baseline": lambda p, tmp: ["report", SNAP, "-q", "--baseline", p],
    "baseline save": lambda p, tmp: ["baseline", "save", p, tmp / "out.json"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(BAD_SNAPSHOTS))
def test_a_bad_snapshot_is_a_usage_error_naming_the_file(tmp_path, command, name):
    bad = tmp_path / name
    bad.write_bytes(BAD_SNAPSHOTS[name])
    res = run(*COMMANDS[command](bad, tmp_path))
    assert res.exit_code == exitcodes.USAGE, res.output
    assert f"Error: {bad}" in res.output
    assert "Traceback" not in res.output and "internal error" not in res.output
    assert not (tmp_path / "out.json").exists()


def test_rules_json_is_the_whole_catalogue():
    from fleetaudit.diagnose import load_rules
    res = run("rules", "--json")
    assert res.exit_code == 0
    doc = json.loads(res.output)
    by_id = {r["id"]: r for r in doc["rules"]}
    assert len(by_id) == len(doc["rules"]) == len(load_rules())
    for r in load_rules():
        entry = by_id[r.id]
        assert entry == {"id": r.id, "family": r.id.split(".")[0], "category": r.category,
                         "severity": r.severity, "title": r.title, "why": r.why,
                         "remediation": list(r.remediation), "needs_docker": r.needs_docker}
    assert by_id["daemon.json-invalid"]["family"] == "daemon"
    assert by_id["daemon.json-invalid"]["remediation"][0].startswith("sudo python3 -m json.tool")
