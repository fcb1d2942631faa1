"""The Markdown drift digest: exact rows from a real comparison, escaping of host text."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from fleetaudit.compare.since import changes_since
from fleetaudit.render.digest import render_digest

SNAP = Path(__file__).parent / "data" / "snapshots" / "demo-subset.json"


def test_digest_of_a_real_change():
    base = json.loads(SNAP.read_text())
    cur = copy.deepcopy(base)
    for iface in cur["hosts"]["good-3"]["facts"]["network"]["interfaces"]:
        if iface["name"] == "eth0":
            iface["mtu"] = 1400
    cur["hosts"]["no-ca"] = {"status": "unreachable", "facts": {},
                             "error": {"class": "refused", "message": "refused"}}
    cur["findings"] = [f for f in cur["findings"] if f["host"] != "no-ca"]
    text = render_digest(changes_since(base, cur).to_json())
    assert text.splitlines() == [
        "### fleetaudit drift: new drift",
        "",
        "**Since run None** (2026-11-29T14:21:10Z) → run None (2026-11-29T14:21:10Z)  ",
        "**Findings:** 0 new · 0 resolved · 2 persisting · 1 unverified  ",
        "**Facts changed:** 1  ",
        "",
        "#### Not re-checked (host unreachable or cut short; not resolved) (1)",
        "",
        "| Severity | Host | Finding |",
        "| --- | --- | --- |",
        "| high | no-ca | Certificate signed by an unknown CA: 3 pull errors in the daemon log "
        "(last 24 h) (logs.tls) |",
        "",
        "#### Changed facts (1)",
        "",
        "| Host | Fact | Before | After | Waiver |",
        "| --- | --- | --- | --- | --- |",
        "| good-3 | network.interfaces.eth0.mtu | 1500 | 1400 |  |",
        "",
        "#### Hosts (1)",
        "",
        "| Host | Change | Error |",
        "| --- | --- | --- |",
        "| no-ca | unreachable | refused |",
    ]


def test_host_text_cannot_break_the_digest():
    base = json.loads(SNAP.read_text())
    cur = copy.deepcopy(base)
    evil = "x|<script>`*[a](b)\n## hi"
    cur["hosts"]["good-1"]["facts"]["dns"]["resolv_conf"]["search"] = [evil]
    text = render_digest(changes_since(base, cur).to_json())
    row = next(line for line in text.splitlines() if "resolv\\_conf.search" in line)
    assert "<script>" not in text and "\n## hi" not in text
    assert row.count(" | ") == 4  # five cells: the | inside the value is escaped
    assert "&lt;script&gt;" in row and "x\\|" in row
