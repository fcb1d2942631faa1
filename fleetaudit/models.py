"""Result objects that flow through the pipeline.

Errors are data: a host that could not be audited is a HostResult with a status and an
error class, never an exception that stops the run (the Nornir lesson).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

SCHEMA_VERSION = "fleetaudit/1"

# Fixed vocabularies shared with reports, JSON consumers and `fleetaudit explain`.
STATUSES = ("ok", "partial", "unreachable")
ERROR_CLASSES = (
    "dns", "refused", "connect-timeout", "no-route", "banner-timeout", "auth",
    "hostkey-unknown", "hostkey-changed", "sudo", "command-timeout", "protocol",
    # The run was stopped (SIGINT/SIGTERM) before this host finished.
    "interrupted",
)
CATEGORIES = (
    "auth", "dns", "tls", "proxy", "mtu", "firewall", "time", "disk", "daemon", "arch",
    "ratelimit", "reference", "reachability", "ssh",
)
SEVERITIES = ("critical", "high", "medium", "low", "info")


def severity_rank(severity) -> int:
    """0 for critical ... 4 for info; an unknown severity (a snapshot anyone may have
    edited) sorts last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass
class HostError:
    cls: str
    message: str

    def __post_init__(self) -> None:
        if self.cls not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {self.cls!r}")

    def to_json(self) -> dict:
        return {"class": self.cls, "message": self.message}

    @classmethod
    def from_json(cls, data: Optional[dict]) -> Optional["HostError"]:
        if not data:
            return None
        return cls(data["class"], data.get("message", ""))


@dataclass
class HostResult:
    """Everything collected from (or learned about) one inventory host."""

    name: str
    address: str = ""
    status: str = "ok"
    error: Optional[HostError] = None
    facts: dict = field(default_factory=dict)
    # Sections whose collection failed on this host: collector name -> reason.
    incomplete: dict = field(default_factory=dict)
    bytes_received: int = 0
    duration_s: float = 0.0
    attempts: int = 1
    # Inventory groups the host is in ("all" left out). Snapshots before this field have
    # none; readers treat a missing list as "no groups".
    groups: List[str] = field(default_factory=list)

    @property
    def audited(self) -> bool:
        return self.status != "unreachable"

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "error": self.error.to_json() if self.error else None,
            "address": self.address,
            "facts": self.facts,
            "incomplete": self.incomplete,
            "bytes_received": self.bytes_received,
            "duration_s": round(self.duration_s, 3),
            "attempts": self.attempts,
            **({"groups": list(self.groups)} if self.groups else {}),
        }

    @classmethod
    def from_json(cls, name: str, data: dict) -> "HostResult":
        return cls(
            name=name,
            address=data.get("address", ""),
            status=data.get("status", "ok"),
            error=HostError.from_json(data.get("error")),
            facts=data.get("facts") or {},
            incomplete=data.get("incomplete") or {},
            bytes_received=data.get("bytes_received", 0),
            duration_s=data.get("duration_s", 0.0),
            attempts=data.get("attempts", 1),
            groups=[g for g in data.get("groups") or [] if isinstance(g, str)]
            if isinstance(data.get("groups"), list) else [],
        )


def get_field(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a result object or of its JSON dict. Findings are always Finding objects
    (RunResult and snapshot.load convert); this remains for hosts and errors, which the
    renderers also read from history documents."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


@dataclass
class Finding:
    host: str
    rule: str
    category: str
    severity: str
    title: str
    evidence: list = field(default_factory=list)
    remediation: list = field(default_factory=list)
    why: str = ""
    # Keys a snapshot carried that this version does not know: written back unchanged.
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict:
        d = {
            "host": self.host, "rule": self.rule, "category": self.category,
            "severity": self.severity, "title": self.title, "evidence": self.evidence,
            "remediation": self.remediation, "why": self.why,
        }
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def from_json(cls, data: Any) -> "Finding":
        """A finding's JSON dict (a snapshot, the history store) -> Finding. ValueError
        when it is not a JSON object (an edited file): fail closed rather than guess."""
        if isinstance(data, Finding):
            return data
        if not isinstance(data, dict):
            raise ValueError(f"a finding is a JSON object, not {type(data).__name__}")
        # Field values are kept as they are (an edited file may hold a string where a list
        # belongs): the renderers treat every field as untrusted and tolerate that.
        return cls(host=data.get("host"), rule=data.get("rule"), category=data.get("category"),
                   severity=data.get("severity"), title=data.get("title"),
                   evidence=data.get("evidence") or [], remediation=data.get("remediation") or [],
                   why=data.get("why") or "",
                   extra={k: v for k, v in data.items() if k not in _FINDING_KEYS})


_FINDING_KEYS = ("host", "rule", "category", "severity", "title", "evidence", "remediation", "why")


@dataclass
class RunResult:
    """One audit run: metadata, per-host results, the content catalog and findings."""

    run: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)  # name -> HostResult, inventory order
    # Content shared by many hosts, stored once: sha256 -> digest (e.g. parsed CA bundle).
    catalog: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # drift, baseline info, ... (later stages)

    def __post_init__(self) -> None:
        # One shape for every consumer: findings given as JSON dicts become Finding objects.
        if any(not isinstance(f, Finding) for f in self.findings):
            self.findings = [Finding.from_json(f) for f in self.findings]

    @property
    def failed_hosts(self) -> list:
        return [h for h in self.hosts.values() if h.status == "unreachable"]

    def counts(self) -> dict:
        out = {s: 0 for s in STATUSES}
        for h in self.hosts.values():
            out[h.status] = out.get(h.status, 0) + 1
        return out
