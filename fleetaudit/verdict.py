"""The gate's verdict: a pure stage over an analysed RunResult (like diagnose).

Per host and image the verdict comes from the findings that concern that image's
registry, the host's derived facts (fleetaudit.facts: its daemon's proxy route to the
registry, root's credentials, its platform; one FleetView per evaluation), the probe section (does the host resolve the registry; does the docker CLI,
as root, read the manifest; does the image have this host's platform), a direct
credentials comparison with the rest of the fleet and, with --pull, the pull outcome.
No I/O: the run (collect + pull) is fleetaudit.gate.run_gate; outputs are in
fleetaudit.render.gate.
"""
from __future__ import annotations

import json
import re
import shlex
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from . import gatepath
from .collectors.probe import NAME as PROBE
from .facts import FleetView, HostView
from .facts.registries import hub_names
from .models import Finding, HostResult, RunResult, severity_rank
from .models_gate import Cell, GateOptions, GateResult, PullOutcome, Reason
from .pullerrors import BY_ID
from .reference import DEFAULT_DOMAIN, Reference


# Findings in these categories concern every pull on the host, whatever the registry.
HOST_WIDE = {"daemon", "disk", "time", "mtu", "firewall", "arch", "reachability"}
# Findings that are true and worth showing but never stop a pull by themselves.
NOT_BLOCKING_RULES = {
    "daemon.restart-loop", "daemon.version-drift", "proxy.credentials-plaintext",
    "disk.root-full", "firewall.forward-443-blocked", "firewall.legacy-tables",
    "firewall.rules-differ", "dns.daemon-dns", "tls.ca-expiring", "tls.insecure-registry",
}
# Facts the read-only verdict depends on: when missing, "no blocker found" would be a guess.
DECIDING_SECTIONS = ("docker", "credentials", "tls", "disk", "proxy", "dns", PROBE)
# The rule id of the daemon-path probe's reason (fleetaudit.gatepath).
DAEMON_PATH_RULE = "gate.daemon-path"
# Categories a CLI-side manifest check speaks for whatever network path it took.
PATH_INDEPENDENT = {"auth", "reference", "arch"}
# Docker Hub's names (the one alias list, fleetaudit.reference) and how findings word it.
HUB_NAMES = tuple(hub_names()) + ("Docker Hub",)


# ------------------------------------------------------------------ relevance of findings

def _names(ref_registry: str) -> List[str]:
    if ref_registry == DEFAULT_DOMAIN:
        return list(HUB_NAMES)
    names = [ref_registry]
    host = ref_registry.rsplit(":", 1)[0] if not ref_registry.startswith("[") else ref_registry
    if host != ref_registry:
        names.append(host)
    return names


def mentions(text: str, names: Iterable[str]) -> bool:
    for n in names:
        if re.search(r"(?<![A-Za-z0-9.-])" + re.escape(n) + r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
                     text, re.IGNORECASE):
            return True
    return False


def finding_text(f: Finding) -> str:
    """Title and evidence: what a finding is about (remediation only shows examples)."""
    return str(f.title or "") + "\n" + json.dumps(f.evidence or [], default=str)


def _audited_views(result: RunResult, fleet: FleetView) -> List[HostView]:
    """Views of the hosts the gate judges (audited, with facts)."""
    return [fleet.host(n) for n, h in result.hosts.items() if h.audited and isinstance(h.facts, dict)]


def _view(facts_or_view: Union[dict, HostView]) -> HostView:
    return facts_or_view if isinstance(facts_or_view, HostView) else HostView("", facts_or_view)


def known_registries(result: RunResult, refs: Sequence[Reference],
                     fleet: Optional[FleetView] = None) -> Set[str]:
    """Registry names the fleet evidently uses (credentials, mirrors, logs, certs.d) and
    the gate's own: a finding naming one of these but not the image's is about another."""
    fleet = fleet or FleetView(result)
    names: Set[str] = {r.registry for r in refs}
    for v in _audited_views(result, fleet):
        try:
            names.update(v.own_registries)
        except Exception:
            pass
        names.update(v.certs_d_dirs)
    return {n for n in names if n}


