"""Text the rules write: host strings made safe for evidence and shell lines, OS-family
remediation commands, and certificate/CA command lines. No facts are derived here
(that is fleetaudit.facts)."""
from __future__ import annotations

import re
import shlex
from typing import Any, Dict, List, Optional

from ..facts.registries import split_host_port
from ..facts.trust import CERTS_D


def q(value: Any) -> str:
    """Host-provided text quoted for a shell command line (it is untrusted)."""
    return shlex.quote(str(value))


def cap(text: Any, limit: int = 300) -> str:
    """Host-provided text without control characters, cut to `limit` characters."""
    s = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(text))
    return s if len(s) <= limit else s[:limit] + "…"


def whose(exp: Any) -> str:
    """"the baseline's" or "the fleet's", for titles comparing with an expectation."""
    return "the baseline's" if str(getattr(exp, "source", "")).startswith("baseline") else "the fleet's"


def subject(cert: Dict[str, Any]) -> str:
    """A certificate's subject for evidence (its fingerprint's start when it has none)."""
    return cap(cert.get("subject") or cert.get("sha256", "")[:16], 160)


# ------------------------------------------------------------------ OS family commands

def restart_docker(family: str) -> str:
    """The command that restarts dockerd on an OS family."""
    if family == "alpine":
        return "sudo rc-service docker restart"
    return "sudo systemctl restart docker"


def reload_and_restart(family: str) -> List[str]:
    """Commands that reload the init system's configuration and restart dockerd."""
    if family == "alpine":
        return ["sudo rc-service docker restart"]
    return ["sudo systemctl daemon-reload", "sudo systemctl restart docker"]


def daemon_log_command(family: str) -> str:
    """The command that shows dockerd's recent log on an OS family."""
    if family == "alpine":
        return "sudo tail -n 200 /var/log/docker.log"
    return "journalctl -u docker --since '30 min ago' --no-pager"


# ------------------------------------------------------------------ CA commands

def safe_name(name: str) -> str:
    """A registry or file name usable as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80] or "registry"


def ca_install(family: str, src: str, name: str) -> List[str]:
    """Commands that add the PEM file `src` to the system trust of an OS family and make
    dockerd load it (Go reads the bundle once, at start)."""
    crt = safe_name(name) + ".crt"
    by_family = {
        "debian": [f"sudo cp {q(src)} /usr/local/share/ca-certificates/{crt}", "sudo update-ca-certificates"],
        "alpine": [f"sudo cp {q(src)} /usr/local/share/ca-certificates/{crt}", "sudo update-ca-certificates"],
        "rhel": [f"sudo cp {q(src)} /etc/pki/ca-trust/source/anchors/{crt}", "sudo update-ca-trust extract"],
        "suse": [f"sudo cp {q(src)} /etc/pki/trust/anchors/{crt}", "sudo update-ca-certificates"],
        "arch": [f"sudo trust anchor --store {q(src)}"],
    }
    cmds = by_family.get(family) or [
        f"Debian/Ubuntu/Alpine: sudo cp {q(src)} /usr/local/share/ca-certificates/{crt} && sudo update-ca-certificates",
        f"RHEL/Fedora: sudo cp {q(src)} /etc/pki/ca-trust/source/anchors/{crt} && sudo update-ca-trust extract",
    ]
    return cmds + [restart_docker(family) + "   # dockerd reads the system bundle only at start"]


def certs_d_install(dirname: str, src: str) -> List[str]:
    """Commands that put a CA file into a registry's certs.d directory."""
    d = f"{CERTS_D}/{dirname}"
    return [f"sudo mkdir -p {q(d)}",
            f"sudo cp {q(src)} {q(d + '/ca.crt')}   # read on the next pull, no restart needed"]


def verify_command(registry: str, cafile: Optional[str] = None) -> str:
    """An openssl line that shows whether the registry's certificate verifies."""
    host, port = split_host_port(registry)
    ca = f" -CAfile {q(cafile)}" if cafile else ""
    return (f"openssl s_client -connect {q(f'{host}:{port}')} -servername {q(host)}{ca} </dev/null "
            "2>/dev/null | grep 'Verify return code'")
