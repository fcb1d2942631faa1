"""Opening SSH connections, with every failure turned into a classified HostError.

Phases are separated so that the error class says what went wrong, not just "timeout":
  1. resolve the address            -> dns
  2. TCP connect                    -> refused / no-route / connect-timeout
  3. wait for the server's banner   -> banner-timeout (a listener that never speaks)
  4. SSH handshake + host key + auth (asyncssh, login_timeout)
                                    -> hostkey-unknown / hostkey-changed / auth / protocol
Hosts behind a jump host skip 2-3 (the jump host opens the TCP stream) and are
classified from what the tunnel reports.
"""
from __future__ import annotations

import asyncio
import errno
import getpass
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import asyncssh
from asyncssh.config import SSHClientConfig

from .inventory.model import Host
from .models import HostError

# Error classes worth another attempt: a connection reset or closed during the SSH
# handshake is what sshd's MaxStartups and overloaded middleboxes produce, and a moment
# later it goes through. Timeouts are not retried: the kernel already resent the SYN
# within a connect timeout, and a silent listener stays silent, so retrying only
# multiplies the wait. Auth, host keys, DNS and refused ports do not change either.
TRANSIENT = frozenset({"protocol"})


class ConnectFailed(Exception):
    def __init__(self, error: HostError):
        super().__init__(error.message)
        self.error = error


@dataclass
class SSHOptions:
    known_hosts: Optional[str] = None      # None: ~/.ssh/known_hosts
    accept_new: bool = False               # trust on first use, recording new keys
    ssh_config: Optional[Sequence[str]] = None  # None: ~/.ssh/config when it exists
    connect_timeout: float = 5.0
    banner_timeout: float = 5.0
    login_timeout: float = 15.0
    default_user: Optional[str] = None
    keepalive_interval: float = 15.0

    def known_hosts_path(self) -> str:
        return self.known_hosts or str(Path.home() / ".ssh" / "known_hosts")

    def config_paths(self) -> List[str]:
        if self.ssh_config is not None:
            return list(self.ssh_config)
        default = Path.home() / ".ssh" / "config"
        return [str(default)] if default.exists() else []


class KnownHosts:
    """Strict host-key checking with optional trust-on-first-use.

    asyncssh reports only "not verifiable"; whether the host was unknown or its key
    changed is decided here by looking the host up in the same file.
    """

    def __init__(self, path: str, accept_new: bool):
        self.path = path
        self.accept_new = accept_new
        self._lock = asyncio.Lock()
        self._parsed = None  # ((mtime_ns, size, inode), SSHKnownHosts): parse once per content

    def _load(self):
        # Parsed once and reused until the file changes (TOFU appends to it): handing
        # asyncssh the path made it re-read and re-parse every line for every host,
        # O(hosts x lines) = 250,000 key decodes at 500 hosts.
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._parsed is None or self._parsed[0] != key:
            try:
                self._parsed = (key, asyncssh.read_known_hosts(self.path))
            except (OSError, ValueError, asyncssh.Error):
                return None
        return self._parsed[1]

    def has_entry(self, host: str, addr: str, port: int) -> bool:
        kh = self._load()
        if kh is None:
            return False
        for name in {host, addr}:
            if not name:
                continue
            matched = kh.match(name, addr, port)
            if matched[0] or matched[1]:
                return True
        return False

    def option_for(self, host: str, addr: str, port: int):
        """The `known_hosts` argument for asyncssh: the file, or None for TOFU."""
        if self.accept_new and not self.has_entry(host, addr, port):
            return None
        parsed = self._load()
        if parsed is not None:
            return parsed
        return self.path if os.path.exists(self.path) else ()

    async def record(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        name = host if port == 22 else f"[{host}]:{port}"
        line = f"{name} {key.export_public_key().decode().strip()}\n"
        async with self._lock:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)


def classify_os_error(exc: OSError) -> HostError:
    code = exc.errno
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return HostError("refused", "connection refused: nothing listens on the SSH port")
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return HostError("no-route", f"no route to host ({os.strerror(code)})")
    if code == errno.ETIMEDOUT:
        return HostError("connect-timeout", "TCP connect timed out")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)) or code in (
        errno.ECONNRESET, errno.EPIPE
    ):
        return HostError("protocol", f"connection reset during SSH setup ({exc})")
    return HostError("protocol", f"network error: {exc}")


