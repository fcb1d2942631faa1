"""Ad-hoc host lists: `-i web1,web2,` or `-i 'web1:2222,[2001:db8::1]:22,'`.

Read as Ansible's `host_list` plugin reads them: a source that is not an existing
path and has a comma is a list; empty items are skipped (so `web1,` is one host);
`host:port` sets the port. Ansible takes anything else literally as a host name;
we refuse what cannot be one (spaces, `user@`, `[1:3]` ranges, a leading '-').
"""
from __future__ import annotations

import os

from .errors import InventoryError
from .raw import RawInventory, VarDef
from .ranges import has_range, split_host_port


def looks_like_host_list(source: str) -> bool:
    return "," in source and not os.path.exists(source)


def parse_host_list(source: str) -> RawInventory:
    where = f"host list {source!r}"
    raw = RawInventory(where, "ansible")
    for item in source.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            name, port = split_host_port(item)
        except ValueError as exc:
            raise InventoryError(where, None, str(exc)) from None
        if any(c.isspace() for c in item) or name.startswith("-"):
            raise InventoryError(where, None, f"{item!r} is not a host name (spaces, or a leading '-')")
        if "@" in name:
            raise InventoryError(where, None, f"{item!r}: a host list takes no user; "
                                              f"use --user {name.split('@')[0]} (or an inventory file)")
        if has_range(name):
            raise InventoryError(where, None, f"{item!r}: ranges are not expanded in a host list "
                                              "(nor by Ansible); list the hosts or use an inventory file")
        host = raw.host(name)
        raw.add_member(name, "ungrouped")
        if port is not None:
            host.vars["ansible_port"] = VarDef(port, where, None)
    return raw
