"""The ops toolbelt of the CLI: `-` for stdout, FLEETAUDIT_* and config-file defaults,
--version, shell completion, logs of a (locally refused) audit. No SSH server needed:
the demo-fleet snapshot and a real refused TCP connect on 127.0.0.1.
tests/test_fleet_logs.py checks the -vv log of a real audit for planted secrets."""
import json
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest
from click.testing import CliRunner

from fleetaudit import __version__, exitcodes
from fleetaudit.cli import main
from fleetaudit.cliconfig import Schema
from fleetaudit.history import open_store

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def run(*args, env=None, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, input=input,
                              catch_exceptions=False, prog_name="fleetaudit")


def refused_inventory(tmp_path) -> Path:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inv = tmp_path / "inv.ini"
    inv.write_text(f"[web]\nweb-1 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n"
                   "[db]\ndb-1 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n".replace("{port}", str(port)))
    return inv


# --- `-` is stdout ------------------------------------------------------------------

def test_json_dash_is_stdout_and_the_summary_goes_to_stderr(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("report", SNAP, "--json", "-", "--fail-on", "none")
    assert res.exit_code == exitcodes.CLEAN
    doc = json.loads(res.stdout)
    assert doc["schema"] == "fleetaudit/1" and set(doc["hosts"]) >= {"golden", "no-ca"}
    assert "hosts" in res.stderr and "no-ca" in res.stderr, "the tables went to stderr"
    assert not (tmp_path / "-").exists(), "no file named '-'"
    quiet = run("report", SNAP, "--json", "-", "-q", "--fail-on", "none")
    assert json.loads(quiet.stdout) == doc and quiet.stderr == ""


def test_markdown_and_junit_dash(tmp_path):
    md = run("report", SNAP, "--markdown", "-", "-q", "--fail-on", "none")
    assert md.stdout.splitlines()[0] == "### fleetaudit: 6 hosts · 1 critical · 2 high"
    xml = run("report", SNAP, "--junit", "-", "--fail-on", "none", "--html", tmp_path / "r.html")
    assert xml.stdout.startswith("<?xml")
    assert f"html: {tmp_path / 'r.html'}" in xml.stderr and (tmp_path / "r.html").is_file()
    assert "junit: stdout" in xml.stderr


def test_two_outputs_on_stdout_is_a_usage_error():
    res = run("report", SNAP, "--json", "-", "--markdown", "-")
    assert res.exit_code == exitcodes.USAGE
    assert res.stderr.splitlines()[-1] == "Error: --json - and --markdown -: only one output can go to stdout"
    assert res.stdout == ""


def test_audit_json_dash_with_unreachable_hosts(tmp_path):
    inv = refused_inventory(tmp_path)
    res = run("audit", "-i", inv, "--json", "-", "--reports-dir", tmp_path / "r", "--retries", "0")
    assert res.exit_code == exitcodes.NOT_AUDITED
    doc = json.loads(res.stdout)
    assert {h: v["error"]["class"] for h, v in doc["hosts"].items()} == {"web-1": "refused", "db-1": "refused"}
    assert "snapshot: stdout" in res.stderr
    kept = list((tmp_path / "r").glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["hosts"] == doc["hosts"]


def test_history_show_and_diff_dash():
    doc = json.loads(SNAP.read_text())
    with open_store() as store:
        a = store.record(doc, "/inv/demo.ini", "audit")
        b = store.record(doc, "/inv/demo.ini", "audit")
    shown = run("history", "show", str(b), "--json", "-", "-q")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["hosts"].keys() == doc["hosts"].keys()
    both = run("history", "diff", str(a), str(b), "--json", "--markdown", "-")
    assert both.exit_code == exitcodes.USAGE
    assert both.stderr.splitlines()[-1] == "Error: --json and --markdown -: only one output can go to stdout"
    md = run("history", "diff", str(a), str(b), "--markdown", "-")
    assert md.exit_code == exitcodes.CLEAN
    assert md.stdout.splitlines()[0] == "### fleetaudit drift: no new drift"
    assert md.stderr.splitlines()[-1] == "new drift: no" and "new drift: no" not in md.stdout


# --- environment and config file ------------------------------------------------------

def test_environment_defaults_and_precedence():
    assert run("report", SNAP, "-q").exit_code == exitcodes.FINDINGS  # built-in default: high
    assert run("report", SNAP, "-q", env={"FLEETAUDIT_FAIL_ON": "none"}).exit_code == exitcodes.CLEAN
    # per-command variable beats the global one; the command line beats both
    assert run("report", SNAP, "-q", env={"FLEETAUDIT_FAIL_ON": "none",
                                          "FLEETAUDIT_REPORT_FAIL_ON": "high"}).exit_code == exitcodes.FINDINGS
    assert run("report", SNAP, "-q", "--fail-on", "high",
               env={"FLEETAUDIT_FAIL_ON": "none"}).exit_code == exitcodes.FINDINGS
    quiet = run("report", SNAP, "--fail-on", "none", env={"FLEETAUDIT_QUIET": "1"})
    assert quiet.output == ""
    bad = run("report", SNAP, env={"FLEETAUDIT_FAIL_ON": "loud"})
    assert bad.exit_code == exitcodes.USAGE and "'loud' is not one of" in bad.stderr


def test_global_inventory_does_not_turn_diff_into_a_live_audit(tmp_path):
    inv = refused_inventory(tmp_path)
    res = run("diff", "good-1", "no-ca", "--snapshot", SNAP, env={"FLEETAUDIT_INVENTORY": str(inv)})
    assert res.exit_code == 0 and res.stdout.splitlines()[0].startswith("[tls ")
    live = run("diff", "web-1", "db-1", env={"FLEETAUDIT_DIFF_INVENTORY": str(inv)})
    assert live.exit_code == exitcodes.USAGE  # it did audit live: both hosts refused
    assert live.stderr.splitlines()[-1] == ("Error: baseline host 'web-1' was not audited (refused: "
                                            "connection refused: nothing listens on the SSH port)")


def test_gate_json_dash_and_two_claims(tmp_path):
    inv = refused_inventory(tmp_path)
    res = run("gate", "-i", inv, "--image", "registry.example/app:1", "--json", "-",
              "--no-manifest-check", "--no-history")
    assert res.exit_code == exitcodes.NOT_AUDITED
    verdicts = json.loads(res.stdout)
    assert verdicts["schema"] == "fleetaudit-gate/1" and verdicts["run"]["hosts"] == 2
    both = run("gate", "-i", inv, "--image", "x:1", "--json", "-", "--snapshot", "-")
    assert both.exit_code == exitcodes.USAGE
    assert both.stderr.splitlines()[-1] == "Error: --json - and --snapshot -: only one output can go to stdout"


def test_explicit_fleetaudit_history_still_works(tmp_path):
    spec = tmp_path / "elsewhere.sqlite"
    with open_store(str(spec)) as store:
        store.record(json.loads(SNAP.read_text()), "/inv/x.ini", "audit")
    res = run("history", "list", "--json", env={"FLEETAUDIT_HISTORY": str(spec)})
    doc = json.loads(res.stdout)
    assert doc["store"].endswith("elsewhere.sqlite") and len(doc["runs"]) == 1


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_config_file_precedence(tmp_path):
    cfg = write(tmp_path / "c.yml", "fail-on: none\n")
    assert run("--config", cfg, "report", SNAP, "-q").exit_code == exitcodes.CLEAN
    # environment beats the file; the command line beats both
    assert run("--config", cfg, "report", SNAP, "-q",
               env={"FLEETAUDIT_FAIL_ON": "high"}).exit_code == exitcodes.FINDINGS
    assert run("--config", cfg, "report", SNAP, "-q", "--fail-on", "critical").exit_code == exitcodes.FINDINGS
    # a command's section beats the top-level key
    cfg2 = write(tmp_path / "c2.yml", "fail-on: none\ncommands:\n  report:\n    fail-on: high\n    quiet: true\n")
    res = run("--config", cfg2, "report", SNAP)
    assert res.exit_code == exitcodes.FINDINGS and res.output == ""


def test_config_file_history_and_search_path(tmp_path, monkeypatch):
    spec = tmp_path / "h.sqlite"
    with open_store(str(spec)) as store:
        store.record(json.loads(SNAP.read_text()), "/inv/x.ini", "audit")
    monkeypatch.delenv("FLEETAUDIT_HISTORY")
    monkeypatch.delenv("FLEETAUDIT_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xdg" / "fleetaudit").mkdir(parents=True)
    write(tmp_path / "xdg" / "fleetaudit" / "config.yml", f"history: {spec}\n")
    assert json.loads(run("history", "list", "--json").stdout)["store"] == str(spec)
    # ./fleetaudit.yml comes first, and --config /dev/null reads no file at all
    write(tmp_path / "afile", "")  # a store under a regular file cannot be created
    write(tmp_path / "fleetaudit.yml", f"history: {tmp_path}/afile/h.sqlite\n")
    assert run("history", "list", "--json").exit_code == exitcodes.HISTORY
    assert run("--config", os.devnull, "history", "list", "--json",
               env={"FLEETAUDIT_HISTORY": str(spec)}).exit_code == 0


@pytest.mark.parametrize("text,line,message", [
    ("fail-on: none\nconcurrency: [1\n", 3,
     "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at line 2)"),
    ("fail-on: none\n\nknwon-hosts: /etc/k\n", 3, "unknown key 'knwon-hosts' (did you mean 'known-hosts'?)"),
    ("commands:\n  reprot:\n    quiet: true\n", 2,
     "unknown key 'reprot': not an option or subcommand of `fleetaudit` (did you mean 'report'?)"),
    ("commands:\n  history:\n    list:\n      limt: 3\n", 4,
     "unknown key 'limt': not an option of `fleetaudit history list` (did you mean 'limit'?)"),
    ("concurrency: lots\n", 1, "concurrency: 'lots' is not a valid integer range."),
    ("json: out.json\n", 1, "'json' cannot be a top-level key: it is an output or means different "
     "things in different commands; set it under `commands:` for one of: audit, diff, drift, "
     "explain, gate, history diff, history host, history list, history show, merge, report, rules"),
    ("fail-on: none\nfail-on: high\n", 2, "key 'fail-on' given twice (first at line 1)"),
    ("- fail-on\n", 1, "expected a mapping of option names to values"),
    ("commands:\n  gate:\n    pull: true\n", 3, "'pull' cannot be set in a config file: it changes "
     "the hosts (a real docker pull); give --pull on the command line"),
])
def test_bad_config_file_names_file_and_line_and_exits_2(tmp_path, text, line, message):
    cfg = write(tmp_path / "c.yml", text)
    res = run("--config", cfg, "report", SNAP)
    assert res.exit_code == exitcodes.USAGE
    assert res.stderr.splitlines()[-1] == f"Error: {cfg}:{line}: {message}"


def test_config_file_paths_expand_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = write(tmp_path / "c.yml", "policy: ~/missing-policy.yml\n")
    res = run("--config", cfg, "report", SNAP)
    assert res.exit_code == exitcodes.USAGE
    assert f"'{tmp_path / 'missing-policy.yml'}' does not exist" in res.stderr


def test_missing_config_file_is_a_usage_error(tmp_path):
    res = run("--config", tmp_path / "nope.yml", "rules")
    assert res.exit_code == exitcodes.USAGE
    assert res.stderr.splitlines()[-1] == f"Error: {tmp_path / 'nope.yml'}: config file not found"


def test_global_names_are_documented():
    """docs/config.md lists every global key, and says which names are per command only."""
    doc = (ROOT / "docs" / "config.md").read_text()
    schema = Schema.of(main)
    missing = [n for n in schema.globals if f"`{n}`" not in doc]
    assert not missing, f"docs/config.md does not list {missing}"
    for n in schema.per_command_only:
        assert f"`{n}`" in doc, n


# --- --version ------------------------------------------------------------------------

def test_version_names_python_asyncssh_and_schemas():
    res = run("--version")
    from fleetaudit.history.schema import LATEST
    assert res.exit_code == 0
    assert res.stdout.splitlines() == [
        f"fleetaudit {__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        f"asyncssh {asyncssh.__version__}",
        "snapshot schema fleetaudit/1",
        f"history store schema {LATEST}",
    ]


# --- shell completion -----------------------------------------------------------------

def complete(words: str, shell: str = "bash"):
    """What click's completion prints for the words typed so far (in process: importing
    the CLI in a subprocess per TAB is slow on a loaded machine; one test does that)."""
    env = {"_FLEETAUDIT_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    res = CliRunner().invoke(main, [], env=env, prog_name="fleetaudit", catch_exceptions=False)
    assert res.exit_code == 0 and res.stderr == "", res.stderr
    return [l for l in res.stdout.splitlines() if l]  # click prints "\n" for no match


def test_limit_completes_hosts_and_groups_of_the_inventory(tmp_path):
    inv = refused_inventory(tmp_path)
    assert complete(f"fleetaudit audit -i {inv} --limit w") == ["plain,web", "plain,web-1"]
    assert complete(f"fleetaudit gate -i {inv} --limit web-1,!d") == ["plain,web-1,!db", "plain,web-1,!db-1"]
    assert complete(f"fleetaudit drift --inventory {inv} -l ") == [
        "plain,all", "plain,db", "plain,db-1", "plain,ungrouped", "plain,web", "plain,web-1"]
    # no inventory yet, or a broken one: nothing, and no traceback
    assert complete("fleetaudit audit --limit w") == []
    broken = write(tmp_path / "broken.yml", "hosts: [\n")
    assert complete(f"fleetaudit audit -i {broken} --limit w") == []


def test_commands_and_options_complete_and_scripts_exist():
    assert "plain,--known-hosts" in complete("fleetaudit audit --kno")
    for shell, marker in (("bash", "complete -o nosort -F _fleetaudit_completion fleetaudit"),
                          ("zsh", "compdef _fleetaudit_completion fleetaudit"),
                          ("fish", "complete --no-files --command fleetaudit")):
        res = CliRunner().invoke(main, [], env={"_FLEETAUDIT_COMPLETE": f"{shell}_source"},
                                 prog_name="fleetaudit")
        assert marker in res.stdout, shell
    # the console script's own path (entry() names the completion variable)
    env = {**os.environ, "_FLEETAUDIT_COMPLETE": "bash_complete", "COMP_WORDS": "fleetaudit au",
           "COMP_CWORD": "1"}
    proc = subprocess.run([sys.executable, "-m", "fleetaudit.cli"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout == "plain,audit\n" and proc.returncode == 0


# --- logs ---------------------------------------------------------------------------

def test_log_file_records_each_host_and_phase(tmp_path):
    inv = refused_inventory(tmp_path)
    log = tmp_path / "fa.log"
    res = run("--log-file", log, "audit", "-i", inv, "-q", "--reports-dir", tmp_path / "r", "--retries", "0")
    assert res.exit_code == exitcodes.NOT_AUDITED and res.output == ""
    lines = log.read_text().splitlines()
    ends = sorted(re.sub(r"^\S+ \S+ ", "", l) for l in lines if "fleetaudit.collect" in l)
    assert [re.sub(r"[\d.]+s, ", "Ns, ", l) for l in ends] == [
        f"INFO    fleetaudit.collect: {h}: unreachable in Ns, 1 attempt(s) (refused: connection "
        "refused: nothing listens on the SSH port)" for h in ("db-1", "web-1")]
    debug = tmp_path / "debug.log"
    res = run("-vv", "--log-file", debug, "audit", "-i", inv, "-q", "--reports-dir", tmp_path / "r")
    text = debug.read_text()
    assert "DEBUG   fleetaudit.ssh: 127.0.0.1: resolved to 127.0.0.1" in text
    assert "DEBUG   fleetaudit.collect: web-1: attempt 1: connecting to 127.0.0.1" in text
    assert "fleetaudit.ssh" in res.stderr, "-v logs to stderr too"
    assert res.stdout == ""


def test_verbose_and_log_file_after_the_command_and_from_config(tmp_path):
    inv = refused_inventory(tmp_path)
    log = tmp_path / "after.log"
    res = run("audit", "-i", inv, "-q", "--reports-dir", tmp_path / "r", "-v", "--log-file", log)
    assert res.exit_code == exitcodes.NOT_AUDITED
    assert "fleetaudit.collect: web-1: unreachable in" in log.read_text()
    assert "fleetaudit.collect: web-1: unreachable in" in res.stderr and res.stdout == ""
    # the larger -v count of the two levels counts; the config file can ask for a log too
    cfg = write(tmp_path / "c.yml", f"log-file: {tmp_path / 'cfg.log'}\nverbose: 1\n")
    run("--config", cfg, "-v", "audit", "-vv", "-i", inv, "-q", "--reports-dir", tmp_path / "r")
    assert "DEBUG   fleetaudit.collect: web-1: attempt 1" in (tmp_path / "cfg.log").read_text()
    bad = run("--log-file", tmp_path / "no" / "dir" / "x.log", "rules")
    assert bad.exit_code == exitcodes.USAGE
    assert bad.stderr.splitlines()[-1] == "Error: Invalid value for '--log-file': No such file or directory"


def test_retries_are_logged_with_their_cause(tmp_path):
    """A listener that accepts and closes at once: 'closed before the SSH banner' is a
    transient protocol error, retried; the log says why and how many attempts."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def accept_and_close():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=accept_and_close, daemon=True)
    t.start()
    try:
        inv = write(tmp_path / "inv.ini", f"flaky ansible_host=127.0.0.1 ansible_port={port}\n")
        log = tmp_path / "retry.log"
        res = run("--log-file", log, "audit", "-i", inv, "-q", "--retries", "1",
                  "--reports-dir", tmp_path / "r")
    finally:
        stop.set()
        t.join()
        srv.close()
    assert res.exit_code == exitcodes.NOT_AUDITED
    lines = [re.sub(r"^\S+ \S+ ", "", l) for l in log.read_text().splitlines()]
    cause = f"protocol: 127.0.0.1:{port} closed the connection before the SSH banner (sshd MaxStartups or TCP wrappers)"
    assert re.fullmatch(re.escape(f"INFO    fleetaudit.collect: flaky: attempt 1 failed ({cause}); "
                                  "retrying in ") + r"\d+\.\ds", lines[0]), lines[0]
    assert re.fullmatch(rf"INFO    fleetaudit.collect: flaky: unreachable in [\d.]+s, 2 attempt\(s\) \({re.escape(cause)}\)", lines[1])
