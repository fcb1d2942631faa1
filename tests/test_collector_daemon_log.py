"""daemon_log: the real fragment over planted logs (file fallback, a journalctl stand-in),
and the pure parser's window and timestamp logic."""
import dataclasses
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from fleetaudit.collectors import daemon_log
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output

X509 = ('level=error msg="Handler for POST /v1.41/images/create returned error: Get '
        '\\"https://registry.lab:5000/v2/\\": x509: certificate signed by unknown authority"')
MANIFEST = ('level=error msg="Handler for POST /v1.41/images/create returned error: manifest '
            'for registry.lab:5000/busybox:nope not found: manifest unknown: manifest unknown"')
NOISE = 'level=info msg="API listen on /run/docker.sock"'
ODD = 'level=error msg="stream copy error: reading from a closed fifo"'


def _logrus(t: float, msg: str) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
    return f'time="{stamp}" {msg}'


def _syslog(t: float, msg: str, prog="dockerd[812]") -> str:
    local = datetime.fromtimestamp(t).astimezone()
    return f"{local.strftime('%b %e %H:%M:%S')} host1 {prog}: {msg}"


def _journal(t: float, msg: str) -> str:
    stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
    return f"{stamp} host1 dockerd[812]: {msg}"


def _run(tmp_path, files=None, journal=None, shell="dash", hours=24, journal_files=True):
    """Run the real fragment; FILES point into tmp_path, journalctl is absent or a stub."""
    script = daemon_log.SCRIPT
    for real in daemon_log.FILES:
        script = script.replace(real, str(tmp_path / "log" / real.rsplit("/", 1)[1]))
    # journald's stores: a journal file in one when the stub stands for a real journal.
    for real in daemon_log.JOURNAL_DIRS:
        script = script.replace(real, str(tmp_path / real.strip("/").replace("/", "-")))
    if journal is not None and journal_files:
        store = tmp_path / daemon_log.JOURNAL_DIRS[1].strip("/").replace("/", "-") / "machine-id"
        store.mkdir(parents=True, exist_ok=True)
        (store / "system.journal").write_bytes(b"LPKSHHRH")
    (tmp_path / "log").mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (tmp_path / "log" / name).write_text(text)
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    # A PATH without journalctl unless a stub is given: only the tools the fragment needs.
    tools = ["sh", "awk", "tail", "head", "grep", "date", "printf", "timeout", "cat", "sed",
             "id", "sudo", "tr", "wc"]
    if shell == "busybox":
        bb = shutil.which("busybox")
        for t in tools:
            os.symlink(bb, bindir / t)
    else:
        for t in tools:
            if shutil.which(t):
                os.symlink(shutil.which(t), bindir / t)
    if journal is not None:
        (tmp_path / "journal.txt").write_text(journal)
        stub = bindir / "journalctl"
        stub.write_text("#!/bin/sh\necho ran >> \"%s\"\n"
                        "case \" $* \" in *\" -n 1 \"*) head -n 1 \"%s\";; *) cat \"%s\";; esac\n"
                        % (tmp_path / "journalctl.ran", tmp_path / "journal.txt", tmp_path / "journal.txt"))
        stub.chmod(0o755)
    collector = dataclasses.replace(daemon_log.COLLECTOR, script=script)
    nonce = new_nonce()
    cmd = [shutil.which("busybox"), "sh", "-s"] if shell == "busybox" else [shutil.which(shell), "-s"]
    # The preamble appends the system dirs to PATH; hide them by pointing it at ours only.
    body = build_script([collector], nonce, ScriptOptions(log_window_hours=hours))
    body = body.replace('PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
                        f'PATH="{bindir}"')
    proc = subprocess.run(cmd, input=body.encode(), capture_output=True, timeout=60,
                          env={"PATH": str(bindir), "HOME": str(tmp_path)})
    section = split_output(proc.stdout.decode("utf-8", "replace"), nonce).sections["daemon_log"]
    return daemon_log.parse(section), section


