"""Diagnosis rules: the Docker engine itself (daemon.json, engine state and version,
registry mirrors, insecure registries, restart loops).

The derived facts they judge (daemon.json, mirrors, insecure registries, the engine
version, fleet expectations) come from fleetaudit.facts; OS-family service commands
from text.py.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, List, Optional, Tuple

from ..facts.daemon import daemon_config, daemon_list_path, insecure_registries, registry_mirrors
from ..facts.proxy import PROXIES_MIN_MAJOR
from ..facts.schema import join_all
from ..facts.values import MISSING, str_list
from ..facts.versions import engine_major, engine_version_fact, version_tuple
from .base import Hit, HostContext, dig, ev, rule
from .text import cap, daemon_log_command, q, reload_and_restart, restart_docker


def _engine_state(facts: dict) -> Optional[bool]:
    up = dig(facts, "docker.daemon_up")
    return up if isinstance(up, bool) else None


def _start_severity(ctx: HostContext) -> Tuple[str, str]:
    """A config dockerd refuses: critical when the engine is down (that is why), high when
    it still runs on an older config (the next restart or reboot fails)."""
    if _engine_state(ctx.facts) is True:
        return "high", "dockerd still runs on the config it started with; the next restart fails"
    return "critical", "dockerd refuses to start with this file"


# ------------------------------------------------------------------ daemon.json

@rule(
    id="daemon.json-invalid", category="daemon", severity="critical",
    title="daemon.json is not valid JSON: dockerd refuses to start",
    why="""
dockerd parses daemon.json at start-up and exits when it is not a JSON object, e.g.
"unable to configure the Docker daemon with file /etc/docker/daemon.json: invalid character '}'
looking for beginning of object key string" (an empty file fails with "EOF", a byte-order mark
with "invalid character 'ï'"). With the engine down every pull fails with "Cannot connect to
the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?".
""",
    remediation=[
        "sudo python3 -m json.tool /etc/docker/daemon.json   # shows the line and column",
        "sudo dockerd --validate --config-file /etc/docker/daemon.json   # Docker 23+",
        "sudo systemctl restart docker",
    ],
    needs_docker=True,
)
def json_invalid(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "daemon_json.valid") is not False:
        return
    path = dig(ctx.facts, "daemon_json.path") or "/etc/docker/daemon.json"
    error = dig(ctx.facts, "daemon_json.error") or "not a JSON object"
    severity, state = _start_severity(ctx)
    fixes = []
    if dig(ctx.facts, "daemon_json.empty"):
        fixes.append(f"echo '{{}}' | sudo tee {q(path)}   # an empty file is not an empty config")
    elif dig(ctx.facts, "daemon_json.bom"):
        fixes.append(f"sudo sed -i '1s/^\\xEF\\xBB\\xBF//' {q(path)}   # strip the byte-order mark")
    else:
        fixes.append(f"sudo python3 -m json.tool {q(path)}   # {cap(error, 120)}")
        fixes.append(f"sudo dockerd --validate --config-file {q(path)}   # Docker 23+")
    fixes.append(restart_docker(ctx.family))
    yield Hit(
        evidence=[
            ev("daemon_json.valid", False, True),
            ev("daemon_json.error", cap(error), note=state),
            ev("daemon_json.path", path),
            ev("docker.daemon_up", _engine_state(ctx.facts)),
        ],
        title=f"{cap(path, 100)} is not valid JSON: {state}",
        severity=severity, remediation=fixes,
    )


# The key dockerd reads for a flag name used as a daemon.json key; these silently do
# nothing, which matters for pulls when they concern registries.
_PULL_KEYS = {"registry-mirrors", "insecure-registries", "dns", "mtu", "http-proxy",
              "https-proxy", "no-proxy", "max-concurrent-downloads", "data-root"}


def _unknown_keys(facts: dict) -> List[str]:
    keys = set(str_list(dig(facts, "daemon_json.unrecognized_keys")))
    cfg = daemon_config(facts)
    major = engine_major(facts)
    if cfg is not None and isinstance(cfg.get("proxies"), dict) and major is not None \
            and major < PROXIES_MIN_MAJOR:
        keys.update(k for k in cfg["proxies"] if isinstance(k, str))
    return sorted(keys)


@rule(
    id="daemon.json-unknown-option", category="daemon", severity="critical",
    title="daemon.json has options this dockerd does not know: it refuses to start",
    why="""
