"""known_hosts read line by line, the way OpenSSH reads it, failing closed.

asyncssh's reader raises on the first line it cannot split (the caller then had no file
and fell back to trust on first use) and silently skips keys it cannot decode (so a
corrupted pin simply vanished). Here every line is parsed on its own, a broken line is
kept with its number and what is wrong with it, and a lookup reports the broken lines
that could concern the host so the caller refuses it instead of guessing.

Lookups follow OpenSSH: the name is the host as given (after ssh_config's HostName),
lower-cased, written `[name]:port` when the port is not 22, matched against plain
patterns (`*`, `?`, `!negation`, comma lists) and hashed `|1|salt|hash` fields. No
fallback to the port-less name (asyncssh does that, OpenSSH does not).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import fcntl
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import asyncssh
from asyncssh.public_key import get_default_certificate_algs, get_default_public_key_algs

from .models import HostError

MARKERS = ("cert-authority", "revoked")


def lookup_name(host: str, port: int) -> str:
    """The known_hosts name OpenSSH looks up for host:port."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):  # "[::1]" given for a v6 address
        name = name[1:-1]
    return name if port == 22 else f"[{name}]:{port}"


def recordable(name: str) -> bool:
    """Whether `name` can be written as a literal host field (no pattern characters)."""
    return bool(name) and not re.search(r"[\s,*?!#|@]", name)


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> "re.Pattern[str]":
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern), re.S)


