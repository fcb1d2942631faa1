"""`fleetaudit drift` and `fleetaudit history diff`: what changed since the last run.

Registered on fleetaudit.cli.main by one line in cli.py (register(main)). The cli
helpers are imported inside the commands, not at import time: `python -m fleetaudit.cli`
runs cli.py as __main__, and a module-level import of fleetaudit.cli from here would
load it a second time halfway through the first.

Exit codes of `drift` are about change (docs/drift.md):
    0  nothing new since the last run (persisting findings and unreachable hosts do not
       count again unless --fail-on-persisting)
    1  new drift: a new finding at/above --fail-on that is not waived, a fact that
       changed, a host that appeared, vanished or became unreachable (first run: all new)
    2  usage: bad options, inventory, policy, baseline, waiver file or history store
    3  nothing could be audited at all (every host unreachable): no comparison possible
    5  another run of the same inventory holds the history lock (--wait-lock)
    6  the history store cannot be opened or read (nothing audited), or the run could
       not be recorded (reports written) and nothing else was wrong
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import click

from . import exitcodes
if TYPE_CHECKING:  # compare loads the snapshot and collector modules: not at `--help`
    from .compare.since import SinceLast
from .models import SEVERITIES
from .render.safe import visible



def drift_exit_code(since: SinceLast, audited: int) -> int:
    if audited == 0:
        return exitcodes.NOT_AUDITED
    return exitcodes.FINDINGS if since.new_drift else exitcodes.CLEAN


def _load_waivers(path: Optional[str]):
    from .cli import UsageError
    from .waivers import WaiverError, load_waivers
    if not path:
        return None
    try:
        return load_waivers(path)
    except WaiverError as exc:
        raise UsageError(str(exc))


def load_last_run(recorder, needs: str, after_error: str = ""):
    """(RunInfo, document) of the last recorded run of the recorder's inventory, or
    (None, None) on its first run. Without a usable history: HistoryFailed."""
    from .cli_history import HistoryFailed
    from .history import HistoryError
    if recorder.store is None:
        raise HistoryFailed(f"{recorder.error} ({needs})")
    try:
        info = recorder.store.previous(recorder.key)
        return info, (recorder.store.load(info.id) if info else None)
    except HistoryError as exc:
        raise HistoryFailed(f"{exc}{after_error}")


def compare_and_record(recorder, result, last, waivers, kw: dict, kind: str,
                       fail_on_persisting: bool = False) -> tuple:
    """Compare the analysed run with the last one, put the section in the snapshot,
    record the run and point the section's "this run" items at its id.
    Returns (SinceLast, run id or None)."""
    from . import snapshot
    prev_info, prev_doc = last
    from .compare.since import RunRef, changes_since
    since = changes_since(
        prev_doc, snapshot.to_json(result), waivers=waivers, fail_on=kw["fail_on"],
        fail_on_persisting=fail_on_persisting, ignore=list(kw["ignore"]) or None,
        previous_ref=RunRef(prev_info.id, prev_info.started) if prev_info else None,
        current_ref=RunRef(None, result.run.get("started")))
    result.extra["drift_since_last"] = since.to_json()
    run_id = recorder.record(snapshot.to_json(result), kind)
    if run_id is not None:
        since.set_current_run(run_id)
        result.extra["drift_since_last"] = since.to_json()
    return since, run_id


def summary_lines(since: dict, limit: int = 20) -> List[str]:
    """Plain-text lines for the terminal (host strings are printed without markup)."""
    c = since["counts"]
    prev = since.get("previous")
    head = ("first run of this inventory: everything counts as new" if prev is None else
            f"since run {prev.get('run_id')} ({prev.get('started')})")
    out = [f"drift {head}",
           f"  findings: {c['findings_new']} new, {c['findings_resolved']} resolved, "
           f"{c['findings_persisting']} persisting"
           + (f", {c['findings_unverified']} unverified" if c.get("findings_unverified") else "")
           + f"; facts changed: {c['facts_changed']}; "
           f"hosts: {c['hosts_appeared']} appeared, {c['hosts_vanished']} vanished, "
           f"{c['hosts_unreachable']} became unreachable, {c['hosts_back']} back, "
           f"{c['hosts_still_unreachable']} still unreachable; waived: {c['waived']}"]
    for f in since["findings"]["new"][:limit]:
        out.append(f"  new {f['severity']:<8} {f['host']}: {f['rule']}: {f['title']}"
                   + _waiver_note(f.get("waiver")))
    for f in since["findings"]["persisting"]:
        # Persisting findings are listed only when they say something: waived, or counting.
        if f.get("waiver") or f.get("counts"):
            out.append(f"  persists {f['severity']:<8} {f['host']}: {f['rule']}: {f['title']}"
                       + _waiver_note(f.get("waiver")))
    for f in since["findings"]["resolved"][:limit]:
        out.append(f"  resolved  {f['host']}: {f['rule']}: {f['title']}")
    for f in since["findings"].get("unverified", [])[:limit]:
        out.append(f"  unverified {f['host']}: {f['rule']}: {f['title']} (not checked this run)")
    if prev is not None:
        for f in since["facts"][:limit]:
            out.append(f"  changed   {f['host']}: {f['path']}: {_short(f['before'])} -> "
                       f"{_short(f['after'])}" + _waiver_note(f.get("waiver")))
    for h in since["hosts"][:limit]:
        if h["change"] == "appeared" and prev is None:
            continue
        err = f" ({h['error']['class']})" if h.get("error") else ""
        out.append(f"  host      {h['host']}: {h['change']}{err}")
    for w in since["waivers"]["stale"]:
        out.append(f"  stale waiver {w['where']}: matches nothing in this run")
    for w in since["waivers"]["expired"]:
        out.append(f"  expired waiver {w['where']} (expired {w['expires']}): its items count again")
    out.append("new drift: " + ("yes" if since["new_drift"] else "no"))
    # Host strings are untrusted: no control characters reach the terminal.
    return ["".join(ch if ch.isprintable() else "?" for ch in line) for line in out]


def _waiver_note(w: Optional[dict]) -> str:
    if not w:
        return ""
    if w["status"] == "expired":
        return f" [waiver expired {w['expires']}: {w['where']}]"
    return f" [waived until {w['expires']} by {w['owner']}: {w['reason']}]"


def _short(value: Any, cap: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= cap else text[: cap - 3] + "..."


def register(main: click.Group) -> None:
    from .cli import INVENTORY_HELP, analysis_options, ssh_options
    from .cli_shard import apply_shard, shard_options
    from .clicomplete import complete_limit
    from .cliout import OutputPath
    from .cli_history import record_options
    from .cli_integrations import integration_options, run_integrations

    @main.command()
    @click.option("--inventory", "-i", required=True, metavar="INVENTORY", help=INVENTORY_HELP)
    @click.option("--limit", "-l", default=None, shell_complete=complete_limit,
                  help="Hosts, groups or globs, Ansible style.")
    @click.option("--json", "json_path", type=OutputPath(), default=None,
                  help="Write the snapshot, with its drift_since_last section, here (.gz: gzip-compressed).")
    @click.option("--reports-dir", type=click.Path(file_okay=False), default="reports",
                  show_default=True, help="Every run also keeps its snapshot here.")
    @click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False), default=None,
                  help="YAML of accepted deviations (docs/waivers.md).")
    @click.option("--fail-on-persisting", is_flag=True,
                  help="Findings and unreachable hosts that persist from the last run count too.")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary; exit code only.")
    @shard_options
    @ssh_options
    @analysis_options
    @record_options
    @integration_options
    def drift(inventory, limit, json_path, reports_dir, waivers_path, fail_on_persisting, quiet, **kw):
        """Audit INVENTORY and report what changed since its last run (and the baseline).

        New, resolved and persisting findings, facts that changed, hosts that appeared,
        vanished, became unreachable or came back; the run is recorded in the history
        (kind drift). Exit 0: nothing new since the last run; 1: new drift; 2: usage
        error; 3: no host could be audited; 5: another run of this inventory holds the
        lock; 6: the history store is unusable. --markdown writes a short digest for a
        chat channel or a ticket. See docs/drift.md.

        Example:

        \b
            fleetaudit drift -i inventories/example-ansible.ini --waivers inventories/waivers-example.yml --markdown drift.md -q
        """
        from . import cli, cliout
        from .cli_history import RunRecorder
        from .cli_signals import SignalLatch

        if kw.get("no_history"):
            raise cli.UsageError("drift compares with the history: --no-history is not possible here")
        waivers = _load_waivers(waivers_path)
        console = cliout.console()
        hosts, shard_rec = apply_shard(cli._load_hosts(inventory, limit), kw, inventory, limit, "drift")
        cli._check_baseline_host(kw["baseline_host"], hosts, shard_rec)
        with RunRecorder.from_options(kw, inventory, limit) as recorder, SignalLatch() as latch:
            # before auditing: without history there is no "since"
            last = load_last_run(recorder, "drift needs the history: nothing was audited",
                                 " (nothing was audited)")
            result = cli._run_collection(hosts, cli._collect_options(kw), console, quiet,
                                         latch.interrupt, kw["workers"])
            result.run["inventory"] = str(inventory)
            result.run["limit"] = limit
            if shard_rec is not None:
                result.run["shard"] = shard_rec
            cli._analyze(result, kw)
            latch.mark(result.run)
            since, run_id = compare_and_record(recorder, result, last, waivers, kw, "drift",
                                               fail_on_persisting)
            text = cliout.snapshot_text(result)
            if json_path:
                cliout.write_snapshot(json_path, text)
            _write_outputs(result, kw, _report_history(recorder, run_id) if kw.get("html_path") else None)
            kept = cliout.keep_copy(Path(reports_dir) / cli._default_report_name(inventory), text)
        section = result.extra["drift_since_last"]
        if not quiet:
            for line in summary_lines(section):  # host text: control characters made visible
                console.print(visible(line), highlight=False, markup=False, soft_wrap=True)
            for label, path in (("snapshot", json_path or kept), ("html", kw["html_path"]),
                                ("junit", kw["junit_path"]), ("markdown", kw["markdown_path"])):
                if path:
                    console.print(f"{label}: {cliout.shown(path)}", highlight=False, markup=False,
                                  soft_wrap=True)
            if run_id is not None:
                console.print(f"history: run {run_id} in {recorder.spec_text}", highlight=False,
                              markup=False, soft_wrap=True)
        cli._say_interrupted(latch, result, quiet)
        audited = sum(1 for h in result.hosts.values() if h.audited)
        run_integrations(result, kw, command="drift", since=section)
        sys.exit(latch.exit_code or recorder.exit_code(drift_exit_code(since, audited)))

    def _report_history(recorder, run_id):
        """The HTML report's history view (findings per severity over recent runs, earlier
        fact changes per host); a store that fails here only costs the chart."""
        from .history import HistoryError
        from .render.history_view import report_history
        if recorder.store is None or run_id is None:
            return None
        try:
            return report_history(recorder.store, recorder.key, upto=run_id)
        except HistoryError as exc:
            click.echo(f"fleetaudit: warning: history view of the report: {exc}", err=True)
            return None

    def _write_outputs(result, kw, run_history=None) -> None:
        """The audit's HTML and JUnit; --markdown is the drift digest."""
        from . import cli, cliout
        from .render.digest import render_digest
        cli._write_outputs(result, {**kw, "markdown_path": None}, run_history)
        if kw.get("markdown_path"):
            cliout.write_output(kw["markdown_path"],
                                  render_digest(result.extra["drift_since_last"], result))


