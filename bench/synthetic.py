"""Realistic synthetic audit runs for render tests and benchmarks.

`synthetic_run(n)` builds a RunResult the way the pipeline would after compare and
diagnose: N hosts with facts shaped like docs/facts.md (values modelled on the captured
fixtures in tests/facts and on stock Debian/Rocky/Ubuntu Docker hosts), a few percent of
hosts carrying a planted fault (resolver, MTU, proxy, CA bundle, clock, disk, engine
version, daemon.json, architecture, credentials, firewall), some hosts unreachable or
partial, and the compare/diagnose outputs the renderers read: `findings`,
`extra["drift"]`, `extra["baseline"]`, `extra["matrix"]`.

Deterministic for a given seed. Host-controlled strings can be made hostile
(`hostile=True`) so escaping is exercised on every code path.

    python bench/synthetic.py 1000 > run.json      # a snapshot-shaped document
"""
from __future__ import annotations

import copy
import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

if __package__ in (None, ""):  # run as a script: make `fleetaudit` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleetaudit.models import Finding, HostError, HostResult, RunResult  # noqa: E402

XSS_SCRIPT = "<script>window.__pwned=1</script>"
XSS_IMG = '"><img src=x onerror="window.__pwned=2">'
XSS_GROUP = "ops</option><script>window.__pwned=3</script>"

_REGISTRY = "registry.corp.example.com"
_MIRROR = "mirror.corp.example.com:5000"
_PROXY = "http://proxy.corp.example.com:3128"
_NO_PROXY = ["127.0.0.1", ".corp.example.com", "localhost"]
_BUNDLE_SHA = "9f1c3b0e7d2a4c6b8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
_CORP_CA_SHA = "4b7e2d9a0c1f3e5d7b9a1c3e5f7092b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6"

