"""The gate's opt-in pull step: host I/O, beside fleetaudit.collect.

After collection, on the same SSH connection, one more exec runs `docker pull REF`
through each host's own daemon as root (`sudo -n` when the inventory says become),
under `timeout`, output capped and passed through the same host-side secret redaction
as the composite script. THIS MODIFIES HOSTS (it downloads the image); it only runs
with `gate --pull`. A failed pull is classified (fleetaudit.pullerrors +
fleetaudit.explain) into a category and cause.

Besides collect.py and ssh.py, this is the only module that talks to hosts.
"""
from __future__ import annotations

import asyncio
import re
import shlex
from typing import Dict, List, Optional, Sequence, Tuple

import asyncssh

from .explain import explain
from .models import HostResult
from .models_gate import PullOutcome
from .pullerrors import BY_ID, classify
from .redaction import REDACT_PROGRAM
from .reference import Reference
from .script import REDACT_SED, new_nonce

PULL_OUTPUT_CAP = 16 * 1024        # bytes of `docker pull` output kept per image (the tail)
PULL_TOTAL_CAP = 1024 * 1024       # controller-side cap for the whole pull exec

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
    elif causes and not causes[0].generic:  # a guess from loose words is no diagnosis
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

