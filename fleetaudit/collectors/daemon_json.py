"""daemon_json: the daemon configuration file, parsed on the controller, and the ways dockerd
would refuse it.

Facts:
- path: str — the file dockerd reads: `--config-file` of the running dockerd, else of the
  unit's ExecStart (or DOCKER_OPTS), else /etc/docker/daemon.json
- path_source: "process"|"unit"|"default"|null (null: the host did not say)
- present: bool|null
- size: int|null — bytes received (after host-side redaction)
- valid: bool|null — strict JSON object, as dockerd 20.10 reads it (null: not readable)
- error: str|null — why not valid, with line and column for syntax errors
  (e.g. "Expecting ',' delimiter: line 3 column 5 (char 40)"), or why not read
- empty: bool, bom: bool — dockerd 20.10 fails on both ("EOF", "invalid character 'ï'")
- config: {...}|null — the parsed object (values redacted on the host where secret)
- keys: [sorted top-level keys]
- duplicate_keys: [sorted] — keys given twice in one object (the last one wins, silently)
- unrecognized_keys: [sorted] — after dockerd's own flattening of nested objects, keys
  that are not daemon options of Docker 20.10-28: dockerd refuses to start
  ("the following directives don't match any configuration option: ...")
- ignored_keys: {key: the key dockerd reads} — a flag's name used as key
  ("insecure-registry"): accepted, but has no effect
- dockerd_args: [str]|null — the daemon's command-line arguments (argv[1:])
- args_source: "process"|"unit" (systemd)|"init-defaults" (DOCKER_OPTS for sysvinit/OpenRC)|null
- flag_conflicts: [sorted keys] — set both as a flag and in the file: dockerd refuses to
  start ("the following directives are specified both as a flag and in the
  configuration file: hosts: ...")
- notes: [str] — numbers kept as their raw token, a string, in `config` (see
  jsonfacts): `invalid number 1e999 for "mtu": out of range for a 64-bit float` (dockerd
  refuses the file, so valid is false and error says it), or an integer beyond +-2**53
  (kept as text; dockerd may accept it)
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Dict, List, Optional, Tuple

from .base import RC_NO_FILE, Collector, Part, Section, part
from .docker import DOCKER_UNITS_SH, DOCKERD_PIDS_SH, clean
from .jsonfacts import OUT_OF_RANGE, load_host_json

DEFAULT_PATH = "/etc/docker/daemon.json"

SCRIPT = r"""
FA_CFG=; FA_SRC=default
fa_part init; if [ -d /run/systemd/system ]; then echo systemd; else echo other; fi; fa_rc 0
fa_part dockerd
fa_dockerd_scan
# The proxy collector wants the same --config-file (the last one any dockerd names): it
# is left in FA_DCFG (FA_DCFG_DONE=1) unless a command line was long enough for the
# guard to have cut it (proxy reads those whole, as before).
FA_DCFG=; FA_DCFG_DONE=1
for FA_P in $FA_DPIDS; do
  FA_A=$( { tr '\0' '\n' < "/proc/$FA_P/cmdline"; } 2>/dev/null | head -c "$((FA_CAP * 2))")
  printf '@pid %s\n%s\n' "$FA_P" "$FA_A"
  [ "${#FA_A}" -lt "$FA_CAP" ] || FA_DCFG_DONE=
  fa_config_arg
  if [ -n "$FA_X" ]; then FA_CFG=$FA_X; FA_SRC=process; FA_DCFG=$FA_X; fi
done
fa_rc 0
fa_docker_units >/dev/null
FA_U=$(fa_docker_unit_lines -e '/^[[:space:]]*ExecStart[[:space:]]*=/p' | head -c "$((FA_CAP * 2))")
fa_part unit; printf '%s\n' "$FA_U"; fa_rc 0
FA_O=$(for FA_F in /etc/default/docker /etc/sysconfig/docker; do
  [ -f "$FA_F" ] || continue
  echo "@file $FA_F"
  sed -n -e '/^[[:space:]]*DOCKER_OPTS=/p' -e '/^[[:space:]]*OPTIONS=/p' \
    -e '/^[[:space:]]*export[[:space:]][[:space:]]*DOCKER_OPTS=/p' "$FA_F" | head -c "$((FA_CAP * 2))"
done)
fa_part opts; printf '%s\n' "$FA_O"; fa_rc 0
# The sed can only print something when the text names --config-file at all.
case $FA_CFG:$FA_U$FA_O in
:*--config-file*)
  FA_X=$(printf '%s\n%s\n' "$FA_U" "$FA_O" | sed -n 's/.*--config-file[= ][[:space:]]*\([^[:space:]"'"'"']*\).*/\1/p' | tail -n 1)
  if [ -n "$FA_X" ]; then FA_CFG=$FA_X; FA_SRC=unit; fi ;;
