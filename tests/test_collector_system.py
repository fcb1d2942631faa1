"""system collector: os-release parsing, family mapping, and the fragment under every sh."""
import shutil
import subprocess

import pytest

from fleetaudit.collectors.base import Part
from fleetaudit.collectors.system import COLLECTOR, family_of, parse_os_release
from fleetaudit.script import ScriptOptions, build_script, split_output

SHELLS = [["dash", "-s"], ["bash", "--posix", "-s"], ["busybox", "sh", "-s"]]


def run_locally(shell):
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    script = build_script([COLLECTOR], "n0nce", ScriptOptions())
    out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=60)
    return split_output(out.stdout.decode("utf-8", "replace"), "n0nce")


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_fragment_runs_under_posix_shells(shell):
    parsed = run_locally(shell)
    assert parsed.complete
    section = parsed.sections["system"]
    assert set(section) == {"os", "hostname", "kernel", "arch", "uptime"}
    facts = COLLECTOR.parse(section)
    assert facts["kernel"] and facts["arch"] and facts["hostname"]
    assert facts["uptime_s"] > 0


@pytest.mark.parametrize("os_id, like, family", [
    ("ubuntu", ["debian"], "debian"),
    ("rocky", ["centos", "fedora", "rhel"], "rhel"),
    ("fedora", [], "rhel"),
    ("amzn", ["centos", "fedora", "rhel"], "rhel"),
    ("opensuse-leap", ["opensuse", "suse"], "suse"),
    ("alpine", [], "alpine"),
    ("pop", ["debian", "ubuntu"], "debian"),  # unknown ID, known ID_LIKE
    ("flatcar", ["coreos"], "unknown"),
    (None, [], "unknown"),
])
def test_family(os_id, like, family):
    assert family_of(os_id, like) == family


def test_os_release_quoting():
    kv = parse_os_release('PRETTY_NAME="A \\"quoted\\" \\$name"\nID=\'arch\'\nnot a line\n')
    assert kv == {"PRETTY_NAME": 'A "quoted" $name', "ID": "arch"}


def test_cut_off_last_line_is_ignored():
    facts = COLLECTOR.parse({"os": Part('ID=debian\nVERSION_ID="1', None, truncated=True)})
    assert facts["os"]["id"] == "debian" and facts["os"]["version_id"] is None
