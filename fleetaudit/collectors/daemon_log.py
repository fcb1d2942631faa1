"""daemon_log: recent pull errors in the Docker daemon's log, counted per pullerrors class.

Facts:
- source: "journalctl" | "/var/log/docker.log" | "/var/log/daemon.log" |
  "/var/log/messages" | "/var/log/syslog" | null — where the lines came from
- window_hours: int — the window (FA_LOG_HOURS, default 24). journalctl applies it
  itself; for files the parser keeps lines stamped within it of the host's clock
- counts: {class id: n} — error-looking lines in the window, each counted once under
  its most specific class (fleetaudit.pullerrors); dockerd logs one failed pull 2-3
  times (warning, info "Attempting next endpoint", error "Handler for POST"), so these
  are lines, not pulls
- samples: {class id: the last such line, at most ~300 chars}
- matched_count: int — error-looking lines in the window that were examined
- unclassified_count: int, unclassified_sample: str|null — level=error/warning lines no
  class knows
- capped: bool — more lines matched on the host than it sends (the last 300 are kept),
  so counts are lower bounds
- error: str|null — why no log could be read ("journalctl: no entries for docker;
  /var/log/syslog: permission denied"), or why it is incomplete ("timed out")
counts, samples and the *_count/*_sample keys are volatile by nature.

On the host: journalctl -u docker -u containerd (via fa_root) when the journal has any
entry for those units (not run when /run/log/journal and /var/log/journal hold no
file at all: part journal then says `fa-nojournal`, read as journalctl's "No journal
files were found."), otherwise the first of the log files with dockerd/containerd
lines (the whole file for docker.log; the last 8 MiB of a file are read). awk keeps lines matching
pullerrors.host_pattern() and only the last 300; they pass the redaction filter whole,
and only then are long lines shortened to their head and tail (the error text is at the
end), so bytes stay small and no cut halves a secret.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

from .. import pullerrors, redaction
from .base import RC_TIMEOUT, Collector, Part, Section, part

KEEP_LINES = 300
# Where journalctl looks by default (journald's runtime and persistent stores).
JOURNAL_DIRS = ("/run/log/journal", "/var/log/journal")
# The journal part when neither holds anything: journalctl was not run, its answer is
# known ("No journal files were found.").
NO_JOURNAL = "fa-nojournal"
JOURNALCTL_NO_FILES = "No journal files were found."
FILES = ("/var/log/docker.log", "/var/log/daemon.log", "/var/log/messages", "/var/log/syslog")
UNITS = ("docker.service", "containerd.service", "snap.docker.dockerd.service")
SAMPLE_CHARS = 300

# POSIX awk. mode j: journalctl output (its own messages become fa-note lines);
# mode s: a syslog file (only dockerd/containerd lines); mode a: docker.log (all lines).
# Prints the kept lines, then "fa-summary total=T matched=M" (T = daemon lines seen).
# The pattern is a regex literal, not a -v variable: busybox awk recompiles a dynamic
# regex on every line (132 s instead of 4 s for 16 MiB).
FILTER_AWK = r"""
{ line = $0 }
mode == "j" && line ~ /^-- / { next }
mode == "j" && line ~ /^(No journal files|Hint: |Failed to |Warning: |journalctl: )/ {
  if (notes < 3) { notes++; note[notes] = line }
  next
}
mode == "s" && tolower(line) !~ /dockerd|containerd|docker\[/ { next }
{
  total++
  if (tolower(line) !~ /@PATTERN@/) next
  buf[matched % n] = line; matched++
}
END {
  for (i = 1; i <= notes; i++) print "fa-note " note[i]
  first = matched > n ? matched - n : 0
  for (i = first; i < matched; i++) print buf[i % n]
  printf "fa-summary total=%d matched=%d\n", total, matched
}
""".replace("@PATTERN@", pullerrors.host_pattern().replace("/", "\\/"))
READ_BYTES = 8 * 1024 * 1024
# Long lines are shortened to their head and tail (the error text is at the end) only
# AFTER the redaction filter has seen them whole: a cut must never halve a secret.
# The script's part-cap filter does it (shorten_long_lines), after the script-wide
# redaction; this fragment does it itself (redaction, then SHORTEN_AWK: ~6 ms of sed and
# awk) only when the kept lines are too long to pass the part's guard whole.
SHORTEN_AWK = "{ line = $0\n  " + redaction.SHORTEN_LINE + "\n  print line }"

_UNIT_ARGS = " ".join(f"-u {u}" for u in UNITS)
# The filter's output $o (at most KEEP_LINES lines): under @LIM@ bytes (half the part
# cap, well inside fa_exec's guard of twice the cap) it is printed as it is, and the
# script's filters redact, shorten and cap it; above, it goes through redaction and the
# shortening awk here, as before. Both give the same lines (the programs are idempotent).
_SHORTEN_SH = (
    "if [ \"${#o}\" -lt \"@LIM@\" ]; then printf \"%s\\n\" \"$o\"\n"
    "else printf \"%s\\n\" \"$o\" | sed -E \"@SED@\" | awk \"@AWK@\"; fi\n"
)
# $1 hours, $2 lines to keep, $3 awk program, $4 redaction sed program, $5 shortening
# awk program, $6 the length under which the script's filters shorten. The second
# journalctl asks whether the journal has any entry at all for the units (a quiet day is
# not "no log").
# The second query (~8 ms of CPU) only runs when the first cannot answer it: entries in
# the window mean the journal has some; "No journal files were found" means it has none.
JOURNAL_SH = (
    "LC_ALL=C; export LC_ALL\n"
    f"o=$(journalctl {_UNIT_ARGS} --since \"-$1h\" --no-pager -o short-iso 2>&1"
    " | awk -v n=\"$2\" -v mode=j \"$3\")\n"
    + _SHORTEN_SH.replace("@SED@", "$4").replace("@AWK@", "$5").replace("@LIM@", "$6") +
    "case $o in\n"
    "*\"fa-summary total=0 \"*) case $o in *\"fa-note No journal files were found\"*) echo \"fa-any 0\"; exit 0 ;; esac ;;\n"
    "*\"fa-summary total=\"*) echo \"fa-any 1\"; exit 0 ;;\n"
    "esac\n"
    f"printf \"fa-any %s\\n\" \"$(journalctl {_UNIT_ARGS} -n 1 -q --no-pager -o short-iso"
    " 2>/dev/null | head -n 1 | grep -c .)\"\n"
)
# $1 file, $2 lines to keep, $3 mode, $4 awk program, $5 redaction, $6 shortening,
# $7 the length under which the script's filters shorten.
FILE_SH = (
    "LC_ALL=C; export LC_ALL\n"
    "[ -r \"$1\" ] || { echo fa-unreadable; exit 13; }\n"
    f"o=$(tail -c {READ_BYTES} \"$1\" | awk -v n=\"$2\" -v mode=\"$3\" \"$4\")\n"
    + _SHORTEN_SH.replace("@SED@", "$5").replace("@AWK@", "$6").replace("@LIM@", "$7")
)

SCRIPT = f"""
fa_dl_awk='{FILTER_AWK.strip()}'
fa_dl_short='{SHORTEN_AWK.strip()}'
# One date for both fields (one fork less); two when that does not give two words.
fa_dl_o=$(date '+%s %z' 2>/dev/null)
case $fa_dl_o in
  *[0-9]' '?*) fa_part now; printf '%s %s\\n' "$fa_dl_o" "$FA_LOG_HOURS"; fa_rc 0 ;;
  *) fa_part now; printf '%s %s %s\\n' "$(date +%s 2>/dev/null)" "$(date +%z 2>/dev/null)" "$FA_LOG_HOURS"; fa_rc 0 ;;
