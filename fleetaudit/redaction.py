"""Host-side secret redaction: the sed programs every byte passes before it leaves a host.

They run on the host, inside the composite script, as `sed -E` under GNU sed and busybox
sed alike, so they are POSIX ERE only (bracket expressions for case, no \\b, no \\s, no
non-greedy). Their order matters: URLs first, then proxy values, then Authorization-like
keys, then every other credential-looking key. Applying them twice changes nothing
(the script filters each part, and the whole output again).

What they remove, in the forms daemon.json, systemd units, env files, /etc/environment,
dockerd's command line and the daemon log (logrus `msg="..."` escaping, Go's map
printing) show them:
- URL userinfo `scheme://user:pass@host` (any character a password may carry, a raw `@`
  included: everything up to the LAST `@` before the next `/`, blank or `"`);
- scheme-less userinfo in the value of any `*proxy` key (`HTTPS_PROXY=u:p@h:3128`,
  `"http-proxy": "u:p@h:3128"`, `map[HTTP_PROXY:u:p@h]`);
- the value of any key ending in `auth` or `authorization` (Authorization,
  Proxy-Authorization, X-Registry-Auth, "auth"), whatever the scheme, separated by `:` or
  `=`, quoted, escaped or in Go's `[...]`;
- the value of any key containing pass, pwd, secret, token, credential, cookie,
  api_key, access_key or private_key, in any case: JSON (plain and escaped), KEY=value
  (quoted or not), "KEY=value" (systemd), Go's key:value.

They keep what rules need: proxy host:port, registry names, key names, non-secret
values. Over-redaction of something credential-looking is preferred to a leak.
"""
from __future__ import annotations

from typing import List


def _ci(word: str) -> str:
    """A case-insensitive POSIX bracket spelling of word ("ab-" -> "[Aa][Bb]-")."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


KEY_CHARS = "[A-Za-z0-9_.-]"
# Key words that make a key's value a secret wherever they appear in the key.
SECRET_WORDS = "|".join([
    _ci("pass"), _ci("pwd"), _ci("secret"), _ci("token"), _ci("credential"), _ci("cookie"),
    _ci("api") + "[_-]?" + _ci("key"), _ci("access") + "[_-]?" + _ci("key"),
    _ci("private") + "[_-]?" + _ci("key"),
])
SECRET_KEY = f"{KEY_CHARS}*({SECRET_WORDS}){KEY_CHARS}*"
# Keys whose value is an Authorization-style credential: they END in auth/authorization.
AUTH_KEY = f"{KEY_CHARS}*{_ci('auth')}({_ci('orization')})?"
PROXY_KEY = f"{KEY_CHARS}*{_ci('proxy')}"

SP = "[[:space:]]*"
# What may precede a key: a key starts right after it (or at the line start). Without
# it a run of key characters costs busybox sed quadratic time (it retries the match at
# every position of the run).
B = "(^|[^A-Za-z0-9_.-])"
# A JSON string body: anything but quote and backslash, or an escape.
JSON_BODY = r'([^"\\]|\\.)'
# The body of a string inside an escaped JSON string (logrus msg="... \"k\":\"v\" ..."):
# \\\" is an escaped quote inside it and does not end it.
ESC_BODY = r'([^"\\]|\\[^"]|\\\\\\")'
# An unquoted value: up to a blank, a quote, a backslash or a closing bracket/brace.
BARE = r'[^][:space:]"\\}]'

REDACT_SED: List[str] = [
    # 1. scheme://userinfo@ -> scheme://REDACTED@ (to the last @ before /, blank or ").
    r's#((^|[^A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://)[^/[:space:]"]*@#\1REDACTED@#g',
    # 2. scheme-less userinfo in a *proxy key's value.
    rf"""s#({B}{PROXY_KEY}\\?["']?{SP}[:=]{SP}\[?\\?["']?)[^/[:space:]"]*@#\1REDACTED@#g""",
    # 3. auth/Authorization keys: a plain JSON string or number, then every other form
    #    (the rest of the value up to its closing quote, bracket or brace, scheme and
    #    all; a value opening an object or a list is structure and stays).
    rf's#("{AUTH_KEY}"{SP}:{SP})"{JSON_BODY}+"#\1"REDACTED"#g',
    rf's#("{AUTH_KEY}"{SP}:{SP})-?[0-9][0-9.eE+-]*#\1"REDACTED"#g',
    rf"""s#({B}{AUTH_KEY}\\?["']?{SP}[:=]{SP}\[?(\\?["'])?)([^][:space:]"\\{{}}]|\\[^"]|\\\\\\")([^]"\\}}]|\\[^"]|\\\\\\")*#\1REDACTED#g""",
    # 4. credential-looking keys.
    # 4a. plain JSON: "key": "value" | "key": 123
    rf's#("{SECRET_KEY}"{SP}:{SP})"{JSON_BODY}+"#\1"REDACTED"#g',
    rf's#("{SECRET_KEY}"{SP}:{SP})-?[0-9][0-9.eE+-]*#\1"REDACTED"#g',
    # 4b. escaped JSON inside a quoted log message: \"key\": \"value\"
    rf's#(\\"{SECRET_KEY}\\"{SP}:{SP}\\")({ESC_BODY})+#\1REDACTED#g',
    # 4c. a quoted assignment, as systemd writes it: "KEY=value with blanks"
    rf's#("{SECRET_KEY}=)[^"]+#\1REDACTED#g',
    rf"s#('{SECRET_KEY}=)[^']+#\1REDACTED#g",
    # 4d. KEY=value / KEY = "value" / KEY='value' / KEY=\"value\" / Go's key:value
    rf's#({B}{SECRET_KEY}{SP}={SP})"{JSON_BODY}+"?#\1"REDACTED"#g',
    rf"s#({B}{SECRET_KEY}({SP}={SP}|:))'[^']+'?#\1REDACTED#g",
    rf's#({B}{SECRET_KEY}{SP}={SP}\\")({ESC_BODY})+#\1REDACTED#g',
    rf"""s#({B}{SECRET_KEY}({SP}={SP}|:))[^][:space:]"\\}}]{BARE}*#\1REDACTED#g""",
]

