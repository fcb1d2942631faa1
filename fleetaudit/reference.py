"""Image references parsed the way Docker parses them (distribution/reference's
ParseNormalizedNamed + TagNameOnly), so the gate asks every host about exactly the image
`docker pull REF` would fetch.

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component { "/" path-component }
    domain    := host [ ":" port ]          host: DNS name, or [IPv6]

- The first component is a registry only if it contains "." or ":" or is "localhost"
  (and is all lower case); otherwise the image is on Docker Hub: domain "docker.io", and
  a single-component path gets the "library/" namespace ("nginx" ->
  "docker.io/library/nginx"). "index.docker.io" is folded into "docker.io".
- Path components are lower case: [a-z0-9]+ joined by ".", "_", "__" or runs of "-".
- Tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; "latest" when neither tag nor digest is given.
- Digest: ALGO:HEX; sha256 needs 64, sha384 96, sha512 128 lower-case hex digits.
- The normalized name (domain/path) is at most 255 characters.

Invalid input raises ReferenceError with a message that says what is wrong, in Docker's
words where it has some ("invalid reference format: repository name must be lowercase").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
# What dockerd really connects to for docker.io (the name a host must resolve).
DOCKER_HUB_API = "registry-1.docker.io"
# Every name of Docker Hub a host's config (config.json auths, certs.d, daemon.json, a log
# line) may use: the one list the code folds to DEFAULT_DOMAIN (issue 15: there were three).
DOCKER_HUB_ALIASES = (DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, DOCKER_HUB_API,
                      "registry.hub.docker.com", "hub.docker.com")
NAME_TOTAL_LENGTH_MAX = 255

_ALPHANUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUM}(?:{_SEPARATOR}{_ALPHANUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
_DIGEST_RE = re.compile(rf"^{_DIGEST}$")
_ID_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}


class ReferenceError(ValueError):
    """An image reference Docker would reject; str() says why."""


@dataclass(frozen=True)
class Reference:
    original: str
    domain: str                 # "docker.io", "registry.example.com", "localhost:5000"
    path: str                   # "library/nginx", "team/app"
    tag: Optional[str] = None   # None only when a digest pins the image
    digest: Optional[str] = None

    @property
    def name(self) -> str:
        """Fully qualified repository: docker.io/library/nginx."""
        return f"{self.domain}/{self.path}"

    @property
    def registry(self) -> str:
        """The registry as config.json, certs.d and daemon.json name it (host[:port])."""
        return self.domain

    def __str__(self) -> str:
        """The normalized reference: what `docker pull` fetches, unambiguously."""
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def familiar(self) -> str:
        """Docker's short form: "nginx:latest", "team/app:1.0", "reg.example/x:1"."""
        s = self.name
        if self.domain == DEFAULT_DOMAIN:
            s = self.path
            if s.startswith(OFFICIAL_NAMESPACE + "/") and s.count("/") == 1:
                s = s[len(OFFICIAL_NAMESPACE) + 1:]
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s

    @property
    def host(self) -> str:
        """The registry host without port or IPv6 brackets."""
        d = self.domain
        if d.startswith("["):
            return d[1:d.index("]")]
        return d.rsplit(":", 1)[0] if ":" in d else d

    @property
    def port(self) -> int:
        d = self.domain
        tail = d[d.index("]") + 1:] if d.startswith("[") else d
        if ":" in tail:
            return int(tail.rsplit(":", 1)[1])
        return 443

    @property
    def api_host(self) -> str:
        """The host name dockerd connects to (Docker Hub's API for docker.io)."""
        return DOCKER_HUB_API if self.domain == DEFAULT_DOMAIN else self.host

    @property
    def is_ip(self) -> bool:
        h = self.host
        return self.domain.startswith("[") or bool(re.fullmatch(r"[0-9.]+", h))

    def to_json(self) -> dict:
        return {"input": self.original, "reference": str(self), "registry": self.registry,
                "repository": self.path, "tag": self.tag, "digest": self.digest}


def _fail(ref: str, why: str) -> ReferenceError:
    return ReferenceError(f"invalid reference format: {why} (in {ref!r})")


def split_domain(name: str):
    """(domain, remainder) as Docker's splitDockerDomain decides them."""
    i = name.find("/")
    first = name[:i] if i >= 0 else ""
    if i == -1 or (not any(c in first for c in ".:") and first != "localhost"
                   and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"{OFFICIAL_NAMESPACE}/{remainder}"
    return domain, remainder


def parse(ref: str) -> Reference:
    """Parse and normalize an image reference; ReferenceError when Docker would refuse it."""
    if not isinstance(ref, str) or ref == "":
        raise ReferenceError("invalid reference format: empty image reference")
    if ref != ref.strip() or any(c.isspace() for c in ref):
        raise _fail(ref, "whitespace is not allowed")
    if any(ord(c) < 0x21 or ord(c) > 0x7e for c in ref):
        raise _fail(ref, "only printable ASCII characters are allowed")
    if "://" in ref:
        raise _fail(ref, "an image reference has no scheme: drop the "
                         f"{ref.split('://', 1)[0]}:// prefix")
    rest, digest = ref, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if "@" in digest:
            raise _fail(ref, "more than one '@'")
        if not _DIGEST_RE.match(digest):
            raise _fail(ref, f"digest {digest!r} is not ALGORITHM:HEX (e.g. sha256:<64 hex digits>)")
        algo, hexpart = digest.split(":", 1)
        if algo not in _DIGEST_HEX:
            raise _fail(ref, f"unsupported digest algorithm {algo!r} (sha256, sha384, sha512)")
        if not re.fullmatch(rf"[a-f0-9]{{{_DIGEST_HEX[algo]}}}", hexpart):
            raise _fail(ref, f"{algo} digest needs {_DIGEST_HEX[algo]} lower-case hex digits, "
                             f"got {len(hexpart)}")
    tag = None
    # A ":" after the last "/" starts the tag; one before it belongs to the domain's port.
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.match(tag):
            raise _fail(ref, f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
    if rest == "":
        raise _fail(ref, "no repository name")
    if _ID_RE.match(rest) and tag is None and digest is None:
        raise ReferenceError(f"invalid repository name ({ref}), cannot specify 64-byte "
                             "hexadecimal strings")
    domain, path = split_domain(rest)
    if domain != DEFAULT_DOMAIN or rest.startswith(LEGACY_DEFAULT_DOMAIN + "/") \
            or rest.startswith(DEFAULT_DOMAIN + "/"):
        given = rest.split("/", 1)[0]
        if not _DOMAIN_RE.match(given):
            raise _fail(ref, f"registry {given!r} is not a valid host[:port]")
    if path == "" or path.endswith("/") or "//" in path:
        raise _fail(ref, "empty path component in the repository name")
    if path.lower() != path:
        raise _fail(ref, f"repository name ({path}) must be lowercase")
    if not _PATH_RE.match(path):
        bad = next((c for c in path.split("/")
                    if not re.fullmatch(_PATH_COMPONENT, c)), path)
        raise _fail(ref, f"repository path component {bad!r} must be lower-case letters and "
                         "digits, separated by '.', '_', '__' or '-'")
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise _fail(ref, f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(original=ref, domain=domain, path=path, tag=tag, digest=digest)


def unique(refs, key=str) -> list:
    """refs without repeats (by `key`: the whole reference, or e.g. its registry),
    first occurrence kept, order kept."""
    seen, out = set(), []
    for r in refs:
        k = key(r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out
