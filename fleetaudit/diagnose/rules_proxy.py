"""Diagnosis rules: the HTTP(S) proxy the Docker daemon really uses.

dockerd does the pulls, and it reads its proxy from its own start-up environment
(systemd drop-in, /etc/conf.d/docker) or, on Docker 23+, from daemon.json "proxies"
(which then wins over the environment). Shell profiles and /etc/environment never reach
it. NO_PROXY follows Go's rules (see no_proxy_covers).

Why one module (~650 lines): one rule family; the proxy-value helpers and remediation
text at the top serve only these rules (the proxy dockerd uses is a derived fact,
fleetaudit/facts/proxy.py, shared with the gate and other families).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..facts.daemon import docker_running
from ..facts.proxy import (
    PROXIES_MIN_MAJOR, PROXY_JSON_KEYS, PROXY_VARS, daemon_proxy, json_proxies, no_proxy_covers, proxy_endpoint, proxy_lookup, proxy_value,
)
from ..facts.registries import DOCKER_HUB, host_and_port, internal_name, is_public
from ..facts.schema import join_all
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import cap, q, reload_and_restart



# ------------------------------------------------------------------ proxy values


def has_userinfo(url: str) -> bool:
    if not isinstance(url, str) or "@" not in url:
        return False
    rest = url.split("://", 1)[1] if "://" in url else url
    return "@" in rest.split("/", 1)[0]


def mask(url: str) -> str:
    """The URL with any user:password replaced (values are redacted on the host already;
    this keeps evidence safe even if one was not)."""
    if not has_userinfo(url):
        return url
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}***@{netloc.rsplit('@', 1)[1]}{slash}{path}"


def for_config(url: str) -> str:
    """A proxy URL to write into a config: credentials shown as placeholders."""
    if not has_userinfo(url):
        return url
    scheme, sep, rest = url.partition("://") if "://" in url else ("", "", url)
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}USER:PASSWORD@{netloc.rsplit('@', 1)[1]}{slash}{path}"


def config_origin(facts: dict, var: str) -> str:
    """The file a daemon proxy variable is configured in (for remediation), or ""."""
    raw = dig(facts, "proxy.daemon")
    entry = raw.get(var) if isinstance(raw, dict) else None
    src = entry.get("source") if isinstance(entry, dict) else None
    if not isinstance(src, str) or src == "dockerd environ":
        conf = dig(facts, "proxy.configured")
        entry = conf.get(var) if isinstance(conf, dict) else None
        src = entry.get("source") if isinstance(entry, dict) else None
    return src if isinstance(src, str) else ""


def _endpoints(facts: dict) -> Any:
    dp = daemon_proxy(facts)
    if dp is None:
        return MISSING
    return {"HTTP_PROXY": proxy_endpoint(dp.get("HTTP_PROXY")),
            "HTTPS_PROXY": proxy_endpoint(dp.get("HTTPS_PROXY"))}


def _no_proxy_of(facts: dict) -> Any:
    """The daemon's NO_PROXY when it has a proxy (else unknown: nothing to learn from)."""
    dp = daemon_proxy(facts)
    if dp is None or not dp.any_proxy:
        return MISSING
    return ",".join(x.strip() for x in dp.get("NO_PROXY").split(",") if x.strip())


@dataclass
class Routing:
    """How the other proxied daemons (and the baseline) route one registry."""

    exempt: List[str]      # some hosts whose NO_PROXY sends it direct
    proxied: List[str]     # some hosts that send it through their proxy
    n_exempt: int = 0
    n_proxied: int = 0
    baseline: Optional[bool] = None   # True: the baseline exempts it; False: proxies it


