"""The HTML report in a real headless chromium (Debian's), driven over the DevTools pipe.

Skipped when chromium is not installed, except under CI=true, where that is a failure.
UPDATE_SCREENSHOT=1 also writes the README screenshot docs/report.png.
"""
import json
import os
import shutil
import struct
import time
from pathlib import Path

import pytest

from bench.synthetic import XSS_IMG, XSS_SCRIPT, synthetic_run
from fleetaudit.render.html import render_html

from chromium_cdp import Chromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + (e.sample || '')));
"""


@pytest.fixture(scope="module")
def browser():
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium): the report "
                        "must be tested in a real browser in CI")
        pytest.skip("chromium not installed")
    b = Chromium(binary, timeout=90)
    try:
        b.open_page(1440, 1000)
        b.add_init_script(VIOLATIONS)
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def fleet():
    return synthetic_run(1000, hostile=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory, fleet):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(fleet), encoding="utf-8")
    return path


def load(b: Chromium, path: Path, suffix: str = "") -> None:
    """A full load every time (a hash-only change would be a same-document navigation)."""
    b.navigate("about:blank")
    b.events = []
    b.navigate(path.as_uri() + suffix)
    assert b.eval("document.documentElement.getAttribute('data-ready')") == "1", b.log_texts()


def wait_for(b: Chromium, expression: str, timeout: float = 10.0):
    """Poll a JS expression until truthy: <details> toggle events fire asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        value = b.eval(expression)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def visible_rows(b: Chromium, selector: str):
    return b.eval(f"""[...document.querySelectorAll({json.dumps(selector)})]
        .filter(e => e.offsetParent !== null)
        .map(e => ({{sev: e.dataset.sev, cat: e.dataset.cat, text: e.textContent}}))""")


def test_report_renders_every_section(browser, report, fleet):
    load(browser, report)
    b = browser
    assert b.eval("document.title") == "fleetaudit report"
    groups = json.loads(b.eval("document.getElementById('fa-data').textContent"))["f"]
    assert len(visible_rows(b, "#findings tbody tr.row")) == min(100, len(groups))
    assert b.eval("document.querySelectorAll('#matrix details.mx').length") == min(40, len(fleet.extra["matrix"]))
    assert b.eval("document.querySelectorAll('#drift tbody tr.row').length") > 0
    assert b.eval("document.querySelectorAll('#unreachable tbody tr.row').length") == len(fleet.failed_hosts)
    assert b.eval("document.querySelectorAll('#hosts details.host').length") == 100
    assert "Show 100 more" in b.eval("document.getElementById('hosts-more').textContent")
    summary = b.eval("document.querySelector('.summary').innerText")
    assert "1,000" in summary and "CRITICAL" in summary
    b.drain(0.3)
    assert b.requests() == [report.as_uri()], "the report must fetch nothing"
    assert not [t for t in b.log_texts() if "EXCEPTION" in t or "Refused" in t]
    assert b.eval("window.__violations") == []


def test_severity_filter_shows_only_that_severity(browser, report, fleet):
    load(browser, report)
    b = browser
    n_crit = len({f.rule for f in fleet.findings if f.severity == "critical"})  # a row per cause
    b.eval("const s = document.getElementById('f-sev'); s.value = 'critical';"
           "s.dispatchEvent(new Event('change'))")
    rows = visible_rows(b, "#findings tbody tr.row")
    assert rows and {r["sev"] for r in rows} == {"critical"}
    assert len(rows) == n_crit
    assert b.eval("location.hash") == "#sev=critical"
    # the host list follows: only hosts that have a critical finding
    crit_hosts = {f.host for f in fleet.findings if f.severity == "critical"}
    shown = set(b.eval("[...document.querySelectorAll('#hosts details.host')].map(d => d.dataset.host)"))
    assert shown == crit_hosts
    # clicking the severity tile again (a real click) clears the filter
    b.click(".sev-tile.sev-critical")
    assert b.eval("document.getElementById('f-sev').value") == ""
    assert len({r["sev"] for r in visible_rows(b, "#findings tbody tr.row")}) > 1