@pytest.mark.parametrize("shell", ["dash", "bash", "busybox"])
def test_docker_log_file_window_and_classes(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} missing")
    now = time.time()
    lines = [_logrus(now - 3 * 86400, X509)] * 5                  # outside the window
    lines += [_logrus(now - 3600, NOISE), _logrus(now - 3500, X509), _logrus(now - 3400, X509),
              _logrus(now - 60, MANIFEST), _logrus(now - 30, ODD),
              _logrus(now - 10, "level=warning msg=\"" + "x" * 900 + " unexpected EOF\"")]
    facts, section = _run(tmp_path, files={"docker.log": "\n".join(lines) + "\n"}, shell=shell)
    assert facts["source"].endswith("/log/docker.log")
    assert facts["counts"] == {"manifest-unknown": 1, "unexpected-eof": 1,
                               "x509-unknown-authority": 2}
    assert facts["unclassified_count"] == 1 and "closed fifo" in facts["unclassified_sample"]
    assert facts["matched_count"] == 5 and facts["capped"] is False and facts["error"] is None
    assert all(len(s) <= 300 for s in facts["samples"].values())
    assert facts["samples"]["unexpected-eof"].endswith('unexpected EOF"')
    # the host sent only error-looking lines, the long one shortened
    assert "API listen" not in section["file:" + facts["source"]].out
    assert max(len(l) for l in section["file:" + facts["source"]].out.splitlines()) < 420


def test_syslog_fallback_skips_files_without_docker_lines(tmp_path):
    now = time.time()
    daemon = "\n".join([_syslog(now - 100, "started", prog="cron[1]")]) + "\n"
    syslog = "\n".join([
        _syslog(now - 7200, _logrus(now - 7200, X509)),
        _syslog(now - 100, "level=error msg=\"pull failed: no space left on device\"", prog="containerd[9]"),
        _syslog(now - 50, "x509: certificate signed by unknown authority", prog="kernel"),
    ]) + "\n"
    facts, section = _run(tmp_path, files={"daemon.log": daemon, "syslog": syslog})
    assert facts["source"].endswith("/log/syslog")
    assert [k for k in section if k.startswith("file:")] == [
        f"file:{tmp_path}/log/daemon.log", f"file:{tmp_path}/log/syslog"]
    assert facts["counts"] == {"no-space-left": 1, "x509-unknown-authority": 1}


def test_journal_stub_is_preferred_and_capped(tmp_path):
    now = time.time()
    journal = "-- Journal begins at Mon 2026-01-01 --\n" + "".join(
        _journal(now - 1000 + i, X509) + "\n" for i in range(450)) + _journal(now, NOISE) + "\n"
    facts, section = _run(tmp_path, files={"docker.log": _logrus(now, MANIFEST) + "\n"},
                          journal=journal)
    assert facts["source"] == "journalctl"
    assert not any(k.startswith("file:") for k in section)
    assert facts["counts"] == {"x509-unknown-authority": 300}
    assert facts["capped"] is True and facts["matched_count"] == 300


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_no_journal_files_journalctl_not_run_same_facts(tmp_path, shell):
    """journald's stores hold nothing: journalctl is not run and the facts say what it
    would have said (its "No journal files were found." note), the log file is read."""
    now = time.time()
    no_files = "fa-note No journal files were found.\nfa-summary total=0 matched=0\nfa-any 0\n"
    facts, section = _run(tmp_path, files={"docker.log": _logrus(now, MANIFEST) + "\n"},
                          journal=no_files, journal_files=False, shell=shell)
    assert not (tmp_path / "journalctl.ran").exists()
    assert section["journal"].out.strip() == daemon_log.NO_JOURNAL and section["journal"].rc == 0
    assert facts["source"].endswith("/log/docker.log") and facts["counts"] == {"manifest-unknown": 1}
    # the same facts as journalctl's own answer (captured on a host without a journal)
    ran = dict(section, journal=Part(no_files, 0))
    assert daemon_log.parse(section) == daemon_log.parse(ran)
    only_journal = {k: p for k, p in section.items() if not k.startswith("file:")}
    expected = "journalctl: no entries for docker.service, containerd.service (No journal files were found.)"
    assert daemon_log.parse(only_journal)["error"] == expected
    assert daemon_log.parse(dict(only_journal, journal=Part(no_files, 0)))["error"] == expected


def test_nothing_readable(tmp_path):
    facts, _ = _run(tmp_path)
    assert facts["source"] is None
    assert facts["error"].startswith("no daemon log: journalctl not installed")


# ------------------------------------------------------------------ pure parser


