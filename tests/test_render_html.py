"""HTML report: self-contained, CSP-locked, escaped, deduplicated, within its size budget.

The live-DOM behaviour (filters, script not running) is in tests/browser/.
"""
import base64
import hashlib
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.synthetic import XSS_IMG, XSS_SCRIPT, synthetic_run
from fleetaudit.models import Finding, HostError, HostResult, RunResult
from fleetaudit.render.html import json_island, render_html
from fleetaudit.snapshot import to_json

FACTS = Path(__file__).parent / "facts"
MB = 1_000_000


class _Doc(HTMLParser):
    """What the browser's parser would see: elements, inline scripts/styles, attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags, self.scripts, self.styles, self.metas = [], [], [], []
        self._in = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "meta":
            self.metas.append(attrs)
        if tag in ("script", "style"):
            self._in = (tag, attrs, [])

    def handle_data(self, data):
        if self._in:
            self._in[2].append(data)

    def handle_endtag(self, tag):
        if self._in and tag == self._in[0]:
            kind, attrs, parts = self._in
            (self.scripts if kind == "script" else self.styles).append((attrs, "".join(parts)))
            self._in = None


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _island(html: str) -> dict:
    doc = _Doc(html)
    (data,) = [body for attrs, body in doc.scripts if attrs.get("type") == "application/json"]
    return json.loads(data)


def _realistic_system(name: str) -> dict:
    return json.loads((FACTS / "system" / name).read_text())["facts"]


@pytest.fixture(scope="module")
def hostile_html():
    return render_html(synthetic_run(200, hostile=True))


def test_self_contained_no_external_fetch(hostile_html):
    doc = _Doc(hostile_html)
    for tag, attrs in doc.tags:
        for attr in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(attr)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {attr}={value!r}> would load something"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    assert not re.search(r"url\(\s*['\"]?(?!data:)", hostile_html), "CSS must not fetch"
    assert "@import" not in hostile_html


def test_csp_allows_exactly_the_inline_style_and_script(hostile_html):
    doc = _Doc(hostile_html)
    assert doc.tags[0][0] == "html" and doc.tags[2] == ("meta", {"charset": "utf-8"})
    csp_meta = doc.tags[3][1]  # right after the charset, before any host content
    assert csp_meta["http-equiv"] == "Content-Security-Policy"
    directives = dict(d.strip().split(" ", 1) for d in csp_meta["content"].split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    (style,) = [body for _, body in doc.styles]
    executable = [body for attrs, body in doc.scripts if attrs.get("type") != "application/json"]
    assert len(executable) == 1
    assert directives["style-src"] == f"'{_sha(style)}'"
    assert directives["script-src"] == f"'{_sha(executable[0])}'"
    assert "unsafe-inline" not in csp_meta["content"] and "unsafe-eval" not in csp_meta["content"]
    # no element carries an inline handler or style attribute the CSP would have to allow
    for tag, attrs in doc.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        assert "style" not in attrs, (tag, attrs)


def test_hostile_host_strings_stay_data(hostile_html):
    # The payloads never appear as markup anywhere in the document...
    assert "<script>window.__pwned" not in hostile_html
    assert "<img src=x" not in hostile_html and "onerror=" not in hostile_html.replace("\\u003e", "")\
        .split('id="fa-data"')[0]
    doc = _Doc(hostile_html)
    assert not [t for t, _ in doc.tags if t == "img"]
    assert len([t for t, _ in doc.tags if t == "script"]) == 2  # the data island + our script
    # ...yet they survive as exact strings in the data island, for textContent display.
    strings = _island(hostile_html)["s"]
    assert any(XSS_SCRIPT in s for s in strings)
    assert any(XSS_IMG in s for s in strings)
    # control characters from a host are shown as escapes, not passed to the page
    assert any("\\x07\\x1b[31m banner" in s for s in strings)
    assert not any(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", s) for s in strings)


@pytest.mark.parametrize("payload", [
    "</script><script>alert(1)</script>", "<!-- <script>", "</SCRIPT >", "a\u2028b\u2029c",
    "]]>", "\\u003c/script>", "&lt;", "\"'`", "\ud83d\ude00 emoji", "\x00nul",
])
def test_json_island_escaping_round_trips(payload):
    text = json_island({"k": [payload, {payload: payload}]})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"k": [payload, {payload: payload}]}


def test_run_metadata_is_autoescaped():
    result = synthetic_run(5)
    result.run["inventory"] = "<b>inv</b>.ini"
    result.extra["baseline"] = {"kind": "host", "name": '"><script>x()</script>'}
    html = render_html(result, title="audit <i>prod</i>")
    assert "<b>inv</b>" not in html and "&lt;b&gt;inv&lt;/b&gt;.ini" in html
    assert "<script>x()" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<title>audit &lt;i&gt;prod&lt;/i&gt;</title>" in html
    assert "golden host" in html


def test_summary_counts_are_server_rendered():
    result = synthetic_run(1000)
    html = render_html(result)
    counts = result.counts()
    assert "1,000" in html
    for status, n in counts.items():
        assert re.search(rf'class="st-{status}">.*?{status} <b>{n:,}</b>', html)
    crit = sum(1 for f in result.findings if f.severity == "critical")
    assert re.search(rf'sev-critical[^>]*>\s*<span class="sev-n">{crit:,}</span>', html)
    # unreachable hosts by error class in the "Not audited" card
    for cls in {h.error.cls for h in result.failed_hosts}:
        assert f"<code>{cls}</code>" in html


def test_identical_findings_on_many_hosts_share_one_row():
    result = synthetic_run(1000, hub_anonymous_rate=1.0)
    anon = [f for f in result.findings if f.rule == "RATELIMIT-HUB-ANONYMOUS"]
    assert len(anon) > 900
    data = _island(render_html(result))
    rows = [g for g in data["f"] if data["s"][g[2]] == "RATELIMIT-HUB-ANONYMOUS"]
    # evidence differs only where the host's facts differ (root creds present or not)
    assert 1 <= len(rows) <= 3
    assert sum(len(g[7]) for g in rows) == len(anon)
    assert data["s"].count("Docker Hub pulls are anonymous (100 pulls / 6 h per IP)") == 1


def test_matrix_lists_hosts_only_for_outlier_values():
    result = synthetic_run(1000)
    data = _island(render_html(result))
    s = data["s"]
    by_path = {s[m[0]]: m for m in data["m"]}
    ns = by_path["dns.resolv_conf.nameservers"]
    majority = ns[2][0]
    assert s[majority[0]] == '["10.0.0.53", "10.0.1.53"]' and majority[2] is None
    outlier_hosts = {s[data["h"][h][0]] for v in ns[2][1:] for h in v[2]}
    expected = {d["host"] for items in result.extra["drift"].values() for d in items
                if d["path"] == "dns.resolv_conf.nameservers"}
    assert outlier_hosts == expected
    assert ns[5] == 0
    # a per-host fact is flagged as varying, not presented as 999 outliers
    assert by_path["system.hostname"][5] == 1
    assert len(by_path["system.hostname"][2]) == 12 and by_path["system.hostname"][3] > 900


def test_drift_is_grouped_and_covers_every_item():
    result = synthetic_run(1000)
    data = _island(render_html(result))
    s = data["s"]
    got = {(s[data["h"][h][0]], s[d[0]]) for d in data["d"] for h in d[6]}
    want = {(host, item["path"]) for host, items in result.extra["drift"].items() for item in items}
    assert got == want
    assert len(data["d"]) < sum(len(v) for v in result.extra["drift"].values())


def test_tolerates_missing_extras_and_dict_findings():
    facts = {"system": _realistic_system("rocky9.json")}
    result = RunResult(
        run={},
        hosts={"app-7": HostResult("app-7", "192.0.2.7", facts=facts),
               "db-1": HostResult("db-1", "192.0.2.8", status="unreachable",
                                  error=HostError("refused", "connect: Connection refused"))},
        findings=[{"host": "app-7", "rule": "X", "category": "dns", "severity": "high",
                   "title": "t", "evidence": ["plain string", {"fact": "dns.x", "actual": 1}],
                   "remediation": "one command, not a list"},
                  {"host": "ghost", "rule": "Y", "category": "weird", "severity": "bogus",
                   "title": "host not in inventory"}],
        extra={"matrix": "not a dict", "drift": {"app-7": ["junk", None]}},
    )
    html = render_html(result)
    data = _island(html)
    names = [data["s"][h[0]] for h in data["h"]]
    assert names == ["app-7", "db-1", "ghost"]
    assert data["m"] == [] and data["d"] == []
    assert "Baseline: none" in html
    app = data["h"][0]
    summary = dict(zip(data["sk"], [data["s"][i] if i >= 0 else None for i in app[7]]))
    assert summary["OS"] == "Rocky Linux 9.3 (Blue Onyx)" and summary["Arch"] == "aarch64"
    assert summary["Docker engine"] is None  # no docker facts: shown as absent, no crash
    assert data["s"][data["h"][1][3]] == "refused"
    render_html(RunResult())  # an empty run renders too


def test_per_host_detail_is_compact_not_a_fact_dump():
    result = synthetic_run(300)
    html = render_html(result)
    data = _island(html)
    # Facts every host shares and that no summary shows are not in the report at all:
    # the full fact trees live in the JSON snapshot, which is far bigger.
    blob = json.dumps(data)
    for shared in ("json-file", "edns0", "min_api_version", "cgroup_driver"):
        assert shared not in blob
    assert all(len(h[7]) in (0, len(data["sk"])) for h in data["h"])
    snapshot = json.dumps(to_json(result))
    assert len(html) < len(snapshot) / 10


def _budget(n: int, **kw):
    result = synthetic_run(n, **kw)
    start = time.process_time()
    html = render_html(result)
    return len(html.encode("utf-8")), time.process_time() - start


def test_budget_1000_hosts_under_3mb():
    size, cpu = _budget(1000)
    assert size < 3 * MB, size
    assert cpu < 5, cpu


def test_budget_10000_hosts_under_10mb():
    size, cpu = _budget(10_000)
    assert size < 10 * MB, size
    assert cpu < 30, cpu


def test_budget_holds_when_every_host_drifts():
    # Worst case for dedupe: every host planted with faults whose values differ per host.
    size, _ = _budget(10_000, fault_rate=1.0, hub_anonymous_rate=1.0)
    assert size < 10 * MB, size


def test_long_values_are_capped():
    result = synthetic_run(3)
    name = next(iter(result.hosts))
    result.findings.append(Finding(host=name, rule="BIG", category="daemon", severity="low",
                                   title="x" * 50_000, evidence=[{"path": "p", "actual": "y" * 50_000}]))
    data = _island(render_html(result))
    assert max(len(s) for s in data["s"]) < 2100


def test_group_names_are_escaped_in_the_filter_and_data_in_the_matrix(hostile_html):
    """Inventory group names (issue 16) are as untrusted as host data: autoescaped in the
    server-rendered group <select>, plain strings in the island's group matrix."""
    from bench.synthetic import XSS_GROUP
    from html import escape
    assert XSS_GROUP not in hostile_html
    assert f'<option value="{escape(XSS_GROUP)}">{escape(XSS_GROUP, quote=False)}</option>' in hostile_html
    data = _island(hostile_html)
    names = [data["s"][r[0]] for r in data["gm"]["r"]]
    assert XSS_GROUP in names and "zone_eu1" in names
    heads = [data["s"][c] for c in data["gm"]["c"]]
    assert heads and all(len(r[3]) == len(heads) for r in data["gm"]["r"])
    # every host row lists its groups, by string index
    assert all(data["s"][g] in names for h in data["h"] for g in h[9])


def test_shown_scalars_are_what_the_json_encoder_writes():
    """_show's shortcuts for bool and int give the encoder's text exactly."""
    import json
    from fleetaudit.render import html as html_mod
    enc = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)
    for value in (True, False, 0, -1, 1500, 2**70, -(2**64)):
        assert html_mod._show(value) == enc.encode(value)
    assert html_mod._show(1.5) == "1.5" and html_mod._show([1, True]) == "[1, true]"


def test_cleaned_text_is_not_kept_after_the_report():
    """Host strings are cleaned once per report (a memo), and forgotten after it."""
    from fleetaudit.render import html as html_mod
    from fleetaudit.models import HostResult, RunResult
    nasty = "evil\x1b]0;title\x07\u202e"
    run = RunResult(hosts={nasty: HostResult(nasty, nasty, facts={"system": {"kernel": nasty}})})
    page = html_mod.render_html(run)
    assert "\\\\x1b]0;title\\\\x07\\\\u202e" in page and "\x1b" not in page  # JSON-escaped in the island
    assert html_mod._clean_str.cache_info().currsize == 0
