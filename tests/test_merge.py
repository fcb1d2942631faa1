"""shard.py and merge.py on a snapshot captured from the demo fleet
(tests/data/snapshots/demo-subset.json): the stable assignment, the refusals with the
files named, and exact equivalence: splitting a run into shard documents, merging them
and analysing gives the findings, drift and matrix of analysing the run itself."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import snapshot
from fleetaudit.analyze import analyze
from fleetaudit.cli import main
from fleetaudit.merge import MergeError, merge_documents
from fleetaudit.shard import Shard, ShardError, inventory_id, parse_shard, shard_of, shard_record, split

SNAP = Path(__file__).parent / "data" / "snapshots" / "demo-subset.json"


class H:
    def __init__(self, name):
        self.name = name


def shard_docs(doc: dict, count: int) -> list:
    """What `audit --shard i/count` would have written for each shard of `doc`'s run."""
    hosts = [H(n) for n in doc["hosts"]]
    out = []
    for i, part in enumerate(split(hosts, count)):
        d = copy.deepcopy(doc)
        d["hosts"] = {h.name: doc["hosts"][h.name] for h in part}
        d["findings"] = [f for f in doc["findings"] if f["host"] in d["hosts"]]
        d["run"]["shard"] = shard_record(Shard(i, count), hosts, part, "inv")
        out.append((f"shard-{i}.json", d))
    return out


def test_parse_shard_and_its_errors():
    assert parse_shard("0/1") == Shard(0, 1)
    assert parse_shard(" 2 / 3 ") == Shard(2, 3)
    for bad, said in (("3/3", "I must be between 0 and 2"), ("1/0", "N must be between"),
                      ("x", "expected I/N"), ("-1/3", "expected I/N"), ("", "expected I/N")):
        with pytest.raises(ShardError, match=said):
            parse_shard(bad)


def test_assignment_is_stable_when_hosts_are_added():
    names = [f"web{i:03d}" for i in range(300)]
    before = {n: shard_of(n, 7) for n in names}
    after = {n: shard_of(n, 7) for n in names + ["new-1", "new-2"]}
    assert all(after[n] == before[n] for n in names)
    # sha256, not Python's salted hash(): the same in every process and on every runner.
    assert shard_of("web001", 7) == int(__import__("hashlib").sha256(b"web001").hexdigest(), 16) % 7
    sizes = [sum(1 for v in before.values() if v == i) for i in range(7)]
    assert min(sizes) > 20  # spread over every shard
    assert inventory_id(names) == inventory_id(reversed(names))


def test_split_merge_analyse_equals_one_run():
    doc = json.loads(SNAP.read_text())
    one = snapshot.from_json(copy.deepcopy(doc))
    analyze(one)
    merged = merge_documents(list(reversed(shard_docs(doc, 3))))
    assert merged.findings == []  # findings of the inputs are never merged
    analyze(merged)
    assert list(merged.hosts) == list(one.hosts)
    assert [f.to_json() for f in merged.findings] == [f.to_json() for f in one.findings]
    for key in ("drift", "matrix", "baseline"):
        assert json.dumps(merged.extra[key], sort_keys=True, default=str) == \
            json.dumps(one.extra[key], sort_keys=True, default=str), key
    assert merged.run["shards"]["complete"] and merged.run["shards"]["missing"] == []


def test_refusals_name_the_files():
    doc = json.loads(SNAP.read_text())
    docs = shard_docs(doc, 3)
    with pytest.raises(MergeError, match=r"missing shard\(s\) 1/3"):
        merge_documents([docs[0], docs[2]])
    part = merge_documents([docs[0], docs[2]], allow_missing=True)
    assert part.run["incomplete"]["missing_shards"] == [1]
    with pytest.raises(MergeError, match="overlapping shards: shard-0.json and again.json"):
        merge_documents(docs + [("again.json", docs[0][1])])
    other = copy.deepcopy(docs[1][1])
    other["run"]["shard"]["inventory_id"] = "sha256:other"
    with pytest.raises(MergeError, match="mixed inventories: shard-0.json .* other.json"):
        merge_documents([docs[0], ("other.json", other), docs[2]])
    future = copy.deepcopy(docs[2][1])
    future["schema"] = "fleetaudit/1.1"
    with pytest.raises(MergeError, match="mixed snapshot schema versions: .*fleetaudit/1.1 in future.json"):
        merge_documents([docs[0], docs[1], ("future.json", future)])
    moved = copy.deepcopy(docs[1][1])
    name = next(iter(docs[0][1]["hosts"]))
    moved["hosts"][name] = docs[0][1]["hosts"][name]
    moved["run"]["shard"]["positions"].append(99)
    with pytest.raises(MergeError, match=f"overlapping hosts: '{name}' is in shard-0.json and in moved.json"):
        merge_documents([docs[0], ("moved.json", moved), docs[2]])
    plain = copy.deepcopy(doc)
    with pytest.raises(MergeError, match="plain.json: not a shard snapshot"):
        merge_documents([("plain.json", plain)])


def test_merge_command_writes_one_analysed_run(tmp_path):
    doc = json.loads(SNAP.read_text())
    paths = []
    for name, d in shard_docs(doc, 2):
        (tmp_path / name).write_text(json.dumps(d))
        paths.append(str(tmp_path / name))
    res = CliRunner().invoke(main, ["merge", *paths, "--json", str(tmp_path / "m.json"), "--no-history",
                                    "--reports-dir", str(tmp_path / "r"), "--markdown", str(tmp_path / "m.md"),
                                    "-q", "--fail-on", "none"])
    assert res.exit_code == 0, res.output
    merged = json.loads((tmp_path / "m.json").read_text())
    assert sorted(merged["hosts"]) == sorted(doc["hosts"])
    assert merged["findings"] and "drift" in merged
    assert (tmp_path / "m.md").read_text().strip()
    res = CliRunner().invoke(main, ["merge", paths[0], "--json", str(tmp_path / "x.json"), "--no-history", "-q"])
    assert res.exit_code == 2 and "missing shard(s) 1/2" in res.output
    assert not (tmp_path / "x.json").exists()


