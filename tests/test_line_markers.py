"""script.line_markers finds the same marker matches as re.finditer of the pattern it
replaces, `(?:^|\\n)@@NONCE:...`, on hostile text too (markers at the start, adjacent
markers sharing a newline, lookalike nonces, cut-off lines, junk)."""
import re

from hypothesis import given, settings, strategies as st

from fleetaudit.collect import section_marks
from fleetaudit.script import line_markers, split_output

NONCE = "4b4e8fa192b1fa17"
SPLIT_TAIL = r"([A-Z]+):([^\n]*)(?:\n|$)"
MARKS_TAIL = r"S:([^\n]*)\n"
SPLIT_BODY = "@@" + re.escape(NONCE) + ":" + SPLIT_TAIL
MARKS_BODY = "@@" + re.escape(NONCE) + ":" + MARKS_TAIL
TAILS = {SPLIT_BODY: re.compile(SPLIT_TAIL), MARKS_BODY: re.compile(MARKS_TAIL)}

# Pieces a hostile or broken host can emit, glued in any order.
PIECES = st.sampled_from([
    "\n", "\n\n", "@@", f"@@{NONCE}:", f"@@{NONCE}:S:docker\n", f"@@{NONCE}:S:_meta\n",
    f"@@{NONCE}:P:info\n", f"@@{NONCE}:RC:0\n", f"@@{NONCE}:RC: 7 \n", f"@@{NONCE}:RC:x\n",
    f"@@{NONCE}:T:1796404390.28\n", f"@@{NONCE}:E:\n", f"@@{NONCE}:lower:1\n",
    f"@@{NONCE[:-1]}0:S:fake\n", f"@@{NONCE}:S:cut", "plain output", "é\x00\r", "@",
])


def _reference(body: str, text: str):
    return [(m.span(), m.groups()) for m in re.finditer(r"(?:^|\n)" + body, text)]


def _ours(body: str, text: str):
    return [(m.span(), m.groups()) for m in line_markers(text, f"@@{NONCE}:", TAILS[body])]


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_same_matches_as_finditer(text):
    assert _ours(SPLIT_BODY, text) == _reference(SPLIT_BODY, text)
    assert _ours(MARKS_BODY, text) == _reference(MARKS_BODY, text)


def test_marker_at_the_very_start_and_adjacent_markers():
    text = (f"@@{NONCE}:S:system\n@@{NONCE}:P:os\nID=debian\n@@{NONCE}:RC:0\n"
            f"@@{NONCE}:S:docker\n\n@@{NONCE}:S:disk\n")
    assert _ours(SPLIT_BODY, text) == _reference(SPLIT_BODY, text)
    # a marker right after another marker's newline is not a split_output marker (the
    # newline was consumed; the script always prints one of its own), while section_marks,
    # which matches S markers only, sees it: both kept as they were
    assert [g for _, g in _ours(SPLIT_BODY, text)] == [("S", "system"), ("RC", "0"), ("S", "disk")]
    assert section_marks(text, NONCE) == ["system", "docker", "disk"]
    assert list(split_output(text, NONCE).sections) == ["system", "disk"]
