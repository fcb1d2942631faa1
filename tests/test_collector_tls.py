"""tls: the host-side lister run for real on a temp tree, file_refs safety, digest."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetaudit import certs
from fleetaudit.collectors import tls
from fleetaudit.collectors.base import Part

CERTS = Path(__file__).parent / "data" / "certs"
ROOT = Path(__file__).resolve().parent.parent
SHELLS = [s for s in (["dash"], ["bash", "--posix"], ["busybox", "sh"]) if shutil.which(s[0])]


def _tree(root: Path) -> None:
    """A host's CA files: only the last bundle candidate, anchors, a registry dir."""
    (root / "etc/ssl").mkdir(parents=True)
    shutil.copy(CERTS / "bundle.pem", root / "etc/ssl/cert.pem")
    anchors = root / "usr/local/share/ca-certificates"
    (anchors / "corp").mkdir(parents=True)
    shutil.copy(CERTS / "ca.pem", anchors / "corp" / "corp root.crt")
    shutil.copy(CERTS / "ca.pem", anchors / "ignored.pem")  # Debian skips non-.crt
    reg = root / "etc/docker/certs.d/registry.test:5000"
    reg.mkdir(parents=True)
    shutil.copy(CERTS / "ca.pem", reg / "ca.crt")
    (reg / "client.cert").write_bytes((CERTS / "valid.pem").read_bytes()
                                      + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    (reg / "client.key").write_text("-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n")
    (reg / "README").write_text("nothing\n")
    (root / "etc/docker/certs.d/empty.test").mkdir()


def _run(shell, root: Path, path=None) -> Part:
    env = dict(os.environ, LC_ALL="C")
    if path is not None:
        env["PATH"] = path
    shell = [shutil.which(shell[0])] + shell[1:]  # before PATH is narrowed
    proc = subprocess.run(shell + ["-c", tls.program(str(root)), "sh", tls.JOIN_AWK], capture_output=True,
                          env=env, timeout=30)
    # Strip the temp prefix so the parser sees the host's real paths.
    return Part(proc.stdout.decode().replace(str(root), ""), proc.returncode)


def _sha(path: Path) -> str:
    import hashlib
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_lister_on_real_tree(tmp_path, shell):
    _tree(tmp_path)
    facts = tls.parse({"files": _run(shell, tmp_path)})
    assert facts["error"] is None
    assert facts["bundle"] == {
        "path": "/etc/ssl/cert.pem", "present": True, "sha256": _sha(CERTS / "bundle.pem"),
        "size": (CERTS / "bundle.pem").stat().st_size, "count": 2, "has_private_key": False,
    }
    assert [(a["path"], a["suffix_ok"], a["count"]) for a in facts["anchors"]] == [
        ("/usr/local/share/ca-certificates/corp/corp root.crt", True, 1),
        ("/usr/local/share/ca-certificates/ignored.pem", False, 1),
    ]
    assert facts["anchor_dirs"] == ["/usr/local/share/ca-certificates"]
    assert facts["certs_d_present"] is True
    assert facts["certs_d"]["empty.test"] == []
    reg = {f["path"].rsplit("/", 1)[1]: f for f in facts["certs_d"]["registry.test:5000"]}
    assert {n: f["kind"] for n, f in reg.items()} == {
        "README": "other", "ca.crt": "ca", "client.cert": "cert", "client.key": "key"}
    # The key file is hashed and nothing else is read from it.
    assert reg["client.key"] == {
        "kind": "key", "path": "/etc/docker/certs.d/registry.test:5000/client.key",
        "sha256": _sha(tmp_path / "etc/docker/certs.d/registry.test:5000/client.key"),
        "size": None, "count": None, "has_private_key": None,
    }
    assert reg["client.cert"]["has_private_key"] is True
    assert reg["ca.crt"]["sha256"] == _sha(CERTS / "ca.pem")

    refs = tls.file_refs(facts)
    assert refs == sorted([
        ("/etc/docker/certs.d/registry.test:5000/ca.crt", _sha(CERTS / "ca.pem")),
        ("/etc/ssl/cert.pem", _sha(CERTS / "bundle.pem")),
        ("/usr/local/share/ca-certificates/corp/corp root.crt", _sha(CERTS / "ca.pem")),
        ("/usr/local/share/ca-certificates/ignored.pem", _sha(CERTS / "ca.pem")),
    ])


def _bin_dir(tmp_path: Path, tools) -> str:
    """A PATH holding only the named tools (busybox applets or the machine's own)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        if real:
            os.symlink(real, bindir / tool)
    return str(bindir)


@pytest.mark.skipif(not shutil.which("openssl") or not shutil.which("dash"), reason="needs openssl, dash")
def test_hash_falls_back_to_openssl_then_unknown(tmp_path):
    _tree(tmp_path / "t")
    path = _bin_dir(tmp_path, ["openssl", "wc", "grep", "find", "sort", "head"])
    facts = tls.parse({"files": _run(["dash"], tmp_path / "t", path)})
    assert facts["bundle"]["sha256"] == _sha(CERTS / "bundle.pem")

    os.unlink(tmp_path / "bin" / "openssl")
    facts = tls.parse({"files": _run(["dash"], tmp_path / "t", path)})
    assert facts["bundle"]["sha256"] is None and facts["bundle"]["count"] == 2
    assert tls.file_refs(facts) == []  # nothing to fetch without a hash to check


@pytest.mark.skipif(not shutil.which("dash"), reason="needs dash")
def test_nothing_installed(tmp_path):
    facts = tls.parse({"files": _run(["dash"], tmp_path)})
    assert facts["bundle"]["present"] is False
    assert facts["anchors"] == [] and facts["certs_d"] == {} and facts["certs_d_present"] is False


def test_file_refs_never_names_keys_or_junk():
    sha = "a" * 64
    facts = {
        "bundle": {"path": "/etc/ssl/certs/ca-certificates.crt", "present": True, "sha256": sha,
                   "size": 10, "count": 3, "has_private_key": False},
        "anchors": [
            {"path": "/usr/local/share/ca-certificates/a.crt", "sha256": "b" * 64, "count": 1, "has_private_key": False},
            {"path": "/usr/local/share/ca-certificates/x.key", "sha256": "c" * 64, "count": 1, "has_private_key": False},
            {"path": "/usr/local/share/ca-certificates/empty.crt", "sha256": "d" * 64, "count": 0, "has_private_key": False},
            {"path": "/usr/local/share/ca-certificates/both.crt", "sha256": "e" * 64, "count": 1, "has_private_key": True},
            {"path": "/usr/local/share/ca-certificates/unread.crt", "sha256": None, "count": None, "has_private_key": None},
        ],
        "certs_d": {"r": [
            {"kind": "key", "path": "/etc/docker/certs.d/r/c.key", "sha256": "f" * 64, "count": None, "has_private_key": None},
            {"kind": "other", "path": "/etc/docker/certs.d/r/ca.pem", "sha256": "1" * 64, "count": 1, "has_private_key": False},
            {"kind": "ca", "path": "/etc/docker/certs.d/r/ca.crt", "sha256": "2" * 64, "count": 1, "has_private_key": False},
        ]},
    }
    assert tls.file_refs(facts) == [
        ("/etc/docker/certs.d/r/ca.crt", "2" * 64),
        ("/etc/ssl/certs/ca-certificates.crt", sha),
        ("/usr/local/share/ca-certificates/a.crt", "b" * 64),
    ]
    assert tls.file_refs({}) == [] and tls.file_refs(None) == []
    assert tls.file_refs({"bundle": "junk", "anchors": [1, None], "certs_d": {"r": None}}) == []


def test_digest_real_chain():
    got = {c["subject"]: c for c in certs.digest((CERTS / "ca.pem").read_bytes()
                                                 + (CERTS / "expired.pem").read_bytes()
                                                 + (CERTS / "future.pem").read_bytes()
                                                 + (CERTS / "valid.pem").read_bytes())}
    root = "O=Fleetaudit Test,CN=Fleetaudit Test Root CA"
    assert got[root]["is_ca"] is True and got[root]["issuer"] == root
    assert got[root]["not_before"] == "2020-01-01T00:00:00Z"
    assert got["CN=expired.registry.test"]["not_after"] == "2021-01-01T00:00:00Z"
    assert got["CN=future.registry.test"]["not_before"] == "2090-01-01T00:00:00Z"
    assert got["CN=registry.test"] == {
        "subject": "CN=registry.test", "issuer": root,
        "sha256": _der_sha(CERTS / "valid.pem"),
        "not_before": "2024-01-01T00:00:00Z", "not_after": "2099-12-31T23:59:59Z", "is_ca": False,
    }


def _der_sha(pem: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def test_digest_keeps_file_order_and_skips_junk():
    ca, valid = (CERTS / "ca.pem").read_bytes(), (CERTS / "valid.pem").read_bytes()
    blob = (b"\x00\xff binary noise\n" + valid
            + b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n"
            + b"-----BEGIN CERTIFICATE-----\nMIIB\n"  # BEGIN without END, then a real one
            + ca + b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            + valid[: len(valid) // 2])  # cut off
    assert [c["subject"] for c in certs.digest(blob)] == [
        "CN=registry.test", "O=Fleetaudit Test,CN=Fleetaudit Test Root CA"]


def test_digest_junk_inputs():
    der = subprocess.run(["openssl", "x509", "-in", str(CERTS / "ca.pem"), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    for junk in (b"", b"hello", der, "text", None, b"-----END CERTIFICATE-----"):
        assert certs.digest(junk) == []


def test_digest_caps(monkeypatch):
    monkeypatch.setattr(certs, "MAX_CERTS", 3)
    assert len(certs.digest((CERTS / "ca.pem").read_bytes() * 10)) == 3


def test_digest_real_system_bundle():
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.exists():
        pytest.skip("no system bundle")
    data = bundle.read_bytes()
    got = certs.digest(data)
    assert len(got) == min(data.count(b"BEGIN CERTIFICATE"), certs.MAX_CERTS) > 0
    assert all(len(c["sha256"]) == 64 and c["not_after"].endswith("Z") for c in got)


# --- a cryptography too old to read certificates (Debian 12 ships 38) ------------------

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-cryptography (.ci/apt-packages.txt)


def test_old_cryptography_is_an_error_not_an_empty_bundle():
    """Under Debian 12's cryptography 38 (no not_valid_before_utc) digest() used to return
    [] for the 140+ certificates of the system bundle; now it names the problem."""
    probe = ("import cryptography, sys\n"
             "from fleetaudit import certs\n"
             "try:\n"
             "    print(len(certs.digest(open(sys.argv[1], 'rb').read())))\n"
             "except certs.DigestUnavailable as exc:\n"
             "    print(cryptography.__version__, '|', exc)\n")
    out = subprocess.run([SYSTEM_PYTHON, "-s", "-c", probe, str(CERTS / "valid.pem")],
                         capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    version = out.split(" | ")[0]
    assert int(version.split(".")[0]) < 42, f"{SYSTEM_PYTHON} has cryptography {version}: not the old one"
    assert out == (f"{version} | cryptography {version} cannot read certificates (AttributeError: "
                   "'builtins.Certificate' object has no attribute 'not_valid_before_utc'); "
                   "fleetaudit needs cryptography >= 42\n")


def test_pyproject_declares_the_cryptography_the_code_needs():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"cryptography>={certs.MIN_CRYPTOGRAPHY}"' in pyproject
    import cryptography
    assert int(cryptography.__version__.split(".")[0]) >= int(certs.MIN_CRYPTOGRAPHY)


def test_a_failed_digest_is_recorded_as_an_error_entry():
    from fleetaudit.collect import digest_entry
    from fleetaudit.collectors.base import Collector

    def too_old(content):
        raise certs.DigestUnavailable("cryptography 38.0.4 cannot read certificates (...)")

    broken = Collector(name="tls", script="", parse=lambda s: {}, digest=too_old)
    assert digest_entry(broken, b"x") == {
        "error": "tls digest failed: cryptography 38.0.4 cannot read certificates (...)"}
    assert digest_entry(tls.COLLECTOR, (CERTS / "valid.pem").read_bytes())[0]["subject"] == "CN=registry.test"
    assert digest_entry(tls.COLLECTOR, b"junk") == []


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_one_file_and_odd_names_measured_like_one_call_per_file(tmp_path, shell):
    """The batched sha256sum/wc/grep (one call for all files, joined by path) gives what
    one call per file gave: a lone file (wc and grep name it thanks to /dev/null), names
    with spaces, colons and a tab; the per-file path (no sha256sum) agrees."""
    bundle = tmp_path / "etc/ssl/cert.pem"
    bundle.parent.mkdir(parents=True)
    shutil.copy(CERTS / "bundle.pem", bundle)
    facts = tls.parse({"files": _run(shell, tmp_path)})
    assert facts["bundle"] == {"path": "/etc/ssl/cert.pem", "present": True,
                               "sha256": _sha(CERTS / "bundle.pem"),
                               "size": (CERTS / "bundle.pem").stat().st_size, "count": 2,
                               "has_private_key": False}
    reg = tmp_path / "etc/docker/certs.d/odd name:5000"
    reg.mkdir(parents=True)
    shutil.copy(CERTS / "ca.pem", reg / "my ca:1.crt")
    shutil.copy(CERTS / "ca.pem", reg / "tab\there.crt")
    (reg / "k 1.key").write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    batched = tls.parse({"files": _run(shell, tmp_path)})
    files = {f["path"].rsplit("/", 1)[1]: f for f in batched["certs_d"]["odd name:5000"]}
    assert files["my ca:1.crt"]["sha256"] == files["tab\there.crt"]["sha256"] == _sha(CERTS / "ca.pem")
    assert files["my ca:1.crt"]["size"] == (CERTS / "ca.pem").stat().st_size
    assert files["my ca:1.crt"]["count"] == 1 and files["my ca:1.crt"]["has_private_key"] is False
    assert files["k 1.key"]["sha256"] == _sha(reg / "k 1.key") and files["k 1.key"]["size"] is None
    # the same facts where sha256sum is missing and every file is measured on its own
    path = _bin_dir(tmp_path, ["openssl", "wc", "grep", "find", "sort", "head", "awk"])
    if shutil.which("openssl"):
        assert tls.parse({"files": _run(shell, tmp_path, path)}) == batched
