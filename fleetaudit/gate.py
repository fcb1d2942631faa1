"""The pre-rollout gate: can every host pull image X?

Two modes:

- read-only (default): the normal audit (collect + analyze) plus a probe section per
  registry and image (fleetaudit.collectors.probe) in the SAME single exec. Per host and
  image the verdict comes from the findings that concern that image's registry, the probe
  (does the host resolve the registry; does the docker CLI, as root, read the manifest;
  does the image have this host's platform) and a direct credentials comparison with the
  rest of the fleet. Honest words: "no-blocker" means no known blocker was found, not that
  the pull will work; "blocked" names the blocking reasons.
- pull (opt-in, MODIFIES HOSTS: it downloads the image): after collection, on the same
  SSH connection, one more exec runs `docker pull REF` through each host's own daemon as
  root (`sudo -n` when the inventory says become), under `timeout`, output capped and
  passed through the same host-side secret redaction as the composite script. A failed
  pull is classified (fleetaudit.pullerrors + fleetaudit.explain) into a category and
  cause; findings about that registry come along as likely explanations.

Verdicts: pull mode "pass" | "fail" | "unknown"; read-only "no-blocker" | "blocked" |
"unknown". "unknown" means the host (or the part of it that decides) could not be seen:
unreachable, sudo refused, facts missing, or the pull could not be started.

The library never prints or exits: `run_gate` returns a GateResult; the CLI renders it.
"""
from __future__ import annotations

import asyncio
import json
import re
import shlex
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import asyncssh

from .analyze import AnalyzeOptions, analyze
from .collect import CollectOptions, collect
from .collectors.probe import NAME as PROBE, budget_s, probe_collector
from .diagnose.base import dig
from .diagnose.rules_arch import platform as host_platform
from .diagnose.rules_auth import root_registries
from .diagnose.common import (MISSING, daemon_proxy, no_proxy_covers, own_registries,
                              registry_host)
from . import snapshot
from .explain import explain
from .models import SEVERITIES, HostResult, RunResult
from .models import get_field as _get
from .pullerrors import BY_ID, classify
from .reference import DEFAULT_DOMAIN, Reference, unique
from .redaction import REDACT_PROGRAM
from .render.safe import text as safe_text, visible
from .script import REDACT_SED, new_nonce

SCHEMA = "fleetaudit-gate/1"
PULL_VERDICTS = ("pass", "fail", "unknown")
READ_ONLY_VERDICTS = ("no-blocker", "blocked", "unknown")

DEFAULT_PULL_TIMEOUT_S = 600.0
PULL_OUTPUT_CAP = 16 * 1024        # bytes of `docker pull` output kept per image (the tail)
PULL_TOTAL_CAP = 1024 * 1024       # controller-side cap for the whole pull exec

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
# Categories a CLI-side manifest check speaks for whatever network path it took.
PATH_INDEPENDENT = {"auth", "reference", "arch"}
HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com",
             "Docker Hub")


# ------------------------------------------------------------------ result objects

@dataclass
class Reason:
    source: str          # "pull" | "probe" | "fleet" | "finding" | "host"
    category: str
    severity: str
    message: str
    blocking: bool
    rule: Optional[str] = None
    fix: Optional[str] = None

    def to_json(self) -> dict:
        d = {"source": self.source, "category": self.category, "severity": self.severity,
             "message": self.message, "blocking": self.blocking}
        if self.rule:
            d["rule"] = self.rule
        if self.fix:
            d["fix"] = self.fix
        return d


@dataclass
class PullOutcome:
    rc: Optional[int] = None
    error: Optional[str] = None          # the error line docker printed
    classes: List[str] = field(default_factory=list)
    category: Optional[str] = None
    cause: Optional[str] = None
    fix: Optional[str] = None
    output: str = ""                     # tail of the (host-redacted) output
    duration_s: Optional[float] = None
    as_user: Optional[str] = None
    not_run: Optional[str] = None        # why the pull was not attempted

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.not_run is None

    def to_json(self) -> dict:
        return {"rc": self.rc, "error": self.error, "classes": self.classes,
                "category": self.category, "cause": self.cause, "fix": self.fix,
                "output": self.output, "duration_s": self.duration_s, "as": self.as_user,
                "not_run": self.not_run}


