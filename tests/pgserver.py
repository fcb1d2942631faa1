"""A real PostgreSQL server for tests (design.md "PostgreSQL for tests").

Debian's postgresql 15 binaries, initdb into a temp dir the `postgres` user owns (initdb
refuses root), unix socket only (listen_addresses empty), fsync off; stopped with
`pg_ctl -m fast stop`. Each test gets its own database on the one server.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional

PG_BIN = Path(os.environ.get("FLEETAUDIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "fleetaudit"


def available() -> Optional[str]:
    """None when a server can be started here, else why not."""
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser to drop to the postgres user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'fleetaudit[postgres]')"
    return None


class PgServer:
    def __init__(self):
        # A short path: the socket name DIR/.s.PGSQL.5432 must fit in 107 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="fa-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._names = itertools.count(1)
        self.started = False

    def _run(self, args: List[str], timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})

    def start(self) -> "PgServer":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        res = self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER,
                         "-E", "UTF8", "--no-sync"])
        if res.returncode:
            raise RuntimeError(f"initdb failed: {res.stderr or res.stdout}")
        res = self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                         f"-k {self.dir} -c listen_addresses= -c fsync=off "
                         "-c max_connections=60", "start"])
        if res.returncode:
            raise RuntimeError(f"pg_ctl start failed: {res.stderr or res.stdout}\n"
                               f"{self.log.read_text() if self.log.exists() else ''}")
        self.started = True
        return self

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.dir}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its postgresql:// URL."""
        import psycopg
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        if self.started:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
