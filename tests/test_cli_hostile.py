"""The CLI against tests/hostile_sshd.py: faults become classified rows within the
deadline, and SIGINT/SIGTERM mid-run still write everything collected (exit 130/143)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from fleetaudit import exitcodes
from fleetaudit.collectors import REGISTRY

from hostilekit import HostileServer

ORDER = [c.name for c in REGISTRY]
FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
SLACK = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = HostileServer(tmp_path_factory.mktemp("hostile-cli"))
    try:
        srv.warm()
        yield srv
    finally:
        srv.stop()


def base_args(server, inv, out, command_timeout):
    return ["-i", str(inv), "--known-hosts", str(server.known_hosts),
            "--ssh-config", str(server.ssh_config), "--connect-timeout", "3",
            "--command-timeout", command_timeout]


def test_audit_turns_every_fault_into_a_classified_row(server, tmp_path):
    inv = server.inventory(tmp_path / "inv.ini", {
        "good": "ok", "stalls": "stall-4", "drops": "drop-5", "mute": "noopen",
        "deaf": "noexec", "flood": "flood", "drip": "drip"})
    started = time.monotonic()
    proc = subprocess.run(FLEETAUDIT + ["audit", *base_args(server, inv, tmp_path, "5"),
                                        "--json", str(tmp_path / "snap.json"),
                                        "--reports-dir", str(tmp_path / "reports"), "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert proc.returncode == exitcodes.NOT_AUDITED, proc.stderr
    snap = json.loads((tmp_path / "snap.json").read_text())
    hosts = snap["hosts"]
    row = {name: (h["status"], h["error"]["class"] if h["error"] else None) for name, h in hosts.items()}
    assert row == {
        "good": ("ok", None),
        "stalls": ("partial", "command-timeout"),
        "drops": ("partial", "protocol"),
        "mute": ("unreachable", "command-timeout"),
        "deaf": ("unreachable", "command-timeout"),
        "flood": ("partial", "protocol"),
        "drip": ("unreachable", "command-timeout"),
    }
    assert sorted(hosts["stalls"]["incomplete"]) == sorted(ORDER[3:])
    assert hosts["stalls"]["facts"]["system"]["hostname"]
    assert hosts["drops"]["facts"]["docker"] is not None
    assert snap["run"]["interrupted"] is False
    # All hosts run at once: the slowest is one command timeout plus connecting.
    assert took < snap["run"]["host_deadline_s"] + SLACK
    assert took < 5 + SLACK


def test_host_cut_short_still_exits_not_audited():
    """A timed-out host keeps its facts now (partial), but the run is still not clean."""
    from fleetaudit.cli import exit_code
    from fleetaudit.models import HostError, HostResult, RunResult
    ok = HostResult(name="a")
    cut = HostResult(name="b", status="partial", error=HostError("command-timeout", "t"))
    sudo = HostResult(name="c", status="partial", error=HostError("sudo", "s"))
    assert exit_code(RunResult(hosts={"a": ok, "c": sudo})) == exitcodes.CLEAN
    assert exit_code(RunResult(hosts={"a": ok, "b": cut})) == exitcodes.NOT_AUDITED


def _interrupted_run(server, tmp_path, command, sig, extra):
    """Two fast hosts finish, four stall in flight, two never start (-c 4); then `sig`."""
    hosts = {"fast-a": "ok", "fast-b": "ok"}
    hosts.update({f"stuck-{i}": "stall-3" for i in "abcd"})
    hosts.update({f"queued-{i}": "stall-3" for i in "ef"})
    inv = server.inventory(tmp_path / "inv.ini", hosts)
    before = len([e for e in server.events() if e["ended"] == "stalling"])
    proc = subprocess.Popen(FLEETAUDIT + [command, *base_args(server, inv, tmp_path, "60"),
                                          "-c", "4", *extra],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # stuck-c/d only start when fast-a/b released their slots, i.e. were fully done.
        server.wait_events(lambda ev: len([e for e in ev if e["ended"] == "stalling"]) >= before + 4)
        time.sleep(1.0)  # let the stuck hosts' first sections reach the controller
        signalled = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out, err, took


def _check_interrupted_snapshot(snap, signame):
    assert snap["run"]["interrupted"] is True
    assert snap["run"]["interrupted_by"] == signame
    hosts = snap["hosts"]
    lost = [n for n in ("fast-a", "fast-b") if hosts[n]["status"] != "ok"]
    assert lost == [], "finished hosts lost by the interrupt"
    for name in ("fast-a", "fast-b"):
        assert hosts[name]["error"] is None and hosts[name]["facts"]["system"]["hostname"]
    for name in (f"stuck-{i}" for i in "abcd"):
        h = hosts[name]
        assert (h["status"], h["error"]["class"]) == ("partial", "interrupted"), name
        assert h["facts"]["system"]["hostname"]
        assert sorted(h["incomplete"]) == sorted(ORDER[2:])
        assert f"interrupted by {signame}" in h["incomplete"][ORDER[5]]
    for name in ("queued-e", "queued-f"):
        h = hosts[name]
        assert h["status"] == "unreachable"
        assert h["error"] == {"class": "interrupted",
                              "message": f"run interrupted by {signame} before this host finished"}
        assert h["facts"] == {}


def test_sigint_mid_audit_writes_everything_collected_and_exits_130(server, tmp_path):
    outs = {k: tmp_path / f"out.{k}" for k in ("json", "html", "md", "xml")}
    proc, out, err, took = _interrupted_run(server, tmp_path, "audit", signal.SIGINT, [
        "--json", str(outs["json"]), "--html", str(outs["html"]), "--markdown", str(outs["md"]),
        "--junit", str(outs["xml"]), "--reports-dir", str(tmp_path / "reports")])
    assert proc.returncode == exitcodes.INTERRUPTED_SIGINT == 130, err
    assert "Aborted" not in err and "Traceback" not in err
    assert took < SLACK
    snap = json.loads(outs["json"].read_text())
    _check_interrupted_snapshot(snap, "SIGINT")
    kept = list((tmp_path / "reports").glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["run"]["interrupted"] is True
    for k in ("html", "md", "xml"):
        assert "queued-e" in outs[k].read_text()


def test_sigterm_mid_gate_writes_verdicts_and_snapshot_and_exits_143(server, tmp_path):
    proc, out, err, took = _interrupted_run(server, tmp_path, "gate", signal.SIGTERM, [
        "--image", "127.0.0.1:9/team/app:1", "--no-manifest-check", "-q",
        "--json", str(tmp_path / "gate.json"), "--snapshot", str(tmp_path / "snap.json")])
    assert proc.returncode == exitcodes.INTERRUPTED_SIGTERM == 143, err
    assert took < SLACK
    _check_interrupted_snapshot(json.loads((tmp_path / "snap.json").read_text()), "SIGTERM")
    verdicts = json.loads((tmp_path / "gate.json").read_text())
    assert verdicts["run"]["interrupted"] is True


def test_second_signal_aborts_at_once():
    """The first SIGINT is latched (the run winds down and writes); a second one takes
    the default action: the process dies by the signal, nothing more runs."""
    code = (
        "import os, signal, time\n"
        "from fleetaudit.cli_signals import SignalLatch\n"
        "with SignalLatch() as latch:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.2)\n"
        "    print('latched', latch.name, latch.exit_code, latch.interrupt.reason, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(10)\n"
        "    print('still running', flush=True)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "latched SIGINT 130 SIGINT\n"
    assert proc.returncode == -signal.SIGINT
