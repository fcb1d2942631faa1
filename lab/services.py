"""Services inside the test fleet, each in its own namespace: a resolver (dnsmasq), a
TLS registry with htpasswd auth (Debian's docker-registry), a proxy with BasicAuth
(tinyproxy), and a hidden docker host ("builder") that makes and pushes the images.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import random
import shlex
import tarfile
import time
from pathlib import Path

from . import pki
from .common import (
    DOMAIN, EXPIRED_REGISTRY_NAME, MIRROR_NAME, NOTYET_REGISTRY_NAME, PROXY_NAME, PROXY_PORT, REGISTRY_NAME, REGISTRY_PORT, HostSpec, LabError,
    _write,
)

PAYLOAD_MIB = 8  # incompressible payload per image, so a nearly full data root cannot take it

# Images pushed during up(); tests may rely on these names.
IMAGES = {
    "app": "team/app:1.0",          # amd64, ~8 MiB layer
    "app_next": "team/app:1.1",      # a second tag with different content
    "app_latest": "team/app:latest",
    "multi": "team/multi:1.0",       # manifest list: linux/amd64 + linux/arm64
    "arm_only": "team/armonly:1.0",  # manifest list with linux/arm64 only (no match on amd64)
}


def golden_docker_files(fleet, auth: bool = True) -> dict:
    """Files every well-configured docker host (and the builder) has: lab CA trusted by
    the system and by dockerd, and (optionally) root's registry credentials."""
    files = {
        "/etc/docker/certs.d/%s/ca.crt" % REGISTRY_NAME: fleet.ca_cert_pem,
        "/usr/local/share/ca-certificates/fleet-lab-ca.crt": fleet.ca_cert_pem,
        "/etc/ssl/certs/ca-certificates.crt": fleet.system_ca_bundle_with_lab_ca(),
    }
    if auth:
        files["/root/.docker/config.json"] = docker_config_json(fleet)
    return files


def docker_config_json(fleet) -> str:
    return json.dumps({"auths": {fleet.registry: {"auth": fleet.registry_auth}}}, indent="\t") + "\n"


def builder_spec(fleet) -> HostSpec:
    return HostSpec(
        name="builder", kind="docker", files=golden_docker_files(fleet), data_root_size="512m",
        in_inventory=False, groups=[],
    )


def _svc_script(fleet, name: str, exec_line: str, sdir: Path) -> str:
    addr = fleet.service_address(name)
    prefix = fleet._net().prefixlen
    return "\n".join([
        "#!/bin/sh",
        f"# lab service {name}",
        "set -e",
        "ip link set lo up",
        f"ip addr add {addr}/{prefix} dev eth0",
        "ip link set eth0 up",
        f"mount --bind {sdir}/resolv.conf /etc/resolv.conf",
        f"mount --bind {sdir}/hosts /etc/hosts",
        "exec " + exec_line,
    ]) + "\n"


