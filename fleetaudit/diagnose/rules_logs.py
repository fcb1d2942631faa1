"""Diagnosis rules: pull errors the daemon log already shows, mapped to their cause.

The daemon_log collector counts log lines per pull-error class (fleetaudit.pullerrors)
and keeps the last line of each. One rule per finding category (`logs.<category>`,
because a rule's category is fixed) yields one finding per class seen, with the count
and the sample line as evidence. When another rule explains the class on the same host
(a missing CA for x509 errors, root without a login for "no basic auth credentials"),
the log finding says so and points at that finding instead of repeating its fix.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

from ..pullerrors import CLASSES, PullErrorClass
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, all_rules, dig, ev, rule
from .text import cap, q

# A single timeout or reset in a day is weather, not a fault: network symptoms (tier 2)
# need this many occurrences in the window before they count as more than low.
SYMPTOM_MIN_COUNT = 3
SAMPLE_CHARS = 400

CATEGORY_SEVERITY = {
    "tls": "high", "auth": "high", "dns": "high", "proxy": "high", "time": "high",
    "disk": "high", "daemon": "high", "firewall": "high", "ratelimit": "medium",
    "reference": "medium", "arch": "medium", "mtu": "medium", "reachability": "medium",
}
CLASS_SEVERITY = {
    "tls-handshake-timeout": "medium",       # usually MTU or a slow proxy: a symptom
    "http-eof": "medium",
    "docker-socket-permission": "medium",    # a user without the docker group, not the engine
    "pull-canceled": "low",                  # the client gave up; the cause is elsewhere
    "daemon-start-failed": "high",
}

# Which classes the rules of these families explain (their finding carries the fix).
# Other families' rules are matched by category: the class's own or a related one.
MY_FAMILIES = ("daemon", "proxy", "auth", "arch", "logs")
_PROXY_CLASSES = ("proxy-auth-required", "proxy-scheme-mismatch", "proxyconnect-failed", "http-eof")
_DIRECT = ("io-timeout", "no-such-host", "dns-lookup-failed", "request-timeout",
           "network-unreachable", "tls-handshake-timeout")
_START = ("daemon-config-invalid", "daemon-not-running", "daemon-start-failed")
EXPLAINS: Dict[str, Tuple[str, ...]] = {
    "daemon.json-invalid": _START,
    "daemon.json-unknown-option": _START,
    "daemon.json-flag-conflict": _START,
    "daemon.engine-down": ("daemon-not-running",),
    "daemon.insecure-registry-missing": ("http-response-to-https-client", "x509-unknown-authority",
                                         "tls-first-record", "x509-hostname-mismatch"),
    "daemon.registry-mirrors": ("toomanyrequests", "manifest-unknown", "blob-unknown", "io-timeout"),
    "daemon.version-drift": ("x509-legacy-common-name",),
    "daemon.restart-loop": ("containerd-unavailable", "daemon-start-failed"),
    "proxy.shell-only": _DIRECT,
    "proxy.https-proxy-missing": _DIRECT,
    "proxy.daemon-differs": _PROXY_CLASSES + _DIRECT + (
        "x509-unknown-authority", "forbidden", "registry-server-error", "connection-refused",
        "tls-remote-error", "connection-reset"),
    "proxy.restart-pending": _PROXY_CLASSES + _DIRECT,
    "proxy.no-proxy-registry": _PROXY_CLASSES + (
        "x509-unknown-authority", "forbidden", "registry-server-error", "io-timeout",
        "tls-remote-error", "connection-reset"),
    "proxy.json-env-conflict": _PROXY_CLASSES,
    "auth.user-only-credentials": ("no-basic-auth-credentials", "pull-access-denied", "unauthorized"),
    "auth.missing-credentials": ("no-basic-auth-credentials", "pull-access-denied", "unauthorized"),
    "auth.helper-missing": ("credential-helper-failed",),
    "auth.dockerhub-anonymous": ("toomanyrequests",),
    "arch.differs": ("no-matching-manifest", "platform-mismatch"),
}

# Checks of a class that are commands a person can run (the others name facts).
_COMMANDS = ("curl", "openssl", "nc", "getent", "dig", "ping", "date", "timedatectl", "systemctl",
             "journalctl", "docker", "ls", "mount", "dmesg", "ip", "xfs_quota", "command", "id",
             "df", "aws")

_CATEGORY_WHY = {
    "tls": 'certificate or TLS failures ("x509: certificate signed by unknown authority", '
           '"x509: certificate has expired", "http: server gave HTTP response to HTTPS client")',
    "auth": 'authentication failures ("no basic auth credentials", "pull access denied", '
            '"unauthorized: authentication required")',
    "dns": 'name resolution failures ("dial tcp: lookup REGISTRY: no such host", '
           '"server misbehaving")',
    "proxy": 'proxy failures ("proxyconnect tcp: ...", "Proxy Authentication Required")',
    "time": 'clock failures ("x509: certificate has expired or is not yet valid: current time '
            '... is before ...")',
    "disk": 'local storage failures ("no space left on device", "failed to register layer")',
    "daemon": 'engine failures ("Cannot connect to the Docker daemon", "unable to configure the '
              'Docker daemon with file ...")',
    "firewall": 'blocked connections ("connect: no route to host")',
    "ratelimit": 'rate limiting ("toomanyrequests: You have reached your pull rate limit")',
    "reference": 'missing images or tags ("manifest unknown", "repository name not known to '
                 'registry")',
    "arch": 'platform mismatches ("no matching manifest for linux/arm64/v8 in the manifest list '
            'entries")',
    "mtu": 'requests that never arrive whole ("408 Request Time-out" pages)',
    "reachability": 'connection failures ("dial tcp ...:443: i/o timeout", "connection refused", '
                    '"connection reset by peer", "TLS handshake timeout", "unexpected EOF", '
                    '5xx answers)',
}


def _severity(cls: PullErrorClass, count: int) -> str:
    if cls.wrapper:
        return "low"    # only says where a pull failed; the cause is in other lines
    if cls.tier >= 2 and count < SYMPTOM_MIN_COUNT:
        return "low"
    return CLASS_SEVERITY.get(cls.id) or CATEGORY_SEVERITY.get(cls.category, "medium")


def _sample(facts: dict, cls_id: str) -> str:
    s = dig(facts, "daemon_log.samples")
    v = s.get(cls_id) if isinstance(s, dict) else None
    if isinstance(v, dict):
        v = v.get("line") or v.get("text") or v.get("sample")
    return cap(v, SAMPLE_CHARS) if isinstance(v, str) else ""


def _explaining_rules(ctx: HostContext, cls: PullErrorClass) -> List[str]:
    """Ids of other rules that fire on this host and explain this class (memoized per
    host, since several log findings may ask)."""
    from .engine import run_rule   # late: engine imports the rule registry
    memo = ctx.__dict__.setdefault("_logs_fired", {})
    categories = {cls.category, *cls.related}
    out = []
    for r in all_rules():
        family = r.id.split(".", 1)[0]
        if family == "logs":
            continue
        if family in MY_FAMILIES:
            if cls.id not in EXPLAINS.get(r.id, ()):
                continue
        elif r.category not in categories:
            continue
        if r.id not in memo:
            memo[r.id] = any(f.severity != "info" and not f.title.startswith(f"rule {r.id} failed")
                             for f in run_rule(r, ctx))
        if memo[r.id]:
            out.append(r.id)
    return out


# Classes a missing CA explains (the registry's or a TLS-intercepting proxy's).
CA_CLASSES = ("x509-unknown-authority", "x509-other")


def _ca_registries(facts: dict):
    certs = dig(facts, "tls.certs_d")
    if not isinstance(certs, dict):
        return MISSING
    out = []
    for reg, files in certs.items():
        files = files.values() if isinstance(files, dict) else files
        if any(isinstance(f, dict) and f.get("kind") == "ca" for f in files or []):
            out.append(reg)
    return sorted(out)


def _anchor_hashes(facts: dict):
    anchors = dig(facts, "tls.anchors")
    if isinstance(anchors, dict):           # a baseline keyed by path
        anchors = list(anchors.values())
    if not isinstance(anchors, list):
        return MISSING
    return sorted({a["sha256"] for a in anchors if isinstance(a, dict) and isinstance(a.get("sha256"), str)})


def _bundle(facts: dict):
    sha = dig(facts, "tls.bundle.sha256")
    return sha if isinstance(sha, str) else MISSING


def missing_ca(ctx: HostContext) -> List[dict]:
    """Evidence that this host lacks CA files its baseline (or the fleet majority) has:
    certs.d registry CAs, system trust anchors, or a different CA bundle."""
    out = []
    mine = _ca_registries(ctx.facts)
    exp = ctx.expect_elements("tls.ca_registries", _ca_registries)
    if mine is not MISSING and exp is not None and set(exp.value) - set(mine):
        out.append(ev("tls.certs_d", mine, exp.value, note=f"registry CAs in certs.d, {exp.source}"))
    mine = _anchor_hashes(ctx.facts)
    exp = ctx.expect_elements("tls.anchor_hashes", _anchor_hashes)
    if mine is not MISSING and exp is not None and set(exp.value) - set(mine):
        out.append(ev("tls.anchors", f"{len(mine)} anchors",
                      f"{len(exp.value)} anchors incl. {len(set(exp.value) - set(mine))} missing here",
                      note=f"trust anchors, {exp.source}"))
    mine = _bundle(ctx.facts)
    exp = ctx.expect("tls.bundle.sha256", _bundle)
    if mine is not MISSING and exp is not None and exp.value != mine:
        out.append(ev("tls.bundle.sha256", mine, exp.value, note=f"CA bundle, {exp.source}"))
    return out


def _ca_fix(ctx: HostContext, evidence: List[dict]) -> List[str]:
    """The short form of the tls fix, for when no tls finding on this host carries it."""
    regs = [r for e in evidence if e["fact"] == "tls.certs_d" for r in e["expected"] if r not in e["actual"]]
    fixes = [f"sudo mkdir -p /etc/docker/certs.d/{q(r)} && sudo cp REGISTRY-CA.crt "
             f"/etc/docker/certs.d/{q(r)}/ca.crt   # as on the fleet" for r in regs[:3]]
    if any(e["fact"] != "tls.certs_d" for e in evidence):
        fixes.append({"rhel": "sudo cp CA.crt /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust",
                      "suse": "sudo cp CA.crt /etc/pki/trust/anchors/ && sudo update-ca-certificates",
                      "alpine": "sudo cp CA.crt /usr/local/share/ca-certificates/ && sudo update-ca-certificates"}
                     .get(ctx.family, "sudo cp CA.crt /usr/local/share/ca-certificates/CA.crt && "
                                      "sudo update-ca-certificates"))
        fixes.append("sudo systemctl restart docker" if ctx.family != "alpine" else "sudo rc-service docker restart")
    return fixes


# The classes of each category, in CLASSES order: _check runs per host and per category,
# and scanning all classes there made diagnose O(hosts x categories x classes).
_BY_CATEGORY: Dict[str, Tuple[PullErrorClass, ...]] = {}
for _cls in CLASSES:
    _BY_CATEGORY[_cls.category] = _BY_CATEGORY.get(_cls.category, ()) + (_cls,)


def _check(ctx: HostContext, category: str) -> Iterator[Hit]:
    counts = dig(ctx.facts, "daemon_log.counts")
    if not isinstance(counts, dict) or not counts:   # an incomplete log (error set) still shows what it saw
        return
    window = dig(ctx.facts, "daemon_log.window_hours")
    source = dig(ctx.facts, "daemon_log.source")
    when = f"last {window:g} h" if isinstance(window, (int, float)) and not isinstance(window, bool) else "recent"
    for cls in _BY_CATEGORY.get(category, ()):
        n = counts.get(cls.id)
        if cls.category != category or not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            continue
        sample = _sample(ctx.facts, cls.id)
        evidence = [
            ev(join_all(("daemon_log", "counts", cls.id)), n, 0,
               note=f"{when}, from {cap(source, 60)}" if source else when),
            ev(join_all(("daemon_log", "samples", cls.id)), sample or None, note=cls.why),
        ]
        causes = _explaining_rules(ctx, cls)
        ca = missing_ca(ctx) if cls.id in CA_CLASSES else []
        if ca:
            for item in ca:
                item["note"] = (item.get("note", "") + "; this host lacks CA files the fleet has: "
                                "the tls finding carries the fix").lstrip("; ")
            evidence.extend(ca)
        if causes:
            evidence.append(ev("findings", causes,
                               note="this host's configuration explains these errors: "
                                    "that finding carries the fix"))
            fixes = [f"fix what {rid} reports on this host (its finding has the commands)" for rid in causes]
        elif ca:
            fixes = ["install the CA the fleet trusts (see this host's tls finding)"] + _ca_fix(ctx, ca)
        else:
            fixes = [cls.fix] if cls.fix else []
            fixes += [c for c in cls.check if c.split(" ", 1)[0] in _COMMANDS]
            fixes.append("journalctl -u docker --since '1 hour ago' --no-pager | grep -i "
                         + q(cls.keywords[0]) if ctx.family != "alpine"
                         else f"grep -i {q(cls.keywords[0])} /var/log/docker.log | tail")
        yield Hit(evidence=evidence, severity=_severity(cls, n), remediation=fixes,
                  title=f"{cls.title}: {n} pull error{'s' if n != 1 else ''} in the daemon log ({when})")


def _register(category: str) -> None:
    def check(ctx: HostContext) -> Iterator[Hit]:
        return _check(ctx, category)
    check.__name__ = f"logs_{category}"
    rule(
        id=f"logs.{category}", category=category,
        severity=CATEGORY_SEVERITY.get(category, "medium"),
        title=f"daemon log shows {category} pull errors",
        why=f"""
Pulls on this host have already failed with {_CATEGORY_WHY.get(category, category + ' errors')}.
The finding names the error class, how often it occurred in the log window and the last
line; when another finding on this host explains it, that finding carries the fix.
Network symptoms seen fewer than {SYMPTOM_MIN_COUNT} times are reported as low.
""",
        remediation=["journalctl -u docker --since '1 hour ago' --no-pager | tail -n 200"],
    )(check)


# ssh failures are the docker CLI's own transport to a host: they never reach a daemon log.
for _category in sorted({c.category for c in CLASSES} - {"ssh"}):
    _register(_category)
