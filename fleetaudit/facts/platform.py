"""The host's OCI platform (os/arch/variant), as pull errors print it."""
from __future__ import annotations

from typing import Any, Optional, Tuple

from .schema import dig
from .values import MISSING

# uname -m / docker info Architecture / Go GOARCH -> OCI platform (as pull errors print it).
PLATFORMS = {
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
            p = PLATFORMS.get(v.strip().lower())
            if p:
                return path, p
            return path, "linux/" + v.strip().lower()
    return None, MISSING


def platform(facts: dict) -> Any:
    """The host's OCI platform ("linux/arm64/v8"), MISSING when unknown."""
    return platform_fact(facts)[1]


def platform_matches(host_platform: str, platforms: list) -> bool:
    """Does an image offering `platforms` have one this host pulls (os/arch, and the
    variant for 32-bit arm, where v6 and v7 binaries differ)?"""
    hp = host_platform.split("/")
    for p in platforms:
        ip = p.split("/")
        if ip[:2] != hp[:2]:
            continue
        if hp[1] == "arm" and len(hp) > 2 and len(ip) > 2 and ip[2] != hp[2]:
            continue
        return True
    return False