def test_filters_from_the_url_and_host_search(browser, report, fleet):
    load(browser, report, "#sev=high&cat=dns")
    b = browser
    rows = visible_rows(b, "#findings tbody tr.row")
    assert rows and all(r["sev"] == "high" and r["cat"] == "dns" for r in rows)
    assert b.eval("document.getElementById('f-cat').value") == "dns"
    # typing into the host box (real key input) narrows findings, drift and unreachable
    target = next(h for h in fleet.failed_hosts if "pwned" not in h.error.message)
    b.eval("document.getElementById('f-clear').click(); document.getElementById('f-host').focus()")
    b.call("Input.insertText", {"text": target.name})
    assert wait_for(b, "location.hash.includes('host=')")  # applied after a short debounce
    unreachable = b.eval("[...document.querySelectorAll('#unreachable tbody tr.row')].map(r => r.textContent)")
    assert len(unreachable) == 1 and target.name in unreachable[0] and target.error.cls in unreachable[0]
    assert b.eval("document.querySelectorAll('#hosts details.host').length") == 1


def test_host_link_opens_lazily_built_detail(browser, report, fleet):
    load(browser, report, "?sev=critical")
    b = browser
    name = b.eval("document.querySelector('#findings tbody tr.row a.host').textContent")
    assert b.eval("document.querySelectorAll('.hbody').length") == 0  # nothing built up front
    b.click("#findings tbody tr.row a.host")
    detail = wait_for(b, f"""(() => {{ const d = document.querySelector('details.host[data-host={json.dumps(name)}]');
        return d && d.open && d.querySelector('.hbody') ? d.querySelector('.hbody').innerText : null }})()""")
    assert detail and "FACT SUMMARY" in detail.upper() and "DRIFT AGAINST THE BASELINE" in detail.upper()
    host = fleet.hosts[name]
    assert host.facts["system"]["kernel"] in detail
    assert all(f.title in detail for f in fleet.findings if f.host == name)


def test_hostile_host_data_runs_no_script(browser, report, fleet):
    load(browser, report)
    b = browser
    hostile = [n for n in fleet.hosts][:2]  # host 0: XSS in facts/findings; host 1: in its error
    for name in hostile:  # open everything that shows the payloads, with real clicks
        b.eval(f"document.getElementById('f-host').value = ''; location.hash = 'open=' + encodeURIComponent({json.dumps(name)})")
        time.sleep(0.2)
        sel = f"details.host[data-host={json.dumps(name)}]"
        assert wait_for(b, f"!!document.querySelector({json.dumps(sel)})?.querySelector('.hbody')")
        b.click(sel + " > summary")  # closes; the body built on open stays
        b.click(sel + " > summary")
        assert wait_for(b, f"document.querySelector({json.dumps(sel)}).open")
    b.eval("location.hash = 'host=' + encodeURIComponent(" + json.dumps(hostile[0]) + ")")
    time.sleep(0.2)
    for _ in range(b.eval("document.querySelectorAll('#findings tr.row').length")):
        b.click("#findings tbody tr.row:not(.open) .ttl")  # expand: why, evidence, fix
    assert b.eval("document.querySelectorAll('#findings tr.detail').length") >= 2
    b.eval("document.querySelectorAll('details.mx').forEach(d => d.open = true)")
    n_mx = b.eval("document.querySelectorAll('details.mx').length")
    assert n_mx and wait_for(b, f"document.querySelectorAll('details.mx table.vals').length === {n_mx}")
    text = b.eval("document.body.innerText")
    assert XSS_SCRIPT in text and XSS_IMG in text  # shown, as text
    assert b.eval("typeof window.__pwned") == "undefined"
    assert b.eval("document.querySelectorAll('img').length") == 0
    assert b.eval("document.querySelectorAll('script').length") == 2
    assert b.eval("[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                  ".some(a => a.name.startsWith('on'))).length") == 0
    assert b.eval("window.__violations") == []


