"""Logging for the CLI: `-v` (per host and phase), `-vv` (plus asyncssh's own log),
`--log-file PATH`. The library only logs to `logging.getLogger("fleetaudit....")`; this
module, called by the CLI alone, decides where that goes.

What reaches a log: host names (through render.safe.visible), phases, error classes
and messages, timings. Never script output or facts: secrets are redacted on the host,
but the log is one more place a mistake would leak them, so it gets none of that text.
"""
from __future__ import annotations

import logging
from typing import List, Optional

import click

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_HANDLERS: list = []


def level_for(verbose: int) -> int:
    return logging.DEBUG if verbose >= 2 else logging.INFO


def setup(verbose: int = 0, log_file: Optional[str] = None) -> None:
    """-v: INFO of fleetaudit on stderr; -vv: DEBUG, and asyncssh's log too.
    --log-file gets the same (at least INFO) whether or not -v is given."""
    teardown()
    if not verbose and not log_file:
        return
    level = level_for(verbose)
    fmt = logging.Formatter(FORMAT)
    if verbose:
        err = logging.StreamHandler()  # sys.stderr: stdout may carry `--json -`
        _HANDLERS.append(err)
    if log_file:
        _HANDLERS.append(logging.FileHandler(log_file, encoding="utf-8"))
    for h in _HANDLERS:
        h.setFormatter(fmt)
        h.setLevel(level)
    names = ["fleetaudit"] + (["asyncssh"] if verbose >= 2 else [])
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for h in _HANDLERS:
            logger.addHandler(h)
    if verbose >= 2:
        import asyncssh
        # Level 2 logs channel requests; 3 would dump raw packets (data, not for a log).
        asyncssh.set_debug_level(2)


def teardown() -> None:
    """Remove this module's handlers (tests call the CLI many times in one process)."""
    for name in ("fleetaudit", "asyncssh"):
        logger = logging.getLogger(name)
        for h in _HANDLERS:
            logger.removeHandler(h)
    for h in _HANDLERS:
        h.close()
    _HANDLERS.clear()


# --- the options: on `fleetaudit` itself and on every command (FleetCommand adds them) ---

_VERBOSE, _LOG_FILE = "fleetaudit.verbose", "fleetaudit.log_file"


def _callback(ctx: click.Context, param: click.Parameter, value):
    """`fleetaudit -v audit -vv`: the larger count wins (not the sum: a config file's
    `verbose: 1` reaches both levels); a command's --log-file beats the top level's.
    ctx.meta is shared by the whole context chain."""
    if param.name == "log_file":
        ctx.meta[_LOG_FILE] = value or ctx.meta.get(_LOG_FILE)
    else:
        ctx.meta[_VERBOSE] = max(value or 0, ctx.meta.get(_VERBOSE) or 0)
    seen = ctx.meta.setdefault("fleetaudit.log_params", set())
    seen.add((id(ctx), param.name))
    if ctx.resilient_parsing or {(id(ctx), "verbose"), (id(ctx), "log_file")} - seen:
        return value
    wanted = (ctx.meta[_VERBOSE], ctx.meta[_LOG_FILE])
    if wanted != ctx.meta.get("fleetaudit.log_setup", (0, None)):
        try:
            setup(*wanted)
        except OSError as exc:
            log_param = next(p for p in ctx.command.params if p.name == "log_file")
            raise click.BadParameter(f"{exc.strerror or exc}", ctx=ctx, param=log_param)
        ctx.meta["fleetaudit.log_setup"] = wanted
        ctx.find_root().call_on_close(teardown)
    return value


def params() -> List[click.Option]:
    return [
        click.Option(["--verbose", "-v"], count=True, expose_value=False, callback=_callback,
                     help="Log each host's phases (resolve, connect, auth, exec, fetch, retries, "
                          "timings) to stderr; -vv adds debug detail and asyncssh's own log."),
        click.Option(["--log-file"], type=click.Path(dir_okay=False), default=None,
                     expose_value=False, callback=_callback, metavar="PATH",
                     help="Also write that log (at least -v detail) to PATH."),
    ]


def logging_options(fn):
    """-v/--verbose and --log-file on a click command or group."""
    fn.__click_params__ = getattr(fn, "__click_params__", []) + params()[::-1]
    return fn
