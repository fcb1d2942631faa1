"""What the Docker daemon is configured with: is it running, its valid daemon.json, its
registry mirrors and insecure registries (the running daemon's word first), its data
root, and its log's pull-error counts."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .schema import dig
from .values import MISSING, str_list

# dockerd always marks loopback insecure; these are not a configuration choice.
DEFAULT_INSECURE = {"127.0.0.0/8", "::1/128"}


def docker_running(facts: dict) -> bool:
    """True when the daemon answered and `docker info` was collected."""
    return bool(dig(facts, "docker.daemon_up")) and isinstance(dig(facts, "docker.info"), dict)


def daemon_config(facts: dict) -> Optional[dict]:
    """daemon.json as a dict when it is present and valid, else None."""
    cfg = dig(facts, "daemon_json.config")
    return cfg if isinstance(cfg, dict) and dig(facts, "daemon_json.valid") is True else None


def daemon_list_path(facts: dict, info_key: str, json_key: str) -> str:
    """The fact path a daemon list setting comes from: docker info when the daemon runs, else daemon.json."""
    return f"docker.info.{info_key}" if docker_running(facts) else f"daemon_json.config.{json_key}"


def _daemon_list(facts: dict, info_key: str, json_key: str) -> Any:
    """A list setting as the running daemon reports it, else as daemon.json sets it ([] without
    a daemon.json); MISSING when unknown."""
    if docker_running(facts):
        return str_list(dig(facts, f"docker.info.{info_key}"))
    if dig(facts, "daemon_json.present") is False:
        return []
    cfg = daemon_config(facts)
    return MISSING if cfg is None else str_list(cfg.get(json_key))


def registry_mirrors(facts: dict) -> Any:
    """Mirrors the daemon uses (docker info), else those daemon.json sets; MISSING if unknown."""
    raw = _daemon_list(facts, "registry_mirrors", "registry-mirrors")
    if raw is MISSING:
        return MISSING
    return sorted({m.strip().lower().rstrip("/") for m in raw})


def _insecure(facts: dict, keep_default: bool) -> Any:
    raw = _daemon_list(facts, "insecure_registries", "insecure-registries")
    if raw is MISSING:
        return MISSING
    out = set()
    for r in raw:
        r = r.strip().lower()
        if "://" in r:
            r = r.split("://", 1)[1]
        r = r.rstrip("/")
        if r and (keep_default or r not in DEFAULT_INSECURE):
            out.add(r)
    return sorted(out)


def insecure_registries(facts: dict) -> Any:
    """Insecure registries the daemon uses, else daemon.json's (loopback left out); MISSING if unknown."""
    return _insecure(facts, keep_default=False)


def insecure_entries(facts: dict) -> Any:
    """Every insecure-registries entry the daemon applies (names and CIDRs), loopback
    included (dockerd adds it itself); MISSING when unknown."""
    got = _insecure(facts, keep_default=True)
    return MISSING if got is MISSING else sorted(set(got) | DEFAULT_INSECURE)


def data_root(facts: dict) -> Tuple[Optional[str], Optional[str]]:
    """(fact path, dockerd's data root): docker info's Docker Root Dir, else the path the
    disk collector measured, else daemon.json's data-root; (None, None) when unknown."""
    for path in ("docker.info.docker_root_dir", "disk.data_root.path"):
        v = dig(facts, path)
        if isinstance(v, str) and v.strip():
            return path, v
    cfg = daemon_config(facts)
    if cfg is not None and isinstance(cfg.get("data-root"), str) and cfg["data-root"].strip():
        return "daemon_json.config.data-root", cfg["data-root"]
    return None, None


def log_counts(facts: dict, classes: Tuple[str, ...]) -> Dict[str, int]:
    """class -> count of this host's daemon-log pull errors among `classes`."""
    counts = dig(facts, "daemon_log.counts")
    if not isinstance(counts, dict):
        return {}
    return {c: n for c, n in sorted(counts.items())
            if c in classes and isinstance(n, int) and not isinstance(n, bool) and n > 0}


def log_sample(facts: dict, cls: str) -> str:
    """The daemon log's sample line of one pull-error class ("" when none)."""
    s = dig(facts, "daemon_log.samples")
    v = s.get(cls) if isinstance(s, dict) else None
    v = v.get("line") if isinstance(v, dict) else v
    return v if isinstance(v, str) else ""