def test_csp_blocks_inline_handlers_and_injected_scripts(browser, report, tmp_path):
    # Simulate an escaping bug: raw markup with handlers lands in the page. The CSP must
    # stop it while the report's own (hashed) script keeps working.
    html = report.read_text(encoding="utf-8")
    injected = ('<img id="inj-img" src="data:," onerror="window.__csp_handler=1">'
                '<button id="inj-btn" onclick="window.__csp_click=1">x</button>'
                '<script>window.__csp_inline=1</script>')
    bad = tmp_path / "injected.html"
    bad.write_text(html.replace("<body>", "<body>" + injected, 1), encoding="utf-8")
    load(browser, bad)
    b = browser
    b.click("#inj-btn")
    time.sleep(0.2)
    assert b.eval("[typeof window.__csp_handler, typeof window.__csp_click, typeof window.__csp_inline]") \
        == ["undefined"] * 3
    violations = b.eval("window.__violations")
    assert any(v.startswith("script-src-attr") for v in violations), violations
    assert any(v.startswith("script-src-elem") for v in violations), violations
    assert b.eval("document.querySelectorAll('#findings tbody tr.row').length") > 0  # ours ran


def test_10000_host_report_loads_fast(browser, report10k):
    path = report10k  # generated once per session (conftest.py)
    b = browser
    b.navigate("about:blank")
    start = time.monotonic()
    b.navigate(path.as_uri())
    ready = b.eval("document.documentElement.getAttribute('data-ready')")
    elapsed = time.monotonic() - start
    assert ready == "1"
    assert elapsed < 15, f"10,000-host report took {elapsed:.1f}s to load"
    start = time.monotonic()
    b.eval("const s = document.getElementById('f-sev'); s.value = 'high'; s.dispatchEvent(new Event('change'))")
    assert time.monotonic() - start < 5
    heap = b.call("Runtime.getHeapUsage")["usedSize"]
    assert heap < 150 * 1024 * 1024, heap


def _png_size(path: Path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_screenshot(browser, tmp_path):
    """The README screenshot: a realistic fleet, summary and findings, first finding open."""
    path = tmp_path / "report.html"
    path.write_text(render_html(synthetic_run(1000), title="fleetaudit report: prod"), encoding="utf-8")
    load(browser, path)
    b = browser
    b.click("#findings tbody tr.row .ttl")
    b.eval("window.scrollTo(0, 0)")
    shot = tmp_path / "report.png"
    b.screenshot(shot, full_height=1180)
    width, height = _png_size(shot)
    assert (width, height) == (1440, 1180)
    assert shot.stat().st_size > 60_000  # a rendered page, not a blank one
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "report.png")


@pytest.mark.parametrize("case", ["empty", "no-extras"])
def test_sparse_runs_render_without_errors(browser, tmp_path, case):
    from fleetaudit.models import HostError, HostResult, RunResult
    facts = json.loads((ROOT / "tests/facts/system/rocky9.json").read_text())["facts"]
    result = RunResult() if case == "empty" else RunResult(
        hosts={"app-7": HostResult("app-7", "192.0.2.7", facts={"system": facts}),
               "db-1": HostResult("db-1", "192.0.2.8", status="unreachable",
                                  error=HostError("auth", "Permission denied (publickey)"))},
        findings=[{"host": "app-7", "rule": "ARCH-DIFFERS", "category": "arch", "severity": "high",
                   "title": "Architecture aarch64 differs from the fleet"}])
    path = tmp_path / "sparse.html"
    path.write_text(render_html(result), encoding="utf-8")
    load(browser, path)
    b = browser
    b.drain(0.2)
    assert not [t for t in b.log_texts() if "EXCEPTION" in t]
    assert "No fact matrix in this run" in b.eval("document.getElementById('matrix').innerText")
    if case == "no-extras":
        assert b.eval("document.querySelectorAll('#findings tbody tr.row').length") == 1
        b.click("details.host[data-host='app-7'] > summary")
        assert "Rocky Linux 9.3" in wait_for(
            b, "document.querySelector('details.host[data-host=\"app-7\"] .hbody')?.innerText")
