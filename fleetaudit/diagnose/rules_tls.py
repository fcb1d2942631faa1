"""Diagnosis rules: the CAs dockerd trusts for the registries the fleet uses.

The trust model they judge (each host's bundle and certs.d, what the fleet expects per
registry) is the derived facts' (fleetaudit/facts/trust.py, via ctx.view.trust and
ctx.fleet); the CA install commands are in text.py.

Why one module (~650 lines): the ten TLS rules share the certs.d and bundle helpers
between them.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from ..facts.clock import Now, day, iso_epoch
from ..facts.daemon import log_counts, log_sample
from ..facts.fleet import Expect, MIN_MAJORITY_HOSTS
from ..facts.schema import join_all
from ..facts.trust import CERTS_D, Cert, CertsDir, catalog_certs, clean_file, registry_certs
from ..facts.values import MISSING
from .base import Hit, HostContext, dig, ev, rule
from .text import (
    ca_install, cap, certs_d_install, q, restart_docker, safe_name, subject, verify_command,
)

# A CA that expires within this many days needs rolling out now: new CA files have to
# reach every host (and dockerd restarts for the bundle) before the old one lapses.
EXPIRY_WARN_DAYS = 30
# Evidence lists name at most this many certificates or files.
LIST_CAP = 8


def reported_fps(ctx: HostContext) -> Set[str]:
    """Fingerprints the registry-CA rule already reports as missing on this host."""
    return {fp for g in ctx.fleet.registry_gaps(ctx.name, ctx.baseline) for fp in g.expected.fps}


# ------------------------------------------------------------------ rules

@rule(
    id="tls.bundle-missing", category="tls", severity="critical",
    title="no system CA bundle: no registry certificate can be verified",
    why="""
