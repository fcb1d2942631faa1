"""Hostile host content (issue 7): nothing a host sends reaches a terminal, a report or a
JSON reader in a form that acts on it.

Every string of tests/hostile.py goes through every output: the rich terminal tables,
the gate table, the CLI's own messages (usage errors, explain, diff), Markdown, JUnit,
HTML, and the JSON snapshot; numbers no JSON reader keeps (1e999, NaN, 400-digit
integers) go through the daemon.json parser and the snapshot writer.
tests/test_fleet_hostile.py does the same end to end against a real sshd and dockerd.
"""
import copy
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from fleetaudit import exitcodes, gate, snapshot
from fleetaudit.cli import main
from fleetaudit.collectors.base import Part
from fleetaudit.collectors.daemon_json import COLLECTOR as DAEMON_JSON
from fleetaudit.collectors.jsonfacts import load_host_json
from fleetaudit.models import Finding, HostError, HostResult, RunResult
from fleetaudit.reference import parse as parse_ref
from fleetaudit.render import terminal
from fleetaudit.render.html import render_html
from fleetaudit.render.junit import render_junit
from fleetaudit.render.markdown import render_markdown
from fleetaudit.render.safe import text as safe_text, visible
from hostile import HOSTILE, raw_chars, strict_json

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"
CASES = sorted(HOSTILE.items())
IDS = [name for name, _ in CASES]


# ------------------------------------------------------------------ the helper

def test_visible_shows_controls_as_escapes_and_keeps_text():
    assert visible("\x1b]0;x\x07") == "\\x1b]0;x\\x07"
    assert visible("a\x00b\x9bc\x7f") == "a\\x00b\\x9bc\\x7f"
    assert visible("user\u202etxt") == "user\\u202etxt"
    assert visible("\u2066x\u2069\u200f") == "\\u2066x\\u2069\\u200f"
    assert visible("bad\udcffbyte") == "bad\\udcffbyte"
    assert visible("l1\nl2\tx\r") == "l1\\x0al2\\x09x\\x0d"
    assert visible("l1\nl2\tx\r", newlines=True) == "l1\nl2\tx\\x0d"
    plain = "héllo wörld 中文 Привет مرحبا 😀 [x] a|b `c` <d> \\x1b 100%"
    assert visible(plain) == plain
    assert visible(42) == "42" and visible(None) == "None"


@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_visible_leaves_nothing_raw(name, evil):
    assert raw_chars(visible(evil)) == []
    assert raw_chars(visible(evil, newlines=True)) == []


def test_safe_text_never_interprets_markup():
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(safe_text("[bold red]x[/] [link=http://e/]y[/link]"))
    assert out.getvalue() == "[bold red]x[/] [link=http://e/]y[/link]\n"


# ------------------------------------------------------------------ terminal (rich)

def _hostile_run(evil: str) -> RunResult:
    hosts = {
        f"ok-{evil}": HostResult(f"ok-{evil}", address=evil, facts={}),
        f"part-{evil}": HostResult(f"part-{evil}", address="10.0.0.2", status="partial",
                                   incomplete={f"dns{evil}": "timeout"}),
        f"down-{evil}": HostResult(f"down-{evil}", address=f"10.0.0.3{evil}", status="unreachable",
                                   error=HostError("protocol", f"disconnected by host: {evil}")),
    }
    findings = [Finding(f"ok-{evil}", f"rule{evil}", f"daemon{evil}", "high", f"title {evil}",
                        evidence=[{"fact": f"daemon_json.config.{evil}", "expected": None, "actual": evil}],
                        remediation=[f"edit {evil}"]),
                Finding(f"ok-{evil}", "r2", "dns", f"sev{evil}", "unknown severity from a snapshot")]
    return RunResult(run={"started": f"2026-12-04T00:00:00Z{evil}"}, hosts=hosts, findings=findings)


def _print(renderables, colour: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=250, force_terminal=colour, color_system="truecolor" if colour else None)
    for r in renderables:
        console.print(r)
    return out.getvalue()


