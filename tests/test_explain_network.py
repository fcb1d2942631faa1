"""Round 6: candidate sets for the ambiguous network errors, and the evidence in the text that
orders them. Texts are built from the strings the code prints (cited per case), not from corpus
entries."""
import pytest

from fleetaudit.explain import explain
from fleetaudit.pullunwrap import unwrap

HUB = 'Error response from daemon: Get "https://registry-1.docker.io/v2/": '
PRIVATE = 'Error response from daemon: Get "https://registry.corp.example/v2/": '


def rank(text):
    return [c.category for c in explain(text)]


# (text, the causes that must all be in the top 3, the first one or None when the text does not
# single one out). Go's net.OpError "dial tcp ADDR: connect: ERRNO" (net/net.go), net/http's
# transport errors (net/http/transport.go), moby's registry ping (daemon/pkg/registry/auth.go).
CANDIDATES = [
    # SYN unanswered: a DROP rule, a network that only lets its proxy out, a route to nowhere
    (HUB + "dial tcp 3.94.224.37:443: i/o timeout", {"proxy", "firewall", "reachability"}, None),
    (PRIVATE + "dial tcp 10.1.2.3:443: i/o timeout", {"firewall", "reachability", "proxy"}, None),
    # RST to the SYN: REJECT --reject-with tcp-reset, or nothing listening
    (HUB + "dial tcp 3.94.224.37:443: connect: connection refused", {"firewall", "proxy", "reachability"}, None),
    ('Error response from daemon: Get "https://registry.corp.example:5000/v2/": dial tcp 10.1.2.3:5000: '
     "connect: connection refused", {"reachability", "proxy", "firewall"}, "reachability"),
    # something that acted: a middlebox, a proxy, the registry's front end
    (HUB + "read tcp 10.0.0.5:51234->3.94.224.37:443: read: connection reset by peer",
     {"proxy", "reachability", "firewall"}, None),
    (HUB + "dial tcp 3.94.224.37:443: connect: no route to host", {"firewall", "reachability", "proxy"},
     "firewall"),
    (HUB + "dial tcp 3.94.224.37:443: connect: network is unreachable", {"reachability", "proxy", "firewall"},
     "reachability"),
    (HUB + "net/http: TLS handshake timeout", {"proxy", "reachability", "firewall"}, None),
    (HUB + "unexpected EOF", {"proxy", "reachability", "firewall"}, None),
    (HUB + "net/http: request canceled while waiting for connection (Client.Timeout exceeded while "
     "awaiting headers)", {"proxy", "reachability", "firewall"}, None),
    # the resolver: SERVFAIL from a stub whose upstream is blocked, a query that got nothing back
    (HUB + "dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: server misbehaving",
     {"dns", "firewall", "proxy"}, "dns"),
    (HUB + "dial tcp: lookup registry-1.docker.io on 10.0.0.2:53: read udp 10.0.0.5:41234->10.0.0.2:53: "
     "i/o timeout", {"dns", "firewall", "reachability"}, "dns"),
    (PRIVATE + "dial tcp: lookup registry.corp.example: no such host", {"dns", "proxy", "reference"}, "dns"),
]


@pytest.mark.parametrize("text,expected,first", CANDIDATES, ids=lambda v: v[-50:] if isinstance(v, str) else None)
def test_every_plausible_cause_of_the_class_is_in_the_top_3(text, expected, first):
    ranked = rank(text)
    assert expected <= set(ranked[:3]), ranked
    if first:
        assert ranked[0] == first, ranked


def test_a_dns_query_on_the_wire_is_dns_without_the_lookup_prefix():
    # Go net/dnsclient_unix.go dials "udp" to the nameserver's ADDR:53; some tools print only
    # the innermost net.OpError
    ranked = rank(HUB + "dial udp 10.0.0.2:53: i/o timeout")
    assert ranked[0] == "dns", ranked
    # a public resolver answers everyone: its dropped query is an egress rule
    public = explain(HUB + "dial udp 8.8.8.8:53: i/o timeout")
    assert public[0].category == "dns" and public[1].category == "firewall", [c.category for c in public]
    assert "8.8.8.8" in public[1].why
    # a registry on port 5300 or a UDP port 5353 is no DNS query
    assert "dns" not in rank("dial tcp 10.0.0.2:5300: i/o timeout")[:1]


