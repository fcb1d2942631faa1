"""JSON from a host, read so that every value can go into a strict JSON snapshot.

Python's json module reads `1e999` as float('inf') and the tokens `NaN`, `Infinity`
as floats, and writes them back as `Infinity`/`NaN`, which is not JSON: a browser's
JSON.parse, jq, Go and PostgreSQL's jsonb all refuse the snapshot. Here:

- a number that does not fit a 64-bit float (`1e999`, `-1e999`, `1e400`, an integer
  of 400 digits) is kept as its raw token, a string, and noted
  (`invalid number 1e999 for "mtu": out of range for a 64-bit float`). Go's
  encoding/json refuses such a number too, so dockerd refuses a daemon.json holding one;
- an integer beyond +-(2**53 - 1) is kept as its raw token, a string, and noted:
  it is valid JSON and Python reads it exactly, but JavaScript readers (the HTML
  report, browsers) would silently round it, and no setting we read needs such a number.
  Checking the token's length first also keeps Python's 4300-digit int limit away;
- the non-JSON constants `NaN`, `Infinity`, `-Infinity` are kept as strings and noted
  (daemon_json refuses them outright instead: `reject_constants=True`);
- a lone surrogate written as a JSON escape (`"\\udcff"`) stays that text: as a Python
  str it cannot be encoded as UTF-8, and would crash the comparison and every writer;
- nesting too deep for the parser is an ordinary ValueError, not a RecursionError.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable, List, Optional, Tuple

MAX_SAFE_INT = 2 ** 53 - 1
MAX_NOTES = 50


class RawToken(str):
    """A number token kept as text; `kind` says why: range, unsafe-int or constant."""

    kind: str = ""


def _raw(token: str, kind: str) -> RawToken:
    value = RawToken(token)
    value.kind = kind
    return value


OUT_OF_RANGE = "invalid number "  # how the notes of numbers Go cannot read either begin
_NOTE = {
    "range": OUT_OF_RANGE + "{tok} for {where}: out of range for a 64-bit float",
    "constant": "invalid value {tok} for {where}: not a JSON number",
    "unsafe-int": "integer {tok} for {where} is beyond +-2**53: kept as text "
                  "(JavaScript readers would round it)",
}


def _parse_float(token: str) -> Any:
    value = float(token)
    if math.isfinite(value):
        return value
    return _raw(token, "range")


def _parse_int(token: str) -> Any:
    digits = token.lstrip("-")
    if len(digits) > 16 or abs(int(token)) > MAX_SAFE_INT:
        if len(digits) > 308:  # not even a float: Go's reader refuses it like 1e999
            return _raw(token, "range")
        return _raw(token, "unsafe-int")
    return int(token)


def _keep_constant(name: str) -> Any:
    return _raw(name, "constant")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_text(m: "re.Match[str]") -> str:
    return "\\u%04x" % ord(m.group())


def no_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) spelled as `\\uXXXX`."""
    if isinstance(value, str):
        return _SURROGATE.sub(_surrogate_text, value)
    if isinstance(value, dict):
        return {no_lone_surrogates(k): no_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_lone_surrogates(v) for v in value]
    return value


def may_hold_surrogates(text: str) -> bool:
    """True when JSON text has a \\uD800-\\uDFFF escape (a pair, or a lone half)."""
    return bool(_SURROGATE_ESCAPE.search(text))


def _where(path: List[str]) -> str:
    return json.dumps(".".join(path), ensure_ascii=False) if path else "the top-level value"


def _settle(value: Any, path: List[str], notes: List[str]) -> Any:
    """Replace RawToken by plain str, noting each with the key path it sits at."""
    if isinstance(value, RawToken):
        if len(notes) < MAX_NOTES:
            tok = value if len(value) <= 40 else value[:40] + f"... ({len(value)} characters)"
            notes.append(_NOTE[value.kind].format(tok=tok, where=_where(path)))
        return str(value)
    if isinstance(value, dict):
        return {k: _settle(v, path + [str(k)], notes) for k, v in value.items()}
    if isinstance(value, list):
        return [_settle(v, path[:-1] + [f"{path[-1]}[{i}]"] if path else [f"[{i}]"], notes)
                for i, v in enumerate(value)]
    return value


def load_host_json(text: str, *, object_pairs_hook: Optional[Callable] = None,
                   reject_constant: Optional[Callable[[str], Any]] = None) -> Tuple[Any, List[str]]:
    """(value, notes) for JSON text from a host; raises ValueError when it is not JSON.

    The value holds only finite floats, ints within +-2**53, and strings in their place
    otherwise; notes say where and why (empty for ordinary documents).
    """
    made: List[RawToken] = []

    def kept(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        def hook(token: str) -> Any:
            value = parse(token)
            if isinstance(value, RawToken):
                made.append(value)
            return value
        return hook

    try:
        value = json.loads(text, parse_float=kept(_parse_float), parse_int=kept(_parse_int),
                           parse_constant=reject_constant or kept(_keep_constant),
                           object_pairs_hook=object_pairs_hook)
        notes: List[str] = []
        if made:  # the common case has none: no second walk
            value = _settle(value, [], notes)
        if may_hold_surrogates(text):
            value = no_lone_surrogates(value)
        return value, notes
    except RecursionError:
        raise ValueError("nested too deeply") from None


# The host's redaction filter replaces the value of any *auth/*authorization key, an
# unquoted one (null, a number) together with the comma after it: the Engine API's
# whole /info has `"Plugins":{...,"Authorization":null,...}`, which leaves
# `"Authorization":REDACTED"Log":...`. Put back as a string, the document parses again.
_EATEN_VALUE = re.compile(r'(?<=":)REDACTED(?=")')


def first_json_object(text: str) -> Optional[dict]:
    """The first line of `text` that is a JSON object (the docker CLI and the Engine API
    print one document a line), read with load_host_json; None when there is none."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            repaired = _EATEN_VALUE.sub('"REDACTED",', line)
            for candidate in (line, repaired) if repaired != line else (line,):
                try:
                    value, _ = load_host_json(candidate)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return value
    return None
