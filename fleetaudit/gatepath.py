"""What the daemon's own path says about one pull: pure functions the gate's verdict
(fleetaudit.verdict) weighs, for read-only and --pull alike (issue 9).

Inputs are the daemon-path probe's facts (fleetaudit.collectors.probe_daemon.parse_dpath)
and the host's derived facts (fleetaudit.facts.HostView: clock offset, dockerd's trust
for the registry). What the probe itself observed on the host (the proxy it followed,
insecure-registries as dockerd's config says) wins over the audit's reading of the same
configuration, because it is the request that was actually made.

No I/O. A `Clue` is one piece of evidence with the category it points to; `None` means
"this source has nothing to say", never "fine".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

from .facts import HostView
from .reference import Reference

# Clock offsets (host minus auditor) below this do not explain a certificate's validity
# window: the same threshold as the clock.skew rule's medium finding.
CLOCK_OFF_S = 60.0
# Categories a working request along the daemon's path contradicts: if dockerd's own
# request got the manifest, a finding in these cannot stop this pull.
PATH_CATEGORIES = {"tls", "auth", "proxy", "dns", "firewall", "reachability", "time"}


@dataclass
class Clue:
    category: str
    pull_class: Optional[str]   # the fleetaudit.pullerrors id a pull would show
    message: str
    fix: Optional[str] = None
    ok: bool = False            # True: the daemon's path worked for this image


# ------------------------------------------------------------------ host questions

def clock_offset_s(view: HostView) -> Optional[float]:
    """Host clock minus the auditor's, seconds; None when not measured."""
    return view.clock_offset_s


def clock_is_off(view: HostView) -> Optional[bool]:
    off = view.clock_offset_s
    if off is None:
        return None
    return abs(off) - abs(view.clock_uncertainty_s or 0.0) > CLOCK_OFF_S


def registry_insecure(view: HostView, dpath: Optional[dict], registry: str) -> bool:
    """dockerd skips certificate checks for this registry (insecure-registries, by name
    or CIDR): as the probe read dockerd's config, else as the audit's trust view says."""
    if isinstance(dpath, dict) and (dpath.get("path") or {}).get("insecure") == "yes":
        return True
    try:
        return view.trust_for(registry).verified is False
    except Exception:
        return False


def via_proxy(dpath: Optional[dict]) -> Optional[bool]:
    """Did the host-side probe, following dockerd's HTTPS_PROXY/NO_PROXY, use a proxy?"""
    if not isinstance(dpath, dict):
        return None
    via = (dpath.get("path") or {}).get("via")
    return {"proxy": True, "direct": False}.get(via)


# ------------------------------------------------------------------ the probe, read

def _tls_clue(error: str, dpath: dict, view: HostView, registry: str) -> Clue:
    cert = dpath.get("cert") or {}
    dates = ""
    if cert.get("start_date") or cert.get("expire_date"):
        dates = f" (certificate valid {cert.get('start_date', '?')} to {cert.get('expire_date', '?')})"
    low = error.lower()
    if "not yet valid" in low or "has expired" in low:
        before = "not yet valid" in low
        off = clock_is_off(view)
        what = "is not valid yet" if before else "has expired"
        if off:
            return Clue("time", "x509-not-yet-valid" if before else "x509-expired",
                        f"{registry}'s certificate {what} by this host's clock{dates}, and the host clock is "
                        f"off by {clock_offset_s(view):+.0f} s",
                        "Sync the clock (NTP: timedatectl set-ntp true / chronyd) and retry.")
        return Clue("tls", "x509-not-yet-valid" if before else "x509-expired",
                    f"{registry}'s certificate {what}{dates}; this host's clock is right "
                    f"({'offset unknown' if off is None else f'{clock_offset_s(view):+.0f} s'}): "
                    "the certificate is the problem",
                    ("Reissue the registry certificate with a start date in the past (check the "
                     "issuing machine's clock)" if before else "Renew the registry certificate")
                    + f": openssl s_client -connect {registry} -servername {registry.split(':')[0]} "
                      "</dev/null | openssl x509 -noout -dates")
    if "issuer" in low or "self signed" in low or "self-signed" in low or "unknown ca" in low:
        return Clue("tls", "x509-unknown-authority",
                    f"dockerd's trust (system bundle + /etc/docker/certs.d/{registry}) does not verify "
                    f"{registry}'s certificate: {error}",
                    f"Install the registry CA as /etc/docker/certs.d/{registry}/ca.crt (or in the "
                    "system bundle) and restart docker")
    return Clue("tls", None, f"TLS to {registry} fails along dockerd's path: {error}")