_OS = [  # (weight, system facts) modelled on tests/facts/system fixtures
    (6, {"family": "debian", "kernel": "6.1.0-18-amd64", "os": {
        "id": "debian", "id_like": [], "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "version_codename": "bookworm", "version_id": "12"}}),
    (3, {"family": "debian", "kernel": "5.15.0-105-generic", "os": {
        "id": "ubuntu", "id_like": ["debian"], "pretty_name": "Ubuntu 22.04.4 LTS",
        "version_codename": "jammy", "version_id": "22.04"}}),
    (2, {"family": "rhel", "kernel": "5.14.0-362.8.1.el9_3.x86_64", "os": {
        "id": "rocky", "id_like": ["centos", "fedora", "rhel"],
        "pretty_name": "Rocky Linux 9.3 (Blue Onyx)", "version_codename": None,
        "version_id": "9.3"}}),
]

# Planted faults: name -> (weight, category, severity). Each mutates facts and yields
# drift items plus a finding, as compare + diagnose would.
_FAULTS = {
    "dns": (3, "dns", "high"),
    "mtu": (2, "mtu", "high"),
    "proxy": (3, "proxy", "critical"),
    "ca": (2, "tls", "critical"),
    "clock": (2, "time", "high"),
    "disk": (2, "disk", "medium"),
    "engine": (2, "daemon", "medium"),
    "daemon_json": (1, "daemon", "critical"),
    "arch": (1, "arch", "high"),
    "creds": (2, "auth", "high"),
    "firewall": (1, "firewall", "critical"),
    "insecure": (1, "tls", "low"),
}

_UNREACHABLE = [  # (error class, message template)
    ("connect-timeout", "TCP connect to {addr}:22 timed out after 10s"),
    ("refused", "connect to {addr}:22: Connection refused"),
    ("auth", "Permission denied (publickey) for user deploy"),
    ("hostkey-changed", "host key for {addr} does not match known_hosts line 12"),
    ("dns", "cannot resolve {name}: Name or service not known"),
    ("banner-timeout", "no SSH banner from {addr}:22 within 15s"),
]


def _base_facts(rng: random.Random, name: str, idx: int) -> dict:
    weights = [w for w, _ in _OS]
    system = copy.deepcopy(rng.choices([f for _, f in _OS], weights)[0])
    system.update(hostname=name, arch="x86_64", uptime_s=round(rng.uniform(3e3, 9e6), 2))
    addr = f"10.{20 + idx // 65025 % 200}.{idx // 255 % 255}.{idx % 255 + 1}"
    data_root_size = 214_643_507_200
    used = int(data_root_size * rng.uniform(0.2, 0.6))
    return {
        "system": system,
        "docker": {
            "installed": True,
            "client": {"version": "26.1.4", "api_version": "1.45"},
            "server": {"version": "26.1.4", "api_version": "1.45", "min_api_version": "1.24",
                       "os": "linux", "arch": "amd64"},
            "daemon_up": True, "error": None,
            "info": {
                "storage_driver": "overlay2", "docker_root_dir": "/var/lib/docker",
                "architecture": "x86_64", "os_type": "linux", "cgroup_driver": "systemd",
                "cgroup_version": "2", "registry_mirrors": [f"https://{_MIRROR}/"],
                "insecure_registries": ["127.0.0.0/8"], "http_proxy": _PROXY,
                "https_proxy": _PROXY, "no_proxy": ",".join(_NO_PROXY),
                "live_restore": True, "server_version": "26.1.4",
                "containers_running": rng.randint(2, 30), "containers_total": rng.randint(30, 60),
                "images": rng.randint(10, 80), "warnings": [],
            },
        },
        "daemon_json": {
            "path": "/etc/docker/daemon.json", "present": True, "size": 212, "valid": True,
            "error": None,
            "config": {"live-restore": True, "log-driver": "json-file",
                       "log-opts": {"max-size": "50m", "max-file": "3"},
                       "registry-mirrors": [f"https://{_MIRROR}/"]},
            "keys": ["live-restore", "log-driver", "log-opts", "registry-mirrors"],
        },
        "proxy": {
            "daemon": {
                "HTTP_PROXY": {"value": _PROXY, "source": "/etc/systemd/system/docker.service.d/http-proxy.conf"},
                "HTTPS_PROXY": {"value": _PROXY, "source": "/etc/systemd/system/docker.service.d/http-proxy.conf"},
                "NO_PROXY": {"value": ",".join(_NO_PROXY), "source": "/etc/systemd/system/docker.service.d/http-proxy.conf"},
            },
            "daemon_no_proxy": list(_NO_PROXY),
            "dropins": [{"path": "/etc/systemd/system/docker.service.d/http-proxy.conf",
                         "env": {"HTTP_PROXY": _PROXY, "HTTPS_PROXY": _PROXY,
                                 "NO_PROXY": ",".join(_NO_PROXY)}}],
            "daemon_json_proxies": None,
            "environment_file": {"http_proxy": _PROXY, "https_proxy": _PROXY},
            "login_shell": {"http_proxy": _PROXY, "https_proxy": _PROXY},
            "has_credentials": [],
        },
        "dns": {
            "resolv_conf": {"nameservers": ["10.0.0.53", "10.0.1.53"], "search": ["corp.example.com"],
                            "options": ["edns0"], "is_stub": False},
            "resolved": None, "daemon_dns": [],
        },
        "tls": {
            "bundle": {"path": "/etc/ssl/certs/ca-certificates.crt", "present": True,
                       "sha256": _BUNDLE_SHA, "size": 219_342, "count": 146},
            "anchors": [{"path": "/usr/local/share/ca-certificates/corp-root.crt",
                         "sha256": _CORP_CA_SHA, "size": 1956}],
            "certs_d": {_REGISTRY: [{"path": f"/etc/docker/certs.d/{_REGISTRY}/ca.crt",
                                     "sha256": _CORP_CA_SHA, "size": 1956, "kind": "ca"}]},
        },
        "network": {
            "interfaces": [
                {"name": "lo", "mtu": 65536, "state": "UNKNOWN", "addresses": ["127.0.0.1/8"]},
                {"name": "eth0", "mtu": 1500, "state": "UP", "addresses": [f"{addr}/16"]},
                {"name": "docker0", "mtu": 1500, "state": "DOWN", "addresses": ["172.17.0.1/16"]},
            ],
            "default_route": {"interface": "eth0", "gateway": "10.20.0.1"},
            "default_mtu": 1500, "docker0_mtu": 1500, "daemon_mtu": None,
        },
        "firewall": {
            "iptables": {"installed": True, "error": None,
                         "rules": ["-P INPUT ACCEPT", "-P FORWARD DROP", "-P OUTPUT ACCEPT",
                                   "-N DOCKER", "-A FORWARD -o docker0 -j DOCKER"],
                         "policies": {"filter.INPUT": "ACCEPT", "filter.FORWARD": "DROP",
                                      "filter.OUTPUT": "ACCEPT"}},
            "ip6tables": {"installed": True, "error": None, "rules": ["-P INPUT ACCEPT"],
                          "policies": {"filter.INPUT": "ACCEPT"}},
            "nft": {"installed": False, "ruleset": "", "error": None},
            "output_blocks_443": False,
        },
        "time": {
            "clock": {"host_epoch": 1_795_000_000.0, "controller_epoch": 1_795_000_000.1,
                      "skew_s": round(rng.uniform(-0.4, 0.4), 3), "uncertainty_s": 0.02},
            "ntp": {"source": "timedatectl", "synchronized": True, "detail": "System clock synchronized: yes"},
        },
        "disk": {
            "data_root": {"path": "/var/lib/docker", "size": data_root_size, "used": used,
                          "avail": data_root_size - used,
                          "used_pct": round(100 * used / data_root_size, 1),
                          "inodes": 13_107_200, "inodes_used": rng.randint(200_000, 900_000),
                          "inodes_used_pct": round(rng.uniform(1.5, 7.0), 1)},
            "root": {"path": "/", "size": 32_212_254_720, "used": 9_663_676_416,
                     "avail": 22_548_578_304, "used_pct": 30.0, "inodes": 1_966_080,
                     "inodes_used": 180_000, "inodes_used_pct": 9.2},
            "docker_df": {"images_size": rng.randint(2, 40) * 10 ** 9, "containers_size": 10 ** 8,
                          "volumes_size": 5 * 10 ** 9, "build_cache_size": 0},
        },
        "credentials": {
            "users": {"root": {"path": "/root/.docker/config.json", "auth_registries": [_REGISTRY],
                               "creds_store": None, "cred_helpers": {}}},
            "root_has_auth": True,
        },
        "daemon_log": {"source": "journalctl", "window_hours": 24, "counts": {}, "samples": {},
                       "error": None},
        "restarts": {"containers": [], "looping": [], "units": []},
    }


def _plant(fault: str, facts: dict, rng: random.Random) -> List[dict]:
    """Apply one fault; return drift items {path, expected, actual, kind, detail}."""
    def item(path, expected, actual, kind="changed", detail=""):
        return {"path": path, "expected": expected, "actual": actual, "kind": kind, "detail": detail}

    if fault == "dns":
        old = facts["dns"]["resolv_conf"]["nameservers"]
        new = rng.choice([["8.8.8.8"], ["127.0.0.53"], ["10.9.0.2", "8.8.4.4"]])
        facts["dns"]["resolv_conf"]["nameservers"] = new
        facts["dns"]["resolv_conf"]["is_stub"] = new == ["127.0.0.53"]
        return [item("dns.resolv_conf.nameservers", old, new)]
    if fault == "mtu":
        mtu = rng.choice([1400, 1450, 1380])
        facts["network"]["interfaces"][1]["mtu"] = mtu
        facts["network"]["default_mtu"] = mtu
        return [item("network.default_mtu", 1500, mtu)]
    if fault == "proxy":
        facts["proxy"]["daemon"] = {}
        facts["proxy"]["dropins"] = []
        facts["docker"]["info"]["http_proxy"] = ""
        facts["docker"]["info"]["https_proxy"] = ""
        return [item("proxy.daemon.HTTPS_PROXY.value", _PROXY, None, "removed",
                     "login shell has https_proxy, the daemon does not"),
                item("docker.info.https_proxy", _PROXY, "")]
    if fault == "ca":
        facts["tls"]["certs_d"] = {}
        facts["tls"]["anchors"] = []
        return [item(f"tls.certs_d.{_REGISTRY}", "ca.crt sha256 4b7e2d9a…", None, "removed"),
                item("tls.anchors", ["/usr/local/share/ca-certificates/corp-root.crt"], [], "removed")]
    if fault == "clock":
        skew = rng.choice([-412.5, 318.0, 7260.2])
        facts["time"]["clock"]["skew_s"] = skew
        facts["time"]["ntp"] = {"source": "timedatectl", "synchronized": False,
                                "detail": "System clock synchronized: no"}
        return [item("time.ntp.synchronized", True, False)]
    if fault == "disk":
        dr = facts["disk"]["data_root"]
        dr["used_pct"] = rng.choice([91.3, 96.8, 99.1])
        return [item("disk.data_root.used_pct", "< 85", dr["used_pct"], "threshold")]
    if fault == "engine":
        v = rng.choice(["20.10.24", "23.0.6", "24.0.7"])
        facts["docker"]["server"]["version"] = v
        facts["docker"]["client"]["version"] = v
        facts["docker"]["info"]["server_version"] = v
        return [item("docker.server.version", "26.1.4", v)]
    if fault == "daemon_json":
        facts["daemon_json"].update(valid=False, config=None, keys=[],
                                    error="Expecting ',' delimiter: line 4 column 3 (char 61)")
        return [item("daemon_json.valid", True, False)]
    if fault == "arch":
        facts["system"]["arch"] = "aarch64"
        facts["system"]["kernel"] = facts["system"]["kernel"].replace("amd64", "arm64").replace("x86_64", "aarch64")
        facts["docker"]["server"]["arch"] = "arm64"
        facts["docker"]["info"]["architecture"] = "aarch64"
        return [item("system.arch", "x86_64", "aarch64")]
    if fault == "creds":
        facts["credentials"] = {"users": {"deploy": {"path": "/home/deploy/.docker/config.json",
                                                     "auth_registries": [_REGISTRY], "creds_store": None,
                                                     "cred_helpers": {}}},
                                "root_has_auth": False}
        return [item("credentials.root_has_auth", True, False)]
    if fault == "firewall":
        fw = facts["firewall"]
        fw["iptables"]["rules"] = fw["iptables"]["rules"] + ["-A OUTPUT -p tcp --dport 443 -j DROP"]
        fw["output_blocks_443"] = True
        return [item("firewall.output_blocks_443", False, True)]
    if fault == "insecure":
        regs = ["127.0.0.0/8", _MIRROR]
        facts["docker"]["info"]["insecure_registries"] = regs
        return [item("docker.info.insecure_registries", ["127.0.0.0/8"], regs)]
    raise ValueError(fault)


def _finding(fault: str, host: str, facts: dict, drift: List[dict]) -> Finding:
    _, category, severity = _FAULTS[fault]
    ev = [{"path": d["path"], "expected": d["expected"], "actual": d["actual"]} for d in drift]
    fam = facts["system"]["family"]
    restart = "sudo systemctl restart docker"
    spec = {
        "dns": ("DNS-RESOLVER-DRIFT", "Resolver differs from the fleet baseline",
                f"dial tcp: lookup {_REGISTRY}: no such host",
                ["cat /etc/resolv.conf", f"getent hosts {_REGISTRY}"]),
        "mtu": ("MTU-BELOW-PATH", f"Interface MTU {facts['network']['default_mtu']} below the fleet's 1500",
                "unexpected EOF / TLS handshake timeout on large layers",
                ["ip link show eth0", "sudo ip link set dev eth0 mtu 1500",
                 "echo '{\"mtu\": 1400}' | sudo tee /etc/docker/daemon.json"]),
        "proxy": ("PROXY-SHELL-NOT-DAEMON", "Proxy set for login shells but not for the Docker daemon",
                  f"Get \"https://{_REGISTRY}/v2/\": dial tcp: i/o timeout",
                  ["sudo mkdir -p /etc/systemd/system/docker.service.d",
                   "printf '[Service]\\nEnvironment=\"HTTPS_PROXY=http://proxy:3128\"\\n' | "
                   "sudo tee /etc/systemd/system/docker.service.d/http-proxy.conf",
                   "sudo systemctl daemon-reload", restart]),
        "ca": ("TLS-REGISTRY-CA-MISSING", f"Registry CA for {_REGISTRY} missing from certs.d",
               "x509: certificate signed by unknown authority",
               [f"sudo mkdir -p /etc/docker/certs.d/{_REGISTRY}",
                f"sudo cp corp-root.crt /etc/docker/certs.d/{_REGISTRY}/ca.crt",
                "sudo update-ca-certificates" if fam == "debian" else "sudo update-ca-trust"]),
        "clock": ("TIME-SKEW", f"Clock skew {facts['time']['clock']['skew_s']:+.0f}s and NTP unsynchronized",
                  "x509: certificate has expired or is not yet valid",
                  ["timedatectl status", "sudo timedatectl set-ntp true"]),
        "disk": ("DISK-DATA-ROOT-FULL", f"Docker data root {facts['disk']['data_root']['used_pct']}% full",
                 "write /var/lib/docker/tmp/...: no space left on device",
                 ["docker system df", "docker image prune -a --filter until=168h"]),
        "engine": ("DAEMON-VERSION-DRIFT", f"Docker engine {facts['docker']['server']['version']} differs from fleet 26.1.4",
                   "behaviour differences in pull and auth between engine versions",
                   ["docker version", "sudo apt-get install --only-upgrade docker-ce" if fam == "debian"
                    else "sudo dnf upgrade docker-ce"]),
        "daemon_json": ("DAEMON-JSON-INVALID", "daemon.json is not valid JSON",
                        "unable to configure the Docker daemon with file /etc/docker/daemon.json",
                        ["sudo python3 -m json.tool /etc/docker/daemon.json", restart]),
        "arch": ("ARCH-DIFFERS", "Architecture aarch64 differs from the fleet (x86_64)",
                 "no matching manifest for linux/arm64/v8 in the manifest list entries",
                 ["docker manifest inspect IMAGE | grep architecture"]),
        "creds": ("AUTH-ROOT-NO-CREDS", f"Credentials for {_REGISTRY} only for user deploy; the daemon pulls as root",
                  "no basic auth credentials",
                  [f"sudo docker login {_REGISTRY}"]),
        "firewall": ("FIREWALL-OUTPUT-443", "Firewall OUTPUT chain drops tcp/443",
                     f"dial tcp {_REGISTRY}:443: i/o timeout",
                     ["sudo iptables -S OUTPUT", "sudo iptables -D OUTPUT -p tcp --dport 443 -j DROP"]),
        "insecure": ("TLS-INSECURE-REGISTRY", f"insecure-registries includes {_MIRROR}",
                     "TLS verification disabled for the mirror: silent MITM exposure",
                     ["sudo jq 'del(.\"insecure-registries\")' /etc/docker/daemon.json"]),
    }[fault]
    rule, title, why, fix = spec
    return Finding(host=host, rule=rule, category=category, severity=severity, title=title,
                   evidence=ev, remediation=fix, why=why)


def _flatten(facts, prefix="") -> Dict[str, str]:
    """Leaf fact paths -> canonical JSON value (lists are leaves: they compare whole)."""
    out: Dict[str, str] = {}
    if isinstance(facts, dict) and facts:
        for k, v in facts.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = json.dumps(facts, sort_keys=True)
    return out


_VOLATILE = ("uptime_s", "used", "avail", "used_pct", "inodes_used", "inodes_used_pct",
             "host_epoch", "controller_epoch", "skew_s", "containers_running",
             "containers_total", "images", "images_size", "addresses")


def _matrix(hosts: Dict[str, HostResult], identity_paths: bool) -> Dict[str, list]:
    """Consensus matrix as compare produces it: differing paths, majority value first."""
    values: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for name, h in hosts.items():
        if h.status == "unreachable":
            continue
        for path, val in _flatten(h.facts).items():
            leaf = path.rsplit(".", 1)[-1]
            if leaf in _VOLATILE or (not identity_paths and path == "system.hostname"):
                continue
            values[path][val].append(name)
    matrix = {}
    for path, by_val in sorted(values.items()):
        if len(by_val) < 2:
            continue
        entries = sorted(by_val.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        matrix[path] = [{"value": json.loads(v), "hosts": names} for v, names in entries]
    return matrix


def synthetic_run(n: int, *, seed: int = 7, fault_rate: float = 0.04,
                  unreachable_rate: float = 0.015, partial_rate: float = 0.01,
                  hub_anonymous_rate: float = 0.5, hostile: bool = False,
                  identity_paths: bool = True, baseline: Optional[dict] = None) -> RunResult:
    """A RunResult of `n` hosts as the pipeline would hand it to the renderers.

    hub_anonymous_rate: share of hosts that get the fleet-wide info finding about
    anonymous Docker Hub pulls (one finding repeated on many hosts, the common case
    that a naive report multiplies). hostile: host 0 reports XSS payloads in its facts,
    error messages and findings; unreachable hosts' messages carry them too.
    """
    rng = random.Random(seed)
    hosts: Dict[str, HostResult] = {}
    findings: List[Finding] = []
    drift: Dict[str, List[dict]] = {}
    fault_names = list(_FAULTS)
    fault_weights = [_FAULTS[f][0] for f in fault_names]
    for i in range(n):
        region = ("eu1", "eu2", "us1", "ap1")[i % 4]
        role = ("web", "api", "worker", "batch", "cache")[(i // 4) % 5]
        name = f"{role}-{region}-{i:05d}.prod.example.net"
        addr = f"10.{20 + i // 65025 % 200}.{i // 255 % 255}.{i % 255 + 1}"
        # Inventory groups (zones and roles, as ops people slice a fleet); no rng draw, so
        # a seed gives the same hosts, faults and findings as before groups existed.
        groups = [f"zone_{region}", f"role_{role}"] + ([XSS_GROUP] if hostile and i < 2 else [])
        roll = rng.random()
        if roll < unreachable_rate or (hostile and i == 1):
            cls, msg = rng.choice(_UNREACHABLE)
            message = msg.format(addr=addr, name=name)
            if hostile and i == 1:
                message = f"{XSS_IMG} {XSS_SCRIPT}\x07\x1b[31m banner"
            hosts[name] = HostResult(name=name, address=addr, status="unreachable",
                                     error=HostError(cls, message), duration_s=10.0, attempts=3,
                                     groups=groups)
            continue
        facts = _base_facts(rng, name, i)
        host = HostResult(name=name, address=addr, facts=facts,
                          bytes_received=rng.randint(40_000, 90_000),
                          duration_s=round(rng.uniform(0.4, 2.5), 3), groups=groups)
        if roll < unreachable_rate + partial_rate:
            host.status = "partial"
            host.error = HostError("sudo", "sudo: a password is required")
            host.incomplete = {"firewall": "sudo", "daemon_log": "sudo"}
            facts["firewall"] = {"iptables": {"installed": True, "rules": [], "policies": {},
                                              "error": "sudo: a password is required"},
                                 "ip6tables": None, "nft": None, "output_blocks_443": None}
        host_drift: List[dict] = []
        planted = []
        if rng.random() < fault_rate or (hostile and i == 0):
            planted.append(rng.choices(fault_names, fault_weights)[0])
            if rng.random() < 0.25:
                planted.append(rng.choices(fault_names, fault_weights)[0])
        if hostile and i == 0:
            facts["system"]["os"]["pretty_name"] = XSS_SCRIPT
            facts["dns"]["resolv_conf"]["search"] = [XSS_IMG]
            planted = ["dns"]
        for fault in dict.fromkeys(planted):
            items = _plant(fault, facts, rng)
            host_drift.extend(items)
            findings.append(_finding(fault, name, facts, items))
        if hostile and i == 0:
            host_drift.append({"path": "dns.resolv_conf.search", "expected": ["corp.example.com"],
                               "actual": [XSS_IMG], "kind": "changed", "detail": XSS_SCRIPT})
            findings.append(Finding(host=name, rule="DNS-SEARCH-DRIFT", category="dns",
                                    severity="critical", title=f"search domain {XSS_SCRIPT}",
                                    evidence=[{"path": "dns.resolv_conf.search", "expected": ["corp.example.com"],
                                               "actual": [XSS_IMG]}, f"raw line: {XSS_IMG}"],
                                    remediation=[f"echo '{XSS_SCRIPT}'"], why=XSS_IMG))
        if rng.random() < hub_anonymous_rate:
            findings.append(Finding(
                host=name, rule="RATELIMIT-HUB-ANONYMOUS", category="ratelimit", severity="info",
                title="Docker Hub pulls are anonymous (100 pulls / 6 h per IP)",
                evidence=[{"path": "credentials.users.root.auth_registries",
                           "expected": "contains https://index.docker.io/v1/",
                           "actual": facts["credentials"]["users"].get("root", {}).get("auth_registries", [])}],
                remediation=["sudo docker login", "or configure a pull-through mirror in daemon.json"],
                why="toomanyrequests: You have reached your pull rate limit."))
        if host_drift:
            baseline_name = (baseline or {}).get("name") or "fleet consensus"
            drift[name] = [dict(d, host=name, baseline=baseline_name) for d in host_drift]
        hosts[name] = host
    run = {"started": "2026-11-30T08:00:00Z", "finished": "2026-11-30T08:01:12Z",
           "duration_s": 72.4, "hosts": n, "inventory": "inventories/prod.ini",
           "collectors": ["system", "docker", "daemon_json", "proxy", "dns", "tls", "network",
                          "firewall", "time", "disk", "credentials", "daemon_log", "restarts"],
           "tool_version": "0.1.0"}
    extra = {
        "baseline": baseline or {"kind": "consensus", "name": "fleet consensus"},
        "drift": drift,
        "matrix": _matrix(hosts, identity_paths),
    }
    return RunResult(run=run, hosts=hosts, findings=findings, extra=extra)


if __name__ == "__main__":
    from fleetaudit.snapshot import to_json

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    json.dump(to_json(synthetic_run(count)), sys.stdout)
