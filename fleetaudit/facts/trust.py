"""The trust model: which CAs a host's dockerd trusts for a registry, and which the fleet
expects it to trust.

dockerd verifies a registry's certificate against the system bundle (tls.bundle: the one
file Go loads) plus /etc/docker/certs.d/<registry>/*.crt, read on every pull; a registry
in insecure-registries (a name, or an IP inside a listed CIDR) is not verified at all.
Local anchors (/usr/local/share/ca-certificates, /etc/pki/ca-trust/source/anchors) only
count once update-ca-certificates / update-ca-trust merged them into the bundle, and
dockerd only sees a new bundle after a restart. Certificate details (subject,
fingerprint, validity) come from the run's catalog: sha256 of a file -> its certificates.

Per host: Trust (trust_of) and, per registry, RegistryTrust (what the daemon applies).
Fleet: FleetCA per registry (count_fleet_cas), ExpectedCA (expected_cas) and Gap
(registry_gaps). FleetView caches these per run.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from .registries import ip_of, registry_host
from .schema import dig, join_all
from .values import MISSING

Cert = Dict[str, Any]
Catalog = Callable[[Any], Any]     # sha256 -> the run catalog's entry (a list of certificates)
CERTS_D = "/etc/docker/certs.d"
SAMPLE_HOLDERS = 3


def catalog_certs(catalog: Catalog, sha: Any) -> Optional[List[Cert]]:
    """The certificates of a file by its content hash, None when the run never fetched it."""
    if not isinstance(sha, str):
        return None
    got = catalog(sha)
    if not isinstance(got, list):
        return None
    return [c for c in got if isinstance(c, dict) and isinstance(c.get("sha256"), str)
            and isinstance(c.get("subject", ""), str)]


@dataclass
class CertsDir:
    """/etc/docker/certs.d/<dirname>/ of one host."""

    dirname: str
    files: List[dict]

    def kind(self, kind: str) -> List[dict]:
        return [f for f in self.files if f.get("kind") == kind]


@dataclass
class Trust:
    """What one host (or a baseline) trusts, from its tls facts and the run's catalog."""

    bundle: dict
    bundle_certs: Optional[List[Cert]]        # None: content unknown
    anchors: List[dict]
    anchor_certs: Dict[str, Optional[List[Cert]]]
    certs_d: Dict[str, CertsDir]               # registry (normalized) -> its directory
    dir_certs: Dict[str, Optional[List[Cert]]] = field(default_factory=dict)  # file path -> certs

    @property
    def bundle_fps(self) -> Optional[Set[str]]:
        return None if self.bundle_certs is None else {c["sha256"] for c in self.bundle_certs}

    def ca_fps(self, registry: str) -> Optional[Set[str]]:
        """Fingerprints in the registry's certs.d CA files; None if any is unknown."""
        d = self.certs_d.get(registry)
        out: Set[str] = set()
        for f in d.kind("ca") if d else []:
            certs = self.dir_certs.get(f.get("path"))
            if certs is None:
                return None
            out |= {c["sha256"] for c in certs}
        return out

    def anchor_fps(self) -> Set[str]:
        return {c["sha256"] for certs in self.anchor_certs.values() if certs for c in certs}

    def all_dir_fps(self) -> Set[str]:
        return {c["sha256"] for certs in self.dir_certs.values() if certs for c in certs}


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _typed(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else None


def clean_file(f: Any) -> Optional[dict]:
    """A tls file entry with every field of the type the collector documents (None
    otherwise): host data is untrusted, and snapshots may come from older versions."""
    if not isinstance(f, dict):
        return None
    return {
        "path": _typed(f.get("path"), str), "kind": _typed(f.get("kind"), str),
        "sha256": f["sha256"] if isinstance(f.get("sha256"), str) and _HEX64.match(f["sha256"]) else None,
        "size": _typed(f.get("size"), int), "count": _typed(f.get("count"), int),
        "has_private_key": _typed(f.get("has_private_key"), bool),
        "suffix_ok": _typed(f.get("suffix_ok"), bool), "present": _typed(f.get("present"), bool),
    }


def trust_of(catalog: Catalog, facts: Any) -> Optional[Trust]:
    """The trust view of some facts; None when the tls facts are missing or incomplete."""
    tls = dig(facts, "tls") if isinstance(facts, dict) else None
    if not isinstance(tls, dict) or tls.get("error") or not isinstance(tls.get("bundle"), dict):
        return None
    bundle = clean_file(tls["bundle"])
    raw_anchors = tls.get("anchors") if isinstance(tls.get("anchors"), list) else []
    anchors = [a for a in map(clean_file, raw_anchors) if a and a["path"]]
    certs_d: Dict[str, CertsDir] = {}
    dir_certs: Dict[str, Optional[List[Cert]]] = {}
    raw = tls.get("certs_d")
    for dirname, files in sorted(raw.items()) if isinstance(raw, dict) else ():
        reg = registry_host(dirname)
        if not reg or not isinstance(files, list):
            continue
        good = [f for f in map(clean_file, files) if f and f["path"]]
        certs_d.setdefault(reg, CertsDir(dirname, good))
        for f in good:
            if f.get("kind") in ("ca", "cert"):
                dir_certs[f["path"]] = catalog_certs(catalog, f.get("sha256"))
    return Trust(
        bundle=bundle,
        bundle_certs=catalog_certs(catalog, bundle.get("sha256")) if bundle.get("present") else [],
        anchors=anchors,
        anchor_certs={a["path"]: catalog_certs(catalog, a.get("sha256")) for a in anchors},
        certs_d=certs_d, dir_certs=dir_certs,
    )


# ------------------------------------------------------------------ one registry on one host

def registry_certs(trust: Trust) -> List[Tuple[str, str, Cert, str]]:
    """(label, file path, certificate, fact path) of the certificates this host keeps for
    registries: certs.d CA and client certificates, and local CA anchors; each
    fingerprint once."""
    out, seen = [], set()
    for reg, d in sorted(trust.certs_d.items()):
        for f in d.files:
            if f.get("kind") not in ("ca", "cert"):
                continue
            label = f"CA for {reg}" if f["kind"] == "ca" else f"client certificate for {reg}"
            for c in trust.dir_certs.get(f["path"]) or []:
                if c["sha256"] not in seen:
                    seen.add(c["sha256"])
                    out.append((label, f["path"], c,
                                join_all(("tls", "certs_d", d.dirname, f["path"].rsplit("/", 1)[-1]))))
    for a in trust.anchors:
        for c in trust.anchor_certs.get(a["path"]) or []:
            if c["sha256"] not in seen:
                seen.add(c["sha256"])
                out.append(("local CA", a["path"], c, join_all(("tls", "anchors", a["path"]))))
    return out



def insecure_match(entries: Any, registry: str) -> Optional[str]:
    """The insecure-registries entry that turns TLS verification off for `registry`
    (host[:port] exactly, or an IP registry inside a listed CIDR; dockerd also resolves
    names to match CIDRs, which an audit cannot: names match by name only). None when
    none does; MISSING when the daemon's list is unknown."""
    if entries is MISSING:
        return MISSING
    reg = registry.lower()
    host = reg[1:reg.index("]")] if reg.startswith("[") and "]" in reg else reg.rsplit(":", 1)[0] \
        if reg.count(":") == 1 else reg
    ip = ip_of(host)
    if host == "localhost":
        ip = ip_of("127.0.0.1")
    for e in entries:
        if "/" in e:
            if ip is None:
                continue
            try:
                net = ipaddress.ip_network(e, strict=False)
            except ValueError:
                continue
            if ip.version == net.version and ip in net:
                return e
        elif e == reg or e == host:
            return e
    return None


@dataclass
class RegistryTrust:
    """The trust dockerd applies to one registry on one host.

    - `verified`: False when an insecure-registries entry (`insecure_entry`) turns
      verification off; None when the daemon's insecure list is unknown.
    - `certs_d`: /etc/docker/certs.d/<registry>/ (None when there is none); `ca_files`
      its CA files (added to the system roots, read on every pull).
    - `system_bundle`: the bundle file Go loads (path, sha256, present), read at
      dockerd's start; `bundle_known`: whether the run's catalog has its certificates.
    - `mirrors`: for Docker Hub, the registry mirrors the daemon tries first.
    - `sources`: the above in words, in the order dockerd uses them.
    - `known`: False when the host's tls facts are missing (then nothing else is).
    """

    registry: str
    known: bool
    verified: Optional[bool] = None
    insecure_entry: Optional[str] = None
    certs_d: Optional[CertsDir] = None
    ca_files: List[str] = field(default_factory=list)
    system_bundle: Optional[dict] = None
    bundle_known: bool = False
    mirrors: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)