dockerd rejects a daemon.json with keys that are not daemon options of its version:
"unable to configure the Docker daemon with file /etc/docker/daemon.json: the following
directives don't match any configuration option: KEY". A typo, an option from a newer
Docker (the "proxies" object needs Docker 23+), or a client-side key copied from
~/.docker/config.json all do it. Pulls then fail with "Cannot connect to the Docker daemon".
""",
    remediation=[
        "sudo dockerd --validate --config-file /etc/docker/daemon.json   # Docker 23+",
        "edit /etc/docker/daemon.json: remove or correct the keys named in the evidence",
        "sudo systemctl restart docker",
    ],
    needs_docker=True,
)
def json_unknown_option(ctx: HostContext) -> Iterator[Hit]:
    keys = _unknown_keys(ctx.facts)
    if not keys:
        return
    path = dig(ctx.facts, "daemon_json.path") or "/etc/docker/daemon.json"
    severity, state = _start_severity(ctx)
    evidence = [ev("daemon_json.unrecognized_keys", keys, [], note=state),
                ev("docker.daemon_up", _engine_state(ctx.facts))]
    fixes = [f"edit {q(path)}: remove or correct {', '.join(json.dumps(k) for k in keys)}"]
    proxy_keys = [k for k in keys if k in ("http-proxy", "https-proxy", "no-proxy")]
    if proxy_keys:
        vpath, version = engine_version_fact(ctx.facts)
        evidence.append(ev(vpath or "docker.server.version", version, f">= {PROXIES_MIN_MAJOR}.0",
                           note='daemon.json "proxies" needs Docker 23+'))
        if ctx.family == "alpine":
            fixes.append("move the proxy to /etc/conf.d/docker: export HTTP_PROXY=... HTTPS_PROXY=... NO_PROXY=...")
        else:
            fixes.append("move the proxy to /etc/systemd/system/docker.service.d/http-proxy.conf "
                         "([Service] Environment=\"HTTP_PROXY=...\" \"HTTPS_PROXY=...\" \"NO_PROXY=...\")")
    fixes.extend(reload_and_restart(ctx.family))
    yield Hit(evidence=evidence, severity=severity, remediation=fixes,
              title=f"daemon.json options unknown to dockerd ({', '.join(keys)[:120]}): {state}")


@rule(
    id="daemon.json-flag-conflict", category="daemon", severity="critical",
    title="daemon.json repeats a dockerd command-line flag: dockerd refuses to start",
    why="""
