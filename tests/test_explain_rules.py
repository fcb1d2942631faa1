"""Text-only ranking rules added for issue 10's families (terse texts, platform wordings,
HTML bodies, SDK refusals, unset clocks). Texts in the shapes the real tools print."""
import pytest

from fleetaudit.explain import explain, generic_causes


def rank(text):
    return [c.category for c in explain(text)]


@pytest.mark.parametrize("text,first", [
    # a proxy asking for credentials in an HTML page
    ('Error response from daemon: error parsing HTTP 407 response body: invalid character \'<\' looking '
     'for beginning of value: "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD>"', "proxy"),
    # a TLS-inspecting gateway named as the candidate authority
    ('Get "https://registry-1.docker.io/v2/": x509: certificate signed by unknown authority (possibly '
     'because of "crypto/rsa: verification error" while trying to verify candidate authority '
     'certificate "Cisco Umbrella Secondary SubCA")', "proxy"),
    ('error parsing HTTP 503 response body: invalid character \'<\' looking for beginning of value: '
     '"<html><head><title>ERROR: The requested URL could not be retrieved</title>', "proxy"),
    # containers/image platform wording
    ('Error: choosing an image from manifest list docker://nginx:latest: no image found in manifest '
     'list for architecture arm64, variant "v8", OS linux', "arch"),
    # cloud SDK refusals
    ("An error occurred (AccessDeniedException) when calling the GetAuthorizationToken operation: "
     "User: arn:aws:iam::1:user/ci is not authorized to perform: ecr:GetAuthorizationToken", "auth"),
    # the registry's terse refusal after the URL
    ('Error response from daemon: Head "https://ghcr.io/v2/org/app/manifests/latest": unauthorized', "auth"),
    # the official namespace spelled out: an image that does not exist
    ("Error: initializing source docker://ngnix:latest: reading manifest latest in "
     "docker.io/library/ngnix: requested access to the resource is denied", "reference"),
    ("Error response from daemon: repository myorg/myapp not found: does not exist or no pull access",
     "reference"),
    # a clock never set: any certificate, any registry
    ("Get https://registry.internal/v2/: x509: certificate has expired or is not yet valid: current "
     "time 1970-01-01T00:03:12Z is before 2024-01-01T00:00:00Z", "time"),
    # an unknown authority in front of a public registry: something re-signed the traffic
    ('Error response from daemon: Get "https://quay.io/v2/": x509: certificate signed by unknown '
     'authority', "proxy"),
    # ...but a private registry's own CA missing is the trust store
    ('Error response from daemon: Get "https://registry.lan:5000/v2/": x509: certificate signed by '
     'unknown authority', "tls"),
    # the TCP handshake to a registry's own port got no answer: a DROP rule
    ('Error response from daemon: Get "https://registry.lan:5000/v2/": dial tcp 10.1.2.3:5000: '
     'i/o timeout', "firewall"),
    # ...also on a blob host: a handshake never carries a large packet, so not the MTU
    ('error pulling image configuration: Get "https://production.cloudflare.docker.com/registry-v2/'
     'docker/registry/v2/blobs/sha256/3d/3db6/data": dial tcp 104.16.1.1:443: i/o timeout', "firewall"),
    # the v1 protocol's first request to the index got nothing back
    ("Error while pulling image: Get https://index.docker.io/v1/repositories/library/debian/images: "
     "net/http: TLS handshake timeout", "proxy"),
    # containerd pings nothing: its first request is the manifest HEAD
    ('rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/redis:7": '
     'failed to resolve reference "docker.io/library/redis:7": failed to do request: Head '
     '"https://registry-1.docker.io/v2/library/redis/manifests/7": dial tcp 3.216.34.172:443: i/o timeout',
     "proxy"),
    # a lookup cut off as quoted
    ("Error response from daemon: Get https://registry.example.com/v2/: dial tcp: lookup "
     "registry.example.com on 127.0.1.1:53: no such", "dns"),
])
def test_rule_ranks_first(text, first):
    assert rank(text)[0] == first


def test_wrapper_words_alone_still_get_an_answer():
    causes = explain('Failed to pull image "x": rpc error: code = Unknown desc = something odd')
    assert causes[0].classes == ["kubelet-pull-failed"] and not causes[0].generic
    # alone, the wrapper ranks the usual reasons of ImagePullBackOff (field guide sections 3, 4):
    # a wrong name or tag, credentials, the network; loose guesses follow
    assert [c.category for c in causes[:3]] == ["reference", "auth", "reachability"]
    guesses = [c for c in causes if c.generic]
    assert len(causes) >= 4 and guesses
    # the guesses come from the inner text, not from "pull image" in the wrapper
    assert all(c.words == [] for c in guesses)


def test_a_timeout_before_any_address_keeps_the_lookup_in_view():
    # Go names the address once it dials one; without it the resolver may be what timed out
    bare = "Error response from daemon: Get https://registry.lan/v2/: dial tcp: i/o timeout"
    assert "dns" in rank(bare)[:3]
    dialed = "Error response from daemon: Get https://registry.lan/v2/: dial tcp 10.0.0.5:443: i/o timeout"
    assert "dns" not in rank(dialed)[:3] and rank(dialed)[0] == "firewall"


def test_a_short_word_inside_a_longer_one_is_no_clue():
    # "time" in "timeout" / "runtime", "space" in "namespace": not the clock, not the disk
    assert "time" not in [c.category for c in generic_causes("timeout")]
    assert "disk" not in [c.category for c in generic_causes("namespace acme is odd")]
    assert generic_causes("the clock is off, time is wrong")[0].category == "time"


