"""The Engine API shortcut (one curl for /info and /system/df) on real lab hosts: taken
only where the docker CLI would have talked to that very socket as that very user, and
giving the same facts as the CLI path (the same hosts with curl hidden), /system/df's
exact bytes aside (the CLI's "1.2GB" is good to its 3-4 significant digits).

Hosts: a docker host with images, containers and volumes; the same kind of host reached
as a user outside the docker group without become (the CLI: permission denied); one
whose SSH sessions carry DOCKER_HOST (the CLI talks to whatever that names: no curl).
"""
import subprocess

import pytest

from fleetaudit.collectors import REGISTRY
from fleetaudit.script import ScriptOptions, build_script, split_output
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

NONCE = "ap1n0nce"
SPECS = [
    HostSpec("dock"),
    HostSpec("guest", users=["guest"], login_user="guest", become=False),
    HostSpec("dhost", session_env={"DOCKER_HOST": "unix:///var/run/docker.sock"}),
]
# Images, containers (one running, with bytes written) and volumes (one with data,
# unreferenced), so every /system/df sum has something to add up.
POPULATE = (
    "set -e; mkdir -p /tmp/fa-e/bin /tmp/fa-p; cp /bin/busybox /tmp/fa-e/bin/;"
    " head -c 2345678 /dev/urandom > /tmp/fa-p/payload;"
    " tar c -C /tmp/fa-e . | docker import - fa/df:1 >/dev/null;"
    " tar c -C /tmp/fa-p . | docker import - fa/df:2 >/dev/null;"
    " docker create --name c1 -v vol1:/data fa/df:1 /bin/busybox true >/dev/null;"
    " docker run -d --network none --name c2 fa/df:1 /bin/busybox sh -c"
    " 'head -c 345678 /dev/zero > /x; sleep 3600' >/dev/null;"
    " docker volume create vol2 >/dev/null;"
    " head -c 1234567 /dev/urandom > /var/lib/docker/volumes/vol2/_data/blob; sleep 1"
)


def facts_of(fleet, name, *, hide_curl=False):
    script = build_script(REGISTRY, NONCE, ScriptOptions(command_timeout_s=60))
    if hide_curl:
        assert script.count("fa_has curl") == 1
        script = script.replace("fa_has curl", "fa_has fa-no-such-curl")
    out = subprocess.run(fleet.ssh_argv(name, "sh -s"), input=script, capture_output=True,
                         text=True, timeout=120).stdout
    parsed = split_output(out, NONCE)
    assert parsed.complete, out[-500:]
    return parsed.sections, {c.name: c.parse(parsed.sections.get(c.name, {})) for c in REGISTRY}


def close(exact, humanised):
    """The CLI's size, read back from "6.31MB", against the API's exact bytes."""
    return exact == humanised or abs(exact - humanised) <= max(1, exact) * 1e-3


def test_engine_api_where_the_cli_would_use_the_socket_same_facts(tmp_path):
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up(SPECS, services=False)
        rc = fleet.exec("dock", f"sh -c \"{POPULATE}\"")
        assert rc.returncode == 0, rc.stdout + rc.stderr
        runs = {(n, hide): facts_of(fleet, n, hide_curl=hide) for n in ("dock", "guest", "dhost")
                for hide in (False, True)}
    finally:
        fleet.down()

    api_sections, api = runs[("dock", False)]
    cli_sections, cli = runs[("dock", True)]
    # the shortcut ran where it may: /info and /system/df from curl, no CLI call for them
    assert "docker_df_api" in api_sections["disk"] and "docker_df" not in api_sections["disk"]
    assert '"ID":' in api_sections["docker"]["info"].out          # the whole /info document
    assert "docker_df" in cli_sections["disk"] and '"ID":' not in cli_sections["docker"]["info"].out
    # every docker fact the same (the CLI's info template vs the whole /info document)
    assert api["docker"] == cli["docker"]
    assert api["docker"]["info"]["containers_count"] == 2 and api["docker"]["info_source"] == "json"
    # system df: the same counts; sizes the exact bytes the CLI rounds
    a, c = api["disk"]["docker_df"], cli["disk"]["docker_df"]
    assert api["disk"]["docker_df_error"] is None and cli["disk"]["docker_df_error"] is None
    for kind in ("images", "containers", "volumes", "build_cache"):
        assert (a[kind]["total"], a[kind]["active"]) == (c[kind]["total"], c[kind]["active"]), kind
        for key in ("size", "reclaimable"):
            assert close(a[kind][key], c[kind][key]), (kind, key, a[kind][key], c[kind][key])
    assert a["volumes"] == {"total": 2, "active": 1, "size": 1234567, "reclaimable": 1234567}
    assert a["images"]["reclaimable"] == 2345678 and a["images"]["active"] == 1
    assert a["containers"]["size"] == 345678 and a["containers"]["active"] == 1
    assert api["disk"]["data_root"]["path"] == cli["disk"]["data_root"]["path"] == "/var/lib/docker"

    # outside the docker group, no become: the CLI's words, no curl; the same either way
    g_sections, guest = runs[("guest", False)]
    assert guest["docker"]["error_kind"] == "permission-denied" and guest["docker"]["daemon_up"] is False
    assert "docker_df_api" not in g_sections["disk"]
    assert guest["docker"] == runs[("guest", True)][1]["docker"]
    assert guest["disk"]["docker_df"] is None
    assert guest["disk"]["docker_df_error"] == runs[("guest", True)][1]["disk"]["docker_df_error"]
    # DOCKER_HOST set: the CLI decides where to go, curl is not used
    d_sections, dhost = runs[("dhost", False)]
    assert dhost["docker"]["daemon_up"] is True and "docker_df_api" not in d_sections["disk"]
    assert '"ID":' not in d_sections["docker"]["info"].out
    assert dhost["docker"] == runs[("dhost", True)][1]["docker"]


def test_a_system_df_too_big_for_the_part_cap_comes_from_the_cli(tmp_path):
    """/system/df lists every image, container and volume: where it could not pass the
    part cap whole, the CLI's four lines are used (no fact lost to a cut document)."""
    fleet = Fleet(tmp_path / "lab")
    try:
        fleet.up(SPECS[:1], services=False)
        made = fleet.exec("dock", "sh -c 'i=0; while [ $i -lt 200 ]; do docker volume create "
                                  "fa-volume-with-a-long-name-$i >/dev/null || exit 1; i=$((i+1)); done'")
        assert made.returncode == 0, made.stderr
        nonce = "b1gn0nce"
        # 200 volumes: /system/df ~40 KB, over half of a 64 KB cap; /info ~2 KB is not
        script = build_script(REGISTRY, nonce, ScriptOptions(command_timeout_s=60, part_cap_bytes=65536))
        out = subprocess.run(fleet.ssh_argv("dock", "sh -s"), input=script, capture_output=True,
                             text=True, timeout=120).stdout
    finally:
        fleet.down()
    sections = split_output(out, nonce).sections
    assert '"ID":' in sections["docker"]["info"].out            # /info still from curl
    assert "docker_df_api" not in sections["disk"] and sections["disk"]["docker_df"].rc == 0
    df = {c.name: c for c in REGISTRY}["disk"].parse(sections["disk"])["docker_df"]
    assert df["volumes"]["total"] == 200