def registry_trust(trust: Optional[Trust], registry: str, insecure: Any, mirrors: Any,
                   hub: str) -> RegistryTrust:
    """RegistryTrust of `registry` from a host's Trust, its daemon's insecure entries
    (insecure_entries) and mirrors (registry_mirrors); `hub` is Docker Hub's name."""
    reg = registry_host(registry) or registry
    mirror_list = list(mirrors) if reg == hub and mirrors is not MISSING else []
    entry = insecure_match(insecure, reg)
    verified = None if entry is MISSING else entry is None
    out = RegistryTrust(reg, known=trust is not None, verified=verified,
                        insecure_entry=entry if isinstance(entry, str) else None, mirrors=mirror_list)
    if mirror_list:
        out.sources.append("mirrors first: " + ", ".join(mirror_list))
    if entry is not None and entry is not MISSING:
        out.sources.append(f"TLS not verified: insecure-registries entry {entry!r}")
    if trust is None:
        return out
    d = trust.certs_d.get(reg)
    out.certs_d = d
    out.ca_files = [f["path"] for f in d.kind("ca")] if d else []
    out.system_bundle = trust.bundle
    out.bundle_known = trust.bundle_certs is not None
    if trust.bundle.get("present"):
        out.sources.append(f"system bundle {trust.bundle.get('path') or '(path unknown)'}")
    else:
        out.sources.append("no system bundle")
    for p in out.ca_files:
        out.sources.append(f"certs.d CA {p}")
    return out


