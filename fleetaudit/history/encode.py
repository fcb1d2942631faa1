"""Pure encoding between snapshot pieces and stored rows (no I/O).

Content addressing: a document is stored once, as zlib-compressed canonical JSON (keys
sorted, compact), under the sha256 of that JSON. Host facts are split first into a
stable part and the leaves that change on every run (uptime, used bytes, clock
readings: CHANGING below). The stable part is what says "this host changed"; without
the split every real host would look changed on every run and cost a full fact blob.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any, Dict, List, Optional, Tuple

from fnmatch import fnmatchcase

# The leaves that change between two runs of a host nobody touched: readings and
# counters, as (segment glob, ...) paths. A subset of compare.ignore.VOLATILE, which also
# lists facts that differ per machine but hold still (engine id, memory size, kernel
# build) and event logs (daemon_log, restarts): those stay in the stable part, where a
# change is news.
CHANGING = ("time.clock", "system.uptime_s", "disk.*.used*", "disk.*.avail",
            "disk.*.inodes_used*", "disk.*.inodes_free", "disk.docker_df",
            "docker.info.containers*", "docker.info.images*", "time.ntp.detail")
_PATTERNS = tuple(tuple(p.split(".")) for p in CHANGING)


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def pack(raw: bytes, zdict: Optional[bytes] = None) -> bytes:
    """zlib, primed with `zdict` when given: host documents of one fleet share most of
    their text, so a dictionary made of one of them shrinks the others ~5-10x."""
    if zdict is None:
        return zlib.compress(raw, 6)
    comp = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, zdict)
    return comp.compress(raw) + comp.flush()


def unpack(data: bytes, zdict: Optional[bytes] = None) -> Any:
    if zdict is None:
        return json.loads(zlib.decompress(bytes(data)))
    dec = zlib.decompressobj(15, zdict)
    return json.loads(dec.decompress(bytes(data)) + dec.flush())


def split_volatile(facts: dict) -> Tuple[dict, List[list]]:
    """(stable facts, [[key, key, ..., value], ...]) - the CHANGING leaves taken out.

    Only the few subtrees a pattern can reach are walked and copied; everything else is
    shared with the input as is.
    """
    moved: List[list] = []

    def walk(node: dict, keys: tuple) -> dict:
        out = {}
        for k, v in node.items():
            here = keys + (k,)
            verdict = _verdict(here)
            if verdict == "moved":
                moved.append([*here, v])
            elif verdict == "descend" and type(v) is dict:
                out[k] = walk(v, here)
            else:
                out[k] = v
        return out

    return walk(facts, ()), moved


_VERDICTS: Dict[tuple, str] = {}


def _verdict(keys: tuple) -> str:
    """'moved' (a CHANGING path), 'descend' (a prefix of one) or 'keep'."""
    got = _VERDICTS.get(keys)
    if got is None:
        got = "keep"
        for pat in _PATTERNS:
            if len(keys) <= len(pat) and all(isinstance(k, str) and fnmatchcase(k, p)
                                             for k, p in zip(keys, pat)):
                got = "moved" if len(keys) == len(pat) else "descend"
                if got == "moved":
                    break
        if len(_VERDICTS) < 100_000:  # key paths are a small vocabulary; bound it anyway
            _VERDICTS[keys] = got
    return got


def facts_digest(facts: dict) -> str:
    """Hex sha256 of a host's stable facts: what the store keys its fact blob by."""
    return digest(canonical(split_volatile(facts)[0])).hex()


def merge_volatile(stable: dict, moved: Optional[List[list]]) -> dict:
    for entry in moved or ():
        *keys, value = entry
        node = stable
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return stable


# Host document fields kept in typed columns when they have the usual type; anything
# else (unknown keys, odd types, missing keys) goes to the `other` JSON so load() gives
# back exactly what was recorded.
_COLUMNS = {"address": str, "bytes_received": int, "attempts": int}


def host_columns(doc: dict) -> Dict[str, Any]:
    """One host's snapshot entry -> column values (facts handled by the caller)."""
    other: Dict[str, Any] = {}
    cols: Dict[str, Any] = {"status": None, "error_class": None, "error_message": None,
                            "address": None, "bytes_received": None, "duration_ms": None,
                            "attempts": None, "incomplete": None}
    absent = []
    for key in ("status", "error", "facts", "incomplete", "duration_s", *_COLUMNS):
        if key not in doc:
            absent.append(key)
    status = doc.get("status")
    if isinstance(status, str):
        cols["status"] = status
    elif "status" in doc:
        other["status"] = status
    err = doc.get("error")
    if isinstance(err, dict) and set(err) == {"class", "message"} \
            and isinstance(err["class"], str) and isinstance(err["message"], str):
        cols["error_class"], cols["error_message"] = err["class"], err["message"]
    elif err is not None:
        other["error"] = err
    inc = doc.get("incomplete")
    if isinstance(inc, dict):
        if inc:
            cols["incomplete"] = json.dumps(inc, separators=(",", ":"), ensure_ascii=False)
    elif "incomplete" in doc:
        other["incomplete"] = inc
    for key, typ in _COLUMNS.items():
        if key in doc:
            v = doc[key]
            if type(v) is typ:
                cols[key] = v
            else:
                other[key] = v
    # Durations are rounded to milliseconds by HostResult: an integer column is 2-3
    # bytes on disk where a double is 8, on every row of every run.
    dur = doc.get("duration_s")
    if type(dur) is float and abs(dur) < 1e9 and round(dur * 1000) / 1000 == dur:
        cols["duration_ms"] = round(dur * 1000)
    elif "duration_s" in doc:
        other["duration_s"] = dur
    for key, v in doc.items():
        if key not in ("status", "error", "facts", "incomplete", "duration_s", *_COLUMNS):
            other[key] = v
    if "facts" in doc and not isinstance(doc["facts"], dict):
        other["facts"] = doc["facts"]
    if absent:
        other["__absent__"] = absent
    cols["other"] = json.dumps(other, separators=(",", ":"), ensure_ascii=False) if other else None
    return cols


def host_doc(row: Dict[str, Any], facts: Optional[dict]) -> dict:
    """Inverse of host_columns (+ the facts, already merged)."""
    other = json.loads(row["other"]) if row.get("other") else {}
    absent = set(other.pop("__absent__", ()))
    doc: Dict[str, Any] = {}
    if row["status"] is not None:
        doc["status"] = row["status"]
    if row["error_class"] is not None:
        doc["error"] = {"class": row["error_class"], "message": row["error_message"]}
    elif "error" not in absent:
        doc["error"] = None
    for key in _COLUMNS:
        if row[key] is not None:
            doc[key] = row[key]
    if row["duration_ms"] is not None:
        doc["duration_s"] = row["duration_ms"] / 1000
    if "facts" not in absent and facts is not None:
        doc["facts"] = facts
    if row["incomplete"] is not None:
        doc["incomplete"] = json.loads(row["incomplete"])
    elif "incomplete" not in absent:
        doc["incomplete"] = {}
    doc.update(other)
    return doc


def finding_columns(f: Any) -> Dict[str, Any]:
    """A finding dict -> its indexed columns (text, or None when not a string)."""
    g = f if isinstance(f, dict) else {}

    def s(key):
        v = g.get(key)
        return v if isinstance(v, str) else None
    return {"host": s("host"), "rule": s("rule"), "category": s("category"),
            "severity": s("severity"), "title": s("title")}
