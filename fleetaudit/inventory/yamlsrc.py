"""YAML loading that remembers line numbers, so errors can point at them.

Mappings load as YamlMap (a dict with `.line` and `.key_lines`), sequences as
YamlList (a list with `.line` and `.item_lines`). Lines are 1-based.
Duplicate keys are collected instead of silently keeping the last one, so
each format can report them in its own words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .errors import InventoryError

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same marks, faster


class YamlMap(dict):
    line: int = 0
    key_lines: Dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class YamlList(list):
    line: int = 0
    item_lines: List[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class VaultEncrypted(str):
    """An Ansible `!vault` value: we cannot decrypt it, and never need its text."""

    def __new__(cls) -> "VaultEncrypted":
        return super().__new__(cls, "<vault-encrypted>")


@dataclass(frozen=True)
class Duplicate:
    """A key that appears twice in one mapping."""

    mapping: YamlMap
    key: Any
    first_line: int
    line: int
    first_value: Any
    value: Any


class _Loader(_Base):  # type: ignore[misc,valid-type]
    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: List[Duplicate] = []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: _Loader, node: yaml.MappingNode):
    data = YamlMap()
    data.line = _line(node)
    data.key_lines = {}
    yield data
    # `<<` merge keys: flatten_mapping puts merged pairs first, so only the
    # trailing pairs were written explicitly; only those can be duplicates.
    explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    first_explicit = len(node.value) - explicit
    explicit_seen: Dict[Any, Tuple[int, Any]] = {}
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=False)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found an unhashable key", key_node.start_mark) from None
        value = loader.construct_object(value_node, deep=False)
        if index >= first_explicit:
            if key in explicit_seen:
                first_line, first_value = explicit_seen[key]
                loader.duplicates.append(Duplicate(
                    data, key, first_line, _line(key_node), first_value, value))
            else:
                explicit_seen[key] = (_line(key_node), value)
        data[key] = value
        data.key_lines[key] = _line(key_node)


def _construct_seq(loader: _Loader, node: yaml.SequenceNode):
    data = YamlList()
    data.line = _line(node)
    data.item_lines = []
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=False))
        data.item_lines.append(_line(child))


def _construct_vault(loader: _Loader, node: yaml.Node) -> VaultEncrypted:
    return VaultEncrypted()


def _construct_unsafe(loader: _Loader, node: yaml.Node) -> Any:
    # Ansible's `!unsafe` only disables templating; the value itself is plain.
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return next(_construct_seq(loader, node))
    return next(_construct_map(loader, node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("!vault", _construct_vault)
_Loader.add_constructor("!unsafe", _construct_unsafe)


def load_yaml(text: str, path: str) -> Tuple[Any, List[Duplicate]]:
    """Parse one YAML document; return (data, duplicate keys in line order).

    Raises InventoryError at the line YAML itself points at.
    """
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.problem:
            started = ""
            if exc.context_mark is not None and exc.context_mark.line != mark.line:
                started = f" started at line {exc.context_mark.line + 1}"
            reason = f"{exc.problem} ({exc.context}{started})"
        raise InventoryError(path, line, f"invalid YAML: {reason}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        raise InventoryError(path, line, f"invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise InventoryError(path, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, sorted(loader.duplicates, key=lambda d: d.line)


def line_of(container: Any, key: Any, default: Optional[int] = None) -> Optional[int]:
    """The line of `key` inside a YamlMap/YamlList, else the container's line."""
    if isinstance(container, YamlMap):
        return container.line_of(key)
    if isinstance(container, YamlList) and isinstance(key, int):
        return container.line_of(key)
    return getattr(container, "line", default) or default
