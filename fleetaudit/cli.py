"""Command line interface. The only place that prints or exits."""
from __future__ import annotations

import functools
import gc
import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

if TYPE_CHECKING:
    # Imported where they are used, not at start: `--help`, completion, `--version` and
    # commands that never connect do not pay for asyncssh, cryptography, yaml, the
    # collectors or the analysis (tests/test_cli_start.py keeps it so).
    from rich.console import Console
    from .collect import CollectOptions, Interrupt
    from .models import RunResult

from . import __version__, cliout, exitcodes, cli_logging
from .cli_signals import SignalLatch
from .cli_history import RunRecorder, history, record_options
from .cli_integrations import integration_options, run_integrations
from .clicomplete import complete_limit
from .cliconfig import FleetGroup, config_callback
from .cliout import OutputPath
from .cli_templates import templates_option
from .cli_shard import apply_shard, shard_options
from .models import SEVERITIES, get_field
from .render.safe import visible


# The library checks the source (a host list is not a path), so click must not.
INVENTORY_HELP = ("Native YAML, Ansible INI/YAML, `ansible-inventory --list` JSON, "
                  "an executable inventory script, or a host list 'web1,web2:2222,'.")


class UsageError(click.ClickException):
    """Exit USAGE with a message; host and inventory text in it is shown inert."""
    exit_code = exitcodes.USAGE

    def __init__(self, message: str):
        super().__init__(visible(message, newlines=True))


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
                  help="Extra attempts when the SSH handshake is reset or closed; timeouts, refused ports, "
                       "auth and host-key failures are not retried (they do not change).")
    @click.option("--log-window", type=click.IntRange(1, 24 * 90), default=24, show_default=True,
                  help="Hours of daemon log to scan for pull errors.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def collect(hosts, opts: CollectOptions, progress=None, interrupt: Optional[Interrupt] = None) -> RunResult:
    """collect.collect, imported on first use (asyncssh and the collectors load then)."""
    from .collect import collect as collect_hosts
    return collect_hosts(hosts, opts, progress, interrupt=interrupt)


def _collect_options(kw: dict) -> CollectOptions:
    from .collect import CollectOptions
    from .script import ScriptOptions
    from .ssh import SSHOptions
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
    from .inventory import InventoryError, apply_limit, load_inventory
    try:
        inv = load_inventory(inventory)
        hosts = apply_limit(inv, limit) if limit else list(inv.hosts.values())
    except InventoryError as exc:
        raise UsageError(str(exc))
    if not hosts:
        raise UsageError(f"{inventory}: no hosts to audit" + (f" (--limit {limit!r})" if limit else ""))
    return hosts


def plain_progress(total: int, stream=None, every_s: float = 30.0, clock=time.monotonic):
    """Progress for CI logs and cron mail (stderr is no terminal, so no bar): one line
    per tenth of the hosts, at least every `every_s` seconds, and one at the end."""
    stream = stream if stream is not None else sys.stderr
    step = max(1, total // 10)
    started = last = clock()
    done = failed = 0

    def progress(res) -> None:
        nonlocal done, failed, last
        done += 1
        failed += res.status == "unreachable"
        now = clock()
        if done % step == 0 or done == total or now - last >= every_s:
            last = now
            print(f"collected {done}/{total} hosts, {failed} not audited, {int(now - started)}s",
                  file=stream, flush=True)
    return progress


def _collector(hosts, opts: CollectOptions, workers: Optional[int]):
    """collect, or the same over worker processes (--workers; workers.py)."""
    if workers == 1:  # one process asked for: no multiprocessing/pickle imports
        return collect
    from .workers import auto_workers, can_share, collect_in_workers
    n = min(workers or auto_workers(len(hosts)), max(1, len(hosts)))
    if n > 1:
        why_not = can_share(opts)
        if why_not is None:
            return functools.partial(collect_in_workers, workers=n)
        if workers:
            click.echo(f"fleetaudit: --workers {workers}: one process instead: {why_not}", err=True)
    return collect


def _run_collection(hosts, opts: CollectOptions, console: Console, quiet: bool,
                    interrupt: Optional[Interrupt] = None, workers: Optional[int] = None) -> RunResult:
    collect = _collector(hosts, opts, workers)
    if quiet:
        return collect(hosts, opts, interrupt=interrupt)
    if not console.is_terminal:
        return collect(hosts, opts, plain_progress(len(hosts)), interrupt=interrupt)
    # rich's progress machinery only when a bar is drawn (a --quiet or cron run never pays it)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("collecting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} not audited"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("collect", total=len(hosts), failed=0)
        failed = 0

        def progress(res):
            nonlocal failed
            failed += res.status == "unreachable"
            bar.update(task, advance=1, failed=failed)

        return collect(hosts, opts, progress, interrupt=interrupt)


def _say_interrupted(latch: SignalLatch, result: RunResult, quiet: bool) -> None:
    if quiet or latch.signum is None:
        return
    cut = [h for h in result.hosts.values() if h.error is not None and h.error.cls == "interrupted"]
    partly = sum(1 for h in cut if h.status == "partial")
    click.echo(f"fleetaudit: run interrupted by {latch.name}: {len(result.hosts) - len(cut)} hosts "
               f"finished, {partly} partly collected, {len(cut) - partly} not audited; "
               "everything collected was written", err=True)


def _check_baseline_host(name: Optional[str], hosts: list, shard_rec: Optional[dict]) -> None:
    if name and name not in {h.name for h in hosts}:
        if shard_rec is not None:
            raise UsageError(f"--baseline-host {name}: not in shard {shard_rec['index']}/"
                             f"{shard_rec['count']} (compare with it when merging: "
                             "`fleetaudit merge ... --baseline-host`)")
        raise UsageError(f"--baseline-host {name}: not among the audited hosts")


def _default_report_name(inventory: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(inventory).stem) or "inventory"
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{stem}.json"


def version_text() -> str:
    """What a bug report needs: fleetaudit, Python, asyncssh and the formats it writes."""
    import platform
    from importlib.metadata import version

    from .history.schema import LATEST
    from .models import SCHEMA_VERSION
    return (f"fleetaudit {__version__}\n"
            f"Python {platform.python_version()} ({platform.python_implementation()}, {sys.executable})\n"
            f"asyncssh {version('asyncssh')}\n"
            f"snapshot schema {SCHEMA_VERSION}\n"
            f"history store schema {LATEST}")


def _print_version(ctx: click.Context, param, value) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit(0)


@click.group(cls=FleetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the fleetaudit, Python, asyncssh and schema versions and exit.")
@click.option("--config", type=click.Path(dir_okay=False), default=None, is_eager=True,
              envvar="FLEETAUDIT_CONFIG",
              expose_value=False, callback=config_callback, metavar="FILE",
              help="Option defaults (docs/config.md). Default: the first of ./fleetaudit.yml, "
                   "~/.config/fleetaudit/config.yml, /etc/fleetaudit/config.yml; "
                   "--config /dev/null reads none.")
@cli_logging.logging_options
def main():
    """fleetaudit: why does `docker pull` work on one host but not another?

    Audits Docker hosts over SSH (nothing installed on them), compares them and
    explains the differences that break image pulls.

    Every output option takes - for stdout; every option has a default from
    FLEETAUDIT_* variables and a config file (docs/config.md).
    """
    gc.set_threshold(*GC_THRESHOLDS)


# A command allocates a few hundred thousand objects that live to its end (the modules
# it imports, then every host's facts and findings); at CPython's default gen-0
# threshold (700) the cyclic collector walks them in thousands of passes. 10,000 keeps
# it on (cycles are still freed) with a tenth of the passes: GC time 0.11 -> 0.05 s
# in an audit of 120 lab hosts.
GC_THRESHOLDS = (10_000, 20, 20)


def analysis_workers_option(fn):
    """--workers for the commands that analyse a snapshot without collecting (report, merge)."""
    return click.option("--workers", type=click.IntRange(1, 256), default=None, metavar="N",
                         help="Processes analysing the hosts (default: one per core, at most one "
                              "per 500 hosts; 1: one process). The outputs are the same.")(fn)


def analysis_options(fn):
    """Baseline and output options shared by `audit` and `report`."""
    @click.option("--baseline-host", default=None, metavar="NAME",
                  help="Compare every host with this golden host.")
    @click.option("--baseline", "baseline_file", type=click.Path(exists=True, dir_okay=False),
                  default=None, help="Compare with a saved snapshot (`fleetaudit baseline save`).")
    @click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
                  default=None, help="Policy YAML of expected values and constraints (docs/policy.md).")
    @click.option("--ignore", multiple=True, metavar="PATTERN",
                  help="Fact path glob to leave out of the comparison (repeatable).")
    @click.option("--consensus-by", multiple=True, metavar="GROUP",
                  help="Compute the fleet majority within these inventory groups separately.")
    @click.option("--html", "html_path", type=OutputPath(), default=None,
                  help="Write the HTML report here.")
    @templates_option
    @click.option("--junit", "junit_path", type=OutputPath(), default=None,
                  help="Write JUnit XML here (one test case per host and category).")
    @click.option("--markdown", "markdown_path", type=OutputPath(), default=None,
                  help="Write a Markdown summary here.")
    @click.option("--fail-on", type=click.Choice(SEVERITIES + ("none",)), default="high",
                  show_default=True, help="Exit 1 when a finding is at or above this severity.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def _keep_collected() -> None:
    """The collected (or loaded) fleet lives to the command's end: out of the cyclic
    collector's sight (gc.freeze), so the analysis's and the renderers' full collections
    no longer walk every host's facts (10,000 synthetic hosts: analysis 5-8 % and
    snapshot + reports 5-25 % less CPU, docs/benchmarks.md), and forked analysis or
    render processes leave those pages shared."""
    gc.freeze()


def _analyze(result: RunResult, kw: dict) -> None:
    from .analyze import AnalyzeError, AnalyzeOptions, analyze
    opts = AnalyzeOptions(
        baseline_host=kw["baseline_host"], baseline_file=kw["baseline_file"],
        policy_file=kw["policy_file"], ignore=list(kw["ignore"]),
        consensus_by=list(kw["consensus_by"]), workers=kw.get("workers"),
    )
    try:
        analyze(result, opts)
    except AnalyzeError as exc:
        raise UsageError(str(exc))


def _render_jobs(result: RunResult, kw: dict, run_history: Optional[dict] = None) -> dict:
    """The reports asked for, in the order they are written: name -> (path, render).
    Each renderer is imported only for its own output (HTML brings jinja2 and the
    since-view, JUnit xml.etree): an audit that writes JSON only loads none of them."""
    jobs = {}
    if kw.get("html_path"):
        def html() -> str:
            from .render.html import render_html
            return render_html(result, history=run_history, templates=kw.get("templates_dir"))
        jobs["html"] = (kw["html_path"], html)
    if kw.get("junit_path"):
        def junit() -> str:
            from .render.junit import render_junit
            return render_junit(result, fail_on=_junit_threshold(kw["fail_on"]))
        jobs["junit"] = (kw["junit_path"], junit)
    if kw.get("markdown_path"):
        def markdown() -> str:
            from .render.markdown import render_markdown
            return render_markdown(result)
        jobs["markdown"] = (kw["markdown_path"], markdown)
    return jobs


def _start_rendering(result: RunResult, kw: dict, run_history: Optional[dict] = None):
    """The reports rendered in a forked process while this one writes the snapshot
    (render_pool; only with more than one core, --workers not 1, a large fleet)."""
    from .render_pool import Rendering
    jobs = _render_jobs(result, kw, run_history)
    return Rendering.start({name: job for name, (_, job) in jobs.items()}, len(result.hosts),
                           kw.get("workers"))


def _snapshot_and_reports(result: RunResult, kw: dict, write_snapshot: Callable[[], Any]) -> Any:
    """write_snapshot() (its value is returned) while a forked process renders the reports
    when that pays (_start_rendering), then the reports written as _write_outputs does."""
    rendering = _start_rendering(result, kw)
    try:
        out = write_snapshot()
    except BaseException:
        rendering.close()
        raise
    _write_outputs(result, kw, rendering=rendering)
    return out


def _write_outputs(result: RunResult, kw: dict, run_history: Optional[dict] = None,
                   rendering=None) -> None:
    """run_history: render.history_view.report_history(...) for the HTML history view.
    rendering: what _start_rendering started for the same result and options (the texts
    are then the child's), or None (rendered here)."""
    try:
        for name, (path, job) in _render_jobs(result, kw, run_history).items():
            cliout.write_output(path, rendering.text(name) if rendering is not None else job())
    finally:
        if rendering is not None:
            rendering.close()


def _junit_threshold(fail_on: str) -> str:
    # JUnit needs some line between passed and failed even when the exit code ignores
    # findings (--fail-on none); "high" is what the default gate uses.
    return "high" if fail_on == "none" else fail_on


def _print_summary(console: Console, result: RunResult, written: list) -> None:
    from .render import terminal  # rich tables: only when a summary is printed
    for r in terminal.renderables(result):
        console.print(r)
    for label, path in written:
        if path:
            console.print(f"{label}: {cliout.shown(path)}", highlight=False, markup=False)


# Partial hosts whose collection was cut short (timeout, lost connection, output over
# the cap): they used to be `unreachable` with no facts; keeping their facts must not
# turn a "not audited" exit into a clean one.
CUT_SHORT = ("command-timeout", "protocol")


def exit_code(result: RunResult, fail_on: str = "high") -> int:
    """NOT_AUDITED beats FINDINGS: a gate must not pass a fleet it could not see."""
    if result.failed_hosts or any(h.status == "partial" and h.error is not None
                                  and h.error.cls in CUT_SHORT for h in result.hosts.values()):
        return exitcodes.NOT_AUDITED
    if fail_on != "none":
        limit = SEVERITIES.index(fail_on)
        for f in result.findings:
            sev = get_field(f, "severity")
            if SEVERITIES.index(sev) <= limit:
                return exitcodes.FINDINGS
    return exitcodes.CLEAN


@main.command()
@click.option("--inventory", "-i", required=True, metavar="INVENTORY", help=INVENTORY_HELP)
@click.option("--limit", "-l", default=None, shell_complete=complete_limit,
              help="Hosts, groups or globs, Ansible style: 'web*,!web03'.")
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the snapshot (facts, drift, findings) here (.gz: gzip-compressed).")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Every run also keeps its snapshot here.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or tables (for cron); exit code only.")
@shard_options
@ssh_options
@analysis_options
@record_options
@integration_options
def audit(inventory, limit, json_path, reports_dir, quiet, **kw):
    """Audit every host of INVENTORY, compare them, and report what breaks pulls.

    Example:

    \b
        fleetaudit audit -i inventories/example-ansible.ini --json reports/latest.json --html reports/latest.html
    """
    from . import snapshot
    console = None if quiet else cliout.console()  # --quiet prints nothing: no rich console
    hosts, shard_rec = apply_shard(_load_hosts(inventory, limit), kw, inventory, limit, "audit")
    _check_baseline_host(kw["baseline_host"], hosts, shard_rec)
    opts = _collect_options(kw)
    with RunRecorder.from_options(kw, inventory, limit) as recorder, SignalLatch() as latch:
        result = _run_collection(hosts, opts, console, quiet, latch.interrupt, kw["workers"])
        _keep_collected()
        result.run["inventory"] = str(inventory)
        result.run["limit"] = limit
        if shard_rec is not None:
            result.run["shard"] = shard_rec
        _analyze(result, kw)
        latch.mark(result.run)
        def snapshot_out() -> str:
            text = cliout.snapshot_text(result)
            if json_path:
                cliout.write_snapshot(json_path, text)
            return text
        text = _snapshot_and_reports(result, kw, snapshot_out)
        kept = cliout.keep_copy(Path(reports_dir) / _default_report_name(inventory), text)
        # the history's document only when there is a history (--no-history: no second to_json)
        run_id = recorder.record(snapshot.to_json(result), "audit") if recorder.store is not None else None
        if not quiet:
            _print_summary(console, result, [("snapshot", json_path or kept),
                                             ("html", kw["html_path"]), ("junit", kw["junit_path"]),
                                             ("markdown", kw["markdown_path"])])
            if run_id is not None:
                console.print(f"history: run {run_id} in {recorder.spec_text}", highlight=False,
                              markup=False, soft_wrap=True)
        _say_interrupted(latch, result, quiet)
        run_integrations(result, kw, command="audit")
    sys.exit(latch.exit_code or recorder.exit_code(exit_code(result, kw["fail_on"])))


@main.command()
@click.option("--inventory", "-i", required=True, metavar="INVENTORY", help=INVENTORY_HELP)
@click.option("--image", "images", multiple=True, required=True, metavar="REF",
              help="Image reference to gate on, as `docker pull` takes it (repeatable).")
@click.option("--pull", is_flag=True,
              help="MODIFIES HOSTS: really `docker pull` each image through every host's own "
                   "daemon (as root, sudo -n when become), after the read-only collection on the "
                   "same connection. Without it nothing is pulled and the verdict is 'no blocker "
                   "found' or 'blocked', never 'pulls'.")
@click.option("--pull-timeout", type=click.FloatRange(1), default=600.0, show_default=True,
              help="Seconds for each `docker pull` on a host (--pull).")
@click.option("--limit", "-l", default=None, shell_complete=complete_limit,
              help="Hosts, groups or globs, Ansible style: 'web*,!web03'.")
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the verdicts as JSON here (host -> image -> verdict, reasons, pull).")
@click.option("--junit", "junit_path", type=OutputPath(), default=None,
              help="Write JUnit XML here (one test case per host and image).")
@click.option("--snapshot", "snapshot_path", type=OutputPath(), default=None,
              help="Also write the audit snapshot (facts, findings) for report/diff/explain.")
@click.option("--fail-on", type=click.Choice(SEVERITIES + ("none",)), default="high",
              show_default=True,
              help="Read-only mode: a reason at or above this severity blocks a host (exit 1). "
                   "Ignored with --pull, where the pull decides.")
@click.option("--baseline-host", default=None, metavar="NAME",
              help="Compare every host with this golden host (default: the fleet majority).")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Policy YAML of expected values (docs/policy.md).")
@click.option("--no-manifest-check", is_flag=True,
              help="Skip the CLI-side `docker manifest inspect` probe (registry traffic from hosts).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or table; exit code only.")
@shard_options
@ssh_options
@record_options
@integration_options
def gate(inventory, images, pull, pull_timeout, limit, json_path, junit_path, snapshot_path,
         fail_on, baseline_host, policy_file, no_manifest_check, quiet, **kw):
    """Can every host pull IMAGE? The pre-rollout gate for CI.

    Read-only by default: audits every host and, in the same single exec, checks each
    image's registry from the host (name resolution, a CLI-side manifest read as root).
    A host is "blocked" when a finding, the probe or the fleet comparison shows a reason
    at or above --fail-on that concerns that registry, else "no blocker found" (not a
    promise). With --pull every host's daemon really pulls the image (this changes the
    hosts: it downloads the image) and a failed pull is classified into a category and
    cause. Exit 0: every host passes; 1: some host fails to pull (is blocked); 3: some
    host could not be audited or judged; 2: usage error. See docs/gate.md.

    Example:

    \b
        fleetaudit gate -i inventories/example-ansible.ini --image registry.example.com/team/app:1.2.3 --junit gate.xml
    """
    from . import gate as gatemod, snapshot
    from .analyze import AnalyzeError, AnalyzeOptions
    from .reference import ReferenceError, parse as parse_ref

    refs = []
    for text in images:
        try:
            refs.append(parse_ref(text))
        except ReferenceError as exc:
            raise UsageError(f"--image {text!r}: {exc}")
    console = cliout.console()
    hosts, shard_rec = apply_shard(_load_hosts(inventory, limit), kw, inventory, limit, "gate")
    _check_baseline_host(baseline_host, hosts, shard_rec)
    opts = _collect_options(kw)
    gate_opts = gatemod.GateOptions(images=refs, pull=pull, pull_timeout=pull_timeout,
                                    fail_on=fail_on, manifest_check=not no_manifest_check)
    with RunRecorder.from_options(kw, inventory, limit) as recorder, SignalLatch() as latch:
        try:
            result = gatemod.run_gate(
                hosts, opts, gate_opts,
                AnalyzeOptions(baseline_host=baseline_host, policy_file=policy_file,
                               workers=kw["workers"]),
                collect_fn=lambda hs, o: _run_collection(hs, o, console, quiet, latch.interrupt,
                                                         kw["workers"]))
        except AnalyzeError as exc:
            raise UsageError(str(exc))
        result.audit.run["inventory"] = str(inventory)
        result.audit.run["limit"] = limit
        if shard_rec is not None:
            result.audit.run["shard"] = shard_rec
        latch.mark(result.audit.run)
        if snapshot_path:
            cliout.save_snapshot(result.audit, snapshot_path)
        verdicts = gatemod.render_json(result)
        if json_path:
            cliout.write_output(json_path, verdicts)
        if junit_path:
            cliout.write_output(junit_path, gatemod.render_junit(result))
        # The audit snapshot plus the verdicts, so `history show` has the whole gate run.
        recorder.record(dict(snapshot.to_json(result.audit), gate=json.loads(verdicts)), "gate")
        if not quiet:
            for r in gatemod.renderables(result):
                console.print(r)
            for label, path in (("json", json_path), ("junit", junit_path), ("snapshot", snapshot_path)):
                if path:
                    console.print(f"{label}: {cliout.shown(path)}", highlight=False, markup=False)
            if recorder.run_id is not None:
                console.print(f"history: run {recorder.run_id} in {recorder.spec_text}",
                              highlight=False, markup=False, soft_wrap=True)
        _say_interrupted(latch, result.audit, quiet)
        run_integrations(result.audit, kw, command="gate", gate_verdicts=result.counts())
    sys.exit(latch.exit_code or recorder.exit_code(result.exit_code()))


def _load_snapshot(path: str) -> RunResult:
    from . import snapshot
    try:
        return snapshot.load(path)
    except snapshot.SnapshotError as exc:
        raise UsageError(str(exc))


@main.command()
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "json_path", type=OutputPath(), default=None,
              help="Write the re-analysed snapshot here (.gz: gzip-compressed).")
@click.option("--quiet", "-q", is_flag=True, help="No tables; exit code only.")
@analysis_options
@analysis_workers_option
def report(snapshot_path, json_path, quiet, **kw):
    """Re-analyse and re-render a saved snapshot without connecting to any host.

    Example:

    \b
        fleetaudit report reports/latest.json --html reports/latest.html --baseline-host golden
    """
    result = _load_snapshot(snapshot_path)
    _keep_collected()
    _analyze(result, kw)
    def snapshot_out() -> None:
        if json_path:
            cliout.save_snapshot(result, json_path)
    _snapshot_and_reports(result, kw, snapshot_out)
    if not quiet:
        _print_summary(cliout.console(), result, [("html", kw["html_path"]), ("junit", kw["junit_path"]),
                                           ("markdown", kw["markdown_path"])])
    run_integrations(result, kw, command="audit")
    sys.exit(exit_code(result, kw["fail_on"]))


@main.group()
def baseline():
    """Save a snapshot to compare later runs with (`--baseline FILE`)."""


@baseline.command("save")
@click.argument("snapshot_path", metavar="SNAPSHOT", type=click.Path(exists=True, dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
def baseline_save(snapshot_path, out):
    """Keep SNAPSHOT's audited hosts as the baseline OUT.

    Example:

    \b
        fleetaudit baseline save reports/latest.json baselines/2026-11.json
    """
    from .compare import save_baseline
    result = _load_snapshot(snapshot_path)
    save_baseline(result, out)
    click.echo(f"baseline: {out} ({sum(1 for h in result.hosts.values() if h.audited)} hosts)")


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help='Print {"rules": [{id, family, category, severity, title, why, remediation, '
                   'needs_docker}]} as JSON.')
def rules(as_json):
    """List the diagnosis rules (id, category, severity, title).

    Example:

    \b
        fleetaudit rules --json
    """
    from . import snapshot
    from .diagnose import load_rules
    if as_json:
        click.echo(snapshot.dumps({"rules": [r.to_json() for r in load_rules()]}, indent=1))
        return
    for r in load_rules():
        click.echo(f"{r.id:<36} {r.category:<13} {r.severity:<9} {r.title}")


def _newest_audit_snapshot(reports_dir: str) -> Optional[tuple]:
    """(path, RunResult) of the newest audit snapshot in reports_dir, said on stderr."""
    from . import snapshot
    found = snapshot.newest_audit_snapshot(reports_dir)
    if found:
        path, result = found
        click.echo(f"fleetaudit: snapshot: {path} (the newest audit run in {reports_dir}/, "
                   f"started {result.run.get('started', '?')}; --snapshot PATH to choose)", err=True)
    return found


@main.command()
@click.argument("text", metavar="ERROR_TEXT")
@click.option("--snapshot", "snapshot_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Show which hosts of this snapshot show each cause (default: the newest audit snapshot in --reports-dir).")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print {\"causes\": [...]} as JSON.")
@click.option("--history", "history_spec", envvar="FLEETAUDIT_HISTORY", default=None, metavar="SPEC",
              help="History store to answer 'since when' from (read only, when it exists).")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="The host(s) that printed the error: only their findings raise and their facts lower a cause (default: every audited host).")
def explain(text, snapshot_path, reports_dir, as_json, history_spec, hosts):
    """Rank the likely causes of a pull error message (ERROR_TEXT, or - for stdin).

    With a snapshot and a history store, each host showing a cause also gets since when:
    its last clean run, the facts changed after it, when its findings first appeared.

    Example:

    \b
        fleetaudit explain 'x509: certificate signed by unknown authority'
    """
    from . import snapshot
    from .explain import ambiguity, explain as explain_text

    if text == "-":
        text = sys.stdin.read()
    if snapshot_path:
        path, snap = snapshot_path, _load_snapshot(snapshot_path)
    else:
        path, snap = _newest_audit_snapshot(reports_dir) or (None, None)
    if snap is not None and hosts:
        unknown = [h for h in hosts if h not in snap.hosts]
        if unknown:
            raise click.UsageError(f"--host {', '.join(unknown)}: not in the snapshot")
    causes = explain_text(text, snap, list(hosts) or None)
    since = _explain_since(causes, snap, history_spec)
    if as_json:
        click.echo(snapshot.dumps({"causes": [dict(c.to_json(), since_when={
                                       h: since[h].to_json() for h in c.hosts if h in since})
                                       for c in causes],
                                   "ambiguous": ambiguity(causes),
                                   "snapshot": path if snap else None}, indent=1, default=str))
        return
    if all(c.generic for c in causes):
        click.echo("No known pull-failure pattern in that text (paste the full line from "
                   "`docker pull` or `journalctl -u docker`); low-confidence guesses from its words:")
    elif ambiguity(causes):
        click.echo(ambiguity(causes))
    for i, c in enumerate(causes, 1):
        click.echo(visible(f"{i}. {c.category} ({c.confidence:.0%}): {c.why}"))
        click.echo(visible(f"   check: {c.check}"))
        if c.fix:
            click.echo(visible(f"   fix:   {c.fix}"))
        if c.hosts:
            click.echo(visible(f"   hosts showing it in {path}: {', '.join(c.hosts)}"))
            for line in c.facts[:3]:
                click.echo(visible(f"   raised by: {line}"))
        if c.raised_by:
            click.echo(visible(f"   raised by: {c.raised_by}"))
        if c.lowered_by:
            click.echo(visible(f"   lowered by: {c.lowered_by}"))
        from .cli_drift import since_when_lines
        for h in c.hosts:
            if h in since:
                for line in since_when_lines(since[h], indent="   since: ", limit=5):
                    click.echo(visible(line))


def _explain_since(causes, snap, history_spec, max_hosts: int = 5) -> dict:
    """host -> HostSince for the first hosts showing each cause (history read only)."""
    hosts = list(dict.fromkeys(h for c in causes for h in c.hosts[:max_hosts]))
    if snap is None or not hosts:
        return {}
    from . import snapshot
    from .cli_drift import SinceWhenLookup
    lookup = SinceWhenLookup(history_spec)
    try:
        doc = snapshot.to_json(snap)
        found = {h: lookup.host(h, doc) for h in hosts}
    finally:
        lookup.close()
    return {h: hs for h, hs in found.items() if hs is not None}


@main.command()
@click.argument("host_a")
@click.argument("host_b")
@click.option("--snapshot", "snapshot_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Compare the hosts as recorded in this snapshot (default: the newest audit snapshot in --reports-dir).")
@click.option("--inventory", "-i", metavar="INVENTORY", default=None,
              help="Audit both hosts live from this inventory instead of reading a snapshot.")
@click.option("--reports-dir", type=click.Path(file_okay=False), default="reports", show_default=True)
@click.option("--ignore", multiple=True, metavar="PATTERN", help="Fact path glob to leave out.")
@click.option("--json", "as_json", is_flag=True, help="Print the ranked differences as JSON.")
@click.option("--history", "history_spec", envvar="FLEETAUDIT_HISTORY", default=None, metavar="SPEC",
              help="History store to answer 'since when' from (read only, when it exists).")
@ssh_options
def diff(host_a, host_b, snapshot_path, inventory, reports_dir, ignore, as_json, history_spec, **kw):
    """Differences between a working HOST_A and a failing HOST_B, most likely cause first.

    With a history store, also since when: HOST_B's last recorded run where it was
    clean, the facts that changed after it, and when each of its findings first appeared.

    Example:

    \b
        fleetaudit diff good-1 no-ca --snapshot reports/latest.json
    """
    from . import snapshot
    from .compare import BaselineError, diff_hosts
    from .rank import rank_drift

    if inventory:
        hosts = _load_hosts(inventory, f"{host_a},{host_b}")
        result = collect(hosts, _collect_options(kw))
    else:
        if snapshot_path:
            path, result = snapshot_path, _load_snapshot(snapshot_path)
        else:
            path, result = _newest_audit_snapshot(reports_dir) or (None, None)
        if not path:
            raise UsageError(f"no audit snapshot in {reports_dir}/: pass --snapshot PATH "
                             "or --inventory INVENTORY")
    try:
        items = diff_hosts(result, host_a, host_b, ignore=list(ignore) or None)
    except BaselineError as exc:
        raise UsageError(str(exc))
    ranked = rank_drift(items)
    from .cli_drift import SinceWhenLookup, since_when_lines
    lookup = SinceWhenLookup(history_spec)
    try:
        since = lookup.host(host_b, snapshot.to_json(result))
    finally:
        lookup.close()
    if as_json:
        click.echo(snapshot.dumps([{**r["item"].to_json(), "category": r["category"],
                                    "weight": r["weight"], "symptom": r["symptom"],
                                    **_changed_since(since, r["item"].path)} for r in ranked],
                                  indent=1, default=str))
        return
    if not ranked:
        click.echo(visible(f"{host_b} does not differ from {host_a} in any compared fact."))
    for r in ranked:
        item = r["item"]
        # Fact paths and values are host text (a daemon.json key, a proxy URL).
        click.echo(visible(f"[{r['category']} {r['weight']:.2f}] {item.path}: "
                           f"{_short(item.expected)} -> {_short(item.actual)}"))
        if r["symptom"]:
            click.echo(visible(f"      symptom: {r['symptom']}"))
    if since is not None:
        click.echo(f"since when (history {lookup.spec}):")
        for line in since_when_lines(since):
            click.echo(visible(line))
    elif lookup.note:
        click.echo(lookup.note, err=True)


def _changed_since(since, path: str) -> dict:
    """`diff --json`: when the history knows it, the run after which this fact changed."""
    if since is None:
        return {}
    change = since.changed_at(path)
    return {"changed_since_clean": None if change is None else {
        "last_clean": since.last_clean.to_json(), "path": change.path, "before": change.before}}


def _short(value, cap: int = 100) -> str:
    from . import snapshot
    text = value if isinstance(value, str) else snapshot.dumps(value, default=str)
    return text if len(text) <= cap else text[: cap - 3] + "..."


main.add_command(history)


def entry() -> None:
    """Console script: unexpected exceptions exit with INTERNAL, not a usage code."""
    try:
        main(prog_name="fleetaudit", complete_var="_FLEETAUDIT_COMPLETE")
    except SystemExit:
        raise
    except Exception as exc:  # pragma: no cover - the safety net itself
        import traceback
        # The exception text may quote a host: shown inert like everything else.
        click.echo(visible(traceback.format_exc(), newlines=True), err=True, nl=False)
        click.echo(visible(f"fleetaudit: internal error: {type(exc).__name__}: {exc}"), err=True)
        sys.exit(exitcodes.INTERNAL)


__import__("fleetaudit.cli_drift", fromlist=["register"]).register(main)  # `drift` (cli_drift.py)
__import__("fleetaudit.cli_shard", fromlist=["register"]).register(main)  # `merge` (cli_shard.py)

if __name__ == "__main__":
    entry()
