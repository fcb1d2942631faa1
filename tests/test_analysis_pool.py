"""The per-host analysis over worker processes (fleetaudit/analysis_pool.py) gives the
same findings, drift, matrix and baseline record as the single process: on a synthetic
fleet (bench/synthetic.py, with faults, unreachable and partial hosts) and on snapshots
captured from the lab fleet; a failing worker's hosts are redone in this process; small
fleets, and a process with another thread running, stay in one process."""
import json
import os
import threading
from pathlib import Path

import pytest

from bench.synthetic import synthetic_run
from fleetaudit import analysis_pool, snapshot
from fleetaudit.analyze import AnalyzeOptions, analyze

DATA = Path(__file__).resolve().parent / "data" / "snapshots"
LAB_CAPTURES = ["demo-subset.json", "explain-lab.json", "facts-views.json"]


def _outputs(result) -> dict:
    """Everything analysis writes, as text (so that order counts too)."""
    return {
        "findings": json.dumps([f.to_json() for f in result.findings]),
        "drift": json.dumps(result.extra["drift"], default=repr),
        "baseline": json.dumps(result.extra["baseline"], default=repr),
        "matrix": json.dumps(result.extra["matrix"], default=repr),
        "snapshot": snapshot.text_of(result),
    }


def _analysed(make, workers, stats=None, **opts):
    result = make()
    result.findings, result.extra = [], {}
    analyze(result, AnalyzeOptions(workers=workers, **opts), stats=stats)
    return result


@pytest.fixture
def tiny_floor(monkeypatch):
    """Workers even for a few hosts (the real floor keeps small fleets in one process)."""
    monkeypatch.setattr(analysis_pool, "MIN_HOSTS_PER_PROCESS", 1)


def _fleet():
    return synthetic_run(240, seed=11, hostile=True, fault_rate=0.3, unreachable_rate=0.05,
                         partial_rate=0.05)


@pytest.mark.parametrize("workers", [2, 3])
def test_synthetic_fleet_same_outputs_as_one_process(tiny_floor, workers):
    single = _analysed(_fleet, 1)
    stats = {}
    multi = _analysed(_fleet, workers, stats)
    assert stats["processes"] == workers and stats["failed"] == []
    assert len(single.findings) > 100 and single.extra["drift"]      # real work, not empty
    assert _outputs(multi) == _outputs(single)


def test_synthetic_fleet_with_golden_host_and_groups(tiny_floor):
    first = next(n for n, h in _fleet().hosts.items() if h.status == "ok")
    for opts in ({"baseline_host": first}, {"consensus_by": ["zone_*"]}):
        stats = {}
        assert _outputs(_analysed(_fleet, 2, stats, **opts)) == _outputs(_analysed(_fleet, 1, **opts))
        assert stats["processes"] == 2


@pytest.mark.parametrize("capture", LAB_CAPTURES)
def test_lab_capture_same_outputs_as_one_process(tiny_floor, capture):
    def load():
        doc = json.loads((DATA / capture).read_text())
        return snapshot.from_json(doc.get("snapshot", doc), capture)   # explain-lab wraps one
    single = _analysed(load, 1)
    stats = {}
    multi = _analysed(load, 3, stats)
    assert stats["processes"] >= 2 and stats["failed"] == []   # 3 hosts: this one + 1 worker
    assert single.findings and any(f.severity in ("critical", "high") for f in single.findings)
    assert _outputs(multi) == _outputs(single)


def _raise():
    raise RuntimeError("worker broke")


def _die():
    os._exit(7)   # a crash: no message at all on the pipe


@pytest.mark.parametrize("fail", [_raise, _die])
def test_failing_worker_loses_no_finding(tiny_floor, monkeypatch, fail):
    """Golden host: the per-host pool; a failed worker's hosts are redone here."""
    first = next(n for n, h in _fleet().hosts.items() if h.status == "ok")
    single = _analysed(_fleet, 1, baseline_host=first)
    real = analysis_pool.run_hosts

    def failing(work, names, processes, stats=None, fail_in_worker=None, started_cpu=None):
        return real(work, names, processes, stats, fail, started_cpu)
    monkeypatch.setattr(analysis_pool, "run_hosts", failing)
    stats = {}
    multi = _analysed(_fleet, 3, stats, baseline_host=first)
    assert stats["processes"] == 3 and len(stats["failed"]) == 2   # both workers, redone here
    assert all(f["hosts"] > 0 for f in stats["failed"])
    if fail is _raise:
        assert "worker broke" in stats["failed"][0]["error"]
    else:
        assert stats["failed"][0]["exitcode"] == 7
    assert _outputs(multi) == _outputs(single)


