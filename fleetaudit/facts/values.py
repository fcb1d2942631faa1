"""Small readers of untrusted fact values, shared by the derived facts and the rules."""
from __future__ import annotations

from typing import Any, List, Optional

MISSING = object()  # a derived fact's answer when the host did not tell (unknown, not "none")


def number(value: Any) -> Optional[float]:
    """A finite, plausible number fact as float; None for bools, NaN, junk."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None  # NaN, absurd


def str_list(value: Any) -> List[str]:
    """The non-blank strings of a list fact ([] when it is not a list)."""
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []
