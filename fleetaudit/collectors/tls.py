"""tls: which CA files dockerd trusts on this host, as hashes (content travels once).

Facts:
- bundle: {path, present, sha256, size, count, has_private_key} - the system bundle Go
  (dockerd) loads: the first readable file of BUNDLE_PATHS, in Go's own order;
  present false (path null) when none exists.
- anchors: [{path, sha256, size, count, has_private_key}] sorted by path - every file
  under the local anchor dirs (ANCHOR_DIRS), which update-ca-certificates /
  update-ca-trust merge into the bundle. Debian only merges *.crt: `suffix_ok` says
  whether this file's name is one the host's tool picks up.
- anchor_dirs: [existing anchor dirs], sorted.
- certs_d: {registry dir name: [{path, kind, sha256, size, count, has_private_key}]}
  for /etc/docker/certs.d/<registry>/; kind is what dockerd makes of the name:
  "ca" (*.crt), "cert" (*.cert client certificate), "key" (*.key: name and hash only,
  the host never reads more of it), "other" (ignored by dockerd). Lists sorted by path;
  a registry dir without files maps to [].
- certs_d_present: bool.
- error: str|null - why the listing could not be read (cut off, tool failure).

sha256 is the file's sha256sum (null when the host could not hash it); count is the
number of "BEGIN CERTIFICATE" lines; has_private_key whether a "PRIVATE KEY" block is
in the file (then its content is never fetched). Certificate details (subject, issuer,
fingerprint, validity, CA flag) live once per distinct content in the run's catalog:
the controller fetches the files `file_refs` names and stores `certs.digest(content)`.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .. import certs
from .base import Collector, FileRef, Section, part

# Go's crypto/x509 root_linux.go order: dockerd trusts the first one it can read.
BUNDLE_PATHS = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
ANCHOR_DIRS = ("/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors")
CERTS_D = "/etc/docker/certs.d"
MAX_FILES_PER_DIR = 100

# Runs as root (fa_root) because certs.d/*.key is usually 0600. No single quotes
# inside: the whole program is one sh -c argument. One line per item, path last:
#   F <TAB> role <TAB> sha256|unknown <TAB> size <TAB> certs <TAB> keys <TAB> path
#   D <TAB> role <TAB> path                      (a directory that exists)
_PROGRAM = r"""
h() {
  s=
  if command -v sha256sum >/dev/null 2>&1; then s=$(sha256sum < "$1" 2>/dev/null)
  elif command -v openssl >/dev/null 2>&1; then s=$(openssl dgst -sha256 < "$1" 2>/dev/null)
  elif command -v shasum >/dev/null 2>&1; then s=$(shasum -a 256 < "$1" 2>/dev/null)
  fi
  s=${s##*= }; s=${s%% *}
  case "$s" in *[!0-9a-f]*|"") s=unknown ;; esac
  printf %s "$s"
}
f() {
  if [ "$1" = key ]; then
    printf "F\t%s\t%s\t-\t-\t-\t%s\n" "$1" "$(h "$2")" "$2"
  else
    printf "F\t%s\t%s\t%s\t%s\t%s\t%s\n" "$1" "$(h "$2")" "$(wc -c < "$2" 2>/dev/null)" \
      "$(grep -c "BEGIN CERTIFICATE" < "$2" 2>/dev/null)" \
      "$(grep -c "PRIVATE KEY-----" < "$2" 2>/dev/null)" "$2"
  fi
}
for p in BUNDLE_PATHS; do
  if [ -f "$p" ] && [ -r "$p" ]; then f bundle "$p"; break; fi
