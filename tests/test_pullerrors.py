"""pullerrors: real phrasings from the docker CLI, dockerd logs, containerd and kubelet."""
import re
import shutil
import subprocess

import pytest

from fleetaudit import pullerrors
from fleetaudit.models import CATEGORIES

# (message, expected class ids, most specific first). Texts are as the tools print them;
# dockerd log lines keep logrus's \" escaping and "\n" folding.
TABLE = [
    # --- auth
    ("Error response from daemon: pull access denied for acme/app, repository does not exist "
     "or may require 'docker login': denied: requested access to the resource is denied",
     ["pull-access-denied"]),
    ('time="2024-03-01T10:00:00.000000000Z" level=error msg="Not continuing with pull after error: '
     'errors:\\ndenied: requested access to the resource is denied\\nunauthorized: authentication required\\n"',
     ["pull-access-denied"]),
    ("Error: image library/nosuch not found", []),
    ("Error response from daemon: repository acme/app not found: does not exist or no pull access",
     ["pull-access-denied"]),
    ('failed to pull and unpack image "registry.lab:5000/app:1": failed to resolve reference '
     '"registry.lab:5000/app:1": pull access denied, repository does not exist or may require '
     'authorization: server message: insufficient_scope: authorization failed',
     ["pull-access-denied"]),
    ('Error response from daemon: Get "https://registry.lab:5000/v2/busybox/manifests/latest": '
     "no basic auth credentials", ["no-basic-auth-credentials"]),
    ('Error response from daemon: Head "https://registry.lab:5000/v2/busybox/manifests/latest": '
     "unauthorized: authentication required", ["unauthorized"]),
    ('Error response from daemon: Get "https://registry-1.docker.io/v2/": unauthorized: '
     "incorrect username or password", ["bad-credentials"]),
    ("Error response from daemon: Get \"https://gitlab.example.com:5050/v2/\": unauthorized: "
     "HTTP Basic: Access denied", ["bad-credentials"]),
    ('failed to resolve reference "r.example.com/a:1": pulling from host r.example.com failed '
     "with status code [manifests 1]: 401 Unauthorized", ["unauthorized"]),
    ('failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized',
     ["unauthorized"]),
    ('failed to resolve reference "r.example.com/a:1": unexpected status from HEAD request to '
     "https://r.example.com/v2/a/manifests/1: 403 Forbidden", ["forbidden"]),
    ("Error response from daemon: denied: Your authorization token has expired. Reauthenticate "
     "and try again.", ["ecr-token-expired"]),
    ('error getting credentials - err: exec: "docker-credential-desktop": executable file not '
     "found in $PATH, out: ``", ["credential-helper-failed"]),
    ("Error saving credentials: error storing credentials - err: exit status 1, out: "
     "`Cannot autolaunch D-Bus without X11 $DISPLAY`", ["credential-helper-failed"]),
    # --- reference / arch
    ("Error response from daemon: manifest for registry.lab:5000/busybox:nope not found: "
     "manifest unknown: manifest unknown", ["manifest-unknown"]),
    ('time="2026-11-29T13:49:06.123456789Z" level=error msg="Handler for POST /v1.41/images/create '
     'returned error: manifest for nginx:nope not found: manifest unknown: manifest unknown"',
     ["manifest-unknown"]),
    ("Tag nope not found in repository docker.io/library/nginx", ["manifest-unknown"]),
    ('Failed to pull image "registry.example.com/app:1.2": rpc error: code = NotFound desc = failed '
     'to pull and unpack image "registry.example.com/app:1.2": failed to resolve reference '
     '"registry.example.com/app:1.2": registry.example.com/app:1.2: not found',
     ["manifest-unknown"]),
    ("Error: initializing source docker://quay.io/acme/app:nope: reading manifest nope in "
     "quay.io/acme/app: manifest unknown", ["manifest-unknown"]),
    ("Error response from daemon: name unknown: repository name not known to registry",
     ["name-unknown"]),
    ("invalid reference format: repository name (library/Nginx) must be lowercase",
     ["invalid-reference"]),
    ('docker: invalid reference format.', ["invalid-reference"]),
    ("no matching manifest for linux/arm64/v8 in the manifest list entries",
     ["no-matching-manifest"]),
    ("Error response from daemon: no matching manifest for linux/amd64 in the manifest list "
     "entries: no match for platform in manifest: not found", ["no-matching-manifest"]),
    ("Error response from daemon: image with reference busybox:multi was found but does not "
     "match the specified platform: wanted linux/arm64, actual: linux/amd64",
     ["no-matching-manifest"]),
    ("WARNING: The requested image's platform (linux/amd64) does not match the detected host "
     "platform (linux/arm64/v8) and no specific platform was requested",
     ["platform-mismatch"]),
    ("Error: copying system image from manifest list: Unexpectedly received a manifest list "
     "instead of a manifest for a single image", ["nested-manifest-list"]),
    ('Error: parsing image configuration: unsupported image-specific operation on artifact '
     'with type "application/vnd.unknown.config.v1+json"', ["non-image-artifact"]),
    ('Error: reading manifest latest in quay.io/acme/app: invalid mixed OCI image with Docker '
     'v2s2 config ("application/vnd.docker.container.image.v1+json")', ["non-image-artifact"]),
    ("failed to pull and unpack image \"docker.io/acme/app:1\": failed to unpack image on "
     "snapshotter overlayfs: number of layers and diffIDs don't match: 3 != 15",
     ["layer-count-mismatch"]),
    ("failed to register layer: ApplyLayer exit status 1 stdout:  stderr: archive/tar: invalid "
     "tar header", ["layer-tar-unreadable", "layer-register-failed"]),
    ('2019/06/27 12:00:40 [error] 105#105: *1 registry-1.docker.io could not be resolved (110: '
     'Operation timed out), client: 127.0.0.1, server: _, request: "GET /v2/ HTTP/1.1"',
     ["dns-lookup-failed"]),
    ("2019/06/27 12:00:40 [error] 105#105: recv() failed (111: Connection refused) while "
     "resolving, resolver: 10.0.0.2:53", ["dns-lookup-failed", "connection-refused"]),
    ("exec /bin/sh: exec format error", ["platform-mismatch"]),
    ("filesystem layer verification failed for digest sha256:0123abcd", ["digest-mismatch"]),
    ('failed commit on ref "layer-sha256:aa": unexpected commit digest sha256:bb, expected '
     "sha256:aa: failed precondition", ["digest-mismatch"]),
    ("error pulling image configuration: download failed after attempts=6: blob unknown: "
     "blob unknown to registry", ["blob-unknown"]),
    # --- tls
    ('Error response from daemon: Get "https://registry.lab:5000/v2/": x509: certificate signed '
     "by unknown authority", ["x509-unknown-authority"]),
    ('Error response from daemon: Get "https://registry.lab:5000/v2/": tls: failed to verify '
     "certificate: x509: certificate signed by unknown authority", ["x509-unknown-authority"]),
    ('time="2026-11-29T13:49:06.123456789Z" level=warning msg="Error getting v2 registry: Get '
     '\\"https://registry.lab:5000/v2/\\": x509: certificate signed by unknown authority"',
     ["x509-unknown-authority"]),
    ('time="2026-11-29T13:49:06Z" level=info msg="Attempting next endpoint for pull after error: '
     'Get \\"https://registry.lab:5000/v2/\\": x509: certificate signed by unknown authority '
     '(possibly because of \\"crypto/rsa: verification error\\" while trying to verify candidate '
     'authority certificate \\"lab-ca\\")"', ["x509-unknown-authority"]),
    ('Get "https://registry.lab:5000/v2/": x509: certificate has expired or is not yet valid: '
     "current time 2026-11-29T13:49:06Z is after 2026-01-01T00:00:00Z", ["x509-expired"]),
    ('Get "https://registry.lab:5000/v2/": tls: failed to verify certificate: x509: certificate '
     "has expired or is not yet valid: current time 2020-01-01T00:00:00Z is before "
     "2026-01-01T00:00:00Z", ["x509-not-yet-valid"]),
    ('Get https://registry.lab:5000/v2/: x509: certificate has expired or is not yet valid',
     ["x509-expired-or-not-yet-valid"]),
    ('Get "https://registry.lab:5000/v2/": x509: certificate is valid for registry.lab, '
     "localhost, not registry.example.com", ["x509-hostname-mismatch"]),
    ('Get "https://10.0.0.5:5000/v2/": x509: cannot validate certificate for 10.0.0.5 because '
     "it doesn't contain any IP SANs", ["x509-hostname-mismatch"]),
    ('Get "https://registry.lab/v2/": x509: certificate is not valid for any names, but wanted '
     "to match registry.lab", ["x509-hostname-mismatch"]),
    ('Get "https://registry.lab/v2/": x509: certificate relies on legacy Common Name field, use '
     "SANs or temporarily enable Common Name matching with GODEBUG=x509ignoreCN=0",
     ["x509-legacy-common-name"]),
    ('Get "https://registry.lab/v2/": x509: certificate specifies an incompatible key usage',
     ["x509-other"]),
    ("x509: failed to load system roots and no roots provided", ["ca-bundle-missing"]),
    ('Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: TLS '
     "handshake timeout", ["tls-handshake-timeout"]),
    ('Get "https://registry.lab:5000/v2/": remote error: tls: bad certificate',
     ["tls-remote-error"]),
    ('Get "https://registry.lab:5000/v2/": http: server gave HTTP response to HTTPS client',
     ["http-response-to-https-client"]),
    ('Get "https://registry.lab:80/v2/": tls: first record does not look like a TLS handshake',
     ["tls-first-record"]),
    # containers/image docker/errors.go: "%sinvalid status code from registry %d (%s)"
    ("Error: initializing source docker://registry.corp.example/app:1: Requesting bearer token: "
     "invalid status code from registry 403 (Forbidden)", ["forbidden"]),
    ("Error: initializing source docker://registry.corp.example/app:1: pinging container registry "
     "registry.corp.example: invalid status code from registry 503 (Service Unavailable)",
     ["registry-server-error"]),
    # the ssh leg of a deployment: OpenSSH (sshconnect.c) and golang.org/x/crypto/ssh texts
    ("ssh: connect to host docker1.example.com port 22: Connection refused",
     ["docker-ssh-transport", "connection-refused"]),
    ("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no "
     "supported methods remain", ["docker-ssh-transport"]),
    ("ssh: handshake failed: knownhosts: key mismatch", ["docker-ssh-transport"]),
    ("Received disconnect from 10.0.0.7 port 22:2: Too many authentication failures",
     ["docker-ssh-transport"]),
    # Go net/http client.go, crypto/tls alerts raised locally, syscall errnos (EMFILE, EHOSTDOWN)
    ('Get "https://registry-1.docker.io/v2/": stopped after 10 redirects', ["redirect-loop"]),
    ('Get "https://registry-1.docker.io/v2/": local error: tls: record overflow', ["tls-local-error"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp 3.94.224.37:443: socket: too many open files',
     ["daemon-fd-limit"]),
    ('Get "https://registry.corp.example/v2/": dial tcp 10.1.2.3:443: connect: host is down',
     ["network-unreachable"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp 3.94.224.37:443: connect: cannot assign '
     "requested address", ["network-unreachable"]),
    # --- dns
    ('Error response from daemon: Get "https://registry.example.com/v2/": dial tcp: lookup '
     "registry.example.com on 10.0.0.2:53: no such host", ["no-such-host"]),
    ('Get "https://registry.example.com/v2/": dial tcp: lookup registry.example.com: no such host',
     ["no-such-host"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
     "127.0.0.11:53: server misbehaving", ["dns-server-misbehaving"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
     "10.0.0.2:53: read udp 10.0.0.5:41234->10.0.0.2:53: i/o timeout",
     ["dns-lookup-failed", "io-timeout"]),
    ('dial tcp: lookup registry-1.docker.io on [::1]:53: read udp [::1]:40000->[::1]:53: read: '
     "connection refused", ["dns-lookup-failed", "connection-refused"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: Temporary '
     "failure in name resolution", ["dns-lookup-failed"]),
    # the resolver's query alone, without Go's "lookup NAME on" (net/dnsclient_unix.go dials udp
    # to ADDR:53; a tool printing only the innermost net.OpError, or a cut-off quote)
    ('Get "https://registry-1.docker.io/v2/": dial udp 8.8.8.8:53: i/o timeout',
     ["dns-lookup-failed", "io-timeout"]),
    ("read udp 172.17.0.2:40000->192.168.65.7:53: read: connection refused",
     ["dns-lookup-failed", "connection-refused"]),
    # not DNS: port 5353 / 530 are not 53, and tcp to a registry on :5300 is a registry
    ('dial tcp 10.0.0.2:5300: i/o timeout', ["io-timeout"]),
    ('read udp 10.0.0.5:40000->10.0.0.2:5353: i/o timeout', ["io-timeout"]),
    # --- proxy
    ('Get "https://registry-1.docker.io/v2/": Proxy Authentication Required',
     ["proxy-auth-required"]),
    ('Error response from daemon: Head "https://registry.lab:5000/v2/a/manifests/1": '
     "407 Proxy Authentication Required", ["proxy-auth-required"]),
    ('Get "https://registry-1.docker.io/v2/": proxyconnect tcp: dial tcp 10.0.0.3:3128: '
     "connect: connection refused", ["proxyconnect-failed", "connection-refused"]),
    ('Get "https://registry-1.docker.io/v2/": proxyconnect tcp: dial tcp: lookup proxy.corp on '
     "10.0.0.2:53: no such host", ["proxyconnect-failed", "no-such-host"]),
    ('Get "https://registry-1.docker.io/v2/": proxyconnect tcp: tls: first record does not look '
     "like a TLS handshake", ["proxy-scheme-mismatch"]),
    ('Get "https://registry.lab:5000/v2/": EOF', ["http-eof"]),
    # --- reachability / firewall / mtu
    ('failed to do request: Head "https://registry.lab:5000/v2/a/manifests/1": dial tcp '
     "1.2.3.4:443: i/o timeout", ["io-timeout"]),
    ('Get "https://registry.lab:5000/v2/": dial tcp 10.213.0.2:5000: connect: connection refused',
     ["connection-refused"]),
    ('Get "https://registry.lab:5000/v2/": dial tcp 10.213.0.2:5000: connect: no route to host',
     ["no-route-to-host"]),
    ('Get "https://registry-1.docker.io/v2/": dial tcp [2600:1f18::1]:443: connect: network is '
     "unreachable", ["network-unreachable"]),
    ('Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for '
     "connection (Client.Timeout exceeded while awaiting headers)", ["request-timeout"]),
    ('Get "https://registry-1.docker.io/v2/": context deadline exceeded', ["request-timeout"]),
    ("read tcp 10.0.0.5:51234->104.18.1.1:443: read: connection reset by peer",
     ["connection-reset"]),
    ("error pulling image configuration: download failed after attempts=6: unexpected EOF",
     ["unexpected-eof"]),
    ('time="2026-11-29T13:49:06Z" level=error msg="Download failed, retrying: unexpected EOF"',
     ["unexpected-eof"]),
    ("write tcp 10.0.0.5:51234->10.0.0.9:443: write: broken pipe", ["broken-pipe"]),
    ("received unexpected HTTP status: 503 Service Unavailable", ["registry-server-error"]),
    ("Error response from daemon: received unexpected HTTP status: 502 Bad Gateway",
     ["registry-server-error"]),
    # --- ratelimit
    ("Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may "
     "increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
     ["toomanyrequests"]),
    ('failed to copy: httpReadSeeker: failed open: unexpected status code '
     "https://registry-1.docker.io/v2/library/nginx/manifests/sha256:aa: 429 Too Many Requests - "
     "Server message: toomanyrequests: You have reached your pull rate limit",
     ["toomanyrequests"]),
    # --- disk / daemon
    ("failed to register layer: Error processing tar file(exit status 1): write "
     "/usr/lib/x86_64-linux-gnu/libLLVM.so.15: no space left on device", ["no-space-left"]),
    ("write /var/lib/docker/tmp/GetImageBlob123: no space left on device", ["no-space-left"]),
    ("failed to register layer: Error processing tar file(exit status 1): unexpected EOF",
     ["unexpected-eof", "layer-register-failed"]),
    ("mkdir /var/lib/docker/overlay2/abc: read-only file system", ["read-only-filesystem"]),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon "
     "running?", ["daemon-not-running"]),
    ("permission denied while trying to connect to the Docker daemon socket at "
     "unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version\": dial "
     "unix /var/run/docker.sock: connect: permission denied", ["docker-socket-permission"]),
    ("unable to configure the Docker daemon with file /etc/docker/daemon.json: invalid character "
     "'}' looking for beginning of object key string", ["daemon-config-invalid"]),
    ("failed to start daemon: error initializing graphdriver: driver not supported",
     ["storage-driver-failed"]),
    ('failed to dial "/run/containerd/containerd.sock": connection error: desc = "transport: '
     'error while dialing: dial unix:///run/containerd/containerd.sock: timeout"',
     ["containerd-unavailable"]),
    # --- a registry's network allowlist (Azure docs container-registry-troubleshoot-access; Google
    # VPC Service Controls): a 403 "denied: ..." that is about the network, not the credentials
    ("Error response from daemon: Head \"https://pvtacr.azurecr.io/v2/hello-world/manifests/latest\": "
     "denied: client with IP '20.120.109.180' is not allowed access. Refer https://aka.ms/acr/firewall "
     "to grant access.", ["registry-network-rule"]),
    ("denied: Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier: 1A2B",
     ["registry-network-rule"]),
    # --- containerd's resolver: "%s: %w" with errdefs.ErrNotFound, inside buildkit's wrapper
    ("ERROR: failed to solve: failed to resolve source metadata for docker.io/library/nginx:1.99: "
     "docker.io/library/nginx:1.99: not found", ["manifest-unknown"]),
    # --- wrappers alone
    ("Back-off pulling image \"registry.example.com/app:1.2\"", ["kubelet-pull-failed"]),
    ("Error: ErrImagePull", ["kubelet-pull-failed"]),
    ('failed to do request: Head "https://r/v2/a/manifests/1": something new',
     ["registry-request-failed"]),
    # --- noise
    ('time="2026-11-29T13:49:06Z" level=info msg="API listen on /run/docker.sock"', []),
    ("", []),
    ("\x00\xff binary junk", []),
]


@pytest.mark.parametrize("line,expected", TABLE, ids=range(len(TABLE)))
def test_classify(line, expected):
    assert pullerrors.classify(line) == expected


def test_primary():
    assert pullerrors.primary("dial tcp: lookup x on 1.1.1.1:53: no such host") == "no-such-host"
    assert pullerrors.primary("all good") is None
    assert pullerrors.classify(None) == []  # type: ignore[arg-type]


def test_classes_are_well_formed():
    ids = [c.id for c in pullerrors.CLASSES]
    assert len(ids) == len(set(ids))
    for c in pullerrors.CLASSES:
        assert c.category in CATEGORIES, c.id
        assert set(c.related) <= set(CATEGORIES), c.id
        assert c.why and c.check and c.patterns and c.keywords, c.id
        assert c.tier in (0, 1, 2, 3)
        assert set(c.refines) <= set(pullerrors.BY_ID), c.id
        for k in c.keywords:
            assert k == k.lower() and re.fullmatch(r"[a-z0-9 _/:'.=\-]+", k), (c.id, k)
        json_doc = c.to_json()
        assert json_doc["id"] == c.id


def test_brief_ids_exist():
    for cid in ("pull-access-denied", "manifest-unknown", "no-matching-manifest",
                "tls-handshake-timeout", "x509-unknown-authority",
                "x509-expired-or-not-yet-valid", "x509-hostname-mismatch", "no-such-host",
                "unexpected-eof", "connection-reset", "connection-refused", "io-timeout",
                "toomanyrequests", "unauthorized", "proxy-auth-required", "no-space-left",
                "no-basic-auth-credentials", "http-response-to-https-client"):
        assert cid in pullerrors.BY_ID


@pytest.mark.parametrize("line,expected", [t for t in TABLE if t[1]], ids=lambda v: str(v)[:40])
def test_host_prefilter_keeps_every_classified_line(line, expected):
    # The host greps with this ERE (lowercased line): anything a class matches must pass.
    assert re.search(pullerrors.host_pattern(), line.lower())


def test_host_pattern_is_shell_and_awk_safe():
    pat = pullerrors.host_pattern()
    assert "\\" not in pat and "'" not in pat and '"' not in pat


@pytest.mark.parametrize("awk", [["busybox", "awk"], ["mawk"], ["gawk"]], ids=lambda a: a[0])
def test_host_pattern_works_as_awk_regex_literal(awk):
    # daemon_log embeds the pattern as a regex literal (with / escaped), as here.
    if not shutil.which(awk[0]):
        pytest.skip(f"{awk[0]} not installed")
    lines = [t[0] for t in TABLE if t[1] and "\x00" not in t[0]]
    regex = pullerrors.host_pattern().replace("/", "\\/")
    prog = "tolower($0) ~ /" + regex + "/ { n++ } END { print n + 0 }"
    out = subprocess.run(awk + [prog], input="\n".join(lines) + "\nAPI listen on /run/docker.sock\n",
                         capture_output=True, text=True)
    assert out.stdout.strip() == str(len(lines))
