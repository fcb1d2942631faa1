"""credentials: which registries each user's docker CLI can authenticate to (names only).

Facts:
- users: {username: {
    path: str — the config.json read (HOME/.docker/config.json from /etc/passwd; root
      is always /root),
    size: int|null, mode: str|null ("600"), owner: str|null,
    owner_matches: bool|null — owner == username (a root-owned file in a user's home
      breaks that user's `docker login`),
    valid: bool|null — the file parses as a JSON object (null: too large to read),
    error: str|null — why not ("invalid JSON: Expecting ',' delimiter", "too large"),
    empty: bool — an empty file (the CLI accepts it),
    auths: {registry key: kind} — kind is "empty" for `{}` (what `docker login` leaves
      when a credsStore holds the secret) or the secret fields the entry carries,
      joined by "+": "auth", "identitytoken", "auth+identitytoken", "password", ...
    auth_registries: [sorted auths keys, as written],
    creds_store: str|null, cred_helpers: {registry: helper},
    credential_registries: [sorted normalized hostnames this user can send credentials
      for: entries carrying a secret, `{}` entries when a creds_store is set, and
      cred_helpers keys; Docker Hub's keys normalize to "docker.io"],
    missing_helpers: [sorted helper names referenced but no docker-credential-NAME on PATH]}}
- helpers_installed: [sorted docker-credential-* names on the login PATH]|null
- missing_helpers: [sorted union of the users' missing_helpers]
- root_has_auth: bool — root (who pulls for systemd units and sudo) has any credentials
- root_registries: [root's credential_registries]
- scanned_as_root: bool|null — false when neither root nor sudo was available: homes
  that only their owner can enter were then silently skipped
- error: str|null — why the homes could not be scanned (e.g. needs root)

Secrets never leave the host: a small awk tokenizer on the host rewrites config.json to
its structure, keeping only object keys (registry names; user:pass@ stripped) and the
credsStore/credHelpers helper names; every other string value becomes "present" (or
stays "" when empty). Not visible: a DOCKER_CONFIG set only in a service's environment
(the CLI then reads another directory), and credentials inside the helpers' stores.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import RC_MISSING, Collector, Section, part
from .jsonfacts import load_host_json

MAX_CONFIG_BYTES = 65536

# POSIX awk (mawk, gawk, busybox): reads a config.json, prints "fa-json " + the reduced
# JSON on one line. No single quotes: it travels inside a single-quoted shell string.
REDUCE_AWK = r"""
{ s = s $0 }
END {
  n = length(s); out = ""; d = 0; key = ""; k2 = ""; i = 1
  while (i <= n) {
    c = substr(s, i, 1)
    if (c == "\"") {
      j = i + 1; closed = 0
      while (j <= n) {
        c = substr(s, j, 1)
        if (c == "\\") { j += 2; continue }
        if (c == "\"") { closed = 1; break }
        j++
      }
      v = substr(s, i + 1, j - i - 1); i = j + 1; k = i
      while (k <= n && substr(s, k, 1) ~ /[ \t\r]/) k++
      if (closed && substr(s, k, 1) == ":") {
        key = v
        if (length(v) > 255) v = "TOO-LONG"
        if (v ~ /@/) sub(/.*@/, "REDACTED@", v)
        gsub(/[^ -~]/, "?", v)
        out = out "\"" v "\""
        continue
      }
      lk = tolower(key)
      if (v == "") r = ""
      else if ((d == 1 && lk == "credsstore") || (d == 2 && k2 == "credhelpers")) {
        r = "REDACTED"
        if (length(v) <= 64 && v ~ /^[A-Za-z0-9][A-Za-z0-9._-]*$/) r = v
      } else r = "present"
      out = out "\"" r
      if (closed) out = out "\""
      continue
    }
    if (c == "{" || c == "[") { d++; if (d == 2) k2 = tolower(key); key = ""; out = out c; i++; continue }
    if (c == "}" || c == "]") { if (d > 0) d--; key = ""; out = out c; i++; continue }
    if (c == ":" || c == ",") { out = out c; i++; continue }
    if (c == " " || c == "\t" || c == "\r") { i++; continue }
    j = i
    while (j <= n && substr(s, j, 1) ~ /[A-Za-z0-9.+-]/) j++
    if (j == i) { out = out "?"; i++; continue }
    w = substr(s, i, j - i); i = j
    if (w ~ /^(true|false|null|-?[0-9][0-9.eE+-]*)$/) out = out w
    else out = out "?"
  }
  print "fa-json " out
}
"""

# Runs as root (other users' homes are often 0700): one header line per config file,
# then its reduced form. $1 passwd file, $2 root's home, $3 the awk program, $4 size cap.
# The uid is `id -u`'s answer (the effective uid) read from /proc/self/status by the
# shell (no fork); `id -u` itself when that cannot be read, or when there is no `id`
# (whose "not found" the part then shows as before).
SCAN_SH = r"""
LC_ALL=C; export LC_ALL
u=
if command -v id >/dev/null 2>&1; then
  while read -r k r u x; do [ "$k" = Uid: ] && break; u=; done 2>/dev/null < /proc/self/status
