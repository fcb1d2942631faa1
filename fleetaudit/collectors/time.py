"""time: is the host's clock kept in sync (a wrong clock = "certificate expired/not yet valid").

Facts:
- ntp: {source, synchronized, enabled, detail} - the verdict: source is the first tool
  that answered, in order "timedatectl" (NTPSynchronized), "chronyc" (tracking),
  "ntpq" (a selected peer), "timesyncd" (/run/systemd/timesync/synchronized exists);
  null with synchronized null when none could tell. enabled: timedatectl's NTP= (a sync
  service is enabled), null when unknown. detail: one line saying why.
- timezone: timedatectl's Timezone, null when unknown (reports only; pulls use UTC).
- timedatectl: {available, synchronized, enabled, error} - `timedatectl show` (older
  systemd: plain `timedatectl` text). error e.g. "System has not been booted with
  systemd as init system (PID 1). Can't operate." (containers, the test fleet).
- chrony: {available, synchronized, reference, stratum, leap_status, error} -
  `chronyc -n tracking`; synchronized false for "Not synchronised" or no reference.
- ntpd: {available, synchronized, sys_peer, peers, error} - `ntpq -pn`; synchronized
  when a peer is selected ("*" or "o" tally).
- timesyncd_flag: bool|null - /run/systemd/timesync/synchronized exists.
available is false when the tool is not installed, null when the host said nothing.

Not here: the clock itself. The script's first line carries the host's epoch and the
collection core adds time.clock = {host_epoch, controller_epoch, skew_s,
uncertainty_s}, measured against the controller's clock (round-trip corrected).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import RC_MISSING, Collector, Part, Section, part

SCRIPT = """
# Captured and re-emitted byte for byte (its status read back from the RC marker).
# Plain `timedatectl` is the fallback for a systemd too old for `show`; when `show`
# failed because there is no systemd or no bus, plain timedatectl fails the same way
# (same first line, which is all the parser keeps): not run then (~4 ms).
FA_X=$(fa_brief tdc_show timedatectl show -p NTPSynchronized -p NTP -p Timezone)
printf '%s\n' "$FA_X"; FA_RC=${FA_X##*"@@$FA_N:RC:"}
case $FA_RC:$FA_X in
  0:*|127:*) ;;
  *"has not been booted with systemd"*|*"Failed to connect to bus"*) ;;
  *) fa_brief tdc timedatectl ;;
