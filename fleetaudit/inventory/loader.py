"""load_inventory: detect the format, parse, add vars directories, resolve."""
from __future__ import annotations

import os
import re
from typing import Union

from .ansible_ini import parse_ansible_ini
from .ansible_list import looks_like_list_output, parse_ansible_list
from .ansible_yaml import parse_ansible_yaml
from .errors import InventoryError, closest
from .hostlist import looks_like_host_list, parse_host_list
from .model import Inventory
from .native import looks_native, parse_native
from .resolve import resolve
from .script import DEFAULT_TIMEOUT, check_executable, looks_like_script, parse_json, run_script
from .varsdirs import load_vars_dirs
from .yamlsrc import load_yaml

_YAML_EXTENSIONS = (".yml", ".yaml", ".json")
_INI_EXTENSIONS = (".ini", ".cfg")
# `key:` or `key: value` at the start of a line is YAML; an INI host line
# (`web1:2222`, `web1 a=b`) never has a colon followed by a space or the end.
_YAML_FIRST_LINE = re.compile(r"^(?:---|%|\{|[^\s#;\[=]+:(?:\s|$))")


def detect_format(path: str, text: str) -> str:
    """"yaml" or "ini": the extension decides when it can, else the first line."""
    ext = os.path.splitext(path)[1].lower()
    if ext in _YAML_EXTENSIONS:
        return "yaml"
    if ext in _INI_EXTENSIONS:
        return "ini"
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        return "yaml" if _YAML_FIRST_LINE.match(stripped) else "ini"
    return "yaml"


def _missing(path: str) -> InventoryError:
    """No such file: suggest a neighbour with a close name, or the host-list form."""
    folder = os.path.dirname(path)
    try:
        siblings = os.listdir(folder or ".")
    except OSError:
        siblings = []
    near = closest(os.path.basename(path), siblings)
    if near:
        hint = f" (did you mean '{os.path.join(folder, near)}'?)"
    elif not folder and "." not in path:
        hint = f" (one host is a host list, with a comma: -i '{path},')"
    else:
        hint = ""
    return InventoryError(path, None, f"no such inventory file{hint}")


def _read(path: str) -> str:
    if not os.path.exists(path):
        raise _missing(path)
    if os.path.isdir(path):
        raise InventoryError(path, None, "is a directory; pass the inventory file inside it "
                                         "(or `ansible-inventory -i DIR --list > inventory.json`)")
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise InventoryError(path, None, f"cannot read inventory: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise InventoryError(path, None, f"cannot read inventory: {exc.strerror or exc}") from None


def load_inventory(path: Union[str, "os.PathLike[str]"], script_timeout: float = DEFAULT_TIMEOUT) -> Inventory:
    """Load and fully validate an inventory.

    Sources: native fleetaudit YAML, Ansible YAML, Ansible INI (detected), the JSON
    `ansible-inventory --list` writes, an executable inventory script (run with
    `--list`, bounded by `script_timeout` seconds), and an ad-hoc host list
    ("web1,web2:2222,", as Ansible's -i takes it).
    group_vars/ and host_vars/ next to the file are merged in as Ansible does
    (not for --list JSON: ansible-inventory merged them already).
    Raises InventoryError (file, line, message) on any problem, including an
    inventory that defines no hosts; returns nothing half-validated.
    """
    path = os.fspath(path)
    if looks_like_host_list(path):
        raw = parse_host_list(path)
        if not raw.hosts:
            raise InventoryError(raw.path, None, "host list names no hosts")
        return resolve(raw)
    if os.path.isfile(path) and looks_like_script(path):
        check_executable(path)
        raw = _from_script(path, script_timeout)
        warnings = load_vars_dirs(raw, os.path.dirname(path) or ".")
    else:
        text = _read(path)
        raw, warnings = _from_text(path, text)
    if not raw.hosts:
        raise InventoryError(path, None, "inventory defines no hosts")
    return resolve(raw, tuple(warnings))


def _from_script(path: str, timeout: float):
    data = parse_json(run_script(path, ("--list",), timeout), path, ("--list",))

    def host_vars(name: str):
        args = ("--host", name)
        return parse_json(run_script(path, args, timeout), path, args)

    raw = parse_ansible_list(data, f"{path} --list output", host_vars)
    raw.path = path
    return raw


def _from_text(path: str, text: str):
    if detect_format(path, text) == "ini":
        raw = parse_ansible_ini(text, path)
    else:
        data, duplicates = load_yaml(text, path)
        if data is None:
            raise InventoryError(path, None, "inventory is empty: it defines no hosts")
        if looks_like_list_output(data):
            if duplicates:
                dup = duplicates[0]
                raise InventoryError(path, dup.line, f"duplicate key '{dup.key}' (first at line {dup.first_line})")
            return parse_ansible_list(data, path), []  # vars dirs: already merged by ansible-inventory
        if looks_native(data):
            raw = parse_native(data, duplicates, path)
        else:
            raw = parse_ansible_yaml(data, duplicates, path)
    return raw, load_vars_dirs(raw, os.path.dirname(path) or ".")
