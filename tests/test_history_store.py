"""The history store, the same tests on SQLite and on a real PostgreSQL server.

Snapshots come from bench/synthetic (facts shaped like docs/facts.md, hostile strings
included) in their JSON form, exactly what `audit` writes to reports/.
"""
import copy
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench.synthetic import XSS_SCRIPT, synthetic_run
from fleetaudit import snapshot as snapmod
from fleetaudit.history import HistoryError, LockBusy, default_history_path, open_store
from fleetaudit.history.schema import LATEST

ROOT = Path(__file__).resolve().parent.parent


def snap(n=40, seed=7, **kw):
    return json.loads(json.dumps(snapmod.to_json(synthetic_run(n, seed=seed, **kw))))


def count(store, table):
    return store.db.execute(f"SELECT COUNT(*) FROM {table}")[0][0]


def test_round_trip_and_listing(history_spec):
    doc = snap(60, hostile=True)
    with open_store(history_spec) as store:
        first = store.record(doc, "inv/prod.ini", "audit")
        other = store.record(snap(5, seed=3), "inv/lab.ini", "gate")
        second = store.record(doc, "inv/prod.ini", "audit")
        assert store.load(first) == doc
        assert store.load(second) == doc
        assert list(store.load(first)["hosts"]) == list(doc["hosts"])  # inventory order kept
        assert XSS_SCRIPT in json.dumps(store.load(first))
        assert [r.id for r in store.runs()] == [second, other, first]
        assert [r.id for r in store.runs(inventory_key="inv/prod.ini", limit=1)] == [second]
        info = store.runs(inventory_key="inv/prod.ini")[0]
        statuses = [h["status"] for h in doc["hosts"].values()]
        assert info.hosts == {s: statuses.count(s) for s in ("ok", "partial", "unreachable")}
        sevs = [f["severity"] for f in doc["findings"]]
        assert info.findings == {s: sevs.count(s) for s in ("critical", "high", "medium", "low", "info")}
        assert (info.kind, info.started, info.interrupted) == ("audit", doc["run"]["started"], False)
        assert store.previous("inv/prod.ini").id == second
        assert store.previous("inv/prod.ini", before_run_id=second).id == first
        assert store.previous("inv/prod.ini", before_run_id=first) is None
        assert store.previous("inv/none.ini") is None
        assert store.get(other).kind == "gate"
        with pytest.raises(HistoryError, match="no run 999"):
            store.load(999)


def test_unusual_snapshot_shapes_round_trip(history_spec):
    """What load() returns is what was recorded, whatever the shape: missing keys, odd
    types, extra top-level sections, an interrupted run."""
    doc = snap(6)
    names = list(doc["hosts"])
    doc["run"]["interrupted"] = True
    doc["hosts"][names[0]] = {"status": "ok", "facts": {"system": {"hostname": "x"}}}
    doc["hosts"][names[1]]["duration_s"] = 3          # an int where a float is usual
    doc["hosts"][names[2]]["error"] = {"class": "sudo", "message": "m", "extra": [1]}
    doc["hosts"][names[3]]["pull"] = {"busybox": {"ok": False}}
    del doc["hosts"][names[4]]["facts"]
    doc["verdicts"] = {"a": [1, 2, {"b": None}]}
    doc["note"] = "plain string part"
    doc["findings"].append({"rule": "ODD", "severity": "bogus", "evidence": [float("1e300")]})
    with open_store(history_spec) as store:
        run = store.record(doc, "k", "gate")
        assert store.load(run) == doc
        assert list(store.load(run)) == list(doc)
        info = store.get(run)
        assert info.interrupted and info.findings.get("other") == 1
    with open_store(history_spec) as store:  # and from a fresh connection
        assert store.load(run) == doc


def test_unchanged_host_costs_one_row(history_spec):
    """An identical rerun adds no blob and no finding text; a rerun where only volatile
    facts moved adds small volatile blobs but no fact blob; a changed host adds one."""
    doc = snap(50)
    with open_store(history_spec) as store:
        store.record(doc, "k", "audit")
        blobs, findings = count(store, "blobs"), count(store, "findings")
        store.record(doc, "k", "audit")
        assert (count(store, "blobs"), count(store, "findings")) == (blobs, findings)
        assert count(store, "run_hosts") == 2 * len(doc["hosts"])

        moved = copy.deepcopy(doc)
        audited = [n for n, h in moved["hosts"].items() if h["status"] == "ok"]
        for name in audited:
            moved["hosts"][name]["facts"]["system"]["uptime_s"] += 3600
        store.record(moved, "k", "audit")
        assert count(store, "blobs") == blobs + len(audited)  # volatile leaves only
        fact_blobs = store.db.execute("SELECT COUNT(DISTINCT facts_blob) FROM run_hosts")[0][0]

        changed = copy.deepcopy(moved)
        changed["hosts"][audited[0]]["facts"]["network"]["interfaces"][0]["mtu"] = 1400
        run = store.record(changed, "k", "audit")
        assert store.db.execute("SELECT COUNT(DISTINCT facts_blob) FROM run_hosts")[0][0] == fact_blobs + 1
        assert store.load(run) == changed