def test_shard_option_validates(tmp_path):
    res = CliRunner().invoke(main, ["audit", "-i", "a,b,", "--shard", "2/2", "--no-history"])
    assert res.exit_code == 2 and "--shard '2/2': I must be between 0 and 1" in res.output


def test_drift_shard_records_under_its_own_key_and_audit_shard_not_at_all(tmp_path, monkeypatch):
    """Refused ports on 127.0.0.x: no SSH server needed to see where the runs go."""
    monkeypatch.chdir(tmp_path)
    inv = "127.0.0.1:1,127.0.0.2:1,127.0.0.3:1,"
    hist = str(tmp_path / "h.sqlite")
    base = ["-i", inv, "--history", hist, "--known-hosts", "/dev/null", "-q", "--workers", "1"]
    res = CliRunner().invoke(main, ["drift", *base, "--shard", "1/2", "--json", "d.json"])
    assert res.exit_code == 3, res.output
    doc = json.loads((tmp_path / "d.json").read_text())
    assert list(doc["hosts"]) == ["127.0.0.2", "127.0.0.3"]  # sha256 mod 2 == 1
    assert doc["run"]["shard"]["history_key"] == inv
    res = CliRunner().invoke(main, ["audit", *base, "--shard", "0/2", "--json", "a.json"])
    assert res.exit_code == 3, res.output
    res = CliRunner().invoke(main, ["history", "list", "--history", hist, "--json"])
    runs = json.loads(res.output)["runs"]
    assert [(r["kind"], r["inventory_key"]) for r in runs] == [("drift", f"{inv} --shard 1/2")]


def test_merge_drift_compares_with_the_last_merged_run(tmp_path):
    doc = json.loads(SNAP.read_text())
    hist = str(tmp_path / "h.sqlite")

    def merge_run(d, name):
        paths = []
        for fname, sd in shard_docs(d, 2):
            (tmp_path / f"{name}-{fname}").write_text(json.dumps(sd))
            paths.append(str(tmp_path / f"{name}-{fname}"))
        res = CliRunner().invoke(main, ["merge", *paths, "--drift", "--history", hist,
                                        "--json", str(tmp_path / f"{name}.json"),
                                        "--markdown", str(tmp_path / f"{name}.md"),
                                        "--reports-dir", str(tmp_path / "r"), "-q"])
        return res, json.loads((tmp_path / f"{name}.json").read_text())["drift_since_last"]

    res, first = merge_run(doc, "first")
    assert res.exit_code == 1, res.output  # first run: everything counts as new
    assert first["previous"] is None
    res, again = merge_run(doc, "again")
    assert res.exit_code == 0, res.output  # the same facts: nothing new
    assert again["new_drift"] is False and again["previous"]["run_id"] == 1
    changed = copy.deepcopy(doc)
    name = next(n for n, h in changed["hosts"].items() if h["status"] == "ok")
    changed["hosts"][name]["facts"]["system"]["kernel"] = "9.9.9-changed"
    res, third = merge_run(changed, "third")
    assert res.exit_code == 1, res.output
    assert any(f["host"] == name and f["path"] == "system.kernel" for f in third["facts"]), third["facts"]
    assert (tmp_path / "third.md").read_text().strip()
    res = CliRunner().invoke(main, ["history", "list", "--history", hist, "--json"])
    runs = json.loads(res.output)["runs"]
    assert [r["kind"] for r in runs] == ["drift"] * 3 and {r["inventory_key"] for r in runs} == {"inv"}


def test_worker_count_and_what_cannot_go_to_workers():
    from fleetaudit.collect import CollectOptions
    from fleetaudit.workers import MIN_HOSTS_PER_WORKER, auto_workers, can_share
    assert auto_workers(10, cores=8) == 1  # small runs stay in one process
    assert auto_workers(2 * MIN_HOSTS_PER_WORKER, cores=8) == 2
    assert auto_workers(100_000, cores=8) == 8
    assert can_share(CollectOptions()) is None

    async def hook(conn, host, result):
        return None
    assert "gate --pull" in can_share(CollectOptions(post_exec=hook))


def test_merge_reads_and_writes_compressed_snapshots(tmp_path):
    """Shards written as .json.gz merge like plain ones, and a .gz output is gzip."""
    import gzip
    doc = json.loads(SNAP.read_text())
    paths = []
    for name, d in shard_docs(doc, 2):
        path = tmp_path / (name + ".gz")
        path.write_bytes(gzip.compress(json.dumps(d).encode()))
        paths.append(str(path))
    out = tmp_path / "m.json.gz"
    res = CliRunner().invoke(main, ["merge", *paths, "--json", str(out), "--no-history",
                                    "--reports-dir", str(tmp_path / "r"), "-q", "--fail-on", "none"])
    assert res.exit_code == 0, res.output
    merged = json.loads(gzip.decompress(out.read_bytes()))
    assert sorted(merged["hosts"]) == sorted(doc["hosts"])
    (tmp_path / "cut.json.gz").write_bytes(gzip.compress(b'{"schema": 1}')[:12])
    res = CliRunner().invoke(main, ["merge", paths[0], str(tmp_path / "cut.json.gz"), "--json",
                                    str(tmp_path / "x.json"), "--no-history", "-q"])
    assert res.exit_code == 2 and "cut.json.gz" in res.output and "damaged" in res.output
