"""`fleetaudit history ...` and the recording of audit/gate runs into the history store.

CLI layer: the only place (with cli.py) that prints or exits. The store itself is
fleetaudit.history.
"""
from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Optional

import click

from . import cliout, exitcodes
from .cliconfig import FleetGroup
from .cliout import OutputPath
from .cli_templates import templates_option
from .history import HistoryError, LockBusy, default_history_path, open_store


class HistoryLocked(click.ClickException):
    exit_code = exitcodes.HISTORY_LOCKED


class HistoryFailed(click.ClickException):
    exit_code = exitcodes.HISTORY


class HistoryUsage(click.ClickException):
    exit_code = exitcodes.USAGE


_SPEC_HELP = ("History store: a SQLite file or postgresql://... "
              "[env FLEETAUDIT_HISTORY; default $XDG_STATE_HOME/fleetaudit/history.sqlite]")


def record_options(fn):
    """Options of the commands whose runs are recorded (audit, gate, drift)."""
    @click.option("--history", "history_spec", envvar="FLEETAUDIT_HISTORY", default=None,
                  metavar="SPEC", help=_SPEC_HELP)
    @click.option("--no-history", is_flag=True, help="Do not record this run in the history.")
    @click.option("--history-key", default=None, metavar="NAME",
                  help="Record under this inventory key instead of the inventory's path "
                       "(shards or zones that share one store and one history).")
    @click.option("--wait-lock", type=click.FloatRange(0), default=0.0, show_default=True,
                  metavar="SECONDS",
                  help="Wait this long for another run of the same inventory to finish; "
                       "then exit 5 without auditing.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def inventory_key(inventory: str, limit: Optional[str] = None,
                  override: Optional[str] = None) -> str:
    """The name runs of one inventory are recorded (and locked) under."""
    if override:
        return override
    # A host list ("web1,web2,") is not a path: its text is its name.
    from .inventory.hostlist import looks_like_host_list  # the inventory package loads yaml
    key = inventory if looks_like_host_list(inventory) else str(Path(inventory).resolve())
    return f"{key} --limit {limit}" if limit else key


class RunRecorder:
    """Opens the store and takes the inventory's lock before a run collects anything;
    records the snapshot after the reports are written; turns history trouble into an
    exit code without losing the run's own result.

        with RunRecorder.from_options(kw, inventory, limit) as rec:
            ... run, write reports ...
            rec.record(snapshot.to_json(result), "audit")
        sys.exit(rec.exit_code(code))
    """

    def __init__(self, spec: Optional[str], key: str, wait_s: float = 0.0, enabled: bool = True):
        self.spec, self.key, self.wait_s, self.enabled = spec, key, wait_s, enabled
        self.store = None
        self.error: Optional[str] = None
        self.run_id: Optional[int] = None
        self.spec_text = spec or default_history_path()
        self._lock = None

    @classmethod
    def from_options(cls, kw: dict, inventory: str, limit: Optional[str]) -> "RunRecorder":
        return cls(kw.pop("history_spec"), inventory_key(inventory, limit, kw.pop("history_key")),
                   kw.pop("wait_lock"), not kw.pop("no_history"))

    def __enter__(self) -> "RunRecorder":
        if not self.enabled:
            return self
        try:
            self.store = open_store(self.spec)
            self.spec_text = self.store.spec
            self._lock = self.store.lock(self.key, self.wait_s)
            self._lock.__enter__()
        except LockBusy as exc:
            self._close()
            raise HistoryLocked(f"{exc}. Nothing was audited; retry later or pass "
                                f"--wait-lock SECONDS (exit {exitcodes.HISTORY_LOCKED}).")
        except HistoryError as exc:
            # The run still happens and writes its reports; the exit code says the
            # history is broken (see exit_code).
            self._close()
            self.error = str(exc)
        return self

    def record(self, doc: dict, kind: str) -> Optional[int]:
        if self.store is None:
            return None
        try:
            self.run_id = self.store.record(doc, self.key, kind)
        except HistoryError as exc:
            self.error = str(exc)
        return self.run_id

    def exit_code(self, code: int) -> int:
        """The run's own code wins when it is not clean (a gate verdict is never masked);
        a clean run whose history write failed exits HISTORY."""
        if self.error:
            click.echo(f"fleetaudit: history: {self.error} (the run's reports were written; "
                       f"it is not in the history)", err=True)
            return code or exitcodes.HISTORY
        return code

    def _close(self) -> None:
        if self._lock is not None:
            try:
                self._lock.__exit__(None, None, None)
            except Exception:  # the lock dies with the connection anyway
                pass
            self._lock = None
        if self.store is not None:
            try:
                self.store.close()
            except Exception:
                pass
            self.store = None

    def __exit__(self, *exc) -> None:
        self._close()


