"""Shared builders for the compare tests (no tests here).

Host facts are copied from the captured collector fixtures in tests/facts/*/*.json, so
the comparison is exercised on the shapes the collectors really produce; collectors
without a captured fixture yet get facts shaped like their module docstring.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Dict, Iterable, Optional

from fleetaudit.compare.flatten import flatten
from fleetaudit.models import HostError, HostResult, RunResult

FACTS_DIR = Path(__file__).resolve().parent / "facts"
# Preferred fixture per collector: a healthy, fully featured host.
PREFERRED = ("lab-golden", "local-debian12", "debian12-local", "systemd-dropins-sandbox",
             "planted-weird", "journal-x509")

# Collectors with no captured fixture yet: realistic values (docstring shapes).
FALLBACK = {
    "dns": {"resolv_conf": {"nameservers": ["10.0.0.53", "10.0.1.53"], "search": ["corp.example.com"],
                            "options": ["edns0"], "is_stub": False},
            "resolved": None, "daemon_dns": [], "error": None},
    "disk": {"data_root": {"path": "/var/lib/docker", "size": 214643507200, "used": 64393052160,
                           "avail": 150250455040, "used_pct": 30.0, "inodes": 13107200,
                           "inodes_used": 400000, "inodes_used_pct": 3.1},
             "root": {"path": "/", "size": 32212254720, "used": 9663676416, "avail": 22548578304,
                      "used_pct": 30.0, "inodes": 1966080, "inodes_used": 180000,
                      "inodes_used_pct": 9.2},
             "docker_df": {"images_size": 4000000000, "containers_size": 100000000,
                           "volumes_size": 0, "build_cache_size": 0}},
    "restarts": {"containers": [{"name": "web", "image": "registry.corp.example.com/web:1.4",
                                 "restart_count": 0, "status": "running"}],
                 "looping": [], "units": []},
    "time": {"ntp": {"source": "timedatectl", "synchronized": True, "detail": "synchronized: yes"}},
}


def _candidates(collector: str):
    files = sorted((FACTS_DIR / collector).glob("*.json")) if (FACTS_DIR / collector).is_dir() else []
    return [f for f in files if f.stem not in ("junk", "no-output")]


def fixture_facts(collector: str) -> Optional[dict]:
    files = _candidates(collector)
    for stem in PREFERRED:
        for f in files:
            if f.stem == stem:
                return json.loads(f.read_text())["facts"]
    if files:  # the richest capture
        best = max(files, key=lambda f: (len(flatten({collector: json.loads(f.read_text())["facts"]})), f.name))
        return json.loads(best.read_text())["facts"]
    return None


def base_facts() -> dict:
    """One healthy host's facts (a fresh copy): every collector, captured where possible."""
    return copy.deepcopy(_base_facts())


@functools.lru_cache(maxsize=1)
def _base_facts() -> dict:
    from fleetaudit.collectors import COLLECTOR_MODULES
    facts = {}
    for name in COLLECTOR_MODULES:
        got = fixture_facts(name)
        facts[name] = copy.deepcopy(got if got is not None else FALLBACK.get(name, {}))
    facts.setdefault("time", {})["clock"] = {"host_epoch": 1795000000.0, "controller_epoch": 1795000000.1,
                                             "skew_s": -0.1, "uncertainty_s": 0.02}
    return facts


def host(name: str, facts: Optional[dict] = None, status: str = "ok", incomplete=None,
         error: Optional[HostError] = None) -> HostResult:
    if status == "unreachable":
        return HostResult(name=name, status=status, error=error or HostError("refused", "Connection refused"))
    facts = copy.deepcopy(facts if facts is not None else base_facts())
    if isinstance(facts.get("system"), dict):
        facts["system"]["hostname"] = name
    return HostResult(name=name, address=f"10.0.0.{abs(hash(name)) % 250 + 1}", status=status,
                      facts=facts, incomplete=dict(incomplete or {}), error=error)


def run(hosts: Iterable[HostResult], groups: Optional[Dict[str, list]] = None) -> RunResult:
    r = RunResult(run={"inventory": "test.ini"}, hosts={h.name: h for h in hosts})
    if groups:
        r.run["groups"] = groups
    return r


def interface(facts: dict, name: str) -> dict:
    return next(i for i in facts["network"]["interfaces"] if i["name"] == name)
