"""The gate's read-only probe along the DAEMON's path (issue 9), host side and parser.

`docker pull` is a request dockerd makes, not the CLI: dockerd's proxy environment
(/proc/<dockerd>/environ, daemon.json "proxies"), its CA trust for the registry (the
system bundle Go loads, or SSL_CERT_FILE, plus /etc/docker/certs.d/REGISTRY/*.crt),
daemon.json / --insecure-registry (no verification), and the credentials the CLI hands it
(root's ~/.docker/config.json for `sudo docker pull`). This fragment asks the registry's
/v2/ and each image's manifest the same way, with curl, so a read-only gate sees what a
pull would: DNS failure, refused, timeout, TLS (unknown CA, expired / not yet valid with
the certificate's dates), 407 (or any refusal) from the proxy, 401/403 with and without
root's credentials, 404 manifest unknown, the platforms of a manifest list.

Secrets stay on the host: the Authorization and proxy values travel to curl in a config
on its stdin (never on a command line), bearer tokens live in a shell variable, and an
awk whitelist keeps only status lines, a few response header lines, the
`architecture/os/variant/code/mediaType` fields of bodies, certificate dates and curl's
error line. The composite script's redaction runs over that as well.

Tools: curl (everything); without curl, `openssl s_client` (TLS facts only: reachable,
verified against the daemon's trust, certificate dates; direct connections only); else
busybox/GNU wget (status of /v2/ only: no trust, no credentials). Every request is bounded
(--connect-timeout, --max-time; the whole part by the script's timeout). The part says
which tool ran and what it could not check.

Facts per registry (`parse_dpath`): see DaemonPath docs in docs/gate.md.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

from ..reference import Reference
from .base import RC_MISSING, RC_SKIPPED, RC_TIMED_OUT, Part

REQUEST_TIMEOUT_S = 8
CONNECT_TIMEOUT_S = 5
ACCEPT = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)

# Go's NO_PROXY rule (golang.org/x/net/http/httpproxy), for names: "*"; "a.com" matches
# a.com and its subdomains; ".a.com" / "*.a.com" subdomains only; an entry with a port
# only that port; localhost and loopback never go through a proxy. CIDR/IP entries match
# IP hosts only: a registry named by IP with such an entry is reported as unchecked.
NOPROXY_AWK = r"""
BEGIN {
  h = tolower(h); d = 0
  if (h == "localhost" || h ~ /^127\./ || h == "::1") d = 1
  n = split(np, e, ",")
  for (i = 1; i <= n && !d; i++) {
    x = tolower(e[i]); gsub(/^[ \t]+|[ \t]+$/, "", x)
    if (x == "") continue
    if (x == "*") { d = 1; break }
    ep = ""
    if (x ~ /^[^:]+:[0-9]+$/) { ep = substr(x, index(x, ":") + 1); x = substr(x, 1, index(x, ":") - 1) }
    if (ep != "" && ep != p) continue
    if (x ~ /\//) continue
    if (substr(x, 1, 2) == "*.") x = substr(x, 2)
    if (substr(x, 1, 1) == ".") {
      if (length(h) > length(x) && substr(h, length(h) - length(x) + 1) == x) d = 1
    } else if (h == x || (length(h) > length(x) + 1 && substr(h, length(h) - length(x)) == "." x)) d = 1
  }
  print d
}
"""

# Root's config.json, reduced to what the request needs: "auth VALUE" (stays in a shell
# variable), "store NAME", "helper NAME", "identitytoken". Keys are compared the way the
# CLI resolves them (scheme and path dropped). No single quotes: it travels quoted.
CRED_AWK = r"""
BEGIN { nk = split(keys, a, " "); for (x = 1; x <= nk; x++) want[a[x]] = 1 }
{ s = s $0 "\n" }
END {
  n = length(s); d = 0; key = ""; i = 1; p1 = ""; p2 = ""
  while (i <= n) {
    c = substr(s, i, 1)
    if (c == "\"") {
      j = i + 1
      while (j <= n) { c2 = substr(s, j, 1); if (c2 == "\\") { j += 2; continue }; if (c2 == "\"") break; j++ }
      v = substr(s, i + 1, j - i - 1); i = j + 1
      k = i; while (k <= n && substr(s, k, 1) ~ /[ \t\r\n]/) k++
      if (substr(s, k, 1) == ":") { key = v; i = k + 1; continue }
      lk = tolower(key)
      if (d == 1 && lk == "credsstore" && v != "") print "store " v
      else if (d == 2 && p1 == "credhelpers" && want[norm(key)]) print "helper " v
      else if (d == 3 && p1 == "auths" && want[p2]) {
        if (lk == "auth" && v != "") print "auth " v
        else if (lk == "identitytoken" && v != "") print "identitytoken"
      }
      key = ""; continue
    }
    if (c == "{" || c == "[") { d++; if (d == 2) p1 = tolower(key); if (d == 3) p2 = norm(key); key = ""; i++; continue }
    if (c == "}" || c == "]") { d--; key = ""; i++; continue }
    i++
  }
}
function norm(k) { k = tolower(k); sub(/^[a-z]+:\/\//, "", k); sub(/\/.*/, "", k); return k }
"""

# What may leave the host from curl's output (headers via -D -, verbose lines, body).
FILTER_AWK = r"""
{ sub(/\r$/, "") }
/^fa-(w|rc|req|tok) / { print; next }
/^curl: \([0-9]+\)/ { print "fa-e " substr($0, 1, 300); next }
/^\* +(start date|expire date|subject|issuer): / { sub(/^\* +/, ""); print "fa-cert " substr($0, 1, 200); next }
/^[<>*{}] / { next }
/^HTTP\/[0-9.]+ [0-9]+/ { print "fa-status " $2; hdr = 1; next }
hdr && $0 == "" { hdr = 0; next }
hdr {
  l = tolower($0)
  if (l ~ /^(www-authenticate|proxy-authenticate|content-type|docker-distribution-api-version):/) print "fa-hdr " substr($0, 1, 400)
  next
}
{
  m = split($0, parts, /[,{}]/)
  for (x = 1; x <= m; x++) {
    q = parts[x]; gsub(/^[ \t\[]+|[ \t\]]+$/, "", q)
    if (q ~ /^"(architecture|os|variant|code|mediaType)"[ \t]*:/) print "fa-b " substr(q, 1, 200)
  }
}
"""

# The probe for one registry. $1-$3 the awk programs above, $4 registry (as in image
# references), $5 API host, $6 port, $7 seconds per request, then pairs REPO REF.
# Exit status 3: /v2/ timed out along dockerd's path (the fragment then skips the CLI's
# manifest reads of that registry: they would only wait for the same timeout).
PROGRAM = r"""
awk_np=$1; awk_cred=$2; awk_f=$3; reg=$4; host=$5; port=$6; t=$7; shift 7
LC_ALL=C; export LC_ALL
ct=5; [ "$t" -lt 5 ] && ct=$t
say() { printf "%s\n" "$*"; }
if command -v curl >/dev/null 2>&1; then tool=curl
elif command -v openssl >/dev/null 2>&1; then tool=openssl
elif command -v wget >/dev/null 2>&1; then tool=wget
else tool=none; fi
say "fa-tool $tool"
pid=$(pidof dockerd 2>/dev/null); pid=${pid%% *}
if [ -z "$pid" ]; then
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = dockerd ] && { pid=${d#/proc/}; break; }
  done
fi
penv() { tr "\000" "\n" < "/proc/$pid/environ" 2>/dev/null | sed -n "s/^$1=//p" | head -n 1; }
hp=; np=; sslf=
if [ -n "$pid" ] && [ -r "/proc/$pid/environ" ]; then
  psrc=environ
  hp=$(penv HTTPS_PROXY); [ -n "$hp" ] || hp=$(penv https_proxy)
  np=$(penv NO_PROXY); [ -n "$np" ] || np=$(penv no_proxy)
  sslf=$(penv SSL_CERT_FILE)
elif [ -n "$pid" ]; then psrc=unreadable
else psrc=no-dockerd; fi
cfgf=/etc/docker/daemon.json; cmd=
if [ -n "$pid" ]; then
  cmd=$(tr "\000" "\n" < "/proc/$pid/cmdline" 2>/dev/null | head -n 200)
  c=$(printf "%s\n" "$cmd" | sed -n "s/^--config-file=//p" | head -n 1); [ -n "$c" ] && cfgf=$c
fi
json=$(head -c 65536 "$cfgf" 2>/dev/null | tr -d "\n\r\t")
jp=$(printf "%s" "$json" | sed -n "s/.*\"https-proxy\"[ ]*:[ ]*\"\([^\"]*\)\".*/\1/p")
if [ -n "$jp" ]; then
  hp=$jp; psrc=daemon.json
  np=$(printf "%s" "$json" | sed -n "s/.*\"no-proxy\"[ ]*:[ ]*\"\([^\"]*\)\".*/\1/p")
fi
ins=no
list=$(printf "%s" "$json" | sed -n "s/.*\"insecure-registries\"[ ]*:[ ]*\[\([^]]*\)\].*/\1/p")
for e in $(printf "%s\n" "$list" | tr "," "\n" | tr -d "\" ") $(printf "%s\n" "$cmd" | sed -n "s/^--insecure-registry=//p"); do
  e=${e#http://}; e=${e#https://}; e=${e%/}
  [ "$e" = "$reg" ] && ins=yes
  case $e in */*) [ "$ins" = yes ] || ins=cidr ;; esac
done
direct=$(awk -v h="$host" -v p="$port" -v np="$np" "$awk_np")
via=direct; [ -n "$hp" ] && [ "$direct" != 1 ] && via=proxy
pep=$(printf "%s" "$hp" | sed -e "s#^[A-Za-z0-9+.-]*://##" -e "s#^.*@##" -e "s#/.*##")
pcred=no; case $hp in *@*) pcred=yes ;; esac
say "fa-path pid=${pid:-none} source=$psrc via=$via proxy=${pep:--} proxy_creds=$pcred insecure=$ins"
bundle=
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/ca-bundle.pem \
         /etc/pki/tls/cacert.pem /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem /etc/ssl/cert.pem; do
  [ -r "$f" ] && { bundle=$f; break; }
done
[ -n "$sslf" ] && bundle=$sslf
certsd=/etc/docker/certs.d/$reg
ncrt=0; for f in "$certsd"/*.crt; do [ -r "$f" ] && ncrt=$((ncrt + 1)); done
say "fa-trust bundle=${bundle:-none} certs_d=$ncrt"
cas() { { [ -n "$bundle" ] && cat "$bundle"; for f in "$certsd"/*.crt; do [ -r "$f" ] && cat "$f"; done; } 2>/dev/null; }
home=$(awk -F: "\$1 == \"root\" { print \$6; exit }" /etc/passwd 2>/dev/null); [ -n "$home" ] || home=/root
keys="$reg"; [ "$reg" = docker.io ] && keys="docker.io index.docker.io registry-1.docker.io"
cr=; cfile=no
if [ -r "$home/.docker/config.json" ]; then cfile=yes; cr=$(head -c 65536 "$home/.docker/config.json" | awk -v keys="$keys" "$awk_cred" 2>/dev/null); fi
auth=$(printf "%s\n" "$cr" | sed -n "s/^auth //p" | head -n 1)
store=$(printf "%s\n" "$cr" | sed -n "s/^store //p" | head -n 1 | tr -cd "A-Za-z0-9._-")
helper=$(printf "%s\n" "$cr" | sed -n "s/^helper //p" | head -n 1 | tr -cd "A-Za-z0-9._-")
itok=no; case $cr in *identitytoken*) itok=yes ;; esac
hasauth=no; [ -n "$auth" ] && hasauth=yes
cr=
say "fa-cred file=$cfile login=$hasauth store=${store:--} helper=${helper:--} idtok=$itok"
hostport=$host; [ "$port" = 443 ] || hostport="$host:$port"
base="https://$hostport"
tok=; accept=
kflag=; [ "$ins" = yes ] && kflag=-k
# cfg MODE URL: the curl config (stdin); secrets only ever go here.
cfg() {
  printf "url = \"%s\"\n" "$2"
  if [ "$via" = proxy ]; then printf "proxy = \"%s\"\n" "$hp"; else printf "noproxy = \"*\"\n"; fi
  case $1 in
    basic) printf "header = \"Authorization: Basic %s\"\n" "$auth" ;;
    bearer) printf "header = \"Authorization: Bearer %s\"\n" "$tok" ;;
  esac
  for a in $accept; do printf "header = \"Accept: %s\"\n" "$a"; done
}
# raw MODE URL [FLAGS]: one bounded request; unfiltered output (stays in a variable).
raw() {
  m=$1; u=$2; shift 2
  cas | { cfg "$m" "$u" | curl -sS -K - $kflag "$@" --cacert /dev/fd/5 --connect-timeout "$ct" \
          --max-time "$t" -D - -w "\nfa-w code=%{http_code} connect=%{http_connect}\n" 2>&1
          printf "\nfa-rc %s\n" "$?"; } 5<&0 | head -c 262144
}
show() { printf "fa-req %s\n%s\n" "$1" "$2" | awk "$awk_f"; }
val() { printf "%s\n" "$1" | sed -n "s/^$2 //p" | tail -n 1; }
if [ "$tool" = curl ]; then
  o=$(raw anon "$base/v2/")
  show v2 "$o"
  rc=$(val "$o" fa-rc)
  case $rc in
    35|51|58|59|60|77|83|90|91)
      [ "$ins" = yes ] || { o=$(kflag=-k raw anon "$base/v2/" -v); show cert "$o"; }
      exit 0 ;;
    0) ;;
    28) exit 3 ;;
    *) exit 0 ;;
  esac
  code=$(printf "%s\n" "$o" | awk "$awk_f" | sed -n "s/^fa-status //p" | tail -n 1)
  wa=$(printf "%s\n" "$o" | sed -n "s/\r$//; s/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p" | tail -n 1)
  scheme=none
  case $wa in [Bb]asic*) scheme=basic ;; [Bb]earer*) scheme=bearer ;; esac
  realm=$(printf "%s" "$wa" | sed -n "s/.*realm=\"\([^\"]*\)\".*/\1/p")
  service=$(printf "%s" "$wa" | sed -n "s/.*service=\"\([^\"]*\)\".*/\1/p")
  mode=anon
  if [ "$code" = 401 ] && [ "$scheme" = basic ] && [ -n "$auth" ]; then
    o=$(raw basic "$base/v2/"); show v2-auth "$o"; mode=basic
  fi
  accept="application/vnd.docker.distribution.manifest.list.v2+json application/vnd.oci.image.index.v1+json application/vnd.docker.distribution.manifest.v2+json application/vnd.oci.image.manifest.v1+json"
  while [ $# -ge 2 ]; do
    repo=$1; ref=$2; shift 2
    m=$mode
    if [ "$scheme" = bearer ] && [ -n "$realm" ]; then
      sep="?"; case $realm in *\?*) sep="&" ;; esac
      tm=anon; [ -n "$auth" ] && tm=basic
      a2=$accept; accept=
      # the token endpoint may sit elsewhere: same proxy decision for its host
      o=$(raw $tm "$realm${sep}service=$service&scope=repository:$repo:pull")
      accept=$a2
      tok=$(printf "%s" "$o" | tr "," "\n" | sed -n "s/.*\"\(access_\)\{0,1\}token\"[ ]*:[ ]*\"\([^\"]*\)\".*/\2/p" | head -n 1)
      got=no; [ -n "$tok" ] && got=yes
      printf "fa-tok %s %s\n%s\n" "$repo" "$got" "$(printf "%s\n" "$o" | grep -E "^(fa-w|fa-rc|curl: |HTTP/)")" | awk "$awk_f"
      m=anon; [ -n "$tok" ] && m=bearer
    fi
    o=$(raw $m "$base/v2/$repo/manifests/$ref")
    show "manifest $repo $ref" "$o"
    tok=
  done
elif [ "$tool" = openssl ]; then
  if [ "$via" = proxy ]; then say "fa-unchecked tls-through-proxy"; exit 0; fi
  to=; command -v timeout >/dev/null 2>&1 && to="timeout $t"
  o=$(cas | { $to openssl s_client -connect "$host:$port" -servername "$host" -CAfile /dev/fd/5 </dev/null 2>&1; printf "\nfa-rc %s\n" "$?"; } 5<&0 | head -c 262144)
  printf "%s\n" "$o" | sed -n -e "s/^fa-rc /fa-rc /p" -e "s/^ *Verify return code: /fa-ossl-verify /p" -e "/errno=\|BIO_\|gethostbyname\|Name or service\|Connection refused\|timed out/{s/^/fa-e openssl: /;p;}" | head -n 20
  printf "%s\n" "$o" | openssl x509 -noout -startdate -enddate 2>/dev/null | sed "s/^/fa-ossl-date /"
elif [ "$tool" = wget ]; then
  if [ "$via" = proxy ]; then https_proxy=$hp; export https_proxy; else unset https_proxy HTTPS_PROXY; fi
  o=$( { wget -q -S -T "$t" -O /dev/null --no-check-certificate "$base/v2/" 2>&1; printf "\nfa-rc %s\n" "$?"; } | head -c 65536)
  printf "%s\n" "$o" | sed -n -e "s/^fa-rc /fa-rc /p" -e "s/^ *HTTP\/[0-9.]* \([0-9][0-9]*\).*/fa-status \1/p" -e "/wget: /{s/^/fa-e /;p;}" | head -n 20
fi
exit 0
"""

assert "'" not in PROGRAM + NOPROXY_AWK + CRED_AWK + FILTER_AWK


def _q(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def lib_lines() -> List[str]:
    """Shell variables the fragment passes to each registry's program."""
    return [f"fa_dp_prog={_q(PROGRAM.strip())}", f"fa_dp_np={_q(NOPROXY_AWK.strip())}",
            f"fa_dp_cred={_q(CRED_AWK.strip())}", f"fa_dp_f={_q(FILTER_AWK.strip())}"]


def registry_call(index: int, reg: Reference, images: Sequence[Reference],
                  request_timeout: int = REQUEST_TIMEOUT_S) -> str:
    """`fa_root dpath_I sh -c PROGRAM ...` for one registry and its images."""
    args = []
    for r in images:
        args += [_q(r.path), _q(r.digest or r.tag or "latest")]
    return (f"fa_root dpath_{index} sh -c \"$fa_dp_prog\" sh \"$fa_dp_np\" \"$fa_dp_cred\" \"$fa_dp_f\" "
            f"{_q(reg.registry)} {_q(reg.api_host)} {int(reg.port)} {int(request_timeout)} {' '.join(args)}")


def budget_s(n_requests: int, request_timeout: int = REQUEST_TIMEOUT_S) -> int:
    return n_requests * request_timeout


# ------------------------------------------------------------------ parser

_KV = re.compile(r"(\w+)=(\S*)")
# curl exit codes -> what failed (curl's libcurl-errors list)
CURL_RC = {
    5: "proxy-dns", 6: "dns", 7: "connect", 28: "timeout", 35: "tls", 51: "tls", 52: "empty-reply",
    56: "recv", 58: "tls", 59: "tls", 60: "tls", 77: "tls-trust-file", 83: "tls", 90: "tls", 91: "tls",
    97: "proxy",
}


def _kv(line: str) -> Dict[str, str]:
    """key=value words of a host line (untrusted: keys and values capped)."""
    return {k[:40]: v[:200] for k, v in _KV.findall(line[:2000])}


def _request(lines: List[str]) -> dict:
    out: dict = {"rc": None, "status": None, "connect": None, "error": None, "headers": {},
                 "fields": [], "cert": {}}
    for ln in lines:
        if ln.startswith("fa-rc "):
            v = ln[6:].strip()
            out["rc"] = int(v) if v.lstrip("-").isdigit() else None
        elif ln.startswith("fa-w "):
            kv = _kv(ln)
            if kv.get("code", "000") != "000":
                out["status"] = int(kv["code"]) if kv["code"].isdigit() else None
            if kv.get("connect", "000") not in ("000", ""):
                out["connect"] = int(kv["connect"]) if kv["connect"].isdigit() else None
        elif ln.startswith("fa-status ") and out["status"] is None:
            pass  # the -w line is authoritative; statuses before it include the CONNECT
        elif ln.startswith("fa-e "):
            out["error"] = ln[5:].strip()[:300]
        elif ln.startswith("fa-hdr "):
            name, _, value = ln[7:].partition(":")
            out["headers"][name.strip().lower()] = value.strip()[:300]
        elif ln.startswith("fa-b "):
            out["fields"].append(ln[5:].strip())
        elif ln.startswith("fa-cert "):
            k, _, v = ln[8:].partition(":")
            out["cert"][k.strip().replace(" ", "_")] = v.strip()[:200]
    if out["rc"] is not None and out["rc"] != 0:
        out["failure"] = CURL_RC.get(out["rc"], "other")
    return out


def _platforms(fields: List[str]) -> List[str]:
    plats: List[str] = []
    cur: Dict[str, str] = {}

    def flush():
        if cur.get("os") and cur.get("architecture"):
            p = f"{cur['os']}/{cur['architecture']}" + (f"/{cur['variant']}" if cur.get("variant") else "")
            if p not in plats:
                plats.append(p)

    for f in fields:
        m = re.match(r'"(\w+)"\s*:\s*"([^"]{0,100})"', f)
        if not m:
            continue
        k, v = m.groups()
        if k == "architecture":
            flush()
            cur = {"architecture": v}
        elif k in ("os", "variant"):
            cur[k] = v
    flush()
    return sorted(plats)


def _media_type(req: dict) -> Optional[str]:
    ct = req["headers"].get("content-type")
    return ct.split(";", 1)[0].strip() if ct else None


def _codes(fields: List[str]) -> List[str]:
    out = []
    for f in fields:
        m = re.match(r'"code"\s*:\s*"([A-Z_]{1,40})"', f)
        if m and m.group(1) not in out:
            out.append(m.group(1))
    return out


def parse_dpath(p: Part, images: Sequence[Reference] = ()) -> dict:
    """Facts of one registry's daemon-path probe (see the module doc). Never raises."""
    facts: dict = {"tool": None, "path": {}, "trust": {}, "credentials": {}, "v2": None,
                   "v2_auth": None, "cert": None, "manifests": {}, "tokens": {},
                   "unchecked": [], "error": None, "rc": p.rc}
    if p.rc == RC_SKIPPED:
        facts["error"] = p.skipped
        return facts
    if p.rc is None and not p.out.strip():
        facts["error"] = "no output (cut off)"
        return facts
    if p.rc == RC_MISSING:
        facts["error"] = "sh not found"
        return facts
    if p.rc in RC_TIMED_OUT:
        facts["error"] = "the probe did not finish within its time budget"
    blocks: List[tuple] = []   # (label, lines)
    for ln in p.out.splitlines():
        ln = ln.rstrip("\r")
        if ln.startswith("fa-tool "):
            facts["tool"] = ln[8:].strip()[:20] or None
        elif ln.startswith("fa-path "):
            facts["path"] = _kv(ln)
        elif ln.startswith("fa-trust "):
            facts["trust"] = _kv(ln)
        elif ln.startswith("fa-cred "):
            facts["credentials"] = _kv(ln)
        elif ln.startswith("fa-unchecked "):
            facts["unchecked"].append(ln[13:].strip()[:80])
        elif ln.startswith("fa-req ") or ln.startswith("fa-tok "):
            blocks.append((ln, []))
        elif blocks:
            blocks[-1][1].append(ln)
        elif ln.startswith(("fa-rc ", "fa-status ", "fa-e ", "fa-ossl-")):
            blocks.append(("fa-req v2", [ln]))
    for label, lines in blocks:
        if label.startswith("fa-tok "):
            words = label.split()
            if len(words) >= 3:
                req = _request(lines)
                facts["tokens"][words[1]] = {"got": words[2] == "yes", "status": req["status"],
                                             "rc": req["rc"], "error": req["error"]}
            continue
        what = label[7:].strip()
        if facts["tool"] in ("openssl", "wget"):
            facts["v2"] = _fallback(lines, facts["tool"])
            continue
        req = _request(lines)
        if what == "v2":
            facts["v2"] = req
        elif what == "v2-auth":
            facts["v2_auth"] = req
        elif what == "cert":
            facts["cert"] = req["cert"] or None
        elif what.startswith("manifest "):
            words = what.split()
            if len(words) >= 3:
                req["platforms"] = _platforms(req["fields"])
                req["media_type"] = _media_type(req)
                req["codes"] = _codes(req["fields"])
                facts["manifests"][f"{words[1]}:{words[2]}"] = req
    tool = facts["tool"]
    if tool == "openssl":
        facts["unchecked"] += ["http-status", "credentials", "manifest"]
    elif tool == "wget":
        facts["unchecked"] += ["tls-trust", "credentials", "manifest"]
    elif tool == "none":
        facts["unchecked"] += ["everything: no curl, openssl or wget"]
    if facts["path"].get("insecure") == "cidr":
        facts["unchecked"].append("insecure-registries CIDR entries")
    if facts["credentials"].get("store", "-") != "-" or facts["credentials"].get("helper", "-") != "-":
        facts["unchecked"].append("credentials held by a credential helper")
    return facts


def _fallback(lines: List[str], tool: str) -> dict:
    out: dict = {"rc": None, "status": None, "connect": None, "error": None, "headers": {},
                 "fields": [], "cert": {}, "tool": tool}
    for ln in lines:
        if ln.startswith("fa-rc "):
            v = ln[6:].strip()
            out["rc"] = int(v) if v.lstrip("-").isdigit() else None
        elif ln.startswith("fa-status "):
            v = ln[10:].strip()
            out["status"] = int(v) if v.isdigit() else out["status"]
        elif ln.startswith("fa-e "):
            out["error"] = ln[5:].strip()[:300]
        elif ln.startswith("fa-ossl-verify "):
            out["verify"] = ln[15:].strip()[:200]
        elif ln.startswith("fa-ossl-date "):
            k, _, v = ln[13:].partition("=")
            out["cert"]["start_date" if k.startswith("notBefore") else "expire_date"] = v.strip()
    return out