@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_terminal_tables_show_host_text_inert(name, evil):
    run = _hostile_run(evil)
    coloured = _print(terminal.renderables(run), colour=True)
    assert raw_chars(coloured, allow_sgr=True) == []
    plain = _print(terminal.renderables(run), colour=False)
    assert raw_chars(plain) == []
    assert visible(evil) in plain.replace("\n", "") or len(visible(evil)) > 40  # folded cells
    if name.startswith("rich"):
        assert evil in plain, "markup is printed literally"


@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_gate_table_shows_host_text_inert(name, evil):
    ref = parse_ref("registry.fleet.test/team/app:1.0")
    audit = _hostile_run(evil)
    cell = gate.Cell("blocked", f"blocked: {evil}", reasons=[
        gate.Reason("finding", "tls", "high", f"x509 from host: {evil}", True, rule="tls.x", fix=f"fix {evil}")])
    g = gate.GateResult("read-only", [ref], "high", audit, cells={f"h{evil}": {str(ref): cell}})
    coloured = _print(gate.renderables(g), colour=True)
    assert raw_chars(coloured, allow_sgr=True) == []
    plain = _print(gate.renderables(g), colour=False)
    assert raw_chars(plain) == []
    if name.startswith("rich"):
        assert evil in plain
    junit = gate.render_junit(g)
    ET.fromstring(junit)
    assert raw_chars(junit) == []
    strict_json(gate.render_json(g))


# ------------------------------------------------------------------ Markdown, JUnit, HTML

@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_markdown_stays_one_row_per_item_and_inert(name, evil):
    md = render_markdown(_hostile_run(evil))
    assert raw_chars(md) == []
    assert "<img" not in md and "<script" not in md and "</script" not in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    # header, rule and 2 findings; header, rule and 1 error class
    assert len(rows) == 7
    for row in rows:
        unescaped_pipes = row.replace("\\|", "").count("|")
        assert unescaped_pipes in (5, 4), row  # 4 or 3 columns: the table is intact
    assert "`" not in md.replace("\\`", "")


@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_junit_parses_whatever_the_host_sent(name, evil):
    xml = render_junit(_hostile_run(evil))
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    assert raw_chars(xml) == []  # CI pages show these strings: bidi and controls as escapes too


