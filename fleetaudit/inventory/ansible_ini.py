"""Ansible's INI inventory format, read as Ansible's `ini` plugin reads it.

    host-a ansible_host=10.213.1.9        # before any section: ungrouped
    [web]
    web[01:20].fleet ansible_user=audit   # ranges; key=value host variables
    db.fleet:2222                         # name:port
    [web:vars]
    ansible_become=yes
    [docker:children]
    web

Values go through Python literal parsing like Ansible does (`22` is an int,
`'a b'` a string). `[g:children]` naming a group never declared, and
`[g:vars]` for a group never declared, are errors in Ansible and here too.
"""
from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any, Dict, Optional, Tuple

from .errors import InventoryError
from .raw import RawInventory, VarDef
from .ranges import is_bracketed_ipv6, parse_host_pattern

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_SECTION_KINDS = ("hosts", "vars", "children")


def parse_value(text: str) -> Any:
    """Ansible's _parse_value: a Python literal if it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    if isinstance(value, (complex, bytes, set, frozenset)):
        return text  # not something an inventory variable can sensibly hold
    return value


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.raw = RawInventory(path, "ansible")
        self.declared = {"all", "ungrouped"}
        # Groups referenced before (or without) being declared: name -> (kind, line, parent).
        self.pending: Dict[str, Tuple[str, int, Optional[str]]] = {}

    def fail(self, line: int, message: str) -> InventoryError:
        return InventoryError(self.path, line, message)

    def parse(self, text: str) -> RawInventory:
        group, kind = "ungrouped", "hosts"
        for lineno, raw_line in enumerate(text.splitlines(), 1):
            line = raw_line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and not is_bracketed_ipv6(line.split()[0]):
                group, kind = self.section(line, lineno)
            elif kind == "hosts":
                self.host_line(group, line, lineno)
            elif kind == "children":
                self.child_line(group, line, lineno)
            else:
                self.var_line(group, line, lineno)
        for name, (pending_kind, line, parent) in sorted(self.pending.items(), key=lambda kv: kv[1][1]):
            if pending_kind == "vars":
                raise self.fail(line, f"section [{name}:vars] is for undefined group '{name}'")
            raise self.fail(line, f"section [{parent}:children] includes undefined group '{name}'")
        return self.raw

    def section(self, line: str, lineno: int) -> Tuple[str, str]:
        m = _SECTION.match(line)
        if not m:
            raise self.fail(lineno, f"malformed section header {line!r} (expected [group], [group:vars] or [group:children])")
        name, kind = m.group(1), m.group(2) or "hosts"
        if kind not in _SECTION_KINDS:
            raise self.fail(lineno, f"section [{name}:{kind}] has unknown type '{kind}' (expected hosts, vars or children)")
        if kind == "vars":
            if name not in self.declared and name not in self.pending:
                self.pending[name] = ("vars", lineno, None)
        else:
            self.declared.add(name)
            if self.pending.get(name, ("",))[0] in ("vars", "children"):
                del self.pending[name]
        self.raw.group(name, lineno)
        return name, kind

    def host_line(self, group: str, line: str, lineno: int) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise self.fail(lineno, f"cannot parse host line {line!r}: {exc}") from None
        for i, token in enumerate(tokens):
            if token.startswith(";"):  # a ';' comment after the host (Ansible only knows '#' here)
                del tokens[i:]
                break
        if not tokens:
            return
        try:
            names, port = parse_host_pattern(tokens[0])
        except ValueError as exc:
            raise self.fail(lineno, str(exc)) from None
        host_vars = {}
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise self.fail(lineno, f"expected key=value host variable after '{tokens[0]}', got {token!r}")
            host_vars[key] = VarDef(parse_value(value), self.path, lineno)
        for name in names:
            host = self.raw.host(name, lineno)
            self.raw.add_member(name, group)
            if port is not None:
                host.vars["ansible_port"] = VarDef(port, self.path, lineno)
            host.vars.update(host_vars)

    def child_line(self, group: str, line: str, lineno: int) -> None:
        m = _GROUP_NAME.match(line)
        if not m:
            raise self.fail(lineno, f"expected a group name in [{group}:children], got {line!r}")
        child = m.group(1)
        if child not in self.declared and child not in self.pending:
            self.pending[child] = ("children", lineno, group)
        self.raw.add_child(group, child, lineno)

    def var_line(self, group: str, line: str, lineno: int) -> None:
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise self.fail(lineno, f"expected key=value in [{group}:vars], got {line!r}")
        self.raw.groups[group].vars[key] = VarDef(parse_value(value.strip()), self.path, lineno)


def parse_ansible_ini(text: str, path: str) -> RawInventory:
    return _Parser(path).parse(text)
