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


# A fake docker CLI: every call logs its arguments and prints what the real CLI 28 does
# on a host where nothing listens on the socket (or a variant the shortcut must not take).
_DOWN_LINE = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
_FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case $1 in version) printf '%s\\n' '{"Client":{"Version":"28.2.2","ApiVersion":"1.50","Os":"linux","Arch":"amd64","Context":"default"},"Server":null}' ;; esac
[ -z "$FAKE_EXTRA" ] || printf '%s\\n' "$FAKE_EXTRA" >&2
printf '%s\\n' "$FAKE_ERR" >&2
exit 1
"""


def _down_run(shell, tmp_path, extra, err, shortcut=True):
    from fleetaudit.collectors import by_name
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "docker").write_text(_FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    (bindir / "dockerd").write_text("#!/bin/sh\necho 'Docker version 20.10.24+dfsg1, build 5d6db84'\n")
    (bindir / "dockerd").chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    cols = [by_name("docker"), by_name("disk"), by_name("restarts")]
    script = build_script(cols, "n0nce", ScriptOptions())
    if not shortcut:  # the same script without the shortcut: every call runs the CLI
        assert script.count("\nfa_docker_down\n") == 1
        script = script.replace("\nfa_docker_down\n", "\nFA_DOCKER_DOWN=\n")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "FAKE_LOG": str(log), "FAKE_EXTRA": extra, "FAKE_ERR": err}
    out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=120, env=env).stdout.decode()
    parsed = split_output(out, "n0nce")
    facts = {c.name: c.parse(parsed.sections.get(c.name, {})) for c in cols}
    for f in facts.values():  # the host's own df figures move between two runs
        f.pop("root", None)
        f.pop("data_root", None)
    # whether a dockerd runs in this mount namespace: other tests' fleets come and go
    facts["docker"]["dockerd"].pop("running")
    return facts, log.read_text().splitlines(), parsed


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_no_daemon_known_from_docker_version_gives_the_same_facts_with_one_cli_call(shell, tmp_path):
    facts, calls, parsed = _down_run(shell, tmp_path, "", _DOWN_LINE)
    ref, ref_calls, _ = _down_run(shell, tmp_path, "", _DOWN_LINE, shortcut=False)
    assert [c.split()[0] for c in calls] == ["version"]
    assert [c.split()[0] for c in ref_calls] == ["version", "info", "info", "system", "ps"]
    assert facts == ref
    assert facts["docker"]["error_kind"] == "daemon-down" and facts["restarts"]["daemon_up"] is False
    assert facts["disk"]["docker_df_error"] == _DOWN_LINE
    for sec, name in (("docker", "info"), ("disk", "docker_root"), ("disk", "docker_df"),
                      ("restarts", "containers")):
        p = parsed.sections[sec][name]
        assert p.rc == 1 and p.out.splitlines()[1:] == [_DOWN_LINE], (sec, name, p)


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("extra,err", [
    ("WARNING: Error loading config file: /root/.docker/config.json: invalid character", _DOWN_LINE),
    ("", "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"),
    ("", _DOWN_LINE + " x"),
], ids=["warning", "permission", "other-text"])
def test_anything_but_the_bare_no_daemon_answer_runs_every_cli_call(shell, tmp_path, extra, err):
    facts, calls, _ = _down_run(shell, tmp_path, extra, err)
    assert [c.split()[0] for c in calls] == ["version", "info", "info", "system", "ps"]


AWKS = [["gawk"], ["mawk"], ["busybox", "awk"]]


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_the_cap_filter_ends_the_output_at_the_total_cap_as_head_did(awk, tmp_path):
    import random
    import shlex
    import shutil
    from fleetaudit.redaction import PART_CAP_AWK
    if not shutil.which(awk[0]):
        pytest.skip(f"{awk[0]} not installed")
    rnd = random.Random(11)
    lines = []
    for i in range(60):
        if i % 7 == 0:
            lines.append(f"@@n0:{'S' if i % 14 == 0 else 'P'}:part{i}")
        lines.append("".join(rnd.choice("ab c\t@:") for _ in range(rnd.choice([0, 1, 5, 40, 300]))))
    text = "\n".join(lines) + "\n"
    src = tmp_path / "in"
    src.write_text(text)
    env = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    args = [*awk, "-v", "n=n0", "-v", "cap=500", "-v", "short= part0 "]
    whole = subprocess.run(args + [PART_CAP_AWK], stdin=src.open("rb"), capture_output=True, env=env).stdout
    assert len(whole) > 2000
    for tot in (0, 1, 9, 10, 11, 777, len(whole) - 1, len(whole), len(whole) + 1, 10 ** 7):
        headed = subprocess.run(f"{shlex.join(args)} \"$P\" | head -c {tot}", shell=True, stdin=src.open("rb"),
                                capture_output=True, env={**env, "P": PART_CAP_AWK}).stdout
        mine = subprocess.run(args + ["-v", f"tot={tot}", PART_CAP_AWK], stdin=src.open("rb"),
                              capture_output=True, env=env).stdout
        assert mine == headed, (tot, mine[-80:], headed[-80:])


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
@pytest.mark.parametrize("names", [[], ["a"], ["b", "a"], ["a", "a"], ["z", "a", "m", "a"]],
                         ids=["none", "one", "two", "dup", "four"])
def test_credential_helpers_list_is_what_sort_u_printed(shell, names, tmp_path):
    import shutil
    from fleetaudit.collectors.credentials import LOGIN_SCRIPT
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    dirs = []
    for i, n in enumerate(names):  # a helper per directory, so one name can come twice
        d = tmp_path / f"d{i}"
        d.mkdir()
        (d / f"docker-credential-{n}").write_text("#!/bin/sh\n")
        (d / f"docker-credential-{n}").chmod(0o755)
        dirs.append(str(d))
    tools = tmp_path / "tools"  # sort only: the machine's own docker-credential-* stay out
    tools.mkdir()
    (tools / "sort").symlink_to(shutil.which("sort"))
    path = ":".join(dirs + [str(tools)])
    old = ("( IFS=:; for fa_cr_d in $PATH; do for fa_cr_f in \"$fa_cr_d\"/docker-credential-*; do\n"
           "  [ -x \"$fa_cr_f\" ] && printf '%s\\n' \"${fa_cr_f##*/}\"; done; done ) | sort -u\n")
    prog = ("FA_NL='\n'\nfa_part() { echo \"<$1>\"; }\nfa_rc() { echo \"<rc $1>\"; }\n"
            + LOGIN_SCRIPT + "echo ---\n" + old)
    out = subprocess.run([shutil.which(shell[0]), *shell[1:]], input=prog.encode(), capture_output=True,
                         timeout=60, env={"PATH": path, "LC_ALL": "C"}).stdout.decode()
    mine, ref = out.split("---\n")
    assert mine == "<helpers>\n" + ref + "<rc 0>\n", out
    assert ref.splitlines() == sorted(set(f"docker-credential-{n}" for n in names))


@pytest.mark.parametrize("awk", AWKS, ids=lambda a: a[0])
def test_passwd_awk_stops_where_head_n_5000_did(awk, tmp_path):
    import shutil
    if not shutil.which(awk[0]):
        pytest.skip(f"{awk[0]} not installed")
    pw = tmp_path / "passwd"
    pw.write_text("".join(f"u{i}:x:{i}:{i}::/home/u{i}:/bin/sh\n" if i % 3 else f"bad{i}\n"
                          for i in range(7600)))
    mine = subprocess.run([*awk, "-F:", 'NF >= 6 { print $1 ":" $6; if (++k >= 5000) exit }', str(pw)],
                          capture_output=True).stdout
    ref = subprocess.run(f"{awk[0]} {' '.join(awk[1:])} -F: 'NF >= 6 {{ print $1 \":\" $6 }}' {pw} | head -n 5000",
                         shell=True, capture_output=True).stdout
    assert mine == ref and mine.count(b"\n") == 5000


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_instant_part_is_what_brief_printed(shell):
    script = build_script([Collector(name="x", script="fa_instant a uname -m\nfa_brief b uname -m\n"
                                     "fa_instant c no-such-tool-x\nfa_brief d no-such-tool-x\n",
                                     parse=lambda s: {}, doc="")], "n0nce", ScriptOptions())
    sec = split_output(_sh(shell, script), "n0nce").sections["x"]
    assert sec["a"] == sec["b"] and sec["a"].rc == 0 and sec["a"].out.strip()
    assert sec["c"].rc == sec["d"].rc == 127 and sec["c"].out == sec["d"].out
