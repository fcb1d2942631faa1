"""Diagnosis rules: the host clock (certificates are valid only within a time window).

time.clock.skew_s is the host's clock minus the auditor's, measured in the same SSH round
trip (uncertainty_s: half that round trip). dockerd verifies certificates with the
host's clock, so a clock far enough off makes valid certificates look expired or not yet
valid.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from ..facts.clock import day, iso_epoch
from ..facts.registries import split_host_port
from ..facts.trust import registry_certs
from .base import Hit, HostContext, dig, ev, rule
from .text import cap, q, subject

# NTP-synced hosts stay within milliseconds of each other: a minute off means time sync
# is not working and the drift keeps growing.
SKEW_MEDIUM_S = 60
# Five minutes is the usual tolerance of time-checking protocols (Kerberos, signed cloud API
# calls such as an ECR login, token "not before" leeway) and far beyond measuring error.
SKEW_HIGH_S = 300


def _offset(ctx: HostContext) -> Optional[Tuple[float, float]]:
    """(clock offset s, its uncertainty) of this host, None when not measured."""
    v = ctx.view
    return None if v.clock_offset_s is None else (v.clock_offset_s, v.clock_uncertainty_s or 0.0)


def fleet_median(ctx: HostContext) -> Optional[float]:
    """The median skew of the audited hosts: far from zero when the AUDITOR's clock is off."""
    return ctx.fleet.clock_median_s()


def _span(seconds: float) -> str:
    s = abs(seconds)
    if s >= 86400:
        return f"{s / 86400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.0f} min"
    return f"{s:.0f} s"


def sync_commands(ctx: HostContext) -> List[str]:
    """Get the clock synced now and kept synced, with the tool this host uses."""
    source = dig(ctx.facts, "time.ntp.source")
    if source == "chronyc":
        now = ["sudo chronyc makestep   # step the clock now", "chronyc sources -v"]
    elif source in ("timedatectl", "timesyncd"):
        now = ["sudo timedatectl set-ntp true", "sudo systemctl restart systemd-timesyncd",
               "timedatectl timesync-status"]
    elif source == "ntpq":
        now = ["ntpq -pn", "sudo ntpd -gq   # one-shot step with the ntp service stopped, then start it again"]
    else:
        now = {
            "debian": ["sudo apt-get install -y systemd-timesyncd   # or chrony", "sudo timedatectl set-ntp true"],
            "rhel": ["sudo dnf install -y chrony", "sudo systemctl enable --now chronyd", "sudo chronyc makestep"],
            "suse": ["sudo zypper install -y chrony", "sudo systemctl enable --now chronyd", "sudo chronyc makestep"],
            "alpine": ["sudo apk add chrony", "sudo rc-update add chronyd", "sudo rc-service chronyd start",
                       "sudo chronyc makestep"],
        }.get(ctx.family, ["install and enable an NTP client (chrony or systemd-timesyncd)"])
    host = split_host_port(ctx.example_registry())[0]
    return ["date -u", *now,
            f"curl -sI https://{q(host)}/v2/ | grep -i '^date:'   # the registry's idea of now"]


def _window_hits(ctx: HostContext, skew: float) -> List[Tuple[str, str, dict, str]]:
    """(label, path, cert, how) of registry certificates valid now but not by the host clock."""
    trust, now = ctx.view.trust, ctx.view.now
    if trust is None or now.real is None:
        return []
    host_now = now.real + skew
    out = []
    for label, path, cert, fpath in registry_certs(trust):
        start, end = iso_epoch(cert.get("not_before")), iso_epoch(cert.get("not_after"))
        if start is None or end is None or not (start <= now.real <= end):
            continue
        if host_now > end:
            out.append((label, path, cert, f"expired by the host clock (not_after {day(end)})"))
        elif host_now < start:
            out.append((label, path, cert, f"not yet valid by the host clock (not_before {day(start)})"))
    return out