def _wildcard_match(pattern: str, name: str) -> bool:
    """OpenSSH's match_pattern: `*` and `?` only, whole name."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == name
    return bool(_wildcard_regex(pattern).fullmatch(name))


class HostField:
    """The host field of a line: a comma list of patterns, or one hashed name."""

    def __init__(self, text: str):
        self.text = text
        self._hash: Optional[Tuple[bytes, bytes]] = None
        self._patterns: List[Tuple[bool, str]] = []  # (negated, lower-cased pattern)
        if text.startswith("|"):
            parts = text.split("|")
            if len(parts) != 4 or parts[1] != "1":
                raise ValueError(f"hashed host field {text[:40]!r} is not |1|salt|hash")
            try:
                salt = base64.b64decode(parts[2], validate=True)
                digest = base64.b64decode(parts[3], validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("hashed host field is not valid base64") from None
            if len(digest) != hashlib.sha1().digest_size:
                raise ValueError("hashed host field has a hash of the wrong length")
            self._hash = (salt, digest)
            return
        for item in text.split(","):
            negated = item.startswith("!")
            item = item[1:] if negated else item
            if not item:
                raise ValueError(f"empty name in host field {text[:80]!r}")
            self._patterns.append((negated, item.lower()))

    def literal_names(self) -> Optional[List[str]]:
        """The names of a plain field without wildcards or negation, else None."""
        if self._hash is not None or any(c in self.text for c in "*?!"):
            return None
        return list(dict.fromkeys(n.lower() for n in self.text.split(",")))

    def matches(self, name: str) -> bool:
        if self._hash is not None:
            salt, digest = self._hash
            return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
        positive = False
        for negated, pattern in self._patterns:
            if _wildcard_match(pattern, name):
                if negated:  # OpenSSH: a negated match excludes the host outright
                    return False
                positive = True
        return positive


@dataclass
class Entry:
    line: int
    marker: Optional[str]  # None, "cert-authority" or "revoked"
    hosts: HostField
    key: asyncssh.SSHKey


@dataclass
class BrokenLine:
    line: int
    problem: str
    hosts: Optional[HostField]  # None: the line does not say which hosts it is for

    def concerns(self, name: str) -> bool:
        return self.hosts is None or self.hosts.matches(name)


@dataclass
class Lookup:
    """Everything a file says about one name."""
    name: str
    keys: List[Entry] = field(default_factory=list)
    cas: List[Entry] = field(default_factory=list)
    revoked: List[Entry] = field(default_factory=list)
    broken: List[BrokenLine] = field(default_factory=list)

    @property
    def pinned(self) -> bool:
        """Whether the host has an entry (a key or a CA), i.e. is not new."""
        return bool(self.keys or self.cas)

    def is_revoked(self, key: asyncssh.SSHKey) -> List[Entry]:
        return [e for e in self.revoked if e.key == key]


def _parse_line(number: int, line: str):
    """One non-blank, non-comment line -> Entry or BrokenLine."""
    tokens = line.split()
    marker = None
    if tokens[0].startswith("@"):
        marker = tokens.pop(0)[1:]
    if not tokens:
        return BrokenLine(number, f"marker @{marker} with no host and key", None)
    host_text = tokens[0]
    hosts: Optional[HostField] = None
    host_problem = None
    # A line that starts with the key ("ssh-ed25519 AAAA...") has lost its host field:
    # key blobs begin with a length prefix, which base64 always renders as "AAAA".
    if len(tokens) < 2 or tokens[1].startswith("AAAA") or "\ufffd" in host_text:
        host_problem = "no readable host field"
    else:
        try:
            hosts = HostField(host_text)
        except ValueError as exc:
            host_problem = str(exc)
    if marker is not None and marker not in MARKERS:
        return BrokenLine(number, f"unknown marker @{marker} (only @cert-authority and "
                                  "@revoked exist)", hosts)
    if host_problem:
        return BrokenLine(number, host_problem, None)
    if len(tokens) < 3:
        return BrokenLine(number, "no key after the host field", hosts)
    keytype, blob = tokens[1], tokens[2]
    try:
        key = asyncssh.import_public_key(f"{keytype} {blob}")
    except Exception as exc:  # KeyImportError, binascii errors, unsupported algorithms
        return BrokenLine(number, f"cannot decode the {keytype[:40]!r} key "
                                  f"({type(exc).__name__}: {str(exc)[:80]})", hosts)
    if key.algorithm.decode("ascii", "replace") != keytype:
        return BrokenLine(number, f"key type {keytype[:40]!r} does not match the key data "
                                  f"({key.algorithm.decode('ascii', 'replace')})", hosts)
    return Entry(number, marker, hosts, key)


class KnownHostsFile:
    """A parsed known_hosts file: entries, broken lines, and per-name lookups."""

    def __init__(self, path: str, data: bytes):
        self.path = path
        self.entries: List[Entry] = []
        self.broken: List[BrokenLine] = []
        self._cache: Dict[str, Lookup] = {}
        # Literal names are indexed; only patterns and hashed fields are tried one by
        # one, so 500 hosts against a 500-line file is not 250,000 pattern matches.
        self._by_name: Dict[str, List[Entry]] = {}
        self._scanned: List[Entry] = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith("#"):
                continue
            parsed = _parse_line(number, line)
            if isinstance(parsed, BrokenLine):
                self.broken.append(parsed)
                continue
            self.entries.append(parsed)
            names = parsed.hosts.literal_names()
            if names is None:
                self._scanned.append(parsed)
            else:
                for name in names:
                    self._by_name.setdefault(name, []).append(parsed)

    def lookup(self, name: str) -> Lookup:
        found = self._cache.get(name)
        if found is None:
            found = Lookup(name)
            candidates = self._by_name.get(name, []) + [
                e for e in self._scanned if e.hosts.matches(name)]
            for e in sorted(candidates, key=lambda e: e.line):
                {"revoked": found.revoked, "cert-authority": found.cas}.get(
                    e.marker, found.keys).append(e)
            found.broken = [b for b in self.broken if b.concerns(name)]
            self._cache[name] = found
        return found

    def where(self, entries) -> str:
        """'FILE:3, FILE:7' for messages."""
        return ", ".join(f"{self.path}:{e.line}" for e in entries)


class HostKeyPolicy:
    """The host-key decision for one connection to one hop (a target or a jump host).

    Built before connecting, so a file that cannot be trusted for this host refuses it
    without a packet sent (`refusal`). asyncssh gets the pinned, CA and revoked keys;
    a key it does not trust comes back through `accept_unknown`, which says yes only
    under trust on first use for a name with no entry at all.
    """

    def __init__(self, known: "KnownHosts", host: str, port: int, label: str,
                 parsed: Optional[KnownHostsFile], refusal=None):
        self.known = known
        self.name = lookup_name(host, port)
        self.label = label  # "host key for [127.0.0.1]:2222" or "jump host bastion:2222"
        self.parsed = parsed
        self.refusal = refusal
        self.lookup = parsed.lookup(self.name) if parsed is not None else Lookup(self.name)
        self.tofu = known.accept_new and not self.lookup.pinned
        self.presented: Optional[asyncssh.SSHKey] = None

    def asyncssh_known_hosts(self):
        """(trusted keys, CA keys, revoked keys): revoked wins over trusted, as in OpenSSH."""
        revoked = [e.key for e in self.lookup.revoked]
        keys = [e.key for e in self.lookup.keys if e.key not in revoked]
        cas = [e.key for e in self.lookup.cas if e.key not in revoked]
        return (keys, cas, revoked)

    def host_key_algs(self) -> List[str]:
        """Algorithms to offer, in OpenSSH's order: certificates first when a CA is
        trusted, then the types of the pinned keys, then every other type.

        Offering the rest too (asyncssh offers only the pinned types) makes a host whose
        key type changed present its new key, so the error says "changed" and shows it
        instead of a bare key-exchange failure.
        """
        order: List[bytes] = []
        if self.lookup.cas:
            order += get_default_certificate_algs()
        for e in self.lookup.keys:
            order += e.key.sig_algorithms
        order += get_default_public_key_algs()
        return [a.decode("ascii") for a in dict.fromkeys(order)]

    def accept_unknown(self, key: asyncssh.SSHKey) -> bool:
        self.presented = key
        return self.tofu and not self.lookup.is_revoked(key)

    def error(self, reason: str):
        """A HostError for asyncssh's HostKeyNotVerifiable (whose reason is `reason`)."""
        path, look = self.known.path, self.lookup
        key = self.presented
        seen = f"; the host presented {_describe(key)}" if key is not None else ""
        if "revoked" in reason.lower():
            where = self.parsed.where(look.revoked) if self.parsed else path
            return HostError("hostkey-changed", (
                f"{self.label}: host key is REVOKED ({reason.split(' for host')[0]}; "
                f"@revoked at {where}): refusing to connect; the host still uses a key that "
                "was withdrawn (compromised or retired): rekey the host, then pin the new key"))
        if look.pinned:
            where = self.parsed.where(look.keys + look.cas) if self.parsed else path
            return HostError("hostkey-changed", (
                f"{self.label}: host key changed: it does not match {where}{seen}; the host "
                "was rebuilt or someone is intercepting: verify, then remove the old entry "
                f"(ssh-keygen -R '{self.name}' -f {path})"))
        hint = "add its key" + ("" if self.known.accept_new else " or rerun with --accept-new")
        return HostError("hostkey-unknown", (
            f"{self.label}: {self.name} is not in {path}{seen}; {hint}"))