# --- the `history` command group ------------------------------------------------------

def _spec_option(fn):
    # No envvar here: FLEETAUDIT_HISTORY is read by the group's option (and by
    # default_history_path), so `history --history X list` is not overridden by it.
    @click.option("--history", "history_spec", default=None, metavar="SPEC", help=_SPEC_HELP)
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def _open(ctx: click.Context, spec: Optional[str]):
    spec = spec or (ctx.obj or {}).get("history_spec")
    try:
        return open_store(spec)
    except HistoryError as exc:
        raise HistoryFailed(str(exc))


@click.group(cls=FleetGroup)
@click.option("--history", "history_spec", envvar="FLEETAUDIT_HISTORY", default=None,
              metavar="SPEC", help=_SPEC_HELP)
@click.pass_context
def history(ctx, history_spec):
    """Recorded runs: list them, re-render one, follow a host, prune old ones.

    Every `audit` and `gate` run is recorded (unless --no-history) in a SQLite file,
    $FLEETAUDIT_HISTORY or $XDG_STATE_HOME/fleetaudit/history.sqlite by default, or a
    shared PostgreSQL database (`--history postgresql://user@host/db`).

    Example:

    \b
        fleetaudit history list --inventory inventories/example-ansible.ini
    """
    ctx.obj = dict(ctx.obj or {}, history_spec=history_spec)


def _counts(d: dict, keys) -> str:
    return "/".join(str(d.get(k, 0)) for k in keys)


@history.command("list")
@click.option("--inventory", "inventory_key", default=None, metavar="KEY",
              help="Only runs of this inventory key (the inventory's path, or --history-key).")