fi
case $u in ""|*[!0-9]*) u=$(id -u) ;; esac
printf "fa-uid %s\n" "$u"
{ printf "root:%s\n" "$2"; awk -F: "NF >= 6 { print \$1 \":\" \$6; if (++k >= 5000) exit }" "$1"; } |
while IFS= read -r l; do
  u=${l%%:*}; h=${l#*:}
  case $h in /*) ;; *) continue ;; esac
  f="${h%/}/.docker/config.json"
  [ -f "$f" ] || continue
  case " $seen " in *" $u:$f "*) continue ;; esac
  seen="$seen $u:$f"
  n=$(wc -c 2>/dev/null < "$f" | tr -d " ")
  m=$(stat -c "%a %U" "$f" 2>/dev/null) || m="- -"
  [ -n "$m" ] || m="- -"
  printf "fa-file %s %s %s %s\n" "$u" "${n:--}" "$m" "$f"
  if [ ! -r "$f" ]; then echo fa-unreadable
  elif [ "${n:-0}" -gt "$4" ] 2>/dev/null; then echo fa-too-large
  else awk "$3" "$f" 2>&1 | head -c 200000; echo; fi
done
"""

SCRIPT = (
    "fa_cr_passwd=/etc/passwd\n"
    "fa_cr_root=/root\n"
    f"fa_cr_awk='{REDUCE_AWK.strip()}'\n"
    f"fa_root configs sh -c '{SCAN_SH.strip()}' sh \"$fa_cr_passwd\" \"$fa_cr_root\" "
    f"\"$fa_cr_awk\" {MAX_CONFIG_BYTES}\n"
)
# Helpers the login user's CLI could exec (login PATH plus the preamble's sbin/bin
# additions): before sudo, which replaces PATH with its secure_path.
LOGIN_SCRIPT = (
    "fa_part helpers\n"
    # sort -u only when there are two names or more (one line sorts to itself, no
    # line to nothing); the x keeps trailing newlines from $(...).
    "fa_cr_h=$( IFS=:; for fa_cr_d in $PATH; do for fa_cr_f in \"$fa_cr_d\"/docker-credential-*; do\n"
    "  [ -x \"$fa_cr_f\" ] && printf '%s\\n' \"${fa_cr_f##*/}\"; done; done; echo x )\n"
    "fa_cr_h=${fa_cr_h%x}\n"
    "case ${fa_cr_h%\"$FA_NL\"} in *\"$FA_NL\"*) printf '%s' \"$fa_cr_h\" | sort -u ;; *) printf '%s' \"$fa_cr_h\" ;; esac\n"
    "fa_cr_h=\n"
    "fa_rc 0\n"
)
assert "'" not in REDUCE_AWK and "'" not in SCAN_SH

