"""The drift parts of the HTML report in real headless chromium: "changed since last run",
change badges that filter, the history chart, per-host fact changes with when.

The scenario (tests/since_scenario.py) is the captured demo snapshot with known edits,
compared by the real changes_since with a real waiver file, and hostile strings in a
finding, a host name, an error message, a waiver reason and fact paths/values.
KEEP_SCREENSHOT=PATH keeps the screenshot (it shows the hostile strings, as text).
"""
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from bench.synthetic import XSS_IMG, XSS_SCRIPT
from fleetaudit.models import SEVERITIES
from fleetaudit.render.html import render_html

# The same headless Chromium fixture (CSP-violation recorder included) as the main report test.
from test_report_browser import _png_size, browser, load, wait_for  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import since_scenario  # noqa: E402


@pytest.fixture(scope="module")
def scenario():
    return since_scenario.build()


@pytest.fixture(scope="module")
def report(tmp_path_factory, scenario):
    result, since, history = scenario
    path = tmp_path_factory.mktemp("since") / "drift.html"
    path.write_text(render_html(result, title="fleetaudit drift: demo", history=history), encoding="utf-8")
    return path


def rows(b, selector):
    return b.eval(f"[...document.querySelectorAll({json.dumps(selector)})].map(r => r.innerText)")


def test_changed_since_last_run_section_renders(browser, report, scenario):
    _, since, _ = scenario
    load(browser, report)
    b = browser
    text = b.eval("document.getElementById('sec-changes').innerText")
    assert "Compared with the previous run (2026-11-29 13:21Z)" in text
    counts = since.counts()
    for state in ("new", "resolved", "persisting"):
        assert b.eval(f"document.querySelector('button.chg[data-ch={state}] b').textContent") == \
            str(counts[f"findings_{state}"])
    assert b.eval("document.querySelector('button.chg[data-ch=waived] b').textContent") == "1"
    changes = b.eval("[...document.querySelectorAll('#changes tbody tr.row')].map(r => r.dataset.ch)")
    assert changes == ["new", "resolved", "persisting", "persisting", "persisting"]  # new first
    facts = rows(b, "#factchg tbody tr.row")
    assert len(facts) == 1 and "good-2" in facts[0] and "network.interfaces.eth0.mtu" in facts[0]
    assert "9000" in facts[0] and "1500" in facts[0]
    hosts = rows(b, "#hostchg tbody tr.row")
    assert len(hosts) == 2
    assert any("old-1" in h and "vanished" in h for h in hosts)
    assert any(since_scenario.HOSTILE_HOST in h and "appeared" in h for h in hosts)
    # badges on findings and hosts
    tls_row = b.eval("[...document.querySelectorAll('#findings tbody tr.row')].find(r => r.dataset.cat === 'tls').innerText")
    assert "NEW" in tls_row.upper()
    assert "waived" in b.eval("[...document.querySelectorAll('#findings tbody tr.row')]"
                              ".find(r => r.innerText.includes('plain text')).innerText")
    nocA = b.eval("document.querySelector('details.host[data-host=\"no-ca\"] > summary').innerText")
    assert "new" in nocA
    good2 = b.eval("document.querySelector('details.host[data-host=\"good-2\"] > summary').innerText")
    assert "1 fact changed" in good2
    b.drain(0.3)
    assert b.requests() == [report.as_uri()]
    assert not [t for t in b.log_texts() if "EXCEPTION" in t]
    assert b.eval("window.__violations") == []


def test_change_badges_filter_findings_changes_and_hosts(browser, report, scenario):
    _, since, _ = scenario
    load(browser, report)
    b = browser
    b.click("button.chg[data-ch=new]")
    assert b.eval("location.hash") == "#ch=new"
    assert b.eval("[...document.querySelectorAll('#findings tbody tr.row')].map(r => r.dataset.cat)") == ["tls"]
    assert b.eval("[...document.querySelectorAll('#changes tbody tr.row')].map(r => r.dataset.ch)") == ["new"]
    assert b.eval("[...document.querySelectorAll('#hosts details.host')].map(d => d.dataset.host)") == ["no-ca"]
    # resolved: gone from the findings table, listed in the changes, its host still findable
    b.click("button.chg[data-ch=resolved]")
    assert b.eval("document.querySelectorAll('#findings tbody tr.row').length") == 0
    assert "Resolved findings are gone" in b.eval("document.getElementById('findings').innerText")
    assert b.eval("[...document.querySelectorAll('#changes tbody tr.row')].map(r => r.dataset.ch)") == ["resolved"]
    assert b.eval("[...document.querySelectorAll('#hosts details.host')].map(d => d.dataset.host)") == ["good-1"]
    b.click("button.chg[data-ch=waived]")
    waived = rows(b, "#changes tbody tr.row")
    assert len(waived) == 1 and "platform-team" in waived[0] and "waivers.yml:3" in waived[0]
    assert b.eval("[...document.querySelectorAll('#hosts details.host')].map(d => d.dataset.host)") == ["env-proxy"]
    b.click("button.chg[data-ch=waived]")  # again: filter off
    assert b.eval("document.getElementById('f-ch').value") == ""
    assert b.eval("document.querySelectorAll('#changes tbody tr.row').length") == 5
    # the URL carries the filter: a fresh load with #ch=persisting&sev=high
    load(b, report, "#ch=persisting&sev=high")
    got = b.eval("[...document.querySelectorAll('#changes tbody tr.row')].map(r => [r.dataset.ch, r.dataset.sev])")
    assert got == [["persisting", "high"]]


