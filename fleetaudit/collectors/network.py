"""network: interfaces, MTUs and the default route (MTU trouble = stalled layer pulls).

Facts:
- ip_installed: bool|null - `ip` (iproute2 or busybox) on PATH; without it interfaces
  come from /sys/class/net and the default route from /proc/net/route.
- interfaces: [{name, mtu, state, addresses, virtual, master}] sorted by name.
  state: the kernel operstate ("UP", "DOWN", "UNKNOWN"...); when `ip` does not print it
  (busybox ip) it comes from /sys/class/net/*/operstate, else "UP" if the link has
  carrier (LOWER_UP) and "DOWN" otherwise.
  addresses: sorted CIDRs, IPv6 link-local left out (every veth has one); null when
  unknown (no `ip`). virtual: the kernel lists it under /sys/devices/virtual/net
  (lo, bridges, veth, tunnels...), null when /sys did not say. master: the bridge/bond
  it is enslaved to (container veths show "docker0" or "br-...").
- default_route: {interface, gateway, metric, mtu} of the preferred IPv4 default route
  (lowest metric), null when there is none; mtu is a route-level MTU (`mtu 1400` /
  `mtu lock 1400`) or null (also null when unknowable: busybox ip and /proc/net/route
  do not show route MTUs).
- default_route_count: int.
- default_mtu: the MTU pulls leave the host with: the route MTU when set, else the
  default route interface's MTU; null when unknown.
- docker0_mtu: docker0's MTU, null when there is no docker0.
- error: str|null - nothing usable came back.
(The daemon's own `mtu` setting is a daemon_json fact.)
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import RC_MISSING, Collector, Part, Section, part

# ip -o prints one line per object, continuation after a backslash: keep only what the
# parser needs (MACs, qdisc, qlen, lifetimes are bytes for nothing) and drop IPv6
# link-local addresses. The status of `ip`, not of sed, is the part's status.
_LINK_SED = ('-e "s/ *[\\].*//" -e "s/ qdisc [^ ]*//" -e "s/ group [^ ]*//" -e "s/ qlen [^ ]*//" '
             '-e "s/ mode [^ ]*//"')
_ADDR_SED = '-e "/ inet6 fe80:/d" -e "s/ *[\\].*//" -e "s/ brd [^ ]*//"'
# Both parts in ONE group program and ONE sed (a subshell, a pipe and a sed less): the
# program prints link's output, link's status marker and addr's part marker itself, and
# the sed applies link's edits up to that marker, addr's after it (marker lines hold no
# blank, no edit touches them). The group prints addr's status (the program's).
_IP_LINK_ADDR = (
    'o=$(ip -o link 2>&1); r=$?; a=$(ip -o addr 2>&1); q=$?; '
    'printf "%s\\n\\n@@%s:RC:%s\\n\\n@@%s:P:addr\\n%s\\n" "$o" "$n" "$r" "$n" "$a" | '
    f'sed -e "1,/^@@$n:P:addr\\$/{{" {_LINK_SED} -e "}}" '
    f'-e "/^@@$n:P:addr\\$/,\\${{" {_ADDR_SED} -e "}}"; exit $q'
)
# name mtu operstate virtual|- : always read, it marks virtual interfaces and is the
# fallback for hosts without `ip`.
# Read by the shell itself (`read`, no cat per file), at most 2000 interfaces.
_SYS = r'''
fa_part sys; FA_K=0
for FA_ND in /sys/class/net/*; do
  [ -e "$FA_ND/mtu" ] || continue
  FA_K=$((FA_K + 1)); [ "$FA_K" -le 2000 ] || break
  FA_NN=${FA_ND##*/}; FA_NV=-; [ -e "/sys/devices/virtual/net/$FA_NN" ] && FA_NV=virtual
  FA_NM=; FA_NO=
  { read -r FA_NM < "$FA_ND/mtu"; } 2>/dev/null; { read -r FA_NO < "$FA_ND/operstate"; } 2>/dev/null
  printf '%s %s %s %s\n' "$FA_NN" "$FA_NM" "$FA_NO" "$FA_NV"
done
fa_rc 0
'''

assert "'" not in _IP_LINK_ADDR  # one single-quoted sh -c argument

SCRIPT = f"""
if fa_has ip; then
  fa_group link '{_IP_LINK_ADDR}' route 'ip route show default'
else
  fa_run link ip -o link
  fa_cat proc_route /proc/net/route
