"""Host-side redaction: the real filter (fleetaudit.redaction's fa_redact) run through `sh`
with GNU sed and with busybox sed, over every form a secret takes in daemon.json,
systemd drop-ins, env files, /etc/environment, dockerd's command line and the daemon log
(logrus `msg="..."` escaping, Go's map printing, containerd's fields), plus the caps
that used to cut a secret in half before the filter saw it."""
import dataclasses
import json
import os
import shutil
import subprocess
import time

import pytest
from hypothesis import example, HealthCheck, given, settings
from hypothesis import strategies as st

from fleetaudit.collectors import daemon_log
from fleetaudit.collectors.base import Collector
from fleetaudit.redaction import SHELL_LIB
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output

IMPLS = ["gnu", "busybox"]


@pytest.fixture(scope="module")
def bindirs(tmp_path_factory):
    """PATH dirs where sh/sed/head are GNU (dash) or busybox only."""
    root = tmp_path_factory.mktemp("sedbin")
    dirs = {}
    for impl in IMPLS:
        d = root / impl
        d.mkdir()
        for tool in ("sh", "sed", "head"):
            target = shutil.which("busybox") if impl == "busybox" else shutil.which(
                {"sh": "dash"}.get(tool, tool))
            assert target, f"{impl} {tool} missing"
            os.symlink(target, d / tool)
        dirs[impl] = str(d)
    return dirs


def redact(text: str, bindir: str) -> str:
    """The shell function the composite script defines, run on text."""
    prog = "FA_CAP=262144\n" + SHELL_LIB + "fa_redact\n"
    proc = subprocess.run(["sh", "-c", prog], input=text.encode(), capture_output=True,
                          timeout=60, env={"PATH": bindir, "LC_ALL": "C"})
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode("utf-8", "replace")


def leaked(secret: str, text: str, out: str, context: str = None):
    """Substrings (length 4) of secret in out that the non-secret context does not explain.
    `context`: the text with every secret slot blanked, when the caller knows the slots
    (replacing the secret in the text would also blank innocent words: token 'debu' in
    'level=debug')."""
    context = (text.replace(secret, "\x00") if context is None else context) + " REDACTED"
    return sorted({secret[i:i + 4] for i in range(len(secret) - 3)
                   if secret[i:i + 4] in out and secret[i:i + 4] not in context})


def assert_clean(text, out, secrets, keep):
    for s in secrets:
        assert len(s) >= 4
        assert not leaked(s, text, out), f"{s!r} leaked {leaked(s, text, out)} in:\n{out}"
    for k in keep:
        assert k in out, f"lost {k!r}:\n{out}"


