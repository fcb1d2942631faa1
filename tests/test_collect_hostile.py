"""Hosts that misbehave after login (tests/hostile_sshd.py, real SSH on 127.0.0.1):
every one becomes a classified row within its deadline, everything it sent is kept,
and no read from a host grows without bound."""
from __future__ import annotations

import asyncio
import time
import tracemalloc

import pytest

from fleetaudit.collect import CollectOptions, Interrupt, collect_fleet
from fleetaudit.collectors import REGISTRY
from fleetaudit.ssh import SSHOptions

from hostilekit import HostileServer

ORDER = [c.name for c in REGISTRY]
# Slack for a loaded 2-core machine (8 engineers share it) on top of each deadline.
SLACK = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = HostileServer(tmp_path_factory.mktemp("hostile"))
    try:
        srv.warm()
        yield srv
    finally:
        srv.stop()


def options(server, **kw) -> CollectOptions:
    ssh = SSHOptions(known_hosts=str(server.known_hosts), ssh_config=[str(server.ssh_config)],
                     connect_timeout=3, banner_timeout=3, login_timeout=5)
    kw.setdefault("command_timeout", 3.0)
    return CollectOptions(ssh=ssh, **kw)


def run(hosts, opts, bound: float):
    """collect_fleet under an outer bound, so a hang fails the test instead of hanging it."""
    started = time.monotonic()
    result = asyncio.run(asyncio.wait_for(collect_fleet(hosts, opts), bound))
    return result, time.monotonic() - started


def test_every_phase_has_a_default_host_deadline():
    opts = CollectOptions(command_timeout=60)
    deadline = opts.host_deadline_s()
    ssh = opts.ssh
    # Connect, banner and login, then the script and the CA-bundle fetch, all inside.
    assert ssh.connect_timeout + ssh.banner_timeout + ssh.login_timeout + 60 < deadline < 400
    assert CollectOptions(host_timeout=7).host_deadline_s() == 7


def test_genuine_host_is_complete(server):
    result, _ = run([server.host("good", "ok")], options(server, command_timeout=30), 60)
    h = result.hosts["good"]
    assert (h.status, h.error, h.incomplete) == ("ok", None, {})
    assert set(ORDER) <= set(h.facts)
    assert h.facts["system"]["hostname"]


@pytest.mark.parametrize("kept", [0, 4])
def test_command_timeout_keeps_every_section_received(server, kept):
    opts = options(server)
    result, took = run([server.host("stalls", f"stall-{kept}")], opts, 120)
    h = result.hosts["stalls"]
    assert h.error is not None and h.error.cls == "command-timeout"
    assert took < opts.command_timeout + SLACK
    assert h.status == "partial"                      # the T mark and _meta arrived at least
    assert h.facts["time"]["clock"]["host_epoch"] is not None
    # The last section received is named too: nothing says whether more of it was coming.
    named = ORDER[max(kept - 1, 0):]
    assert sorted(h.incomplete) == sorted(named)
    for name in named:
        assert "timed out after 3s" in h.incomplete[name]
    assert h.incomplete[ORDER[kept]].startswith("no output")
    for name in ORDER[:max(kept - 1, 0)]:
        assert name not in h.incomplete
    assert f"{kept} of {len(ORDER)} sections received" in h.error.message
    if kept:
        assert h.incomplete[ORDER[kept - 1]].startswith("cut")
        assert h.facts["system"]["hostname"]
        assert h.bytes_received > 100


def test_section_cut_mid_part_is_named_as_cut(server):
    result, _ = run([server.host("cut", "stallmid-4")], options(server), 120)
    h = result.hosts["cut"]
    assert (h.status, h.error.cls) == ("partial", "command-timeout")
    assert h.incomplete[ORDER[4]].startswith("cut")
    assert h.incomplete[ORDER[5]].startswith("no output")
    assert sorted(h.incomplete) == sorted(ORDER[4:])


def test_connection_dropped_mid_output_keeps_sections(server):
    result, took = run([server.host("drops", "drop-5")], options(server, command_timeout=30), 120)
    h = result.hosts["drops"]
    assert (h.status, h.error.cls) == ("partial", "protocol")
    assert "connection lost" in h.error.message
    assert sorted(h.incomplete) == sorted(ORDER[4:])        # the 5th: cut, maybe
    assert h.incomplete[ORDER[5]] == "no output: connection lost before this section"
    assert h.facts["system"]["hostname"]
    assert took < 30  # no waiting for a command timeout on a dead connection


def test_drip_is_bounded_by_the_deadline_and_what_arrived_is_kept(server):
    opts = options(server, command_timeout=6.0)
    result, took = run([server.host("drip", "drip")], opts, 120)
    h = result.hosts["drip"]
    assert took < opts.command_timeout + SLACK
    assert h.error.cls == "command-timeout"
    # One byte a second: a few bytes, no complete clock line yet, so nothing to audit.
    assert 1 <= h.bytes_received <= 12
    assert h.status == "unreachable"
    assert f"{h.bytes_received} bytes" in h.error.message


