"""gate_probe: read-only registry checks for `fleetaudit gate`, built per run.

Not in the static REGISTRY: the registries and images come from the command line, so
`probe_collector(refs)` builds a Collector whose fragment joins the composite script of
that run (same single exec, same host-side redaction). Names come from the user and are
validated by fleetaudit.reference, and still travel shell-quoted.

Per registry:
- `getent hosts NAME`: the name as this host resolves it (/etc/hosts, nsswitch,
  resolv.conf), NAME being the host dockerd connects to (registry-1.docker.io for
  docker.io). Skipped for IP literals.
Per image (when `manifest=True`):
- `docker manifest inspect -v REF`, run as root (through `sudo -n` when the inventory
  says become): a CLI-SIDE check. The docker CLI talks to the registry itself, with root's
  ~/.docker/config.json credentials (the ones `sudo docker pull` would hand the daemon),
  the system CA bundle plus /etc/docker/certs.d, and the SSH session's proxy environment,
  NOT the daemon's. It reads the manifest only (no layers) and writes nothing. Only the
  "Ref", "architecture", "os" and "variant" lines and non-JSON (error) lines leave the
  host.

Facts:
- as: "root" | login user name — who ran the CLI check (root unless sudo was refused)
- registries: {registry: {lookup: name|null, ip_literal: bool, resolved: bool|null,
  addresses: [..], rc: int|null, error: str|null}}
- manifests: {reference: {ok: bool|null, rc: int|null, platforms: ["os/arch[/variant]"],
  error: str|null, classes: [pullerrors ids], cli_missing: bool}}
"""
from __future__ import annotations

import ipaddress
import re
from typing import Dict, List, Sequence

from ..reference import Reference, unique
from . import probe_daemon
from .base import RC_MISSING, RC_TIMEOUT, Collector, Part, Section, part

NAME = "gate_probe"
DNS_TIMEOUT_S = 8
MANIFEST_TIMEOUT_S = 15
RC_SKIPPED = 125   # a manifest read not attempted (see build_fragment)
_KEEP = r'/^[[:space:]]*"(Ref|architecture|os|variant)":/p; /^[^][:space:]{}[]/p'