def test_html_embeds_script_close_nul_and_infinity_as_inert_strict_json():
    run = RunResult(hosts={
        "h1": HostResult("h1", facts={"system": {"hostname": "</script><script>alert(1)</script>\x00",
                                                 "os": {"pretty_name": "Debian\x00\x1b]0;x\x07"}},
                                      "network": {"default_mtu": float("inf")},
                                      "daemon_json": {"config": {"mtu": float("nan"), "</script>": "\x00"}}}),
        "h2": HostResult("h2", facts={"network": {"default_mtu": 1500}}),
    }, findings=[Finding("h1", "r", "mtu", "high", "</script>\x00 title")])
    html = render_html(run)
    assert "\x00" not in html
    assert html.lower().count("</script") == 2  # the data island's and our script's own
    island = html.split('<script type="application/json"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    data = strict_json(island)
    assert "</script>\\x00 title" in data["s"]


# ------------------------------------------------------------------ strict JSON

def test_snapshot_writer_never_writes_nan_or_infinity(tmp_path):
    run = RunResult(hosts={"h": HostResult("h", facts={"x": {"inf": float("inf"), "neg": float("-inf"),
                                                             "nan": float("nan"), "ok": 1.5,
                                                             "big": 10 ** 400, "list": [float("inf")]}})})
    path = tmp_path / "s.json"
    snapshot.save(run, path)
    doc = strict_json(path.read_text())
    facts = doc["hosts"]["h"]["facts"]["x"]
    assert facts == {"inf": "inf", "neg": "-inf", "nan": "nan", "ok": 1.5, "big": 10 ** 400, "list": ["inf"]}
    assert doc["run"]["json_notes"] == [
        "$.hosts.h.facts.x.inf: non-finite number inf written as the string 'inf'",
        "$.hosts.h.facts.x.neg: non-finite number -inf written as the string '-inf'",
        "$.hosts.h.facts.x.nan: non-finite number nan written as the string 'nan'",
        "$.hosts.h.facts.x.list[0]: non-finite number inf written as the string 'inf'",
    ]
    assert snapshot.load(path).hosts["h"].facts["x"]["inf"] == "inf"
    strict_json(snapshot.dumps({"a": float("nan")}))
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        snapshot.dumps(loop)


def _daemon_json_facts(text: str) -> dict:
    section = {"init": Part("other\n", 0), "dockerd": Part("", 0), "unit": Part("", 0),
               "opts": Part("", 0), "path": Part("default /etc/docker/daemon.json\n", 0),
               "json": Part(text, 0)}
    return DAEMON_JSON.parse(section)


@pytest.mark.parametrize("token", ["1e999", "-1e999", "1e400", "1" + "0" * 400, "-" + "9" * 309])
def test_daemon_json_number_out_of_range_is_kept_as_text_and_refused(token):
    facts = _daemon_json_facts('{"mtu": %s, "debug": true}' % token)
    assert facts["config"] == {"mtu": token, "debug": True}
    assert facts["valid"] is False
    shown = token if len(token) <= 40 else token[:40] + f"... ({len(token)} characters)"
    assert facts["notes"] == [f'invalid number {shown} for "mtu": out of range for a 64-bit float']
    assert facts["error"].startswith(facts["notes"][0])
    assert "json: cannot unmarshal number" in facts["error"]
    strict_json(snapshot.dumps(facts))


def test_daemon_json_big_integer_is_text_with_a_note_but_still_valid():
    facts = _daemon_json_facts('{"mtu": 1500, "labels": ["a"], "x": {"n": 12345678901234567890}}')
    assert facts["valid"] is True and facts["config"]["x"]["n"] == "12345678901234567890"
    assert facts["notes"] == ['integer 12345678901234567890 for "x.n" is beyond +-2**53: '
                              'kept as text (JavaScript readers would round it)']
    assert facts["config"]["mtu"] == 1500


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_daemon_json_non_json_constants_stay_invalid(constant):
    facts = _daemon_json_facts('{"mtu": %s}' % constant)
    assert facts["valid"] is False and facts["config"] is None
    assert facts["error"].startswith(f"invalid constant {constant}")


def test_other_host_json_keeps_odd_numbers_as_text():
    value, notes = load_host_json('{"MemTotal": 1e999, "a": [NaN, -Infinity], "b": 2, "c": 1.5}')
    assert value == {"MemTotal": "1e999", "a": ["NaN", "-Infinity"], "b": 2, "c": 1.5}
    assert notes == ['invalid number 1e999 for "MemTotal": out of range for a 64-bit float',
                     'invalid value NaN for "a[0]": not a JSON number',
                     'invalid value -Infinity for "a[1]": not a JSON number']
    with pytest.raises(ValueError, match="nested too deeply"):
        load_host_json("[" * 100_000)
    assert load_host_json("1" * 5000)[0] == "1" * 5000  # past Python's 4300-digit int limit
    # a lone surrogate escape stays text (it cannot be encoded); a real pair is a character
    value, _ = load_host_json(r'{"k\udcff": "\ud83d\ude00 \udcff"}')
    assert value == {"k\\udcff": "\U0001f600 \\udcff"}
    json.dumps(value, ensure_ascii=False).encode("utf-8")


# ------------------------------------------------------------------ the CLI's own messages

def _hostile_snapshot(tmp_path) -> Path:
    """The demo snapshot plus, per hostile string, a host whose daemon.json carries it as
    a key and a value, and an unreachable host whose error message and address carry it."""
    doc = json.loads(SNAP.read_text())
    template = doc["hosts"]["no-ca"]
    for name, evil in CASES:
        host = copy.deepcopy(template)
        dj = host["facts"]["daemon_json"]
        dj["config"][f"key{evil}"] = f"value{evil}"
        dj["config"]["mtu"] = float("inf")
        dj["keys"] = sorted(dj["config"])
        dj["unrecognized_keys"] = [f"key{evil}"]
        host["facts"]["system"]["hostname"] = evil
        doc["hosts"][f"h-{name}{evil}"] = host
        doc["hosts"][f"down-{name}{evil}"] = {
            "status": "unreachable", "address": f"10.9.9.9{evil}", "facts": {},
            "error": {"class": "protocol", "message": f"Disconnected: {evil}"}}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))  # as an older writer would: with Infinity in it
    return path