def _die_after_counting():
    """A worker that sends its counts, then fails (when it gets the expectations)."""
    def broken(label):
        raise TypeError("no share after the counts")
    analysis_pool._deferred_share = broken   # in this worker only (a fork)


@pytest.mark.parametrize("fail", [_raise, _die, _die_after_counting])
def test_failing_split_worker_loses_no_finding(tiny_floor, monkeypatch, fail):
    """Fleet consensus: index and counts in the workers; any worker failing (before its
    counts or after) means the whole analysis is done here, with the same outputs."""
    single = _analysed(_fleet, 1)
    real = analysis_pool.analyze_split

    def failing(result, consensus, ignore, expected, processes, stats=None, fail_in_worker=None):
        return real(result, consensus, ignore, expected, processes, stats, fail)
    monkeypatch.setattr(analysis_pool, "analyze_split", failing)
    stats = {}
    multi = _analysed(_fleet, 3, stats)
    assert stats["processes"] == 3 and stats["split"] and len(stats["failed"]) == 1
    if fail is _raise:
        assert "worker broke" in stats["failed"][0]["error"]
    elif fail is _die:
        assert stats["failed"][0]["exitcode"] == 7
    else:
        assert "TypeError" in stats["failed"][0]["error"]
    assert _outputs(multi) == _outputs(single)


def test_split_counts_merge_as_one_pass_in_name_order(tiny_floor):
    """Inventory order unlike name order, hosts that share a first value with another
    worker's, groups: the merged counts, consensus and matrix are still workers=1's."""
    import random

    def shuffled():
        r = _fleet()
        order = list(r.hosts.items())
        random.Random(5).shuffle(order)
        r.hosts = dict(order)
        return r
    for opts in ({}, {"consensus_by": ["zone_*"]}, {"ignore": ["dns.*"]}):
        stats = {}
        multi = _analysed(shuffled, 4, stats, **opts)
        assert stats.get("split") and stats["failed"] == [] and stats["processes"] == 4
        assert _outputs(multi) == _outputs(_analysed(shuffled, 1, **opts))


def test_merge_counts_equals_one_count():
    """merge_counts of disjoint parts == count_hosts of them all (dict order, key objects
    and representative values included), for any split of the hosts."""
    import random
    from fleetaudit.compare import index_for
    from fleetaudit.compare.baseline import count_hosts, merge_counts
    from fleetaudit.compare.ignore import as_ignore
    r = _fleet()
    hosts = sorted(index_for(r).hosts.values(), key=lambda h: h.name)
    ign = as_ignore(None)
    whole = count_hosts(hosts, ign)
    rnd = random.Random(3)
    for n in (2, 3, 7):
        shuffled = list(hosts)
        rnd.shuffle(shuffled)
        parts = [sorted(shuffled[i::n], key=lambda h: h.name) for i in range(n)]
        merged = merge_counts([count_hosts(p, ign) for p in parts])
        for a, b in zip(whole, merged):
            assert list(a) == list(b)
            for k in a:
                assert repr(list(a[k].items()) if isinstance(a[k], dict) else a[k]) == \
                    repr(list(b[k].items()) if isinstance(b[k], dict) else b[k])


def test_small_fleet_stays_in_one_process():
    # the real floor: 240 hosts are below two processes' worth
    assert analysis_pool.plan_processes(None, 240, cores=8) == 1
    assert analysis_pool.plan_processes(8, 240, cores=8) == 1
    assert analysis_pool.plan_processes(None, 10_000, cores=8) == 8
    assert analysis_pool.plan_processes(2, 10_000, cores=8) == 2
    assert analysis_pool.plan_processes(None, 1_200, cores=8) == 2
    stats = {}
    _analysed(_fleet, None, stats)
    assert stats == {"processes": 1}