def daemon_via_proxy(facts: Union[dict, HostView], ref: Reference) -> Optional[bool]:
    """Does this host's dockerd reach the registry through a proxy? None when unknown."""
    try:
        return _view(facts).daemon_route(ref.api_host, ref.port).via_proxy
    except Exception:
        return None


def session_via_proxy(facts: Union[dict, HostView], ref: Reference) -> bool:
    """Would the docker CLI in the SSH session use a proxy for the registry?"""
    return _view(facts).session_route(ref.api_host, ref.port).via_proxy is True


def fleet_via_proxy(result: RunResult, host: str, ref: Reference,
                    fleet: Optional[FleetView] = None) -> Optional[bool]:
    """Do most other audited hosts' daemons reach the registry through a proxy?"""
    fleet = fleet or FleetView(result)
    # Every host's vote once per registry and run (this is asked per host and finding).
    def tally():
        votes = {v.name: daemon_via_proxy(v, ref) for v in _audited_views(result, fleet)}
        return (votes, sum(1 for v in votes.values() if v is not None),
                sum(1 for v in votes.values() if v is True))
    votes, known, proxied = fleet.memo(("gate.daemon-via-proxy", ref.api_host, ref.port), tally)
    mine = votes.get(host)
    known -= mine is not None   # the other hosts' votes
    proxied -= mine is True
    if not known:
        return None
    return proxied * 2 > known


def relevant(f: Union[Finding, dict], ref: Reference, host: HostResult, result: RunResult, others: Set[str],
             fleet: Optional[FleetView] = None) -> bool:
    """Does finding f concern pulls of `ref` on this host?"""
    fleet = fleet or FleetView(result)
    f = Finding.from_json(f)  # a finding's JSON form is accepted too
    rule = str(f.rule or "")
    category = str(f.category or "")
    if rule.startswith("ssh."):
        return False  # the host's audit status speaks for these
    if rule == "daemon.registry-mirrors":
        return ref.registry == DEFAULT_DOMAIN  # mirrors only ever serve Docker Hub
    via = daemon_via_proxy(fleet.host(host.name) or host.facts, ref)
    if rule == "firewall.output-443-blocked":
        return ref.port == 443 and via is not True
    text = finding_text(f)
    if mentions(text, _names(ref.registry)):
        return True
    if category in HOST_WIDE:
        return True
    if mentions(text, [n for n in others if n not in _names(ref.registry)]):
        return False  # about another registry
    if category == "proxy":
        # A proxy problem matters when this registry goes (or should go) through a proxy.
        return via is True or fleet_via_proxy(result, host.name, ref, fleet) is True
    return True


# ------------------------------------------------------------------ reasons per host


def _at_or_above(sev: str, fail_on: str) -> bool:
    return fail_on != "none" and severity_rank(sev) <= severity_rank(fail_on)


def finding_reasons(result: RunResult, host: HostResult, ref: Reference, fail_on: str,
                    others: Set[str], fleet: Optional[FleetView] = None) -> List[Reason]:
    fleet = fleet or FleetView(result)
    out = []
    for f in result.findings or []:
        if f.host != host.name or not relevant(f, ref, host, result, others, fleet):
            continue
        rule = str(f.rule or "")
        sev = str(f.severity or "info")
        remediation = [r for r in (f.remediation or []) if isinstance(r, str)]
        fix = "; ".join(r for r in remediation[:3] if not r.startswith("#")) or None
        out.append(Reason(
            source="finding", category=str(f.category or ""), severity=sev,
            message=str(f.title if f.title is not None else rule)[:300], rule=rule, fix=fix[:300] if fix else None,
            blocking=_at_or_above(sev, fail_on) and rule not in NOT_BLOCKING_RULES))
    return out


