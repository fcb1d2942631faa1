"""Diagnosis rules: MTU mismatches (pulls that start, then stall mid-layer).

The uplink is the interface pulls leave through: the default route's (with its route
MTU when one is set), else the one main interface when no default route is known.
dockerd pulls over the host's own stack; the daemon's "mtu" and docker0 only shape what
containers and `docker build` RUN steps send.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from ..facts.daemon import daemon_config, log_counts
from ..facts.registries import split_host_port
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import q, restart_docker, whose

# Pull errors lost large packets produce (fleetaudit.pullerrors ids): with them in the
# daemon log an MTU difference is no longer a suspicion.
MTU_SYMPTOMS = ("unexpected-eof", "tls-handshake-timeout", "connection-reset", "request-timeout",
                "broken-pipe")
# Interfaces that are never the uplink: container bridges and veths, overlay plumbing.
_PLUMBING = re.compile(r"^(docker|br-|veth|virbr|cni|flannel|cali|lxc|lxd|podman|cilium|kube|vxlan|"
                       r"weave|genev|ifb|dummy|tunl0|sit0|ip6tnl|gre0|gretap0|erspan0)")
_PHYSICAL = re.compile(r"^(eth|en|em|eno|ens|enp|bond|team|wl|ib)")
IPV4_HEADERS = 28   # IP + ICMP header bytes: ping -s MTU-28 fills exactly one MTU


@dataclass
class Uplink:
    path: str        # fact path of the MTU value
    name: str
    mtu: int
    how: str


def _int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) and 68 <= v <= 65536 else None


def _is_candidate(i: dict) -> bool:
    name = i.get("name") or ""
    if name == "lo" or _PLUMBING.match(name) or i.get("master") or _int(i.get("mtu")) is None:
        return False
    if str(i.get("state") or "").upper() not in ("UP", "UNKNOWN"):
        return False
    addrs = i.get("addresses")
    if not isinstance(addrs, list):
        return addrs is None   # null: no `ip`, addresses unknown; anything else is junk
    return any(isinstance(a, str) and "." in a and not a.startswith("127.") and not a.startswith("169.254.")
               for a in addrs)


def uplink(facts: Any) -> Optional[Uplink]:
    net = dig(facts, "network")
    if not isinstance(net, dict) or net.get("error"):
        return None
    listed = net.get("interfaces") if isinstance(net.get("interfaces"), list) else []
    ifaces: Dict[str, dict] = {i["name"]: i for i in listed
                               if isinstance(i, dict) and isinstance(i.get("name"), str)}
    route = net.get("default_route")
    if isinstance(route, dict) and isinstance(route.get("interface"), str):
        name = route["interface"]
        if _int(route.get("mtu")):
            return Uplink("network.default_route.mtu", name, route["mtu"], "route MTU of the default route")
        mtu = _int((ifaces.get(name) or {}).get("mtu"))
        return Uplink(join_all(("network", "interfaces", name, "mtu")), name, mtu,
                      "default route interface") if mtu else None
    cands = [i for i in ifaces.values() if _is_candidate(i)]
    if len({i["mtu"] for i in cands}) > 1:
        cands = [i for i in cands if _PHYSICAL.match(i["name"])]
    if not cands or len({i["mtu"] for i in cands}) != 1:
        return None   # no interface, or several with different MTUs: which one pulls is unknown
    i = sorted(cands, key=lambda c: c["name"])[0]
    return Uplink(join_all(("network", "interfaces", i["name"], "mtu")), i["name"], i["mtu"],
                  "main interface (no default route known)")


def _uplink_mtu(facts: Any) -> Any:
    u = uplink(facts)
    return u.mtu if u else MISSING


def _symptoms(ctx: HostContext) -> List[dict]:
    return [ev(join_all(("daemon_log", "counts", c)), n, note="transfers already break this way")
            for c, n in log_counts(ctx.facts, MTU_SYMPTOMS).items()]


def persist_mtu(family: str, iface: str, mtu: int) -> List[str]:
    i = q(iface)
    return {
        "debian": [f"persist: 'mtu {mtu}' in the {iface} stanza of /etc/network/interfaces, or "
                   f"'mtu: {mtu}' under {iface} in /etc/netplan/*.yaml then sudo netplan apply"],
        "rhel": [f"sudo nmcli connection modify \"$(nmcli -g GENERAL.CONNECTION device show {i})\" "
                 f"802-3-ethernet.mtu {mtu}",
                 f"sudo nmcli device reapply {i}"],
        "suse": [f"persist: MTU='{mtu}' in /etc/sysconfig/network/ifcfg-{iface}"],
        "alpine": [f"persist: 'mtu {mtu}' in the {iface} stanza of /etc/network/interfaces"],
    }.get(family, [f"persist MTU {mtu} for {iface} in the host's network configuration"])


def path_probe(ctx: HostContext, mtu: int) -> str:
    host = split_host_port(ctx.example_registry())[0]
    return f"ping -c 3 -M do -s {mtu - IPV4_HEADERS} {q(host)}   # fails if a {mtu}-byte packet cannot cross the path"


@rule(
    id="mtu.interface-differs", category="mtu", severity="medium",
    title="the uplink MTU differs from the fleet",
    why="""
