"""How likely a difference in a fact is to break `docker pull`, and what it looks like.

Used by `fleetaudit diff` to order the differences between a working and a failing
host. Longest matching prefix wins; weights are judgement from the field guide, kept in
one table so they can be argued about in one place.
"""
from __future__ import annotations

from typing import List, Tuple

# (fact path prefix, category, weight 0..1, symptom the user sees on the failing host)
PATH_IMPACT: List[Tuple[str, str, float, str]] = [
    ("daemon_json.valid", "daemon", 1.0, "dockerd refuses to start: unable to configure the Docker daemon with file /etc/docker/daemon.json"),
    ("daemon_json.error", "daemon", 1.0, "dockerd refuses to start: invalid daemon.json"),
    ("docker.daemon_up", "daemon", 1.0, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"),
    ("docker.error", "daemon", 0.9, "Cannot connect to the Docker daemon"),
    ("tls.certs_d", "tls", 0.95, "x509: certificate signed by unknown authority (per-registry CA)"),
    ("tls.bundle", "tls", 0.85, "x509: certificate signed by unknown authority"),
    ("tls.anchors", "tls", 0.8, "x509: certificate signed by unknown authority"),
    ("daemon_json.config.insecure-registries", "tls", 0.6, "http: server gave HTTP response to HTTPS client / x509 on one host only"),
    ("docker.info.insecure_registries", "tls", 0.6, "x509 or HTTP-vs-HTTPS errors on one host only"),
    ("proxy.daemon_no_proxy", "proxy", 0.85, "internal registry reached through the proxy: 403/407, timeouts or x509"),
    ("proxy.daemon", "proxy", 0.9, "dial tcp: i/o timeout, no such host, or Proxy Authentication Required"),
    ("proxy.dropins", "proxy", 0.85, "the daemon gets a different proxy: timeouts or 407"),
    ("proxy.daemon_json_proxies", "proxy", 0.85, "the daemon gets a different proxy"),
    ("daemon_json.config.proxies", "proxy", 0.85, "the daemon gets a different proxy"),
    ("docker.info.http_proxy", "proxy", 0.9, "dial tcp: i/o timeout or Proxy Authentication Required"),
    ("docker.info.https_proxy", "proxy", 0.9, "dial tcp: i/o timeout or Proxy Authentication Required"),
    ("docker.info.no_proxy", "proxy", 0.85, "internal registry reached through the proxy"),
    ("proxy.environment_file", "proxy", 0.3, "curl works but docker pull does not (shell proxy only)"),
    ("proxy.login_shell", "proxy", 0.3, "curl works but docker pull does not (shell proxy only)"),
    ("dns.resolv_conf", "dns", 0.85, "dial tcp: lookup REGISTRY: no such host"),
    ("dns.resolved", "dns", 0.7, "lookup REGISTRY on 127.0.0.53:53: server misbehaving"),
    ("daemon_json.config.dns", "dns", 0.5, "containers resolve differently (daemon dns)"),
    ("credentials", "auth", 0.85, "no basic auth credentials / pull access denied"),
    ("firewall", "firewall", 0.8, "dial tcp REGISTRY:443: i/o timeout"),
    ("network.interfaces", "mtu", 0.6, "unexpected EOF or TLS handshake timeout on large layers"),
    ("network.default_mtu", "mtu", 0.75, "unexpected EOF or TLS handshake timeout on large layers"),
    ("network.docker0_mtu", "mtu", 0.5, "stalls inside containers on large transfers"),
    ("daemon_json.config.mtu", "mtu", 0.6, "stalls on large transfers"),
    ("network.default_route", "reachability", 0.6, "dial tcp: connect: network is unreachable"),
    ("time", "time", 0.7, "x509: certificate has expired or is not yet valid"),
    ("docker.info.registry_mirrors", "daemon", 0.7, "pulls go to a different mirror (or none): rate limits or different content"),
    ("daemon_json.config.registry-mirrors", "daemon", 0.7, "pulls go to a different mirror"),
    ("system.arch", "arch", 0.8, "no matching manifest for linux/ARCH in the manifest list entries"),
    ("docker.info.architecture", "arch", 0.8, "no matching manifest for linux/ARCH"),
    ("disk", "disk", 0.6, "write /var/lib/docker/...: no space left on device"),
    ("docker.info.storage_driver", "daemon", 0.4, "failed to register layer"),
    ("docker.server.version", "daemon", 0.4, "behaviour differs between engine versions"),
    ("docker.client", "daemon", 0.2, "CLI differs"),
    ("daemon_json", "daemon", 0.5, "daemon configured differently"),
    ("daemon_log", "reachability", 0.3, "pull errors seen in the daemon log"),
    ("restarts", "daemon", 0.3, "containers restarting"),
    ("docker", "daemon", 0.3, "engine differs"),
    ("system", "daemon", 0.15, "OS differs"),
]


def impact(path: str) -> Tuple[str, float, str]:
    """(category, weight, symptom) for a fact path."""
    best = None
    for prefix, category, weight, symptom in PATH_IMPACT:
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, category, weight, symptom)
    if best is None:
        return ("daemon", 0.1, "")
    return best[1:]


def rank_drift(items) -> list:
    """Drift items with their impact, most likely cause of pull failures first."""
    ranked = []
    for item in items:
        category, weight, symptom = impact(item.path)
        ranked.append({"item": item, "category": category, "weight": weight, "symptom": symptom})
    ranked.sort(key=lambda r: (-r["weight"], r["item"].path))
    return ranked
