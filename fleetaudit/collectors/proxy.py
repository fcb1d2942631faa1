"""proxy: the proxy environment the Docker daemon really gets, and where each value comes from.

Only *_proxy variables leave the host: every source is filtered there, and other
assignments sharing a line (Environment="A=1" "HTTP_PROXY=...") are masked as MASKED.
Proxy URL credentials arrive as REDACTED@ (host-side redaction).

Facts:
- daemon: {HTTP_PROXY, HTTPS_PROXY, NO_PROXY: {value, var, source}|null} — what dockerd
  uses, with Go's rule (the upper-case variable wins, empty counts as unset), daemon.json
  "proxies" overriding the environment (Docker 23+)
- daemon_source: "environ"|"systemd"|"sysvinit"|null — environ (/proc/<dockerd>/environ,
  read as root) is the truth for a running daemon; otherwise what the init system would
  give the next start: the docker.service units when systemd runs (or when, without
  systemd, only they set proxies), else /etc/default|sysconfig|conf.d/docker
- daemon_no_proxy: [sorted NO_PROXY entries]
- dockerd_running: bool|null; environ_readable: bool|null
- init: "systemd"|"other"|null
- environ: {VAR: value}|null — the running daemon's *_proxy variables
- configured: {VAR: {value, source}} — what the unit files (systemd) or /etc/default/docker,
  /etc/sysconfig/docker, /etc/conf.d/docker (other inits) set, with systemd precedence:
  DefaultEnvironment < Environment= (file order, empty resets) < EnvironmentFile= (in
  order) minus UnsetEnvironment=
- pending_restart: bool|null — the running daemon's proxy values differ from the
  configured ones (a drop-in changed without a restart)
- units: [{path, env: {VAR: value}, env_files: [paths], reset: bool, unset: [VAR]}] —
  docker.service and its drop-ins in the order systemd applies them
- env_files: {path: {present, readable, env: {VAR: value}, ignored: [VAR]}} — files named
  by EnvironmentFile= and the init defaults files that exist; `ignored`: "export VAR=..."
  lines, which systemd does not accept in an EnvironmentFile
- missing_env_files: [sorted] — EnvironmentFile= without "-" whose file is missing:
  systemd refuses to start docker.service
- daemon_json_proxies: {http-proxy, https-proxy, no-proxy}|null (file at the running
  dockerd's --config-file, else /etc/docker/daemon.json)
- environment_file: {VAR: value} — /etc/environment (login sessions, not services)
- profile: {path: {VAR: value}} — /etc/profile, /etc/profile.d/*.sh, bash rc files
- session_env: {VAR: value} — the SSH session's own environment (non-login shell)
- has_credentials: [sorted "where:VAR"] — proxy URLs that carried user:pass
"""
from __future__ import annotations

import re
import shlex
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .base import Collector, Part, Section, part
from .docker import DOCKER_UNITS_SH, DOCKERD_PIDS_SH, clean
from .jsonfacts import load_host_json