dockerd verifies registry certificates against the system CA bundle Go finds (e.g.
/etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt). Without one every
HTTPS pull fails: "x509: certificate signed by unknown authority" (older Go: "x509: failed to
load system roots and no roots provided"), Docker Hub included; only registries with their
own CA in /etc/docker/certs.d/<registry>/ still work.
""",
    remediation=["install the distribution's ca-certificates package", "restart docker"],
    needs_docker=True,
)
def bundle_missing(ctx: HostContext) -> Iterator[Hit]:
    trust = ctx.view.trust
    if trust is None:
        return
    present, count = trust.bundle.get("present"), trust.bundle.get("count")
    if present is False:
        title, evidence = None, [ev("tls.bundle.present", False, True, note="none of Go's bundle paths exists")]
    elif present is True and count == 0 and trust.bundle.get("size") is not None:
        title = f"the system CA bundle {cap(trust.bundle.get('path'), 80)} holds no certificate"
        evidence = [ev("tls.bundle.count", 0, "> 0", note=cap(trust.bundle.get("path"), 120))]
    else:
        return
    install = {
        "debian": ["sudo apt-get install --reinstall -y ca-certificates", "sudo update-ca-certificates --fresh"],
        "rhel": ["sudo dnf reinstall -y ca-certificates", "sudo update-ca-trust extract"],
        "suse": ["sudo zypper install -f -y ca-certificates ca-certificates-mozilla", "sudo update-ca-certificates"],
        "alpine": ["sudo apk add --no-cache ca-certificates", "sudo update-ca-certificates"],
        "arch": ["sudo pacman -S ca-certificates", "sudo update-ca-trust"],
    }.get(ctx.family, ["install the ca-certificates package and regenerate the bundle"])
    yield Hit(evidence=evidence, title=title, remediation=install + [restart_docker(ctx.family)])


@rule(
    id="tls.registry-ca-missing", category="tls", severity="high",
    title="this host does not trust the CA the fleet uses for a registry",
    why="""
The registry presents a certificate from a private CA (or a TLS-inspecting proxy re-signs
it). Other hosts trust that CA through /etc/docker/certs.d/<registry>/ca.crt or the system
bundle; here it is in neither, so every pull from that registry fails with "x509:
certificate signed by unknown authority" (containerd/kubelet: "tls: failed to verify
certificate: x509: certificate signed by unknown authority").
""",
    remediation=["copy the registry CA from a working host to /etc/docker/certs.d/<registry>/ca.crt"],
    needs_docker=True,
)
def registry_ca_missing(ctx: HostContext) -> Iterator[Hit]:
    x509 = log_counts(ctx.facts, ("x509-unknown-authority",))
    sample = log_sample(ctx.facts, "x509-unknown-authority")
    for gap in ctx.fleet.registry_gaps(ctx.name, ctx.baseline):
        exp, reg = gap.expected, gap.expected.registry
        holder = exp.holders[0]
        dirname = gap.mine.dirname if gap.mine else holder.dirname
        want = sorted(exp.fps.values(), key=subject)
        names = ", ".join(subject(c) for c in want[:3]) or "the fleet's CA file"
        here = join_all(("tls", "certs_d", dirname))
        evidence = []
        if gap.kind == "different":
            mine_files = [f.get("path") for f in gap.mine.kind("ca")]
            title = f"certs.d CA for {cap(reg, 80)} is not the fleet's CA ({cap(names, 120)})"
            evidence.append(ev(here, mine_files, [f.get("path") for f in holder.files],
                               note="the CA here holds other certificates: " + ", ".join(
                                   subject(c) for f in gap.mine.kind("ca")
                                   for c in (ctx.view.trust.dir_certs.get(f["path"]) or [])[:3])))
        else:
            title = f"no CA for {cap(reg, 80)}: not in certs.d" + (
                " nor in the system bundle" if gap.certain else " (system bundle content not known)")
            evidence.append(ev(here, None, [f.get("path") for f in holder.files], note=exp.source))
            if gap.certain:
                evidence.append(ev("tls.bundle.sha256", ctx.view.trust.bundle.get("sha256"),
                                   note=f"the bundle lacks {cap(names, 200)}"))
        for path in gap.in_anchor:
            evidence.append(ev(join_all(("tls", "anchors", path)), path,
                               note="the CA is anchored here but not merged into the bundle"))
        severity = "high" if gap.certain or gap.kind == "different" else "medium"
        if x509 and (reg.split(":")[0] in sample.lower() or not sample):
            severity = "critical"
            evidence.append(ev(join_all(("daemon_log", "counts", "x509-unknown-authority")),
                               x509["x509-unknown-authority"], note=cap(sample, 300) or "pulls already fail"))
        src = f"./{safe_name(reg)}-ca.crt"
        fixes = [f"# on {holder.host}: {holder.files[0].get('path')} is the CA this host lacks"
                 if holder.host != "baseline" else
                 f"# the baseline's CA file: {holder.files[0].get('path')}",
                 f"scp {q(ctx.address_of(holder.host))}:{q(holder.files[0].get('path'))} {q(src)}"
                 if holder.host != "baseline" else f"copy that file here as {src}",
                 *certs_d_install(dirname, src)]
        if gap.in_anchor:
            fixes.append({"rhel": "sudo update-ca-trust extract"}.get(ctx.family, "sudo update-ca-certificates")
                         + "   # merge the anchor that already holds it")
            fixes.append(restart_docker(ctx.family))
        fixes.append(verify_command(reg, f"{CERTS_D}/{dirname}/ca.crt"))
        yield Hit(evidence=evidence, severity=severity, title=title, remediation=fixes)


def _anchor_majority(ctx: HostContext) -> Tuple[Dict[str, Cert], Dict[str, Tuple[str, str]], str]:
    """Locally added CAs the fleet trusts: fingerprint -> cert (catalog known), and, for
    anchor files whose content is unknown, sha256 -> (path, holder); plus the source."""
    if ctx.baseline is not None:
        base = ctx.fleet.view_of("baseline", ctx.baseline).trust
        if base is None:
            return {}, {}, "baseline"
        fps = {c["sha256"]: c for certs in base.anchor_certs.values() if certs for c in certs}
        shas = {a.get("sha256"): (a["path"], "baseline") for a in base.anchors
                if base.anchor_certs.get(a["path"]) is None and a.get("sha256") and (a.get("count") or 0) > 0}
        return fps, shas, "baseline"
    cache = ctx.fleet.cache
    if "tls-anchor-majority" not in cache:
        fp_hosts: Dict[str, Set[str]] = {}
        sha_hosts: Dict[str, Set[str]] = {}
        certs: Dict[str, Cert] = {}
        where: Dict[str, Tuple[str, str]] = {}
        trusts = ctx.fleet.trusts()
        known = len(trusts)
        for h, t in trusts:
            for a in t.anchors:
                got = t.anchor_certs.get(a["path"])
                if got is None and a.get("sha256") and (a.get("count") or 0) > 0:
                    sha_hosts.setdefault(a["sha256"], set()).add(h.name)
                    where.setdefault(a["sha256"], (a["path"], h.name))
                for c in got or []:
                    fp_hosts.setdefault(c["sha256"], set()).add(h.name)
                    certs.setdefault(c["sha256"], c)
        ok = known >= MIN_MAJORITY_HOSTS
        cache["tls-anchor-majority"] = (
            {fp: certs[fp] for fp, hs in fp_hosts.items() if ok and len(hs) * 2 > known},
            {s: where[s] for s, hs in sha_hosts.items() if ok and len(hs) * 2 > known},
            f"fleet majority (of {known} hosts)")
    return cache["tls-anchor-majority"]


@rule(
    id="tls.local-ca-missing", category="tls", severity="high",
    title="a locally added CA the fleet trusts is missing here",
    why="""
Fleets add their own CAs (a private registry's, a TLS-inspecting proxy's) to the system
trust as local anchors. A host without that CA fails every pull whose certificate chains to
it: "x509: certificate signed by unknown authority" (through an intercepting proxy this hits
Docker Hub and every public registry too).
""",
    remediation=["install the CA into the system trust (see the commands) and restart docker"],
    needs_docker=True,
)
def local_ca_missing(ctx: HostContext) -> Iterator[Hit]:
    trust = ctx.view.trust
    if trust is None:
        return
    fps, shas, source = _anchor_majority(ctx)
    covered = reported_fps(ctx)
    have = trust.anchor_fps() | trust.all_dir_fps()
    bundle = trust.bundle_fps
    for fp, cert in sorted(fps.items(), key=lambda kv: subject(kv[1])):
        if fp in covered or fp in have or (bundle is not None and fp in bundle):
            continue
        certain = bundle is not None
        yield Hit(
            evidence=[ev("tls.anchors", [a["path"] for a in trust.anchors][:LIST_CAP],
                         note=f"{subject(cert)} (sha256 {fp[:16]}…) is anchored on the {source}"),
                      ev("tls.bundle.sha256", trust.bundle.get("sha256"),
                         note="not in the system bundle" if certain else "bundle content not known")],
            severity="high" if certain else "medium",
            title=f"CA {subject(cert)} trusted by the fleet is missing here",
            remediation=[f"# copy the CA (sha256 fingerprint {fp}) from a host that has it as ./local-ca.crt",
                         *ca_install(ctx.family, "./local-ca.crt", _cn(cert) or "local-ca")],
        )
    mine = {a.get("sha256") for a in trust.anchors} | {
        f.get("sha256") for d in trust.certs_d.values() for f in d.files}
    for sha, (path, holder) in sorted(shas.items()):
        if sha in mine:
            continue
        name = path.rsplit("/", 1)[-1]
        yield Hit(
            evidence=[ev("tls.anchors", [a["path"] for a in trust.anchors][:LIST_CAP], [path],
                         note=f"anchor {name} is on the {source} (content not compared with this bundle)")],
            severity="medium",
            title=f"local CA anchor {cap(name, 80)} the fleet has is missing here",
            remediation=[f"scp {q(ctx.address_of(holder))}:{q(path)} ./{safe_name(name)}" if holder != "baseline"
                         else f"copy {path} from the baseline host",
                         *ca_install(ctx.family, f"./{safe_name(name)}", name.rsplit(".", 1)[0])],
        )


def _cn(cert: Cert) -> str:
    m = re.search(r"CN=([^,]+)", str(cert.get("subject") or ""))
    return m.group(1) if m else ""


# Which anchor directory each OS family's tool merges into the bundle.
_ANCHOR_DIR = {"debian": "/usr/local/share/ca-certificates", "alpine": "/usr/local/share/ca-certificates",
               "rhel": "/etc/pki/ca-trust/source/anchors"}
_REFRESH = {"debian": "sudo update-ca-certificates", "alpine": "sudo update-ca-certificates",
            "rhel": "sudo update-ca-trust extract", "suse": "sudo update-ca-certificates",
            "arch": "sudo update-ca-trust"}


@rule(
    id="tls.anchor-not-merged", category="tls", severity="medium",
    title="a local CA anchor is not in the system bundle dockerd loads",
    why="""
Copying a CA into /usr/local/share/ca-certificates or /etc/pki/ca-trust/source/anchors does
nothing until update-ca-certificates / update-ca-trust rebuilds the bundle, and Debian's
tool only takes *.crt files. dockerd reads only the bundle (at start), so pulls from
registries signed by that CA fail with "x509: certificate signed by unknown authority"
although the CA file is on the host.
""",
    remediation=["sudo update-ca-certificates   # RHEL: sudo update-ca-trust extract",
                 "sudo systemctl restart docker"],
    needs_docker=True,
)
def anchor_not_merged(ctx: HostContext) -> Iterator[Hit]:
    trust = ctx.view.trust
    if trust is None or not trust.anchors:
        return
    bundle = trust.bundle_fps
    refresh = _REFRESH.get(ctx.family, "sudo update-ca-certificates   # RHEL: sudo update-ca-trust extract")
    home = _ANCHOR_DIR.get(ctx.family)
    for a in trust.anchors:
        path = a["path"]
        epath = join_all(("tls", "anchors", path))
        certs = trust.anchor_certs.get(path)
        if not (a.get("count") or 0) or a.get("has_private_key"):
            continue
        if a.get("suffix_ok") is False:
            new = path.rsplit(".", 1)[0] + ".crt" if "." in path.rsplit("/", 1)[-1] else path + ".crt"
            yield Hit(evidence=[ev(join_all(("tls", "anchors", path, "suffix_ok")), False, True,
                                   note="update-ca-certificates only merges *.crt files")],
                      title=f"CA anchor {cap(path, 100)} is ignored: not named *.crt",
                      remediation=[f"sudo mv {q(path)} {q(new)}", refresh, restart_docker(ctx.family)])
            continue
        if home and not path.startswith(home + "/"):
            yield Hit(evidence=[ev(epath, path, f"{home}/...", note=f"{ctx.family} merges only {home}")],
                      title=f"CA anchor {cap(path, 100)} is in a directory this OS does not merge",
                      remediation=[f"sudo cp {q(path)} {q(home + '/' + safe_name(path.rsplit('/', 1)[-1].rsplit('.', 1)[0]) + '.crt')}",
                                   refresh, restart_docker(ctx.family)])
            continue
        if certs and bundle is not None and trust.bundle.get("present"):
            missing = [c for c in certs if c["sha256"] not in bundle]
            if missing:
                yield Hit(evidence=[ev(epath, path, note="holds " + ", ".join(subject(c) for c in missing[:3])),
                                    ev("tls.bundle.sha256", trust.bundle.get("sha256"),
                                       note=f"{cap(trust.bundle.get('path'), 80)} lacks it")],
                          title=f"CA anchor {cap(path.rsplit('/', 1)[-1], 80)} was never merged into the bundle",
                          remediation=[refresh, restart_docker(ctx.family)])


def _peer_key(facts: Any) -> Any:
    """Hosts whose bundles are comparable: the same OS release ships the same bundle."""
    os_ = dig(facts, "system.os")
    if not isinstance(os_, dict) or not os_.get("id"):
        return None
    return (os_.get("id"), str(os_.get("version_id") or "").split(".")[0])


def _bundle_sha(facts: Any) -> Any:
    b = clean_file(dig(facts, "tls.bundle"))
    if dig(facts, "tls.error") or not b or not b["present"] or not b["sha256"]:
        return MISSING
    return b["sha256"]


def expected_bundle(ctx: HostContext) -> Optional[Expect]:
    """The bundle this host should have: the baseline's (same OS release only) or the one
    a strict majority of the hosts of its OS release have."""
    peer = _peer_key(ctx.facts)
    if peer is None:
        return None
    if ctx.baseline is not None:
        v = _bundle_sha(ctx.baseline)
        return Expect(v, "baseline") if v is not MISSING and _peer_key(ctx.baseline) == peer else None
    cache = ctx.fleet.cache
    key = ("tls-bundle-majority", peer)
    if key not in cache:
        votes: Dict[str, int] = {}
        for h in ctx.fleet.audited():
            v = _bundle_sha(h.facts)
            if v is not MISSING and _peer_key(h.facts) == peer:
                votes[v] = votes.get(v, 0) + 1
        total = sum(votes.values())
        top = max(votes.items(), key=lambda kv: (kv[1], kv[0])) if votes else None
        cache[key] = (Expect(top[0], f"fleet majority of {peer[0]} {peer[1]} hosts ({top[1]} of {total})")
                      if top and total >= MIN_MAJORITY_HOSTS and top[1] * 2 > total else None)
    return cache[key]


@rule(
    id="tls.bundle-differs", category="tls", severity="medium",
    title="the system CA bundle differs from the baseline",
    why="""
Hosts of the same OS release should trust the same CAs. A bundle that lacks certificates the
baseline has (an older ca-certificates package, a CA never installed, a bundle overwritten by
hand) fails pulls from every registry whose chain ends there: "x509: certificate signed by
unknown authority". Extra certificates do not break pulls but mean the host trusts more
than the fleet.
""",
    remediation=["bring ca-certificates to the fleet's version and reinstall the fleet's local CAs",
                 "restart docker"],
    needs_docker=True,
)
def bundle_differs(ctx: HostContext) -> Iterator[Hit]:
    trust = ctx.view.trust
    mine = _bundle_sha(ctx.facts)
    exp = expected_bundle(ctx)
    if trust is None or mine is MISSING or exp is None or exp.value == mine:
        return
    mine_certs = trust.bundle_certs
    exp_certs = catalog_certs(ctx.fleet.catalog, exp.value)
    upgrade = {
        "debian": ["sudo apt-get update && sudo apt-get install -y ca-certificates", "sudo update-ca-certificates"],
        "rhel": ["sudo dnf upgrade -y ca-certificates", "sudo update-ca-trust extract"],
        "suse": ["sudo zypper update -y ca-certificates-mozilla", "sudo update-ca-certificates"],
        "alpine": ["sudo apk upgrade ca-certificates", "sudo update-ca-certificates"],
    }.get(ctx.family, ["update the ca-certificates package like the fleet's hosts"])
    fixes = upgrade + [restart_docker(ctx.family)]
    path_ev = ev("tls.bundle.sha256", mine, exp.value, note=exp.source)
    if mine_certs is None or exp_certs is None:
        yield Hit(evidence=[path_ev, ev("tls.bundle.count", trust.bundle.get("count"),
                                        note="certificates in this host's bundle (content not compared)")],
                  title="system CA bundle differs from the " + exp.source.split(" (")[0]
                        + " (content not compared)", remediation=fixes)
        return
    have = {c["sha256"]: c for c in mine_certs}
    want = {c["sha256"]: c for c in exp_certs}
    covered = reported_fps(ctx) | set(_anchor_majority(ctx)[0])
    missing = [want[fp] for fp in sorted(want, key=lambda f: subject(want[f])) if fp not in have and fp not in covered]
    extra = [have[fp] for fp in sorted(have, key=lambda f: subject(have[f])) if fp not in want]
    if not missing and not extra:
        return   # same certificates (order, comments), or the missing ones are reported elsewhere
    parts = []
    if missing:
        parts.append(f"lacks {len(missing)} certificate(s): " + ", ".join(subject(c) for c in missing[:3]))
    if extra:
        parts.append(f"has {len(extra)} extra: " + ", ".join(subject(c) for c in extra[:3]))
    yield Hit(
        evidence=[path_ev,
                  *( [ev("tls.bundle", [subject(c) for c in missing[:LIST_CAP]], note="missing here")] if missing else []),
                  *( [ev("tls.bundle", [subject(c) for c in extra[:LIST_CAP]], note="only here")] if extra else [])],
        severity="medium" if missing else "low",
        title="system CA bundle " + "; ".join(parts)[:200],
        remediation=fixes,
    )


def _files_of(d: CertsDir) -> Dict[str, Tuple[str, Any]]:
    """basename -> (kind, sha256) of a certs.d directory."""
    return {f["path"].rsplit("/", 1)[-1]: (f.get("kind"), f.get("sha256")) for f in d.files}


def _dir_fps(ctx: HostContext, d: Optional[CertsDir]) -> Optional[Set[str]]:
    """Fingerprints in a directory's CA files; None when any file's content is unknown."""
    out: Set[str] = set()
    for f in d.kind("ca") if d else []:
        certs = catalog_certs(ctx.fleet.catalog, f.get("sha256"))
        if certs is None:
            return None
        out |= {c["sha256"] for c in certs}
    return out


def _fleet_dirs(ctx: HostContext) -> Tuple[Dict[str, List[Tuple[str, CertsDir]]], int]:
    """registry -> [(host, its certs.d directory)], and how many hosts' trust is known."""
    cache = ctx.fleet.cache
    if "tls-fleet-dirs" not in cache:
        dirs: Dict[str, List[Tuple[str, CertsDir]]] = {}
        trusts = ctx.fleet.trusts()
        known = len(trusts)
        for h, t in trusts:
            for reg, d in t.certs_d.items():
                dirs.setdefault(reg, []).append((h.name, d))
        cache["tls-fleet-dirs"] = (dirs, known)
    return cache["tls-fleet-dirs"]


def _expected_dir(ctx: HostContext, reg: str, mine: Optional[CertsDir]) -> Optional[Tuple[CertsDir, str, str]]:
    """The certs.d directory this host should have for reg, with a host to copy it from
    and the source: the baseline's; else, when this host has the directory, pulls from
    the registry or most of the fleet has it, the file set a strict majority of the
    other hosts with that directory share."""
    if ctx.baseline is not None:
        base = ctx.fleet.view_of("baseline", ctx.baseline).trust
        d = base.certs_d.get(reg) if base else None
        return (d, "baseline", "baseline") if d else None
    dirs, known = _fleet_dirs(ctx)
    holders = dirs.get(reg, [])
    n_others = len(holders) - (1 if mine else 0)
    majority = known >= MIN_MAJORITY_HOSTS and len(holders) * 2 > known
    if n_others <= 0 or not (mine or majority or reg in ctx.view.own_registries):
        return None
    cache = ctx.fleet.cache
    if ("tls-dir-votes", reg) not in cache:     # once per registry, not once per host
        votes: Dict[str, List[Tuple[str, CertsDir]]] = {}
        for h, d in holders:
            votes.setdefault(repr(sorted(_files_of(d).items())), []).append((h, d))
        cache[("tls-dir-votes", reg)] = sorted(votes.items(), key=lambda kv: -len(kv[1]))
    own_key = repr(sorted(_files_of(mine).items())) if mine else None
    ranked = [(len(v) - (1 if k == own_key else 0), k, v) for k, v in cache[("tls-dir-votes", reg)]]
    count, _, group = max(ranked, key=lambda r: r[0])
    if count * 2 <= n_others:
        return None
    h, d = next((h, d) for h, d in group if h != ctx.name)
    return d, h, f"{count} of {n_others} other hosts with this directory"


@rule(
    id="tls.certs-d-differs", category="tls", severity="medium",
    title="/etc/docker/certs.d differs from the baseline for a registry",
    why="""
/etc/docker/certs.d/<registry>/ decides how dockerd talks TLS to that registry: *.crt are
the CAs it trusts, *.cert/*.key the client certificate it presents. A different CA file
fails with "x509: certificate signed by unknown authority" once the registry's chain no
longer ends in it; a missing client certificate fails with "remote error: tls: certificate
required" (or "bad certificate") on registries that demand mutual TLS.
""",
    remediation=["copy /etc/docker/certs.d/<registry>/ from a working host (no docker restart needed)"],
    needs_docker=True,
)
def certs_d_differs(ctx: HostContext) -> Iterator[Hit]:
    trust = ctx.view.trust
    if trust is None:
        return
    gapped = {g.expected.registry for g in ctx.fleet.registry_gaps(ctx.name, ctx.baseline)}
    base = ctx.fleet.view_of("baseline", ctx.baseline).trust if ctx.baseline is not None else None
    candidates = set(trust.certs_d) | set(_fleet_dirs(ctx)[0]) | set(base.certs_d if base else ())
    for reg in sorted(candidates):
        mine = trust.certs_d.get(reg)
        got = _expected_dir(ctx, reg, mine)
        if got is None:
            continue
        exp_dir, holder, source = got
        want, have = _files_of(exp_dir), _files_of(mine) if mine else {}
        client_missing = [n for n, (k, _) in sorted(want.items()) if k in ("cert", "key") and n not in have]
        want_ca = {s for k, s in want.values() if k == "ca" and s}
        have_ca = {s for k, s in have.values() if k == "ca" and s}
        # By fingerprint, tls.registry-ca-missing decides; by file hash only when the
        # catalog cannot tell, and only when this host has a CA of its own there.
        ca_differs = (bool(mine) and reg not in gapped and bool(want_ca and have_ca)
                      and not (want_ca & have_ca)
                      and (_dir_fps(ctx, exp_dir) is None or _dir_fps(ctx, mine) is None))
        if not client_missing and not ca_differs:
            continue
        dirname = mine.dirname if mine else exp_dir.dirname
        here = join_all(("tls", "certs_d", dirname))
        evidence = [ev(here, sorted(have), sorted(want), note=source)]
        parts, copy = [], list(client_missing)
        if client_missing:
            parts.append("client certificate files missing: " + ", ".join(client_missing))
        if ca_differs:
            names = sorted(n for n, (k, _) in want.items() if k == "ca")
            parts.append("CA file content differs: " + ", ".join(names))
            copy += names
            for n in names:
                evidence.append(ev(join_all(("tls", "certs_d", dirname, n, "sha256")),
                                   have.get(n, (None, None))[1], want[n][1]))
        src_dir = f"{CERTS_D}/{exp_dir.dirname}"
        dst_dir = f"{CERTS_D}/{dirname}"
        if holder != "baseline":
            fixes = [f"sudo mkdir -p {q(dst_dir)}"] + [
                f"scp {q(ctx.address_of(holder))}:{q(src_dir + '/' + n)} ./{safe_name(n)} && "
                f"sudo install -m 600 ./{safe_name(n)} {q(dst_dir + '/' + n)}" for n in copy[:4]]
        else:
            fixes = [f"sudo mkdir -p {q(dst_dir)}", f"copy {', '.join(copy[:4])} from the baseline's {src_dir}/"]
        fixes.append(verify_command(reg))
        yield Hit(evidence=evidence, severity="high" if client_missing else "medium",
                  title=f"certs.d/{cap(dirname, 80)}: " + "; ".join(parts)[:200], remediation=fixes)


def _cert_ends(ctx: HostContext) -> Iterator[Tuple[str, str, Cert, str, float, Now]]:
    """(label, path, cert, fact path, not_after epoch, now) of this host's registry
    certificates with a known end, when the host's trust and the real time are known."""
    trust = ctx.view.trust
    now = ctx.view.now
    if trust is None or now.real is None:
        return
    for label, path, cert, fpath in registry_certs(trust):
        end = iso_epoch(cert.get("not_after"))
        if end is not None:
            yield label, path, cert, fpath, end, now


def _my_certs_dirs(ctx: HostContext) -> Iterator[Tuple[str, CertsDir]]:
    """(registry, its certs.d directory) on this host, by name; nothing when its trust is unknown."""
    trust = ctx.view.trust
    if trust is not None:
        yield from sorted(trust.certs_d.items())


def _renew(ctx: HostContext, label: str, path: str) -> List[str]:
    if path.startswith(CERTS_D + "/"):
        return [f"replace {path} with the renewed certificate (no docker restart needed)",
                f"openssl x509 -in {q(path)} -noout -subject -enddate"]
    return [f"replace {path} with the renewed CA",
            _REFRESH.get(ctx.family, "sudo update-ca-certificates"), restart_docker(ctx.family),
            f"openssl x509 -in {q(path)} -noout -subject -enddate"]


@rule(
    id="tls.ca-expired", category="tls", severity="high",
    title="a registry CA or client certificate has expired",
    why="""
Go checks the validity period of every certificate in the chain, the trusted CA included.
Once a registry CA (certs.d *.crt or a local anchor) is past its notAfter date, pulls from
the registries it signs fail with "x509: certificate has expired or is not yet valid:
current time ... is after ..."; an expired client certificate is refused by the registry
("remote error: tls: expired certificate" / "bad certificate").
""",
    remediation=["install the renewed CA/certificate"],
    needs_docker=True,
)
def ca_expired(ctx: HostContext) -> Iterator[Hit]:
    for label, path, cert, fpath, end, now in _cert_ends(ctx):
        if end > now.real:
            continue
        note = f"{subject(cert)} in {path}: not_after from the catalog, now from {now.source}"
        if now.host is not None and now.host < end:
            note += "; it still verifies here only because the host clock is behind"
        yield Hit(evidence=[ev(fpath, cert.get("not_after"), f"after {day(now.real)}", note=note)],
                  title=f"{label} expired on {day(end)}: {subject(cert)}"[:220],
                  remediation=_renew(ctx, label, path))


@rule(
    id="tls.ca-expiring", category="tls", severity="medium",
    title=f"a registry CA or client certificate expires within {EXPIRY_WARN_DAYS} days",
    why=f"""
Pulls still work, but the day the CA (or client certificate) passes its notAfter date every
pull from the registries it covers fails with "x509: certificate has expired or is not yet
valid". Replacing a CA takes a rollout to every host (and a docker restart for the system
bundle): {EXPIRY_WARN_DAYS} days is the warning window.
""",
    remediation=["roll out the renewed CA/certificate before it expires"],
    needs_docker=True,
)
def ca_expiring(ctx: HostContext) -> Iterator[Hit]:
    for label, path, cert, fpath, end, now in _cert_ends(ctx):
        if end <= now.real or end - now.real > EXPIRY_WARN_DAYS * 86400:
            continue
        days = int((end - now.real) // 86400)
        yield Hit(evidence=[ev(fpath, cert.get("not_after"),
                               f"more than {EXPIRY_WARN_DAYS} days after {day(now.real)}",
                               note=f"{subject(cert)} in {path}: not_after from the catalog")],
                  title=f"{label} expires in {days} day(s) ({day(end)}): {subject(cert)}"[:220],
                  remediation=_renew(ctx, label, path))


@rule(
    id="tls.client-cert-incomplete", category="tls", severity="high",
    title="certs.d has a client certificate without its key (or a key without its certificate)",
    why="""
dockerd pairs /etc/docker/certs.d/<registry>/NAME.cert with NAME.key. When one of the two is
missing every pull from that registry fails before connecting: "missing key
.../client.key for client certificate .../client.cert. CA certificates must use the
extension .crt." or "missing client certificate .../client.cert for key .../client.key".
""",
    remediation=["put the missing file next to its partner, or remove the orphan"],
    needs_docker=True,
)
def client_cert_incomplete(ctx: HostContext) -> Iterator[Hit]:
    for reg, d in _my_certs_dirs(ctx):
        certs = {f["path"][:-5] for f in d.kind("cert") if f["path"].endswith(".cert")}
        keys = {f["path"][:-4] for f in d.kind("key") if f["path"].endswith(".key")}
        for stem in sorted(certs ^ keys):
            have, lack = (stem + ".cert", stem + ".key") if stem in certs else (stem + ".key", stem + ".cert")
            yield Hit(
                evidence=[ev(join_all(("tls", "certs_d", d.dirname)), sorted(_files_of(d)),
                             note=f"{have} has no {lack.rsplit('/', 1)[-1]}")],
                title=f"certs.d/{cap(d.dirname, 80)}: {lack.rsplit('/', 1)[-1]} missing for {have.rsplit('/', 1)[-1]}",
                remediation=[f"sudo install -m 600 ./{safe_name(lack.rsplit('/', 1)[-1])} {q(lack)}   # from whoever issued the pair",
                             f"or remove the orphan: sudo rm {q(have)}"],
            )


@rule(
    id="tls.certs-d-misnamed", category="tls", severity="high",
    title="a certificate in certs.d is ignored because of its file name",
    why="""
dockerd only reads *.crt (CA), *.cert (client certificate) and *.key files in
/etc/docker/certs.d/<registry>/. A CA saved as ca.pem or ca.cer is silently ignored, so the
registry's certificate is not trusted: "x509: certificate signed by unknown authority".
""",
    remediation=["rename the CA file to ca.crt"],
    needs_docker=True,
)
def certs_d_misnamed(ctx: HostContext) -> Iterator[Hit]:
    for reg, d in _my_certs_dirs(ctx):
        for f in d.kind("other"):
            if not (f.get("count") or 0) or f.get("has_private_key"):
                continue
            path = f["path"]
            has_ca = bool(d.kind("ca"))
            yield Hit(
                evidence=[ev(join_all(("tls", "certs_d", d.dirname, path.rsplit("/", 1)[-1], "kind")), "other", "ca",
                             note=f"{path} holds {f.get('count')} certificate(s) dockerd does not read")],
                severity="low" if has_ca else "high",
                title=f"certs.d/{cap(d.dirname, 80)}: {cap(path.rsplit('/', 1)[-1], 60)} is ignored (not *.crt)"
                      + ("" if has_ca else ": no CA for this registry"),
                remediation=[f"sudo mv {q(path)} {q(path.rsplit('.', 1)[0] + '.crt' if '.' in path.rsplit('/', 1)[-1] else path + '.crt')}",
                             verify_command(reg)],
            )