def test_host_timeline_and_fact_history(history_spec):
    base = snap(12)
    host = next(n for n, h in base["hosts"].items() if h["status"] == "ok")
    eth0 = lambda d: next(i for i in d["hosts"][host]["facts"]["network"]["interfaces"]  # noqa: E731
                          if i["name"] == "eth0")
    mtu = eth0(base)["mtu"]
    runs = [copy.deepcopy(base) for _ in range(4)]
    eth0(runs[2])["mtu"] = 1400
    eth0(runs[3])["mtu"] = 1400
    runs[3]["hosts"][host]["facts"]["system"]["uptime_s"] += 999  # volatile: not a change
    with open_store(history_spec) as store:
        ids = [store.record(d, "inv", "audit") for d in runs]
        store.record(runs[0], "other-inventory", "audit")
        unreachable = copy.deepcopy(runs[3])
        unreachable["hosts"][host] = {"status": "unreachable", "facts": {},
                                      "error": {"class": "refused", "message": "refused"},
                                      "address": "", "incomplete": {}, "bytes_received": 0,
                                      "duration_s": 0.1, "attempts": 3}
        ids.append(store.record(unreachable, "inv", "audit"))
        ids.append(store.record(runs[0], "inv", "audit"))

        line = store.host_timeline(host, inventory_key="inv")
        assert [e["run"] for e in line] == ids
        assert [e["facts_changed"] for e in line] == [None, False, True, False, None, True]
        assert line[4]["status"] == "unreachable" and line[4]["error"]["class"] == "refused"
        assert line[4]["facts_digest"] is None
        assert len(store.host_timeline(host)) == len(ids) + 1

        facts = store.host_timeline(host, "network.interfaces.eth0.mtu", inventory_key="inv")
        assert [e["value"] for e in facts] == [mtu, mtu, 1400, 1400, None, mtu]
        assert [e["changed"] for e in facts] == [None, False, True, False, None, True]
        assert [e["present"] for e in facts] == [True, True, True, True, False, True]
        sub = store.host_timeline(host, "network.interfaces.eth0", inventory_key="inv")
        assert sub[2]["value"]["mtu"] == 1400 and sub[2]["changed"] is True
        assert store.host_timeline("no-such-host") == []
        with pytest.raises(HistoryError, match="fact path"):
            store.host_timeline(host, "network[unterminated")


def test_prune_keep_older_than_and_garbage(history_spec):
    docs = [snap(10, seed=s) for s in (1, 2, 3, 4)]
    with open_store(history_spec) as store:
        ids = [store.record(d, "a", "audit") for d in docs]
        b_run = store.record(docs[0], "b", "audit")
        assert store.prune(keep=2) == 2            # per inventory: b's single run stays
        assert [r.id for r in store.runs()] == [b_run, ids[3], ids[2]]
        assert store.last_prune["blobs"] > 0      # seed 2's facts: referenced by nothing now
        assert store.load(ids[2]) == docs[2] and store.load(b_run) == docs[0]
        assert store.integrity_problems() == []
        assert store.prune(older_than=3600) == 0   # everything was recorded just now
        assert store.prune(keep=0, older_than=3600) == 0
        assert store.prune(older_than=0, inventory_key="b") == 1
        assert store.prune(keep=0) == 2
        assert (count(store, "blobs"), count(store, "findings"), count(store, "hosts")) == (0, 0, 0)
        with pytest.raises(HistoryError):
            store.prune()


def _holder_script(spec, key):
    return textwrap.dedent(f"""
        import sys
        from fleetaudit.history import open_store
        store = open_store({spec!r})
        with store.lock({key!r}):
            print("locked", flush=True)
            sys.stdin.read()
    """)