def _invoke(*args):
    # A wide console: rich folds long cells, and the markup check looks for whole strings.
    return CliRunner(env={"COLUMNS": "1000"}).invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_report_explain_diff_print_host_text_inert(tmp_path):
    snap = _hostile_snapshot(tmp_path)
    outputs = {}
    res = _invoke("report", snap, "--fail-on", "none", "--json", tmp_path / "r.json",
                  "--html", tmp_path / "r.html", "--junit", tmp_path / "r.xml", "--markdown", tmp_path / "r.md")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output
    outputs["report"] = res.stdout + res.stderr
    assert "[link=http://evil.example/]click[/link]" in outputs["report"]
    doc = strict_json((tmp_path / "r.json").read_text())
    assert doc["hosts"]["h-nul" + HOSTILE["nul"]]["facts"]["daemon_json"]["config"]["mtu"] == "inf"
    ET.parse(tmp_path / "r.xml")
    outputs["markdown"] = (tmp_path / "r.md").read_text()
    res = _invoke("explain", "x509: certificate signed by unknown authority", "--snapshot", tmp_path / "r.json")
    outputs["explain"] = res.stdout + res.stderr
    assert "h-osc-title" in outputs["explain"]
    for name, evil in CASES:
        # a lone surrogate is kept as the text "\udcff" (it cannot be encoded otherwise)
        host = f"h-{name}{evil}".encode("utf-8", "backslashreplace").decode()
        res = _invoke("diff", "golden", host, "--snapshot", tmp_path / "r.json")
        assert res.exit_code == 0, res.output
        outputs[f"diff {name}"] = res.stdout + res.stderr
        assert "daemon_json.config" in res.stdout
        res = _invoke("diff", "golden", host, "--snapshot", tmp_path / "r.json", "--json")
        outputs[f"diff --json {name}"] = res.stdout
        strict_json(res.stdout)
    res = _invoke("diff", "golden", "nosuch" + HOSTILE["osc-title"], "--snapshot", tmp_path / "r.json")
    assert res.exit_code == exitcodes.USAGE
    outputs["diff usage error"] = res.stdout + res.stderr
    leaks = {k: raw_chars(v) for k, v in outputs.items() if raw_chars(v)}
    assert leaks == {}


@pytest.mark.parametrize("name,evil", CASES, ids=IDS)
def test_inventory_error_messages_are_inert(tmp_path, name, evil):
    for i, hosts in enumerate([{f"web{evil}": {"port": "http"}},          # in a host name
                               {"web": {"port": f"http{evil}"}},          # in a value
                               {"web": {"address": "10.0.0.1", "jump": f"a b{evil}"}}]):
        inv = tmp_path / f"hosts{i}.yml"
        inv.write_text(json.dumps({"hosts": hosts}))  # JSON is YAML
        res = _invoke("audit", "-i", inv, "--reports-dir", tmp_path / "r")
        assert res.exit_code == exitcodes.USAGE, res.output
        assert f"hosts{i}.yml:1: " in res.stderr
        assert raw_chars(res.stdout + res.stderr) == []


def test_a_snapshot_with_an_unknown_error_class_is_a_usage_error_not_a_crash(tmp_path):
    doc = json.loads(SNAP.read_text())
    doc["hosts"]["x\x1b]0;t\x07"] = {"status": "unreachable", "error": {"class": "\x1b[2Jbogus", "message": "m"}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    res = _invoke("report", path)
    assert res.exit_code == exitcodes.USAGE
    assert "is not a host record: unknown error class" in res.stderr
    assert raw_chars(res.stdout + res.stderr) == []
