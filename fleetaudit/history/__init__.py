"""Run history: every audit, gate and drift run recorded in a store, read back later.

    from fleetaudit.history import open_store
    with open_store(None) as store:                 # default location, see below
        with store.lock(inventory_key, wait_s=0):   # LockBusy when another run holds it
            run_id = store.record(snapshot_dict, inventory_key, "audit")
        store.runs(), store.previous(key), store.load(run_id), store.host_timeline(host)
        store.host_digests(run_id) / facts_digest(facts) + store.host_docs(run_id, hosts):
        compare with a past run without loading the hosts that did not change

A store is a SQLite file (WAL) or a PostgreSQL database (`postgresql://...`, psycopg 3),
same schema and behaviour. Default location: $FLEETAUDIT_HISTORY, else
$XDG_STATE_HOME/fleetaudit/history.sqlite, else ~/.local/state/fleetaudit/history.sqlite.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from .encode import facts_digest
from .errors import HistoryError, LockBusy
from .schema import LATEST as SCHEMA_VERSION
from .store import KINDS, RunInfo, Store

__all__ = ["open_store", "default_history_path", "HistoryError", "LockBusy", "RunInfo",
           "Store", "KINDS", "SCHEMA_VERSION", "is_postgres", "facts_digest"]


def default_history_path() -> str:
    env = os.environ.get("FLEETAUDIT_HISTORY")
    if env:
        return env
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "fleetaudit" / "history.sqlite")


def is_postgres(spec: str) -> bool:
    return str(spec).startswith(("postgresql://", "postgres://"))


def open_store(spec: Union[None, str, os.PathLike] = None, *,
               _upto_version: Optional[int] = None) -> Store:
    """Open (creating or upgrading as needed) the store at spec: a file path or a
    postgresql:// URL; None means default_history_path()."""
    from .backends import PostgresBackend, SqliteBackend

    spec = str(spec) if spec is not None else default_history_path()
    backend = PostgresBackend(spec) if is_postgres(spec) else SqliteBackend(spec)
    return Store(backend, upto_version=_upto_version)