def _routing(ctx: HostContext, host: str, port: int) -> Routing:
    cache = ctx.fleet.cache
    key = ("routing", host, port)
    if key not in cache:
        exempt, proxied = [], []
        for h in ctx.fleet.audited():
            dp = ctx.fleet.host(h.name).daemon_proxy
            if dp and dp.any_proxy:
                (exempt if no_proxy_covers(dp.get("NO_PROXY"), host, port) else proxied).append(h.name)
        cache[key] = (exempt, set(exempt), proxied, set(proxied))
    exempt, exempt_set, proxied, proxied_set = cache[key]
    # Other hosts only; a few names are enough for the evidence, the counts are exact.
    r = Routing([n for n in exempt[:4] if n != ctx.name][:3], [n for n in proxied[:4] if n != ctx.name][:3],
                n_exempt=len(exempt) - (ctx.name in exempt_set),
                n_proxied=len(proxied) - (ctx.name in proxied_set))
    if ctx.baseline is not None:
        dp = daemon_proxy(ctx.baseline)
        if dp and dp.any_proxy:
            r.baseline = no_proxy_covers(dp.get("NO_PROXY"), host, port)
    return r


def _failing_through_proxy(facts: dict, host: str) -> Dict[str, str]:
    """class -> sample line of this host's proxy errors (407, CONNECT failing) that name
    host. Weaker symptoms (x509, 403, timeouts) have other causes too: not evidence here."""
    samples = dig(facts, "daemon_log.samples")
    out = {}
    for cls in _log_counts(facts, _PROXY_CLASSES_IDS):
        line = samples.get(cls) if isinstance(samples, dict) else None
        line = line.get("line") if isinstance(line, dict) else line
        if isinstance(line, str) and host.lower() in line.lower():
            out[cls] = line
    return out


def _log_counts(facts: dict, classes: Tuple[str, ...]) -> Dict[str, int]:
    counts = dig(facts, "daemon_log.counts")
    if not isinstance(counts, dict):
        return {}
    return {c: n for c, n in counts.items() if c in classes and isinstance(n, int) and n > 0}


# Pull errors a daemon without the network's proxy produces.
NO_PROXY_SYMPTOMS = ("io-timeout", "no-such-host", "dns-lookup-failed", "request-timeout",
                     "network-unreachable", "connection-refused", "tls-handshake-timeout")
_PROXY_CLASSES_IDS = ("proxy-auth-required", "proxy-scheme-mismatch", "proxyconnect-failed", "http-eof")
# Pull errors a proxy in the wrong place produces.
PROXY_SYMPTOMS = ("proxy-auth-required", "proxyconnect-failed", "forbidden",
                  "x509-unknown-authority", "http-eof", "registry-server-error", "tls-remote-error")


# ------------------------------------------------------------------ remediation text

def dropin_commands(family: str, values: Dict[str, str]) -> List[str]:
    """Commands that give dockerd these proxy variables, for the host's init system."""
    vals = {k: for_config(v) for k, v in values.items() if v}
    if family == "alpine":
        lines = [f"export {k}={q(v)}" for k, v in vals.items()]
        return [f"printf '%s\\n' {' '.join(q(x) for x in lines)} | sudo tee -a /etc/conf.d/docker",
                "sudo rc-service docker restart"]
    lines = ["[Service]"] + [f'Environment="{k}={v}"' for k, v in vals.items()]
    return ["sudo mkdir -p /etc/systemd/system/docker.service.d",
            f"printf '%s\\n' {' '.join(q(x) for x in lines)} | "
            "sudo tee /etc/systemd/system/docker.service.d/http-proxy.conf",
            *reload_and_restart(family),
            "systemctl show --property=Environment docker"]


def _with_registries(no_proxy: str, extra: List[str]) -> str:
    items = [x.strip() for x in (no_proxy or "").split(",") if x.strip()]
    for e in extra:
        if e not in items:
            items.append(e)
    return ",".join(items)


# ------------------------------------------------------------------ rules