Hosts on one network share its MTU. When one host's interface MTU differs from the fleet's,
large packets are lost on the way between it and the registry wherever the two MTUs meet
and ICMP "fragmentation needed" does not get back (VPNs, VXLAN and cloud overlays, firewalls
dropping ICMP). Small requests (login, manifests) work, then the certificate chain or layer
data stalls: "net/http: TLS handshake timeout", "unexpected EOF" or "connection reset by
peer" in the middle of a layer.
""",
    remediation=["ip link show", "set the fleet's MTU on the interface (or clamp TCP MSS on the path)"],
)
def interface_differs(ctx: HostContext) -> Iterator[Hit]:
    up = uplink(ctx.facts)
    if up is None:
        return
    exp = ctx.expect("network.uplink_mtu", _uplink_mtu)
    if exp is None or not isinstance(exp.value, int) or exp.value == up.mtu:
        return
    symptoms = _symptoms(ctx)
    lower = up.mtu < exp.value
    title = (f"{up.name} MTU {up.mtu} is {'below' if lower else 'above'} {whose(exp)} {exp.value}")
    fixes = [f"ip link show {q(up.name)}", path_probe(ctx, min(up.mtu, exp.value)),
             path_probe(ctx, max(up.mtu, exp.value)),
             f"sudo ip link set dev {q(up.name)} mtu {exp.value}   # takes effect now, lost on reboot",
             *persist_mtu(ctx.family, up.name, exp.value),
             "if the path really needs the smaller MTU, set it (or MSS clamping) on every host instead"]
    yield Hit(evidence=[ev(up.path, up.mtu, exp.value, note=f"{up.how}; {exp.source}"), *symptoms],
              severity="high" if symptoms else "medium", title=title, remediation=fixes)


def daemon_mtu(facts: Any) -> Optional[int]:
    cfg = daemon_config(facts)
    return _int(cfg.get("mtu")) if cfg else None


@rule(
    id="mtu.daemon-above-uplink", category="mtu", severity="high",
    title='daemon.json "mtu" is larger than the uplink MTU',
    why="""
daemon.json "mtu" sets the MTU of docker0 and the containers on it. Larger than the host's
uplink, containers send packets the uplink cannot carry; where "fragmentation needed" gets
lost they hang: pulls made inside containers (docker-in-docker, CI runners) stall with
"net/http: TLS handshake timeout" or "unexpected EOF", `docker build` RUN steps hang on
downloads. dockerd's own pulls use the host's stack and are not affected.
""",
    remediation=['set "mtu" in /etc/docker/daemon.json to the uplink MTU', "restart docker"],
    needs_docker=True,
)
def daemon_above_uplink(ctx: HostContext) -> Iterator[Hit]:
    up, mtu = uplink(ctx.facts), daemon_mtu(ctx.facts)
    if up is None or mtu is None or mtu <= up.mtu:
        return
    yield Hit(evidence=[ev("daemon_json.config.mtu", mtu, f"<= {up.mtu}"),
                        ev(up.path, up.mtu, note=up.how)],
              title=f'daemon.json "mtu" {mtu} exceeds {up.name} MTU {up.mtu}',
              remediation=[f'set "mtu": {up.mtu} in /etc/docker/daemon.json', restart_docker(ctx.family),
                           "user-defined networks keep their MTU: recreate them with "
                           f"-o com.docker.network.driver.mtu={up.mtu}"])


@rule(
    id="mtu.docker0-above-uplink", category="mtu", severity="medium",
    title="docker0's MTU is larger than the uplink MTU",
    why="""
Docker does not adapt the bridge to the uplink: docker0 stays at 1500 (or the daemon's
"mtu") on an uplink with a smaller MTU (VPN, VXLAN, OpenStack 1450, GCP 1460). Containers send
packets that only pass where "fragmentation needed" comes back: pulls inside containers
(docker-in-docker, CI runners) stall with "net/http: TLS handshake timeout", builds hang on
downloads. Pulls by dockerd itself are not affected.
""",
    remediation=['set "mtu" in /etc/docker/daemon.json to the uplink MTU', "restart docker"],
    needs_docker=True,
)
def docker0_above_uplink(ctx: HostContext) -> Iterator[Hit]:
    up = uplink(ctx.facts)
    bridge = _int(dig(ctx.facts, "network.docker0_mtu"))
    configured = daemon_mtu(ctx.facts)
    if up is None or bridge is None or bridge <= up.mtu or (configured is not None and configured > up.mtu):
        return   # mtu.daemon-above-uplink reports a configured value
    yield Hit(evidence=[ev("network.docker0_mtu", bridge, f"<= {up.mtu}"), ev(up.path, up.mtu, note=up.how)],
              title=f"docker0 MTU {bridge} exceeds {up.name} MTU {up.mtu}",
              remediation=[f'set "mtu": {up.mtu} in /etc/docker/daemon.json', restart_docker(ctx.family)])