esac
FA_X=
fa_brief chrony chronyc -n tracking
fa_run ntpq ntpq -pn
fa_part timesync_flag
if [ -e /run/systemd/timesync/synchronized ]; then echo present; fa_rc 0; else fa_rc 1; fi
"""

_LEAP = ("Normal", "Insert second", "Delete second", "Not synchronised")
_YES = {"yes": True, "no": False, "active": True, "inactive": False}


def _lines(p: Part) -> List[str]:
    """The part's complete lines: a cut-off part's unfinished last line is dropped."""
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()
    return lines


def _available(p: Part) -> Optional[bool]:
    if p.rc == RC_MISSING:
        return False
    return True if (p.rc is not None or p.out) else None


def _error(p: Part) -> Optional[str]:
    if p.rc in (0, RC_MISSING) or (p.rc is None and not p.out):
        return None
    if p.rc is None:
        return "output cut off"
    text = next((ln.strip() for ln in p.out.splitlines() if ln.strip()), "")
    return text[:200] or f"exit status {p.rc}"


def _timedatectl(show: Part, plain: Part) -> Dict[str, Any]:
    facts: Dict[str, Any] = {"available": _available(show), "synchronized": None,
                             "enabled": None, "timezone": None, "error": None}
    if show.rc == 0:
        kv = dict(ln.split("=", 1) for ln in _lines(show) if "=" in ln)
        facts["synchronized"] = _YES.get(kv.get("NTPSynchronized", "").strip())
        facts["enabled"] = _YES.get(kv.get("NTP", "").strip())
        facts["timezone"] = _tz(kv.get("Timezone"))
    elif plain.rc == 0:
        # systemd < 239 has no `show`: read the human text (both old and new wording).
        for ln in _lines(plain):
            key, _, value = ln.partition(":")
            key, value = key.strip().lower(), value.strip().lower()
            if key in ("system clock synchronized", "ntp synchronized"):
                facts["synchronized"] = _YES.get(value)
            elif key in ("ntp service", "network time on", "ntp enabled",
                         "systemd-timesyncd.service active"):
                facts["enabled"] = _YES.get(value)
            elif key == "time zone":
                facts["timezone"] = _tz(ln.partition(":")[2].split("(")[0])
    else:
        facts["error"] = _error(plain) or _error(show)
    return facts


def _tz(value: Optional[str]) -> Optional[str]:
    value = (value or "").strip()
    return value if re.match(r"^[A-Za-z0-9_+\-/]{1,64}$", value) else None


def _chrony(p: Part) -> Dict[str, Any]:
    facts: Dict[str, Any] = {"available": _available(p), "synchronized": None, "reference": None,
                             "stratum": None, "leap_status": None, "error": _error(p)}
    if p.rc != 0:
        return facts
    kv = {}
    for ln in _lines(p):
        key, sep, value = ln.partition(":")
        if sep:
            kv[key.strip().lower()] = value.strip()
    ref = kv.get("reference id", "")
    m = re.match(r"^([0-9A-Fa-f]{8})\s*\(([^)]*)\)", ref)
    ref_id, ref_name = (m.group(1).upper(), m.group(2)) if m else (None, None)
    # 00000000: no source; 7F7F0101: the local clock (`local stratum N` in chrony.conf).
    facts["reference"] = ref_name or {"7F7F0101": "LOCAL", None: None, "00000000": None}.get(ref_id, ref_id)
    stratum = kv.get("stratum", "")
    facts["stratum"] = int(stratum) if stratum.isdigit() and len(stratum) < 4 else None
    leap = kv.get("leap status")
    facts["leap_status"] = leap if leap in _LEAP else None
    if leap not in _LEAP or ref_id is None:
        return facts  # not chronyc's tracking report as we know it: no verdict
    facts["synchronized"] = leap != "Not synchronised" and ref_id not in ("00000000", "7F7F0101")
    return facts


def _ntpq(p: Part) -> Dict[str, Any]:
    facts: Dict[str, Any] = {"available": _available(p), "synchronized": None, "sys_peer": None,
                             "peers": None, "error": _error(p)}
    if p.rc != 0:
        return facts
    lines = _lines(p)
    if not any("remote" in ln and "refid" in ln for ln in lines):
        # ntpsec's ntpq exits 0 with "***Socket error; probably ntpd is not running".
        facts["error"] = next((ln.strip()[:200] for ln in lines if ln.strip()), "no peer table")
        return facts
    peers, sys_peer = 0, None
    for ln in lines:
        m = re.match(r"^([ *+#o.x\-])(\S+)\s+\S+\s+\d+\s", ln)
        if not m or ln.startswith("="):
            continue
        peers += 1
        if m.group(1) in ("*", "o") and sys_peer is None:
            sys_peer = m.group(2)[:64]
    facts["peers"] = peers
    facts["sys_peer"] = sys_peer
    facts["synchronized"] = sys_peer is not None if peers else False
    return facts


def parse(section: Section) -> dict:
    tdc = _timedatectl(part(section, "tdc_show"), part(section, "tdc"))
    chrony = _chrony(part(section, "chrony"))
    ntpd = _ntpq(part(section, "ntpq"))
    flag_part = part(section, "timesync_flag")
    flag = {0: True, 1: False}.get(flag_part.rc) if flag_part.rc is not None else None

    ntp: Dict[str, Any] = {"source": None, "synchronized": None, "enabled": tdc["enabled"],
                           "detail": None}
    if tdc["synchronized"] is not None:
        ntp.update(source="timedatectl", synchronized=tdc["synchronized"],
                   detail=f"timedatectl: NTPSynchronized={'yes' if tdc['synchronized'] else 'no'}")
    elif chrony["synchronized"] is not None:
        ntp.update(source="chronyc", synchronized=chrony["synchronized"],
                   detail=f"chronyc tracking: leap status {chrony['leap_status']}, "
                          f"reference {chrony['reference'] or 'none'}, stratum {chrony['stratum']}")
    elif ntpd["synchronized"] is not None:
        ntp.update(source="ntpq", synchronized=ntpd["synchronized"],
                   detail=(f"ntpq: system peer {ntpd['sys_peer']}" if ntpd["sys_peer"]
                           else f"ntpq: no system peer among {ntpd['peers']} peers"))
    elif flag:
        ntp.update(source="timesyncd", synchronized=True,
                   detail="/run/systemd/timesync/synchronized exists")
    else:
        ntp["detail"] = "no time sync tool answered"

    timezone = tdc.pop("timezone")
    return {"ntp": ntp, "timezone": timezone, "timedatectl": tdc, "chrony": chrony,
            "ntpd": ntpd, "timesyncd_flag": flag}


COLLECTOR = Collector(name="time", script=SCRIPT, parse=parse, doc=__doc__)
