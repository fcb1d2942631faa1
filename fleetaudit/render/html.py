"""Self-contained HTML report: one file, no network, strict CSP, small at 10,000 hosts.

Layout of the work: the summary (counts only) is rendered by jinja2 with autoescape on;
everything host-specific travels once, deduplicated, in a JSON data island that the
report's single inline script turns into DOM with textContent (never innerHTML), page by
page and on demand. That keeps a 10,000-host report to a few MB: repeated strings are
interned, identical findings and drift items on many hosts collapse into one row with a
host list, the fact matrix lists hosts only for outlier values, and per-host detail is a
compact fact summary (the full facts live in the JSON snapshot).

The CSP allows exactly the report's own inline style and script, by sha256.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import jinja2

from ..models import CATEGORIES, SEVERITIES, STATUSES, RunResult, severity_rank
from ..models import get_field as _get
from ..snapshot import dumps
from .safe import visible
from ..compare.since import finding_key
from .since_view import SinceView, read_since
from .rows import NO_GROUP, fold_findings, group_breakdown, host_groups_of

# Caps: the report shows enough to act on; the snapshot has the rest.
MAX_VALUE_CHARS = 400        # one displayed value (a fact, an expected/actual, a message)
MAX_TEXT_CHARS = 2000        # titles, why, remediation lines, evidence strings
MAX_MATRIX_VALUES = 12       # distinct values shown per fact path (the rest are counted)
MAX_HOSTS_PER_VALUE = 500    # outlier host names listed per matrix value
MAX_ITEMS = 50               # evidence / remediation entries per finding

# Per-host compact fact summary: label -> how to read it from the facts.
SUMMARY_FIELDS: Tuple[Tuple[str, str], ...] = (
    ("OS", "system.os.pretty_name"),
    ("Kernel", "system.kernel"),
    ("Arch", "system.arch"),
    ("Docker engine", "docker"),
    ("Storage driver", "docker.info.storage_driver"),
    ("Data root", "disk"),
    ("MTU (default route)", "network.default_mtu"),
    ("Nameservers", "dns.resolv_conf.nameservers"),
    ("Daemon HTTPS_PROXY", "proxy.daemon.HTTPS_PROXY.value"),
    ("Clock", "time"),
    ("Root registry auth", "credentials.root_has_auth"),
)

BASELINE_LABELS = {"consensus": "fleet consensus (majority value per fact)",
                   "host": "golden host", "snapshot": "saved snapshot", "policy": "policy file"}

# Run metadata shown in the header: key in RunResult.run -> label.
_META_FIELDS = (("inventory", "Inventory"), ("limit", "Limit"), ("started", "Started"),
                ("duration_s", "Duration"), ("hosts", "Hosts in run"))


def render_html(result: RunResult, *, title: Optional[str] = None,
                history: Optional[dict] = None,
                templates: Optional[Union[str, Path]] = None) -> str:
    """The report for `result` as one HTML document (str). Tolerates missing extras.

    A `drift_since_last` section in result.extra adds the "changed since last run"
    section and state badges; `history` (render.history_view.report_history) adds the
    findings-per-severity chart over recent runs and earlier fact changes per host.
    `templates`: a directory holding the user's own copy of TEMPLATE_FILES (restyling);
    TemplatesError when a file is missing."""
    try:
        data, summary = _build(result, history)
        tdir = str(templates) if templates is not None else None
        css, js = _asset("report.css", tdir), _asset("report.js", tdir)
        csp = ("default-src 'none'; "
               f"style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
               "img-src data:; base-uri 'none'; form-action 'none'")
        template = _env(tdir).get_template("report.html.j2")
        return template.render(
            title=_clean(title or "fleetaudit report", 200), csp=csp, css=css, js=js,
            data_json=json_island(data), s=summary,
        )
    finally:
        _clean_str.cache_clear()


def json_island(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no `</script`, no `<!--`.

    Escaping every <, > and & as \\u escapes is valid JSON (they only occur inside
    strings) and leaves the HTML parser nothing to see; U+2028/9 are escaped for any
    consumer that evaluates it as JS.
    """
    text = dumps(data, ensure_ascii=False, separators=(",", ":"))  # strict: no NaN/Infinity
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ---------------------------------------------------------------------------- assets

