"""Diagnosis rules: space and inodes where pulls land ("no space left on device").

A pull downloads every layer into the data root (docker info's DockerRootDir, usually
/var/lib/docker) and then extracts it there, so a layer needs its compressed and its
unpacked size free at once; many small files in a layer need inodes as well.
"""
from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple

from ..facts.daemon import log_counts
from ..facts.schema import join_all
from ..facts.values import number
from .base import Hit, HostContext, dig, ev, rule
from .text import q, restart_docker

# df's Capacity: at 85% a few large images fill the rest; at 95% one pull can.
USED_MEDIUM_PCT = 85.0
USED_HIGH_PCT = 95.0
# Below this much free space any real image fails to pull (layers of tens to hundreds
# of MB, downloaded and extracted side by side): critical once the disk is nearly full.
CRITICAL_FREE_BYTES = 256 * 1024 ** 2
# A disk this large in free bytes is not "nearly full" in practice, whatever the percent
# (85% of 4 TB leaves 600 GB): such hosts are reported one level milder.
ROOMY_FREE_BYTES = 50 * 1024 ** 3
INODES_MEDIUM_PCT = 85.0
INODES_HIGH_PCT = 95.0
INODES_CRITICAL_PCT = 99.0
# Where the rest of the system lives; dockerd's logs and containerd state fill it too.
ROOT_MEDIUM_PCT = 95.0
ROOT_LOW_PCT = 85.0

_LEVELS = ("critical", "high", "medium", "low", "info")


def _milder(severity: str) -> str:
    return _LEVELS[min(_LEVELS.index(severity) + 1, len(_LEVELS) - 1)]


def human(n: Optional[float]) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def _usage(facts: Any, which: str) -> Optional[dict]:
    u = dig(facts, f"disk.{which}")
    return u if isinstance(u, dict) and not u.get("error") else None


def _reclaimable(facts: Any) -> List[Tuple[str, int]]:
    df = dig(facts, "disk.docker_df")
    out = []
    for key in ("images", "containers", "build_cache", "volumes"):
        r = dig(df, f"{key}.reclaimable") if isinstance(df, dict) else None
        if isinstance(r, int) and not isinstance(r, bool) and r > 0:
            out.append((key, r))
    return out


def cleanup(ctx: HostContext, data_path: str) -> List[str]:
    """The field guide's cleanup, with what `docker system df` says each step frees."""
    rec = dict(_reclaimable(ctx.facts))
    gain = lambda *keys: sum(rec.get(k, 0) for k in keys)  # noqa: E731
    fixes = ["docker system df   # what images, containers, volumes and build cache take"]
    safe = gain("containers", "build_cache")
    fixes.append("docker system prune -f   # stopped containers, unused networks, dangling images, build cache"
                 + (f": frees up to {human(safe)}" if safe else ""))
    if rec.get("images"):
        fixes.append(f"docker system prune -a -f   # also every image no container uses ({human(rec['images'])} "
                     "reclaimable): keep the last known-good image for rollbacks")
    if rec.get("volumes"):
        fixes.append(f"docker system prune --volumes -f   # careful: deletes unused volumes and their data "
                     f"({human(rec['volumes'])})")
    fixes.append(f"sudo du -xsh {q(data_path)}/* 2>/dev/null | sort -h | tail   # when docker cannot tell")
    fixes.append(f'or grow the filesystem, or move "data-root" in /etc/docker/daemon.json to a larger one '
                 f"and {restart_docker(ctx.family)}")
    return fixes


def _evidence_logs(ctx: HostContext) -> List[dict]:
    return [ev(join_all(("daemon_log", "counts", c)), n, note="pulls already fail this way")
            for c, n in log_counts(ctx.facts, ("no-space-left", "layer-register-failed")).items()]