def credential_reasons(result: RunResult, host: HostResult, ref: Reference, fail_on: str,
                       existing: List[Reason], fleet: Optional[FleetView] = None) -> List[Reason]:
    """Root (who pulls) has no login for the registry while other hosts' root has one."""
    if any(r.category == "auth" for r in existing):
        return []
    fleet = fleet or FleetView(result)
    if fleet.host(host.name).root_has_credentials(ref.registry) is not False:
        return []   # root has them, or root's credentials are unknown
    known = with_it = 0
    for v in _audited_views(result, fleet):
        if v.name == host.name:
            continue
        theirs = v.root_has_credentials(ref.registry)
        if theirs is None:
            continue
        known += 1
        with_it += theirs
    if not with_it:
        return []
    sev = "high" if with_it * 2 >= known else "medium"
    return [Reason(
        source="fleet", category="auth", severity=sev, blocking=_at_or_above(sev, fail_on),
        message=(f"root has no credentials for {ref.registry}; {with_it} of {known} other "
                 "hosts' root has them (private images then fail: 'no basic auth credentials')"),
        fix=f"sudo docker login {shlex.quote(ref.registry)}")]


def daemon_reasons(host: HostResult, fail_on: str, existing: List[Reason],
                   view: Optional[HostView] = None) -> List[Reason]:
    if any(r.category == "daemon" and r.severity == "critical" for r in existing):
        return []
    view = view or HostView(host.name, host.facts)
    installed = view.docker_installed
    up = view.daemon_up
    if installed is False:
        return [Reason("fleet", "daemon", "critical", "docker is not installed on this host",
                       _at_or_above("critical", fail_on))]
    if up is False and not view.daemon_unreadable \
            and not (host.error is not None and host.error.cls == "sudo"):
        return [Reason("fleet", "daemon", "critical", "the Docker engine does not answer",
                       _at_or_above("critical", fail_on),
                       fix="systemctl status docker; journalctl -u docker -n 50")]
    return []


def probe_reasons(probe: Optional[dict], host: HostResult, ref: Reference,
                  fail_on: str, view: Optional[HostView] = None, fleet_read_ok: int = 0) -> List[Reason]:
    if not isinstance(probe, dict):
        return []
    view = view or HostView(host.name, host.facts)
    out: List[Reason] = []
    via = daemon_via_proxy(view, ref)
    dns = (probe.get("registries") or {}).get(ref.registry)
    if isinstance(dns, dict) and dns.get("resolved") is False:
        name = dns.get("lookup") or ref.host
        if via is True:
            out.append(Reason("probe", "dns", "info", blocking=False,
                              message=(f"{name} does not resolve on this host, but dockerd reaches "
                                       f"{ref.registry} through its proxy, which resolves it")))
        else:
            out.append(Reason("probe", "dns", "high", blocking=_at_or_above("high", fail_on),
                              message=f"{dns.get('error') or name + ' does not resolve'} (getent hosts)",
                              fix="getent hosts " + shlex.quote(name) + "; cat /etc/resolv.conf"))
    man = (probe.get("manifests") or {}).get(str(ref))
    who = probe.get("as") or "root"
    label = f"CLI-side manifest read as {who} failed"
    if isinstance(man, dict):
        if man.get("ok") is False:
            classes = man.get("classes") or []
            category = BY_ID[classes[0]].category if classes and classes[0] in BY_ID else "reachability"
            contradicted = ""
            if category == "reference" and fleet_read_ok:
                # The CLI prints "no such manifest" for an auth failure too: when other
                # hosts read the same reference, the reference exists; this host's login differs.
                category = "auth"
                contradicted = (f" ({fleet_read_ok} other host(s) read {ref}: the reference exists, "
                                "this host's login is the difference)")
            same_path = via is False and not session_via_proxy(view, ref)
            # Only root's CLI credentials are the ones `sudo docker pull` hands the daemon.
            blocking_kind = who == "root" and (category in PATH_INDEPENDENT or same_path)
            sev = "high" if blocking_kind else "info"
            if category == "dns" and any(r.source == "probe" and r.category == "dns" for r in out):
                pass  # the lookup already said it
            else:
                out.append(Reason("probe", category, sev,
                                  blocking=_at_or_above(sev, fail_on) and blocking_kind,
                                  message=f"{label}: {str(man.get('error') or '')[:300]}{contradicted}",
                                  fix=(BY_ID[classes[0]].fix or None) if classes and classes[0] in BY_ID else None))
        plats = man.get("platforms") or []
        mine = view.platform
        if man.get("ok") and plats and isinstance(mine, str):
            if not view.platform_matches(plats):
                out.append(Reason("probe", "arch", "critical", blocking=_at_or_above("critical", fail_on),
                                  message=(f"{ref} has no {mine} image (platforms: {', '.join(plats)}): "
                                           f"'no matching manifest for {mine}'"),
                                  fix="docker buildx build --platform " + mine + ",... --push"))
        elif not man.get("ok"):
            why = str(man.get("error") or "")[:200] if man.get("ok") is None else "it failed"
            out.append(Reason("probe", "arch", "info", blocking=False,
                              message=("architecture support unknown: the manifest was not read"
                                       + (f" ({why})" if why else "")
                                       + (f"; this host is {mine}" if isinstance(mine, str) else ""))))
    return out