def _network_clue(failure: str, error: str, dpath: dict, registry: str,
                  firewall_finding: bool) -> Clue:
    proxy = (dpath.get("path") or {}).get("proxy") or "-"
    if via_proxy(dpath):
        return Clue("proxy", "proxyconnect-failed",
                    f"dockerd's proxy {proxy} cannot be used for {registry}: {error}",
                    "Fix the daemon's HTTPS_PROXY (systemd drop-in) or exempt the registry via NO_PROXY")
    if failure == "dns":
        return Clue("dns", "dns-lookup-failed", f"{registry} does not resolve for dockerd: {error}",
                    "getent hosts " + registry.split(":")[0] + "; cat /etc/resolv.conf")
    kind = {"timeout": "request-timeout", "connect": "connection-refused"}.get(failure)
    category = "firewall" if firewall_finding else "reachability"
    return Clue(category, kind, f"dockerd's direct connection to {registry} fails: {error}",
                "Allow egress to the registry (iptables -S OUTPUT) or configure the proxy the network needs")


def _manifest_clue(req: dict, dpath: dict, ref: Reference, fleet_read_ok: int) -> Optional[Clue]:
    status = req.get("status")
    creds = (dpath.get("credentials") or {}).get("login") == "yes"
    helper = (dpath.get("credentials") or {}).get("store", "-") != "-" or \
        (dpath.get("credentials") or {}).get("helper", "-") != "-"
    if status == 200:
        return Clue("", None, f"dockerd's path reads {ref} (HTTP 200)", ok=True)
    if status in (401, 403):
        if helper and not creds:
            return None  # the secret is in a credential helper the probe does not run
        if status == 403:
            return Clue("auth", "forbidden", f"{ref.registry} refuses root's credentials for {ref.path} (403)",
                        f"Grant pull on {ref.path} to the account root logs in with")
        token = (dpath.get("tokens") or {}).get(ref.path) or {}
        if creds and token.get("got") is False and token.get("status") in (401, 403):
            return Clue("auth", "unauthorized",
                        f"{ref.registry}'s token server refuses root's credentials ({token['status']}): "
                        "no pull token, so the manifest answers 401",
                        f"sudo docker login {ref.registry}")
        if creds:
            return Clue("auth", "unauthorized",
                        f"{ref.registry} answers 401 to root's credentials (wrong user/password or expired token)",
                        f"sudo docker login {ref.registry}")
        return Clue("auth", "no-basic-auth-credentials",
                    f"root has no credentials for {ref.registry} and it requires them (401)",
                    f"sudo docker login {ref.registry}")
    if status == 404:
        if fleet_read_ok:
            # Registries answer 404 for repositories an account may not see: when other
            # hosts read the same reference, this host's login is the difference.
            return Clue("auth", "pull-access-denied",
                        f"{ref.registry} says {ref} does not exist for this host's root login, while "
                        f"{fleet_read_ok} other host(s) read it: a login without access, not a wrong tag",
                        f"sudo docker login {ref.registry} (with an account that can pull {ref.path})")
        return Clue("reference", "manifest-unknown", f"{ref} does not exist on {ref.registry} (404 manifest unknown)",
                    "Check the tag (docker buildx imagetools inspect / the registry's tag list)")
    if status == 429:
        return Clue("ratelimit", "toomanyrequests", f"{ref.registry} rate-limits this host (429)")
    return None


