"""The composite script: every collector's fragment in ONE remote sh invocation.

Output framing (every marker is printed as "\n@@NONCE:KIND:VALUE\n"):

    @@N:T:<epoch.ns>        first line, host clock when the script started
    @@N:S:<collector>       a collector's section begins (login parts, then root parts:
                            two pieces of one section, merged by split_output)
    @@N:P:<part>            a part begins
    @@N:RC:<status>         the part ended with this exit status
    @@N:E:                  end of the script (absent when the output was cut)

The nonce is fresh per run so file contents that happen to look like markers (a
daemon.json, a log line) cannot end a section early.

Who runs what: the login shell runs the collectors' `login_script` parts (the session's
own environment and PATH), then the body (every `script` fragment): itself, or, when the
inventory asks for become and the login user is not root, through ONE `sudo -n sh -s`
(as Ansible's become does per task; every sudo may cost a ~10 s hostname lookup on a
host with a dead resolver). Meta part `sudo`: 0 not needed, 1 the body ran as root, 2
sudo refused (the body then runs as the login user; meta part `become` has sudo's words).

Time: with ScriptOptions.command_timeout_s the script fixes a deadline when it starts
and cuts every part's timeout to fit; a part that cannot run any more, or a docker call
after one timed out, prints "fa-skipped: REASON" and status RC_SKIPPED.

Secrets are removed ON THE HOST (fleetaudit.redaction): the whole body runs through
one sed filter, and only then is each part cut at its size cap (an awk that counts
bytes between markers): a cap must never cut a secret in half where the filter can no
longer recognise it. fa_exec itself only guards at twice the cap, so one endless line
cannot fill the host's memory. Hand-written fragments guard the same way; one that
must shorten text itself (daemon_log's long lines) runs the filter ($FA_RX, or
`fa_redact`) first. The body reads stdin from /dev/null because the script itself arrives
on sh's stdin.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, fields
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from . import redaction
from .collectors.base import RC_SKIPPED, SKIP_PREFIX, Collector, Part, Section

MARK = "@@"

# sed -E programs applied to everything the host prints (fleetaudit.redaction), before
# any cap cuts a line: over the whole output, then each part is cut at its cap.
REDACT_SED = redaction.REDACT_SED


@dataclass
class ScriptOptions:
    become: bool = False          # run the root part under ONE `sudo -n sh -s` when not root
    part_timeout_s: int = 15      # per command, via timeout(1) when the host has it
    part_cap_bytes: int = 256 * 1024
    total_cap_bytes: int = 4 * 1024 * 1024
    log_window_hours: int = 24
    # The controller's --command-timeout: the script keeps every part's timeout inside it
    # (minus a margin for the round trip) and reports parts past it as skipped. None: no
    # deadline on the host.
    command_timeout_s: Optional[float] = None


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


PREAMBLE = r"""
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LC_ALL=C; LANG=C; export PATH LC_ALL LANG
# Go programs (the docker CLI, dockerd --version) start ~20% cheaper with one P and no
# GC during their short life; the limit keeps GC for a run that allocates a lot.
GOMAXPROCS=1; GOGC=off; GOMEMLIMIT=256MiB; export GOMAXPROCS GOGC GOMEMLIMIT
FA_SKIP=-2
fa_has() { command -v "$1" >/dev/null 2>&1; }
# Looked up once: every part would otherwise search PATH for it again.
FA_TO=; fa_has timeout && FA_TO=1
fa_mark() { printf '\n@@%s:%s:%s\n' "$FA_N" "$1" "$2"; }
fa_part() { fa_mark P "$1"; }
fa_rc() { fa_mark RC "$1"; }
fa_section() { fa_mark S "$1"; }
# Whole seconds on a monotonic clock without a fork (/proc/uptime); date(1) otherwise.
fa_now() {
  FA_NOW=; { read -r FA_NOW FA_UPX </proc/uptime; } 2>/dev/null; FA_NOW=${FA_NOW%%.*}
  case $FA_NOW in ''|*[!0-9]*) FA_NOW=$(date +%s 2>/dev/null) ;; esac
  case $FA_NOW in ''|*[!0-9]*) FA_NOW=0 ;; esac
}
# FA_LEFT: the part timeout, shortened so that no part runs past the deadline FA_END.
fa_left() {
  FA_LEFT=$FA_T; [ -n "$FA_END" ] || return 0
  fa_now; FA_LEFT=$((FA_END - FA_NOW)); [ "$FA_LEFT" -le "$FA_T" ] || FA_LEFT=$FA_T
}
fa_skipped() { printf 'fa-skipped: %s\n' "$1"; FA_RC=$FA_SKIP; }
FA_LATE="deadline reached (command timeout)"
# A section that starts after the deadline is skipped whole (its hand-written parts too).
fa_in_time() { fa_left; [ "$FA_LEFT" -ge 1 ] && return 0; fa_part section; fa_skipped "$FA_LATE"; fa_rc "$FA_RC"; return 1; }
# fa_exec CMD...: run with stdin closed, stderr merged, output capped; prints the
# output and leaves the command's status in FA_RC. The status travels back on fd 3
# because a pipeline's status is the last command's (head), not ours. The command
# itself gets fds 3/4 closed: busybox timeout's watcher would otherwise hold them open
# and every part would wait for its one-second poll.
fa_exec() {
  if ! fa_has "$1"; then printf '%s: not found\n' "$1"; FA_RC=127; return; fi
  fa_left; if [ "$FA_LEFT" -lt 1 ]; then fa_skipped "$FA_LATE"; return; fi
  if [ -n "$FA_TO" ]; then set -- timeout "$FA_LEFT" "$@"; fi
  { FA_RC=$( { { "$@" </dev/null 2>&1 3>&- 4>&-; printf '%s' "$?" >&3; } | head -c "$((FA_CAP * 2))" >&4; } 3>&1 ); } 4>&1
}
fa_run() { fa_part "$1"; shift; fa_exec "$@"; fa_rc "$FA_RC"; }
# fa_brief NAME CMD...: fa_run for a command whose output is a few lines by construction
# (uname, df of one path, systemctl show -p ...): the same timeout and deadline, but no
# size guard, so no subshell and no pipe (three forks and an exec less per part).
fa_brief() {
  fa_part "$1"; shift
  if ! fa_has "$1"; then printf '%s: not found\n' "$1"; FA_RC=127
  else
    fa_left
    if [ "$FA_LEFT" -lt 1 ]; then fa_skipped "$FA_LATE"
    elif [ -n "$FA_TO" ]; then timeout "$FA_LEFT" "$@" </dev/null 2>&1; FA_RC=$?
    else "$@" </dev/null 2>&1; FA_RC=$?; fi
  fi
  fa_rc "$FA_RC"
}
# fa_instant NAME CMD...: fa_brief for a command that only asks the kernel something
# that cannot block (uname(2)): no timeout process (the deadline still applies).
fa_instant() { FA_TO_KEPT=$FA_TO; FA_TO=; fa_brief "$@"; FA_TO=$FA_TO_KEPT; }
# fa_group NAME PROG [NAME PROG]...: small sh programs (what `fa_run NAME sh -c PROG`
# would run) in ONE guarded, timed `sh -c` that prints each part's markers itself: a
# subshell per part instead of fa_exec's forks and an exec of sh. The timeout and the
# size guard cover the group: a group killed at its timeout leaves its current part
# without a status (cut) and the rest unreported. A first pair "- PROG" is no part: PROG
# runs in the group's shell (in a function: its `set --` leaves the pairs alone) before
# the parts, and the variables it sets they all see.
FA_GROUP_SH='n=$1; shift; if [ "$1" = - ]; then pre() { eval "$1"; }; pre "$2"; shift 2; fi; while [ "$#" -ge 2 ]; do printf "\n@@%s:P:%s\n" "$n" "$1"; ( p=$2; set --; eval "$p" ) </dev/null 2>&1; printf "\n@@%s:RC:%s\n" "$n" "$?"; shift 2; done'
fa_group() {
  fa_left
  if [ "$FA_LEFT" -lt 1 ]; then
    [ "$1" != - ] || shift 2
    while [ "$#" -ge 2 ]; do fa_part "$1"; fa_skipped "$FA_LATE"; fa_rc "$FA_RC"; shift 2; done
  else fa_exec sh -c "$FA_GROUP_SH" sh "$FA_N" "$@"; fi
}
# fa_line NAME FILE [CMD...]: a one-line kernel file (/proc/uptime, or
# /proc/sys/kernel/hostname for `uname -n`) read by the shell itself, without a fork;
# when it cannot be read, the part comes from CMD (fa_brief) or from fa_cat.
fa_line() {
  FA_X=; if { read -r FA_X < "$2"; } 2>/dev/null && [ -n "$FA_X" ]; then
    fa_part "$1"; printf '%s\n' "$FA_X"; fa_rc 0
  elif [ "$#" -gt 2 ]; then FA_X=$1; shift 2; fa_brief "$FA_X" "$@"
  else fa_cat "$1" "$2"; fi
}
# Root-only read. The whole body already runs as root when it can (one sudo for all of
# it, see build_script), so this is fa_run under a name that says what the part needs.
fa_root() { fa_run "$@"; }
fa_cat() {
  fa_part "$1"
  if [ -e "$2" ]; then fa_exec cat "$2"; else FA_RC=2; fi
  fa_rc "$FA_RC"
}
"""

assert f"FA_SKIP={RC_SKIPPED}\n" in PREAMBLE and f"'{SKIP_PREFIX}%s" in PREAMBLE

# The login shell's part: its own parts (collectors' login_script: the session's
# environment and PATH), then the body, as root through ONE `sudo -n sh -s` when the
# inventory asked for become. Every sudo may cost a hostname lookup (~10 s with a dead
# resolver), so there is exactly one. sudo exits 1 (refused: a password is needed, no
# tty...) or 126/127 (no sh, no sudo) without running the body, which always exits 0;
# the body then runs as the login user and meta part `sudo` says 2.
TOP = r"""
fa_top() {
  fa_section _meta
  fa_part uid; printf '%s' "$FA_UID"; fa_rc 0
  FA_SUDO=0
  fa_login
  if [ "$FA_UID" != 0 ] && [ "$FA_BECOME" = 1 ]; then
    fa_section _meta
    fa_part become
    if fa_has sudo; then
      printf '%s\n' "$FA_SET" "FA_UID=$FA_UID FA_END=$FA_END FA_SUDO=1" "$FA_LIB" "fa_rc 0" "$FA_BODY" "exit 0" | sudo -n sh -s
      FA_X=$?
    else echo "sudo: not found"; FA_X=127; fi
    case $FA_X in 1|126|127) fa_rc "$FA_X"; FA_SUDO=2 ;; *) return ;; esac
  fi
  eval "$FA_BODY"
}
"""


def _deadline_budget(command_timeout_s: Optional[float]) -> Optional[int]:
    """Seconds the host may spend: the command timeout minus a margin for the round trip
    and the login (10%, at least 2 s), never below 1."""
    if not command_timeout_s:
        return None
    margin = max(2.0, command_timeout_s / 10)
    return max(1, int(command_timeout_s - margin))


def build_script(collectors: Iterable[Collector], nonce: str, opts: ScriptOptions) -> str:
    """The composite script (assemble_script) for this nonce, from a template kept per
    collectors and options: every host of a run gets the same script but for its nonce,
    and assembling it costs ~0.17 ms (25 KB of quoting and joining) per host."""
    if not re.fullmatch(r"[0-9A-Za-z]+", nonce):
        raise ValueError("nonce must be alphanumeric (it is used unquoted in the script)")
    collectors = tuple(collectors)
    # command_timeout_s varies per host (the run's remaining budget) but reaches the
    # script only as whole seconds (_deadline_budget): key on those, or nearly every host
    # of a run whose budget runs down would assemble its own template
    key = (collectors, tuple(_deadline_budget(opts.command_timeout_s) if f.name == "command_timeout_s"
                             else getattr(opts, f.name) for f in fields(opts)))
    try:
        pieces = _TEMPLATES.get(key)
    except TypeError:  # an unhashable collector or option: no template, assemble it
        return assemble_script(collectors, nonce, opts)
    if pieces is None:
        if len(_TEMPLATES) >= 16:  # a long-lived caller with ever new options
            _TEMPLATES.clear()
        pieces = tuple(assemble_script(collectors, _NONCE_SLOT, opts).split(_NONCE_SLOT))
        if len(pieces) < 2:
            raise AssertionError("the script lost its nonce")
        _TEMPLATES[key] = pieces
    return nonce.join(pieces)


# Stands for the nonce in a template: alphanumeric like a nonce, and in no fragment.
_NONCE_SLOT = "FaNonceSlot7e3c1d"
_TEMPLATES: Dict[tuple, Tuple[str, ...]] = {}


def assemble_script(collectors: Iterable[Collector], nonce: str, opts: ScriptOptions) -> str:
    """Assemble the composite POSIX sh script sent on the host's stdin.

    Three quoted strings travel in it: FA_SET (settings), FA_LIB (helper functions) and
    FA_BODY (every collector's fragment). The login shell evals FA_SET and FA_LIB, runs
    the login-user parts, then runs FA_BODY itself or pipes all three into one
    `sudo -n sh -s`.
    """
    if not re.fullmatch(r"[0-9A-Za-z]+", nonce):
        raise ValueError("nonce must be alphanumeric (it is used unquoted in the script)")
    collectors = list(collectors)
    libs: List[str] = []
    for c in collectors:
        for lib in c.shell_lib:
            if lib not in libs:
                libs.append(lib)
    settings = "\n".join([
        f"FA_N={nonce}",
        f"FA_T={int(opts.part_timeout_s)}",
        f"FA_CAP={int(opts.part_cap_bytes)}",
        f"FA_BECOME={1 if opts.become else 0}",
        f"FA_LOG_HOURS={int(opts.log_window_hours)}",
        # Values one collector leaves for a later one (never inherited from the login env).
        "FA_DOCKER_ROOT=",
        "FA_DOCKER_HUNG=",
        "FA_DOCKER_DOWN=",
        "FA_DOCKER_NOCT=",
        "FA_API_INFO=",
        "FA_API_INFO_RC=",
        "FA_DOCKER_DF=",
        "FA_DOCKER_DF_RC=",
        "FA_DPIDS=",
        "FA_DCFG=",
        "FA_DCFG_DONE=",
        "FA_DPIDS_DONE=",
        "FA_UNITS=",
        "FA_UNITS_DONE=",
    ])
    # Both shells (login and sudo) eval FA_LIB: the redaction program travels in it.
    lib = "\n".join([redaction.SHELL_LIB.strip("\n"), PREAMBLE.strip("\n"),
                     *(x.strip("\n") for x in libs)])
    body: List[str] = ["fa_main() {", "fa_section _meta",
                       'fa_part sudo; printf "%s" "$FA_SUDO"; fa_rc 0']
    for c in collectors:
        body.append(f"fa_section {c.name}")
        body.append("if fa_in_time; then :")
        body.append(c.script.strip("\n"))
        body.append("fi")
    body += ["fa_mark E ''", "}", "fa_main </dev/null"]
    login: List[str] = ["fa_login() {", ":"]
    for c in collectors:
        if c.login_script.strip():
            login.append(f"fa_section {c.name}")
            login.append(c.login_script.strip("\n"))
    login.append("}")
    budget = _deadline_budget(opts.command_timeout_s)
    # Sections whose long lines the part-cap filter shortens (names are [a-z_]).
    short = " " + " ".join(c.name for c in collectors if c.shorten_long_lines) + " "
    return "\n".join([
        f"FA_SET={_sh_quote(settings)}",
        f"FA_LIB={_sh_quote(lib)}",
        f"FA_BODY={_sh_quote(chr(10).join(body))}",
        'eval "$FA_SET"; eval "$FA_LIB"',
        # The time mark goes first and unfiltered so it leaves the host immediately.
        # busybox date prints "%N" literally: whole seconds then.
        "FA_X=$(date +%s.%N 2>/dev/null); case $FA_X in *[!0-9.]*|'') FA_X=$(date +%s) ;; esac",
        "printf '@@%s:T:%s\\n' \"$FA_N\" \"$FA_X\"",
        # The deadline is fixed when the script starts: sudo's own delays count against it.
        (f"fa_now; FA_END=$((FA_NOW + {budget}))" if budget else "FA_END="),
        # `id -u` (the effective uid) read from /proc/self/status by the shell itself
        # (a fork and an exec less); id itself when that file cannot be read.
        'FA_UID=; if command -v id >/dev/null 2>&1; then '
        'while read -r FA_A FA_X FA_UID FA_Y; do [ "$FA_A" = Uid: ] && break; FA_UID=; '
        'done 2>/dev/null </proc/self/status; fi',
        "case $FA_UID in ''|*[!0-9]*) FA_UID=$(id -u 2>/dev/null) ;; esac",
        "case $FA_UID in ''|*[!0-9]*) FA_UID=unknown ;; esac",
        "\n".join(login),
        TOP.strip("\n"),
        # Redact, THEN cut each part at its cap (fa_exec only guards at twice the cap),
        # and the whole output at the total cap (the awk's tot: was `| head -c TOTAL`).
        'fa_top </dev/null 2>&1 | sed -E "$FA_RX" | awk -v n="$FA_N" -v cap="$FA_CAP" '
        f'-v short={_sh_quote(short)} -v tot={int(opts.total_cap_bytes)} "$FA_CAPAWK"',
        "",
    ])


def new_nonce() -> str:
    return secrets.token_hex(8)


@dataclass
class ParsedOutput:
    host_epoch: Optional[float] = None
    sections: Dict[str, Section] = field(default_factory=dict)
    complete: bool = False          # the end marker arrived
    meta: Section = field(default_factory=dict)


class Marker:
    """One marker found by line_markers: the span and groups of the whole match, as a
    re.Match of `(?:^|\\n)` + literal + tail would give them."""
    __slots__ = ("_start", "_m")

    def __init__(self, start: int, m: "re.Match[str]"):
        self._start, self._m = start, m

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._m.end()

    def span(self) -> Tuple[int, int]:
        return self._start, self._m.end()

    def group(self, i: int) -> str:
        return self._m.group(i)

    def groups(self) -> tuple:
        return self._m.groups()


def line_markers(text: str, literal: str, tail: "re.Pattern[str]") -> Iterator[Marker]:
    """The matches of `(?:^|\\n)` + re.escape(literal) + tail in `text`, as re.finditer
    gives them, found faster: the literal (`@@nonce:`, new for every host) is searched
    for with str.find and only `tail`, a pattern compiled once per process, is run at
    each hit. Compiling a pattern holding the nonce cost ~0.15 ms each, four per host."""
    pos = 0
    if text.startswith(literal):  # the `^` alternative: only at position 0
        m = tail.match(text, len(literal))
        if m is not None:
            yield Marker(0, m)
            pos = m.end()
    needle = "\n" + literal
    while True:
        at = text.find(needle, pos)
        if at < 0:
            return
        m = tail.match(text, at + len(needle))
        if m is None:  # finditer would try the next position
            pos = at + 1
            continue
        yield Marker(at, m)
        # an empty match cannot happen (the needle is not empty), so no re-try at m.end()
        pos = m.end()


_MARKER_TAIL = re.compile(r"([A-Z]+):([^\n]*)(?:\n|$)")


# Any nonce's marker, for split_output's fast path: one C-level re.split per host output
# instead of a Python-level search per marker (~140 markers per host). It starts with a
# literal "\n" (the text gets one prepended for the `^` case) so the regex engine
# scans for its prefix instead of trying `(?:^|\n)` at every character (2x faster).
_ANY_MARKER = re.compile(r"\n@@([0-9a-f]+):([A-Z]+):([^\n]*)(?:\n|$)")
_HEX = re.compile(r"[0-9a-f]+")
FAST_SPLIT_MAX = 1 << 20


def split_output(text: str, nonce: str) -> ParsedOutput:
    """Split the composite script's output into sections and parts.

    Tolerates anything a broken or hostile host may send: junk before the first marker,
    parts without a status (cut off), unknown marker kinds. Never raises.

    The markers are exactly those line_markers(text, "@@nonce:", _MARKER_TAIL) yields.
    Fast path: one re.split by _ANY_MARKER. When every marker it finds carries this
    nonce, they are the same matches at the same spans (the exact pattern is the same
    one with the nonce written in); a marker with another nonce (lookalike junk) could
    hide or shift a real one, so then the exact search decides. 0.59 -> 0.26 ms per
    7.5 KB lab output. Outputs over FAST_SPLIT_MAX take the exact search too: the fast
    path holds two more copies of the text at once (a flood up to the 8 MiB cap must
    stay within its memory bound).
    """
    if len(text) <= FAST_SPLIT_MAX and _HEX.fullmatch(nonce):
        pieces = _ANY_MARKER.split("\n" + text)
        nonces = pieces[1::4]
        if nonces.count(nonce) == len(nonces):  # every marker is this host's
            pieces[0] = pieces[0][1:]  # the text before the first marker, as given
            return _assemble(pieces[0::4], pieces[2::4], pieces[3::4])
    chunks, kinds, values = [], [], []
    pos = 0
    for m in line_markers(text, f"@@{nonce}:", _MARKER_TAIL):
        chunks.append(text[pos:m.start()])
        kinds.append(m.group(1))
        values.append(m.group(2))
        pos = m.end()
    chunks.append(text[pos:])
    return _assemble(chunks, kinds, values)


def _assemble(chunks: List[str], kinds: List[str], values: List[str]) -> ParsedOutput:
    """ParsedOutput from the markers in order: kinds[i], values[i] is the marker that
    ends chunks[i]; chunks[-1] is the text after the last marker."""
    result = ParsedOutput()
    section: Optional[Section] = None
    part_name: Optional[str] = None
    for chunk, kind, value in zip(chunks, kinds, values):
        if part_name is not None and section is not None:
            if kind == "RC":
                section[part_name] = Part(chunk, _int_or_none(value))
                part_name = None
                continue
            # A new marker before RC: the part was cut short.
            section[part_name] = Part(chunk, None, truncated=True)
            part_name = None
        if kind == "S":
            # A section may come in pieces (the login user's parts, then root's): merge.
            if value == "_meta":
                section = result.meta
            else:
                section = result.sections.setdefault(value, {})
        elif kind == "P":
            if section is not None:
                part_name = value
        elif kind == "T":
            try:
                result.host_epoch = float(value)
            except ValueError:
                pass
        elif kind == "E":
            result.complete = True
    if part_name is not None and section is not None:
        section[part_name] = Part(chunks[-1], None, truncated=True)
    return result


def _int_or_none(value: str) -> Optional[int]:
    try:
        return int(value.strip())
    except ValueError:
        return None