@rule(
    id="proxy.shell-only", category="proxy", severity="high",
    title="proxy set for login shells but not for the Docker daemon",
    why="""
`docker pull` is done by dockerd, which never reads /etc/environment or shell profiles: a
proxy set there helps curl but not Docker. On a network where only the proxy gets out the
daemon connects directly and fails with "dial tcp 203.0.113.10:443: i/o timeout" (or "lookup
registry-1.docker.io: no such host" where only the proxy resolves outside names), while
`curl https://registry/v2/` from the same shell works.
""",
    remediation=[
        "sudo systemctl edit docker   # [Service] Environment=\"HTTP_PROXY=...\" \"HTTPS_PROXY=...\" \"NO_PROXY=...\"",
        "sudo systemctl daemon-reload && sudo systemctl restart docker",
        "systemctl show --property=Environment docker",
    ],
    needs_docker=True,
)
def shell_only(ctx: HostContext) -> Iterator[Hit]:
    dp = ctx.view.daemon_proxy
    shell = ctx.view.login_proxies
    if dp is None or dp.any_proxy or not shell:
        return
    exp = ctx.expect("proxy.daemon.endpoints", _endpoints)
    fleet_uses = exp is not None and any(exp.value.values())
    symptoms = _log_counts(ctx.facts, NO_PROXY_SYMPTOMS)
    if fleet_uses or symptoms:
        severity = "high"
    elif exp is not None:
        severity = "low"      # the fleet's daemons run without a proxy too: pulls go direct there
    else:
        severity = "medium"
    evidence = [ev(p, mask(v), note="not read by dockerd") for p, v in shell.items()]
    evidence.append(ev(dp.origin.get("HTTPS_PROXY", "proxy.daemon.HTTPS_PROXY"), None,
                       exp.value.get("HTTPS_PROXY") if exp else None,
                       note=f"the daemon has no proxy ({dp.via})" + (f"; expected from {exp.source}" if exp else "")))
    for cls, n in sorted(symptoms.items()):
        evidence.append(ev(join_all(("daemon_log", "counts", cls)), n, note="pulls already fail this way"))
    values = {"HTTP_PROXY": ctx.view.login_value("HTTP_PROXY") or ctx.view.login_value("HTTPS_PROXY"),
              "HTTPS_PROXY": ctx.view.login_value("HTTPS_PROXY") or ctx.view.login_value("HTTP_PROXY")}
    fleet_no_proxy = ctx.expect("proxy.daemon.no_proxy", _no_proxy_of)
    if fleet_no_proxy is not None and fleet_no_proxy.value:
        values["NO_PROXY"] = fleet_no_proxy.value      # what the fleet's daemons exempt
    else:
        internal = [r.name.split(":")[0] for r in ctx.fleet.registries(ctx.name, ctx.baseline).values()
                    if r.name != DOCKER_HUB and not is_public(r.name) and internal_name(r.name)]
        values["NO_PROXY"] = _with_registries(ctx.view.login_value("NO_PROXY") or "localhost,127.0.0.1",
                                              internal)
    yield Hit(evidence=evidence, severity=severity,
              title="proxy only in the login environment: dockerd pulls without it",
              remediation=dropin_commands(ctx.family, values))


