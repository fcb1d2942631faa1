"""Snapshots: the versioned JSON contract of design.md, written atomically.

    {"schema": "fleetaudit/1", "run": {...}, "hosts": {name: {status, error, facts, ...}},
     "findings": [...], "catalog": {sha256: digest}, ...}
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Union

from .models import SCHEMA_VERSION, HostResult, RunResult


class SnapshotError(Exception):
    pass


def to_json(result: RunResult) -> dict:
    doc = {
        "schema": SCHEMA_VERSION,
        "run": result.run,
        "hosts": {name: h.to_json() for name, h in result.hosts.items()},
        "findings": [f.to_json() if hasattr(f, "to_json") else f for f in result.findings],
        "catalog": result.catalog,
    }
    for key, value in result.extra.items():
        doc.setdefault(key, value)
    return doc


def write_atomic(path: Union[str, Path], text: str) -> None:
    """Write via a temp file in the same directory + rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file 0600; reports are meant to be shared like any other file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(result: RunResult, *paths: Union[str, Path]) -> None:
    """Write the snapshot to every path, serialised once.

    Compact separators keep json on its C encoder (indent= falls back to pure Python,
    ~5x slower) and the text is built once however many copies are written.
    """
    text = json.dumps(to_json(result), separators=(",", ":")) + "\n"
    for path in paths:
        if path:
            write_atomic(path, text)


def load(path: Union[str, Path]) -> RunResult:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}:{exc.lineno}: not a JSON snapshot: {exc.msg}") from exc
    return from_json(doc, str(path))


def from_json(doc: dict, source: str = "snapshot") -> RunResult:
    """A snapshot document (as read from a file or the history store) -> RunResult."""
    path = source
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("fleetaudit/"):
        raise SnapshotError(f"{path}: not a fleetaudit snapshot (no 'schema': 'fleetaudit/N')")
    major = str(doc["schema"]).split("/", 1)[1]
    if major != SCHEMA_VERSION.split("/", 1)[1]:
        raise SnapshotError(f"{path}: snapshot schema {doc['schema']} is not supported "
                            f"(this fleetaudit reads {SCHEMA_VERSION})")
    hosts = {name: HostResult.from_json(name, h) for name, h in (doc.get("hosts") or {}).items()}
    extra = {k: v for k, v in doc.items()
             if k not in ("schema", "run", "hosts", "findings", "catalog")}
    return RunResult(run=doc.get("run") or {}, hosts=hosts, catalog=doc.get("catalog") or {},
                     findings=list(doc.get("findings") or []), extra=extra)