def test_overlapping_runs_lock(history_spec):
    """A second run of the same inventory waits up to wait_s then gets LockBusy naming
    the holder; another inventory is not blocked; a killed holder frees the lock."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen([sys.executable, "-c", _holder_script(history_spec, "inv")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with open_store(history_spec) as store:
            t0 = time.monotonic()
            with pytest.raises(LockBusy) as err:
                with store.lock("inv", wait_s=0.6):
                    pass
            assert time.monotonic() - t0 >= 0.5
            assert f"pid {holder.pid}" in str(err.value) and "'inv'" in str(err.value)
            with store.lock("other-inv"):
                pass
            killer = threading.Timer(0.5, holder.kill)
            killer.start()
            t0 = time.monotonic()
            with store.lock("inv", wait_s=20):
                waited = time.monotonic() - t0
            killer.join()
            assert 0.3 < waited < 15
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_exclusive_within_one_process(history_spec):
    with open_store(history_spec) as one, open_store(history_spec) as two:
        with one.lock("k"):
            with pytest.raises(LockBusy):
                with two.lock("k", wait_s=0):
                    pass
        with two.lock("k"):  # released on exit
            pass


def test_migrates_v1_store_and_keeps_runs(history_spec):
    docs = [snap(8, seed=s) for s in (1, 2)]
    with open_store(history_spec, _upto_version=1) as old:
        assert old.schema_version() == 1
        ids = [old.record(d, "inv", "audit") for d in docs]
    with open_store(history_spec) as store:
        assert store.schema_version() == LATEST == 2
        assert [store.load(i) for i in ids] == docs
        ids.append(store.record(docs[0], "inv", "audit"))  # v2 blobs (with dictionaries)
        docs.append(docs[0])
        changed = copy.deepcopy(docs[1])
        next(h for h in changed["hosts"].values() if h["facts"])["facts"]["dns"]["x"] = 1
        ids.append(store.record(changed, "inv", "audit"))
        docs.append(changed)
        assert [store.load(i) for i in ids] == docs
        assert store.db.execute("SELECT COUNT(*) FROM blobs WHERE zdict_id IS NOT NULL")[0][0] >= 1
        assert store.previous("inv").id == ids[-1]
        if store.db.dialect == "sqlite":
            idx = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        else:
            idx = {r[0] for r in store.db.execute("SELECT indexname FROM pg_indexes")}
        assert {"run_hosts_by_host", "runs_by_inventory"} <= idx
        store.db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(HistoryError, match="v99 is newer"):
        open_store(history_spec)


def test_rejects_bad_input(history_spec):
    with open_store(history_spec) as store:
        with pytest.raises(HistoryError, match="kind"):
            store.record(snap(2), "k", "nightly")
        with pytest.raises(HistoryError, match="snapshot"):
            store.record({"hosts": []}, "k", "audit")
        with pytest.raises(HistoryError, match="inventory key"):
            store.record(snap(2), "", "audit")
        assert store.runs() == []


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEETAUDIT_HISTORY", str(tmp_path / "h.sqlite"))
    assert default_history_path() == str(tmp_path / "h.sqlite")
    monkeypatch.delenv("FLEETAUDIT_HISTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_history_path() == str(tmp_path / "state" / "fleetaudit" / "history.sqlite")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_history_path() == str(tmp_path / "home" / ".local/state/fleetaudit/history.sqlite")


def test_unreachable_store_is_a_history_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(HistoryError, match="cannot open"):
        open_store(tmp_path / "file" / "sub" / "history.sqlite")
    bad = tmp_path / "garbage.sqlite"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(HistoryError):
        open_store(bad)


def test_digests_and_partial_loads(history_spec):
    """A comparison can find the changed hosts by digest and load only those."""
    from fleetaudit.history import facts_digest
    doc = snap(20)
    later = copy.deepcopy(doc)
    names = [n for n, h in later["hosts"].items() if h["status"] == "ok"]
    later["hosts"][names[0]]["facts"]["dns"]["resolv_conf"]["nameservers"] = ["10.9.9.9"]
    for n in names:  # volatile readings move everywhere: not a change
        later["hosts"][n]["facts"]["system"]["uptime_s"] += 60
    with open_store(history_spec) as store:
        run = store.record(doc, "k", "audit")
        stored = store.host_digests(run)
        assert list(stored) == list(doc["hosts"])
        live = {n: facts_digest(h["facts"]) for n, h in later["hosts"].items()}
        assert [n for n in live if live[n] != stored[n]] == [names[0]]
        got = store.host_docs(run, [names[0], "not-there", names[1]])
        assert list(got) == [names[0], names[1]]
        assert got[names[0]] == doc["hosts"][names[0]]
        with pytest.raises(HistoryError, match="no run"):
            store.host_digests(12345)


def test_changing_leaves_are_drift_volatile_ones():
    """What the store splits off as per-run readings is ignored by drift too, so a host
    whose stable digest did not change has no drift from it."""
    from fleetaudit.compare.ignore import VOLATILE
    from fleetaudit.history.encode import CHANGING, split_volatile
    from fleetaudit.compare.ignore import Ignore
    drift_ignores = Ignore()
    assert all(drift_ignores(p.replace("*", "x")) for p in CHANGING)
    facts = snap(3)["hosts"]
    host = next(h for h in facts.values() if h["status"] == "ok")["facts"]
    stable, moved = split_volatile(host)
    paths = {".".join(map(str, m[:-1])) for m in moved}
    assert {"system.uptime_s", "time.clock", "disk.data_root.used", "disk.docker_df"} <= paths
    assert "docker" in stable and "id" not in json.dumps(moved)
