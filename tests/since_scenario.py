"""A drift scenario built from the captured demo snapshot, for the report tests.

The current run is tests/data/snapshots/demo-subset.json plus one hostile finding and one
hostile host that appeared (unreachable); the previous run differs by hand-made edits
whose effect we know: the tls finding on no-ca is new, a clock finding on good-1 is
resolved, good-2's eth0 MTU changed (9000 -> 1500), old-1 vanished, and a waiver covers the plaintext proxy
password finding on env-proxy. The comparison itself is the real
fleetaudit.compare.since.changes_since with a real waiver file.
"""
import copy
import json
from pathlib import Path

from bench.synthetic import XSS_IMG, XSS_SCRIPT
from fleetaudit import snapshot
from fleetaudit.compare.since import changes_since
from fleetaudit.models import SEVERITIES
from fleetaudit.waivers import parse_waivers

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"
HOSTILE_HOST = "evil" + XSS_IMG
HISTORY_RUNS = 9   # earlier runs in the chart, plus the current one

WAIVERS = """\
version: 1
waivers:
  - hosts: env-proxy
    rule: proxy.credentials-plaintext
    reason: "rotating the proxy account (CHG-42) """ + XSS_SCRIPT.replace('"', "'") + """"
    owner: platform-team
    expires: 2099-12-31
"""


def build():
    """(RunResult with a drift_since_last section, the SinceLast, history dict)."""
    cur = json.loads(SNAP.read_text())
    cur["findings"].append({
        "host": "env-proxy", "rule": "dns.hostile", "category": "dns", "severity": "critical",
        "title": "resolver says " + XSS_SCRIPT, "evidence": [{"fact": "dns.resolv_conf"}],
        "remediation": [XSS_IMG], "why": XSS_SCRIPT})
    cur["hosts"][HOSTILE_HOST] = {"status": "unreachable", "address": "10.0.0.66",
                                  "error": {"class": "refused", "message": XSS_SCRIPT}, "facts": {}}
    prev = copy.deepcopy(cur)
    prev["run"]["started"] = "2026-11-29T13:21:10Z"
    prev["run"]["finished"] = "2026-11-29T13:21:12Z"
    del prev["hosts"][HOSTILE_HOST]
    prev["hosts"]["old-1"] = copy.deepcopy(cur["hosts"]["good-3"])
    prev["findings"] = [f for f in cur["findings"] if f["category"] != "tls"] + [{
        "host": "good-1", "rule": "clock.skew", "category": "time", "severity": "medium",
        "title": "clock skew " + XSS_IMG, "evidence": [{"fact": "time.clock.skew_s"}]}]
    prev["hosts"]["good-2"]["facts"]["network"]["interfaces"][0]["mtu"] = 9000
    waivers = parse_waivers(WAIVERS, "waivers.yml")
    since = changes_since(prev, cur, waivers=waivers, previous_ref=None, today="2026-11-29")
    cur["drift_since_last"] = since.to_json()
    result = snapshot.load_doc(cur) if hasattr(snapshot, "load_doc") else _result(cur)
    return result, since, history(cur)


def _result(doc):
    from fleetaudit.models import HostResult, RunResult
    hosts = {n: HostResult.from_json(n, h) for n, h in doc["hosts"].items()}
    extra = {k: v for k, v in doc.items() if k not in ("schema", "run", "hosts", "findings", "catalog")}
    return RunResult(run=doc["run"], hosts=hosts, catalog=doc.get("catalog") or {},
                     findings=list(doc["findings"]), extra=extra)


def history(cur):
    """What render.history_view.report_history returns: runs oldest first (RunInfo JSON)
    with findings per severity, and earlier fact changes per host."""
    runs = []
    series = {"critical": [0, 0, 0, 0, 0, 0, 0, 1, 1], "high": [1, 1, 2, 3, 3, 2, 1, 1, 1],
              "medium": [4, 4, 3, 3, 2, 2, 2, 1, 2], "low": [2, 2, 2, 1, 1, 1, 0, 0, 0],
              "info": [0, 1, 1, 1, 1, 1, 1, 1, 1]}
    for i in range(HISTORY_RUNS):
        counts = {s: series[s][i] for s in SEVERITIES}
        runs.append({"id": 31 + i, "kind": "drift", "started": f"2026-11-29T{4 + i:02d}:00:00Z",
                     "findings": counts, "hosts": {"ok": 6}})
    counts = {s: 0 for s in SEVERITIES}
    for f in cur["findings"]:
        counts[f["severity"]] += 1
    runs.append({"id": 40, "kind": "drift", "started": cur["run"]["started"], "findings": counts})
    facts = {"good-2": [{"path": "network.interfaces.eth0.mtu", "before": 1500, "after": 9000,
                         "change": "changed", "run_id": 35, "started": "2026-11-29T08:00:00Z"}],
             "no-ca": [{"path": "tls.extra_cas." + XSS_SCRIPT, "before": None, "after": XSS_IMG,
                        "change": "added", "run_id": 33, "started": "2026-11-29T06:00:00Z"}]}
    return {"runs": runs, "facts": facts}
