"""Hostile strings a host (or an inventory) can send, and the check that none got through.

Kept apart from fleetaudit.render.safe on purpose: the tests decide what counts as a
leak without reusing the code under test.
"""
import json
import re

# name -> text. Each one is something a terminal, a Markdown viewer, an XML parser or a
# browser would act on if it arrived raw.
HOSTILE = {
    "osc-title": "\x1b]0;pwned title\x07",
    "osc-title-st": "\x1b]2;pwned\x1b\\",
    "osc8-link": "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "csi-clear": "\x1b[2J\x1b[H",
    "csi-color": "\x1b[31mred\x1b[0m",
    "csi-c1": "\x9b2J",
    "nul": "a\x00b",
    "bel": "ding\x07",
    "backspace": "secret\x08\x08\x08\x08\x08\x08public",
    "cr-overwrite": "FAILED\rok    ",
    "del": "x\x7fy",
    "vt-ff": "a\x0bb\x0cc",
    "bidi-rlo": "user\u202etxt.exe",
    "bidi-isolate": "\u2066admin\u2069\u2067x\u2069\u2068y\u2069",
    "bidi-embed": "\u202aa\u202bb\u202cc\u202dd",
    "rlm": "a\u200fb\u200ec\u061cd",
    "line-separator": "a\u2028b\u2029c",
    "lone-surrogate": "bad\udcffbyte",
    "rich-markup": "[bold red]BOLD[/bold red]",
    "rich-link": "[link=http://evil.example/]click[/link]",
    "script-close": "</script><script>alert(1)</script>",
    "markdown-table": "a|b|c `code` **bold** [x](http://evil.example/)",
    "html-tag": "<img src=x onerror=alert(1)>",
}

# What must never appear raw in an output: C0 controls but tab and newline, DEL, C1,
# the bidi controls and marks, U+2028/2029, lone surrogates.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                 "\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# rich's own colour codes, when a test renders for a colour terminal on purpose.
SGR = re.compile("\x1b\\[[0-9;]*m")


def raw_chars(text: str, allow_sgr: bool = False) -> list:
    """The unsafe characters found raw in an output (empty: nothing got through)."""
    if allow_sgr:
        text = SGR.sub("", text)
    return RAW.findall(text)


def strict_json(text: str):
    """json.loads that refuses NaN/Infinity as a browser's JSON.parse does."""
    def refuse(token):
        raise ValueError(f"non-JSON constant {token}")

    def finite(token):
        value = float(token)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"number {token} overflows a double")
        return value
    return json.loads(text, parse_constant=refuse, parse_float=finite)