@click.option("--limit", "-n", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print {\"runs\": [...]} as JSON.")
@_spec_option
@click.pass_context
def history_list(ctx, inventory_key, limit, as_json, history_spec):
    """Recorded runs, newest first: when, inventory, hosts, findings by severity.

    Hosts are ok/partial/unreachable; findings critical/high/medium/low/info; NEW/RES
    are the findings new and resolved since the run before (drift runs, which compare
    with it; '-' for audit and gate runs).

    Example:

    \b
        fleetaudit history list --limit 10
    """
    key = _key_arg(inventory_key)
    with _open(ctx, history_spec) as store:
        try:
            runs = store.runs(inventory_key=key, limit=limit)
            # One small section per run (never its hosts): drift runs carry their counts.
            since = {r.id: (store.load_section(r.id, "drift_since_last") or {}).get("counts")
                     for r in runs}
        except HistoryError as exc:
            raise HistoryFailed(str(exc))
    if as_json:
        click.echo(json.dumps({"store": store.spec, "runs": [
            dict(r.to_json(), since_last=since[r.id]) for r in runs]}, indent=1))
        return
    if not runs:
        click.echo(f"no runs recorded in {store.spec}" + (f" for {key}" if key else ""))
        return
    click.echo(f"{'RUN':>5}  {'RECORDED':<20}  {'KIND':<5}  {'HOSTS ok/part/unr':<17}  "
               f"{'FINDINGS c/h/m/l/i':<18}  {'NEW/RES':<7}  INVENTORY")
    for r in runs:
        flag = " (interrupted)" if r.interrupted else ""
        c = since[r.id]
        new_res = f"{c.get('findings_new', 0)}/{c.get('findings_resolved', 0)}" if c else "-"
        click.echo(f"{r.id:>5}  {r.recorded:<20}  {r.kind:<5}  "
                   f"{_counts(r.hosts, ('ok', 'partial', 'unreachable')):<17}  "
                   f"{_counts(r.findings, ('critical', 'high', 'medium', 'low', 'info')):<18}  "
                   f"{new_res:<7}  {r.inventory_key}{flag}")


def _key_arg(value: Optional[str]) -> Optional[str]:
    """--inventory accepts the key itself or an inventory file (resolved like audit does)."""
    if value and Path(value).is_file():
        return str(Path(value).resolve())
    return value


def _run_arg(store, run: str, key: Optional[str] = None) -> int:
    if run == "latest":
        info = store.previous(key) if key else (store.runs(limit=1) or [None])[0]
        if info is None:
            raise HistoryUsage("no runs recorded" + (f" for {key}" if key else ""))
        return info.id
    if not re.fullmatch(r"\d+", run):
        raise HistoryUsage(f"RUN {run!r}: expected a run id (see `fleetaudit history list`) or 'latest'")
    return int(run)


@history.command("show")
@click.argument("run", metavar="RUN")
@click.option("--inventory", "inventory_key", default=None, metavar="KEY",
              help="With RUN 'latest': the latest run of this inventory.")
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the run's snapshot here (.gz: gzip-compressed).")
@click.option("--html", "html_path", type=OutputPath(), default=None,
              help="Write the HTML report here.")
@templates_option
@click.option("--markdown", "markdown_path", type=OutputPath(), default=None,
              help="Write a Markdown summary here.")
@click.option("--junit", "junit_path", type=OutputPath(), default=None,
              help="Write JUnit XML here.")
@click.option("--fail-on", type=click.Choice(("critical", "high", "medium", "low", "info", "none")),
              default="high", show_default=True, help="JUnit's failure threshold.")
@click.option("--quiet", "-q", is_flag=True, help="No tables.")
@_spec_option
@click.pass_context
def history_show(ctx, run, inventory_key, json_path, html_path, markdown_path, junit_path,
                 fail_on, quiet, history_spec, templates_dir=None):
    """Re-render recorded run RUN (an id, or 'latest') as it was, in any format.

    Nothing is re-analysed: the findings and comparisons are those of the run.

    Example:

    \b
        fleetaudit history show 42 --html run42.html --markdown run42.md
    """
    from . import snapshot
    from .cli import _print_summary, _write_outputs

    with _open(ctx, history_spec) as store:
        run_id = _run_arg(store, run, _key_arg(inventory_key))
        try:
            doc = store.load(run_id)
        except HistoryError as exc:
            raise (HistoryUsage if "no run" in str(exc) else HistoryFailed)(str(exc))
    try:
        result = snapshot.from_json(doc, f"run {run_id}")
    except snapshot.SnapshotError as exc:
        raise HistoryFailed(str(exc))
    if json_path:
        cliout.write_snapshot(json_path, json.dumps(doc, separators=(",", ":")) + "\n")
    _write_outputs(result, {"html_path": html_path, "templates_dir": templates_dir,
                            "markdown_path": markdown_path,
                            "junit_path": junit_path, "fail_on": fail_on})
    if not quiet:
        _print_summary(cliout.console(), result, [("json", json_path), ("html", html_path),
                                           ("junit", junit_path), ("markdown", markdown_path)])


@history.command("host")
@click.argument("host")
@click.option("--fact", "fact_path", default=None, metavar="PATH",
              help="Follow one fact (drift path syntax, e.g. network.interfaces.eth0.mtu).")
@click.option("--inventory", "inventory_key", default=None, metavar="KEY",
              help="Only runs of this inventory key.")
@click.option("--all", "show_all", is_flag=True,
              help="One line per run, not only the runs where something changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@_spec_option
@click.pass_context
def history_host(ctx, host, fact_path, inventory_key, show_all, as_json, history_spec):
    """The timeline of HOST across recorded runs: when its status or facts changed
    (or, with --fact, one fact's value) and to what.

    Example:

    \b
        fleetaudit history host node07 --fact daemon_json.content.registry-mirrors
    """
    with _open(ctx, history_spec) as store:
        try:
            line = store.host_timeline(host, fact_path, _key_arg(inventory_key))
        except HistoryError as exc:
            raise (HistoryUsage if "fact path" in str(exc) else HistoryFailed)(str(exc))
    if as_json:
        click.echo(json.dumps({"host": host, "fact": fact_path, "timeline": line}, indent=1,
                              default=str))
        return
    if not line:
        click.echo(f"{host}: not in any recorded run" + (f" of {inventory_key}" if inventory_key else ""))
        return
    prev_status = None
    shown = 0
    for i, e in enumerate(line):
        status_changed = e["status"] != prev_status
        prev_status = e["status"]
        changed = e["changed"] if fact_path else e["facts_changed"]
        if not (show_all or i == 0 or i == len(line) - 1 or changed or status_changed):
            continue
        shown += 1
        err = f" ({e['error']['class']}: {_short(e['error']['message'], 60)})" if e["error"] else ""
        if fact_path:
            what = _short(e["value"]) if e["present"] else ("(absent)" if e["status"] != "unreachable"
                                                            else "(not audited)")
        else:
            what = f"facts {e['facts_digest'][:12]}" if e["facts_digest"] else "no facts"
        mark = " CHANGED" if changed else ""
        click.echo(f"run {e['run']:>5}  {e['recorded']}  {e['status']:<12}{mark.strip():<9}{what}{err}")
    if shown < len(line):
        click.echo(f"({len(line) - shown} unchanged runs not shown; --all shows every run)")


@history.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False), default=None,
              help="Mark waived items (docs/waivers.md), as of RUN_B's date.")
