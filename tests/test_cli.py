"""CLI behaviour: exit codes, exact error messages, documented commands.

Uses a snapshot captured from the demo fleet (tests/data/snapshots/demo-subset.json:
`fleetaudit audit --limit 'golden,good-*,no-ca,env-proxy'`), so no SSH is needed here;
tests/test_fleet_audit.py runs the same CLI against live hosts.
"""
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def test_malformed_inventory_names_file_and_line_and_exits_2(tmp_path):
    inv = tmp_path / "fleet.yml"
    inv.write_text("hosts:\n  web-1:\n    adress: 10.0.0.1\n")
    res = run("audit", "-i", inv, "--reports-dir", tmp_path / "r")
    assert res.exit_code == exitcodes.USAGE
    assert f"{inv}:3: unknown key 'adress'" in res.output
    assert "did you mean 'address'" in res.output
    assert not (tmp_path / "r").exists(), "nothing half-runs"


def test_unknown_limit_is_a_usage_error(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_host=10.0.0.1\n")
    res = run("audit", "-i", inv, "--limit", "db*")
    assert res.exit_code == exitcodes.USAGE
    assert "db*" in res.output


def test_report_rerenders_a_snapshot_without_ssh(tmp_path):
    res = run("report", SNAP, "--html", tmp_path / "r.html", "--junit", tmp_path / "r.xml",
              "--markdown", tmp_path / "r.md", "--json", tmp_path / "r.json", "--fail-on", "none")
    assert res.exit_code == exitcodes.CLEAN, res.output
    html = (tmp_path / "r.html").read_text()
    assert "no-ca" in html and "Content-Security-Policy" in html
    doc = json.loads((tmp_path / "r.json").read_text())
    assert any(f["host"] == "no-ca" and f["category"] == "tls" for f in doc["findings"])
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_fail_on_threshold_decides_exit_code():
    assert run("report", SNAP, "-q", "--fail-on", "high").exit_code == exitcodes.FINDINGS
    assert run("report", SNAP, "-q", "--fail-on", "none").exit_code == exitcodes.CLEAN


def test_golden_host_baseline_and_unknown_golden_host(tmp_path):
    ok = run("report", SNAP, "-q", "--baseline-host", "golden", "--json", tmp_path / "g.json")
    assert ok.exit_code == exitcodes.FINDINGS
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["drift"]["no-ca"], "no-ca differs from the golden host"
    bad = run("report", SNAP, "-q", "--baseline-host", "nosuchhost")
    assert bad.exit_code == exitcodes.USAGE
    assert "nosuchhost" in bad.output


def test_baseline_save_then_compare_with_it(tmp_path):
    saved = tmp_path / "base.json"
    res = run("baseline", "save", SNAP, saved)
    assert res.exit_code == 0 and saved.exists()
    again = run("report", SNAP, "-q", "--baseline", saved, "--fail-on", "none", "--json", tmp_path / "x.json")
    assert again.exit_code == exitcodes.CLEAN
    doc = json.loads((tmp_path / "x.json").read_text())
    assert not any(doc["drift"].values()), "a snapshot compared with itself has no drift"


def test_bad_snapshot_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hosts": {}}')
    res = run("report", bad, "-q")
    assert res.exit_code == exitcodes.USAGE
    assert "not a fleetaudit snapshot" in res.output


def test_diff_ranks_the_missing_ca_first():
    res = run("diff", "golden", "no-ca", "--snapshot", SNAP)
    assert res.exit_code == 0
    first = res.output.splitlines()[0]
    assert first.startswith("[tls ") and "tls.certs_d" in first


def test_explain_json_ranks_alternatives():
    res = run("explain", "--json", "--snapshot", SNAP,
              'Error response from daemon: Get "https://registry.example.com/v2/": dial tcp: '
              "lookup registry.example.com on 10.0.0.2:53: no such host")
    causes = json.loads(res.output)["causes"]
    cats = [c["category"] for c in causes]
    assert cats[0] == "dns" and "proxy" in cats
    for c in causes:
        assert set(c) >= {"category", "confidence", "why", "check", "fix"}
    assert [c["confidence"] for c in causes] == sorted((c["confidence"] for c in causes), reverse=True)


def test_explain_reads_stdin_and_names_hosts_from_the_snapshot():
    res = run("explain", "-", "--json", "--snapshot", SNAP,
              input="x509: certificate signed by unknown authority\n")
    causes = json.loads(res.output)["causes"]
    assert causes[0]["category"] == "tls"
    assert "no-ca" in causes[0]["hosts"]


def test_explain_unknown_text():
    res = run("explain", "--snapshot", SNAP, "everything is fine")
    assert res.exit_code == 0 and "No known pull-failure pattern" in res.output


def test_rules_lists_every_rule():
    from fleetaudit.diagnose import load_rules
    res = run("rules")
    for r in load_rules():
        assert r.id in res.output


def _commands(group, prefix=""):
    import click
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, full + " ")
        else:
            yield full, cmd


@pytest.mark.parametrize("name,cmd", list(_commands(main)), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_is_documented(name, cmd):
    """Each command's help has an example, and the README shows it."""
    assert cmd.help and "Example:" in cmd.help, name
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"fleetaudit {re.escape(name)}\b", readme), f"README does not show `fleetaudit {name}`"


def test_policy_violations_and_policy_errors(tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nchecks:\n  - path: tls.certs_d\n    contains: [registry.fleet.test]\n")
    res = run("report", SNAP, "-q", "--policy", policy, "--json", tmp_path / "p.json", "--fail-on", "none")
    assert res.exit_code == exitcodes.CLEAN
    drift = json.loads((tmp_path / "p.json").read_text())["drift"]
    violators = {h for h, items in drift.items() for i in items
                 if i["kind"] == "violation" and i["path"] == "tls.certs_d"}
    assert violators == {"no-ca"}
    typo = tmp_path / "typo.yml"
    typo.write_text("checks:\n  - path: docker.server.verison\n    version: '>=24'\n")
    bad = run("report", SNAP, "-q", "--policy", typo)
    assert bad.exit_code == exitcodes.USAGE
    assert f"{typo}:2: docker.server.verison: unknown fact path (did you mean docker.server.version?)" in bad.output
