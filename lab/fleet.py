"""The test fleet: real SSH/Docker hosts made of Linux namespaces on this machine.

Each host is a network namespace (veth to a bridge in the root namespace, an address
in 10.213.0.0/16) plus its own mount/UTS/IPC/PID namespaces, with overlayfs layers over
/etc, /root, /home, /usr/local/bin, /usr/local/share/ca-certificates, /var/lib and
/var/log (upper dirs under the state dir), tmpfs on /run and /dev/shm, a size- and
inode-limited tmpfs on /var/lib/docker, and its own sshd (PID 1 of the host) and,
for docker hosts, its own dockerd.

Everything the lab creates is recorded in STATE_DIR/lab.json; `down()` removes exactly
that (recorded PIDs, processes inside the recorded network namespaces, the recorded
namespaces and bridge), never anything found by name patterns.

See lab/README.md for usage.

Why one module (~1,400 lines): the Fleet class is one lifecycle (slot lock, network,
per-host namespaces, overlays, sshd, dockerd, services, recorded state, teardown) whose
steps share the recorded state and must undo in reverse order what the earlier ones
did; splitting it would spread the "record everything, remove exactly that" invariant
across modules. Shared constants and HostSpec are in lab/common.py (also used by
lab/services.py); the services (registry, resolver, proxy, builder) in services.py.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from . import pki

# Shared with lab/services.py (re-exported: tests import them from lab.fleet).
from .common import (  # noqa: F401
    KINDS, SSHD_KINDS, WEDGE_TARGETS, LAB_NET, SLOT_PREFIX, MAX_SLOTS, HOSTS_PER_24, DOMAIN,
    REGISTRY_NAME, MIRROR_NAME, PROXY_NAME, PROXY_PORT, REGISTRY_PORT, HOST_PATH,
    FAKETIME_LIB, OVERLAY_DIRS, _FORBIDDEN_STATE_PARENTS, SLOT_REGISTRY, NAME_RE,
    RESERVED_NAMES, SVC_OFFSETS, EXPIRED_REGISTRY_NAME, NOTYET_REGISTRY_NAME, TOKEN_PORT, DEAD_OFFSET, UID_BASE, Content,
    LabError, HostSpec, _write,
)

# ---------------------------------------------------------------------------
# specs and hosts


@dataclass
class LabHost:
    name: str
    address: str
    kind: str
    netns: str
    key_path: str
    dir: str
    port: int = 22
    user: str = "root"
    become: bool = False
    groups: list = field(default_factory=list)
    in_inventory: bool = True
    init_pid: Optional[int] = None  # PID (root ns) of the host's PID 1 (sshd)
    docker: Optional[bool] = None  # True: dockerd answers; False: dockerd failed; None: no dockerd
    docker_error: Optional[str] = None

    def upper(self, path: str) -> Path:
        """Where a host path lives in the host's overlay upper dir (for reading planted
        or produced files from outside, e.g. upper('/var/log/docker.log'))."""
        for d in sorted(OVERLAY_DIRS, key=len, reverse=True):
            if path == d or path.startswith(d + "/"):
                return Path(self.dir) / "upper" / d.lstrip("/") / path[len(d) + 1:]
        raise LabError(f"{path} is not under an overlaid directory {OVERLAY_DIRS}")

    @property
    def docker_log(self) -> Path:
        return self.upper("/var/log/docker.log")

    @property
    def sshd_log(self) -> Path:
        return Path(self.dir) / "sshd.log"


# ---------------------------------------------------------------------------
# helpers


def _run(argv, check=True, input=None, timeout=120, env=None) -> subprocess.CompletedProcess:
    p = subprocess.run(
        argv, input=input, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else _clean_env(),
    )
    if check and p.returncode != 0:
        raise LabError(
            f"command failed ({p.returncode}): {' '.join(map(shlex.quote, argv))}\n"
            f"{p.stderr.strip() or p.stdout.strip()}"
        )
    return p


def _clean_env() -> dict:
    return {"PATH": HOST_PATH, "LANG": "C.UTF-8", "HOME": "/root"}


def _size_bytes(s: str) -> int:
    m = re.fullmatch(r"(\d+)([kmgKMG]?)", s.strip())
    if not m:
        raise LabError(f"bad size {s!r} (use e.g. 256m)")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def _proc_starttime(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2:].split()[19])


def _children(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _proc_state_comm(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None, None
    comm = data[data.index("(") + 1:data.rindex(")")]
    state = data[data.rindex(")") + 2:].split()[0]
    return state, comm


def _clear_stale_links(veth_prefix: str, bridge: str, log, wait_s: float = 60.0) -> None:
    """Links of this slot left by the fleet that used it before: the kernel
    destroys a deleted namespace's veths asynchronously (cleanup_net), which takes long
    after a large teardown, and `ip link add` of the same name then fails with "File
    exists". The slot is claimed by us, so whatever holds its names is a leftover of ours:
    delete it, then wait (bounded) until the kernel has let the names go."""
    def stale():
        out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        names = [line.split(": ", 2)[1].split("@", 1)[0] for line in out.splitlines()
                 if line.count(": ") >= 2]
        return [n for n in names if n == bridge or re.fullmatch(re.escape(veth_prefix) + r"\d+", n)]
    left = stale()
    if not left:
        return
    log(f"removing {len(left)} link(s) left on this slot by a previous fleet")
    for name in left:
        subprocess.run(["ip", "link", "del", name], capture_output=True)
    end = time.monotonic() + wait_s
    while stale() and time.monotonic() < end:  # a veth the kernel is still destroying
        time.sleep(0.5)


def _tail(path, n=20) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def dns_query(server: str, name: str, timeout: float = 1.0) -> tuple:
    """Minimal DNS A query over UDP: returns (rcode, [addresses]). For lab checks only."""
    qid = secrets.randbits(16)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (server, 53))
        data, _ = s.recvfrom(4096)
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    rcode = flags & 0xF
    pos = 12
    for _ in range(qd):
        while data[pos] != 0:
            pos += data[pos] + 1
        pos += 5
    addrs = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos] != 0:
                pos += data[pos] + 1
            pos += 1
        typ, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if typ == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += rdlen
    return rcode, addrs


def env_from_dropins(files: dict) -> dict:
    """Environment= lines of planted docker.service.d drop-ins, in file order (systemd semantics, simplified)."""
    env = {}
    for path in sorted(files):
        if not (path.startswith("/etc/systemd/system/docker.service.d/") and path.endswith(".conf")):
            continue
        content = files[path]
        if isinstance(content, bytes):
            content = content.decode()
        for line in content.splitlines():
            line = line.strip()
            if not line.startswith("Environment="):
                continue
            for item in shlex.split(line[len("Environment="):]):
                if "=" in item:
                    k, v = item.split("=", 1)
                    env[k] = v
    return env


# ---------------------------------------------------------------------------
# the fleet


class Fleet:
    """A fleet of namespace hosts whose whole state lives under `state_dir`."""

    def __init__(self, state_dir: Union[str, os.PathLike], slot: Optional[int] = None):
        self.state_dir = Path(os.path.abspath(os.fspath(state_dir)))
        self._want_slot = slot
        self._state_path = self.state_dir / "lab.json"
        self.state: dict = {}
        if self._state_path.exists():
            self.state = json.loads(self._state_path.read_text())

    # ----- public attributes -------------------------------------------------

    @property
    def hosts(self) -> dict:
        """name -> LabHost, for every host of the fleet (hidden helper hosts excluded)."""
        return {n: h for n, h in self._all_hosts().items() if h.in_inventory}

    def _all_hosts(self) -> dict:
        return {n: LabHost(**d) for n, d in self.state.get("hosts", {}).items()}

    @property
    def key_path(self) -> str:
        return str(self.state_dir / "keys" / "id_ed25519")

    @property
    def known_hosts_path(self) -> str:
        return str(self.state_dir / "keys" / "known_hosts")

    @property
    def ca_cert_path(self) -> str:
        return str(self.state_dir / "pki" / "ca.crt")

    @property
    def ca_cert_pem(self) -> str:
        return Path(self.ca_cert_path).read_text()

    @property
    def registry(self) -> str:
        """host[:port] of the fleet registry, as used in image references."""
        return REGISTRY_NAME if REGISTRY_PORT == 443 else f"{REGISTRY_NAME}:{REGISTRY_PORT}"

    @property
    def registry_user(self) -> str:
        return self.state["secrets"]["registry_user"]

    @property
    def registry_password(self) -> str:
        return self.state["secrets"]["registry_password"]

    @property
    def registry_auth(self) -> str:
        """The base64 `auth` value of a docker config.json entry for the registry (a secret)."""
        return base64.b64encode(f"{self.registry_user}:{self.registry_password}".encode()).decode()

    @property
    def proxy_user(self) -> str:
        return self.state["secrets"]["proxy_user"]

    @property
    def proxy_password(self) -> str:
        return self.state["secrets"]["proxy_password"]

    @property
    def proxy_url(self) -> str:
        """Proxy URL without credentials."""
        return f"http://{PROXY_NAME}:{PROXY_PORT}"

    @property
    def proxy_url_with_credentials(self) -> str:
        return f"http://{self.proxy_user}:{self.proxy_password}@{PROXY_NAME}:{PROXY_PORT}"

    @property
    def planted_secrets(self) -> list:
        """Secret strings planted on hosts; none may appear in any auditor output."""
        return list(self.state.get("planted_secrets", []))

    def add_planted_secret(self, value: str) -> None:
        self.prepare()
        if value not in self.state["planted_secrets"]:
            self.state["planted_secrets"].append(value)
            self._save()

    @property
    def images(self) -> dict:
        """Images pushed to the fleet registry during up(): key -> full reference
        ('app', 'app_next', 'app_latest', and if built 'multi', 'arm_only')."""
        return dict(self.state.get("images", {}))

    @property
    def pull_results(self) -> dict:
        """Results of the HostSpec.pulls run by up(): host -> [{image, rc, output}]."""
        return dict(self.state.get("pulls", {}))

    @property
    def expired_registry(self) -> str:
        """A second registry serving the same repositories with an expired certificate
        (signed by the lab CA): pulls fail with 'certificate has expired or is not yet valid'."""
        return EXPIRED_REGISTRY_NAME

    @property
    def notyet_registry(self) -> str:
        """A third registry over the same storage whose certificate is not valid yet
        (starts in two days): pulls fail with 'certificate has expired or is not yet valid'."""
        return NOTYET_REGISTRY_NAME

    @property
    def registry_address(self) -> str:
        return self.service_address("registry")

    @property
    def subnet(self) -> str:
        return self.state["subnet"]

    @property
    def bridge(self) -> str:
        return self.state["bridge"]

    def service_address(self, name: str) -> str:
        """Address of a lab service: 'gateway' (root ns), 'dns', 'registry', 'proxy', 'builder'."""
        return str(self._net()[SVC_OFFSETS[name]])

    @property
    def dns_address(self) -> str:
        return self.service_address("dns")

    @property
    def dead_address(self) -> str:
        """An address inside the lab subnet that nothing holds (for a dead resolver etc.)."""
        return str(self._net()[DEAD_OFFSET])

    @property
    def default_resolv_conf(self) -> str:
        return f"search {DOMAIN}\nnameserver {self.dns_address}\n"

    def system_ca_bundle_with_lab_ca(self) -> str:
        """The machine's /etc/ssl/certs/ca-certificates.crt with the lab CA appended."""
        base = Path("/etc/ssl/certs/ca-certificates.crt").read_text()
        if not base.endswith("\n"):
            base += "\n"
        return base + self.ca_cert_pem

    # ----- preparation (slot, keys, CA, secrets) ------------------------------

    def prepare(self) -> "Fleet":
        """Allocate the fleet's subnet slot and create keys, CA and secrets (idempotent).

        Called by up(); call it yourself when you need addresses, the CA or the
        secrets to write specs (see lab.demo.demo_specs)."""
        _require_root()
        self._check_state_dir()
        if self.state.get("prepared"):
            self._ensure_slot_claim()
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self._state_path.exists():
                self.state = json.loads(self._state_path.read_text())
                if self.state.get("prepared"):
                    return self
            slot = self._claim_slot()
            net = ipaddress.ip_network(
                f"{LAB_NET.network_address + slot * (1 << (32 - SLOT_PREFIX))}/{SLOT_PREFIX}"
            )
            tok = secrets.token_hex(12)
            sec = {
                "registry_user": "fleetci",
                "registry_password": f"LABSECRET-registry-{tok}",
                "proxy_user": "proxyuser",
                "proxy_password": f"LABSECRET-proxy-{secrets.token_hex(8)}",
                "sudo_password": f"LABSECRET-sudo-{secrets.token_hex(8)}",
            }
            self.state = {
                "version": 1,
                "prepared": True,
                "status": "prepared",
                "slot": slot,
                "subnet": str(net),
                "bridge": f"flbr{slot}",
                "netns_prefix": f"fl{slot}-",
                "secrets": sec,
                "planted_secrets": [],
                "hosts": {},
                "netns": [],
                "procs": [],
                "bridge_created": False,
            }
            keys = self.state_dir / "keys"
            keys.mkdir(parents=True, exist_ok=True)
            priv, pub = pki.ed25519_keypair("fleetaudit-lab-client")
            _write(keys / "id_ed25519", priv, 0o600)
            _write(keys / "id_ed25519.pub", pub + "\n", 0o644)
            _write(keys / "known_hosts", "", 0o644)
            ca_key, ca_cert = pki.make_ca()
            _write(self.state_dir / "pki" / "ca.key", ca_key, 0o600)
            _write(self.state_dir / "pki" / "ca.crt", ca_cert, 0o644)
            self.state["planted_secrets"] = [
                sec["registry_password"],
                base64.b64encode(f"{sec['registry_user']}:{sec['registry_password']}".encode()).decode(),
                sec["proxy_password"],
                sec["sudo_password"],
            ]
            self._save()
        return self

    def _net(self):
        if not self.state.get("prepared"):
            self.prepare()
        return ipaddress.ip_network(self.state["subnet"])

    def _check_state_dir(self):
        sd = str(self.state_dir)
        if re.search(r"[\s,'\"\\]", sd):
            raise LabError(f"state_dir {sd!r}: no whitespace, commas, quotes or backslashes (used in fstab and mount options)")
        for p in _FORBIDDEN_STATE_PARENTS:
            if sd == p or sd.startswith(p + "/"):
                raise LabError(
                    f"state_dir {sd} is under {p}, which hosts overlay or replace; "
                    "use a path such as /work/main/.lab/NAME or /tmp/..."
                )

    @contextlib.contextmanager
    def _lock(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _save(self):
        tmp = self._state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self._state_path)

    # slot registry: /run/lock/fleetaudit-lab/slot-K holds the claiming state dir
    def _claim_slot(self) -> int:
        SLOT_REGISTRY.mkdir(parents=True, exist_ok=True)
        with open(SLOT_REGISTRY / ".lock", "w") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            candidates = [self._want_slot] if self._want_slot is not None else range(MAX_SLOTS)
            for k in candidates:
                if self._slot_free(k):
                    (SLOT_REGISTRY / f"slot-{k}").write_text(str(self.state_dir))
                    return k
        raise LabError(
            f"no free lab slot (claims in {SLOT_REGISTRY}); tear down old fleets with "
            "`python -m lab down STATE_DIR`"
        )

    def _ensure_slot_claim(self):
        f = SLOT_REGISTRY / f"slot-{self.state['slot']}"
        try:
            owner = f.read_text().strip()
        except OSError:
            owner = None
        if owner != str(self.state_dir):
            if owner is None or self._slot_free(self.state["slot"]):
                SLOT_REGISTRY.mkdir(parents=True, exist_ok=True)
                f.write_text(str(self.state_dir))
            else:
                raise LabError(f"slot {self.state['slot']} of {self.state_dir} was taken by {owner}")

    @staticmethod
    def _slot_free(k: int) -> bool:
        if Path(f"/sys/class/net/flbr{k}").exists():
            return False
        prefix = f"fl{k}-"
        if any(n.startswith(prefix) for n in _netns_list()):
            return False
        f = SLOT_REGISTRY / f"slot-{k}"
        if not f.exists():
            return True
        owner = Path(f.read_text().strip())
        try:
            st = json.loads((owner / "lab.json").read_text())
        except (OSError, ValueError):
            return True
        if st.get("slot") != k or st.get("status") == "down":
            return True
        if st.get("status") in ("prepared", "failed") and time.time() - f.stat().st_mtime > 900:
            return True  # never brought up (or failed) long ago: a stale claim
        return False

    # ----- up ----------------------------------------------------------------

    def up(self, specs: Iterable[HostSpec], services: Optional[bool] = None,
           timeout: float = 120.0, progress: Optional[Callable[[str], None]] = None) -> "Fleet":
        """Build the fleet. Re-running with the same specs on a healthy fleet is a no-op;
        different specs (or a broken fleet) are torn down and rebuilt.

        services: start the registry/resolver/proxy (and the hidden image builder);
        default: when any host is a docker host.
        """
        _require_root()
        specs = list(specs)
        self._validate(specs)
        if services is None:
            services = any(s.kind == "docker" for s in specs)
        fp = hashlib.sha256(
            json.dumps([s.fingerprint_data() for s in specs] + [bool(services)], sort_keys=True).encode()
        ).hexdigest()
        log = progress or (lambda m: None)
        self.prepare()
        with self._lock():
            if self._state_path.exists():
                self.state = json.loads(self._state_path.read_text())
            if self.state.get("status") == "up" and self.state.get("fingerprint") == fp and self._healthy():
                log("fleet already up with the same specs")
                return self
            if self.state.get("netns") or self.state.get("procs") or self.state.get("bridge_created"):
                log("tearing down previous fleet")
                self._teardown(remove_files=False)
            for k in ("images", "images_error", "pulls", "service_pids"):
                self.state.pop(k, None)
            self.state["fingerprint"] = fp
            self.state["status"] = "starting"
            self.state["services"] = bool(services)
            self._save()
            t0 = time.monotonic()
            try:
                self._build(specs, bool(services), timeout, log)
            except BaseException as e:
                self.state["status"] = "failed"
                self._save()
                try:
                    self._teardown(remove_files=False)
                except Exception as te:  # keep the original error; report the teardown problem too
                    log(f"teardown after failure also failed: {te}")
                finally:
                    self.state["status"] = "failed"
                    self._save()
                if isinstance(e, LabError):
                    raise LabError(f"{e}\n(the lab was torn down; logs are kept under {self.state_dir})") from None
                raise
            self.state["status"] = "up"
            self.state["up_seconds"] = round(time.monotonic() - t0, 2)
            self._save()
        return self

    def _validate(self, specs):
        seen = set()
        for s in specs:
            if not NAME_RE.match(s.name):
                raise LabError(f"host name {s.name!r}: use lowercase letters, digits and '-'")
            if s.name in RESERVED_NAMES:
                raise LabError(f"host name {s.name!r} is reserved for a lab service")
            if s.name in seen:
                raise LabError(f"duplicate host name {s.name!r}")
            seen.add(s.name)
            if s.kind not in KINDS:
                raise LabError(f"host {s.name}: unknown kind {s.kind!r} (one of {KINDS})")
            for p in s.files:
                if not p.startswith("/"):
                    raise LabError(f"host {s.name}: file path {p!r} must be absolute")
                if not any(p.startswith(d + "/") for d in OVERLAY_DIRS):
                    raise LabError(f"host {s.name}: cannot plant {p}: not under {OVERLAY_DIRS}")
            for u in s.users:
                if not NAME_RE.match(u) or u == "root":
                    raise LabError(f"host {s.name}: bad user name {u!r}")
            for u, mode in s.sudo.items():
                if mode not in ("nopasswd", "password"):
                    raise LabError(f"host {s.name}: sudo mode for {u} must be 'nopasswd' or 'password'")
                if u != "root" and u not in s.users:
                    raise LabError(f"host {s.name}: sudo user {u} is not in users")
            if s.login_user != "root" and s.login_user not in s.users:
                raise LabError(f"host {s.name}: login_user {s.login_user} is not in users")
            if s.wedge is not None and (s.wedge not in WEDGE_TARGETS or s.kind != "docker"
                                        or not s.start_docker):
                raise LabError(f"host {s.name}: wedge must be one of {WEDGE_TARGETS} on a docker host "
                               "that starts dockerd")
            for k, v in s.session_env.items():
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) or re.search(r'[\s"\\]', str(v)):
                    raise LabError(f"host {s.name}: session_env {k!r}: a plain name and a value "
                                   "without blanks, quotes or backslashes")
            if s.kind == "busybox" and not shutil.which("busybox"):
                raise LabError("busybox is not installed on this machine (apt-get install busybox-static)")
            if s.fill_data_root_pct is not None and not 0 < s.fill_data_root_pct < 100:
                raise LabError(f"host {s.name}: fill_data_root_pct must be 1..99")
            _size_bytes(s.data_root_size)
        net = self._net()
        if len(specs) > (MAX_SLOT_HOSTS := (net.num_addresses // 256 - 1) * HOSTS_PER_24):
            raise LabError(f"at most {MAX_SLOT_HOSTS} hosts per fleet")

    def _host_address(self, index: int) -> str:
        net = self._net()
        third, fourth = divmod(index, HOSTS_PER_24)
        return str(net.network_address + 256 * (third + 1) + fourth + 1)

    # The build ---------------------------------------------------------------

    def _build(self, specs, services: bool, timeout: float, log):
        t_start = time.monotonic()
        deadline = t_start + timeout
        net = self._net()
        prefix = self.state["netns_prefix"]
        slot = self.state["slot"]
        all_specs = list(specs)
        if services:
            from .services import builder_spec

            all_specs.append(builder_spec(self))
        hosts_dir = self.state_dir / "hosts"
        if hosts_dir.exists():
            shutil.rmtree(hosts_dir)
        hosts_dir.mkdir(parents=True)
        client_pub = (self.state_dir / "keys" / "id_ed25519.pub").read_text()
        cg_mounts = _cgroup_mounts()
        overlay_dirs = [d for d in OVERLAY_DIRS if os.path.isdir(d)]
        base_files = _base_files()

        # 1. per-host directories, keys, configs, start scripts
        hosts = {}
        known = []
        idx = 0
        for s in all_specs:
            if s.name == "builder":
                addr = self.service_address("builder")
            else:
                addr = self._host_address(idx)
                idx += 1
            h = LabHost(
                name=s.name, address=addr, kind=s.kind, netns=prefix + s.name,
                key_path=self.key_path, dir=str(hosts_dir / s.name), user=s.login_user,
                become=s.become if s.become is not None else s.login_user != "root",
                groups=list(s.groups), in_inventory=s.in_inventory,
            )
            hosts[s.name] = h
            pub = self._prepare_host(s, h, client_pub, cg_mounts, overlay_dirs, base_files)
            if pub:
                known.append(f"{h.address},{h.name} {pub}\n")
        if services:
            from .services import prepare_services

            svc_specs = prepare_services(self, hosts)
        else:
            svc_specs = {}
        _write(Path(self.known_hosts_path), "".join(known))
        log(f"prepared {len(hosts)} hosts in {time.monotonic() - t_start:.1f}s")

        # 2. network: bridge + one netns/veth per host and service (recorded before creation)
        ns_names = [h.netns for h in hosts.values()] + [prefix + n for n in svc_specs]
        self.state["hosts"] = {n: dataclasses.asdict(h) for n, h in hosts.items()}
        self.state["netns"] = ns_names
        self.state["bridge_created"] = True
        self.state["procs"] = []
        self._save()
        br = self.state["bridge"]
        _clear_stale_links(f"fl{slot}v", br, log)
        _run(["ip", "link", "add", br, "type", "bridge"])
        _run(["ip", "addr", "add", f"{self.service_address('gateway')}/{net.prefixlen}", "dev", br])
        _run(["ip", "link", "set", br, "up"])
        batch = []
        for i, ns in enumerate(ns_names):
            veth = f"fl{slot}v{i}"
            batch.append(f"netns add {ns}")
            batch.append(f"link add {veth} type veth peer name eth0 netns {ns}")
            batch.append(f"link set {veth} master {br} up")
        _run(["ip", "-batch", "-"], input="\n".join(batch) + "\n", timeout=600)
        log(f"network ready ({len(ns_names)} namespaces) at {time.monotonic() - t_start:.1f}s")

        # 3. start services and hosts
        procs = {}
        for name, argv in svc_specs.items():
            procs[("svc", name)] = self._spawn(argv, Path(self.state_dir / "services" / name / "start.log"))
            self.state.setdefault("service_pids", {})[name] = procs[("svc", name)].pid
        # Bounded start concurrency: a host counts as "starting" until its start script
        # has exec'd sshd (or exited); a herd of hundreds of scripts only thrashes 2 cores.
        cap = max(8, 4 * (os.cpu_count() or 2))
        starting = []
        for h in hosts.values():
            while len(starting) >= cap and time.monotonic() < deadline:
                starting = [(hn, p) for hn, p in starting if not _start_done(p)]
                if len(starting) >= cap:
                    time.sleep(0.005)
            argv = self._start_argv(h)
            p = procs[("host", h.name)] = self._spawn(argv, Path(h.dir) / "start.log")
            if h.kind in SSHD_KINDS:
                starting.append((h.name, p))
        log(f"spawned {len(procs)} start scripts at {time.monotonic() - t_start:.1f}s")

        # 4. wait for completion / readiness
        self._wait_ready(hosts, procs, svc_specs, deadline)
        self.state["hosts"] = {n: dataclasses.asdict(h) for n, h in hosts.items()}
        self._save()
        log(f"hosts ready at {time.monotonic() - t_start:.1f}s")
        if services:
            from .services import build_images

            build_images(self, log, deadline)
            log(f"images pushed at {time.monotonic() - t_start:.1f}s")
        pulls = [(s.name, img) for s in specs for img in s.pulls]
        if pulls:
            self._run_pulls(pulls, deadline)
            log(f"{len(pulls)} pulls done at {time.monotonic() - t_start:.1f}s")
        for s in specs:
            if s.wedge:
                self._wedge(s.name, s.wedge)

    def _wedge(self, name: str, target: str) -> None:
        """SIGSTOP the host's dockerd or containerd: its socket still accepts, nothing answers."""
        p = self.exec(name, f"pids=$(pidof {target}) && kill -STOP $pids && echo $pids", check=True)
        self.state.setdefault("wedged", {})[name] = {"target": target, "pids": p.stdout.split()}
        self._save()

    def _run_pulls(self, pulls, deadline):
        from concurrent.futures import ThreadPoolExecutor

        def one(item):
            name, image = item
            rc, out = self.pull(name, image, timeout=max(10, deadline - time.monotonic()))
            return name, {"image": image, "rc": rc, "output": out[-4000:]}

        results: dict = {}
        with ThreadPoolExecutor(min(8, len(pulls))) as ex:
            for name, res in ex.map(one, pulls):
                results.setdefault(name, []).append(res)
        self.state["pulls"] = results
        self._save()

    def _spawn(self, argv, logpath: Path) -> subprocess.Popen:
        logpath.parent.mkdir(parents=True, exist_ok=True)
        with open(logpath, "ab") as lf:
            p = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                start_new_session=True, env=_clean_env(), close_fds=True,
            )
        st = _proc_starttime(p.pid)
        self.state["procs"].append({"pid": p.pid, "start": st, "argv0": argv[0]})
        return p

    def _start_argv(self, h: LabHost) -> list:
        script = str(Path(h.dir) / "start.sh")
        if h.kind in SSHD_KINDS:
            return ["ip", "netns", "exec", h.netns, "unshare", "--mount", "--uts", "--ipc", "--pid",
                    "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
                    "/bin/sh", script]
        return ["ip", "netns", "exec", h.netns, "/bin/sh", script]

    def _prepare_host(self, s: HostSpec, h: LabHost, client_pub: str, cg_mounts, overlay_dirs,
                      base_files) -> Optional[str]:
        d = Path(h.dir)
        d.mkdir(parents=True)
        net = self._net()
        q = shlex.quote
        net_setup = [
            "ip link set lo up",
            f"ip addr add {h.address}/{net.prefixlen} dev eth0",
            f"ip link set eth0 {'mtu %d ' % s.mtu if s.mtu else ''}up",
        ]
        for rule in s.iptables:
            net_setup.append("iptables " + " ".join(q(a) for a in shlex.split(rule)))
        if s.kind == "blackhole":
            net_setup.append("iptables -A INPUT -j DROP")

        if s.kind not in SSHD_KINDS:
            lines = ["#!/bin/sh", f"# lab host {s.name} ({s.kind})", "set -e"] + net_setup
            if s.kind == "silent":
                lines.append(f"exec {q(_python())} -c {q(_SILENT_LISTENER)} {q(h.address)}")
            _write(d / "start.sh", "\n".join(lines) + "\n", 0o755)
            return None

        # overlay upper/work dirs
        for od in overlay_dirs:
            (d / "upper" / od.lstrip("/")).mkdir(parents=True, exist_ok=True)
            (d / "work" / od.lstrip("/")).mkdir(parents=True, exist_ok=True)
        up = lambda p: h.upper(p)  # noqa: E731

        # identity & users
        passwd, shadow, group = base_files["passwd"], base_files["shadow"], base_files["group"]
        uids = {}
        for i, u in enumerate(s.users):
            uid = UID_BASE + i
            uids[u] = uid
            pw = "*"
            if s.sudo.get(u) == "password":
                pw = self.state["secrets"].get("sudo_password_hash") or self._sudo_hash()
            passwd += f"{u}:x:{uid}:{uid}:lab user:/home/{u}:/bin/bash\n"
            shadow += f"{u}:{pw}:20000:0:99999:7:::\n"
            group += f"{u}:x:{uid}:\n"
        if s.kind == "busybox":  # no bash there: root logs in to busybox sh
            passwd = re.sub(r"^(root:[^\n]*:)[^:\n]*$", r"\1/bin/sh", passwd, count=1, flags=re.M)
        if s.users or s.kind == "busybox":
            _write(up("/etc/passwd"), passwd, 0o644)
            _write(up("/etc/shadow"), shadow, 0o640, 0, base_files["shadow_gid"])
            _write(up("/etc/group"), group, 0o644)
        _write(up("/etc/hostname"), s.name + "\n")
        if s.dead_resolver:
            _write(up("/etc/hosts"), "127.0.0.1\tlocalhost\n")
            _write(up("/etc/resolv.conf"), f"search {DOMAIN}\nnameserver {self.dead_address}\n")
        else:
            _write(up("/etc/hosts"), f"127.0.0.1\tlocalhost\n{h.address}\t{s.name}.{DOMAIN} {s.name}\n")
            _write(up("/etc/resolv.conf"), self.default_resolv_conf)
        _write(up("/root/.ssh/authorized_keys"), client_pub, 0o600)
        # a plain Debian root .bashrc: hosts should not run this machine's pyenv init
        _write(up("/root/.bashrc"), _DEBIAN_ROOT_BASHRC)
        for u, uid in uids.items():
            home = f"/home/{u}"
            for sk in ("/etc/skel/.bashrc", "/etc/skel/.profile", "/etc/skel/.bash_logout"):
                if os.path.exists(sk):
                    _write(up(home + "/" + os.path.basename(sk)), Path(sk).read_bytes(), 0o644, uid, uid)
            _write(up(home + "/.ssh/authorized_keys"), client_pub, 0o600, uid, uid)
        for u, mode in s.sudo.items():
            rule = f"{u} ALL=(ALL:ALL) NOPASSWD: ALL\n" if mode == "nopasswd" else f"{u} ALL=(ALL:ALL) ALL\n"
            _write(up(f"/etc/sudoers.d/lab-{u}"), rule, 0o440)
        if s.sudo and not os.path.exists("/usr/bin/sudo"):
            raise LabError("sudo is not installed on this machine (apt-get install sudo; listed in .ci/apt-packages.txt)")
        # planted files
        for p in s.files:
            if not any(p.startswith(od + "/") for od in overlay_dirs):
                raise LabError(f"host {s.name}: cannot plant {p}: its directory does not exist on this machine, "
                               "so it is not overlaid")
        for p, content in s.files.items():
            owner = None
            for u, uid in uids.items():
                if p.startswith(f"/home/{u}/"):
                    owner = uid
            _write(up(p), content, s.file_modes.get(p, 0o600 if "/.docker/" in p else 0o644), owner, owner)
        for u, uid in uids.items():  # directories created for planted files belong to the user
            for root, dirs, _files in os.walk(up(f"/home/{u}")):
                for dd in dirs:
                    os.chown(os.path.join(root, dd), uid, uid)
            os.chown(up(f"/home/{u}"), uid, uid)
            os.chmod(up(f"/home/{u}"), 0o750)

        # host key + sshd config
        priv, pub = pki.ed25519_keypair(f"root@{s.name}")
        _write(d / "ssh_host_ed25519_key", priv, 0o600)
        _write(d / "ssh_host_ed25519_key.pub", pub + "\n")
        setenv = ["SHLVL=1"] + [f"{k}={v}" for k, v in s.session_env.items()]
        if s.clock_offset:
            setenv += [f"LD_PRELOAD={FAKETIME_LIB}", f"FAKETIME={s.clock_offset}", "DONT_FAKE_MONOTONIC=1"]
        sshd_config = f"""# lab host {s.name}: generated by lab.fleet
Port 22
ListenAddress {h.address}
AddressFamily inet
HostKey {d}/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
PrintMotd no
UseDNS no
MaxStartups 100:30:300
MaxSessions 30
SetEnv {' '.join(setenv)}
Subsystem sftp /usr/lib/openssh/sftp-server
"""
        _write(d / "sshd_config", sshd_config)

        # start script: few execs per host (exec is the cost that dominates with hundreds of
        # hosts), so all mounts are one `mount -a` over the host's own fstab and the
        # network is one `ip -batch`.
        fstab = []
        for od in overlay_dirs:
            rel = od.lstrip("/")
            fstab.append(f"lab-overlay {od} overlay lowerdir={od},upperdir={d}/upper/{rel},workdir={d}/work/{rel} 0 0")
        fstab += [
            "lab-run /run tmpfs size=16m,mode=755 0 0",
            "lab-shm /dev/shm tmpfs size=8m,mode=1777 0 0",
        ]
        extra = []
        if s.kind == "docker":
            size = _size_bytes(s.data_root_size)
            fstab.append(f"lab-docker /var/lib/docker tmpfs size={size},nr_inodes={s.data_root_inodes},"
                         "mode=711,X-mount.mkdir 0 0")
            fstab.append("cgroup_root /sys/fs/cgroup tmpfs mode=755 0 0")
            for target, fstype, opts in cg_mounts:
                fstab.append(f"{fstype} {target} {fstype} {opts},X-mount.mkdir 0 0")
            if s.fill_data_root_pct:
                extra.append(f"fallocate -l {size * s.fill_data_root_pct // 100} /var/lib/docker/.lab-ballast")
            if s.start_docker:
                env = s.docker_env if s.docker_env is not None else env_from_dropins(s.files)
                envs = " ".join(q(f"{k}={v}") for k, v in env.items())
                extra.append(
                    f"env -i PATH={HOST_PATH} {envs} /usr/sbin/dockerd --iptables=false --ip6tables=false "
                    "--bridge=none --storage-driver=vfs >>/var/log/docker.log 2>&1 </dev/null &"
                )
        _write(d / "fstab", "\n".join(fstab) + "\n")
        _write(d / "net.batch", "link set lo up\n"
                                f"addr add {h.address}/{net.prefixlen} dev eth0\n"
                                f"link set eth0 {'mtu %d ' % s.mtu if s.mtu else ''}up\n")
        lines = [
            "#!/bin/sh",
            f"# lab host {s.name} ({s.kind}): runs as PID 1 of its own namespaces, ends as sshd",
            "set -e",
            "umount -l /run/netns 2>/dev/null || true",
            f"mount -a -T {d}/fstab",
            "mkdir -p /run/sshd",
            f"echo {q(s.name)} > /proc/sys/kernel/hostname",
            f"ip -batch {d}/net.batch",
        ] + [ln for ln in net_setup if ln.startswith("iptables ")] + extra
        sshd = "/usr/sbin/sshd"
        if s.kind == "busybox":
            sshd = self._busybox_bin_dirs(d)
            lines.append(f"mount -a -T {d}/fstab-busybox")
        lines.append(f"exec {sshd} -D -f {d}/sshd_config -E {d}/sshd.log")
        _write(d / "start.sh", "\n".join(lines) + "\n", 0o755)
        if s.kind == "wrongkey":
            _p, pub = pki.ed25519_keypair(f"not-{s.name}")
        return " ".join(pub.split()[:2])

    def _busybox_bin_dirs(self, d: Path) -> str:
        """A directory of busybox applet links bind-mounted over every bin dir (one
        `mount -a` in start.sh), and a copy of sshd outside them: sshd re-execs itself by
        its absolute path for every connection. Returns that sshd path."""
        bb = d / "busybox-bin"
        bb.mkdir()
        shutil.copy2(shutil.which("busybox"), bb / "busybox")
        applets = _run([str(bb / "busybox"), "--list"]).stdout.split()
        for a in applets:
            if a != "busybox" and re.fullmatch(r"[A-Za-z0-9_.+-]+", a):
                os.symlink("busybox", bb / a)
        shutil.copy2("/usr/sbin/sshd", d / "sshd")
        targets = [t for t in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
                   if os.path.isdir(t)]
        _write(d / "fstab-busybox", "".join(f"{bb} {t} none bind 0 0\n" for t in targets))
        return str(d / "sshd")

    def _sudo_hash(self) -> str:
        hsh = pki.sha512_crypt(self.state["secrets"]["sudo_password"])
        self.state["secrets"]["sudo_password_hash"] = hsh
        return hsh

    # readiness ---------------------------------------------------------------

    def _wait_ready(self, hosts: dict, procs: dict, svc_specs: dict, deadline: float):
        # init PIDs of sshd hosts (children of `unshare --fork`)
        pending_init = {n for n, h in hosts.items() if h.kind in SSHD_KINDS}
        while pending_init and time.monotonic() < deadline:
            for n in list(pending_init):
                p = procs[("host", n)]
                kids = _children(p.pid)
                if kids:
                    hosts[n].init_pid = kids[0]
                    st = _proc_starttime(kids[0])
                    self.state["procs"].append({"pid": kids[0], "start": st, "argv0": "init"})
                    pending_init.discard(n)
                elif p.poll() is not None:
                    raise LabError(f"host {n}: start script exited ({p.returncode}):\n"
                                   f"{_tail(Path(hosts[n].dir) / 'start.log')}")
            if pending_init:
                time.sleep(0.02)
        if pending_init:
            raise LabError(f"hosts never started: {sorted(pending_init)[:10]}")
        self._save()
        # one-shot setup scripts (refused, blackhole) must finish with 0
        for n, h in hosts.items():
            if h.kind in ("refused", "blackhole"):
                p = procs[("host", n)]
                try:
                    rc = p.wait(max(1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    raise LabError(f"host {n}: setup script hangs") from None
                if rc != 0:
                    raise LabError(f"host {n}: setup failed:\n{_tail(Path(h.dir) / 'start.log')}")
        # sshd listening, seen in the host's own /proc/net/tcp (a TCP probe costs sshd a
        # fork+re-exec per host, which dominates with hundreds of hosts) ...
        waiting = {n for n, h in hosts.items() if h.kind in SSHD_KINDS}
        while waiting and time.monotonic() < deadline:
            for n in list(waiting):
                if _listening(hosts[n].init_pid, 22):
                    waiting.discard(n)
                elif procs[("host", n)].poll() is not None:
                    raise LabError(f"host {n}: start failed:\n{_tail(Path(hosts[n].dir) / 'start.log')}")
            if waiting:
                time.sleep(0.02)
        if waiting:
            raise LabError(f"sshd never listened on {sorted(waiting)[:10]}: "
                           f"{_tail(Path(hosts[sorted(waiting)[0]].dir) / 'start.log')}")
        # ... then real TCP checks: SSH banners of (up to 32) hosts, silent listeners, services
        targets = {}
        sshd_hosts = [n for n, h in hosts.items() if h.kind in SSHD_KINDS]
        for n in sshd_hosts[:32]:
            targets[n] = (hosts[n].address, 22, b"SSH-")
        for n, h in hosts.items():
            if h.kind == "silent":
                targets[n] = (h.address, 22, None)
        if "registry" in svc_specs:
            targets["(registry)"] = (self.service_address("registry"), REGISTRY_PORT, None)
        if "proxy" in svc_specs:
            targets["(proxy)"] = (self.service_address("proxy"), PROXY_PORT, None)
        for twin in ("expired", "notyet", "tokenreg"):
            if twin in svc_specs:
                targets[f"({twin})"] = (self.service_address(twin), REGISTRY_PORT, None)
        if "tokenreg" in svc_specs:
            targets["(tokenreg-token)"] = (self.service_address("tokenreg"), TOKEN_PORT, None)

        def dead(n):
            key = ("svc", n[1:-1]) if n.startswith("(") else ("host", n)
            p = procs.get(key)
            if p is not None and p.poll() is not None:
                logp = (self.state_dir / "services" / n[1:-1] / "start.log") if n.startswith("(") \
                    else Path(hosts[n].dir) / "start.log"
                return f"{n}: process exited ({p.returncode}):\n{_tail(logp)}"
            return None

        failures = asyncio.run(_wait_tcp(targets, deadline, dead))
        if failures:
            raise LabError("hosts not ready:\n" + "\n".join(failures[:10]))
        if "dns" in svc_specs:
            self._wait_dns(deadline, procs)
        # dockerd: socket answers /_ping, or dockerd has exited (a planted failure)
        docker_hosts = [h for n, h in hosts.items() if h.kind == "docker"]
        pending = {h.name for h in docker_hosts if self._spec_starts_docker(h)}
        for h in docker_hosts:
            if h.name not in pending:
                h.docker = None
        while pending and time.monotonic() < deadline:
            for n in list(pending):
                h = hosts[n]
                if _docker_ping(h.init_pid):
                    h.docker = True
                    pending.discard(n)
                elif not _has_live_child(h.init_pid, "dockerd"):
                    time.sleep(0.05)
                    if _docker_ping(h.init_pid):
                        h.docker = True
                    else:
                        h.docker = False
                        h.docker_error = _tail(h.docker_log, 5).strip()
                    pending.discard(n)
            if pending:
                time.sleep(0.05)
        if pending:
            raise LabError(f"dockerd never answered on {sorted(pending)}: "
                           f"{_tail(hosts[sorted(pending)[0]].docker_log, 10)}")
        if "builder" in hosts and hosts["builder"].docker is not True:
            raise LabError(f"the image builder's dockerd failed: {hosts['builder'].docker_error}")

    def _spec_starts_docker(self, h: LabHost) -> bool:
        return "dockerd" in (Path(h.dir) / "start.sh").read_text()

    def _wait_dns(self, deadline, procs):
        addr = self.dns_address
        last = None
        while time.monotonic() < deadline:
            p = procs.get(("svc", "dns"))
            if p is not None and p.poll() is not None:
                raise LabError(f"dnsmasq exited:\n{_tail(self.state_dir / 'services/dns/start.log')}")
            try:
                rcode, addrs = dns_query(addr, REGISTRY_NAME, 0.3)
                if addrs:
                    return
                last = f"rcode {rcode}"
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise LabError(f"resolver {addr} not answering: {last}")

    def _healthy(self) -> bool:
        try:
            for h in self._all_hosts().values():
                if h.kind in SSHD_KINDS:
                    if not h.init_pid or _proc_state_comm(h.init_pid)[1] != "sshd":
                        return False
            for n in self.state.get("netns", []):
                if not os.path.exists(f"/run/netns/{n}"):
                    return False
            for pid in self.state.get("service_pids", {}).values():
                if _proc_state_comm(pid)[0] in (None, "Z", "X"):
                    return False
            return True
        except Exception:
            return False

    # ----- using the fleet --------------------------------------------------------

    def _nsenter(self, name: str) -> list:
        hs = self._all_hosts()
        if name in hs:
            h = hs[name]
            if h.kind in SSHD_KINDS:
                if not h.init_pid:
                    raise LabError(f"host {name} is not running")
                return ["nsenter", f"--target={h.init_pid}", "--mount", "--uts", "--ipc", "--net", "--pid"]
            return ["nsenter", f"--net=/run/netns/{h.netns}"]
        svc = self.state.get("service_pids", {})
        if name in svc:
            return ["nsenter", f"--target={svc[name]}", "--mount", "--net"]
        raise LabError(f"no such host {name!r} in {self.state_dir}")

    def exec(self, name: str, cmd: str, timeout: float = 120, check: bool = False,
             input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run `sh -c cmd` as root inside host `name` (its network, mount, UTS, IPC and PID
        namespaces), with a clean environment. For setup and planting, not for auditing."""
        argv = self._nsenter(name) + [
            "/usr/bin/env", "-i", f"PATH={HOST_PATH}", "HOME=/root", "USER=root", "LOGNAME=root",
            "LANG=C.UTF-8", "/bin/sh", "-c", "cd / && " + cmd,
        ]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                           env=_clean_env())
        if check and p.returncode != 0:
            raise LabError(f"{name}: `{cmd}` failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
        return p

    def pull(self, name: str, image: str, timeout: float = 180) -> tuple:
        """A real `docker pull` by the host's own dockerd (errors land in its docker.log).
        Returns (returncode, combined output)."""
        try:
            p = self.exec(name, f"docker pull {shlex.quote(image)} 2>&1", timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            return 124, out + f"\n(lab: pull timed out after {timeout}s)"
        return p.returncode, p.stdout

    def write_inventory(self, path: Union[str, os.PathLike], fmt: str = "native") -> str:
        """Write an inventory of the fleet: fmt 'native' (YAML) or 'ini' (Ansible INI)."""
        hosts = self.hosts
        groups: dict = {}
        for h in hosts.values():
            for g in h.groups:
                groups.setdefault(g, []).append(h.name)
        path = Path(path)
        if fmt == "native":
            lines = ["# fleetaudit test fleet inventory (generated by lab.fleet)", "fleetaudit: 1", "hosts:"]
            for h in hosts.values():
                lines += [
                    f"  {h.name}:",
                    f"    address: {h.address}",
                    f"    port: {h.port}",
                    f"    user: {h.user}",
                    f"    identity_file: {json.dumps(h.key_path)}",
                ]
                if h.become:
                    lines.append("    become: true")
            lines.append("groups:" + ("" if groups else " {}"))
            for g, members in groups.items():
                lines.append(f"  {g}:")
                lines.append(f"    hosts: [{', '.join(members)}]")
            text = "\n".join(lines) + "\n"
        elif fmt == "ini":
            lines = ["# fleetaudit test fleet inventory (generated by lab.fleet)"]
            done = set()

            def hostline(h):
                if h.name in done:
                    return h.name
                done.add(h.name)
                return (f"{h.name} ansible_host={h.address} ansible_port={h.port} "
                        f"ansible_user={h.user} ansible_ssh_private_key_file={h.key_path}"
                        + (" ansible_become=true" if h.become else ""))

            ungrouped = [h for h in hosts.values() if not h.groups]
            if ungrouped:
                lines.append("[ungrouped]")
                lines += [hostline(h) for h in ungrouped]
                lines.append("")
            for g, members in groups.items():
                lines.append(f"[{g}]")
                lines += [hostline(hosts[m]) for m in members]
                lines.append("")
            text = "\n".join(lines)
        else:
            raise LabError(f"unknown inventory format {fmt!r} (native or ini)")
        _write(path, text)
        return str(path)

    def ssh_argv(self, name: str, command: Optional[str] = None, user: Optional[str] = None) -> list:
        """An OpenSSH command line that logs into host `name` with strict host-key checking."""
        h = self.hosts[name] if name in self.hosts else self._all_hosts()[name]
        argv = ["ssh", "-i", self.key_path, "-o", f"UserKnownHostsFile={self.known_hosts_path}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                "-o", "GlobalKnownHostsFile=/dev/null", "-p", str(h.port), f"{user or h.user}@{h.address}"]
        if command is not None:
            argv.append(command)
        return argv

    # ----- down ----------------------------------------------------------------

    def down(self, keep_files: bool = False) -> None:
        """Tear down everything this fleet created (tolerant of partial state). Files under
        state_dir are removed unless keep_files."""
        _require_root()
        if not self._state_path.exists():
            return
        with self._lock():
            self.state = json.loads(self._state_path.read_text())
            self._teardown(remove_files=not keep_files)

    def _teardown(self, remove_files: bool):
        ns_names = [n for n in self.state.get("netns", []) if n.startswith(self.state.get("netns_prefix", "\0"))]
        # 1. recorded processes (verified by start time against PID reuse)
        for rec in self.state.get("procs", []):
            pid, st = rec.get("pid"), rec.get("start")
            if pid and st is not None and _proc_starttime(pid) == st:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        # 2. anything still running inside our network namespaces
        deadline = time.monotonic() + 15
        while True:
            left = _pids_in_netns(ns_names)
            if not left:
                break
            if time.monotonic() > deadline:
                raise LabError(f"processes survive in the lab namespaces: {left[:20]}")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        # reap the recorded processes that are our own children (the rest are reaped by init)
        for rec in self.state.get("procs", []):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(rec["pid"], os.WNOHANG)
        # 3. namespaces (their veths go with them), then the bridge
        existing = set(_netns_list())
        dels = [f"netns del {n}" for n in ns_names if n in existing]
        if dels:
            _run(["ip", "-force", "-batch", "-"], input="\n".join(dels) + "\n", check=False, timeout=600)
        br = self.state.get("bridge")
        if br and self.state.get("bridge_created") and os.path.exists(f"/sys/class/net/{br}"):
            _run(["ip", "link", "del", br], check=False)
        self.state["procs"] = []
        self.state["netns"] = []
        self.state["bridge_created"] = False
        self.state["service_pids"] = {}
        self.state["status"] = "down"
        for h in self.state.get("hosts", {}).values():
            h["init_pid"] = None
        if remove_files:
            # release the slot and delete what the lab wrote
            with contextlib.suppress(OSError):
                f = SLOT_REGISTRY / f"slot-{self.state.get('slot')}"
                if f.read_text().strip() == str(self.state_dir):
                    f.unlink()
            for sub in ("hosts", "services", "keys", "pki", "inventory.yml", "inventory.ini", "lab.json",
                        "lab.json.tmp"):
                p = self.state_dir / sub
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                elif p.exists():
                    p.unlink()
            self.state = {}
        else:
            self._save()


# ---------------------------------------------------------------------------
# module helpers


def _require_root():
    if os.geteuid() != 0:
        raise LabError("the test fleet needs root (network and mount namespaces)")


def _python() -> str:
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def _netns_list() -> list:
    try:
        return os.listdir("/run/netns")
    except OSError:
        return []


def _pids_in_netns(names: list) -> list:
    inodes = set()
    for n in names:
        with contextlib.suppress(OSError):
            inodes.add(os.stat(f"/run/netns/{n}").st_ino)
    if not inodes:
        return []
    me = os.getpid()
    out = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit() or int(ent) == me:
            continue
        try:
            if os.stat(f"/proc/{ent}/ns/net").st_ino in inodes:
                out.append(int(ent))
        except OSError:
            pass
    return out


def _cgroup_mounts() -> list:
    """cgroup hierarchies mounted under /sys/fs/cgroup in the root namespace: (target, fstype, opts)."""
    out = []
    drop = {"rw", "ro", "relatime", "nosuid", "nodev", "noexec", "seclabel"}
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, target, fstype, opts = line.split()[:4]
            if fstype in ("cgroup", "cgroup2") and target.startswith("/sys/fs/cgroup"):
                o = [x for x in opts.split(",") if x not in drop]
                if fstype == "cgroup" and all(x.startswith("name=") for x in o):
                    o = ["none"] + o
                out.append((target, fstype, ",".join(o) or "defaults"))
    return out


def _base_files() -> dict:
    import grp

    try:
        shadow_gid = grp.getgrnam("shadow").gr_gid
    except KeyError:
        shadow_gid = 0
    return {
        "passwd": Path("/etc/passwd").read_text(),
        "shadow": Path("/etc/shadow").read_text(),
        "group": Path("/etc/group").read_text(),
        "shadow_gid": shadow_gid,
    }


def _docker_ping(init_pid: Optional[int]) -> bool:
    if not init_pid:
        return False
    path = f"/proc/{init_pid}/root/run/docker.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            data = s.recv(4096)
        return b" 200 " in data.split(b"\r\n", 1)[0]
    except OSError:
        return False


def _listening(pid: Optional[int], port: int) -> bool:
    """A TCP socket in LISTEN state on `port` in the network namespace of `pid`."""
    if not pid:
        return False
    want = f":{port:04X}"
    try:
        with open(f"/proc/{pid}/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(want) and parts[3] == "0A":
                    return True
    except (OSError, StopIteration):
        pass
    return False


def _start_done(p: subprocess.Popen) -> bool:
    """True once a host's start script exec'd its final daemon (or died)."""
    if p.poll() is not None:
        return True
    kids = _children(p.pid)
    return bool(kids) and _proc_state_comm(kids[0])[1] not in ("sh", "unshare", None)


def _has_live_child(pid: Optional[int], comm: str) -> bool:
    if not pid:
        return False
    for c in _children(pid):
        state, cm = _proc_state_comm(c)
        if cm == comm and state not in ("Z", "X", None):
            return True
    return False


async def _wait_tcp(targets: dict, deadline: float, dead: Callable) -> list:
    sem = asyncio.Semaphore(256)

    async def one(name, addr, port, banner):
        last = "not tried"
        while time.monotonic() < deadline:
            why = dead(name)
            if why:
                return why
            async with sem:
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), 1.0)
                    try:
                        if banner is None:
                            return None
                        line = await asyncio.wait_for(r.readline(), 2.0)
                        if line.startswith(banner):
                            return None
                        last = f"unexpected banner {line[:40]!r}"
                    finally:
                        w.close()
                        with contextlib.suppress(Exception):
                            await w.wait_closed()
                except (OSError, asyncio.TimeoutError) as e:
                    last = repr(e)
            await asyncio.sleep(0.05)
        return f"{name} ({addr}:{port}): {last}"

    res = await asyncio.gather(*(one(n, *t) for n, t in targets.items()))
    return [r for r in res if r]


_SILENT_LISTENER = r"""
import socket, sys, time, select
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 22))
s.listen(1024)
conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [])
    for x in r:
        if x is s:
            c, _ = s.accept()
            conns.append(c)
        elif not x.recv(4096):
            conns.remove(x); x.close()
"""

_DEBIAN_ROOT_BASHRC = """# ~/.bashrc: executed by bash(1) for non-login shells.

# Note: PS1 and umask are already set in /etc/profile. You should not
# need this unless you want different defaults for root.
# PS1='${debian_chroot:+($debian_chroot)}\\h:\\w\\$ '
# umask 022
"""