def weigh_daemon_path(reasons: List[Reason], dpath: Optional[dict], host: HostResult, ref: Reference,
                      fail_on: str, fleet_read_ok: int, view: HostView) -> Optional["gatepath.Clue"]:
    """The daemon-path probe's evidence against the other reasons (in place): dockerd's own
    request decides the network/TLS/auth questions it answered. When it read the manifest,
    findings and CLI results about the path stop blocking; when it failed, its reason
    blocks and CLI results that point elsewhere become notes. Returns the clue."""
    firewall = any(r.category == "firewall" and r.source == "finding" and _at_or_above(r.severity, "high")
                   for r in reasons)
    clue = gatepath.daemon_path_clue(dpath, ref, view, fleet_read_ok, firewall)
    insecure = gatepath.registry_insecure(view, dpath, ref.registry)
    for r in reasons:
        if r.category == "tls" and insecure and r.blocking:
            r.blocking = False
            r.message += f" (not a blocker: {ref.registry} is in dockerd's insecure-registries)"
    if clue is None:
        return None
    if clue.ok:
        for r in reasons:
            if r.blocking and r.category in gatepath.PATH_CATEGORIES | {"reference"} \
                    and r.source in ("finding", "probe", "fleet"):
                r.blocking = False
                r.message += " (not a blocker here: dockerd's own path read the manifest)"
        plats = gatepath.platforms(dpath, ref)
        mine = view.platform
        if plats and isinstance(mine, str) and not view.platform_matches(plats) \
                and not any(r.category == "arch" and r.blocking for r in reasons):
            reasons.append(Reason("probe", "arch", "critical", blocking=_at_or_above("critical", fail_on),
                                  message=(f"{ref} has no {mine} image (platforms: {', '.join(plats)}): "
                                           f"'no matching manifest for {mine}'"),
                                  fix="docker buildx build --platform " + mine + ",... --push"))
        return clue
    for r in reasons:
        if r.source == "probe" and r.blocking and r.category != clue.category:
            r.blocking = False
            r.message += f" (dockerd's own path says {clue.category})"
        if r.source == "finding" and r.blocking and r.category == "time" and clue.category == "tls":
            r.blocking = False
    reasons.append(Reason("probe", clue.category, "critical", blocking=_at_or_above("critical", fail_on),
                          message=f"daemon path: {clue.message}"[:500], fix=clue.fix, rule=DAEMON_PATH_RULE))
    return clue


