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


def test_history_from_a_real_store_feeds_the_chart_and_host_fact_log(tmp_path):
    """Three runs recorded into a real SQLite history store, each carrying the
    drift_since_last section changes_since computed against the run before."""
    import copy
    from fleetaudit.compare.since import changes_since
    from fleetaudit.history import open_store
    from fleetaudit.models import SEVERITIES
    from fleetaudit.render.history_view import report_history

    base = json.loads(since_scenario.SNAP.read_text())
    docs = []
    for i, mtu in enumerate((1500, 9000, 1400)):
        doc = copy.deepcopy(base)
        doc["run"]["started"] = f"2026-11-29T1{i}:00:00Z"
        doc["hosts"]["good-2"]["facts"]["network"]["interfaces"][0]["mtu"] = mtu
        doc["findings"] = base["findings"][: i + 1]
        docs.append(doc)
    with open_store(tmp_path / "h.sqlite") as store:
        prev, ids = None, []
        for doc in docs:
            doc["drift_since_last"] = changes_since(prev, doc).to_json()
            ids.append(store.record(doc, "inv", "drift"))
            prev = doc
        history = report_history(store, "inv", runs=10, upto=ids[-1])
        early = report_history(store, "inv", runs=10, upto=ids[1])
    assert [r["id"] for r in history["runs"]] == ids
    assert [r["id"] for r in early["runs"]] == ids[:2]
    counts = [[r["findings"].get(s, 0) for s in SEVERITIES] for r in history["runs"]]
    assert [sum(c) for c in counts] == [1, 2, 3]
    # run 2 recorded 1500 -> 9000; run 3 (the current one) is not read back
    assert history["facts"] == {"good-2": [{
        "path": "network.interfaces.eth0.mtu", "before": 1500, "after": 9000, "change": "changed",
        "run_id": ids[1], "started": "2026-11-29T11:00:00Z"}]}
    result = snapshot.load(since_scenario.SNAP)
    result.extra["drift_since_last"] = docs[-1]["drift_since_last"]
    data = island(render_html(result, history=history))
    assert [r[2] for r in data["hs"]["r"]] == counts
    S = data["s"]
    log = [(S[f[1]], S[f[3]], S[f[4]], S[f[5]], f[6] & 1) for f in data["fx"]]
    assert log == [("network.interfaces.eth0.mtu", "9000", "1400", "2026-11-29 12:00Z", 1),
                   ("network.interfaces.eth0.mtu", "1500", "9000", f"run {ids[1]}, 2026-11-29 11:00Z", 0)]


def test_load_section_reads_one_section_without_the_hosts(tmp_path):
    import copy
    import pytest
    from fleetaudit.history import HistoryError, open_store
    doc = json.loads(since_scenario.SNAP.read_text())
    doc["drift_since_last"] = {"facts": [{"host": "good-2", "path": "a", "before": 1, "after": 2}]}
    with open_store(tmp_path / "h.sqlite") as store:
        run = store.record(copy.deepcopy(doc), "inv", "drift")
        bare = store.record({k: v for k, v in doc.items() if k != "drift_since_last"}, "inv", "audit")
        assert store.load_section(run, "drift_since_last") == doc["drift_since_last"] == store.load(run)["drift_since_last"]
        assert store.load_section(run, "schema") == doc["schema"]  # kept inline
        assert store.load_section(run, "matrix") == doc["matrix"]
        assert store.load_section(bare, "drift_since_last") is None
        with pytest.raises(HistoryError):
            store.load_section(run, "hosts")
        with pytest.raises(HistoryError):
            store.load_section(9999, "matrix")


def test_unverified_findings_get_their_own_state_and_badge():
    """Last run's findings on a host this run could not check: state code 3, a badge."""
    result, since, history = since_scenario.build()
    section = result.extra["drift_since_last"]
    moved = section["findings"]["resolved"]
    assert moved, "the scenario has a resolved finding to re-label"
    section["findings"]["unverified"] = [dict(f, state="unverified") for f in moved]
    section["findings"]["resolved"] = []
    html = render_html(result, history=history)
    sl = island(html)["sl"]
    assert sorted(c[0] & 3 for c in sl["fc"] if c[0] & 3 in (2, 3)) == [3] * len(moved)
    assert f'data-ch="unverified" title="Show unverified findings">unverified <b>{len(moved)}</b>' in html