@dataclass
class Cell:
    """The gate's answer for one host and one image."""

    verdict: str
    label: str
    reasons: List[Reason] = field(default_factory=list)
    pull: Optional[PullOutcome] = None
    probe: Optional[dict] = None

    @property
    def blockers(self) -> List[Reason]:
        return [r for r in self.reasons if r.blocking]

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "label": self.label,
                "reasons": [r.to_json() for r in self.reasons],
                "pull": self.pull.to_json() if self.pull else None,
                "probe": self.probe}


@dataclass
class GateOptions:
    images: Sequence[Reference]
    pull: bool = False
    pull_timeout: float = DEFAULT_PULL_TIMEOUT_S
    fail_on: str = "high"               # read-only: reasons at or above this block
    manifest_check: bool = True         # the CLI-side `docker manifest inspect` probe


@dataclass
class GateResult:
    mode: str                            # "pull" | "read-only"
    images: List[Reference]
    fail_on: str
    audit: RunResult
    cells: Dict[str, Dict[str, Cell]] = field(default_factory=dict)

    def counts(self) -> Dict[str, int]:
        out = {v: 0 for v in (PULL_VERDICTS if self.mode == "pull" else READ_ONLY_VERDICTS)}
        for row in self.cells.values():
            for cell in row.values():
                out[cell.verdict] = out.get(cell.verdict, 0) + 1
        return out

    def exit_code(self) -> int:
        """3 when some host/image could not be judged (a gate must not pass what it could
        not see), else 1 when some host fails to pull / is blocked, else 0."""
        from . import exitcodes
        verdicts = {c.verdict for row in self.cells.values() for c in row.values()}
        if "unknown" in verdicts:
            return exitcodes.NOT_AUDITED
        if verdicts & {"fail", "blocked"}:
            return exitcodes.FINDINGS
        return exitcodes.CLEAN

    def to_json(self) -> dict:
        run = dict(self.audit.run) if isinstance(self.audit.run, dict) else {}
        return {
            "schema": SCHEMA,
            "mode": self.mode,
            "fail_on": self.fail_on,
            "run": run,
            "images": [r.to_json() for r in self.images],
            "summary": self.counts(),
            "exit_code": self.exit_code(),
            "host_status": {n: {"status": h.status, "error": h.error.to_json() if h.error else None}
                            for n, h in self.audit.hosts.items()},
            "hosts": {host: {ref: cell.to_json() for ref, cell in row.items()}
                      for host, row in self.cells.items()},
        }


# ------------------------------------------------------------------ the pull (opt-in)

