"""Diagnosis rules: CPU architecture. An image built for the fleet's architecture only
does not pull on a host of another one."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

from .base import Hit, HostContext, dig, ev, rule
from .common import MISSING, cap, expect

# uname -m / docker info Architecture / Go GOARCH -> OCI platform (as pull errors print it).
_PLATFORMS = {
    "x86_64": "linux/amd64", "amd64": "linux/amd64", "x64": "linux/amd64",
    "aarch64": "linux/arm64/v8", "arm64": "linux/arm64/v8", "armv8l": "linux/arm/v7",
    "armv7l": "linux/arm/v7", "armv7": "linux/arm/v7", "armhf": "linux/arm/v7",
    "armv6l": "linux/arm/v6", "armel": "linux/arm/v6", "arm": "linux/arm/v7",
    "i386": "linux/386", "i486": "linux/386", "i586": "linux/386", "i686": "linux/386",
    "386": "linux/386", "ppc64le": "linux/ppc64le", "s390x": "linux/s390x",
    "riscv64": "linux/riscv64", "mips64": "linux/mips64le", "mips64le": "linux/mips64le",
    "loongarch64": "linux/loong64", "loong64": "linux/loong64",
}


def platform_fact(facts: dict) -> Tuple[Optional[str], Any]:
    """(fact path, OCI platform) of the host: uname -m first (the kernel's truth), then
    what the daemon reports. (None, MISSING) when unknown."""
    for path in ("system.arch", "docker.info.architecture", "docker.server.arch"):
        v = dig(facts, path)
        if isinstance(v, str) and v.strip():
            p = _PLATFORMS.get(v.strip().lower())
            if p:
                return path, p
            return path, "linux/" + v.strip().lower()
    return None, MISSING


def platform(facts: dict) -> Any:
    return platform_fact(facts)[1]


@rule(
    id="arch.differs", category="arch", severity="medium",
    title="CPU architecture differs from the fleet",
    why="""
Images are built per platform. An image published for the fleet's architecture only
(a single-arch image, or a manifest list without this platform) fails on this host with
"no matching manifest for linux/arm64/v8 in the manifest list entries" (or, for a
single-arch image forced with --platform, "exec format error" when it starts).
""",
    remediation=["docker buildx imagetools inspect REGISTRY/REPO:TAG   # which platforms exist",
                 "docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/REPO:TAG --push ."],
)
def arch_differs(ctx: HostContext) -> Iterator[Hit]:
    path, mine = platform_fact(ctx.facts)
    if mine is MISSING:
        return
    exp = expect(ctx, "platform", platform)
    if exp is None or not isinstance(exp.value, str) or exp.value == mine:
        return
    raw = dig(ctx.facts, path)
    yield Hit(
        evidence=[ev(path, raw, exp.value, note=f"{mine} vs {exp.value} ({exp.source})")],
        title=f"{cap(mine, 40)} host in a {cap(exp.value, 40)} fleet: single-platform images will not pull",
        remediation=[
            "docker buildx imagetools inspect REGISTRY/REPO:TAG   # must list " + mine,
            f"docker buildx build --platform {exp.value},{mine} -t REGISTRY/REPO:TAG --push .",
            "or deploy a platform-specific tag to this host",
        ],
    )
