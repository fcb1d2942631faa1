"""The history store: runs recorded as rows over content-addressed documents.

One class for both backends (SQLite, PostgreSQL): the SQL is written once (see
backends.py for the placeholder shim and schema.py for the DDL). Library code: raises
HistoryError, never prints or exits.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import encode, schema
from .errors import HistoryError

KINDS = ("audit", "gate", "drift")
_STATUSES = ("ok", "partial", "unreachable")
_SEVERITIES = ("critical", "high", "medium", "low", "info")
_RUN_COLS = ("id, kind, inventory_key, recorded, started, finished, interrupted, "
             "hosts_ok, hosts_partial, hosts_unreachable, hosts_other, "
             "f_critical, f_high, f_medium, f_low, f_info, f_other")


@dataclass
class RunInfo:
    """One recorded run, as `history list` shows it."""
    id: int
    kind: str
    inventory_key: str
    recorded: str                 # when it was stored (UTC, ISO 8601)
    started: Optional[str]        # the snapshot's run.started / run.finished
    finished: Optional[str]
    interrupted: bool
    hosts: Dict[str, int] = field(default_factory=dict)      # status -> count (+ "other")
    findings: Dict[str, int] = field(default_factory=dict)   # severity -> count (+ "other")

    @property
    def host_count(self) -> int:
        return sum(self.hosts.values())

    @property
    def finding_count(self) -> int:
        return sum(self.findings.values())

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "RunInfo":
        hosts = dict(zip(_STATUSES + ("other",), row[7:11]))
        findings = dict(zip(_SEVERITIES + ("other",), row[11:17]))
        if not hosts["other"]:
            del hosts["other"]
        if not findings["other"]:
            del findings["other"]
        return cls(id=int(row[0]), kind=row[1], inventory_key=row[2], recorded=row[3],
                   started=row[4], finished=row[5], interrupted=bool(row[6]),
                   hosts=hosts, findings=findings)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class Store:
    """Open with fleetaudit.history.open_store(spec)."""

    def __init__(self, backend, upto_version: Optional[int] = None):
        self.db = backend
        self.spec = backend.describe()
        self.last_prune: Dict[str, int] = {}
        self._zdicts: Dict[int, bytes] = {}
        try:
            self._migrate(upto_version or schema.LATEST)
            self.version = self.schema_version()
        except HistoryError:
            backend.close()
            raise
        except Exception as exc:
            backend.close()
            raise HistoryError(f"{self.spec}: cannot prepare the history schema: {exc}") from exc

    # --- schema -----------------------------------------------------------------------

    def _migrate(self, target: int) -> None:
        ctx = self.db.migrating() if hasattr(self.db, "migrating") else self.db.transaction()
        with ctx:
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            rows = self.db.execute("SELECT version FROM schema_version")
            current = int(rows[0][0]) if rows else 0
            if current > schema.LATEST:
                raise HistoryError(f"{self.spec}: history schema v{current} is newer than this "
                                   f"fleetaudit understands (v{schema.LATEST}): upgrade fleetaudit")
            for version in range(current + 1, target + 1):
                for stmt in schema.statements(self.db.dialect, version):
                    self.db.execute(stmt)
            if target > current:
                if rows:
                    self.db.execute("UPDATE schema_version SET version = ?", (target,))
                else:
                    self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))

    def schema_version(self) -> int:
        return int(self.db.execute("SELECT version FROM schema_version")[0][0])

    # --- locking ----------------------------------------------------------------------

    def lock(self, inventory_key: str, wait_s: float = 0):
        """Context manager: one run of an inventory at a time; LockBusy after wait_s."""
        return self.db.lock(inventory_key, wait_s)

    # --- writing ----------------------------------------------------------------------

    def record(self, snapshot: dict, inventory_key: str, kind: str) -> int:
        """Store one snapshot (fleetaudit.snapshot.to_json shape) in one transaction."""
        if kind not in KINDS:
            raise HistoryError(f"run kind {kind!r}: expected one of {', '.join(KINDS)}")
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("hosts", {}), dict):
            raise HistoryError("not a snapshot: expected a dict with a 'hosts' mapping")
        if not inventory_key:
            raise HistoryError("an inventory key is required")
        plan = _Plan(snapshot)
        try:
            with self.db.transaction():
                blob_ids = self._intern_blobs(plan.blobs, plan.kinds)
                host_ids = self._intern_names(list(dict.fromkeys(plan.host_names)))
                finding_ids = self._intern_findings(plan.findings)
                run_id = self._insert_run(plan, inventory_key, kind)
                self.db.executemany(
                    "INSERT INTO run_parts (run_id, name, blob_id) VALUES (?, ?, ?)",
                    [(run_id, name, blob_ids[sha]) for name, sha in plan.parts])
                self.db.executemany(
                    "INSERT INTO run_hosts (run_id, seq, host_id, status, error_class, "
                    "error_message, facts_blob, volatile_blob, address, bytes_received, "
                    "duration_ms, attempts, incomplete, other) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, seq, host_ids[name], c["status"], c["error_class"],
                      c["error_message"], blob_ids.get(fsha), blob_ids.get(vsha), c["address"],
                      c["bytes_received"], c["duration_ms"], c["attempts"], c["incomplete"],
                      c["other"])
                     for seq, (name, c, fsha, vsha) in enumerate(plan.hosts)])
                self.db.executemany(
                    "INSERT INTO run_findings (run_id, seq, finding_id) VALUES (?, ?, ?)",
                    [(run_id, seq, finding_ids[sha]) for seq, sha in enumerate(plan.finding_order)])
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"{self.spec}: recording the run failed: "
                               f"{type(exc).__name__}: {exc}") from exc
        return run_id

    def _existing(self, table: str, column: str, keys: List[Any]) -> Dict[Any, int]:
        found: Dict[Any, int] = {}
        for part in _chunks(keys, self.db.max_params):
            marks = ", ".join("?" * len(part))
            for id_, key in self.db.execute(
                    f"SELECT id, {column} FROM {table} WHERE {column} IN ({marks})", list(part)):
                found[bytes(key) if isinstance(key, (bytes, memoryview)) else key] = int(id_)
        return found

    def _intern_blobs(self, blobs: Dict[bytes, bytes], kinds: Dict[bytes, str]) -> Dict[bytes, int]:
        """sha -> id for every blob, inserting (compressed) only those not stored yet."""
        keys = list(blobs)
        ids = self._existing("blobs", "sha256", keys)
        missing = [k for k in keys if k not in ids]
        if missing:
            if self.version >= 2:
                dicts = self._dicts_for({kinds.get(k) for k in missing} - {None}, blobs, kinds, missing)
                rows = []
                for k in missing:
                    zid = dicts.get(kinds.get(k))
                    rows.append((k, encode.pack(blobs[k], self._zdicts.get(zid)), zid))
                self.db.executemany("INSERT INTO blobs (sha256, data, zdict_id) VALUES (?, ?, ?) "
                                    "ON CONFLICT (sha256) DO NOTHING", rows)
            else:
                self.db.executemany("INSERT INTO blobs (sha256, data) VALUES (?, ?) "
                                    "ON CONFLICT (sha256) DO NOTHING",
                                    [(k, encode.pack(blobs[k])) for k in missing])
            ids.update(self._existing("blobs", "sha256", missing))
        return ids

    def _dicts_for(self, wanted: set, blobs, kinds, missing) -> Dict[str, int]:
        """kind -> zdict id, creating a kind's dictionary from its first document here
        when the store has none yet (inside the caller's transaction)."""
        have = {kind: int(id_) for id_, kind in self.db.execute("SELECT id, kind FROM zdicts")}
        for kind in sorted(wanted - set(have)):
            # The largest document of the kind covers the most keys (an unreachable
            # host's {} would teach zlib nothing); too small a sample waits for a
            # later run.
            sample = max((blobs[k] for k in missing if kinds.get(k) == kind), key=len)
            if len(sample) >= 256:
                self.db.execute("INSERT INTO zdicts (kind, data) VALUES (?, ?) "
                                "ON CONFLICT (kind) DO NOTHING", (kind, sample[-32768:]))
        if wanted - set(have):
            have = {kind: int(id_) for id_, kind in self.db.execute("SELECT id, kind FROM zdicts")}
        self._load_zdicts([have[k] for k in wanted if k in have])
        return have

    def _load_zdicts(self, ids: Iterable[int]) -> None:
        need = [i for i in ids if i is not None and i not in self._zdicts]
        for part in _chunks(need, self.db.max_params):
            marks = ", ".join("?" * len(part))
            for id_, data in self.db.execute(f"SELECT id, data FROM zdicts WHERE id IN ({marks})",
                                             list(part)):
                self._zdicts[int(id_)] = bytes(data)

    def _intern_names(self, names: List[str]) -> Dict[str, int]:
        ids = self._existing("hosts", "name", names)
        missing = [n for n in names if n not in ids]
        if missing:
            self.db.executemany("INSERT INTO hosts (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
                                [(n,) for n in missing])
            ids.update(self._existing("hosts", "name", missing))
        return ids

    def _intern_findings(self, findings: Dict[bytes, Tuple[bytes, dict]]) -> Dict[bytes, int]:
        keys = list(findings)
        ids = self._existing("findings", "sha256", keys)
        missing = [k for k in keys if k not in ids]
        if missing:
            self.db.executemany(
                "INSERT INTO findings (sha256, host, rule, category, severity, title, doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                [(k, c["host"], c["rule"], c["category"], c["severity"], c["title"],
                  raw.decode()) for k in missing for raw, c in (findings[k],)])
            ids.update(self._existing("findings", "sha256", missing))
        return ids

    def _insert_run(self, plan: "_Plan", inventory_key: str, kind: str) -> int:
        run = plan.run if isinstance(plan.run, dict) else {}

        def text(v):
            return v if isinstance(v, str) else None
        hc, fc = plan.host_counts, plan.finding_counts
        row = self.db.execute(
            "INSERT INTO runs (inventory_key, kind, recorded, started, finished, interrupted, "
            "meta, hosts_ok, hosts_partial, hosts_unreachable, hosts_other, f_critical, f_high, "
            "f_medium, f_low, f_info, f_other) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (inventory_key, kind, utc_now(), text(run.get("started")), text(run.get("finished")),
             1 if run.get("interrupted") else 0, plan.meta,
             *(hc.get(s, 0) for s in _STATUSES + ("other",)),
             *(fc.get(s, 0) for s in _SEVERITIES + ("other",))))
        return int(row[0][0])

    # --- reading ----------------------------------------------------------------------

    def runs(self, inventory_key: Optional[str] = None, limit: Optional[int] = 50,
             kind: Optional[str] = None) -> List[RunInfo]:
        """Recorded runs, newest first."""
        where, params = self._filters(inventory_key, kind)
        sql = f"SELECT {_RUN_COLS} FROM runs{where} ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [RunInfo.from_row(r) for r in self.db.execute(sql, params)]

    def get(self, run_id: int) -> RunInfo:
        rows = self.db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (int(run_id),))
        if not rows:
            raise HistoryError(f"{self.spec}: no run {run_id}")
        return RunInfo.from_row(rows[0])

    def previous(self, inventory_key: str, before_run_id: Optional[int] = None,
                 kind: Optional[str] = None) -> Optional[RunInfo]:
        """The last recorded run of that inventory (before `before_run_id` if given)."""
        where, params = self._filters(inventory_key, kind)
        if before_run_id is not None:
            where += " AND id < ?"
            params.append(int(before_run_id))
        rows = self.db.execute(f"SELECT {_RUN_COLS} FROM runs{where} ORDER BY id DESC LIMIT 1",
                               params)
        return RunInfo.from_row(rows[0]) if rows else None

    @staticmethod
    def _filters(inventory_key: Optional[str], kind: Optional[str]) -> Tuple[str, list]:
        clauses, params = [], []
        if inventory_key is not None:
            clauses.append("inventory_key = ?")
            params.append(inventory_key)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def load(self, run_id: int) -> dict:
        """The snapshot exactly as recorded (equal to its JSON form)."""
        with self.db.read():
            rows = self.db.execute("SELECT meta FROM runs WHERE id = ?", (int(run_id),))
            if not rows:
                raise HistoryError(f"{self.spec}: no run {run_id}")
            meta = json.loads(rows[0][0])
            part_ids = dict(self.db.execute(
                "SELECT name, blob_id FROM run_parts WHERE run_id = ?", (int(run_id),)))
            host_rows = self.db.execute(
                "SELECT h.name, r.status, r.error_class, r.error_message, r.facts_blob, "
                "r.volatile_blob, r.address, r.bytes_received, r.duration_ms, r.attempts, "
                "r.incomplete, r.other FROM run_hosts r JOIN hosts h ON h.id = r.host_id "
                "WHERE r.run_id = ? ORDER BY r.seq", (int(run_id),))
            blob_ids = {b for r in host_rows for b in (r[4], r[5]) if b is not None}
            blobs = self._blobs(sorted(blob_ids | set(part_ids.values())))
            parts = {name: self._doc(blobs, id_) for name, id_ in part_ids.items()}
            findings = [json.loads(doc) for (doc,) in self.db.execute(
                "SELECT f.doc FROM run_findings rf JOIN findings f ON f.id = rf.finding_id "
                "WHERE rf.run_id = ? ORDER BY rf.seq", (int(run_id),))]
        hosts = {}
        names = ("status", "error_class", "error_message", "facts_blob", "volatile_blob",
                 "address", "bytes_received", "duration_ms", "attempts", "incomplete", "other")
        for r in host_rows:
            row = dict(zip(names, r[1:]))
            facts = None
            if row["facts_blob"] is not None:
                facts = encode.merge_volatile(self._doc(blobs, row["facts_blob"]),
                                              self._doc(blobs, row["volatile_blob"]))
            hosts[r[0]] = encode.host_doc(row, facts)
        out: Dict[str, Any] = {}
        for key in meta["layout"]:
            if key == "hosts":
                out[key] = hosts
            elif key == "findings":
                out[key] = findings
            elif key in meta["inline"]:
                out[key] = meta["inline"][key]
            else:
                out[key] = parts[key]
        return out

    def load_section(self, run_id: int, name: str) -> Any:
        """One top-level section of a recorded snapshot (e.g. `drift_since_last`), or None
        when the run has none, without reading its hosts: load() of a 10,000-host run
        unpacks every host's facts, this reads one row and at most one blob."""
        if name in ("hosts", "findings"):
            raise HistoryError(f"load_section: {name!r} is not a section; use load()")
        with self.db.read():
            rows = self.db.execute("SELECT meta FROM runs WHERE id = ?", (int(run_id),))
            if not rows:
                raise HistoryError(f"{self.spec}: no run {run_id}")
            meta = json.loads(rows[0][0])
            if name in meta.get("inline", {}):
                return meta["inline"][name]
            parts = self.db.execute(
                "SELECT blob_id FROM run_parts WHERE run_id = ? AND name = ?", (int(run_id), name))
            if not parts:
                return None
            blob_id = int(parts[0][0])
            blobs = self._blobs([blob_id])
        return self._doc(blobs, blob_id)

    def host_digests(self, run_id: int) -> Dict[str, Optional[str]]:
        """host -> hex digest of its stable facts in that run (None: no facts recorded).

        Equal to fleetaudit.history.facts_digest(facts) of a live run's host, so a
        comparison can skip every host whose digest did not change without loading it.
        """
        rows = self.db.execute(
            "SELECT h.name, b.sha256 FROM run_hosts r JOIN hosts h ON h.id = r.host_id "
            "LEFT JOIN blobs b ON b.id = r.facts_blob WHERE r.run_id = ? ORDER BY r.seq",
            (int(run_id),))
        if not rows and not self.db.execute("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)):
            raise HistoryError(f"{self.spec}: no run {run_id}")
        return {name: bytes(sha).hex() if sha is not None else None for name, sha in rows}

    def host_docs(self, run_id: int, hosts: Iterable[str]) -> Dict[str, dict]:
        """Some hosts' snapshot entries (facts included) of one run, without loading the
        rest of it. Hosts not in the run are left out."""
        wanted = list(dict.fromkeys(hosts))
        names = ("status", "error_class", "error_message", "facts_blob", "volatile_blob",
                 "address", "bytes_received", "duration_ms", "attempts", "incomplete", "other")
        found: Dict[str, dict] = {}
        with self.db.read():
            rows = []
            for part in _chunks(wanted, self.db.max_params - 1):
                marks = ", ".join("?" * len(part))
                rows += self.db.execute(
                    "SELECT h.name, r.status, r.error_class, r.error_message, r.facts_blob, "
                    "r.volatile_blob, r.address, r.bytes_received, r.duration_ms, r.attempts, "
                    "r.incomplete, r.other FROM run_hosts r JOIN hosts h ON h.id = r.host_id "
                    f"WHERE r.run_id = ? AND h.name IN ({marks})", [int(run_id), *part])
            blobs = self._blobs(sorted({b for r in rows for b in (r[4], r[5]) if b is not None}))
        for r in rows:
            row = dict(zip(names, r[1:]))
            facts = None
            if row["facts_blob"] is not None:
                facts = encode.merge_volatile(self._doc(blobs, row["facts_blob"]),
                                              self._doc(blobs, row["volatile_blob"]))
            found[r[0]] = encode.host_doc(row, facts)
        return {h: found[h] for h in wanted if h in found}

    def _blobs(self, ids: List[int]) -> Dict[int, Tuple[bytes, Optional[bytes]]]:
        """Blob id -> (compressed data, its dictionary); decode with _doc, once per use
        (merge_volatile edits the decoded stable facts in place, and two hosts may share
        one blob)."""
        out: Dict[int, Tuple[bytes, Optional[bytes]]] = {}
        zcol = ", zdict_id" if self.version >= 2 else ""
        for part in _chunks(ids, self.db.max_params):
            marks = ", ".join("?" * len(part))
            rows = self.db.execute(f"SELECT id, data{zcol} FROM blobs WHERE id IN ({marks})",
                                   list(part))
            if zcol:
                self._load_zdicts({r[2] for r in rows if r[2] is not None})
            for r in rows:
                zdict = self._zdicts[int(r[2])] if zcol and r[2] is not None else None
                out[int(r[0])] = (bytes(r[1]), zdict)
        return out

    @staticmethod
    def _doc(blobs: Dict[int, Tuple[bytes, Optional[bytes]]], id_: Optional[int]) -> Any:
        return None if id_ is None else encode.unpack(*blobs[id_])

    def host_timeline(self, host: str, fact_path: Optional[str] = None,
                      inventory_key: Optional[str] = None) -> List[dict]:
        """One host across runs, oldest first: status, error, facts digest, and whether
        its (stable) facts changed since the previous run where it was audited. With
        fact_path (the drift path syntax, e.g. `network.interfaces.eth0.mtu`), also that
        fact's value and whether it changed."""
        from ..compare import paths
        from ..compare.flatten import ABSENT, canon_at, flatten, subtree

        if fact_path is not None:
            try:
                paths.split(fact_path)
            except paths.PathSyntaxError as exc:
                raise HistoryError(f"fact path {fact_path!r}: {exc}") from exc
        sql = ("SELECT r.id, r.kind, r.inventory_key, r.recorded, r.started, rh.status, "
               "rh.error_class, rh.error_message, b.sha256, rh.facts_blob, rh.volatile_blob "
               "FROM run_hosts rh JOIN hosts h ON h.id = rh.host_id "
               "JOIN runs r ON r.id = rh.run_id LEFT JOIN blobs b ON b.id = rh.facts_blob "
               "WHERE h.name = ?")
        params: List[Any] = [host]
        if inventory_key is not None:
            sql += " AND r.inventory_key = ?"
            params.append(inventory_key)
        with self.db.read():
            rows = self.db.execute(sql + " ORDER BY r.id", params)
            blobs = self._blobs(sorted({b for r in rows for b in (r[9], r[10]) if b is not None})) \
                if fact_path is not None else {}
        out: List[dict] = []
        last_digest = last_value = None
        seen = seen_value = False
        for (run_id, kind, key, recorded, started, status, ecls, emsg, sha, fblob, vblob) in rows:
            audited = status != "unreachable" and sha is not None
            digest = bytes(sha).hex() if sha is not None else None
            entry = {"run": int(run_id), "kind": kind, "inventory_key": key, "recorded": recorded,
                     "started": started, "status": status,
                     "error": {"class": ecls, "message": emsg} if ecls is not None else None,
                     "facts_digest": digest if audited else None,
                     "facts_changed": (digest != last_digest) if audited and seen else None}
            if audited:
                last_digest, seen = digest, True
            if fact_path is not None:
                value = ABSENT
                if audited:
                    facts = encode.merge_volatile(self._doc(blobs, fblob), self._doc(blobs, vblob))
                    value = subtree(flatten(facts), fact_path)
                entry["present"] = value is not ABSENT
                entry["value"] = None if value is ABSENT else value
                if audited:
                    key_now = canon_at(fact_path, value)
                    entry["changed"] = (key_now != last_value) if seen_value else None
                    last_value, seen_value = key_now, True
                else:
                    entry["changed"] = None
            out.append(entry)
        return out

    # --- retention --------------------------------------------------------------------

    def prune(self, keep: Optional[int] = None,
              older_than: Union[None, float, _dt.timedelta] = None,
              inventory_key: Optional[str] = None) -> int:
        """Delete runs, then every blob, finding and host name no run refers to any more.

        keep=N keeps the newest N runs of each inventory; older_than (a timedelta or
        seconds) deletes runs recorded before now - older_than. With both, a run goes
        only when it is old AND not among its inventory's newest N. Returns runs deleted.
        """
        if keep is None and older_than is None:
            raise HistoryError("prune needs keep or older_than")
        if keep is not None and keep < 0:
            raise HistoryError("keep must be >= 0")
        cutoff = None
        if older_than is not None:
            delta = older_than if isinstance(older_than, _dt.timedelta) \
                else _dt.timedelta(seconds=float(older_than))
            cutoff = (_dt.datetime.now(_dt.timezone.utc) - delta).strftime("%Y-%m-%dT%H:%M:%SZ")
        where, params = self._filters(inventory_key, None)
        try:
            with self.db.transaction(gc=True):
                rows = self.db.execute(f"SELECT id, inventory_key, recorded FROM runs{where} "
                                       "ORDER BY id DESC", params)
                rank: Dict[str, int] = {}
                doomed = []
                for id_, key, recorded in rows:
                    rank[key] = rank.get(key, 0) + 1
                    beyond = keep is not None and rank[key] > keep
                    old = cutoff is not None and recorded <= cutoff
                    if (beyond and old) if (keep is not None and cutoff is not None) else (beyond or old):
                        doomed.append(int(id_))
                for part in _chunks(doomed, self.db.max_params):
                    marks = ", ".join("?" * len(part))
                    for table in ("run_findings", "run_hosts", "run_parts"):
                        self.db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", list(part))
                    self.db.execute(f"DELETE FROM runs WHERE id IN ({marks})", list(part))
                self.last_prune = {"runs": len(doomed)}
                if doomed:
                    self.last_prune.update(self._collect_garbage())
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"{self.spec}: prune failed: {type(exc).__name__}: {exc}") from exc
        return len(doomed)

    def _collect_garbage(self) -> Dict[str, int]:
        gone = {}
        for table, refs in (
                ("blobs", ("run_hosts.facts_blob", "run_hosts.volatile_blob", "run_parts.blob_id")),
                ("findings", ("run_findings.finding_id",)),
                ("hosts", ("run_hosts.host_id",))):
            used = " UNION ".join(f"SELECT {ref.split('.')[1]} FROM {ref.split('.')[0]} "
                                  f"WHERE {ref.split('.')[1]} IS NOT NULL" for ref in refs)
            before = self.db.execute(f"SELECT COUNT(*) FROM {table}")[0][0]
            self.db.execute(f"DELETE FROM {table} WHERE id NOT IN ({used})")
            gone[table] = int(before - self.db.execute(f"SELECT COUNT(*) FROM {table}")[0][0])
        return gone

    def vacuum(self) -> None:
        """Give the space freed by prune back to the file system."""
        self.db.execute("VACUUM")

    # --- misc -------------------------------------------------------------------------

    def integrity_problems(self) -> List[str]:
        """Dangling references and (SQLite) page-level damage; [] when consistent."""
        problems: List[str] = []
        if self.db.dialect == "sqlite":
            res = [r[0] for r in self.db.execute("PRAGMA integrity_check")]
            if res != ["ok"]:
                problems += res
            problems += [f"foreign key: {r}" for r in self.db.execute("PRAGMA foreign_key_check")]
        for child, col, parent in (("run_hosts", "run_id", "runs"), ("run_hosts", "host_id", "hosts"),
                                   ("run_hosts", "facts_blob", "blobs"),
                                   ("run_hosts", "volatile_blob", "blobs"),
                                   ("run_parts", "run_id", "runs"), ("run_parts", "blob_id", "blobs"),
                                   ("run_findings", "run_id", "runs"),
                                   ("run_findings", "finding_id", "findings")):
            n = self.db.execute(
                f"SELECT COUNT(*) FROM {child} c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.id = c.{col})")[0][0]
            if n:
                problems.append(f"{n} rows of {child}.{col} point at no {parent} row")
        return problems

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Plan:
    """Everything a record() writes, computed before the transaction opens (CPU work
    outside the write lock): content hashes, columns, counts."""

    def __init__(self, snap: dict):
        self.blobs: Dict[bytes, bytes] = {}
        self.kinds: Dict[bytes, str] = {}   # sha -> "facts" | "volatile" (dictionary kinds)
        self.parts: List[Tuple[str, bytes]] = []
        self.hosts: List[Tuple[str, dict, Optional[bytes], Optional[bytes]]] = []
        self.host_names: List[str] = []
        self.findings: Dict[bytes, Tuple[bytes, dict]] = {}
        self.finding_order: List[bytes] = []
        self.host_counts: Dict[str, int] = {}
        self.finding_counts: Dict[str, int] = {}
        self.run = snap.get("run")
        inline: Dict[str, Any] = {}
        for key, value in snap.items():
            if key in ("hosts", "findings"):
                continue
            if key in ("schema", "run") or value is None or isinstance(value, (bool, int, float, str)):
                inline[key] = value  # small: kept in the runs row
            else:
                self.parts.append((key, self._blob(value)))
        self.meta = json.dumps({"layout": list(snap), "inline": inline},
                               separators=(",", ":"), ensure_ascii=False)
        for name, doc in (snap.get("hosts") or {}).items():
            if not isinstance(doc, dict):
                raise HistoryError(f"host {name!r}: expected a dict in the snapshot")
            cols = encode.host_columns(doc)
            fsha = vsha = None
            if isinstance(doc.get("facts"), dict):
                stable, moved = encode.split_volatile(doc["facts"])
                fsha = self._blob(stable, "facts")
                vsha = self._blob(moved, "volatile") if moved else None
            self.hosts.append((str(name), cols, fsha, vsha))
            self.host_names.append(str(name))
            status = cols["status"] if cols["status"] in _STATUSES else "other"
            self.host_counts[status] = self.host_counts.get(status, 0) + 1
        findings = snap.get("findings")
        if findings is not None and not isinstance(findings, list):
            raise HistoryError("snapshot 'findings' is not a list")
        for f in findings or ():
            raw = encode.canonical(f)
            sha = encode.digest(raw)
            if sha not in self.findings:
                self.findings[sha] = (raw, encode.finding_columns(f))
            self.finding_order.append(sha)
            sev = f.get("severity") if isinstance(f, dict) else None
            sev = sev if sev in _SEVERITIES else "other"
            self.finding_counts[sev] = self.finding_counts.get(sev, 0) + 1

    def _blob(self, doc: Any, kind: Optional[str] = None) -> bytes:
        raw = encode.canonical(doc)
        sha = encode.digest(raw)
        self.blobs.setdefault(sha, raw)
        if kind:
            self.kinds.setdefault(sha, kind)
        return sha