def pull_script(refs: Sequence[Reference], nonce: str, become: bool, timeout_s: float,
                cap: int = PULL_OUTPUT_CAP, total_cap: int = PULL_TOTAL_CAP) -> str:
    """sh that pulls each image through the host's daemon, as root when it can.

    Markers ("\\n@@NONCE:KIND:VALUE\\n"): AS (who pulls), SUDO (refused), NODOCKER,
    P (image index), T0/T1 (host epoch seconds), RC, E (end). Each pull's output goes
    through the host-side redaction before its tail is cut, and everything once more
    before it leaves the host.
    """
    sed_args = " ".join("-e " + shlex.quote(expr) for expr in REDACT_SED)
    t = max(1, int(timeout_s))
    lines = [
        f"FA_N={nonce}",
        # The redaction program, for each pull's output before its tail is cut.
        f"FA_RX={shlex.quote(REDACT_PROGRAM)}",
        'PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
        "LC_ALL=C; LANG=C; export PATH LC_ALL LANG",
        "fa_mark() { printf '\\n@@%s:%s:%s\\n' \"$FA_N\" \"$1\" \"$2\"; }",
        "fa_pull() {",
        "fa_sudo=",
        "fa_uid=$(id -u 2>/dev/null)",
        f'if [ "$fa_uid" != 0 ] && [ {1 if become else 0} = 1 ]; then',
        "  if sudo -n true </dev/null >/dev/null 2>&1; then fa_sudo='sudo -n'; "
        "else fa_mark SUDO refused; fa_mark E ''; return 0; fi",
        "fi",
        'if [ -n "$fa_sudo" ] || [ "$fa_uid" = 0 ]; then fa_mark AS root; '
        'else fa_mark AS "$(id -un 2>/dev/null)"; fi',
        "if ! command -v docker >/dev/null 2>&1; then fa_mark NODOCKER ''; fa_mark E ''; return 0; fi",
        f"fa_t=; if command -v timeout >/dev/null 2>&1; then fa_t='timeout -k 10 {t}'; fi",
    ]
    for i, ref in enumerate(refs):
        lines += [
            f"fa_mark P {i}",
            'fa_mark T0 "$(date +%s)"',
            # status via fd 3, output (tail only: the error is the last line) via fd 4
            f"{{ fa_rc=$( {{ {{ $fa_t $fa_sudo docker pull {shlex.quote(str(ref))} </dev/null 2>&1 3>&- 4>&-; "
            f"printf '%s' \"$?\" >&3; }} | sed -E \"$FA_RX\" | tail -c {int(cap)} >&4; }} 3>&1 ); }} 4>&1",
            'fa_mark RC "$fa_rc"',
            'fa_mark T1 "$(date +%s)"',
        ]
    lines += ["fa_mark E ''", "}",
              f"fa_pull </dev/null 2>&1 | sed -E {sed_args} | head -c {int(total_cap)}", ""]
    return "\n".join(lines)


_STATUS_LINE = re.compile(r"^(?:[0-9a-f]{12}: |[^ ]+: Pulling from |Digest: |Status: |Pulling )")


