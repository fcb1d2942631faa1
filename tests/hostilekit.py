"""Shared setup for tests against tests/hostile_sshd.py: start it, trust its key, make
Host records and inventories whose login name picks the fault."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from fleetaudit.inventory import Host

SERVER = Path(__file__).with_name("hostile_sshd.py")


class HostileServer:
    def __init__(self, state: Path):
        self.state = state
        self.proc = subprocess.Popen([sys.executable, str(SERVER), str(state)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"hostile sshd did not start: {line!r}")
        self.port = int(line.split()[1])
        pub = (state / "host_key.pub").read_text().split()
        self.known_hosts = state / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        self.ssh_config = state / "ssh_config"   # empty: this machine's ~/.ssh/config stays out
        self.ssh_config.write_text("")

    def warm(self) -> None:
        """Have the server run the composite script once (it caches the genuine output),
        so tests with a 3 s command timeout do not time that first run on a busy machine."""
        import asyncio
        from fleetaudit.collect import CollectOptions, collect_fleet
        from fleetaudit.ssh import SSHOptions
        opts = CollectOptions(ssh=SSHOptions(known_hosts=str(self.known_hosts),
                                             ssh_config=[str(self.ssh_config)]),
                              command_timeout=120)
        result = asyncio.run(collect_fleet([self.host("warm-up", "ok")], opts))
        if result.hosts["warm-up"].status != "ok":
            raise RuntimeError(f"hostile sshd warm-up failed: {result.hosts['warm-up'].error}")

    def host(self, name: str, behaviour: str) -> Host:
        return Host(name=name, address="127.0.0.1", port=self.port, user=behaviour)

    def inventory(self, path: Path, hosts: dict) -> Path:
        """INI inventory: host name -> behaviour (login name)."""
        lines = ["[hostile]"]
        for name, behaviour in hosts.items():
            lines.append(f"{name} ansible_host=127.0.0.1 ansible_port={self.port} ansible_user={behaviour}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def events(self) -> list:
        path = self.state / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_events(self, predicate, timeout: float = 60.0) -> list:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = self.events()
            if predicate(ev):
                return ev
            time.sleep(0.2)
        raise AssertionError(f"server events never matched: {self.events()}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