@click.option("--fail-on", type=click.Choice(("critical", "high", "medium", "low", "info", "none")),
              default="high", show_default=True, help="New findings at or above this count as drift.")
@click.option("--ignore", multiple=True, metavar="PATTERN",
              help="Fact path glob to leave out (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison (drift_since_last shape) as JSON.")
@click.option("--markdown", "markdown_path", type=OutputPath(), default=None,
              help="Write the Markdown digest here.")
@_spec_option
@click.pass_context
def history_diff(ctx, run_a, run_b, waivers_path, fail_on, ignore, as_json, markdown_path,
                 history_spec):
    """What changed from recorded run RUN_A to RUN_B (ids, or 'latest' for RUN_B):
    the comparison `drift` makes with the last run, between any two runs.

    Exit 0 when RUN_B has no new drift relative to RUN_A, 1 when it has.

    Example:

    \b
        fleetaudit history diff 40 42 --markdown changes.md
    """
    from . import snapshot
    from .cli_drift import _load_waivers, summary_lines
    from .compare.since import RunRef, changes_since
    from .render.digest import render_digest

    waivers = _load_waivers(waivers_path)
    with _open(ctx, history_spec) as store:
        ids = [_run_arg(store, r) for r in (run_a, run_b)]
        try:
            infos = [store.get(i) for i in ids]
            docs = [store.load(i) for i in ids]
        except HistoryError as exc:
            raise (HistoryUsage if "no run" in str(exc) else HistoryFailed)(str(exc))
    since = changes_since(docs[0], docs[1], waivers=waivers, fail_on=fail_on,
                          ignore=list(ignore) or None,
                          previous_ref=RunRef(infos[0].id, infos[0].started),
                          current_ref=RunRef(infos[1].id, infos[1].started))
    section = since.to_json()
    if markdown_path:
        cliout.write_output(markdown_path, render_digest(section))
    if as_json:
        click.echo(json.dumps(section, indent=1, default=str))
    else:
        for line in summary_lines(section):
            cliout.echo(line)
    sys.exit(exitcodes.FINDINGS if since.new_drift else exitcodes.CLEAN)


def _short(value, cap: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)  # host strings are untrusted
    return text if len(text) <= cap else text[: cap - 3] + "..."


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """'30d', '12h', '90m', '2w', '3600s' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ValueError(f"{text!r}: expected a number and a unit s, m, h, d or w (e.g. 30d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@history.command("prune")
@click.option("--keep", type=click.IntRange(0), default=None, metavar="N",
              help="Keep the newest N runs of each inventory.")
@click.option("--older-than", default=None, metavar="AGE",
              help="Delete runs recorded more than AGE ago (30d, 12h, 2w). With --keep, "
                   "only runs that are both old and beyond the newest N.")
@click.option("--inventory", "inventory_key", default=None, metavar="KEY",
              help="Only prune runs of this inventory key.")
@click.option("--vacuum", is_flag=True, help="Then give the freed space back to the file system.")
@_spec_option
@click.pass_context
def history_prune(ctx, keep, older_than, inventory_key, vacuum, history_spec):
    """Delete old runs, and every stored fact and finding no remaining run refers to.

    Example:

    \b
        fleetaudit history prune --older-than 90d --keep 10
    """
    if keep is None and older_than is None:
        raise HistoryUsage("pass --keep N and/or --older-than AGE")
    try:
        age = parse_age(older_than) if older_than is not None else None
    except ValueError as exc:
        raise HistoryUsage(f"--older-than {exc}")
    with _open(ctx, history_spec) as store:
        try:
            n = store.prune(keep=keep, older_than=age, inventory_key=_key_arg(inventory_key))
            if vacuum:
                store.vacuum()
        except HistoryError as exc:
            raise HistoryFailed(str(exc))
        gone = store.last_prune
    click.echo(f"pruned {n} run{'s' if n != 1 else ''}"
               + (f" ({gone.get('blobs', 0)} fact/section blobs, {gone.get('findings', 0)} "
                  f"findings, {gone.get('hosts', 0)} host names no longer referenced)" if n else ""))
