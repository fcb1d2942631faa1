"""Command line interface. The only place that prints or exits."""
from __future__ import annotations

import functools
import re
import sys
import time
from pathlib import Path
from typing import Optional

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__, exitcodes, snapshot
from .collect import CollectOptions, collect
from .inventory import InventoryError, apply_limit, load_inventory
from .models import RunResult
from .render import terminal
from .script import ScriptOptions
from .ssh import SSHOptions


class UsageError(click.ClickException):
    exit_code = exitcodes.USAGE


def ssh_options(fn):
    """Connection options shared by every command that talks to hosts."""
    @click.option("--known-hosts", type=click.Path(dir_okay=False), default=None,
                  help="known_hosts file for strict host-key checking (default ~/.ssh/known_hosts).")
    @click.option("--accept-new", is_flag=True,
                  help="Trust on first use: accept and record keys of hosts not yet known. "
                       "A changed key still fails.")
    @click.option("--ssh-config", type=click.Path(dir_okay=False), default=None,
                  help="OpenSSH client config to honour (default ~/.ssh/config).")
    @click.option("--user", "-u", default=None, help="Login user when the inventory gives none.")
    @click.option("--concurrency", "-c", type=click.IntRange(1, 5000), default=100, show_default=True,
                  help="Hosts audited at once.")
    @click.option("--connect-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True,
                  help="Seconds for TCP connect, and again for the SSH banner.")
    @click.option("--command-timeout", type=click.FloatRange(1), default=60.0, show_default=True,
                  help="Seconds for the collection script on one host.")
    @click.option("--timeout", "run_timeout", type=click.FloatRange(1), default=None,
                  help="Seconds for the whole run; hosts not done by then are reported as timed out.")
    @click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
                  help="Extra attempts for transient failures (timeouts, dropped handshakes).")
    @click.option("--log-window", type=click.IntRange(1, 24 * 90), default=24, show_default=True,
                  help="Hours of daemon log to scan for pull errors.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def _collect_options(kw: dict) -> CollectOptions:
    ssh = SSHOptions(
        known_hosts=kw["known_hosts"], accept_new=kw["accept_new"],
        ssh_config=[kw["ssh_config"]] if kw["ssh_config"] else None,
        connect_timeout=kw["connect_timeout"], banner_timeout=kw["connect_timeout"],
        default_user=kw["user"],
    )
    return CollectOptions(
        ssh=ssh, script=ScriptOptions(log_window_hours=kw["log_window"]),
        concurrency=kw["concurrency"], command_timeout=kw["command_timeout"],
        run_timeout=kw["run_timeout"], retries=kw["retries"],
    )


def _load_hosts(inventory: str, limit: Optional[str]):
    try:
        inv = load_inventory(inventory)
        hosts = apply_limit(inv, limit) if limit else list(inv.hosts.values())
    except InventoryError as exc:
        raise UsageError(str(exc))
    if not hosts:
        raise UsageError(f"{inventory}: no hosts to audit" + (f" (--limit {limit!r})" if limit else ""))
    return hosts


def _run_collection(hosts, opts: CollectOptions, console: Console, quiet: bool) -> RunResult:
    if quiet or not console.is_terminal:
        return collect(hosts, opts)
    with Progress(TextColumn("collecting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} not audited"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("collect", total=len(hosts), failed=0)
        failed = 0

        def progress(res):
            nonlocal failed
            failed += res.status == "unreachable"
            bar.update(task, advance=1, failed=failed)

        return collect(hosts, opts, progress)


def _default_report_name(inventory: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(inventory).stem) or "inventory"
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{stem}.json"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetaudit")
def main():
    """fleetaudit: why does `docker pull` work on one host but not another?

    Audits Docker hosts over SSH (nothing installed on them), compares them and
    explains the differences that break image pulls.
    """


@main.command()
@click.option("--inventory", "-i", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Native YAML or Ansible INI/YAML inventory.")
@click.option("--limit", "-l", default=None, help="Hosts, groups or globs, Ansible style: 'web*,!web03'.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the snapshot (facts + findings) here.")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Every run also keeps its snapshot here.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables (for cron); exit code only.")
@ssh_options
def audit(inventory, limit, json_path, reports_dir, quiet, **kw):
    """Audit every host of INVENTORY and write a snapshot.

    Example:

        fleetaudit audit -i inventories/demo.ini --json reports/latest.json
    """
    console = Console(stderr=False)
    hosts = _load_hosts(inventory, limit)
    opts = _collect_options(kw)
    result = _run_collection(hosts, opts, console, quiet)
    result.run["inventory"] = str(inventory)
    result.run["limit"] = limit
    kept = Path(reports_dir) / _default_report_name(inventory)
    snapshot.save(result, kept)
    if json_path:
        snapshot.save(result, json_path)
    if not quiet:
        for r in terminal.renderables(result):
            console.print(r)
        console.print(f"snapshot: {json_path or kept}", highlight=False, markup=False)
    sys.exit(exit_code(result))


def exit_code(result: RunResult) -> int:
    if result.failed_hosts:
        return exitcodes.NOT_AUDITED
    return exitcodes.CLEAN


if __name__ == "__main__":
    main()
