"""The two connections a store can sit on, behind one small interface.

Store code writes its SQL once, with `?` placeholders; the PostgreSQL backend turns them
into psycopg's `%s` (no statement of ours contains a literal `?` or `%`). Each backend
also owns the two things SQL does not say the same way: how a write transaction starts
(SQLite takes the database's write lock up front with BEGIN IMMEDIATE) and how one
inventory's runs are kept from overlapping (a lock file vs an advisory lock).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Sequence

from .errors import HistoryError, LockBusy


def _holder_text() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _key_hash(key: str) -> bytes:
    return hashlib.sha256(b"fleetaudit-history-lock\0" + key.encode()).digest()


class SqliteBackend:
    dialect = "sqlite"
    max_params = 900  # SQLite's default limit is 999 bound parameters per statement

    def __init__(self, path: str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=60.0,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a killed process never loses a committed run or damages
            # the file; only a power cut may drop the last commits.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{self.path}: cannot open history store: {exc}") from exc

    def describe(self) -> str:
        return str(self.path)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self, gc: bool = False) -> Iterator[None]:
        """A write transaction. SQLite has one writer at a time, so the garbage collector
        (gc=True) and recorders never see each other's half-done work either way."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A read snapshot: several SELECTs see one consistent state."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def lock(self, key: str, wait_s: float = 0) -> Iterator[None]:
        """An flock on a file per inventory key, in `<store>.locks/` next to the store.

        flock is released by the kernel when the holder dies, so a killed run never
        leaves a stale lock behind; the file's text only says who held it last.
        """
        lockdir = Path(str(self.path) + ".locks")
        lockdir.mkdir(parents=True, exist_ok=True)
        lockfile = lockdir / (_key_hash(key).hex()[:32] + ".lock")
        fd = os.open(str(lockfile), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + max(0.0, wait_s)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise HistoryError(f"{lockfile}: cannot lock: {exc}") from exc
                    if time.monotonic() >= deadline:
                        raise LockBusy(key, _read_holder(lockfile), wait_s) from None
                    time.sleep(min(0.1, max(0.0, deadline - time.monotonic())) or 0.01)
            info = json.dumps({"key": key, "holder": _holder_text(),
                               "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode() + b"\n", 0)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        self.conn.close()


def _read_holder(lockfile: Path) -> str:
    try:
        info = json.loads(lockfile.read_text() or "{}")
        return f"{info.get('holder', 'unknown')} since {info.get('since', '?')}"
    except (OSError, ValueError):
        return "unknown holder"


# Advisory lock keys of the store itself (inventory keys hash into the same space; a
# collision only makes two unrelated things wait for each other).
_GC_KEY = int.from_bytes(_key_hash("\0gc")[:8], "big", signed=True)
_MIGRATE_KEY = int.from_bytes(_key_hash("\0migrate")[:8], "big", signed=True)


class PostgresBackend:
    dialect = "postgres"
    max_params = 10000

    def __init__(self, dsn: str):
        try:
            import psycopg
        except ImportError as exc:
            raise HistoryError("a postgresql:// history needs psycopg 3: "
                               "pip install 'fleetaudit[postgres]'") from exc
        self._psycopg = psycopg
        self.dsn = dsn
        try:
            self.conn = psycopg.connect(dsn, autocommit=True,
                                        application_name=f"fleetaudit {_holder_text()}"[:63])
        except psycopg.Error as exc:
            raise HistoryError(f"{_redact(dsn)}: cannot connect: {exc}".strip()) from exc

    def describe(self) -> str:
        return _redact(self.dsn)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        cur = self.conn.execute(self._sql(sql), params)
        return cur.fetchall() if cur.description else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), list(rows))

    @contextlib.contextmanager
    def transaction(self, gc: bool = False) -> Iterator[None]:
        """Recorders share the GC lock, prune takes it alone: a blob a recorder found and
        is about to reference cannot be collected under it."""
        with self.conn.transaction():
            fn = "pg_advisory_xact_lock" if gc else "pg_advisory_xact_lock_shared"
            self.conn.execute(f"SELECT {fn}(%s)", (_GC_KEY,))
            yield

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield

    @contextlib.contextmanager
    def migrating(self) -> Iterator[None]:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_KEY,))
            yield

    @contextlib.contextmanager
    def lock(self, key: str, wait_s: float = 0) -> Iterator[None]:
        """A session advisory lock on a hash of the key: released when this connection
        ends, so a killed run frees it."""
        num = int.from_bytes(_key_hash(key)[:8], "big", signed=True)
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (num,)).fetchone()[0]
            if got:
                break
            if time.monotonic() >= deadline:
                raise LockBusy(key, self._holder(num), wait_s)
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())) or 0.01)
        try:
            yield
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (num,))

    def _holder(self, num: int) -> str:
        unsigned = num & 0xFFFFFFFFFFFFFFFF
        rows = self.conn.execute(
            "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
            "AND l.objsubid = 1",
            (unsigned >> 32, unsigned & 0xFFFFFFFF)).fetchall()
        if not rows:
            return "unknown holder"
        pid, app, addr, start = rows[0]
        where = f" from {addr}" if addr else ""
        return f"{app or 'a client'} (server pid {pid}{where}, connected {start:%Y-%m-%dT%H:%M:%S%z})"

    def close(self) -> None:
        self.conn.close()


def _redact(dsn: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user@host/db (for messages)."""
    import re
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1@", re.sub(r"password=\S+", "password=...", dsn))