def prepare_services(fleet, hosts: dict) -> dict:
    """Write service configs; return name -> argv to start it (in its netns)."""
    root = fleet.state_dir / "services"
    prefix = fleet.state["netns_prefix"]
    net = fleet._net()
    reg_addr = fleet.service_address("registry")
    proxy_addr = fleet.service_address("proxy")
    dns_addr = fleet.service_address("dns")
    exp_addr = fleet.service_address("expired")
    notyet_addr = fleet.service_address("notyet")
    hosts_lines = [
        f"{reg_addr}\t{REGISTRY_NAME} {MIRROR_NAME}",
        f"{exp_addr}\t{EXPIRED_REGISTRY_NAME}",
        f"{notyet_addr}\t{NOTYET_REGISTRY_NAME}",
        f"{proxy_addr}\t{PROXY_NAME}",
        f"{dns_addr}\tdns.{DOMAIN}",
    ] + [f"{h.address}\t{h.name}.{DOMAIN} {h.name}" for h in hosts.values()]
    argvs = {}
    for name in ("dns", "registry", "proxy", "expired", "notyet"):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)
        _write(d / "resolv.conf", f"search {DOMAIN}\nnameserver {dns_addr}\n")
        _write(d / "hosts", "127.0.0.1\tlocalhost\n" + "\n".join(hosts_lines) + "\n")

    # resolver
    d = root / "dns"
    _write(d / "lab-hosts", "\n".join(hosts_lines) + "\n")
    _write(d / "dnsmasq.conf", "\n".join([
        "# lab resolver: answers fleet names, NXDOMAIN for everything else, never forwards",
        "no-resolv", "no-hosts", "no-poll",
        f"addn-hosts={d}/lab-hosts",
        f"domain={DOMAIN}",
        "local=/#/",
        f"listen-address={dns_addr}",
        "bind-interfaces",
        "user=root", "group=root",
        f"pid-file={d}/dnsmasq.pid",
        f"log-facility={d}/dnsmasq.log",
        "log-queries",
    ]) + "\n")
    _write(d / "start.sh", _svc_script(
        fleet, "dns", f"/usr/sbin/dnsmasq --keep-in-foreground --conf-file={d}/dnsmasq.conf", d), 0o755)

    # registry, and twins over the same storage with an expired and a not-yet-valid
    # certificate. The twins' certificates also name registry.fleet.test, so a host whose
    # /etc/hosts points that name at a twin sees exactly that fault (gate agreement fleet).
    ca_key = (fleet.state_dir / "pki" / "ca.key").read_bytes()
    now = dt.datetime.now(dt.timezone.utc)
    (root / "registry" / "data").mkdir(exist_ok=True)
    for name, dns_name, addr, validity in (
        ("registry", [REGISTRY_NAME, MIRROR_NAME], reg_addr, (None, None)),
        ("expired", [EXPIRED_REGISTRY_NAME, REGISTRY_NAME], exp_addr,
         (now - dt.timedelta(days=400), now - dt.timedelta(days=2))),
        ("notyet", [NOTYET_REGISTRY_NAME, REGISTRY_NAME], notyet_addr,
         (now + dt.timedelta(days=2), now + dt.timedelta(days=400))),
    ):
        d = root / name
        key, cert = pki.issue_server_cert(ca_key, fleet.ca_cert_pem.encode(), dns_name, [addr],
                                          not_before=validity[0], not_after=validity[1])
        _write(d / "tls.key", key, 0o600)
        _write(d / "tls.crt", cert)
        _write(d / "htpasswd", f"{fleet.registry_user}:{pki.bcrypt_hash(fleet.registry_password)}\n", 0o600)
        _write(d / "config.yml", f"""version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {root}/registry/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {addr}:{REGISTRY_PORT}
  tls:
    certificate: {d}/tls.crt
    key: {d}/tls.key
auth:
  htpasswd:
    realm: fleet-registry
    path: {d}/htpasswd
""")
        _write(d / "start.sh", _svc_script(fleet, name, f"/usr/bin/docker-registry serve {d}/config.yml", d),
               0o755)

    # proxy
    d = root / "proxy"
    d.chmod(0o777)  # tinyproxy drops to nobody before opening its log
    _write(d / "tinyproxy.conf", "\n".join([
        "User nobody", "Group nogroup",
        f"Port {PROXY_PORT}",
        f"Listen {proxy_addr}",
        "Timeout 60",
        f'LogFile "{d}/tinyproxy.log"',
        "LogLevel Info",
        f'PidFile "{d}/tinyproxy.pid"',
        "MaxClients 100",
        f"Allow {net}",
        f"BasicAuth {fleet.proxy_user} {fleet.proxy_password}",
        "ConnectPort 443",
        "ConnectPort 5000",
        "DisableViaHeader Yes",
    ]) + "\n", 0o644)
    _write(d / "start.sh", _svc_script(fleet, "proxy", f"/usr/bin/tinyproxy -d -c {d}/tinyproxy.conf", d), 0o755)

    for name in ("dns", "registry", "proxy", "expired", "notyet"):
        argvs[name] = ["ip", "netns", "exec", prefix + name, "unshare", "--mount", "--propagation", "private",
                       "/bin/sh", str(root / name / "start.sh")]
    return argvs


# ---------------------------------------------------------------------------
# images


