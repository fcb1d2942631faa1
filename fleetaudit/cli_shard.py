"""`--shard I/N`, `--workers N` and `fleetaudit merge` (docs/scaling.md).

Registered on fleetaudit.cli.main by one line in cli.py (register(main)); the cli
helpers are imported inside the functions (see cli_drift.py for why).

History: a shard of `audit` or `gate` is not recorded (one shard is not the fleet: its
missing hosts would read as vanished); `merge` records the joined run under the
inventory's key. A shard of `drift` compares with, and records under, its own key
(`<inventory key> --shard I/N`), since the assignment is stable.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import click

from . import exitcodes
from .shard import Shard, ShardError, parse_shard, select, shard_record


def _shard_param(ctx, param, value) -> Optional[Shard]:
    if value is None or value == "":
        return None
    try:
        return parse_shard(value)
    except ShardError as exc:
        from .cli import UsageError
        raise UsageError(str(exc))


def shard_options(fn):
    """--shard and --workers, for the commands that collect (audit, gate, drift)."""
    @click.option("--shard", "shard", default=None, metavar="I/N", callback=_shard_param,
                  help="Audit only shard I of N (0 <= I < N) of the inventory's hosts, after "
                       "--limit: a host is in shard sha256(name) mod N. Join the shards' "
                       "snapshots with `fleetaudit merge`.")
    @click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
                  help="Worker processes collecting on this controller (default: one per core, "
                       "at most one per 50 hosts; 1: one process). --concurrency is shared among them. "
                       "The analysis after collection uses as many (at most one per 500 hosts).")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def apply_shard(hosts: list, kw: dict, inventory: str, limit: Optional[str], command: str) -> tuple:
    """(hosts of the shard, run.shard record or None). Adjusts the history options: see
    the module doc."""
    from .cli_history import inventory_key
    shard = kw.pop("shard", None)
    if shard is None:
        return hosts, None
    key = inventory_key(inventory, limit, kw.get("history_key"))
    chosen = select(hosts, shard)
    if command == "drift":
        kw["history_key"] = f"{key} --shard {shard}"
    else:
        kw["no_history"] = True
    return chosen, shard_record(shard, hosts, chosen, key)


def register(main: click.Group) -> None:
    from .cli import analysis_options, analysis_workers_option
    from .cli_history import record_options
    from .cli_integrations import integration_options, run_integrations
    from .cliout import OutputPath

    @main.command()
    @click.argument("snapshots", metavar="SNAPSHOT...", nargs=-1, required=True,
                    type=click.Path(exists=True, dir_okay=False))
    @click.option("--json", "json_path", type=OutputPath(), default=None,
                  help="Write the merged, re-analysed snapshot here.")
    @click.option("--allow-missing", is_flag=True,
                  help="Merge even when some shards are missing; the run is marked incomplete "
                       "(run.incomplete) and exits 3.")
    @click.option("--reports-dir", type=click.Path(file_okay=False), default="reports",
                  show_default=True, help="The merged snapshot is also kept here.")
    @click.option("--drift", "as_drift", is_flag=True,
                  help="Also say what changed since the inventory's last recorded run, as "
                       "`fleetaudit drift` does (drift_since_last; --markdown is the digest); the "
                       "run is recorded as kind drift and the exit codes are drift's.")
    @click.option("--waivers", "waivers_path", type=click.Path(dir_okay=False), default=None,
                  help="With --drift: YAML of accepted deviations (docs/waivers.md).")
    @click.option("--quiet", "-q", is_flag=True, help="No tables; exit code only.")
    @analysis_options
    @analysis_workers_option
    @record_options
    @integration_options
    def merge(snapshots, json_path, allow_missing, reports_dir, as_drift, waivers_path, quiet, **kw):
        """Join shard snapshots (`--shard I/N` runs) into one fleet run, then compare,
        diagnose and render it as one audit.

        Refuses snapshots of different inventories (host sets), schema versions or shard
        counts, shards given twice and a host in two files; refuses a missing shard unless
        --allow-missing. Only the facts are merged: findings and drift are computed
        again over the whole fleet (the fleet majority over all shards). The merged run
        is recorded in the history under the inventory's key (shards are not); with
        --drift it is also compared with the previous recorded run, as `fleetaudit
        drift` does. Exit codes as `audit` (with --drift, as `drift`); 3 also when
        shards are missing.

        Example:

        \b
            fleetaudit audit -i inventories/example-ansible.ini --shard 0/2 --json reports/shard-0.json
            fleetaudit audit -i inventories/example-ansible.ini --shard 1/2 --json reports/shard-1.json
            fleetaudit merge reports/shard-0.json reports/shard-1.json --json reports/fleet.json --html reports/fleet.html
        """
        from . import cli, cliout, snapshot
        from .cli_history import RunRecorder
        from .cli_drift import _load_waivers, compare_and_record, drift_exit_code, load_last_run
        from .merge import MergeError, merge_documents

        docs = []
        for path in snapshots:
            try:  # plain or compressed (.gz/.zst), detected by content
                docs.append((path, snapshot.load_document(path)))
            except snapshot.SnapshotError as exc:
                raise cli.UsageError(str(exc))
        try:
            result = merge_documents(docs, allow_missing=allow_missing)
        except MergeError as exc:
            raise cli.UsageError(f"merge: {exc}")
        shards = result.run["shards"]
        if as_drift and shards["missing"]:
            raise cli.UsageError("merge --drift: shard(s) missing: an incomplete run would show "
                                 "their hosts as vanished; merge every shard")
        if as_drift and kw.get("no_history"):
            raise cli.UsageError("merge --drift compares with the history: --no-history is not possible here")
        waivers = _load_waivers(waivers_path) if as_drift else None
        key = kw.pop("history_key") or shards.get("history_key") or str(result.run.get("inventory"))
        recorder = RunRecorder(kw.pop("history_spec"), key, kw.pop("wait_lock"), not kw.pop("no_history"))
        with recorder:
            since = None
            last = load_last_run(recorder, "merge --drift needs the history") if as_drift else None
            cli._analyze(result, kw)
            if as_drift:
                since, run_id = compare_and_record(recorder, result, last, waivers, kw, "drift")
            else:
                run_id = recorder.record(snapshot.to_json(result), "audit")
            text = cliout.snapshot_text(result)
            if json_path:
                cliout.write_snapshot(json_path, text)
            if as_drift:
                from .render.digest import render_digest
                cli._write_outputs(result, {**kw, "markdown_path": None})
                if kw.get("markdown_path"):
                    cliout.write_output(kw["markdown_path"], render_digest(result.extra["drift_since_last"], result))
            else:
                cli._write_outputs(result, kw)
            kept = cliout.keep_copy(Path(reports_dir) / cli._default_report_name(
                str(result.run.get("inventory") or "merged")), text)
            if not quiet:
                console = cliout.console()
                cli._print_summary(console, result, [("snapshot", json_path or kept),
                                                     ("html", kw["html_path"]), ("junit", kw["junit_path"]),
                                                     ("markdown", kw["markdown_path"])])
                if shards["missing"]:
                    click.echo(f"fleetaudit: merge: shard(s) {', '.join(map(str, shards['missing']))} of "
                               f"{shards['count']} missing: the run is incomplete", err=True)
                if run_id is not None:
                    console.print(f"history: run {run_id} in {recorder.spec_text}", highlight=False,
                                  markup=False, soft_wrap=True)
            if as_drift:
                run_integrations(result, kw, command="drift", since=result.extra["drift_since_last"])
            else:
                run_integrations(result, kw, command="audit")
        if since is not None:
            code = drift_exit_code(since, sum(1 for h in result.hosts.values() if h.audited))
        else:
            code = cli.exit_code(result, kw["fail_on"])
        if shards["missing"]:
            code = exitcodes.NOT_AUDITED
        sys.exit(recorder.exit_code(code))
