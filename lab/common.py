"""What lab/fleet.py (the hosts) and lab/services.py (registry, resolver, proxy, builder)
both need: the lab's constants, HostSpec, LabError and the file writer.

Both modules import this one and neither imports the other at module level, so there
is no import circle (fleet.py still imports services lazily, inside the build steps
that start the services).
"""
from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

# ---------------------------------------------------------------------------
# constants

KINDS = ("docker", "ssh", "refused", "blackhole", "silent", "wrongkey", "busybox")
SSHD_KINDS = ("docker", "ssh", "wrongkey", "busybox")
WEDGE_TARGETS = ("dockerd", "containerd")
LAB_NET = ipaddress.ip_network("10.213.0.0/16")
SLOT_PREFIX = 20  # each fleet (slot) gets one /20 of LAB_NET: 16 fleets at once
MAX_SLOTS = 16
HOSTS_PER_24 = 254
DOMAIN = "fleet.test"
REGISTRY_NAME = "registry." + DOMAIN
MIRROR_NAME = "mirror." + DOMAIN
PROXY_NAME = "proxy." + DOMAIN
PROXY_PORT = 3128
REGISTRY_PORT = 443
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
OVERLAY_DIRS = (
    "/etc",
    "/root",
    "/home",
    "/usr/local/bin",
    "/usr/local/share/ca-certificates",
    "/var/lib",
    "/var/log",
)
# Paths the lab never allows as state dir (they are overlaid or tmpfs inside hosts).
_FORBIDDEN_STATE_PARENTS = OVERLAY_DIRS + ("/run", "/dev", "/proc", "/sys", "/var/run")
SLOT_REGISTRY = Path("/run/lock/fleetaudit-lab")
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
RESERVED_NAMES = {"registry", "proxy", "dns", "builder", "mirror", "gateway", "expired", "notyet",
                  "tokenreg"}
# Service addresses inside a slot's /20 (offsets from the network address).
SVC_OFFSETS = {"gateway": 1, "dns": 2, "registry": 3, "proxy": 4, "builder": 5, "expired": 6,
               "notyet": 7, "tokenreg": 8}
EXPIRED_REGISTRY_NAME = "expired." + DOMAIN  # same registry content, certificate expired
NOTYET_REGISTRY_NAME = "notyet." + DOMAIN  # same registry content, certificate not valid yet
TOKEN_REGISTRY_NAME = "tokenreg." + DOMAIN  # same content, Bearer token auth (realm on :8443)
TOKEN_PORT = 8443
DEAD_OFFSET = 9  # an address in the subnet that nobody holds (dead resolver etc.)
UID_BASE = 2001

Content = Union[str, bytes]


class LabError(RuntimeError):
    """Raised when the lab cannot be built or used; the message says why and where to look."""


@dataclass
class HostSpec:
    """What one host of the fleet is.

    kind: "docker" (sshd + dockerd), "ssh" (sshd only), "refused" (nothing listening
    on 22), "blackhole" (iptables INPUT DROP), "silent" (accepts TCP, never sends a
    banner), "wrongkey" (real sshd, known_hosts holds a different key), "busybox" (sshd
    only; /usr/bin, /usr/sbin, /usr/local/bin, /usr/local/sbin hold nothing but busybox
    applets: no docker, iptables, nft, journalctl, systemctl, sudo, bash; root's shell
    is busybox sh, which runs its own applets (ip included) whatever PATH says).
    dead_resolver: /etc/resolv.conf names an address where nothing answers and
    /etc/hosts lacks the host's own name, so every lookup, sudo's lookup of its own
    hostname included, waits for the resolver's timeout (~10 s per sudo).
    wedge: "dockerd" or "containerd": SIGSTOP that daemon at the end of up() (after
    `pulls`): the docker CLI then hangs, as with a wedged daemon.
    files: absolute path -> content, written into the host's overlay before daemons
    start. Paths must be under one of OVERLAY_DIRS.
    docker_env: environment of dockerd (started with `env -i` + these). None means:
    taken from the Environment= lines of planted /etc/systemd/system/docker.service.d/*.conf
    drop-ins, as systemd would.
    """

    name: str
    kind: str = "docker"
    files: dict = field(default_factory=dict)
    file_modes: dict = field(default_factory=dict)
    mtu: Optional[int] = None
    iptables: list = field(default_factory=list)
    clock_offset: Optional[str] = None
    data_root_size: str = "256m"
    data_root_inodes: int = 65536
    fill_data_root_pct: Optional[int] = None
    users: list = field(default_factory=list)
    sudo: dict = field(default_factory=dict)
    docker_env: Optional[dict] = None
    start_docker: bool = True
    login_user: str = "root"
    become: Optional[bool] = None  # inventory `become`; None: true when login_user is not root
    groups: list = field(default_factory=list)
    in_inventory: bool = True
    pulls: list = field(default_factory=list)  # images to `docker pull` at the end of up()
    dead_resolver: bool = False
    wedge: Optional[str] = None
    session_env: dict = field(default_factory=dict)  # variables every SSH session gets (sshd SetEnv)

    def fingerprint_data(self) -> dict:
        d = dataclasses.asdict(self)
        d["files"] = {
            k: hashlib.sha256(v.encode() if isinstance(v, str) else v).hexdigest()
            for k, v in sorted(self.files.items())
        }
        return d



def _write(path: Path, content: Content, mode: int = 0o644, uid: int = None, gid: int = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    tmp = path.with_name(path.name + ".lab-tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    if uid is not None:
        os.chown(tmp, uid, gid if gid is not None else uid)
    os.replace(tmp, path)
