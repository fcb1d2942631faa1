"""Host text made safe to show on a terminal (and in any other plain-text output).

Every string that came from a host, an inventory or a snapshot may carry bytes a
terminal acts on: ESC sequences (OSC sets the window title or writes a hyperlink, CSI
clears the screen or moves the cursor), C1 controls (U+009B is a one-character CSI on
some terminals), BEL, backspace and CR (which overwrite what was printed before), NUL,
and bidi controls that make text display in another order than it reads (the
"Trojan Source" trick). `visible()` shows each of them as an escape (`\\x1b`, `\\x00`,
`\\u202e`) so the reader sees that they were there; letters of every script, emoji and
ordinary punctuation are kept as they are.

rich markup is the other hazard: `console.print("[link=...]")` interprets it. Host text
goes into rich only as `Text` objects (`text()` here), which never parse markup.
"""
from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls; the Unicode line/paragraph separators (some terminals
# break lines on them); the bidi embedding/override/isolate controls and marks; lone
# surrogates (from undecodable bytes: they cannot even be encoded for the terminal).
_OTHER = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_RE = re.compile(f"[\x00-\x1f{_OTHER}]")
_UNSAFE_KEEP_LINES_RE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER}]")  # all but \t and \n


def _escape(m: "re.Match[str]") -> str:
    code = ord(m.group())
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def visible(value: Any, *, newlines: bool = False) -> str:
    """`value` as text with every control character shown as an escape.

    newlines=True keeps "\\n" and "\\t" (for multi-line text we laid out ourselves, such
    as an error message with a traceback); by default they are shown too, so a host
    string cannot start a line that looks like fleetaudit's own output.
    """
    s = value if isinstance(value, str) else str(value)
    return (_UNSAFE_KEEP_LINES_RE if newlines else _UNSAFE_RE).sub(_escape, s)


def has_unsafe(value: str) -> bool:
    """True when `value` holds a character `visible()` would escape."""
    return bool(_UNSAFE_RE.search(value))


def text(value: Any, style: str = "") -> "Text":
    """A rich Text of host text: control characters visible, markup never interpreted."""
    from rich.text import Text
    return Text(visible(value), style=style)