@rule(
    id="disk.data-root-full", category="disk", severity="high",
    title="the Docker data root is nearly full",
    why=f"""
Layers are downloaded into the data root and extracted there, so a pull needs room for both.
When the filesystem fills up the pull dies mid-layer: "failed to register layer: ... write
...: no space left on device" (or "failed to copy: ... no space left on device"), and
existing containers may fail to write their logs. Reported at {USED_MEDIUM_PCT:g}% used (medium),
{USED_HIGH_PCT:g}% (high), and critical when less than {human(CRITICAL_FREE_BYTES)} is left.
""",
    remediation=["docker system df", "docker system prune -f"],
    needs_docker=True,
)
def data_root_full(ctx: HostContext) -> Iterator[Hit]:
    u = _usage(ctx.facts, "data_root")
    pct = number(u.get("used_pct")) if u else None
    if pct is None or pct < USED_MEDIUM_PCT:
        return
    avail = number(u.get("avail"))
    severity = "high" if pct >= USED_HIGH_PCT else "medium"
    if avail is not None and pct >= USED_HIGH_PCT and avail < CRITICAL_FREE_BYTES:
        severity = "critical"
    elif avail is not None and avail >= ROOMY_FREE_BYTES:
        severity = _milder(severity)
    path = u.get("path") or "/var/lib/docker"
    yield Hit(evidence=[ev("disk.data_root.used_pct", pct, f"< {USED_MEDIUM_PCT:g}",
                           note=f"{path} on {u.get('filesystem')}: {human(avail)} free of {human(number(u.get('size')))}"),
                        *_evidence_logs(ctx)],
              severity=severity,
              title=f"data root {path} is {pct:g}% full ({human(avail)} free)",
              remediation=cleanup(ctx, path))


@rule(
    id="disk.inodes-full", category="disk", severity="high",
    title="the Docker data root is running out of inodes",
    why=f"""
Every file a layer unpacks takes an inode. With inodes exhausted the filesystem refuses new
files although df -h shows free space, and pulls fail with the same "no space left on
device" mid-layer. Reported at {INODES_MEDIUM_PCT:g}% of inodes used (medium), {INODES_HIGH_PCT:g}% (high),
{INODES_CRITICAL_PCT:g}% (critical).
""",
    remediation=["df -i /var/lib/docker", "docker system prune -f"],
    needs_docker=True,
)
def inodes_full(ctx: HostContext) -> Iterator[Hit]:
    u = _usage(ctx.facts, "data_root")
    pct = number(u.get("inodes_used_pct")) if u else None
    if pct is None or pct < INODES_MEDIUM_PCT:
        return
    free = number(u.get("inodes_free"))
    severity = ("critical" if pct >= INODES_CRITICAL_PCT or free == 0
                else "high" if pct >= INODES_HIGH_PCT else "medium")
    path = u.get("path") or "/var/lib/docker"
    yield Hit(evidence=[ev("disk.data_root.inodes_used_pct", pct, f"< {INODES_MEDIUM_PCT:g}",
                           note=f"{path}: {int(free) if free is not None else '?'} inodes free of {u.get('inodes')}"),
                        *_evidence_logs(ctx)],
              severity=severity,
              title=f"data root {path} has {pct:g}% of its inodes used",
              remediation=[f"df -i {q(path)}", *cleanup(ctx, path),
                           "many small files: build cache and stopped containers are the usual owners"])


@rule(
    id="disk.root-full", category="disk", severity="medium",
    title="the root filesystem (not the data root) is nearly full",
    why=f"""
The data root has its own filesystem here, but dockerd and containerd keep state, logs and
temporary files on the root filesystem (/var/lib/containerd, /var/log, /tmp). When it fills
up the daemon misbehaves and pulls through the containerd image store fail with "no space
left on device". Reported at {ROOT_LOW_PCT:g}% (low) and {ROOT_MEDIUM_PCT:g}% (medium).
""",
    remediation=["df -h /", "sudo du -xsh /var/* | sort -h | tail"],
    needs_docker=True,
)
def root_full(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "disk.same_filesystem") is not False:
        return   # same filesystem: disk.data-root-full already judges it
    u = _usage(ctx.facts, "root")
    pct = number(u.get("used_pct")) if u else None
    if pct is None or pct < ROOT_LOW_PCT:
        return
    avail = number(u.get("avail"))
    severity = "medium" if pct >= ROOT_MEDIUM_PCT else "low"
    if avail is not None and avail >= ROOMY_FREE_BYTES:
        severity = _milder(severity)
    journal = "sudo journalctl --vacuum-size=200M" if ctx.family != "alpine" else "sudo find /var/log -name '*.gz' -delete"
    yield Hit(evidence=[ev("disk.root.used_pct", pct, f"< {ROOT_LOW_PCT:g}", note=f"{human(avail)} free on /")],
              severity=severity, title=f"root filesystem is {pct:g}% full ({human(avail)} free)",
              remediation=["df -h /", "sudo du -xsh /var/* 2>/dev/null | sort -h | tail", journal])
