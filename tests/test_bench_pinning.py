"""bench/pinning.py (CPU pinning of the measured client and the lab hosts' trees) and
shard_bench's --pin both / --replay-hosts on a tiny fleet."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pinning import busy_pct, cpu_busy_jiffies, parse_pin, set_tree_affinity, tree_affinity, tree_pids  # noqa: E402


def test_parse_pin():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    a, b = cpus[0], cpus[1]
    assert parse_pin(f"{a}:{b}") == ({a}, {b})
    for bad in (f"{a}:{a}", f"{a}", f"{a}:", "x:y", f"{a}:{max(cpus) + 1}"):
        with pytest.raises(ValueError):
            parse_pin(bad)


def test_tree_affinity_reaches_children_and_their_later_children():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    # a parent with a child now, and one more child started after the mask was set
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & read x; sleep 30 & wait"], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while len(tree_pids([proc.pid])) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(tree_pids([proc.pid])) == 2
        assert set_tree_affinity([proc.pid], {cpus[1]}) >= 2
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        while len(tree_pids([proc.pid])) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tree_affinity([proc.pid]) == {str(cpus[1]): 3}  # the later child inherited it
        set_tree_affinity([proc.pid], set(cpus))
        assert tree_affinity([proc.pid]) == {",".join(map(str, cpus)): 3}
    finally:
        for pid in reversed(tree_pids([proc.pid])):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        proc.wait()


def test_busy_pct_per_cpu():
    before = cpu_busy_jiffies()
    t = time.process_time()
    while time.process_time() - t < 0.05:
        pass
    after = cpu_busy_jiffies()
    pct = busy_pct(before, after)
    assert set(pct) == {f"cpu{c}" for c in before}
    assert all(0 <= v <= 100 for v in pct.values())


@pytest.mark.fleet
def test_shard_bench_pinned_and_replayed(tmp_path):
    """--pin both: every contender also ran pinned (client on one CPU, every host process on
    the other, checked per contender); --replay-hosts: the hosts answered with the captured
    output and every audit still got every host `ok`."""
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    out = tmp_path / "shard.json"
    proc = subprocess.run([sys.executable, "-m", "bench.shard_bench", "--quick", "--pin", "both", "--replay-hosts",
                           "--only", "floor,workers1,merge1", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    size = json.loads(out.read_text())["sizes"]["6"]
    assert size["replay"]["markers"] > 20
    for name in ("floor", "workers1", "merge1"):
        assert size["pin_check"][name + "@pin"] == {"1": 6}
        assert size["pin_check"][name] == {",".join(map(str, sorted(os.sched_getaffinity(0)))): 6}
        assert size["runs"][name + "@pin"][0]["client_cpus"] == [0]
        assert size["runs"][name][0]["client_cpus"] is None
    for cond in ("unpinned", "pinned"):
        rows = size["pinning"][cond]
        assert rows["workers1"]["ok"] == 6 and rows["floor"]["ok"] == 6 and rows["merge1"]["ok"] == 6
        assert rows["workers1"]["collect_ms_per_host"] is not None
    assert not (ROOT / ".lab" / "shardbench-6" / "lab.json").exists()
