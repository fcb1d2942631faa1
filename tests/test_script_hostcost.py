"""The cheap helpers of the composite script (issue 11, host cost) say exactly what the
commands they replace said, in real shells (dash, bash --posix, busybox sh)."""
import subprocess

import pytest

from collectorkit import POSIX_SHELLS
from fleetaudit.collectors.base import RC_SKIPPED, Collector
from fleetaudit.collectors.docker import DOCKERD_PIDS_SH
from fleetaudit.script import ScriptOptions, build_script, split_output

# dockerd command lines (one argument per line) and what the sed pipeline they replace
# answers, computed by that pipeline below.
CMDLINES = [
    "dockerd\n--config-file=/a\n-H\nx",
    "dockerd\n--config-file\n/b/c d\n--config-file=/e",
    "dockerd\n--config-file",
    "dockerd\n--config-file\n\nx",
    "",
    "--config-file=",
    "x\n--config-file\n--config-file=/z\ny",
    "dockerd\n" + "--debug\n" * 700 + "--config-file=/long",   # over 4 KiB: sed path
]
SED = ("printf '%s\\n' \"$FA_A\" | sed -n -e 's/^--config-file=//p' "
       "-e '/^--config-file$/{n;p;}' | tail -n 1")


def _sh(shell, text):
    return subprocess.run(shell, input=text.encode(), capture_output=True, timeout=60).stdout.decode()


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_config_arg_answers_as_sed_does(shell):
    lines = []
    for i, cmdline in enumerate(CMDLINES):
        quoted = "'" + cmdline.replace("'", "'\\''") + "'"
        lines.append(f"FA_A={quoted}; fa_config_arg; printf 'mine{i}=[%s]\\n' \"$FA_X\"; "
                     f"printf 'sed{i}=[%s]\\n' \"$({SED})\"")
    out = _sh(shell, DOCKERD_PIDS_SH + "\n".join(lines) + "\n")
    for i in range(len(CMDLINES)):
        mine = [ln for ln in out.splitlines() if ln.startswith(f"mine{i}=")]
        ref = [ln for ln in out.splitlines() if ln.startswith(f"sed{i}=")]
        assert len(mine) == len(ref) == 1, out
        assert mine[0].split("=", 1)[1] == ref[0].split("=", 1)[1], (CMDLINES[i][:80], out)


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_brief_line_and_group_parts_match_the_forking_helpers(shell, tmp_path):
    one = tmp_path / "one"
    one.write_text("12.5 7.25\n")
    script = "\n".join([
        f"fa_line line {one}", f"fa_cat cat {one}",
        "fa_line uname_line /proc/sys/kernel/osrelease uname -r", "fa_run uname uname -r",
        "fa_line gone_line /nonexistent", "fa_cat gone_cat /nonexistent",
        "fa_brief brief_missing no-such-tool-x", "fa_run run_missing no-such-tool-x",
        "fa_brief brief_rc sh -c 'echo out; echo err >&2; exit 3'",
        "fa_run run_rc sh -c 'echo out; echo err >&2; exit 3'",
        "fa_group g1 'echo a; exit 4' g2 'command -v no-such-tool-x || echo gone' g3 'echo \"$1\"'",
        "fa_run r1 sh -c 'echo a; exit 4'",
    ])
    c = Collector(name="t", parse=lambda s: {}, script=script)
    parsed = split_output(_sh(shell, build_script([c], "n0nce", ScriptOptions())), "n0nce")
    s = parsed.sections["t"]
    assert parsed.complete
    for a, b in [("line", "cat"), ("uname_line", "uname"), ("gone_line", "gone_cat"),
                 ("brief_missing", "run_missing"), ("brief_rc", "run_rc"), ("g1", "r1")]:
        assert (s[a].out, s[a].rc) == (s[b].out, s[b].rc), (a, s[a], s[b])
    assert s["line"].out == "12.5 7.25\n" and s["gone_cat"].rc == 2
    assert (s["g2"].out, s["g2"].rc) == ("gone\n", 0)
    assert s["g3"].out == "\n"                     # no arguments leak into a group part


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_a_group_past_the_deadline_reports_each_part_skipped(shell):
    c = Collector(name="t", parse=lambda s: {},
                  script="fa_run first sleep 30\nfa_group a 'echo a' b 'echo b'")
    script = build_script([c], "n0nce", ScriptOptions(part_timeout_s=15, command_timeout_s=4))
    s = split_output(_sh(shell, script), "n0nce").sections["t"]
    assert s["a"].rc == s["b"].rc == RC_SKIPPED
    assert s["a"].skipped == "deadline reached (command timeout)"


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_a_group_prelude_sets_what_its_parts_see_and_is_no_part(shell):
    script = ("fa_group - 'x=from-prelude; set -- clobbered' a 'echo \"$x\"' b 'echo \"$x\"'\n"
              "fa_group - 'y=1' late 'echo \"$y\"'")
    c = Collector(name="t", parse=lambda s: {}, script=script)
    s = split_output(_sh(shell, build_script([c], "n0nce", ScriptOptions())), "n0nce").sections["t"]
    assert list(s) == ["a", "b", "late"]           # the prelude prints no part
    assert (s["a"].out, s["a"].rc) == (s["b"].out, s["b"].rc) == ("from-prelude\n", 0)
    skipped = Collector(name="t", parse=lambda s: {},
                        script="fa_run first sleep 30\nfa_group - 'y=1' a 'echo a'")
    out = _sh(shell, build_script([skipped], "n0nce",
                                  ScriptOptions(part_timeout_s=15, command_timeout_s=4)))
    s = split_output(out, "n0nce").sections["t"]
    assert "-" not in s and s["a"].rc == RC_SKIPPED


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_the_cap_filter_shortens_long_lines_of_flagged_sections_only(shell):
    line = "a" * 150 + " password=hunter2 " + "b" * 300 + " the error at the end"
    prog = f"fa_part p; printf '%s\\n' '{line}' short; fa_rc 0"
    flagged = Collector(name="flagged", parse=lambda s: {}, script=prog, shorten_long_lines=True)
    plain = Collector(name="plain", parse=lambda s: {}, script=prog)
    parsed = split_output(_sh(shell, build_script([flagged, plain], "n0nce", ScriptOptions())),
                          "n0nce")
    got = parsed.sections["flagged"]["p"].out.splitlines()
    # redacted whole first (the secret sits inside the cut), then head ... tail
    assert got[0].startswith("a" * 120 + " ... ") and got[0].endswith("the error at the end")
    assert len(got[0]) == 120 + 5 + 260 and got[1] == "short"
    assert "hunter2" not in "".join(parsed.sections["plain"]["p"].out)
    assert parsed.sections["plain"]["p"].out.splitlines()[0].endswith("the error at the end")
    assert len(parsed.sections["plain"]["p"].out.splitlines()[0]) > 400
