"""The gate's result types: what `fleetaudit gate` decides per host and image.

Data only (plus their JSON form and the exit code they imply): the verdict stage
(fleetaudit.verdict) builds them, the pull step (fleetaudit.pull) fills PullOutcome,
the renderers (fleetaudit.render.gate) read them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .models import RunResult
from .reference import Reference

SCHEMA = "fleetaudit-gate/1"
PULL_VERDICTS = ("pass", "fail", "unknown")
READ_ONLY_VERDICTS = ("no-blocker", "blocked", "unknown")

DEFAULT_PULL_TIMEOUT_S = 600.0

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

    @property
    def category(self) -> Optional[str]:
        """The category of the reason that decided a blocked/fail verdict (None otherwise):
        what read-only and --pull must agree on."""
        if self.verdict not in ("blocked", "fail"):
            return None
        return self.blockers[0].category if self.blockers else None

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "label": self.label, "category": self.category,
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