def error_line(output: str) -> str:
    """The line that says why a pull failed: the last one that is not progress."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if not _STATUS_LINE.match(ln):
            return ln[:1000]
    return lines[-1][:1000] if lines else ""


def classify_pull(outcome: PullOutcome) -> PullOutcome:
    """Fill classes, category, cause and fix of a failed pull from its error text."""
    text = outcome.error or outcome.output
    ids: List[str] = []
    for chunk in [text] + outcome.output.splitlines()[-5:]:
        for cid in classify(chunk):
            if cid not in ids:
                ids.append(cid)
    outcome.classes = ids
    causes = explain(text)
    if ids:
        outcome.category = BY_ID[ids[0]].category
        top = next((c for c in causes if c.category == outcome.category), None)
        outcome.cause = BY_ID[ids[0]].title
        outcome.fix = (top.fix if top else BY_ID[ids[0]].fix) or None
        if top and top.why:
            outcome.cause = f"{BY_ID[ids[0]].title}: {top.why}"
    elif causes:
        outcome.category, outcome.cause, outcome.fix = causes[0].category, causes[0].why, causes[0].fix
    return outcome


def parse_pull_output(data: str, nonce: str, refs: Sequence[Reference], timeout_s: float,
                      truncated: bool = False) -> Dict[str, PullOutcome]:
    """Per image reference: what the pull exec reported. Never raises."""
    out: Dict[str, PullOutcome] = {}
    marker = re.compile(r"(?:^|\n)@@" + re.escape(nonce) + r":([A-Z0-9]+):([^\n]*)(?:\n|$)")
    as_user: Optional[str] = None
    global_stop: Optional[str] = None
    current: Optional[int] = None
    pos = 0
    body: Dict[int, str] = {}
    t0: Dict[int, int] = {}
    ended = False
    for m in marker.finditer(data):
        chunk = data[pos:m.start()]
        pos = m.end()
        kind, value = m.group(1), m.group(2).strip()
        if current is not None and kind == "RC":
            body[current] = chunk
            rc = int(value) if value.lstrip("-").isdigit() else None
            o = PullOutcome(rc=rc, output=chunk[-2000:], as_user=as_user)
            out[str(refs[current])] = o
            continue
        if kind == "AS":
            as_user = value[:64] or None
        elif kind == "SUDO":
            global_stop = "sudo -n refused: cannot pull as root (grant NOPASSWD or log in as root)"
        elif kind == "NODOCKER":
            global_stop = "docker CLI not found on this host"
        elif kind == "P" and value.isdigit() and int(value) < len(refs):
            current = int(value)
        elif kind == "T0" and current is not None and value.isdigit():
            t0[current] = int(value)
        elif kind == "T1" and current is not None and value.isdigit():
            o = out.get(str(refs[current]))
            if o is not None and current in t0:
                o.duration_s = float(int(value) - t0[current])
            current = None
        elif kind == "E":
            ended = True
    if current is not None and str(refs[current]) not in out:
        # cut off inside a pull: the controller's own deadline, or the output cap
        out[str(refs[current])] = PullOutcome(
            rc=None, output=data[pos:][-2000:], as_user=as_user,
            not_run=None, error=("output cut at the size cap" if truncated
                                 else f"pull did not finish within {timeout_s:g}s"))
    for ref in refs:
        key = str(ref)
        o = out.get(key)
        if o is None:
            why = global_stop or ("pull exec ended early" if not ended else "pull not reported")
            out[key] = PullOutcome(not_run=why, as_user=as_user)
            continue
        if o.rc == 0:
            continue
        if o.rc in (124, 137, 143) and o.duration_s is not None and o.duration_s >= timeout_s - 2:
            o.error = f"pull did not finish within {timeout_s:g}s (timed out)"
            o.classes, o.category = ["request-timeout"], "reachability"
            o.cause = "The pull was still running at the gate's --pull-timeout (slow or stalled download)."
            continue
        if o.error is None:
            o.error = error_line(o.output) or (f"docker pull exited {o.rc}" if o.rc is not None else None)
        classify_pull(o)
    return out


async def _read_capped(process, cap: int) -> Tuple[bytes, bool]:
    chunks, size = [], 0
    while True:
        chunk = await process.stdout.read(65536)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], True


def make_pull_hook(refs: Sequence[Reference], timeout_s: float, sink: Dict[str, Dict[str, PullOutcome]]):
    """post_exec hook for CollectOptions: pull every image on the collected host's own
    connection, record outcomes in sink[host]. Never raises for host trouble."""

    async def hook(conn, host, result: HostResult) -> None:
        if result.status == "unreachable":
            return
        nonce = new_nonce()
        script = pull_script(refs, nonce, bool(host.become), timeout_s)
        deadline = timeout_s * len(refs) + 30
        data, truncated = b"", False
        try:
            process = await conn.create_process("sh -s", encoding=None)
            process.stdin.write(script.encode())
            process.stdin.write_eof()
            try:
                data, truncated = await asyncio.wait_for(_read_capped(process, PULL_TOTAL_CAP), deadline)
            except asyncio.TimeoutError:
                pass
            process.close()
        except (asyncssh.Error, OSError) as exc:
            sink[host.name] = {str(r): PullOutcome(not_run=f"could not run the pull: {exc}"[:300])
                               for r in refs}
            return
        sink[host.name] = parse_pull_output(data.decode("utf-8", "replace"), nonce, refs,
                                            timeout_s, truncated)

    return hook


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




def finding_text(f: Any) -> str:
    """Title and evidence: what a finding is about (remediation only shows examples)."""
    return str(_get(f, "title", "")) + "\n" + json.dumps(_get(f, "evidence", []), default=str)


def known_registries(result: RunResult, refs: Sequence[Reference]) -> Set[str]:
    """Registry names the fleet evidently uses (credentials, mirrors, logs, certs.d) and
    the gate's own: a finding naming one of these but not the image's is about another."""
    names: Set[str] = {r.registry for r in refs}
    for h in result.hosts.values():
        if not h.audited or not isinstance(h.facts, dict):
            continue
        try:
            names.update(own_registries(h.facts))
        except Exception:
            pass
        certs_d = dig(h.facts, "tls.certs_d")
        if isinstance(certs_d, dict):
            names.update(k for k in certs_d if isinstance(k, str))
    return {n for n in names if n}


def daemon_via_proxy(facts: dict, ref: Reference) -> Optional[bool]:
    """Does this host's dockerd reach the registry through a proxy? None when unknown."""
    try:
        dp = daemon_proxy(facts)
    except Exception:
        dp = None
    if dp is None:
        return None
    proxy = dp.get("HTTPS_PROXY")
    if not proxy:
        return False
    return not no_proxy_covers(dp.get("NO_PROXY"), ref.api_host, ref.port)


