"""dns: the resolver configuration the daemon's own lookups use (dockerd resolves registry
names with the host's resolver: /etc/hosts, nsswitch, /etc/resolv.conf).

Facts:
- resolv_conf: {present: bool|null, symlink: str|null (target when /etc/resolv.conf is a
  link, e.g. ../run/systemd/resolve/stub-resolv.conf), nameservers: [host order],
  search: [host order], options: [sorted], is_stub: bool (127.0.0.53/54: systemd-resolved)}
- resolved: {available: bool|null (resolvectl or systemd-resolve installed),
  tool: "resolvectl"|"systemd-resolve",
  upstreams: [in order, deduplicated], per_link: {"Global"|link name: [servers]},
  error: str|null}|null — asked only when resolv.conf points at the stub
- uplink_nameservers: [..]|null — /run/systemd/resolve/resolv.conf, the upstream list
  systemd-resolved writes (read only with the stub)
- nsswitch_hosts: [sources, e.g. "files", "dns"]|null — the "hosts:" line of
  /etc/nsswitch.conf (null: no file)
- hosts_entries: {name: [sorted addresses]} — /etc/hosts pins, without localhost/ip6
  boilerplate and the host's own name; hosts_capped: bool (more than 200 lines)
daemon.json "dns" only affects containers; it is in daemon_json.config.dns.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Dict, List, Optional, Tuple

from .base import RC_MISSING, RC_NO_FILE, Collector, Part, Section, part

HOSTS_LINES = 200

SCRIPT = r"""
fa_part resolv_link; if [ -L /etc/resolv.conf ]; then readlink /etc/resolv.conf; fa_rc 0; else fa_rc 1; fi
# resolv.conf, nsswitch.conf and /etc/hosts read in one process (fa_group), each its
# own part as before (rc 2: the file is missing).
fa_group resolv '[ -e /etc/resolv.conf ] || exit 2; sed -n -E "/^[[:space:]]*(nameserver|search|domain|options)([[:space:]]|$)/p" /etc/resolv.conf' \
  nsswitch '[ -e /etc/nsswitch.conf ] || exit 2; sed -n -E "/^[[:space:]]*hosts[[:space:]]*:/p" /etc/nsswitch.conf' \
  hosts '[ -e /etc/hosts ] || exit 2; sed -n -E -e "s/#.*//" -e "/^[[:space:]]*[0-9A-Fa-f:.]+[[:space:]]+[^[:space:]]/p" /etc/hosts | head -n """ + str(HOSTS_LINES + 1) + r"""'
# A systemd-resolved stub (nameserver 127.0.0.53 or .54): read by the shell, no fork.
FA_STUB=
while read -r FA_A FA_B FA_X; do
  case $FA_A:$FA_B in nameserver:127.0.0.5[34]|nameserver:127.0.0.5[34][[:space:]]*) FA_STUB=1 ;; esac
done < /etc/resolv.conf 2>/dev/null
if [ -n "$FA_STUB" ]; then
  if fa_has resolvectl; then fa_run resolvectl resolvectl dns; else fa_run systemd_resolve systemd-resolve --status; fi
  fa_part uplink
  if [ -e /run/systemd/resolve/resolv.conf ]; then
    fa_exec sed -n -E '/^[[:space:]]*nameserver[[:space:]]/p' /run/systemd/resolve/resolv.conf
  else FA_RC=2; fi
  fa_rc "$FA_RC"
