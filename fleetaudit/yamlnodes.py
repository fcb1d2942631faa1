"""YAML read as a node tree, so the files people write (policies, waivers) can report
errors with the line they are on. Pure: text in, nodes out; the caller's error type."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional, Tuple

import yaml

# fail(line or None, message) -> the caller's error (PolicyError, WaiverError ...)
Fail = Callable[[Optional[int], str], Exception]


@contextlib.contextmanager
def yaml_root(text: str, fail: Fail) -> Iterator[Tuple[yaml.SafeLoader, Any]]:
    """(loader, root node) of one YAML document; invalid YAML raises fail(line, ...).
    The loader stays usable (construct_object) until the block ends."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise fail(mark.line + 1 if mark else None,
                       f"not valid YAML: {exc.problem or exc.context}") from exc
        except yaml.YAMLError as exc:
            raise fail(None, f"not valid YAML: {exc}") from exc
        yield loader, root
    finally:
        loader.dispose()