def session_via_proxy(facts: dict, ref: Reference) -> bool:
    """Would the docker CLI in the SSH session use a proxy for the registry?"""
    env = dig(facts, "proxy.session_env")
    if not isinstance(env, dict):
        return False
    proxy = env.get("HTTPS_PROXY") or env.get("https_proxy")
    if not proxy:
        return False
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    return not no_proxy_covers(no_proxy if isinstance(no_proxy, str) else "", ref.api_host, ref.port)


def fleet_via_proxy(result: RunResult, host: str, ref: Reference) -> Optional[bool]:
    """Do most other audited hosts' daemons reach the registry through a proxy?"""
    votes = [daemon_via_proxy(h.facts, ref) for n, h in result.hosts.items()
             if n != host and h.audited and isinstance(h.facts, dict)]
    votes = [v for v in votes if v is not None]
    if not votes:
        return None
    return sum(votes) * 2 > len(votes)


def relevant(f: Any, ref: Reference, host: HostResult, result: RunResult, others: Set[str]) -> bool:
    """Does finding f concern pulls of `ref` on this host?"""
    rule = str(_get(f, "rule", ""))
    category = str(_get(f, "category", ""))
    if rule.startswith("ssh."):
        return False  # the host's audit status speaks for these
    if rule == "daemon.registry-mirrors":
        return ref.registry == DEFAULT_DOMAIN  # mirrors only ever serve Docker Hub
    via = daemon_via_proxy(host.facts, ref)
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
        return via is True or fleet_via_proxy(result, host.name, ref) is True
    return True


# ------------------------------------------------------------------ reasons per host

def _sev_index(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)


def _at_or_above(sev: str, fail_on: str) -> bool:
    return fail_on != "none" and _sev_index(sev) <= _sev_index(fail_on)


def finding_reasons(result: RunResult, host: HostResult, ref: Reference, fail_on: str,
                    others: Set[str]) -> List[Reason]:
    out = []
    for f in result.findings or []:
        if _get(f, "host") != host.name or not relevant(f, ref, host, result, others):
            continue
        rule = str(_get(f, "rule", ""))
        sev = str(_get(f, "severity", "info"))
        remediation = [r for r in (_get(f, "remediation", []) or []) if isinstance(r, str)]
        fix = "; ".join(r for r in remediation[:3] if not r.startswith("#")) or None
        out.append(Reason(
            source="finding", category=str(_get(f, "category", "")), severity=sev,
            message=str(_get(f, "title", rule))[:300], rule=rule, fix=fix[:300] if fix else None,
            blocking=_at_or_above(sev, fail_on) and rule not in NOT_BLOCKING_RULES))
    return out


def _hub(name: str) -> str:
    return registry_host(name) or name


