"""The composite script's time budget, run by real shells (dash, bash --posix, busybox sh).

Part timeouts fit inside the command timeout; parts that cannot run any more say so
(rc RC_SKIPPED, "fa-skipped: ..."); after one daemon call times out the others are skipped.
"""
import subprocess
import time

import pytest

from collectorkit import POSIX_SHELLS
from fleetaudit.collectors.base import RC_SKIPPED, Collector, skipped_parts
from fleetaudit.collectors.docker import DOCKER_CLI_SH
from fleetaudit.script import ScriptOptions, build_script, split_output


def _run(shell, collectors, opts):
    import shutil
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    script = build_script(collectors, "n0nce", opts)
    started = time.monotonic()
    out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=120)
    return split_output(out.stdout.decode(), "n0nce"), time.monotonic() - started


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_parts_never_run_past_the_deadline(shell):
    slow = Collector(name="slow", parse=lambda s: {},
                     script="fa_run first sleep 30\nfa_run second true\nfa_run third echo hi")
    # 5 s command timeout -> 3 s for the host (2 s margin); the part timeout alone is 15 s
    later = Collector(name="later", parse=lambda s: {}, script="fa_part files; sleep 5; fa_rc 0")
    parsed, took = _run(shell, [slow, later], ScriptOptions(part_timeout_s=15, command_timeout_s=5))
    assert took < 5
    assert parsed.complete
    section = parsed.sections["slow"]
    assert section["first"].rc in (124, 143)          # killed at the deadline, not at 15 s
    assert skipped_parts(section) == {"second": "deadline reached (command timeout)",
                                      "third": "deadline reached (command timeout)"}
    assert section["third"].rc == RC_SKIPPED
    # a section that starts after the deadline does not run at all, hand-written parts included
    assert skipped_parts(parsed.sections["later"]) == {"section": "deadline reached (command timeout)"}


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_after_one_daemon_call_times_out_the_others_are_skipped(shell):
    hung = Collector(name="hung", parse=lambda s: {}, shell_lib=(DOCKER_CLI_SH,),
                     script="fa_docker version sleep 30\n"
                            "FA_X=$(fa_docker info sleep 30)\nprintf '%s\\n' \"$FA_X\"\n"
                            "fa_run local echo still-running")
    parsed, took = _run(shell, [hung], ScriptOptions(part_timeout_s=1))
    assert took < 10, "one part timeout, not one per docker call"
    section = parsed.sections["hung"]
    assert section["version"].rc in (124, 143)
    assert section["info"].skipped == "docker CLI timed out earlier"
    assert section["local"].out.strip() == "still-running"


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_login_parts_come_first_and_join_their_section(shell):
    c = Collector(name="mixed", parse=lambda s: {}, script="fa_run root echo body",
                  login_script="fa_part login; echo session; fa_rc 0")
    parsed, _ = _run(shell, [c], ScriptOptions())
    assert list(parsed.sections["mixed"]) == ["login", "root"]
    assert parsed.sections["mixed"]["login"].out.strip() == "session"
    assert parsed.meta["sudo"].out == "0"          # no become: the body ran in the login shell


def test_no_command_timeout_means_no_deadline():
    script = build_script([], "n0nce", ScriptOptions())
    assert "FA_END=\n" in script and "fa_now; FA_END" not in script


def test_nonce_must_be_safe_to_use_unquoted():
    with pytest.raises(ValueError):
        build_script([], "x; rm -rf /", ScriptOptions())
