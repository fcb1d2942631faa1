"""Turn merged variables into Host fields, validating each value.

Native inventories use plain names (address, port, ...); Ansible ones use
ansible_host, ansible_port and friends. Everything not consumed here stays
in Host.vars. Errors point at the file and line where the value was written.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import InventoryError
from .model import parse_jump
from .raw import VarDef, VarTable
from .sshargs import jump_from_ssh_args
from .yamlsrc import VaultEncrypted

NATIVE_FIELDS = ("address", "port", "user", "identity_file", "jump", "become", "become_user",
                 "become_method", "tags")

# Field -> Ansible variable names, in the order of the ssh connection plugin's `vars:`
# lists. Ansible merges each name over the layers first, then the LAST name that is set
# (not null) wins, whatever layer it came from: a host's ansible_user does not beat a
# group's ansible_ssh_user (config/manager.py _loop_entries).
ANSIBLE_FIELDS: Dict[str, Tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "identity_file": ("ansible_private_key_file", "ansible_ssh_private_key_file"),
    "become": ("ansible_become",),
    "become_user": ("ansible_become_user",),
    "become_method": ("ansible_become_method",),
    "tags": ("fleetaudit_tags",),
    "jump": ("fleetaudit_jump",),  # explicit override of what the ssh args say
}
# ssh passes options through in this order and keeps the first value it sees.
ANSIBLE_SSH_ARG_VARS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")
ANSIBLE_GROUP_PRIORITY = "ansible_group_priority"

# Ansible's own boolean spellings (ansible.module_utils.parsing.convert_bool).
_TRUE = {"y", "yes", "on", "1", "true", "t"}
_FALSE = {"n", "no", "off", "0", "false", "f"}


def _fail(vd: VarDef, name: str, problem: str, host: Optional[str]) -> InventoryError:
    for_host = f" (host '{host}')" if host else ""
    return InventoryError(vd.path, vd.line, f"{name}: {problem}{for_host}")


def _plain(vd: VarDef, name: str, host: Optional[str]) -> Any:
    """Reject values we cannot use as connection settings at all."""
    value = vd.value
    if isinstance(value, VaultEncrypted):
        raise _fail(vd, name, "is vault-encrypted; fleetaudit cannot decrypt it", host)
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        raise _fail(vd, name, f"{value!r} is a Jinja template, which fleetaudit does not evaluate", host)
    return value


def _token(vd: VarDef, name: str, host: Optional[str], numbers_ok: bool = False) -> str:
    """A non-empty single word: no whitespace, no leading '-' (it would read as an ssh option)."""
    value = _plain(vd, name, host)
    if numbers_ok and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _fail(vd, name, f"must be a string, got {type(value).__name__} {value!r}", host)
    value = value.strip()
    if not value or any(c.isspace() for c in value) or value.startswith("-"):
        raise _fail(vd, name, f"{value!r} is not usable (empty, contains spaces, or starts with '-')", host)
    return value


def to_address(vd: VarDef, name: str, host: Optional[str] = None) -> str:
    value = _token(vd, name, host)
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]  # "[fe80::1]" is how people write IPv6 next to a port
    return value


def to_port(vd: VarDef, name: str, host: Optional[str] = None) -> int:
    value = _plain(vd, name, host)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise _fail(vd, name, f"{value!r} is not a port number (an integer 1-65535)", host)
    return value


def to_bool(vd: VarDef, name: str, host: Optional[str] = None) -> bool:
    value = _plain(vd, name, host)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(vd, name, f"{value!r} is not a boolean (use true/false, yes/no, 1/0)", host)


def to_become_user(vd: VarDef, name: str, host: Optional[str] = None) -> str:
    """Only root: the root-only facts (daemon.json, root's registry auth, dockerd's
    environment) are read as root, and auditing as another user would report that
    user's view as the host's without saying so. Rejected, never silently ignored."""
    value = _token(vd, name, host, numbers_ok=True)
    if value != "root":
        for_host = f" (host '{host}')" if host else ""
        raise InventoryError(vd.path, vd.line, f"{name} {value!r} is not supported: fleetaudit reads "
                             f"root-only facts as root; remove it or set it to root{for_host}")
    return value


def to_become_method(vd: VarDef, name: str, host: Optional[str] = None) -> str:
    """Only sudo: the collection script becomes root with `sudo -n` (su, doas, pbrun...
    would need a password prompt or another tool fleetaudit does not drive)."""
    value = _token(vd, name, host)
    if value != "sudo":
        for_host = f" (host '{host}')" if host else ""
        raise InventoryError(vd.path, vd.line, f"{name} {value!r} is not supported: fleetaudit becomes "
                             f"root with sudo -n only; remove it or set it to sudo{for_host}")
    return value


def to_optional_text(vd: VarDef, name: str, host: Optional[str] = None) -> str:
    value = _plain(vd, name, host)
    if not isinstance(value, str) or not value.strip():
        raise _fail(vd, name, f"must be a non-empty string, got {value!r}", host)
    return value.strip()


def to_tags(vd: VarDef, name: str, host: Optional[str] = None) -> Tuple[str, ...]:
    value = _plain(vd, name, host)
    if isinstance(value, str):
        items = [t.strip() for t in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = value
    elif value is None:
        items = []
    else:
        raise _fail(vd, name, f"must be a list of tags or a comma-separated string, got {value!r}", host)
    tags: List[str] = []
    for item in items:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            raise _fail(vd, name, f"tag {item!r} is not a string", host)
        item = item.strip()
        if item and item not in tags:  # "a, b," and repeats are forgiven
            tags.append(item)
    return tuple(tags)


def _normalize_jump(spec: str, vd: VarDef, name: str, host: Optional[str]) -> str:
    try:
        hops = parse_jump(spec)
    except ValueError as exc:
        raise _fail(vd, name, str(exc), host) from None
    return ",".join(str(h) for h in hops)


def to_jump(vd: VarDef, name: str, host: Optional[str] = None) -> Optional[str]:
    value = _plain(vd, name, host)
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = ",".join(value)  # a YAML list of hops reads naturally
    if not isinstance(value, str):
        raise _fail(vd, name, f"must be a jump spec like 'user@host:port', got {value!r}", host)
    if value.strip().lower() in ("", "none"):
        return None
    return _normalize_jump(value, vd, name, host)


def jump_from_ssh_vars(merged: VarTable, host: Optional[str] = None) -> Optional[str]:
    for name in ANSIBLE_SSH_ARG_VARS:
        vd = merged.get(name)
        if vd is None or vd.value is None:
            continue
        text = _plain(vd, name, host)
        if not isinstance(text, str):
            raise _fail(vd, name, f"must be a string of ssh arguments, got {text!r}", host)
        try:
            found, spec = jump_from_ssh_args(text)
        except ValueError as exc:
            raise _fail(vd, name, str(exc), host) from None
        if found:
            return _normalize_jump(spec, vd, name, host) if spec else None
    return None


Converter = Callable[[VarDef, str, Optional[str]], Any]
CONVERTERS: Dict[str, Converter] = {
    "address": to_address,
    "port": to_port,
    "user": lambda vd, n, h=None: _token(vd, n, h, numbers_ok=True),
    "identity_file": to_optional_text,
    "jump": to_jump,
    "become": to_bool,
    "become_user": to_become_user,
    "become_method": to_become_method,
    "tags": to_tags,
}


def field_sources(flavor: str) -> Dict[str, Tuple[str, ...]]:
    if flavor == "native":
        return {f: (f,) for f in NATIVE_FIELDS}
    return ANSIBLE_FIELDS


def consumed_names(flavor: str) -> set:
    names = {n for names in field_sources(flavor).values() for n in names}
    if flavor != "native":
        names.add(ANSIBLE_GROUP_PRIORITY)
    return names


def check_layer(table: VarTable, flavor: str, host: Optional[str] = None) -> None:
    """Validate field variables where they are written, even if no host uses them."""
    for field_name, names in field_sources(flavor).items():
        for name in names:
            if name in table and table[name].value is not None:
                CONVERTERS[field_name](table[name], name, host)
    if flavor != "native":
        jump_from_ssh_vars(table, host)


def host_fields(name: str, merged: Dict[str, Tuple[int, VarDef]], flavor: str) -> Dict[str, Any]:
    """Merged variables (name -> (layer rank, VarDef)) -> Host constructor arguments.

    A null value resets a field to its default (e.g. `user: null` undoes a
    group's user), so null is never passed to a converter.
    """
    plain = {k: vd for k, (_, vd) in merged.items()}
    values: Dict[str, Any] = {"name": name, "address": name}
    for field_name, names in field_sources(flavor).items():
        present = [n for n in names if n in plain]
        if present:
            chosen = [n for n in present if plain[n].value is not None]
            if chosen:  # the last alias set wins (see ANSIBLE_FIELDS); all null: the default
                values[field_name] = CONVERTERS[field_name](plain[chosen[-1]], chosen[-1], name)
        elif field_name == "jump" and flavor != "native":
            values["jump"] = jump_from_ssh_vars(plain, name)
    consumed = consumed_names(flavor)
    values["vars"] = {k: vd.value for k, vd in plain.items() if k not in consumed}
    return values
