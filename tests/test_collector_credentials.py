"""credentials: planted secrets must never leave the host, whatever the JSON looks like.

The real fragment runs inside the real composite script (`sh -s`, as over SSH) against a
temporary passwd file and home directories, under dash, bash and a busybox-only PATH.
"""
import base64
import dataclasses
import json
import os
import shutil
import subprocess

import pytest

from fleetaudit.collectors import credentials
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output

USER, PASSWORD = "fleetbot", "S3cr3t-Pa55:w0rd!"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()   # what `auth` holds
IDTOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmbGVldGJvdCJ9.SIGNATUREplanted0123456789"
REGTOKEN = "rtok-PLANTED-9f8e7d6c5b4a"
SHORT = "Zm9vOmJhcg"            # a short alnum secret that looks like a helper name
HEADER_SECRET = "hdrsecret42"   # alnum value under an unknown key
SECRETS = [PASSWORD, BASIC, BASIC[:16], BASIC[-16:], f"{USER}:{PASSWORD}", IDTOKEN,
           IDTOKEN[-20:], REGTOKEN, SHORT, HEADER_SECRET, "S3cr3t", "ljB3MHJk"]


def _u(text: str) -> str:
    """JSON-escape every character as \\uXXXX (legal JSON, decoded by Go's json)."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


CONFIGS = {
    # pretty-printed, as `docker login` writes it, plus identity/registry tokens
    "root": json.dumps({
        "auths": {
            "registry.lab:5000": {"auth": BASIC},
            "https://index.docker.io/v1/": {"auth": BASIC, "identitytoken": IDTOKEN},
            "ghcr.io": {"registrytoken": REGTOKEN},
            "quay.io": {},
        },
        "credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
        "HttpHeaders": {"X-Meta-Source": HEADER_SECRET},
    }, indent="\t"),
    # token split across lines, whitespace around the colon, escaped quotes, CRLF
    "alice": ('{\r\n "auths" :\r\n {\r\n  "reg.example.com"\r\n  :\r\n  {\r\n   "auth"\r\n'
              '   :\r\n   "' + BASIC[:10] + '\r\n' + BASIC[10:] + '" ,\r\n'
              '   "password" : "pa\\"' + PASSWORD + '\\"x",\r\n   "username": "' + USER + '"\r\n'
              '  }\r\n }\r\n}\r\n'),
    # unicode escapes in values and keys, case variants Go accepts, URL userinfo in a key
    "bob": ('{"Auths": {"https://' + USER + ':' + PASSWORD + '@reg.example.com/v2/": '
            '{"\\u0061uth": "' + SHORT + '"}, "r2.example.com": {"AUTH": "' + _u(BASIC) + '"},'
            ' "r3.example.com": {"identityToken": "\\"' + IDTOKEN + '\\\\"}},'
            ' "credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud", '
            '"evil.example.com": "x;rm -rf /' + SHORT + '"}}'),
    # cut off in the middle of the secret (disk full while docker login wrote it)
    "carol": '{"auths": {"reg.example.com": {"auth": "' + BASIC[:20],
    # hand-edited: the secret lost its quotes
    "dave": '{"auths": {"reg.example.com": {"auth": ' + BASIC + '}}}',
    "eve": "",
    # a secret where only the whitelist saves us: short alnum under credsStore's sibling
    "frank": '{"credsStore": "pass", "currentContext": "' + SHORT + '", "auths": '
             '{"reg.example.com": {}}, "proxies": {"default": {"httpProxy": '
             '"http://' + USER + ':' + PASSWORD + '@proxy:3128"}}}',
    # too large: never read at all
    "gina": '{"auths": {"reg.example.com": {"auth": "' + BASIC + '"}}, "pad": "'
            + "x" * 70000 + '"}',
}


def _busybox_bin(tmp_path):
    bb = shutil.which("busybox")
    bindir = tmp_path / "bbbin"
    bindir.mkdir()
    for applet in subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split():
        os.symlink(bb, bindir / applet)
    return bindir


def _plant(tmp_path):
    passwd = []
    for user, text in CONFIGS.items():
        home = tmp_path / ("rootdir" if user == "root" else f"home/{user}")
        (home / ".docker").mkdir(parents=True)
        (home / ".docker" / "config.json").write_text(text)
        (home / ".docker" / "config.json").chmod(0o600)
        if user != "root":
            passwd.append(f"{user}:x:1000:1000::{home}:/bin/sh")
    passwd.append("nohome:x:1001:1001::/nonexistent:/bin/sh")
    passwd.append("relative:x:1002:1002::relative/home:/bin/sh")
    passwd.append("garbage line without colons")
    (tmp_path / "passwd").write_text("\n".join(passwd) + "\n")
    return tmp_path / "passwd", tmp_path / "rootdir"


def _run(tmp_path, shell):
    passwd, rootdir = _plant(tmp_path)
    script = credentials.SCRIPT.replace("fa_cr_passwd=/etc/passwd", f"fa_cr_passwd={passwd}")
    script = script.replace("fa_cr_root=/root", f"fa_cr_root={rootdir}")
    collector = dataclasses.replace(credentials.COLLECTOR, script=script)
    nonce = new_nonce()
    env = dict(os.environ)
    cmd = [shell, "-s"]
    if shell == "busybox":
        env["PATH"] = f"{_busybox_bin(tmp_path)}:{env['PATH']}"
        cmd = ["busybox", "sh", "-s"]
    proc = subprocess.run(cmd, input=build_script([collector], nonce, ScriptOptions(part_timeout_s=60)).encode(),
                          capture_output=True, timeout=60, env=env)
    raw = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    section = split_output(proc.stdout.decode("utf-8", "replace"), nonce).sections["credentials"]
    return raw, credentials.parse(section), section


SHELLS = ["dash", "bash", "busybox"]


@pytest.mark.parametrize("shell", SHELLS)
def test_planted_secrets_never_leave_the_host(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    raw, facts, _ = _run(tmp_path, shell)
    blob = raw + json.dumps(facts)
    for secret in SECRETS:
        assert secret not in blob, f"{secret!r} leaked"
    # nothing that even looks like the base64 alphabet run of the planted auth
    assert BASIC[4:12] not in blob and _u(BASIC)[:30] not in blob


@pytest.mark.parametrize("shell", SHELLS)
def test_structure_survives_reduction(tmp_path, shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    _, facts, _ = _run(tmp_path, shell)
    users = facts["users"]
    assert sorted(users) == ["alice", "bob", "carol", "dave", "eve", "frank", "gina", "root"]
    root = users["root"]
    assert root["valid"] is True and root["mode"] == "600"
    assert root["auths"] == {
        "ghcr.io": "registrytoken",
        "https://index.docker.io/v1/": "auth+identitytoken",
        "quay.io": "empty",
        "registry.lab:5000": "auth",
    }
    assert root["cred_helpers"] == {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"}
    assert root["credential_registries"] == [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com", "docker.io", "ghcr.io",
        "registry.lab:5000"]
    assert facts["root_has_auth"] is True and facts["root_registries"] == root["credential_registries"]
    assert users["alice"]["auths"] == {"reg.example.com": "auth+password"}
    bob = users["bob"]
    assert bob["creds_store"] == "desktop"
    assert bob["cred_helpers"] == {"evil.example.com": "REDACTED", "gcr.io": "gcloud"}
    # the \u-escaped key travels as written and the controller's JSON decoder reads "auth"
    assert bob["auths"] == {"REDACTED@reg.example.com/v2/": "auth", "r2.example.com": "auth",
                            "r3.example.com": "identitytoken"}
    assert "desktop" in bob["missing_helpers"] and "desktop" in facts["missing_helpers"]
    assert users["carol"]["valid"] is False and users["carol"]["error"].startswith("invalid JSON")
    assert users["dave"]["valid"] is False
    assert users["eve"] == {**users["eve"], "valid": True, "empty": True, "auths": {}}
    frank = users["frank"]
    assert frank["creds_store"] == "pass" and frank["credential_registries"] == ["reg.example.com"]
    assert users["gina"]["valid"] is None and "too large" in users["gina"]["error"]
    assert facts["error"] is None


def test_parse_handles_sed_redacted_markers():
    # The script-wide sed may rewrite "auth":"present" to "auth":"REDACTED": still a secret.
    section = {"configs": Part('fa-file root 40 600 root /root/.docker/config.json\n'
                               'fa-json {"auths":{"r.io":{"auth":"REDACTED"}}}\n', 0),
               "helpers": Part("", 0)}
    facts = credentials.parse(section)
    assert facts["users"]["root"]["auths"] == {"r.io": "auth"}
    assert facts["root_has_auth"] is True


def test_owner_mismatch_and_unreadable():
    section = {"configs": Part(
        "fa-file bob 10 644 root /home/bob/.docker/config.json\nfa-unreadable\n"
        "fa-file ann - - - /home/ann/.docker/config.json\nfa-json {}\n", 0)}
    facts = credentials.parse(section)
    assert facts["users"]["bob"]["owner_matches"] is False
    assert facts["users"]["bob"]["error"] == "permission denied"
    assert facts["users"]["ann"]["owner_matches"] is None and facts["users"]["ann"]["size"] is None
    assert facts["helpers_installed"] is None


@pytest.mark.parametrize("key,expected", [
    ("https://index.docker.io/v1/", "docker.io"), ("registry-1.docker.io", "docker.io"),
    ("http://Reg.Example.com:5000/v2/", "reg.example.com:5000"), ("ghcr.io", "ghcr.io"),
])
def test_normalize_registry(key, expected):
    assert credentials.normalize_registry(key) == expected