@rule(
    id="proxy.daemon-differs", category="proxy", severity="medium",
    title="the daemon's proxy differs from the fleet",
    why="""
Hosts on one network reach registries the same way. A daemon without the fleet's proxy
connects directly and fails where only the proxy gets out ("dial tcp ...:443: i/o timeout",
"no such host"); a daemon with a proxy the fleet does not use (or another one) gets that
proxy's answers: "proxyconnect tcp: dial tcp ...: connect: connection refused", "Proxy
Authentication Required", 403s, or TLS interception ("x509: certificate signed by unknown
authority").
""",
    remediation=["align the daemon's proxy with the fleet (systemd drop-in or daemon.json \"proxies\")",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def daemon_differs(ctx: HostContext) -> Iterator[Hit]:
    dp = ctx.view.daemon_proxy
    if dp is None or (not dp.any_proxy and ctx.view.login_proxies):
        return   # proxy.shell-only explains it better
    exp = ctx.expect("proxy.daemon.endpoints", _endpoints)
    if exp is None or not isinstance(exp.value, dict):
        return
    mine = _endpoints(ctx.facts)
    diffs = [(v, mine[v], exp.value.get(v, "")) for v in ("HTTPS_PROXY", "HTTP_PROXY")
             if mine[v] != exp.value.get(v, "")]
    if not diffs:
        return
    missing = [v for v, a, e in diffs if e and not a]
    severity = "high" if missing else "medium"
    if missing:
        title = f"daemon has no {' / '.join(missing)} (the fleet uses {diffs[0][2] or exp.value.get(missing[0])})"
    elif all(not e for _, _, e in diffs):
        title = f"daemon uses a proxy ({diffs[0][1]}) the fleet does not"
    else:
        title = f"daemon proxy {diffs[0][1]} differs from the fleet's {diffs[0][2]}"
    evidence = [ev(dp.origin.get(v, join_all(("proxy", "daemon", v))), mask(dp.get(v)) or None, e or None,
                   note=exp.source) for v, _, e in diffs]
    for cls, n in sorted(_log_counts(ctx.facts, NO_PROXY_SYMPTOMS + PROXY_SYMPTOMS).items()):
        evidence.append(ev(join_all(("daemon_log", "counts", cls)), n))
    target = {v: exp.value.get(v, "") for v in ("HTTP_PROXY", "HTTPS_PROXY")}
    if any(target.values()):
        target["NO_PROXY"] = dp.get("NO_PROXY") or "localhost,127.0.0.1"
        fixes = dropin_commands(ctx.family, target)
        fixes.insert(0, "# the fleet's proxy (add credentials if it needs them):")
    else:
        fixes = ["remove the proxy from the daemon: "
                 + ", ".join(sorted({dp.origin.get(v, '') for v, _, _ in diffs if dp.origin.get(v)})),
                 *reload_and_restart(ctx.family)]
    yield Hit(evidence=evidence, severity=severity, title=title, remediation=fixes)


@rule(
    id="proxy.https-proxy-missing", category="proxy", severity="medium",
    title="HTTP_PROXY set for the daemon but HTTPS_PROXY is not",
    why="""
Registries speak HTTPS, and Go uses HTTPS_PROXY for https:// URLs only; it never falls
back to HTTP_PROXY. With just HTTP_PROXY set the daemon connects to registries directly,
failing on a proxy-only network with "dial tcp ...:443: i/o timeout".
""",
    remediation=["set HTTPS_PROXY (usually the same http://proxy:port URL) next to HTTP_PROXY "
                 "for the daemon", "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def https_proxy_missing(ctx: HostContext) -> Iterator[Hit]:
    dp = ctx.view.daemon_proxy
    if dp is None or not dp.get("HTTP_PROXY") or dp.get("HTTPS_PROXY"):
        return
    exp = ctx.expect("proxy.daemon.endpoints", _endpoints)
    if exp is not None and exp.value.get("HTTPS_PROXY"):
        return   # proxy.daemon-differs reports it against the fleet
    severity = "low" if exp is not None and exp.value.get("HTTP_PROXY") else "medium"
    values = {"HTTP_PROXY": dp.get("HTTP_PROXY"), "HTTPS_PROXY": dp.get("HTTP_PROXY"),
              "NO_PROXY": dp.get("NO_PROXY") or "localhost,127.0.0.1"}
    yield Hit(
        evidence=[ev(dp.origin.get("HTTP_PROXY", "proxy.daemon.HTTP_PROXY"), mask(dp.get("HTTP_PROXY"))),
                  ev(dp.origin.get("HTTPS_PROXY", "proxy.daemon.HTTPS_PROXY"), None,
                     note="https:// registry traffic goes direct")],
        severity=severity, remediation=dropin_commands(ctx.family, values),
        title="daemon has HTTP_PROXY but no HTTPS_PROXY: registry traffic bypasses the proxy",
    )


@rule(
    id="proxy.no-proxy-registry", category="proxy", severity="high",
    title="NO_PROXY does not cover a private registry or mirror the fleet uses",
    why="""
With a proxy set, the daemon sends every registry not matched by NO_PROXY through it. An
internal registry or mirror then fails through the proxy: "proxyconnect tcp: ...", "Proxy
Authentication Required", "received unexpected HTTP status: 403 Forbidden" / 502, timeouts,
or, when the proxy intercepts TLS, "x509: certificate signed by unknown authority". NO_PROXY
matches host names (a.com also covers b.a.com), not resolved addresses.
""",
    remediation=["add the registry host to the daemon's NO_PROXY (drop-in or daemon.json \"proxies\")",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def no_proxy_registry(ctx: HostContext) -> Iterator[Hit]:
    dp = ctx.view.daemon_proxy
    if dp is None or not dp.any_proxy:
        return
    insecure = ctx.view.insecure_registries
    insecure = insecure if insecure is not MISSING else []
    uncovered = []
    for reg in sorted(ctx.fleet.registries(ctx.name, ctx.baseline).values(), key=lambda r: r.name):
        if reg.name == DOCKER_HUB:
            continue
        host, port = host_and_port(reg.name)
        via = dp.get("HTTPS_PROXY") or (dp.get("HTTP_PROXY") if reg.name in insecure else "")
        if not via or no_proxy_covers(dp.get("NO_PROXY"), host, port or 443):
            continue
        routing = _routing(ctx, host, port or 443)
        failing = _failing_through_proxy(ctx.facts, host)
        internal = internal_name(reg.name)
        weak = [x for x in ("private CA", "insecure") if x in reg.signals]
        if routing.baseline is True:
            severity, reason = "high", "the baseline sends it direct (NO_PROXY)"
        elif routing.baseline is None and routing.n_exempt and routing.n_exempt >= routing.n_proxied:
            severity = "high"
            reason = f"exempt from the proxy on {routing.n_exempt} of " \
                     f"{routing.n_exempt + routing.n_proxied} other proxied hosts ({', '.join(routing.exempt)})"
        elif failing:
            severity, reason = "high", "pulls from it already fail through the proxy"
        elif is_public(reg.name) and not routing.n_exempt:
            continue        # public registries are normally reached through the proxy
        elif routing.baseline is False or (routing.n_proxied and not routing.n_exempt):
            continue        # the fleet routes it through the proxy too and nothing shows it failing
        elif routing.n_exempt:
            severity = "medium"
            reason = f"exempt from the proxy on {', '.join(routing.exempt[:3])}, not on most hosts"
        elif internal or weak:
            severity, reason = ("medium" if internal else "low"), internal or f"{weak[0]} (an internal registry)"
        else:
            continue
        uncovered.append((reg, host, via, reason, severity, failing))
    if not uncovered:
        return
    no_proxy = dp.get("NO_PROXY")
    target = dict(dp.values)
    target["NO_PROXY"] = _with_registries(no_proxy, [u[1] for u in uncovered])
    symptoms = _log_counts(ctx.facts, PROXY_SYMPTOMS + _PROXY_CLASSES_IDS)
    for reg, host, via, reason, severity, failing in uncovered:
        sig, where = next(iter(sorted(reg.signals.items())))
        evidence = [
            ev(dp.origin.get("NO_PROXY", "proxy.daemon.NO_PROXY"), no_proxy or None,
               f"an entry matching {host}", note=f"{host} goes through {mask(via)}"),
            ev(where.split(" ", 1)[0], reg.name, note=f"the fleet uses it ({sig}); {reason}"),
        ]
        for cls, line in sorted(failing.items()):
            evidence.append(ev(join_all(("daemon_log", "samples", cls)), cap(line),
                               note=f"{symptoms.get(cls)} such errors in the log"))
        in_json = "daemon.json" in config_origin(ctx.facts, "NO_PROXY")
        yield Hit(evidence=evidence, severity=severity,
                  title=f"{cap(reg.name, 80)} is not in the daemon's NO_PROXY: pulls go through {mask(via)}",
                  remediation=[f"set \"no-proxy\": {q(target['NO_PROXY'])} in \"proxies\" of /etc/docker/daemon.json",
                               *reload_and_restart(ctx.family)] if in_json
                  else dropin_commands(ctx.family, target))


# Where a proxy password sits -> how to get it out of world-readable places.
_CRED_FIX = {
    "environment": "remove user:password from /etc/environment (world-readable, copied into every "
                   "login session); dockerd does not read it anyway",
    "profile": "remove user:password from the profile scripts that export the proxy",
    "session": "the SSH login environment carries a proxy password: find who sets it (sshd SetEnv, "
               "~/.ssh/environment, PAM) and remove it",
    "daemon.json": "sudo chmod 600 /etc/docker/daemon.json   # it is world-readable by default",
    "unit": "move the variables to an EnvironmentFile only root can read: "
            "sudo install -m 600 /dev/null /etc/docker/proxy.env; put HTTPS_PROXY=... there; "
            "EnvironmentFile=/etc/docker/proxy.env in the drop-in (systemctl show prints "
            "Environment= lines to any user)",
    "env file": "sudo chmod 600 FILE   # an EnvironmentFile may hold the password if only root can read it",
}
# An EnvironmentFile readable by root only is the recommended home for the password;
# the facts do not say its mode, so those places alone are low.
_CRED_LOW = {"env file", "environ"}


def _cred_kind(where: str) -> str:
    w = where.lower()
    if w == "/etc/environment":
        return "environment"
    if w == "session":
        return "session"
    if w == "dockerd environ":
        return "environ"
    if "profile" in w or w.endswith(("bashrc", ".bash_profile", "/.profile")):
        return "profile"
    if w.endswith(".json"):
        return "daemon.json"
    if w.endswith((".service", ".conf")) and "systemd" in w:
        return "unit"
    return "env file"


def credential_locations(facts: dict) -> Dict[str, List[str]]:
    """where (file, "session", "dockerd environ") -> variables whose proxy URL carries
    user:password, from proxy.has_credentials ("where:VAR") and the daemon's own view."""
    out: Dict[str, List[str]] = {}
    for entry in dig(facts, "proxy.has_credentials") or []:
        if isinstance(entry, str) and entry:
            where, _, var = entry.rpartition(":")
            out.setdefault(cap(where or entry, 200), []).append(cap(var, 40))
    if not out and docker_running(facts):
        for key in ("http_proxy", "https_proxy"):
            if has_userinfo(proxy_value(dig(facts, f"docker.info.{key}"))):
                out.setdefault("docker info", []).append(key.upper())
    if len(out) > 1:
        out.pop("dockerd environ", None)   # derived from one of the other places
    return out


@rule(
    id="proxy.credentials-plaintext", category="proxy", severity="medium",
    title="proxy password stored in plain text",
    why="""
A proxy URL with user:password in a systemd unit or drop-in, /etc/environment, a profile
script or daemon.json is readable by every local user (`systemctl show docker` prints
Environment= lines; those files are world-readable by default) and ends up in process
listings and support bundles. It does not break pulls by itself; a rotated password does,
with "Proxy Authentication Required".
""",
    remediation=["keep the credentials in a root-only file (EnvironmentFile= with mode 600)",
                 "rotate the proxy password if the file was readable"],
)
def credentials_plaintext(ctx: HostContext) -> Iterator[Hit]:
    where = credential_locations(ctx.facts)
    if not where:
        return
    kinds = sorted({_cred_kind(w) for w in where})
    severity = "low" if set(kinds) <= _CRED_LOW else "medium"
    fixes = [_CRED_FIX[k].replace("FILE", " ".join(q(w) for w in where if _cred_kind(w) == k))
             for k in kinds if k in _CRED_FIX]
    fixes.append("rotate the proxy password if these files were readable by others")
    yield Hit(
        evidence=[ev("proxy.has_credentials", sorted(f"{w}:{v}" for w, vs in where.items() for v in vs), [],
                     note="proxy URLs with user:password (values are redacted on the host)")],
        severity=severity,
        title=f"proxy password in plain text in {', '.join(sorted(where))[:120]}",
        remediation=fixes,
    )


def _env_side(facts: dict) -> Tuple[Dict[str, str], str]:
    """The daemon's proxy from its environment alone (not daemon.json): the running
    daemon's environ when readable, else what its init configuration sets."""
    environ = dig(facts, "proxy.environ")
    if isinstance(environ, dict):
        return {var: proxy_lookup(environ, var)[0] for var in PROXY_VARS if proxy_lookup(environ, var)[0]}, "proxy.environ"
    conf = dig(facts, "proxy.configured")
    if isinstance(conf, dict):
        return {var: proxy_lookup(conf, var)[0] for var in PROXY_VARS if proxy_lookup(conf, var)[0]}, "proxy.configured"
    return {}, ""


def _same(var: str, a: str, b: str) -> bool:
    if var == "NO_PROXY":
        return sorted(x.strip() for x in a.split(",") if x.strip()) == \
            sorted(x.strip() for x in b.split(",") if x.strip())
    return proxy_endpoint(a) == proxy_endpoint(b)


@rule(
    id="proxy.json-env-conflict", category="proxy", severity="medium",
    title="daemon.json \"proxies\" and the daemon's environment disagree",
    why="""
The daemon's proxy is configured twice with different values: daemon.json "proxies" and
the environment (systemd drop-in, EnvironmentFile). On Docker 23+ the daemon.json value
takes precedence, so the drop-in everyone reads is not what the daemon uses; before
Docker 23 dockerd does not know "proxies" at all and refuses to start ("the following
directives don't match any configuration option: http-proxy").
""",
    remediation=["keep one source of truth: remove the proxy from the drop-in or from daemon.json",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker",
                 "docker info | grep -i proxy   # what the daemon really uses"],
    needs_docker=True,
)
def json_env_conflict(ctx: HostContext) -> Iterator[Hit]:
    jp, jpath = json_proxies(ctx.facts)
    env, env_path = _env_side(ctx.facts)
    conflicts = [var for var in PROXY_VARS if var in jp and var in env and not _same(var, jp[var], env[var])]
    if not conflicts:
        return
    major = ctx.view.engine_major
    if major is not None and major < PROXIES_MIN_MAJOR:
        winner = "dockerd before 23 refuses daemon.json \"proxies\" (see daemon.json-unknown-option)"
    else:
        winner = "daemon.json wins (Docker 23+)"
    evidence = []
    for var in conflicts:
        evidence.append(ev(join_all((*jpath.split("."), PROXY_JSON_KEYS[var])), mask(jp[var]), note=winner))
        evidence.append(ev(join_all((*env_path.split("."), var)), mask(env[var]),
                           note=config_origin(ctx.facts, var) or ""))
    yield Hit(evidence=evidence,
              title=f"{', '.join(conflicts)} set differently in daemon.json and the daemon's environment: {winner}")


@rule(
    id="proxy.restart-pending", category="proxy", severity="medium",
    title="the running daemon does not use the configured proxy (restart pending)",
    why="""
dockerd reads its proxy only when it starts. After editing the drop-in the running daemon
keeps the old value until `systemctl daemon-reload && systemctl restart docker`: pulls keep
failing the old way ("i/o timeout" without a proxy, "proxyconnect tcp" with a dead one)
although the configuration looks right, and the next reboot changes behaviour by surprise.
""",
    remediation=["sudo systemctl daemon-reload && sudo systemctl restart docker",
                 "docker info | grep -i proxy"],
    needs_docker=True,
)
def restart_pending(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "proxy.pending_restart") is not True:
        return
    environ = dig(ctx.facts, "proxy.environ") or {}
    conf = dig(ctx.facts, "proxy.configured") or {}
    evidence = []
    for var in PROXY_VARS:
        run, want = proxy_lookup(environ, var)[0], proxy_lookup(conf, var)[0]
        if run != want:
            evidence.append(ev(join_all(("proxy", "environ", var)), mask(run) or None, mask(want) or None,
                               note=f"configured in {config_origin(ctx.facts, var) or 'the unit'}"))
    evidence.append(ev("proxy.pending_restart", True, False))
    changed = [e["fact"].rsplit(".", 1)[1] for e in evidence[:-1]]
    yield Hit(evidence=evidence, remediation=reload_and_restart(ctx.family) + ["docker info | grep -i proxy"],
              title=f"dockerd runs with an older proxy configuration ({', '.join(changed) or 'proxy'}): restart pending")


_PROXY_NAME = re.compile(r"(?i)^(https?|no|all)_proxy$")


@rule(
    id="proxy.env-file-export", category="proxy", severity="medium",
    title="proxy lines in an EnvironmentFile start with \"export\": systemd ignores them",
    why="""
A systemd EnvironmentFile= is not a shell script: "export HTTPS_PROXY=..." is not a
valid assignment and is skipped. The file looks right, but the daemon starts without that
proxy variable, and pulls behave as if it were never set ("dial tcp ...:443: i/o
timeout" on a proxy-only network).
""",
    remediation=["sudo sed -i 's/^[[:space:]]*export[[:space:]]\\+//' FILE   # plain VAR=value lines",
                 "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    needs_docker=True,
)
def env_file_export(ctx: HostContext) -> Iterator[Hit]:
    files = dig(ctx.facts, "proxy.env_files")
    dp = ctx.view.daemon_proxy
    for path, info in sorted(files.items()) if isinstance(files, dict) else ():
        ignored = [v for v in (info.get("ignored") or []) if isinstance(v, str) and _PROXY_NAME.match(v)] \
            if isinstance(info, dict) else []
        if not ignored:
            continue
        lost = [v for v in ignored if dp is not None and not dp.get(v.upper())]
        yield Hit(
            evidence=[ev(join_all(("proxy", "env_files", path, "ignored")), ignored, [],
                         note="'export VAR=...' lines: not assignments for systemd"),
                      *(ev(dp.origin.get(v.upper(), join_all(("proxy", "daemon", v.upper()))), None,
                           note="so the daemon does not have it") for v in lost)],
            severity="high" if lost and _fleet_has_proxy(ctx) else "medium",
            title=f"{cap(path, 80)}: {', '.join(ignored)} behind \"export\" are ignored by systemd",
            remediation=[f"sudo sed -i 's/^[[:space:]]*export[[:space:]]\\+//' {q(path)}",
                         *reload_and_restart(ctx.family)],
        )


def _fleet_has_proxy(ctx: HostContext) -> bool:
    exp = ctx.expect("proxy.daemon.endpoints", _endpoints)
    return exp is not None and isinstance(exp.value, dict) and any(exp.value.values())


@rule(
    id="proxy.env-file-missing", category="daemon", severity="critical",
    title="docker.service requires an EnvironmentFile that does not exist",
    why="""
EnvironmentFile=/path without a leading "-" makes the file mandatory: when it is missing
systemd does not start docker.service at all ("docker.service: Failed to load environment
files: No such file or directory"), and every pull fails with "Cannot connect to the Docker
daemon". Proxy drop-ins are the usual place this comes from.
""",
    remediation=["create the file (sudo install -m 600 /dev/null FILE), or write EnvironmentFile=-FILE",
                 "sudo systemctl daemon-reload && sudo systemctl start docker"],
    needs_docker=True,
)
def env_file_missing(ctx: HostContext) -> Iterator[Hit]:
    missing = [m for m in dig(ctx.facts, "proxy.missing_env_files") or [] if isinstance(m, str)]
    if not missing or dig(ctx.facts, "proxy.init") == "other":
        return   # not started by systemd: the unit's EnvironmentFile= does not apply
    up = dig(ctx.facts, "docker.daemon_up") is True
    yield Hit(
        evidence=[ev("proxy.missing_env_files", missing, []), ev("docker.daemon_up", dig(ctx.facts, "docker.daemon_up"))],
        severity="high" if up else "critical",
        title=f"docker.service needs {', '.join(missing)[:100]}, which is missing: "
              + ("the next restart fails" if up else "systemd does not start it"),
        remediation=[*(f"sudo install -m 600 /dev/null {q(m)}   # or EnvironmentFile=-{m}" for m in missing[:3]),
                     "sudo systemctl daemon-reload && sudo systemctl restart docker"],
    )
