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
# inside: the whole program is one sh -c argument ($1: JOIN_AWK). One line per item,
# path last:
#   F <TAB> role <TAB> sha256|unknown <TAB> size <TAB> certs <TAB> keys <TAB> path
#   D <TAB> role <TAB> path                      (a directory that exists)
# The files are listed first (q: "F/D <TAB> role <TAB> path" lines), then measured by
# ONE sha256sum, wc -c and two grep -c over all of them (a key file only hashed), and
# one awk joins the answers to the list by path: five processes, where one sha256sum,
# wc and two grep per file (each in a subshell) cost ~8 per file. /dev/null as a last
# file makes wc and grep name every file, even when there is one. A host without
# sha256sum hashes per file as before (openssl, shasum).
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
nl="
"
t="	"
q=; kq=; nq=
add() {
  q="$q$1$t$2$t$3$nl"
  if [ "$1" = F ]; then
    if [ "$2" = key ]; then kq="$kq$3$nl"; else nq="$nq$3$nl"; fi
  fi
}
for p in BUNDLE_PATHS; do
  if [ -f "$p" ] && [ -r "$p" ]; then add F bundle "$p"; break; fi
done
for d in ANCHOR_DIRS; do
  [ -d "$d" ] || continue
  add D anchor_dir "$d"
  # find -L | sort | head (a subshell and three processes) lists what a sorted glob
  # of the shell lists when the directory holds no directory (find would descend into
  # it), no dot file (the glob skips it) and no newline in a name: the glob then.
  l=; k=0; s=1
  for x in "$d"/.[!.]* "$d"/..?*; do if [ -e "$x" ] || [ -L "$x" ]; then s=; fi; done
  if [ -n "$s" ]; then
    for x in "$d"/*; do
      case $x in *"$nl"*) s=; break ;; esac
      if [ -d "$x" ]; then s=; break; fi
      [ -f "$x" ] || continue
      [ "$k" -lt MAX_FILES ] || break
      k=$((k + 1)); l="$l$x$nl"
    done
  fi
  if [ -n "$s" ]; then :
  elif command -v find >/dev/null 2>&1; then
    l=$(find -L "$d" -type f 2>/dev/null | sort | head -n MAX_FILES)
  else
    l=$(for x in "$d"/*; do [ -f "$x" ] && printf "%s\n" "$x"; done | head -n MAX_FILES)
  fi
  set -f; IFS=$nl
  for x in $l; do add F anchor "$x"; done
  set +f; IFS=" $t$nl"
done
[ -d CERTS_D ] && add D certs_d CERTS_D
n=0
for r in CERTS_D/*/; do
  [ -d "$r" ] || continue
  r=${r%/}
  add D registry "$r"
  for x in "$r"/*; do
    [ -f "$x" ] || continue
    n=$((n + 1)); [ "$n" -le MAX_FILES ] || break 2
    case "$x" in
      *.key) add F key "$x" ;;
      *.crt) add F ca "$x" ;;
      *.cert) add F cert "$x" ;;
      *) add F other "$x" ;;
    esac
  done
done
if ! command -v sha256sum >/dev/null 2>&1; then
  set -f; IFS=$nl
  for x in $q; do
    case $x in D"$t"*) printf "%s\n" "$x" ;; F"$t"*) x=${x#F$t}; f "${x%%$t*}" "${x#*$t}" ;; esac
  done
  exit 0
fi
set -f; IFS=$nl
{
  printf "%s" "$q"
  echo =S
  set -- $kq; [ "$#" -eq 0 ] || sha256sum -- "$@"
  set -- $nq
  if [ "$#" -gt 0 ]; then
    sha256sum -- "$@"
    echo =W; wc -c -- "$@" /dev/null
    echo =C; grep -c "BEGIN CERTIFICATE" -- "$@" /dev/null
    echo =K; grep -c "PRIVATE KEY-----" -- "$@" /dev/null
  fi
} 2>/dev/null | awk "$1"
exit 0
"""

# POSIX awk: joins the list (before "=S") with sha256sum ("HASH  PATH"; a line starting
# with a backslash is an escaped name: not used, the hash stays unknown), wc -c
# ("SIZE PATH") and grep -c ("PATH:N") answers, and prints the F/D lines in list order.
JOIN_AWK = r"""
BEGIN { sec = "L" }
$0 == "=S" || $0 == "=W" || $0 == "=C" || $0 == "=K" { sec = substr($0, 2); next }
sec == "L" { item[++n] = $0; next }
sec == "S" {
  if (substr($0, 1, 1) != "\\" && substr($0, 65, 1) == " " && substr($0, 1, 64) ~ /^[0-9a-f]+$/)
    sha[substr($0, 67)] = substr($0, 1, 64)
  next
}
sec == "W" { l = $0; sub(/^[ \t]+/, "", l); i = index(l, " "); if (i > 1) size[substr(l, i + 1)] = substr(l, 1, i - 1); next }
sec == "C" { if (match($0, /:[0-9]+$/)) certs[substr($0, 1, RSTART - 1)] = substr($0, RSTART + 1); next }
sec == "K" { if (match($0, /:[0-9]+$/)) keys[substr($0, 1, RSTART - 1)] = substr($0, RSTART + 1); next }
END {
  for (i = 1; i <= n; i++) {
    kind = substr(item[i], 1, 1); rest = substr(item[i], 3)
    j = index(rest, "\t"); role = substr(rest, 1, j - 1); p = substr(rest, j + 1)
    if (kind == "D") { printf "D\t%s\t%s\n", role, p; continue }
    h = (p in sha) ? sha[p] : "unknown"
    if (role == "key") printf "F\tkey\t%s\t-\t-\t-\t%s\n", h, p
    else printf "F\t%s\t%s\t%s\t%s\t%s\t%s\n", role, h, size[p], certs[p], keys[p], p
  }
}
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


assert "'" not in JOIN_AWK
SCRIPT = f"""FA_TLS_AWK='{JOIN_AWK.strip()}'
fa_root files sh -c '{program()}' sh "$FA_TLS_AWK"
FA_TLS_AWK="""

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
