"""Small readers of untrusted fact values, shared by the derived facts and the rules."""
from __future__ import annotations

import functools
import json

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


# = json.dumps(value, sort_keys=True, default=str): a value as canonical JSON text, for
# counting and grouping equal values. json.dumps with any non-default argument builds a
# new encoder per call; this one encoder is shared (fleet majorities, compare's keys,
# the report's finding rows).
canonical_json = json.JSONEncoder(sort_keys=True, default=str).encode


def pure_memo(maxsize: int):
    """Memoize a pure function of hashable arguments (registry names, NO_PROXY strings:
    the same few recur on every host of a run). Arguments that cannot be hashed (odd
    values from a host) go to the function itself, so it behaves exactly as unmemoized,
    errors included; typed: 1, 1.0 and True stay distinct."""
    def wrap(fn):
        cached = functools.lru_cache(maxsize=maxsize, typed=True)(fn)

        @functools.wraps(fn)
        def call(*args, **kw):
            try:
                return cached(*args, **kw)
            except TypeError:
                return fn(*args, **kw)
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call
    return wrap
