"""Keys and certificates for the test fleet (in-process, via `cryptography`).

Generating keys in-process instead of forking ssh-keygen/openssl is what lets the
lab build hundreds of hosts in seconds.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
from typing import Iterable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def ed25519_keypair(comment: str = "") -> tuple[bytes, str]:
    """Return (private key in OpenSSH PEM format, public key line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    if comment:
        pub = f"{pub} {comment}"
    return priv, pub


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleetaudit test fleet"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca(cn: str = "fleetaudit lab CA") -> tuple[bytes, bytes]:
    """Return (key PEM, cert PEM) of a fresh self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def issue_server_cert(
    ca_key_pem: bytes,
    ca_cert_pem: bytes,
    dns_names: Iterable[str],
    ips: Iterable[str] = (),
    not_before: Optional[_dt.datetime] = None,
    not_after: Optional[_dt.datetime] = None,
) -> tuple[bytes, bytes]:
    """Return (key PEM, cert PEM) for a TLS server, signed by the CA, with SANs."""
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _dt.datetime.now(_dt.timezone.utc)
    dns_names = list(dns_names)
    sans = [x509.DNSName(n) for n in dns_names] + [
        x509.IPAddress(ipaddress.ip_address(i)) for i in ips
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _dt.timedelta(days=1))
        .not_valid_after(not_after or now + _dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def bcrypt_hash(password: str) -> str:
    """bcrypt hash for the registry's htpasswd file (glibc/libxcrypt crypt(3))."""
    import shutil
    import subprocess
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # type: ignore  # removed in Python 3.13

        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 8))
        if h and h.startswith("$2"):
            return h
    except ImportError:
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(
            ["htpasswd", "-nbB", "-C", "8", "u", password], check=True, capture_output=True, text=True
        ).stdout
        return out.strip().split(":", 1)[1]
    raise RuntimeError("no bcrypt implementation: need Python <3.13 crypt module or htpasswd (apache2-utils)")


def sha512_crypt(password: str) -> str:
    """SHA-512 crypt hash for /etc/shadow."""
    import subprocess

    return subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=password, check=True,
        capture_output=True, text=True,
    ).stdout.strip()
