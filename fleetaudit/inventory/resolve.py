"""From the intermediate form to validated Host records.

Precedence, lowest first (Ansible's order, so Ansible inventories resolve as
Ansible resolves them):
  defaults (native) < group vars in the inventory file < group_vars/ files
  < host vars in the inventory file < host_vars/ files.
Within each group layer, groups apply in (depth, priority, name) order: a
child group is deeper than its parents so it wins; siblings tie-break by name.
"""
from __future__ import annotations

from typing import Any, Dict, List, Set, Tuple

from . import fields
from .errors import InventoryError
from .model import Host, Inventory
from .raw import RawGroup, RawInventory, VarDef, VarTable
from .yamlsrc import VaultEncrypted


def _check_graph(raw: RawInventory) -> None:
    """Reject `all` as a child and any cycle, at the reference that closes it."""
    for group in raw.groups.values():
        if "all" in group.children:
            raise InventoryError(raw.path, group.children["all"],
                                 f"group 'all' cannot be a child of '{group.name}'")
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: List[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for child, line in raw.groups[name].children.items():
            if state.get(child) == 1:
                cycle = " -> ".join(path[path.index(child):] + [child])
                raise InventoryError(raw.path, line, f"group cycle: {cycle}")
            if child not in state:
                visit(child)
        path.pop()
        state[name] = 2

    for name in raw.groups:
        if name not in state:
            visit(name)


def _parents(raw: RawInventory) -> Dict[str, List[str]]:
    parents: Dict[str, List[str]] = {name: [] for name in raw.groups}
    for group in raw.groups.values():
        for child in group.children:
            parents[child].append(group.name)
    for name, ps in parents.items():
        if name != "all" and "all" not in ps:
            ps.append("all")  # every group hangs under "all"
    return parents


def _depths(parents: Dict[str, List[str]]) -> Dict[str, int]:
    depths: Dict[str, int] = {}

    def depth(name: str) -> int:  # longest path from "all"; the graph is acyclic by now
        if name not in depths:
            depths[name] = 0 if name == "all" else 1 + max(depth(p) for p in parents[name])
        return depths[name]

    for name in parents:
        depth(name)
    return depths


def _ancestors(name: str, parents: Dict[str, List[str]], memo: Dict[str, Set[str]]) -> Set[str]:
    if name not in memo:
        result = {name}
        for p in parents[name]:
            result |= _ancestors(p, parents, memo)
        memo[name] = result
    return memo[name]


def _priority(group: RawGroup, flavor: str) -> int:
    vd = group.file_vars.get(fields.ANSIBLE_GROUP_PRIORITY) or group.vars.get(fields.ANSIBLE_GROUP_PRIORITY)
    if flavor == "native" or vd is None:
        return 1  # Ansible's default priority
    value = vd.value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InventoryError(vd.path, vd.line,
                             f"{fields.ANSIBLE_GROUP_PRIORITY}: {value!r} is not an integer (group '{group.name}')")
    return value


def _plain(value: Any, memo: Dict[int, Any]) -> Any:
    """YamlMap/YamlList -> dict/list, so consumers (and deepdiff) see plain types.

    The memo keeps YAML aliases shared, so an alias bomb stays linear.
    """
    if isinstance(value, (dict, list)):
        key = id(value)
        if key not in memo:
            if isinstance(value, dict):
                memo[key] = result = {}
                result.update((k, _plain(v, memo)) for k, v in value.items())
            else:
                memo[key] = result = []
                result.extend(_plain(v, memo) for v in value)
        return memo[key]
    if isinstance(value, str) and type(value) is not str and not isinstance(value, VaultEncrypted):
        return str(value)
    return value


def _merge(layers: List[VarTable]) -> Dict[str, Tuple[int, VarDef]]:
    merged: Dict[str, Tuple[int, VarDef]] = {}
    for rank, layer in enumerate(layers):
        for key, vd in layer.items():
            merged[key] = (rank, vd)
    return merged


def _effective_groups(direct: List[str], parents, memo) -> Set[str]:
    groups = {"all"}
    for g in direct:
        groups |= _ancestors(g, parents, memo)
    if not groups - {"all", "ungrouped"}:
        groups.add("ungrouped")
    else:
        groups.discard("ungrouped")  # Ansible: listed elsewhere means not ungrouped
    return groups


def resolve(raw: RawInventory, warnings: Tuple[str, ...] = ()) -> Inventory:
    """Validate the whole inventory and build it; raises InventoryError on the first problem."""
    _check_graph(raw)
    for table in [raw.defaults] + [t for g in raw.groups.values() for t in (g.vars, g.file_vars)]:
        fields.check_layer(table, raw.flavor)
    for host in raw.hosts.values():
        for table in (host.vars, host.file_vars):
            fields.check_layer(table, raw.flavor, host.name)
    parents = _parents(raw)
    depths = _depths(parents)
    order = {name: (depths[name], _priority(g, raw.flavor), name) for name, g in raw.groups.items()}
    memo: Dict[str, Set[str]] = {}

    hosts: Dict[str, Host] = {}
    group_hosts: Dict[str, List[str]] = {g: [] for g in raw.groups}
    plain_memo: Dict[int, Any] = {}
    for name, rh in raw.hosts.items():
        groups = _effective_groups(rh.groups, parents, memo)
        for g in groups:
            group_hosts[g].append(name)
        ordered = sorted(groups, key=order.__getitem__)
        layers = [raw.defaults]
        layers += [raw.groups[g].vars for g in ordered]
        layers += [raw.groups[g].file_vars for g in ordered]
        layers += [rh.vars, rh.file_vars]
        values = fields.host_fields(name, _merge(layers), raw.flavor)
        values["vars"] = {k: _plain(v, plain_memo) for k, v in values["vars"].items()}
        hosts[name] = Host(groups=tuple(sorted(groups)), **values)

    return Inventory(hosts=hosts, groups=group_hosts, source=raw.path, warnings=tuple(warnings))