An option set both on dockerd's command line (the systemd unit's ExecStart, DOCKER_OPTS)
and in daemon.json stops the daemon: "unable to configure the Docker daemon with file
/etc/docker/daemon.json: the following directives are specified both as a flag and in the
configuration file: hosts: (from flag: [fd://], from file: [unix:///var/run/docker.sock])".
Every pull then fails with "Cannot connect to the Docker daemon".
""",
    remediation=[
        "remove the key from /etc/docker/daemon.json, or the flag from the unit "
        "(sudo systemctl edit docker: ExecStart= then ExecStart=/usr/bin/dockerd without it)",
        "sudo systemctl daemon-reload && sudo systemctl restart docker",
    ],
    needs_docker=True,
)
def json_flag_conflict(ctx: HostContext) -> Iterator[Hit]:
    keys = str_list(dig(ctx.facts, "daemon_json.flag_conflicts"))
    if not keys:
        return
    path = dig(ctx.facts, "daemon_json.path") or "/etc/docker/daemon.json"
    severity, state = _start_severity(ctx)
    args = dig(ctx.facts, "daemon_json.dockerd_args")
    fixes = [f"edit {q(path)}: remove {', '.join(json.dumps(k) for k in keys)}, "
             "or drop the same flag from dockerd's command line"]
    if "hosts" in keys and ctx.family != "alpine":
        fixes.append("or keep \"hosts\" and override the unit: printf '[Service]\\nExecStart=\\n"
                     "ExecStart=/usr/bin/dockerd\\n' | sudo tee /etc/systemd/system/docker.service.d/hosts.conf")
    fixes.extend(reload_and_restart(ctx.family))
    yield Hit(
        evidence=[ev("daemon_json.flag_conflicts", keys, [], note=state),
                  ev("daemon_json.dockerd_args", args),
                  ev("daemon_json.args_source", dig(ctx.facts, "daemon_json.args_source")),
                  ev("docker.daemon_up", _engine_state(ctx.facts))],
        severity=severity, remediation=fixes,
        title=f"daemon.json sets {', '.join(keys)[:80]} which dockerd's command line also sets: {state}",
    )


@rule(
    id="daemon.json-ignored-key", category="daemon", severity="medium",
    title="daemon.json uses a flag's name as key: dockerd accepts it and ignores it",
    why="""
dockerd accepts a command-line flag's name as a daemon.json key ("registry-mirror",
"insecure-registry") without error but never reads it: the setting silently has no effect.
The host then pulls as if it were not configured (no mirror: Docker Hub direct and its
"toomanyrequests" limit; registry not insecure: "http: server gave HTTP response to HTTPS
client"), while the file looks right to anyone reading it.
""",
    remediation=["rename the key in /etc/docker/daemon.json to the plural form dockerd reads",
                 "sudo systemctl restart docker"],
    needs_docker=True,
)
def json_ignored_key(ctx: HostContext) -> Iterator[Hit]:
    ignored = dig(ctx.facts, "daemon_json.ignored_keys")
    if not isinstance(ignored, dict) or not ignored:
        return
    path = dig(ctx.facts, "daemon_json.path") or "/etc/docker/daemon.json"
    pull = any(v in _PULL_KEYS for v in ignored.values())
    names = ", ".join(f"{k} -> {v}" for k, v in sorted(ignored.items()))
    yield Hit(
        evidence=[ev("daemon_json.ignored_keys", ignored, {})],
        severity="medium" if pull else "low",
        title=f"daemon.json keys dockerd ignores: {cap(names, 120)}",
        remediation=[f"edit {q(path)}: rename {cap(names, 200)}", restart_docker(ctx.family)],
    )


# ------------------------------------------------------------------ engine state

@rule(
    id="daemon.engine-down", category="daemon", severity="critical",
    title="Docker engine does not answer",
    why="""
Every pull goes through dockerd. When it is not running (stopped, crashed at start,
refused its configuration) the CLI prints "Cannot connect to the Docker daemon at
unix:///var/run/docker.sock. Is the docker daemon running?" and nothing on the host can
pull or start containers.
""",
    remediation=[
        "sudo systemctl status docker",
        "journalctl -u docker -b --no-pager | tail -n 50   # why it stopped",
        "sudo systemctl start docker",
    ],
)
def engine_down(ctx: HostContext) -> Iterator[Hit]:
    installed = dig(ctx.facts, "docker.installed")
    if installed is False:
        yield from _docker_missing(ctx)
        return
    kind = dig(ctx.facts, "docker.error_kind")
    if installed is not True or (dig(ctx.facts, "docker.daemon_up") is not False and kind != "api-version"):
        return
    error = dig(ctx.facts, "docker.error") or ""
    evidence = [ev("docker.daemon_up", dig(ctx.facts, "docker.daemon_up"), True),
                ev("docker.error", cap(error)), ev("docker.error_kind", kind)]
    running = dig(ctx.facts, "docker.dockerd.running")
    if kind == "permission-denied":
        yield Hit(evidence=evidence, severity="info",
                  title="docker socket not readable by the audit user: engine facts unknown",
                  remediation=["audit as root, or let the audit user use sudo -n (become)"])
        return
    if kind == "api-version":
        yield Hit(evidence=evidence + [ev("docker.client.api_version", dig(ctx.facts, "docker.client.api_version"))],
                  severity="high", title="docker CLI and engine API versions are incompatible",
                  remediation=["env | grep DOCKER_API_VERSION   # a pinned API version newer than the engine's",
                               "unset DOCKER_API_VERSION (the CLI negotiates), or install a CLI the engine supports",
                               "docker version"])
        return
    if kind == "timeout":
        yield _engine_hung(ctx, evidence, running)
        return
    if running is not None:
        evidence.append(ev("docker.dockerd.running", running, True,
                           note="a dockerd process runs: the CLI talks to another socket (DOCKER_HOST, context)"
                           if running else ""))
    fixes = [
        "sudo systemctl status docker" if ctx.family != "alpine" else "sudo rc-service docker status",
        daemon_log_command(ctx.family),
    ]
    cause = _config_cause(ctx)
    if cause:
        evidence.append(ev("findings", cause, note="daemon.json explains it: that finding carries the fix"))
        fixes.append(f"fix daemon.json first (see {', '.join(cause)})")
    fixes.append("sudo rc-service docker start" if ctx.family == "alpine" else "sudo systemctl start docker")
    severity = "high" if kind == "timeout" else "critical"
    title = "Docker engine does not answer" + (" (timed out)" if kind == "timeout" else "")
    yield Hit(evidence=evidence, severity=severity, title=title, remediation=fixes)


def _engine_hung(ctx: HostContext, evidence: list, running: Any) -> Hit:
    """The CLI connected and then waited: dockerd (or the containerd under it) is wedged.
    Pulls wait the same way, so this explains pulls that hang rather than fail."""
    evidence = evidence + [ev("docker.responding", dig(ctx.facts, "docker.responding"), True)]
    if running is not None:
        evidence.append(ev("docker.dockerd.running", running, True))
    skipped = dig(ctx.facts, "docker.skipped") or {}
    if skipped:
        evidence.append(ev("docker.skipped", sorted(skipped), note="not asked: the CLI would have hung too"))
    return Hit(
        evidence=evidence, severity="critical",
        title="Docker engine hangs: the docker CLI timed out waiting for it"
        + (" (dockerd is running)" if running else ""),
        remediation=[
            "ps -o pid,stat,etime,cmd -C dockerd,containerd   # state T (stopped) or D (stuck in I/O)",
            "sudo kill -USR1 $(pidof dockerd)   # goroutine dump into the daemon log: where it is stuck",
            daemon_log_command(ctx.family),
            "sudo rc-service docker restart" if ctx.family == "alpine" else "sudo systemctl restart docker",
        ])


def _config_cause(ctx: HostContext) -> List[str]:
    out = []
    if dig(ctx.facts, "daemon_json.valid") is False:
        out.append("daemon.json-invalid")
    if _unknown_keys(ctx.facts):
        out.append("daemon.json-unknown-option")
    if str_list(dig(ctx.facts, "daemon_json.flag_conflicts")):
        out.append("daemon.json-flag-conflict")
    return out


def _installed(facts: dict) -> Any:
    v = dig(facts, "docker.installed")
    return v if isinstance(v, bool) else MISSING


def _docker_missing(ctx: HostContext) -> Iterator[Hit]:
    exp = ctx.expect("docker.installed", _installed)
    if exp is None or exp.value is not True:
        return  # a fleet without docker, or nobody to compare with: not our business
    pkg = {"debian": "sudo apt-get install docker-ce   # or docker.io",
           "rhel": "sudo dnf install docker-ce", "suse": "sudo zypper install docker",
           "alpine": "sudo apk add docker && sudo rc-update add docker"}.get(
        ctx.family, "install Docker Engine (https://docs.docker.com/engine/install/)")
    yield Hit(evidence=[ev("docker.installed", False, True, note=exp.source)],
              severity="high", title="docker is not installed on this host",
              remediation=[pkg, restart_docker(ctx.family)])


# ------------------------------------------------------------------ engine version

def _version_norm(facts: dict) -> Any:
    if dig(facts, "docker.daemon_up") is not True:
        return MISSING
    t = version_tuple(dig(facts, "docker.server.version"))
    return "%d.%d.%d" % t if t else MISSING


@rule(
    id="daemon.version-drift", category="daemon", severity="medium",
    title="Docker engine version differs from the fleet",
    why="""
Engines of different versions pull differently: Docker 20.10+ (Go 1.15+) rejects registry
certificates without a subjectAltName ("x509: certificate relies on legacy common name
field"), daemon.json "proxies" needs 23+, newer engines refuse old image formats (manifest
schema 1) and change defaults (image store, mirrors). "Works on one host but not another"
often comes down to the one host on another version.
""",
    remediation=["docker version   # compare with a working host",
                 "upgrade or pin the engine package to the fleet's version"],
    needs_docker=True,
)
def version_drift(ctx: HostContext) -> Iterator[Hit]:
    for item in ctx.drifted("docker.server.version"):
        if getattr(item, "kind", "") == "violation":
            yield Hit(evidence=[ev("docker.server.version", dig(ctx.facts, "docker.server.version"),
                                   item.expected, note=f"policy ({item.baseline})")],
                      title=f"Docker engine {dig(ctx.facts, 'docker.server.version')} violates the policy "
                            f"({cap(item.expected, 60)})",
                      remediation=_upgrade(ctx, None))
            return
    mine = _version_norm(ctx.facts)
    if mine is MISSING:
        return
    exp = ctx.expect("docker.server.version", _version_norm)
    if exp is None or not isinstance(exp.value, str) or exp.value == mine:
        return
    a, b = version_tuple(mine), version_tuple(exp.value)
    if not a or not b:
        return
    if a[0] != b[0]:
        severity, what = "high", "major"
    elif a[1] != b[1]:
        severity, what = "medium", "minor"
    else:
        severity, what = "low", "patch"   # same release line: pull behaviour does not change
    raw = dig(ctx.facts, "docker.server.version")
    yield Hit(
        evidence=[ev("docker.server.version", raw, exp.value, note=exp.source)],
        severity=severity,
        title=f"Docker engine {cap(raw, 40)} differs from the fleet's {exp.value} ({what} version)",
        remediation=_upgrade(ctx, exp.value),
    )


def _upgrade(ctx: HostContext, version: Optional[str]) -> List[str]:
    v = version or "<version>"
    cmds = {
        "debian": [f"apt-cache madison docker-ce docker.io | grep {q(v)}",
                   f"sudo apt-get install docker-ce=<the {v} package version>   # or docker.io"],
        "rhel": [f"sudo dnf list docker-ce --showduplicates | grep {q(v)}",
                 f"sudo dnf install docker-ce-<the {v} package version>"],
        "suse": ["sudo zypper search -s docker", "sudo zypper install docker=<version>"],
        "alpine": ["apk policy docker", "sudo apk add docker=<version>"],
    }.get(ctx.family, [f"install Docker Engine {v} with the host's package manager"])
    return ["docker version   # on this host and on a working one"] + cmds + [restart_docker(ctx.family)]


# ------------------------------------------------------------------ registries in daemon.json

@rule(
    id="daemon.insecure-registry", category="tls", severity="medium",
    title="insecure-registries: TLS verification is off for some registries",
    why="""
A registry in insecure-registries is pulled without certificate verification (or over
plain HTTP): anyone on the path can serve a different image. Hosts that differ here also
pull differently: where the entry is missing the same pull fails with "http: server gave
HTTP response to HTTPS client" or "x509: certificate signed by unknown authority".
""",
    remediation=["serve the registry over TLS with a trusted certificate and install its CA: "
                 "/etc/docker/certs.d/REGISTRY/ca.crt",
                 "then remove it from insecure-registries in /etc/docker/daemon.json",
                 "sudo systemctl restart docker"],
    needs_docker=True,
)
def insecure_registry(ctx: HostContext) -> Iterator[Hit]:
    mine = ctx.view.insecure_registries
    if mine is MISSING or not mine:
        return
    exp = ctx.expect("docker.insecure_registries", insecure_registries)
    expected = exp.value if exp is not None else None
    extra = [r for r in mine if expected is None or r not in expected]
    # The same entries on the whole fleet are a deliberate (if weak) practice, not drift.
    severity = "medium" if extra else "low"
    names = extra or mine
    path = daemon_list_path(ctx.facts, "insecure_registries", "insecure-registries")
    yield Hit(
        evidence=[ev(path, mine, expected if expected is not None else [],
                     note=exp.source if exp else "no baseline: any entry weakens TLS")],
        severity=severity,
        title=f"TLS verification off for {', '.join(names)[:120]}"
              + ("" if extra else " (the same on the fleet)"),
        remediation=[
            *(f"sudo mkdir -p /etc/docker/certs.d/{q(r)} && sudo cp REGISTRY-CA.crt "
              f"/etc/docker/certs.d/{q(r)}/ca.crt" for r in names[:3] if "/" not in r),
            "remove them from \"insecure-registries\" in /etc/docker/daemon.json",
            restart_docker(ctx.family),
        ],
    )


@rule(
    id="daemon.insecure-registry-missing", category="tls", severity="high",
    title="a registry the fleet treats as insecure is not insecure here",
    why="""
The fleet pulls some registries without TLS verification (plain HTTP or an untrusted
certificate). This host verifies them, so the same pull fails here: "http: server gave
HTTP response to HTTPS client" for an HTTP-only registry, "x509: certificate signed by
unknown authority" for a self-signed one.
""",
    remediation=["add the registry to \"insecure-registries\" in /etc/docker/daemon.json like "
                 "the fleet (better: give it TLS and install the CA everywhere)",
                 "sudo systemctl restart docker"],
    needs_docker=True,
)
def insecure_registry_missing(ctx: HostContext) -> Iterator[Hit]:
    mine = ctx.view.insecure_registries
    if mine is MISSING:
        return
    exp = ctx.expect("docker.insecure_registries", insecure_registries)
    if exp is None or not isinstance(exp.value, list):
        return
    missing = [r for r in exp.value if r not in mine]
    if not missing:
        return
    path = daemon_list_path(ctx.facts, "insecure_registries", "insecure-registries")
    yield Hit(
        evidence=[ev(path, mine, exp.value, note=exp.source)],
        title=f"{', '.join(missing)[:120]} insecure on the fleet but verified here",
        remediation=[f"add {', '.join(json.dumps(r) for r in missing)} to \"insecure-registries\" in "
                     "/etc/docker/daemon.json (or give the registry a trusted certificate)",
                     restart_docker(ctx.family)],
    )


@rule(
    id="daemon.registry-mirrors", category="daemon", severity="medium",
    title="registry mirrors differ from the fleet: Docker Hub pulls go elsewhere",
    why="""
registry-mirrors decide where Docker Hub images come from. Without the fleet's mirror the
host pulls from Docker Hub directly: anonymous rate limits ("toomanyrequests: You have
reached your pull rate limit") and egress/proxy rules the mirror exists to avoid ("dial tcp
...:443: i/o timeout"). With another mirror it gets whatever that mirror has (stale tags:
"manifest unknown").
""",
    remediation=["set \"registry-mirrors\" in /etc/docker/daemon.json to the fleet's list",
                 "sudo systemctl restart docker",
                 "docker info --format '{{.RegistryConfig.Mirrors}}'"],
    needs_docker=True,
)
def mirrors_differ(ctx: HostContext) -> Iterator[Hit]:
    mine = ctx.view.registry_mirrors
    if mine is MISSING:
        return
    exp = ctx.expect("docker.registry_mirrors", registry_mirrors)
    if exp is None or not isinstance(exp.value, list) or sorted(exp.value) == mine:
        return
    missing = [m for m in exp.value if m not in mine]
    extra = [m for m in mine if m not in exp.value]
    if missing and not mine:
        title = f"no registry mirror (the fleet uses {', '.join(missing)[:100]}): Docker Hub pulls go direct"
    elif missing:
        title = f"registry mirrors {', '.join(mine)[:80]} instead of the fleet's {', '.join(missing)[:80]}"
    else:
        title = f"extra registry mirror {', '.join(extra)[:100]}: Docker Hub pulls go there first"
    path = daemon_list_path(ctx.facts, "registry_mirrors", "registry-mirrors")
    yield Hit(
        evidence=[ev(path, mine, exp.value, note=exp.source)],
        title=title,
        remediation=[f"set \"registry-mirrors\": {json.dumps(exp.value)} in /etc/docker/daemon.json",
                     restart_docker(ctx.family),
                     "docker info --format '{{.RegistryConfig.Mirrors}}'"],
    )


# ------------------------------------------------------------------ restart loops

# systemd counts restarts since boot; a few are a flaky start, more is a loop.
UNIT_RESTARTS_LOOP = 3
# Units that are the engine: when they loop, every pull in flight is cut off.
ENGINE_UNITS = {"docker.service", "containerd.service", "docker.socket"}


@rule(
    id="daemon.restart-loop", category="daemon", severity="high",
    title="containers or units keep restarting",
    why="""
A restart loop is what a pull failure looks like without Kubernetes: a unit or a container
with a restart policy fails to get its image ("pull access denied", "manifest unknown",
"i/o timeout"), exits, and is restarted again and again, hammering the registry. When the
engine itself loops (docker.service, containerd.service), every pull in flight is cut off.
""",
    remediation=["journalctl -u UNIT -n 50 --no-pager   # or docker logs CONTAINER",
                 "slow the retries: RestartSec=30 in the unit; pre-pull the image before starting"],
)
def restart_loop(ctx: HostContext) -> Iterator[Hit]:
    units = dig(ctx.facts, "restarts.units")
    for u in units if isinstance(units, list) else []:
        if not isinstance(u, dict):
            continue
        n, name = u.get("restarts"), u.get("unit")
        if not isinstance(name, str):
            continue
        counted = isinstance(n, int) and not isinstance(n, bool) and n >= UNIT_RESTARTS_LOOP
        if not counted and u.get("sub_state") != "auto-restart":
            continue
        engine = name in ENGINE_UNITS
        n = n if isinstance(n, int) else "several"
        yield Hit(
            evidence=[ev(join_all(("restarts", "units", name, "restarts")), n, f"< {UNIT_RESTARTS_LOOP}"),
                      ev(join_all(("restarts", "units", name, "sub_state")), u.get("sub_state"))],
            severity="high" if engine else "medium",
            title=f"{cap(name, 80)} restarted {n} times" + (": the engine keeps crashing" if engine else ""),
            remediation=([f"journalctl -u {q(name)} -b -n 100 --no-pager"]
                         + ([f"sudo systemctl reset-failed {q(name)}"] if engine else
                            [f"sudo systemctl edit {q(name)}   # RestartSec=30, and pull the image in ExecStartPre"])),
        )
    looping = str_list(dig(ctx.facts, "restarts.looping"))
    if looping:
        counts, now = {}, []
        for c in dig(ctx.facts, "restarts.containers") or []:
            if isinstance(c, dict) and c.get("name") in looping:
                counts[c["name"]] = c.get("restart_count")
                if c.get("restarting") is True or c.get("status") == "restarting":
                    now.append(c["name"])
        # Restarting now is a live loop; restarts in the past (exited since) are history.
        yield Hit(
            evidence=[ev("restarts.looping", looping, []),
                      *(ev(join_all(("restarts", "containers", n, "restart_count")), counts[n]) for n in sorted(counts))],
            severity="medium" if now or not counts else "low",
            title=(f"containers in a restart loop: {', '.join(now)[:120]}" if now else
                   f"containers that restarted repeatedly: {', '.join(looping)[:120]}"),
            remediation=[*(f"docker logs --tail 50 {q(n)}" for n in looping[:3]),
                         "docker inspect --format '{{.State.Error}} {{.RestartCount}}' " + " ".join(q(n) for n in looping[:3])],
        )
