"""`--prom PATH` and `--notify URL`: the hooks into what ops teams already run.

Shared by `audit`, `gate` and `drift`. Both run after the run's own outputs are written
and never change its result or exit code: a failure is a warning on stderr.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Optional

import click

from .cliout import OutputPath, is_stdout, write_output
from .models import RunResult


def _check_notify(ctx, param, values):
    if not values:  # click calls this for every run: no --notify, no urllib/http/ssl/email
        return values
    from .notify import NotifyURLError, check_url
    for url in values:
        try:
            check_url(url)
        except NotifyURLError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param)
    return values


def integration_options(fn):
    """--prom, --notify, --notify-timeout, --notify-always."""
    @click.option("--prom", "prom_path", type=OutputPath(), default=None,
                  metavar="FILE|-",
                  help="Write Prometheus metrics here (node-exporter textfile format, atomic), "
                       "e.g. /var/lib/node_exporter/textfile/fleetaudit.prom.")
    @click.option("--notify", "notify_urls", multiple=True, metavar="URL", callback=_check_notify,
                  help="POST a JSON summary (new and resolved findings, with a `text` field "
                       "for Slack/Mattermost) to this http(s) webhook (repeatable). A failure "
                       "is a warning: it never changes the exit code.")
    @click.option("--notify-timeout", type=click.FloatRange(0.1, 120), default=5.0,
                  show_default=True, help="Seconds per webhook attempt (2 retries with backoff).")
    @click.option("--notify-always", is_flag=True,
                  help="drift: notify even when nothing changed since the last run.")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def run_integrations(result: RunResult, kw: Dict[str, Any], *, command: str,
                     since: Any = None, gate_verdicts: Optional[Dict[str, int]] = None) -> None:
    """Write --prom and send --notify for a finished run; warnings go to stderr.

    since: the SinceLast of a drift run (default: the run's `drift_since_last` section)."""
    if since is None and isinstance(result.extra, dict):
        since = result.extra.get("drift_since_last")
    prom_path = kw.get("prom_path")
    if is_stdout(prom_path):
        from .render.prom import render_prom
        write_output(prom_path, render_prom(result, command=command, since=since,
                                            gate_verdicts=gate_verdicts))
    elif prom_path:
        from .render.prom import write_prom
        try:
            write_prom(prom_path, result, command=command, since=since, gate_verdicts=gate_verdicts)
        except OSError as exc:
            click.echo(f"fleetaudit: warning: --prom {prom_path}: {exc.strerror or exc}", err=True)
    urls = kw.get("notify_urls") or ()
    if not urls:
        return
    from .notify import build_payload, has_change, send
    payload = build_payload(result, command=command, since=since)
    if command == "drift" and not kw.get("notify_always") and not has_change(payload):
        return
    for url in urls:
        outcome = send(url, payload, timeout=kw.get("notify_timeout") or 5.0)
        if not outcome.ok:
            click.echo(f"fleetaudit: warning: --notify {outcome.url}: {outcome.error} "
                       f"(after {outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}); "
                       "the run's result is unchanged", err=True)
