"""SIGKILL at random points while a run is being recorded (and pruned) leaves every
earlier run readable, every committed run equal to what was recorded, and the store
consistent - on SQLite and on a real PostgreSQL server."""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.synthetic import synthetic_run
from fleetaudit import snapshot as snapmod
from fleetaudit.history import open_store
from fleetaudit.history.encode import canonical

ROOT = Path(__file__).resolve().parent.parent

# Records variations of one 400-host run in a loop (each changes the volatile facts
# of every host and the real facts of 5% of them, so every record writes new blobs),
# pruning as it goes; prints "pending SHA" before and "ID SHA" after each commit.
CHILD = textwrap.dedent("""
    import copy, hashlib, json, sys
    from fleetaudit.history import open_store
    from fleetaudit.history.encode import canonical
    with open(sys.argv[2]) as fh:
        base = json.load(fh)
    store = open_store(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        doc = copy.deepcopy(base)
        for n, (name, h) in enumerate(doc["hosts"].items()):
            if h["status"] != "unreachable":
                h["facts"]["system"]["uptime_s"] += i
                if n % 20 == i % 20:
                    h["facts"]["dns"]["resolv_conf"]["nameservers"] = [f"10.9.{i % 250}.1"]
        sha = hashlib.sha256(canonical(doc)).hexdigest()
        # Announced first: a kill between the commit and the "ID SHA" line must not
        # leave a committed run the test cannot check.
        print("pending", sha, flush=True)
        run = store.record(doc, "child", "audit")
        print(run, sha, flush=True)
        if i % 3 == 0:
            store.prune(keep=4, inventory_key="child")
""")


def digest(doc):
    return hashlib.sha256(canonical(doc)).hexdigest()


def test_sigkill_mid_write_keeps_store_consistent(history_spec, tmp_path):
    rng = random.Random(int(os.environ.get("FLEETAUDIT_CRASH_SEED", "1234")))
    earlier = [json.loads(json.dumps(snapmod.to_json(synthetic_run(30, seed=s)))) for s in (1, 2)]
    with open_store(history_spec) as store:
        earlier_ids = [store.record(d, "earlier", "audit") for d in earlier]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    base = tmp_path / "base.json"
    base.write_text(json.dumps(snapmod.to_json(synthetic_run(400, seed=5))))
    committed = {}
    verified = set()
    kills = 0
    for attempt in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, history_spec, str(base)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            # After its first commit, so each kill lands somewhere in a later record or
            # prune (a run of this size takes about half a second to record here).
            first = ""
            while True:  # up to its first "ID SHA" line
                line = child.stdout.readline()
                first += line
                if not line or not line.startswith("pending"):
                    break
            time.sleep(rng.uniform(0.0, 1.0))
            child.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            child.kill()
            out = first + child.communicate()[0]
        assert child.returncode == -signal.SIGKILL
        pending = None
        for line in out.splitlines():
            run_id, sha = line.split()
            if run_id == "pending":
                pending = sha
            else:
                committed[int(run_id)] = sha
                pending = None

        with open_store(history_spec) as store:
            assert store.integrity_problems() == []
            assert [store.load(i) for i in earlier_ids] == earlier
            present = {r.id for r in store.runs(inventory_key="child", limit=None)}
            # The kill may land after a commit and before its "ID SHA" line: that run
            # must be the one announced last, whole.
            unannounced = present - set(committed)
            assert len(unannounced) <= 1 and (not unannounced or pending is not None), unannounced
            for run_id in unannounced:
                committed[run_id] = pending
            # every run still listed is one that committed, and loads as recorded
            assert present <= set(committed)
            for run_id in sorted(present - verified):
                assert digest(store.load(run_id)) == committed[run_id]
                verified.add(run_id)
    assert kills == 5 and verified
