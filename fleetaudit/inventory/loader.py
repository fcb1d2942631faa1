"""load_inventory: detect the format, parse, add vars directories, resolve."""
from __future__ import annotations

import os
import re
from typing import Union

from .ansible_ini import parse_ansible_ini
from .ansible_yaml import parse_ansible_yaml
from .errors import InventoryError
from .model import Inventory
from .native import looks_native, parse_native
from .resolve import resolve
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


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError as exc:
        raise InventoryError(path, None, f"cannot read inventory: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise InventoryError(path, None, f"cannot read inventory: {exc.strerror or exc}") from None


def load_inventory(path: Union[str, "os.PathLike[str]"]) -> Inventory:
    """Load and fully validate an inventory file.

    Formats: native fleetaudit YAML, Ansible YAML, Ansible INI (detected).
    group_vars/ and host_vars/ next to the file are merged in as Ansible does.
    Raises InventoryError (file, line, message) on any problem, including an
    inventory that defines no hosts; returns nothing half-validated.
    """
    path = os.fspath(path)
    text = _read(path)
    if detect_format(path, text) == "ini":
        raw = parse_ansible_ini(text, path)
    else:
        data, duplicates = load_yaml(text, path)
        if data is None:
            raise InventoryError(path, None, "inventory is empty: it defines no hosts")
        if looks_native(data):
            raw = parse_native(data, duplicates, path)
        else:
            raw = parse_ansible_yaml(data, duplicates, path)
    warnings = load_vars_dirs(raw, os.path.dirname(path) or ".")
    if not raw.hosts:
        raise InventoryError(path, None, "inventory defines no hosts")
    return resolve(raw, tuple(warnings))
