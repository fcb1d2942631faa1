"""script.line_markers finds the same marker matches as re.finditer of the pattern it
replaces, `(?:^|\\n)@@NONCE:...`, on hostile text too (markers at the start, adjacent
markers sharing a newline, lookalike nonces, cut-off lines, junk)."""
import re

from hypothesis import given, settings, strategies as st

from fleetaudit.collect import section_marks
from fleetaudit.collectors.base import Part
from fleetaudit.script import ParsedOutput, line_markers, split_output

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


# split_output's fast path (one re.split by a pattern for any nonce) and section_marks'
# direct search must give what the exact per-nonce patterns gave, on hostile text too.

def _reference_split(text: str, nonce: str) -> ParsedOutput:
    """split_output as it was: re.finditer of the exact pattern, the nonce written in."""
    result = ParsedOutput()
    section = part_name = None
    pos = 0
    for m in re.finditer(r"(?:^|\n)@@" + re.escape(nonce) + ":" + SPLIT_TAIL, text):
        chunk, pos = text[pos:m.start()], m.end()
        kind, value = m.group(1), m.group(2)
        if part_name is not None and section is not None:
            if kind == "RC":
                try:
                    rc = int(value.strip())
                except ValueError:
                    rc = None
                section[part_name] = Part(chunk, rc)
                part_name = None
                continue
            section[part_name] = Part(chunk, None, truncated=True)
            part_name = None
        if kind == "T":
            try:
                result.host_epoch = float(value)
            except ValueError:
                pass
        elif kind == "S":
            section = result.meta if value == "_meta" else result.sections.setdefault(value, {})
        elif kind == "P" and section is not None:
            part_name = value
        elif kind == "E":
            result.complete = True
    if part_name is not None and section is not None:
        section[part_name] = Part(text[pos:], None, truncated=True)
    return result


def _reference_marks(text: str, nonce: str):
    return [m.group(1) for m in re.finditer(r"(?:^|\n)@@" + re.escape(nonce) + ":" + MARKS_TAIL, text)
            if m.group(1) != "_meta"]


def _same(text: str, nonce: str) -> None:
    ours, ref = split_output(text, nonce), _reference_split(text, nonce)
    assert (ours.host_epoch, ours.complete, ours.meta) == (ref.host_epoch, ref.complete, ref.meta)
    assert list(ours.sections.items()) == list(ref.sections.items())  # order too
    assert section_marks(text, nonce) == _reference_marks(text, nonce)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_split_output_and_section_marks_same_as_the_exact_pattern(text):
    _same(text, NONCE)


N0NCE_PIECES = st.sampled_from([
    "\n", "@@n0nce:", "@@n0nce:S:a\n", "@@n0nce:P:p\n", "@@n0nce:RC:0\n", "@@n0nce:E:\n",
    "@@n0nce:T:12.5\n", "@@n0nce:S:_meta\n", "out\n", "@@4b4e8fa192b1fa17:S:hex\n", "@@",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(N0NCE_PIECES, max_size=30).map("".join))
def test_a_nonce_that_is_not_hex_takes_the_exact_search(text):
    # the test suites' fixed "n0nce" is not hex: the any-nonce pattern cannot see it
    _same(text, "n0nce")


def test_a_lookalike_marker_falls_back_and_hides_nothing():
    # junk with another nonce, its newline then followed by a real marker: the any-nonce
    # pattern would consume that newline and miss the real S marker; the fallback does not
    text = (f"@@{NONCE}:S:system\n@@{NONCE}:P:os\nID=debian\n@@{NONCE}:RC:0\n\n"
            f"@@0000000000000000:S:fake\n@@{NONCE}:S:docker\n\n@@{NONCE}:P:info\n{{}}\n"
            f"@@{NONCE}:RC:0\n\n@@{NONCE}:E:\n")
    _same(text, NONCE)
    parsed = split_output(text, NONCE)
    assert list(parsed.sections) == ["system", "docker"] and parsed.complete
    assert parsed.sections["docker"]["info"] == Part("{}", 0)


def test_real_lab_output_shape():
    # the shape the composite script prints (printf '\n@@N:KIND:VALUE\n' around each part)
    text = "".join(f"\n@@{NONCE}:S:s{i}\n\n@@{NONCE}:P:p\nline {i}\n\n@@{NONCE}:RC:{i % 3}\n"
                   for i in range(20)) + f"\n@@{NONCE}:E:\n"
    _same(text, NONCE)
    parsed = split_output(text, NONCE)
    assert len(parsed.sections) == 20 and parsed.sections["s4"]["p"] == Part("line 4\n", 1)


def test_a_large_output_takes_the_lean_search_with_the_same_result(monkeypatch):
    import fleetaudit.script as script
    text = "".join(f"\n@@{NONCE}:S:s{i}\n\n@@{NONCE}:P:p\n{'x' * 50}\n\n@@{NONCE}:RC:0\n" for i in range(30))
    fast = split_output(text, NONCE)
    monkeypatch.setattr(script, "FAST_SPLIT_MAX", 100)  # this text is now "large"
    assert split_output(text, NONCE) == fast == _reference_split(text, NONCE)
