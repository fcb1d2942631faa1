"""Host keys never fail open (issue 7): real OpenSSH sshd on 127.0.0.1 / ::1, driven
through the real CLI (`fleetaudit audit --known-hosts F [--accept-new] --json OUT`).

Every refusal is checked three ways: the host's error class and message, the
known_hosts file left byte-for-byte as it was, and sshd's own log showing that no
session authenticated (the host was never logged into, so nothing was collected).
"""
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from fleetaudit.collect import CollectOptions, collect_fleet
from fleetaudit.inventory import load_inventory
from fleetaudit.knownhosts import KnownHostsFile, lookup_name
from fleetaudit.ssh import SSHOptions
from sshdkit import Sshd, has_ipv6_loopback, other_key_line, write_key

ROOT = Path(__file__).resolve().parent.parent
IPV6 = has_ipv6_loopback()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A target sshd (127.0.0.1 and ::1), a bastion sshd, and a target with a host
    certificate from a test CA; one client key that logs into all of them as root."""
    if os.geteuid() != 0:
        pytest.skip("sshd test servers log in as root")
    d = tmp_path_factory.mktemp("hostkeys")
    client = asyncssh.generate_private_key("ssh-ed25519")
    write_key(d / "id_ed25519", client)
    pub = client.export_public_key().decode()
    ca = asyncssh.generate_private_key("ssh-ed25519")
    cert_host_key = asyncssh.generate_private_key("ssh-ed25519")
    cert = ca.generate_host_certificate(cert_host_key, "cert-host",
                                        principals=["127.0.0.1", "localhost"])
    servers = {}
    try:
        servers["target"] = Sshd(d / "target", pub, IPV6)
        servers["bastion"] = Sshd(d / "bastion", pub, IPV6)
        servers["certified"] = Sshd(d / "certified", pub, False, host_key=cert_host_key,
                                    host_cert=cert.export_certificate())
        yield {"dir": d, "key": str(d / "id_ed25519"), "ca": ca, **servers}
    finally:
        for s in servers.values():
            s.stop()


def host_line(name, address, port, key, jump=None):
    extra = f", jump: '{jump}'" if jump else ""
    return (f"  {name}: {{address: '{address}', port: {port}, user: root, "
            f"identity_file: {key}{extra}}}\n")


def write_inventory(tmp_path, lab, hosts):
    inv = tmp_path / "fleet.yml"
    inv.write_text("hosts:\n" + "".join(host_line(*h[:3], lab["key"], *h[3:]) for h in hosts))
    return inv


def collect(tmp_path, lab, hosts, known_hosts, accept_new=False):
    """collect_fleet in this process (no CLI start-up); (None, hosts as in the snapshot, "")."""
    inv = load_inventory(str(write_inventory(tmp_path, lab, hosts)))
    opts = CollectOptions(ssh=SSHOptions(known_hosts=str(known_hosts), accept_new=accept_new),
                          retries=0)
    run = asyncio.run(collect_fleet(list(inv.hosts.values()), opts))
    snap = {}
    for name, res in run.hosts.items():
        err = res.error and {"class": res.error.cls, "message": res.error.message}
        snap[name] = {"status": res.status, "error": err, "facts": res.facts}
    return None, snap, ""


def audit(tmp_path, lab, hosts, known_hosts, accept_new=False):
    """Run the CLI once; (exit code, snapshot hosts, stderr)."""
    inv = write_inventory(tmp_path, lab, hosts)
    out = tmp_path / "snap.json"
    if out.exists():
        out.unlink()
    cmd = [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", str(inv),
           "--known-hosts", str(known_hosts), "--json", str(out), "-q",
           "--reports-dir", str(tmp_path / "reports"), "--connect-timeout", "5"]
    if accept_new:
        cmd.append("--accept-new")
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.exists(), f"no snapshot written (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return proc.returncode, json.loads(out.read_text())["hosts"], proc.stderr


def audited(host):
    return host["status"] in ("ok", "partial") and host["facts"].get("system", {}).get("hostname")


def assert_refused(host, cls, *needles):
    """Refused, classified, explained, and nothing collected."""
    assert host["status"] == "unreachable", host
    assert host["error"]["class"] == cls, host["error"]
    for needle in needles:
        assert needle in host["error"]["message"], (needle, host["error"]["message"])
    assert not (host.get("facts") or {}).get("system"), "facts from a host that was refused"


def targets(lab):
    """(inventory name, address, port) of the target under every kind of name."""
    port = lab["target"].port
    hosts = [("by-ipv4", "127.0.0.1", port), ("by-name", "localhost", port)]
    if IPV6:
        hosts.append(("by-ipv6", "::1", port))
    return hosts


def key_name(address, port):
    return f"[{address}]:{port}"


# --- names: hostname, IPv4, IPv6, [host]:port, in both modes --------------------------


@pytest.mark.fleet  # real sshd servers that log in as root
def test_every_kind_of_name_is_recorded_then_checked_strictly(tmp_path, lab):
    """localhost used to crash both modes (ValueError on the second --accept-new run,
    TypeError and no snapshot in strict mode)."""
    kh = tmp_path / "known_hosts"
    hosts = targets(lab)
    t = lab["target"]
    before = t.logins()

    kh.write_text("")
    code, snap, err = audit(tmp_path, lab, hosts, kh)  # strict, nothing known
    assert code == 3, err
    for name, address, port in hosts:
        assert_refused(snap[name], "hostkey-unknown", f"{key_name(address, port)} is not in {kh}",
                       "--accept-new")
    assert kh.read_text() == "" and t.logins() == before

    kh.unlink()  # trust on first use creates the file, private
    code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=True)
    assert code in (0, 1), err
    assert all(audited(snap[n]) for n, _, _ in hosts), snap
    assert oct(kh.stat().st_mode & 0o777) == "0o600"
    recorded = kh.read_text().splitlines()
    assert sorted(recorded) == sorted(f"{key_name(a, p)} {t.public_line}" for _, a, p in hosts)

    for accept_new in (True, False):  # the second run: known now, in either mode
        code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=accept_new)
        assert code in (0, 1), err
        assert all(audited(snap[n]) for n, _, _ in hosts), snap
        assert kh.read_text().splitlines() == recorded


@pytest.mark.fleet  # real sshd servers that log in as root
def test_an_entry_without_the_port_does_not_pin_another_port(tmp_path, lab):
    """OpenSSH looks up `[host]:port` for a non-22 port and nothing else, so a
    port-less entry neither trusts nor blocks it (asyncssh would fall back to it)."""
    t = lab["target"]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"127.0.0.1 {other_key_line()}\nlocalhost {t.public_line}\n")
    hosts = [("by-ipv4", "127.0.0.1", t.port), ("by-name", "localhost", t.port)]
    code, snap, _ = collect(tmp_path, lab, hosts, kh)
    for name, address, port in hosts:
        assert_refused(snap[name], "hostkey-unknown", f"{key_name(address, port)} is not in")


# --- a broken line must refuse, never fall back to trust on first use ----------------

BROKEN_LINES = {
    # the line, and what the error must say about it
    "single-token": ("garbage", "no readable host field"),
    "host-less key": ("{key}", "no readable host field"),
    "unknown-marker": ("@revokd {name} {key}", "unknown marker @revokd"),
    "truncated-key": ("{name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB", "cannot decode"),
    "type-mismatch": ("{name} ssh-rsa {blob}", "'ssh-rsa' key"),
    "bad-hash": ("|1|notbase64!|xx {key}", "hashed host field"),
    "key-missing": ("{name}", "no readable host field"),
    "key-blob-missing": ("{name} ssh-ed25519", "no key after the host field"),
}


@pytest.mark.fleet  # real sshd servers that log in as root
@pytest.mark.parametrize("kind", sorted(BROKEN_LINES))
def test_broken_line_and_changed_key_refuse_in_both_modes(tmp_path, lab, kind):
    """The original defect: one unparsable line, the pinned key has CHANGED, and
    --accept-new trusted the new key and appended it."""
    t = lab["target"]
    host = ("changed", "127.0.0.1", t.port)
    name = key_name("127.0.0.1", t.port)
    template, problem = BROKEN_LINES[kind]
    wrong = other_key_line()
    broken = template.format(name=name, key=wrong, blob=wrong.split()[1])
    kh = tmp_path / "known_hosts"
    kh.write_bytes(f"# pinned before the host was rebuilt\n{name} {wrong}\n{broken}\n".encode())
    original = kh.read_bytes()
    before = t.logins()
    for accept_new in (True, False):
        run = audit if kind == "single-token" else collect  # the original report: CLI
        code, snap, err = run(tmp_path, lab, [host], kh, accept_new=accept_new)
        assert code in (3, None), err
        assert_refused(snap["changed"], "hostkey-unknown", f"{kh}:3:", problem)
        assert kh.read_bytes() == original
    assert t.logins() == before


@pytest.mark.fleet  # real sshd servers that log in as root
def test_broken_line_for_another_host_leaves_this_one_checked(tmp_path, lab):
    """A broken line that provably is not this host's (its host field names another
    host) does not stop the audit: pins still hold, new hosts are still recorded."""
    t = lab["target"]
    p = t.port
    kh = tmp_path / "known_hosts"
    kh.write_text(
        f"{key_name('127.0.0.1', p)} {t.public_line}\n"
        f"other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB\n"       # truncated key
        f"{key_name('localhost', p)} {other_key_line()}\n"                # changed pin
        f"@revokd elsewhere.example {other_key_line()}\n")
    hosts = [("pinned", "127.0.0.1", p), ("changed", "localhost", p)]
    if IPV6:
        hosts.append(("new", "::1", p))
    code, snap, err = collect(tmp_path, lab, hosts, kh)
    assert audited(snap["pinned"]), snap["pinned"]
    assert_refused(snap["changed"], "hostkey-changed", "host key changed", f"{kh}:3")
    if IPV6:
        assert_refused(snap["new"], "hostkey-unknown", "is not in")
    before = kh.read_text()
    code, snap, err = collect(tmp_path, lab, hosts, kh, accept_new=True)
    assert audited(snap["pinned"]), snap["pinned"]
    assert_refused(snap["changed"], "hostkey-changed", "host key changed", f"{kh}:3")
    if IPV6:
        assert audited(snap["new"]), snap["new"]
        assert kh.read_text() == before + f"{key_name('::1', p)} {t.public_line}\n"
    else:
        assert kh.read_text() == before


@pytest.mark.fleet  # real sshd servers that log in as root
def test_hashed_entries_written_by_ssh_keygen_are_matched(tmp_path, lab):
    t = lab["target"]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{key_name('localhost', t.port)} {t.public_line}\n"
                  f"{key_name('127.0.0.1', t.port)} {other_key_line()}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True)
    assert "localhost" not in kh.read_text()
    hosts = [("hashed-ok", "localhost", t.port), ("hashed-changed", "127.0.0.1", t.port)]
    code, snap, _ = collect(tmp_path, lab, hosts, kh, accept_new=True)
    assert audited(snap["hashed-ok"]), snap["hashed-ok"]
    assert_refused(snap["hashed-changed"], "hostkey-changed", f"{kh}:2")


# --- @revoked and @cert-authority ------------------------------------------------------


@pytest.mark.fleet  # real sshd servers that log in as root
def test_revoked_key_fails_closed_in_both_modes(tmp_path, lab):
    t = lab["target"]
    p = t.port
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{key_name('127.0.0.1', p)} {t.public_line}\n"             # pinned...
                  f"@revoked {key_name('127.0.0.1', p)} {t.public_line}\n"    # ...and revoked
                  f"@revoked {key_name('localhost', p)} {t.public_line}\n")   # revoked only
    original = kh.read_bytes()
    hosts = [("pinned-revoked", "127.0.0.1", p), ("only-revoked", "localhost", p)]
    before = t.logins()
    for accept_new in (False, True):
        code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=accept_new)
        assert code == 3, err
        assert_refused(snap["pinned-revoked"], "hostkey-changed", "REVOKED", f"{kh}:2")
        assert_refused(snap["only-revoked"], "hostkey-changed", "REVOKED", f"{kh}:3")
        assert kh.read_bytes() == original
    assert t.logins() == before


@pytest.mark.fleet  # real sshd servers that log in as root
def test_cert_authority_entries_work_and_count_as_an_entry(tmp_path, lab):
    c, t = lab["certified"], lab["target"]
    ca_line = " ".join(lab["ca"].export_public_key().decode().split()[:2])
    kh = tmp_path / "known_hosts"
    kh.write_text(f"@cert-authority {key_name('127.0.0.1', c.port)} {ca_line}\n"
                  f"@cert-authority {key_name('localhost', t.port)} {ca_line}\n")
    original = kh.read_bytes()
    hosts = [("certified", "127.0.0.1", c.port), ("not-certified", "localhost", t.port)]
    for accept_new in (False, True):
        code, snap, err = collect(tmp_path, lab, hosts, kh, accept_new=accept_new)
        assert audited(snap["certified"]), snap["certified"]
        # A host covered by a CA entry is known: a plain key is a change, not a first use.
        assert_refused(snap["not-certified"], "hostkey-changed", f"{kh}:2",
                       "the host presented ssh-ed25519")
        assert kh.read_bytes() == original


# --- jump hosts: every hop recorded and checked, the failing hop named ----------------


@pytest.mark.fleet  # real sshd servers that log in as root
def test_jump_host_key_is_recorded_checked_and_blamed(tmp_path, lab):
    t, b = lab["target"], lab["bastion"]
    hosts = [("behind", "127.0.0.1", t.port, f"root@localhost:{b.port}")]
    kh = tmp_path / "known_hosts"

    kh.write_text("")
    code, snap, _ = collect(tmp_path, lab, hosts, kh)
    assert_refused(snap["behind"], "hostkey-unknown",
                   f"jump host localhost:{b.port}: {key_name('localhost', b.port)} is not in")

    code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=True)
    assert audited(snap["behind"]), (snap["behind"], err)
    assert sorted(kh.read_text().splitlines()) == sorted([
        f"{key_name('localhost', b.port)} {b.public_line}",
        f"{key_name('127.0.0.1', t.port)} {t.public_line}"])

    code, snap, err = audit(tmp_path, lab, hosts, kh)  # strict rerun: both hops known
    assert audited(snap["behind"]), (snap["behind"], err)

    # The bastion is rebuilt (its pin no longer matches): the hop is blamed, not the target.
    kh.write_text(f"{key_name('localhost', b.port)} {other_key_line()}\n"
                  f"{key_name('127.0.0.1', t.port)} {t.public_line}\n")
    original = kh.read_bytes()
    logins = (t.logins(), b.logins())
    for accept_new in (False, True):
        code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=accept_new)
        assert code == 3, err
        assert_refused(snap["behind"], "hostkey-changed",
                       f"jump host localhost:{b.port}: host key changed", f"{kh}:1")
        assert kh.read_bytes() == original
    assert (t.logins(), b.logins()) == logins


@pytest.mark.fleet  # real sshd servers that log in as root
@pytest.mark.parametrize("hop", ["127.0.0.1"] + (["::1"] if IPV6 else []))
def test_jump_host_by_address_is_recorded_and_blamed_in_process(tmp_path, lab, hop):
    """The same through collect_fleet, with the hop given as an IPv4 or IPv6 address."""
    t, b = lab["target"], lab["bastion"]
    spec_host = f"[{hop}]" if ":" in hop else hop
    hosts = [("behind", hop, t.port, f"root@{spec_host}:{b.port}")]
    kh = tmp_path / "known_hosts"
    _, snap, _ = collect(tmp_path, lab, hosts, kh, accept_new=True)
    assert audited(snap["behind"]), snap["behind"]
    assert sorted(kh.read_text().splitlines()) == sorted([
        f"{key_name(hop, b.port)} {b.public_line}", f"{key_name(hop, t.port)} {t.public_line}"])
    _, snap, _ = collect(tmp_path, lab, hosts, kh)
    assert audited(snap["behind"]), snap["behind"]
    kh.write_text(f"{key_name(hop, t.port)} {t.public_line}\n"
                  f"@revoked {key_name(hop, b.port)} {b.public_line}\n"
                  f"{key_name(hop, b.port)} {b.public_line}\n")
    logins = b.logins()
    _, snap, _ = collect(tmp_path, lab, hosts, kh, accept_new=True)
    assert_refused(snap["behind"], "hostkey-changed",
                   f"jump host {spec_host}:{b.port}: host key is REVOKED", f"{kh}:2")
    assert b.logins() == logins


@pytest.mark.fleet  # real sshd servers that log in as root
def test_target_behind_a_good_jump_host_is_still_checked(tmp_path, lab):
    t, b = lab["target"], lab["bastion"]
    hosts = [("behind", "127.0.0.1", t.port, f"root@127.0.0.1:{b.port}")]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{key_name('127.0.0.1', b.port)} {b.public_line}\n"
                  f"{key_name('127.0.0.1', t.port)} {other_key_line()}\n")
    original = kh.read_bytes()
    before = t.logins()
    code, snap, _ = collect(tmp_path, lab, hosts, kh, accept_new=True)
    assert_refused(snap["behind"], "hostkey-changed", f"host key for {key_name('127.0.0.1', t.port)}",
                   "host key changed", f"{kh}:2")
    assert "jump host" not in snap["behind"]["error"]["message"]
    assert kh.read_bytes() == original and t.logins() == before


# --- recording under trust on first use -----------------------------------------------


@pytest.mark.fleet  # real sshd servers that log in as root
def test_concurrent_first_use_records_one_line_and_keeps_the_file_intact(tmp_path, lab):
    """Eight inventory hosts on one address, connected at once: one entry, appended
    on its own line after a last line that had no newline; the file's mode is kept."""
    t = lab["target"]
    kh = tmp_path / "known_hosts"
    kh.write_text(f"# team file\nunrelated.example {other_key_line()}")  # no final newline
    kh.chmod(0o644)
    original = kh.read_text()
    hosts = [(f"same-{i}", "127.0.0.1", t.port) for i in range(8)]
    code, snap, err = audit(tmp_path, lab, hosts, kh, accept_new=True)
    assert all(audited(snap[n]) for n, _, _ in hosts), snap
    assert kh.read_text() == original + f"\n{key_name('127.0.0.1', t.port)} {t.public_line}\n"
    assert oct(kh.stat().st_mode & 0o777) == "0o644"