@pytest.mark.parametrize("behaviour", ["noopen", "noexec"])
def test_session_that_never_starts_is_a_row_not_a_hang(server, behaviour):
    opts = options(server)
    result, took = run([server.host("mute", behaviour)], opts, opts.host_deadline_s() + SLACK)
    h = result.hosts["mute"]
    assert (h.status, h.error.cls) == ("unreachable", "command-timeout")
    assert "did not start" in h.error.message
    assert took < opts.command_timeout + SLACK


def test_host_deadline_covers_everything_and_keeps_what_arrived(server):
    opts = options(server, command_timeout=60, host_timeout=4)
    result, took = run([server.host("slowpoke", "stall-3")], opts, 120)
    h = result.hosts["slowpoke"]
    assert took < 4 + SLACK
    assert (h.status, h.error.cls) == ("partial", "command-timeout")
    assert "host deadline of 4s" in h.error.message
    assert sorted(h.incomplete) == sorted(ORDER[2:])


def _peak_during(coro_fn):
    tracemalloc.start()
    try:
        result = asyncio.run(coro_fn())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_gigabyte_of_output_is_cut_at_the_cap_with_bounded_memory(server):
    opts = options(server, command_timeout=60, max_output_bytes=8 << 20)
    host = server.host("flood", "flood")
    result, peak = _peak_during(lambda: asyncio.wait_for(collect_fleet([host], opts), 120))
    h = result.hosts["flood"]
    assert (h.status, h.error.cls) == ("partial", "protocol")
    assert h.bytes_received <= opts.max_output_bytes
    assert h.facts["system"]["hostname"]                  # the sections before the flood
    assert "tls" in h.incomplete
    sent = [e for e in server.events() if e["user"] == "flood" and e["ended"] != "stalling"]
    server_sent = max(e["sent"] for e in sent) if sent else None
    # The controller closed the channel at the cap: the host did not get to send 1 GiB.
    assert server_sent is None or server_sent < (64 << 20)
    print(f"flood: received {h.bytes_received} B, server sent {server_sent}, peak {peak / 2**20:.1f} MiB")
    assert peak < 4 * opts.max_output_bytes


def test_fetch_answer_is_capped_while_it_streams(server):
    opts = options(server, command_timeout=30, max_fetch_bytes=16 << 20)
    host = server.host("bigca", "fetch48")
    result, peak = _peak_during(lambda: asyncio.wait_for(collect_fleet([host], opts), 120))
    h = result.hosts["bigca"]
    # The main script was fine; only the CA content fetch was over the cap.
    assert h.facts["tls"] and h.facts["system"]["hostname"]
    assert h.bytes_received < (16 << 20) + (1 << 20)
    assert "tls" in h.incomplete and "16 MiB" in h.incomplete["tls"]
    assert result.catalog == {} or all(v for v in result.catalog.values())
    print(f"fetch48: received {h.bytes_received} B, peak {peak / 2**20:.1f} MiB")
    assert peak < 3 * opts.max_fetch_bytes


def test_run_deadline_keeps_what_hosts_in_flight_sent(server):
    # 8 s: room for the good host even when the server's first genuine run is slow.
    opts = options(server, command_timeout=60, run_timeout=8)
    hosts = [server.host("good", "ok"), server.host("stuck", "stall-3")]
    result, took = run(hosts, opts, 120)
    assert took < 8 + SLACK
    assert result.hosts["good"].status == "ok", result.hosts["good"].error
    stuck = result.hosts["stuck"]
    assert (stuck.status, stuck.error.cls) == ("partial", "command-timeout")
    assert "run deadline of 8s" in stuck.error.message
    assert stuck.facts["system"]["hostname"]
    assert sorted(stuck.incomplete) == sorted(ORDER[2:])
    assert result.run["interrupted"] is False


def test_library_interrupt_returns_a_result_marked_interrupted(server, capfd):
    """collect_fleet never prints or exits: an Interrupt makes it return early."""
    # Two at a time: good and stuck start, good finishes, stuck-2 takes its slot,
    # waiting never starts.
    opts = options(server, command_timeout=60, concurrency=2)
    hosts = [server.host("good", "ok"), server.host("stuck", "stall-3"),
             server.host("stuck-2", "stall-3"), server.host("waiting", "stall-3")]
    stop = Interrupt()
    before = len([e for e in server.events() if e["ended"] == "stalling"])

    async def main():
        async def fire_when_stuck():
            while len([e for e in server.events() if e["ended"] == "stalling"]) < before + 2:
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            stop.fire("test")
        firing = asyncio.ensure_future(fire_when_stuck())
        try:
            return await collect_fleet(hosts, opts, interrupt=stop)
        finally:
            firing.cancel()

    result = asyncio.run(asyncio.wait_for(main(), 120))
    assert capfd.readouterr() == ("", "")
    assert result.run["interrupted"] is True and result.run["interrupted_by"] == "test"
    assert result.hosts["good"].status == "ok" and result.hosts["good"].error is None
    for name in ("stuck", "stuck-2"):
        assert (result.hosts[name].status, result.hosts[name].error.cls) == ("partial", "interrupted")
        assert result.hosts[name].incomplete[ORDER[5]] == \
            "no output: run interrupted by test before this section"
    waiting = result.hosts["waiting"]
    assert (waiting.status, waiting.error.message) == (
        "unreachable", "run interrupted by test before this host finished")
