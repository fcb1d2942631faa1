"""Pull errors as the programs that print them spell them, mapped to their cause.

Each entry is an error text built from the format strings of the source that prints it
(Go's net, net/http and crypto/x509; moby's distribution code; containerd's resolver;
distribution's registry client; containers/image; the kubelet), in the request it occurs
on (the /v2/ ping, the token endpoint, the manifest, a blob on a CDN host), with the
category explain must rank first and, for texts that several causes print alike, the
categories it must keep in its first three. It is knowledge taken from the sources, not
from the corpus of quoted errors, and tests/test_pullsources.py holds explain to it.

Sources (read at the commits of the mirrors noted; the strings are stable across the
versions named):
  GO-DIAL   golang/go src/net/net.go, dial.go (OpError: "dial tcp ADDR: connect: ..."),
            syscall texts "connection refused", "no route to host", "network is unreachable"
  GO-DNS    golang/go src/net/dnsclient_unix.go (errNoSuchHost "no such host",
            errServerMisbehaving, errCannotUnmarshalDNSMessage, errLameReferral),
            net/lookup.go (Go 1.5-1.7 lookupIPDeadline -> bare "i/o timeout"),
            net/lookup_windows.go ("getaddrinfow: " + WSA text)
  GO-HTTP   golang/go src/net/http/transport.go (tlsHandshakeTimeoutError "net/http: TLS
            handshake timeout", errRequestCanceledConn "net/http: request canceled while
            waiting for connection", CONNECT non-200 -> errors.New(status text),
            "proxyconnect" op, "malformed HTTP response", "server gave HTTP response to HTTPS
            client"), client.go ("(Client.Timeout exceeded while awaiting headers)" / "while
            reading body"), h2_bundle.go ("http2: server sent GOAWAY")
  GO-X509   golang/go src/crypto/x509/verify.go ("certificate signed by unknown authority",
            "certificate has expired or is not yet valid: current time T is after|before T",
            "certificate is valid for A, not B", "doesn't contain any IP SANs",
            "certificate relies on legacy Common Name field"), crypto/tls alert texts
  MOBY      moby/moby b985e23 daemon/containerd/registry_errors.go ("error from registry: %w"),
            daemon/internal/distribution (errors.go "pull access denied for
            %s, repository does not exist or may require 'docker login'", "manifest for %s
            not found", pull_v2.go "error pulling image configuration: ", "no matching
            manifest for %s in the manifest list entries", "filesystem layer verification
            failed for digest", xfer/download.go "failed to register layer: "),
            daemon/images/image.go "... does not match the specified platform ...",
            v1.13.1 registry/session.go "Network timed out while trying to connect to %s...",
            v19.03.15 daemon/graphdriver/devmapper/deviceset.go "devmapper: Thin Pool has ..."
  DIST      distribution/distribution 0d6b721 internal/client/errors.go (makeError: 401 ->
            "unauthorized: ...", 403 -> "denied: ...", 429 -> "toomanyrequests: ...";
            "received unexpected HTTP status: %s"; "error parsing HTTP %d response body: ..."),
            registry/api/errcode (lowercase code text, e.g. "manifest unknown")
  CTRD      containerd/containerd 301026e core/remotes/docker/resolver.go ("failed to resolve
            reference", "failed to do request: ", "pull access denied, repository does not
            exist or may require authorization: "), authorizer.go ("failed to fetch anonymous
            token: "), httpreadseeker.go ("httpReadSeeker: failed open: "),
            core/images/handlers.go ("no match for platform in manifest: not found"),
            core/unpack/unpacker.go ("number of layers and diffIDs don't match: %d != %d"),
            remotes/errors ("unexpected status from %s request to %s: %s")
  CIMAGE    containers/image df7e80d2 docker/docker_client.go ("pinging container registry %s: ",
            "reading manifest %s in %s: "), manifest/list ("choosing an image from manifest
            list %s: no image found in manifest list for architecture %s, variant %q, OS %s"),
            copy/single.go ("Unexpectedly received a manifest list instead of a manifest for a
            single image"), internal/manifest/errors.go ("unsupported image-specific operation
            on artifact with type %q", "invalid mixed OCI image with Docker v2s2 config (%q)")
  GO-WIN    golang/go src/syscall/zerrors_windows.go / the Winsock texts Go prints after
            "connectex:" / "wsarecv:" on Windows (WSAETIMEDOUT 10060 "A connection attempt failed
            because the connected party did not properly respond ...", WSAECONNREFUSED 10061 "No
            connection could be made because the target machine actively refused it",
            WSAECONNRESET 10054 "An existing connection was forcibly closed by the remote host",
            WSAEACCES 10013 "An attempt was made to access a socket in a way forbidden by its access
            permissions", WSAECONNABORTED 10053 "An established connection was aborted by the
            software in your host machine"); Linux connect(2)/sendmsg(2) EPERM "operation not
            permitted" when netfilter drops a locally generated packet
  CLIENT    the client's connection to its own daemon, not to a registry: moby/moby b985e23
            client/request.go ("failed to connect to the docker API at %v; check if the path is
            correct and if the daemon is running: %w", "permission denied while trying to connect
            to the docker API at %v", "in the default daemon configuration on Windows, the docker
            client must be run with elevated privileges to connect", "request returned %s for API
            route and version %s, check if the server supports the requested API version"),
            client/errors.go ("Cannot connect to the Docker daemon at %s. Is the docker daemon
            running?"), daemon/server/middleware/version.go ("client version %s is too old.
            Minimum supported API version is %s, ..."); v20.10.0 client/request.go
            (errors.Wrap(err, "error during connect"), "Got permission denied while trying to
            connect to the Docker daemon socket at %v"); docker-py docker/api/client.py
            ("Error while fetching server API version: {0}"); compose 1.x compose/cli/errors.py
            ("Couldn't connect to Docker daemon at %s - is it running?"); podman
            pkg/bindings/connection.go ("unable to connect to Podman socket: %w"); containerd
            301026e client/client.go ("failed to dial %q: %w"), docs/cri/crictl.md ("unknown service
            runtime.v1alpha2.RuntimeService" = a containerd config from a Docker install), grpc's
            "connection error: desc = \"transport: Error while dialing: dial unix ...\"" as the
            kubelet and crictl print a CRI endpoint that does not answer; docker/cli 28f7560
            cli/command/cli.go ("unable to resolve docker endpoint: %w"), cli/context/store
            ("context not found: %w")
  DAEMON    dockerd failing to start: moby daemon/daemon.go ("Error initializing network
            controller: %v"), layer/layer_store.go ("error initializing graphdriver: %v"),
            v20.10.0 daemon/graphdriver/driver.go ("%s contains several valid graphdrivers: %s;
            ..."), errors.go (ErrNotSupported "driver not supported"), daemon/command/daemon.go
            ("failed to start containerd"), daemon/images/image_pull.go ("error creating temporary
            lease"); containers/storage pkg/archive ("potentially insufficient UIDs or GIDs
            available in user namespace ..."); systemd's job texts for docker.service ("Dependency failed for %s", "Unit %s
            is masked.")
  KUBELET   kubernetes pkg/kubelet/images/image_manager.go ("Failed to pull image %q: %v",
            "Container image %q is not present with pull policy of Never"), helpers.go
            ("pull QPS exceeded"),
            ErrImagePull) wrapping the CRI's "rpc error: code = ... desc = ..."; kubelet >= 1.27
            events without the gRPC layer ("Failed to pull image %q: failed to pull and unpack ...")
  BUILDKIT  moby/buildkit 73ed682 client/solve.go ("failed to solve"), client/llb/sourceresolver/
            imageresolver.go ("failed to resolve source metadata for %s"), util/resolver/
            authorizer.go ("failed to fetch oauth token", "failed to fetch anonymous token"), its
            vendored containerd resolver ("failed to authorize: %w", "failed to do request: %w");
            containerd 301026e core/remotes/docker/authorizer.go ("server message: %s: %w" with
            ErrInvalidAuthorization "authorization failed"), resolver.go ("%s: %w" ErrNotFound),
            core/remotes/errors/errors.go ("unexpected status from %s request to %s: %s")
  CIMAGE2   containers/image df7e80d2 (podman, skopeo, buildah, CRI-O): copy/copy.go ("initializing
            source %s: %w", "copying system image from manifest list: %w"), docker/errors.go
            (ErrUnauthorizedForCredentials "unable to retrieve auth token: invalid username/password:
            %s", ErrTooManyRequests "too many requests to registry"), docker/docker_client.go
            ("fetching blob: %w"), docker/distribution_error.go ("received unexpected HTTP status: %s")
  ECS       aws/amazon-ecs-agent 8dfceca agent/api/errormessages/error_messages.go (the agent's
            augmented CannotPullContainerError: "The task can't pull the image. Check whether the
            image exists. %s" / "... Check that the role has the permissions to pull images from
            the registry. %s" / "... Check your network configuration. %s", and the ECR texts it
            matches: "denied: User: ... is not authorized to perform: ecr:BatchGetImage")
  REGBODY   registries' own refusal bodies, as their operators document them: Azure Container
            Registry's firewall (learn.microsoft.com container-registry-troubleshoot-access, "Error
            3: Denied, client is not allowed access": "client with IP '...' is not allowed access.
            Refer https://aka.ms/acr/firewall to grant access."); Google VPC Service Controls
            ("Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier");
            Harbor src/server/middleware/v2auth/auth.go ("unauthorized to access repository: %s,
            action: %s", only once the project was found)
  SYSTEMD   systemd's texts for a unit that does not start: systemctl ("Job for %s failed because
            the control process exited with error code."), the service manager's start rate limit
            ("%s: Start request repeated too quickly."), and its "Failed to start %s." journal line
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

HUB = 'Error response from daemon: Get "https://registry-1.docker.io/v2/": '
HUB_OLD = "Error response from daemon: Get https://registry-1.docker.io/v2/: "
CDN_BLOB = ('error pulling image configuration: download failed after attempts=6: Get '
            '"https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/'
            'sha256/3d/3db6/data?verify=1": ')
PRIVATE = 'Error response from daemon: Get "https://registry.corp.example:5000/v2/": '
BK_META = "ERROR: failed to solve: failed to resolve source metadata for "
CTRD_HEAD = ('rpc error: code = Unknown desc = failed to pull and unpack image '
             '"docker.io/library/redis:7": failed to resolve reference "docker.io/library/redis:7": '
             'failed to do request: Head "https://registry-1.docker.io/v2/library/redis/manifests/7": ')


@dataclass(frozen=True)
class SourceText:
    text: str
    category: str            # what explain must rank first
    request: str             # which request of the pull printed it
    source: str              # key of the module doc's source list
    also: Tuple[str, ...] = ()   # for texts several causes print alike: kept in the first three


SOURCE_TEXTS: Tuple[SourceText, ...] = (
    # ---- name resolution (GO-DNS): before any connection
    SourceText(HUB_OLD + "dial tcp: lookup registry-1.docker.io on 10.0.2.3:53: read udp "
               "10.0.2.15:43795->10.0.2.3:53: i/o timeout", "dns", "/v2/ ping", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: server misbehaving",
               "dns", "/v2/ ping", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: cannot unmarshal "
               "DNS message", "dns", "/v2/ ping", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io: getaddrinfow: This is usually a "
               "temporary error during hostname resolution and means that the local server did "
               "not receive a response from an authoritative server.", "dns", "/v2/ ping", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io: Temporary failure in name resolution",
               "dns", "/v2/ ping", "GO-DNS"),
    SourceText(PRIVATE + "dial tcp: lookup registry.corp.example on 192.168.1.1:53: no such host",
               "dns", "/v2/ ping", "GO-DNS", also=("reference",)),
    # NXDOMAIN for a name that exists everywhere: an internal-only resolver (proxy networks)
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 10.10.0.2:53: no such host",
               "proxy", "/v2/ ping", "GO-DNS", also=("dns",)),
    # Go 1.5-1.7: the lookup outlived the dial deadline -> bare errTimeout, no address
    SourceText("Error response from daemon: Get https://registry-1.docker.io/v2/: dial tcp: i/o timeout",
               "dns", "/v2/ ping", "GO-DNS", also=("proxy",)),
    SourceText("Error while pulling image: Network timed out while trying to connect to "
               "https://index.docker.io/v1/repositories/library/busybox/images. You may want to "
               "check your internet connection or if you are behind a proxy.",
               "dns", "v1 index images (Docker 1.x, Go <= 1.7)", "MOBY", also=("proxy", "reachability")),
    # ---- connection (GO-DIAL): the address is known
    SourceText(PRIVATE + "dial tcp 10.1.2.3:5000: i/o timeout", "firewall", "/v2/ ping", "GO-DIAL"),
    SourceText(PRIVATE + "dial tcp 10.1.2.3:5000: connect: connection refused", "reachability",
               "/v2/ ping", "GO-DIAL", also=("firewall",)),
    SourceText(HUB + "dial tcp 44.205.64.79:443: connect: connection refused", "firewall",
               "/v2/ ping", "GO-DIAL", also=("proxy",)),
    SourceText(HUB + "dial tcp 44.205.64.79:443: connect: no route to host", "firewall",
               "/v2/ ping", "GO-DIAL", also=("reachability",)),
    SourceText(HUB + "dial tcp [2600:1f18:2148:bc02::1]:443: connect: network is unreachable",
               "reachability", "/v2/ ping", "GO-DIAL"),
    SourceText(CTRD_HEAD + "dial tcp 44.205.64.79:443: i/o timeout", "proxy", "manifest HEAD (containerd)",
               "CTRD", also=("firewall",)),
    # ---- proxy (GO-HTTP): the daemon talks to a proxy
    SourceText(HUB + "proxyconnect tcp: dial tcp 10.0.0.8:3128: connect: connection refused",
               "proxy", "CONNECT to the proxy", "GO-HTTP"),
    SourceText(HUB + "proxyconnect tcp: dial tcp: lookup proxy.corp.example on 127.0.0.53:53: no such host",
               "proxy", "CONNECT to the proxy", "GO-HTTP"),
    SourceText(HUB + "proxyconnect tcp: tls: first record does not look like a TLS handshake",
               "proxy", "CONNECT to the proxy", "GO-HTTP"),
    SourceText(HUB + "Proxy Authentication Required", "proxy", "CONNECT answered 407", "GO-HTTP"),
    SourceText(HUB + "Unauthorized", "proxy", "CONNECT answered 401", "GO-HTTP"),
    SourceText(HUB + "Forbidden", "proxy", "CONNECT answered 403", "GO-HTTP"),
    SourceText(HUB + "Bad Gateway", "proxy", "CONNECT answered 502", "GO-HTTP"),
    SourceText("Error response from daemon: error parsing HTTP 407 response body: invalid character "
               "'<' looking for beginning of value: \"<html><head><title>407 Proxy Authentication "
               "Required</title></head></html>\"", "proxy", "any request, HTML from a proxy", "DIST"),
    # Go < 1.9 had no "proxyconnect" op: a failed proxy dial printed the registry's URL with the
    # proxy's port or name
    SourceText(HUB_OLD + "dial tcp 10.0.0.8:3128: i/o timeout", "proxy", "dial to the proxy (Go < 1.9)", "GO-HTTP"),
    SourceText(HUB_OLD + "dial tcp: lookup proxy.corp.example on 10.0.0.2:53: no such host",
               "proxy", "dial to the proxy (Go < 1.9)", "GO-HTTP", also=("dns",)),
    # a public registry's name dialed at loopback: /etc/hosts or a DNS filter
    SourceText(HUB + "dial tcp 127.0.0.1:443: connect: connection refused", "dns", "/v2/ ping", "GO-DIAL"),
    SourceText(HUB + "dial tcp 0.0.0.0:443: connect: connection refused", "dns", "/v2/ ping", "GO-DIAL"),
    # a target inside dockerd's default pools (moby daemon/libnetwork/ipamutils/utils.go)
    SourceText('Error response from daemon: Get "https://registry.corp.example/v2/": dial tcp '
               '172.20.1.10:443: connect: no route to host', "daemon", "/v2/ ping", "GO-DIAL",
               also=("firewall",)),
    SourceText(HUB + "proxyconnect tcp: dial tcp 172.17.10.5:3128: connect: no route to host",
               "proxy", "CONNECT to the proxy", "GO-HTTP", also=("daemon",)),
    # plain HTTP on a public registry's 443: something in the path answered
    SourceText(HUB + "http: server gave HTTP response to HTTPS client", "proxy", "/v2/ ping", "GO-HTTP",
               also=("tls",)),
    # ---- TLS (GO-X509, crypto/tls)
    SourceText(PRIVATE + "x509: certificate signed by unknown authority", "tls", "/v2/ ping", "GO-X509"),
    SourceText(HUB + "tls: failed to verify certificate: x509: certificate signed by unknown authority",
               "proxy", "/v2/ ping", "GO-X509", also=("tls",)),
    SourceText(PRIVATE + "x509: certificate is valid for registry.example.com, not "
               "registry.corp.example", "tls", "/v2/ ping", "GO-X509"),
    SourceText('Error response from daemon: Get "https://10.1.2.3:5000/v2/": x509: cannot validate '
               "certificate for 10.1.2.3 because it doesn't contain any IP SANs", "tls", "/v2/ ping", "GO-X509"),
    SourceText(PRIVATE + "x509: certificate relies on legacy Common Name field, use SANs instead",
               "tls", "/v2/ ping", "GO-X509"),
    SourceText(PRIVATE + "x509: certificate has expired or is not yet valid: current time "
               "2026-12-04T10:00:00Z is after 2026-11-30T23:59:59Z", "tls", "/v2/ ping", "GO-X509",
               also=("time",)),
    SourceText(HUB + "x509: certificate has expired or is not yet valid: current time "
               "2019-01-01T00:00:05Z is before 2026-07-08T01:10:17Z", "time", "/v2/ ping", "GO-X509"),
    SourceText(PRIVATE + "http: server gave HTTP response to HTTPS client", "tls", "/v2/ ping", "GO-HTTP"),
    SourceText(PRIVATE + "remote error: tls: bad certificate", "tls", "/v2/ ping", "GO-X509",
               also=("proxy",)),
    SourceText(HUB + "remote error: tls: bad certificate", "proxy", "/v2/ ping", "GO-X509", also=("tls",)),
    SourceText('Error response from daemon: Get "http://registry.corp.example:443/v2/": net/http: '
               'HTTP/1.x transport connection broken: malformed HTTP response "\\x15\\x03\\x01\\x00\\x02\\x02"',
               "tls", "/v2/ over plain HTTP", "GO-HTTP"),
    # ---- timeouts after the connection (GO-HTTP): which request tells the most
    SourceText(HUB + "net/http: TLS handshake timeout", "proxy", "/v2/ ping",
               "GO-HTTP", also=("reachability", "firewall")),
    SourceText(HUB + "net/http: request canceled while waiting for connection (Client.Timeout "
               "exceeded while awaiting headers)", "proxy", "/v2/ ping", "GO-HTTP",
               also=("reachability", "firewall")),
    SourceText(CDN_BLOB + "net/http: TLS handshake timeout", "mtu", "blob on the CDN (after the "
               "registry answered)", "GO-HTTP", also=("reachability",)),
    SourceText('Error response from daemon: Get "https://registry-1.docker.io/v2/acme/app/blobs/sha256:'
               'aa": net/http: TLS handshake timeout', "reachability", "blob on the registry host",
               "GO-HTTP", also=("mtu",)),
    SourceText("failed to copy: httpReadSeeker: failed open: failed to do request: Get "
               "\"https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/"
               "sha256/aa/aa/data\": read tcp 10.0.0.5:51234->104.16.1.1:443: read: connection "
               "reset by peer", "reachability", "blob on the CDN (containerd)", "CTRD", also=("mtu",)),
    SourceText("Download failed, retrying (2/5): net/http: request canceled (Client.Timeout "
               "exceeded while reading body)", "mtu", "layer body", "GO-HTTP", also=("reachability",)),
    SourceText(HUB + "http2: server sent GOAWAY and closed the connection; LastStreamID=1999, "
               "ErrCode=NO_ERROR, debug=\"\"", "reachability", "/v2/ ping", "GO-HTTP", also=("proxy",)),
    # ---- the registry answered (DIST, MOBY, CTRD)
    SourceText("Error response from daemon: Get \"https://registry-1.docker.io/v2/library/nginx/"
               "manifests/latest\": unauthorized: incorrect username or password", "auth",
               "manifest", "DIST"),
    SourceText("Error response from daemon: Head \"https://ghcr.io/v2/acme/app/manifests/1.0\": "
               "unauthorized", "auth", "manifest HEAD", "DIST"),
    SourceText("Error response from daemon: Get \"https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/"
               "v2/app/manifests/1.0\": no basic auth credentials", "auth", "manifest", "MOBY"),
    SourceText("Error response from daemon: pull access denied for acme/aplication, repository does "
               "not exist or may require 'docker login': denied: requested access to the resource "
               "is denied", "reference", "manifest (Docker Hub)", "MOBY", also=("auth",)),
    SourceText("Error response from daemon: pull access denied for registry.corp.example/acme/app, "
               "repository does not exist or may require 'docker login': denied: requested access "
               "to the resource is denied", "auth", "manifest (private registry)", "MOBY",
               also=("reference",)),
    SourceText('Error response from daemon: Head "https://ghcr.io/v2/acme/app/manifests/1": denied: '
               'permission_denied: The token provided does not match expected scopes.', "auth",
               "manifest HEAD (403 with a message)", "DIST"),
    SourceText("Error response from daemon: error from registry: authentication required - "
               "incorrect username or password", "auth", "manifest (containerd image store)", "MOBY"),
    SourceText("Error response from daemon: toomanyrequests: You have reached your pull rate limit. "
               "You may increase the limit by authenticating and upgrading: "
               "https://www.docker.com/increase-rate-limit", "ratelimit", "manifest", "DIST"),
    SourceText("Error response from daemon: manifest for acme/app:1.0 not found: manifest unknown: "
               "manifest unknown", "reference", "manifest", "MOBY"),
    SourceText(CTRD_HEAD.replace('failed to do request: Head "https://registry-1.docker.io/v2/library/'
                                 'redis/manifests/7": ', "docker.io/library/redis:7: not found"),
               "reference", "manifest (containerd)", "CTRD"),
    SourceText("Error: initializing source docker://quay.io/acme/app:1.0: reading manifest 1.0 in "
               "quay.io/acme/app: manifest unknown", "reference", "manifest (podman)", "CIMAGE"),
    SourceText("Error response from daemon: received unexpected HTTP status: 503 Service Unavailable",
               "reachability", "manifest", "DIST"),
    SourceText("error pulling image configuration: download failed after attempts=1: unknown blob",
               "reference", "blob", "MOBY"),
    # ---- platform (MOBY, CTRD, CIMAGE)
    SourceText("Error response from daemon: no matching manifest for linux/arm64/v8 in the manifest "
               "list entries", "arch", "manifest list", "MOBY"),
    SourceText("Error response from daemon: image with reference acme/app:1.0 was found but its "
               "platform (linux/amd64) does not match the specified platform (linux/arm64)",
               "arch", "local image", "MOBY"),
    SourceText("ctr: failed to unpack image on snapshotter overlayfs: no match for platform in "
               "manifest: not found", "arch", "manifest list (containerd)", "CTRD"),
    SourceText("Error: choosing an image from manifest list docker://acme/app:1.0: no image found "
               "in manifest list for architecture arm64, variant \"v8\", OS linux", "arch",
               "manifest list (podman)", "CIMAGE"),
    SourceText('Error: choosing an image from manifest list docker://acme/app:1.0: no image found in '
               'image index for architecture "arm64", variant "v8", OS "linux"', "arch",
               "OCI index (podman, containers/image df7e80d2 internal/manifest/oci_index.go)", "CIMAGE"),
    SourceText("Error: copying system image from manifest list: Unexpectedly received a manifest "
               "list instead of a manifest for a single image", "arch", "manifest list", "CIMAGE"),
    SourceText('Error: parsing image configuration: unsupported image-specific operation on artifact '
               'with type "application/vnd.cncf.helm.config.v1+json"', "reference", "manifest",
               "CIMAGE"),
    SourceText('failed to pull and unpack image "docker.io/acme/app:1": failed to unpack image on '
               "snapshotter overlayfs: number of layers and diffIDs don't match: 3 != 15", "daemon",
               "unpack", "CTRD"),
    SourceText("exec /usr/local/bin/app: exec format error", "arch", "container start", "MOBY"),
    # ---- local storage (MOBY)
    SourceText("failed to register layer: Error processing tar file(exit status 1): write "
               "/usr/lib/x86_64-linux-gnu/libLLVM.so: no space left on device", "disk", "layer extract", "MOBY"),
    SourceText("failed to register layer: devmapper: Thin Pool has 162 free data blocks which is "
               "less than minimum required 163 free data blocks. Create more free space in thin "
               "pool or use dm.min_free_space option to change behavior", "disk", "layer extract", "MOBY"),
    SourceText("filesystem layer verification failed for digest sha256:3db6", "disk", "layer", "MOBY",
               also=("proxy",)),
    SourceText("failed to register layer: Error processing tar file(exit status 1): unexpected EOF",
               "disk", "layer extract (after the digest was verified)", "MOBY", also=("reachability",)),
    SourceText("open /var/lib/docker/tmp/GetImageBlob123456789: no such file or directory",
               "daemon", "blob download to DOCKER_TMPDIR", "MOBY"),
    SourceText("error during connect: This error may indicate that the docker daemon is not "
               "running.: Get \"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/images/create\": open "
               "//./pipe/docker_engine: The system cannot find the file specified.", "daemon",
               "the CLI's API call", "MOBY"),
    SourceText("Error response from daemon: No such image: acme/app:1.0", "reference", "local image", "MOBY"),
    SourceText("Error response from daemon: unknown: artifact library/app:1.0 not found", "reference",
               "manifest (Harbor)", "DIST"),
    SourceText(HUB + "x509: certificate is valid for *.fortinet.com, not registry-1.docker.io",
               "proxy", "/v2/ ping", "GO-X509", also=("tls",)),
    SourceText('Error response from daemon: failed to resolve reference "docker.io/acme/app:1": pull '
               "access denied, repository does not exist or may require authorization: server "
               "message: insufficient_scope: authorization failed", "reference",
               "manifest (containerd image store)", "CTRD", also=("auth",)),
    SourceText("Error response from daemon: client version 1.41 is too new. Maximum supported API "
               "version is 1.40", "daemon", "the CLI's API call", "MOBY"),
    SourceText("Error response from daemon: layer does not exist", "disk", "local layer store", "MOBY"),
    SourceText('Failed to pull image "nginx": rpc error: code = Unknown desc = failed to pull and '
               'unpack image "docker.io/library/nginx:latest": failed to copy: httpReadSeeker: failed '
               'open: failed to do request: Get "https://production.cloudflare.docker.com/registry-v2/'
               'docker/registry/v2/blobs/sha256/aa/aa/data": dial tcp 104.18.1.1:443: i/o timeout',
               "firewall", "blob on the CDN via kubelet", "CTRD", also=("proxy",)),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 10.0.0.2:53: server misbehaving",
               "dns", "/v2/ ping", "GO-DNS", also=("proxy",)),
    SourceText('Error: short-name "nginx" did not resolve to an alias and no unqualified-search '
               'registries are defined in "/etc/containers/registries.conf"', "reference",
               "name resolution (podman)", "CIMAGE"),
    SourceText('Error: copying system image from manifest list: writing blob: storing blob to file '
               '"/var/tmp/storage123/1": happened during read: unexpected EOF', "reachability",
               "blob body (podman)", "CIMAGE", also=("mtu",)),
    SourceText('CannotPullContainerError: inspect image has been retried 5 time(s): failed to resolve '
               'ref "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest": 123456789012.dkr.ecr.'
               'us-east-1.amazonaws.com/app:latest: not found', "reference", "manifest via ECS", "CTRD"),
    SourceText('Failed to pull image "nginx:1.25": pull QPS exceeded', "ratelimit",
               "the kubelet's own throttle", "KUBELET"),
    SourceText('Container image "acme/app:1" is not present with pull policy of Never', "reference",
               "none (pull forbidden)", "KUBELET"),
    SourceText('failed to pull and unpack image "docker.io/library/nginx:latest": failed to copy: '
               'failed commit on ref "layer-sha256:abc": commit failed: unexpected commit size 1234, '
               'expected 5678: failed precondition', "reachability", "blob body (containerd)", "CTRD",
               also=("mtu", "proxy")),
    SourceText("a3ed95caeb02: Downloading  112.4MB/498.2MB\nunauthorized: authentication required",
               "time", "a layer, after the manifest was fetched with the same token", "DIST", also=("auth",)),
    SourceText("FATA[0000] Post http:///var/run/docker.sock/v1.17/images/create: dial unix "
               "/var/run/docker.sock: no such file or directory. Are you trying to connect to a "
               "TLS-enabled daemon without TLS?", "daemon", "the CLI's API call (Docker 1.x)", "MOBY"),
    SourceText("Cannot connect to the Docker daemon at http://docker.example.com. Is the docker "
               "daemon running?", "daemon", "the CLI's API call over an ssh:// context", "MOBY",
               also=("ssh",)),
    SourceText("failed to register layer: rename /var/lib/docker/image/overlay2/layerdb/tmp/"
               "write-set-2113702532 /var/lib/docker/image/overlay2/layerdb/sha256/5575: file exists",
               "daemon", "layer metadata commit", "MOBY"),
    # ---- wrappers around the same daemon text (KUBELET, ECS)
    SourceText('Failed to pull image "registry.corp.example:5000/app:1": rpc error: code = Unknown '
               'desc = failed to pull and unpack image "registry.corp.example:5000/app:1": failed '
               'to resolve reference "registry.corp.example:5000/app:1": failed to do request: Head '
               '"https://registry.corp.example:5000/v2/app/manifests/1": x509: certificate signed '
               'by unknown authority', "tls", "manifest HEAD via kubelet", "KUBELET"),
    SourceText("CannotPullContainerError: Error response from daemon: pull access denied for "
               "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app, repository does not exist or may "
               "require 'docker login': denied: Your authorization token has expired. "
               "Reauthenticate and try again.", "auth", "manifest via ECS", "MOBY"),
    # ---- the client cannot reach its own daemon or runtime (CLIENT): every transport to it
    # unix socket, Windows pipe, tcp, rootless, podman, Docker Desktop, the CRI socket
    SourceText('failed to connect to the docker API at unix:///var/run/docker.sock; check if the '
               'path is correct and if the daemon is running: dial unix /var/run/docker.sock: '
               'connect: no such file or directory', "daemon", "the CLI's API call (Docker 28+)", "CLIENT"),
    SourceText('Cannot connect to the Docker daemon at unix:///run/user/1000/docker.sock. Is the '
               'docker daemon running?', "daemon", "the CLI's API call (rootless dockerd)", "CLIENT"),
    SourceText('error during connect: Post "http://%2F%2F.%2Fpipe%2FdockerDesktopLinuxEngine/v1.46/'
               'images/create?fromImage=nginx&tag=latest": open //./pipe/dockerDesktopLinuxEngine: '
               'The system cannot find the file specified.', "daemon",
               "the CLI's API call (Docker Desktop pipe)", "CLIENT"),
    SourceText('error during connect: Post "http://192.168.99.100:2376/v1.30/images/create?'
               'fromImage=nginx": dial tcp 192.168.99.100:2376: connectex: A connection attempt '
               'failed because the connected party did not properly respond after a period of '
               'time', "daemon", "the CLI's API call (tcp DOCKER_HOST)", "CLIENT"),
    SourceText('Post "http://%2Fvar%2Frun%2Fdocker.sock/v1.41/images/create?fromImage=alpine&'
               'tag=latest": dial unix /var/run/docker.sock: connect: connection refused', "daemon",
               "an SDK's API call (stale socket)", "CLIENT"),
    SourceText("Error response from daemon: dial unix docker.raw.sock: connect: connection refused",
               "daemon", "Docker Desktop's API proxy to its engine", "CLIENT"),
    SourceText('permission denied while trying to connect to the docker API at '
               'unix:///var/run/docker.sock', "daemon", "the CLI's API call (Docker 28+)", "CLIENT"),
    SourceText('Got permission denied while trying to connect to the Docker daemon socket at '
               'npipe:////./pipe/docker_engine: Post "http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.40/'
               'images/create?fromImage=nginx": open //./pipe/docker_engine: Access is denied.',
               "daemon", "the CLI's API call (Windows pipe)", "CLIENT"),
    SourceText('unable to resolve docker endpoint: context "desktop-linux": context not found: open '
               '/home/me/.docker/contexts/meta/fe9c6bd7/meta.json: no such file or directory', "daemon",
               "the CLI choosing its daemon (docker/cli cli/command/cli.go)", "CLIENT"),
    SourceText("docker.errors.DockerException: Error while fetching server API version: "
               "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))",
               "daemon", "docker-py's version probe", "CLIENT"),
    SourceText("docker.errors.DockerException: Error while fetching server API version: "
               "('Connection aborted.', PermissionError(13, 'Permission denied'))",
               "daemon", "docker-py's version probe", "CLIENT"),
    SourceText("ERROR: Couldn't connect to Docker daemon at http+docker://localhost - is it "
               "running?\n\nIf it's at a non-standard location, specify the URL with the "
               "DOCKER_HOST environment variable.", "daemon", "compose 1.x's API call", "CLIENT"),
    SourceText('Error: unable to connect to Podman socket: Get "http://d/v4.3.1/libpod/_ping": dial '
               'unix ///run/user/1000/podman/podman.sock: connect: no such file or directory',
               "daemon", "podman remote's ping", "CLIENT"),
    SourceText("Error response from daemon: client version 1.24 is too old. Minimum supported API "
               "version is 1.44, please upgrade your client to a newer version", "daemon",
               "any API call (SDK older than the daemon's minimum)", "CLIENT"),
    SourceText('request returned Internal Server Error for API route and version '
               'http://%2F%2F.%2Fpipe%2FdockerDesktopLinuxEngine/v1.45/images/create?fromImage=nginx, '
               'check if the server supports the requested API version', "daemon",
               "the CLI's API call (engine not serving)", "CLIENT"),
    SourceText('ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded',
               "daemon", "ctr's connection to containerd", "CLIENT"),
    SourceText('Failed to pull image "nginx": rpc error: code = Unavailable desc = connection error: '
               'desc = "transport: Error while dialing dial unix /var/run/crio/crio.sock: connect: '
               'connection refused"', "daemon", "the kubelet's CRI image service", "CLIENT"),
    SourceText('validate service connection: validate CRI v1 image API for endpoint '
               '"unix:///run/containerd/containerd.sock": rpc error: code = Unimplemented desc = '
               'unknown service runtime.v1.ImageService', "daemon",
               "crictl's CRI probe (cri plugin disabled)", "CLIENT"),
    SourceText('docker: Error response from daemon: error creating temporary lease: connection '
               'error: desc = "transport: Error while dialing: dial unix:///run/containerd/'
               'containerd.sock: timeout": unavailable.', "daemon", "dockerd's pull lease in containerd",
               "DAEMON"),
    # ---- dockerd itself did not start (DAEMON)
    SourceText("failed to start daemon: error initializing graphdriver: driver not supported",
               "daemon", "dockerd start-up", "DAEMON"),
    SourceText("Error starting daemon: error initializing graphdriver: /var/lib/docker contains "
               "several valid graphdrivers: aufs, overlay2; Please cleanup or explicitly choose "
               "storage driver (-s <DRIVER>)", "daemon", "dockerd start-up", "DAEMON"),
    SourceText("failed to start daemon: Error initializing network controller: list bridge "
               "addresses failed: no available network", "daemon", "dockerd start-up", "DAEMON"),
    SourceText("Failed to start docker.service: Unit docker.service is masked.", "daemon",
               "systemctl start docker", "DAEMON"),
    SourceText("Dependency failed for Docker Application Container Engine.", "daemon",
               "systemd start job for docker.service", "DAEMON"),
    # ---- the same dial errors as Windows and the host's own firewall print them (GO-WIN)
    SourceText(HUB + "dial tcp 44.205.64.79:443: connectex: A connection attempt failed because the "
               "connected party did not properly respond after a period of time, or established "
               "connection failed because connected host has failed to respond.", "proxy", "/v2/ ping",
               "GO-WIN", also=("firewall",)),
    SourceText(PRIVATE + "dial tcp 10.1.2.3:5000: connectex: A connection attempt failed because the "
               "connected party did not properly respond after a period of time", "firewall",
               "/v2/ ping", "GO-WIN"),
    SourceText(HUB + "dial tcp 44.205.64.79:443: connectex: No connection could be made because the "
               "target machine actively refused it.", "firewall", "/v2/ ping", "GO-WIN"),
    SourceText(HUB + "read tcp 10.0.0.5:51234->44.205.64.79:443: wsarecv: An existing connection was "
               "forcibly closed by the remote host.", "proxy", "/v2/ ping", "GO-WIN",
               also=("reachability", "firewall")),
    SourceText(HUB + "dial tcp 44.205.64.79:443: connectex: An attempt was made to access a socket in "
               "a way forbidden by its access permissions.", "firewall", "/v2/ ping", "GO-WIN"),
    SourceText(HUB + "read tcp 10.0.0.5:51234->44.205.64.79:443: wsarecv: An established connection "
               "was aborted by the software in your host machine.", "firewall", "/v2/ ping", "GO-WIN"),
    SourceText(HUB + "dial tcp 44.205.64.79:443: connect: operation not permitted", "firewall",
               "/v2/ ping", "GO-WIN"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 10.0.0.2:53: write udp "
               "10.0.0.5:40000->10.0.0.2:53: write: operation not permitted", "firewall",
               "name lookup", "GO-WIN", also=("dns",)),
    # ---- a blob host closing the connection at once: an allowlist without it (GO-HTTP, CTRD)
    SourceText('failed to copy: httpReadSeeker: failed open: failed to do request: Get '
               '"https://weumanaged1.blob.core.windows.net/abc/docker/registry/v2/blobs/sha256/fd/'
               'fd01/data?se=2026-01-01": EOF', "firewall", "blob GET on the registry's storage host",
               "CTRD", also=("proxy",)),
    # ---- a resolver that is a VM's / container's forwarder (GO-DNS)
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 192.168.65.7:53: no such host",
               "dns", "/v2/ ping (Docker Desktop VM)", "GO-DNS"),
    SourceText(CTRD_HEAD + "dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: no such host",
               "dns", "manifest HEAD (inside a container)", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 10.0.0.2:53: read udp "
               "10.0.0.5:40000->10.0.0.2:53: read: no route to host", "dns", "name lookup", "GO-DNS"),
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io: operation was canceled", "dns",
               "name lookup", "GO-DNS"),
    # ---- the proxy everyone else reaches has no route from this host (GO-HTTP, MOBY)
    SourceText(HUB + "proxyconnect tcp: dial tcp 10.20.30.40:3128: connect: no route to host", "proxy",
               "CONNECT to the proxy", "GO-HTTP", also=("daemon",)),
    # ---- every status a proxy answers CONNECT with, as Go's bare status text (GO-HTTP)
    SourceText(HUB + "Internal Server Error", "proxy", "CONNECT answered 500", "GO-HTTP"),
    SourceText(PRIVATE + "Bad Request", "proxy", "CONNECT answered 400", "GO-HTTP"),
    SourceText(HUB + "Network Authentication Required", "proxy", "CONNECT answered 511 (captive portal)",
               "GO-HTTP"),
    # ---- a proxy URL that does not parse (golang.org/x/net/http/httpproxy, net/url)
    SourceText(HUB + 'invalid proxy address "proxy.corp.example:3128": parse "proxy.corp.example:3128": '
               'first path segment in URL cannot contain colon', "proxy", "proxy from the environment",
               "GO-HTTP"),
    SourceText('Error response from daemon: parse "http://user:p@ss#1@proxy.corp.example:3128": '
               'net/url: invalid userinfo', "proxy", "proxy from the environment", "GO-HTTP"),
    # ---- the storage driver, as dockerd reports it at start or when mounting a layer (DAEMON:
    # moby v20.10.0 daemon/graphdriver/overlayutils/overlayutils.go, overlay2/overlay.go)
    SourceText("overlay2: the backing xfs filesystem is formatted without d_type support, which leads "
               "to incorrect behavior. Reformat the filesystem with ftype=1 to enable d_type support.",
               "daemon", "dockerd start-up", "DAEMON"),
    SourceText("failed to register layer: error creating overlay mount to /var/lib/docker/overlay2/"
               "0123/merged: invalid argument", "daemon", "layer mount", "DAEMON", also=("disk",)),
    SourceText('failed to dial "/var/run/crio/crio.sock": context deadline exceeded', "daemon",
               "a CRI client's connection to CRI-O", "CLIENT"),
    SourceText('Error: writing blob: adding layer with blob "sha256:0123": ApplyLayer exit status 1 '
               'stdout:  stderr: potentially insufficient UIDs or GIDs available in user namespace '
               '(requested 0:42 for /etc/gshadow): Check /etc/subuid and /etc/subgid: lchown '
               '/etc/gshadow: invalid argument', "daemon", "layer unpack (rootless podman)", "DAEMON"),
    SourceText("failed to register layer: ApplyLayer exit status 1 stdout:  stderr: mknod /dev/null: "
               "operation not permitted", "daemon", "layer unpack (unprivileged container)", "DAEMON"),
    # ---- an IPv6 destination on a host that cannot send IPv6 (GO-DIAL: EADDRNOTAVAIL)
    SourceText(HUB + "dial tcp [2600:1f18:2148:bc02::1]:443: connect: cannot assign requested address",
               "reachability", "/v2/ ping", "GO-DIAL"),
    # ---- BuildKit / buildx: the same resolver behind "failed to solve" (BUILDKIT)
    SourceText(BK_META + 'docker.io/library/node:18-alpine: failed to authorize: failed to fetch oauth '
               'token: unexpected status from POST request to https://auth.docker.io/token: 401 Unauthorized',
               "auth", "token POST with credentials", "BUILDKIT"),
    SourceText(BK_META + "docker.io/acme/aplication:1.0: pull access denied, repository does not exist "
               "or may require authorization: server message: insufficient_scope: authorization failed",
               "reference", "manifest (Docker Hub, token without the repository)", "BUILDKIT", also=("auth",)),
    SourceText(BK_META + "docker.io/library/nginx:1.99: docker.io/library/nginx:1.99: not found",
               "reference", "manifest HEAD (404)", "BUILDKIT"),
    SourceText(BK_META + "docker.io/acme/app:1.0: no match for platform in manifest "
               "sha256:0123456789abcdef: not found", "arch", "manifest list", "BUILDKIT"),
    SourceText(BK_META + 'docker.io/library/alpine:3.19: failed to authorize: failed to fetch anonymous '
               'token: Get "https://auth.docker.io/token?scope=repository%3Alibrary%2Falpine%3Apull&'
               'service=registry.docker.io": dial tcp 3.216.34.172:443: i/o timeout', "proxy",
               "anonymous token GET", "BUILDKIT", also=("firewall",)),
    SourceText(BK_META + 'registry.corp.example/acme/app:1.0: failed to do request: Head "https://'
               'registry.corp.example/v2/acme/app/manifests/1.0": tls: failed to verify certificate: x509: '
               'certificate signed by unknown authority', "tls", "manifest HEAD", "BUILDKIT"),
    SourceText(BK_META + "docker.io/library/python:3.12: failed to copy: httpReadSeeker: failed open: "
               "unexpected status from GET request to https://registry-1.docker.io/v2/library/python/"
               "manifests/sha256:0123: 429 Too Many Requests", "ratelimit", "manifest GET", "BUILDKIT"),
    SourceText(BK_META + "registry.corp.example/acme/app:1.0: unexpected status from HEAD request to "
               "https://registry.corp.example/v2/acme/app/manifests/1.0: 403 Forbidden", "auth",
               "manifest HEAD (403)", "BUILDKIT"),
    SourceText("failed to copy: httpReadSeeker: failed open: unexpected status from GET request to "
               "https://registry.corp.example/v2/acme/app/blobs/sha256:0123: 503 Service Unavailable",
               "reachability", "blob GET", "BUILDKIT"),
    # ---- the kubelet's events around containerd's resolver (KUBELET, CTRD)
    SourceText('Failed to pull image "nginx:1.99": rpc error: code = NotFound desc = failed to pull and '
               'unpack image "docker.io/library/nginx:1.99": failed to resolve reference '
               '"docker.io/library/nginx:1.99": docker.io/library/nginx:1.99: not found', "reference",
               "manifest HEAD (404)", "KUBELET"),
    SourceText('Failed to pull image "acme/aplication:1.0": failed to pull and unpack image '
               '"docker.io/acme/aplication:1.0": failed to resolve reference "docker.io/acme/aplication:1.0": '
               'pull access denied, repository does not exist or may require authorization: server '
               'message: insufficient_scope: authorization failed', "reference",
               "manifest (Docker Hub), kubelet >= 1.27", "KUBELET", also=("auth",)),
    SourceText('Failed to pull image "registry.corp.example/acme/app:1.0": rpc error: code = Unknown desc = '
               'failed to pull and unpack image "registry.corp.example/acme/app:1.0": failed to resolve '
               'reference "registry.corp.example/acme/app:1.0": failed to authorize: failed to fetch oauth '
               'token: unexpected status from POST request to https://registry.corp.example/service/token: '
               '401 Unauthorized', "auth", "token POST", "KUBELET"),
    SourceText('Failed to pull image "registry.corp.example/acme/app:1.0": rpc error: code = Unknown desc = '
               'failed to pull and unpack image "registry.corp.example/acme/app:1.0": failed to resolve '
               'reference "registry.corp.example/acme/app:1.0": failed to do request: Head "https://'
               'registry.corp.example/v2/acme/app/manifests/1.0": dial tcp: lookup registry.corp.example on '
               '10.0.0.2:53: server misbehaving', "dns", "manifest HEAD", "KUBELET"),
    SourceText('Failed to pull image "10.1.2.3:5000/acme/app:1.0": rpc error: code = Unknown desc = failed '
               'to pull and unpack image "10.1.2.3:5000/acme/app:1.0": failed to resolve reference '
               '"10.1.2.3:5000/acme/app:1.0": failed to do request: Head "https://10.1.2.3:5000/v2/acme/app/'
               'manifests/1.0": http: server gave HTTP response to HTTPS client', "tls",
               "manifest HEAD (plain-HTTP registry)", "KUBELET"),
    SourceText('Failed to pull image "acme/app:1.0": rpc error: code = Unknown desc = failed to pull and '
               'unpack image "docker.io/acme/app:1.0": failed to extract layer sha256:0123: write '
               '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/42/fs/usr/lib/libx.so: '
               'no space left on device: unknown', "disk", "layer unpack", "KUBELET"),
    SourceText('Failed to pull image "nginx": rpc error: code = Unknown desc = failed to pull and unpack '
               'image "docker.io/library/nginx:latest": failed to copy: httpReadSeeker: failed open: '
               'unexpected status from GET request to https://registry-1.docker.io/v2/library/nginx/'
               'manifests/sha256:0123: 429 Too Many Requests', "ratelimit", "manifest GET", "KUBELET"),
    # ---- containers/image: podman, skopeo, buildah, CRI-O (CIMAGE2)
    SourceText("Error: initializing source docker://registry.corp.example/acme/app:1.0: unable to retrieve "
               "auth token: invalid username/password: unauthorized: authentication required", "auth",
               "token GET with credentials", "CIMAGE2"),
    SourceText("Error: copying system image from manifest list: reading blob sha256:0123: fetching blob: "
               "too many requests to registry", "ratelimit", "blob GET (429)", "CIMAGE2"),
    SourceText('Error: initializing source docker://registry.corp.example/acme/app:1.0: pinging container '
               'registry registry.corp.example: Get "https://registry.corp.example/v2/": tls: failed to '
               'verify certificate: x509: certificate signed by unknown authority', "tls", "/v2/ ping", "CIMAGE2"),
    SourceText('Error: initializing source docker://registry.corp.example:5000/acme/app:1.0: pinging '
               'container registry registry.corp.example:5000: Get "https://registry.corp.example:5000/v2/": '
               'http: server gave HTTP response to HTTPS client', "tls", "/v2/ ping (plain-HTTP registry)",
               "CIMAGE2"),
    SourceText('Error: initializing source docker://registry.corp.example/acme/app:1.0: pinging container '
               'registry registry.corp.example: Get "https://registry.corp.example/v2/": dial tcp: lookup '
               'registry.corp.example on 10.0.0.2:53: server misbehaving', "dns", "/v2/ ping", "CIMAGE2"),
    SourceText("Error: copying system image from manifest list: reading blob sha256:0123: fetching blob: "
               "received unexpected HTTP status: 502 Bad Gateway", "reachability", "blob GET", "CIMAGE2"),
    SourceText('Error: initializing source docker://registry.corp.example:5000/acme/app:1.0: pinging '
               'container registry registry.corp.example:5000: Get "https://registry.corp.example:5000/v2/": '
               'dial tcp 10.1.2.3:5000: i/o timeout', "firewall", "/v2/ ping", "CIMAGE2"),
    # ---- the ECS agent's own diagnosis in front of the daemon's text (ECS)
    SourceText("CannotPullContainerError: The task can\u2019t pull the image. Check that the role has the "
               "permissions to pull images from the registry. Error response from daemon: pull access denied "
               "for 123456789012.dkr.ecr.us-east-1.amazonaws.com/test_image, repository does not exist or "
               "may require 'docker login': denied: User: arn:aws:sts::123456789012:assumed-role/BrokenRole/"
               "xyz is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:"
               "123456789012:repository/test_image because no identity-based policy allows the "
               "ecr:BatchGetImage action", "auth", "manifest (ECR, IAM)", "ECS"),
    SourceText("CannotPullContainerError: The task can\u2019t pull the image. Check whether the image "
               "exists. Error response from daemon: pull access denied for 123456789012.dkr.ecr.us-east-1."
               "amazonaws.com/test_image, repository does not exist or may require 'docker login': denied: "
               "requested access to the resource is denied", "reference", "manifest (ECR)", "ECS",
               also=("auth",)),
    SourceText('CannotPullContainerError: The task can\u2019t pull the image. Check your network '
               'configuration. Error response from daemon: Get "https://123456789012.dkr.ecr.us-east-1.'
               'amazonaws.com/v2/": net/http: request canceled while waiting for connection '
               '(Client.Timeout exceeded while awaiting headers)', "reachability", "/v2/ ping (ECR)", "ECS",
               also=("firewall",)),
    # ---- a registry's own network allowlist (REGBODY)
    SourceText('Error response from daemon: Head "https://pvtacr.azurecr.io/v2/hello-world/manifests/latest": '
               "denied: client with IP '20.120.109.180' is not allowed access. Refer https://aka.ms/acr/firewall "
               "to grant access.", "firewall", "manifest HEAD (ACR firewall)", "REGBODY"),
    SourceText('Error response from daemon: Get "https://myacr.azurecr.io/v2/": denied: {"errors":[{"code":'
               '"DENIED","message":"client with IP \\u0027203.0.113.7\\u0027 is not allowed access. Refer '
               'https://aka.ms/acr/firewall to grant access."}]}', "firewall", "/v2/ ping (ACR firewall)", "REGBODY"),
    SourceText('Error response from daemon: Head "https://europe-docker.pkg.dev/v2/p/r/app/manifests/1": '
               "denied: Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier: "
               "1A2B3C4D5E6F", "firewall", "manifest HEAD (VPC Service Controls)", "REGBODY"),
    # ---- Go's DNSError under a dial, whatever errno the resolver gave (GO-DNS)
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io: device or resource busy", "dns",
               "name lookup (libc EBUSY)", "GO-DNS"),
    # through libc (cgo, macOS, Windows) "no such host" comes without the server: no network
    # or no resolver at all looks the same, so no internal-only-resolver reading
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io: no such host", "dns", "name lookup (libc)",
               "GO-DNS", also=("proxy",)),
    # a public resolver that times out: DNS is only allowed through the network's resolvers
    SourceText(HUB + "dial tcp: lookup registry-1.docker.io on 8.8.8.8:53: read udp "
               "10.0.0.5:40000->8.8.8.8:53: i/o timeout", "dns", "name lookup (public resolver)", "GO-DNS",
               also=("firewall",)),
    # ---- containers/image's unexpectedHTTPResponseError: a body that is not a registry's JSON
    # ("StatusCode: %d, %q", docker/errors.go): an HTML 403 came from a CDN / WAF / proxy (CIMAGE2)
    SourceText("Error: initializing source docker://registry.corp.example/acme/app:1.0: reading manifest "
               "1.0 in registry.corp.example/acme/app: StatusCode: 403, \"<html><head><title>403 Forbidden"
               "</title></head><body>Access Denied</body></html>\"", "proxy", "manifest (HTML 403)",
               "CIMAGE2", also=("reachability",)),
    # ---- Go's HostnameError naming only the operator's own hosts: its front end's mistake (GO-X509)
    SourceText('Error response from daemon: Head "https://ghcr.io/v2/acme/app/manifests/1.0": tls: failed '
               'to verify certificate: x509: certificate is valid for *.github.com, github.com, not ghcr.io',
               "tls", "manifest HEAD (operator's own certificate)", "GO-X509"),
    # ---- a 403 with a stock message and nothing about the caller (DIST makeError "denied: %s")
    SourceText('Error response from daemon: Head "https://registry.corp.example/v2/acme/app/manifests/1.0": '
               "denied: access forbidden", "auth", "manifest HEAD (403)", "DIST", also=("reference",)),
    # Harbor (goharbor/harbor src/server/middleware/v2auth/auth.go): the project exists (its id was
    # found) and the caller's security context may not pull from it
    SourceText("Error response from daemon: unauthorized: unauthorized to access repository: acme/app, "
               "action: pull: unauthorized to access repository: acme/app, action: pull", "auth",
               "manifest (Harbor, existing project)", "REGBODY"),
    # official images are public: containerd's 401 for docker.io/library/NAME is a name that does
    # not exist (CTRD remotes/errors "unexpected status from %s request to %s: %s")
    SourceText('Failed to pull image "pyhton:3.12": rpc error: code = Unknown desc = failed to pull and '
               'unpack image "docker.io/library/pyhton:3.12": failed to resolve reference '
               '"docker.io/library/pyhton:3.12": unexpected status from HEAD request to '
               'https://registry-1.docker.io/v2/library/pyhton/manifests/3.12: 401 Unauthorized',
               "reference", "manifest HEAD (Docker Hub, official namespace)", "CTRD", also=("auth",)),
    # ---- systemd: the docker unit does not start (SYSTEMD)
    SourceText('Job for docker.service failed because the control process exited with error code.\nSee '
               '"systemctl status docker.service" and "journalctl -xe" for details.', "daemon",
               "systemctl start docker", "SYSTEMD"),
    SourceText("docker.service: Start request repeated too quickly.", "daemon", "systemd restart loop", "SYSTEMD"),
    SourceText("Failed to start Docker Application Container Engine.", "daemon", "systemd start job", "SYSTEMD"),
)
