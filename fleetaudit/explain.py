"""`fleetaudit explain`: from a pasted pull error to ranked likely causes.

Error texts mislead: "no such host" is often a daemon without the proxy that the
network requires, "denied" is often a misspelled repository, "x509 unknown authority"
is often a TLS-intercepting proxy. So every matched error class contributes its own
category AND the categories known to produce the same text, with lower confidence,
and a snapshot can raise a cause that hosts actually show.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .models import RunResult
from .pullerrors import CLASSES, classify
from .pullunwrap import soft_wrap_joins, unwrap
from .explain_facts import PUBLIC_REGISTRY_HOSTS, raised, ruled_out

# Confidence a class gives its own category, by tier (see pullerrors): a precise root
# cause says more than a generic network symptom or a wrapper.
TIER_CONFIDENCE = {0: 0.9, 1: 0.75, 2: 0.45, 3: 0.2}
RELATED_FACTOR = 0.5        # a category the class lists as "often the real cause"
RELATED_DECAY = 0.08        # ...listed in order of likelihood: each later one a little less
GENERIC_CEILING = 0.3       # a cause guessed from loose words never looks surer than this
SNAPSHOT_BONUS = 0.1        # hosts in the snapshot show this cause right now
LOWER_FACTOR = 0.5          # every host's facts rule this cause out: half as likely
PASTE_CAP = 20000           # characters read, from the end: a failed pull or a CI log ends with its error
EVIDENCE_BONUS = 0.15       # a fact explains this very error's mechanism (explain_facts.raised)

# Misleading texts the class table does not already relate, with the reason.
ALTERNATIVES: Dict[str, List[tuple]] = {
    "no-such-host": [
        ("proxy", 0.45, "In networks where only the proxy resolves outside names, a daemon "
                        "without HTTP(S)_PROXY looks the registry up itself and gets "
                        "'no such host' although DNS on the host is \"fine\"."),
        ("reference", 0.25, "A typo in the registry part of the image name "
                            "(regsitry.example.com/app) fails the same way."),
    ],
    "network-unreachable": [
        ("proxy", 0.3, "Hosts in networks where only a proxy goes out often have no default route "
                       "at all: without HTTP(S)_PROXY the daemon finds no network to the registry."),
    ],
    "no-route-to-host": [
        ("proxy", 0.2, "A network that lets only its proxy out may reject direct connections with "
                       "'host unreachable': the daemon may need HTTP(S)_PROXY."),
    ],
    "dns-lookup-failed": [
        ("proxy", 0.35, "Networks that let only their proxy out often give hosts a resolver that "
                        "cannot resolve outside names at all (no answer, SERVFAIL): the daemon "
                        "then needs HTTP(S)_PROXY rather than another resolver."),
    ],
    "dns-server-misbehaving": [
        ("proxy", 0.35, "A corporate resolver that refuses outside names (SERVFAIL) is the mark of "
                        "a network where only the proxy resolves and reaches them."),
    ],
    "pull-access-denied": [
        ("reference", 0.6, "Registries answer 'denied' for repositories that do not exist: "
                           "a misspelled name or a missing namespace (team/app vs app) "
                           "reads like a permission problem."),
        ("proxy", 0.2, "A registry mirror or proxy in the path that serves only the images on its "
                       "list answers 'denied' for the others."),
    ],
    "manifest-unknown": [
        ("arch", 0.2, "A per-architecture tag that was only pushed for another platform."),
        ("auth", 0.19, "Some registries (GitLab, ghcr.io for private packages) answer 'not found' "
                       "to a caller who may not read the repository, so as not to reveal it."),
    ],
    "toomanyrequests": [
        ("auth", 0.35, "Anonymous pulls share a low per-IP limit; logging in (as the user "
                       "the daemon pulls for, usually root) raises it."),
    ],
    "bad-credentials": [
        ("time", 0.2, "Registry tokens carry validity times: on a host whose clock is far "
                      "off, fresh credentials are refused as if they were wrong."),
    ],
    "registry-denied-terse": [
        ("reference", 0.55, "A bare 'denied' is also what ghcr.io and others answer for a "
                            "repository that does not exist: check the path's spelling and "
                            "case before the credentials."),
        ("proxy", 0.2, "A registry mirror or proxy in the path that serves only the images on its "
                       "list answers 'denied' for the others."),
    ],
    # Third candidates where a class names only one or two causes: each is a way the same text
    # really arises, ranked below the class's own reading.
    "unauthorized": [
        ("reference", 0.3, "Registries answer 401 'authentication required' to an anonymous caller "
                           "for a repository that does not exist as well (Docker Hub, distribution's "
                           "token server): check the path before the credentials."),
    ],
    "forbidden": [
        ("firewall", 0.25, "A 403 also comes from network rules rather than accounts: the registry's "
                           "own IP allowlist, or a firewall's block page."),
    ],
    "no-basic-auth-credentials": [
        ("reference", 0.25, "Credentials are looked up by the registry host exactly as the image "
                            "name spells it (port, www., index.docker.io vs docker.io): a login "
                            "stored under another spelling is not found."),
    ],
    "blob-unknown": [
        ("firewall", 0.3, "A pull-through mirror (Artifactory, Nexus, Harbor's proxy cache) serves the "
                          "manifest it fetched from the registry and answers 'blob unknown' for blobs it "
                          "cannot fetch upstream: an egress allowlist with the registry but not its "
                          "blob/CDN hosts."),
    ],
    "no-matching-manifest": [
        ("reference", 0.25, "The tag may be a single-platform variant: another tag of the same "
                            "image (or a newer one) carries this platform."),
    ],
    "no-space-left": [
        ("daemon", 0.25, "The daemon's data-root (or its tmp) lies on a small root filesystem: move "
                         "data-root in daemon.json to a volume with room."),
    ],
    "x509-expired-or-not-yet-valid": [
        ("proxy", 0.3, "A TLS-inspecting proxy or firewall presents its own certificate, and that one "
                       "(or its CA) can be the expired one: compare the issuer with the registry's."),
    ],
    "x509-unknown-authority": [
        ("firewall", 0.25, "Firewall appliances that inspect TLS (FortiGate, Palo Alto, Sophos, "
                           "Check Point) re-sign outgoing HTTPS with their own CA, like a proxy: "
                           "trust that CA or exempt the registry from inspection."),
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
    generic: bool = False      # guessed from loose words: no known error phrase matched
    words: List[str] = field(default_factory=list)     # for generic causes: the words seen
    facts: List[str] = field(default_factory=list)     # "host: rule (fact, ...)" that raised it
    lowered_by: str = ""       # the facts that rule it out on every host in scope, if any
    raised_by: str = ""        # the facts that explain this very error's mechanism, if any

    def to_json(self) -> dict:
        return {"category": self.category, "confidence": round(self.confidence, 2),
                "why": self.why, "check": self.check, "fix": self.fix,
                "classes": self.classes, "hosts": self.hosts, "generic": self.generic,
                "words": self.words, "facts": self.facts, "lowered_by": self.lowered_by or None,
                "raised_by": self.raised_by or None}


_CLOCK_CLASSES = ("x509-expired-or-not-yet-valid", "x509-expired")
_DENIED_NAME = re.compile(r"pull access denied for ([^\s,]+)", re.IGNORECASE)
# containers/image and containerd spell the official namespace out: docker.io/library/NAME
_LIBRARY_NAME = re.compile(r"(?:^|[\s/\"'])(?:docker\.io/)?library/([a-z0-9][a-z0-9._-]*)(?=[:@\s\"']|$)", re.IGNORECASE)
# A fully qualified official-image reference, as containerd and containers/image spell it.
# (Not any /v2/library/ path: Harbor's default project is named "library" too, and may be private.)
_OFFICIAL_REF = re.compile(r"(?:^|[\s\"'/])docker\.io/library/([a-z0-9][a-z0-9._-]*)(?=[:@\s\"'\\]|$)|"
                           r"registry-1\.docker\.io/v2/library/([a-z0-9][a-z0-9._-]*)/manifests/", re.IGNORECASE)
# Words that say the refusal really is about credentials, whatever the name looks like.
_AUTH_DETAIL = re.compile(r"token|expired|permission|credential|authorization failed|"
                          r"authentication required|unauthorized", re.IGNORECASE)
# Details a registry adds only when the refusal really concerns the caller's credentials;
# distribution's default texts ("requested access to the resource is denied", "authentication
# required") are what Docker Hub answers for a repository that does not exist too.
# (Docker Hub's token endpoint answers insufficient_scope, "authorization failed", for both too.)
_SPECIFIC_AUTH = re.compile(r"token|expired|permission|credential|incorrect|"
                            r"invalid username|password", re.IGNORECASE)
# A Docker Hub repository named in the refusal: NAMESPACE/NAME with no registry host in front
# (a first component without '.' or ':' is not a host, per the reference grammar), or
# containers/image's spelled-out docker.io/NAMESPACE/NAME.
_HUB_NAME = re.compile(r"pull access denied for (?!localhost/)([a-z0-9_-]+/[a-z0-9._/-]+)[\s,]|"
                       r"(?:manifest \S+ in |failed to resolve (?:reference \\?\"?|source metadata for ))docker\.io/((?!library/)"
                       r"[a-z0-9_-]+/[a-z0-9._/-]+)", re.IGNORECASE)
# Go crypto/x509 HostnameError: "certificate is valid for A, not B" / "... but wanted to match B"
_CERT_WANTED = re.compile(r"certificate is valid for .{0,300}?, not ([A-Za-z0-9.-]+)|wanted to match ([A-Za-z0-9.-]+)",
                          re.IGNORECASE)
# Every URL in the text with its scheme, host and port (nested requests: the token URL, a CDN).
_URLS = re.compile(r"(https?):/+(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d+))?(?=[/\"'\\\s:?]|$)",
                   re.IGNORECASE)
_DIALED = re.compile(r"dial tcp (?!lookup)(?:\[([^\s\]]+)\]|([^\s:\[]+)):(\d+)", re.IGNORECASE)
_PROXY_PORTS = frozenset(("3128", "3129", "8118", "8888", "7890", "1080", "10808", "10809", "8080"))
_PRIVATE_V4 = re.compile(r"^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.)\d+\.\d+(?:\.\d+)?$")
# The far end of an established connection, as Go's net.OpError prints it ("read tcp L->R:PORT").
_PEER = re.compile(r"(?:read|write) tcp[46]? \S+?->\[?[^\s\]]+?\]?:(\d+):", re.IGNORECASE)
_DOCKER_POOL = re.compile(r"^172\.(?:1[7-9]|2\d|3[01])\.")
_LOOPBACK = re.compile(r"^(?:127\.|0\.0\.0\.0$|::1$|::$)")
# docker pull's progress lines: the pull was already transferring layers
# (capitalised as docker prints them; pasted terminals glue them: "WaitingDownloading")
_PROGRESS = re.compile(r"Downloading|Download complete|Pull complete|Extracting|Verifying Checksum|"
                       r"(?<![\d.])\d[\d.]*[kMG]B/\d[\d.]*[kMG]B")
_LOOKUP_NAME = re.compile(r"lookup ([A-Za-z0-9.-]+\.[A-Za-z]{2,})(?: on |: )", re.IGNORECASE)
# The resolver Go asked ("lookup NAME on ADDR:53"). Some addresses are a forwarder that a VM or
# container runtime puts between the daemon and the real resolver: Docker Desktop's VM
# (192.168.65.0/24 by default), VirtualBox NAT's DNS proxy (10.0.2.3, docker-machine, Vagrant),
# dockerd's embedded DNS inside a container (127.0.0.11: dind, CI runners), podman machine's
# gvproxy (192.168.127.1), lima (192.168.5.3), a NAT gateway of WSL2 or a docker bridge
# (172.16.0.0/12, .1).
_LOOKUP_ON = re.compile(r"lookup \S+ on \[?([0-9A-Fa-f.:]+?)\]?:53\b", re.IGNORECASE)
# The resolver's own query on the wire (Go's dnsclient dials udp ADDR:53), for texts without
# "lookup NAME on ADDR:53".
_DNS_WIRE = re.compile(r"(?:dial|read|write) udp[46]? (?:\S+->)?\[?([0-9A-Fa-f.:]+?)\]?:53(?![0-9])", re.IGNORECASE)
_VM_FORWARDER = re.compile(r"^(?:192\.168\.65\.\d+|10\.0\.2\.3|127\.0\.0\.11|192\.168\.127\.1|"
                           r"192\.168\.5\.3|172\.(?:1[6-9]|2\d|3[01])\.\d+\.1|"
                           r"10\.96\.0\.10|10\.43\.0\.10|"     # kubeadm's and k3s' cluster DNS
                           # VMware Workstation/Fusion NAT (vmnet8): its NAT device, the guests'
                           # gateway and DNS forwarder, sits at .2 of a 192.168.N.0/24
                           r"192\.168\.\d{1,3}\.2)$")
# Cloud providers' built-in resolvers: Azure's wire server, AWS's link-local Route 53 Resolver
# (also VPC base+2, not recognisable from the address alone), GCP's metadata server.
_CLOUD_RESOLVER = re.compile(r"^(?:168\.63\.129\.16|169\.254\.169\.253|169\.254\.169\.254)$")
# Well-known public resolvers (Google, Cloudflare, Quad9, OpenDNS, 114DNS, AliDNS).
_PUBLIC_RESOLVER = re.compile(r"^(?:8\.8\.8\.8|8\.8\.4\.4|1\.1\.1\.1|1\.0\.0\.1|9\.9\.9\.9|149\.112\.112\.112|"
                              r"208\.67\.22[02]\.22[02]|114\.114\.11[45]\.11[45]|223\.5\.5\.5|223\.6\.6\.6|"
                              r"2001:4860:4860::88(?:88|44)|2606:4700:4700::1111)$")
_PROXY_DIAL = re.compile(r"proxyconnect tcp: dial tcp \[?([^\s\]]+?)\]?:\S*:? ?connect: (?:no route to host|"
                         r"network is unreachable)", re.IGNORECASE)
_PUBLIC_V4 = re.compile(r"^(?!10\.|127\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.)\d+\.\d+\.\d+\.\d+$")
# (The dialed address as any token: quoted errors often redact it: x.x.x.x, [REDACTED], <ip>.)
_DIAL_REFUSED = re.compile(r"dial tcp (?!lookup)\[?[^\s\]]+?\]?:(443|80): (?:(?:connect|getsockopt): connection refused|"
                           r"connectex: no connection could be made because the target machine actively "
                           r"refused it)", re.IGNORECASE)
# The docker client's API call to its daemon (tcp or ssh DOCKER_HOST) cut off with no answer.
_API_REQUEST_BROKE = re.compile(r"(?:post|get|head|delete) \"?https?://([^/\s\"]+)/v1\.\d+/[a-z]+/[^\s\"]*\"?: "
                                r"(?:(?:unexpected )?EOF|read tcp \S+: read: connection reset by peer)\s*$",
                                re.IGNORECASE | re.MULTILINE)
# A registry (in an image reference or an https URL) named with port 80.
_PLAIN_HTTP_PORT_REF = re.compile(r"(?:^|[\s\"'/])[A-Za-z0-9.-]+:80/[a-z0-9]", re.IGNORECASE)
# An https:// URL with no port (the registry named without one) or with :443.
_HTTPS_DEFAULT_PORT = re.compile(r"https:/+[A-Za-z0-9.-]+(?::443)?/", re.IGNORECASE)
_REPO_NOT_FOUND = re.compile(r"repository \S+ not found: does not exist or no pull access", re.IGNORECASE)
_CURRENT_TIME_YEAR = re.compile(r"current time (\d{4})-\d\d-\d\d", re.IGNORECASE)
# A 403 that ends in a registry's short stock message ("denied: access forbidden", "denied: access
# denied"), with nothing that names the caller, its token or its scope.
_DEFAULT_403 = re.compile(r"\bdenied: [A-Za-z' ]{1,40}\W{0,4}$", re.IGNORECASE)
# amazon-ecs-agent agent/api/errormessages/error_messages.go: the agent's augmented
# CannotPullContainerError texts and the cause each names.
_ECS_HINT = re.compile(r"The task can.t pull the image\. Check (whether the image exists|that the role has "
                       r"the permissions|your network configuration)", re.IGNORECASE)
_ECS_HINTS = {
    "whether the image exists": ("reference", "The registry's plain 'denied' is ECR's answer for a "
                                 "repository or tag that does not exist (or a typo in the image URI)."),
    "that the role has the permissions": ("auth", "The task execution role lacks ecr:BatchGetImage "
                                          "(or the repository policy refuses it)."),
    "your network configuration": ("reachability", "The task has no way out to the registry: a private "
                                   "subnet without a NAT gateway or ECR VPC endpoints, or a public "
                                   "subnet without a public IP."),
}
_ANY_HOST = re.compile(r"https?:/+[^/\s\"'\\]+", re.IGNORECASE)
# An object store's own XML refusal (S3 and its clones: <Error><Code>AccessDenied</Code>), and
# the message S3 gives when a presigned URL's time has run out.
_STORE_ACCESS_DENIED = re.compile(r"<Code>\s*AccessDenied\s*</Code>", re.IGNORECASE)
_STORE_EXPIRED = re.compile(r"Request has expired|<Code>\s*(?:ExpiredToken|RequestTimeTooSkewed)\s*</Code>",
                            re.IGNORECASE)
# ECR's registry host, and a request for an ECR token (the kubelet's in-tree provider,
# aws_credentials.go, the ecr-login helper, the AWS SDK's GetAuthorizationToken) or to the ECR
# API endpoint that serves them.
_ECR_REGISTRY = re.compile(r"\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com", re.IGNORECASE)
_ECR_TOKEN_REQUEST = re.compile(r"ECR authorization token|GetAuthorizationToken|api\.ecr\.[a-z0-9-]+\.amazonaws\.com|"
                                r"ecr-login", re.IGNORECASE)
# Progress lines that docker, podman/skopeo and the RHEL docker print while a pull runs.
# (Matched at the end of the text: a soft-wrap rejoin may have glued the lines together.)
_PULL_PROGRESS_END = re.compile(r"(?:^|\s)(?:\S+: )?(?:Trying to pull(?: repository)? \S+|\S+: Pulling from \S+|"
                                 r"Pulling from \S+|Pulling fs layer|Waiting|Downloading\b.*|"
                                 r"Verifying Checksum|Download complete|Already exists|"
                                 r"Pulling (?:image|repository) \S+|Getting image source signatures|"
                                 r"Copying blob \S+.*)\s*(?:\.\.\.)?\s*$", re.IGNORECASE)
# Any word of an error: a paste that has none ended while the pull was still running.
_ERROR_WORD = re.compile(r"error|fail|denied|unauthori[sz]ed|forbidden|not found|invalid|refused|timeout|"
                         r"timed out|\beof\b|unknown|cannot|can't|no such|unable|exceeded|reset|"
                         r"unreachable|no route|\bexit\b", re.IGNORECASE)

_TAG = re.compile(r"<[^<>]{0,400}>")
_TITLE = re.compile(r"<title>\s*(.{1,120}?)\s*</title>|<h1>\s*(.{1,120}?)\s*</h1>", re.IGNORECASE | re.DOTALL)
_HTTP_STATUS = re.compile(r"error parsing http (\d{3}) response body|\b(\d{3}) (?:forbidden|not found|"
                          r"unauthorized|bad gateway|service unavailable|request time-? ?out)",
                          re.IGNORECASE)


def _unescape(text: str) -> str:
    """Error bodies arrive Go-quoted (\\n, \\"), sometimes twice; HTML entities too."""
    for _ in range(2):
        text = text.replace('\\\\', '\\').replace('\\"', '"').replace("\\r", "").replace("\\n", "\n")
    return html.unescape(text)


def _html_title(text: str) -> Optional[str]:
    """The title (or first h1) of an HTML body embedded in an error, tags stripped."""
    m = _TITLE.search(_unescape(text))
    if not m:
        return None
    title = " ".join(_TAG.sub(" ", m.group(1) or m.group(2)).split())
    return title[:100] or None


def _variants(text: str) -> List[str]:
    """The text, and the text with HTML tags stripped (block pages name their vendor in
    prose, not in markup)."""
    out = [text]
    if "<" in text:
        stripped = " ".join(_TAG.sub(" ", _unescape(text)).split())
        if stripped and stripped != text:
            out.append(stripped)
    return out


def _matched_classes(text: str) -> List[str]:
    """Classes matched by any line or by the whole text (messages wrap)."""
    ids: List[str] = []
    chunks: List[str] = []
    for variant in _variants(text):
        chunks += [variant] + variant.splitlines()
    for chunk in chunks:
        for cid in classify(chunk):
            if cid not in ids:
                ids.append(cid)
    # a class's `refines` holds across the chunks too: "403 Forbidden" in an HTML page's title
    # (one chunk) is the page's status, not a registry's refusal, once the page is recognised
    refined = {r for cid in ids for r in _BY_ID[cid].refines}
    return [cid for cid in ids if cid not in refined]


_LOG_COUNT = re.compile(r"^daemon_log\.counts\.([\w-]+)$")


def _other_log_error(finding, matched: Sequence[str]) -> bool:
    """A daemon-log finding counts error classes: it supports this error only when it
    counted one of the classes the text matched (an expired certificate in the log says
    nothing about an unknown authority, though both are `tls`)."""
    if not str(finding.rule).startswith("logs."):
        return False
    counted = {m.group(1) for e in (finding.evidence or []) if isinstance(e, dict)
               for m in [_LOG_COUNT.match(str(e.get("fact", "")))] if m}
    return bool(counted) and bool(matched) and not counted & set(matched)


def _hosts_by_category(snapshot: Optional[RunResult], hosts: Optional[Sequence[str]] = None,
                       matched: Sequence[str] = ()) -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """Per category: the hosts whose findings show it, and "host: rule (facts)" lines that
    say which facts did."""
    hosts_of: Dict[str, List[str]] = {}
    facts_of: Dict[str, List[str]] = {}
    if snapshot is None:
        return hosts_of, facts_of
    for f in snapshot.findings:
        if f.severity not in ("critical", "high", "medium") or (hosts and f.host not in hosts) \
                or _other_log_error(f, matched):
            continue
        showing = hosts_of.setdefault(f.category, [])
        if f.host not in showing:
            showing.append(f.host)
        names = [e.get("fact") for e in (f.evidence or [])
                 if isinstance(e, dict) and isinstance(e.get("fact"), str)]
        line = f"{f.host}: {f.rule}" + (f" ({', '.join(names[:3])})" if names else "")
        if len(facts_of.setdefault(f.category, [])) < 10 and line not in facts_of[f.category]:
            facts_of[f.category].append(line)
    return hosts_of, facts_of


def explain(text: str, snapshot: Optional[RunResult] = None,
            hosts: Optional[Sequence[str]] = None) -> List[Cause]:
    """Likely causes of the error `text`, most likely first; never empty: a text no class
    recognises gets low-confidence guesses from its words (Cause.generic).

    With a snapshot, findings on its hosts raise a cause, and facts that rule a cause out
    on every host in scope (`hosts`, default all audited ones) lower it."""
    text = _rejoined((text or "")[-PASTE_CAP:])
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

    inner = unwrap(text).inner
    matched = _matched_classes(inner)
    matched += [cid for cid in _matched_classes(text)
                if cid not in matched and not (matched and _BY_ID[cid].wrapper)]
    matched = [cid for cid in matched if cid not in {r for m in matched for r in _BY_ID[m].refines}]
    for cid in matched:
        cls = _BY_ID[cid]
        base = TIER_CONFIDENCE.get(cls.tier, 0.3)
        add(cls.category, base, _with_quote(cls.why, text, cid), "; ".join(cls.check), cls.fix, cid)
        for i, related in enumerate(cls.related):
            guide = CATEGORY_GUIDE[related]
            add(related, base * RELATED_FACTOR * (1 - RELATED_DECAY * i),
                guide[0], guide[1], guide[2], cid)
        for category, conf, why in ALTERNATIVES.get(cid, ()):
            guide = CATEGORY_GUIDE[category]
            add(category, conf, why, guide[1], guide[2], cid)
    for category, conf, why, cid in _context_causes(text, matched) + _phase_causes(inner, matched, text):
        guide = CATEGORY_GUIDE[category]
        add(category, conf, why, guide[1], guide[2], cid)
    stalled = not matched and _stalled_pull(text)
    if stalled:
        for category, conf, why in _STALL_CAUSES:
            guide = CATEGORY_GUIDE[category]
            add(category, conf, why, guide[1], guide[2], "pull-stalled")
    if all(_BY_ID[cid].wrapper for cid in matched):
        # nothing but a wrapper (or nothing) recognised: guesses from the inner text's words
        # (the wrapper's "Failed to pull image", "500 Server Error" say nothing)
        for cause in generic_causes(_without_wrappers(inner if inner.strip() else text, matched)):
            if (matched and not cause.words) or stalled:
                # a bare prior below all the wrapper says; a stalled pull's words ("layer",
                # "Pulling") are its progress lines', not clues
                cause.confidence = round(cause.confidence * 0.3, 3)
            causes.setdefault(cause.category, cause)

    shown, facts = _hosts_by_category(snapshot, hosts, matched)
    for cause in causes.values():
        cause.hosts = shown.get(cause.category, [])
        cause.facts = facts.get(cause.category, [])
        if cause.hosts:
            cause.confidence = min(0.99, cause.confidence + SNAPSHOT_BONUS)
    against = ruled_out(inner, matched, snapshot, hosts) if snapshot is not None else {}
    for category, reason in against.items():
        cause = causes.get(category)
        if cause is not None:
            cause.confidence = round(cause.confidence * LOWER_FACTOR, 3)
            cause.lowered_by = reason
    supported = raised(inner, matched, snapshot, hosts) if snapshot is not None else {}
    for category, (reason, weight) in supported.items():
        cause = causes.get(category)
        if cause is not None:
            cause.confidence = round(min(0.99, cause.confidence + EVIDENCE_BONUS * weight), 3)
            cause.raised_by = reason
    return sorted(causes.values(), key=lambda c: (-c.confidence, c.category))


# A pull that printed its progress and then nothing: it hangs. A hang is not a refusal (no
# credentials or name problem answers with silence); it is the field guide's "pulls start, then
# stall" (5.3): large packets lost on a path with a smaller MTU, then a path or proxy that
# accepts the connection and never answers.
_STALL_CAUSES = (
    ("mtu", 0.4, "The pull started and then printed nothing more, no error at all: a transfer that "
                 "hangs is how large packets lost on a path with a smaller MTU (VM, VPN, overlay) look."),
    ("reachability", 0.35, "The pull hangs without an error: a registry or path that accepts the "
                           "connection but does not answer."),
    ("proxy", 0.3, "The pull hangs without an error: a proxy (or a network that needs one) that holds "
                   "the connection without answering."),
)


def _stalled_pull(text: str) -> bool:
    """The text is a pull's progress output that ends without any error: the pull hung."""
    if not (text or "").strip() or _ERROR_WORD.search(text):
        return False
    return bool(_PULL_PROGRESS_END.search(text))


AMBIGUOUS_MARGIN = 0.1      # the first cause leads the second by less than this


def ambiguity(causes: Sequence[Cause]) -> Optional[str]:
    """A sentence saying the text does not single a cause out, or None.

    Timeouts, resets and cut-off transfers are printed alike by a firewall, a missing proxy,
    an unreachable registry and a small path MTU: ranking them is honest only with the
    margin shown, and the checks (not the wording) decide."""
    if len(causes) < 2 or causes[0].generic:
        return None
    first, second = causes[0], causes[1]
    if first.confidence >= 0.7 or first.confidence - second.confidence >= AMBIGUOUS_MARGIN:
        return None
    close = [c for c in causes[:4] if first.confidence - c.confidence < 2 * AMBIGUOUS_MARGIN]
    return ("The text alone does not single out a cause: " +
            ", ".join(f"{c.category} ({c.confidence:.0%})" for c in close) +
            " print the same error; their checks tell them apart.")


def _rejoined(text: str) -> str:
    """The text with a terminal's or editor's soft line wraps undone (the lines' lengths say
    whether it was wrapped); of two possible joins the likelier one, unless the other reads as
    more precise error phrases."""
    def reading(candidate: str) -> int:      # precise classes count more than symptoms
        return sum(4 - _BY_ID[cid].tier for cid in _matched_classes(candidate))

    joins = soft_wrap_joins(text)
    if not joins:
        return text
    return max(joins, key=lambda j: (reading(j), -joins.index(j)))


def _without_wrappers(text: str, matched: Sequence[str]) -> str:
    """The text without the phrases of the wrapper classes it matched: their words ("failed to
    resolve reference", "pulling image") name a stage, not a cause, and must not count as clues."""
    for cid in matched:
        cls = _BY_ID[cid]
        cls.matches(text)       # compiles the class's regexes on first use
        for rx in cls.regexes:
            text = rx.sub(" ", text)
    return text


def _with_quote(why: str, text: str, cid: str) -> str:
    """The class's explanation plus what the page said, for non-registry answers."""
    title = _html_title(text) if _BY_ID[cid].category in ("proxy", "mtu") else None
    return f"{why} (the page says: \"{title}\")" if title else why


def _dial_target_causes(text: str, matched: Sequence[str]) -> List[Tuple[str, float, str, str]]:
    """What the dialed address says next to the URLs: Go before 1.9 had no "proxyconnect" op,
    so a failed dial to the proxy printed the registry's URL with the proxy's address or name;
    a public registry's name dialed at a loopback address was resolved wrongly; and a target
    inside dockerd's own address pools is routed into a docker bridge."""
    if not matched:
        return []
    out: List[Tuple[str, float, str, str]] = []
    cid = next((c for c in matched if not _BY_ID[c].wrapper), matched[0])
    dial = _DIALED.search(text)
    address, port = ((dial.group(1) or dial.group(2)), dial.group(3)) if dial else ("", "")
    if dial and _DOCKER_POOL.match(address) and {"no-route-to-host", "network-unreachable", "io-timeout"} & set(matched):
        # dockerd's default bridge and address pools (moby libnetwork/ipamutils:
        # 172.17.0.0/16 .. 172.28.0.0/14): a target inside them is routed into a docker bridge
        # where nothing answers, so a route error (or silence) is the daemon's network overlap.
        route = bool({"no-route-to-host", "network-unreachable"} & set(matched))
        out.append(("daemon", 0.55 if route else 0.42, f"{address} lies in the address range dockerd "
                    "gives its own bridges (172.17.0.0/16 onwards): if docker0 or a compose network "
                    "took that range, the host routes the connection into the bridge; set \"bip\" "
                    "and \"default-address-pools\" in daemon.json to a free range.", cid))
    proxy_dial = _PROXY_DIAL.search(text)
    if proxy_dial and not _PUBLIC_V4.match(proxy_dial.group(1)) and not _DOCKER_POOL.match(proxy_dial.group(1)):
        # The proxy serves the whole network, so a route error to it is local to this host: a
        # docker bridge (docker0's 172.17.0.0/16, compose networks from the default pools) that
        # took the range the proxy lives in captures the route (the field guide's "works on one
        # host but not another").
        out.append(("daemon", 0.47, "The proxy every other host uses has no route from this one: if "
                    "docker0 or a compose network took the proxy's address range, the route goes into "
                    "the bridge; compare ip route with the proxy's address and set \"bip\" / "
                    "\"default-address-pools\" in daemon.json.", cid))
    if "proxyconnect" in text:
        return out
    urls = [(m.group(1).lower(), (m.group(2) or m.group(3)).lower(),
             m.group(4) or ("443" if m.group(1).lower() == "https" else "80")) for m in _URLS.finditer(text)]
    peer = _PEER.search(text)
    if peer and peer.group(1) in _PROXY_PORTS and peer.group(1) not in {p for _, _, p in urls} \
            and {"connection-reset", "unexpected-eof", "io-timeout", "broken-pipe"} & set(matched):
        # The connection that broke was to a web proxy's usual port: the request went through
        # the daemon's proxy, and the proxy cut it (or was cut off from the registry).
        out.append(("proxy", 0.44 if peer.group(1) == "8080" else 0.6, f"The connection that broke was "
                    f"to port {peer.group(1)}, a web proxy's usual port: the proxy the daemon goes "
                    "through ended it (its limits, its own upstream, an inspecting policy).", cid))
    if not urls:
        if dial and port in _PROXY_PORTS and {"connection-refused", "io-timeout", "connection-reset",
                                               "no-route-to-host", "network-unreachable"} & set(matched):
            # No request URL, so the port alone says what was dialed: registries listen on 443,
            # 80, 5000 and the like, while 3128 (squid), 8118 (privoxy), 8888 (tinyproxy), 7890
            # (clash), 1080 (socks), 10809 (v2ray) are web proxies' defaults. 8080 is both a
            # proxy's and a registry's, so it only puts the proxy among the candidates.
            out.append(("proxy", 0.44 if port == "8080" else 0.6, f"The connection that failed was to "
                        f"port {port}, a web proxy's usual port: the daemon's HTTP(S)_PROXY points at "
                        "a proxy that is down, moved or not reachable from this host.", cid))
        return out
    if dial and port not in {p for _, _, p in urls}:
        out.append(("proxy", 0.85, f"The request went to {urls[0][1]} on port {urls[0][2]}, but the "
                    f"connection that failed was to port {port}: that is the proxy the "
                    "daemon is configured with (Go before 1.9 reported a failed proxy dial this way).",
                    cid))
    elif dial and _LOOPBACK.match(address) and not any(_LOOPBACK.match(h) or h == "localhost"
                                                             for _, h, _ in urls):
        out.append(("dns", 0.8, f"{urls[0][1]} was dialed at {address}: the name resolved to "
                    "a loopback address (an /etc/hosts entry, a DNS filter or sinkhole), not to the "
                    "registry.", cid))
    elif dial and _PRIVATE_V4.match(address) and not _DOCKER_POOL.match(address) \
            and all(PUBLIC_REGISTRY_HOSTS.search(" " + h + " ") and not h.endswith("amazonaws.com")
                    for _, h, _ in urls) and not _CLOUD_TASK.search(text):
        # Public registries (and their CDNs) only have public addresses, and a proxy's address
        # shows under a port of its own (above) or after "proxyconnect": a private address
        # dialed on the registry's own port is what the name resolved to (an /etc/hosts entry,
        # split-horizon or a filtering resolver, a router answering with its own address).
        # Not ECR: its VPC interface endpoints give private addresses by design.
        out.append(("dns", 0.62, f"{urls[0][1]} is a public registry with public addresses only, but "
                    f"the daemon dialed {address}: the name resolved to a private address (an "
                    "/etc/hosts entry, a split-horizon or filtering resolver, a router's DNS answering "
                    "with itself).", cid))
    lookup = _LOOKUP_NAME.search(text)
    looked = lookup.group(1).lower() if lookup else ""
    # (loosely: quoted texts are often redacted by hand, one name at a time)
    if looked and not any(looked in h or h in looked for _, h, _ in urls):
        out.append(("proxy", 0.8, f"The name that failed to resolve, {lookup.group(1)}, is none of the "
                    "hosts requested: it is the proxy's (or a mirror's) name from the daemon's "
                    "configuration.", cid))
    return out


# Domains each big registry operator serves its registries, blob stores and assets from.
_OPERATORS = (
    ("github", ("github.com", "githubassets.com", "githubusercontent.com", "ghcr.io", "github.io")),
    ("docker", ("docker.io", "docker.com")),
    ("google", ("google.com", "googleapis.com", "gcr.io", "pkg.dev", "gstatic.com", "googleusercontent.com")),
    ("amazon", ("amazonaws.com", "amazon.com", "cloudfront.net", "ecr.aws")),
    ("microsoft", ("microsoft.com", "azurecr.io", "windows.net", "azure.com", "azureedge.net")),
    ("red hat", ("quay.io", "redhat.com", "redhat.io", "openshift.com")),
)
_CERT_NAMES = re.compile(r"certificate is valid for (.{1,300}?), not ", re.IGNORECASE)


def _operator(host: str) -> str:
    host = host.lower().lstrip("*.").rstrip(".")
    return next((op for op, domains in _OPERATORS
                 if any(host == d or host.endswith("." + d) for d in domains)), "")


def _same_operator(phrase: str, wanted: str) -> bool:
    """Every name in Go's "certificate is valid for A, B, not C" belongs to C's operator."""
    m = _CERT_NAMES.search(phrase)
    names = [n.strip() for n in m.group(1).split(",")] if m else []
    op = _operator(wanted)
    return bool(op and names) and all(_operator(n) == op for n in names)


def _context_causes(text: str, matched: Sequence[str]) -> List[Tuple[str, float, str, str]]:
    """Causes that depend on more than the phrase: who answered, with what status."""
    out: List[Tuple[str, float, str, str]] = []
    clock = next((cid for cid in matched if cid in _CLOCK_CLASSES), None)
    if clock:
        public = PUBLIC_REGISTRY_HOSTS.search(text)
        if public or not _ANY_HOST.search(text):
            where = (f"{public.group(0).strip(chr(34) + chr(39) + '/@. ')} renews its certificates long "
                     "before they expire" if public else "no registry is named, and most such "
                     "reports turn out to be the local clock")
            out.append(("time", 0.92, f"'certificate has expired or is not yet valid': {where}; "
                        "a host clock far off (no NTP, a VM resumed from sleep or a snapshot, a "
                        "board without RTC battery) makes a valid certificate look expired or "
                        "not yet valid.", clock))
    if "x509-unknown-authority" in matched:
        public = PUBLIC_REGISTRY_HOSTS.search(text)
        if public and not _CLOUD_TASK.search(text):
            # A public registry's chain ends at a root every CA bundle carries: an unknown
            # authority in front of it is almost always a TLS-inspecting proxy, antivirus or
            # VPN re-signing the traffic (the field guide's "MITM TLS inspection").
            out.append(("proxy", 0.8, f"{public.group(0).strip(chr(34) + chr(39) + '/@. ')} is "
                        "signed by a public CA that every trust store carries: an 'unknown "
                        "authority' in front of it means something re-signed the connection (a "
                        "TLS-inspecting proxy, antivirus or VPN); trust its CA or bypass it.",
                        "x509-unknown-authority"))
    if "pull-access-denied" in matched and not _AUTH_DETAIL.search(text):
        m = _DENIED_NAME.search(text) or _LIBRARY_NAME.search(text)
        name = m.group(1).strip("'\"") if m else ""
        if name and not re.search(r"[/.:]", name):
            out.append(("reference", 0.8, f"'{name}' has no namespace, so the registry looked for "
                        f"the official image library/{name}, which does not exist: an image that "
                        "only exists locally (build it first; compose needs build:), a typo, or a "
                        "missing namespace (team/app).", "pull-access-denied"))
    refusal = next((c for c in ("unauthorized", "forbidden", "registry-denied-terse") if c in matched), None)
    official = _OFFICIAL_REF.search(text) if refusal and "pull-access-denied" not in matched else None
    if official and not _SPECIFIC_AUTH.search(text):
        # Docker Hub's official images (docker.io/library/NAME) are public to everyone: a refusal
        # for one, with nothing said about the caller's credentials, means there is no such
        # official image (mirrors of Docker Hub refuse unknown names the same way).
        out.append(("reference", 0.8, f"Official images (docker.io/library/...) are public to everyone, "
                    f"so a refusal for library/{official.group(1) or official.group(2)} means no such official image exists: "
                    "a typo, a tag glued to the name, or a missing namespace (team/app).", refusal))
    if "pull-access-denied" in matched and _REPO_NOT_FOUND.search(text) and not _AUTH_DETAIL.search(text):
        out.append(("reference", 0.8, "'repository ... not found: does not exist or no pull "
                    "access' is what registries answered for a repository that does not exist "
                    "(a typo, a missing namespace, an image never pushed).", "pull-access-denied"))
    hub = _HUB_NAME.search(text) if "pull-access-denied" in matched else None
    if hub and not _SPECIFIC_AUTH.search(text):
        out.append(("reference", 0.82, f"Docker Hub answers '{(hub.group(1) or hub.group(2))}' with "
                    "its default refusal, which it gives alike for a repository that does not exist "
                    "and a private one the caller may not read: with no word about credentials, a "
                    "misspelled or never-pushed repository is the likelier cause.", "pull-access-denied"))
    public_dns = (_LOOKUP_ON.search(text) or _DNS_WIRE.search(text)) if "dns-lookup-failed" in matched else None
    if public_dns and _PUBLIC_RESOLVER.match(public_dns.group(1)) and re.search(r"i/o timeout|timed out", text, re.I):
        # A public resolver answers everyone: a query to it that gets nothing back was dropped on
        # the way, as networks that allow DNS only through their own resolvers do (the field
        # guide's "ensure outbound UDP/TCP 53 is allowed").
        out.append(("firewall", 0.55, f"The resolver asked, {public_dns.group(1)}, is a public one that "
                    "answers everyone: a query to it that times out was dropped on the way, as networks "
                    "that only let DNS out through their own resolvers do (allow udp+tcp/53 to it, or "
                    "use the network's resolver).", "dns-lookup-failed"))
    if {"unauthorized", "forbidden"} & set(matched) and _DEFAULT_403.search(text) \
            and not _SPECIFIC_AUTH.search(text) and "pull-access-denied" not in matched:
        # distribution's makeError turns any 403 into "denied: <message>"; with the registry's
        # default message and nothing about the caller, registries (GitLab, ghcr.io, Docker Hub)
        # answer it for a repository that does not exist as well, so as not to reveal which exist.
        out.append(("reference", 0.5, "A registry's stock refusal (such as 'denied: access forbidden') "
                    "is also its answer for a repository path that does not exist: check the path "
                    "(group/project/image) before the permissions.",
                    "forbidden" if "forbidden" in matched else "unauthorized"))
    hint = _ECS_HINT.search(text)
    if hint and matched:
        # The ECS agent (amazon-ecs-agent agent/api/errormessages) prefixes its own diagnosis,
        # chosen from the registry's answer: it has seen more than the text we get.
        category, why = _ECS_HINTS[hint.group(1).lower()]
        out.append((category, 0.85, "The ECS agent matched the registry's answer and says: "
                    f"'{hint.group(0)}'. {why}", matched[0]))
    lookup = _LOOKUP_NAME.search(text) if "no-such-host" in matched else None
    resolver = _LOOKUP_ON.search(text)
    forwarder = resolver.group(1) if resolver and _VM_FORWARDER.match(resolver.group(1)) else ""
    if lookup and forwarder and "proxyconnect" not in text:
        # The answer came from a VM's or container's DNS forwarder, not from the network's own
        # resolver: such forwarders keep a stale upstream after a network or VPN change, and do
        # not see the host's hosts file or split-DNS zones.
        out.append(("dns", 0.82, f"The resolver that said '{lookup.group(1)} does not exist' is "
                    f"{forwarder}, the DNS forwarder of the VM or container the daemon runs in "
                    "(Docker Desktop, VirtualBox NAT, dockerd's embedded DNS, WSL2): it forwards to a "
                    "stale or unreachable upstream (after a VPN or network change) or misses the "
                    "host's own names; restart it or give the daemon \"dns\" in daemon.json.",
                    "no-such-host"))
    elif lookup and resolver and _CLOUD_RESOLVER.match(resolver.group(1)) and "proxyconnect" not in text:
        # The cloud's own resolver (Azure's 168.63.129.16, AWS's 169.254.169.253, GCP's metadata
        # server) resolves public names for every VM; a 'does not exist' from it comes from a
        # private zone or resolver rule attached to the network that overrides the name.
        out.append(("dns", 0.8, f"The resolver that said '{lookup.group(1)} does not exist' is "
                    f"{resolver.group(1)}, the cloud provider's own resolver, which resolves public "
                    "names for every VM: a private DNS zone or resolver rule linked to this network "
                    "(Azure Private DNS, a Route 53 private hosted zone or forwarding rule, Cloud DNS "
                    "private zone) overrides the name.", "no-such-host"))
    elif lookup and resolver and PUBLIC_REGISTRY_HOSTS.search(" " + lookup.group(1) + " ") \
            and "proxyconnect" not in text:
        # NXDOMAIN ("no such host" is Go's errNoSuchHost, an authoritative 'no', not a timeout)
        # for a name that exists world-wide: the resolver only knows an internal zone, the
        # resolver of networks where only a proxy goes out. Only when Go's own resolver names the
        # server that answered ("on ADDR:53"): through libc (cgo, macOS, Windows) "no such host"
        # is also what a host without any working resolver or network gets.
        out.append(("proxy", 0.77, f"{lookup.group(1)} exists for everyone: a resolver that says it "
                    "does not is one that serves only an internal zone, as in networks where only "
                    "the proxy resolves and reaches outside names; the daemon needs HTTP(S)_PROXY.",
                    "no-such-host"))
    refused = _DIAL_REFUSED.search(text) if "connection-refused" in matched else None
    if refused and PUBLIC_REGISTRY_HOSTS.search(text) and "proxyconnect" not in text \
            and not _CLOUD_TASK.search(text):
        # A public registry always listens on 443: a TCP reset to the SYN comes from something
        # on the path (REJECT --reject-with tcp-reset, a transparent filter), or the name
        # resolved to a sinkhole address.
        out.append(("firewall", 0.52, "A public registry listens on port " + refused.group(1) +
                    " for everyone: a refused connection to it is a firewall rejecting the "
                    "connection (REJECT with tcp-reset) or a filter on the path.", "connection-refused"))
    if refused and refused.group(1) == "443" and "proxyconnect" not in text \
            and not PUBLIC_REGISTRY_HOSTS.search(text) and _HTTPS_DEFAULT_PORT.search(text):
        # docker tries a registry named without a port on HTTPS, port 443, unless the registry
        # is in insecure-registries (then it falls back to plain HTTP): a self-hosted registry
        # that serves only HTTP (on 80, or behind its own port) refuses exactly this connection.
        out.append(("tls", 0.43, "A self-hosted registry named without a port is tried on HTTPS (443) "
                    "first: one that serves plain HTTP only refuses it; list it in daemon.json's "
                    "\"insecure-registries\" (or give it a certificate) and restart dockerd.",
                    "connection-refused"))
        # ...and the refusal is a RST: a REJECT --reject-with tcp-reset rule (on this host or on
        # the path) sends the same one, so the firewall stays ahead of a proxy, which a direct
        # dial did not go through.
        out.append(("firewall", 0.39, "A firewall rule that REJECTs with a TCP reset (on this host: "
                    "iptables/nft OUTPUT; or on the path) refuses the connection exactly as a closed "
                    "port does.", "connection-refused"))
    api = _API_REQUEST_BROKE.search(text)
    if api:
        # The request that broke is the docker client's own call to the daemon's API
        # (POST /v1.NN/images/create is how `docker pull` asks the daemon): the link between
        # the client and its daemon failed, before any registry was involved.
        out.append(("daemon", 0.6, f"The request that failed is the docker client's own API call to the "
                    f"daemon at {api.group(1)}, not the daemon's request to a registry: the daemon (or "
                    "whatever listens on DOCKER_HOST's port, e.g. TLS on 2376 spoken to as plain 2375) "
                    "closed the connection; check DOCKER_HOST, the daemon's log and its TLS settings.",
                    matched[0] if matched else "daemon"))
    if _PLAIN_HTTP_PORT_REF.search(text) and not re.search(r"http://", text, re.IGNORECASE):
        # docker and podman speak HTTPS to every registry not marked insecure, whatever its
        # port: a registry on port 80 serves plain HTTP, so the handshake fails in whatever
        # way the HTTP server answers it (an "HTTP response to HTTPS client", an EOF, garbage).
        out.append(("tls", 0.6, "The registry is addressed on port 80, where registries serve plain "
                    "HTTP, but the client speaks HTTPS to any registry not marked insecure: list it "
                    "in daemon.json's \"insecure-registries\" (podman: registries.conf insecure=true "
                    "or --tls-verify=false) or serve it over TLS.", matched[0] if matched else "tls"))
    if re.search(r"(?:^|: )(?-i:Unauthorized)\W{0,4}$", text.strip()) and "proxy-connect-status" not in matched:
        # Go prints a proxy's 401 to CONNECT as the bare capitalised status text; a registry's
        # 401 arrives as distribution's lowercase "unauthorized: ..." instead.
        out.append(("proxy", 0.5, "A bare capitalised 'Unauthorized' is how Go reports a proxy that "
                    "answered the CONNECT with 401 (a registry says 'unauthorized: ...'): the proxy "
                    "may want credentials in HTTPS_PROXY.", matched[0] if matched else "unauthorized"))
    wanted = _CERT_WANTED.search(text) if "x509-hostname-mismatch" in matched else None
    name = ((wanted.group(1) or wanted.group(2)) if wanted else "").rstrip(".")   # a sentence's full stop
    same_operator = bool(wanted and wanted.group(1) and _same_operator(wanted.group(0), name))
    if name and ".privatelink." in name.lower():
        # Azure private endpoints: NAME.privatelink.azurecr.io (and privatelink.* of other
        # services) is only the DNS alias the login server NAME.azurecr.io resolves through;
        # the certificate names the login server, so the image must be named by it.
        out.append(("reference", 0.85, f"{name} is a private endpoint's DNS alias, which the "
                    "registry's certificate does not name: use the registry's login server name "
                    "(without .privatelink) in the image; it resolves to the private endpoint "
                    "through the privatelink DNS zone.", "x509-hostname-mismatch"))
    elif name and same_operator:
        # The certificate names only hosts of the registry's own operator (GitHub's githubassets.com
        # for pkg-containers.githubusercontent.com): its own front end served the wrong certificate.
        # An interceptor shows its own names (its appliance, its portal), not the operator's.
        out.append(("tls", 0.85, f"The certificate {name} presented names other hosts of the same "
                    "operator: the registry's own servers sent a wrong certificate (a misconfigured "
                    "front end or CDN edge), nothing local intercepted it; retry later or report it.",
                    "x509-hostname-mismatch"))
    elif name and PUBLIC_REGISTRY_HOSTS.search(" " + name + " "):
        # A public registry's certificate always names it: a certificate for another name
        # means another server answered (a TLS-inspecting proxy or firewall, a portal, a
        # hijacked DNS answer).
        out.append(("proxy", 0.8, f"{name} always presents a certificate for its own "
                    "name: one issued for another name comes from whatever intercepted the "
                    "connection (a TLS-inspecting proxy or firewall, a captive portal).",
                    "x509-hostname-mismatch"))
    if "tls-remote-error" in matched and re.search(r"remote error: tls: bad certificate", text, re.IGNORECASE):
        public = PUBLIC_REGISTRY_HOSTS.search(text)
        if public and not _CLOUD_TASK.search(text):
            # A public registry asks no client certificate, so it has none to call bad: the
            # alert came from a TLS-inspecting middlebox (the field guide's MITM symptom).
            out.append(("proxy", 0.8, f"{public.group(0).strip(chr(34) + chr(39) + '/@. ')} asks for no "
                        "client certificate: a 'bad certificate' alert on the way to it comes from a "
                        "TLS-inspecting proxy or firewall in the path.", "tls-remote-error"))
    if {"unauthorized", "registry-denied-terse"} & set(matched) and _PROGRESS.search(text) \
            and not _SPECIFIC_AUTH.search(text):
        # The same credentials fetched the manifest and started the layers: they are not wrong.
        # A token that stops being valid mid-pull is a clock (VM/WSL drift) or a pull that
        # outlasts the token.
        out.append(("time", 0.8, "The refusal came after layers had started downloading with the "
                    "same credentials, so they are not wrong: the pull token expired mid-pull, which "
                    "a host clock that jumped or drifted (WSL, a resumed VM) makes happen early.",
                    next(c for c in matched if c in ("unauthorized", "registry-denied-terse"))))
    if "no-matching-manifest" in matched and re.search(r"no matching manifest for windows/", text, re.IGNORECASE):
        # moby picks the platform from the daemon's OS: a Docker Desktop switched to Windows
        # containers asks Linux-only images for windows/amd64.
        out.append(("daemon", 0.5, "The daemon asked for a windows/ variant: Docker Desktop is in "
                    "Windows-containers mode; for Linux images switch it to Linux containers.",
                    "no-matching-manifest"))
    if "daemon-not-running" in matched and re.search(r"daemon at http://docker\b", text, re.IGNORECASE):
        # docker/cli's ssh connection helper names the daemon http://docker(.example.com): the
        # CLI went through ssh, and the remote side could not reach its daemon
        out.append(("ssh", 0.3, "With an ssh:// docker context the CLI names the daemon "
                    "http://docker.example.com: check the ssh leg (ssh HOST docker system dial-stdio) "
                    "as well as the remote daemon.", "daemon-not-running"))
    if "layer-register-failed" in matched and "unexpected-eof" in matched:
        # moby verifies a layer's digest as it downloads it (pull_v2.go, "filesystem layer
        # verification failed") before registering it: a tar that ends early while being
        # extracted was read back from local storage.
        out.append(("disk", 0.5, "The layer's download was verified before extraction, so a tar "
                    "that ends early while being registered was read back short from local storage "
                    "(a full or failing disk, a storage driver problem).", "layer-register-failed"))
    eof = _URL_EOF.search(text) if "http-eof" in matched else None
    if eof and _CDN_HOST.search(eof.group(1)):
        # The registry answered (it sent the blob's CDN address) and the blob host closed the
        # connection before any answer: an SNI/FQDN egress allowlist (Azure Firewall, AWS Network
        # Firewall, a proxy's domain list) that lists the registry but not its blob host.
        out.append(("firewall", 0.8, "The registry answered and redirected to its blob storage host, "
                    "whose connection was closed before any answer: an egress firewall or proxy "
                    "allowlist that lets the registry through but not its blob/CDN host (ACR: "
                    "*.blob.core.windows.net, Docker Hub: production.cloudflare.docker.com, ECR: S3).",
                    "http-eof"))
    if "registry-storage-xml-error" in matched and _STORE_ACCESS_DENIED.search(text):
        if _STORE_EXPIRED.search(text):
            # The registry's presigned blob URL is valid for minutes from its own clock: the
            # store found it expired (or the request's time skewed), which a host clock far off
            # or a pull that stalled long enough makes happen.
            out.append(("time", 0.8, "The object store refused the blob URL as expired: presigned "
                        "URLs live minutes from the registry's clock; a host clock far off (or a stall "
                        "that long) makes them expire.", "registry-storage-xml-error"))
        else:
            # The registry sent a presigned URL it had signed itself, so the store's AccessDenied
            # is not about the pull's credentials: a policy between the host and the store
            # refuses the bucket. AWS documents it for ECR: an S3 gateway endpoint's policy must
            # allow the layer bucket (prod-REGION-starport-layer-bucket); Docker Hub's blobs are
            # in S3 too. A bucket policy limited to VPC endpoints or source IPs refuses alike.
            out.append(("firewall", 0.8, "The object store behind the registry (S3 or alike) answered "
                        "AccessDenied to a blob URL the registry had signed itself: a network policy in "
                        "between refuses that bucket, typically an S3 VPC endpoint policy (or an egress "
                        "allowlist) that does not list the registry's blob bucket.",
                        "registry-storage-xml-error"))
    ecr_net = [c for c in matched if c in ("io-timeout", "request-timeout", "connection-refused",
                                           "no-route-to-host", "network-unreachable", "connection-reset")]
    if ecr_net and _ECR_TOKEN_REQUEST.search(text) and \
            ({"no-basic-auth-credentials", "credential-helper-failed", "unauthorized"} & set(matched)
             or "send request failed" in text.lower()):
        # The ECR token request (to api.ecr.REGION.amazonaws.com) failed on the network, so the
        # pull went out without credentials: the missing credentials are the consequence. Nodes in
        # private subnets reach the ECR API only through a NAT gateway or an ecr.api VPC endpoint,
        # which a security group or NACL can block.
        routed = ecr_net[0] in ("no-route-to-host", "network-unreachable", "connection-refused")
        out.append(("firewall", 0.78 if routed else 0.8, "The request for an ECR token failed on the "
                    "network, so the pull had no credentials to send: a security group or network ACL "
                    "that drops egress to the ECR API endpoint (api.ecr.REGION.amazonaws.com, or its "
                    "VPC endpoint) comes first.", ecr_net[0]))
        out.append(("reachability", 0.8 if routed else 0.78, "The ECR API that hands out the pull token "
                    "could not be reached: a private subnet without a NAT gateway or without the "
                    "ecr.api VPC endpoint (ecr.dkr and S3 alone are not enough).", ecr_net[0]))
    elif "no-basic-auth-credentials" in matched and _ECR_REGISTRY.search(text):
        # On EKS and ECS nodes nobody runs docker login: the kubelet's credential provider (or
        # the agent) fetches an ECR token from the ECR API at each pull, and pulls with no
        # credentials when that API is out of reach (AWS's troubleshooting for EKS nodes in
        # private subnets: the ecr.api endpoint is needed besides ecr.dkr and S3).
        out.append(("reachability", 0.3, "On EKS/ECS nodes the ECR token is fetched from the ECR API at "
                    "pull time: a node that cannot reach api.ecr.REGION.amazonaws.com (no NAT gateway, "
                    "no ecr.api VPC endpoint) pulls with no credentials.", "no-basic-auth-credentials"))
    if _BUILDER_WORKERS.search(text) and {"request-timeout", "io-timeout"} & set(matched):
        # buildx asks its builder (BuildKit in dockerd, a builder container or a remote buildkitd)
        # for its workers before anything else: a timeout there is the connection to the builder,
        # not to a registry. Through a docker context over ssh:// every buildx call opens a new ssh
        # connection (docker/cli's connhelper), and a slow one uses up the call's deadline.
        cid = next(c for c in matched if c in ("request-timeout", "io-timeout"))
        out.append(("daemon", 0.5, "buildx timed out asking its builder for its workers: the builder "
                    "(BuildKit in the docker daemon, a builder container or a remote buildkitd) did not "
                    "answer in time; check docker buildx inspect and the daemon.", cid))
        out.append(("ssh", 0.47, "If the docker context or builder endpoint is ssh://, each buildx call "
                    "opens a new ssh connection, and a slow one outlasts the call's deadline: keep one "
                    "open (ControlMaster auto, ControlPersist in ~/.ssh/config).", cid))
    out += _dial_target_causes(text, matched)
    if {"http-response-to-https-client", "tls-first-record"} & set(matched) and "proxyconnect" not in text:
        cid = "http-response-to-https-client" if "http-response-to-https-client" in matched else "tls-first-record"
        public = PUBLIC_REGISTRY_HOSTS.search(text)
        # A public registry only speaks TLS on 443: plain HTTP there came from something in
        # the path (a transparent proxy, a portal); for a private one it is the registry itself.
        out.append(("proxy", 0.8 if public else 0.3,
                    "Something answered the TLS handshake in plain HTTP" + (
                        f": {public.group(0).strip(chr(34) + chr(39) + '/@. ')} only serves TLS, so it "
                        "was a transparent proxy or portal in the path" if public else
                        ": a plain-HTTP registry, or a transparent proxy or portal in the path"), cid))
    m = _CURRENT_TIME_YEAR.search(text)
    if m and int(m.group(1)) < 2015:
        out.append(("time", 0.95, f"The host says the current time is in {m.group(1)}: its clock "
                    "was never set (no RTC battery, no NTP at boot), so every certificate looks "
                    "not yet valid.", next((c for c in matched if _BY_ID[c].category in ("time", "tls")),
                                           matched[0] if matched else "x509-other")))
    if "html-error-page" in matched:
        m = _HTTP_STATUS.search(_unescape(text))
        status = next((g for g in (m.groups() if m else ()) if g), "")
        if status == "404":
            out.append(("reference", 0.55, "The HTML page is a 404: the registry host or path "
                        "(port, repository, tag) is not what the server serves.", "html-error-page"))
        elif status == "407":
            out.append(("proxy", 0.8, "The HTML page carries a 407 Proxy Authentication "
                        "Required: the proxy in the path wants credentials the daemon's "
                        "HTTPS_PROXY does not carry.", "html-error-page"))
        elif status == "401":
            out.append(("auth", 0.5, "The HTML page carries a 401: credentials are wanted.",
                        "html-error-page"))
        elif status == "403":
            out.append(("reachability", 0.4, "A 403 HTML page from a server that is not the "
                        "registry (a mirror or CDN refusing this client, e.g. by region or IP).",
                        "html-error-page"))
        elif status.startswith("5"):
            out.append(("reachability", 0.5, f"An HTML {status} page: the registry's front end "
                        "or a proxy failed the request.", "html-error-page"))
    return out


# Candidate sets for the ambiguous network errors (round 6). Each symptom can be printed by
# several causes; with no stronger evidence all of the set stays in the top 3, and the text's own
# evidence orders it:
#   dial tcp ADDR:PORT: i/o timeout / connection timed out (the SYN got no answer)
#       firewall (DROP), proxy (a network that only lets its proxy out), reachability (a route to
#       nowhere). A public registry's first request puts the proxy first; a non-standard port the
#       firewall; a cloud task (ECS, Fargate) the firewall then reachability. Never the MTU: the
#       handshake's packets are tiny. A public registry dialed at a private address: dns.
#   connect: connection refused (a RST answered the SYN)
#       a public registry on 443: firewall (REJECT), proxy, reachability; a private registry:
#       reachability (nothing listening), proxy, firewall; a proxy's usual port (3128, 8118, 7890,
#       ...) without a request URL: proxy; a loopback or private address for a public name: dns.
#   connection reset by peer (something acted)
#       first request: proxy, reachability, firewall; mid-transfer on a direct :443 connection
#       (Go names the far end): reachability, firewall (IPS/DPI), mtu; the far end a proxy port: proxy.
#   no route to host: firewall (icmp-host-prohibited REJECT), reachability, proxy.
#   network is unreachable: reachability (no route / IPv6 without a v6 path), proxy, firewall.
#   TLS handshake timeout (TCP connected, the handshake stalled)
#       first request: proxy, reachability, firewall; on the blob CDN after the registry answered:
#       mtu (the certificate flight is the first full-size packets), reachability, firewall (an SNI
#       allowlist without the CDN).
#   unexpected EOF / EOF: first request: proxy, reachability, firewall; mid-transfer: reachability,
#       mtu, proxy.
#   context deadline exceeded / Client.Timeout exceeded while awaiting headers
#       first request: proxy, reachability, firewall, then dns when the dial phase timed out
#       ("while waiting for connection", no address): dockerd's 15 s ping client covers the lookup.
#       "request canceled (Client.Timeout ...)" alone had a connection: no dns, no firewall DROP.
#   lookup NAME on R:53: ... (the resolver R, evidence by its address)
#       no such host: dns, proxy (a resolver that only knows internal names; first when it denies
#       a public name and is neither a VM forwarder nor a cloud resolver), reference (a typo).
#       server misbehaving: dns, firewall (a stub whose upstream queries are blocked), proxy.
#       i/o timeout / read udp: dns, reachability, firewall; a public resolver (8.8.8.8): firewall
#       second (DNS only allowed to the network's own resolvers). A UDP datagram to port 53 is a
#       DNS query even without the "lookup" prefix.
# Generic network symptoms: which request failed says more than the symptom itself.
_NETWORK_SYMPTOMS = ("io-timeout", "request-timeout", "connection-reset", "unexpected-eof",
                     "http-eof", "tls-handshake-timeout", "broken-pipe", "connection-refused")
# "while reading body" (Go net/http client.go: the Client.Timeout fired after the headers came,
# during the body) and containerd's httpReadSeeker (blob reads) are transfers too.
_TRANSFER = re.compile(r"/blobs/|\bblobs\b|cloudfront\.net|storage\.googleapis\.com|download(?:ing| failed)|"
                       r"retrying|image configuration|layer|extracting|while reading body|httpreadseeker|"
                       r"(?:writing|storing|copying) blob|failed to copy:",
                       re.IGNORECASE)
# Hosts registries redirect blob downloads to (Docker Hub's Cloudflare/CloudFront, GCS, S3,
# GitHub's and quay's CDNs, Azure blob storage).
_CDN_HOST = re.compile(r"https?:/+[^/\s\"']*(?:cloudfront\.net|cloudflare\.docker\.com|storage\.googleapis\.com|"
                       r"\.s3[.-][a-z0-9.-]*amazonaws\.com|s3\.amazonaws\.com|pkg-containers\.githubusercontent\.com|"
                       r"cdn\d*\.quay\.io|\.blob\.core\.windows\.net|\.r2\.cloudflarestorage\.com|"
                       r"production\.cloudfront\.docker\.com)", re.IGNORECASE)
# buildx's first call to its builder (builder/builder.go: "listing workers for Build: failed to
# list workers: ...").
_BUILDER_WORKERS = re.compile(r"(?:listing|failed to list) workers", re.IGNORECASE)
# moby's and containerd's wrappers that name a blob-transfer stage (after the manifest came).
_TRANSFER_STAGE = re.compile(r"error pulling image configuration|download failed after attempts|"
                             r"Download failed, retrying|failed to copy:|httpReadSeeker", re.IGNORECASE)
_URL_EOF = re.compile(r"(?<![^\s\"'(\[=])(https?://[^\s\"'\\]+)\\?\"?:\s*EOF\b")
_CLOUD_TASK = re.compile(r"CannotPullContainerError|ResourceInitializationError|fargate|\.dkr\.ecr\.",
                         re.IGNORECASE)
# Go's dialer names the address it was connecting to when the handshake timed out
# ("dial tcp: lookup ..." is DNS, "dial tcp: i/o timeout" has no address yet).
_CONNECT_TIMEOUT = re.compile(r"dial tcp (?!lookup)\[?[^\s\]]+?\]?:(\d+): (?:i/o timeout|connect: "
                              r"(?:connection|operation) timed out|connectex: a connection attempt failed "
                              r"because the connected party did not properly respond)", re.IGNORECASE)
# The first request of a pull: the v2 ping, the token endpoint, (v1 protocol, Docker
# < 1.6 and v1 fallbacks) the index's image list for the repository, or containerd's
# resolver, which pings nothing and starts with a HEAD of the manifest.
_UNRESOLVED_TIMEOUT = re.compile(r"dial tcp: i/o timeout|network timed out while trying to connect",
                                 re.IGNORECASE)
# Go net/http transport.go: errRequestCanceledConn ("request canceled while waiting for connection")
# is returned when the request is cancelled before a connection was obtained: the name lookup,
# the TCP handshake and the TLS handshake had not all finished. Go 1.13+ reports the same moment
# as "context deadline exceeded (Client.Timeout exceeded while awaiting headers)", without saying
# which phase; "net/http: request canceled (Client.Timeout ...)" alone means a connection WAS made.
_DIAL_PHASE_TIMEOUT = re.compile(r"request canceled while waiting for connection|"
                                 r"context deadline exceeded \(Client\.Timeout", re.IGNORECASE)
_FIRST_REQUEST = re.compile(r"/v2/?(?:\\?\"|\s|:|$)|/v1/_ping|/v1/repositories/[^\s:]+/images\b|"
                            r"failed to do request: Head \\?\"?https?://[^\s\"\\]+/manifests/|"
                            r"pinging (?:container )?registry|"
                            r"/token\?|ping attempt failed", re.IGNORECASE)


def _phase_causes(inner: str, matched: Sequence[str], text: str = "") -> List[Tuple[str, float, str, str]]:
    """A symptom (timeout, reset, EOF) on the registry's first request (its /v2/ ping or
    token endpoint) means nothing gets through: a network that needs a proxy or blocks the
    registry. The same symptom in the middle of a layer download, after the ping and the
    auth worked, points at large packets lost on the path (MTU) instead."""
    if not any(c in _NETWORK_SYMPTOMS for c in matched) or \
            any(_BY_ID[c].tier < 2 and not _BY_ID[c].wrapper for c in matched):
        return []
    symptom = next(c for c in matched if c in _NETWORK_SYMPTOMS)
    if symptom == "io-timeout" and _UNRESOLVED_TIMEOUT.search(inner):
        # The timeout came before any address was chosen (Go names the address once it
        # dials one; Docker 1.x's "Network timed out" hides the step altogether): the
        # name lookup, the first step, is as likely as the connection. Go 1.5-1.7
        # net/lookup.go lookupIPDeadline returned the bare errTimeout ("i/o timeout") when
        # the dial's deadline passed during the name lookup.
        unresolved = [("dns", 0.52, "The timeout came before any registry "
                       "address was chosen (no IP in the message; Go 1.5-1.7, which Docker "
                       "1.x was built with, reported a name lookup that outlived the dial deadline "
                       "this way): the resolver in /etc/resolv.conf did not answer in time, the step "
                       "every pull takes first.", symptom)]
    else:
        unresolved = []
    connect = _CONNECT_TIMEOUT.search(inner) if symptom == "io-timeout" else None
    if connect:
        # The TCP handshake itself got no answer. A registry that is down answers with a
        # reset ("connection refused"); silence is a DROP rule (firewall, security group)
        # or a missing route. Handshake packets are tiny, so the MTU is not the cause, and
        # egress filters pass 443 far more often than a registry's own port.
        port = connect.group(1)
        out = [("firewall", 0.47 if port in ("443", "80") else 0.52,
                "The connection attempt to " + ("port " + port if port not in ("443", "80")
                                                else "the registry") + " got no answer at all "
                "(not even a refusal): a firewall or security group dropping egress"
                + (" to that non-standard port" if port not in ("443", "80") else "") + ".", symptom)]
        public = PUBLIC_REGISTRY_HOSTS.search(inner) and not _CLOUD_TASK.search(text or inner)
        if public and _FIRST_REQUEST.search(inner):
            out.append(("proxy", 0.5, "The registry's very first request got no answer from a "
                        "public registry that is up for everyone else: in networks where only a "
                        "proxy may go out, a daemon without HTTP(S)_PROXY fails exactly this way.",
                        symptom))
        elif port in ("443", "80") and not _CLOUD_TASK.search(text or inner):
            # a network that lets only its proxy out drops direct connections just the same
            out.append(("proxy", 0.44, "Direct connections to port " + port + " get no answer: in "
                        "networks where only a proxy may go out, a daemon without HTTP(S)_PROXY "
                        "(or with the registry in NO_PROXY) fails this way.", symptom))
        return out
    if symptom == "tls-handshake-timeout" and _CDN_HOST.search(inner):
        # The registry itself answered (it sent the blob's CDN address), so name resolution,
        # routes, proxy settings and TLS to it all work; the CDN connection was accepted but its
        # handshake stalled: the certificate flight is the first full-size packets from that
        # host, which a path MTU black hole drops.
        # An egress filter that allows by TLS server name (SNI: Azure Firewall, AWS Network
        # Firewall, a proxy's domain list) and lists the registry but not its blob host drops the
        # ClientHello that names the CDN: the same stall, after the same successful first requests.
        return [("firewall", 0.44, "The registry answered, but the handshake with its blob CDN "
                 "never finished: an egress filter that allows by TLS server name (SNI) and lists "
                 "the registry but not its blob/CDN host drops the CDN's handshake.", symptom),
                ("mtu", 0.47, "The registry answered and redirected to its blob CDN; the CDN "
                 "accepted the connection but the TLS handshake stalled: its certificate flight is "
                 "the first run of full-size packets, which a path with a smaller MTU (VPN, overlay, "
                 "cloud tunnel) silently drops.", symptom)]
    # the wrapper that names the stage says so too, even when the inner text is a bare errno
    # ("error pulling image configuration: connect: connection refused"): moby fetches the
    # image configuration blob only after the registry served the manifest
    transfer = bool(_TRANSFER.search(inner) or _TRANSFER_STAGE.search(text or ""))
    if transfer and symptom == "connection-refused":
        # A refusal answers the SYN, whose packets are tiny: never the MTU. The registry had
        # answered, so its blob host is what refuses: a REJECT rule or an allowlist without it.
        # Blob hosts are CDNs and object stores that listen for everyone, so, as for a public
        # registry's own refusal (0.52 below), the refusal is a rule on the path, ranked first.
        return [("firewall", 0.52, "The registry answered the first requests, but the connection "
                 "to the blob host was refused: an egress rule rejecting it, or an allowlist that "
                 "has the registry but not its blob/CDN host.", symptom)]
    if transfer:
        # A path MTU black hole drops the big packets silently: the transfer stalls until a
        # timeout fires. A reset or a cut-off body is something that acted (a middlebox, the
        # CDN, a mirror), so the MTU stays a candidate there, not the first one.
        stall = symptom in ("io-timeout", "request-timeout") and not connect
        peer = _PEER.search(inner)
        direct = []
        if symptom == "connection-reset" and peer and peer.group(1) in ("443", "80"):
            # Go names the connection's far end ("read tcp LOCAL->REMOTE:443"): through a proxy
            # it would be the proxy's port. A direct transfer the registry had started, reset
            # by the peer: a stateful firewall or IPS/DPI ending the flow (or the CDN), while
            # a missing proxy would have stopped it at the first request.
            direct = [("firewall", 0.43, "The transfer ran on a direct connection to port "
                       f"{peer.group(1)} (no proxy in between) and was reset mid-way: a stateful "
                       "firewall or intrusion-prevention/DPI box ending long or unrecognised flows, "
                       "or a flaky path.", symptom)]
        return direct + [("mtu", 0.47 if stall else 0.42, "The failure came during a layer/blob download, "
                 "after the registry had answered the first requests: large packets lost on a path "
                 "with a smaller MTU (VPN, overlay, cloud tunnel) break exactly the big transfers"
                 + (", and a transfer that stalls until a timeout is how such a loss looks." if stall
                    else "."), symptom)]
    if _FIRST_REQUEST.search(inner):
        # A major public registry is up and reachable from anywhere: when its very first
        # request gets nothing back, the local network (one that only lets a proxy out) is
        # likelier than the registry. Not so for cloud tasks (ECS, Fargate), which have no
        # proxy but often no route out.
        cloud = bool(_CLOUD_TASK.search(text or inner))
        public = PUBLIC_REGISTRY_HOSTS.search(inner) and not cloud
        if cloud:
            # A cloud task (ECS, Fargate) goes out through its subnet's route (NAT gateway, public
            # IP, VPC endpoints) and its security groups, hardly ever through a proxy.
            return [("firewall", 0.44, "Nothing got through from the task to the registry: its "
                     "security group or network ACL drops egress to tcp/443 (or to the VPC endpoints).",
                     symptom),
                    ("proxy", 0.3, "Only if the task is meant to go out through a proxy: then it "
                     "lacks HTTP(S)_PROXY.", symptom)] + unresolved
        slow_lookup = []
        if symptom == "request-timeout" and _DIAL_PHASE_TIMEOUT.search(inner) and not _DIALED.search(inner):
            # dockerd's /v2/ ping and token clients time out after 15 s (moby registry/auth.go
            # `Timeout: 15 * time.Second`) while its dialer allows 30 s: the client's timeout fires
            # first, during the dial, which includes the name lookup. Go's resolver waits 5 s per
            # try, twice per nameserver (resolv.conf's defaults), so one or two nameservers that do
            # not answer outlast the 15 s and the lookup's own error is never printed; no address
            # in the message is consistent with that. (Not for containerd or the kubelet: their
            # deadlines are minutes, long enough for the lookup to report itself.) Ranked below the
            # firewall: a dropped SYN gives this very message on every such network (the 30 s dial
            # cannot fail before the 15 s client gives up), a lookup this slow needs several dead
            # nameservers.
            slow_lookup = [("dns", 0.38, "The request timed out while still waiting for a connection, "
                            "and no registry address is named: the 15-second timeout of dockerd's "
                            "registry client covers the name lookup, and a resolver that does not "
                            "answer (two 5-second tries per nameserver) uses it up before its own "
                            "error can be printed.", symptom)]
        outage = []
        if symptom == "http-eof":
            # The connection was accepted and closed without an answer: besides a proxy or
            # middlebox, that is what a registry's load balancer does while it has no healthy
            # backend (a registry outage), the set's second reading (see the comment above).
            outage = [("reachability", 0.4, "The registry's front end accepted the connection and closed "
                       "it without answering: a load balancer with no healthy backend behind it, as "
                       "during a registry outage (check the registry's status page).", symptom)]
        return slow_lookup + outage + [("proxy", 0.5 if public else 0.41, "The registry's very first request (the /v2/ "
                 "ping or token endpoint) got no answer" + (" from a public registry that is up "
                 "for everyone else" if public else "") + ": in networks where only a proxy may "
                 "go out, a daemon without HTTP(S)_PROXY (or with the wrong one) fails exactly "
                 "this way.", symptom),
                ("firewall", 0.39, "Nothing got through to the registry at all: egress to it "
                 "(tcp/443 or the registry's port) is dropped by a firewall or security group.",
                 symptom)] + unresolved
    return unresolved


# Loose words -> causes, for texts no class recognises. Ordered: the first listed cause of
# a group is the likelier one.
_WORDS: Tuple[Tuple[Tuple[str, ...], Tuple[str, ...]], ...] = (
    (("denied", "unauthorized", "forbidden", "permission", "credential", "login", "token",
      "401", "403", "authenticat"), ("auth", "reference")),
    (("not found", "404", "no such image", "does not exist", "unknown", "tag", "manifest"),
     ("reference", "auth")),
    (("x509", "tls", "ssl", "certificate", "handshake"), ("tls", "time", "proxy")),
    (("lookup", "resolve", "resolution", "dns", "no such host", "nxdomain"), ("dns", "proxy")),
    (("proxy", "<html", "html", "captive", "portal", "407"), ("proxy", "reachability")),
    (("timeout", "timed out", "deadline", "refused", "reset", "unreachable", "no route",
      "eof", "connect", "dial", "network", "503", "502", "500"), ("reachability", "firewall", "proxy", "mtu")),
    (("firewall", "iptables", "blocked", "security group", "acl"), ("firewall", "reachability")),
    (("mtu", "fragment", "hangs", "stuck", "retrying"), ("mtu", "reachability")),
    (("space", "disk", "inode", "storage", "extract", "layer", "quota"), ("disk", "daemon")),
    (("daemon", "docker.service", "containerd", "socket", "systemd", "dockerd"), ("daemon",)),
    (("platform", "arch", "architecture", "exec format", "arm64", "amd64", "aarch64"), ("arch",)),
    (("ssh", "host key", "publickey"), ("ssh",)),
    (("rate", "too many", "429", "limit", "throttl"), ("ratelimit", "auth")),
    (("clock", "ntp", "time", "expired", "not yet valid"), ("time", "tls")),
    (("registry", "pull", "image", "repository"), ("reachability", "auth", "reference")),
)
# With no telling word at all: the field guide's order of the usual causes (a wrong name or tag,
# credentials, then the network).
_DEFAULT_GUESS = ("reference", "auth", "reachability", "dns", "proxy")


# Short words that are parts of longer unrelated ones ("time" in "runtime" and "timeout", "tag"
# in "stage", "space" in "namespace", "arch" in "search"): matched as whole words only.
_WHOLE_WORDS = frozenset(("time", "tag", "rate", "arch", "acl", "space", "limit", "dns", "tls", "ssl", "mtu"))


def _seen(key: str, low: str) -> bool:
    if key in _WHOLE_WORDS:
        return re.search(r"(?<![a-z0-9])" + re.escape(key) + r"(?![a-z0-9])", low) is not None
    return key in low


def generic_causes(text: str) -> List[Cause]:
    """Ranked guesses for a text no error class recognises, from the words it does contain
    (or, with none, the commonest causes of failed pulls), at low confidence."""
    low = (text or "").lower()
    score: Dict[str, float] = {}
    words: Dict[str, List[str]] = {}
    for keys, categories in _WORDS:
        seen = [k for k in keys if _seen(k, low)]
        if not seen:
            continue
        for rank, category in enumerate(categories):
            score[category] = score.get(category, 0.0) + (0.1 - 0.02 * rank) * min(len(seen), 3)
            words.setdefault(category, [])
            words[category] += [w for w in seen if w not in words[category]]
    if not score:
        score = {c: 0.1 - 0.01 * i for i, c in enumerate(_DEFAULT_GUESS)}
    top = max(score.values())
    out = []
    for category, value in score.items():
        guide = CATEGORY_GUIDE[category]
        seen = words.get(category, [])
        why = (f"No known pull-error phrase matched; the words {', '.join(repr(w) for w in seen[:5])} "
               f"point here. {guide[0]}" if seen else
               f"No known pull-error phrase and no telling word: this is one of the commonest "
               f"causes of failed pulls. {guide[0]}")
        out.append(Cause(category, round(GENERIC_CEILING * value / top, 3) if top else 0.1, why,
                         guide[1], guide[2], classes=[], generic=True, words=seen[:5]))
    return sorted(out, key=lambda c: (-c.confidence, c.category))