TEMPLATE_FILES = ("report.html.j2", "report.css", "report.js")


class TemplatesError(ValueError):
    """A --templates directory that cannot render the report; the message names the file."""


def default_templates() -> Union[Path, Traversable]:
    """Where the report's templates are: the project's top-level templates/.

    Installed from a wheel they are inside the package (setup.py maps templates/ to the
    package fleetaudit.templates at build time, so importlib.resources finds them wherever
    the package went: site-packages, --target, a zip); in a checkout (PYTHONPATH or an
    editable install) fleetaudit/templates does not exist and the files are read from
    templates/ beside the package. Both are found relative to the imported package, so
    code and templates always come from the same tree.
    """
    inside = resources.files("fleetaudit").joinpath("templates")
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent.parent / "templates"


def check_templates(directory: Union[str, Path]) -> Path:
    """A user's --templates DIR: every file the report needs must be there (a restyle
    copies the whole set), else TemplatesError naming the missing file."""
    root = Path(directory)
    if not root.is_dir():
        raise TemplatesError(f"{root}: not a directory")
    for name in TEMPLATE_FILES:
        if not (root / name).is_file():
            raise TemplatesError(f"{root / name}: missing (a templates directory holds "
                                 f"{', '.join(TEMPLATE_FILES)}; copy them from the installed set)")
    return root


def _root(templates: Optional[Union[str, Path]]):
    return check_templates(templates) if templates is not None else default_templates()


@lru_cache(maxsize=None)
def _env(templates: Optional[str] = None) -> jinja2.Environment:
    root = _root(templates)
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: root.joinpath(name).read_text(encoding="utf-8")),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@lru_cache(maxsize=None)
def _asset(name: str, templates: Optional[str] = None) -> str:
    return _root(templates).joinpath(name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


# ---------------------------------------------------------------------- text helpers

def _clean(text: Any, cap: int = MAX_TEXT_CHARS) -> str:
    """Host text made displayable: control and bidi characters shown as escapes (the
    same as on the terminal, render.safe; a bidi override would disguise text in the
    page as well), length capped."""
    if type(text) is str:  # exactly str: a subclass may print differently
        return _clean_str(text, cap)
    return _clean_now(text, cap)


def _clean_now(text: Any, cap: int) -> str:
    s = visible(text, newlines=True)
    if len(s) > cap:
        s = s[:cap] + f"… (+{len(s) - cap} chars)"
    return s


# The same strings come back thousands of times at fleet scale (an OS name, a kernel, a
# drift path and its expected value on every drifted host): each is cleaned once per
# report. Bounded, and emptied after each report (render_html) so no host text outlives it.
_clean_str = lru_cache(maxsize=1 << 17)(_clean_now)


# = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "),
# default=str), without building an encoder per shown value
_SHOW_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(", ", ": "),
                              default=str)


def _show(value: Any, cap: int = MAX_VALUE_CHARS) -> str:
    """A fact value as one line of text: strings as they are, the rest as compact JSON."""
    if value == "":
        return '"" (empty)'
    if isinstance(value, str):
        return _clean(value, cap)
    if value is None:
        return "(absent)"
    kind = type(value)
    if kind is bool:  # what the JSON encoder writes, without building one per value
        return _clean("true" if value else "false", cap)
    if kind is int:
        try:
            return _clean(int.__repr__(value), cap)
        except ValueError:  # beyond int's digit limit: as the encoder path below does
            return _clean(repr(value), cap)
    try:
        text = _SHOW_JSON.encode(value)
    except (TypeError, ValueError):
        text = repr(value)
    return _clean(text, cap)