esac
fa_dl_src=
# journalctl reads only /run/log/journal and /var/log/journal: when both are absent
# or readable and empty, it can only say "No journal files were found" (~10 ms of
# journalctl, sh and awk not spent then; hosts without journald: containers, the lab).
fa_dl_j=
for fa_dl_f in {" ".join(JOURNAL_DIRS)}; do
  if [ -e "$fa_dl_f" ] && ! [ -r "$fa_dl_f" ]; then fa_dl_j=1; fi
done
for fa_dl_f in {" ".join(d + "/*" for d in JOURNAL_DIRS)}; do [ -e "$fa_dl_f" ] && fa_dl_j=1 && break; done
if ! fa_has journalctl; then :
elif [ -z "$fa_dl_j" ]; then fa_part journal; echo {NO_JOURNAL}; fa_rc 0
else
  fa_dl_o=$(fa_root journal sh -c '{JOURNAL_SH}' sh "${{FA_LOG_HOURS:-24}}" {KEEP_LINES} "$fa_dl_awk" "$FA_RX" "$fa_dl_short" "$((FA_CAP / 2))")
  printf '%s\\n' "$fa_dl_o"
  case $fa_dl_o in *"fa-any 1"*) fa_dl_src=journal ;; esac
fi
if [ -z "$fa_dl_src" ]; then
  for fa_dl_f in {" ".join(FILES)}; do
    [ -e "$fa_dl_f" ] || continue
    fa_dl_m=s; [ "$fa_dl_f" = /var/log/docker.log ] && fa_dl_m=a
    fa_dl_o=$(fa_root "file:$fa_dl_f" sh -c '{FILE_SH}' sh "$fa_dl_f" {KEEP_LINES} "$fa_dl_m" "$fa_dl_awk" "$FA_RX" "$fa_dl_short" "$((FA_CAP / 2))")
    printf '%s\\n' "$fa_dl_o"
    case $fa_dl_o in *"fa-summary total=0 "*) ;; *"fa-summary total="*) break ;; esac
  done
