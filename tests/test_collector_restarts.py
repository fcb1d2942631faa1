"""restarts: the containers fragment against a docker stub, and the parser's edge cases."""
import dataclasses
import shutil
import subprocess

import pytest

from fleetaudit.collectors import restarts
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output

# A docker CLI stand-in: a config warning on stderr (must not become a container id),
# three containers, and the inspect format answered per id.
DOCKER_STUB = r"""#!/bin/sh
case "$1" in
ps) echo "WARNING: Error loading config file: /root/.docker/config.json: unexpected EOF" >&2
    printf 'aaaaaaaaaaaa\nbbbbbbbbbbbb\ncccccccccccc\n' ;;
inspect)
    shift 3  # inspect --format FMT
    for id in "$@"; do
      case $id in
      aaaaaaaaaaaa) echo "/web running false 0 0 nginx:1.25 always" ;;
      bbbbbbbbbbbb) echo "/worker restarting true 57 1 registry.lab:5000/app:1.2 unless-stopped" ;;
      cccccccccccc) echo "/old exited false 4 137 busybox " ;;
      *) echo "Error: No such object: $id" >&2; exit 1 ;;
      esac
    done ;;
esac
"""


@pytest.mark.parametrize("shell", ["dash", "bash", "busybox"])
def test_fragment_with_docker_stub(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} missing")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "docker"
    stub.write_text(DOCKER_STUB)
    stub.chmod(0o755)
    nonce = new_nonce()
    only_containers = restarts.SCRIPT.split("\nfa_run units")[0]
    collector = dataclasses.replace(restarts.COLLECTOR, script=only_containers)
    body = build_script([collector], nonce, ScriptOptions(part_timeout_s=60))
    cmd = [shutil.which("busybox"), "sh", "-s"] if shell == "busybox" else [shutil.which(shell), "-s"]
    proc = subprocess.run(cmd, input=body.encode(), capture_output=True, timeout=60,
                          env={"PATH": f"{bindir}:/usr/bin:/bin"})
    section = split_output(proc.stdout.decode(), nonce).sections["restarts"]
    facts = restarts.parse(section)
    assert facts["daemon_up"] is True and facts["containers_total"] == 3
    assert [c["name"] for c in facts["containers"]] == ["old", "web", "worker"]
    assert facts["containers"][1] == {"name": "web", "image": "nginx:1.25", "status": "running",
                                      "restarting": False, "restart_count": 0, "exit_code": 0,
                                      "restart_policy": "always"}
    assert facts["containers"][0]["restart_policy"] is None
    assert facts["looping"] == ["old", "worker"]
    assert "WARNING: Error loading config file" in section["containers"].out


def test_units_blocks_any_property_order():
    out = ("NRestarts=7\nResult=exit-code\nId=docker.service\nLoadState=loaded\n"
           "ActiveState=activating\nSubState=auto-restart\n\n"
           "Id=containerd.service\nLoadState=not-found\nActiveState=inactive\nNRestarts=0\n")
    facts = restarts.parse({"units": Part(out, 0)})
    assert facts["systemd"] is True and facts["units_error"] is None
    assert facts["units"] == [{"unit": "docker.service", "load_state": "loaded",
                               "active_state": "activating", "sub_state": "auto-restart",
                               "result": "exit-code", "restarts": 7}]


def test_old_systemd_without_nrestarts_and_missing_tools():
    facts = restarts.parse({
        "units": Part("Id=docker.service\nLoadState=loaded\nActiveState=active\n", 0),
        "containers": Part("sh: 1: docker: not found\n", 127)})
    assert facts["units"][0]["restarts"] is None
    assert facts["installed"] is False and facts["daemon_up"] is None
    facts = restarts.parse({"units": Part("systemctl: not found\n", 127)})
    assert facts["systemd"] is False and facts["units_error"] == "systemctl: not found"


def test_capped_and_timeout():
    facts = restarts.parse({"containers": Part("fa-total 812\n/a running false 0 0 x:1 no\n", 0)})
    assert facts["capped"] is True and facts["containers_total"] == 812
    facts = restarts.parse({"containers": Part("", 124)})
    assert facts["error"] == "docker ps timed out" and facts["daemon_up"] is None
