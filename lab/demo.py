"""The demo fleet: a golden docker host, copies of it, one host per planted fault, and
unreachable hosts.

    from lab.fleet import Fleet
    from lab.demo import build_demo, PLANTED
    fleet = Fleet("/work/main/.lab/demo")
    build_demo(fleet)   # fleet.up(demo_specs(fleet)) + a check of the planted pull errors

PLANTED says, per host, how it differs from golden: `category` is the finding category
(design.md's fixed list) an audit should report for it, `error_class` the expected
unreachable/partial error class, `status` the expected host status when it is not the
usual one (`ok`, or what `error_class` implies), `pull_error` a substring of the genuine error of
`docker pull <fleet.images['app']>` on that host, and `prepulled` whether up() already
ran that pull (HostSpec.pulls), so the genuine error is in the host's /var/log/docker.log
(results: fleet.pull_results).
"""
from __future__ import annotations

import json

from .fleet import DOMAIN, Fleet, HostSpec, LabError, REGISTRY_NAME
from .services import IMAGES, docker_config_json, golden_docker_files

GOLDEN = "golden"
DROPIN = "/etc/systemd/system/docker.service.d/http-proxy.conf"

PLANTED: dict = {
    "golden": {"summary": "the golden configuration", "category": None},
    "good-1": {"summary": "identical to golden", "category": None},
    "good-2": {"summary": "identical to golden", "category": None},
    "good-3": {"summary": "identical to golden", "category": None},
    "no-ca": {
        "summary": "lab CA missing from system trust and /etc/docker/certs.d",
        "category": "tls", "pull_error": "x509: certificate signed by unknown authority",
        "prepulled": True,
    },
    "bad-json": {
        "summary": "invalid /etc/docker/daemon.json: dockerd fails to start (error in /var/log/docker.log)",
        "category": "daemon", "pull_error": "Cannot connect to the Docker daemon",
    },
    "env-proxy": {
        "summary": "proxy only in /etc/environment (with user:pass@ credentials), no docker drop-in",
        "category": "proxy",
    },
    "bad-dns": {
        "summary": "/etc/resolv.conf points at a lab address where nothing answers",
        "category": "dns", "pull_error": "registry.fleet.test",
    },
    "mtu-1400": {"summary": "eth0 MTU 1400 (fleet: 1500)", "category": "mtu"},
    "fw-443": {
        "summary": "iptables -A OUTPUT -p tcp --dport 443 -j DROP",
        "category": "firewall", "pull_error": "443",
    },
    "skew": {"summary": "clock +2h for shell commands (libfaketime via sshd SetEnv)", "category": "time"},
    "disk-full": {
        "summary": "docker data root (128m tmpfs) 95% full",
        "category": "disk", "pull_error": "no space left on device", "prepulled": True,
    },
    "user-creds": {
        "summary": "registry credentials only in /home/deploy/.docker/config.json, none for root",
        "category": "auth", "pull_error": "no basic auth credentials", "prepulled": True,
    },
    "sudo-nopw": {"summary": "login user deploy with passwordless sudo (otherwise golden)", "category": None,
                  "login_user": "deploy"},
    "sudo-pw": {"summary": "login user deploy; sudo needs a password (root-only facts unreadable)",
                "category": None, "error_class": "sudo", "login_user": "deploy"},
    "slow-sudo": {
        "summary": "login user deploy with NOPASSWD sudo; resolver dead and the host's name only in DNS: "
                   "every sudo waits ~12 s for its own hostname lookup",
        "category": "dns", "login_user": "deploy",
    },
    "wedged": {
        "summary": "dockerd SIGSTOPped after start: the docker CLI (and every pull) hangs",
        "category": "daemon", "status": "partial",
    },
    "busybox": {
        "summary": "busybox applets only: no docker, iptables, nft, journalctl, systemctl, sudo",
        "category": "daemon",
    },
    "refused": {"summary": "nothing listens on port 22", "error_class": "refused"},
    "blackhole": {"summary": "iptables INPUT DROP: connection times out", "error_class": "connect-timeout"},
    "silent": {"summary": "accepts TCP on 22, never sends a banner", "error_class": "banner-timeout"},
    "wrongkey": {"summary": "real sshd; known_hosts holds a different key", "error_class": "hostkey-changed"},
}

DAEMON_JSON = {
    "registry-mirrors": ["https://mirror.fleet.test"],
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "3"},
}


