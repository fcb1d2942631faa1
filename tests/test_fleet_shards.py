"""Shards + merge against a small dedicated lab fleet (real sshd + dockerd per host):

    eq-g1, eq-g3     golden (docker proxy drop-in, lab CA)
    eq-g2            golden but eth0 MTU 1400
    eq-np1, eq-np3   no docker proxy drop-in
    eq-down          nothing listening on port 22 (refused)
    eq-hang          sshd only, its `timedatectl` hangs: left out by --limit in the
                     equivalence runs, the host in flight when the SIGINT test interrupts

With N=3 (sha256(name) mod 3): shard 0 = eq-g1; shard 1 = eq-np1, eq-np3, eq-g3;
shard 2 = eq-g2, eq-down. In shard 1 alone the proxy-less hosts are the majority, so a
per-shard consensus would blame eq-g3; the fleet majority (3 of 5 audited hosts have the
proxy) blames eq-np1 and eq-np3. `merge` must give what one run gives: same hosts,
facts (volatile readings aside), drift and findings. The same for `--workers 3`.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetaudit.compare.ignore import Ignore
from fleetaudit.shard import shard_of
from lab.demo import DROPIN, golden_files
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

HANG = "#!/bin/sh\nexec sleep 600\n"
LIMIT = ("--limit", "all,!eq-hang")  # shards are taken after --limit
SHARD_CODES = (0, 0, 3)
SHARDS = {"eq-g1": 0, "eq-np1": 1, "eq-np3": 1, "eq-g3": 1, "eq-g2": 2, "eq-down": 2}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    state = tmp_path_factory.mktemp("shard-fleet") / "lab"
    f = Fleet(state_dir=str(state))
    try:
        f.prepare()
        files = golden_files(f)
        no_proxy = {k: v for k, v in files.items() if k != DROPIN}
        f.up([HostSpec("eq-g1", files=dict(files)), HostSpec("eq-np1", files=dict(no_proxy)),
              HostSpec("eq-g2", files=dict(files), mtu=1400), HostSpec("eq-np3", files=dict(no_proxy)),
              HostSpec("eq-g3", files=dict(files)), HostSpec("eq-down", kind="refused"),
              HostSpec("eq-hang", kind="ssh", files={"/usr/local/bin/timedatectl": HANG},
                       file_modes={"/usr/local/bin/timedatectl": 0o755})])
        f.write_inventory(state / "inventory.yml", "native")
        yield f
    finally:
        f.down()


def run_cli(fleet, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleetaudit.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def audit(fleet, cwd: Path, out: str, *extra: str, code: int = 3) -> dict:
    state = Path(fleet.state_dir)
    proc = run_cli(fleet, cwd, "audit", "-i", str(state / "inventory.yml"),
                   "--known-hosts", fleet.known_hosts_path, "--connect-timeout", "3",
                   "--retries", "1", "--no-history", "--reports-dir", str(cwd / "reports"),
                   "--json", str(cwd / out), "-q", *LIMIT, *extra)
    assert (cwd / out).exists(), f"audit exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert proc.returncode == code, proc.stderr[-2000:]
    return json.loads((cwd / out).read_text())


def stable_facts(facts: dict) -> dict:
    """Fact paths -> values, without the readings that change between two runs."""
    ignore = Ignore(patterns=["*.duration_ms", "*.elapsed*"])
    out = {}

    def walk(prefix: str, value) -> None:
        if prefix and ignore(prefix):
            return
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value
    walk("", facts)
    return out


def summary(doc: dict) -> dict:
    hosts = {n: (h["status"], (h.get("error") or {}).get("class"), sorted(h.get("incomplete") or {}))
             for n, h in doc["hosts"].items()}
    findings = sorted((f["host"], f["rule"], f["severity"], f["category"]) for f in doc["findings"])
    drift = sorted((host, item["path"], json.dumps(item.get("expected"), sort_keys=True),
                    json.dumps(item.get("actual"), sort_keys=True))
                   for host, items in (doc.get("drift") or {}).items() for item in items)
    return {"hosts": hosts, "findings": findings, "drift": drift}


def test_three_shards_and_merge_equal_one_run(fleet, tmp_path):
    assert {n: shard_of(n, 3) for n in SHARDS} == SHARDS
    one = audit(fleet, tmp_path, "one.json", "--workers", "1")
    # Exit codes per shard: eq-down (not audited, 3) is in shard 2; shard 1 on its own
    # finds drift on eq-g3 alone, with no finding at or above high.
    shards = [audit(fleet, tmp_path, f"shard-{i}.json", "--shard", f"{i}/3", "--workers", "1", code=c)
              for i, c in enumerate(SHARD_CODES)]
    for i, doc in enumerate(shards):
        assert sorted(doc["hosts"]) == sorted(n for n, s in SHARDS.items() if s == i)
        assert doc["run"]["shard"]["index"] == i and doc["run"]["shard"]["count"] == 3
        assert doc["run"]["shard"]["hosts_total"] == 6
    proc = run_cli(fleet, tmp_path, "merge", *[str(tmp_path / f"shard-{i}.json") for i in (2, 0, 1)],
                   "--json", str(tmp_path / "merged.json"), "--no-history",
                   "--reports-dir", str(tmp_path / "reports"), "-q")
    assert proc.returncode == 3, proc.stderr  # as one run: eq-down not audited
    merged = json.loads((tmp_path / "merged.json").read_text())

    assert list(merged["hosts"]) == list(one["hosts"])  # inventory order restored
    assert summary(merged) == summary(one)
    for name in one["hosts"]:
        assert stable_facts(merged["hosts"][name]["facts"]) == stable_facts(one["hosts"][name]["facts"]), name
    assert merged["run"]["shards"]["complete"] is True
    assert merged["run"]["groups"] == one["run"]["groups"]

    # The point of merging facts, not findings: the fleet majority blames the two
    # proxy-less hosts; shard 1 on its own (2 of its 3 hosts lack the proxy) did not.
    def proxy_drift(doc):
        return sorted(h for h, items in (doc.get("drift") or {}).items()
                      if any(i["path"].startswith("proxy.daemon") or "proxy" in i["path"] for i in items))
    assert {"eq-np1", "eq-np3"} <= set(proxy_drift(merged))
    assert "eq-g3" not in proxy_drift(merged)
    assert proxy_drift(shards[1]) != proxy_drift(merged)

    # --workers 3 is the same three shards in processes, joined in memory.
    workers = audit(fleet, tmp_path, "workers.json", "--workers", "3")
    assert list(workers["hosts"]) == list(one["hosts"])
    assert summary(workers) == summary(one)
    assert sorted(w["hosts"] for w in workers["run"]["workers"]) == [1, 2, 3]
    assert all(w["max_rss_kb"] > 0 and w["cpu_s"] > 0 for w in workers["run"]["workers"])


def test_merge_refuses_a_missing_shard_unless_allowed(fleet, tmp_path):
    for i in (0, 1):
        audit(fleet, tmp_path, f"shard-{i}.json", "--shard", f"{i}/3", "--workers", "1",
              code=SHARD_CODES[i])
    files = [str(tmp_path / "shard-0.json"), str(tmp_path / "shard-1.json")]
    base = ["--no-history", "--reports-dir", str(tmp_path / "reports"), "-q"]
    proc = run_cli(fleet, tmp_path, "merge", *files, "--json", str(tmp_path / "m.json"), *base)
    assert proc.returncode == 2
    assert "missing shard(s) 2/3" in proc.stderr and not (tmp_path / "m.json").exists()
    proc = run_cli(fleet, tmp_path, "merge", *files, "--allow-missing", "--json", str(tmp_path / "m.json"), *base)
    assert proc.returncode == 3, proc.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["run"]["incomplete"] == {"missing_shards": [2], "hosts_not_seen": 2}
    assert sorted(doc["hosts"]) == ["eq-g1", "eq-g3", "eq-np1", "eq-np3"]


def test_sigint_with_workers_keeps_what_was_collected(fleet, tmp_path):
    """Ctrl-C reaches the whole process group: the workers ignore it, the parent tells
    them to stop, and the snapshot holds every finished host and the one in flight."""
    state = Path(fleet.state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", str(state / "inventory.yml"),
         "--known-hosts", fleet.known_hosts_path, "--connect-timeout", "3", "--retries", "1",
         "--no-history", "--reports-dir", str(tmp_path / "reports"), "--json", str(tmp_path / "cut.json"),
         "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if not line:  # the process ended
            break
        if line.startswith("collected 6/7 hosts"):  # one progress line per host, from both workers
            break
    if not lines[-1].startswith("collected 6/7 hosts"):
        proc.kill()
        pytest.fail("no progress: " + "".join(lines))
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    doc = json.loads((tmp_path / "cut.json").read_text())
    assert doc["run"]["interrupted"] is True and doc["run"]["interrupted_by"] == "SIGINT"
    assert len(doc["hosts"]) == 7 and len(doc["run"]["workers"]) == 2
    hang = doc["hosts"]["eq-hang"]
    assert hang["error"]["class"] == "interrupted"
    assert all(doc["hosts"][n]["status"] == "ok" for n in ("eq-g1", "eq-g2", "eq-g3", "eq-np1", "eq-np3"))
    assert doc["hosts"]["eq-g1"]["facts"]["system"]["hostname"] == "eq-g1"
    assert "interrupted by SIGINT" in err