def _q(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _registries(refs: Sequence[Reference]) -> List[Reference]:
    return unique(refs, key=lambda r: r.registry)


def _images(refs: Sequence[Reference]) -> List[Reference]:
    return unique(refs)


def _dpath_timeout(n_images: int) -> int:
    """Worst case of one registry's daemon-path part: /v2/ twice (anonymous, then with
    credentials or for the certificate's dates), a token and a manifest per image."""
    return probe_daemon.budget_s(2 + 2 * n_images) + 2


def build_fragment(refs: Sequence[Reference], manifest: bool = True,
                   dns_timeout: int = DNS_TIMEOUT_S, manifest_timeout: int = MANIFEST_TIMEOUT_S,
                   daemon_path: bool = True) -> str:
    """The sh fragment. A registry whose name does not resolve, or whose first manifest
    read timed out, gets its remaining manifest reads skipped (rc RC_SKIPPED): a
    blackholed registry must not cost one timeout per image."""
    regs = _registries(refs)
    reg_index = {r.registry: i for i, r in enumerate(regs)}
    lines = [
        "fa_gp_t=$FA_T",
        'fa_part as; if [ "$FA_UID" = 0 ] || [ "$FA_SUDO" = 1 ]; then echo root; '
        'else id -un 2>/dev/null || echo "$FA_UID"; fi; fa_rc 0',
        f"FA_T={int(dns_timeout)}",
    ]
    for i, r in enumerate(regs):
        lines.append(f"fa_gp_dead_{i}=")
        if r.is_ip:
            continue
        lines.append(f"fa_run dns_{i} getent hosts {_q(r.api_host)}")
        lines.append(f'case "$FA_RC" in 0|{RC_MISSING}) ;; '
                     f"*) fa_gp_dead_{i}='the registry name did not resolve' ;; esac")
    if daemon_path:
        # The daemon's own path (proxy, trust, insecure-registries, root's credentials):
        # what a pull would meet, asked with curl (see probe_daemon).
        lines += probe_daemon.lib_lines()
        for i, r in enumerate(regs):
            imgs = [x for x in _images(refs) if x.registry == r.registry]
            lines.append(f"FA_T={_dpath_timeout(len(imgs))}")
            lines.append(probe_daemon.registry_call(i, r, imgs))
            lines.append(f'case "$FA_RC" in 3|{RC_TIMEOUT}) [ -n "$fa_gp_dead_{i}" ] || '
                         f"fa_gp_dead_{i}='the registry did not answer along the daemon path (timeout)' ;; esac")
    if manifest:
        lines.append(f"FA_T={int(manifest_timeout)}")
        # sh -c so only the lines that matter leave the host; the CLI's status survives
        # the filter. $1 is the reference, $2 the sed program.
        inner = ('o=$(docker manifest inspect -v "$1" 2>&1); r=$?; '
                 'printf "%s\\n" "$o" | sed -n -E -e "$2" | head -n 400; exit $r')
        for j, r in enumerate(_images(refs)):
            i = reg_index[r.registry]
            lines.append(
                f'if [ -n "$fa_gp_dead_{i}" ]; then fa_part manifest_{j}; '
                f'printf \'skipped: %s\\n\' "$fa_gp_dead_{i}"; fa_rc {RC_SKIPPED}; '
                f"elif fa_has docker; then fa_root manifest_{j} sh -c {_q(inner)} sh {_q(str(r))} {_q(_KEEP)}; "
                f"[ \"$FA_RC\" = {RC_TIMEOUT} ] && fa_gp_dead_{i}='an earlier manifest read timed out'; "
                f"else fa_part manifest_{j}; printf 'docker: not found\\n'; fa_rc {RC_MISSING}; fi")
    lines.append('FA_T=$fa_gp_t')
    return "\n".join(lines) + "\n"


def budget_s(refs: Sequence[Reference], manifest: bool = True, dns_timeout: int = DNS_TIMEOUT_S,
             manifest_timeout: int = MANIFEST_TIMEOUT_S, daemon_path: bool = True) -> float:
    """Worst-case seconds the fragment adds to a host's collection script."""
    regs = [r for r in _registries(refs) if not r.is_ip]
    dpath = sum(_dpath_timeout(len([x for x in _images(refs) if x.registry == r.registry]))
                for r in _registries(refs)) if daemon_path else 0
    return len(regs) * dns_timeout + (len(_images(refs)) * manifest_timeout if manifest else 0) + dpath


def _first_line(text: str) -> str:
    for ln in text.splitlines():
        if ln.strip():
            return ln.strip()[:500]
    return ""


def parse_dns(p: Part, name: str) -> dict:
    out = {"lookup": name, "ip_literal": False, "resolved": None, "addresses": [], "rc": p.rc,
           "error": None}
    if p.rc is None and not p.out:
        out["error"] = "no output (cut off)"
        return out
    addrs: List[str] = []
    for ln in p.out.splitlines():
        words = ln.split()
        if not words:
            continue
        try:
            ipaddress.ip_address(words[0].split("%", 1)[0])
        except ValueError:
            continue
        if words[0] not in addrs:
            addrs.append(words[0])
    out["addresses"] = addrs[:16]
    if p.rc == 0 and addrs:
        out["resolved"] = True
    elif p.rc == RC_MISSING:
        out["error"] = "getent not installed: resolution not checked"
    elif p.rc == RC_TIMEOUT:
        out["resolved"] = False
        out["error"] = f"lookup of {name} did not answer within the probe's timeout"
    elif p.rc == 2:
        out["resolved"] = False
        out["error"] = f"{name} does not resolve on this host (getent: not found)"
    else:
        out["resolved"] = False if p.rc is not None else None
        out["error"] = _first_line(p.out) or f"getent hosts {name} exited {p.rc}"
    return out


_CLI_PHRASES = (
    # The CLI's own words that the pull-error table (daemon phrasing) does not know.
    (re.compile(r"no such manifest", re.I), "manifest-unknown"),
)


def classify_cli(text: str) -> List[str]:
    from ..pullerrors import classify
    ids: List[str] = []
    for chunk in [text] + text.splitlines():
        for cid in classify(chunk):
            if cid not in ids:
                ids.append(cid)
    if not ids:
        for rx, cid in _CLI_PHRASES:
            if rx.search(text):
                ids.append(cid)
    return ids


def parse_manifest(p: Part) -> dict:
    out = {"ok": None, "rc": p.rc, "platforms": [], "error": None, "classes": [],
           "cli_missing": False}
    if p.rc is None and not p.out:
        out["error"] = "no output (cut off)"
        return out
    platforms: List[str] = []
    cur: Dict[str, str] = {}
    errors: List[str] = []

    def flush():
        if cur.get("os") and cur.get("architecture") and "unknown" not in (cur["os"], cur["architecture"]):
            plat = f"{cur['os']}/{cur['architecture']}" + (f"/{cur['variant']}" if cur.get("variant") else "")
            if plat not in platforms:
                platforms.append(plat)

    for ln in p.out.splitlines():
        m = re.match(r'^\s*"(Ref|architecture|os|variant)":\s*"([^"]{0,200})"', ln)
        if m:
            key, val = m.group(1), m.group(2)
            if key == "Ref":
                flush()
                cur = {}
            else:
                cur[key] = val
            continue
        if ln.strip() and not ln[:1].isspace():
            errors.append(ln.strip()[:500])
    flush()
    out["platforms"] = sorted(platforms)
    if p.rc == 0:
        out["ok"] = True
        return out
    text = "\n".join(errors)
    if p.rc == RC_SKIPPED:
        out["error"] = (text or "skipped")[:300]
        return out
    if p.rc == RC_MISSING or re.search(r"'manifest' is not a docker command|unknown command", text):
        out["cli_missing"] = True
        out["error"] = ("docker CLI not installed" if p.rc == RC_MISSING
                        else "this docker CLI has no `manifest inspect`")
        return out
    out["ok"] = False
    if p.rc == RC_TIMEOUT:
        out["error"] = "docker manifest inspect did not finish within the probe's timeout"
        out["classes"] = ["request-timeout"]
        return out
    out["error"] = text[:1000] or f"docker manifest inspect exited {p.rc}"
    out["classes"] = classify_cli(text)
    return out


def probe_collector(refs: Sequence[Reference], manifest: bool = True,
                    dns_timeout: int = DNS_TIMEOUT_S,
                    manifest_timeout: int = MANIFEST_TIMEOUT_S,
                    daemon_path: bool = True) -> Collector:
    """The gate's probe section for these image references (built per run)."""
    regs = _registries(refs)
    images = _images(refs)

    def parse(section: Section) -> dict:
        as_part = part(section, "as")
        facts: dict = {"as": _first_line(as_part.out) or None, "registries": {}, "manifests": {},
                       "daemon_path": {}}
        for i, r in enumerate(regs):
            if r.is_ip:
                facts["registries"][r.registry] = {
                    "lookup": None, "ip_literal": True, "resolved": True, "addresses": [r.host],
                    "rc": None, "error": None}
            else:
                facts["registries"][r.registry] = parse_dns(part(section, f"dns_{i}"), r.api_host)
        if daemon_path:
            for i, r in enumerate(regs):
                facts["daemon_path"][r.registry] = probe_daemon.parse_dpath(part(section, f"dpath_{i}"))
        if manifest:
            for i, r in enumerate(images):
                facts["manifests"][str(r)] = parse_manifest(part(section, f"manifest_{i}"))
        return facts

    return Collector(name=NAME, script=build_fragment(refs, manifest, dns_timeout, manifest_timeout,
                                                      daemon_path),
                     parse=parse, doc=__doc__ or "")