# ------------------------------------------------------------------ what the fleet trusts

@dataclass
class Holder:
    host: str                # inventory name, or "baseline"
    dirname: str
    files: List[dict]        # its certs.d CA files
    fps: Dict[str, Cert]     # fingerprint -> certificate (what the catalog knows)


@dataclass
class ExpectedCA:
    registry: str
    holders: List[Holder]            # a few hosts (or the baseline) to copy the CA from
    source: str
    fps: Dict[str, Cert] = field(default_factory=dict)   # what the catalog knows of it
    shas: Set[str] = field(default_factory=set)          # its files' hashes


def holder(name: str, trust: Trust, reg: str) -> Optional[Holder]:
    """`name`'s certs.d CAs for a registry as a Holder (None when it has none)."""
    d = trust.certs_d.get(reg)
    cas = d.kind("ca") if d else []
    if not d or not cas:
        return None
    fps: Dict[str, Cert] = {}
    for f in cas:
        for c in trust.dir_certs.get(f["path"]) or []:
            fps.setdefault(c["sha256"], c)
    return Holder(name, d.dirname, cas, fps)


@dataclass
class FleetCA:
    """One registry's certs.d CAs over the fleet, counted once per run."""

    hosts: Set[str] = field(default_factory=set)
    sample: List[Holder] = field(default_factory=list)
    fp_hosts: Dict[str, int] = field(default_factory=dict)
    sha_hosts: Dict[str, int] = field(default_factory=dict)
    certs: Dict[str, Cert] = field(default_factory=dict)
    own: Dict[str, Holder] = field(default_factory=dict)   # host -> its holder (to discount it)

    def others(self, me: str) -> Tuple[Dict[str, Cert], Set[str], List[Holder]]:
        """The fleet's CAs for the registry without host `me`'s own contribution."""
        mine = self.own.get(me)
        my_fps = set(mine.fps) if mine else set()
        my_shas = {f.get("sha256") for f in mine.files} if mine else set()
        fps = {fp: self.certs[fp] for fp, n in self.fp_hosts.items() if n - (fp in my_fps) > 0}
        shas = {sha for sha, n in self.sha_hosts.items() if n - (sha in my_shas) > 0}
        return fps, shas, [h for h in self.sample if h.host != me][:SAMPLE_HOLDERS]


