"""The drift parts of the HTML report, without a browser: what the data island carries
and what the server-rendered summary says (tests/browser/ runs the same report)."""
import json
import re
import sys
from pathlib import Path

from bench.synthetic import XSS_IMG, XSS_SCRIPT
from fleetaudit import snapshot
from fleetaudit.render.html import render_html

sys.path.insert(0, str(Path(__file__).resolve().parent))
import since_scenario  # noqa: E402


def island(html):
    return json.loads(re.search(r'<script type="application/json" id="fa-data">(.*?)</script>', html, re.S).group(1))


def test_since_section_data_and_summary():
    result, since, history = since_scenario.build()
    html = render_html(result, history=history)
    data = island(html)
    S = data["s"]
    sl = data["sl"]
    states = [("new", "persisting", "resolved")[c[0] & 3] for c in sl["fc"]]
    assert sorted(states) == sorted(["new", "resolved"] + ["persisting"] * 3)
    waived = [c for c in sl["fc"] if c[0] & 4]
    assert len(waived) == 1 and "waivers.yml:3" in S[waived[0][7]]
    # one state per host of each finding group, in the group's host order
    assert [len(st) for st in sl["gs"]] == [len(g[7]) for g in data["f"]]
    tls = next(i for i, g in enumerate(data["f"]) if S[g[1]] == "tls")
    assert sl["gs"][tls] == [0]  # new, not waived
    hc = {S[data["h"][h[0]][0]]: S[h[1]] for h in sl["hc"]}
    assert hc == {"old-1": "vanished", since_scenario.HOSTILE_HOST: "appeared"}
    current = [f for f in data["fx"] if f[6] & 1]
    assert [(S[data["h"][f[0]][0]], S[f[1]], S[f[3]], S[f[4]]) for f in current] == [
        ("good-2", "network.interfaces.eth0.mtu", "9000", "1500")]
    assert len(data["fx"]) == 1 + sum(len(v) for v in history["facts"].values())
    assert [r[2] for r in data["hs"]["r"]][-1] == [1, 2, 1, 0, 0]  # this run: 1 crit, 2 high, 1 medium
    assert 'id="sec-changes"' in html and 'id="sec-history"' in html
    assert "Compared with the previous run (2026-11-29 13:21Z)" in html
    assert '<button type="button" class="chg chg-new" data-ch="new"' in html
    # hostile strings only inside the escaped island, never as markup
    assert XSS_SCRIPT not in html and XSS_IMG not in html


def test_a_run_without_drift_has_no_drift_sections():
    html = render_html(snapshot.load(since_scenario.SNAP))
    data = island(html)
    assert data["sl"] is None and data["hs"] is None and data["fx"] == []
    assert 'id="sec-changes"' not in html and 'id="sec-history"' not in html
    assert 'id="f-ch"' not in html


def test_report_command_rerenders_a_recorded_drift_snapshot(tmp_path):
    from click.testing import CliRunner
    from fleetaudit.cli import main
    result, _, _ = since_scenario.build()
    snap = tmp_path / "drift.json"
    snapshot.save(result, snap)
    res = CliRunner().invoke(main, ["report", str(snap), "-q", "--fail-on", "none",
                                    "--html", str(tmp_path / "r.html")])
    assert res.exit_code == 3, res.output  # the scenario's hostile host is unreachable
    html = (tmp_path / "r.html").read_text()
    assert 'id="sec-changes"' in html and island(html)["sl"]["first"] == 0
