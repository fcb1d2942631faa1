"""CLI for a real fleet rather than the demo: ad-hoc host lists and inventory scripts
reach the library (click no longer insists on an existing file), and a run whose
output is not a terminal (CI logs, cron mail) still shows progress, on stderr."""
import io
import json
import re
import socket
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from fleetaudit import exitcodes
from fleetaudit.cli import main, plain_progress

DATA = Path(__file__).parent / "data" / "inventory"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def closed_port():
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_host_list_is_audited_and_progress_goes_to_stderr_when_not_a_terminal(tmp_path):
    a, b = closed_port(), closed_port()
    res = run("audit", "-i", f"127.0.0.1:{a},localhost:{b},", "--retries", "0",
              "--reports-dir", tmp_path / "r", "--json", tmp_path / "out.json")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output
    seconds = re.sub(r"\d+s$", "Ns", res.stderr, flags=re.M)  # wall time: the machine's load decides
    assert seconds == ("collected 1/2 hosts, 1 not audited, Ns\n"
                       "collected 2/2 hosts, 2 not audited, Ns\n")
    doc = json.loads((tmp_path / "out.json").read_text())
    assert {name: (h["status"], h["error"]["class"]) for name, h in doc["hosts"].items()} == {
        "127.0.0.1": ("unreachable", "refused"), "localhost": ("unreachable", "refused")}
    assert doc["run"]["inventory"] == f"127.0.0.1:{a},localhost:{b},"


def test_quiet_run_prints_no_progress(tmp_path):
    res = run("audit", "-q", "-i", f"127.0.0.1:{closed_port()},", "--retries", "0",
              "--reports-dir", tmp_path / "r")
    assert res.exit_code == exitcodes.NOT_AUDITED
    assert (res.stdout, res.stderr) == ("", "")


def test_inventory_errors_from_the_new_sources_are_usage_errors(tmp_path):
    res = run("audit", "-i", "web1", "--reports-dir", tmp_path / "r")
    assert (res.exit_code, res.stderr) == (
        exitcodes.USAGE, "Error: web1: no such inventory file (one host is a host list, with a comma: -i 'web1,')\n")
    script = DATA / "scripts" / "fails.sh"
    res = run("audit", "-i", script, "--reports-dir", tmp_path / "r")
    assert (res.exit_code, res.stderr) == (
        exitcodes.USAGE,
        f"Error: {script}: inventory script `{script} --list` exited with status 3; its stderr ends:\n"
        "ERROR! Unable to reach the cloud API: credentials expired\n")
    assert not (tmp_path / "r").exists()


def test_plain_progress_every_tenth_every_30s_and_at_the_end():
    out, now = io.StringIO(), [100.0]
    progress = plain_progress(25, out, clock=lambda: now[0])
    for i in range(25):
        now[0] += 0.5 if i != 2 else 40.0  # a slow host: a line after it, though not a tenth
        progress(SimpleNamespace(status="unreachable" if i in (0, 7) else "ok"))
    assert out.getvalue() == (
        "collected 2/25 hosts, 1 not audited, 1s\n"
        "collected 3/25 hosts, 1 not audited, 41s\n"
        "collected 4/25 hosts, 1 not audited, 41s\n"
        "collected 6/25 hosts, 1 not audited, 42s\n"
        "collected 8/25 hosts, 2 not audited, 43s\n"
        "collected 10/25 hosts, 2 not audited, 44s\n"
        "collected 12/25 hosts, 2 not audited, 45s\n"
        "collected 14/25 hosts, 2 not audited, 46s\n"
        "collected 16/25 hosts, 2 not audited, 47s\n"
        "collected 18/25 hosts, 2 not audited, 48s\n"
        "collected 20/25 hosts, 2 not audited, 49s\n"
        "collected 22/25 hosts, 2 not audited, 50s\n"
        "collected 24/25 hosts, 2 not audited, 51s\n"
        "collected 25/25 hosts, 2 not audited, 52s\n")
