"""Webhook notification: POST a JSON summary of a run (new and resolved findings).

The body carries a `text` field that Slack and Mattermost incoming webhooks render as
the message, plus structured fields for anything else that listens. It holds only what
the report already shows (host names, rule ids, titles, counts), never evidence values.

Sending never raises: it returns a NotifyResult, and the caller (the CLI) prints a
warning. A notification must never change a run's result or its exit code. Only http
and https URLs are accepted; the URL itself often embeds a token (Slack's does), so
messages about it show only its scheme and host.
"""
from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

from . import __version__
from .models import SEVERITIES, STATUSES, RunResult, get_field, severity_rank
from .render.since_view import read_since

MAX_LISTED = 200        # findings per list in the JSON body (the rest are counted)
MAX_TEXT_LINES = 15     # findings per list in the chat text
MAX_FIELD = 300         # characters of one host-provided string
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class NotifyURLError(ValueError):
    pass


def check_url(url: str) -> str:
    """The URL if it is http(s) with a host, else NotifyURLError (said without the path)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyURLError(f"{redact(url)}: only http:// and https:// URLs with a host are accepted")
    return url


def redact(url: str) -> str:
    """scheme://host[:port] only: webhook paths and queries are often secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme or '?'}://{host}{port}/…" if parts.scheme else "(not a URL)"


def _clean(text: Any) -> str:
    s = _CONTROL.sub(" ", str(text if text is not None else ""))
    return s if len(s) <= MAX_FIELD else s[:MAX_FIELD] + "…"


def _chat_safe(text: str) -> str:
    """Host text inert in chat: Slack's control characters escaped, @mentions broken."""
    s = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("@", "@\u200b").replace("`", "'")


def _brief(f: Any) -> dict:
    return {k: _clean(get_field(f, k)) for k in ("host", "rule", "category", "severity", "title")}


def _sev_key(f: dict) -> tuple:
    sev = f.get("severity")
    return (severity_rank(sev), f["host"], f["rule"])


def _listed(findings: List[Any]) -> Dict[str, Any]:
    items = sorted((_brief(f) for f in findings), key=_sev_key)
    return {"count": len(items), "items": items[:MAX_LISTED],
            "truncated": max(0, len(items) - MAX_LISTED)}


def build_payload(result: RunResult, *, command: str, since: Any = None) -> dict:
    """The JSON body: `text` for chat tools, structured fields for the rest."""
    run = result.run if isinstance(result.run, dict) else {}
    statuses = {s: 0 for s in STATUSES}
    for h in (result.hosts or {}).values():
        st = get_field(h, "status", "ok")
        statuses[st] = statuses.get(st, 0) + 1
    by_sev = {s: 0 for s in SEVERITIES}
    for f in result.findings or []:
        sev = f.severity
        if sev in by_sev:
            by_sev[sev] += 1
    body: Dict[str, Any] = {
        "source": "fleetaudit", "version": __version__, "command": command,
        "inventory": _clean(run.get("inventory") or ""),
        "run": {k: run.get(k) for k in ("started", "finished", "duration_s", "interrupted")
                if k in run},
        "hosts": statuses, "findings": by_sev,
        "new": None, "resolved": None, "persisting": None, "unverified": None,
    }
    view = read_since(since)
    if view is not None:
        body["new"] = _listed(view.new)
        body["resolved"] = _listed(view.resolved)
        body["persisting"] = {"count": len(view.persisting)}
        body["unverified"] = {"count": len(view.unverified)}
        body["facts_changed"] = len(view.facts_changed)
        body["host_changes"] = {k: [_clean(n) for n in v[:MAX_LISTED]] for k, v in view.hosts.items()}
        body["first_run"] = view.first_run
    body["text"] = _text(body)
    return body


def has_change(payload: dict) -> bool:
    """Anything new or gone since the last run (what a drift notification is for)."""
    if payload.get("new") is None:
        return True
    return bool(payload["new"]["count"] or payload["resolved"]["count"]
                or payload.get("facts_changed")
                or any(payload.get("host_changes", {}).values()))


def _text(body: dict) -> str:
    inv = _chat_safe(body["inventory"]) or "inventory"
    hosts = body["hosts"]
    sev = ", ".join(f"{n} {s}" for s, n in body["findings"].items() if n) or "none"
    head = (f"fleetaudit {body['command']} {inv}: {sum(hosts.values())} hosts "
            f"({hosts.get('unreachable', 0)} unreachable), findings: {sev}")
    lines = [head]
    if body["new"] is not None:
        lines.append(f"Since the last run: {body['new']['count']} new, "
                     f"{body['resolved']['count']} resolved, {body['persisting']['count']} "
                     f"persisting findings; {body.get('facts_changed', 0)} facts changed"
                     + (f"; {body['unverified']['count']} not re-checked (host unreachable "
                        "or cut short)" if body["unverified"]["count"] else ""))
        for key, label in (("new", "New"), ("resolved", "Resolved")):
            items = body[key]["items"]
            if not items:
                continue
            lines.append(f"{label}:")
            for f in items[:MAX_TEXT_LINES]:
                lines.append(f"• [{f['severity']}] {_chat_safe(f['host'])}: "
                             f"{_chat_safe(f['title'])} ({_chat_safe(f['rule'])})")
            more = body[key]["count"] - min(len(items), MAX_TEXT_LINES)
            if more > 0:
                lines.append(f"… and {more} more")
        for key, items in body.get("host_changes", {}).items():
            if items:
                names = ", ".join(_chat_safe(n) for n in items[:MAX_TEXT_LINES])
                lines.append(f"Hosts {key}: {names}" + (" …" if len(items) > MAX_TEXT_LINES else ""))
    if body["run"].get("interrupted"):
        lines.append("The run was interrupted: the results are partial.")
    return "\n".join(lines)


@dataclass
class NotifyResult:
    url: str            # redacted
    ok: bool
    attempts: int
    status: Optional[int] = None
    error: str = ""


def send(url: str, payload: dict, *, timeout: float = 5.0, retries: int = 2,
         backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> NotifyResult:
    """POST payload as JSON; retry transient failures (network, 408/429/5xx) with
    exponential backoff. Never raises."""
    shown = redact(url)
    try:
        check_url(url)
    except NotifyURLError as exc:
        return NotifyResult(shown, False, 0, error=str(exc))
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    status, error = None, ""
    for attempt in range(1, retries + 2):
        req = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"fleetaudit/{__version__}"})
        try:
            # No redirects to other schemes: urllib follows http(s) redirects only.
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status = resp.status
                resp.read(65536)
            return NotifyResult(shown, True, attempt, status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
            exc.close()
            if exc.code not in RETRY_STATUSES:
                return NotifyResult(shown, False, attempt, status, error)
        except (socket.timeout, TimeoutError):
            status, error = None, f"no answer within {timeout:g} s"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            status, error = None, _clean(f"{type(reason).__name__}: {reason}")
            if isinstance(reason, (socket.timeout, TimeoutError)):
                error = f"no answer within {timeout:g} s"
        if attempt <= retries:
            sleep(backoff * (2 ** (attempt - 1)))
    return NotifyResult(shown, False, retries + 1, status, error)