# --- "since when" for `diff` and `explain` -----------------------------------------------

class SinceWhenLookup:
    """Reads the history for `diff` and `explain`: only when a store exists (a SQLite
    file is never created by a read-only command), loading each earlier run at most once
    and at most `max_runs` runs per host. Any history trouble becomes `self.note`, never a
    failed command: "since when" is extra information."""

    def __init__(self, spec: Optional[str], max_runs: int = 50):
        from .history import default_history_path, is_postgres
        self.spec = spec or default_history_path()
        self.max_runs = max_runs
        self.store = None
        self.note: Optional[str] = None
        self._docs: dict = {}
        if not is_postgres(self.spec) and not Path(self.spec).is_file():
            return
        from .history import HistoryError, open_store
        try:
            self.store = open_store(self.spec)
            self.spec = self.store.spec
        except HistoryError as exc:
            self.note = f"history not read: {exc}"

    def _earlier(self, host: str, started: Optional[str]):
        from .compare.since import RunRef
        timeline = self.store.host_timeline(host)
        loaded = 0
        for e in reversed(timeline):
            if e["status"] == "unreachable" or (started and e["started"] and e["started"] >= started):
                continue
            if loaded >= self.max_runs:
                return
            loaded += 1
            doc = self._docs.get(e["run"])
            if doc is None:
                doc = self._docs[e["run"]] = self.store.load(e["run"])
            yield RunRef(e["run"], e["started"]), doc

    def host(self, host: str, current: dict, fail_on: str = "high"):
        """HostSince for `host` in the snapshot document `current`, or None."""
        from .compare.sincewhen import since_when
        from .history import HistoryError
        from .compare.since import RunRef
        if self.store is None:
            return None
        started = (current.get("run") or {}).get("started")
        try:
            # The judged snapshot may itself be a recorded run: then it has an id.
            same = [e["run"] for e in self.store.host_timeline(host) if started and e["started"] == started]
            return since_when(host, current, self._earlier(host, started), fail_on=fail_on,
                              current_ref=RunRef(same[-1] if same else None, started))
        except HistoryError as exc:
            self.note = f"history not read: {exc}"
            return None

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def since_when_lines(hs, indent: str = "  ", limit: int = 10) -> List[str]:
    """Plain-text lines of a HostSince (host strings sanitised)."""
    out = []
    if hs.last_clean is not None:
        c = hs.last_clean
        out.append(f"{indent}{hs.host}: last clean in run {c.run_id} ({c.started}); "
                   f"{len(hs.changed_after)} fact{'s' if len(hs.changed_after) != 1 else ''} changed after it"
                   + (":" if hs.changed_after else ""))
        for f in hs.changed_after[:limit]:
            out.append(f"{indent}  {f.path}: {_short(f.before) if f.change != 'added' else '(absent)'} -> "
                       f"{_short(f.after) if f.change != 'removed' else '(absent)'}")
        if len(hs.changed_after) > limit:
            out.append(f"{indent}  ... and {len(hs.changed_after) - limit} more")
    elif hs.searched:
        out.append(f"{indent}{hs.host}: not clean in any of the {hs.searched} earlier recorded runs")
    else:
        out.append(f"{indent}{hs.host}: no earlier recorded run where it was audited")
    for f in hs.findings[:limit]:
        fs = f.first_seen
        out.append(f"{indent}{f.rule} ({f.severity}) first seen in run {fs.run_id} ({fs.started})"
                   + ("" if f.exact else " or earlier"))
    return ["".join(ch if ch.isprintable() else "?" for ch in line) for line in out]
