"""contrib/ against a small lab fleet: THE EXACT command lines of the systemd unit and
the cron line run an hourly drift three times.

ExecStart is expanded as systemd does (${VAR} one argument, $VAR split on whitespace)
with the variables of an EnvironmentFile that has exactly the keys of
contrib/systemd/drift.env; the cron line runs through /bin/sh as cron runs it. The one
substitution is the executable: ExecStart's /usr/local/bin/fleetaudit and the cron
PATH's `fleetaudit` resolve to a two-line shim that runs this checkout
(`python -m fleetaudit.cli`). Three runs: the first (everything new: exit 1), one after
an MTU change on one host (exit 1, exactly that change), one with nothing changed
(exit 0, no notification).
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from test_contrib_scheduling import (CRON, ENV_EXAMPLE, ROOT, SERVICE, parse_cron, parse_unit,
                                     read_env_file, systemd_argv, unit_value)


class Hook:
    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/drift"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the lab fleet needs root")
    from lab.fleet import Fleet, HostSpec
    state = tmp_path_factory.mktemp("contrib") / "lab"
    fleet = Fleet(state_dir=str(state))
    try:
        fleet.up([HostSpec("node-a", kind="ssh"), HostSpec("node-b", kind="ssh")])
        yield fleet
    finally:
        fleet.down()


def _drift_json(state):
    return json.loads((state / "drift-latest.json").read_text())


def prom_samples(tmp_path):
    """{(name, status|severity|against, host): value} of the drift series in the textfile."""
    from prometheus_client.parser import text_string_to_metric_families
    text = (tmp_path / "textfile" / "fleetaudit.prom").read_text()
    return {(s.name, s.labels.get("status") or s.labels.get("severity") or s.labels.get("against"),
             s.labels.get("host")): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.labels.get("command") == "drift"}


@pytest.mark.fleet
def test_exact_commands_run_hourly_drift_against_a_lab_fleet(lab, tmp_path):
    from fleetaudit.history import open_store

    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    shim = shim_dir / "fleetaudit"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m fleetaudit.cli \"$@\"\n")
    shim.chmod(0o755)
    state = tmp_path / "state"  # systemd makes the StateDirectory; the installer makes it for cron
    state.mkdir()
    (tmp_path / "textfile").mkdir()
    inventory = tmp_path / "inventory.ini"
    lab.write_inventory(inventory, "ini")
    hook = Hook()
    env_file = tmp_path / "drift.env"
    values = {
        "FLEETAUDIT_INVENTORY": str(inventory),
        "FLEETAUDIT_KNOWN_HOSTS": lab.known_hosts_path,
        "FLEETAUDIT_HISTORY": str(state / "history.sqlite"),
        "FLEETAUDIT_STATE": str(state),
        "FLEETAUDIT_PROM": str(tmp_path / "textfile" / "fleetaudit.prom"),
        "FLEETAUDIT_ARGS": f"--notify {hook.url} --connect-timeout 10",
    }
    assert set(values) == set(read_env_file(ENV_EXAMPLE))
    env_file.write_text("".join(f'{k}="{v}"\n' if " " in v else f"{k}={v}\n" for k, v in values.items()))
    home = tmp_path / "home"
    home.mkdir()
    base_env = {"HOME": str(home), "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT),
                "LOGNAME": "fleetaudit", "USER": "fleetaudit"}

    exec_start = unit_value(parse_unit(SERVICE), "Service", "ExecStart")

    def run_systemd():
        env = {**base_env, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", **read_env_file(env_file)}
        argv = systemd_argv(exec_start, env)
        assert argv[0] == "/usr/local/bin/fleetaudit"
        return subprocess.run([str(shim)] + argv[1:], env=env, cwd=state, capture_output=True,
                              text=True, timeout=300)

    cron_env, ((_, _, cron_command),) = parse_cron(CRON)

    def run_cron():
        env = {**base_env, **cron_env, "FLEETAUDIT_ENV": str(env_file)}
        env["PATH"] = f"{shim_dir}:{env['PATH']}"
        return subprocess.run([cron_env["SHELL"], "-c", cron_command], env=env, cwd=home,
                              capture_output=True, text=True, timeout=300)

    try:
        first = run_systemd()
        assert first.returncode == 1, first.stdout + first.stderr  # first run: all new
        assert first.stdout == "" and first.stderr == ""
        doc = _drift_json(state)
        assert doc["drift_since_last"]["first_run"] is True
        assert {h for h, v in doc["hosts"].items() if v["status"] == "ok"} == {"node-a", "node-b"}
        assert 'id="sec-changes"' in (state / "drift-latest.html").read_text()
        assert (state / "drift-latest.md").read_text().strip()
        assert len(list((state / "reports").glob("*.json"))) == 1
        assert len(hook.bodies) == 1 and hook.bodies[0]["command"] == "drift"

        netns = lab.hosts["node-b"].netns
        subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "mtu", "1400"], check=True)
        second = run_cron()
        assert second.returncode == 1, second.stdout + second.stderr
        assert second.stdout == "" and second.stderr == ""
        since = _drift_json(state)["drift_since_last"]
        assert since["first_run"] is False
        changed = {(f["host"], f["path"], f["before"], f["after"]) for f in since["facts"]}
        assert changed == {("node-b", "network.interfaces.eth0.mtu", 1500, 1400)}, changed
        assert len(hook.bodies) == 2 and hook.bodies[1]["facts_changed"] == 1
        assert prom_samples(tmp_path)[("fleetaudit_host_drift_items", "last_run", "node-b")] == 1

        third = run_systemd()
        assert third.returncode == 0, third.stdout + third.stderr
        since = _drift_json(state)["drift_since_last"]
        assert since["facts"] == [] and since["findings"]["new"] == [] and not since["new_drift"]
        assert len(hook.bodies) == 2, "nothing changed: no notification"
        html = (state / "drift-latest.html").read_text()
        island = json.loads(html.split('id="fa-data">', 1)[1].split("</script>", 1)[0])
        assert [r[0] for r in island["hs"]["r"]] and len(island["hs"]["r"]) == 3  # the history chart
        fx = [(island["s"][f[1]], f[6] & 1) for f in island["fx"]]
        assert fx == [("network.interfaces.eth0.mtu", 0)]  # node-b's change, from run 2, with when
        if os.environ.get("KEEP_DRIFT_HTML"):
            shutil.copyfile(state / "drift-latest.html", os.environ["KEEP_DRIFT_HTML"])
    finally:
        hook.close()

    prom = prom_samples(tmp_path)
    assert prom[("fleetaudit_hosts", "ok", None)] == 2
    assert prom[("fleetaudit_facts_changed", None, None)] == 0
    assert not [k for k in prom if k[0] == "fleetaudit_host_drift_items" and k[1] == "last_run"]
    assert sum(v for k, v in prom.items() if k[0] == "fleetaudit_new_findings") == 0
    assert prom[("fleetaudit_last_success_timestamp_seconds", None, None)] > 1.7e9
    with open_store(values["FLEETAUDIT_HISTORY"]) as store:
        assert [r.kind for r in store.runs()] == ["drift"] * 3
