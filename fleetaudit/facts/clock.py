"""Time: the host's clock offset from the auditor's (measured in the same SSH round
trip), and the times a certificate validity check needs."""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from .schema import dig
from .values import number


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
    """The UTC date of an epoch, YYYY-MM-DD."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def skew_of(facts: Any) -> Optional[Tuple[float, float]]:
    """(host clock minus auditor clock in seconds, measurement uncertainty) or None when
    not measured."""
    skew = number(dig(facts, "time.clock.skew_s"))
    if skew is None:
        return None
    unc = number(dig(facts, "time.clock.uncertainty_s"))
    return skew, abs(unc) if unc is not None else 0.0


@dataclass
class Now:
    """The times a validity check needs: the real time (the auditor's clock when it
    measured this host, else the run's start) and the host's own clock, which is what
    dockerd verifies certificates with."""

    real: Optional[float]
    host: Optional[float]
    source: str


def clock_now(facts: Any, run_meta: Any) -> Now:
    """Now for one host, from its time facts and the run's metadata (`started`)."""
    host = number(dig(facts, "time.clock.host_epoch"))
    real = number(dig(facts, "time.clock.controller_epoch"))
    source = "time.clock.controller_epoch"
    if real is None:
        run = run_meta if isinstance(run_meta, dict) else {}
        real, source = iso_epoch(run.get("started")), "run.started"
    if real is None:
        real, source = host, "time.clock.host_epoch"
    return Now(real=real, host=host if host is not None else real, source=source)
