"""Inventory records handed to the rest of the pipeline.

Everything here is plain data: the loaders validate before building these, so a
Host that exists is one the connect layer can use as is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class JumpHop:
    """One hop of a ProxyJump chain."""

    host: str
    port: int = 22
    user: Optional[str] = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{user}{host}:{self.port}"


# [ssh://][user@]host[:port] where host may be a bracketed IPv6 address.
_HOP = re.compile(
    r"""^(?:ssh://)?
        (?:(?P<user>[^@\s/]+)@)?
        (?:\[(?P<v6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[^@\s:/\[\]]+))
        (?::(?P<port>\d+))?/?$""",
    re.X,
)


def parse_jump(spec: str) -> List[JumpHop]:
    """Split a ProxyJump spec ("user@host:port,host2") into hops, in order.

    Raises ValueError with a readable reason on a malformed hop.
    """
    hops = []
    for raw in spec.split(","):
        raw = raw.strip()
        m = _HOP.match(raw)
        if not raw or not m:
            raise ValueError(f"malformed jump hop {raw!r} (expected [user@]host[:port])")
        host = m.group("v6") or m.group("host")
        if host.startswith("-") or (m.group("user") or "").startswith("-"):
            # A leading dash would read as an ssh option if ever put on a command line.
            raise ValueError(f"jump hop {raw!r} must not start with '-'")
        port = int(m.group("port")) if m.group("port") else 22
        if not 1 <= port <= 65535:
            raise ValueError(f"jump hop {raw!r} has port {port} outside 1-65535")
        hops.append(JumpHop(host=host, port=port, user=m.group("user")))
    return hops


@dataclass(frozen=True)
class Host:
    """One machine to audit, with every inventory layer already merged.

    `groups` holds every group the host is in (directly or through nested
    groups), sorted, always including "all". `vars` holds the merged variables
    not consumed by the fields above; treat it as read-only. It is left out of
    repr() because Ansible inventories often carry passwords there.
    """

    name: str
    address: str
    port: int = 22
    user: Optional[str] = None
    identity_file: Optional[str] = None
    jump: Optional[str] = None
    become: bool = False
    become_user: str = "root"      # the loaders accept nothing else (fields.to_become_user)
    become_method: str = "sudo"    # likewise (fields.to_become_method)
    groups: Tuple[str, ...] = ("all",)
    vars: Dict[str, Any] = field(default_factory=dict, hash=False, repr=False)
    tags: Tuple[str, ...] = ()

    @property
    def jump_hops(self) -> List[JumpHop]:
        """The jump chain as hops, first hop first ([] when direct)."""
        return parse_jump(self.jump) if self.jump else []


@dataclass
class Inventory:
    """A loaded inventory.

    hosts: name -> Host, in the order hosts first appear in the file.
    groups: name -> host names, in host order. Membership is effective: a
        group lists the hosts of its child groups too. "all" and "ungrouped"
        are always present.
    source: the path the inventory was loaded from.
    warnings: things skipped on purpose (vault-encrypted vars files).
    """

    hosts: Dict[str, Host]
    groups: Dict[str, List[str]]
    source: str
    warnings: Tuple[str, ...] = ()
