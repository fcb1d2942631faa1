"""daemon_json: strict JSON as dockerd reads it, flattening, flag conflicts, ExecStart."""

import pytest

from fleetaudit.collectors.base import Part
from fleetaudit.collectors.daemon_json import (
    COLLECTOR, conflicts, flags_of, flatten, load, unit_exec_start)
from collectorkit import POSIX_SHELLS, run_section


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_fragment_runs_under_posix_shells(shell):
    section = run_section(COLLECTOR, shell)
    assert set(section) == {"init", "dockerd", "unit", "opts", "path", "json"}
    assert all(p.rc is not None for p in section.values())
    facts = COLLECTOR.parse(section)
    assert facts["path"].startswith("/") and facts["path_source"] in ("process", "unit", "default")


def test_syntax_error_has_line_and_column():
    value, error, _, _ = load('{\n "a": 1\n "b": 2\n}')
    assert value is None and "line 3 column 2" in error


def test_nan_and_infinity_are_not_json():
    assert load('{"a": NaN}')[1].startswith("invalid constant NaN")
    assert load('{"a": -Infinity}')[1].startswith("invalid constant -Infinity")


def test_duplicates_found_at_any_depth():
    value, error, dups, notes = load('{"a": {"x": 1, "x": 2}, "b": 1, "b": 2}')
    assert error is None and dups == ["b", "x"] and value["b"] == 2 and notes == []


def test_flatten_keeps_flat_options_whole():
    flat = flatten({"proxies": {"http-proxy": "x"}, "log-opts": {"max-size": "1m"}, "debug": True})
    assert flat == {"http-proxy": "x", "log-opts": {"max-size": "1m"}, "debug": True}


def test_flags_and_conflicts():
    args = ["-H", "fd://", "--containerd=/run/c.sock", "-D", "--label", "a=b", "--config-file", "/x"]
    assert flags_of(args) == ["H", "containerd", "D", "label", "config-file"]
    flat = {"hosts": [], "debug": True, "labels": [], "containerd": "/x", "config-file": "/y"}
    assert conflicts(flags_of(args), flat) == ["containerd", "debug", "hosts", "labels"]


def test_exec_start_reset_and_expansion():
    unit = Part(
        "@file /lib/systemd/system/docker.service\n"
        "ExecStart=/usr/bin/dockerd -H fd:// $DOCKER_OPTS\n"
        "@file /etc/systemd/system/docker.service.d/x.conf\n"
        "ExecStart=\n"
        "ExecStart=-/usr/bin/dockerd ${ROOT} $DOCKER_OPTS $UNSET \"--label=a b\"\n", 0)
    argv = unit_exec_start(unit, {"DOCKER_OPTS": "--dns 1.1.1.1 -D", "ROOT": "--data-root=/srv"})
    assert argv == ["/usr/bin/dockerd", "--data-root=/srv", "--dns", "1.1.1.1", "-D", "--label=a b"]


def test_missing_file_is_a_fact_not_an_error():
    facts = COLLECTOR.parse({"path": Part("default /etc/docker/daemon.json\n", 0), "json": Part("", 2)})
    assert facts["present"] is False and facts["error"] is None and facts["valid"] is None
