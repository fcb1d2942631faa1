"""restarts: containers and services stuck in a restart loop (the Docker-only "backoff").

Facts:
- installed: bool|null — the docker CLI is on PATH
- daemon_up: bool|null — the daemon answered `docker ps` (false: nothing answers on the
  socket; null: unknown, e.g. no permission on the socket)
- error: str|null — the CLI's text when it did not (e.g. "Cannot connect to the Docker
  daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
- containers_total: int|null — containers on the host (running or not)
- capped: bool — more than 500 containers: only the first 500 are inspected
- containers: [{name, image, status ("running"|"restarting"|"exited"|...),
  restarting: bool, restart_count: int, exit_code: int|null, restart_policy: str|null}]
  sorted by name
- looping: [sorted names of containers restarting now or with restart_count >= 3]
- systemd: bool|null — systemctl answered (false: not installed, or not the init system)
- units: [{unit, load_state, active_state, sub_state, result, restarts: int|null}] for
  docker.service and containerd.service when loaded, sorted by unit; restarts is
  systemd's NRestarts (null on systemd < 235)
- units_error: str|null — systemctl's text when it could not answer
restart_count, status, exit_code and restarts are volatile.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import RC_MISSING, RC_TIMED_OUT, Collector, Section, part
from .docker import DOCKER_CLI_SH

MAX_CONTAINERS = 500
LOOP_THRESHOLD = 3
UNITS = ("docker.service", "containerd.service")
_FORMAT = ("{{.Name}} {{.State.Status}} {{.State.Restarting}} {{.RestartCount}} "
           "{{.State.ExitCode}} {{.Config.Image}} {{.HostConfig.RestartPolicy.Name}}")

# $1 = container cap. docker ps's stderr goes straight out (fd 3) so a CLI warning can
# never be mistaken for a container id; one `docker inspect` for all ids.
CONTAINERS_SH = (
    "command -v docker >/dev/null 2>&1 || { echo \"docker: not found\"; exit 127; }\n"
    "{ ids=$(docker ps -aq 2>&3); rc=$?; } 3>&1\n"
    "[ \"$rc\" = 0 ] || exit \"$rc\"\n"
    "ids=$(printf \"%s\\n\" \"$ids\" | grep -E \"^[0-9a-f]{6,64}$\")\n"
    "printf \"fa-total %s\\n\" \"$(printf \"%s\\n\" \"$ids\" | grep -c .)\"\n"
    "[ -n \"$ids\" ] || exit 0\n"
    f"docker inspect --format \"{_FORMAT}\" $(printf \"%s\\n\" \"$ids\" | head -n \"$1\")\n"
)

SCRIPT = f"""
# docker info (docker collector) said the engine has no containers: the part
# CONTAINERS_SH would print, without running the CLI again.
if [ -n "$FA_DOCKER_NOCT" ] && [ -z "$FA_DOCKER_HUNG" ]; then fa_part containers; echo "fa-total 0"; fa_rc 0
else fa_docker containers sh -c '{CONTAINERS_SH}' sh {MAX_CONTAINERS}; fi
fa_brief units systemctl show -p Id -p LoadState -p ActiveState -p SubState -p Result -p NRestarts {" ".join(UNITS)}
"""
assert "'" not in CONTAINERS_SH

_CONTAINER = re.compile(
    r"^/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*) (?P<status>[a-z]+) (?P<restarting>true|false) "
    r"(?P<count>\d+) (?P<exit>-?\d+) (?P<image>\S+)(?: (?P<policy>\S*))?\s*$")


_DOWN = re.compile(r"Cannot connect to the Docker daemon|Is the docker daemon running|"
                   r"docker\.sock: connect: (?:connection refused|no such file)", re.I)


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _first_line(text: str, limit: int = 300) -> Optional[str]:
    for line in text.splitlines():
        if line.strip() and not line.startswith("fa-"):
            return line.strip()[:limit]
    return None


def _complete_lines(out: str, rc: Optional[int]) -> List[str]:
    """Lines of a part; a cut-off part's unterminated last line is dropped."""
    lines = out.splitlines()
    if rc is None and lines and not out.endswith("\n"):
        lines.pop()
    return lines


