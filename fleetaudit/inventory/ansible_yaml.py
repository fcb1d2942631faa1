"""Ansible's YAML inventory format, read as Ansible's `yaml` plugin reads it.

    all:
      vars: {ansible_user: audit}
      children:
        web:
          hosts:
            web[01:03].fleet:              # ranges and `name:port` allowed in host keys
              ansible_host: 10.213.1.11
          vars: {...}
          children: {...}

Every top-level key is a group. A group seen twice (top level and as a
child) is merged. Ansible only warns about unexpected keys in a group; we
refuse them, since the usual cause is hosts written without `hosts:`.
"""
from __future__ import annotations

from typing import Any, List, Optional, Set, Tuple

from .errors import InventoryError, did_you_mean, kind_of
from .raw import RawInventory, VarDef, var_table
from .ranges import parse_host_pattern
from .yamlsrc import Duplicate, line_of

GROUP_KEYS = ("hosts", "vars", "children")


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.raw = RawInventory(path, "ansible")
        self.seen: Set[Tuple[str, int]] = set()  # (group, id(body)): aliases must not re-walk or recurse

    def fail(self, line: Optional[int], message: str) -> InventoryError:
        return InventoryError(self.path, line, message)

    def name(self, value: Any, line: Optional[int], what: str) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            raise self.fail(line, f"{what} {value!r} is not a valid name (a word without spaces)")
        return value

    def vars(self, value: Any, line: Optional[int], what: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(line, f"{what} must be a mapping of variables, got {kind_of(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(line_of(value, key, line), f"variable name {key!r} in {what} must be a string")
        return var_table(value, self.path, lambda k: line_of(value, k, line))

    def group(self, name: Any, body: Any, line: Optional[int], parent: Optional[str]) -> None:
        name = self.name(name, line, "group name")
        self.raw.group(name, line)
        if parent is not None:
            self.raw.add_child(parent, name, line)
        if (name, id(body)) in self.seen:
            return
        self.seen.add((name, id(body)))
        if body is None:
            return
        if not isinstance(body, dict):
            raise self.fail(line, f"group '{name}' must be a mapping with hosts, vars or children, got {kind_of(body)}")
        for key in body:
            if key not in GROUP_KEYS:
                hint = did_you_mean(key, GROUP_KEYS) or " (hosts must go under 'hosts:')"
                raise self.fail(line_of(body, key, line),
                                f"unexpected key '{key}' in group '{name}'{hint}; "
                                f"expected one of: {', '.join(GROUP_KEYS)}")
        self.raw.groups[name].vars.update(self.vars(body.get("vars"), line_of(body, "vars", line),
                                                   f"vars of group '{name}'"))
        hosts = body.get("hosts")
        if hosts is not None and not isinstance(hosts, dict):
            raise self.fail(line_of(body, "hosts", line),
                            f"'hosts' of group '{name}' requires a mapping of host names, got {kind_of(hosts)}")
        for pattern, host_vars in (hosts or {}).items():
            self.hosts(name, pattern, host_vars, line_of(hosts, pattern, line))
        children = body.get("children")
        if children is not None and not isinstance(children, dict):
            raise self.fail(line_of(body, "children", line),
                            f"'children' of group '{name}' requires a mapping of group names, got {kind_of(children)}")
        for child, child_body in (children or {}).items():
            self.group(child, child_body, line_of(children, child, line), name)

    def hosts(self, group: str, pattern: Any, host_vars: Any, line: Optional[int]) -> None:
        pattern = self.name(pattern, line, "host")
        try:
            names, port = parse_host_pattern(pattern)
        except ValueError as exc:
            raise self.fail(line, str(exc)) from None
        table = self.vars(host_vars, line, f"vars of host '{pattern}'")
        for host_name in names:
            host = self.raw.host(host_name, line)
            self.raw.add_member(host_name, group)
            if port is not None:  # like Ansible: the pattern's port, unless the vars say otherwise
                host.vars["ansible_port"] = VarDef(port, self.path, line)
            host.vars.update(table)


def parse_ansible_yaml(data: Any, duplicates: List[Duplicate], path: str) -> RawInventory:
    if duplicates:
        dup = duplicates[0]
        raise InventoryError(path, dup.line, f"duplicate key '{dup.key}' (first at line {dup.first_line})")
    parser = _Parser(path)
    if not isinstance(data, dict):
        raise parser.fail(getattr(data, "line", 1), f"an Ansible YAML inventory must be a mapping of groups, got {kind_of(data)}")
    for name, body in data.items():
        parser.group(name, body, line_of(data, name, 1), None)
    return parser.raw
