"""Diagnosis rules: CPU architecture. An image built for the fleet's architecture only
does not pull on a host of another one."""
from __future__ import annotations

from typing import Iterator

from ..facts.platform import platform
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import cap

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
    path, mine = ctx.view.platform_fact
    if mine is MISSING:
        return
    exp = ctx.expect("platform", platform)
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
