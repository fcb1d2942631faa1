"""reports/ (issue 14): the per-run copy kept there comes after the outputs asked for, and
its failure is a warning; the snapshot `diff` and `explain` read from it by default is the
newest *audit snapshot* there, named on stderr."""
import json
import socket

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
