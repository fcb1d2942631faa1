"""A hostile SSH server (issue 7): the disconnect reason it sends is host text too.

A small real asyncssh server on 127.0.0.1 whose host key the client trusts refuses the
login with a disconnect reason full of terminal escapes, a bidi override, rich markup and
a NUL. The real CLI, run as a subprocess, must report the host (class `protocol`) with
that reason shown as escapes, and print nothing raw.
"""
import asyncio
import json
import os
import sys

import asyncssh

from fleetaudit import exitcodes
from hostile import raw_chars, strict_json

REASON = "go away\x1b]0;pwned\x07\x1b[2J\u202eevil [bold red]X[/bold red]\x00\x9b2J"


class _Refuser(asyncssh.SSHServer):
    def begin_auth(self, username):
        raise asyncssh.DisconnectError(asyncssh.DISC_BY_APPLICATION, REASON)


async def _audit_against_refuser(tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[key], server_factory=_Refuser)
    try:
        port = server.sockets[0].getsockname()[1]
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} " + key.export_public_key().decode())
        inv = tmp_path / "inv.ini"
        inv.write_text(f"[evil]\nevil ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fleetaudit.cli", "audit", "-i", str(inv), "--known-hosts", str(known),
            "--json", str(tmp_path / "s.json"), "--reports-dir", str(tmp_path / "r"), "--retries", "0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "300"})
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode, out.decode("utf-8"), err.decode("utf-8")
    finally:
        server.close()


def test_disconnect_reason_is_shown_inert(tmp_path):
    rc, out, err = asyncio.run(_audit_against_refuser(tmp_path))
    assert rc == exitcodes.NOT_AUDITED, err
    snap = strict_json((tmp_path / "s.json").read_text())
    error = snap["hosts"]["evil"]["error"]
    assert error["class"] == "protocol" and REASON in error["message"]  # stored as sent
    assert raw_chars(out) == [] and raw_chars(err) == []
    assert "go away\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil [bold red]X[/bold red]\\x00\\x9b2J" in out
    json.dumps(snap)