# (name, text, planted secrets, non-secret context that must survive)
CORPUS = [
    ("daemon.json", """{
  "log-driver": "splunk",
  "log-opts": {"splunk-token": "SPLK-7f3a-9c", "splunk-url": "https://splunk.corp:8088",
               "splunk-index": "docker", "tag": "{{.Name}}", "max-size": "10m"},
  "proxies": {"http-proxy": "pxuser:Px'p@ss@proxy.corp:3128",
              "https-proxy": "http://pxu2:Px2'p@ss@proxy.corp:3128",
              "no-proxy": "localhost,.corp"},
  "registry-mirrors": ["https://mirruser:Mirr0rPw@mirror.corp:5000"],
  "insecure-registries": ["registry.lab:5000"],
  "mtu": 1400, "debug": true
}
""", ["SPLK-7f3a-9c", "pxuser:Px'p@ss", "pxu2:Px2'p@ss", "mirruser:Mirr0rPw"],
     ['"splunk-token"', '"splunk-url": "https://splunk.corp:8088"', '"max-size": "10m"',
      '"http-proxy": "REDACTED@proxy.corp:3128"', "http://REDACTED@proxy.corp:3128",
      "localhost,.corp", "https://REDACTED@mirror.corp:5000", "registry.lab:5000",
      '"mtu": 1400', '"debug": true']),
    ("daemon.json secret keys", """{"passwd": "Pw-passwd-1", "pass": "Pw-pass-22",
 "client_secret": "Cl13ntS3cr", "api_key": "ApiK-3y-9", "access_token": "Acc3ssT0k",
 "DB_PASSWORD": "DbPw\\"qu0te", "mySecretValue": "MySecr3tV", "githubToken": 98765432,
 "Api-Key": "k\\u0041Yz-99", "auths": {"r.io": {"auth": ""}}, "credsStore": "pass",
 "basic_auth": {"realm": "corp"}, "auth": 31415926, "proxy_auth": ["x"]}
""", ["Pw-passwd-1", "Pw-pass-22", "Cl13ntS3cr", "ApiK-3y-9", "Acc3ssT0k", 'DbPw\\"qu0te',
      "MySecr3tV", "98765432", "k\\u0041Yz-99", "31415926"],
     ['"passwd"', '"client_secret"', '"githubToken"', '"auth": ""', '"credsStore": "pass"']),
    ("systemd drop-in", """[Service]
Environment="HTTP_PROXY=http://pxuser:Dr0p'in@pw@proxy.corp:3128"
Environment="HTTPS_PROXY=pxuser:Dr0pS3cond@proxy.corp:3128" "NO_PROXY=localhost,.corp"
Environment=SPLUNK_TOKEN=SplunkEnvT0k "API_KEY=key with spaces 42" 'Secret=sq s3cr3t'
ExecStart=
ExecStart=/usr/bin/dockerd -H fd:// --log-opt splunk-token=CmdLineT0k55 --log-opt=splunk-token=CmdEqT0k --registry-mirror=https://mu:MirrCmdPw@mirror.corp
""", ["pxuser:Dr0p'in@pw", "pxuser:Dr0pS3cond", "SplunkEnvT0k", "key with spaces 42",
      "sq s3cr3t", "CmdLineT0k55", "CmdEqT0k", "mu:MirrCmdPw"],
     ["HTTP_PROXY=http://REDACTED@proxy.corp:3128", "HTTPS_PROXY=REDACTED@proxy.corp:3128",
      "NO_PROXY=localhost,.corp", "SPLUNK_TOKEN=", "-H fd://", "--log-opt splunk-token=",
      "https://REDACTED@mirror.corp"]),
    ("env file", """HTTPS_PROXY=pxuser:EnvF1le@Pw@proxy.corp:3128
http_proxy="http://pxuser:Qu0t3d'Pw@proxy.corp:3128"
no_proxy=localhost
DOCKER_OPTS="--log-opt splunk-token=OptsT0k123 --mtu 1400"
PASSWORD=Plain-Pw_77
secret='single quoted s3cret'
Access_Token = "spaced_T0k3n"
export GITLAB_PASS=Gl-Pass-55
""", ["pxuser:EnvF1le@Pw", "pxuser:Qu0t3d'Pw", "OptsT0k123", "Plain-Pw_77",
      "single quoted s3cret", "spaced_T0k3n", "Gl-Pass-55"],
     ["HTTPS_PROXY=REDACTED@proxy.corp:3128", "http://REDACTED@proxy.corp:3128", "no_proxy=localhost",
      "PASSWORD=", "export GITLAB_PASS="]),
    ("/etc/environment", """PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
https_proxy="EtcEnvU:EtcEnvP@ss@proxy.corp:3128"
HTTP_PROXY=http://EtcU2:Etc'P2@proxy.corp:3128/
no_proxy=localhost,127.0.0.1
""", ["EtcEnvU:EtcEnvP@ss", "EtcU2:Etc'P2"],
     ['https_proxy="REDACTED@proxy.corp:3128"', "HTTP_PROXY=http://REDACTED@proxy.corp:3128/",
      "PATH=\"/usr/local/sbin", "no_proxy=localhost,127.0.0.1"]),
    ("docker.log dockerd", r"""time="2026-12-04T10:00:00.000000000Z" level=debug msg="Calling POST /v1.45/auth"
time="2026-12-04T10:00:01.000000000Z" level=debug msg="Trying to pull registry.lab:5000/team/app" headers="map[Authorization:[Basic Ym9iOkdvTWFwUHc=] User-Agent:[docker/24.0.7]]"
time="2026-12-04T10:00:02.000000000Z" level=debug msg="request" Authorization="Bearer eyJhbGciOi.GoBearer.s1g"
time="2026-12-04T10:00:03.000000000Z" level=debug msg="req: {\"Authorization\": \"Token EscT0k\\\"en42\", \"X-Registry-Auth\": \"eyJ1c2VyIjoiZXNjIn0=\", \"serveraddress\": \"registry.lab:5000\"}"
time="2026-12-04T10:00:04.000000000Z" level=debug msg="form: {\"password\":\"EscJs0nPw\",\"username\":\"bob\"}"
AUTHORIZATION: BASIC VVBQRVI6Q0FTRQ==
authorization: bearer LowerBearer99
Authorization: RawT0kenNoScheme
Authorization=Token EqT0k99
Proxy-Authorization: Basic cHJveHk6UHhBdXRo
time="2026-12-04T10:00:05.000000000Z" level=debug msg="daemon configured" log-opts="map[splunk-token:GoMapT0k88 splunk-url:https://splunk.corp:8088]"
time="2026-12-04T10:00:06.000000000Z" level=debug msg="POST /images/create" headers="map[Content-Type:[application/json] X-Registry-Auth:[eyJwYXNzd29yZCI6IkdvWFJBIn0=]]"
time="2026-12-04T10:00:07.000000000Z" level=debug msg="using proxy \"http://pxuser:L0gPx@pw@proxy.corp:3128\"" env="map[HTTPS_PROXY:pxuser:GoEnvPx@proxy.corp:3128 NO_PROXY:localhost]"
time="2026-12-04T10:00:08.000000000Z" level=error msg="Handler for POST /v1.45/images/create returned error: Head \"https://registry.lab:5000/v2/team/app/manifests/1.0\": no basic auth credentials"
time="2026-12-04T10:00:09.000000000Z" level=warning msg="Error getting v2 registry: Get \"https://registry.lab:5000/v2/\": proxyconnect tcp: dial tcp: lookup proxy.corp: no such host"
time="2026-12-04T10:00:10.000000000Z" level=info msg="Attempting next endpoint for pull after error: failed to fetch anonymous token: unexpected status: 401 Unauthorized"
time="2026-12-04T10:00:11.000000000Z" level=error msg="Handler for POST /v1.45/images/create returned error: Get \"https://auth.docker.io/token?scope=repository%3Alibrary%2Fbusybox%3Apull&service=registry.docker.io\": dial tcp: lookup auth.docker.io: no such host"
time="2026-12-04T10:00:12.000000000Z" level=error msg="pull access denied for registry.lab:5000/team/app:1.0@sha256:0123abcd, repository does not exist or may require 'docker login'"
{"level":"debug","msg":"headers map[Authorization:[Bearer JsonL0gBearer]]","time":"2026-12-04T10:00:13Z"}
{"level":"debug","msg":"form {\"password\":\"JsonL0gPw\",\"identitytoken\":\"JsonL0gIdTok\"}","time":"2026-12-04T10:00:14Z"}
""", ["Ym9iOkdvTWFwUHc=", "eyJhbGciOi.GoBearer.s1g", r'EscT0k\\\"en42', "eyJ1c2VyIjoiZXNjIn0=",
      "EscJs0nPw", "VVBQRVI6Q0FTRQ==", "LowerBearer99", "RawT0kenNoScheme", "EqT0k99",
      "cHJveHk6UHhBdXRo", "GoMapT0k88", "eyJwYXNzd29yZCI6IkdvWFJBIn0=", "pxuser:L0gPx@pw",
      "pxuser:GoEnvPx", "JsonL0gBearer", "JsonL0gPw", "JsonL0gIdTok"],
     ["User-Agent:[docker/24.0.7]", "registry.lab:5000", "splunk-url:https://splunk.corp:8088",
      "Content-Type:[application/json]", "http://REDACTED@proxy.corp:3128",
      "HTTPS_PROXY:REDACTED@proxy.corp:3128 NO_PROXY:localhost", "no basic auth credentials",
      "proxyconnect tcp: dial tcp: lookup proxy.corp: no such host",
      "failed to fetch anonymous token: unexpected status: 401 Unauthorized",
      "token?scope=repository%3Alibrary%2Fbusybox%3Apull&service=registry.docker.io\\\": dial tcp: lookup auth.docker.io: no such host",
      "registry.lab:5000/team/app:1.0@sha256:0123abcd", "\\\"username\\\":\\\"bob\\\""]),
    ("docker.log containerd", r"""time="2026-12-04T10:00:00.1Z" level=info msg="fetch failed" error="failed to do request: Head \"https://ctrd:CtrdUrlPw@registry.lab:5000/v2/team/app/manifests/1.0\": x509: certificate signed by unknown authority" host=registry.lab:5000
time="2026-12-04T10:00:00.2Z" level=debug msg="do request" request.header.accept="application/json" request.header.authorization="Bearer CtrdBearer77" request.header.user-agent=containerd/1.7.24
time="2026-12-04T10:00:00.3Z" level=debug msg="fetch response received" response.header.www-authenticate="Bearer realm=\"https://registry.lab:5000/auth\",service=\"registry\"" url="https://registry.lab:5000/v2/"
""", ["ctrd:CtrdUrlPw", "CtrdBearer77"],
     ["x509: certificate signed by unknown authority", "host=registry.lab:5000",
      "request.header.accept=\"application/json\"", "request.header.user-agent=containerd/1.7.24",
      "url=\"https://registry.lab:5000/v2/\""]),
    ("dockerd cmdline", """/usr/bin/dockerd
--log-opt
splunk-token=ProcCmdT0k1
--registry-mirror=https://pm:ProcMirrPw@mirror.corp
--config-file=/etc/docker/daemon.json
""", ["ProcCmdT0k1", "pm:ProcMirrPw"], ["--config-file=/etc/docker/daemon.json", "splunk-token="]),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_leaks_nothing_and_keeps_context(bindirs, impl, case):
    _, text, secrets, keep = case
    out = redact(text, bindirs[impl])
    assert_clean(text, out, secrets, keep)
    assert redact(out, bindirs[impl]) == out, "the filter must be idempotent"


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_gnu_and_busybox_sed_agree(bindirs, case):
    assert redact(case[1], bindirs["gnu"]) == redact(case[1], bindirs["busybox"])


@pytest.mark.parametrize("impl", IMPLS)
def test_daemon_json_stays_valid_json_with_its_facts(bindirs, impl):
    out = json.loads(redact(CORPUS[0][1], bindirs[impl]))
    assert out["proxies"]["http-proxy"] == "REDACTED@proxy.corp:3128"
    assert out["log-opts"]["splunk-token"] == "REDACTED"
    assert out["log-opts"]["splunk-url"] == "https://splunk.corp:8088"
    assert out["mtu"] == 1400 and out["insecure-registries"] == ["registry.lab:5000"]
    keys = json.loads(redact(CORPUS[1][1], bindirs[impl]))
    assert keys["githubToken"] == "REDACTED" and keys["credsStore"] == "pass"
    assert keys["auths"] == {"r.io": {"auth": ""}}   # an empty auth stays visibly empty
    assert keys["basic_auth"] == {"realm": "corp"} and keys["auth"] == "REDACTED"


@pytest.mark.parametrize("impl", IMPLS)
def test_pathological_lines_stay_fast(bindirs, impl):
    # A long run of key characters used to cost busybox sed quadratic time.
    start = time.monotonic()
    redact("a" * 65536 + "\n" + "ab=" * 20000 + "\n" + '"a' * 30000 + "\n", bindirs[impl])
    assert time.monotonic() - start < 10


# ---- property-based: random secrets made of characters legal in URL userinfo
UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
SUB_DELIMS = "!$&'()*+,;="
pct = st.sampled_from("0123456789ABCDEF")
userinfo_char = st.one_of(st.sampled_from(UNRESERVED + SUB_DELIMS),
                          st.builds(lambda a, b: "%" + a + b, pct, pct))
user = st.lists(userinfo_char, min_size=1, max_size=12).map("".join)
# Passwords may carry ':' and a raw '@' too (seen in the wild, and Go's parser takes the last '@').
password = st.lists(st.one_of(userinfo_char, st.sampled_from(":@")), min_size=4,
                    max_size=40).map("".join)
token = st.text(alphabet=UNRESERVED + "+/=!$&*,;:@%'()", min_size=4, max_size=60)

PROXY_FORMS = [
    '{{"proxies": {{"http-proxy": "{u}:{p}@proxy.corp:3128", "https-proxy": "http://{u}:{p}@proxy.corp:3128"}}}}',
    'Environment="HTTPS_PROXY={u}:{p}@proxy.corp:3128" "NO_PROXY=localhost"',
    'Environment="HTTP_PROXY=http://{u}:{p}@proxy.corp:3128"',
    "HTTPS_PROXY={u}:{p}@proxy.corp:3128",
    'https_proxy="http://{u}:{p}@proxy.corp:3128"',
    'time="2026-12-04T10:00:00Z" level=debug msg="proxy \\"http://{u}:{p}@proxy.corp:3128\\"" env="map[HTTPS_PROXY:{u}:{p}@proxy.corp:3128]"',
    '--registry-mirror=https://{u}:{p}@proxy.corp:3128',
]
TOKEN_FORMS = [
    '{{"log-opts": {{"splunk-token": "{t}", "splunk-url": "https://proxy.corp:3128"}}}}',
    "--log-opt splunk-token={t} -H fd://",
    'Environment="API_KEY={t}" "NO_PROXY=localhost"',
    "ACCESS_TOKEN={t}",
    'client_secret="{t}"',
    "Authorization: Bearer {t}",
    "AUTHORIZATION=Token {t}",
    'level=debug headers="map[Authorization:[Basic {t}] User-Agent:[docker/24.0.7]]"',
    'level=debug msg="req {{\\"Authorization\\": \\"Bearer {t}\\", \\"password\\": \\"{t}\\"}}"',
    "X-Registry-Auth: {t}",
    'log-opts="map[splunk-token:{t} tag:x]"',
]


def _check_examples(bindirs, lines, secret_sets, context=None):
    text = "\n".join(lines) + "\n"
    for impl in IMPLS:
        out = redact(text, bindirs[impl])
        for secret in secret_sets:
            assert not leaked(secret, text, out, context), (impl, secret, out)
        assert "proxy.corp:3128" in out or "{t}" in lines[0]
        assert redact(out, bindirs[impl]) == out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(u=user, p=password)
def test_random_userinfo_never_leaks(bindirs, u, p):
    lines = [f.format(u=u, p=p) for f in PROXY_FORMS]
    blank = "\n".join(f.format(u="\x00", p="\x00") for f in PROXY_FORMS)
    _check_examples(bindirs, lines, [s for s in (u + ":" + p, p) if len(s) >= 4], blank)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=token)
