"""Host range expansion and host:port splitting (Ansible semantics)."""
import pytest
from hypothesis import given, strategies as st

from fleetaudit.inventory.ranges import MAX_EXPANSION, expand_hosts, parse_host_pattern, split_host_port


@pytest.mark.parametrize("pattern, names", [
    ("web[01:03]", ["web01", "web02", "web03"]),
    ("web[1:3].fleet", ["web1.fleet", "web2.fleet", "web3.fleet"]),
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("x[1:10:4]", ["x1", "x5", "x9"]),
    ("x[:2]", ["x0", "x1", "x2"]),
    ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
    ("plain", ["plain"]),
])
def test_expand(pattern, names):
    assert expand_hosts(pattern) == names


@pytest.mark.parametrize("pattern, expected", [
    ("web1", ("web1", None)),
    ("web1:2222", ("web1", 2222)),
    ("web[01:03]:2222", ("web[01:03]", 2222)),
    ("[2001:db8::1]:22", ("2001:db8::1", 22)),
    ("[2001:db8::1]", ("2001:db8::1", None)),
    ("fe80::1", ("fe80::1", None)),
])
def test_split_host_port(pattern, expected):
    assert split_host_port(pattern) == expected


@pytest.mark.parametrize("pattern", ["web[1:", "web1]", "w[3:1]", "w[a:3]", "w[1:2:0]", "w[1]", "w[1:2:3:4]",
                                     "w[01:100]", "w[:]", "h:", "h:x", "h:0", "h:65536", "w[0:%d]" % MAX_EXPANSION])
def test_bad_patterns(pattern):
    with pytest.raises(ValueError):
        parse_host_pattern(pattern)


@given(st.integers(0, 500), st.integers(0, 500), st.integers(1, 7), st.booleans())
def test_numeric_range_properties(a, b, step, pad):
    lo, hi = min(a, b), max(a, b)
    width = len(str(hi)) + 1 if pad else 0
    beg, end = (str(lo).zfill(width), str(hi).zfill(width)) if pad else (str(lo), str(hi))
    names = expand_hosts(f"n[{beg}:{end}:{step}]x")
    assert names == [f"n{str(i).zfill(width)}x" for i in range(lo, hi + 1, step)]
    assert len(set(names)) == len(names)


@given(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535))
def test_host_port_round_trip(name, port):
    assert split_host_port(f"{name}:{port}") == (name, port)
    assert split_host_port(name) == (name, None)