_SECRET_FIELDS = ("auth", "identitytoken", "registrytoken", "password")
_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def normalize_registry(key: str) -> str:
    """The CLI's ConvertToHostname, with Docker Hub's aliases folded into docker.io."""
    host = key.strip()
    for scheme in ("http://", "https://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme):]
    host = host.split("/", 1)[0].rsplit("@", 1)[-1].lower()
    return "docker.io" if host in _HUB else host


def _get_ci(obj: dict, name: str) -> Any:
    """Go's encoding/json matches object keys case-insensitively; so does the CLI."""
    if name in obj:
        return obj[name]
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == name.lower():
            return v
    return None


def _entry_kind(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "invalid"
    # The host sends "present"; the script-wide redaction may turn that into "REDACTED".
    present = sorted(f for f in _SECRET_FIELDS
                     if isinstance(_get_ci(entry, f), str) and _get_ci(entry, f) != "")
    return "+".join(present) if present else "empty"


def _config_facts(reduced: str, user: str, meta: Dict[str, Any],
                  helpers: Optional[List[str]]) -> Dict[str, Any]:
    facts: Dict[str, Any] = dict(meta)
    facts.update(valid=None, error=None, empty=False, auths={}, auth_registries=[],
                 creds_store=None, cred_helpers={}, credential_registries=[],
                 missing_helpers=[])
    owner = meta.get("owner")
    facts["owner_matches"] = None if owner in (None, "UNKNOWN") else owner == user
    if reduced.strip() == "":
        facts.update(valid=True, empty=True)
        return facts
    try:
        doc, _ = load_host_json(reduced)
    except ValueError as exc:
        facts.update(valid=False, error=f"invalid JSON: {getattr(exc, 'msg', str(exc))}")
        return facts
    if not isinstance(doc, dict):
        facts.update(valid=False, error="invalid JSON: not an object")
        return facts
    facts["valid"] = True
    auths = _get_ci(doc, "auths")
    if isinstance(auths, dict):
        facts["auths"] = {str(k): _entry_kind(v) for k, v in sorted(auths.items())}
        facts["auth_registries"] = sorted(facts["auths"])
    store = _get_ci(doc, "credsStore")
    if isinstance(store, str) and store:
        facts["creds_store"] = store
    helpers_map = _get_ci(doc, "credHelpers")
    if isinstance(helpers_map, dict):
        facts["cred_helpers"] = {str(k): v for k, v in sorted(helpers_map.items())
                                 if isinstance(v, str) and v}
    regs = set()
    for key, kind in facts["auths"].items():
        if kind not in ("empty", "invalid") or (kind == "empty" and facts["creds_store"]):
            regs.add(normalize_registry(key))
    regs.update(normalize_registry(k) for k in facts["cred_helpers"])
    facts["credential_registries"] = sorted(r for r in regs if r)
    if helpers is not None:
        wanted = set(facts["cred_helpers"].values())
        if facts["creds_store"]:
            wanted.add(facts["creds_store"])
        facts["missing_helpers"] = sorted(
            h for h in wanted
            if _SAFE_NAME.match(h) and h != "REDACTED" and f"docker-credential-{h}" not in helpers)
    return facts


def _int_or_none(value: str) -> Optional[int]:
    try:
        return int(value)
    except ValueError:
        return None


def _parse_configs(text: str, helpers: Optional[List[str]]) -> Dict[str, dict]:
    users: Dict[str, dict] = {}
    current: Optional[tuple] = None  # (user, meta)
    for line in text.splitlines():
        if line.startswith("fa-file "):
            fields = line[len("fa-file "):].split(" ", 4)
            if len(fields) < 5:
                current = None
                continue
            user, size, mode, owner, path = fields
            meta = {
                "path": path,
                "size": _int_or_none(size),
                "mode": mode if re.fullmatch(r"[0-7]{3,4}", mode) else None,
                "owner": owner if owner not in ("-", "") else None,
                "owner_matches": None,
            }
            current = (user, meta)
            continue
        if current is None or current[0] in users:
            continue
        user, meta = current
        if line.startswith("fa-json"):
            users[user] = _config_facts(line[len("fa-json"):].lstrip(" "), user, meta, helpers)
        elif line == "fa-too-large":
            users[user] = _config_facts("", user, meta, helpers)
            users[user].update(valid=None, empty=False,
                               error=f"too large (over {MAX_CONFIG_BYTES} bytes), not read")
        elif line == "fa-unreadable":
            users[user] = _config_facts("", user, meta, helpers)
            users[user].update(valid=None, empty=False, error="permission denied")
        else:
            continue
        current = None
    return users


def parse(section: Section) -> dict:
    configs = part(section, "configs")
    helpers_part = part(section, "helpers")
    helpers: Optional[List[str]] = None
    if helpers_part.rc is not None:
        helpers = sorted({h.strip() for h in helpers_part.out.splitlines()
                          if re.fullmatch(r"docker-credential-[A-Za-z0-9._-]+", h.strip())})
    users = _parse_configs(configs.out, helpers)
    error = None
    if configs.rc is None and not configs.out:
        error = "no output"
    elif configs.rc == RC_MISSING:
        error = "sh not found"
    elif configs.rc not in (0, None) and not users:
        first = configs.out.strip().splitlines()[:1]
        error = f"scan failed (rc {configs.rc})" + (f": {first[0][:200]}" if first else "")
    elif configs.rc is None:
        error = "output cut off"
        if users:  # the last file's reduced JSON may be cut, not invalid
            list(users.values())[-1].update(valid=None, error="output cut off")
    uid = re.search(r"^fa-uid (\d+)$", configs.out, re.M)
    root = users.get("root", {})
    missing = sorted({h for u in users.values() for h in u.get("missing_helpers", [])})
    return {
        "users": users,
        "helpers_installed": helpers,
        "missing_helpers": missing,
        "root_has_auth": bool(root.get("credential_registries")),
        "root_registries": list(root.get("credential_registries", [])),
        "scanned_as_root": (uid.group(1) == "0") if uid else None,
        "error": error,
    }


COLLECTOR = Collector(name="credentials", script=SCRIPT, parse=parse, doc=__doc__ or "",
                      login_script=LOGIN_SCRIPT)
