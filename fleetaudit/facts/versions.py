"""The Docker engine's version, from whichever fact knows it."""
from __future__ import annotations

import re
from typing import Any, Optional, Tuple

from .schema import dig

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(value: Any) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of "20.10.24+dfsg1", "28.2.2", "17.03.2-ce"; None if junk."""
    if not isinstance(value, str):
        return None
    m = _VERSION.match(value.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def engine_version_fact(facts: dict) -> Tuple[Optional[str], Optional[str]]:
    """(fact path, version) of the engine: the running daemon's, else the installed
    dockerd binary's (known even when the daemon is down)."""
    for path in ("docker.server.version", "docker.info.server_version", "docker.dockerd.version"):
        v = dig(facts, path)
        if isinstance(v, str) and version_tuple(v):
            return path, v
    return None, None


def engine_version(facts: dict) -> Optional[str]:
    """The engine's version string (see engine_version_fact), None when unknown."""
    return engine_version_fact(facts)[1]


def engine_major(facts: dict) -> Optional[int]:
    """The engine's major version, None when unknown."""
    t = version_tuple(engine_version(facts))
    return t[0] if t else None