def daemon_path_clue(dpath: Optional[dict], ref: Reference, view: HostView, fleet_read_ok: int = 0,
                     firewall_finding: bool = False) -> Optional[Clue]:
    """The evidence of dockerd's own path for pulling `ref`, or None when the probe could
    not say (not run, no curl, cut off, a credential helper)."""
    if not isinstance(dpath, dict) or dpath.get("tool") not in ("curl", "openssl"):
        return None
    v2 = dpath.get("v2")
    if not isinstance(v2, dict):
        return None
    if (dpath.get("path") or {}).get("source") not in ("environ", "daemon.json"):
        return None   # dockerd's proxy settings were not readable: the route is unknown
    registry = ref.registry
    if dpath["tool"] == "openssl":
        verify = str(v2.get("verify") or "")
        if verify.startswith(("10 ", "9 ")):
            word = "has expired" if verify.startswith("10 ") else "not yet valid"
            return _tls_clue(word, {"cert": v2.get("cert") or {}}, view, registry)
        if verify and not verify.startswith("0 ") and not registry_insecure(view, dpath, registry):
            return _tls_clue("unable to get local issuer certificate (" + verify + ")", dpath, view, registry)
        return None   # TLS fine, the rest unchecked
    connect = v2.get("connect")
    if connect and connect != 200:
        proxy = (dpath.get("path") or {}).get("proxy") or "-"
        creds = (dpath.get("path") or {}).get("proxy_creds") == "yes"
        if connect == 407 or (connect == 401 and via_proxy(dpath)):
            return Clue("proxy", "proxy-auth-required",
                        f"dockerd's proxy {proxy} answers {connect} to the CONNECT for {registry} "
                        + ("(its credentials are refused)" if creds else "(the proxy URL carries no credentials)"),
                        "Put user:password into the daemon's HTTPS_PROXY (systemd drop-in), or exempt the "
                        "registry via NO_PROXY; daemon-reload and restart docker")
        return Clue("proxy", "proxy-connect-status",
                    f"dockerd's proxy {proxy} refuses the CONNECT to {registry} ({connect})",
                    "Allow the registry on the proxy or exempt it via NO_PROXY")
    failure = v2.get("failure")
    error = str(v2.get("error") or "")
    if failure == "tls" and not registry_insecure(view, dpath, registry):
        return _tls_clue(error, dpath, view, registry)
    if failure in ("dns", "connect", "timeout", "proxy-dns"):
        return _network_clue(failure if failure != "proxy-dns" else "connect", error, dpath, registry,
                             firewall_finding)
    if failure:
        return None
    key = f"{ref.path}:{ref.digest or ref.tag or 'latest'}"
    req = (dpath.get("manifests") or {}).get(key)
    if not isinstance(req, dict):
        return None
    if req.get("failure") == "tls" and not registry_insecure(view, dpath, registry):
        return _tls_clue(str(req.get("error") or ""), dpath, view, registry)
    return _manifest_clue(req, dpath, ref, fleet_read_ok)


def read_ok(dpath: Optional[dict], cli_manifest: Optional[dict], ref: Reference) -> bool:
    """Did this host read the reference's manifest, along either path?"""
    if isinstance(cli_manifest, dict) and cli_manifest.get("ok") is True:
        return True
    if isinstance(dpath, dict):
        req = (dpath.get("manifests") or {}).get(f"{ref.path}:{ref.digest or ref.tag or 'latest'}")
        return isinstance(req, dict) and req.get("status") == 200
    return False


def platforms(dpath: Optional[dict], ref: Reference) -> List[str]:
    """The platforms of a manifest list read along the daemon's path ([] for a single image)."""
    if not isinstance(dpath, dict):
        return []
    req = (dpath.get("manifests") or {}).get(f"{ref.path}:{ref.digest or ref.tag or 'latest'}")
    return list(req.get("platforms") or []) if isinstance(req, dict) and req.get("status") == 200 else []


# ------------------------------------------------------------------ a pull's category, weighed

def pull_category(category: Optional[str], classes: Iterable[str], view: HostView,
                  dpath: Optional[dict], finding_categories: Dict[str, str],
                  clue: Optional[Clue] = None) -> Optional[str]:
    """The category a failed pull stands for once the host's other evidence is weighed:
    a validity-window error is `tls` unless the host clock is off (then `time`); a
    timeout/refusal is `firewall` when the host's firewall blocks the registry, `proxy`
    when dockerd goes through a proxy that refused; a bare 'Unauthorized' from the
    proxy's CONNECT is `proxy`, not the registry's auth; an error the pull-error table
    does not know (dockerd's bare `Head ".../manifests/1.0": unauthorized` after a refused
    token request) takes the category of the daemon-path probe's failure."""
    classes = list(classes)
    if classes and classes[0] in ("x509-not-yet-valid", "x509-expired", "x509-expired-or-not-yet-valid"):
        return "time" if clock_is_off(view) else "tls"
    v2 = (dpath or {}).get("v2") if isinstance(dpath, dict) else None
    connect = v2.get("connect") if isinstance(v2, dict) else None
    if via_proxy(dpath) and connect and connect != 200:
        return "proxy"
    if not classes and clue is not None and not clue.ok and clue.category:
        return clue.category
    if category in (None, "reachability"):
        if "firewall" in finding_categories:
            return "firewall"
        if via_proxy(dpath) and "proxy" in finding_categories:
            return "proxy"
    return category
