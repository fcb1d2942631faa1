"""Services inside the test fleet, each in its own namespace: a resolver (dnsmasq), a
TLS registry with htpasswd auth (Debian's docker-registry), a proxy with BasicAuth
(tinyproxy), and a hidden docker host ("builder") that makes and pushes the images.
"""
from __future__ import annotations

import base64
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
    DOMAIN, EXPIRED_REGISTRY_NAME, MIRROR_NAME, NOTYET_REGISTRY_NAME, TOKEN_PORT, TOKEN_REGISTRY_NAME, PROXY_NAME, PROXY_PORT, REGISTRY_NAME, REGISTRY_PORT, HostSpec, LabError,
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
    tok_addr = fleet.service_address("tokenreg")
    hosts_lines = [
        f"{reg_addr}\t{REGISTRY_NAME} {MIRROR_NAME}",
        f"{exp_addr}\t{EXPIRED_REGISTRY_NAME}",
        f"{notyet_addr}\t{NOTYET_REGISTRY_NAME}",
        f"{tok_addr}\t{TOKEN_REGISTRY_NAME}",
        f"{proxy_addr}\t{PROXY_NAME}",
        f"{dns_addr}\tdns.{DOMAIN}",
    ] + [f"{h.address}\t{h.name}.{DOMAIN} {h.name}" for h in hosts.values()]
    argvs = {}
    for name in ("dns", "registry", "proxy", "expired", "notyet", "tokenreg"):
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
        ("tokenreg", [TOKEN_REGISTRY_NAME, REGISTRY_NAME], tok_addr, (None, None)),
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
""" + (_token_auth(fleet, d) if name == "tokenreg" else f"""  htpasswd:
    realm: fleet-registry
    path: {d}/htpasswd
"""))
        serve = f"/usr/bin/docker-registry serve {d}/config.yml"
        if name == "tokenreg":
            serve = "/bin/sh -c " + shlex.quote(f"/usr/bin/python3 {d}/token_server.py {d}/token.json & exec {serve}")
        _write(d / "start.sh", _svc_script(fleet, name, serve, d), 0o755)

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

    for name in ("dns", "registry", "proxy", "expired", "notyet", "tokenreg"):
        argvs[name] = ["ip", "netns", "exec", prefix + name, "unshare", "--mount", "--propagation", "private",
                       "/bin/sh", str(root / name / "start.sh")]
    return argvs


# ---------------------------------------------------------------------------
# Bearer token auth (the scheme Docker Hub, GHCR, Harbor... use): a registry twin whose
# /v2/ answers `WWW-Authenticate: Bearer realm=https://tokenreg.fleet.test:8443/token`, and
# a tiny token server there that hands a pre-signed pull token to the lab's registry
# credentials (401 to anyone else).

TOKEN_SERVICE = "fleet-registry"
TOKEN_ISSUER = "fleet-token"
TOKEN_REPOS = ("team/app", "team/armonly", "team/multi", "team/app-arm64")

TOKEN_SERVER = r"""
import base64, http.server, json, ssl, sys
conf = json.load(open(sys.argv[1]))
want = "Basic " + base64.b64encode((conf["user"] + ":" + conf["password"]).encode()).decode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/token"):
            self.send_response(404); self.end_headers(); return
        if self.headers.get("Authorization") != want:
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fleet-token"')
        else:
            body = json.dumps({"token": conf["token"], "access_token": conf["token"],
                               "expires_in": 3600}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        pass
srv = http.server.ThreadingHTTPServer((conf["address"], conf["port"]), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(conf["cert"], conf["key"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token_auth(fleet, d: Path) -> str:
    """Write the token signer, the pre-signed token and the token server; return the
    registry's `auth: token:` block."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "fleet lab token signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    _write(d / "token-signer.crt", cert.public_bytes(serialization.Encoding.PEM))
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    # libtrust key id: base32 of the first 240 bits of sha256(SPKI), in groups of 4
    b32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
    kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
    ts = int(now.timestamp())
    header = {"typ": "JWT", "alg": "ES256", "kid": kid}
    claims = {"iss": TOKEN_ISSUER, "sub": fleet.registry_user, "aud": TOKEN_SERVICE,
              "exp": ts + 7 * 86400, "nbf": ts - 3600, "iat": ts,
              "jti": hashlib.sha256(spki + str(ts).encode()).hexdigest()[:16],
              "access": [{"type": "repository", "name": n, "actions": ["pull"]} for n in TOKEN_REPOS]}
    signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
    r, s_ = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = signing_input + "." + _b64url(r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
    if token not in fleet.state.setdefault("planted_secrets", []):
        fleet.state["planted_secrets"].append(token)   # a bearer token must never leave a host
    _write(d / "token.json", json.dumps({
        "user": fleet.registry_user, "password": fleet.registry_password, "token": token,
        "address": fleet.service_address("tokenreg"), "port": TOKEN_PORT,
        "cert": str(d / "tls.crt"), "key": str(d / "tls.key")}), 0o600)
    _write(d / "token_server.py", TOKEN_SERVER)
    return f"""  token:
    realm: https://{TOKEN_REGISTRY_NAME}:{TOKEN_PORT}/token
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {d}/token-signer.crt
"""


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