done
for d in ANCHOR_DIRS; do
  [ -d "$d" ] || continue
  printf "D\tanchor_dir\t%s\n" "$d"
  if command -v find >/dev/null 2>&1; then
    find -L "$d" -type f 2>/dev/null | sort | head -n MAX_FILES
  else
    for x in "$d"/*; do [ -f "$x" ] && printf "%s\n" "$x"; done | head -n MAX_FILES
  fi | while IFS= read -r x; do f anchor "$x"; done
done
[ -d CERTS_D ] && printf "D\tcerts_d\t%s\n" CERTS_D
n=0
for r in CERTS_D/*/; do
  [ -d "$r" ] || continue
  r=${r%/}
  printf "D\tregistry\t%s\n" "$r"
  for x in "$r"/*; do
    [ -f "$x" ] || continue
    n=$((n + 1)); [ "$n" -le MAX_FILES ] || break 2
    case "$x" in
      *.key) f key "$x" ;;
      *.crt) f ca "$x" ;;
      *.cert) f cert "$x" ;;
      *) f other "$x" ;;
    esac
  done
done
exit 0
"""


def program(root: str = "") -> str:
    """The host-side lister; `root` prefixes every path (tests run it on a temp tree)."""
    prog = _PROGRAM.strip("\n")
    prog = prog.replace("BUNDLE_PATHS", " ".join(root + p for p in BUNDLE_PATHS))
    prog = prog.replace("ANCHOR_DIRS", " ".join(root + p for p in ANCHOR_DIRS))
    prog = prog.replace("CERTS_D", root + CERTS_D)
    prog = prog.replace("MAX_FILES", str(MAX_FILES_PER_DIR))
    assert "'" not in prog
    return prog


SCRIPT = f"fa_root files sh -c '{program()}'"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KINDS = {"ca", "cert", "key", "other"}


def _int(text: str) -> Optional[int]:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _file(fields: List[str]) -> Optional[Dict[str, Any]]:
    """One F line (already split, role first) -> file facts, or None when malformed."""
    if len(fields) != 6 or not fields[5].startswith("/"):
        return None
    role, sha, size, count, keys, path = fields
    return {
        "path": path,
        "sha256": sha if _HEX64.match(sha) else None,
        "size": _int(size),
        "count": _int(count),
        # Unknown for key files (hashed, nothing else) and for unreadable files.
        "has_private_key": None if role == "key" or _int(keys) is None else _int(keys) > 0,
    }


def _registry_of(path: str) -> Optional[str]:
    prefix = CERTS_D + "/"
    if not path.startswith(prefix):
        return None
    name = path[len(prefix):].split("/", 1)[0]
    return name or None


def parse(section: Section) -> dict:
    listing = part(section, "files")
    facts: Dict[str, Any] = {
        "bundle": {"path": None, "present": False, "sha256": None, "size": None,
                   "count": None, "has_private_key": None},
        "anchors": [],
        "anchor_dirs": [],
        "certs_d": {},
        "certs_d_present": False,
        "error": None,
    }
    if listing.rc is None:
        facts["error"] = "no output" if not listing.out else "listing cut off"
    elif listing.rc != 0:
        facts["error"] = (listing.out.strip().splitlines() or [f"exit status {listing.rc}"])[-1][:200]

    anchors: Dict[str, dict] = {}
    for line in listing.out.splitlines():
        # Path last and split at most up to it: a tab inside a file name survives.
        fields = line.split("\t", 2 if line.startswith("D\t") else 6)
        if fields[0] == "D" and len(fields) == 3:
            role, path = fields[1], fields[2]
            if role == "anchor_dir" and path in ANCHOR_DIRS:
                facts["anchor_dirs"].append(path)
            elif role == "certs_d" and path == CERTS_D:
                facts["certs_d_present"] = True
            elif role == "registry":
                name = _registry_of(path + "/")
                if name:
                    facts["certs_d"].setdefault(name, [])
            continue
        if fields[0] != "F" or len(fields) != 7:
            continue
        role = fields[1]
        entry = _file(fields[1:])
        if entry is None:
            continue
        if role == "bundle" and entry["path"] in BUNDLE_PATHS and not facts["bundle"]["present"]:
            entry.pop("path")
            facts["bundle"] = {"path": fields[6], "present": True, **entry}
        elif role == "anchor" and entry["path"].startswith(tuple(d + "/" for d in ANCHOR_DIRS)):
            entry["suffix_ok"] = _anchor_suffix_ok(entry["path"])
            anchors[entry["path"]] = entry
        elif role in _KINDS:
            name = _registry_of(entry["path"])
            if name:
                facts["certs_d"].setdefault(name, []).append({"kind": role, **entry})

    facts["anchors"] = [anchors[p] for p in sorted(anchors)]
    facts["anchor_dirs"] = sorted(set(facts["anchor_dirs"]))
    facts["certs_d"] = {
        name: sorted(files, key=lambda f: f["path"])
        for name, files in sorted(facts["certs_d"].items())
    }
    return facts


def _anchor_suffix_ok(path: str) -> bool:
    # update-ca-certificates (Debian) only merges *.crt; update-ca-trust (RHEL) takes
    # any PEM or DER file in its anchors dir.
    if path.startswith(ANCHOR_DIRS[0] + "/"):
        return path.endswith(".crt")
    return True


def file_refs(facts: dict) -> List[FileRef]:
    """Files whose content the controller may fetch: certificate files only.

    Never a key (*.key, or any file with a PRIVATE KEY block), never a file without
    a certificate in it, never one whose hash is unknown.
    """
    refs = set()
    if not isinstance(facts, dict):
        return []
    candidates: List[Any] = [facts.get("bundle")]
    candidates += list(facts.get("anchors") or [])
    for files in (facts.get("certs_d") or {}).values():
        candidates += [f for f in files or [] if isinstance(f, dict) and f.get("kind") in ("ca", "cert")]
    for f in candidates:
        if not isinstance(f, dict):
            continue
        path, sha = f.get("path"), f.get("sha256")
        if (isinstance(path, str) and isinstance(sha, str) and _HEX64.match(sha)
                and not path.endswith(".key") and f.get("has_private_key") is False
                and isinstance(f.get("count"), int) and f["count"] > 0):
            refs.add((path, sha))
    return sorted(refs)


COLLECTOR = Collector(
    name="tls",
    script=SCRIPT,
    parse=parse,
    file_refs=file_refs,
    digest=certs.digest,
    doc=__doc__,
)