@rule(
    id="clock.skew", category="time", severity="medium",
    title="the host clock is off",
    why=f"""
TLS certificates are valid from notBefore to notAfter, judged by the host's clock. A clock
that is ahead makes certificates look expired, one that is behind makes recently issued (or
renewed) ones look not yet valid: "x509: certificate has expired or is not yet valid: current
time 2026-01-01T12:00:00Z is before 2026-01-01T13:00:00Z". Reported beyond {SKEW_MEDIUM_S} s
(time sync is broken), as high beyond {SKEW_HIGH_S} s or when a registry CA on this host is
outside its validity window by the host clock.
""",
    remediation=["date -u", "sudo timedatectl set-ntp true   # or chronyc makestep"],
)
def clock_skew(ctx: HostContext) -> Iterator[Hit]:
    got = _offset(ctx)
    if got is None:
        return
    skew, unc = got
    median = fleet_median(ctx)
    auditor_off = median is not None and abs(median) > SKEW_MEDIUM_S
    rel = skew - median if auditor_off else skew
    off = abs(rel) - unc
    evidence = [ev("time.clock.skew_s", skew, f"within ±{SKEW_MEDIUM_S} s",
                   note=f"host clock {'ahead' if skew > 0 else 'behind'}; ±{unc:g} s measuring error")]
    if auditor_off:
        evidence.append(ev("time.clock.controller_epoch", dig(ctx.facts, "time.clock.controller_epoch"),
                           note=f"most hosts differ from the auditor by {_span(median)}: judged against "
                                "the fleet's median instead"))
    if off <= SKEW_MEDIUM_S:
        if auditor_off and abs(skew) - unc > SKEW_MEDIUM_S:
            yield Hit(evidence=evidence, severity="info",
                      title=f"the auditor's clock looks {_span(median)} off (this host agrees with the fleet)",
                      remediation=["check the clock of the machine running fleetaudit: date -u; timedatectl"])
        return
    windows = _window_hits(ctx, rel) if not auditor_off else []
    severity = "high" if off > SKEW_HIGH_S or windows else "medium"
    for label, path, cert, how in windows[:3]:
        evidence.append(ev("time.clock.host_epoch", dig(ctx.facts, "time.clock.host_epoch"),
                           note=f"{label} {subject(cert)} in {path} is {how}"))
    sync = dig(ctx.facts, "time.ntp.synchronized")
    if sync is not None:
        evidence.append(ev("time.ntp.synchronized", sync, True, note=cap(dig(ctx.facts, "time.ntp.detail") or "", 160)))
    title = f"clock {_span(rel)} {'ahead' if rel > 0 else 'behind'}"
    if windows:
        title += f": {windows[0][0]} {subject(windows[0][2])} looks {windows[0][3].split(' (')[0]}"
    yield Hit(evidence=evidence, severity=severity, title=title[:200], remediation=sync_commands(ctx))


@rule(
    id="clock.ntp-unsynchronized", category="time", severity="medium",
    title="time sync is not working on this host",
    why="""
The host says its clock is not synchronized (timedatectl NTPSynchronized=no, chrony "Not
synchronised" or only its local clock, no selected ntpd peer). The clock drifts freely from
now on; once it is off by more than a certificate's margin, pulls fail with "x509:
certificate has expired or is not yet valid".
""",
    remediation=["timedatectl", "sudo timedatectl set-ntp true"],
)
def ntp_unsynchronized(ctx: HostContext) -> Iterator[Hit]:
    if dig(ctx.facts, "time.ntp.synchronized") is not False:
        return   # synced, or nothing could tell
    source = dig(ctx.facts, "time.ntp.source")
    enabled = dig(ctx.facts, "time.ntp.enabled")
    evidence = [ev("time.ntp.synchronized", False, True,
                   note=f"{source}: {cap(dig(ctx.facts, 'time.ntp.detail') or '', 160)}")]
    if enabled is False:
        evidence.append(ev("time.ntp.enabled", False, True, note="no time sync service is enabled"))
    got = _offset(ctx)
    if got is not None:
        evidence.append(ev("time.clock.skew_s", got[0], note="measured against the auditor"))
    title = "NTP is disabled" if enabled is False else f"clock not synchronized ({source})"
    yield Hit(evidence=evidence, title=title, remediation=sync_commands(ctx))
