"""History store errors (the CLI maps them to exit codes)."""
from __future__ import annotations


class HistoryError(Exception):
    """The store cannot be opened, read or written."""


class LockBusy(HistoryError):
    """Another run of the same inventory holds the lock."""

    def __init__(self, key: str, holder: str, waited_s: float = 0):
        self.key, self.holder, self.waited_s = key, holder, waited_s
        waited = f" after waiting {waited_s:g} s" if waited_s else ""
        super().__init__(f"another run of {key!r} is in progress{waited}: held by {holder}")