def _sorted(reasons: List[Reason]) -> List[Reason]:
    order = {"pull": 0, "finding": 1, "fleet": 2, "probe": 3, "host": 4}
    # dockerd's own request, when it failed, is the most direct evidence there is: it leads.
    return sorted(reasons, key=lambda r: (not r.blocking, r.rule != DAEMON_PATH_RULE, severity_rank(r.severity),
                                          (r.rule or "").startswith("logs."), order.get(r.source, 9)))


def _unknown_reason(host: HostResult) -> Optional[Reason]:
    if not host.audited:
        err = host.error
        return Reason("host", "ssh", "critical", blocking=True,
                      message=f"host not audited ({err.cls}): {err.message}" if err else "host not audited")
    if host.error is not None and host.error.cls == "sudo":
        return Reason("host", "ssh", "high", blocking=True, message=host.error.message[:300])
    return None


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def evaluate_cell(result: RunResult, host: HostResult, ref: Reference, opts: GateOptions,
                  probe: Optional[dict], probe_missing: Optional[str],
                  pull: Optional[PullOutcome], others: Set[str],
                  fleet: Optional[FleetView] = None, fleet_read_ok: int = 0) -> Cell:
    fleet = fleet or FleetView(result)
    fail_on = opts.fail_on if not opts.pull else "none"
    unknown = _unknown_reason(host)
    if not host.audited:
        return Cell("unknown", "unknown: " + _short(unknown.message), [unknown])
    reasons = finding_reasons(result, host, ref, fail_on, others, fleet)
    reasons += credential_reasons(result, host, ref, fail_on, reasons, fleet)
    view = fleet.host(host.name)
    reasons += daemon_reasons(host, fail_on, reasons, view)
    reasons += probe_reasons(probe, host, ref, fail_on, view, fleet_read_ok)
    dpath = ((probe or {}).get("daemon_path") or {}).get(ref.registry) if isinstance(probe, dict) else None
    clue = weigh_daemon_path(reasons, dpath, host, ref, fail_on, fleet_read_ok, view)
    probe_view = None
    if isinstance(probe, dict):
        probe_view = {"as": probe.get("as"),
                      "dns": (probe.get("registries") or {}).get(ref.registry),
                      "manifest": (probe.get("manifests") or {}).get(str(ref)),
                      "daemon_path": (probe.get("daemon_path") or {}).get(ref.registry)}
    if opts.pull:
        for r in reasons:
            r.blocking = False   # with --pull the pull itself decides; these explain it
        if pull is None or pull.not_run:
            why = (pull.not_run if pull else None) or "the pull was not run"
            r = Reason("pull", "ssh", "high", blocking=True, message=why)
            return Cell("unknown", "unknown: " + _short(why), [r] + _sorted(reasons), pull, probe_view)
        if pull.ok:
            return Cell("pass", "pulled", _sorted(reasons), pull, probe_view)
        raw = pull.category
        cat = gatepath.pull_category(raw, pull.classes, view, dpath,
                                     {r.category: r.severity for r in reasons
                                      if _at_or_above(r.severity, "high") and r.source == "finding"},
                                     clue) \
            or "reachability"
        msg = pull.error or "docker pull failed"
        fix = pull.fix
        if cat != raw:
            # The error's words pointed elsewhere; the host's evidence decided (issue 9).
            pull.cause = f"{pull.cause or msg[:200]} -> judged {cat} on this host's evidence"
            if clue is not None and clue.category == cat and clue.fix:
                fix = clue.fix
            pull.category = cat
            pull.fix = fix
        lead = Reason("pull", cat, "critical", blocking=True, message=msg[:500], fix=fix)
        # Findings in the pull's own category first: they are the likely explanation.
        ranked = sorted(_sorted(reasons), key=lambda r: r.category != cat)
        what = BY_ID[pull.classes[0]].title if pull.classes and pull.classes[0] in BY_ID else msg
        return Cell("fail", f"pull failed: {cat}: {_short(what, 70)}", [lead] + ranked, pull, probe_view)
    if unknown is not None:
        # Root-only facts are missing: what was found is shown, but no verdict is claimed.
        return Cell("unknown", "unknown: " + _short(unknown.message), [unknown] + _sorted(reasons),
                    None, probe_view)
    reasons = _sorted(reasons)
    blockers = [r for r in reasons if r.blocking]
    if blockers:
        top = blockers[0]
        return Cell("blocked", f"blocked: {top.category}: {_short(top.message, 70)}", reasons,
                    None, probe_view)
    missing = [s for s in DECIDING_SECTIONS if s in (host.incomplete or {})]
    if probe_missing:
        missing.append(PROBE)
    if missing:
        why = f"facts missing on this host ({', '.join(sorted(set(missing)))}): no verdict"
        return Cell("unknown", "unknown: " + why,
                    [Reason("host", "ssh", "high", blocking=True, message=why)] + reasons, None, probe_view)
    warn = [r for r in reasons if severity_rank(r.severity) <= severity_rank("medium")]
    label = "no blocker found" + (f" ({len(warn)} warning{'s' if len(warn) != 1 else ''})" if warn else "")
    return Cell("no-blocker", label, reasons, None, probe_view)


