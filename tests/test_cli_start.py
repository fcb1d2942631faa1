"""Process start stays cheap (issue 11, client CPU): importing the CLI, `--help`,
`--version` and shell completion load neither the SSH stack (asyncssh, cryptography)
nor the collectors, the analysis, YAML or the renderers. Checked structurally, on
sys.modules of a fresh interpreter, not with a timing assertion: each of these modules
is tens to hundreds of milliseconds of CPU that every `fleetaudit` process used to pay
(import of fleetaudit.cli 0.73 -> 0.16 s, `audit --help` 0.75 -> 0.21 s)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Loaded only by what needs them: a collection, an analysis, a renderer, an inventory.
HEAVY = ("asyncssh", "cryptography", "yaml", "jinja2", "rich", "deepdiff",
         "fleetaudit.collect", "fleetaudit.ssh", "fleetaudit.collectors", "fleetaudit.snapshot",
         "fleetaudit.analyze", "fleetaudit.compare", "fleetaudit.diagnose", "fleetaudit.inventory")

PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["fleetaudit"] + json.loads(sys.argv[1])
from fleetaudit import cli
try:
    cli.main(prog_name="fleetaudit", complete_var="_FLEETAUDIT_COMPLETE")
except SystemExit:
    pass
print("LOADED=" + json.dumps(sorted(m for m in heavy if m in sys.modules)))
import gc
print("GC=" + json.dumps(gc.get_threshold()))
"""


def _loaded(args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    if args is None:  # the bare import
        code = ("import json, sys; import fleetaudit.cli; heavy = json.loads(sys.argv[1]); "
                "print('LOADED=' + json.dumps(sorted(m for m in heavy if m in sys.modules)))")
        argv = [sys.executable, "-c", code, json.dumps(HEAVY)]
    else:
        argv = [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("LOADED=")]
    assert line, f"probe printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(line[-1][len("LOADED="):]), proc.stdout


def test_importing_the_cli_loads_no_heavy_module():
    loaded, _ = _loaded(None)
    assert loaded == []


@pytest.mark.parametrize("args", [["--help"], ["audit", "--help"], ["gate", "--help"],
                                  ["drift", "--help"], ["merge", "--help"],
                                  ["history", "--help"], ["--version"]])
def test_help_and_version_load_no_heavy_module(args):
    loaded, out = _loaded(args)
    assert loaded == [], args
    assert "Usage:" in out or "fleetaudit " in out  # the command really ran


def test_shell_completion_loads_no_heavy_module():
    loaded, out = _loaded([], {"_FLEETAUDIT_COMPLETE": "bash_complete",
                               "COMP_WORDS": "fleetaudit au", "COMP_CWORD": "1"})
    assert loaded == []
    assert "audit" in out  # the completion answered


def test_an_audit_does_load_what_it_needs(tmp_path):
    """The other side: the lazy imports really happen when a command needs them (a host
    list whose only host refuses at once: inventory, collection and analysis all run)."""
    loaded, out = _loaded(["audit", "-i", "127.0.0.1:1,", "--json", str(tmp_path / "s.json"),
                           "--reports-dir", str(tmp_path / "r"), "--no-history", "-q",
                           "--retries", "0", "--known-hosts", str(tmp_path / "kh")])
    assert {"asyncssh", "fleetaudit.collect", "fleetaudit.analyze", "fleetaudit.snapshot"} <= set(loaded)
    assert json.loads((tmp_path / "s.json").read_text())["hosts"]


# What an audit that writes only JSON has no use for: the renderers (jinja2 for HTML,
# xml.etree for JUnit), the terminal tables (rich: --quiet), the compare path's deepdiff,
# the worker pool (--workers 1: multiprocessing, pickle) and --notify's HTTP client
# (urllib.request, http.client, email: ~65 ms of imports when no --notify was given).
NOT_FOR_JSON_ONLY = ("jinja2", "rich", "deepdiff", "multiprocessing", "urllib.request",
                     "http.client", "xml.etree", "fleetaudit.notify", "fleetaudit.workers",
                     "fleetaudit.render.html", "fleetaudit.render.junit",
                     "fleetaudit.render.markdown", "fleetaudit.render.terminal")


def _audit_loaded(tmp_path, *extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["audit", "-i", "127.0.0.1:1,", "--json", str(tmp_path / "s.json"),
            "--reports-dir", str(tmp_path / "r"), "--no-history", "-q", "--retries", "0",
            "--known-hosts", str(tmp_path / "kh"), *extra]
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args),
                           json.dumps(NOT_FOR_JSON_ONLY + ("fleetaudit.collect",))],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    lines = dict(ln.split("=", 1) for ln in proc.stdout.splitlines()
                 if ln.startswith(("LOADED=", "GC=")))
    assert "LOADED" in lines, f"probe printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    assert json.loads((tmp_path / "s.json").read_text())["hosts"]  # the audit really ran
    return set(json.loads(lines["LOADED"])), json.loads(lines["GC"])


def test_a_json_only_audit_loads_no_renderer_pool_or_http_client(tmp_path):
    loaded, _ = _audit_loaded(tmp_path, "--workers", "1")
    assert loaded == {"fleetaudit.collect"}


def test_each_output_loads_its_own_renderer_only(tmp_path):
    loaded, _ = _audit_loaded(tmp_path, "--workers", "1", "--html", str(tmp_path / "r.html"))
    assert {"jinja2", "fleetaudit.render.html"} <= loaded
    assert not loaded & {"fleetaudit.render.junit", "fleetaudit.render.markdown", "xml.etree",
                         "fleetaudit.notify", "multiprocessing"}
    assert (tmp_path / "r.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_a_command_runs_with_the_raised_gc_threshold(tmp_path):
    from fleetaudit.cli import GC_THRESHOLDS
    _, threshold = _audit_loaded(tmp_path, "--workers", "1")
    assert tuple(threshold) == GC_THRESHOLDS and GC_THRESHOLDS[0] > 700


def test_notify_urls_are_still_checked_when_given(tmp_path):
    # the check imports notify only when there is a URL to check: a bad one is still refused
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "fleetaudit.cli", "audit", "-i", "127.0.0.1:1,",
                           "--notify", "ftp://example.test/x", "--no-history", "-q",
                           "--reports-dir", str(tmp_path / "r"), "--known-hosts", str(tmp_path / "kh")],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "--notify" in proc.stderr and "http" in proc.stderr