esac
FA_CFG=${FA_CFG:-/etc/docker/daemon.json}
fa_part path; printf '%s %s\n' "$FA_SRC" "$FA_CFG"; fa_rc 0
if [ -e "$FA_CFG" ]; then fa_root json cat "$FA_CFG"; else fa_part json; fa_rc 2; fi
"""

# Nested objects dockerd keeps whole; every other nested object is flattened into its
# keys before the unknown-key and flag-conflict checks (so "proxies" is checked as
# "http-proxy", "https-proxy", "no-proxy").
FLAT_OPTIONS = {"cluster-store-opts", "log-opts", "runtimes", "default-ulimits", "features",
                "builder", "default-network-opts"}

# Every daemon.json option of Docker 20.10 through 28 (linux), flattened.
KNOWN_KEYS = {
    "allow-direct-routing", "allow-nondistributable-artifacts", "api-cors-header",
    "apparmor-profile", "authorization-plugins", "bip", "bip6", "bridge",
    "bridge-accept-fwmark", "builder", "cdi-spec-dirs", "cgroup-parent",
    "cluster-advertise", "cluster-store", "cluster-store-opts", "containerd",
    "containerd-namespace", "containerd-plugins-namespace", "cpu-rt-period",
    "cpu-rt-runtime", "data-root", "debug", "default-address-pools",
    "default-cgroupns-mode", "default-gateway", "default-gateway-v6", "default-ipc-mode",
    "default-network-opts", "default-runtime", "default-shm-size", "default-ulimits",
    "dns", "dns-opts", "dns-search", "exec-opts", "exec-root", "experimental", "features",
    "firewall-backend", "fixed-cidr", "fixed-cidr-v6", "graph", "group", "host-gateway-ip",
    "host-gateway-ips", "hosts", "http-proxy", "https-proxy", "icc", "init", "init-path",
    "insecure-registries", "ip", "ip-forward", "ip-forward-no-drop", "ip-masq", "ip6tables",
    "iptables", "ipv6", "labels", "live-restore", "log-driver", "log-format", "log-level",
    "log-opts", "max-concurrent-downloads", "max-concurrent-uploads",
    "max-download-attempts", "metrics-addr", "min-api-version", "mtu",
    "network-control-plane-mtu", "network-diagnostic-port", "no-new-privileges",
    "no-proxy", "node-generic-resources", "oom-score-adjust", "pidfile", "raw-logs",
    "registry-mirrors", "rootless", "runtimes", "seccomp-profile", "selinux-enabled",
    "shutdown-timeout", "storage-driver", "storage-opts", "swarm-default-advertise-addr",
    "tls", "tlscacert", "tlscert", "tlskey", "tlsverify", "userland-proxy",
    "userland-proxy-path", "userns-remap",
}

# Flags whose daemon.json key is another word. A flag's own name used as a key is
# accepted by dockerd (it is a known flag) but never read: "ignored_keys".
FLAG_TO_KEY = {
    "H": "hosts", "host": "hosts", "D": "debug", "l": "log-level", "G": "group",
    "b": "bridge", "p": "pidfile", "g": "graph", "s": "storage-driver",
    "insecure-registry": "insecure-registries", "registry-mirror": "registry-mirrors",
    "label": "labels", "storage-opt": "storage-opts", "exec-opt": "exec-opts",
    "log-opt": "log-opts", "dns-opt": "dns-opts", "add-runtime": "runtimes",
    "default-ulimit": "default-ulimits", "authorization-plugin": "authorization-plugins",
    "cluster-store-opt": "cluster-store-opts", "node-generic-resource": "node-generic-resources",
    "default-address-pool": "default-address-pools", "feature": "features",
    "cdi-spec-dir": "cdi-spec-dirs",
}
# Command-line-only flags: never a conflict.
CLI_ONLY = {"config-file", "validate", "version", "v", "help", "h"}


class _Invalid(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Invalid(f"invalid constant {name} (not JSON; dockerd rejects it)")


def load(text: str) -> Tuple[Any, Optional[str], List[str], List[str]]:
    """(value, error, duplicate keys, notes) for strict JSON text.

    Numbers no JSON reader keeps (1e999, 400-digit integers, beyond +-2**53) come back
    as their raw token with a note instead of float('inf'), which is not JSON.
    """
    dups: set = set()

    def pairs(items: List[Tuple[str, Any]]) -> dict:
        seen: Dict[str, Any] = {}
        for k, v in items:
            if k in seen:
                dups.add(k)
            seen[k] = v
        return seen

    try:
        value, notes = load_host_json(text, object_pairs_hook=pairs, reject_constant=_reject_constant)
    except ValueError as exc:  # json.JSONDecodeError: "msg: line L column C (char N)"
        return None, str(exc), sorted(dups), []
    return value, None, sorted(dups), notes


def flatten(config: dict) -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for k, v in config.items():
        if isinstance(v, dict) and k not in FLAT_OPTIONS:
            flat.update(v)
        else:
            flat[k] = v
    return flat


def _processes(p: Part) -> List[List[str]]:
    """argv lists of the dockerd processes, in the order the host listed them."""
    procs: List[List[str]] = []
    for line in p.out.splitlines():
        if line.startswith("@pid "):
            procs.append([])
        elif procs and line:
            procs[-1].append(clean(line))
    return [argv for argv in procs if argv]


def _files(p: Part) -> List[Tuple[str, List[str]]]:
    """[(path, lines)] from "@file PATH" blocks."""
    files: List[Tuple[str, List[str]]] = []
    for line in p.out.splitlines():
        if line.startswith("@file "):
            files.append((clean(line[6:]), []))
        elif files and line.strip():
            files[-1][1].append(line)
    return files


def _env_vars(p: Part) -> Dict[str, str]:
    """DOCKER_OPTS / OPTIONS from /etc/default/docker and /etc/sysconfig/docker."""
    env: Dict[str, str] = {}
    for _path, lines in _files(p):
        for line in lines:
            m = re.match(r"\s*(?:export\s+)?([A-Z_]+)=(.*)$", line)
            if m:
                try:
                    words = shlex.split(m.group(2), comments=True)
                except ValueError:
                    continue
                env[m.group(1)] = " ".join(words)
    return env


def _expand(argv: List[str], env: Dict[str, str]) -> List[str]:
    """systemd's ExecStart expansion: $VAR splits into words, ${VAR} stays one word."""
    out: List[str] = []
    for word in argv:
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            out.extend(env.get(m.group(1), "").split())
            continue
        out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda x: env.get(x.group(1), ""), word))
    return out