def credential_reasons(result: RunResult, host: HostResult, ref: Reference, fail_on: str,
                       existing: List[Reason]) -> List[Reason]:
    """Root (who pulls) has no login for the registry while other hosts' root has one."""
    if any(r.category == "auth" for r in existing):
        return []
    want = _hub(ref.registry)
    mine = root_registries(host.facts)
    if mine is MISSING or want in mine:
        return []
    known = with_it = 0
    for n, h in result.hosts.items():
        if n == host.name or not h.audited or not isinstance(h.facts, dict):
            continue
        theirs = root_registries(h.facts)
        if theirs is MISSING:
            continue
        known += 1
        with_it += want in theirs
    if not with_it:
        return []
    sev = "high" if with_it * 2 >= known else "medium"
    return [Reason(
        source="fleet", category="auth", severity=sev, blocking=_at_or_above(sev, fail_on),
        message=(f"root has no credentials for {ref.registry}; {with_it} of {known} other "
                 "hosts' root has them (private images then fail: 'no basic auth credentials')"),
        fix=f"sudo docker login {shlex.quote(ref.registry)}")]


def daemon_reasons(host: HostResult, fail_on: str, existing: List[Reason]) -> List[Reason]:
    if any(r.category == "daemon" and r.severity == "critical" for r in existing):
        return []
    installed = dig(host.facts, "docker.installed")
    up = dig(host.facts, "docker.daemon_up")
    if installed is False:
        return [Reason("fleet", "daemon", "critical", "docker is not installed on this host",
                       _at_or_above("critical", fail_on))]
    if up is False and not str(dig(host.facts, "docker.error_kind") or "").startswith("permission") \
            and not (host.error is not None and host.error.cls == "sudo"):
        return [Reason("fleet", "daemon", "critical", "the Docker engine does not answer",
                       _at_or_above("critical", fail_on),
                       fix="systemctl status docker; journalctl -u docker -n 50")]
    return []


def _platform_match(host_plat: str, platforms: List[str]) -> bool:
    hp = host_plat.split("/")
    for p in platforms:
        ip = p.split("/")
        if ip[:2] != hp[:2]:
            continue
        if hp[1] == "arm" and len(hp) > 2 and len(ip) > 2 and ip[2] != hp[2]:
            continue
        return True
    return False


def probe_reasons(probe: Optional[dict], host: HostResult, ref: Reference,
                  fail_on: str) -> List[Reason]:
    if not isinstance(probe, dict):
        return []
    out: List[Reason] = []
    via = daemon_via_proxy(host.facts, ref)
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
            same_path = via is False and not session_via_proxy(host.facts, ref)
            # Only root's CLI credentials are the ones `sudo docker pull` hands the daemon.
            blocking_kind = who == "root" and (category in PATH_INDEPENDENT or same_path)
            sev = "high" if blocking_kind else "info"
            if category == "dns" and any(r.source == "probe" and r.category == "dns" for r in out):
                pass  # the lookup already said it
            else:
                out.append(Reason("probe", category, sev,
                                  blocking=_at_or_above(sev, fail_on) and blocking_kind,
                                  message=f"{label}: {str(man.get('error') or '')[:300]}",
                                  fix=(BY_ID[classes[0]].fix or None) if classes and classes[0] in BY_ID else None))
        plats = man.get("platforms") or []
        mine = host_platform(host.facts)
        if man.get("ok") and plats and isinstance(mine, str):
            if not _platform_match(mine, plats):
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


