"""Real OpenSSH sshd instances on 127.0.0.1 (and ::1) for connection-layer tests.

Each server has its own temp host key, config and log; root logs in with a test key.
sshd needs absolute -f/-E paths (it re-execs after chdir /), `StrictModes no` for keys
under /tmp, `UsePAM no`, and its privilege-separation directory /run/sshd.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional, Sequence

import asyncssh

SSHD = "/usr/sbin/sshd"


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(v6: bool) -> int:
    """A port free on 127.0.0.1 (and on ::1 when v6)."""
    for _ in range(50):
        with socket.socket() as s4:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            if not v6:
                return port
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                    s6.bind(("::1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port on both 127.0.0.1 and ::1")


def write_key(path: Path, key: asyncssh.SSHKey) -> None:
    path.write_bytes(key.export_private_key())
    path.chmod(0o600)
    Path(f"{path}.pub").write_bytes(key.export_public_key())


class Sshd:
    """One running sshd; `stop()` ends exactly the process it started."""

    def __init__(self, workdir: Path, client_pub: str, v6: bool,
                 host_key: Optional[asyncssh.SSHKey] = None, host_cert: Optional[bytes] = None,
                 extra_config: Sequence[str] = ()):
        self.dir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.v6 = v6
        self.port = free_port(v6)
        self.host_key = host_key or asyncssh.generate_private_key("ssh-ed25519")
        write_key(workdir / "host_key", self.host_key)
        (workdir / "authorized_keys").write_text(client_pub)
        listen = ["ListenAddress 127.0.0.1"] + (["ListenAddress ::1"] if v6 else [])
        cert = []
        if host_cert is not None:
            (workdir / "host_key-cert.pub").write_bytes(host_cert)
            cert = [f"HostCertificate {workdir}/host_key-cert.pub"]
        self.log = workdir / "sshd.log"
        (workdir / "sshd_config").write_text("\n".join([
            f"Port {self.port}", *listen, f"HostKey {workdir}/host_key", *cert,
            f"PidFile {workdir}/sshd.pid", f"AuthorizedKeysFile {workdir}/authorized_keys",
            "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "AllowTcpForwarding yes", "UseDNS no",
            "MaxStartups 100:30:300", "MaxSessions 50", "SetEnv SHLVL=1", "LogLevel INFO",
            *extra_config, "",
        ]))
        # sshd refuses to start without its privilege-separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(workdir / "sshd_config"), "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()

    @property
    def public_line(self) -> str:
        """'ssh-ed25519 AAAA...' of the host key."""
        return " ".join(self.host_key.export_public_key().decode().split()[:2])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text() if self.log.exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not come up")

    def logins(self) -> int:
        """How many sessions authenticated so far (each 'Accepted publickey' line)."""
        try:
            return self.log.read_text(errors="replace").count("Accepted publickey")
        except FileNotFoundError:
            return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def other_key_line() -> str:
    """A valid key line that belongs to no server (a pin that no longer matches)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    return " ".join(key.export_public_key().decode().split()[:2])


def stop_all(servers: List[Sshd]) -> None:
    for s in servers:
        s.stop()