def unit_exec_start(p: Part, env: Dict[str, str]) -> Optional[List[str]]:
    """argv of the effective ExecStart= (an empty assignment resets the list)."""
    commands: List[str] = []
    for _path, lines in _files(p):
        for line in lines:
            _, _, value = line.partition("=")
            value = value.strip()
            if not value:
                commands = []
            else:
                commands.append(value)
    if not commands:
        return None
    try:
        argv = shlex.split(commands[-1])
    except ValueError:
        return None
    if argv:
        argv[0] = argv[0].lstrip("@-:+!")
    return [clean(a) for a in _expand(argv, env)]


def flags_of(args: List[str]) -> List[str]:
    """Flag names given in dockerd args (without dashes)."""
    names = []
    for a in args:
        if a.startswith("--") and len(a) > 2:
            names.append(a[2:].split("=", 1)[0])
        elif a.startswith("-") and len(a) > 1 and not a[1:2].isdigit():
            names.append(a[1:2])  # -H, -D, -Hfd:// (a value glued to a short flag)
    return names


def conflicts(flags: List[str], flat: Dict[str, Any]) -> List[str]:
    found = set()
    for name in flags:
        if name in CLI_ONLY:
            continue
        key = FLAG_TO_KEY.get(name, name)
        if key in flat:
            found.add(key)
    return sorted(found)


