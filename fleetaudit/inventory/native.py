"""The native fleetaudit inventory format (YAML).

    fleetaudit: 1                 # optional format marker/version
    defaults:                     # variables for every host (lowest precedence)
      user: audit
      become: true
    groups:
      docker:                     # name -> null or {vars, children, hosts}
        children: [docker-eu, docker-us]
        vars: {identity_file: ~/.ssh/fleet_ed25519}
      docker-eu:
        vars: {jump: ops@10.213.0.2:22}
        hosts: [eu-1]
    hosts:
      eu-1:                       # name -> null or settings
        address: 10.213.1.11      # defaults to the host name
        port: 22
        user: root
        identity_file: ~/.ssh/id
        jump: ops@10.213.0.2:22   # ProxyJump spec; comma-separated chain or list
        become: true
        become_user: root
        tags: [eu, canary]
        groups: [docker-eu]       # alternative to listing the host in the group
        vars: {site: fra1}        # free-form variables

Field variables (address, port, user, identity_file, jump, become,
become_user, become_method, tags) may be set at any level; lookup goes host -> groups
(children override parents; siblings in name order, later wins) -> defaults.
Unknown keys, undefined groups or hosts, duplicate keys and group cycles are
errors that name the file and line. Host names are used as written (no
`[1:3]` ranges: each host has its own address).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .errors import InventoryError, did_you_mean, kind_of
from .fields import NATIVE_FIELDS
from .raw import RawInventory, VarDef, var_table
from .yamlsrc import Duplicate, YamlMap, line_of

FORMAT_VERSIONS = (1,)
TOP_KEYS = ("fleetaudit", "defaults", "groups", "hosts")
GROUP_KEYS = ("vars", "children", "hosts")
HOST_KEYS = NATIVE_FIELDS + ("groups", "vars")


def looks_native(data: Any) -> bool:
    return isinstance(data, dict) and any(k in data for k in TOP_KEYS)


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.raw = RawInventory(path, "native")

    def fail(self, line: Optional[int], message: str) -> InventoryError:
        return InventoryError(self.path, line, message)

    def check_keys(self, mapping: YamlMap, allowed: Sequence[str], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.fail(
                    line_of(mapping, key),
                    f"unknown key '{key}' in {where}{did_you_mean(key, allowed)}; "
                    f"expected one of: {', '.join(allowed)}")

    def mapping(self, value: Any, line: Optional[int], what: str) -> YamlMap:
        """null reads as an empty mapping; anything else must be one."""
        if value is None:
            empty = YamlMap()
            empty.line, empty.key_lines = line or 0, {}
            return empty
        if not isinstance(value, dict):
            raise self.fail(line, f"{what} must be a mapping, got {kind_of(value)}")
        return value

    def names(self, value: Any, line: Optional[int], what: str) -> List[tuple]:
        """A name or list of names -> [(name, line)]."""
        if value is None:
            return []
        if isinstance(value, str):
            value, lines = [value], [line]
        elif isinstance(value, list):
            lines = [line_of(value, i, line) for i in range(len(value))]
        else:
            raise self.fail(line, f"{what} must be a name or a list of names, got {kind_of(value)}")
        result = []
        for item, item_line in zip(value, lines):
            result.append((_name(item, item_line, what, self.path), item_line))
        return result

    def vars(self, value: Any, line: Optional[int], what: str) -> Dict[str, VarDef]:
        table = self.mapping(value, line, what)
        for key in table:
            if not isinstance(key, str):
                raise self.fail(line_of(table, key), f"variable name {key!r} in {what} must be a string")
        return var_table(table, self.path, table.line_of)

    def parse(self, data: Any) -> RawInventory:
        top = self.mapping(data, 1, "the inventory")
        self.check_keys(top, TOP_KEYS, "the inventory top level")
        if "fleetaudit" in top and top["fleetaudit"] not in FORMAT_VERSIONS + tuple(str(v) for v in FORMAT_VERSIONS):
            raise self.fail(line_of(top, "fleetaudit"),
                            f"unsupported format version {top['fleetaudit']!r} (supported: 1)")
        self.raw.defaults = self.vars(top.get("defaults"), line_of(top, "defaults"), "defaults")
        groups = self.mapping(top.get("groups"), line_of(top, "groups"), "groups")
        hosts = self.mapping(top.get("hosts"), line_of(top, "hosts"), "hosts")
        # Declare every group and host first so references can be checked.
        group_bodies = [(_name(k, line_of(groups, k), "group name", self.path), v, line_of(groups, k))
                        for k, v in groups.items()]
        host_bodies = [(_host_name(k, line_of(hosts, k), self.path), v, line_of(hosts, k))
                       for k, v in hosts.items()]
        for kind, bodies, table in (("group", group_bodies, self.raw.groups), ("host", host_bodies, self.raw.hosts)):
            seen = {}
            for name, _, line in bodies:
                if name in seen:  # `1:` and `"1":` are different YAML keys but one name
                    raise self.fail(line, f"{kind} '{name}' is defined twice (first at line {seen[name]})")
                seen[name] = line
        for name, _, line in group_bodies:
            self.raw.group(name, line)
        for name, _, line in host_bodies:
            self.raw.host(name, line)
        for name, body, line in group_bodies:
            self.group(name, self.mapping(body, line, f"group '{name}'"))
        for name, body, line in host_bodies:
            self.host(name, self.mapping(body, line, f"host '{name}'"))
        return self.raw

    def group(self, name: str, body: YamlMap) -> None:
        self.check_keys(body, GROUP_KEYS, f"group '{name}'")
        group = self.raw.groups[name]
        group.vars = self.vars(body.get("vars"), line_of(body, "vars"), f"vars of group '{name}'")
        for child, line in self.names(body.get("children"), line_of(body, "children"), f"children of group '{name}'"):
            if child not in self.raw.groups:
                raise self.fail(line, f"group '{name}' lists undefined child group '{child}'"
                                      f"{did_you_mean(child, self.raw.groups)}")
            self.raw.add_child(name, child, line)
        for host, line in self.names(body.get("hosts"), line_of(body, "hosts"), f"hosts of group '{name}'"):
            if host not in self.raw.hosts:
                raise self.fail(line, f"group '{name}' lists undefined host '{host}'"
                                      f"{did_you_mean(host, self.raw.hosts)}; define it under hosts:")
            self.raw.add_member(host, name)

    def host(self, name: str, body: YamlMap) -> None:
        self.check_keys(body, HOST_KEYS, f"host '{name}'")
        host = self.raw.hosts[name]
        host.vars = self.vars(body.get("vars"), line_of(body, "vars"), f"vars of host '{name}'")
        for key in NATIVE_FIELDS:
            if key not in body:
                continue
            if key in host.vars:
                raise self.fail(line_of(body, key),
                                f"host '{name}' sets '{key}' twice: as a key and under vars (line {host.vars[key].line})")
            host.vars[key] = VarDef(body[key], self.path, line_of(body, key))
        for group, line in self.names(body.get("groups"), line_of(body, "groups"), f"groups of host '{name}'"):
            if group not in self.raw.groups:
                raise self.fail(line, f"host '{name}' is in undefined group '{group}'"
                                      f"{did_you_mean(group, self.raw.groups)}; declare it under groups:")
            self.raw.add_member(name, group)


def _name(value: Any, line: Optional[int], what: str, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise InventoryError(path, line, f"{what} {value!r} is not a valid name (a word without spaces)")
    return value


def _host_name(value: Any, line: Optional[int], path: str) -> str:
    name = _name(value, line, "host name", path)
    if "[" in name or "]" in name:
        raise InventoryError(path, line, f"host name {name!r}: the native format does not expand "
                                         "[a:b] ranges; list each host with its own address")
    return name


def report_duplicates(duplicates: List[Duplicate], data: Any, path: str) -> None:
    """Duplicate keys are errors; a host defined twice gets the addresses in the message."""
    if not duplicates:
        return
    dup = duplicates[0]
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if dup.mapping is hosts:
        first, second = _address(dup.first_value, dup.key), _address(dup.value, dup.key)
        if first != second:
            raise InventoryError(path, dup.line,
                                 f"host '{dup.key}' is defined twice with different addresses: "
                                 f"{first!r} (line {dup.first_line}) and {second!r} (line {dup.line})")
        raise InventoryError(path, dup.line, f"host '{dup.key}' is defined twice (first at line {dup.first_line})")
    raise InventoryError(path, dup.line, f"duplicate key '{dup.key}' (first at line {dup.first_line})")


def _address(body: Any, name: Any) -> Any:
    if isinstance(body, dict):
        if "address" in body:
            return body["address"]
        if isinstance(body.get("vars"), dict) and "address" in body["vars"]:
            return body["vars"]["address"]
    return name


def parse_native(data: Any, duplicates: List[Duplicate], path: str) -> RawInventory:
    report_duplicates(duplicates, data, path)
    return _Parser(path).parse(data)
