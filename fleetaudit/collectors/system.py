"""system: who the host is.

Facts:
- hostname: str|null (uname -n)
- os: {id, id_like: [..sorted], version_id, version_codename, pretty_name} (values str|null;
  from /etc/os-release, else /usr/lib/os-release), or null when neither file exists
- kernel: str|null (uname -r)
- arch: str|null (uname -m, e.g. "x86_64", "aarch64")
- family: "debian"|"rhel"|"suse"|"alpine"|"arch"|"unknown" (from ID, then ID_LIKE)
- uptime_s: float|null (/proc/uptime; volatile)
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from .base import Collector, Part, Section, part

# Only the keys we report leave the host (os-release can carry vendor URLs and more).
SCRIPT = r"""
fa_part os
FA_F=/etc/os-release; [ -e "$FA_F" ] || FA_F=/usr/lib/os-release
if [ -e "$FA_F" ]; then
  fa_exec sed -n -E '/^(ID|ID_LIKE|VERSION_ID|VERSION_CODENAME|PRETTY_NAME)=/p' "$FA_F"
else FA_RC=2; fi
fa_rc "$FA_RC"
# uname -n and -r print what these kernel files hold: read by the shell, no fork.
fa_line hostname /proc/sys/kernel/hostname uname -n
fa_line kernel /proc/sys/kernel/osrelease uname -r
# uname -m is uname(2), which cannot block: no timeout process (fa_instant).
fa_instant arch uname -m
fa_line uptime /proc/uptime
"""

# ID or ID_LIKE word -> family. Fedora, Amazon Linux and the RHEL rebuilds share the
# RHEL tooling (dnf/yum, /etc/pki CA trust), which is what the diagnoses care about.
FAMILIES = {
    "debian": "debian", "ubuntu": "debian", "raspbian": "debian", "linuxmint": "debian",
    "rhel": "rhel", "centos": "rhel", "fedora": "rhel", "rocky": "rhel",
    "almalinux": "rhel", "ol": "rhel", "amzn": "rhel",
    "suse": "suse", "sles": "suse", "opensuse": "suse", "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse",
    "alpine": "alpine",
    "arch": "arch", "archlinux": "arch", "manjaro": "arch",
}

_KEY = re.compile(r"^([A-Z_]+)=(.*)$")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    # os-release allows backslash escapes of $, ", \ and ` inside double quotes.
    return re.sub(r"\\([$\"\\`])", r"\1", value)


def parse_os_release(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in text.splitlines():
        m = _KEY.match(line.strip())
        if m:
            out[m.group(1)] = _unquote(m.group(2))[:200]
    return out


def family_of(os_id: Optional[str], id_like: List[str]) -> str:
    for word in [os_id or ""] + id_like:
        fam = FAMILIES.get(word.lower())
        if fam:
            return fam
    return "unknown"


_TOKEN = re.compile(r"^[\x21-\x7e]{1,255}$")  # one printable word: no blanks, no control bytes


def complete_lines(p: Part) -> List[str]:
    """The part's lines, without a last line that was cut off mid-way."""
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()
    return lines


def _one_word(section: Section, name: str) -> Optional[str]:
    p = part(section, name)
    lines = [ln.strip() for ln in complete_lines(p) if ln.strip()]
    if p.rc != 0 or len(lines) != 1 or not _TOKEN.match(lines[0]):
        return None
    return lines[0]


def _uptime(section: Section) -> Optional[float]:
    p = part(section, "uptime")
    if p.rc != 0:
        return None
    try:
        value = float(p.out.split()[0])
    except (IndexError, ValueError):
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


def parse(section: Section) -> dict:
    # A file with none of our keys says as little as a missing one.
    kv = parse_os_release("\n".join(complete_lines(part(section, "os"))))
    os_id = kv.get("ID") or None
    id_like = sorted(set(kv.get("ID_LIKE", "").split()))
    os_facts = None
    if kv:
        os_facts = {
            "id": os_id,
            "id_like": id_like,
            "version_id": kv.get("VERSION_ID") or None,
            "version_codename": kv.get("VERSION_CODENAME") or None,
            "pretty_name": kv.get("PRETTY_NAME") or None,
        }
    return {
        "hostname": _one_word(section, "hostname"),
        "os": os_facts,
        "kernel": _one_word(section, "kernel"),
        "arch": _one_word(section, "arch"),
        "family": family_of(os_id, id_like),
        "uptime_s": _uptime(section),
    }


COLLECTOR = Collector(name="system", script=SCRIPT, parse=parse, doc=__doc__ or "")