def _rootfs_tar(version: str, seed: int, payload_mib: int = PAYLOAD_MIB) -> bytes:
    """A busybox-static root filesystem plus an incompressible payload, deterministic."""
    buf = io.BytesIO()
    rng = random.Random(seed)

    def add(name, data=None, mode=0o755, typ=tarfile.REGTYPE, link=""):
        ti = tarfile.TarInfo(name)
        ti.mtime = 1700000000
        ti.mode = mode
        ti.type = typ
        ti.linkname = link
        ti.uname = ti.gname = "root"
        if data is not None:
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        else:
            tf.addfile(ti)

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for dname in ("bin", "etc", "tmp", "app", "usr", "usr/bin"):
            add(dname, typ=tarfile.DIRTYPE, mode=0o1777 if dname == "tmp" else 0o755)
        add("bin/busybox", Path("/bin/busybox").read_bytes())
        for applet in ("sh", "ls", "cat", "echo", "sleep", "wget", "env", "id"):
            add(f"bin/{applet}", typ=tarfile.SYMTYPE, link="busybox")
        add("etc/os-release", f'NAME="fleet lab app"\nVERSION_ID="{version}"\n'.encode(), 0o644)
        add("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        add("app/VERSION", f"{version}\n".encode(), 0o644)
        if payload_mib:
            add("app/payload.bin", rng.randbytes(payload_mib << 20), 0o644)
    return buf.getvalue()


def build_images(fleet, log, deadline: float) -> None:
    """docker import + push on the hidden builder host; manifest lists via the CLI."""
    d = fleet.state_dir / "services" / "images"
    d.mkdir(parents=True, exist_ok=True)
    for version, seed, mib in (("1.0", 1, PAYLOAD_MIB), ("1.1", 2, PAYLOAD_MIB), ("1.0-arm64", 3, 0)):
        p = d / f"app-{version}.tar"
        if not p.exists():
            p.write_bytes(_rootfs_tar(version, seed, mib))
    r = fleet.registry
    q = shlex.quote
    change = q('CMD ["/bin/sh"]')
    steps = [
        f"docker import --change {change} {d}/app-1.0.tar {r}/team/app:1.0",
        f"docker push -q {r}/team/app:1.0",
        f"docker import --change {change} {d}/app-1.1.tar {r}/team/app:1.1",
        f"docker push -q {r}/team/app:1.1",
        f"docker tag {r}/team/app:1.1 {r}/team/app:latest",
        f"docker push -q {r}/team/app:latest",
    ]
    remaining = max(10, deadline - time.monotonic())
    p = fleet.exec("builder", " && ".join(steps) + " 2>&1", timeout=remaining)
    if p.returncode != 0:
        raise LabError(f"image build/push on the builder failed:\n{p.stdout[-2000:]}{p.stderr[-1000:]}")
    images = {k: f"{r}/{v}" for k, v in IMAGES.items() if k in ("app", "app_next", "app_latest")}
    # multi-platform lists (docker manifest, CLI 28): an arm64 image first
    # Docker 20.10 ignores `import --platform` (not multi-platform capable), so the
    # arm64 variant is a distinct small image whose list entry is annotated arm64.
    multi = [
        f"docker import --change {change} {d}/app-1.0-arm64.tar {r}/team/app-arm64:1.0",
        f"docker push -q {r}/team/app-arm64:1.0",
        f"docker manifest create {r}/team/multi:1.0 {r}/team/app:1.0 {r}/team/app-arm64:1.0",
        f"docker manifest annotate --os linux --arch arm64 --variant v8 {r}/team/multi:1.0 {r}/team/app-arm64:1.0",
        f"docker manifest push --purge {r}/team/multi:1.0",
        f"docker manifest create {r}/team/armonly:1.0 {r}/team/app-arm64:1.0",
        f"docker manifest annotate --os linux --arch arm64 --variant v8 {r}/team/armonly:1.0 {r}/team/app-arm64:1.0",
        f"docker manifest push --purge {r}/team/armonly:1.0",
    ]
    p = fleet.exec("builder", " && ".join(multi) + " 2>&1", timeout=max(10, deadline - time.monotonic()))
    if p.returncode == 0:
        images["multi"] = f"{r}/{IMAGES['multi']}"
        images["arm_only"] = f"{r}/{IMAGES['arm_only']}"
    else:
        log(f"multi-platform manifests not built (optional): {p.stdout.strip()[-300:]}")
        fleet.state["images_error"] = p.stdout[-1000:]
    fleet.state["images"] = images
    fleet._save()
