"""Snapshots: the versioned JSON contract (docs/facts.md, docs/architecture.md), written atomically.

    {"schema": "fleetaudit/1", "run": {...}, "hosts": {name: {status, error, facts, ...}},
     "findings": [...], "catalog": {sha256: digest}, ...}

Snapshots are strict JSON (RFC 8259), so a browser's JSON.parse, jq, Go and PostgreSQL's
jsonb all read them: no NaN or Infinity. The collectors' parsers already turn a
non-finite number from a host into a string with a parse note; `dumps` is the second
line of defence: any non-finite float still left becomes the string "inf", "-inf" or
"nan", and `save` lists where in `run.json_notes`. Integers are written as they are,
however large (JSON allows them; JavaScript readers round those beyond 2**53, which is
why the parsers of host JSON keep such numbers as strings, see collectors/jsonfacts.py).

Compression: a snapshot path ending in `.gz` is written gzip-compressed (about 10x
smaller at 10,000 hosts, docs/benchmarks.md); `.zst`/`.zstd` is zstd when the optional
`zstandard` package is importable, else a SnapshotError (gzip needs nothing beyond the
standard library). Every reader goes through `read_text`, which recognises compressed
files by their magic bytes, whatever their name.
"""
from __future__ import annotations

import gc
import gzip
import re
import json
import zlib
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional, Union

from .collectors.jsonfacts import may_hold_surrogates, no_lone_surrogates
from .models import SCHEMA_VERSION, Finding, HostResult, RunResult