@lru_cache(maxsize=256)
def _path_parts(path: str) -> Tuple[str, ...]:
    return tuple(path.split("."))


def _dig(facts: Any, path: str) -> Any:
    for part in _path_parts(path):
        if not isinstance(facts, dict):
            return None
        facts = facts.get(part)
    return facts


# -------------------------------------------------------------------- the data island

class _Interner:
    """Every distinct string once; the island refers to strings by index."""

    def __init__(self) -> None:
        self.table: List[str] = []
        self._index: Dict[str, int] = {}

    def __call__(self, text: Optional[str]) -> int:
        if text is None:
            return -1
        idx = self._index.get(text)
        if idx is None:
            idx = self._index[text] = len(self.table)
            self.table.append(text)
        return idx


class _Builder:
    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.s = _Interner()
        self.hosts: List[list] = []
        self.host_idx: Dict[str, int] = {}
        self.group_fkeys: List[Dict[int, List[str]]] = []
        for name, host in (result.hosts or {}).items():
            self._add_host(str(name), host)

    def _add_host(self, name: str, host: Any) -> int:
        status = _get(host, "status", "ok") if host is not None else "unknown"
        error = _get(host, "error") if host is not None else None
        err_cls = _get(error, "cls") or _get(error, "class") if error else None
        err_msg = _get(error, "message") if error else None
        incomplete = _get(host, "incomplete") or {} if host is not None else {}
        facts = _get(host, "facts") or {} if host is not None else {}
        groups = _get(host, "groups") if host is not None else None
        row = [
            self.s(_clean(name, 300)),
            self.s(_clean(_get(host, "address", "") or "", 300)) if host is not None else -1,
            STATUSES.index(status) if status in STATUSES else -1,
            self.s(_clean(err_cls, 100)) if err_cls else -1,
            self.s(_clean(err_msg, MAX_VALUE_CHARS)) if err_msg else -1,
            len(SEVERITIES),  # worst finding severity, filled in by findings()
            0,                # number of findings
            [self.s(v) if v is not None else -1 for v in _summary(facts)] if facts else [],
            self.s(_show(", ".join(f"{k} ({v})" for k, v in sorted(incomplete.items()))))
            if isinstance(incomplete, dict) and incomplete else -1,
            [self.s(_clean(g, 200)) for g in groups if isinstance(g, str)]
            if isinstance(groups, list) else [],
        ]
        self.host_idx[name] = len(self.hosts)
        self.hosts.append(row)
        return self.host_idx[name]

    def host(self, name: Any) -> int:
        name = str(name) if name not in (None, "") else "(fleet)"
        idx = self.host_idx.get(name)
        return idx if idx is not None else self._add_host(name, None)

    def findings(self) -> List[list]:
        """One row per cause (rows.fold_findings), most impact first:
        [sev, cat, rule, title, why, evidence, remediation, hosts, variants, impact], where
        title..remediation are the leading variant's and each variant is
        [sev, title, why, evidence, remediation, hosts]."""
        self.causes = fold_findings(self.result.findings or [])
        out = []
        for c in self.causes:
            fkeys: Dict[int, List[str]] = {}
            variants = []
            for v in c.variants:
                hosts = []
                for f in v.findings:
                    h = self.host(f.host)
                    hosts.append(h)
                    fkeys.setdefault(h, []).append(finding_key(f))
                    row = self.hosts[h]
                    row[5] = min(row[5], severity_rank(v.severity))
                    row[6] += 1
                variants.append([
                    severity_rank(v.severity), self.s(_clean(v.title)), self.s(_clean(v.why)),
                    [self._evidence(e) for e in v.evidence[:MAX_ITEMS]],
                    [self.s(_clean(r)) for r in v.remediation[:MAX_ITEMS]],
                    sorted(set(hosts)),
                ])
            top = variants[0]
            out.append([severity_rank(c.severity), self.s(_clean(c.category, 100)),
                        self.s(_clean(c.rule, 200)), *top[1:5],
                        sorted({h for v in variants for h in v[5]}), variants, c.impact])
            self.group_fkeys.append(fkeys)
        return out

    def groups(self) -> dict:
        """The group x category matrix: {"c": categories, "r": [[group, hosts,
        unreachable, [hosts per category]]]}; empty lists when no host has a group."""
        hosts = self.result.hosts or {}
        status = {str(n): _get(h, "status", "ok") for n, h in hosts.items()}
        gb = group_breakdown(host_groups_of(hosts), status, self.causes)
        return {"ng": NO_GROUP, "c": [self.s(_clean(c, 100)) for c in gb.categories],
                "r": [[self.s(_clean(r.name, 200)), r.hosts, r.unreachable,
                       [r.by_category[c] for c in gb.categories]] for r in gb.rows]}

    def _evidence(self, item: Any):
        if isinstance(item, dict):
            path = item.get("path", item.get("fact", item.get("fact_path")))
            rest = {k: v for k, v in item.items()
                    if k not in ("path", "fact", "fact_path", "expected", "actual")}
            row = [self.s(_show(path) if path is not None else ""),
                   self.s(_show(item.get("expected"))) if "expected" in item else -1,
                   self.s(_show(item.get("actual"))) if "actual" in item else -1]
            if rest:
                row.append(self.s(_show(rest)))
            return row
        return self.s(_show(item, MAX_TEXT_CHARS))

    def drift(self) -> List[list]:
        drift = self.result.extra.get("drift") if isinstance(self.result.extra, dict) else None
        groups: Dict[tuple, list] = {}
        for host, items in (drift or {}).items() if isinstance(drift, dict) else ():
            for d in items if isinstance(items, list) else ():
                if not isinstance(d, dict):
                    continue
                key = (_show(d.get("path", ""), 300), _show(d.get("expected")), _show(d.get("actual")),
                       _clean(d.get("kind") or "", 50), _clean(d.get("detail") or "", MAX_VALUE_CHARS),
                       _clean(d.get("baseline") or "", 200))
                groups.setdefault(key, []).append(self.host(d.get("host") or host))
        out = [[*map(self.s, key), sorted(set(hosts))] for key, hosts in groups.items()]
        out.sort(key=lambda g: (self.s.table[g[0]], -len(g[6])))
        return out

    def matrix(self) -> List[list]:
        matrix = self.result.extra.get("matrix") if isinstance(self.result.extra, dict) else None
        out = []
        for path, entries in (matrix or {}).items() if isinstance(matrix, dict) else ():
            if not isinstance(entries, list) or not entries:
                continue
            entries = [e for e in entries if isinstance(e, dict)]
            entries.sort(key=lambda e: -len(e.get("hosts") or []))  # majority first, always
            total = sum(len(e.get("hosts") or []) for e in entries)
            # A fact that is different nearly everywhere (a hostname, an address list) has
            # no meaningful majority: flag it so the report does not call it drift.
            scattered = int(len(entries[0].get("hosts") or []) <= 1
                            or len(entries) > max(10, total // 2))
            rows = []
            for i, e in enumerate(entries[:MAX_MATRIX_VALUES]):
                names = e.get("hosts") or []
                listed = (None if i == 0 and not scattered
                          else [self.host(n) for n in names[:MAX_HOSTS_PER_VALUE]])
                rows.append([self.s(_show(e.get("value"))), len(names), listed])
            rest = entries[MAX_MATRIX_VALUES:]
            out.append([self.s(_clean(str(path), 300)), total, rows, len(rest),
                        sum(len(e.get("hosts") or []) for e in rest), scattered])
        out.sort(key=lambda m: (m[5], self.s.table[m[0]]))
        return out


    def since(self, view: SinceView) -> dict:
        """The "changed since last run" data: finding changes, fact changes, host changes,
        and per finding group the state of each of its hosts (for the badges)."""
        code = {st: i for i, st in enumerate(STATES)}
        by_key: Dict[str, int] = {}
        changes = []
        for state in STATES:
            for c in view.findings.get(state, []):
                flags = code[state] | _waiver_flags(c.get("waiver"))
                if state != "resolved" and isinstance(c.get("key"), str):
                    by_key[c["key"]] = flags
                changes.append([
                    flags, severity_rank(c.get("severity")), self.s(_clean(c.get("category") or "", 100)),
                    self.s(_clean(c.get("rule") or "", 200)), self.s(_clean(c.get("title") or "")),
                    self.host(c.get("host")), self.s(_when(c.get("first_seen"))),
                    self.s(_waiver_text(c.get("waiver"))) if c.get("waiver") else -1,
                ])
        states = []
        for g, fkeys in zip(self._groups, self.group_fkeys):
            states.append([min((by_key.get(k, -1) for k in fkeys.get(h, ())), default=-1,
                               key=lambda v: (v < 0, v)) for h in g[7]])
        hosts = [[self.host(h.get("host")), self.s(_clean(h.get("change") or "", 50)),
                  self.s(_clean(h.get("before") or "", 50)) if h.get("before") else -1,
                  self.s(_clean(h.get("after") or "", 50)) if h.get("after") else -1,
                  self.s(_clean(f"{_get(h.get('error'), 'class')}: {_get(h.get('error'), 'message')}",
                                MAX_VALUE_CHARS)) if isinstance(h.get("error"), dict) else -1,
                  self.s(_when(h.get("first_seen")))]
                 for h in view.host_items]
        return {"prev": self.s(_when(view.previous) if view.previous else ""),
                "first": int(view.first_run), "fc": changes, "gs": states, "hc": hosts}

    def fact_row(self, f: dict, current: bool) -> list:
        waiver = f.get("waiver") if isinstance(f.get("waiver"), dict) else None
        return [self.host(f.get("host")), self.s(_clean(str(f.get("path")), 300)),
                self.s(_clean(f.get("change") or "changed", 20)),
                self.s(_show(f.get("before"))) if f.get("change") != "added" else -1,
                self.s(_show(f.get("after"))) if f.get("change") != "removed" else -1,
                self.s(_when(f.get("first_seen") or f)),
                (1 if current else 0) | _waiver_flags(waiver)]

    def history(self, history: dict, facts: list) -> dict:
        """Findings per severity over recent runs, oldest first; earlier fact changes are
        appended to `facts` (the island's one list of fact changes, with when)."""
        runs = []
        for r in history.get("runs") or []:
            r = r.to_json() if hasattr(r, "to_json") else r
            if not isinstance(r, dict):
                continue
            counts = r.get("findings") if isinstance(r.get("findings"), dict) else {}
            runs.append([self.s(_clean(f"run {r.get('id')}" if r.get("id") is not None else "run", 50)),
                         self.s(_clean(r.get("started") or "", 40)),
                         [int(counts.get(sev) or 0) for sev in SEVERITIES]])
        for host, items in (history.get("facts") or {}).items():
            items = [f for f in items if isinstance(f, dict)] if isinstance(items, list) else []
            items.sort(key=lambda f: str(f.get("started") or ""), reverse=True)  # newest first
            for f in items:
                if isinstance(f, dict) and isinstance(f.get("path"), str):
                    facts.append(self.fact_row({**f, "host": host}, current=False))
        return {"r": runs}


STATES = ("new", "persisting", "resolved", "unverified")  # codes 0-3: flags & 3
WAIVED, EXPIRED = 4, 8


def _waiver_flags(waiver: Any) -> int:
    status = _get(waiver, "status") if isinstance(waiver, dict) else None
    return WAIVED if status == "waived" else EXPIRED if status == "expired" else 0


def _waiver_text(waiver: Any) -> str:
    if not isinstance(waiver, dict):
        return ""
    parts = [f"{waiver.get('status') or 'waiver'} by {waiver.get('where') or '?'}"]
    for key in ("reason", "owner", "expires"):
        if waiver.get(key):
            parts.append(f"{key}: {waiver[key]}")
    return _clean("; ".join(parts), MAX_VALUE_CHARS)


def _when(ref: Any) -> str:
    """"run 41, 2026-11-29 14:21Z" from a RunRef JSON ({run_id, started}) or a fact row."""
    if not isinstance(ref, dict):
        return ""
    run_id = ref.get("run_id", ref.get("run"))
    started = ref.get("started") or ""
    text = str(started).replace("T", " ")[:16] + ("Z" if started else "")
    if run_id is not None:
        text = f"run {run_id}" + (f", {text}" if text else "")
    return _clean(text or "this run", 80)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _summary(facts: dict) -> List[Optional[str]]:
    out: List[Optional[str]] = []
    for path, parts in _SUMMARY_PATHS:
        if parts is not None:  # a plain fact (the common case): _dig, inlined
            value = facts
            for part in parts:
                if not isinstance(value, dict):
                    value = None
                    break
                value = value.get(part)
            if isinstance(value, list):
                value = ", ".join(map(str, value)) or "(none)"
            out.append(None if value is None else _show(value, 200))
        elif path == "docker":
            out.append(_docker_summary(facts.get("docker")))
        elif path == "disk":
            dr = _dig(facts, "disk.data_root")
            out.append(None if not isinstance(dr, dict) else _clean(
                f"{dr.get('path', '?')}: {dr.get('used_pct', '?')}% used, "
                f"inodes {dr.get('inodes_used_pct', '?')}%", 300))
        elif path == "time":
            clock, ntp = _dig(facts, "time.clock"), _dig(facts, "time.ntp")
            if not isinstance(clock, dict) and not isinstance(ntp, dict):
                out.append(None)
                continue
            skew = clock.get("skew_s") if isinstance(clock, dict) else None
            synced = ntp.get("synchronized") if isinstance(ntp, dict) else None
            out.append(_clean(
                (f"skew {skew:+.1f}s" if isinstance(skew, (int, float)) else "skew unknown")
                + {True: ", NTP synchronized", False: ", NTP NOT synchronized"}.get(synced, ""), 200))
    return out


# SUMMARY_FIELDS' paths, split once; None for the fields with a reader of their own.
_SUMMARY_PATHS = tuple((path, None if path in ("docker", "disk", "time") else tuple(path.split(".")))
                       for _, path in SUMMARY_FIELDS)


def _docker_summary(docker: Any) -> Optional[str]:
    if not isinstance(docker, dict):
        return None
    if docker.get("installed") is False:
        return "not installed"
    server = docker.get("server") or {}
    if not docker.get("daemon_up", bool(server)):
        return _clean(f"daemon down: {docker.get('error') or 'no answer'}", 200)
    return _clean(f"{server.get('version', '?')} (API {server.get('api_version', '?')})", 200)


def _baseline_label(baseline: Any) -> Optional[dict]:
    """{"label": what kind of baseline, "name": which one} for the header, or None."""
    if not baseline:
        return None
    kind = _clean(_get(baseline, "kind") or "", 50)
    name = _clean(_get(baseline, "name") or "", 300)
    label = BASELINE_LABELS.get(kind, kind or "unknown")
    if kind == "consensus" and "consensus" in name.lower():
        name = ""
    return {"label": label, "name": name}


def _build(result: RunResult, history: Optional[dict] = None) -> Tuple[dict, dict]:
    """(data island, template summary) for one run."""
    b = _Builder(result)
    baseline = result.extra.get("baseline") if isinstance(result.extra, dict) else None
    findings = b.findings()
    b._groups = findings
    groups = b.groups()
    drift = b.drift()
    matrix = b.matrix()
    view = read_since(result.extra.get("drift_since_last")) if isinstance(result.extra, dict) else None
    since = b.since(view) if view is not None else None
    facts = [b.fact_row(f, current=True) for f in view.facts_changed] if view is not None else []
    hist = b.history(history, facts) if isinstance(history, dict) else None
    data = {
        "v": 1, "s": b.s.table, "sev": list(SEVERITIES), "st": list(STATUSES),
        "sk": [label for label, _ in SUMMARY_FIELDS],
        "h": b.hosts, "f": findings, "d": drift, "m": matrix,
        "bn": _clean(_get(baseline, "name") or "", 300) if baseline else "",
        "sl": since, "hs": hist, "fx": facts, "gm": groups,
    }
    summary = _summary_context(result, findings, b)
    summary["groups"] = [b.s.table[r[0]] for r in groups["r"]]
    summary["since"] = _since_summary(view, since) if view is not None else None
    summary["history_runs"] = len(hist["r"]) if hist else 0
    return data, summary


def _since_summary(view: SinceView, since: dict) -> dict:
    """Counts for the server-rendered "changed since last run" header."""
    flags = [c[0] for c in since["fc"]]
    return {
        "previous": _when(view.previous) if view.previous else "",
        "first_run": view.first_run,
        "states": [(st, sum(1 for f in flags if f & 3 == i)) for i, st in enumerate(STATES)]
                  + [("waived", sum(1 for f in flags if f & WAIVED))],
        "facts": len(view.facts_changed),
        "hosts": len(since["hc"]),
        "fact_hosts": len({f.get("host") for f in view.facts_changed}),
    }


def _summary_context(result: RunResult, groups: List[list], b: _Builder) -> dict:
    """Counts for the server-rendered summary; host strings pass through autoescape."""
    hosts = list((result.hosts or {}).values())
    status = Counter(_get(h, "status", "ok") for h in hosts)
    err_classes = Counter(_get(_get(h, "error"), "cls") for h in hosts
                          if _get(h, "status") == "unreachable" and _get(h, "error"))
    sev_findings = Counter()
    sev_hosts: Dict[int, set] = {}
    cat_findings = Counter()
    for g in groups:
        for v in g[8]:  # a cause's variants may differ in severity
            sev_findings[v[0]] += len(v[5])
            sev_hosts.setdefault(v[0], set()).update(v[5])
        cat_findings[b.s.table[g[1]]] += len(g[7])
    categories = [c for c in CATEGORIES if cat_findings[c]] + sorted(
        c for c in cat_findings if c not in CATEGORIES)
    baseline = result.extra.get("baseline") if isinstance(result.extra, dict) else None
    run = result.run if isinstance(result.run, dict) else {}
    meta = [(label, _show(run[k], 200) + (" s" if k == "duration_s" else ""))
            for k, label in _META_FIELDS if run.get(k) not in (None, "")]
    drifted = result.extra.get("drift") if isinstance(result.extra, dict) else None
    return {
        "hosts_total": len(hosts),
        "status": [(st, status.get(st, 0)) for st in STATUSES],
        "error_classes": sorted(((_clean(c or "?", 100), n) for c, n in err_classes.items()),
                                key=lambda kv: (-kv[1], kv[0])),
        "severities": [(i, sev, sev_findings.get(i, 0), len(sev_hosts.get(i, ())))
                       for i, sev in enumerate(SEVERITIES)],
        "categories": [(_clean(c, 100), cat_findings[c]) for c in categories],
        "findings_total": sum(sev_findings.values()),
        "groups_total": len(groups),
        "hosts_with_findings": len(set().union(*sev_hosts.values())) if sev_hosts else 0,
        "baseline": _baseline_label(baseline),
        "drifted_hosts": len(drifted) if isinstance(drifted, dict) else None,
        "matrix_paths": len(result.extra.get("matrix") or {}) if isinstance(result.extra, dict) else 0,
        "meta": meta,
        "generated_by": _clean(run.get("tool_version") or "", 50),
    }
