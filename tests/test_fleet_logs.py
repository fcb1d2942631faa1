"""End to end (issue 13): `fleetaudit -vv --log-file` on a real audit logs each host's
phases, asyncssh's own log included, and no planted secret; `--json -` and `--prom -`
print parseable documents on stdout while the log and the summary stay off it.

A small dedicated fleet: `creds` (a docker host with registry credentials in root's
docker config.json and a proxy URL with user:password in the daemon's drop-in) and
`gone` (nothing listens on port 22).
"""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
DROPIN = "/etc/systemd/system/docker.service.d/http-proxy.conf"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from lab.fleet import Fleet, HostSpec
    from lab.services import docker_config_json

    fleet = Fleet(state_dir=str(tmp_path_factory.mktemp("logs") / "lab"))
    try:
        fleet.prepare()
        proxy = fleet.proxy_url_with_credentials
        fleet.up([
            HostSpec("creds", files={
                "/root/.docker/config.json": docker_config_json(fleet),
                DROPIN: f'[Service]\nEnvironment="HTTPS_PROXY={proxy}"\n',
            }, docker_env={}),
            HostSpec("gone", kind="refused"),
        ], services=False, timeout=120)
        yield fleet
    finally:
        fleet.down()


def run_cli(args, cwd):
    return subprocess.run(FLEETAUDIT + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_vv_log_has_every_phase_and_no_secret(fleet, tmp_path):
    inv = fleet.write_inventory(tmp_path / "inv.ini", "ini")
    log = tmp_path / "audit.log"
    proc = run_cli(["-vv", "--log-file", log, "audit", "-i", inv, "--known-hosts",
                    fleet.known_hosts_path, "--json", "-", "--reports-dir", tmp_path / "r"], tmp_path)
    assert proc.returncode == 3, proc.stderr[-2000:]  # `gone` is not audited
    doc = json.loads(proc.stdout)
    assert doc["hosts"]["creds"]["status"] in ("ok", "partial")
    assert doc["hosts"]["gone"]["error"]["class"] == "refused"
    text = log.read_text()
    addr = fleet.hosts["creds"].address
    for phase in (f"fleetaudit.ssh: {addr}: resolved to {addr}",
                  f"fleetaudit.ssh: {addr}: TCP connected to {addr} port 22",
                  f"fleetaudit.ssh: {addr}: SSH banner received",
                  "fleetaudit.ssh: creds: SSH connected, host key verified, authenticated as root",
                  "fleetaudit.collect: creds: attempt 1: connecting to",
                  "fleetaudit.collect: creds: exec: collection script sent",
                  "fleetaudit.collect: creds: exec: ",
                  "fleetaudit.collect: gone: unreachable in"):
        assert phase in text, phase
    assert " asyncssh: " in text, "asyncssh's own log at -vv"
    assert "fleetaudit.collect: creds: " in proc.stderr, "-vv logs to stderr too"
    secrets = fleet.planted_secrets
    assert len(secrets) >= 4
    for where, content in (("log", text), ("stderr", proc.stderr), ("stdout", proc.stdout)):
        leaked = [s for s in secrets if s in content]
        assert not leaked, f"planted secret in the {where}"
    print(f"log: {len(text.splitlines())} lines, {len(secrets)} planted secrets, none found")


def test_prom_dash_prints_the_textfile(fleet, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    inv = fleet.write_inventory(tmp_path / "inv.ini", "ini")
    proc = run_cli(["audit", "-i", inv, "--known-hosts", fleet.known_hosts_path, "--limit", "creds",
                    "--prom", "-", "--no-history", "--fail-on", "none",
                    "--reports-dir", tmp_path / "r"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {f.name for f in text_string_to_metric_families(proc.stdout)}
    assert any(n.startswith("fleetaudit_") for n in names), names
    assert "hosts" in proc.stderr, "the summary went to stderr"