def _sorted(reasons: List[Reason]) -> List[Reason]:
    order = {"pull": 0, "finding": 1, "fleet": 2, "probe": 3, "host": 4}
    return sorted(reasons, key=lambda r: (not r.blocking, _sev_index(r.severity),
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
                  pull: Optional[PullOutcome], others: Set[str]) -> Cell:
    fail_on = opts.fail_on if not opts.pull else "none"
    unknown = _unknown_reason(host)
    if not host.audited:
        return Cell("unknown", "unknown: " + _short(unknown.message), [unknown])
    reasons = finding_reasons(result, host, ref, fail_on, others)
    reasons += credential_reasons(result, host, ref, fail_on, reasons)
    reasons += daemon_reasons(host, fail_on, reasons)
    reasons += probe_reasons(probe, host, ref, fail_on)
    probe_view = None
    if isinstance(probe, dict):
        probe_view = {"as": probe.get("as"),
                      "dns": (probe.get("registries") or {}).get(ref.registry),
                      "manifest": (probe.get("manifests") or {}).get(str(ref))}
    if opts.pull:
        for r in reasons:
            r.blocking = False   # with --pull the pull itself decides; these explain it
        if pull is None or pull.not_run:
            why = (pull.not_run if pull else None) or "the pull was not run"
            r = Reason("pull", "ssh", "high", blocking=True, message=why)
            return Cell("unknown", "unknown: " + _short(why), [r] + _sorted(reasons), pull, probe_view)
        if pull.ok:
            return Cell("pass", "pulled", _sorted(reasons), pull, probe_view)
        cat = pull.category or "reachability"
        msg = pull.error or "docker pull failed"
        lead = Reason("pull", cat, "critical", blocking=True, message=msg[:500], fix=pull.fix)
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
    warn = [r for r in reasons if _sev_index(r.severity) <= _sev_index("medium")]
    label = "no blocker found" + (f" ({len(warn)} warning{'s' if len(warn) != 1 else ''})" if warn else "")
    return Cell("no-blocker", label, reasons, None, probe_view)


def evaluate(result: RunResult, opts: GateOptions, probes: Dict[str, Optional[dict]],
             probe_missing: Dict[str, str], pulls: Dict[str, Dict[str, PullOutcome]]) -> GateResult:
    """Pure: the verdict of every (host, image) from an analysed RunResult plus the
    probe facts and pull outcomes collected alongside it."""
    refs = list(opts.images)
    others = known_registries(result, refs)
    gate = GateResult(mode="pull" if opts.pull else "read-only", images=refs,
                      fail_on=opts.fail_on, audit=result)
    for name, host in result.hosts.items():
        row: Dict[str, Cell] = {}
        for ref in refs:
            row[str(ref)] = evaluate_cell(
                result, host, ref, opts, probes.get(name), probe_missing.get(name),
                (pulls.get(name) or {}).get(str(ref)) if opts.pull else None, others)
        gate.cells[name] = row
    return gate


# ------------------------------------------------------------------ the run

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


def run_gate(hosts, collect_opts: CollectOptions, gate_opts: GateOptions,
             analyze_opts: Optional[AnalyzeOptions] = None, progress=None,
             collect_fn=collect) -> GateResult:
    """Collect (with the probe section, and the pull when asked), analyse, decide."""
    refs = unique(gate_opts.images)
    gate_opts.images = refs
    collect_opts.extra_collectors = tuple(collect_opts.extra_collectors) + (
        probe_collector(refs, manifest=gate_opts.manifest_check),)
    # The probe runs inside the collection script: give the script its worst case on top.
    collect_opts.command_timeout += budget_s(refs, gate_opts.manifest_check)
    pulls: Dict[str, Dict[str, PullOutcome]] = {}
    if gate_opts.pull:
        collect_opts.post_exec = make_pull_hook(refs, gate_opts.pull_timeout, pulls)
        # The hook bounds itself (pull_timeout per image + 30 s); the collector's own
        # bound for post_exec sits just above it.
        collect_opts.post_exec_timeout = gate_opts.pull_timeout * len(refs) + 60
        # the pull runs after the collection script on the same connection
    started = time.time()
    result = collect_fn(hosts, collect_opts, progress) if progress else collect_fn(hosts, collect_opts)
    probes, missing = split_probe(result)
    analyze(result, analyze_opts or AnalyzeOptions())
    gate = evaluate(result, gate_opts, probes, missing, pulls)
    if isinstance(result.run, dict):
        result.run["gate"] = {"mode": gate.mode, "images": [str(r) for r in refs],
                              "pull_timeout_s": gate_opts.pull_timeout if gate_opts.pull else None,
                              "wall_s": round(time.time() - started, 3)}
    return gate


# ------------------------------------------------------------------ outputs

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: Any, cap: int = 20000) -> str:
    s = _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text, newlines=True))
    return s if len(s) <= cap else s[:cap] + "…"


