"""The connection layer's cheaper-but-equal choices (issue 11, client CPU), against real
OpenSSH sshd on 127.0.0.1: AES-GCM is preferred (asyncssh's chacha20-poly1305 costs ~5x
the CPU per packet), but only as an order over asyncssh's own default set — a server
that offers chacha20-poly1305 only still connects, and an ssh_config `Ciphers` line
still decides. Identity files are read once per run, and again when they change."""
import asyncio
import os
import subprocess

import asyncssh
import pytest

from fleetaudit.inventory.model import Host
from fleetaudit.ssh import CIPHERS, ConnectFailed, Connector, SSHOptions
from sshdkit import Sshd, write_key

pytestmark = pytest.mark.fleet  # real sshd servers that log in as root


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("sshd test servers log in as root")
    d = tmp_path_factory.mktemp("ciphers")
    client = asyncssh.generate_private_key("ssh-ed25519")
    write_key(d / "id_ed25519", client)
    pub = client.export_public_key().decode()
    started = {}
    try:
        started["default"] = Sshd(d / "default", pub, False)
        started["chacha_only"] = Sshd(d / "chacha", pub, False,
                                      extra_config=["Ciphers chacha20-poly1305@openssh.com"])
        known = d / "known_hosts"
        known.write_text("".join(f"[127.0.0.1]:{s.port} {s.public_line}\n" for s in started.values()))
        yield {"dir": d, "key": str(d / "id_ed25519"), "known": str(known), **started}
    finally:
        for s in started.values():
            s.stop()


def _ciphers(servers, name, ssh_config=(), key=None):
    """(send cipher, recv cipher) of one real connection through Connector."""
    async def go():
        conn_opts = SSHOptions(known_hosts=servers["known"], ssh_config=list(ssh_config))
        connector = Connector(conn_opts)
        host = Host(name=name, address="127.0.0.1", port=servers[name].port, user="root",
                    identity_file=key or servers["key"])
        conn = await connector.connect(host)
        try:
            result = await conn.run("echo ok", check=True)
            assert result.stdout == "ok\n"
            return conn.get_extra_info("send_cipher"), conn.get_extra_info("recv_cipher")
        finally:
            conn.close()
            await conn.wait_closed()
    return asyncio.run(go())


def test_aes_gcm_is_preferred_over_the_same_default_set():
    assert CIPHERS[:2] == ["aes256-gcm@openssh.com", "aes128-gcm@openssh.com"]
    defaults = {a.decode() for a in asyncssh.encryption.get_default_encryption_algs()}
    assert set(CIPHERS) == defaults  # a reorder: nothing weaker added, nothing dropped


def test_openssh_server_negotiates_aes256_gcm(servers):
    assert _ciphers(servers, "default") == ("aes256-gcm@openssh.com", "aes256-gcm@openssh.com")


def test_server_offering_only_chacha20_still_connects(servers):
    assert _ciphers(servers, "chacha_only") == ("chacha20-poly1305@openssh.com",) * 2


def test_ssh_config_ciphers_line_is_honoured(servers, tmp_path):
    cfg = tmp_path / "ssh_config"
    cfg.write_text("Host 127.0.0.1\n  Ciphers aes128-ctr\n")
    assert _ciphers(servers, "default", [str(cfg)]) == ("aes128-ctr", "aes128-ctr")


def test_identity_file_is_read_once_and_again_when_it_changes(servers, tmp_path):
    connector = Connector(SSHOptions(known_hosts=servers["known"], ssh_config=[]))
    key = tmp_path / "id"
    write_key(key, asyncssh.generate_private_key("ssh-ed25519"))
    first = connector._client_keys(str(key))
    assert connector._client_keys(str(key)) is first  # not re-read per connection
    replacement = asyncssh.generate_private_key("ssh-ed25519")
    write_key(key, replacement)
    os.utime(key, ns=(1, 1))  # a new stamp even within the file system's mtime granularity
    again = connector._client_keys(str(key))
    assert again is not first
    assert again[0].public_data == replacement.public_data


def test_key_that_cannot_be_loaded_is_left_to_asyncssh(servers, tmp_path):
    """A passphrase-protected key: the path is passed on, and the connection fails as
    an auth-side error exactly as it did before the cache existed."""
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f", str(key)], check=True)
    connector = Connector(SSHOptions(known_hosts=servers["known"], ssh_config=[]))
    assert connector._client_keys(str(key)) == [str(key)]
    with pytest.raises(ConnectFailed) as failed:
        _ciphers(servers, "default", key=str(key))
    assert "Passphrase" in failed.value.error.message, failed.value.error
