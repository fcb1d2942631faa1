"""What a collector is: a POSIX sh fragment plus a pure parser.

The fragment runs inside the composite script (see fleetaudit.script) and reports its
output in named *parts*, each with its own exit status, using the helpers the script
preamble defines:

    fa_run NAME CMD [ARGS...]      run CMD (stdin /dev/null, stderr merged, time- and
                                   size-capped); part NAME gets its output and rc.
    fa_root NAME CMD [ARGS...]     same, for reads that need root: the whole fragment runs
                                   as root (one `sudo -n sh -s` for the body when the
                                   inventory asks for become), or as the login user when
                                   sudo was refused.
    fa_docker NAME CMD [ARGS...]   a call that talks to the docker daemon: skipped (and
                                   reported so) once an earlier one timed out; not
                                   started once `docker version` found no daemon on
                                   the socket (KNOWN_PREFIX line, then the CLI's own
                                   "Cannot connect ..." line, status 1).
    fa_cat NAME PATH               the file's content (rc 0), or rc 2 when it is missing.
    fa_part NAME / fa_rc RC        open a part / close it, for hand-written fragments.
    fa_has CMD                     is CMD on PATH?

`script` runs as root; `login_script` (optional) runs first, as the login user, for
parts that are about the login session itself (its environment, its PATH).
A part that could not run (the script's deadline, a hung docker CLI) has rc RC_SKIPPED
and one line "fa-skipped: REASON".

A missing tool shows as rc 127 with the shell's "not found" text; parsers turn that
into a fact ("iptables not installed"), never into an error of the host.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

# Exit status the preamble reports for a tool that is not on PATH.
RC_MISSING = 127
RC_NO_FILE = 2
RC_TIMEOUT = 124
# Exit statuses of a command killed by timeout(1): GNU's own, busybox's (TERM), KILL.
RC_TIMED_OUT = (124, 143, 137)
# The part did not run (see fleetaudit.script.RC_SKIPPED); never a real exit status.
RC_SKIPPED = -2
SKIP_PREFIX = "fa-skipped: "
# First line of a part whose command was not run because its answer was already known
# (e.g. the docker CLI's "Cannot connect ..." when `docker version` found no daemon):
# the rest is that answer, with the command's status. Parsers skip this line.
KNOWN_PREFIX = "fa-known: "


@dataclass(frozen=True)
class Part:
    """One command's captured output on one host."""

    out: str
    rc: Optional[int]  # None when the part was cut off before its status arrived
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def missing(self) -> bool:
        return self.rc == RC_MISSING

    @property
    def skipped(self) -> Optional[str]:
        """Why the part did not run ("deadline reached ..."), or None when it ran."""
        if self.rc != RC_SKIPPED:
            return None
        line = self.out.strip().splitlines()[0] if self.out.strip() else ""
        return line[len(SKIP_PREFIX):][:200] if line.startswith(SKIP_PREFIX) else "skipped"

    def to_json(self) -> dict:
        data: Dict[str, Any] = {"out": self.out, "rc": self.rc}
        if self.truncated:
            data["truncated"] = True
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Part":
        return cls(data.get("out", ""), data.get("rc"), bool(data.get("truncated")))


# A collector's raw input: part name -> Part, in the order the host printed them.
Section = Dict[str, Part]

EMPTY = Part("", None)


def part(section: Section, name: str) -> Part:
    """The named part, or an empty part with no status when the host never printed it."""
    return section.get(name, EMPTY)


# A file the controller may need to read: (path on the host, sha256 the host reported).
FileRef = Tuple[str, str]


@dataclass(frozen=True)
class Collector:
    """One fact family: shell fragment in, facts out.

    `file_refs` lists files (by content hash) whose content the controller wants but
    only once per distinct content across the fleet (CA bundles); `digest` turns such a
    file's bytes into the JSON stored once in the run's catalog under its sha256.
    """

    name: str
    script: str
    parse: Callable[[Section], dict]
    file_refs: Optional[Callable[[dict], List[FileRef]]] = None
    digest: Optional[Callable[[bytes], Any]] = None
    doc: str = ""
    # Shell function definitions the fragment calls; shared by several collectors, so
    # the composite script defines each once (bytes sent per host).
    shell_lib: Tuple[str, ...] = ()
    # Parts run as the login user before the (root) script: the login session's own
    # environment and PATH. Same section; keep it small and independent of `script`.
    login_script: str = ""
    # Lines over 400 characters in this section's output are shortened to their head and
    # tail (redaction.SHORTEN_LINE) by the script's part-cap filter, after redaction: a
    # fragment may then print long lines whole instead of running sed and awk itself.
    shorten_long_lines: bool = False


def skipped_parts(section: Section) -> Dict[str, str]:
    """{part: why it did not run} for the parts the host reported as skipped."""
    return {name: p.skipped for name, p in section.items() if p.skipped}