def count_fleet_cas(trusts: Sequence[Tuple[str, Trust]]) -> Dict[str, FleetCA]:
    """registry -> the fleet's certs.d CAs for it, from (host, trust) pairs."""
    out: Dict[str, FleetCA] = {}
    for name, t in trusts:
        for reg in t.certs_d:
            got = holder(name, t, reg)
            if not got:
                continue
            agg = out.setdefault(reg, FleetCA())
            agg.hosts.add(name)
            agg.own[name] = got
            if len(agg.sample) < SAMPLE_HOLDERS + 1:
                agg.sample.append(got)
            for fp, c in got.fps.items():
                agg.fp_hosts[fp] = agg.fp_hosts.get(fp, 0) + 1
                agg.certs.setdefault(fp, c)
            for sha in {f.get("sha256") for f in got.files if f.get("sha256")}:
                agg.sha_hosts[sha] = agg.sha_hosts.get(sha, 0) + 1
    return out


def expected_cas(me: str, fleet: Dict[str, FleetCA], known: int, own: Dict[str, str],
                 base: Optional[Trust], min_hosts: int) -> List[ExpectedCA]:
    """Registry CAs host `me` should trust: the baseline's certs.d CAs; those a strict
    majority of the fleet (of `known` hosts with known trust, at least `min_hosts`) has;
    and those other hosts have for a registry this host evidently pulls from (`own`:
    registry -> the fact that says so)."""
    out: Dict[str, ExpectedCA] = {}
    for reg in sorted(base.certs_d if base else ()):
        got = holder("baseline", base, reg)
        if got:
            out[reg] = ExpectedCA(reg, [got], "baseline", dict(got.fps),
                                  {f.get("sha256") for f in got.files if f.get("sha256")})
    for reg, agg in sorted(fleet.items()):
        n_others = len(agg.hosts) - (me in agg.hosts)  # not len(hosts - {me}): a copy per host
        if reg in out or not n_others:
            continue
        if base is None and known >= min_hosts and len(agg.hosts) * 2 > known:
            source = f"fleet majority ({len(agg.hosts)} of {known} hosts)"
        elif reg in own:
            source = f"{n_others} other host(s) trust a CA for it and this host pulls from it ({own[reg]})"
        else:
            continue
        fps, shas, holders = agg.others(me)
        out[reg] = ExpectedCA(reg, holders, source, fps, shas)
    return [out[r] for r in sorted(out)]


@dataclass
class Gap:
    """A registry whose CA this host does not trust."""

    expected: ExpectedCA
    kind: str                     # "missing": no CA here; "different": another CA here
    certain: bool                 # False when the catalog could not tell (bundle content unknown)
    mine: Optional[CertsDir]
    in_anchor: List[str] = field(default_factory=list)   # anchors holding it (not merged)


def registry_gaps(trust: Optional[Trust], expected: List[ExpectedCA], insecure: Any) -> List[Gap]:
    """The expected registry CAs this host's dockerd does not trust (registries it marks
    insecure are not verified, so never a gap)."""
    gaps: List[Gap] = []
    insecure = set(insecure) if insecure is not MISSING else set()
    for exp in expected if trust is not None else []:
        if exp.registry in insecure:
            continue    # TLS is not verified for it here (daemon.insecure-registry says so)
        mine = trust.certs_d.get(exp.registry)
        want = set(exp.fps)
        bundle = trust.bundle_fps
        in_bundle = bool(want and bundle is not None and want & bundle)
        anchored = [a["path"] for a in trust.anchors
                    if want & {c["sha256"] for c in trust.anchor_certs.get(a["path"]) or []}]
        if mine and mine.kind("ca"):
            have = trust.ca_fps(exp.registry)
            if want and have is not None:
                if not (have & want) and not in_bundle:
                    gaps.append(Gap(exp, "different", True, mine, anchored))
            # unknown content: tls.certs-d-differs compares the files by hash
            continue
        if in_bundle:
            continue
        certain = bool(want) and bundle is not None
        gaps.append(Gap(exp, "missing", certain, mine, anchored))
    return gaps
