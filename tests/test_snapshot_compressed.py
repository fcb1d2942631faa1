"""Compressed snapshots (issue 16): `.gz` writes gzip; every reader takes a compressed
snapshot whatever its name (magic bytes), through the library and the CLI; inventory
groups ride along in the snapshot and old snapshots without them still read."""
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.synthetic import synthetic_run
from fleetaudit import exitcodes, snapshot
from fleetaudit.cli import main
from fleetaudit.models import HostResult

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def gz_copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


def test_gz_name_writes_gzip_and_reads_back_the_same(tmp_path):
    result = synthetic_run(200)
    plain, packed = tmp_path / "s.json", tmp_path / "s.json.gz"
    snapshot.save(result, plain, packed)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert packed.stat().st_size * 5 < plain.stat().st_size
    again = snapshot.load(packed)
    assert snapshot.to_json(again) == snapshot.to_json(snapshot.load(plain))
    assert again.hosts[next(iter(again.hosts))].groups == ["zone_eu1", "role_web"]
    snapshot.save(result, tmp_path / "again.json.gz")  # mtime=0: the same bytes every time
    assert (tmp_path / "again.json.gz").read_bytes() == packed.read_bytes()


def test_compression_is_detected_by_magic_not_name(tmp_path):
    disguised = gz_copy(SNAP, tmp_path / "looks-plain.json")
    assert snapshot.to_json(snapshot.load(disguised)) == snapshot.to_json(snapshot.load(SNAP))


@pytest.mark.parametrize("data", [gzip.compress(b'{"schema": "fleetaudit/1"')[:-6],  # cut short
                                  b"\x1f\x8b\x08\x00garbage",
                                  gzip.compress(b"\xff\xfe not utf-8")])
def test_a_damaged_compressed_snapshot_is_a_snapshot_error(tmp_path, data):
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(data)
    with pytest.raises(snapshot.SnapshotError, match=str(bad)):
        snapshot.load(bad)


def test_zstd_is_optional(tmp_path):
    """.zst works when the zstandard package is importable, else it is refused by name."""
    if snapshot._zstd() is None:
        with pytest.raises(snapshot.SnapshotError, match="zstandard"):
            snapshot.save(synthetic_run(5), tmp_path / "s.json.zst")
        res = run("report", SNAP, "-q", "--json", tmp_path / "s.json.zst")
        assert res.exit_code == exitcodes.USAGE and "zstandard" in res.output
        fake = tmp_path / "z.json"
        fake.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
        with pytest.raises(snapshot.SnapshotError, match="zstd-compressed"):
            snapshot.load(fake)
    else:
        snapshot.save(synthetic_run(5), tmp_path / "s.json.zst")
        assert (tmp_path / "s.json.zst").read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
        assert len(snapshot.load(tmp_path / "s.json.zst").hosts) == 5


def test_old_snapshots_without_groups_still_read_and_write_no_groups_key():
    doc = json.loads(SNAP.read_text())
    assert all("groups" not in h for h in doc["hosts"].values())
    result = snapshot.from_json(doc)
    assert all(h.groups == [] for h in result.hosts.values())
    assert all("groups" not in h for h in snapshot.to_json(result)["hosts"].values())
    h = HostResult.from_json("a", {"status": "ok", "groups": ["web", 7, None]})
    assert h.groups == ["web"] and h.to_json()["groups"] == ["web"]


def test_cli_commands_read_and_write_compressed_snapshots(tmp_path):
    packed = gz_copy(SNAP, tmp_path / "demo.json.gz")
    out = tmp_path / "again.json.gz"
    res = run("report", packed, "-q", "--json", out, "--html", tmp_path / "r.html", "--fail-on", "none")
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:2] == b"\x1f\x8b" and len(snapshot.load(out).hosts) == len(
        snapshot.load(SNAP).hosts)
    assert "<html" in (tmp_path / "r.html").read_text()
    host_a, host_b = list(snapshot.load(SNAP).hosts)[:2]
    plain = run("diff", host_a, host_b, "--snapshot", SNAP)
    assert run("diff", host_a, host_b, "--snapshot", packed).output == plain.output
    text = "x509: certificate signed by unknown authority"
    explained = run("explain", text, "--snapshot", packed).output  # it names the file it read
    assert explained == run("explain", text, "--snapshot", SNAP).output.replace(str(SNAP), str(packed))
    assert "tls" in explained
    res = run("baseline", "save", packed, tmp_path / "golden.json.gz")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "golden.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    res = run("report", SNAP, "-q", "--fail-on", "none", "--baseline", tmp_path / "golden.json.gz")
    assert res.exit_code == 0, res.output


def test_newest_audit_snapshot_sees_compressed_files(tmp_path):
    doc = json.loads(SNAP.read_text())
    older = dict(doc, run={**doc["run"], "started": "2026-01-01T00:00:00Z"})
    newer = dict(doc, run={**doc["run"], "started": "2026-06-01T00:00:00Z"})
    (tmp_path / "a.json").write_text(json.dumps(older))
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(json.dumps(newer).encode()))
    path, result = snapshot.newest_audit_snapshot(tmp_path)
    assert path.name == "b.json.gz" and result.run["started"] == "2026-06-01T00:00:00Z"


def test_audit_writes_groups_and_a_gz_snapshot(tmp_path):
    """A real collection run (a host that refuses connections): --json X.json.gz is gzip,
    and every host carries its inventory groups ("all" left out)."""
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    from historykit import refused_inventory
    out = tmp_path / "out.json.gz"
    res = run("audit", "-i", refused_inventory(tmp_path), "--json", out, "--reports-dir",
              tmp_path / "r", "--retries", "0", "-q")
    assert res.exit_code == exitcodes.NOT_AUDITED, res.output
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    doc = json.loads(gzip.decompress(out.read_bytes()))
    assert doc["hosts"]["web-1"]["groups"] == ["web"]
    assert doc["hosts"]["web-1"]["status"] == "unreachable"


def test_history_store_keeps_groups_and_reads_runs_recorded_without_them(tmp_path):
    from fleetaudit.history import open_store
    with_groups = snapshot.to_json(synthetic_run(20))
    without = json.loads(SNAP.read_text())
    with open_store(str(tmp_path / "h.sqlite")) as store:
        a = store.record(with_groups, "inv/prod.ini", "audit")
        b = store.record(without, "inv/old.ini", "audit")
        back = store.load(a)
        assert back == with_groups
        assert back["hosts"][next(iter(back["hosts"]))]["groups"] == ["zone_eu1", "role_web"]
        old = snapshot.from_json(store.load(b))
        assert all(h.groups == [] for h in old.hosts.values())