def test_history_chart_has_a_series_per_severity_with_a_point_per_run(browser, report, scenario):
    _, _, history = scenario
    load(browser, report)
    b = browser
    series = b.eval("[...document.querySelectorAll('#history-chart svg g.series')].map(g => g.dataset.sev)")
    assert series == list(reversed(SEVERITIES))  # critical painted last: on top where lines meet
    n_runs = len(history["runs"])
    assert n_runs == since_scenario.HISTORY_RUNS + 1
    points = b.eval("[...document.querySelectorAll('#history-chart svg g.series')]"
                    ".map(g => [g.querySelectorAll('circle').length, g.querySelector('polyline').points.length])")
    assert points == [[n_runs, n_runs]] * len(SEVERITIES)
    # each point carries its run's count, and the last point is this run
    for si, sev in enumerate(SEVERITIES):
        got = b.eval(f"[...document.querySelectorAll('#history-chart g.series[data-sev={sev}] circle')].map(c => +c.dataset.n)")
        assert got == [r["findings"].get(sev, 0) for r in history["runs"]]
    tip = b.eval("document.querySelector('#history-chart g.series[data-sev=high] circle:last-of-type title').textContent")
    assert tip.startswith("run 40 (2026-11-29T14:21:10Z): ")
    # the chart is drawn: the polylines have length, the svg has a real size
    assert b.eval("document.querySelector('#history-chart svg').getBoundingClientRect().height") > 150
    assert b.eval("window.__violations") == []


def test_host_detail_lists_fact_changes_with_when(browser, report):
    load(browser, report, "#open=good-2")
    b = browser
    detail = wait_for(b, "document.querySelector('details.host[data-host=\"good-2\"] .hbody')?.innerText")
    assert detail and "FACT CHANGES, WITH WHEN (2)" in detail.upper()
    log = b.eval("[...document.querySelectorAll('details.host[data-host=\"good-2\"] table.factlog tr')].slice(1).map(r => r.innerText)")
    assert "since last run" in log[0] and "9000" in log[0] and "1500" in log[0]
    assert "run 35, 2026-11-29 08:00Z" in log[1]


def test_hostile_strings_in_drift_data_are_inert(browser, report):
    load(browser, report, "#open=no-ca")
    b = browser
    wait_for(b, "!!document.querySelector('details.host[data-host=\"no-ca\"] .hbody')")
    name = since_scenario.HOSTILE_HOST
    b.eval("location.hash = 'open=' + encodeURIComponent(" + json.dumps(name) + ")")
    sel = f"details.host[data-host={json.dumps(name)}]"
    assert wait_for(b, f"!!document.querySelector({json.dumps(sel)})?.querySelector('.hbody')")
    b.eval("document.getElementById('f-clear').click()")
    text = b.eval("document.body.innerText")
    assert XSS_SCRIPT in text and XSS_IMG in text
    assert b.eval("typeof window.__pwned") == "undefined"
    assert b.eval("document.querySelectorAll('img').length") == 0
    assert b.eval("document.querySelectorAll('script').length") == 2
    assert b.eval("[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                  ".some(a => a.name.startsWith('on'))).length") == 0
    assert b.eval("window.__violations") == []


def test_drift_screenshot(browser, report, tmp_path):
    load(browser, report)
    b = browser
    b.eval("window.scrollTo(0, 0)")
    shot = tmp_path / "drift.png"
    b.screenshot(shot, full_height=1500)
    assert _png_size(shot) == (1440, 1500)
    assert shot.stat().st_size > 60_000
    if os.environ.get("KEEP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["KEEP_SCREENSHOT"])
