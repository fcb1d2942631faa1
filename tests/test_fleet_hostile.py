"""End to end (issue 7, hostile content): the real CLI audits a real sshd + dockerd host
that plants terminal escapes, bidi controls, rich markup, `</script>`, NUL, a lone
surrogate and numbers no JSON reader keeps, in its daemon.json, os-release, resolv.conf,
proxy drop-in and kernel hostname. Nothing of it may reach the terminal raw, and every
JSON output must parse with a strict parser.

A small dedicated fleet: `golden` (a plain docker host, the baseline) and `evil`.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hostile import raw_chars, strict_json

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.skipif(os.geteuid() != 0, reason="the test fleet needs root"),
]

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
ESC_TITLE = "\x1b]0;pwned\x07"
# daemon.json keys, written as JSON escapes (JSON cannot carry raw control characters)
HOSTILE_KEYS = {
    "osc+csi": ("\\u001b]0;pwned\\u0007\\u001b[2J", "\x1b]0;pwned\x07\x1b[2J"),
    "osc8": ("\\u001b]8;;http://evil.example/\\u001b\\\\link\\u001b]8;;\\u001b\\\\",
             "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\"),
    "c1-csi": ("\\u009b2J", "\x9b2J"),
    "nul": ("a\\u0000b", "a\x00b"),
    "bel-bs-cr": ("ding\\u0007\\b\\b\\rok", "ding\x07\b\b\rok"),
    "bidi": ("user\\u202etxt.exe\\u2066x\\u2069", "user\u202etxt.exe\u2066x\u2069"),
    "markup": ("[bold red]BOLD[/bold red][link=http://evil.example/]x[/link]",
               "[bold red]BOLD[/bold red][link=http://evil.example/]x[/link]"),
    "script": ("</script><script>alert(1)</script>", "</script><script>alert(1)</script>"),
    "markdown": ("pipe|`tick`|**b**", "pipe|`tick`|**b**"),
    "surrogate": ("lone\\udcff", "lone\\udcff"),  # kept as this text in the facts
}
DAEMON_JSON = ("{\n  \"log-level\": \"info\",\n  \"mtu\": 1e999,\n  \"max-concurrent-downloads\": -1e999,\n"
               "  \"shutdown-timeout\": 12345678901234567890,\n"
               + "".join(f'  "{k}": "v{k}",\n' for k, _ in HOSTILE_KEYS.values())
               + '  "debug": false\n}\n')
OS_RELEASE = ("PRETTY_NAME=\"Debian\x1b]0;pwned\x07 GNU/Linux \u202e12\"\nNAME=\"Debian\"\n"
              "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n").encode()
RESOLV = b"nameserver 10.213.0.2\nsearch \x1b[2Jevil.example \xe2\x80\xaeexample\n"
DROPIN = (b"[Service]\nEnvironment=\"HTTP_PROXY=http://proxy\x1b]0;pwned\x07.example:3128\"\n"
          b"Environment=\"NO_PROXY=[bold]x[/bold]\x00,localhost\"\n")
# Hostile inputs planted: the daemon.json keys, three numbers, os-release, resolv.conf
# (2), the drop-in (2) and the kernel hostname.
PLANTED = len(HOSTILE_KEYS) + 3 + 1 + 2 + 2 + 1


def run_cli(args, cwd, env=None):
    return subprocess.run(FLEETAUDIT + [str(a) for a in args], cwd=cwd, capture_output=True,
                          timeout=300, env={**os.environ, **(env or {})})


def _island(html: str) -> str:
    return html.split('<script type="application/json"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]


@pytest.fixture(scope="module")
def hostile_fleet(tmp_path_factory):
    from lab.fleet import Fleet, HostSpec

    state = tmp_path_factory.mktemp("hostile") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        fleet.up([
            HostSpec("golden", files={"/etc/docker/daemon.json": '{"log-level": "info"}\n'}),
            HostSpec("evil", files={
                "/etc/docker/daemon.json": DAEMON_JSON,
                "/etc/os-release": OS_RELEASE,
                "/etc/resolv.conf": RESOLV,
                "/etc/systemd/system/docker.service.d/http-proxy.conf": DROPIN,
            }, docker_env={}),
        ], services=False, timeout=120)
        # the kernel takes any bytes as a hostname
        fleet.exec("evil", "printf 'evil\\033]0;pwned\\007' > /proc/sys/kernel/hostname", check=True)
        yield fleet
    finally:
        fleet.down()


@pytest.fixture(scope="module")
def audit(hostile_fleet, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile-audit")
    inv = hostile_fleet.write_inventory(out / "inventory.ini", "ini")
    proc = run_cli(["audit", "-i", inv, "--known-hosts", hostile_fleet.known_hosts_path,
                    "--baseline-host", "golden", "--json", out / "snap.json",
                    "--html", out / "report.html", "--junit", out / "junit.xml",
                    "--markdown", out / "summary.md", "--reports-dir", out / "reports",
                    "--connect-timeout", "5"], cwd=out, env={"COLUMNS": "250"})
    return {"proc": proc, "dir": out, "fleet": hostile_fleet}


def test_dockerd_itself_refuses_1e999(hostile_fleet):
    """The fact we report is what dockerd does: Go's JSON reader cannot hold 1e999."""
    evil = hostile_fleet.hosts["evil"]
    assert evil.docker is False
    assert "json: cannot unmarshal number 1e999 into Go value of type float64" in evil.docker_error


