"""docker: CLI and engine versions, engine state, and the `docker info` fields that decide pulls.

Facts:
- installed: bool|null — the docker CLI is on PATH (null: the host said nothing)
- client: {version, api_version, os, arch, context}|null
- server: {version, api_version, min_api_version, os, arch, kernel_version,
  experimental: bool|null, components: {name: version}}|null — null when the daemon
  did not answer
- daemon_up: bool|null — the daemon answered `docker version` (maybe with an error)
- error: str|null — the CLI's exact text when the daemon did not answer
  (e.g. "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the
  docker daemon running?")
- error_kind: "not-installed"|"daemon-down"|"permission-denied"|"api-version"|"timeout"|
  "skipped"|"other"|null
- responding: bool|null — true: the daemon answered the CLI in time; false: a docker
  call timed out (a wedged daemon: the CLI waits for it, and so does every pull; later
  calls were skipped); null: nothing says (not installed, not running, not asked)
- skipped: {part: reason} — docker calls that did not run ("docker CLI timed out
  earlier", "deadline reached (command timeout)")
- cli_warnings: [str] — "WARNING: ..." lines of the CLI (a broken ~/.docker/config.json)
- info: {storage_driver, docker_root_dir, architecture, os_type, operating_system,
  kernel_version, cgroup_driver, cgroup_version, registry_mirrors: [in daemon order],
  insecure_registries: [sorted: CIDRs and registry names], http_proxy, https_proxy,
  no_proxy, live_restore: bool|null, rootless: bool|null, server_version,
  index_server_address, default_address_pools: [{base, size}], warnings: [sorted],
  containers_count, containers_running_count, images_count}|null
- info_source: "json"|"text"|null — the text fallback is used when the CLI cannot
  format JSON (old CLIs). "json" is the CLI's `--format` output, or, where the CLI
  would have talked to the default socket as this user (see DOCKER_API_SH), the Engine
  API's own /info fetched by curl: the same document the CLI formats, same facts.
- dockerd: {installed: bool|null, path: str|null, version: str|null,
  running: bool|null (a dockerd process in this host's mount namespace)}
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import KNOWN_PREFIX, RC_MISSING, RC_TIMED_OUT, Collector, Part, Section, part, skipped_parts
from .jsonfacts import first_json_object

# POSIX sh: the pids of dockerd processes that belong to this host, i.e. share our
# mount namespace (a DinD daemon in a container, or another test-fleet host sharing the
# kernel's pid space, is not this host's daemon). When a namespace link cannot be read
# (not root) the process is kept: we cannot tell. `fa_dockerd_scan` leaves them in
# FA_DPIDS, once per shell (three collectors ask): `test -ef` compares the namespace
# links without a readlink fork per process; `fa_dockerd_pids` prints them.
DOCKERD_PIDS_SH = r"""
fa_dockerd_scan() {
  [ -n "$FA_DPIDS_DONE" ] && return 0
  FA_DPIDS_DONE=1; FA_DPIDS=
  for FA_D in /proc/[0-9]*; do
    { read -r FA_C < "$FA_D/comm"; } 2>/dev/null || continue
    [ "$FA_C" = dockerd ] || continue
    if [ -e /proc/$$/ns/mnt ] && [ -e "$FA_D/ns/mnt" ] && ! [ "$FA_D/ns/mnt" -ef /proc/$$/ns/mnt ]; then continue; fi
    FA_DPIDS="$FA_DPIDS ${FA_D#/proc/}"
  done
}
fa_dockerd_pids() { fa_dockerd_scan; for FA_D in $FA_DPIDS; do echo "$FA_D"; done; }
# fa_config_arg: FA_A holds a dockerd command line, one argument per line; FA_X gets
# what `sed -n -e 's/^--config-file=//p' -e '/^--config-file$/{n;p;}' | tail -n 1`
# prints for it, by shell builtins (a short line list; sed for a long one).
FA_NL='
'
fa_config_arg() {
  FA_X=
  if [ "${#FA_A}" -ge 4096 ]; then
    FA_X=$(printf '%s\n' "$FA_A" | sed -n -e 's/^--config-file=//p' -e '/^--config-file$/{n;p;}' | tail -n 1)
    return 0
  fi
  FA_R=$FA_A$FA_NL; FA_NX=
  while [ -n "$FA_R" ]; do
    FA_Y=${FA_R%%"$FA_NL"*}; FA_R=${FA_R#*"$FA_NL"}
    if [ -n "$FA_NX" ]; then FA_X=$FA_Y; FA_NX=; continue; fi
    case $FA_Y in --config-file=*) FA_X=${FA_Y#--config-file=} ;; --config-file) FA_NX=1 ;; esac
  done
}
"""

# POSIX sh: the docker.service unit files in the order systemd applies them: the main
# unit (the first found along the unit search path wins), then its drop-ins sorted by
# file name across all directories (a name in an earlier directory masks the same name
# in a later one). Listed once per shell into FA_UNITS (daemon_json and proxy both ask:
# call it outside $(...) first so the list stays). `fa_docker_unit_lines SED-ARGS...`
# prints "@file PATH" and, per file, the lines the sed program selects, after joining
# backslash-continued lines.
DOCKER_UNITS_SH = r"""
FA_UNIT_DIRS="/etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system /lib/systemd/system"
fa_docker_units() {
  if [ -z "$FA_UNITS_DONE" ]; then
    FA_UNITS_DONE=1; FA_UNITS=; FA_B=; FA_K=0
    for FA_D in $FA_UNIT_DIRS; do
      if [ -f "$FA_D/docker.service" ]; then FA_UNITS="$FA_D/docker.service"; break; fi
    done
    for FA_D in $FA_UNIT_DIRS; do
      for FA_F in "$FA_D"/docker.service.d/*.conf; do
        [ -f "$FA_F" ] && FA_B="$FA_B${FA_B:+
}${FA_F##*/}" && FA_K=$((FA_K + 1))
      done
    done
    # sort -u only when there is something to sort (one name sorts to itself).
    [ "$FA_K" -le 1 ] || FA_B=$(printf '%s\n' "$FA_B" | sort -u)
    for FA_B in $FA_B; do
      for FA_D in $FA_UNIT_DIRS; do
        if [ -f "$FA_D/docker.service.d/$FA_B" ]; then FA_UNITS="$FA_UNITS${FA_UNITS:+
}$FA_D/docker.service.d/$FA_B"; break; fi
      done
    done
  fi
  [ -z "$FA_UNITS" ] || printf '%s\n' "$FA_UNITS"
}
fa_docker_unit_lines() {
  fa_docker_units >/dev/null
  for FA_F in $FA_UNITS; do
    echo "@file $FA_F"
    sed -n -e ':a' -e '/\\$/{N' -e 's/\\\n/ /' -e 'ba' -e '}' "$@" "$FA_F" 2>&1
  done
}
"""

# Only the fields the diagnoses use leave the host (a full `docker info` is ~5 KB).
# Field names are the CLI's Go names; a CLI too old to know one fails the template and
# the fragment falls back to plain-text `docker info`.
INFO_FIELDS = [
    ("Driver", "Driver"), ("DockerRootDir", "DockerRootDir"),
    ("Architecture", "Architecture"), ("OSType", "OSType"),
    ("OperatingSystem", "OperatingSystem"), ("KernelVersion", "KernelVersion"),
    ("CgroupDriver", "CgroupDriver"), ("CgroupVersion", "CgroupVersion"),
    ("RegistryConfig", "RegistryConfig"), ("HttpProxy", "HTTPProxy"),
    ("HttpsProxy", "HTTPSProxy"), ("NoProxy", "NoProxy"),
    ("LiveRestoreEnabled", "LiveRestoreEnabled"), ("ServerVersion", "ServerVersion"),
    ("Containers", "Containers"), ("ContainersRunning", "ContainersRunning"),
    ("Images", "Images"), ("Warnings", "Warnings"),
    ("DefaultAddressPools", "DefaultAddressPools"), ("SecurityOptions", "SecurityOptions"),
    ("IndexServerAddress", "IndexServerAddress"),
]
INFO_TEMPLATE = "{" + ",".join(f'"{k}":{{{{json .{g}}}}}' for k, g in INFO_FIELDS) + "}"

# A part that did not run the docker CLI because `docker version` already said that
# nothing answers on the daemon's socket: its first line says so, the rest is the
# CLI's own error line from `docker version` (what the call would have printed).
KNOWN_DOWN = "docker version found no daemon on the socket: not asked again"

# POSIX sh: calls that talk to the docker daemon. A wedged dockerd makes every one of
# them wait for its whole timeout; after the first times out the rest are skipped.
# Subshell callers ($(fa_docker ...)) set FA_RC from the RC marker, then fa_docker_rc.
DOCKER_CLI_SH = r"""
fa_docker_rc() { case $FA_RC in 124|137|143) FA_DOCKER_HUNG=1 ;; esac; }
fa_docker() {
  if [ -n "$FA_DOCKER_HUNG" ]; then fa_part "$1"; fa_skipped "docker CLI timed out earlier"; fa_rc "$FA_RC"; return; fi
  if [ -n "$FA_DOCKER_DOWN" ]; then fa_part "$1"; fa_down; fa_rc "$FA_RC"; return; fi
  fa_run "$@"; fa_docker_rc
}
# Nothing answers on the socket (see DOCKER_DOWN_SH): what every later CLI call would
# print, the line `docker version` printed, exit status 1, after a line that says so.
fa_down() { printf '%s%s\n%s\n' "$FA_KNOWN_PREFIX" "$FA_KNOWN_DOWN" "$FA_DOCKER_DOWN"; FA_RC=1; }
FA_KNOWN_PREFIX='@KNOWN@'
# FA_DOCKER_DOWN: set after `docker version` (output FA_VO, status FA_DV) when its whole
# output is the client's JSON with "Server":null and ONE line, the CLI's "Cannot connect
# to the Docker daemon at ADDRESS. Is the docker daemon running?": the dial failed
# (no socket, or nothing listening). Every later CLI call of this script uses the same
# environment and context, so dials the same address and prints that same line with
# status 1; fa_docker prints it for them instead of starting the CLI (~10-15 ms each).
# Anything else (a warning line, permission denied, an API error, a server) leaves it
# empty: the calls run as before. A small output only (the ${x#*p} forms cost dash the
# square of the length).
fa_docker_down() {
  FA_DOCKER_DOWN=
  [ "$FA_DV" = 1 ] && [ "${#FA_VO}" -lt 4096 ] || return 0
  FA_X=${FA_VO#*"@@$FA_N:P:version$FA_NL"}
  [ "$FA_X" != "$FA_VO" ] || return 0
  FA_Y=${FA_X%"$FA_NL$FA_NL@@$FA_N:RC:1"}
  [ "$FA_Y" != "$FA_X" ] || return 0
  FA_X=${FA_Y%%"$FA_NL"*}; FA_Y=${FA_Y#*"$FA_NL"}
  case $FA_X in '{"Client":{'*'},"Server":null}') ;; *) FA_X=; FA_Y=; return 0 ;; esac
  case $FA_Y in
    *"$FA_NL"*) ;;
    'Cannot connect to the Docker daemon at '*'. Is the docker daemon running?') FA_DOCKER_DOWN=$FA_Y ;;
  esac
  FA_X=; FA_Y=
}
FA_KNOWN_DOWN='@DOWNWHY@'
""".replace("@KNOWN@", KNOWN_PREFIX).replace("@DOWNWHY@", KNOWN_DOWN)

# POSIX sh: the Engine API straight from the daemon's socket, ONE curl process for
# /info and /system/df (~9 ms of host CPU instead of ~28 for `docker info` + `docker
# system df`), only where the CLI would have talked to that very socket as this very
# user: `docker version` (FA_VO, status FA_DV) answered on the default context, no
# DOCKER_HOST, the socket exists and this user may write to it. The URLs carry the API
# version the CLI negotiated (Client.ApiVersion), so the daemon answers in the shape it
# gave the CLI. Anything else (no curl, an error status, a missing document) falls back
# to the CLI, which says why in its own words: the facts about a daemon that is down or
# refuses this user come from the CLI as before.
# Leaves FA_API_INFO (the /info document; FA_API_INFO_RC its status) and FA_DOCKER_DF
# (the /system/df document; FA_DOCKER_DF_RC) for the docker and disk collectors; a
# curl killed by its timeout leaves the status of the document it was reading (the
# daemon hung as the CLI would have found it) and marks the daemon hung.
DOCKER_API_SH = r"""
FA_SOCK=/var/run/docker.sock
FA_SOH='@SOH@'
fa_docker_api() {
  FA_API_INFO=; FA_API_INFO_RC=; FA_DOCKER_DF=; FA_DOCKER_DF_RC=
  [ "$FA_DV" = 0 ] && [ -z "$DOCKER_HOST$DOCKER_CONTEXT" ] || return 0
  case $FA_VO in *'"Context":"default"'*) ;; *) return 0 ;; esac
  [ -S "$FA_SOCK" ] && [ -w "$FA_SOCK" ] && fa_has curl || return 0
  FA_X=${FA_VO#*'"ApiVersion":"'}; FA_X=${FA_X%%'"'*}
  case $FA_X in [0-9]*.[0-9]*) case $FA_X in *[!0-9.]*) FA_X= ;; *) FA_X=/v$FA_X ;; esac ;; *) FA_X= ;; esac
  # -q first: no ~/.curlrc; no proxy for a unix socket; after each document, curl
  # writes SOH and its HTTP status, and the status of curl itself follows one more SOH
  # (JSON from dockerd never holds a raw control byte). Word splitting on SOH cuts the
  # output in one pass: the shell's ${x#*pattern} would cost the square of the bytes
  # before the pattern (dash tries every prefix), on an output that may be 100s of KB.
  # The output is capped like every part (fa_exec).
  FA_Y=$(fa_exec curl -q -s --noproxy '*' --unix-socket "$FA_SOCK" -w "$FA_SOH%{http_code}$FA_NL" \
    "http://docker$FA_X/info" "http://docker$FA_X/system/df"; printf '%s%s' "$FA_SOH" "$FA_RC")
  set -f; FA_X=$IFS; IFS=$FA_SOH
  # 4 fields when complete: info, "status NL df", "status NL", curl's status
  set -- $FA_Y
  IFS=$FA_X; set +f; FA_Y=
  eval "FA_RC=\${$#}"
  case $FA_RC in 124|137|143) FA_DOCKER_HUNG=1 ;; esac
  if [ "$#" -ge 3 ]; then
    case $2 in
      "200$FA_NL"*) FA_API_INFO=$1; FA_API_INFO_RC=0 ;;
    esac
  fi
  if [ -z "$FA_API_INFO" ] && [ -n "$FA_DOCKER_HUNG" ]; then
    FA_API_INFO="curl: timed out"; FA_API_INFO_RC=$FA_RC
  elif [ "$#" -ge 4 ] && [ -n "$FA_API_INFO" ]; then
    case $3 in "200$FA_NL"*) FA_DOCKER_DF=${2#*"$FA_NL"}; FA_DOCKER_DF_RC=0 ;; esac
  fi
  if [ -z "$FA_DOCKER_DF" ] && [ -n "$FA_DOCKER_HUNG" ] && [ "$FA_API_INFO_RC" = 0 ]; then
    FA_DOCKER_DF="curl: timed out"; FA_DOCKER_DF_RC=$FA_RC
  fi
  # A document that the part cap could cut (redaction may lengthen it) would lose the
  # fact: the CLI's few lines then, as before (/system/df lists every image, container
  # and volume: 100s of KB on a busy host).
  [ "${#FA_API_INFO}" -lt "$((FA_CAP / 2))" ] || { FA_API_INFO=; FA_API_INFO_RC=; }
  [ "${#FA_DOCKER_DF}" -lt "$((FA_CAP / 2))" ] || { FA_DOCKER_DF=; FA_DOCKER_DF_RC=; }
  set --
  FA_X=; FA_Y=
}
""".replace("@SOH@", "\x01")  # a raw SOH byte in the script text

SCRIPT = r"""
# Captured (and re-emitted byte for byte) so the dockerd check below can read the context.
FA_VO=$(fa_docker version docker version --format '{{json .}}')
printf '%s\n' "$FA_VO"
FA_RC=${FA_VO##*"@@$FA_N:RC:"}; fa_docker_rc
FA_DV=$FA_RC
fa_docker_down
if [ "$FA_DV" != 127 ]; then
  fa_docker_api
  # Captured, re-emitted byte for byte, and its status read back from the RC marker,
  # so the disk collector can take DockerRootDir from it instead of running a second
  # `docker info` (each docker CLI call costs the host ~15 ms CPU plus the daemon's work).
  if [ -n "$FA_API_INFO" ]; then
    # Printed as it is (no $(...) to capture what is known already).
    fa_part info; printf '%s\n' "$FA_API_INFO"; fa_rc "$FA_API_INFO_RC"
    FA_DI=$FA_API_INFO; FA_RC=$FA_API_INFO_RC
  else
    FA_DI=$(fa_docker info docker info --format '""" + INFO_TEMPLATE + r"""')
    printf '%s\n' "$FA_DI"
    FA_RC=${FA_DI##*"@@$FA_N:RC:"}
  fi
  FA_API_INFO=
  fa_docker_rc
  if [ "$FA_RC" = 0 ]; then
    # ##: found from the end (the key is late in /info; `#*` costs dash the square of
    # the bytes before it). A quote inside a JSON string is escaped: only a key matches.
    FA_X=${FA_DI##*'"DockerRootDir":"'}
    if [ "$FA_X" != "$FA_DI" ]; then
      FA_X=${FA_X%%'"'*}
      case $FA_X in /*\\*) ;; /*) FA_DOCKER_ROOT=$FA_X ;; esac
    fi
    # No containers at all: the restarts collector need not ask `docker ps` (~18 ms).
    case $FA_DI in *'"Containers":0,'*) FA_DOCKER_NOCT=1 ;; esac
  fi
  FA_DI=
  # The daemon answered but the CLI could not format: an old CLI. Plain text then.
  if [ "$FA_RC" != 0 ] && [ "$FA_DV" = 0 ]; then fa_docker info_text docker info; fi
fi
FA_X=$(command -v dockerd); FA_RC=$?
fa_part dockerd_path; [ -z "$FA_X" ] || printf '%s\n' "$FA_X"; fa_rc "$FA_RC"
# `dockerd --version` costs ~70 ms of CPU (a Go binary's start). When the daemon that
# answered `docker version` on the default context is a process of this very file (same
# inode, so the same build), its Server.Version is the same string: the part then says
# so (dockerd_same) and the parser takes the version from there.
FA_SAME=
if [ -n "$FA_X" ] && [ "$FA_DV" = 0 ] && [ -z "$DOCKER_HOST$DOCKER_CONTEXT" ]; then
  case $FA_VO in *'"Context":"default"'*)
    fa_dockerd_scan
    for FA_P in $FA_DPIDS; do [ "/proc/$FA_P/exe" -ef "$FA_X" ] && FA_SAME=$FA_P; done ;;
  esac
fi
FA_VO=
if [ -n "$FA_SAME" ]; then fa_part dockerd_same; printf 'pid %s\n' "$FA_SAME"; fa_rc 0
elif [ -n "$FA_X" ]; then fa_run dockerd_version dockerd --version; fi
fa_part dockerd_pids; if [ -d /proc/self ]; then fa_dockerd_pids; fa_rc 0; else fa_rc 2; fi
"""

_MAX_TEXT = 500
# Parts that are docker CLI calls (talk to the daemon).
_CLI_PARTS = ("version", "info", "info_text")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Host text without control bytes (it ends up in terminals and reports)."""
    return _CONTROL.sub("", text).strip()[:_MAX_TEXT]


def _other_lines(p: Part) -> List[str]:
    """Lines that are not the JSON document: the CLI's errors and warnings."""
    out = []
    for line in p.out.splitlines():
        line = clean(line)
        if line and not line.startswith("{"):
            out.append(line)
    return out


def _s(value: Any) -> Optional[str]:
    """A non-empty string from a host value, else None."""
    if isinstance(value, str) and clean(value):
        return clean(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return str(value)


def _i(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _b(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _str_list(value: Any) -> List[str]:
    if not isinstance(value, list):
        return []
    return [clean(v) for v in value if isinstance(v, str) and clean(v)]


def error_kind(text: Optional[str], rc: Optional[int]) -> Optional[str]:
    if rc == RC_MISSING:
        return "not-installed"
    if rc in RC_TIMED_OUT:
        return "timeout"
    if not text:
        return None
    low = text.lower()
    if "permission denied" in low:
        return "permission-denied"
    if "cannot connect to the docker daemon" in low or "is the docker daemon running" in low:
        return "daemon-down"
    if "api version" in low or "client version" in low:
        return "api-version"
    return "other"


def _client(doc: dict) -> Optional[dict]:
    c = doc.get("Client")
    if not isinstance(c, dict):
        return None
    return {
        "version": _s(c.get("Version")),
        "api_version": _s(c.get("ApiVersion")),
        "os": _s(c.get("Os")),
        "arch": _s(c.get("Arch")),
        "context": _s(c.get("Context")),
    }


def _server(doc: dict) -> Optional[dict]:
    s = doc.get("Server")
    if not isinstance(s, dict):
        return None
    components: Dict[str, str] = {}
    experimental = _b(s.get("Experimental"))
    for comp in s.get("Components") if isinstance(s.get("Components"), list) else []:
        if isinstance(comp, dict) and _s(comp.get("Name")) and _s(comp.get("Version")):
            components[_s(comp["Name"])] = _s(comp["Version"])  # type: ignore[index]
            details = comp.get("Details")
            if comp.get("Name") == "Engine" and isinstance(details, dict) and experimental is None:
                experimental = _b(details.get("Experimental"))  # a string there: "false"
    return {
        "version": _s(s.get("Version")),
        "api_version": _s(s.get("ApiVersion")),
        "min_api_version": _s(s.get("MinAPIVersion")),
        "os": _s(s.get("Os")),
        "arch": _s(s.get("Arch")),
        "kernel_version": _s(s.get("KernelVersion")),
        "experimental": experimental,
        "components": components,
    }


def _pools(value: Any) -> List[dict]:
    pools = []
    for p in value if isinstance(value, list) else []:
        if isinstance(p, dict):
            pools.append({"base": _s(p.get("Base")), "size": _i(p.get("Size"))})
    return pools


def _insecure(reg: dict) -> List[str]:
    names = set(_str_list(reg.get("InsecureRegistryCIDRs")))
    index = reg.get("IndexConfigs")
    if isinstance(index, dict):
        for name, cfg in index.items():
            if isinstance(cfg, dict) and cfg.get("Secure") is False:
                names.add(clean(str(name)))
    return sorted(names)


def info_from_json(doc: dict) -> dict:
    reg = doc.get("RegistryConfig") if isinstance(doc.get("RegistryConfig"), dict) else {}
    sec = _str_list(doc.get("SecurityOptions"))
    return {
        "storage_driver": _s(doc.get("Driver")),
        "docker_root_dir": _s(doc.get("DockerRootDir")),
        "architecture": _s(doc.get("Architecture")),
        "os_type": _s(doc.get("OSType")),
        "operating_system": _s(doc.get("OperatingSystem")),
        "kernel_version": _s(doc.get("KernelVersion")),
        "cgroup_driver": _s(doc.get("CgroupDriver")),
        "cgroup_version": _s(doc.get("CgroupVersion")),
        "registry_mirrors": _str_list(reg.get("Mirrors")),
        "insecure_registries": _insecure(reg),
        "http_proxy": _s(doc.get("HttpProxy")),
        "https_proxy": _s(doc.get("HttpsProxy")),
        "no_proxy": _s(doc.get("NoProxy")),
        "live_restore": _b(doc.get("LiveRestoreEnabled")),
        "rootless": any("name=rootless" in o for o in sec) if "SecurityOptions" in doc else None,
        "server_version": _s(doc.get("ServerVersion")),
        "index_server_address": _s(doc.get("IndexServerAddress")),
        "default_address_pools": _pools(doc.get("DefaultAddressPools")),
        "warnings": sorted(set(_str_list(doc.get("Warnings")))),
        "containers_count": _i(doc.get("Containers")),
        "containers_running_count": _i(doc.get("ContainersRunning")),
        "images_count": _i(doc.get("Images")),
    }


# Plain-text `docker info`: "Key: value" lines; lists are indented lines under a
# "Key:" line with no value.
_TEXT_KEYS = {
    "storage driver": "storage_driver", "docker root dir": "docker_root_dir",
    "architecture": "architecture", "ostype": "os_type",
    "operating system": "operating_system", "kernel version": "kernel_version",
    "cgroup driver": "cgroup_driver", "cgroup version": "cgroup_version",
    "http proxy": "http_proxy", "https proxy": "https_proxy", "no proxy": "no_proxy",
    "live restore enabled": "live_restore", "server version": "server_version",
    "registry": "index_server_address", "containers": "containers_count",
    "running": "containers_running_count", "images": "images_count",
}
_TEXT_LISTS = {"registry mirrors": "registry_mirrors",
               "insecure registries": "insecure_registries",
               "security options": "security_options",
               "default address pools": "default_address_pools"}


def info_from_text(text: str) -> dict:
    values: Dict[str, Any] = {}
    lists: Dict[str, List[str]] = {}
    warnings: List[str] = []
    current: Optional[str] = None   # the list being read, while lines are indented deeper
    current_indent = 0
    for raw in text.splitlines():
        line = clean(raw)
        if not line:
            continue
        indent = len(raw) - len(raw.lstrip())
        if current and indent > current_indent:
            lists[current].append(line)
            continue
        current = None
        if line.startswith("WARNING:"):
            warnings.append(line)
            continue
        key, sep, value = line.partition(":")
        k = key.strip().lower()
        if not sep:
            continue
        if k in _TEXT_LISTS and not value.strip():
            current, current_indent = _TEXT_LISTS[k], indent
            lists[current] = []
        elif k in _TEXT_KEYS and k not in values:
            values[k] = value.strip()
    facts = {name: None for name in _TEXT_KEYS.values()}
    for k, v in values.items():
        facts[_TEXT_KEYS[k]] = v[:_MAX_TEXT] or None
    for name in ("containers_count", "containers_running_count", "images_count"):
        facts[name] = _i(facts[name])
    facts["live_restore"] = _b(facts["live_restore"])
    pools = []
    for entry in lists.get("default_address_pools", []):
        m = re.match(r"Base:\s*(\S+?),\s*Size:\s*(\d+)", entry)
        if m:
            pools.append({"base": m.group(1), "size": int(m.group(2))})
    sec = lists.get("security_options")
    return {
        **facts,
        "registry_mirrors": lists.get("registry_mirrors", []),
        "insecure_registries": sorted(set(lists.get("insecure_registries", []))),
        "rootless": any("rootless" in o for o in sec) if sec is not None else None,
        "default_address_pools": pools,
        "warnings": sorted(set(warnings)),
    }


def _dockerd(section: Section, server_doc: Any) -> dict:
    path_p = part(section, "dockerd_path")
    path = None
    installed: Optional[bool] = None
    lines = [clean(ln) for ln in path_p.out.splitlines() if ln.strip().startswith("/")]
    if path_p.rc == 0 and lines:
        installed, path = True, lines[0]
    elif path_p.rc not in (0, None):
        installed = False
    version = None
    ver_p = part(section, "dockerd_version")
    m = re.search(r"version\s+([0-9][^\s,]*)", ver_p.out)
    if ver_p.rc == 0 and m:
        version = m.group(1)[:100]
    same_p = part(section, "dockerd_same")
    if same_p.rc == 0 and isinstance(server_doc, dict) and isinstance(server_doc.get("Version"), str):
        # The running daemon is the dockerd on PATH: `dockerd --version` would print
        # "Docker version <Server.Version>, build ...". Same pattern, same result.
        m = re.search(r"version\s+([0-9][^\s,]*)", "version " + server_doc["Version"])
        version = m.group(1)[:100] if m else None
    pids_p = part(section, "dockerd_pids")
    running = None
    if pids_p.rc == 0:
        running = any(ln.strip().isdigit() for ln in pids_p.out.splitlines())
    return {"installed": installed, "path": path, "version": version, "running": running}


def parse(section: Section) -> dict:
    ver_p = part(section, "version")
    doc = first_json_object(ver_p.out) or {}
    others = _other_lines(ver_p)
    warnings = sorted({ln for ln in others if ln.startswith("WARNING:")})
    errors = [ln for ln in others if not ln.startswith("WARNING:")]
    installed: Optional[bool] = None
    if (ver_p.rc is not None or ver_p.out) and not ver_p.skipped:
        installed = ver_p.rc != RC_MISSING
    server = _server(doc)
    client = _client(doc)
    daemon_up: Optional[bool] = None
    if server is not None or any(e.startswith("Error response from daemon") for e in errors):
        daemon_up = True  # it answered, maybe with an error (API version too new)
    elif installed is False or ver_p.rc not in (0, None) or (client and errors):
        daemon_up = False
    error = None
    if server is None and installed is not None:
        if installed is False:
            error = "docker: not found"
        elif errors:
            error = "\n".join(errors)[:_MAX_TEXT]
        elif ver_p.rc in RC_TIMED_OUT:
            error = "docker version timed out"
    info = None
    info_source = None
    info_p = part(section, "info")
    info_doc = first_json_object(info_p.out)
    if daemon_up and info_doc is not None and _s(info_doc.get("ServerVersion")):
        info, info_source = info_from_json(info_doc), "json"
    text_p = part(section, "info_text")
    if info is None and daemon_up and text_p.out.strip():
        text_info = info_from_text(text_p.out)
        if text_info["server_version"] or text_info["storage_driver"]:
            info, info_source = text_info, "text"
    skipped = skipped_parts({k: p for k, p in section.items() if k in _CLI_PARTS})
    if ver_p.skipped:
        error = f"docker version skipped: {ver_p.skipped}"
    timed_out = any(part(section, k).rc in RC_TIMED_OUT for k in _CLI_PARTS)
    responding = False if timed_out else (True if daemon_up else None)
    return {
        "installed": installed,
        "client": client,
        "server": server,
        "daemon_up": daemon_up,
        "error": error,
        "error_kind": ("skipped" if ver_p.skipped else error_kind(error, ver_p.rc)) if error else None,
        "responding": responding,
        "skipped": skipped,
        "cli_warnings": warnings,
        "info": info,
        "info_source": info_source,
        "dockerd": _dockerd(section, doc.get("Server")),
    }


COLLECTOR = Collector(
    name="docker", script=SCRIPT, parse=parse, doc=__doc__ or "",
    shell_lib=(DOCKERD_PIDS_SH, DOCKER_CLI_SH, DOCKER_API_SH),
)
