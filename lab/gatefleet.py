"""The gate agreement fleet: one docker host per failure class a registry, resolver,
proxy and firewall can produce, plus a good host (issue 9).

    from lab.fleet import Fleet
    from lab.gatefleet import GATE_HOSTS, gate_specs
    fleet = Fleet(state_dir)
    fleet.up(gate_specs(fleet), services=True)

Every host pulls the same reference, `fleet.images["app"]` (registry.fleet.test); the
classes that are about the registry's certificate or its auth scheme point
registry.fleet.test at a twin (lab.services: same storage; certificate expired / not yet
valid; Bearer token auth; SANs include registry.fleet.test) through the host's /etc/hosts. Image-side classes (a platform
missing from a manifest list, a wrong tag) are other references on the good host.

GATE_HOSTS[name] = (summary, expected category of a failed pull or None when it works).
"""
from __future__ import annotations

import base64
import json

from .common import DOMAIN, REGISTRY_NAME, HostSpec
from .services import docker_config_json, golden_docker_files

DROPIN = "/etc/systemd/system/docker.service.d/http-proxy.conf"

GATE_HOSTS = {
    "good": ("CA in certs.d and the system bundle, root logged in, direct", None),
    "ca-missing": ("the lab CA nowhere", "tls"),
    "ca-system": ("the lab CA only in the system bundle (dockerd uses it)", None),
    "insecure": ("no CA, registry in daemon.json insecure-registries", None),
    "no-creds": ("root has no credentials", "auth"),
    "bad-creds": ("root's credentials carry a wrong password", "auth"),
    "bad-dns": ("resolv.conf names 127.0.0.1, where nothing answers", "dns"),
    "fw-drop": ("iptables OUTPUT tcp/443 DROP", "firewall"),
    "fw-reject": ("iptables OUTPUT tcp/443 REJECT (tcp-reset)", "firewall"),
    "proxy-ok": ("dockerd goes through the proxy with its credentials", None),
    "proxy-nocreds": ("dockerd goes through the proxy without credentials", "proxy"),
    "proxy-badcreds": ("dockerd goes through the proxy with a wrong password", "proxy"),
    "disk-full": ("docker data root 95% full", "disk"),
    "cert-expired": ("registry.fleet.test answers with an expired certificate", "tls"),
    "cert-notyet": ("registry.fleet.test answers with a not-yet-valid certificate (host clock right)", "tls"),
    "bearer-ok": ("registry.fleet.test wants a Bearer token (realm on tokenreg:8443); root's login gets one", None),
    "bearer-badcreds": ("the same token registry; root's credentials are refused by the token server", "auth"),
}
# Image-side classes, judged on the good host: (image key or tag suffix, expected category).
IMAGE_CASES = {
    "arm_only": "arch",      # manifest list without linux/amd64
    "wrong_tag": "reference",
}


def _dropin(url: str) -> str:
    return ("[Service]\n"
            f'Environment="HTTP_PROXY={url}"\n'
            f'Environment="HTTPS_PROXY={url}"\n'
            'Environment="NO_PROXY=localhost,127.0.0.1"\n')


def _hosts_file(name: str, address: str) -> str:
    return f"127.0.0.1\tlocalhost\n{address}\t{REGISTRY_NAME}\n"


def gate_specs(fleet) -> list:
    fleet.prepare()
    good = golden_docker_files(fleet)
    no_ca = {"/root/.docker/config.json": docker_config_json(fleet)}
    bad_auth = base64.b64encode(f"{fleet.registry_user}:not-the-password".encode()).decode()
    wrong_url = (f"http://{fleet.proxy_user}:not-the-password@"
                 f"{fleet.proxy_url.split('://', 1)[1]}")

    def files(base: dict, **extra) -> dict:
        out = dict(base)
        out.update(extra)
        return out

    sys_only = {k: v for k, v in good.items() if not k.startswith("/etc/docker/certs.d/")}
    specs = {
        "good": files(good),
        "ca-missing": files(no_ca),
        "ca-system": files(sys_only),
        "insecure": files(no_ca, **{"/etc/docker/daemon.json": json.dumps(
            {"insecure-registries": [fleet.registry]}) + "\n"}),
        "no-creds": {k: v for k, v in good.items() if "/.docker/" not in k},
        "bad-creds": files(good, **{"/root/.docker/config.json": json.dumps(
            {"auths": {fleet.registry: {"auth": bad_auth}}}) + "\n"}),
        "bad-dns": files(good, **{"/etc/resolv.conf": f"search {DOMAIN}\nnameserver 127.0.0.1\n"}),
        "fw-drop": files(good),
        "fw-reject": files(good),
        "proxy-ok": files(good, **{DROPIN: _dropin(fleet.proxy_url_with_credentials)}),
        "proxy-nocreds": files(good, **{DROPIN: _dropin(fleet.proxy_url)}),
        "proxy-badcreds": files(good, **{DROPIN: _dropin(wrong_url)}),
        "disk-full": files(good),
        "cert-expired": files(good),
        "cert-notyet": files(good),
        "bearer-ok": files(good),
        "bearer-badcreds": files(good, **{"/root/.docker/config.json": json.dumps(
            {"auths": {fleet.registry: {"auth": bad_auth}}}) + "\n"}),
    }
    assert set(specs) == set(GATE_HOSTS)
    out = []
    for name, f in specs.items():
        kw = {}
        if name == "fw-drop":
            kw["iptables"] = ["-A OUTPUT -p tcp --dport 443 -j DROP"]
        elif name == "fw-reject":
            kw["iptables"] = ["-A OUTPUT -p tcp --dport 443 -j REJECT --reject-with tcp-reset"]
        elif name == "disk-full":
            kw.update(data_root_size="128m", fill_data_root_pct=95)
        elif name == "cert-expired":
            f["/etc/hosts"] = _hosts_file(name, fleet.service_address("expired"))
        elif name == "cert-notyet":
            f["/etc/hosts"] = _hosts_file(name, fleet.service_address("notyet"))
        elif name.startswith("bearer-"):
            f["/etc/hosts"] = _hosts_file(name, fleet.service_address("tokenreg"))
        out.append(HostSpec(name=name, kind="docker", files=f, groups=["gate"], **kw))
    return out
