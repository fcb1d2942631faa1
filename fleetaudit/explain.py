"""`fleetaudit explain`: from a pasted pull error to ranked likely causes.

Error texts mislead: "no such host" is often a daemon without the proxy that the
network requires, "denied" is often a misspelled repository, "x509 unknown authority"
is often a TLS-intercepting proxy. So every matched error class contributes its own
category AND the categories known to produce the same text, with lower confidence,
and a snapshot can raise a cause that hosts actually show.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .models import RunResult
from .pullerrors import CLASSES, classify

# Confidence a class gives its own category, by tier (see pullerrors): a precise root
# cause says more than a generic network symptom or a wrapper.
TIER_CONFIDENCE = {0: 0.9, 1: 0.75, 2: 0.45, 3: 0.2}
RELATED_FACTOR = 0.5        # a category the class lists as "often the real cause"
SNAPSHOT_BONUS = 0.1        # hosts in the snapshot show this cause right now

# Misleading texts the class table does not already relate, with the reason.
ALTERNATIVES: Dict[str, List[tuple]] = {
    "no-such-host": [
        ("proxy", 0.45, "In networks where only the proxy resolves outside names, a daemon "
                        "without HTTP(S)_PROXY looks the registry up itself and gets "
                        "'no such host' although DNS on the host is \"fine\"."),
        ("reference", 0.25, "A typo in the registry part of the image name "
                            "(regsitry.example.com/app) fails the same way."),
    ],
    "pull-access-denied": [
        ("reference", 0.6, "Registries answer 'denied' for repositories that do not exist: "
                           "a misspelled name or a missing namespace (team/app vs app) "
                           "reads like a permission problem."),
    ],
    "manifest-unknown": [
        ("arch", 0.2, "A per-architecture tag that was only pushed for another platform."),
    ],
    "toomanyrequests": [
        ("auth", 0.35, "Anonymous pulls share a low per-IP limit; logging in (as the user "
                       "the daemon pulls for, usually root) raises it."),
    ],
    "x509-unknown-authority": [
        ("time", 0.2, "Rarely: a clock far off makes chain building fail in odd ways; "
                      "check skew if the CA is present."),
    ],
}

CATEGORY_GUIDE = {
    "auth": ("Credentials for the registry are missing, wrong, or stored for another user.",
             "sudo cat /root/.docker/config.json | grep -A1 auths   # names only",
             "echo \"$TOKEN\" | sudo docker login REGISTRY -u USER --password-stdin"),
    "dns": ("The host or the daemon cannot resolve the registry name.",
            "getent hosts REGISTRY; cat /etc/resolv.conf; resolvectl status",
            "point /etc/resolv.conf (or daemon.json \"dns\") at a working resolver"),
    "tls": ("The registry's certificate is not trusted on this host.",
            "openssl s_client -connect REGISTRY:443 -showcerts </dev/null; ls /etc/docker/certs.d/",
            "install the CA in /etc/docker/certs.d/REGISTRY/ca.crt and the system trust store"),
    "proxy": ("The daemon's proxy settings differ from what the network needs.",
              "systemctl show --property=Environment docker; env | grep -i proxy",
              "set HTTP(S)_PROXY/NO_PROXY in a docker.service drop-in, daemon-reload, restart docker"),
    "mtu": ("Large TLS transfers stall or break on a path with a smaller MTU.",
            "ip link show; ping -M do -s 1472 REGISTRY",
            "align the interface / daemon.json \"mtu\" with the path MTU"),
    "firewall": ("Egress to the registry (443) or DNS (53) is blocked on the host.",
                 "sudo iptables -S OUTPUT; sudo nft list ruleset",
                 "allow outbound tcp/443 to the registry and udp+tcp/53 to the resolver"),
    "time": ("The host clock is off, so certificates look expired or not yet valid.",
             "date -u; timedatectl", "timedatectl set-ntp true (or fix chrony/ntpd)"),
    "disk": ("The Docker data root is out of space or inodes.",
             "df -h /var/lib/docker; df -i /var/lib/docker; docker system df",
             "docker system prune -f (then -a if needed); grow the volume"),
    "daemon": ("The Docker daemon is down or misconfigured.",
               "systemctl status docker; journalctl -u docker -n 50; cat /etc/docker/daemon.json",
               "fix daemon.json, then systemctl restart docker"),
    "arch": ("The image has no variant for this host's architecture.",
             "uname -m; docker buildx imagetools inspect IMAGE",
             "build and push a multi-arch image (docker buildx build --platform ...)"),
    "ratelimit": ("The registry is throttling this host's pulls.",
                  "docker login state for the daemon's user; registry-mirrors in daemon.json",
                  "authenticate, use a pull-through mirror, pin and pre-pull"),
    "reference": ("The image name, tag or digest does not exist as written.",
                  "compare the reference with the registry's tags (curl .../v2/REPO/tags/list)",
                  "fix the repository path, namespace or tag; pin by digest"),
    "reachability": ("The registry cannot be reached from this host.",
                     "curl -vI https://REGISTRY/v2/; nc -vz REGISTRY 443",
                     "fix routing, security groups or the registry's availability"),
    "ssh": ("fleetaudit could not audit the host.", "ssh -v HOST", "see the host's error class"),
}

_BY_ID = {c.id: c for c in CLASSES}


@dataclass
class Cause:
    category: str
    confidence: float
    why: str
    check: str
    fix: str
    classes: List[str] = field(default_factory=list)   # error classes that point here
    hosts: List[str] = field(default_factory=list)     # hosts in the snapshot showing it

    def to_json(self) -> dict:
        return {"category": self.category, "confidence": round(self.confidence, 2),
                "why": self.why, "check": self.check, "fix": self.fix,
                "classes": self.classes, "hosts": self.hosts}


def _matched_classes(text: str) -> List[str]:
    """Classes matched by any line or by the whole text (messages wrap)."""
    ids: List[str] = []
    for chunk in [text] + text.splitlines():
        for cid in classify(chunk):
            if cid not in ids:
                ids.append(cid)
    return ids


def _hosts_by_category(snapshot: Optional[RunResult]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    if snapshot is None:
        return out
    for f in snapshot.findings:
        if f.severity in ("critical", "high", "medium"):
            hosts = out.setdefault(f.category, [])
            if f.host not in hosts:
                hosts.append(f.host)
    return out


def explain(text: str, snapshot: Optional[RunResult] = None) -> List[Cause]:
    """Likely causes of the error `text`, most likely first ([] when nothing matched)."""
    text = (text or "")[:20000]
    causes: Dict[str, Cause] = {}

    def add(category: str, confidence: float, why: str, check: str, fix: str, cid: str):
        cause = causes.get(category)
        if cause is None:
            causes[category] = Cause(category, confidence, why, check, fix, [cid])
            return
        if cid not in cause.classes:
            cause.classes.append(cid)
        if confidence > cause.confidence:
            cause.confidence, cause.why, cause.check, cause.fix = confidence, why, check, fix
        else:  # independent support for the same cause raises it a little
            cause.confidence = min(0.97, cause.confidence + 0.05)

    for cid in _matched_classes(text):
        cls = _BY_ID[cid]
        base = TIER_CONFIDENCE.get(cls.tier, 0.3)
        add(cls.category, base, cls.why, "; ".join(cls.check), cls.fix, cid)
        for related in cls.related:
            guide = CATEGORY_GUIDE[related]
            add(related, base * RELATED_FACTOR, guide[0], guide[1], guide[2], cid)
        for category, conf, why in ALTERNATIVES.get(cid, ()):
            guide = CATEGORY_GUIDE[category]
            add(category, conf, why, guide[1], guide[2], cid)

    shown = _hosts_by_category(snapshot)
    for cause in causes.values():
        cause.hosts = shown.get(cause.category, [])
        if cause.hosts:
            cause.confidence = min(0.99, cause.confidence + SNAPSHOT_BONUS)
    return sorted(causes.values(), key=lambda c: (-c.confidence, c.category))