# One sed script (newline-separated commands): what `sed -E "$FA_RX"` runs on the host.
REDACT_PROGRAM = "\n".join(REDACT_SED)


def sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


# POSIX awk (mawk, gawk, busybox), after the filter on the whole output: each part's
# exact size cap (n = nonce, cap = bytes). Cutting there is safe: the text is already
# redacted. A marker line ("@@NONCE:...") starts a new count; fflush at each marker
# keeps output flowing to the controller part by part.
# Sections named in `short` (" a b ", blanks around each name) have their lines over 400
# characters shortened to head and tail here, after the filter saw them whole (the
# daemon log's error text is at the end of a line); SHORTEN_LINE is the one rule, which a
# fragment that must shorten text itself applies too.
SHORTEN_LINE = 'if (length(line) > 400) line = substr(line, 1, 120) " ... " substr(line, length(line) - 259)'
# With -v tot=N it also ends the whole output after N bytes, as `| head -c N` after it
# did (one process less on every host): the first N bytes exactly, then it exits.
PART_CAP_AWK = r"""
function out(s) {
  if (tot != "" && sent + length(s) + 1 > tot + 0) { printf "%s", substr(s "\n", 1, tot - sent); exit }
  print s; sent += length(s) + 1
}
BEGIN { m = "@@" n ":"; lm = length(m) }
index($0, m) == 1 {
  out($0); fflush(); used = 0
  if (substr($0, lm + 1, 2) == "S:") cut = index(short, " " substr($0, lm + 3) " ") > 0
  next
}
used >= cap + 0 { next }
cut { line = $0; @SHORTEN@; $0 = line }
{ l = length($0) + 1
  if (used + l > cap + 0) { out(substr($0, 1, cap - used)); used = cap + 0; next }
  out($0); used += l }
""".replace("@SHORTEN@", SHORTEN_LINE)
assert "'" not in PART_CAP_AWK

# Shell lines for the composite script: the program in a variable (so `sh -c` helpers
# and sudo'ed children can take it as an argument), the part-cap awk, and the filter as
# a function for a fragment that must cut text itself before the script's end.
# Every read is guarded at twice the part cap (sed holds a whole line in memory and one
# endless line must not make it hold gigabytes); the exact cap comes after redaction,
# so a line a guard splits can only reach the controller if redaction shrank the part
# by more than a whole cap.
SHELL_LIB = (
    f"FA_RX={sh_quote(REDACT_PROGRAM)}\n"
    f"FA_CAPAWK={sh_quote(PART_CAP_AWK.strip())}\n"
    'fa_redact() { head -c "$((FA_CAP * 2))" | sed -E "$FA_RX"; }\n'
)