def _reason_lines(cell: Cell) -> List[str]:
    lines = []
    for r in cell.reasons:
        mark = "BLOCKS" if r.blocking else "note"
        src = r.rule or r.source
        lines.append(f"[{mark}] {r.category} {r.severity} ({src}): {r.message}")
        if r.fix:
            lines.append(f"    fix: {r.fix}")
    return lines


def render_junit(gate: GateResult, suite_name: str = "fleetaudit gate") -> str:
    """One test case per host x image: fail/blocked -> <failure>, unknown -> <error>."""
    suite = ET.Element("testsuite", name=_x(suite_name, 200))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host, row in gate.cells.items():
        for ref, cell in row.items():
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=_x(f"fleetaudit.gate.{host}", 300),
                                 name=_x(ref, 500))
            if cell.pull and cell.pull.duration_s is not None:
                case.set("time", f"{cell.pull.duration_s:.3f}")
            body = "\n".join(_reason_lines(cell))
            top = cell.blockers[0] if cell.blockers else None
            if cell.verdict in ("fail", "blocked"):
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=_x(cell.label, 500),
                                   type=_x(top.category if top else cell.verdict, 50))
                tail = ("\n\n" + cell.pull.output) if cell.pull and cell.pull.output else ""
                el.text = _x(body + tail)
            elif cell.verdict == "unknown":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=_x(cell.label, 500), type="unknown")
                el.text = _x(body)
            else:
                out = ET.SubElement(case, "system-out")
                head = ("pulled" if cell.verdict == "pass" else
                        "read-only: no blocker found (the image was not pulled)")
                out.text = _x(head + ("\n" + body if body else ""))
    for k, v in counts.items():
        suite.set(k, str(v))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def render_json(gate: GateResult) -> str:
    return snapshot.dumps(gate.to_json(), indent=1, default=str) + "\n"


STYLE = {"pass": "green", "no-blocker": "green", "fail": "bold red", "blocked": "bold red",
         "unknown": "yellow"}


def renderables(gate: GateResult, details: bool = True) -> list:
    """rich renderables: the host x image table, then the reasons of every cell that did
    not pass. Host-provided text is never interpreted as markup and its control
    characters are shown as escapes (render.safe)."""
    from rich.table import Table
    from rich.text import Text

    mode = ("pull: each host's daemon pulled the image" if gate.mode == "pull" else
            "read-only: nothing was pulled; 'no blocker found' is not a promise that the pull works")
    table = Table(title=Text(f"fleetaudit gate ({mode})"), show_lines=False)
    table.add_column("host", no_wrap=True)
    for ref in gate.images:
        table.add_column(safe_text(ref.familiar), overflow="fold")
    for host, row in gate.cells.items():
        cells = [safe_text(host)]
        for ref in gate.images:
            cell = row[str(ref)]
            cells.append(safe_text(cell.label, STYLE.get(cell.verdict, "")))
        table.add_row(*cells)
    out: list = [table]
    counts = gate.counts()
    out.append(Text("  ".join(f"{k}: {v}" for k, v in counts.items()) + f"   exit {gate.exit_code()}"))
    if details:
        for host, row in gate.cells.items():
            for ref, cell in row.items():
                if cell.verdict in ("pass", "no-blocker"):
                    continue
                out.append(Text("\n" + visible(f"{host}  {ref}  -> {cell.label}"),
                                style=STYLE.get(cell.verdict, "")))
                for line in _reason_lines(cell)[:12]:
                    out.append(safe_text("  " + line))
    return out
