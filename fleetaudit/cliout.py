"""Output files of the CLI, where `-` means stdout (the Unix convention jq pipelines use).

Output options are declared with `OutputPath()`; FleetCommand (cliconfig.py) calls
`claim_stdout` before the command runs: at most one output may be `-`, and when one is,
the human summary (rich tables, progress, "written: PATH" lines) goes to stderr so
stdout carries nothing but that document.
"""
from __future__ import annotations

import sys
from typing import Optional

import click

STDOUT = "-"
_META_KEY = "fleetaudit.stdout"  # ctx.meta: the option that owns stdout, if any


class OutputPath(click.Path):
    """A file to write, or `-` for stdout."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, allow_dash=True)

    def get_metavar(self, *args, **kw) -> str:  # click 8.1 and 8.2 signatures
        return "FILE|-"


def _is_stdout_flag(param: click.Parameter, value) -> bool:
    # `--json` flags (explain, diff, history list ...) print their document on stdout.
    return isinstance(param, click.Option) and param.is_flag and param.name == "as_json" and bool(value)


def _label(param: click.Parameter) -> str:
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or param.opts)[0]


def claim_stdout(ctx: click.Context) -> None:
    """Usage error when two outputs want stdout; remember which one has it."""
    wanting = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param.type, OutputPath) and value == STDOUT:
            wanting.append(_label(param) + " -")
        elif _is_stdout_flag(param, value):
            wanting.append(_label(param))
    if len(wanting) > 1:
        raise click.UsageError(f"{' and '.join(wanting)}: only one output can go to stdout", ctx=ctx)
    if wanting:
        ctx.meta[_META_KEY] = wanting[0]


def stdout_taken() -> Optional[str]:
    """The option writing to stdout in this run (e.g. '--json -'), or None."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_META_KEY) if ctx is not None else None


def is_stdout(path) -> bool:
    return path is not None and str(path) == STDOUT


def console(**kw):
    """The rich console for the human summary: stderr when stdout carries a document."""
    from rich.console import Console
    return Console(stderr=bool(stdout_taken()), **kw)


def echo(message: str = "", **kw) -> None:
    """click.echo for human text: to stderr when stdout carries a document."""
    err = kw.pop("err", False)
    click.echo(message, err=err or bool(stdout_taken()), **kw)


def write_output(path, text: str) -> None:
    """Write `text` to `path` atomically (temp file + rename), or to stdout for `-`."""
    if is_stdout(path):
        out = sys.stdout  # CliRunner swaps it; click.get_text_stream is deprecated
        out.write(text)
        out.flush()
        return
    from .snapshot import write_atomic
    write_atomic(path, text)


def shown(path) -> Optional[str]:
    """How a written output is named in the summary ('stdout' for `-`)."""
    if path is None:
        return None
    return "stdout" if is_stdout(path) else str(path)


def write_snapshot(path, text: str) -> None:
    """Snapshot text to `path` (compressed when its name ends in .gz or .zst) or stdout."""
    if is_stdout(path):
        write_output(path, text)
        return
    from .snapshot import SnapshotError, write_snapshot_file
    try:
        write_snapshot_file(path, text)
    except SnapshotError as exc:  # .zst without the optional zstandard package
        raise click.UsageError(f"{path}: {exc}")


def save_snapshot(result, *paths) -> None:
    """snapshot.save, where a path may be `-`: the text is built once for all of them."""
    from .snapshot import text_of
    text = text_of(result)
    for path in paths:
        if path:
            write_snapshot(path, text)


def snapshot_text(result) -> str:
    from .snapshot import text_of
    return text_of(result)


def keep_copy(path, text: str) -> Optional[str]:
    """The per-run copy in reports/, written after the requested outputs: a directory that
    is not writable (cron in /) costs this extra copy and a warning, not the run's outputs
    or its exit code. Returns the path when it was written."""
    try:
        from .snapshot import write_atomic
        write_atomic(path, text)
    except OSError as exc:
        click.echo(f"fleetaudit: warning: the run's copy {path} was not kept: "
                   f"{exc.strerror or exc} (--reports-dir DIR to keep it elsewhere)", err=True)
        return None
    return str(path)
