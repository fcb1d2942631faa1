"""The composite script: every collector's fragment in ONE remote sh invocation.

Output framing (every marker is printed as "\n@@NONCE:KIND:VALUE\n"):

    @@N:T:<epoch.ns>        first line, host clock when the script started
    @@N:S:<collector>       a collector's section begins
    @@N:P:<part>            a part begins
    @@N:RC:<status>         the part ended with this exit status
    @@N:E:                  end of the script (absent when the output was cut)

The nonce is fresh per run so file contents that happen to look like markers (a
daemon.json, a log line) cannot end a section early.

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
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from . import redaction
from .collectors.base import Collector, Part, Section

MARK = "@@"

# sed -E programs applied to everything the host prints (fleetaudit.redaction), before
# any cap cuts a line: over the whole output, then each part is cut at its cap.
REDACT_SED = redaction.REDACT_SED


@dataclass
class ScriptOptions:
    become: bool = False          # use sudo -n for root-only reads when not root
    part_timeout_s: int = 15      # per command, via timeout(1) when the host has it
    part_cap_bytes: int = 256 * 1024
    total_cap_bytes: int = 4 * 1024 * 1024
    log_window_hours: int = 24


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


PREAMBLE = r"""
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LC_ALL=C; LANG=C; export PATH LC_ALL LANG
fa_has() { command -v "$1" >/dev/null 2>&1; }
fa_mark() { printf '\n@@%s:%s:%s\n' "$FA_N" "$1" "$2"; }
fa_part() { fa_mark P "$1"; }
fa_rc() { fa_mark RC "$1"; }
fa_section() { fa_mark S "$1"; }
# fa_exec CMD...: run with stdin closed, stderr merged, output capped; prints the
# output and leaves the command's status in FA_RC. The status travels back on fd 3
# because a pipeline's status is the last command's (head), not ours. The command
# itself gets fds 3/4 closed: busybox timeout's watcher would otherwise hold them open
# and every part would wait for its one-second poll.
fa_exec() {
  if ! fa_has "$1"; then printf '%s: not found\n' "$1"; FA_RC=127; return; fi
  if fa_has timeout; then set -- timeout "$FA_T" "$@"; fi
  { FA_RC=$( { { "$@" </dev/null 2>&1 3>&- 4>&-; printf '%s' "$?" >&3; } | head -c "$((FA_CAP * 2))" >&4; } 3>&1 ); } 4>&1
}
fa_run() { fa_part "$1"; shift; fa_exec "$@"; fa_rc "$FA_RC"; }
fa_root() {
  fa_part "$1"; shift
  if [ "$FA_UID" != 0 ] && [ "$FA_SUDO" = 1 ]; then
    if ! fa_has "$1"; then printf '%s: not found\n' "$1"; FA_RC=127; else fa_exec sudo -n "$@"; fi
  else fa_exec "$@"; fi
  fa_rc "$FA_RC"
}
fa_cat() {
  fa_part "$1"
  if [ -e "$2" ]; then fa_exec cat "$2"; else FA_RC=2; fi
  fa_rc "$FA_RC"
}
"""


def build_script(collectors: Iterable[Collector], nonce: str, opts: ScriptOptions) -> str:
    """Assemble the composite POSIX sh script sent on the host's stdin."""
    collectors = list(collectors)
    libs: List[str] = []
    for c in collectors:
        for lib in c.shell_lib:
            if lib not in libs:
                libs.append(lib)
    body: List[str] = []
    for c in collectors:
        body.append(f"fa_section {c.name}")
        body.append(c.script.strip("\n"))
    become_check = (
        # One probe decides whether root-only reads go through sudo; a password prompt
        # must never hang the run, hence -n.
        'FA_SUDO=0\n'
        'if [ "$FA_UID" != 0 ] && [ "$FA_BECOME" = 1 ]; then\n'
        '  if sudo -n true </dev/null >/dev/null 2>&1; then FA_SUDO=1; else FA_SUDO=2; fi\n'
        'fi\n'
    )
    return "\n".join([
        f"FA_N={nonce}",
        f"FA_T={int(opts.part_timeout_s)}",
        f"FA_CAP={int(opts.part_cap_bytes)}",
        f"FA_BECOME={1 if opts.become else 0}",
        f"FA_LOG_HOURS={int(opts.log_window_hours)}",
        'FA_UID=$(id -u 2>/dev/null)',
        # Values one collector leaves for a later one (never inherited from the login env).
        'FA_DOCKER_ROOT=',
        redaction.SHELL_LIB.strip("\n"),
        PREAMBLE.strip("\n"),
        *(lib.strip("\n") for lib in libs),
        # The time mark goes first and unfiltered so it leaves the host immediately.
        "printf '@@%s:T:%s\\n' \"$FA_N\" \"$(date +%s.%N 2>/dev/null || date +%s)\"",
        become_check.strip("\n"),
        "fa_main() {",
        'fa_section _meta',
        'fa_part uid; printf "%s" "$FA_UID"; fa_rc 0',
        'fa_part sudo; printf "%s" "$FA_SUDO"; fa_rc 0',
        "\n".join(body),
        "fa_mark E ''",
        "}",
        # Redact, THEN cut each part at its cap (fa_exec only guards at twice the cap).
        'fa_main </dev/null 2>&1 | sed -E "$FA_RX" | awk -v n="$FA_N" -v cap="$FA_CAP" "$FA_CAPAWK"'
        f" | head -c {int(opts.total_cap_bytes)}",
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


def split_output(text: str, nonce: str) -> ParsedOutput:
    """Split the composite script's output into sections and parts.

    Tolerates anything a broken or hostile host may send: junk before the first marker,
    parts without a status (cut off), unknown marker kinds. Never raises.
    """
    result = ParsedOutput()
    marker = re.compile(r"(?:^|\n)@@" + re.escape(nonce) + r":([A-Z]+):([^\n]*)(?:\n|$)")
    section: Optional[Section] = None
    part_name: Optional[str] = None
    pos = 0
    for m in marker.finditer(text):
        chunk = text[pos:m.start()]
        pos = m.end()
        kind, value = m.group(1), m.group(2)
        if part_name is not None and section is not None:
            if kind == "RC":
                section[part_name] = Part(chunk, _int_or_none(value))
                part_name = None
                continue
            # A new marker before RC: the part was cut short.
            section[part_name] = Part(chunk, None, truncated=True)
            part_name = None
        if kind == "T":
            try:
                result.host_epoch = float(value)
            except ValueError:
                pass
        elif kind == "S":
            section = {}
            if value == "_meta":
                result.meta = section
            else:
                result.sections[value] = section
        elif kind == "P" and section is not None:
            part_name = value
        elif kind == "E":
            result.complete = True
    if part_name is not None and section is not None:
        section[part_name] = Part(text[pos:], None, truncated=True)
    return result


def _int_or_none(value: str) -> Optional[int]:
    try:
        return int(value.strip())
    except ValueError:
        return None
