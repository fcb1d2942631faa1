"""Logging for the CLI: `-v` (per host and phase), `-vv` (plus asyncssh's own log),
`--log-file PATH`. The library only logs to `logging.getLogger("fleetaudit....")`; this
module, called by the CLI alone, decides where that goes.

What reaches a log: host names (through render.safe.visible), phases, error classes
and messages, timings. Never script output or facts: secrets are redacted on the host,
but the log is one more place a mistake would leak them, so it gets none of that text.
"""
from __future__ import annotations

import logging
from typing import Optional

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
