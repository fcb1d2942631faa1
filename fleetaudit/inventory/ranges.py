"""Ansible host patterns: `name[:port]` with `[a:b]` / `[a:b:step]` ranges.

Raise ValueError with a readable reason; callers add file and line.
"""
from __future__ import annotations

import itertools
import re
import string
from typing import List, Optional, Tuple

# A typo like web[1:100000] should fail, not build a six-figure host list.
MAX_EXPANSION = 10000

_BRACKETED_V6 = re.compile(r"^\[([0-9A-Fa-f:.]+(?:%\w+)?)\](?::(\d+))?$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _looks_ipv6(text: str) -> bool:
    # "[1:10:2]" is a range, "[2001:db8::1]" an address: IPv6 has "::" or 7 colons.
    return "::" in text or text.count(":") >= 3


def split_host_port(pattern: str) -> Tuple[str, Optional[int]]:
    """'web[01:03]:2222' -> ('web[01:03]', 2222); '[::1]:22' -> ('::1', 22)."""
    m = _BRACKETED_V6.match(pattern)
    if m and _looks_ipv6(m.group(1)):
        return m.group(1), _port(m.group(2), pattern) if m.group(2) else None
    outside = _SEGMENT.sub("", pattern)
    if "[" in outside or "]" in outside:
        raise ValueError(f"unbalanced brackets in host pattern {pattern!r}")
    colons = outside.count(":")
    if colons == 0:
        return pattern, None
    if colons > 1:
        return pattern, None  # a bare IPv6 address: no port possible
    name, _, port = pattern.rpartition(":")
    if not port:
        raise ValueError(f"host pattern {pattern!r} ends in ':' (a port must follow it)")
    if not name or ":" in _SEGMENT.sub("", name):
        raise ValueError(f"host pattern {pattern!r} has a misplaced ':'")
    return name, _port(port, pattern)


def _port(text: str, pattern: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"host pattern {pattern!r} has bad port {text!r} (expected 1-65535)")
    return int(text)


def is_bracketed_ipv6(token: str) -> bool:
    """'[2001:db8::1]:22' (an INI host line can start with '[')."""
    m = _BRACKETED_V6.match(token)
    return bool(m and _looks_ipv6(m.group(1)))


def has_range(pattern: str) -> bool:
    return "[" in pattern or "]" in pattern


def _expand_segment(spec: str, pattern: str) -> List[str]:
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"bad range [{spec}] in {pattern!r}: expected [begin:end] or [begin:end:step]")
    beg, end = bounds[0].strip() or "0", bounds[1].strip()
    step_text = bounds[2].strip() if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"bad range [{spec}] in {pattern!r}: missing end value")
    if not step_text.isdigit() or int(step_text) == 0:
        raise ValueError(f"bad range [{spec}] in {pattern!r}: step must be a positive integer")
    step = int(step_text)
    if beg.isdigit() and end.isdigit():
        width = len(beg) if beg.startswith("0") and len(beg) > 1 else 0
        if width and len(end) != width:
            # Ansible's rule: zero-padding needs begin and end of equal width.
            raise ValueError(
                f"bad range [{spec}] in {pattern!r}: zero-padded begin and end must have the same width")
        if int(beg) > int(end):
            raise ValueError(f"bad range [{spec}] in {pattern!r}: begin is greater than end")
        count = (int(end) - int(beg)) // step + 1
        if count > MAX_EXPANSION:
            raise ValueError(f"range [{spec}] in {pattern!r} expands to {count} hosts (limit {MAX_EXPANSION})")
        return [str(i).zfill(width) for i in range(int(beg), int(end) + 1, step)]
    letters = string.ascii_letters
    if len(beg) == 1 and len(end) == 1 and beg in letters and end in letters:
        i, j = letters.index(beg), letters.index(end)
        if i > j:
            raise ValueError(f"bad range [{spec}] in {pattern!r}: begin is greater than end")
        return list(letters[i:j + 1:step])
    raise ValueError(
        f"bad range [{spec}] in {pattern!r}: bounds must both be numbers or both single letters")


def expand_hosts(pattern: str) -> List[str]:
    """Expand every [..] range in a host name; 'db-[a:c]' -> db-a, db-b, db-c."""
    if not has_range(pattern):
        return [pattern]
    leftover = _SEGMENT.sub("", pattern)
    if "[" in leftover or "]" in leftover:
        raise ValueError(f"unbalanced brackets in host pattern {pattern!r}")
    pieces = _SEGMENT.split(pattern)  # literal, spec, literal, spec, ..., literal
    literals, specs = pieces[0::2], pieces[1::2]
    choices = [_expand_segment(spec, pattern) for spec in specs]
    total = 1
    for c in choices:
        total *= len(c)
    if total > MAX_EXPANSION:
        raise ValueError(f"host pattern {pattern!r} expands to {total} hosts (limit {MAX_EXPANSION})")
    names = []
    for combo in itertools.product(*choices):
        parts = [literals[0]]
        for value, literal in zip(combo, literals[1:]):
            parts += [value, literal]
        names.append("".join(parts))
    return names


def parse_host_pattern(pattern: str) -> Tuple[List[str], Optional[int]]:
    """A host key/line start -> (expanded names, port or None)."""
    name, port = split_host_port(pattern.strip())
    if not name:
        raise ValueError(f"empty host name in {pattern!r}")
    return expand_hosts(name), port  # a bracketed IPv6 address arrives without its brackets
