"""Ansible-style limit patterns."""
from pathlib import Path

import pytest

from fleetaudit.inventory import LimitError, apply_limit, load_inventory

DATA = Path(__file__).parent / "data" / "inventory"


@pytest.fixture(scope="module")
def ini():
    return load_inventory(str(DATA / "ansible.ini"))


@pytest.fixture(scope="module")
def native():
    return load_inventory(str(DATA / "native.yml"))


def names(inventory, pattern):
    return [h.name for h in apply_limit(inventory, pattern)]


@pytest.mark.parametrize("pattern, expected", [
    (None, ["eu-1", "eu-2", "us-1", "loose"]),
    ("all", ["eu-1", "eu-2", "us-1", "loose"]),
    ("*", ["eu-1", "eu-2", "us-1", "loose"]),
    ("docker-us", ["us-1"]),
    ("docker", ["eu-1", "eu-2", "us-1"]),  # includes child groups
    ("us-1,loose", ["us-1", "loose"]),
    ("loose:us-1", ["us-1", "loose"]),  # ':' separates too; result is in inventory order
    ("eu-*", ["eu-1", "eu-2"]),
    ("docker:!canary", ["eu-2", "us-1"]),
    ("!docker", ["loose"]),  # only exclusions: start from all
    ("docker:&zeta", ["eu-1", "eu-2"]),
    ("&zeta:!canary", ["eu-2"]),
    ("docker,&canary", ["eu-1"]),
    ("~eu-\\d", ["eu-1", "eu-2"]),
    ("~(us|lo)", ["us-1", "loose"]),
    ("docker[0]", ["eu-1"]),
    ("docker[-1]", ["us-1"]),
    ("docker[1:]", ["eu-2", "us-1"]),
    ("docker[0:1]", ["eu-1", "eu-2"]),  # inclusive, as in Ansible
    (" docker , loose ", ["eu-1", "eu-2", "us-1", "loose"]),
    ("canary:&docker-us", []),  # an empty intersection is an answer, not an error
    ("ungrouped", ["loose"]),
])
def test_native_patterns(native, pattern, expected):
    assert names(native, pattern) == expected


def test_ini_ranges_and_groups(ini):
    assert names(ini, "web0?") == ["web01", "web02", "web03"]
    assert names(ini, "edge[!5]") == ["edge1", "edge9"]  # glob class (a numeric [..] is a subscript)
    assert names(ini, "web[1:2]") == ["web02", "web03"]  # subscript into group web
    assert names(ini, "web:&docker:!edge*") == ["web01", "web02", "web03", "web-a.fleet", "web-b.fleet"]
    assert names(ini, "db*") == ["db01", "db02"]
    assert names(ini, "*.fleet") == ["web-a.fleet", "web-b.fleet"]


def test_group_name_wins_over_host_of_same_name(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nweb1\n[other]\nweb\n")
    inv = load_inventory(str(path))
    assert names(inv, "web") == ["web1"]


@pytest.mark.parametrize("pattern, message", [
    ("dokcer", "limit pattern 'dokcer' matches no host or group (did you mean 'docker'?)"),
    ("docker:!xyz", "limit pattern 'xyz' matches no host or group"),
    ("web*", "limit pattern 'web*' matches no host or group"),
    ("", "limit pattern is empty"),
    (" , ", "limit pattern is empty"),
    ("docker,!", "limit pattern 'docker,!' has '!' or '&' with no name after it"),
    ("~eu-(", "limit pattern '~eu-(': bad regular expression: missing ), unterminated subpattern at position 3"),
    ("docker[7]", "limit pattern 'docker[7]': index 7 is out of range (3 hosts match 'docker')"),
    ("docker[5:6]", "limit pattern 'docker[5:6]': range is out of range (3 hosts match 'docker')"),
])
def test_limit_errors(native, pattern, message):
    with pytest.raises(LimitError) as exc:
        apply_limit(native, pattern)
    assert str(exc.value) == message
    assert exc.value.pattern == pattern
    assert exc.value.path is None and exc.value.line is None