def golden_files(fleet: Fleet, root_auth: bool = True, ca: bool = True, dropin: bool = True) -> dict:
    files = golden_docker_files(fleet, auth=root_auth) if ca else {}
    if not ca and root_auth:
        files["/root/.docker/config.json"] = docker_config_json(fleet)
    files["/etc/docker/daemon.json"] = json.dumps(DAEMON_JSON, indent=2) + "\n"
    if dropin:
        files[DROPIN] = (
            "[Service]\n"
            f'Environment="HTTP_PROXY={fleet.proxy_url}"\n'
            f'Environment="HTTPS_PROXY={fleet.proxy_url}"\n'
            f'Environment="NO_PROXY=localhost,127.0.0.1,{REGISTRY_NAME},.{DOMAIN}"\n'
        )
    return files


def demo_specs(fleet: Fleet) -> list:
    fleet.prepare()
    g = golden_files(fleet)
    D = lambda name, files=None, **kw: HostSpec(  # noqa: E731
        name=name, kind="docker", files=dict(files if files is not None else g),
        groups=kw.pop("groups", ["docker"]), **kw)
    creds_url = fleet.proxy_url_with_credentials
    env_proxy = golden_files(fleet, dropin=False)
    env_proxy["/etc/environment"] = (
        f"http_proxy={creds_url}\nhttps_proxy={creds_url}\n"
        f"HTTP_PROXY={creds_url}\nHTTPS_PROXY={creds_url}\nno_proxy=localhost,127.0.0.1\n"
    )
    bad_json = dict(g)
    bad_json["/etc/docker/daemon.json"] = '{\n  "registry-mirrors": ["https://mirror.fleet.test"],,\n  "log-driver": "json-file"\n}\n'
    bad_dns = dict(g)
    bad_dns["/etc/resolv.conf"] = f"search fleet.test\nnameserver {fleet.dead_address}\n"
    user_creds = golden_files(fleet, root_auth=False)
    user_creds["/home/deploy/.docker/config.json"] = docker_config_json(fleet)
    specs = [
        D("golden", groups=["docker", "golden"]),
        D("good-1"), D("good-2"), D("good-3"),
        D("no-ca", golden_files(fleet, ca=False)),
        D("bad-json", bad_json),
        D("env-proxy", env_proxy),
        D("bad-dns", bad_dns),
        D("mtu-1400", mtu=1400),
        D("fw-443", iptables=["-A OUTPUT -p tcp --dport 443 -j DROP"]),
        D("skew", clock_offset="+2h"),
        D("disk-full", data_root_size="128m", fill_data_root_pct=95),
        D("user-creds", user_creds, users=["deploy"]),
        D("sudo-nopw", users=["deploy"], sudo={"deploy": "nopasswd"}, login_user="deploy",
          groups=["docker", "sudo"]),
        D("sudo-pw", users=["deploy"], sudo={"deploy": "password"}, login_user="deploy",
          groups=["docker", "sudo"]),
        D("slow-sudo", users=["deploy"], sudo={"deploy": "nopasswd"}, login_user="deploy",
          dead_resolver=True, groups=["docker", "sudo"]),
        D("wedged", wedge="dockerd"),
        HostSpec("busybox", kind="busybox", groups=["faults"]),
        HostSpec("refused", kind="refused", groups=["faults"]),
        HostSpec("blackhole", kind="blackhole", groups=["faults"]),
        HostSpec("silent", kind="silent", groups=["faults"]),
        HostSpec("wrongkey", kind="wrongkey", groups=["faults"]),
    ]
    assert {s.name for s in specs} == set(PLANTED), "PLANTED and demo_specs disagree"
    app = f"{fleet.registry}/{IMAGES['app']}"
    for s in specs:
        if PLANTED[s.name].get("prepulled"):
            s.pulls = [app]
    return specs


def verify_pulls(fleet: Fleet) -> dict:
    """Check that the pulls up() ran for `prepulled` hosts failed with their genuine error."""
    bad = []
    results = fleet.pull_results
    for n, p in PLANTED.items():
        if not p.get("prepulled"):
            continue
        res = results.get(n) or [{"rc": None, "output": "(not pulled)"}]
        rc, out = res[0]["rc"], res[0]["output"]
        if rc == 0 or p["pull_error"] not in out:
            bad.append(f"{n}: expected a failed pull with {p['pull_error']!r}, got rc={rc}: {out.strip()[-300:]}")
    if bad:
        raise LabError("demo pulls did not fail as planted:\n" + "\n".join(bad))
    return results


def build_demo(fleet: Fleet, progress=None) -> Fleet:
    """up() the demo fleet and check the planted pull errors."""
    fleet.up(demo_specs(fleet), services=True, progress=progress)
    verify_pulls(fleet)
    return fleet