# --- lookups agree with OpenSSH's own (ssh-keygen -F), hashed or not ------------------

ORACLE_LINES = [
    "# a comment",
    "[localhost]:2222,127.0.0.1 {k1}",
    "*.example.com,!bad.example.com {k2}",
    "host? {k1}",
    "@revoked [::1]:2200 {k2}",
    "@cert-authority *.corp {k1}",
    "hashme {k2}",
    "Mixed.Case {k1}",
    "localhost {k2}",
]
ORACLE_QUERIES = [("localhost", 2222), ("localhost", 22), ("LocalHost", 2222), ("127.0.0.1", 22),
                  ("127.0.0.1", 2222), ("a.example.com", 22), ("bad.example.com", 22),
                  ("hostx", 22), ("hostxy", 22), ("::1", 2200), ("[::1]", 2200), ("::1", 22),
                  ("x.corp", 22), ("hashme", 22), ("mixed.case", 22), ("nowhere", 22)]


def openssh_lookup(path, name):
    """{(line, kind)} that `ssh-keygen -F` reports for name; kind '', 'REVOKED' or 'CA'."""
    out = subprocess.run(["ssh-keygen", "-F", name, "-f", str(path)], capture_output=True,
                         text=True).stdout
    found = set()
    for line in out.splitlines():
        if line.startswith("# Host ") and " found: line " in line:
            rest = line.split(" found: line ", 1)[1].split()
            found.add((int(rest[0]), rest[1] if len(rest) > 1 else ""))
    return found