def test_hostile_host_is_audited_and_nothing_reaches_the_terminal_raw(audit):
    proc = audit["proc"]
    stdout, stderr = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode in (0, 1), stderr[-3000:]
    assert raw_chars(stdout) == [] and raw_chars(stderr) == []
    # the hostile strings did reach the output path, shown as escapes
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in stdout
    assert "[bold red]BOLD[/bold red]" in stdout.replace("\n", "") or "[bold red]BOLD" in stdout


def test_snapshot_is_strict_json_with_the_raw_tokens_and_notes(audit):
    text = (audit["dir"] / "snap.json").read_text(encoding="utf-8")
    assert raw_chars(text) == []
    snap = strict_json(text)
    evil = snap["hosts"]["evil"]
    assert evil["status"] in ("ok", "partial")
    dj = evil["facts"]["daemon_json"]
    assert dj["config"]["mtu"] == "1e999" and dj["config"]["max-concurrent-downloads"] == "-1e999"
    assert dj["config"]["shutdown-timeout"] == "12345678901234567890"
    assert dj["valid"] is False
    assert dj["error"].startswith('invalid number 1e999 for "mtu": out of range for a 64-bit float')
    assert 'invalid number -1e999 for "max-concurrent-downloads": out of range for a 64-bit float' in dj["notes"]
    for _, (_, key) in HOSTILE_KEYS.items():
        assert key in dj["config"], key
    # the system collector takes a hostname only when it is one word of safe characters
    assert evil["facts"]["system"]["hostname"] is None
    assert evil["facts"]["system"]["os"]["pretty_name"] == "Debian" + ESC_TITLE + " GNU/Linux \u202e12"
    assert "json_notes" not in snap["run"], "the parsers, not the writer's safety net, handled it"
    rules = {f["rule"] for f in snap["findings"] if f["host"] == "evil"}
    assert "daemon.json-invalid" in rules


def test_reports_parse_strictly_and_carry_nothing_raw(audit):
    out = audit["dir"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\x00" not in html and raw_chars(html) == []
    assert html.lower().count("</script") == 2
    strict_json(_island(html))
    ET.parse(out / "junit.xml")
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert raw_chars(md) == [] and "<script" not in md


def test_report_diff_explain_on_the_hostile_snapshot(audit):
    out = audit["dir"]
    snap = out / "snap.json"
    outputs = {}
    # a colour terminal this time: only rich's own colour codes may appear
    rep = run_cli(["report", snap, "--baseline-host", "golden", "--html", out / "again.html",
                   "--json", out / "again.json"], cwd=out, env={"FORCE_COLOR": "1", "COLUMNS": "250"})
    assert rep.returncode in (0, 1), rep.stderr.decode()[-3000:]
    assert b"\x1b[" in rep.stdout, "FORCE_COLOR gave a colour terminal"
    outputs["report"] = (rep.stdout + rep.stderr).decode("utf-8")
    strict_json((out / "again.json").read_text())
    strict_json(_island((out / "again.html").read_text()))
    dif = run_cli(["diff", "golden", "evil", "--snapshot", snap], cwd=out)
    assert dif.returncode == 0 and b"daemon_json" in dif.stdout
    outputs["diff"] = (dif.stdout + dif.stderr).decode("utf-8")
    dj = run_cli(["diff", "golden", "evil", "--snapshot", snap, "--json"], cwd=out)
    strict_json(dj.stdout.decode("utf-8"))
    outputs["diff --json"] = dj.stdout.decode("utf-8")
    exp = run_cli(["explain", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
                   "--snapshot", snap], cwd=out)
    assert exp.returncode == 0
    outputs["explain"] = (exp.stdout + exp.stderr).decode("utf-8")
    leaks = {name: raw_chars(text, allow_sgr=(name == "report")) for name, text in outputs.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    print(f"hostile inputs planted: {PLANTED}; outputs checked: {len(outputs) + 6}; got through: 0")
