"""The JSON an inventory script prints, and what `ansible-inventory --list` writes.

    {"_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1"}}},
     "all": {"children": ["ungrouped", "web"]},
     "web": {"hosts": ["web1"], "vars": {"ansible_user": "audit"}, "children": []},
     "old": ["db1", "db2"]}                  # a bare list is the group's hosts

Read as Ansible's `script` plugin reads it. This one form covers dynamic inventory
plugins (aws_ec2, gcp_compute, netbox ...), group_vars/ already merged, and whole
vault-encrypted vars files already decrypted: `ansible-inventory` did that work.
What it does NOT do is evaluate `{{ templates }}` or decrypt inline `!vault` values:
those arrive as the template text and as {"__ansible_vault": "..."}, and are refused
when they feed a connection field (fields.py), accepted anywhere else.
Where Ansible ignores something odd (unknown keys in a group, hostvars for a host
in no group), we refuse it: a truncated or hand-edited file must not audit fewer
hosts than it names.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from .errors import InventoryError, did_you_mean, kind_of
from .raw import RawInventory, VarDef
from .yamlsrc import VaultEncrypted, line_of

GROUP_KEYS = ("hosts", "vars", "children")
META_KEYS = ("hostvars", "profile")


def looks_like_list_output(data: Any) -> bool:
    """`_meta` at the top is what marks --list output (Ansible YAML has no such group)."""
    return isinstance(data, dict) and "_meta" in data


def plain_value(value: Any) -> Any:
    """Undo Ansible's JSON encoding of vaulted and unsafe values."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_vault" in value:
            return VaultEncrypted()
        if len(value) == 1 and "__ansible_unsafe" in value:
            return value["__ansible_unsafe"]
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    return value


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.raw = RawInventory(path, "ansible")

    def fail(self, line: Optional[int], message: str) -> InventoryError:
        return InventoryError(self.path, line, message)

    def name(self, value: Any, line: Optional[int], what: str) -> str:
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            raise self.fail(line, f"{what} {value!r} is not a valid name (a word without spaces)")
        return value

    def names(self, value: Any, line: Optional[int], what: str) -> list:
        if not isinstance(value, list):
            raise self.fail(line, f"{what} must be a list of names, got {kind_of(value)}")
        return [(self.name(v, line_of(value, i, line), what), line_of(value, i, line))
                for i, v in enumerate(value)]

    def vars(self, value: Any, line: Optional[int], what: str) -> Dict[str, VarDef]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(line, f"{what} must be a mapping of variables, got {kind_of(value)}")
        table = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.fail(line_of(value, key, line), f"variable name {key!r} in {what} must be a string")
            table[key] = VarDef(plain_value(item), self.path, line_of(value, key, line))
        return table

    def group(self, name: Any, body: Any, line: Optional[int]) -> None:
        name = self.name(name, line, "group name")
        self.raw.group(name, line)
        if isinstance(body, list):  # the old script form: "group": ["host", ...]
            body = {"hosts": body}
        if body is None:
            return
        if not isinstance(body, dict):
            raise self.fail(line, f"group '{name}' must be a mapping with hosts, vars or children "
                                  f"(or a list of hosts), got {kind_of(body)}")
        for key in body:
            if key not in GROUP_KEYS:
                raise self.fail(line_of(body, key, line),
                                f"unexpected key '{key}' in group '{name}'{did_you_mean(key, GROUP_KEYS)}; "
                                f"expected one of: {', '.join(GROUP_KEYS)}")
        self.raw.groups[name].vars.update(
            self.vars(body.get("vars"), line_of(body, "vars", line), f"vars of group '{name}'"))
        if body.get("hosts") is not None:
            for host, host_line in self.names(body["hosts"], line_of(body, "hosts", line), f"hosts of group '{name}'"):
                self.raw.host(host, host_line)
                self.raw.add_member(host, name)
        if body.get("children") is not None:
            for child, child_line in self.names(body["children"], line_of(body, "children", line),
                                                f"children of group '{name}'"):
                self.raw.add_child(name, child, child_line)

    def meta(self, meta: Any, line: Optional[int]) -> Optional[dict]:
        """The hostvars mapping, or None when the output has none (then ask --host)."""
        if not isinstance(meta, dict):
            raise self.fail(line, f"'_meta' must be a mapping with 'hostvars', got {kind_of(meta)}")
        for key in meta:
            if key not in META_KEYS:
                raise self.fail(line_of(meta, key, line),
                                f"unexpected key '{key}' in '_meta'{did_you_mean(key, META_KEYS)}; "
                                f"expected one of: {', '.join(META_KEYS)}")
        hostvars = meta.get("hostvars")
        if hostvars is not None and not isinstance(hostvars, dict):
            raise self.fail(line_of(meta, "hostvars", line),
                            f"'_meta.hostvars' must be a mapping of host name to variables, got {kind_of(hostvars)}")
        return hostvars

    def hostvars(self, hostvars: dict, line: Optional[int]) -> None:
        for host, values in hostvars.items():
            host_line = line_of(hostvars, host, line)
            if host not in self.raw.hosts:
                raise self.fail(host_line, f"'_meta.hostvars' has host '{host}', which no group lists"
                                           f"{did_you_mean(host, self.raw.hosts)} (Ansible would ignore it)")
            self.raw.hosts[host].vars.update(self.vars(values, host_line, f"hostvars of '{host}'"))


def parse_ansible_list(data: Any, path: str, host_vars: Any = None) -> RawInventory:
    """Parse --list output. `host_vars(name) -> mapping` answers for hosts when the
    output has no `_meta.hostvars` (a script then answers `--host NAME`, as in Ansible)."""
    parser = _Parser(path)
    if not isinstance(data, dict):
        raise parser.fail(getattr(data, "line", None),
                          f"inventory script output must be a JSON object of groups, got {kind_of(data)}")
    meta_line = line_of(data, "_meta", None)
    hostvars = parser.meta(data["_meta"], meta_line) if "_meta" in data else None
    for name, body in data.items():
        if name != "_meta":
            parser.group(name, body, line_of(data, name, None))
    if hostvars is not None:
        parser.hostvars(hostvars, line_of(data["_meta"], "hostvars", meta_line))
    elif host_vars is not None:
        for host in list(parser.raw.hosts):
            parser.raw.hosts[host].vars.update(parser.vars(host_vars(host), None, f"--host {host} output"))
    return parser.raw