def _containers(section: Section) -> Dict[str, Any]:
    p = part(section, "containers")
    facts: Dict[str, Any] = {"installed": None, "daemon_up": None, "error": None,
                             "containers_total": None, "capped": False, "containers": [],
                             "looping": []}
    if p.rc is None and not p.out:
        return facts
    if p.rc == RC_MISSING or re.search(r"^(sh: \d+: )?docker: not found", p.out, re.M):
        facts.update(installed=False, error="docker: not found")
        return facts
    facts["installed"] = True
    containers: List[dict] = []
    for line in _complete_lines(p.out, p.rc):
        m = _CONTAINER.match(line)
        if not m:
            continue
        containers.append({
            "name": m.group("name"),
            "image": m.group("image"),
            "status": m.group("status"),
            "restarting": m.group("restarting") == "true",
            "restart_count": int(m.group("count")),
            "exit_code": _int(m.group("exit")),
            "restart_policy": m.group("policy") or None,
        })
    total = re.search(r"^fa-total (\d+)\s*$", p.out, re.M)
    if total:
        facts["daemon_up"] = True
        facts["containers_total"] = int(total.group(1))
        facts["capped"] = facts["containers_total"] > MAX_CONTAINERS
    elif p.skipped:
        facts["error"] = f"skipped: {p.skipped}"
    elif p.rc in RC_TIMED_OUT:
        facts["error"] = "docker ps timed out"
    elif p.rc is None:
        facts["error"] = "output cut off"
    elif p.rc not in (0, None):
        facts["error"] = _first_line(p.out) or f"docker ps failed (rc {p.rc})"
        # Only "nothing answers on the socket" says down; permission denied or an API
        # version error says nothing about the daemon (or that it is up).
        if _DOWN.search(p.out):
            facts["daemon_up"] = False
    containers.sort(key=lambda c: c["name"])
    facts["containers"] = containers
    facts["looping"] = sorted(c["name"] for c in containers
                              if c["restarting"] or c["status"] == "restarting"
                              or c["restart_count"] >= LOOP_THRESHOLD)
    return facts


def _units(section: Section) -> Dict[str, Any]:
    p = part(section, "units")
    facts: Dict[str, Any] = {"systemd": None, "units": [], "units_error": None}
    if p.rc is None and not p.out:
        return facts
    if p.rc == RC_MISSING:
        facts.update(systemd=False, units_error="systemctl: not found")
        return facts
    blocks: List[Dict[str, str]] = [{}]
    for line in _complete_lines(p.out, p.rc):
        if not line.strip():
            blocks.append({})
            continue
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z]+", key):
            blocks[-1][key] = value.strip()
    units = []
    for b in blocks:
        if not b.get("Id") or b.get("LoadState") in (None, "not-found"):
            continue
        units.append({
            "unit": b["Id"][:100],
            "load_state": b.get("LoadState"),
            "active_state": b.get("ActiveState"),
            "sub_state": b.get("SubState"),
            "result": b.get("Result"),
            "restarts": _int(b.get("NRestarts")),
        })
    units.sort(key=lambda u: u["unit"])
    facts["units"] = units
    if units or (p.rc == 0 and any(b.get("Id") for b in blocks)):
        facts["systemd"] = True
    elif p.rc is None:
        facts["units_error"] = "output cut off"
    else:
        facts["systemd"] = False
        facts["units_error"] = _first_line(p.out) or f"systemctl failed (rc {p.rc})"
    return facts


def parse(section: Section) -> dict:
    facts = _containers(section)
    facts.update(_units(section))
    return facts


COLLECTOR = Collector(name="restarts", script=SCRIPT, parse=parse, doc=__doc__ or "",
                      shell_lib=(DOCKER_CLI_SH,))