fi
{_SYS.strip()}
"""

_LINK_RE = re.compile(r"^\s*\d+:\s+([^:\s@]+)(?:@\S*?)?:\s+<([^>]*)>(.*)$")
_ADDR_RE = re.compile(r"^\s*\d+:\s+(\S+)\s+(inet6?)\s+(\S+)")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,32}$")


# Keywords of `ip` output that are followed by a value.
_VALUED = {"mtu", "state", "master", "via", "dev", "metric", "proto", "src", "scope",
           "table", "link-netnsid", "mode", "group", "qlen", "qdisc"}


def _pairs(words: List[str]) -> Dict[str, str]:
    """'mtu 1400 state UP master docker0' -> {mtu: 1400, state: UP, master: docker0}."""
    out: Dict[str, str] = {}
    i = 0
    while i < len(words):
        key = words[i]
        if key in _VALUED and i + 1 < len(words):
            value = words[i + 1]
            i += 2
            if key == "mtu" and value == "lock" and i < len(words):  # route mtu lock N
                value = words[i]
                i += 1
            out.setdefault(key, value)
        else:
            i += 1  # a flag word (onlink, linkdown, dynamic...)
    return out


def _lines(p: Part) -> List[str]:
    """The part's complete lines: a cut-off part's unfinished last line is dropped."""
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()
    return lines


def _int(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _parse_links(p: Part) -> Dict[str, dict]:
    links: Dict[str, dict] = {}
    for line in _lines(p):
        m = _LINK_RE.match(line)
        if not m or not _NAME_RE.match(m.group(1)):
            continue
        flags = set(m.group(2).split(","))
        kv = _pairs(m.group(3).split())
        state = kv.get("state")
        if state is None:  # busybox ip: /sys may still say; else carrier = up
            state = "UP" if "LOWER_UP" in flags else "DOWN"
            flags.add("_derived_state")
        links[m.group(1)] = {
            "name": m.group(1), "mtu": _int(kv.get("mtu")), "state": state,
            "addresses": [], "virtual": None, "master": kv.get("master"),
            "_derived": "_derived_state" in flags,
        }
    return links


def _parse_addrs(p: Part) -> Dict[str, List[str]]:
    addrs: Dict[str, List[str]] = {}
    for line in _lines(p):
        m = _ADDR_RE.match(line)
        if not m:
            continue
        cidr = m.group(3)
        if m.group(2) == "inet6" and cidr.lower().startswith("fe80:"):
            continue
        if re.match(r"^[0-9A-Fa-f.:]+(/\d{1,3})?$", cidr):
            addrs.setdefault(m.group(1), []).append(cidr)
    return addrs


def _parse_sys(p: Part) -> Dict[str, dict]:
    found: Dict[str, dict] = {}
    for line in _lines(p):
        words = line.split()
        if len(words) != 4 or not _NAME_RE.match(words[0]):
            continue
        found[words[0]] = {
            "mtu": _int(words[1]),
            "state": words[2].upper() if re.match(r"^[a-z]+$", words[2]) else None,
            "virtual": words[3] == "virtual",
        }
    return found


def _parse_ip_routes(p: Part) -> List[dict]:
    routes = []
    for line in _lines(p):
        words = line.split()
        if not words or words[0] != "default":
            continue
        kv = _pairs(words[1:])
        dev = kv.get("dev")
        if dev is None or not _NAME_RE.match(dev):
            continue
        routes.append({"interface": dev, "gateway": kv.get("via"),
                       "metric": _int(kv.get("metric")) or 0, "mtu": _int(kv.get("mtu"))})
    return routes


def _parse_proc_routes(p: Part) -> List[dict]:
    """/proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask MTU ..."""
    routes = []
    for line in _lines(p)[1:]:
        f = line.split()
        if len(f) < 8 or f[1] != "00000000" or f[7] != "00000000":
            continue
        if not _NAME_RE.match(f[0]) or not re.match(r"^[0-9A-Fa-f]{8}$", f[2]):
            continue
        flags = int(f[3], 16) if re.match(r"^[0-9A-Fa-f]{1,8}$", f[3]) else 0
        if not flags & 0x1:  # RTF_UP
            continue
        gw = bytes.fromhex(f[2])[::-1]  # little-endian on every Linux we meet
        mtu = _int(f[8]) if len(f) > 8 else None
        routes.append({
            "interface": f[0],
            "gateway": ".".join(str(b) for b in gw) if flags & 0x2 else None,  # RTF_GATEWAY
            "metric": _int(f[6]) or 0,
            "mtu": mtu or None,
        })
    return routes


def parse(section: Section) -> dict:
    link, addr, route = part(section, "link"), part(section, "addr"), part(section, "route")
    sys_part, proc_route = part(section, "sys"), part(section, "proc_route")
    facts: Dict[str, Any] = {
        "ip_installed": None, "interfaces": [], "default_route": None,
        "default_route_count": 0, "default_mtu": None, "docker0_mtu": None, "error": None,
    }
    if link.rc == RC_MISSING:
        facts["ip_installed"] = False
    elif link.rc is not None or link.out:
        facts["ip_installed"] = True

    sysinfo = _parse_sys(sys_part)
    links = _parse_links(link) if facts["ip_installed"] else {}
    if links:
        addrs = _parse_addrs(addr)
        for name, entry in links.items():
            entry["addresses"] = sorted(set(addrs.get(name, [])))
            if name in sysinfo:
                entry["virtual"] = sysinfo[name]["virtual"]
                if entry["_derived"] and sysinfo[name]["state"]:
                    entry["state"] = sysinfo[name]["state"]
            del entry["_derived"]
    else:
        # No usable `ip`: /sys has names, MTUs, operstate; addresses stay unknown.
        for name, info in sysinfo.items():
            links[name] = {"name": name, "mtu": info["mtu"], "state": info["state"],
                           "addresses": None, "virtual": info["virtual"], "master": None}
    facts["interfaces"] = [links[n] for n in sorted(links)]

    routes = _parse_ip_routes(route) if facts["ip_installed"] else _parse_proc_routes(proc_route)
    if routes:
        best = min(routes, key=lambda r: r["metric"])
        facts["default_route"] = best
        facts["default_route_count"] = len(routes)
        dev_mtu = links.get(best["interface"], {}).get("mtu")
        facts["default_mtu"] = best["mtu"] or dev_mtu
    if "docker0" in links:
        facts["docker0_mtu"] = links["docker0"]["mtu"]

    if not links and not routes:
        bad = next((p for p in (link, sys_part) if p.out.strip()), None)
        facts["error"] = (bad.out.strip().splitlines()[-1][:200] if bad else "no output")
    return facts


COLLECTOR = Collector(name="network", script=SCRIPT, parse=parse, doc=__doc__)