fi
"""
assert "'" not in FILTER_AWK + SHORTEN_AWK + JOURNAL_SH + FILE_SH + pullerrors.host_pattern()

_SUMMARY = re.compile(r"^fa-summary total=(\d+) matched=(\d+)\s*$")
_ISO = (r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?"
        r"(Z|[+-]\d\d:?\d\d)?")
_LEADING_ISO = re.compile(r"^" + _ISO)
_LOGRUS_TIME = re.compile(r"""(?:\btime=\\?"|"time":\s*")""" + _ISO)
_SYSLOG = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) "
                     r"(\d\d):(\d\d):(\d\d) ")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _tz(text: Optional[str]) -> Optional[timezone]:
    if not text:
        return None
    if text == "Z":
        return timezone.utc
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", text)
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if minutes > 18 * 60:
        return None
    return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def _iso_epoch(m: "re.Match[str]", default_tz: Optional[timezone]) -> Optional[float]:
    tz = _tz(m.group(7)) or default_tz
    if tz is None:
        return None
    try:
        return datetime(*(int(m.group(i)) for i in range(1, 7)), tzinfo=tz).timestamp()
    except ValueError:
        return None


def line_epoch(line: str, now: Optional[float], host_tz: Optional[timezone]) -> Optional[float]:
    """When a log line was written, from its own timestamp; None when it has none."""
    m = _LEADING_ISO.match(line)
    if m:
        return _iso_epoch(m, host_tz)
    m = _LOGRUS_TIME.search(line)
    if m:
        return _iso_epoch(m, host_tz)
    m = _SYSLOG.match(line)
    if m and now is not None and host_tz is not None:
        # Traditional syslog has no year and no zone: the host's zone, and the year that
        # does not put the line in the future.
        year = datetime.fromtimestamp(now, host_tz).year
        for y in (year, year - 1):
            try:
                t = datetime(y, _MONTHS.index(m.group(1)) + 1, int(m.group(2)), int(m.group(3)),
                             int(m.group(4)), int(m.group(5)), tzinfo=host_tz).timestamp()
            except ValueError:
                continue
            if t <= now + 86400:
                return t
    return None


def shorten(line: str, limit: int = SAMPLE_CHARS) -> str:
    line = _CONTROL.sub("?", line.strip())
    if len(line) <= limit:
        return line
    head = limit // 3
    return line[:head] + " ... " + line[-(limit - head - 5):]


def _read_part(p: Part) -> Tuple[List[str], Optional[Tuple[int, int]], List[str], Optional[int]]:
    """(log lines, (total, matched) summary, journalctl notes, fa-any) of one part."""
    lines: List[str] = []
    summary = None
    notes: List[str] = []
    any_entries = None
    for raw in p.out.splitlines():
        m = _SUMMARY.match(raw)
        if m:
            summary = (int(m.group(1)), int(m.group(2)))
        elif raw.startswith("fa-note "):
            notes.append(shorten(raw[len("fa-note "):], 200))
        elif raw.strip() == NO_JOURNAL:
            notes.append(JOURNALCTL_NO_FILES)
            any_entries = 0
        elif raw.startswith("fa-any "):
            try:
                any_entries = int(raw.split()[1])
            except (IndexError, ValueError):
                pass
        elif raw.strip() and not raw.startswith("fa-"):  # fa-*: ours, or cut-off markers
            lines.append(raw)
    return lines[-KEEP_LINES:], summary, notes, any_entries


def _now(section: Section) -> Tuple[Optional[float], Optional[timezone], int]:
    fields = part(section, "now").out.split()
    now = None
    host_tz = None
    hours = 24
    if fields and re.fullmatch(r"\d{9,11}", fields[0]):
        now = float(fields[0])
    if len(fields) > 1:
        host_tz = _tz(fields[1])
    if len(fields) > 2 and re.fullmatch(r"\d{1,5}", fields[2]):
        hours = int(fields[2])
    return now, host_tz, hours


def _status(name: str, p: Part, summary, notes: List[str], any_entries) -> str:
    if "fa-unreadable" in p.out or p.rc == 13:
        return f"{name}: permission denied"
    if p.rc == RC_TIMEOUT:
        return f"{name}: timed out"
    if p.rc is None:
        return f"{name}: output cut off"
    if name == "journalctl":
        detail = f" ({notes[0]})" if notes else ""
        if any_entries == 0 or summary is None:
            return f"journalctl: no entries for {', '.join(UNITS[:2])}{detail}"
        return f"journalctl: rc {p.rc}{detail}"
    if summary is not None and summary[0] == 0:
        return f"{name}: no dockerd/containerd lines"
    return f"{name}: rc {p.rc}"


def _grpc_retry_warning(line: str) -> bool:
    """gRPC's own reconnect notice (`[core] grpc: addrConn.createTransport failed to
    connect ... Reconnecting...`, level=warning): dockerd logs it while containerd is still
    starting, on healthy hosts too. Its words name containerd's socket, so explain reads it
    as 'containerd not reachable'; in a day's log it is a retry, not a failed pull, and
    stays unclassified (a containerd that stays down also logs errors, which count)."""
    return "level=warning" in line and "grpc" in line and "Reconnecting" in line


def parse(section: Section) -> dict:
    now, host_tz, hours = _now(section)
    facts: dict = {
        "source": None, "window_hours": hours, "counts": {}, "samples": {},
        "matched_count": 0, "unclassified_count": 0, "unclassified_sample": None,
        "capped": False, "error": None,
    }
    # The journal first, then the files in the order the host tried them.
    candidates = [("journalctl", "journal")] + [
        (k[len("file:"):], k) for k in section if k.startswith("file:")]
    tried: List[str] = []
    chosen = None
    for name, key in candidates:
        if key not in section:
            continue
        p = section[key]
        lines, summary, notes, any_entries = _read_part(p)
        if name == "journalctl":
            usable = (any_entries or 0) > 0
        else:
            usable = bool(summary and summary[0] > 0)
        # Killed by the timeout or cut off: what did arrive is still evidence.
        usable = usable or (summary is None and p.rc in (None, RC_TIMEOUT) and bool(lines))
        if usable:
            chosen = (name, p, lines, summary)
            break
        tried.append(_status(name, p, summary, notes, any_entries))
    if chosen is None:
        if not section:
            facts["error"] = "no output"
        elif tried:
            facts["error"] = "; ".join(tried)
        else:
            facts["error"] = ("no daemon log: journalctl not installed and none of "
                              + ", ".join(FILES) + " exists")
        return facts

    name, p, lines, summary = chosen
    facts["source"] = name
    if name != "journalctl":
        ref = now
        if ref is None:
            stamps = [t for t in (line_epoch(l, None, host_tz) for l in lines) if t is not None]
            ref = max(stamps) if stamps else None
        if ref is not None:
            cutoff = ref - hours * 3600
            lines = [l for l in lines if _in_window(line_epoch(l, now, host_tz), cutoff)]
    counts: Dict[str, int] = {}
    samples: Dict[str, str] = {}
    for line in lines:
        cls = None if _grpc_retry_warning(line) else pullerrors.primary(line)
        if cls is None:
            facts["unclassified_count"] += 1
            facts["unclassified_sample"] = shorten(line)
            continue
        counts[cls] = counts.get(cls, 0) + 1
        samples[cls] = shorten(line)
    facts["counts"] = dict(sorted(counts.items()))
    facts["samples"] = dict(sorted(samples.items()))
    facts["matched_count"] = len(lines)
    facts["capped"] = bool(summary and summary[1] > KEEP_LINES and len(lines) >= KEEP_LINES)
    if p.rc == RC_TIMEOUT:
        facts["error"] = f"{name}: timed out, counts incomplete"
    elif p.rc is None:
        facts["error"] = f"{name}: output cut off, counts incomplete"
    elif summary is None or p.rc != 0:
        facts["error"] = f"{name}: incomplete (rc {p.rc})"
    return facts


def _in_window(epoch: Optional[float], cutoff: float) -> bool:
    # A line without a readable timestamp is kept: hiding an error is worse.
    return epoch is None or epoch >= cutoff


COLLECTOR = Collector(name="daemon_log", script=SCRIPT, parse=parse, doc=__doc__ or "",
                      shorten_long_lines=True)
