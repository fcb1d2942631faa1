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
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import asyncssh
from asyncssh.config import SSHClientConfig
from asyncssh.encryption import get_default_encryption_algs

from .hostread import within
from .inventory.model import Host
from .knownhosts import HostKeyPolicy, KnownHosts
from .models import HostError
from .render.safe import visible

log = logging.getLogger("fleetaudit.ssh")  # phases only; the CLI decides where it goes
# Per-host lines are built under isEnabledFor: visible() is a regex substitution
# (~6 us a call, a dozen per host) that a run without -v would pay for nothing.

# Error classes worth another attempt: a connection reset or closed during the SSH
# handshake is what sshd's MaxStartups and overloaded middleboxes produce, and a moment
# later it goes through. Timeouts are not retried: the kernel already resent the SYN
# within a connect timeout, and a silent listener stays silent, so retrying only
# multiplies the wait. Auth, host keys, DNS and refused ports do not change either.
TRANSIENT = frozenset({"protocol"})

# Cipher preference: AES-GCM first, then asyncssh's defaults (the same set, reordered;
# nothing added). asyncssh runs chacha20-poly1305 in Python, creating two cipher objects
# per packet (~50 us each), while AES-GCM is one call into OpenSSL with AES-NI (~8 us):
# measured on the plain-asyncssh floor at 150 lab hosts, 1.81 -> 1.36 s of client CPU.
# Both are AEAD ciphers in OpenSSH's default list, and GCM is not touched by the Terrapin
# prefix truncation (CVE-2023-48795) that chacha20-poly1305 needed strict kex for. An
# ssh_config `Ciphers` line still wins (the user's choice is never overridden).
CIPHERS = ["aes256-gcm@openssh.com", "aes128-gcm@openssh.com"] + [
    alg.decode("ascii") for alg in get_default_encryption_algs()
    if alg not in (b"aes256-gcm@openssh.com", b"aes128-gcm@openssh.com")]


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


class _HostKeyClient(asyncssh.SSHClient):
    """Hands keys asyncssh does not trust to the policy (trust on first use)."""

    def __init__(self, policy: HostKeyPolicy):
        self._policy = policy

    def validate_host_public_key(self, host, addr, port, key) -> bool:
        return self._policy.accept_unknown(key)


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


def _literal_address(address: str, port: int) -> Optional[list]:
    """getaddrinfo's answer for an IPv4/IPv6 literal, without a trip through the
    executor thread that loop.getaddrinfo takes for every host (asyncio's own
    connections skip it for literals too); None for names and scoped addresses."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, address)
        except (OSError, ValueError):
            continue
        sockaddr = (address, port) if family == socket.AF_INET else (address, port, 0, 0)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]
    return None


async def _open_tcp(address: str, port: int, opts: SSHOptions) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = _literal_address(address, port) or await asyncio.wait_for(
            loop.getaddrinfo(address, port, type=socket.SOCK_STREAM), opts.connect_timeout
        )
    except socket.gaierror as exc:
        raise ConnectFailed(HostError("dns", f"cannot resolve {address}: {exc.strerror or exc}"))
    except asyncio.TimeoutError:
        raise ConnectFailed(HostError("dns", f"resolving {address} timed out"))
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s: resolved to %s", visible(address), ", ".join(visible(i[4][0]) for i in infos))
    last: Optional[HostError] = None
    for family, stype, proto, _, sockaddr in infos:
        sock = socket.socket(family, stype, proto)
        sock.setblocking(False)
        try:
            await within(loop.time() + opts.connect_timeout, loop.sock_connect(sock, sockaddr))
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
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: TCP connected to %s port %d", visible(address), visible(sockaddr[0]), port)
        await _wait_banner(sock, address, port, opts.banner_timeout)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: SSH banner received", visible(address))
        return sock
    raise ConnectFailed(last or HostError("dns", f"no address for {address}"))


async def _wait_banner(sock: socket.socket, address: str, port: int, timeout: float) -> None:
    """Wait until the server has sent something, without consuming it."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await within(loop.time() + timeout, ready)
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


