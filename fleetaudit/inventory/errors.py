"""Errors raised while loading an inventory or applying a limit pattern."""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Optional


class InventoryError(Exception):
    """An inventory could not be loaded; says where (file and line) and why.

    str() is "PATH:LINE: message", "PATH: message" when the line is unknown,
    and just "message" when no file is involved.
    """

    def __init__(self, path: Optional[str], line: Optional[int], message: str):
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        return where + self.message


class LimitError(InventoryError):
    """A limit pattern is malformed or one of its terms matches nothing."""

    def __init__(self, pattern: str, message: str):
        super().__init__(None, None, message)
        self.pattern = pattern


def closest(word: str, choices: Iterable[str]) -> Optional[str]:
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def kind_of(value: Any) -> str:
    """What a misplaced inventory value is, for an error message ("a mapping", "int 3")."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
