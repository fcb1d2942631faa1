"""The shape every format parses into before precedence and validation.

Keeping one intermediate form means the three parsers only read syntax and
the resolver alone decides membership, precedence and field values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

IMPLICIT_GROUPS = ("all", "ungrouped")


@dataclass
class VarDef:
    """A variable value plus where it was written (for error messages)."""

    value: Any
    path: str
    line: Optional[int]


VarTable = Dict[str, VarDef]


@dataclass
class RawGroup:
    name: str
    line: Optional[int] = None
    vars: VarTable = field(default_factory=dict)       # from the inventory file
    file_vars: VarTable = field(default_factory=dict)  # from group_vars/, which wins over the file
    children: Dict[str, Optional[int]] = field(default_factory=dict)  # child -> line of the reference


@dataclass
class RawHost:
    name: str
    line: Optional[int] = None
    vars: VarTable = field(default_factory=dict)
    file_vars: VarTable = field(default_factory=dict)  # from host_vars/
    groups: List[str] = field(default_factory=list)    # direct memberships, first-seen order


class RawInventory:
    """Groups and hosts in first-seen order; "all" and "ungrouped" always exist."""

    def __init__(self, path: str, flavor: str):
        self.path = path
        self.flavor = flavor  # "native" or "ansible": decides which variable names are fields
        self.defaults: VarTable = {}
        self.groups: Dict[str, RawGroup] = {g: RawGroup(g) for g in IMPLICIT_GROUPS}
        self.hosts: Dict[str, RawHost] = {}

    def group(self, name: str, line: Optional[int] = None) -> RawGroup:
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = RawGroup(name, line)
        elif group.line is None:
            group.line = line
        return group

    def host(self, name: str, line: Optional[int] = None) -> RawHost:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = RawHost(name, line)
        return host

    def add_member(self, host: str, group: str) -> None:
        self.group(group)
        groups = self.hosts[host].groups
        if group not in groups:
            groups.append(group)

    def add_child(self, parent: str, child: str, line: Optional[int]) -> None:
        self.group(parent)
        self.group(child)
        self.groups[parent].children.setdefault(child, line)


def var_table(mapping: Dict[Any, Any], path: str, lines: Any = None, default_line: Optional[int] = None) -> VarTable:
    """Wrap plain key/value pairs as VarDefs; `lines` is a key -> line lookup."""
    table = {}
    for key, value in mapping.items():
        line = default_line
        if lines is not None:
            line = lines(key)
        table[str(key)] = VarDef(value, path, line)
    return table
