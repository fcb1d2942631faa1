"""Which snapshot is "the newest audit run" in a reports directory (explain/diff without
--snapshot): the same answer as loading every file, while loading only what it must.

A scheduled drift job leaves one snapshot per run in reports/: before, every bare
`fleetaudit explain TEXT` parsed all of them in full."""
import gzip
import json
import os
import random
from pathlib import Path

from fleetaudit import snapshot

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def reference_newest(directory):
    """The implementation before the header read: load everything, keep the best key."""
    best = None
    for pattern in snapshot.SNAPSHOT_GLOBS:
        for path in Path(directory).glob(pattern):
            try:
                mtime = path.stat().st_mtime
                result = snapshot.load(path)
            except (OSError, snapshot.SnapshotError):
                continue
            if any(k in result.extra for k in snapshot.NOT_A_RUN_KEYS) or not result.hosts:
                continue
            started = result.run.get("started")
            key = (started if isinstance(started, str) else "", mtime, str(path))
            if best is None or key > best[0]:
                best = (key, path)
    return best[1] if best else None


def _doc():
    return json.loads(SNAP.read_text())


def _write(path: Path, doc: dict, how: str, rng: random.Random) -> None:
    if how == "reordered":            # a hand-edited file: hosts before run
        doc = {"hosts": doc["hosts"], **{k: v for k, v in doc.items() if k != "hosts"}}
    text = json.dumps(doc, separators=(",", ":")) if how != "indented" else json.dumps(doc, indent=1)
    data = text.encode()
    if how == "corrupt":
        data = data[: len(data) // 2]   # the head is fine, the body is cut
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    os.utime(path, (1_700_000_000 + rng.randrange(50), 1_700_000_000 + rng.randrange(50)))


def _random_dir(tmp: Path, rng: random.Random) -> None:
    base = _doc()
    for i in range(rng.randrange(1, 12)):
        doc = json.loads(json.dumps(base))
        day = rng.choice(["01", "02", "03"])           # ties on the start are common
        doc["run"]["started"] = f"2026-03-{day}T00:00:00Z"
        kind = rng.choice(["plain", "plain", "baseline", "nohosts", "corrupt", "reordered",
                           "nostart", "indented"])
        if kind == "baseline":
            doc["baseline_saved"] = {"from": "x"}
        if kind == "nohosts":
            doc["hosts"] = {}
        if kind == "nostart":
            del doc["run"]["started"]
        name = f"s{i}.json" + (".gz" if rng.random() < 0.3 else "")
        _write(tmp / name, doc, kind, rng)
    if rng.random() < 0.3:
        (tmp / "verdict.json").write_text('{"schema":"fleetaudit-gate/1","hosts":{}}')


def test_same_answer_as_loading_every_file(tmp_path):
    for seed in range(40):
        d = tmp_path / f"d{seed}"
        d.mkdir()
        _random_dir(d, random.Random(seed))
        found = snapshot.newest_audit_snapshot(d)
        assert (found[0] if found else None) == reference_newest(d), f"seed {seed}"


def test_loads_only_the_newest_of_many_runs(tmp_path, monkeypatch):
    base = _doc()
    for i in range(60):
        doc = dict(base, run={**base["run"], "started": f"2026-03-01T00:{i:02d}:00Z"})
        (tmp_path / f"run{i:02d}.json").write_text(json.dumps(doc, separators=(",", ":")))
    real_load, loaded = snapshot.load, []
    monkeypatch.setattr(snapshot, "load", lambda p: loaded.append(Path(p).name) or real_load(p))
    path, result = snapshot.newest_audit_snapshot(tmp_path)
    assert path.name == "run59.json" and result.run["started"] == "2026-03-01T00:59:00Z"
    assert loaded == ["run59.json"]


def test_a_newer_baseline_or_broken_file_is_passed_over(tmp_path, monkeypatch):
    base = _doc()
    good = dict(base, run={**base["run"], "started": "2026-03-01T00:00:00Z"})
    newer = dict(base, run={**base["run"], "started": "2026-03-02T00:00:00Z"})
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "baseline.json").write_text(json.dumps(dict(newer, baseline_saved={"from": "x"})))
    (tmp_path / "cut.json").write_text(json.dumps(newer)[:-40])
    path, _ = snapshot.newest_audit_snapshot(tmp_path)
    assert path.name == "good.json"


def test_run_started_from_header(tmp_path):
    doc = dict(_doc(), run={**_doc()["run"], "started": "2026-03-01T00:00:00Z"})
    text = json.dumps(doc, separators=(",", ":"))
    (tmp_path / "a.json").write_text(text)
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "spaced.json").write_text(json.dumps(doc, indent=1))
    reordered = {"hosts": doc["hosts"], "schema": doc["schema"], "run": doc["run"]}
    (tmp_path / "reordered.json").write_text(json.dumps(reordered))
    long_run = dict(doc, run={**doc["run"], "note": "x" * (snapshot.HEADER_BYTES + 10)})
    (tmp_path / "long.json").write_text(json.dumps(long_run))
    (tmp_path / "zstd.json.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 20)
    nostart = dict(doc, run={k: v for k, v in doc["run"].items() if k != "started"})
    (tmp_path / "nostart.json").write_text(json.dumps(nostart))
    h = snapshot.run_started_from_header
    assert h(tmp_path / "a.json") == h(tmp_path / "a.json.gz") == "2026-03-01T00:00:00Z"
    assert h(tmp_path / "spaced.json") == "2026-03-01T00:00:00Z"
    assert h(tmp_path / "nostart.json") == ""
    for name in ("reordered.json", "long.json", "zstd.json.zst", "missing.json"):
        assert h(tmp_path / name) is None, name