def test_another_thread_keeps_the_analysis_in_process(tiny_floor):
    release = threading.Event()
    t = threading.Thread(target=release.wait)
    t.start()
    try:
        assert "thread" in analysis_pool.why_not_fork()
        stats = {}
        multi = _analysed(_fleet, 2, stats)
    finally:
        release.set()
        t.join()
    assert stats["processes"] == 1 and "thread" in stats["reason"]
    assert _outputs(multi) == _outputs(_analysed(_fleet, 1))


def test_chunks_keep_host_order():
    names = [f"h{i}" for i in range(11)]
    parts = analysis_pool.chunks(names, 3)
    assert [len(p) for p in parts] == [4, 4, 3]
    assert sum(parts, []) == names
    assert analysis_pool.chunks(names[:2], 4) == [["h0"], ["h1"]]


def test_report_workers_option_gives_the_same_snapshot(tiny_floor, tmp_path):
    """`fleetaudit report --workers N` (in this process, so the lowered floor applies)."""
    from click.testing import CliRunner
    from fleetaudit.cli import main
    outs = {}
    for n in (1, 3):
        out = tmp_path / f"w{n}.json"
        res = CliRunner().invoke(main, ["report", str(DATA / "demo-subset.json"), "--json", str(out),
                                        "--workers", str(n), "-q", "--fail-on", "none"])
        assert res.exit_code == 0, res.output
        outs[n] = out.read_text()
    doc = json.loads(outs[3])
    assert doc["findings"] and doc["drift"]
    assert outs[3] == outs[1]


def test_merge_tallies_equals_one_fleet():
    """FleetView tallies (majority votes, element counts, the registry scan) of
    consecutive parts of the hosts, merged, == those of one FleetView over them all:
    counts, first-seen order and sample values included."""
    from fleetaudit.diagnose import load_rules
    from fleetaudit.diagnose.engine import diagnose_host
    from fleetaudit.facts import FleetView
    from fleetaudit.facts.fleet import merge_tallies
    r = _fleet()
    rules = load_rules()
    names = list(r.hosts)
    first = next(n for n in names if r.hosts[n].status == "ok")
    full = FleetView(r)
    diagnose_host(r.hosts[first], r, [], None, full, rules)
    want = full.tallies()
    assert any(k[0] == "votes" for k in want if isinstance(k, tuple)) and "registries" in want
    for n in (2, 3, 5):
        views = [FleetView(r, only=p) for p in analysis_pool.chunks(names, n)]
        for v in views:
            diagnose_host(r.hosts[first], r, [], None, v, rules)
        got = merge_tallies([v.tallies() for v in views])
        assert list(got) == list(want)
        for k in want:
            a, b = want[k], got[k]
            if k == "registries":
                assert repr(a[0]) == repr(b[0]) and a[1] == b[1] and a[2] == b[2]
            elif k[0] == "votes":
                assert list(a[0].items()) == list(b[0].items()) and repr(a[1]) == repr(b[1])
            else:
                assert a[0] == b[0] and a[1] == b[1]
    # a part that lacks a tally: left out, not half-counted
    assert merge_tallies([want, {}]) == {}


def _noop(conn):
    conn.close()


@pytest.mark.parametrize("frozen_before", [False, True])
def test_fork_leaves_the_heap_as_it_found_it(frozen_before):
    """The CLI freezes the collected fleet (cli._keep_collected) before the analysis
    forks its workers; forking must not unfreeze it (gc.unfreeze undoes every freeze),
    and must not leave frozen a heap nobody froze."""
    import gc
    import multiprocessing
    if frozen_before:
        gc.freeze()
    proc, conn = analysis_pool.fork_child(multiprocessing.get_context("fork"), _noop,
                                          lambda end: (end,), "test-fork")
    proc.join(10)
    conn.close()
    assert (gc.get_freeze_count() > 0) == frozen_before
    assert proc.exitcode == 0


def test_loading_a_snapshot_keeps_a_frozen_heap_frozen(tmp_path):
    import gc
    from fleetaudit.models import RunResult
    path = tmp_path / "s.json"
    snapshot.save(RunResult(run={"started": "2026-12-04T00:00:00Z"}), path)
    gc.freeze()
    frozen = gc.get_freeze_count()
    snapshot.load(path)
    assert gc.get_freeze_count() >= frozen
