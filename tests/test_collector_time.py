"""time: which source decides, and tools that fail while exiting 0."""
import shutil
import subprocess

import pytest

from fleetaudit.collectors import time as time_collector
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output

MISSING = Part("x: not found\n", 127)
TRACKING = ("Reference ID    : C0000201 (192.0.2.1)\nStratum         : 3\n"
            "Leap status     : {leap}\n")


def test_timedatectl_wins_over_chrony():
    facts = time_collector.parse({
        "tdc_show": Part("NTP=yes\nNTPSynchronized=no\nTimezone=UTC\n", 0),
        "chrony": Part(TRACKING.format(leap="Normal"), 0),
    })
    assert facts["ntp"]["source"] == "timedatectl" and facts["ntp"]["synchronized"] is False
    assert facts["chrony"]["synchronized"] is True  # still reported on its own


def test_chrony_verdicts():
    def sync(out):
        return time_collector.parse({"tdc_show": MISSING, "chrony": Part(out, 0)})["chrony"]["synchronized"]
    assert sync(TRACKING.format(leap="Normal")) is True
    assert sync(TRACKING.format(leap="Not synchronised")) is False
    assert sync("Reference ID    : 7F7F0101 ()\nStratum         : 10\nLeap status     : Normal\n") is False
    assert sync("Reference ID    : 00000000 ()\nLeap status     : Normal\n") is False
    assert sync(TRACKING.format(leap="something new")) is None


def test_ntpq_socket_error_with_status_zero_is_not_a_verdict():
    facts = time_collector.parse({"tdc_show": MISSING, "chrony": MISSING,
                                  "ntpq": Part("***Socket error; probably ntpd is not running\n", 0)})
    assert facts["ntpd"]["error"] == "***Socket error; probably ntpd is not running"
    assert facts["ntp"] == {"source": None, "synchronized": None, "enabled": None,
                            "detail": "no time sync tool answered"}


def test_timesyncd_flag_only_counts_when_present():
    facts = time_collector.parse({"timesync_flag": Part("present\n", 0)})
    assert facts["ntp"]["source"] == "timesyncd" and facts["ntp"]["synchronized"] is True
    facts = time_collector.parse({"timesync_flag": Part("", 1)})
    assert facts["ntp"]["source"] is None and facts["timesyncd_flag"] is False


@pytest.mark.parametrize("shell", [s for s in ("dash", "bash", "busybox") if shutil.which(s)])
def test_fragment_runs_under_every_shell(shell):
    nonce = new_nonce()
    script = build_script([time_collector.COLLECTOR], nonce, ScriptOptions(part_timeout_s=60))
    cmd = ["busybox", "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    out = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=60).stdout
    section = split_output(out.decode(), nonce).sections["time"]
    assert {"tdc_show", "chrony", "ntpq", "timesync_flag"} <= set(section)
    assert all(p.rc is not None for p in section.values())
    time_collector.parse(section)


@pytest.mark.parametrize("shell", [s for s in ("dash", "busybox") if shutil.which(s)])
@pytest.mark.parametrize("show_says,plain_runs", [
    ("System has not been booted with systemd as init system (PID 1). Can't operate.", False),
    ("Failed to connect to bus: No such file or directory", False),
    ("Unknown operation show.", True),       # systemd < 239: the plain text answers
])
def test_plain_timedatectl_only_when_it_can_answer(tmp_path, shell, show_says, plain_runs):
    """`timedatectl show` failing for want of systemd or a bus: plain timedatectl would
    fail the same way (same first line), so it is not run and the facts are the same."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "timedatectl"
    stub.write_text("#!/bin/sh\necho \"$*\" >> %s\n"
                    "case $1 in show) echo \"%s\"; exit 1 ;; esac\n"
                    "echo \"%s\"; exit 1\n" % (tmp_path / "calls", show_says, show_says))
    stub.chmod(0o755)
    nonce = new_nonce()
    script = build_script([time_collector.COLLECTOR], nonce, ScriptOptions(part_timeout_s=60))
    script = script.replace('PATH="$PATH:', f'PATH="{bindir}:$PATH:', 1)
    cmd = ["busybox", "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    out = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=60).stdout
    section = split_output(out.decode(), nonce).sections["time"]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == (2 if plain_runs else 1) and ("tdc" in section) is plain_runs
    assert section["tdc_show"].rc == 1 and section["tdc_show"].out.strip() == show_says
    facts = time_collector.parse(section)
    # what the parser made of it when both ran (the plain part says the same words)
    both = dict(section, tdc=Part(show_says + "\n", 1))
    assert facts == time_collector.parse(both)
    assert facts["timedatectl"]["error"] == show_says