fi
fa_line hostname /proc/sys/kernel/hostname uname -n
"""

STUBS = {"127.0.0.53", "127.0.0.54"}
# /etc/hosts lines every distribution ships; they say nothing about a host.
BOILERPLATE = {"localhost", "localhost.localdomain", "localhost4", "localhost4.localdomain4",
               "localhost6", "localhost6.localdomain6", "ip6-localhost", "ip6-loopback",
               "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
               "ip6-allhosts"}
_TOKEN = re.compile(r"^[\x21-\x7e]{1,255}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _lines(p: Part) -> List[str]:
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()  # cut off mid-line
    return [_CONTROL.sub("", ln)[:1000] for ln in lines]  # indentation matters: keep it


def _words(line: str) -> List[str]:
    return [w for w in line.split() if _TOKEN.match(w)]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def parse_resolv(p: Part, link: Part) -> dict:
    facts: dict = {"present": None, "symlink": None, "nameservers": [], "search": [],
                   "options": [], "is_stub": False}
    if p.rc == RC_NO_FILE:
        facts["present"] = False
    elif p.rc == 0 or p.out:
        facts["present"] = True
    link_lines = _lines(link)
    if link.rc == 0 and link_lines and _TOKEN.match(link_lines[0]):
        facts["symlink"] = link_lines[0].strip()
    options: List[str] = []
    for line in _lines(p):
        words = _words(line)
        if not words:
            continue
        key, rest = words[0], words[1:]
        if key == "nameserver" and rest and _is_ip(rest[0]):
            if rest[0] not in facts["nameservers"]:
                facts["nameservers"].append(rest[0])
        elif key in ("search", "domain"):
            # the last search/domain line wins in glibc
            facts["search"] = rest[:6]
        elif key == "options":
            options.extend(rest)
    facts["options"] = sorted(set(options))
    facts["is_stub"] = any(ns in STUBS for ns in facts["nameservers"])
    return facts


def _server(token: str) -> Optional[str]:
    """The address in "1.1.1.1", "1.1.1.1#cloudflare-dns.com", "10.0.0.2:53", "[::1]:53"."""
    token = token.split("#", 1)[0]
    if _is_ip(token):
        return token
    m = re.match(r"^\[?([0-9A-Fa-f:.]+?)\]?:\d+$", token)
    return m.group(1) if m and _is_ip(m.group(1)) else None


def _servers(words: List[str]) -> List[str]:
    return [s for s in (_server(w) for w in words) if s]


def parse_resolved(p: Part, tool: str) -> dict:
    """`resolvectl dns` ("Link 2 (eth0): 10.0.0.2") or `systemd-resolve --status` (blocks
    with "DNS Servers: a" and one more address per continuation line)."""
    facts: dict = {"available": None, "tool": tool, "upstreams": [], "per_link": {}, "error": None}
    if p.rc == RC_MISSING:
        facts["available"], facts["tool"] = False, None
        facts["error"] = "resolvectl and systemd-resolve not found"
        return facts
    if p.rc is None and not p.out:
        return facts
    facts["available"] = True
    per_link: Dict[str, List[str]] = {}
    current: Optional[str] = None
    key: Optional[str] = None
    for raw in _lines(p):
        line = raw.strip()
        if not line:
            continue
        header = re.match(r"^(Global|Link \d+ \(([^)]*)\))(:\s*(.*))?$", line)
        if header and not raw[:1].isspace():
            current, key = header.group(2) or "Global", None
            if header.group(3) is not None:  # the one-line form of `resolvectl dns`
                per_link[current] = _servers(header.group(4).split())
                current = None
            continue
        m = re.match(r"^([A-Za-z][A-Za-z .]*):\s*(.*)$", line)
        if m and not _server(line):  # "Key: value" (an IPv6 address alone is no key)
            key = m.group(1)
            if key == "DNS Servers" and current:
                per_link.setdefault(current, []).extend(_servers(m.group(2).split()))
        elif key == "DNS Servers" and current:
            per_link.setdefault(current, []).extend(_servers(line.split()))
    if p.rc != 0:
        errors = [ln.strip() for ln in _lines(p) if ln.strip()]
        facts["error"] = errors[0] if errors else f"exit status {p.rc}"
    facts["per_link"] = per_link
    upstreams: List[str] = []
    for name in ["Global"] + sorted(k for k in per_link if k != "Global"):
        for server in per_link.get(name, []):
            if server not in upstreams:
                upstreams.append(server)
    facts["upstreams"] = upstreams
    return facts


def parse_hosts(p: Part, hostname: Optional[str]) -> Tuple[Dict[str, List[str]], bool]:
    entries: Dict[str, set] = {}
    lines = [ln for ln in _lines(p) if ln.strip()]
    capped = len(lines) > HOSTS_LINES
    own = {hostname, hostname.split(".")[0]} if hostname else set()
    for line in lines[:HOSTS_LINES]:
        words = _words(line)
        if len(words) < 2 or not _is_ip(words[0]):
            continue
        addr, names = words[0], words[1:]
        if addr == "127.0.1.1" or any(n in own or n.split(".")[0] in own for n in names):
            continue  # the host's own name: differs on every host by design
        for name in names:
            if name.lower() not in BOILERPLATE:
                entries.setdefault(name.lower(), set()).add(addr)
    return {k: sorted(v) for k, v in sorted(entries.items())}, capped


def parse(section: Section) -> dict:
    resolv = parse_resolv(part(section, "resolv"), part(section, "resolv_link"))
    resolved = None
    if "resolvectl" in section:
        resolved = parse_resolved(section["resolvectl"], "resolvectl")
    elif "systemd_resolve" in section:
        resolved = parse_resolved(section["systemd_resolve"], "systemd-resolve")
    uplink = None
    if "uplink" in section and section["uplink"].rc == 0:
        uplink = []
        for line in _lines(section["uplink"]):
            words = _words(line)
            if len(words) >= 2 and words[0] == "nameserver" and _is_ip(words[1]) and words[1] not in uplink:
                uplink.append(words[1])
    nss_p = part(section, "nsswitch")
    nsswitch = None
    if nss_p.rc == 0:
        for line in _lines(nss_p):
            _, sep, rest = line.partition(":")
            if sep:
                nsswitch = [w for w in _words(rest)]
    host_lines = [ln.strip() for ln in _lines(part(section, "hostname")) if ln.strip()]
    hostname = host_lines[0] if part(section, "hostname").rc == 0 and len(host_lines) == 1 else None
    hosts, capped = parse_hosts(part(section, "hosts"), hostname)
    return {
        "resolv_conf": resolv,
        "resolved": resolved,
        "uplink_nameservers": uplink,
        "nsswitch_hosts": nsswitch,
        "hosts_entries": hosts,
        "hosts_capped": capped,
    }


COLLECTOR = Collector(name="dns", script=SCRIPT, parse=parse, doc=__doc__ or "")
