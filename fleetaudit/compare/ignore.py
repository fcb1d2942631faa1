"""Which fact paths drift comparison skips, and why.

Patterns are globs over fact paths: `*` matches any run of characters (dots
included), `?` one character; nothing else is special, so brackets in quoted path
segments are literal. A pattern matching a path's ancestor covers the whole subtree:
`dns.hosts_entries` ignores every `dns.hosts_entries.<name>`.

Two declared families are ignored by default:
- VOLATILE: facts that change on a healthy host by themselves (uptime, used bytes,
  counters, clock readings);
- IDENTITY: facts that differ between healthy hosts by design (hostname, addresses,
  per-container interfaces).
They are ignored for DRIFT only: diagnosis rules still read them directly (a data root
95% full is a threshold finding, not drift), and policy checks still apply to them.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Tuple

# (pattern, why) - the why shows in `fleetaudit` docs and the report's baseline notes.
VOLATILE: Tuple[Tuple[str, str], ...] = (
    ("time.clock", "clock readings change every second; skew is checked by threshold"),
    ("*.uptime_s", "uptime grows"),
    ("disk.*.used*", "used bytes and inodes change with every pull"),
    ("disk.*.avail", "free space changes with every pull"),
    ("disk.*.inodes_used*", "used inodes change with every pull"),
    ("disk.*.inodes_free", "free inodes change with every pull"),
    ("disk.docker_df", "image and container sizes change with every pull"),
    ("daemon_log", "log counters and samples are events, checked by rule"),
    ("restarts", "restart counters and container lists are state, checked by rule"),
    ("docker.info.containers*", "container counts change with workload"),
    ("docker.info.images*", "image count changes with every pull"),
    ("docker.info.id", "engine id is unique per host"),
    ("docker.info.name", "engine name is the hostname"),
    ("docker.info.mem_total", "memory size differs with the machine"),
    ("docker.info.ncpu", "CPU count differs with the machine"),
    ("docker.info.kernel_version", "kernel builds are compared via system.kernel"),
    ("docker.server.kernel_version", "kernel builds are compared via system.kernel"),
    ("time.ntp.detail", "free-text NTP status with offsets"),
)
IDENTITY: Tuple[Tuple[str, str], ...] = (
    ("system.hostname", "every host has its own name"),
    ("network.interfaces.*.addresses", "every host has its own addresses"),
    ("network.interfaces.veth*", "one veth per running container"),
    ("network.interfaces.br-*", "docker network bridges are named by random network id"),
    ("network.default_route.gateway", "gateways differ per subnet"),
)
DEFAULT_RULES: Tuple[Tuple[str, str], ...] = VOLATILE + IDENTITY


def _glob_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    # The match may stop at a segment boundary: the pattern names an ancestor.
    return "".join(out) + r"(?:$|[.\[])"


class Ignore:
    """A compiled set of ignore patterns with a per-path memo (paths repeat per host)."""

    def __init__(self, patterns: Iterable[str] = (), defaults: bool = True):
        self.user: List[str] = [p.strip() for p in patterns if p and p.strip()]
        self.rules: List[Tuple[str, str]] = list(DEFAULT_RULES) if defaults else []
        self.rules += [(p, "ignored by the user") for p in self.user]
        self._regexes = [(re.compile(_glob_regex(p)), p, why) for p, why in self.rules]
        joined = "|".join(f"(?:{_glob_regex(p)})" for p, _ in self.rules)
        self._any = re.compile(joined) if joined else None
        user_joined = "|".join(f"(?:{_glob_regex(p)})" for p in self.user)
        self._user_any = re.compile(user_joined) if user_joined else None
        self._memo: Dict[str, bool] = {}

    def __call__(self, path: str) -> bool:
        """Is `path` ignored for drift?"""
        hit = self._memo.get(path)
        if hit is None:
            hit = bool(self._any and self._any.match(path))
            if len(self._memo) < 200_000:
                self._memo[path] = hit
        return hit

    def user_ignored(self, path: str) -> bool:
        """Ignored by the user (applies to policy checks too; defaults do not)."""
        return bool(self._user_any and self._user_any.match(path))

    def why(self, path: str) -> Optional[str]:
        for rx, pattern, why in self._regexes:
            if rx.match(path):
                return f"{pattern}: {why}"
        return None

    def to_json(self) -> dict:
        return {"defaults": [p for p, _ in self.rules if p not in self.user], "user": self.user}


def as_ignore(ignore) -> Ignore:
    """Accept an Ignore, a list of user patterns, or None (defaults only)."""
    if isinstance(ignore, Ignore):
        return ignore
    if ignore is None:
        return Ignore()
    if isinstance(ignore, str):
        return Ignore([ignore])
    return Ignore(list(ignore))


NO_IGNORE = Ignore(defaults=False)


def matches(pattern: str, path: str) -> bool:
    """Does one glob pattern cover `path`? (for callers and tests)"""
    return re.match(_glob_regex(pattern), path) is not None