class SnapshotError(Exception):
    pass


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building millions of small acyclic objects (parsing a
    snapshot, flattening a fleet's facts): at 10,000 hosts its repeated full-heap scans
    cost as much as the work itself (json.loads of a 10,000-host snapshot: 2.9 s of CPU
    with it, 1.5 s without)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def built_to_last() -> Iterator[None]:
    """gc_paused, for objects that stay (a loaded snapshot): on the way out everything
    the collector tracks is moved straight to its oldest generation (gc.freeze then
    gc.unfreeze, both documented), as surviving collections would have done. Otherwise
    the first collection after the pause scans all the new objects at once and the next
    scans them again (0.5 s of CPU after reading a 10,000-host snapshot). Nothing is
    leaked: the oldest generation is still collected, and acyclic objects are freed by
    reference counting whatever their generation."""
    with gc_paused():
        try:
            yield
        finally:
            if gc.get_freeze_count() == 0:   # unfreeze would also undo a freeze of the caller's
                gc.freeze()
                gc.unfreeze()


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


MAX_JSON_NOTES = 100


def finite(value: Any, notes: Optional[List[str]] = None, path: str = "$") -> Any:
    """A copy of `value` with every non-finite float replaced by its name as a string."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if notes is not None and len(notes) < MAX_JSON_NOTES:
            notes.append(f"{path}: non-finite number {value!r} written as the string {repr(value)!r}")
        return repr(value)
    if isinstance(value, dict):
        return {k: finite(v, notes, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v, notes, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def dumps(obj: Any, *, notes: Optional[List[str]] = None, **kw: Any) -> str:
    """json.dumps that only ever writes strict JSON (see the module doc).

    The common case costs nothing extra: the sanitising walk runs only when the strict
    encoder refused a value. The C encoder (no indent) runs without its circular
    reference check, which keeps an id-keyed dict entry for every object and list being
    written (~9 % of a 96 MB snapshot's dumps); a cycle, a bug, then overflows the
    recursion limit, and the write is redone with the check so that it fails as before.
    """
    if kw.get("indent") is None and "check_circular" not in kw:
        try:
            return dumps(obj, notes=notes, check_circular=False, **kw)
        except RecursionError:
            pass  # a cycle, or nesting too deep for the encoder: the checked run tells
    try:
        return json.dumps(obj, allow_nan=False, **kw)
    except ValueError as exc:
        if "Out of range float" not in str(exc):  # e.g. a circular reference: a bug
            raise
        return json.dumps(finite(obj, notes), allow_nan=False, **kw)


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_LEVEL = 6  # level 9 costs ~2x the time for ~3% smaller snapshots


def compression_of(path: Union[str, Path]) -> Optional[str]:
    """"gzip", "zstd" or None, from the file name (what a writer is asked for)."""
    name = str(path).lower()
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith((".zst", ".zstd")):
        return "zstd"
    return None


def _zstd():
    try:
        import zstandard  # optional: not a dependency of fleetaudit
    except ImportError:
        return None
    return zstandard


def encode(text: str, compression: Optional[str]) -> bytes:
    """The bytes of a snapshot file holding `text`, compressed as asked."""
    data = text.encode("utf-8")
    if compression == "gzip":
        # mtime=0: the same snapshot gives the same bytes (diffable, cacheable)
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if compression == "zstd":
        zstd = _zstd()
        if zstd is None:
            raise SnapshotError("zstd snapshots need the Python package 'zstandard', which is "
                                "not installed; use a .gz name (gzip) instead")
        return zstd.ZstdCompressor(level=6).compress(data)
    return data


def decode(data: bytes, path: Union[str, Path] = "snapshot") -> str:
    """A snapshot file's bytes -> its JSON text, decompressed by magic bytes (not by name:
    a renamed or piped file reads the same)."""
    try:
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        elif data[:4] == ZSTD_MAGIC:
            zstd = _zstd()
            if zstd is None:
                raise SnapshotError(f"{path}: a zstd-compressed snapshot, and the Python package "
                                    "'zstandard' is not installed (gzip needs nothing: use .gz)")
            data = zstd.ZstdDecompressor().decompressobj().decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt archive
        raise SnapshotError(f"{path}: not a JSON snapshot: damaged compressed data ({exc})") from exc
    except SnapshotError:
        raise
    except Exception as exc:  # zstandard.ZstdError and kin
        raise SnapshotError(f"{path}: not a JSON snapshot: damaged compressed data ({exc})") from exc
    return data.decode("utf-8")


def read_text(path: Union[str, Path]) -> str:
    """The JSON text of the snapshot file at `path`, compressed or not."""
    with open(path, "rb") as fh:
        return decode(fh.read(), path)


def write_snapshot_file(path: Union[str, Path], text: str) -> None:
    """Write snapshot text atomically, compressed when the name says so (.gz, .zst)."""
    compression = compression_of(path)
    write_atomic(path, encode(text, compression) if compression else text)


def write_atomic(path: Union[str, Path], text: Union[str, bytes]) -> None:
    """Write via a temp file in the same directory + rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
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
    text = text_of(result)
    for path in paths:
        if path:
            write_snapshot_file(path, text)


def text_of(result: RunResult) -> str:
    """The snapshot file's text (what save() writes; the CLI's `--json -` prints it).

    With the cyclic GC paused: the document's 10,000 host dicts live only until dumps
    returns, and collections during it would promote them to the oldest generation,
    bringing the next full scan of the whole fleet's facts closer."""
    with gc_paused():
        doc = to_json(result)
        notes: List[str] = []
        text = dumps(doc, notes=notes, separators=(",", ":"))
        if notes:  # say where the sanitiser had to step in (a parser let a number through)
            doc["run"] = {**(doc.get("run") or {}), "json_notes": notes}
            text = dumps(doc, separators=(",", ":"))
    return text + "\n"


def load(path: Union[str, Path]) -> RunResult:
    with built_to_last():
        return from_json(load_document(path), str(path))


def load_document(path: Union[str, Path]) -> dict:
    """A snapshot file's JSON document (plain or compressed), SnapshotError naming the
    file when it cannot be read as one."""
    try:
        text = read_text(path)
        with built_to_last():
            doc = json.loads(text)
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read snapshot: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{path}: not a JSON snapshot: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}:{exc.lineno}: not a JSON snapshot: {exc.msg}") from exc
    if may_hold_surrogates(text):  # "\udcff" from an edited file: not encodable as UTF-8
        doc = no_lone_surrogates(doc)
    return doc


def _check_host_record(h: Any) -> None:
    """The shape HostResult.from_json and every reader after it rely on (ValueError if not)."""
    if not isinstance(h, dict):
        raise ValueError(f"a JSON object, not {type(h).__name__}")
    for key in ("facts", "incomplete"):
        if h.get(key) is not None and not isinstance(h[key], dict):
            raise ValueError(f"'{key}' is not a JSON object")
    if not isinstance(h.get("status", "ok"), str):
        raise ValueError("'status' is not a string")
    error = h.get("error")
    if error and not (isinstance(error, dict) and isinstance(error.get("class"), str)):
        raise ValueError("'error' is not {\"class\": ..., \"message\": ...}")