@example(t="debu")   # a token that is also part of an innocent word of the line
def test_random_tokens_never_leak(bindirs, t):
    lines = [f.format(t=t) for f in TOKEN_FORMS]
    _check_examples(bindirs, lines, [t], "\n".join(f.format(t="\x00") for f in TOKEN_FORMS))


# ---- caps: a secret longer than a cap, straddling it, must not arrive half-redacted
SHELLS = [["dash", "-s"], ["bash", "--posix", "-s"], ["busybox", "sh", "-s"]]


def _run_script(collector, shell, opts, env=None):
    nonce = new_nonce()
    proc = subprocess.run(shell, input=build_script([collector], nonce, opts).encode(),
                          capture_output=True, timeout=120, env=env)
    raw = proc.stdout.decode("utf-8", "replace")
    return raw, split_output(raw, nonce)


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_part_cap_never_cuts_a_secret_before_redaction(tmp_path, shell):
    cap = 4096
    secret = "".join(f"Cap{i:03d}x" for i in range(80))      # 560 chars, longer than the gap
    lines = ["filler line %04d" % i for i in range(230)]     # ~3.9 KB: the secret straddles 4096
    lines += [f"HTTPS_PROXY=http://capuser:{secret}@proxy.corp:3128",
              f'{{"auth": "{secret}"}}', f"Authorization: Bearer {secret}"]
    lines += ["after line %04d" % i for i in range(100)]
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    assert 3500 < len("\n".join(lines[:230])) < cap < len("\n".join(lines[:231]))
    collector = Collector(name="capped", script=f"fa_run big cat {path}", parse=lambda s: {})
    raw, parsed = _run_script(collector, shell, ScriptOptions(part_cap_bytes=cap, part_timeout_s=60))
    out = parsed.sections["capped"]["big"].out
    assert not leaked(secret, path.read_text(), raw), raw[-600:]
    # The lines were whole when redacted; the cut came after, still exactly at the cap
    # (collect.parse_sections reads len(out) >= cap as "truncated").
    assert "HTTPS_PROXY=http://REDACTED@proxy.corp:3128" in out
    assert '{"auth": "REDACTED"}' in out and "Authorization: REDACTED" in out
    assert len(out) == cap and "after line 0000" in out and "after line 0099" not in out


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_log_line_shortening_runs_after_redaction(tmp_path, shell):
    """The host shortens long log lines to head + tail; the tail used to start inside a
    secret whose key it had cut away."""
    from test_collector_daemon_log import _run
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(now - 60))
    secret = "".join(f"Lg{i:02d}" for i in range(40))          # 160 chars
    msg = ("x" * 200 + f' password={secret} Authorization: Bearer {secret}"'
           + ' error="Head \\"https://registry.lab:5000/v2/\\": x509: certificate signed by unknown authority"')
    line = f'time="{stamp}" level=error msg="{msg}'
    facts, section = _run(tmp_path, files={"docker.log": line + "\n"}, shell=shell)
    out = "".join(p.out for p in section.values())
    assert len(line) > 400 and facts["counts"] == {"x509-unknown-authority": 1}
    assert not leaked(secret, line, out), out
    assert not leaked(secret, line, json.dumps(facts)), facts
    assert max(len(l) for l in out.splitlines()) < 420


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_an_endless_line_is_cut_without_filling_memory(shell):
    """sed holds a whole line: fa_exec stops reading at twice the cap, so a command that
    prints one endless line ends at once (SIGPIPE) and the part is still cut at the cap."""
    cap = 4096
    collector = Collector(name="endless", parse=lambda s: {},
                          script="fa_run line awk 'BEGIN { while (1) printf \"password=x\" }'")
    start = time.monotonic()
    _, parsed = _run_script(collector, shell, ScriptOptions(part_cap_bytes=cap, part_timeout_s=60))
    assert time.monotonic() - start < 30
    assert parsed.sections["endless"]["line"].out == "password=REDACTED"[:cap]