async def _open_tcp(address: str, port: int, opts: SSHOptions) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(address, port, type=socket.SOCK_STREAM), opts.connect_timeout
        )
    except socket.gaierror as exc:
        raise ConnectFailed(HostError("dns", f"cannot resolve {address}: {exc.strerror or exc}"))
    except asyncio.TimeoutError:
        raise ConnectFailed(HostError("dns", f"resolving {address} timed out"))
    last: Optional[HostError] = None
    for family, stype, proto, _, sockaddr in infos:
        sock = socket.socket(family, stype, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, sockaddr), opts.connect_timeout)
        except asyncio.TimeoutError:
            sock.close()
            last = HostError(
                "connect-timeout",
                f"TCP connect to {address}:{port} got no answer in {opts.connect_timeout:g}s "
                "(packets dropped: firewall, security group or host down)",
            )
            continue
        except OSError as exc:
            sock.close()
            last = classify_os_error(exc)
            continue
        await _wait_banner(sock, address, port, opts.banner_timeout)
        return sock
    raise ConnectFailed(last or HostError("dns", f"no address for {address}"))


async def _wait_banner(sock: socket.socket, address: str, port: int, timeout: float) -> None:
    """Wait until the server has sent something, without consuming it."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, timeout)
    except asyncio.TimeoutError:
        loop.remove_reader(sock.fileno())
        sock.close()
        raise ConnectFailed(HostError(
            "banner-timeout",
            f"{address}:{port} accepted TCP but sent no SSH banner in {timeout:g}s "
            "(overloaded sshd, wrong service on the port, or a middlebox)",
        ))
    except BaseException:
        loop.remove_reader(sock.fileno())
        sock.close()
        raise
    loop.remove_reader(sock.fileno())
    try:
        peek = sock.recv(1, socket.MSG_PEEK)
    except OSError as exc:
        sock.close()
        raise ConnectFailed(classify_os_error(exc))
    if not peek:
        sock.close()
        raise ConnectFailed(HostError(
            "protocol", f"{address}:{port} closed the connection before the SSH banner "
            "(sshd MaxStartups or TCP wrappers)"))


def classify_ssh_error(exc: BaseException, host: Host, known: KnownHosts) -> HostError:
    if isinstance(exc, ConnectFailed):
        return exc.error
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        if known.has_entry(host.name, host.address, host.port):
            return HostError(
                "hostkey-changed",
                f"host key for {host.address} does not match {known.path}: the host was "
                "rebuilt or someone is intercepting; verify, then remove the old entry "
                f"(ssh-keygen -R {host.address} -f {known.path})",
            )
        return HostError(
            "hostkey-unknown",
            f"{host.address} is not in {known.path}; add its key or rerun with --accept-new",
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return HostError("auth", f"authentication failed for user {host.user or '(default)'}: {exc.reason}")
    if isinstance(exc, asyncssh.ConnectionLost) and "Login timeout" in str(exc):
        return HostError("protocol", "SSH handshake/authentication did not finish in time")
    if isinstance(exc, asyncio.TimeoutError):
        return HostError("connect-timeout", "connection attempt timed out")
    if isinstance(exc, socket.gaierror):
        return HostError("dns", f"cannot resolve {host.address}: {exc}")
    if isinstance(exc, OSError):
        return classify_os_error(exc)
    if isinstance(exc, asyncssh.ChannelOpenError):
        # A jump host could not reach the target: the reason text tells which.
        text = str(exc.reason).lower()
        if "refused" in text:
            return HostError("refused", f"via jump host: {exc.reason}")
        if "no route" in text or "unreachable" in text:
            return HostError("no-route", f"via jump host: {exc.reason}")
        if "resolve" in text or "name" in text:
            return HostError("dns", f"via jump host: {exc.reason}")
        return HostError("connect-timeout", f"via jump host: {exc.reason}")
    if isinstance(exc, asyncssh.Error):
        return HostError("protocol", f"SSH protocol error: {exc.reason}")
    return HostError("protocol", f"{type(exc).__name__}: {exc}")


def _parse_jump(spec: str, default_user: Optional[str]):
    """'user@host:port' -> (user, host, port)."""
    user = default_user
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    port = 22
    if spec.startswith("["):  # [v6]:port
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, p = spec.split(":")
        port = int(p)
    else:
        host = spec
    return user, host, port


class Connector:
    """Opens connections for many hosts, sharing jump-host connections between them."""

    def __init__(self, opts: SSHOptions):
        self.opts = opts
        self.known = KnownHosts(opts.known_hosts_path(), opts.accept_new)
        self._jumps: Dict[str, "asyncio.Future[asyncssh.SSHClientConnection]"] = {}

    def _common(self, name: str, address: str, port: int, user, identity_file):
        kwargs = dict(
            port=port,
            known_hosts=self.known.option_for(name, address, port),
            login_timeout=self.opts.login_timeout,
            connect_timeout=self.opts.connect_timeout + self.opts.login_timeout,
            keepalive_interval=self.opts.keepalive_interval,
            config=self.config_paths(),
        )
        if user:
            kwargs["username"] = user
        elif self.opts.default_user:
            kwargs["username"] = self.opts.default_user
        if identity_file:
            kwargs["client_keys"] = [os.path.expanduser(identity_file)]
        return kwargs

    def config_paths(self):
        return self.opts.config_paths()

    async def _jump(self, spec: str, identity_file) -> asyncssh.SSHClientConnection:
        fut = self._jumps.get(spec)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._jumps[spec] = fut
            try:
                tunnel = None
                hops = [h.strip() for h in spec.split(",") if h.strip()]
                for hop in hops:  # a chain: each hop is reached through the previous one
                    user, host, port = _parse_jump(hop, self.opts.default_user)
                    kwargs = self._common(host, host, port, user, identity_file)
                    if tunnel is not None:
                        kwargs["tunnel"] = tunnel
                    tunnel = await asyncssh.connect(host, **kwargs)
                fut.set_result(tunnel)
            except BaseException as exc:
                fut.set_exception(exc)
                self._jumps.pop(spec, None)
                raise
        return await asyncio.shield(fut)

    def _route(self, host: Host):
        """(address, port, jump, proxy_command) after ~/.ssh/config, as OpenSSH would.

        The inventory address is what ssh would be given, so config blocks match on it
        (an alias when the inventory has no explicit address). Inventory values win;
        the config fills what the inventory leaves at its default.
        """
        paths = self.config_paths()
        if not paths:
            return host.address, host.port, host.jump, None
        try:
            cfg = SSHClientConfig.load(None, paths, False, False, False, getpass.getuser(),
                                       host.user or "", host.address, host.port or 22)
        except (OSError, ValueError, asyncssh.Error):
            return host.address, host.port, host.jump, None
        address = cfg.get("Hostname") or host.address
        port = host.port if host.port != 22 else int(cfg.get("Port") or 22)
        jump = host.jump or cfg.get("ProxyJump")
        if isinstance(jump, str) and jump.lower() == "none":
            jump = None
        return address, port, jump, cfg.get("ProxyCommand")

    async def connect(self, host: Host) -> asyncssh.SSHClientConnection:
        address, port, jump, proxy_command = self._route(host)
        try:
            kwargs = self._common(host.name, address, port, host.user, host.identity_file)
            if jump:
                try:
                    kwargs["tunnel"] = await self._jump(jump, host.identity_file)
                except ConnectFailed:
                    raise
                except BaseException as exc:
                    err = classify_ssh_error(exc, host, self.known)
                    raise ConnectFailed(HostError(err.cls, f"jump host {jump}: {err.message}"))
                # Given the inventory address, asyncssh applies the same config block
                # (HostName, User, IdentityFile) that chose this jump.
                conn = await asyncssh.connect(host.address, **kwargs)
            elif proxy_command:
                # The config's ProxyCommand opens the stream; asyncssh runs it.
                conn = await asyncssh.connect(host.address, **kwargs)
            else:
                sock = await _open_tcp(address, port, self.opts)
                try:
                    conn = await asyncssh.connect(host.address, sock=sock, **kwargs)
                except BaseException:
                    sock.close()
                    raise
        except ConnectFailed:
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            raise ConnectFailed(classify_ssh_error(exc, host, self.known)) from exc
        if kwargs["known_hosts"] is None:  # trust on first use: remember what we saw
            key = conn.get_server_host_key()
            if key is not None:
                await self.known.record(address, port, key)
        return conn

    async def close(self) -> None:
        for fut in self._jumps.values():
            if fut.done() and not fut.exception():
                fut.result().close()
        self._jumps.clear()
