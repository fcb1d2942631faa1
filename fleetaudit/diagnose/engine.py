"""Run every rule over every audited host; unreachable hosts become findings too."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from ..facts import FleetView
from ..models import SEVERITIES, Finding, HostResult, RunResult
from .base import HostContext, Rule

# How an SSH-level failure reads as a finding: the host cannot even be audited, and
# whatever deploys to it over SSH fails the same way.
_UNREACHABLE = {
    "hostkey-changed": ("ssh", "critical", "SSH host key changed",
                        ["ssh-keygen -R {address}  # only after verifying the new key out of band"]),
    "hostkey-unknown": ("ssh", "medium", "SSH host key not in known_hosts",
                        ["ssh-keyscan -H {address} >> ~/.ssh/known_hosts  # verify the fingerprint first",
                         "or rerun with --accept-new (trust on first use)"]),
    "auth": ("ssh", "high", "SSH authentication failed",
             ["check the user and identity file in the inventory", "ssh -v {address}"]),
    "sudo": ("ssh", "medium", "sudo -n not allowed: root-only facts missing",
             ["grant passwordless sudo for the audit user, or audit as root"]),
    "banner-timeout": ("ssh", "high", "SSH port open but no SSH banner",
                       ["check sshd on the host (MaxStartups, load) or what listens on the port"]),
    "protocol": ("ssh", "medium", "SSH session failed", ["ssh -v {address}"]),
    "command-timeout": ("ssh", "medium", "collection did not finish in time",
                        ["check host load; rerun with a larger --command-timeout"]),
    "refused": ("reachability", "high", "SSH connection refused",
                ["is sshd running? systemctl status ssh", "check the port in the inventory"]),
    "connect-timeout": ("reachability", "high", "host does not answer on the SSH port",
                        ["check that the host is up and that firewalls/security groups allow SSH"]),
    "no-route": ("reachability", "high", "no route to host",
                 ["check the address and routing from the auditor"]),
    "dns": ("reachability", "high", "host name does not resolve",
            ["fix the inventory address or DNS for the host name"]),
    "interrupted": ("ssh", "info", "not audited: the run was interrupted (SIGINT/SIGTERM) first",
                    ["rerun the audit"]),
}


_ASK = object()  # run_rule: read docker.installed itself


def unreachable_finding(host: HostResult) -> Finding:
    cls = host.error.cls if host.error else "protocol"
    category, severity, title, fixes = _UNREACHABLE.get(cls, _UNREACHABLE["protocol"])
    return Finding(
        host=host.name, rule=f"ssh.{cls}", category=category, severity=severity,
        title=title,
        evidence=[{"fact": "error", "actual": host.error.to_json() if host.error else None}],
        remediation=[f.format(address=host.address or host.name) for f in fixes],
        why="fleetaudit could not collect facts from this host; nothing else about it is known.",
    )


def run_rule(r: Rule, ctx: HostContext, docker: Any = _ASK) -> List[Finding]:
    """`docker`: the host's docker.installed fact when the caller already read it (once
    per host rather than once per rule: 68 rules x 10,000 hosts)."""
    out = []
    if r.needs_docker and not (ctx.fact("docker.installed", False) if docker is _ASK else docker):
        return out
    try:
        hits = list(r.check(ctx) or ())
    except Exception as exc:  # a rule bug must not hide the other findings
        return [Finding(host=ctx.name, rule=r.id, category=r.category, severity="info",
                        title=f"rule {r.id} failed: {type(exc).__name__}",
                        evidence=[{"fact": "rule-error", "actual": str(exc)[:300]}],
                        why="internal error in a diagnosis rule; please report it")]
    for hit in hits:
        out.append(Finding(
            host=ctx.name, rule=r.id, category=r.category,
            severity=hit.severity or r.severity,
            title=hit.title or r.title,
            evidence=hit.evidence,
            remediation=list(hit.remediation if hit.remediation is not None else r.remediation),
            why=r.why,
        ))
    return out


def diagnose(result: RunResult, drift: Optional[Dict[str, list]] = None,
             baselines: Optional[Dict[str, dict]] = None,
             rules: Optional[Iterable[Rule]] = None) -> List[Finding]:
    """Findings for every host, most severe first, then by host order."""
    from . import load_rules
    rules = list(rules) if rules is not None else load_rules()
    drift = drift or {}
    baselines = baselines or {}
    findings: List[Finding] = []
    fleet = FleetView(result)   # the derived facts, once for every host and rule of this pass
    for host in result.hosts.values():
        findings.extend(diagnose_host(host, result, drift.get(host.name, []),
                                      baselines.get(host.name), fleet, rules))
    return sort_findings(findings, result.hosts)


def sort_findings(findings: List[Finding], hosts: Iterable[str]) -> List[Finding]:
    """Most severe first, then host order, then rule id (in place; returned)."""
    order = {name: i for i, name in enumerate(hosts)}
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), order.get(f.host, 0), f.rule))
    return findings


def diagnose_host(host: HostResult, result: RunResult, drift: list, baseline: Optional[dict],
                  fleet: FleetView, rules: List[Rule]) -> List[Finding]:
    """One host's findings (diagnose's per-host step; the analysis over worker processes
    runs it in the workers): an unreachable host is one finding, a host without sudo gets
    that finding and then every rule."""
    if host.status == "unreachable":
        return [unreachable_finding(host)]
    found: List[Finding] = []
    if host.status == "partial" and host.error and host.error.cls == "sudo":
        found.append(unreachable_finding(host))
    ctx = HostContext(host=host, run=result, drift=drift, baseline=baseline, fleet=fleet)
    docker = ctx.fact("docker.installed", False)
    for r in rules:
        found.extend(run_rule(r, ctx, docker))
    return found