def test_wrapper_phrases_are_no_clue_for_the_guesses():
    # "failed to resolve ref" is containerd's resolver stage (registry-request-failed), not DNS
    causes = explain('CannotPullContainerError: failed to resolve ref "docker.io/acme/app:1.0"')
    assert "dns" not in [c.category for c in causes if not c.generic]
    assert all("resolve" not in c.words for c in causes)


def test_any_resolver_error_under_a_dial_is_dns():
    # Go's DNSError carries whatever errno the resolver gave (here a libc EBUSY)
    text = ('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
            'registry-1.docker.io: device or resource busy')
    assert rank(text)[0] == "dns"


def test_nxdomain_through_libc_is_dns_first():
    # without "on ADDR:53" the name went through libc (cgo, macOS, Windows), which says "no such
    # host" also with no working resolver or network: not the mark of an internal-only resolver
    libc = ('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
            'registry-1.docker.io: no such host')
    assert rank(libc)[:2] == ["dns", "proxy"]


def test_a_page_recognised_as_html_is_not_a_registry_refusal():
    # containers/image docker/errors.go prints a non-JSON body as StatusCode: %d, %q; the "403
    # Forbidden" in the page's title is the page's status, and auth no longer leads
    text = ('Error: initializing source docker://registry.corp.example/acme/app:1.0: reading manifest 1.0 '
            'in registry.corp.example/acme/app: StatusCode: 403, "<html><head><title>403 Forbidden</title>'
            '</head><body>Access Denied</body></html>"')
    causes = explain(text)
    assert causes[0].category == "proxy" and "forbidden" not in causes[0].classes
    assert [c.category for c in causes[:2]] == ["proxy", "reachability"]


def test_a_public_resolver_that_times_out_keeps_the_firewall_in_view():
    text = ('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
            'registry-1.docker.io on 1.1.1.1:53: read udp 10.0.0.5:40000->1.1.1.1:53: i/o timeout')
    assert rank(text)[:2] == ["dns", "firewall"]
    private = text.replace("1.1.1.1", "10.0.0.2")
    assert rank(private)[1] != "firewall"


def test_a_certificate_of_the_operators_own_hosts_is_its_mistake_not_an_interceptor():
    # Go: "x509: certificate is valid for A, B, not C"; an interceptor shows its own names
    own = ('Error response from daemon: Head "https://ghcr.io/v2/acme/app/manifests/1.0": x509: '
           'certificate is valid for *.github.com, github.com, not ghcr.io')
    foreign = own.replace("*.github.com, github.com", "*.fortinet.com")
    mixed = own.replace("*.github.com, github.com", "*.github.com, fw.corp.example")
    assert rank(own)[0] == "tls"
    assert rank(foreign)[0] == "proxy" and rank(mixed)[0] == "proxy"


def test_a_stock_403_keeps_a_missing_repository_in_view():
    # distribution's makeError: any 403 reads "denied: <message>"
    stock = 'Error response from daemon: Head "https://r.example/v2/a/b/manifests/1": denied: access forbidden'
    assert rank(stock)[:2] == ["auth", "reference"]
    named = stock.replace("access forbidden", "access forbidden: token lacks scope repository:a/b:pull")
    assert "reference" not in rank(named)[:2]


def test_a_cloud_task_that_gets_nothing_through_is_its_route_or_security_group_not_a_proxy():
    # amazon-ecs-agent's CannotPullContainerError around dockerd's /v2/ ping timing out
    text = ('CannotPullContainerError: Error response from daemon: Get "https://123456789012.dkr.ecr.'
            'eu-west-1.amazonaws.com/v2/": net/http: request canceled while waiting for connection '
            '(Client.Timeout exceeded while awaiting headers)')
    assert rank(text)[:2] == ["reachability", "firewall"]


def test_a_refused_official_image_does_not_exist_but_harbors_library_project_may_be_private():
    hub = ('Error response from daemon: failed to resolve reference "docker.io/library/pyhton:3.12": '
           'unexpected status from HEAD request to https://registry-1.docker.io/v2/library/pyhton/'
           'manifests/3.12: 401 Unauthorized')
    assert rank(hub)[:2] == ["reference", "auth"]
    # wrong credentials are wrong credentials, whatever the image
    assert rank(hub.replace("401 Unauthorized", "401 Unauthorized: incorrect username or password"))[0] == "auth"
    harbor = ('Error response from daemon: failed to resolve reference "harbor.corp.example/library/app:1": '
              'unexpected status from HEAD request to https://harbor.corp.example/v2/library/app/manifests/1: '
              '401 Unauthorized')
    assert rank(harbor)[0] == "auth"


@pytest.mark.parametrize("text,first", [
    # Go before 1.9 (net/http transport): "http: error connecting to proxy URL: ERR"
    ("Error while pulling image: Get https://index.docker.io/v1/repositories/library/busybox/images: "
     "http: error connecting to proxy http://proxy.corp.example:3128: dial tcp 10.0.0.8:3128: "
     "getsockopt: connection refused", "proxy"),
    # typographic quotes around HTTPS_PROXY's value: net/url percent-encodes them, the resolver
    # gets them raw
    ('Error response from daemon: Get "https://registry-1.docker.io/v2/": proxyconnect tcp: dial tcp: '
     "lookup \u201dproxy.corp.example: no such host", "proxy"),
    # moby's v1 registry client (registry/session.go): "Error: Status %d trying to pull repository"
    ('Error: Status 403 trying to pull repository acme/app: "{\\"error\\": \\"Permission Denied\\"}"', "auth"),
    # a mirror that serves only the images on its list
    ("Error response from daemon: pull access denied for mirror.corp.example/acme/app, repository does "
     "not exist or may require 'docker login': denied: this image is not in the allowlist", "proxy"),
])
def test_proxy_and_mirror_phrasings_of_older_or_other_tools(text, first):
    assert rank(text)[0] == first