def evaluate(result: RunResult, opts: GateOptions, probes: Dict[str, Optional[dict]],
             probe_missing: Dict[str, str], pulls: Dict[str, Dict[str, PullOutcome]]) -> GateResult:
    """Pure: the verdict of every (host, image) from an analysed RunResult plus the
    probe facts and pull outcomes collected alongside it."""
    refs = list(opts.images)
    fleet = FleetView(result)   # every host's derived facts, once for the whole evaluation
    others = known_registries(result, refs, fleet)
    read_ok = {str(ref): {n: gatepath.read_ok(
        ((p or {}).get("daemon_path") or {}).get(ref.registry) if isinstance(p, dict) else None,
        ((p or {}).get("manifests") or {}).get(str(ref)) if isinstance(p, dict) else None, ref)
        for n, p in probes.items()} for ref in refs}
    read_ok_total = {ref: sum(1 for ok in oks.values() if ok) for ref, oks in read_ok.items()}
    gate = GateResult(mode="pull" if opts.pull else "read-only", images=refs,
                      fail_on=opts.fail_on, audit=result)
    for name, host in result.hosts.items():
        row: Dict[str, Cell] = {}
        for ref in refs:
            row[str(ref)] = evaluate_cell(
                result, host, ref, opts, probes.get(name), probe_missing.get(name),
                (pulls.get(name) or {}).get(str(ref)) if opts.pull else None, others, fleet,
                # the other hosts that read it: counted once per image, not once per host
                fleet_read_ok=read_ok_total[str(ref)] - (1 if read_ok[str(ref)].get(name) else 0))
        gate.cells[name] = row
    return gate


def split_probe(result: RunResult) -> Tuple[Dict[str, Optional[dict]], Dict[str, str]]:
    """Take the probe section out of the audit facts (it is the gate's, not a fact to
    compare), and undo the `partial` status it alone may have caused."""
    probes: Dict[str, Optional[dict]] = {}
    missing: Dict[str, str] = {}
    for name, h in result.hosts.items():
        if not isinstance(h.facts, dict):
            continue
        probes[name] = h.facts.pop(PROBE, None)
        why = (h.incomplete or {}).pop(PROBE, None)
        if why:
            missing[name] = why
            if h.status == "partial" and h.error is None and not h.incomplete:
                h.status = "ok"
    if isinstance(result.run, dict) and isinstance(result.run.get("collectors"), list):
        result.run["collectors"] = [c for c in result.run["collectors"] if c != PROBE]
    return probes, missing
