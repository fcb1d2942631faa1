"""reports/ (issue 14): the per-run copy kept there comes after the outputs asked for, and
its failure is a warning; the snapshot `diff` and `explain` read from it by default is the
newest *audit snapshot* there, named on stderr."""
import json
import os
import socket
from pathlib import Path

from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def closed_port():
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unwritable_reports_dir_costs_only_the_extra_copy(tmp_path):
    blocker = tmp_path / "a-file"  # mkdir under a regular file fails, even for root
    blocker.write_text("")
    reports = blocker / "reports"
    inventory = f"127.0.0.1:{closed_port()},"
    res = run("audit", "-q", "-i", inventory, "--retries", "0", "--reports-dir", reports,
              "--json", tmp_path / "out.json", "--html", tmp_path / "out.html",
              "--markdown", tmp_path / "out.md")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output  # as without --reports-dir trouble
    assert res.stdout == ""
    assert res.stderr.startswith(f"fleetaudit: warning: the run's copy {reports}/")
    assert res.stderr.endswith(" was not kept: Not a directory (--reports-dir DIR to keep it elsewhere)\n")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["hosts"]["127.0.0.1"]["error"]["class"] == "refused"
    assert "127.0.0.1" in (tmp_path / "out.html").read_text()
    assert (tmp_path / "out.md").exists()
    assert not reports.exists()


def test_the_copy_is_kept_when_the_reports_dir_is_writable(tmp_path):
    res = run("audit", "-q", "-i", f"127.0.0.1:{closed_port()},", "--retries", "0",
              "--reports-dir", tmp_path / "r", "--json", tmp_path / "out.json")
    assert res.exit_code == exitcodes.NOT_AUDITED
    assert res.stderr == ""
    kept = list((tmp_path / "r").glob("*.json"))
    assert len(kept) == 1 and kept[0].read_text() == (tmp_path / "out.json").read_text()


SNAP = Path(__file__).resolve().parent / "data" / "snapshots" / "demo-subset.json"
X509 = "x509: certificate signed by unknown authority"


def _reports_with_newer_non_snapshots(tmp_path):
    """reports/ as the README's commands leave it: the audit snapshot, then (later files)
    a gate verdict file, a baseline, an older run copied in last, and a broken file."""
    reports = tmp_path / "reports"
    reports.mkdir()
    demo = reports / "demo.json"
    demo.write_text(SNAP.read_text())
    older = json.loads(SNAP.read_text())
    older["run"]["started"] = "2026-10-01T00:00:00Z"
    del older["hosts"]["no-ca"]
    gate = run("gate", "-q", "-i", f"127.0.0.1:{closed_port()},", "--retries", "0",
               "--image", "registry.example.com/team/app:1", "--json", reports / "gate.json")
    assert gate.exit_code == exitcodes.NOT_AUDITED, gate.output
    assert json.loads((reports / "gate.json").read_text())["schema"] == "fleetaudit-gate/1"
    assert run("baseline", "save", demo, reports / "known-good.json").exit_code == 0
    (reports / "older-run.json").write_text(json.dumps(older))
    (reports / "broken.json").write_text("{")
    mtime = demo.stat().st_mtime
    for i, name in enumerate(("gate.json", "known-good.json", "older-run.json", "broken.json"), 1):
        os.utime(reports / name, (mtime + i, mtime + i))
    return reports, demo


def test_bare_diff_uses_the_newest_audit_snapshot_and_says_which(tmp_path):
    reports, demo = _reports_with_newer_non_snapshots(tmp_path)
    res = run("diff", "golden", "no-ca", "--reports-dir", reports)
    assert res.exit_code == 0, res.output
    assert res.stderr == (f"fleetaudit: snapshot: {demo} (the newest audit run in {reports}/, "
                          "started 2026-11-29T14:21:10Z; --snapshot PATH to choose)\n")
    assert res.stdout.splitlines()[0].startswith("[tls ")


def test_bare_explain_keeps_its_per_host_attribution(tmp_path):
    reports, demo = _reports_with_newer_non_snapshots(tmp_path)
    res = run("explain", "--json", X509, "--reports-dir", reports)
    doc = json.loads(res.stdout)
    assert doc["snapshot"] == str(demo)
    assert "no-ca" in doc["causes"][0]["hosts"]
    assert res.stderr.startswith(f"fleetaudit: snapshot: {demo} ")


def test_no_audit_snapshot_in_reports_is_a_usage_error(tmp_path):
    reports, demo = _reports_with_newer_non_snapshots(tmp_path)
    for name in ("demo.json", "older-run.json"):
        (reports / name).unlink()
    res = run("diff", "golden", "no-ca", "--reports-dir", reports)
    assert res.exit_code == exitcodes.USAGE
    assert f"Error: no audit snapshot in {reports}/: pass --snapshot PATH or --inventory INVENTORY" \
        in res.output
    res = run("explain", "--json", X509, "--reports-dir", reports)
    assert res.exit_code == 0 and json.loads(res.stdout)["snapshot"] is None