def _describe(key: asyncssh.SSHKey) -> str:
    try:
        return f"{key.algorithm.decode('ascii', 'replace')} {key.get_fingerprint()}"
    except Exception:  # a key type asyncssh can decode but not fingerprint: say the type only
        return key.algorithm.decode("ascii", "replace")


class KnownHosts:
    """A known_hosts file: strict checking, optional trust on first use (--accept-new)."""

    def __init__(self, path: str, accept_new: bool):
        self.path = path
        self.accept_new = accept_new
        self._lock = asyncio.Lock()
        self._parsed: Optional[Tuple[tuple, KnownHostsFile]] = None

    def load(self) -> Optional[KnownHostsFile]:
        """The parsed file (None when it does not exist); OSError when it cannot be read.

        Parsed once and reused until the file changes (trust on first use appends to
        it): at 500 hosts, parsing per host would be 250,000 key decodes.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._parsed is None or self._parsed[0] != stamp:
            with open(self.path, "rb") as fh:
                self._parsed = (stamp, KnownHostsFile(self.path, fh.read()))
        return self._parsed[1]

    def policy(self, host: str, port: int, label: Optional[str] = None) -> HostKeyPolicy:
        name = lookup_name(host, port)
        label = label or f"host key for {name}"
        try:
            parsed = self.load()
        except OSError as exc:
            refusal = HostError("hostkey-unknown", (
                f"{label}: cannot read {self.path} ({exc.strerror or exc}); host keys cannot "
                "be checked, so the host is not contacted"))
            return HostKeyPolicy(self, host, port, label, None, refusal)
        pol = HostKeyPolicy(self, host, port, label, parsed)
        if pol.lookup.broken:
            pol.refusal = HostError("hostkey-unknown", f"{label}: " + broken_message(
                self.path, pol.lookup.broken, name))
        elif pol.tofu and not recordable(name):
            pol.refusal = HostError("hostkey-unknown", (
                f"{label}: {name!r} cannot be written to {self.path} as a host name, so "
                "--accept-new cannot record it; add its key by hand"))
        return pol

    async def record(self, pol: HostKeyPolicy, key: asyncssh.SSHKey):
        """Append the key seen under trust on first use; a HostError if that is unsafe.

        Re-read under the lock (and an flock, for other fleetaudit runs on the same file):
        another connection may have recorded this name meanwhile, and a different key
        for it then means one of the two connections was intercepted.
        """
        async with self._lock:
            fd = None
            try:
                directory = os.path.dirname(os.path.abspath(self.path))
                if not os.path.isdir(directory):
                    os.makedirs(directory, mode=0o700, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                data = os.pread(fd, size, 0) if size else b""
                look = KnownHostsFile(self.path, data).lookup(pol.name)
                if look.broken:
                    return HostError("hostkey-unknown", f"{pol.label}: " + broken_message(
                        self.path, look.broken, pol.name))
                if look.is_revoked(key):
                    return pol.error("Host key is revoked")
                if look.pinned:
                    if any(e.key == key for e in look.keys):
                        return None  # the same key, recorded by a concurrent connection
                    return HostError("hostkey-changed", (
                        f"{pol.label}: another connection recorded a different key for "
                        f"{pol.name} in {self.path} during this run (the host presented "
                        f"{_describe(key)}): one of them was intercepted; verify the host"))
                text = key.export_public_key("openssh").decode().split()
                line = f"{pol.name} {text[0]} {text[1]}\n"
                if data and not data.endswith(b"\n"):  # never glue onto an unfinished line
                    line = "\n" + line
                os.write(fd, line.encode())
            except OSError as exc:
                return HostError("hostkey-unknown", (
                    f"{pol.label}: cannot record the new key in {self.path} "
                    f"({exc.strerror or exc}); it would be trusted again on every run"))
            finally:
                if fd is not None:
                    os.close(fd)  # also releases the flock
        return None


def broken_message(path: str, broken: List[BrokenLine], name: str) -> str:
    first = broken[0]
    more = f" (and {len(broken) - 1} more broken line(s))" if len(broken) > 1 else ""
    scope = ("does not say which host it is for" if first.hosts is None
             else f"is for {name}")
    return (f"{path}:{first.line}: {first.problem}{more}; the line {scope}, so this "
            "host's key cannot be checked: fix or remove the line (no trust on first use "
            "while it is broken)")
