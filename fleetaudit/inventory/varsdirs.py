"""group_vars/ and host_vars/ next to the inventory file, as Ansible reads them.

For an entity NAME we read NAME, NAME.yml, NAME.yaml, NAME.json and every
such file under a NAME/ directory (sorted, recursively). Files for groups or
hosts the inventory does not define are ignored, as in Ansible.
Vault-encrypted files are skipped with a warning: we cannot decrypt them and
they usually hold secrets an audit does not need.
"""
from __future__ import annotations

import os
from typing import Iterator, List

from .errors import InventoryError
from .raw import RawInventory, VarTable, var_table
from .yamlsrc import load_yaml

_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def _candidates(directory: str, name: str) -> Iterator[str]:
    for ext in _EXTENSIONS:
        path = os.path.join(directory, name + ext)
        if os.path.isfile(path):
            yield path
    folder = os.path.join(directory, name)
    if os.path.isdir(folder):
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if not file.startswith(".") and os.path.splitext(file)[1] in _EXTENSIONS:
                    yield os.path.join(root, file)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(path, None, f"cannot read variables file: {exc}") from None


def _load(path: str, warnings: List[str]) -> VarTable:
    text = _read(path)
    if text.lstrip().startswith("$ANSIBLE_VAULT;"):
        warnings.append(f"{path}: vault-encrypted variables file skipped")
        return {}
    data, duplicates = load_yaml(text, path)
    if duplicates:
        dup = duplicates[0]
        raise InventoryError(path, dup.line, f"duplicate key '{dup.key}' (first at line {dup.first_line})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(path, getattr(data, "line", 1), "a variables file must be a mapping of names to values")
    for key in data:
        if not isinstance(key, str):
            raise InventoryError(path, data.line_of(key), f"variable name {key!r} must be a string")
    return var_table(data, path, data.line_of)


def load_vars_dirs(raw: RawInventory, base_dir: str) -> List[str]:
    """Fill file_vars of groups and hosts; return warnings."""
    warnings: List[str] = []
    for subdir, table in (("group_vars", raw.groups), ("host_vars", raw.hosts)):
        directory = os.path.join(base_dir, subdir)
        if not os.path.isdir(directory):
            continue
        for name, entity in table.items():
            if os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
                continue  # such a name cannot be a file in this directory
            for path in _candidates(directory, name):
                entity.file_vars.update(_load(path, warnings))
    return warnings