def from_json(doc: dict, source: str = "snapshot") -> RunResult:
    """A snapshot document (as read from a file or the history store) -> RunResult."""
    path = source
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("fleetaudit/"):
        raise SnapshotError(f"{path}: not a fleetaudit snapshot (no 'schema': 'fleetaudit/N')")
    # "fleetaudit/MAJOR[.MINOR]": a minor version only adds keys, a new major changes them.
    major = str(doc["schema"]).split("/", 1)[1].split(".", 1)[0]
    if major != SCHEMA_VERSION.split("/", 1)[1].split(".", 1)[0]:
        raise SnapshotError(f"{path}: snapshot schema {doc['schema']} is not supported "
                            f"(this fleetaudit reads {SCHEMA_VERSION})")
    for key in ("run", "hosts", "catalog"):  # an edited or foreign file: fail closed here
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise SnapshotError(f"{path}: '{key}' is not a JSON object")
    hosts = {}
    for name, h in (doc.get("hosts") or {}).items():
        try:
            _check_host_record(h)
            hosts[name] = HostResult.from_json(name, h)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # an edited file
            raise SnapshotError(f"{path}: host {name!r} is not a host record: {exc}") from exc
    raw_findings = doc.get("findings") or []
    if not isinstance(raw_findings, list):
        raise SnapshotError(f"{path}: 'findings' is not a list")
    findings = []
    for i, f in enumerate(raw_findings):
        try:
            findings.append(Finding.from_json(f))
        except ValueError as exc:  # an edited file
            raise SnapshotError(f"{path}: findings[{i}] is not a finding: {exc}") from exc
    extra = {k: v for k, v in doc.items()
             if k not in ("schema", "run", "hosts", "findings", "catalog")}
    return RunResult(run=doc.get("run") or {}, hosts=hosts, catalog=doc.get("catalog") or {},
                     findings=findings, extra=extra)


# Keys that make a fleetaudit/N file something other than one audit run: `baseline save`
# marks its copies (compare/baseline.py BASELINE_MARK), which keep an older run's time.
NOT_A_RUN_KEYS = ("baseline_saved",)


SNAPSHOT_GLOBS = ("*.json", "*.json.gz", "*.json.zst")


# How much of a snapshot file is read to find its run's start (the run object comes
# first in what save() writes, before the hosts; a few KB in practice).
HEADER_BYTES = 64 * 1024
_HEADER_START = re.compile(r'\{\s*"schema"\s*:\s*"[^"\\]*"\s*,\s*"run"\s*:\s*')


def run_started_from_header(path: Union[str, Path]) -> Optional[str]:
    """run.started of a snapshot file, read from its first HEADER_BYTES only, when the
    file begins the way save() writes it ({"schema": ..., "run": {...}); "" when the run
    has no start; None when that cannot be told from the head (other key order, zstd,
    a run object longer than the head, unreadable): the caller then loads the file whole.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
            fh.seek(0)
            if magic == GZIP_MAGIC:
                with gzip.GzipFile(fileobj=fh) as gz:
                    head = gz.read(HEADER_BYTES)
            else:
                head = fh.read(HEADER_BYTES)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:   # not just a character cut at the end of the head
            return None
        text = head[:exc.start].decode("utf-8")
    m = _HEADER_START.match(text)
    if not m:
        return None
    try:
        run, _ = json.JSONDecoder().raw_decode(text, m.end())
    except ValueError:
        return None
    if not isinstance(run, dict):
        return None
    started = run.get("started")
    return started if isinstance(started, str) else ""


def newest_audit_snapshot(directory: Union[str, Path]) -> Optional[tuple]:
    """(path, RunResult) of the audit snapshot in `directory` whose run started last, or None.

    "The newest *.json" was a guess that broke as soon as a gate verdict file or a
    baseline landed in the same directory; files that are not audit snapshots (another
    schema, a baseline, unreadable) are skipped. Ties on the run time go to the newer file.

    A reports directory of scheduled runs holds hundreds of snapshots: each file's run
    start is read from its head, and files are loaded whole newest first, stopping at the
    first that is an audit run; a file whose head does not tell is loaded whole, as before.
    """
    best = None

    def consider(path: Path, mtime: float) -> None:
        nonlocal best
        try:
            result = load(path)
        except (OSError, SnapshotError):
            return
        if any(k in result.extra for k in NOT_A_RUN_KEYS) or not result.hosts:
            return
        started = result.run.get("started")
        key = (started if isinstance(started, str) else "", mtime, str(path))
        if best is None or key > best[0]:
            best = (key, path, result)

    headed = []
    paths = [p for pattern in SNAPSHOT_GLOBS for p in Path(directory).glob(pattern)]
    for path in paths:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        started = run_started_from_header(path)
        if started is None:
            consider(path, mtime)
        else:
            headed.append(((started, mtime, str(path)), path))
    for key, path in sorted(headed, reverse=True):
        if best is not None and key <= best[0]:
            break   # every file left started earlier than the one found
        consider(path, key[1])
    return (best[1], best[2]) if best else None