def _q(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


# sed -E: lines that set a *_proxy variable (optionally "export"ed).
SEL = r"/^[[:space:]]*(export[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*_[Pp][Rr][Oo][Xx][Yy][[:space:]]*=/p"
# Profile scripts set proxies anywhere on a line ("export a=1 http_proxy=...").
SEL_LOOSE = r"/[A-Za-z0-9_]_[Pp][Rr][Oo][Xx][Yy]=/p"
# sed (BRE): unit lines that matter: Environment= with a proxy or empty (a reset),
# EnvironmentFile=, UnsetEnvironment= of a proxy.
UNIT_SEL = [
    r"/^[[:space:]]*Environment[[:space:]]*=[[:space:]]*$/p",
    r"/^[[:space:]]*Environment[[:space:]]*=.*[Pp][Rr][Oo][Xx][Yy]/p",
    r"/^[[:space:]]*EnvironmentFile[[:space:]]*=/p",
    r"/^[[:space:]]*UnsetEnvironment[[:space:]]*=.*[Pp][Rr][Oo][Xx][Yy]/p",
]
MANAGER_SEL = [
    r"/^[[:space:]]*DefaultEnvironment[[:space:]]*=[[:space:]]*$/p",
    r"/^[[:space:]]*DefaultEnvironment[[:space:]]*=.*[Pp][Rr][Oo][Xx][Yy]/p",
]
# sed -E: mask the value of every assignment that is not a *_proxy one, then redact
# userinfo in scheme-less proxy values (user:pass@host:port; URLs with a scheme are
# handled by the global filter).
MASK = "\n".join([
    r"s/^[[:space:]]*(DefaultEnvironment|EnvironmentFile|UnsetEnvironment|Environment)[[:space:]]*=[[:space:]]*/\1%FAEQ% /",
    r"s/([A-Za-z0-9_]*_[Pp][Rr][Oo][Xx][Yy])=/\1%FAEQ%/g",
    r's/"([A-Za-z_][A-Za-z0-9_]*)=[^"]*"/"\1=MASKED"/g',
    r"s/'([A-Za-z_][A-Za-z0-9_]*)=[^']*'/'\1=MASKED'/g",
    r"""s/(^|[[:space:]])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^[:space:]"']*)/\1\2=MASKED/g""",
    r"s/^(DefaultEnvironment|EnvironmentFile|UnsetEnvironment|Environment)%FAEQ% /\1=/",
    r"s/%FAEQ%/=/g",
    r"""s/(_[Pp][Rr][Oo][Xx][Yy]=["']?)[^/@[:space:]"']+@/\1REDACTED@/g""",
])
# Selection and mask in ONE sed (a fork and an exec less per file): "/SEL/!d" drops
# what SEL would not print, then MASK edits what is left, as the second sed did.
assert SEL.endswith("/p") and SEL_LOOSE.endswith("/p")
SEL_MASK = SEL[:-1] + "!d\n" + MASK
SEL_LOOSE_MASK = SEL_LOOSE[:-1] + "!d\n" + MASK
# sh -c helper: for each argument, a file ("@file P" + its filtered lines, or
# "@missing P" / "@unreadable P") or "@pid:N" (that process's environment).
READ = r"""prog=$1; shift
for a; do
  case $a in
  @pid:*) p=${a#@pid:}
    if [ -r "/proc/$p/environ" ]; then echo "@pid $p"
      case $h in *"$nl/proc/$p/environ:0$nl"*) continue ;; esac
      tr '\000' '\n' < "/proc/$p/environ" | sed -E "$prog"
    else echo "@unreadable $p"; fi ;;
  *) if [ ! -e "$a" ]; then echo "@missing $a"
    elif [ ! -r "$a" ]; then echo "@unreadable $a"
    else echo "@file $a"
      case $h in *"$nl$a:0$nl"*) [ -f "$a" ] && continue ;; esac
      sed -E "$prog" "$a"; fi ;;
  esac
done"""

_UNIT_ARGS = " ".join("-e " + _q(e) for e in UNIT_SEL)
# fa_docker_unit_lines' join of continued lines, UNIT_SEL and MASK in ONE sed -n -E per
# unit file (the old pipeline ran a second sed for MASK over all of them). UNIT_SEL's
# addresses read the same in ERE and no line matches two of them, so "branch to the
# mask, print once" prints what -n and their p printed, masked.
assert all(e.endswith("/p") for e in UNIT_SEL)
UNIT_SEL_MASK = "\n".join([":a", r"/\\$/{N", r"s/\\\n/ /", "ba", "}"]
                          + [e[:-1] + "b m" for e in UNIT_SEL] + ["d", ":m", MASK, "p"])

# Filters shared by the login part and the root part: in the script's library, which
# both shells load, so they travel once.
FILTERS_SH = f"""
FA_PX_MASK={_q(MASK)}
FA_PX_SELMASK={_q(SEL_MASK)}
"""

# The group's first program (no part): ONE grep counts, in every regular file the parts
# below may read (the running dockerds' /proc/PID/environ too: one NUL-separated "line"
# that holds "prox" or not), the lines holding "prox" (any case) or "DefaultEnvironment"; every
# selection here keeps only such lines (daemon.json's test: a line with "[Pp]rox"), so
# a file counted 0 gets its "@file" header and no sed (one process per file less). h: "NL path:count NL..."; empty (every file gets
# its sed, as before) without grep or when a path holds a newline. Directories, FIFOs
# and other non-regular files are never counted (grep would block on a FIFO).
MANAGER_FILES = ("/etc/systemd/system.conf /etc/systemd/system.conf.d/*.conf "
                 "/run/systemd/system.conf.d/*.conf /usr/lib/systemd/system.conf.d/*.conf")
PROFILE_FILES = "/etc/profile /etc/profile.d/*.sh /etc/bash.bashrc /etc/bashrc"
_GROUP_COUNT = ('nl="\n"; h=; set -f; IFS="\n"; set -- $FA_PX_L; IFS=" \t\n"; set +f; '
                f'set -- "$@" "$FA_CFG" /etc/environment {PROFILE_FILES} {MANAGER_FILES}; '
                'set -f; for a in $FA_PX_PIDS; do set -- "$@" "/proc/${a#@pid:}/environ"; done; set +f; '
                'for a; do shift; [ -f "$a" ] && set -- "$@" "$a"; done; '
                'case $* in *"$nl"*) set -- ;; esac; '
                'if [ "$#" -gt 0 ] && command -v grep >/dev/null 2>&1; then '
                'h=$nl$(grep -c -H -s -e "[Pp][Rr][Oo][Xx]" -e DefaultEnvironment -- "$@")$nl; fi')
# The manager files (system.conf and its drop-ins), one sed each, each read guarded.
_GROUP_MANAGER = (f'for a in {MANAGER_FILES}; do [ -f "$a" ] || continue; echo "@file $a"; '
                  'case $h in *"$nl$a:0$nl"*) continue ;; esac; '
                  'sed -E "$FA_PX_MGRMASK" "$a" | head -c "$FA_PX_GUARD"; done; :')
# fa_group programs: each sets READ's arguments and runs it (as `sh -c READ` did).
_GROUP_ENVFILES = ('set -f; IFS="\n"; set -- "$FA_PX_SELMASK" $FA_PX_L; IFS=" \t\n"; set +f; '
                   'eval "$FA_PX_READ"')
_GROUP_ENVIRON = 'set -f; set -- "$FA_PX_SELMASK" $FA_PX_PIDS; set +f; eval "$FA_PX_READ"'
_GROUP_DAEMON_JSON = ('set -- "$FA_CFG"; if [ ! -e "$1" ]; then echo "@missing $1"; else echo "@file $1"; '
                      'case $h in *"$nl$1:0$nl"*) [ -f "$1" ] && exit 0 ;; esac; '
                      'if [ -n "$(sed -n "/[Pp]rox/p" "$1")" ]; then cat "$1"; fi; fi')
_GROUP_ENVIRONMENT = 'set -- "$FA_PX_SELMASK" /etc/environment; eval "$FA_PX_READ"'
_GROUP_PROFILE = (f'set -- "$FA_PX_LOOSE" {PROFILE_FILES}; '
                  'eval "$FA_PX_READ"')

# The manager's selection (MANAGER_SEL, two BRE addresses that no line matches both)
# as one ERE address, and the mask in the same sed: one sed per file instead of two.
MANAGER_SEL_ERE = r"/^[[:space:]]*DefaultEnvironment[[:space:]]*=([[:space:]]*$|.*[Pp][Rr][Oo][Xx][Yy])/"
MANAGER_SEL_MASK = MANAGER_SEL_ERE + "!d\n" + MASK

SCRIPT = f"""
FA_PX_MGRMASK={_q(MANAGER_SEL_MASK)}
FA_PX_UNITMASK={_q(UNIT_SEL_MASK)}
FA_PX_LOOSE={_q(SEL_LOOSE_MASK)}
FA_PX_READ={_q(READ)}
fa_part init; if [ -d /run/systemd/system ]; then echo systemd; else echo other; fi; fa_rc 0
fa_docker_units >/dev/null
# The "@file" headers went through MASK too: a unit path holding "=" or "%" (which MASK
# could edit) takes that pipeline still.
case $FA_UNITS in
*[=%]*) FA_U=$(fa_docker_unit_lines {_UNIT_ARGS} | sed -E "$FA_PX_MASK" | head -c "$((FA_CAP * 2))") ;;
*) FA_U=$(for FA_F in $FA_UNITS; do echo "@file $FA_F"; sed -n -E "$FA_PX_UNITMASK" "$FA_F" 2>&1; done | head -c "$((FA_CAP * 2))") ;;
esac
fa_part units; printf '%s\\n' "$FA_U"; fa_rc 0
# EnvironmentFile= paths named by the units, and the init scripts' defaults files.
# (No EnvironmentFile= in the units: the three defaults, as sort -u orders them.)
FA_L='/etc/conf.d/docker
/etc/default/docker
/etc/sysconfig/docker'
case $FA_U in
*EnvironmentFile*)
  # When every line naming EnvironmentFile names one of those three files (Debian's and
  # Fedora's units), the pipeline below gives that same list: it runs otherwise only.
  FA_K=; set -f; FA_X=$IFS; IFS=$FA_NL
  for FA_Y in $FA_U; do
    case $FA_Y in
    EnvironmentFile=/etc/default/docker|EnvironmentFile=-/etc/default/docker) ;;
    EnvironmentFile=/etc/sysconfig/docker|EnvironmentFile=-/etc/sysconfig/docker) ;;
    EnvironmentFile=/etc/conf.d/docker|EnvironmentFile=-/etc/conf.d/docker) ;;
    *EnvironmentFile*) FA_K=1 ;;
    esac
  done
  IFS=$FA_X; set +f
  [ -z "$FA_K" ] || FA_L=$( {{ printf '%s\\n' "$FA_U" | sed -n -e 's/^[[:space:]]*EnvironmentFile[[:space:]]*=[[:space:]]*-\\{{0,1\\}}//p' | sed -e 's/^"\\(.*\\)"$/\\1/' -e 's/[[:space:]]*$//'
  printf '%s\\n' /etc/default/docker /etc/sysconfig/docker /etc/conf.d/docker; }} | sed -n '/^\\//p' | sort -u) ;;
esac
FA_CFG=/etc/docker/daemon.json; FA_PX_PIDS=
fa_dockerd_scan
for FA_P in $FA_DPIDS; do
  FA_PX_PIDS="$FA_PX_PIDS @pid:$FA_P"
  # daemon_json read the same command lines (FA_DCFG: the last --config-file named).
  if [ -n "$FA_DCFG_DONE" ]; then continue; fi
  FA_A=$( {{ tr '\\000' '\\n' < "/proc/$FA_P/cmdline"; }} 2>/dev/null); fa_config_arg
  [ -n "$FA_X" ] && FA_CFG=$FA_X
done
[ -z "$FA_DCFG_DONE" ] || [ -z "$FA_DCFG" ] || FA_CFG=$FA_DCFG
# Six reads in one process (fa_group; the manager part first, as it was printed before
# this scan). Paths travel in exported variables, never in the programs' text (they come
# from unit files: untrusted).
FA_PX_L=$FA_L; FA_PX_GUARD=$((FA_CAP * 2))
export FA_PX_READ FA_PX_SELMASK FA_PX_LOOSE FA_PX_MGRMASK FA_PX_L FA_PX_PIDS FA_CFG FA_PX_GUARD
fa_group - {_q(_GROUP_COUNT)} manager {_q(_GROUP_MANAGER)} \\
  envfiles {_q(_GROUP_ENVFILES)} environ {_q(_GROUP_ENVIRON)} daemon_json {_q(_GROUP_DAEMON_JSON)} \\
  environment {_q(_GROUP_ENVIRONMENT)} profile {_q(_GROUP_PROFILE)}
unset FA_PX_READ FA_PX_SELMASK FA_PX_LOOSE FA_PX_MGRMASK FA_PX_L FA_PX_PIDS FA_CFG FA_PX_GUARD
"""

# The SSH session's own environment: the login user's, so it runs before sudo (sudo
# resets the environment).
# `export -p` (a builtin, in a subshell: a fork, no exec) lists the same variables `env`
# would: when no name or value there holds "proxy" in any case, the selection cannot
# keep a line and env, sed and head (~3 ms) are not run; the part is empty as it would be.
LOGIN_SCRIPT = """
fa_part session
case $(export -p) in
  *[Pp][Rr][Oo][Xx][Yy]*) env | sed -E "$FA_PX_SELMASK" | head -c "$((FA_CAP * 2))" ;;
esac
fa_rc 0
"""

CANONICAL = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*_[Pp][Rr][Oo][Xx][Yy]$")
ENVIRON_SOURCE = "dockerd environ"

Env = Dict[str, str]
Sourced = Dict[str, Dict[str, str]]  # VAR -> {"value", "source"}


def _blocks(p: Part) -> List[Tuple[str, str, List[str]]]:
    """[(kind, name, lines)] from "@kind name" headers ("@file", "@pid", "@missing"...)."""
    blocks: List[Tuple[str, str, List[str]]] = []
    for line in p.out.splitlines():
        m = re.match(r"^@(file|pid|missing|unreadable) (.*)$", line)
        if m:
            blocks.append((m.group(1), clean(m.group(2)), []))
        elif blocks and line.strip():
            blocks[-1][2].append(line)
    return blocks


def _split_words(text: str) -> List[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def assignment(line: str, literal: bool = False) -> Optional[Tuple[str, str, bool]]:
    """(VAR, value, exported) for a `[export ]VAR=value` line setting a proxy variable.

    `literal`: the line comes from a process environment, where nothing is quoted.
    """
    m = re.match(r"^\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", line)
    if not m or not _VAR.match(m.group(2)):
        return None
    raw = m.group(3) if literal else m.group(3).strip()
    if literal:
        value = raw
    elif raw[:1] in ("'", '"'):
        words = _split_words(raw)
        value = words[0] if words else ""
    else:
        value = raw.split()[0] if raw.split() else ""
    return m.group(2), clean(value), bool(m.group(1))


def assignments_in(line: str) -> Env:
    """All proxy assignments on a line (profile scripts: "export a=1 http_proxy=x")."""
    env: Env = {}
    for word in _split_words(line):
        name, sep, value = word.partition("=")
        if sep and _VAR.match(name):
            env[name] = clean(value).strip("'\"")
    return env


def directive_values(line: str) -> Tuple[str, str]:
    """("Environment", 'rest of line') for a unit-file directive line ("", "" if none)."""
    key, sep, value = line.partition("=")
    return (key.strip(), value.strip()) if sep else ("", "")


def _unit_env(value: str) -> Env:
    env: Env = {}
    for word in _split_words(value):
        name, sep, val = word.partition("=")
        if sep and _VAR.match(name):
            env[name] = clean(val)
    return env


def parse_units(p: Part) -> List[dict]:
    units = []
    for kind, path, lines in _blocks(p):
        if kind != "file":
            continue
        unit: Dict[str, Any] = {"path": path, "steps": []}
        for line in lines:
            key, value = directive_values(line)
            if key == "Environment":
                unit["steps"].append(("env", _unit_env(value)) if value else ("reset", None))
            elif key == "EnvironmentFile":
                unit["steps"].append(("file", value.strip('"') if value else None))
            elif key == "UnsetEnvironment":
                unit["steps"].append(("unset", [w for w in _split_words(value) if _VAR.match(w.split("=")[0])]))
        units.append(unit)
    return units


def parse_manager(p: Part) -> List[Tuple[str, List[Optional[Env]]]]:
    """system.conf then its drop-ins sorted by file name: [(path, [env or None=reset])]."""
    files = []
    for kind, path, lines in _blocks(p):
        if kind != "file":
            continue
        steps: List[Optional[Env]] = []
        for line in lines:
            _key, value = directive_values(line)
            steps.append(_unit_env(value) if value else None)
        files.append((path, steps))
    main = [f for f in files if f[0].endswith("/system.conf")]
    dropins = sorted((f for f in files if f not in main), key=lambda f: f[0].rsplit("/", 1)[-1])
    return main + dropins


def parse_env_files(p: Part) -> Dict[str, dict]:
    files: Dict[str, dict] = {}
    for kind, path, lines in _blocks(p):
        if kind == "pid":
            continue
        entry = {"present": kind in ("file", "unreadable"), "readable": kind == "file",
                 "env": {}, "exported": {}}
        for line in lines:
            a = assignment(line)
            if a:
                name, value, exported = a
                (entry["exported"] if exported else entry["env"])[name] = value
        files[path] = entry
    return files


def _set(target: Sourced, env: Env, source: str) -> None:
    for k, v in env.items():
        target[k] = {"value": v, "source": source}


def configured_systemd(units: List[dict], manager, env_files: Dict[str, dict]) -> Tuple[Sourced, List[str]]:
    """systemd's environment for docker.service, and the required env files that are missing."""
    base: Sourced = {}
    for path, steps in manager:
        for env in steps:
            if env is None:
                base = {}
            else:
                _set(base, env, path)
    env_list: Sourced = {}
    files: List[str] = []
    unset: List[str] = []
    for unit in units:
        for kind, value in unit["steps"]:
            if kind == "reset":
                env_list = {}
            elif kind == "env":
                _set(env_list, value, unit["path"])
            elif kind == "file":
                if value is None:
                    files = []
                else:
                    files.append(value)
            elif kind == "unset":
                unset.extend(value)
    result = dict(base)
    result.update(env_list)
    missing = []
    for ref in files:
        optional = ref.startswith("-")
        path = ref.lstrip("-")
        entry = env_files.get(path)
        if entry is None or not entry["present"]:
            if not optional:
                missing.append(path)
            continue
        _set(result, entry["env"], path)  # "export VAR=" lines are not accepted by systemd
    for name in unset:
        result.pop(name, None)
    return result, sorted(set(missing))


def configured_sysvinit(env_files: Dict[str, dict]) -> Sourced:
    result: Sourced = {}
    for path in ("/etc/default/docker", "/etc/sysconfig/docker", "/etc/conf.d/docker"):
        entry = env_files.get(path)
        if entry:
            _set(result, {**entry["env"], **entry["exported"]}, path)
    return result


def effective(env: Sourced, json_proxies: Optional[dict], json_source: str) -> Dict[str, Optional[dict]]:
    """Go's http.ProxyFromEnvironment: FOO_PROXY, else foo_proxy; empty is unset."""
    out: Dict[str, Optional[dict]] = {}
    json_keys = {"HTTP_PROXY": "http-proxy", "HTTPS_PROXY": "https-proxy", "NO_PROXY": "no-proxy"}
    for name in CANONICAL:
        chosen = None
        for var in (name, name.lower()):
            if env.get(var, {}).get("value"):
                chosen = {"value": env[var]["value"], "var": var, "source": env[var]["source"]}
                break
        jv = (json_proxies or {}).get(json_keys[name])
        if isinstance(jv, str) and jv:
            chosen = {"value": clean(jv), "var": json_keys[name], "source": json_source}
        out[name] = chosen
    return out


def no_proxy_list(value: Optional[str]) -> List[str]:
    if not value:
        return []
    return sorted({v.strip() for v in value.split(",") if v.strip()})


def _daemon_json(p: Part) -> Tuple[Optional[dict], str]:
    blocks = _blocks(p)
    if not blocks or blocks[0][0] != "file":
        return None, "daemon.json"
    path = blocks[0][1]
    text = "\n".join(blocks[0][2])
    try:
        doc, _ = load_host_json(text)
    except ValueError:
        return None, path
    proxies = doc.get("proxies") if isinstance(doc, dict) else None
    if not isinstance(proxies, dict):
        return None, path
    keep = {k: clean(v) for k, v in proxies.items()
            if k in ("http-proxy", "https-proxy", "no-proxy") and isinstance(v, str)}
    return keep or None, path


def _creds(where: str, env: Dict[str, Any]) -> Iterable[str]:
    for name, v in env.items():
        value = v["value"] if isinstance(v, dict) else v
        if isinstance(value, str) and "REDACTED@" in value:
            yield f"{where}:{name}"


def _read_environ(p: Part) -> Tuple[Optional[Env], Optional[bool], Optional[bool]]:
    """(the first dockerd's *_proxy variables, dockerd running, environ readable)."""
    if p.rc is None:
        return None, None, None
    blocks = [b for b in _blocks(p) if b[0] in ("pid", "unreadable")]
    if not blocks:
        return None, False, None
    if blocks[0][0] != "pid":
        return None, True, False
    environ: Env = {}
    for line in blocks[0][2]:
        a = assignment(line, literal=True)
        if a:
            environ[a[0]] = a[1]
    return environ, True, True


def _login_sources(section: Section) -> Tuple[Env, Dict[str, Env], Env]:
    """/etc/environment, profile scripts and the session: what a login shell sees."""
    environment_file: Env = {}
    for kind, _path, lines in _blocks(part(section, "environment")):
        for line in lines:
            a = assignment(line)
            if a and kind == "file":
                environment_file[a[0]] = a[1]
    profile: Dict[str, Env] = {}
    for kind, path, lines in _blocks(part(section, "profile")):
        env: Env = {}
        for line in lines:
            env.update(assignments_in(line))
        if kind == "file" and env:
            profile[path] = env
    session: Env = {}
    for line in part(section, "session").out.splitlines():
        a = assignment(line, literal=True)
        if a:
            session[a[0]] = a[1]
    return environment_file, profile, session


def parse(section: Section) -> dict:
    init_words = part(section, "init").out.split()
    init = init_words[0] if init_words and init_words[0] in ("systemd", "other") else None

    units = parse_units(part(section, "units"))
    manager = parse_manager(part(section, "manager"))
    env_files = parse_env_files(part(section, "envfiles"))

    environ, running, readable = _read_environ(part(section, "environ"))
    json_proxies, json_path = _daemon_json(part(section, "daemon_json"))
    json_source = f"{json_path} (proxies)"

    # Which configuration starts the daemon: systemd's when systemd runs. Otherwise the
    # init scripts' defaults files, unless only docker.service sets proxies (systemd not
    # being PID 1, as in containers and the test fleet, while the units are maintained).
    missing: List[str] = []  # only systemd refuses to start on a missing EnvironmentFile
    by_units, units_missing = configured_systemd(units, manager, env_files)
    by_defaults = configured_sysvinit(env_files)
    configured_kind: Optional[str]
    if init == "systemd" or (init is None and units) or (init == "other" and by_units and not by_defaults):
        configured, missing, configured_kind = by_units, units_missing, "systemd"
    elif init == "other":
        configured, configured_kind = by_defaults, "sysvinit"
    else:
        configured, configured_kind = {}, None

    if environ is not None:
        daemon = effective(_set_all(environ, ENVIRON_SOURCE), json_proxies, json_source)
        daemon_source: Optional[str] = "environ"
        conf_eff = effective(configured, None, "")
        run_eff = effective(_set_all(environ, ENVIRON_SOURCE), None, "")
        pending: Optional[bool] = any(
            (conf_eff[n] or {}).get("value") != (run_eff[n] or {}).get("value") for n in CANONICAL)
        if configured_kind is None:
            pending = None  # nothing to compare with
    else:
        daemon = effective(configured, json_proxies, json_source)
        daemon_source = configured_kind
        pending = None

    environment_file, profile, session = _login_sources(section)

    unit_facts = []
    for unit in units:
        env: Env = {}
        reset = False
        files: List[str] = []
        unset: List[str] = []
        for kind, value in unit["steps"]:
            if kind == "env":
                env.update(value)
            elif kind == "reset":
                reset = True
            elif kind == "file" and value:
                files.append(value)
            elif kind == "unset":
                unset.extend(value)
        unit_facts.append({"path": unit["path"], "env": env, "env_files": files,
                           "reset": reset, "unset": sorted(set(unset))})
    # Absent defaults files are noise; an absent file a unit names is a finding.
    referenced = {f.lstrip("-") for u in unit_facts for f in u["env_files"]}
    env_file_facts = {
        path: {"present": e["present"], "readable": e["readable"],
               "env": {**e["env"], **(e["exported"] if configured_kind == "sysvinit" else {})},
               "ignored": sorted(e["exported"]) if configured_kind != "sysvinit" else []}
        for path, e in sorted(env_files.items()) if e["present"] or path in referenced
    }

    creds: List[str] = []
    creds += _creds(ENVIRON_SOURCE, environ or {})
    for u in unit_facts:
        creds += _creds(u["path"], u["env"])
    for path, e in env_file_facts.items():
        creds += _creds(path, e["env"])
    creds += _creds("/etc/environment", environment_file)
    for path, env in profile.items():
        creds += _creds(path, env)
    creds += _creds("session", session)
    creds += _creds(json_path, json_proxies or {})

    no_proxy = daemon["NO_PROXY"]["value"] if daemon.get("NO_PROXY") else None
    return {
        "daemon": daemon,
        "daemon_source": daemon_source,
        "daemon_no_proxy": no_proxy_list(no_proxy),
        "dockerd_running": running,
        "environ_readable": readable,
        "init": init,
        "environ": environ,
        "configured": configured,
        "pending_restart": pending,
        "units": unit_facts,
        "env_files": env_file_facts,
        "missing_env_files": missing,
        "daemon_json_proxies": json_proxies,
        "environment_file": environment_file,
        "profile": profile,
        "session_env": session,
        "has_credentials": sorted(set(creds)),
    }


def _set_all(env: Env, source: str) -> Sourced:
    return {k: {"value": v, "source": source} for k, v in env.items()}


COLLECTOR = Collector(
    name="proxy", script=SCRIPT, parse=parse, doc=__doc__ or "",
    shell_lib=(DOCKERD_PIDS_SH, DOCKER_UNITS_SH, FILTERS_SH), login_script=LOGIN_SCRIPT,
)
