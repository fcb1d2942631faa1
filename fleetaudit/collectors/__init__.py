"""The explicit, ordered collector registry (Ansible's facts lesson: one module per
fact family, one list that says what runs and in which order)."""
from __future__ import annotations

import importlib
from typing import Dict, List

from .base import Collector

# Order matters only for readability of the composite script and reports.
COLLECTOR_MODULES = (
    "system", "docker", "daemon_json", "proxy", "dns", "tls", "network", "firewall",
    "time", "disk", "credentials", "daemon_log", "restarts",
)


def _load() -> List[Collector]:
    return [importlib.import_module(f"{__name__}.{mod}").COLLECTOR for mod in COLLECTOR_MODULES]


REGISTRY: List[Collector] = _load()
_BY_NAME: Dict[str, Collector] = {c.name: c for c in REGISTRY}


def by_name(name: str) -> Collector:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown collector {name!r}; known: {', '.join(_BY_NAME)}") from None