def classify_ssh_error(exc: BaseException, address: str, user: Optional[str],
                       policy: Optional[HostKeyPolicy] = None) -> HostError:
    """A HostError for an exception from connecting to `address` (a target or a hop)."""
    if isinstance(exc, ConnectFailed):
        return exc.error
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        if policy is not None:
            return policy.error(str(exc.reason))
        return HostError("hostkey-unknown", f"host key of {address} not verifiable: {exc.reason}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return HostError("auth", f"authentication failed for user {user or '(default)'}: {exc.reason}")
    if isinstance(exc, asyncssh.ConnectionLost) and "Login timeout" in str(exc):
        return HostError("protocol", "SSH handshake/authentication did not finish in time")
    if isinstance(exc, asyncio.TimeoutError):
        return HostError("connect-timeout", "connection attempt timed out")
    if isinstance(exc, socket.gaierror):
        return HostError("dns", f"cannot resolve {address}: {exc}")
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
    """Opens connections for many hosts, sharing jump-host connections between them.

    Every hop (each jump host, then the target) gets its own host-key policy: checked
    against known_hosts under the same rules, recorded under trust on first use, and
    named in the error when it fails.
    """

    def __init__(self, opts: SSHOptions):
        self.opts = opts
        self.known = KnownHosts(opts.known_hosts_path(), opts.accept_new)
        self._jumps: Dict[str, "asyncio.Future[asyncssh.SSHClientConnection]"] = {}
        self._keys: Dict[str, tuple] = {}
        # Which ssh_config files apply is decided once per run (the default one is used
        # when it exists): twice per connection it was a home lookup and a stat.
        self._config_paths = opts.config_paths()

    def _common(self, policy: HostKeyPolicy, port: int, user, identity_file,
                config_ciphers: bool = False):
        kwargs = dict(
            port=port,
            known_hosts=policy.asyncssh_known_hosts(),
            server_host_key_algs=policy.host_key_algs(),
            client_factory=lambda: _HostKeyClient(policy),
            login_timeout=self.opts.login_timeout,
            connect_timeout=self.opts.connect_timeout + self.opts.login_timeout,
            keepalive_interval=self.opts.keepalive_interval,
            config=self.config_paths(),
        )
        if not config_ciphers:
            kwargs["encryption_algs"] = CIPHERS
        if user:
            kwargs["username"] = user
        elif self.opts.default_user:
            kwargs["username"] = self.opts.default_user
        if identity_file:
            kwargs["client_keys"] = self._client_keys(os.path.expanduser(identity_file))
        return kwargs

    def _client_keys(self, path: str):
        """The key pairs of an identity file, read once per run rather than by asyncssh on
        every connection (~0.4 ms each: read, parse, look for a -cert.pub). Re-read when
        the file changes; when it cannot be loaded here (a passphrase, unreadable), the path
        is passed on and asyncssh reports the failure exactly as before."""
        try:
            st = os.stat(path)
        except OSError:
            return [path]
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._keys.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            keys = asyncssh.load_keypairs([path])
        except (OSError, ValueError, asyncssh.Error):
            return [path]
        self._keys[path] = (stamp, keys)
        return keys

    def config_paths(self):
        return list(self._config_paths)

    def _policy(self, address: str, port: int, label: Optional[str] = None) -> HostKeyPolicy:
        policy = self.known.policy(address, port, label)
        if policy.refusal is not None:  # refused before a single packet is sent
            raise ConnectFailed(policy.refusal)
        return policy

    async def _trust_on_first_use(self, policy: HostKeyPolicy, conn) -> None:
        if not policy.tofu:
            return
        key = conn.get_server_host_key()
        error = (HostError("hostkey-unknown", f"{policy.label}: no host key to record")
                 if key is None else await self.known.record(policy, key))
        if error is not None:
            conn.close()
            raise ConnectFailed(error)

    async def _jump(self, spec: str, identity_file) -> asyncssh.SSHClientConnection:
        fut = self._jumps.get(spec)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._jumps[spec] = fut
            try:
                fut.set_result(await self._open_chain(spec, identity_file))
            except BaseException as exc:
                fut.set_exception(exc)
                # This task re-raises it itself: mark it retrieved, or the future's
                # finalizer logs "exception was never retrieved" at some random later
                # moment (under pytest, in the middle of another module's import).
                fut.exception()
                self._jumps.pop(spec, None)
                raise
        return await asyncio.shield(fut)

    async def _open_chain(self, spec: str, identity_file) -> asyncssh.SSHClientConnection:
        tunnel = None
        hops = [h.strip() for h in spec.split(",") if h.strip()]
        try:
            for hop in hops:  # a chain: each hop is reached through the previous one
                tunnel = await self._open_hop(hop, identity_file, tunnel)
        except BaseException:
            if tunnel is not None:  # the hops already open lead nowhere now
                tunnel.close()
            raise
        return tunnel

    async def _open_hop(self, hop: str, identity_file, tunnel) -> asyncssh.SSHClientConnection:
        user, host, port = _parse_jump(hop, self.opts.default_user)
        label = f"jump host {f'[{host}]' if ':' in host else host}:{port}"
        # Keys are looked up under the hop's real name, as `ssh -J` would (an alias
        # from ssh_config resolves to its HostName and Port).
        name, key_port, config_ciphers = self._hop_name(host, port, user)
        policy = self._policy(name, key_port, label)
        kwargs = self._common(policy, port, user, identity_file, config_ciphers)
        if tunnel is not None:
            kwargs["tunnel"] = tunnel
        try:
            conn = await asyncssh.connect(host, **kwargs)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            err = classify_ssh_error(exc, host, user, policy)
            if not err.message.startswith(label):
                err = HostError(err.cls, f"{label}: {err.message}")
            raise ConnectFailed(err) from exc
        await self._trust_on_first_use(policy, conn)
        return conn

    def _route(self, host: Host):
        """(address, port, jump, proxy_command, config sets Ciphers) after ~/.ssh/config,
        as OpenSSH would.

        The inventory address is what ssh would be given, so config blocks match on it
        (an alias when the inventory has no explicit address). Inventory values win;
        the config fills what the inventory leaves at its default.
        """
        cfg = self._ssh_config(host.address, host.port or 22, host.user)
        if cfg is None:
            return host.address, host.port, host.jump, None, False
        address = cfg.get("Hostname") or host.address
        port = host.port if host.port != 22 else int(cfg.get("Port") or 22)
        jump = host.jump or cfg.get("ProxyJump")
        if isinstance(jump, str) and jump.lower() == "none":
            jump = None
        return address, port, jump, cfg.get("ProxyCommand"), bool(cfg.get("Ciphers"))

    def _hop_name(self, host: str, port: int, user) -> tuple:
        cfg = self._ssh_config(host, port, user)
        if cfg is None:
            return host, port, False
        return (cfg.get("Hostname") or host, port if port != 22 else int(cfg.get("Port") or 22),
                bool(cfg.get("Ciphers")))

    def _ssh_config(self, address: str, port: int, user) -> Optional[SSHClientConfig]:
        """The ssh_config options OpenSSH would apply to `address`, or None when there
        is no config file or it cannot be read (then the inventory's values stand)."""
        paths = self.config_paths()
        if not paths:
            return None
        try:
            return SSHClientConfig.load(None, paths, False, False, False, getpass.getuser(),
                                        user or "", address, port)
        except (OSError, ValueError, asyncssh.Error):
            return None

    async def connect(self, host: Host) -> asyncssh.SSHClientConnection:
        address, port, jump, proxy_command, config_ciphers = self._route(host)
        policy = None
        try:
            # Checked before the jump hosts are even opened: a target whose entry
            # cannot be trusted is refused without touching the network.
            policy = self._policy(address, port)
            kwargs = self._common(policy, port, host.user, host.identity_file, config_ciphers)
            if jump:
                kwargs["tunnel"] = await self._jump(jump, host.identity_file)
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
            raise ConnectFailed(classify_ssh_error(exc, address, host.user, policy)) from exc
        await self._trust_on_first_use(policy, conn)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: SSH connected, host key verified, authenticated as %s", visible(host.name), visible(conn.get_extra_info("username")))
        return conn

    async def close(self) -> None:
        conns = [fut.result() for fut in self._jumps.values()
                 if fut.done() and not fut.cancelled() and not fut.exception()]
        self._jumps.clear()
        for conn in conns:
            conn.close()
        # Wait (briefly) for the closes to finish inside the loop, or the transports
        # are torn down by finalizers after the loop is gone.
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns],
                               timeout=5)