def test_client_timeout_in_the_dial_phase_names_a_slow_lookup_below_the_firewall():
    # net/http transport.go: errRequestCanceledConn "request canceled while waiting for connection"
    # (the dial, lookup included, had not finished) vs errRequestCanceled "request canceled" (a
    # connection was made); moby's ping client times out after 15 s, its dialer after 30 s
    dial_phase = explain(HUB + "net/http: request canceled while waiting for connection "
                               "(Client.Timeout exceeded while awaiting headers)")
    ranked = [c.category for c in dial_phase]
    assert "dns" in ranked and ranked.index("firewall") < ranked.index("dns"), ranked
    assert "15-second" in next(c for c in dial_phase if c.category == "dns").why
    go113 = rank(HUB + "context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
    assert "dns" in go113, go113
    connected = rank(HUB + "net/http: request canceled (Client.Timeout exceeded while awaiting headers)")
    assert "dns" not in connected, connected
    # an address in the message: the lookup had finished
    dialed = rank(HUB + "dial tcp 3.94.224.37:443: i/o timeout")
    assert "dns" not in dialed, dialed


@pytest.mark.parametrize("port,first", [("3128", "proxy"), ("7890", "proxy"), ("8118", "proxy")])
def test_a_proxy_port_dialed_without_a_url_is_the_proxy(port, first):
    ranked = rank(f"dial tcp 10.0.0.9:{port}: connect: connection refused")
    assert ranked[0] == first, ranked


def test_port_8080_only_puts_the_proxy_among_the_candidates_and_5000_does_not():
    assert "proxy" in rank("dial tcp 10.0.0.9:8080: connect: connection refused")[:3]
    assert rank("dial tcp 10.0.0.9:5000: connect: connection refused")[0] != "proxy"


def test_cdn_handshake_timeout_keeps_an_sni_allowlist_in_view():
    # containerd core/remotes/docker/httpreadseeker.go: "httpReadSeeker: failed open: %w",
    # resolver.go: "failed to do request: %w"
    text = ('failed to copy: httpReadSeeker: failed open: failed to do request: Get "https://production.'
            'cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/aa/aa/data": net/http: '
            'TLS handshake timeout')
    ranked = rank(text)
    assert ranked[0] == "mtu" and "firewall" in ranked[:3], ranked


def test_tls_texts_keep_the_interceptor_among_the_causes():
    # crypto/x509 verify.go HostnameError / UnknownAuthorityError
    mismatch = rank(PRIVATE + "x509: certificate is valid for ingress.local, not registry.corp.example")
    assert mismatch[0] == "tls" and "proxy" in mismatch[:3], mismatch
    unknown = rank(HUB + "x509: certificate signed by unknown authority")
    assert unknown[:3] == ["proxy", "tls", "firewall"], unknown


def test_a_cancelled_pull_keeps_the_proxy_in_view():
    ranked = rank('Error response from daemon: Get "https://registry-1.docker.io/v2/library/ubuntu/'
                  'manifests/latest": context canceled')
    assert {"reachability", "mtu", "proxy"} == set(ranked[:3]), ranked


def test_a_public_registry_dialed_at_a_private_address_was_resolved_wrongly():
    refused = rank(HUB + "dial tcp 192.168.1.1:443: connect: connection refused")
    assert refused[0] == "dns", refused
    timeout = rank(HUB + "dial tcp 10.10.34.35:443: i/o timeout")
    assert timeout[0] == "dns", timeout
    # ECR's VPC interface endpoints have private addresses by design
    ecr = rank('Error response from daemon: Get "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/": '
               "dial tcp 10.0.1.5:443: i/o timeout")
    assert ecr[0] != "dns", ecr
    # a docker bridge address keeps its own explanation (daemon's address pools)
    assert rank(HUB + "dial tcp 172.17.0.1:443: connect: no route to host")[0] == "daemon"


INNER = 'Error response from daemon: Get "https://registry.corp.example/v2/": dial tcp 10.1.2.3:443: i/o timeout'


@pytest.mark.parametrize("wrapped,wrappers", [
    # gitlab-runner executors/docker/internal/pull/manager.go: "failed to pull image %q with
    # specified policies %v: %w", printed after "ERROR: Job failed: " with the location appended
    ('ERROR: Job failed: failed to pull image "registry.corp.example/app:1" with specified policies '
     '[always]: ' + INNER + " (manager.go:250:15s)", ["gitlab-runner"]),
    ("ERROR: Preparation failed: " + INNER + " (docker.go:661:0s)", ["gitlab-runner"]),
    # moby daemon/internal/distribution/pull.go (Docker < 23: the error after a colon)
    ("Not continuing with pull after error: " + INNER, ["daemon-log"]),
    ('time="2026-12-05T01:02:03Z" level=error msg="Handler for POST /v1.43/images/create returned error: '
     + INNER.replace('"', '\\"') + '"', ["logrus", "daemon-log"]),
    # the same line with its inner quotes unescaped by whatever displayed it
    ('time="2026-12-05T01:02:03Z" level=error msg="Handler for POST /v1.43/images/create returned error: '
     + INNER + '"', ["logrus", "daemon-log"]),
])
def test_tool_wrappers_leave_the_inner_text_to_decide(wrapped, wrappers):
    u = unwrap(wrapped)
    assert all(w in u.wrappers for w in wrappers), u.wrappers
    assert u.inner.endswith("dial tcp 10.1.2.3:443: i/o timeout"), u.inner
    assert rank(wrapped)[:3] == rank(INNER)[:3]


def test_containers_image_source_wrapper_is_peeled():
    # containers/image docker/docker_image_src.go: "initializing source %s: %w"
    text = ('Error: initializing source docker://quay.io/app/app:1: pinging container registry quay.io: '
            'Get "https://quay.io/v2/": dial tcp: lookup quay.io on 10.0.0.2:53: server misbehaving')
    u = unwrap(text)
    assert u.inner.startswith("pinging container registry quay.io"), u.inner
    assert rank(text)[0] == "dns"


def test_a_refused_blob_connection_is_never_the_mtu():
    # moby daemon/internal/distribution/pull_v2.go: "error pulling image configuration: download
    # failed after attempts=%d: %w"; a RST to the SYN involves no large packet
    ranked = rank("error pulling image configuration: download failed after attempts=6: dial tcp "
                  "104.16.1.1:443: connect: connection refused")
    assert "mtu" not in ranked[:3] and "firewall" in ranked[:2], ranked


@pytest.mark.parametrize("status,first", [("403 (Forbidden)", "auth"), ("503 (Service Unavailable)", "reachability")])
def test_containers_image_status_codes_are_recognised(status, first):
    # containers/image docker/errors.go httpResponseToError
    ranked = explain("Error: initializing source docker://registry.corp.example/app:1: Requesting bearer "
                     f"token: invalid status code from registry {status}")
    assert ranked[0].category == first and not ranked[0].generic, [c.category for c in ranked]


def test_the_far_end_of_a_reset_connection_says_whether_a_proxy_was_in_between():
    # Go's net.OpError names the established connection "read tcp LOCAL->REMOTE:PORT"
    direct = rank("error pulling image configuration: download failed after attempts=6: read tcp "
                  "10.0.0.5:51234->104.16.1.1:443: read: connection reset by peer")
    assert direct[0] == "reachability" and {"firewall", "mtu"} <= set(direct[:3]), direct
    # containerd core/content/helpers.go: "failed to copy: %w" is the blob transfer
    ctrd = rank("failed to copy: read tcp 10.0.0.5:51234->104.16.1.1:443: read: connection reset by peer")
    assert ctrd == direct[:len(ctrd)] or set(ctrd[:3]) == set(direct[:3]), (ctrd, direct)
    via_proxy = rank(HUB + "read tcp 10.0.0.5:51234->10.0.0.9:3128: read: connection reset by peer")
    assert via_proxy[0] == "proxy", via_proxy


@pytest.mark.parametrize("resolver", ["168.63.129.16", "169.254.169.253"])
def test_nxdomain_from_a_clouds_own_resolver_is_a_private_zone_not_a_proxy_network(resolver):
    text = HUB + f"dial tcp: lookup registry-1.docker.io on {resolver}:53: no such host"
    causes = explain(text)
    assert causes[0].category == "dns" and "private" in causes[0].why, [c.category for c in causes]
    # any other resolver that denies a public name keeps the proxy-only network first
    assert rank(HUB + "dial tcp: lookup registry-1.docker.io on 10.20.0.2:53: no such host")[0] == "proxy"


@pytest.mark.parametrize("text,first,third_in", [
    # distribution's errcode texts (registry/api/errcode/register.go) and moby's wrappers
    (HUB.replace("Get", "Head").replace("/v2/", "/v2/team/app/manifests/1") +
     "unauthorized: authentication required", "auth", "reference"),
    ('Error response from daemon: Head "https://registry.corp.example/v2/team/app/manifests/1": '
     "403 Forbidden", "auth", "firewall"),
    ("Error response from daemon: manifest for registry.gitlab.com/team/app:1 not found: manifest "
     "unknown: manifest unknown", "reference", "auth"),
    ('Error response from daemon: Get "https://registry.corp.example:5000/v2/team/app/manifests/1": no '
     "basic auth credentials", "auth", "reference"),
    ("write /var/lib/docker/tmp/GetImageBlob123: no space left on device", "disk", "daemon"),
    (HUB + "x509: certificate has expired or is not yet valid", "time", "proxy"),
])
def test_classes_with_few_readings_name_a_third_real_one(text, first, third_in):
    ranked = rank(text)
    assert ranked[0] == first and third_in in ranked[:3], ranked


def test_a_windows_platform_request_points_at_the_daemons_mode():
    ranked = rank("Error response from daemon: no matching manifest for windows/amd64 10.0.19045 in the "
                  "manifest list entries")
    assert ranked[:2] == ["arch", "daemon"], ranked
    assert "daemon" not in rank("no matching manifest for linux/arm64/v8 in the manifest list entries")[:2]
