"""Certificate digests: what the controller stores once per distinct CA file content.

Hosts send CA bundles and registry certificates as (path, sha256) only; the controller
fetches a file's bytes the first time it meets that hash and keeps `digest(bytes)` in
the run's catalog under the hash. A digest is a list, in file order, of

    {subject, issuer        RFC 4514 strings
     sha256                 certificate fingerprint, lowercase hex
     not_before, not_after  ISO-8601 UTC ("2099-12-31T23:59:59Z")
     is_ca}                 basicConstraints CA flag; null when the extension is absent

or, when the digest itself failed, {"error": why} (collect.digest_entry), and the host
that fetched the file lists it in `incomplete` (status partial).

The content is untrusted: anything that is not a parseable PEM certificate (comments,
junk between blocks, DER, a private key, binary noise) is skipped, never an error, and
at most MAX_CERTS certificates are read. Pure: no clock, no I/O.

Skipping is only for what the parser rejects (ValueError). A library that cannot do
the job at all (cryptography older than 42 lacks `not_valid_before_utc`) raises
DigestUnavailable instead: an empty list would read as "this bundle holds no CA".
"""
from __future__ import annotations

import datetime
import warnings
from typing import Any, Dict, List, Optional

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes

# Distribution bundles hold ~150 roots; anything far beyond that is not a CA file.
MAX_CERTS = 1000
# Bytes read at most: ~5x a full Mozilla bundle.
MAX_BYTES = 1024 * 1024

BEGIN = b"-----BEGIN CERTIFICATE-----"
END = b"-----END CERTIFICATE-----"
# The release that added Certificate.not_valid_before_utc/not_valid_after_utc; keep in
# step with pyproject.toml.
MIN_CRYPTOGRAPHY = "42"


class DigestUnavailable(Exception):
    """The certificate library cannot describe certificates (too old, or broken)."""


def digest(content: bytes) -> List[Dict[str, Any]]:
    """Parse every PEM certificate in `content` (see module doc).

    Raises DigestUnavailable only when the library itself fails, never for content.
    """
    if not isinstance(content, (bytes, bytearray)):
        return []
    data = bytes(content[:MAX_BYTES])
    certs: List[Dict[str, Any]] = []
    for block in _pem_blocks(data):
        if len(certs) >= MAX_CERTS:
            break
        entry = _describe(block)
        if entry is not None:
            certs.append(entry)
    return certs


def _pem_blocks(data: bytes):
    """BEGIN..END CERTIFICATE blocks, in order, found in linear time.

    Only the plain CERTIFICATE label counts: that is what Go's AppendCertsFromPEM
    (dockerd) and `grep -c "BEGIN CERTIFICATE"` on the host count as well.
    """
    pos = data.find(BEGIN)
    while pos != -1:
        end = data.find(END, pos)
        if end == -1:
            return
        # A BEGIN without its END before the next BEGIN: start again from that one.
        nxt = data.find(BEGIN, pos + len(BEGIN), end)
        if nxt != -1:
            pos = nxt
            continue
        yield data[pos:end + len(END)] + b"\n"
        pos = data.find(BEGIN, end)


def _describe(pem: bytes) -> Optional[Dict[str, Any]]:
    # Real bundles carry old roots cryptography warns about (negative serials); the
    # warning is noise here, the certificate still counts.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _describe_loud(pem)


def _describe_loud(pem: bytes) -> Optional[Dict[str, Any]]:
    try:
        cert = x509.load_pem_x509_certificate(pem)
        return {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
            "not_before": _iso(cert.not_valid_before_utc),
            "not_after": _iso(cert.not_valid_after_utc),
            "is_ca": _is_ca(cert),
        }
    except ValueError:  # what cryptography raises for bytes that are not a certificate
        return None
    except (AttributeError, TypeError, ImportError) as exc:  # the library, not the content
        raise DigestUnavailable(
            f"cryptography {cryptography.__version__} cannot read certificates "
            f"({type(exc).__name__}: {exc}); fleetaudit needs cryptography >= {MIN_CRYPTOGRAPHY}") from None


def _is_ca(cert: x509.Certificate) -> Optional[bool]:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        return None  # a malformed extension list: the flag is unknown, the cert stays


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