def test_line_epoch_formats():
    utc = timezone.utc
    now = datetime(2026, 11, 29, 14, 0, 0, tzinfo=utc).timestamp()
    expect = datetime(2026, 11, 29, 13, 49, 6, tzinfo=utc).timestamp()
    cet = timezone(timedelta(hours=1))
    for line, tz in [
        ('time="2026-11-29T13:49:06.123456789Z" level=error msg="x"', None),
        ('{"level":"error","msg":"x","time":"2026-11-29T14:49:06.5+01:00"}', None),
        ("2026-11-29T13:49:06+0000 host dockerd[1]: x", None),
        ("2026-11-29T14:49:06.123456+01:00 host dockerd[1]: x", None),
        ("Nov 29 14:49:06 host dockerd[1]: x", cet),
        ('Nov 29 14:49:06 host dockerd[1]: time=\\"2026-11-29T13:49:06Z\\" x', cet),
    ]:
        assert daemon_log.line_epoch(line, now, tz) == expect, line
    # December lines seen in January belong to last year
    jan = datetime(2027, 1, 2, tzinfo=utc).timestamp()
    assert daemon_log.line_epoch("Dec 31 23:00:00 h dockerd[1]: x", jan, utc) == \
        datetime(2026, 12, 31, 23, tzinfo=utc).timestamp()
    assert daemon_log.line_epoch("no time here", now, utc) is None
    assert daemon_log.line_epoch("Feb 30 10:00:00 h dockerd[1]: x", now, utc) is None


def test_window_uses_newest_line_without_host_clock():
    old = 'time="2026-11-20T10:00:00Z" level=error msg="x509: certificate signed by unknown authority"'
    new = 'time="2026-11-29T10:00:00Z" level=error msg="no basic auth credentials"'
    section = {"file:/var/log/docker.log": Part(f"{old}\n{new}\nfa-summary total=9 matched=2\n", 0)}
    facts = daemon_log.parse(section)
    assert facts["counts"] == {"no-basic-auth-credentials": 1}
    assert facts["window_hours"] == 24


def test_window_hours_from_host():
    old = 'time="2026-11-20T10:00:00Z" level=error msg="x509: certificate signed by unknown authority"'
    now = datetime(2026, 11, 29, 10, tzinfo=timezone.utc).timestamp()
    section = {"now": Part(f"{int(now)} +0000 240\n", 0),
               "file:/var/log/docker.log": Part(f"{old}\nfa-summary total=9 matched=1\n", 0)}
    facts = daemon_log.parse(section)
    assert facts["window_hours"] == 240 and facts["counts"] == {"x509-unknown-authority": 1}


def test_timeout_is_reported_with_partial_counts():
    section = {"journal": Part(f"2026-11-29T13:49:06+0000 h dockerd[1]: {X509}\n", 124)}
    facts = daemon_log.parse(section)
    assert facts["source"] == "journalctl" and facts["counts"] == {"x509-unknown-authority": 1}
    assert facts["error"] == "journalctl: timed out, counts incomplete"
    section = {"journal": Part(f"2026-11-29T13:49:06+0000 h dockerd[1]: {X509}\n"
                               "fa-summary total=1 matched=1\nfa-any 1\n", 124)}
    facts = daemon_log.parse(section)
    assert facts["source"] == "journalctl" and facts["error"] == "journalctl: timed out, counts incomplete"


def test_shorten_keeps_head_and_tail():
    s = daemon_log.shorten("a" * 200 + "\x00" + "b" * 200 + " x509: the end")
    assert len(s) <= 300 and s.startswith("aaa") and s.endswith("the end") and "\x00" not in s


@pytest.mark.skipif(not shutil.which("busybox"), reason="busybox missing")
def test_filter_is_fast_on_a_big_log_under_busybox_awk(tmp_path):
    # Guards the regex-literal choice: a -v pattern made busybox awk ~30x slower.
    line = _logrus(time.time(), 'level=info msg="Container 0123 failed to exit within 10 s"')
    log = tmp_path / "docker.log"
    log.write_text((line + "\n") * (4 * 1024 * 1024 // (len(line) + 1)))
    start = time.monotonic()
    out = subprocess.run([shutil.which("busybox"), "awk", "-v", "n=300", "-v", "mode=a",
                          daemon_log.FILTER_AWK, str(log)], capture_output=True, text=True)
    assert out.stdout.startswith("fa-summary total=")
    assert time.monotonic() - start < 10
