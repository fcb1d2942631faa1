"""The trust model: which CAs each host's dockerd trusts for a registry, and which the
fleet expects it to trust (diagnosis input, no rules here).

dockerd verifies a registry's certificate against the system bundle (tls.bundle: the one
file Go loads) plus /etc/docker/certs.d/<registry>/*.crt, read on every pull. Local
anchors (/usr/local/share/ca-certificates, /etc/pki/ca-trust/source/anchors) only count
once update-ca-certificates / update-ca-trust merged them into the bundle, and dockerd
only sees a new bundle after a restart. Certificate details (subject, fingerprint,
validity) come from the run's catalog: sha256 of a file -> its certificates.

Parts: the clock to judge validity with (the clock family uses it too), the OS-family
specific CA install commands, each host's trust view (Trust), and what the fleet
trusts per registry (expected_cas, registry_gaps). The rules over it are in
rules_tls.py. (Issue 15 moves this model into fleetaudit/facts/ as a derived fact.)
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from .base import HostContext, dig
from .common import (
    MIN_MAJORITY_HOSTS, MISSING, audited_hosts, cap, host_memo,
    insecure_registries, number, own_registries, q, registry_host, restart_docker,
    run_cache, split_host_port,
)

# A CA that expires within this many days needs rolling out now: new CA files have to
# reach every host (and dockerd restarts for the bundle) before the old one lapses.
EXPIRY_WARN_DAYS = 30
CERTS_D = "/etc/docker/certs.d"
# Evidence lists name at most this many certificates or files.
LIST_CAP = 8


# ------------------------------------------------------------------ clock


def log_sample(facts: dict, cls: str) -> str:
    s = dig(facts, "daemon_log.samples")
    v = s.get(cls) if isinstance(s, dict) else None
    v = v.get("line") if isinstance(v, dict) else v
    return v if isinstance(v, str) else ""


def iso_epoch(text: Any) -> Optional[float]:
    """Epoch seconds of an ISO-8601 UTC time ("2099-12-31T23:59:59Z"); None if junk."""
    if not isinstance(text, str):
        return None
    s = text.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        when = datetime.datetime.fromisoformat(s)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def day(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


@dataclass
class Now:
    """The times a validity check needs: the real time (the auditor's clock when it
    measured this host, else the run's start) and the host's own clock, which is what
    dockerd verifies certificates with."""

    real: Optional[float]
    host: Optional[float]
    source: str


def clock_now(ctx: HostContext) -> Now:
    host = number(dig(ctx.facts, "time.clock.host_epoch"))
    real = number(dig(ctx.facts, "time.clock.controller_epoch"))
    source = "time.clock.controller_epoch"
    if real is None:
        run = ctx.run.run if isinstance(ctx.run.run, dict) else {}
        real, source = iso_epoch(run.get("started")), "run.started"
    if real is None:
        real, source = host, "time.clock.host_epoch"
    return Now(real=real, host=host if host is not None else real, source=source)


# ------------------------------------------------------------------ CA install commands

def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80] or "registry"


def ca_install(family: str, src: str, name: str) -> List[str]:
    """Commands that add the PEM file `src` to the system trust of an OS family and make
    dockerd load it (Go reads the bundle once, at start)."""
    crt = _safe_name(name) + ".crt"
    by_family = {
        "debian": [f"sudo cp {q(src)} /usr/local/share/ca-certificates/{crt}", "sudo update-ca-certificates"],
        "alpine": [f"sudo cp {q(src)} /usr/local/share/ca-certificates/{crt}", "sudo update-ca-certificates"],
        "rhel": [f"sudo cp {q(src)} /etc/pki/ca-trust/source/anchors/{crt}", "sudo update-ca-trust extract"],
        "suse": [f"sudo cp {q(src)} /etc/pki/trust/anchors/{crt}", "sudo update-ca-certificates"],
        "arch": [f"sudo trust anchor --store {q(src)}"],
    }
    cmds = by_family.get(family) or [
        f"Debian/Ubuntu/Alpine: sudo cp {q(src)} /usr/local/share/ca-certificates/{crt} && sudo update-ca-certificates",
        f"RHEL/Fedora: sudo cp {q(src)} /etc/pki/ca-trust/source/anchors/{crt} && sudo update-ca-trust extract",
    ]
    return cmds + [restart_docker(family) + "   # dockerd reads the system bundle only at start"]


def certs_d_install(dirname: str, src: str) -> List[str]:
    d = f"{CERTS_D}/{dirname}"
    return [f"sudo mkdir -p {q(d)}",
            f"sudo cp {q(src)} {q(d + '/ca.crt')}   # read on the next pull, no restart needed"]


def verify_command(registry: str, cafile: Optional[str] = None) -> str:
    host, port = split_host_port(registry)
    ca = f" -CAfile {q(cafile)}" if cafile else ""
    return (f"openssl s_client -connect {q(f'{host}:{port}')} -servername {q(host)}{ca} </dev/null "
            "2>/dev/null | grep 'Verify return code'")


# ------------------------------------------------------------------ trust views

Cert = Dict[str, Any]


def catalog_certs(ctx: HostContext, sha: Any) -> Optional[List[Cert]]:
    """The certificates of a file by its content hash, None when the run never fetched it."""
    if not isinstance(sha, str):
        return None
    got = ctx.catalog(sha)
    if not isinstance(got, list):
        return None
    return [c for c in got if isinstance(c, dict) and isinstance(c.get("sha256"), str)
            and isinstance(c.get("subject", ""), str)]


def subject(cert: Cert) -> str:
    return cap(cert.get("subject") or cert.get("sha256", "")[:16], 160)


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
    out = {
        "path": _typed(f.get("path"), str), "kind": _typed(f.get("kind"), str),
        "sha256": f["sha256"] if isinstance(f.get("sha256"), str) and _HEX64.match(f["sha256"]) else None,
        "size": _typed(f.get("size"), int), "count": _typed(f.get("count"), int),
        "has_private_key": _typed(f.get("has_private_key"), bool),
        "suffix_ok": _typed(f.get("suffix_ok"), bool), "present": _typed(f.get("present"), bool),
    }
    return out


def trust_of(ctx: HostContext, facts: Any) -> Optional[Trust]:
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
                dir_certs[f["path"]] = catalog_certs(ctx, f.get("sha256"))
    return Trust(
        bundle=bundle,
        bundle_certs=catalog_certs(ctx, bundle.get("sha256")) if bundle.get("present") else [],
        anchors=anchors,
        anchor_certs={a["path"]: catalog_certs(ctx, a.get("sha256")) for a in anchors},
        certs_d=certs_d, dir_certs=dir_certs,
    )


def host_trust(ctx: HostContext, host: Any) -> Optional[Trust]:
    cache = run_cache(ctx.run)
    key = ("tls-trust", host.name)
    if key not in cache:
        cache[key] = trust_of(ctx, host.facts)
    return cache[key]


def my_trust(ctx: HostContext) -> Optional[Trust]:
    return host_trust(ctx, ctx.host)


def address_of(ctx: HostContext, name: str) -> str:
    """How to reach an inventory host from the auditor (for scp in remediation)."""
    h = ctx.run.hosts.get(name)
    return (getattr(h, "address", "") or name) if h is not None else name


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


def _holder(ctx: HostContext, name: str, trust: Trust, reg: str) -> Optional[Holder]:
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


SAMPLE_HOLDERS = 3


def _fleet_trusts(ctx: HostContext) -> List[Tuple[Any, Trust]]:
    """(host, its trust) of the audited hosts whose trust is known."""
    out = []
    for h in audited_hosts(ctx.run):
        t = host_trust(ctx, h)
        if t is not None:
            out.append((h, t))
    return out


def _fleet_cas(ctx: HostContext) -> Tuple[Dict[str, FleetCA], int]:
    """registry -> the fleet's certs.d CAs for it, and how many hosts' trust is known."""
    cache = run_cache(ctx.run)
    if "tls-fleet-cas" not in cache:
        out: Dict[str, FleetCA] = {}
        trusts = _fleet_trusts(ctx)
        known = len(trusts)
        for h, t in trusts:
            for reg in t.certs_d:
                got = _holder(ctx, h.name, t, reg)
                if not got:
                    continue
                agg = out.setdefault(reg, FleetCA())
                agg.hosts.add(h.name)
                agg.own[h.name] = got
                if len(agg.sample) < SAMPLE_HOLDERS + 1:
                    agg.sample.append(got)
                for fp, c in got.fps.items():
                    agg.fp_hosts[fp] = agg.fp_hosts.get(fp, 0) + 1
                    agg.certs.setdefault(fp, c)
                for sha in {f.get("sha256") for f in got.files if f.get("sha256")}:
                    agg.sha_hosts[sha] = agg.sha_hosts.get(sha, 0) + 1
        cache["tls-fleet-cas"] = (out, known)
    return cache["tls-fleet-cas"]


def _others(agg: FleetCA, me: str) -> Tuple[Dict[str, Cert], Set[str], List[Holder]]:
    """The fleet's CAs for a registry without this host's own contribution."""
    mine = agg.own.get(me)
    my_fps = set(mine.fps) if mine else set()
    my_shas = {f.get("sha256") for f in mine.files} if mine else set()
    fps = {fp: agg.certs[fp] for fp, n in agg.fp_hosts.items() if n - (fp in my_fps) > 0}
    shas = {sha for sha, n in agg.sha_hosts.items() if n - (sha in my_shas) > 0}
    return fps, shas, [h for h in agg.sample if h.host != me][:SAMPLE_HOLDERS]


def expected_cas(ctx: HostContext) -> List[ExpectedCA]:
    """Registry CAs this host should trust: the baseline's certs.d CAs; those a strict
    majority of the fleet has; and those other hosts have for a registry this host
    evidently pulls from (its credentials, mirrors or daemon log name it)."""
    fleet, known = _fleet_cas(ctx)
    own = own_registries(ctx.facts)
    out: Dict[str, ExpectedCA] = {}
    base = trust_of(ctx, ctx.baseline) if ctx.baseline is not None else None
    for reg in sorted(base.certs_d if base else ()):
        got = _holder(ctx, "baseline", base, reg)
        if got:
            out[reg] = ExpectedCA(reg, [got], "baseline", dict(got.fps),
                                  {f.get("sha256") for f in got.files if f.get("sha256")})
    for reg, agg in sorted(fleet.items()):
        n_others = len(agg.hosts - {ctx.name})
        if reg in out or not n_others:
            continue
        if base is None and known >= MIN_MAJORITY_HOSTS and len(agg.hosts) * 2 > known:
            source = f"fleet majority ({len(agg.hosts)} of {known} hosts)"
        elif reg in own:
            source = f"{n_others} other host(s) trust a CA for it and this host pulls from it ({own[reg]})"
        else:
            continue
        fps, shas, holders = _others(agg, ctx.name)
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


def registry_gaps(ctx: HostContext) -> List[Gap]:
    memo = host_memo(ctx)
    if "gaps" in memo:
        return memo["gaps"]
    gaps: List[Gap] = []
    trust = my_trust(ctx)
    insecure = insecure_registries(ctx.facts)
    insecure = set(insecure) if insecure is not MISSING else set()
    for exp in expected_cas(ctx) if trust is not None else []:
        if exp.registry in insecure:
            continue    # TLS is not verified for it here (daemon.insecure-registry says so)
        mine = trust.certs_d.get(exp.registry)
        want = set(exp.fps)
        bundle = trust.bundle_fps
        in_bundle = bool(want and bundle is not None and want & bundle)
        anchored = [a["path"] for a in trust.anchors if want & {c["sha256"] for c in trust.anchor_certs.get(a["path"]) or []}]
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
    memo["gaps"] = gaps
    return gaps


def reported_fps(ctx: HostContext) -> Set[str]:
    """Fingerprints the registry-CA rule already reports as missing on this host."""
    return {fp for g in registry_gaps(ctx) for fp in g.expected.fps}