def parse(section: Section) -> dict:
    path, path_source = DEFAULT_PATH, None
    path_line = clean(part(section, "path").out.split("\n", 1)[0])
    src, _, value = path_line.partition(" ")
    if src in ("process", "unit", "default") and value.startswith("/"):
        path, path_source = value, src

    # The args of the running daemon, else those its init system would give it: the
    # unit's ExecStart under systemd, DOCKER_OPTS for the sysvinit/OpenRC scripts.
    init = part(section, "init").out.strip()
    procs = _processes(part(section, "dockerd"))
    env = _env_vars(part(section, "opts"))
    args: Optional[List[str]] = None
    args_source = None
    if procs:
        args, args_source = procs[0][1:], "process"
    elif init == "systemd" or (not init and part(section, "unit").out.strip()):
        argv = unit_exec_start(part(section, "unit"), env)
        if argv:
            args, args_source = argv[1:], "unit"
    elif init == "other" and (env.get("DOCKER_OPTS") or env.get("OPTIONS")):
        args = [clean(a) for a in (env.get("DOCKER_OPTS") or env.get("OPTIONS", "")).split()]
        args_source = "init-defaults"

    facts: Dict[str, Any] = {
        "path": path, "path_source": path_source, "present": None, "size": None,
        "valid": None, "error": None, "empty": False, "bom": False, "config": None,
        "keys": [], "duplicate_keys": [], "unrecognized_keys": [], "ignored_keys": {},
        "dockerd_args": args, "args_source": args_source, "flag_conflicts": [], "notes": [],
    }
    jp = part(section, "json")
    if jp.rc == RC_NO_FILE and not jp.out.strip():
        facts["present"] = False
        return facts
    if jp.rc is None and not jp.out:
        return facts
    if jp.rc not in (0, None):
        facts["present"] = True if "denied" in jp.out.lower() else None
        facts["error"] = clean(jp.out) or f"could not read (exit status {jp.rc})"
        return facts
    facts["present"] = True
    text = jp.out
    facts["size"] = len(text.encode("utf-8", "replace"))
    if jp.rc is None or jp.truncated:
        facts["error"] = "the file was cut off in transit (too large?)"
        return facts
    if text.startswith("\ufeff"):
        facts["bom"] = True
        text = text[1:]
    if not text.strip():
        facts["empty"] = True
        facts["valid"] = False
        facts["error"] = "the file is empty (dockerd 20.10 fails with: EOF)"
        return facts
    value, error, dups, notes = load(text)
    facts["duplicate_keys"] = dups
    facts["notes"] = notes
    if error is not None:
        facts["valid"], facts["error"] = False, error
        return facts
    if not isinstance(value, dict):
        facts["valid"] = False
        facts["error"] = f"the top-level value is a {type(value).__name__}, not an object"
        return facts
    facts["valid"] = not facts["bom"]
    if facts["bom"]:
        facts["error"] = ("the file starts with a UTF-8 byte order mark (dockerd 20.10 fails "
                          "with: invalid character 'ï' looking for beginning of value)")
    out_of_range = [n for n in notes if n.startswith(OUT_OF_RANGE)]
    if out_of_range and facts["valid"]:
        # Go's encoding/json cannot hold the number either, so dockerd refuses the file.
        token = out_of_range[0][len(OUT_OF_RANGE):].split(" ", 1)[0]
        facts["valid"] = False
        facts["error"] = (f"{out_of_range[0]} (dockerd fails with: json: cannot unmarshal "
                          f"number {token} into Go value of type float64)")
    flat = flatten(value)
    facts["config"] = value
    facts["keys"] = sorted(value)
    facts["unrecognized_keys"] = sorted(k for k in flat if k not in KNOWN_KEYS and k not in FLAG_TO_KEY)
    facts["ignored_keys"] = {k: FLAG_TO_KEY[k] for k in sorted(flat) if k in FLAG_TO_KEY}
    if args is not None:
        facts["flag_conflicts"] = conflicts(flags_of(args), flat)
    return facts


COLLECTOR = Collector(
    name="daemon_json", script=SCRIPT, parse=parse, doc=__doc__ or "",
    shell_lib=(DOCKERD_PIDS_SH, DOCKER_UNITS_SH),
)