def our_lookup(path, name):
    look = KnownHostsFile(str(path), path.read_bytes()).lookup(name)
    return ({(e.line, "") for e in look.keys} | {(e.line, "REVOKED") for e in look.revoked}
            | {(e.line, "CA") for e in look.cas}), [b.line for b in look.broken]


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed-by-ssh-keygen"])
def test_lookups_match_openssh(tmp_path, hashed):
    k1, k2 = other_key_line(), other_key_line()
    kh = tmp_path / "known_hosts"
    kh.write_text("".join(line.format(k1=k1, k2=k2) + "\n" for line in ORACLE_LINES))
    if hashed:  # OpenSSH's own hashing of every plain name (patterns stay as they are)
        subprocess.run(["ssh-keygen", "-H", "-f", str(kh)], check=True, capture_output=True)
        assert "hashme" not in kh.read_text()
    compared = 0
    for host, port in ORACLE_QUERIES:
        name = lookup_name(host, port)
        expected = openssh_lookup(kh, name)
        assert our_lookup(kh, name) == (expected, []), name
        compared += bool(expected)
    assert compared >= 9  # the queries do exercise matches, not only misses
    # A broken line is skipped by OpenSSH; here it is reported for every name it may concern.
    garbage_at = len(kh.read_text().splitlines()) + 1
    with kh.open("a") as fh:
        fh.write("garbage\n")
    assert our_lookup(kh, lookup_name("nowhere", 22)) == (set(), [garbage_at])


def test_bytes_that_are_not_utf8_break_only_what_they_touch(tmp_path):
    key = other_key_line().encode()
    kh = tmp_path / "known_hosts"
    kh.write_bytes(b"\xffhost " + key + b"\n"               # the host field is unreadable
                   + b"good.example " + key + b" caf\xe9\n")  # only the comment is
    parsed = KnownHostsFile(str(kh), kh.read_bytes())
    assert [(b.line, b.hosts) for b in parsed.broken] == [(1, None)]
    look = parsed.lookup("good.example")
    assert [e.line for e in look.keys] == [2] and [b.line for b in look.broken] == [1]


@pytest.mark.fleet  # real sshd servers that log in as root
def test_a_known_hosts_that_cannot_be_read_refuses_every_host(tmp_path, lab):
    t = lab["target"]
    kh = tmp_path / "known_hosts"
    kh.mkdir()  # exists, but reading it fails
    before = t.logins()
    for accept_new in (False, True):
        _, snap, _ = collect(tmp_path, lab, [("v4", "127.0.0.1", t.port)], kh, accept_new)
        assert_refused(snap["v4"], "hostkey-unknown", f"cannot read {kh}")
    assert t.logins() == before and kh.is_dir()
