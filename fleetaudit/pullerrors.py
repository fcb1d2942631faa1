"""Pull-error knowledge base: the field guide's failure modes as data.

Every class names one way `docker pull` fails, the category `fleetaudit explain` ranks
it under (design.md's fixed list), the exact phrasings the docker CLI, dockerd's log,
containerd and the kubelet use for it (across Docker 1.x .. 28 and Go versions), what is
wrong (`why`), which facts or commands confirm it (`check`) and the usual `fix`.

`classify(line)` returns the ids of every class a log line or error message matches,
most specific first:

- `tier` orders classes: 0 = a precise root cause (a proxy CONNECT failed, the clock is
  before the certificate), 1 = a cause, 2 = a network symptom that many causes share
  (i/o timeout, connection reset), 3 = a stage or wrapper that only says where the pull
  failed ("failed to register layer", "ErrImagePull").
- `fallback` classes (a catch-all such as "some x509 error") are dropped when another
  class of the same category matched; `wrapper` classes are dropped when anything
  else matched; a class drops the ones it `refines` (x509-expired makes the generic
  x509-expired-or-not-yet-valid redundant). So "ErrImagePull: ... x509: certificate signed by unknown authority"
  is just ["x509-unknown-authority"].

`keywords` are lowercase POSIX-ERE-safe fragments: the daemon_log collector ORs them into
the pattern it greps on the host, so every message a class matches must contain one of
its keywords (tests/test_pullerrors.py checks that on the sample table).

Why one module (~650 lines): most of it is the table itself (data, one entry per
failure class); the classifier is a few functions over it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Pattern, Tuple

from .models import CATEGORIES


@dataclass(frozen=True)
class PullErrorClass:
    id: str
    category: str
    title: str
    patterns: Tuple[str, ...]
    keywords: Tuple[str, ...]
    why: str
    check: Tuple[str, ...]
    fix: str = ""
    tier: int = 1
    related: Tuple[str, ...] = ()      # other categories that often turn out to be the cause
    fallback: bool = False             # only when nothing else of the same category matched
    wrapper: bool = False              # only when nothing else matched at all
    refines: Tuple[str, ...] = ()      # classes this one makes redundant when both match
    regexes: Tuple[Pattern[str], ...] = field(default=(), compare=False, repr=False)

    def matches(self, line: str) -> bool:
        regexes = self.regexes
        if not regexes and self.patterns:
            # Compiled on first use, not at import: the 235 patterns cost ~30 ms, paid by
            # every process (an audit's start) though a clean fleet classifies no line.
            regexes = tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)
            object.__setattr__(self, "regexes", regexes)  # frozen dataclass: a cache
        return any(r.search(line) for r in regexes)

    def to_json(self) -> dict:
        return {
            "id": self.id, "category": self.category, "title": self.title,
            "why": self.why, "check": list(self.check), "fix": self.fix,
            "related": list(self.related), "tier": self.tier,
        }


def _c(id: str, category: str, title: str, patterns, keywords, why: str, check, fix: str = "",
       tier: int = 1, related=(), fallback: bool = False, wrapper: bool = False,
       refines=()) -> PullErrorClass:
    return PullErrorClass(
        id=id, category=category, title=title, patterns=tuple(patterns),
        keywords=tuple(keywords), why=why, check=tuple(check), fix=fix, tier=tier,
        related=tuple(related), fallback=fallback, wrapper=wrapper, refines=tuple(refines),
    )


# Log lines from dockerd quote with \" (logrus), so patterns never rely on a bare quote
# and never on a word boundary before a message: logrus also folds newlines into "\n",
# which glues "\ndenied:" into one word.
CLASSES: Tuple[PullErrorClass, ...] = (
    # ---------------------------------------------------------------- proxy
    _c("proxy-auth-required", "proxy", "Proxy demands credentials",
       [r"proxy authentication required"],
       ["proxy auth"],
       "The HTTP(S) proxy the daemon uses answered 407: the proxy URL carries no (or wrong) "
       "user:password, or the proxy does not accept the daemon's credentials.",
       ["proxy.daemon HTTPS_PROXY and proxy.has_credentials",
        "systemctl show --property=Environment docker",
        "curl -x \"$HTTPS_PROXY\" -sI https://REGISTRY/v2/"],
       "Put user:password into the daemon's HTTPS_PROXY (systemd drop-in), or exempt the "
       "registry via NO_PROXY; daemon-reload and restart docker.",
       tier=0, related=("auth",), refines=("unauthorized",)),
    _c("proxy-scheme-mismatch", "proxy", "HTTPS proxy URL points at a plain-HTTP proxy",
       [r"proxyconnect tcp: tls: first record does not look like a tls handshake",
        r"proxyconnect tcp: tls: oversized record"],
       ["proxyconnect"],
       "HTTPS_PROXY is https://... but the proxy speaks plain HTTP on that port, so the "
       "daemon's TLS handshake to the proxy reads an HTTP answer.",
       ["proxy.daemon HTTPS_PROXY scheme", "proxy.dropins"],
       "Use http://proxy:port as HTTPS_PROXY (the scheme is how to reach the proxy, not the "
       "registry).",
       tier=0, related=("tls",), refines=("proxyconnect-failed", "tls-first-record")),
    _c("proxy-url-invalid", "proxy", "The proxy URL in the daemon's environment does not parse",
       # golang.org/x/net/http/httpproxy: "invalid proxy address %q: %v"; net/url: a password
       # with '@', '#', '/' or '%' not percent-encoded ("net/url: invalid userinfo")
       [r"invalid proxy address", r"net/url: invalid userinfo", r"proxyconnect tcp: dial tcp: lookup https?\b",
        # typographic quotes pasted around the value (percent-encoded by net/url, or raw in the name)
        r"(?:proxyconnect tcp|connecting to proxy) \S*%e2%80%9[cd]",
        r"(?:proxyconnect tcp|connecting to proxy).{0,200}lookup [\u201c\u201d]"],
       ["invalid proxy address", "invalid userinfo", "proxyconnect", "connecting to proxy"],
       "HTTP(S)_PROXY is not a valid URL: a missing scheme (proxy:3128 instead of "
       "http://proxy:3128), or a password with special characters that are not percent-encoded.",
       ["proxy.daemon HTTPS_PROXY / HTTP_PROXY (exact text)", "systemctl show --property=Environment docker"],
       "Write the proxy as http://user:pass@host:port with the password percent-encoded "
       "(@ -> %40, # -> %23); daemon-reload and restart docker.",
       tier=0, refines=("proxyconnect-failed", "dns-server-misbehaving", "no-such-host", "dns-lookup-failed")),
    _c("proxyconnect-failed", "proxy", "Cannot reach the configured proxy",
       # (Go before 1.9: "http: error connecting to proxy URL: ERR", net/http transport.go)
       [r"proxyconnect tcp", r"error connecting to proxy"],
       ["proxyconnect", "connecting to proxy"],
       "The daemon sends registry traffic to a proxy (HTTP(S)_PROXY) and the connection to "
       "the proxy itself failed (wrong host/port, proxy down, proxy name does not resolve).",
       ["proxy.daemon HTTPS_PROXY / HTTP_PROXY", "proxy.daemon_no_proxy",
        "nc -vz PROXY_HOST PROXY_PORT"],
       "Fix or remove the daemon's proxy setting, or add the registry to NO_PROXY.",
       tier=0, related=("reachability", "dns")),
    # ---------------------------------------------------------------- time / tls
    _c("x509-not-yet-valid", "time", "Host clock is before the certificate's start",
       [r"x509: certificate has expired or is not yet valid: current time \S+ is before"],
       ["x509"],
       "The registry certificate is not valid yet from this host's point of view: the host "
       "clock is behind (or the certificate was issued with a future start date).",
       ["time.clock.skew_s", "time.ntp.synchronized", "date -u; timedatectl"],
       "Sync the clock (enable NTP: timedatectl set-ntp true / chronyd) and retry.",
       tier=0, related=("tls",), refines=("x509-expired-or-not-yet-valid",)),
    _c("x509-expired", "tls", "Registry certificate has expired",
       [r"x509: certificate has expired or is not yet valid: current time \S+ is after"],
       ["x509"],
       "The certificate presented (registry's or an intercepting proxy's) is past its "
       "notAfter date, or the host clock is far ahead.",
       ["time.clock.skew_s", "tls catalog not_after for the registry's CA/cert",
        "openssl s_client -connect REGISTRY:443 -servername REGISTRY </dev/null | "
        "openssl x509 -noout -dates"],
       "Renew the registry certificate (or fix the host clock if it is ahead).",
       tier=0, related=("time",), refines=("x509-expired-or-not-yet-valid",)),
    _c("ca-bundle-missing", "tls", "Host has no CA bundle",
       [r"x509: failed to load system roots", r"failed to load system roots"],
       ["system roots"],
       "Go found no system CA bundle on this host, so no registry certificate can be "
       "verified.",
       ["tls.bundle.present", "ls -l /etc/ssl/certs/ca-certificates.crt"],
       "Install ca-certificates (apt/yum/apk) and restart docker.",
       tier=0),
    _c("x509-legacy-common-name", "tls", "Certificate has no subjectAltName",
       [r"x509: certificate relies on legacy common name field"],
       ["legacy common name"],
       "The registry certificate only names the host in its CN; Go 1.15+ (Docker 20.10+) "
       "requires a subjectAltName.",
       ["openssl s_client -connect REGISTRY:443 </dev/null | openssl x509 -noout -ext "
        "subjectAltName", "docker.server.version"],
       "Reissue the registry certificate with a subjectAltName for its DNS name/IP.",
       tier=1),
    _c("x509-unknown-authority", "tls", "Certificate signed by an unknown CA",
       [r"certificate signed by unknown authority", r"x509: certificate is not trusted",
        r"unable to get local issuer certificate", r"self[- ]signed certificate in certificate chain"],
       ["unknown authority", "not trusted", "local issuer", "self-signed", "self signed"],
       "The registry (or a TLS-intercepting proxy) presents a chain whose root is neither in "
       "the host's CA bundle nor in /etc/docker/certs.d/REGISTRY/.",
       ["tls.certs_d[REGISTRY] has ca.crt", "tls.bundle.sha256 compared with a working host",
        "proxy.daemon (a MITM proxy re-signs certificates)",
        "openssl s_client -connect REGISTRY:443 -showcerts </dev/null"],
       "Install the CA: /etc/docker/certs.d/REGISTRY/ca.crt (no restart needed) or the "
       "system bundle (update-ca-certificates) + restart docker.",
       tier=1, related=("proxy",)),
    _c("x509-expired-or-not-yet-valid", "tls", "Certificate outside its validity period",
       [r"certificate has expired or is not yet valid", r"x509: certificate has expired",
        r"certificate has expired", r"certificate is not yet valid"],
       ["expired", "not yet valid"],
       "The certificate's validity period does not contain the host's current time: an "
       "expired certificate, or a host clock far off.",
       ["time.clock.skew_s", "time.ntp.synchronized",
        "openssl s_client -connect REGISTRY:443 </dev/null | openssl x509 -noout -dates"],
       "Fix the host clock, or renew the certificate.",
       tier=1, related=("time",)),
    _c("x509-hostname-mismatch", "tls", "Certificate does not name the registry host",
       [r"x509: certificate is valid for .{0,300}, not \S+",
        r"certificate is not valid for any names",
        r"cannot validate certificate for \S+ because it doesn't contain any ip sans",
        r"no alternative certificate subject name matches"],
       ["valid for", "ip sans", "subject name matches"],
       "The name used in the image reference (or a proxy/mirror in between) is not among "
       "the certificate's subjectAltNames.",
       ["the registry name in the image reference vs the certificate's SAN list",
        "dns.resolves (the name may point at another server)",
        "daemon_json registry-mirrors"],
       "Pull with the name the certificate is issued for, or reissue the certificate with "
       "the right SANs.",
       # (a TLS-inspecting proxy or firewall answering with a certificate of its own names too)
       tier=1, related=("dns", "proxy")),
    _c("tls-handshake-timeout", "reachability", "TLS handshake timed out",
       [r"tls handshake timeout"],
       ["handshake timeout"],
       "TCP connected but the TLS handshake did not finish in 10 s: packets with the large "
       "certificate chain get lost (MTU / PMTU black hole), a proxy or middlebox stalls, or "
       "the registry is overloaded.",
       ["network.interfaces mtu vs the path (ping -M do -s 1472 REGISTRY)",
        "proxy.daemon", "firewall rules dropping ICMP fragmentation-needed",
        "curl -v https://REGISTRY/v2/ from the host"],
       "Fix the MTU (or MSS clamping) on the path, or the proxy; retry on an idle registry.",
       tier=2, related=("proxy", "firewall", "mtu")),
    _c("tls-remote-error", "tls", "Peer rejected the TLS handshake",
       [r"remote error: tls: [a-z ]+"],
       ["remote error"],
       "The registry or a proxy aborted the handshake: it wants a client certificate "
       "(certs.d/REGISTRY/client.cert/.key), rejects the TLS version/ciphers, or a "
       "TLS-inspecting proxy refuses the connection.",
       ["tls.certs_d[REGISTRY] kinds (cert/key present?)", "proxy.daemon",
        "openssl s_client -connect REGISTRY:443 </dev/null"],
       "Provide the client certificate pair in /etc/docker/certs.d/REGISTRY/, or fix the "
       "proxy's TLS policy.",
       tier=1, related=("proxy", "auth")),
    _c("http-response-to-https-client", "tls", "Registry speaks plain HTTP",
       [r"server gave http response to https client"],
       ["http response to https"],
       "The registry listens without TLS but the daemon does not list it in "
       "insecure-registries, so it insists on HTTPS.",
       ["daemon_json.config insecure-registries", "docker.info.insecure_registries"],
       "Serve the registry over TLS (preferred), or add it to insecure-registries in "
       "daemon.json and restart docker.",
       tier=1, related=("daemon",)),
    _c("tls-first-record", "tls", "Non-TLS answer to a TLS handshake",
       [r"first record does not look like a tls handshake", r"tls: oversized record received"],
       ["first record", "oversized record"],
       "Something that is not TLS answered on the registry port: a plain-HTTP registry, a "
       "captive portal, or a proxy port.",
       ["daemon_json.config insecure-registries", "proxy.daemon",
        "curl -v http://REGISTRY:PORT/v2/"],
       "Point at the TLS port, or declare the registry insecure if it really is HTTP-only.",
       tier=1, related=("proxy",)),
    _c("x509-other", "tls", "Other certificate verification error",
       [r"x509: ", r"tls: failed to verify certificate"],
       ["x509", "failed to verify certificate"],
       "Certificate verification failed for a reason other than the common ones (bad key "
       "usage, malformed or unsupported certificate).",
       ["openssl s_client -connect REGISTRY:443 -showcerts </dev/null"],
       "Inspect the chain the registry serves; reissue the certificate.",
       tier=1, fallback=True),
    # ---------------------------------------------------------------- auth
    _c("ecr-token-expired", "auth", "ECR login token expired",
       [r"authorization token has expired"],
       ["token has expired"],
       "AWS ECR passwords from get-login-password live 12 hours; the stored login is older.",
       ["credentials.users.root.auths has the *.dkr.ecr.* registry",
        "credentials cred_helpers (ecr-login avoids expiry)"],
       "Run aws ecr get-login-password | docker login again, or use docker-credential-ecr-login.",
       tier=0),
    _c("credential-helper-failed", "auth", "Credential helper missing or failing",
       [r"error getting credentials", r"error storing credentials",
        r"docker-credential-\S+.{0,10}executable file not found",
        r"credentials store.{0,40}(?:not found|failed)"],
       ["error getting credentials", "error storing credentials", "docker-credential-",
        "credentials store"],
       "config.json names a credsStore/credHelper (docker-credential-NAME) that is not "
       "installed for this user or fails (no D-Bus/keyring in a headless session).",
       ["credentials.users.*.creds_store / cred_helpers and credentials.missing_helpers",
        "command -v docker-credential-NAME"],
       "Install the helper, or remove credsStore from config.json and docker login again "
       "(credentials then live in config.json).",
       tier=0),
    _c("bad-credentials", "auth", "Registry rejected the username/password",
       [r"incorrect username or password", r"http basic: access denied",
        r"invalid username(?:/| or )password", r"username or password (?:is )?(?:wrong|invalid|incorrect)"],
       ["username", "access denied"],
       "The credentials stored for the registry are wrong or revoked (rotated token, "
       "expired password).",
       ["credentials.users.<pulling user>.auths[REGISTRY]",
        "docker login REGISTRY as the user that pulls"],
       "docker login again with a valid token as the user that pulls (root for systemd "
       "units).",
       tier=1),
    _c("no-basic-auth-credentials", "auth", "No credentials for a registry that requires them",
       [r"no basic auth credentials"],
       ["no basic auth"],
       "The registry requires authentication and the pulling user has no entry for it in "
       "~/.docker/config.json (often: logged in as another user than the one that pulls).",
       ["credentials.users.root.auths (root pulls for systemd units and sudo)",
        "credentials.users.*.auths on a working host"],
       "sudo docker login REGISTRY (as the user that runs the pulls).",
       tier=1),
    _c("pull-access-denied", "auth", "Pull access denied (or repository does not exist)",
       [r"pull access denied", r"repository does not exist or may require",
        r"requested access to the resource is denied", r"does not exist or no pull access",
        r"insufficient_scope", r"may require authorization"],
       ["pull access denied", "access to the resource is denied", "may require",
        "no pull access", "insufficient_scope"],
       "The registry refused the repository: either the path is wrong (registries answer "
       "'denied' for names that do not exist, to not leak them) or the credentials lack "
       "pull permission on it.",
       ["the image reference (namespace/repository spelling)",
        "credentials.users.<pulling user>.auths[REGISTRY]",
        "docker manifest inspect IMAGE as the pulling user"],
       "Check the repository path; docker login with an account/token that can read it.",
       tier=1, related=("reference",)),
    _c("unauthorized", "auth", "Registry says unauthorized",
       [r"unauthorized:", r"\b401 unauthorized", r"unexpected status: 401",
        r"status code 401", r"authentication required", r"^\W*unauthorized\W*$",
        # Google Artifact Registry / gcr.io wording of the same refusal
        r"unauthenticated requests? do not have permission", r"denied on resource",
        r"permission denied for \\?\"",
        # distribution's makeError: any 403 reads "denied: <the registry's message>"
        r"(?:^|[\s:\"])denied: (?!denied)\w",
        # a bare status after the URL (ghcr.io, quay.io): the registry's terse refusal
        # (lowercase: distribution's errcode text; Go's CONNECT status text is "Unauthorized")
        r"(?<![^\s\"\'(\[=])https?://\S+?\\?\"?: (?-i:unauthorized)\W{0,4}$"],
       ["unauthorized", "authentication required", "status: 401", "status code 401",
        "unauthenticated request", "denied on resource", "permission denied for", "denied:"],
       "The registry wants (other) credentials for this request: not logged in, wrong "
       "account, or a token without the needed scope.",
       ["credentials.users.<pulling user>.auths[REGISTRY]",
        "curl -sI https://REGISTRY/v2/ (401 there is normal)"],
       "docker login REGISTRY as the pulling user with an account that can read the repository.",
       tier=1, fallback=True),
    _c("cloud-sdk-denied", "auth", "A cloud registry's API refused the caller",
       [r"accessdeniedexception", r"is not authorized to perform:? \S*ecr:",
        r"expiredtokenexception", r"security token included in the request is (?:expired|invalid)",
        r"unrecognizedclientexception", r"invalidsignatureexception",
        r"permissiondenied: 403", r"does not have \S*(?:artifactregistry|storage\.objects)\.\S+ access",
        r"authorizationfailed.{0,80}containerregistry", r"unauthorizedaccessexception"],
       ["accessdeniedexception", "not authorized to perform", "expiredtokenexception",
        "security token included", "unrecognizedclientexception", "invalidsignatureexception",
        "permissiondenied: 403", "artifactregistry", "storage.objects", "authorizationfailed",
        "unauthorizedaccessexception"],
       "The registry's cloud API (AWS ECR, Google Artifact Registry, Azure ACR) refused the "
       "identity the SDK or credential helper used: missing IAM permission, an expired or "
       "wrong session token, or another account's credentials.",
       ["credentials.users.<pulling user>.cred_helpers / creds_store",
        "aws sts get-caller-identity / gcloud auth list / az account show"],
       "Grant the pull permission (ecr:GetAuthorizationToken + BatchGetImage, "
       "artifactregistry.reader, AcrPull) to the identity in use, or refresh its session.",
       tier=1, related=("time",)),
    _c("forbidden", "auth", "Registry or proxy answered 403 Forbidden",
       [r"\b403 forbidden", r"status code 403", r"unexpected status: 403", r"denied: access forbidden",
        # moby's v1 registry client (registry/session.go): "Error: Status %d trying to pull repository %s: %q"
        r"status 403 trying to pull",
        # containers/image docker/errors.go httpResponseToError: "invalid status code from
        # registry %d (%s)" with http.StatusText (podman, skopeo, buildah)
        r"invalid status code from registry 403"],
       ["forbidden", "status: 403", "status code 403", "status 403"],
       "The request was understood and refused: account without permission, IP allow-list "
       "on the registry, or a proxy policy blocking the registry.",
       ["credentials.users.<pulling user>.auths[REGISTRY]", "proxy.daemon"],
       "Grant the account read access, or allow the registry in the proxy/registry policy.",
       tier=1, related=("proxy",), fallback=True),
    # ---------------------------------------------------------------- ratelimit
    _c("toomanyrequests", "ratelimit", "Registry rate limit reached",
       [r"toomanyrequests", r"too many requests", r"status(?: code)?:? 429", r"pull rate limit",
        r"rate limit exceeded"],
       ["toomanyrequests", "too many requests", "status: 429", "status code 429", "rate limit"],
       "The registry throttles this client (Docker Hub: 100 pulls/6 h per IP anonymous, "
       "200 authenticated). Many hosts behind one NAT IP share the anonymous budget.",
       ["credentials.users.root.auths has docker.io (https://index.docker.io/v1/)",
        "daemon_json.config registry-mirrors"],
       "docker login to Docker Hub on every host, or pull through a mirror/cache.",
       tier=1),
    _c("kubelet-pull-qps", "ratelimit", "The kubelet's own pull rate limit",
       # kubernetes pkg/kubelet/images/helpers.go (throttledImageService): registryPullQPS
       [r"pull qps exceeded"],
       ["pull qps exceeded"],
       "The kubelet throttles its own pulls (registryPullQPS / registryBurst in its "
       "configuration) and refused this one before asking any registry.",
       ["the kubelet config's registryPullQPS and registryBurst"],
       "Raise registryPullQPS/registryBurst (0 disables the limit), or stagger the rollout.",
       tier=0),
    _c("image-never-pull", "reference", "Image not on the node and pulling is forbidden",
       # kubernetes pkg/kubelet/images/image_manager.go (ErrImageNeverPull)
       [r"is not present with pull policy of never", r"errimageneverpull"],
       ["pull policy of never", "errimageneverpull"],
       "imagePullPolicy: Never and the image is not on the node: it must be loaded there "
       "first (kind load, ctr import) or the policy changed.",
       ["crictl images on the node", "the pod's imagePullPolicy"],
       "Load the image onto the node, or set imagePullPolicy: IfNotPresent.",
       tier=0),
    # ---------------------------------------------------------------- reference / arch
    _c("invalid-reference", "reference", "Malformed image reference",
       [r"invalid reference format", r"repository name must be lowercase",
        r"invalid repository name", r"invalid tag format",
        # the kubelet's reason when it cannot parse the pod's image (pkg/kubelet/images)
        r"invalidimagename"],
       ["invalid reference", "must be lowercase", "invalid repository", "invalid tag",
        "invalidimagename"],
       "The image reference cannot be parsed (uppercase letters, stray spaces, an empty "
       "variable in the compose file).",
       ["docker compose config | grep image:", "the unit's docker run line"],
       "Fix the reference: lowercase repository, NAME[:TAG][@DIGEST].",
       tier=0),
    _c("manifest-unknown", "reference", "Tag or digest does not exist",
       [r"manifest unknown", r"manifest for \S+ not found", r"\btag \S+ not found in repository",
        r"failed to resolve ref(?:erence)? \S+: \S+: not found", r"reading manifest \S+ in \S+: manifest unknown",
        # containerd's resolver: fmt.Errorf("%s: %w", ref, errdefs.ErrNotFound) with the fully
        # qualified reference (a registry host with a dot), whatever wraps it (buildkit's
        # "failed to resolve source metadata for REF: REF: not found")
        r"(?<![a-z0-9.-])[a-z0-9-]+\.[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+(?::\w[\w.-]{0,127}|@sha256:[0-9a-f]+): not found",
        # CRI/ctr (gRPC NotFound) and containers/image ("unknown: Not Found")
        r"code = notfound", r"unknown: not found",
        # Harbor ("unknown: artifact PROJECT/REPO:TAG not found"); moby's local lookup
        # (daemon/images: errdefs.NotFound "No such image: %s")
        r"artifact \S+ not found", r"no such image: \S+",
        r"\bmanifest not found", r"manifest_unknown"],
       ["manifest unknown", "manifest for", "not found in repository", "resolve reference",
        "code = notfound", "unknown: not found", "artifact", "no such image", "manifest not found",
        "manifest_unknown", ": not found"],
       "The repository exists but has no such tag/digest in the registry this host talks "
       "to: a typo, an image not pushed yet, or a mirror that lacks it.",
       ["daemon_json.config registry-mirrors (a mirror may be stale)",
        "docker manifest inspect IMAGE", "curl https://REGISTRY/v2/REPO/tags/list"],
       "Push the tag, fix the reference, or pin a digest that exists.",
       tier=1),
    _c("name-unknown", "reference", "Repository does not exist",
       [r"name unknown", r"repository name not known to registry"],
       ["name unknown", "not known to registry"],
       "The registry has no repository with that name (missing namespace, wrong registry).",
       ["the image reference's registry/namespace/repository"],
       "Fix the repository path (e.g. registry.example.com/team/app, not .../app).",
       tier=1),
    _c("short-name-unresolved", "reference", "A short image name that the host cannot qualify",
       # containers/image pkg/shortnames (podman, buildah, CRI-O)
       [r"short-name resolution enforced but cannot prompt", r"short-name \\?\"?\S+?\\?\"? did not resolve to an alias"],
       ["short-name"],
       "podman/CRI-O refuse to guess the registry for a short name (nginx instead of "
       "docker.io/library/nginx) without a TTY to ask, or with no unqualified-search registries.",
       ["/etc/containers/registries.conf unqualified-search-registries and short-name-mode"],
       "Use the fully qualified name (docker.io/library/nginx:1.27), or add an alias or "
       "unqualified-search-registries in registries.conf.",
       tier=0),
    _c("blob-unknown", "reference", "Registry is missing a layer",
       [r"blob unknown", r"blob_unknown", r"unknown blob"],
       ["blob unknown", "blob_unknown", "unknown blob"],
       "The manifest references a layer the registry no longer has (garbage collection, "
       "broken push, inconsistent mirror).",
       ["docker manifest inspect IMAGE", "registry-mirrors in daemon_json"],
       "Re-push the image; bypass or repair the mirror.",
       tier=1, related=("reachability",)),
    _c("no-matching-manifest", "arch", "Image has no variant for this platform",
       [r"no matching manifest for \S+", r"could not find platform",
        r"image platform \(\S+\) does not match the expected platform",
        r"no match for platform in manifest",
        r"does not match the specified platform",
        r"image operating system \S+ cannot be used on this platform",
        # containers/image (podman, buildah, CRI-O, skopeo)
        r"no image found in (?:manifest list|image index) for architecture",
        r"does not match the (?:expected|requested|host) (?:platform|architecture)",
        r"requested platform \S+ (?:is not|not) (?:found|available|supported)"],
       ["no matching manifest", "no match for platform", "specified platform",
        "could not find platform", "expected platform",
        "cannot be used on this platform", "no image found in", "does not match the",
        "requested platform"],
       "The image (manifest list) has no entry for this host's OS/architecture, e.g. an "
       "arm64 host pulling an amd64-only image.",
       ["system.arch and docker.info.architecture vs the image's platforms",
        "docker buildx imagetools inspect IMAGE"],
       "Publish a multi-arch image (buildx --platform linux/amd64,linux/arm64) or a "
       "platform-specific tag.",
       tier=1),
    _c("nested-manifest-list", "arch", "A manifest list inside a manifest list",
       # containers/image copy/single.go: the platform chosen from the list is itself a list
       [r"unexpectedly received a manifest list instead of a manifest for a single image"],
       ["unexpectedly received a manifest list"],
       "Choosing this host's platform from the image's manifest list led to another list, "
       "not an image: the image was published as a nested index (an index of indexes), "
       "which podman, buildah and skopeo cannot resolve to one platform.",
       ["skopeo inspect --raw docker://IMAGE", "docker buildx imagetools inspect IMAGE"],
       "Pull by the digest of this platform's image manifest (or pass --platform/--arch), "
       "or have the publisher push a flat multi-platform index.",
       tier=1, related=("reference",)),
    _c("non-image-artifact", "reference", "The reference names an artifact, not an image",
       # containers/image internal/manifest/errors.go NonImageArtifactError
       [r"unsupported image-specific operation on artifact with type",
        r"invalid mixed OCI image with Docker v2s2 config"],
       ["image-specific operation on artifact", "invalid mixed oci image"],
       "The manifest the reference resolves to is not a runnable image: an OCI artifact (a "
       "signature, an attestation, an SBOM, a Helm chart, a WASM module) or an image pushed "
       "with a config type runtimes do not accept.",
       ["skopeo inspect --raw docker://IMAGE (config.mediaType, artifactType)",
        "docker buildx imagetools inspect IMAGE"],
       "Point at the image's tag or digest rather than the artifact's, or rebuild and push "
       "the image with a standard image config.",
       tier=1, related=("arch",)),
    _c("layer-count-mismatch", "daemon", "Layers and the config's diff IDs disagree",
       # containerd core/unpack/unpacker.go
       [r"number of layers and diffIDs don't match"],
       ["layers and diffids"],
       "The runtime read the image config's rootfs.diff_ids and counted a different number "
       "of layers than the manifest lists: a runtime too old for the image's layers (zstd, "
       "mixed compression, non-distributable layers) or an image pushed inconsistent.",
       ["docker.info.server_version / containerd --version",
        "skopeo inspect --raw docker://IMAGE and its config's rootfs.diff_ids"],
       "Upgrade the runtime (containerd, the ECS/EKS AMI), or rebuild and push the image "
       "with gzip layers only.",
       tier=1, related=("reference",)),
    _c("platform-mismatch", "arch", "Running an image built for another platform",
       [r"exec format error", r"requested image's platform \(\S+\) does not match the detected host platform"],
       ["exec format error", "detected host platform"],
       "The pulled image's binaries are for another CPU architecture (pulled with "
       "--platform, or a single-arch image mislabelled).",
       ["system.arch", "docker image inspect --format '{{.Architecture}}' IMAGE"],
       "Use an image built for this architecture.",
       tier=1),
    _c("digest-mismatch", "disk", "Downloaded content fails verification",
       [r"verification failed for digest", r"unexpected commit digest", r"digest mismatch",
        r"digest did not match", r"failed to verify.{0,20}digest"],
       ["verification failed", "commit digest", "digest mismatch", "digest did not match",
        "failed to verify"],
       "A layer's bytes do not hash to the expected digest: corrupted local storage, a bad "
       "disk, or a middlebox altering the transfer.",
       ["disk.data_root", "dmesg | tail (I/O errors)", "proxy.daemon"],
       "docker image rm -f IMAGE and pull again; check the disk; bypass the middlebox.",
       tier=1, related=("proxy", "mtu")),
    # ---------------------------------------------------------------- disk
    _c("no-space-left", "disk", "No space (or inodes) left",
       [r"no space left on device",
        # devmapper (moby v1.x .. v24, daemon/graphdriver/devmapper/deviceset.go)
        r"thin pool has \d+ free (?:data|metadata) blocks", r"create more free (?:metadata )?space in thin pool"],
       ["no space left", "thin pool"],
       "The filesystem holding /var/lib/docker (or /tmp during extraction) is full, in "
       "bytes or in inodes.",
       ["disk.data_root used_pct and inodes_used_pct", "df -h; df -i; docker system df"],
       "docker system prune (carefully), grow the filesystem, or move data-root.",
       tier=1),
    _c("disk-quota-exceeded", "disk", "Disk quota exceeded",
       [r"disk quota exceeded"],
       ["quota exceeded"],
       "A filesystem quota (XFS project quota for overlay2 size limits) is exhausted.",
       ["disk.data_root", "xfs_quota -x -c report /var/lib/docker"],
       "Raise the quota or free space.",
       tier=1),
    _c("read-only-filesystem", "disk", "Filesystem is read-only",
       [r"read-only file system", r"input/output error"],
       ["read-only file system", "input/output error"],
       "The data-root filesystem was remounted read-only (usually after I/O errors).",
       ["mount | grep /var/lib/docker", "dmesg | tail"],
       "Fix the disk errors and remount read-write.",
       tier=1, related=("daemon",)),
    _c("layer-register-failed", "disk", "Layer extraction/registration failed",
       [r"failed to register layer", r"error processing tar file", r"failed to extract layer",
        r"error creating overlay mount", r"failed to mount .{0,80}overlay"],
       ["register layer", "processing tar", "extract layer", "overlay mount", "failed to mount"],
       "The daemon could not unpack a downloaded layer into its storage: full disk, "
       "unsupported filesystem for the storage driver, or corrupted local state.",
       ["disk.data_root", "docker.info.storage_driver", "dmesg | tail"],
       "Free space; remove the image and pull again; check the storage driver.",
       tier=3, related=("daemon",), fallback=True),
    # ---------------------------------------------------------------- daemon
    _c("layer-tar-unreadable", "daemon", "The daemon cannot read the layer's archive format",
       # Go archive/tar's ErrHeader, printed by dockerd's ApplyLayer after the layer's digest
       # was verified: the bytes are as published, the daemon cannot parse them (an engine too
       # old for the layer's compression, e.g. zstd read as a plain tar, or its tar features)
       [r"archive/tar: invalid tar header"],
       ["invalid tar header"],
       "The layer arrived intact (its digest was checked) but the daemon's tar reader cannot "
       "parse it: an engine too old for how the image was built (zstd-compressed or "
       "newer-format layers), as on NAS and appliance builds of Docker.",
       ["docker.info.server_version", "docker buildx imagetools inspect --raw IMAGE (layer mediaType)"],
       "Upgrade the engine, or pull a tag built with gzip layers (an older tag or another "
       "publisher's build).",
       tier=1, related=("disk", "reference")),
    _c("data-root-tmp-missing", "daemon", "The daemon's temporary download area vanished",
       # moby distribution/pull_v2.go downloads each blob to a temp file "GetImageBlob*" in
       # DOCKER_TMPDIR (default DATA_ROOT/tmp); it disappearing mid-pull means something else
       # cleans or shares the data root (a second daemon, a tmp cleaner, a container mounting it)
       [r"getimageblob\d*: no such file or directory", r"/var/lib/docker/tmp\S*: no such file or directory"],
       ["getimageblob", "/var/lib/docker/tmp"],
       "The daemon's download area (/var/lib/docker/tmp) lost a file during the pull: another "
       "dockerd or a container uses the same data root, or a cleaner empties it.",
       ["ps -ef | grep dockerd (two daemons?)", "docker.info.docker_root_dir", "disk.data_root"],
       "Give each daemon its own data root; stop whatever cleans /var/lib/docker/tmp; restart docker.",
       tier=1, related=("disk",)),
    _c("api-version-mismatch", "daemon", "The client and the daemon speak different API versions",
       # moby api/server/middleware/version.go
       [r"client version \S+ is too new\. maximum supported api version is",
        r"client is newer than server",
        # moby daemon/server/middleware/version.go (Docker 25+ raised the minimum, 29 to 1.44)
        r"client version \S+ is too old\. minimum supported api version is",
        # moby client/request.go: a non-JSON error for an API route the server does not serve
        r"check if the server supports the requested api version"],
       ["is too new", "client is newer than server", "is too old", "requested api version"],
       "The docker CLI (or SDK) and the daemon it talks to do not share an API version: an old "
       "daemon, an SDK older than the daemon's minimum, a Docker Desktop engine that is not "
       "(yet) serving, or DOCKER_HOST pointing at another daemon than intended.",
       ["docker.server.version vs the CLI's", "echo $DOCKER_HOST; docker context ls"],
       "Upgrade the older side (the daemon, or a client/SDK below the daemon's minimum API), or "
       "pin the client's API (DOCKER_API_VERSION=...); on Docker Desktop restart the engine.",
       tier=0),
    _c("layer-store-corrupt", "disk", "The daemon's layer store lost a layer",
       # moby layer/layer.go ErrLayerDoesNotExist
       [r"layer does not exist"],
       ["layer does not exist"],
       "An image's metadata names a layer the local store no longer has: the data root was "
       "partly deleted, restored from a partial backup, or damaged.",
       ["disk.data_root", "docker image ls --digests", "dmesg | tail"],
       "docker image rm -f IMAGE and pull again; if many images are hit, reset the data root.",
       tier=1, related=("daemon",)),
    _c("layerdb-conflict", "daemon", "The layer store's metadata is in a conflicting state",
       # moby layer/filestore.go: a layer's metadata is written to layerdb/tmp/write-set-* and
       # renamed into layerdb/sha256/<chain-id>; "file exists" there is a leftover or a racing pull
       [r"layerdb/\S+.{0,300}file exists"],
       ["layerdb"],
       "The daemon's layer metadata already has an entry it is about to create: a leftover from "
       "an interrupted pull or a second daemon writing the same data root.",
       ["ps -ef | grep dockerd (two daemons?)", "ls /var/lib/docker/image/*/layerdb/sha256/CHAIN_ID"],
       "Stop docker, remove the half-written layerdb entry (or the image), start docker and pull again.",
       tier=1, related=("disk",), refines=("layer-register-failed",)),
    _c("daemon-config-invalid", "daemon", "Daemon refuses its configuration",
       [r"unable to configure the docker daemon with file",
        r"directives are specified both as a flag and in the configuration file",
        r"the following directives don't match any configuration option"],
       ["unable to configure", "specified both as a flag", "configuration option"],
       "dockerd did not start: daemon.json is not valid JSON, has an unknown key, or "
       "repeats a flag given on the command line / in the systemd unit.",
       ["daemon_json.valid and daemon_json.error", "docker.daemon_up",
        "systemctl cat docker (ExecStart flags)"],
       "Fix daemon.json (dockerd --validate on 23+), then restart docker.",
       tier=0),
    _c("daemon-not-running", "daemon", "Docker daemon not reachable",
       [r"cannot connect to the docker daemon", r"is the docker daemon running",
        r"docker\.sock: (?:connect: )?no such file or directory",
        r"is your docker daemon up and running",
        # the docker CLI's client (docker/cli, moby client errConnectionFailed), Windows pipe
        r"this error may indicate that the docker daemon is not running",
        # moby v1.9 .. v1.13 client (api/client/utils.go, client/request.go)
        r"are you trying to connect to a tls-enabled daemon without tls",
        r"open //\./pipe/docker_engine(?:_linux)?: the system cannot find the file specified",
        # every Windows pipe a client dials (Docker Desktop's dockerDesktopLinuxEngine, ...)
        r"open //\./pipe/\S+: the system cannot find the file specified",
        # moby client/request.go: v18.09 .. v27 wrap every transport error to the daemon in
        # "error during connect"; v28+ say "failed to connect to the docker API at HOST"
        r"error during connect", r"failed to connect to the docker api at",
        # any local unix socket: registries are never dialed over one, so it is the client's
        # own daemon (docker, rootless docker, podman, Docker Desktop's docker.raw.sock)
        r"dial unix \S+: connect: (?:no such file or directory|connection refused)",
        r"dial unix \S*\.sock\b",
        # docker-py (docker/api/client.py) and compose v1 (compose/cli/errors.py)
        r"error while fetching server api version", r"couldn't connect to docker daemon",
        # podman's remote client (pkg/bindings/connection.go, cmd/podman/root.go)
        r"unable to connect to podman socket", r"cannot connect to podman",
        # Docker Desktop's backend answering for an engine that is not up
        r"bad response from docker engine", r"docker desktop is (?:manually paused|not running|"
        r"unable to start|starting)", r"docker (?:desktop|engine) (?:stopped|failed to start)",
        # Docker Desktop's WSL 2 integration off for this distro: no docker client/daemon there
        r"could not be found in this wsl 2 distro",
        # docker/cli cli/command/cli.go and context/store: the CLI could not even work out which
        # daemon to talk to (a docker context that is gone, TLS files of DOCKER_CERT_PATH missing)
        r"unable to resolve docker endpoint", r"context not found: "],
       ["cannot connect to the docker daemon", "daemon running", "docker.sock: no such file",
        "docker.sock: connect: no such file", "daemon up and running", "daemon is not running",
        "docker_engine", "tls-enabled daemon", "//./pipe/", "error during connect", "docker api at",
        "dial unix", "server api version", "connect to docker daemon", "podman socket",
        "connect to podman", "docker engine", "docker desktop is", "docker desktop", "wsl 2 distro",
        "docker endpoint", "context not found"],
       "The client cannot reach its daemon (unix socket, Windows pipe, tcp or ssh host, podman "
       "socket): dockerd (or Docker Desktop's engine, the podman service) is stopped, crashed at "
       "start, or DOCKER_HOST / the docker context points elsewhere.",
       ["docker.daemon_up and docker.error", "restarts.units", "daemon_log samples",
        "systemctl status docker"],
       "Start docker (systemctl start docker) and read why it stopped.",
       tier=1),
    _c("docker-socket-permission", "daemon", "No permission on the docker socket",
       [r"permission denied while trying to connect to the docker daemon socket",
        r"dial unix /var/run/docker\.sock: connect: permission denied",
        # moby client/request.go v28+, and its Windows hint for a non-elevated client
        r"permission denied while trying to connect to the docker api at",
        r"must be run with elevated privileges to connect",
        r"open //\./pipe/\S+: access is denied",
        # any local socket (podman, rootless docker); docker-py's PermissionError on the socket
        r"dial unix \S+: connect: permission denied", r"statfs \S+\.sock: permission denied",
        r"error while fetching server api version.{0,80}permissionerror"],
       ["docker daemon socket", "connect: permission denied", "docker api at", "elevated privileges",
        "access is denied", "sock: permission denied", "permissionerror"],
       "The user may not open the daemon's socket or pipe: neither root nor in the docker group "
       "(docker-users on Windows), or a rootless user pointed at the root socket.",
       ["id USER", "ls -l /var/run/docker.sock"],
       "Pull as root / via sudo, or add the user to the docker group (and log in again).",
       tier=1, related=("auth",), refines=("daemon-not-running",)),
    _c("containerd-unavailable", "daemon", "containerd not reachable",
       [r"containerd\.sock.{0,80}(?:connection refused|no such file|deadline exceeded|connect:|timeout)",
        r"failed to dial \S*containerd", r"failed to dial \S*\.sock", r"error while dialing:? dial unix\S* \S*containerd",
        # the CRI endpoints of the kubelet, crictl and nerdctl (containerd, CRI-O, cri-dockerd)
        r"dial unix:?\s?/*\S*(?:crio|cri-dockerd|dockershim)\S*\.sock",
        r"failed to connect to unix://\S+\.sock",       # crictl < 1.20
        r"validate service connection",                 # crictl >= 1.26
        r"cannot access containerd socket", r"rootless containerd not running",   # nerdctl
        # moby: dockerd's own containerd (daemon/command/daemon.go) and the pull's lease
        # (daemon/images/image_pull.go), both gRPC calls to containerd
        r"failed to start containerd", r"timeout waiting for containerd", r"error creating temporary lease"],
       ["containerd.sock: connect", "failed to dial", "error while dialing", "containerd.sock",
        "crio", "cri-dockerd", "dockershim", "failed to connect to unix", "validate service connection",
        "containerd socket", "containerd not running", "failed to start containerd",
        "waiting for containerd", "temporary lease"],
       "The client or dockerd cannot reach the container runtime's socket (containerd, which does "
       "the pulls on Docker 23+ with the containerd image store and on Kubernetes; CRI-O; "
       "cri-dockerd): it is stopped, crashed, or the endpoint configured is another one.",
       ["restarts.units containerd.service", "systemctl status containerd",
        "crictl config / the kubelet's --container-runtime-endpoint"],
       "Start (or restart) the runtime, point crictl/the kubelet at its socket, then restart docker.",
       tier=1, refines=("daemon-not-running",)),
    _c("cri-plugin-disabled", "daemon", "containerd runs without its CRI plugin",
       # containerd docs/cri/crictl.md: "unknown service runtime.v1alpha2.RuntimeService" is a
       # containerd configured for Docker (config.toml with disabled_plugins = ["cri"])
       [r"unknown service runtime\.v1(?:alpha2)?\.(?:image|runtime)service"],
       ["unknown service runtime"],
       "containerd answers but has no CRI service: the containerd.io package's config.toml "
       "disables the cri plugin (disabled_plugins = [\"cri\"]), or the runtime is too old for "
       "the kubelet's CRI version.",
       ["grep disabled_plugins /etc/containerd/config.toml", "containerd --version"],
       "containerd config default > /etc/containerd/config.toml (or remove \"cri\" from "
       "disabled_plugins), then systemctl restart containerd.",
       tier=0, refines=("containerd-unavailable",)),
    _c("unpack-without-id-privileges", "daemon", "The runtime may not set a layer's owners or devices",
       # containers/storage pkg/archive checkChownErr: "potentially insufficient UIDs or GIDs
       # available in user namespace (requested %d:%d for %s): Check /etc/subuid and /etc/subgid
       # ..."; moby/containerd unpack: lchown/mknod/setxattr refused (EPERM/EINVAL) when the daemon
       # runs without those privileges (rootless without a subuid range, an unprivileged LXC
       # container, userns-remap with a short range)
       [r"potentially insufficient uids or gids available in user namespace",
        r"(?:lchown|mknod|lsetxattr|setxattr) \S+: (?:operation not permitted|invalid argument)"],
       ["insufficient uids or gids", "lchown", "mknod", "setxattr"],
       "Unpacking a layer needs to give files their owners (and create device nodes): the daemon "
       "runs where it may not (rootless without a /etc/subuid and /etc/subgid range, an "
       "unprivileged LXC/LXD container, userns-remap with too few ids).",
       ["grep USER /etc/subuid /etc/subgid", "podman info (idMappings) / docker info (rootless, userns)",
        "LXC: security.nesting / unprivileged"],
       "Give the user a subuid/subgid range (usermod --add-subuids 100000-165535 ...) and run "
       "podman system migrate; or run the daemon privileged / in a VM instead of an unprivileged "
       "container.",
       tier=1, refines=("layer-register-failed",)),
    _c("storage-driver-failed", "daemon", "The daemon's storage driver did not initialise",
       # moby daemon/graphdriver: driver.go ("contains several valid graphdrivers"), errors.go
       # ErrNotSupported "driver not supported"; layer/layer_store.go "error initializing graphdriver"
       [r"error initializing graphdriver", r"graphdriver.{0,80}driver not supported",
        r"contains several valid graphdrivers", r"prior storage driver \S+ failed",
        r"driver not supported",
        # overlayutils: the backing filesystem lacks d_type; overlay2 driver.go: the kernel
        # refused the overlay mount (unsupported backing or upper filesystem, e.g. overlay on
        # overlay or on ecryptfs)
        r"formatted without d_type support",
        r"(?:error creating overlay mount to|failed to mount overlay)\S*.{0,200}invalid argument"],
       ["graphdriver", "driver not supported", "prior storage driver", "d_type", "overlay mount",
        "failed to mount overlay"],
       "dockerd could not start its storage driver: the kernel or backing filesystem does not "
       "support it (overlay on overlay, xfs without d_type), daemon.json names another driver than "
       "the data root holds, or the data root holds several drivers' data.",
       ["docker.info.storage_driver", "daemon_json storage-driver", "ls /var/lib/docker",
        "journalctl -u docker -b | grep -i graphdriver"],
       "Set storage-driver in daemon.json to the one the data root uses (or move the old data "
       "root away), on a filesystem that supports it; restart docker.",
       tier=1, related=("disk",), refines=("daemon-start-failed", "layer-register-failed")),
    _c("daemon-start-failed", "daemon", "Docker daemon failed to start",
       [r"failed to start daemon", r"error starting daemon", r"start request repeated too quickly",
        r"failed to load listeners",
        r"start-limit-hit",
        # systemd's own wording (journalctl / systemctl status / the failed start job)
        r"failed to start docker application container engine", r"job for docker\.service failed",
        r"docker\.service: (?:main process exited|failed with result)",
        r"docker\.service.{0,200}active: failed",
        # moby daemon/daemon.go; systemd's job and unit texts for docker.service / docker.socket
        r"error initializing network controller", r"dependency failed for docker",
        r"unit docker\.(?:service|socket) (?:is masked|not found|could not be found)",
        r"docker\.socket: failed", r"failed to listen on docker socket"],
       ["failed to start daemon", "error starting daemon", "repeated too quickly", "load listeners",
        "start-limit-hit", "docker application container engine", "job for docker.service",
        "docker.service: main process", "docker.service: failed with result", "active: failed",
        "network controller", "dependency failed for docker", "unit docker.", "docker.socket: failed",
        "docker socket"],
       "dockerd exited during start-up (configuration, storage driver, network setup).",
       ["restarts.units docker.service", "daemon_json", "journalctl -u docker -b"],
       "Read the line before this one in the daemon log, fix the cause, "
       "systemctl reset-failed docker; systemctl start docker.",
       tier=2, fallback=True),
    # ---------------------------------------------------------------- dns
    _c("no-such-host", "dns", "Registry name does not resolve",
       [r"no such host", r"lookup \S+ on \S+: no such host",
        r"lookup \S+ on \S+:\s*no such\W*$"],      # cut off as quoted in threads
       ["no such host"],
       "The resolver answered NXDOMAIN for the registry (or proxy) name: a typo, a missing "
       "internal zone, or a resolv.conf pointing at the wrong resolver.",
       ["dns.resolv_conf.nameservers and search", "daemon_json.config dns",
        "getent hosts REGISTRY"],
       "Fix the name or the resolver configuration (resolv.conf / systemd-resolved).",
       tier=1),
    _c("dns-server-misbehaving", "dns", "Resolver returned an error (SERVFAIL)",
       [r"server misbehaving"],
       ["server misbehaving"],
       "The resolver answered with SERVFAIL/REFUSED: an upstream outage, DNSSEC failure, or "
       "a resolver that refuses this client.",
       ["dns.resolv_conf.nameservers", "dig REGISTRY @NAMESERVER"],
       "Fix the resolver or point the host at a working one.",
       # a stub or forwarding resolver (systemd-resolved, dnsmasq, Docker Desktop's) answers
       # SERVFAIL when its own upstream queries get nothing back: egress to port 53 blocked
       tier=1, related=("firewall",)),
    _c("dns-lookup-failed", "dns", "Resolver unreachable or timing out",
       [r"lookup \S+(?: on \S+)?: (?:read udp \S+: )?(?:i/o timeout|read: connection refused|"
        r"connection refused|dial udp \S+: connect: network is unreachable|network is unreachable)",
        r"lookup \S+.{0,120}i/o timeout",
        r"temporary failure in name resolution", r"lookup \S+: try again",
        # Go: the query to the resolver failed on the wire, or the lookup was cut short
        r"lookup \S+ on \S+: (?:read|dial|write) (?:udp|tcp)",
        r"lookup \S+(?: on \S+)?: (?:dial udp \S+: )?operation was canceled",
        # Go's DNSError under a dial ("dial tcp: lookup NAME[ on SERVER]: ERR"): whatever ERR the
        # resolver gave (a libc errno such as "device or resource busy", a new Go text), the dial
        # never got an address; NXDOMAIN and SERVFAIL have classes of their own
        r"dial (?:tcp|udp)[46]?: lookup [^\s:]+(?: on \S+)?: (?!no such|server misbehaving)\w",
        # Java (UnknownHostException), busybox/musl tools ("bad address 'NAME'")
        r"unknownhostexception", r"bad address '",
        r"no answer from dns server",
        # Go's native resolver (net/dnsclient_unix.go): a reply it cannot use
        r"cannot unmarshal dns message", r"lame referral", r"invalid dns response",
        # Windows (Go: lookup X: getaddrinfow: <WSA text>), WSATRY_AGAIN and WSAHOST_NOT_FOUND
        r"getaddrinfow", r"temporary error during hostname resolution",
        r"no such host is known",
        # libc getaddrinfo texts as Python (compose v1, docker-py) and curl print them
        r"name or service not known", r"nodename nor servname provided",
        r"getaddrinfo failed", r"name does not resolve", r"could not resolve host",
        r"no address associated with hostname", r"eai_again", r"getaddrinfo enotfound",
        # The query on the wire without Go's "lookup NAME on" prefix (cut off when quoted, or
        # wrapped by a tool that printed only the innermost net.OpError): a UDP datagram to or
        # from port 53 is a DNS query (Go net/dnsclient_unix.go dials "udp" to ADDR:53).
        r"(?:dial|read|write) udp[46]? (?:\S+->)?\[?[0-9a-f.:]+\]?:53(?![0-9])",
        # nginx's own resolver (a pull-through proxy or mirror in front of a registry;
        # src/core/ngx_resolver.c): "NAME could not be resolved (110: Operation timed out)",
        # "... while resolving, resolver: ADDR:53"
        r"could not be resolved \(\d+: ", r"while resolving, resolver: "],
       ["could not be resolved", "while resolving", "lookup", "name resolution", "dial udp", "read udp", "write udp", "dns server", "unknownhostexception", "bad address", "dns message", "lame referral",
        "dns response", "getaddrinfo", "hostname resolution", "no such host",
        "service not known", "servname", "does not resolve", "resolve host",
        "associated with hostname", "eai_again"],
       "The name could not be resolved at all: the nameservers in resolv.conf do not "
       "answer (firewall on port 53, stub resolver not running, unreachable network).",
       ["dns.resolv_conf.nameservers (127.0.0.53 needs systemd-resolved)",
        "firewall rules for udp/tcp 53", "getent hosts REGISTRY"],
       "Point resolv.conf at reachable resolvers; allow port 53 outbound.",
       tier=1, related=("firewall",)),
    # ---------------------------------------------------------------- reachability
    _c("registry-server-error", "reachability", "Registry answered with a 5xx error",
       [r"unexpected http status: 5\d\d", r"\b50[0234] (?:internal server error|bad gateway|"
        r"service unavailable|gateway timeout)", r"status code 5\d\d",
        r"unexpected status(?: code)?: 5\d\d", r"invalid status code from registry 5\d\d"],
       ["unexpected http status", "internal server error", "bad gateway",
        "service unavailable", "gateway timeout", "status code", "unexpected status"],
       "The registry (or a proxy/load balancer in front of it) failed the request.",
       ["try from a working host at the same time", "proxy.daemon"],
       "Retry later; check the registry's (or the proxy's) health.",
       tier=1, related=("proxy",)),
    _c("registry-network-rule", "firewall", "The registry's own network rules refuse this client",
       # Cloud registries answer a 403 "denied: ..." when the caller's address or network is
       # outside their allowlist: Azure Container Registry's built-in firewall ("client with IP
       # '...' is not allowed access. Refer https://aka.ms/acr/firewall", Azure docs,
       # container-registry-troubleshoot-access), Google's VPC Service Controls perimeter
       # ("Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier").
       # The credentials are fine: the network the request comes from is not.
       [r"client with ip \S+ is not allowed access", r"aka\.ms/acr/firewall",
        r"request is prohibited by organization'?s policy", r"vpcservicecontrolsuniqueidentifier"],
       ["not allowed access", "acr/firewall", "prohibited by organization", "vpcservicecontrols"],
       "The registry refused the request because of where it came from, not who sent it: its "
       "firewall / network rules (ACR public network rules, a VPC Service Controls perimeter) "
       "do not list this host's (or its NAT's) address or network.",
       ["the host's public egress IP (curl -s ifconfig.me) vs the registry's network rules",
        "az acr network-rule list / the VPC-SC perimeter's access levels"],
       "Add the host's egress IP or network to the registry's allowed networks, or reach it "
       "through its private endpoint.",
       tier=0, refines=("unauthorized", "forbidden", "cloud-sdk-denied", "registry-denied-terse")),
    _c("local-egress-blocked", "firewall", "This host's own firewall refused the connection",
       # The kernel refused to send: netfilter dropping a locally generated packet in OUTPUT
       # makes connect()/sendmsg() fail with EPERM "operation not permitted" (EACCES with an
       # SELinux/AppArmor network rule); Windows says the same with WSAEACCES (10013) or, for
       # a connection its own software (firewall, antivirus, VPN client) cut, WSAECONNABORTED
       # (10053). Nothing was sent, so it is not the network: a rule on the host itself.
       [r"dial (?:tcp|udp)[46]? \S+: connect: (?:operation not permitted|permission denied)",
        r"(?:write|sendto|sendmsg): operation not permitted",
        r"forbidden by its access permissions",
        r"aborted by the software in your host machine"],
       ["connect: operation not permitted", "connect: permission denied", "operation not permitted",
        "access permissions", "aborted by the software"],
       "The connection never left the host: a rule of this host's own firewall (iptables/nft "
       "OUTPUT, firewalld, a Windows firewall or antivirus/VPN client, an SELinux policy) refused it.",
       ["firewall rules (OUTPUT chain, nft ruleset)", "getenforce; ausearch -m avc -ts recent",
        "Windows: the firewall / antivirus log"],
       "Allow outbound tcp/443 (and udp+tcp/53) for dockerd in the host firewall or security "
       "software, then retry.",
       tier=0, related=("proxy",)),
    _c("no-route-to-host", "firewall", "No route to host",
       [r"no route to host", r"ehostunreach"],
       ["no route to host", "ehostunreach"],
       "The kernel got 'host unreachable': typically a firewall REJECT "
       "(icmp-host-prohibited), or no ARP answer on the local segment.",
       ["firewall rules (REJECT with icmp-host-prohibited)", "network.default_route",
        "ip route get REGISTRY_IP"],
       "Allow the registry in the firewall, fix routing.",
       tier=2, related=("reachability",)),
    _c("network-unreachable", "reachability", "Network unreachable",
       [r"network is unreachable",
        # an IPv6 destination on a host without a usable IPv6 source address or with IPv6 off
        r"dial tcp \[[0-9a-f:]+\]:\d+: connect: cannot assign requested address",
        r"address family not supported by protocol",
        # EADDRNOTAVAIL for IPv4: no usable source address (interface down, DHCP lost) or the
        # ephemeral ports used up; EHOSTDOWN: the next hop does not answer (BSD/macOS, Linux ARP)
        r"dial tcp \S+: connect: cannot assign requested address", r"connect: host is down"],
       ["network is unreachable", "cannot assign requested address", "address family not supported",
        "host is down"],
       "No route to the registry address family/network (often IPv6 tried on an IPv4-only "
       "host before falling back, or no default route).",
       ["network.default_route", "ip -6 route"],
       "Add the missing route, or stop resolving AAAA where IPv6 does not route.",
       tier=2, related=("firewall",)),
    _c("connection-refused", "reachability", "Connection refused",
       [r"connection refused",
        r"target machine actively refused it"],        # Windows WSAECONNREFUSED (10061)
       ["connection refused", "actively refused"],
       "Nothing listens on the registry (or proxy) port at that address, or a firewall "
       "REJECTs with tcp-reset.",
       ["the port in the image reference (registry:5000?)", "firewall REJECT rules",
        "nc -vz REGISTRY PORT"],
       "Point at the right host:port, start the registry, or allow it in the firewall.",
       tier=2, related=("firewall", "proxy")),
    _c("io-timeout", "reachability", "Connection timed out",
       [r"i/o timeout", r"connection timed out", r"connect: operation timed out",
        r"network timed out while trying to connect",
        # Windows WSAETIMEDOUT (10060), as Go prints it after "connectex:" / "wsarecv:"
        r"connected party did not properly respond after a period of time"],
       ["i/o timeout", "timed out", "did not properly respond"],
       "SYNs or packets go unanswered: a firewall DROPs egress to the registry (or a proxy "
       "is required and not configured), or the address is unroutable.",
       ["firewall.output_blocks_443 and rules", "proxy.daemon (set on working hosts?)",
        "nc -vz -w 5 REGISTRY 443"],
       "Allow egress to the registry (or configure the proxy the network requires).",
       tier=2, related=("firewall", "proxy", "mtu")),
    _c("request-timeout", "reachability", "Request timed out",
       [r"client\.timeout exceeded", r"context deadline exceeded",
        r"request canceled while waiting for connection", r"timeout awaiting response headers"],
       ["timeout exceeded", "timeout awaiting", "deadline exceeded", "request canceled"],
       "The connection was made but the answer did not come in time: slow/overloaded "
       "registry or proxy, or large packets lost on the path.",
       ["network MTU", "proxy.daemon", "time curl -sI https://REGISTRY/v2/"],
       "Check MTU and the proxy; retry when the registry is healthy.",
       tier=2, related=("proxy", "firewall", "mtu")),
    _c("connection-reset", "reachability", "Connection reset by peer",
       [r"connection reset by peer", r"econnreset",
        r"forcibly closed by the remote host",          # Windows WSAECONNRESET (10054)
        # Go net/http: the peer closed a kept-alive connection as it was reused, or under us
        r"http: server closed idle connection", r"use of closed network connection"],
       ["connection reset", "econnreset", "server closed idle connection", "closed network connection",
        "forcibly closed"],
       "A middlebox (proxy, IDS, load balancer) or the registry closed the connection "
       "abruptly; MTU problems and flaky links also show this way.",
       ["network MTU vs path", "proxy.daemon", "firewall rules"],
       "Check MTU/MSS clamping and the proxy; retry to see if it is intermittent.",
       tier=2, related=("proxy", "firewall", "mtu")),
    _c("unexpected-eof", "reachability", "Transfer cut off (unexpected EOF)",
       [r"unexpected eof",
        # containerd: the body ended before its Content-Length (remotes "short read", content
        # store "unexpected commit size")
        r"short read: expected \d+ bytes but got \d+", r"unexpected commit size \d+, expected \d+"],
       ["unexpected eof", "short read", "unexpected commit size"],
       "The connection ended in the middle of a response: a proxy or middlebox cutting long "
       "downloads (or running out of disk), a flaky path or registry front end, or large "
       "packets lost on a path with a smaller MTU (VPN, VXLAN, cloud overlays).",
       ["network.interfaces mtu / network.docker0_mtu / daemon_mtu",
        "ping -M do -s 1472 REGISTRY", "proxy.daemon"],
       "Check the proxy's limits and logs; retry to see if it is intermittent; lower the MTU "
       "(daemon.json mtu, interface) or clamp MSS.",
       tier=2, related=("proxy", "mtu")),
    _c("http-eof", "proxy", "Connection closed before any answer (EOF)",
       [r":\s*EOF(?:\W|$)"],
       ["eof"],
       "The peer closed the connection without answering the request: a proxy refusing "
       "CONNECT, a TLS-inspecting middlebox, or a registry behind a load balancer with no "
       "backend.",
       ["proxy.daemon", "curl -v https://REGISTRY/v2/"],
       "Check the proxy/middlebox in front of the registry.",
       tier=2, related=("tls", "reachability")),
    _c("http2-connection-lost", "reachability", "HTTP/2 connection dropped by the other end",
       # Go's bundled HTTP/2 client (net/http/h2_bundle.go): the peer (registry front end,
       # CDN or a proxy that speaks h2) ended the connection or reset the stream mid-request
       [r"http2: server sent goaway", r"stream error: stream id \d+; (?:internal_error|protocol_error|"
        r"cancel|refused_stream|enhance_your_calm)", r"http2: client connection lost",
        r"http2: response body closed"],
       ["http2:", "stream error"],
       "The HTTP/2 connection to the registry or its blob CDN was closed or reset in the middle "
       "of a request: a proxy or middlebox that mishandles HTTP/2, an overloaded front end, or a "
       "path that drops long transfers.",
       ["proxy.daemon", "curl -v --http2 https://REGISTRY/v2/", "network MTU"],
       "Retry; check the proxy in the path (or force HTTP/1.1 through it); check the MTU.",
       tier=2, related=("proxy", "mtu")),
    _c("tls-local-error", "tls", "The TLS client rejected what the other end sent",
       # Go crypto/tls conn.go: an alert this side raised ("local error: tls: record overflow",
       # "unexpected message", "bad record MAC") on bytes that were not the registry's TLS: a
       # middlebox rewriting or truncating the stream, or a non-TLS service on the port
       [r"local error: tls: [a-z ]+", r"(?<!remote error: )tls: handshake failure"],
       ["local error: tls", "handshake failure"],
       "The handshake failed on this side: the bytes that came back were not valid TLS from the "
       "registry, as when a proxy, inspecting firewall or portal answers in its place, or the "
       "registry's TLS settings (versions, ciphers) do not overlap with the client's.",
       ["curl -v https://REGISTRY/v2/ from the host", "proxy.daemon",
        "openssl s_client -connect REGISTRY:443 -servername REGISTRY </dev/null"],
       "Find what answers on the registry's port (a proxy, portal, inspecting firewall) and bypass "
       "or fix it; align TLS versions if the registry is old.",
       tier=1, related=("proxy", "firewall")),
    _c("redirect-loop", "proxy", "Redirected in a loop",
       # Go net/http client.go: "stopped after 10 redirects"
       [r"stopped after \d+ redirects"],
       ["redirects"],
       "The request was redirected again and again: a captive portal or proxy login page "
       "redirecting every request to itself, or a registry or mirror misconfigured behind a "
       "reverse proxy (http<->https or host rewrites).",
       ["curl -vL https://REGISTRY/v2/ from the host (where do the Location headers point?)",
        "proxy.daemon"],
       "Log in to the portal or exempt the host; fix the reverse proxy's redirect rules.",
       tier=1, related=("reachability",)),
    _c("daemon-fd-limit", "daemon", "The daemon ran out of file descriptors",
       # EMFILE/ENFILE from socket(2) or open(2) inside dockerd/containerd
       [r"socket: too many open files", r"too many open files"],
       ["too many open files"],
       "dockerd (or containerd) hit its open-file limit (LimitNOFILE of the unit) or the "
       "system's, so it cannot open the connection or the layer file.",
       ["systemctl show docker -p LimitNOFILE", "ls /proc/$(pidof dockerd)/fd | wc -l"],
       "Raise LimitNOFILE in a docker.service drop-in (or fs.file-max), find the leak, restart docker.",
       tier=1),
    _c("malformed-http-response", "tls", "A TLS server answered a plain-HTTP request",
       # Go net/http transport (1.12+): "net/http: HTTP/1.x transport connection broken:
       # malformed HTTP response \"\x15\x03\x01...\"": the bytes are a TLS alert record, so
       # the client spoke HTTP to a port that speaks TLS
       [r"malformed http response"],
       ["malformed http response"],
       "The client sent plain HTTP and a TLS server answered (the bytes \\x15\\x03 are a TLS "
       "alert): an http:// proxy URL pointing at an HTTPS port, or a registry reached over HTTP "
       "(insecure-registries, http:// in a mirror URL) that only serves TLS.",
       ["proxy.daemon scheme and port", "daemon_json registry-mirrors and insecure-registries"],
       "Use https:// for a TLS registry or mirror; give the proxy's plain-HTTP port in HTTP(S)_PROXY.",
       tier=1, related=("proxy", "daemon")),
    _c("broken-pipe", "reachability", "Broken pipe",
       [r"broken pipe"],
       ["broken pipe"],
       "The peer went away while data was being sent (proxy or registry restart, flaky "
       "path).",
       ["proxy.daemon", "network MTU"],
       "Retry; check the proxy and the path.",
       tier=2, related=("mtu", "proxy")),
    _c("pull-canceled", "reachability", "Pull canceled",
       [r"context canceled", r"code = canceled"],
       ["context canceled", "code = canceled"],
       "The client gave up on the pull (compose/kubelet timeout, Ctrl-C): usually a very "
       "slow download.",
       ["network MTU", "proxy.daemon", "image size"],
       "Find why the download is slow; raise the client's timeout.",
       # a download slow enough for the client to give up: a path MTU problem, or a proxy in
       # the path throttling or holding the transfer
       tier=2, related=("mtu", "proxy"), fallback=True),
    # ---------------------------------------------------------------- non-registry answers
    # A registry answers in JSON. An HTML or XML body, or a bare HTTP status text where the
    # registry's error should be, means something else answered: a proxy, a middlebox, a
    # captive portal, a broken mirror.
    _c("proxy-block-page", "proxy", "A proxy or web filter answered instead of the registry",
       [r"zscaler", r"blue ?coat", r"watchguard", r"fortiguard", r"fortigate", r"forcepoint",
        r"websense", r"\bsquid\b", r"mcafee web gateway", r"netskope", r"barracuda", r"palo ?alto",
        r"response denied by", r"access denied by .{0,60}proxy",
        r"blocked by .{0,60}(?:proxy|web ?filter|url ?filter|content ?filter|policy)",
        r"captive portal", r"complete the security check", r"authorizedonly",
        # TLS-inspecting gateways and endpoint filters (their CA signs what they re-serve,
        # Go names it as the "candidate authority"), and generic block-page titles
        r"cisco umbrella", r"sophos", r"check ?point", r"kaspersky", r"avast", r"bitdefender",
        r"eset ssl filter", r"web page blocked", r"the requested url could not be retrieved",
        # a mirror or proxy that serves only the images on its list
        r"not in the (?:allow|white) ?list"],
       ["zscaler", "bluecoat", "blue coat", "watchguard", "fortiguard", "fortigate",
        "forcepoint", "websense", "squid", "mcafee web gateway", "netskope", "barracuda",
        "palo alto", "paloalto", "response denied by", "access denied by", "blocked by",
        "captive portal", "security check", "authorizedonly", "cisco umbrella", "sophos",
        "checkpoint", "check point", "kaspersky", "avast", "bitdefender", "eset ssl filter",
        "web page blocked", "could not be retrieved", "allowlist", "whitelist", "allow list", "white list"],
       "The answer came from a web proxy, filter or portal (its block page is in the error), "
       "not from the registry: the network's proxy refuses or intercepts the registry.",
       ["proxy.daemon HTTPS_PROXY / NO_PROXY", "curl -v https://REGISTRY/v2/ from the host",
        "the proxy's allow-list for the registry and its blob CDN hosts"],
       "Have the registry (and its CDN/blob hosts) allowed on the proxy, or route the daemon "
       "through the proxy that allows it (HTTPS_PROXY in a docker.service drop-in).",
       tier=0, related=("firewall", "tls"), refines=("html-error-page", "forbidden")),
    _c("proxy-connect-status", "proxy", "The proxy refused the CONNECT (bare HTTP status)",
       # Go's transport, dialConn (Go 1.x .. 1.23 net/http/transport.go): a CONNECT answered
       # with anything but 200 becomes errors.New(<status text>), without the code, capitalised
       # as http.StatusText spells it; a 401 from the proxy reads just "Unauthorized".
       [r"(?<![^\s\"\'(\[=])https?://\S+?\\?\"?: (?:forbidden|bad gateway|service unavailable|gateway time-?out|"
        r"method not allowed)\W{0,4}$",
        r"(?<![^\s\"\'(\[=])https?://\S+?\\?\"?: (?-i:Unauthorized)\W{0,4}$",
        # the other statuses proxies answer a CONNECT with, as http.StatusText spells them
        # (case kept: a registry's own errors are lowercase errcodes, never these bare texts);
        # 511 is a captive portal's
        r"(?<![^\s\"\'(\[=])https?://\S+?\\?\"?: (?-i:Bad Request|Not Found|Internal Server Error|Request Timeout|"
        r"Not Implemented|Too Many Requests|Network Authentication Required)\W{0,4}$"],
       ["forbidden", "bad gateway", "service unavailable", "gateway time", "method not allowed",
        "unauthorized", "bad request", "not found", "internal server error", "request timeout",
        "not implemented", "too many requests", "network authentication required"],
       "The error is only an HTTP status text after the URL: that is how Go reports a proxy "
       "that answered the CONNECT with that status. A registry would have sent a JSON error.",
       ["proxy.daemon HTTPS_PROXY", "curl -x \"$HTTPS_PROXY\" -sI https://REGISTRY/v2/"],
       "Allow the registry on the proxy, or exempt it with NO_PROXY if it is reachable directly.",
       tier=1, related=("firewall", "auth"), refines=("unauthorized",)),
    _c("html-408-timeout", "mtu", "HTML 408 Request Time-out while sending the request",
       [r"408 request time-? ?out"],
       ["408 request time"],
       "The front end of the registry (or a proxy) gave up waiting for the request to arrive: "
       "classically large packets are lost on a path with a smaller MTU (jumbo frames on the "
       "host, VPN or overlay), so the request never completes.",
       ["network.interfaces mtu vs the path (ping -M do -s 1472 REGISTRY)", "network.docker0_mtu"],
       "Lower the interface or daemon MTU to the path MTU (ip link set dev IFACE mtu 1500/1400), "
       "or clamp MSS.",
       tier=1, related=("proxy", "reachability"), refines=("html-error-page",)),
    _c("registry-storage-xml-error", "proxy", "A storage backend error relayed by a proxy or mirror",
       [r"<error>\s*<code>\w+</code>"],
       ["/code"],
       "An object-storage XML error (S3/R2 style) came back instead of a registry answer: a "
       "registry proxy or mirror in between forwarded the blob request wrongly.",
       ["registry-mirrors in daemon_json", "the proxy/mirror's logs and version"],
       "Bypass or fix the registry proxy/mirror (upgrade it); pull from the registry directly.",
       tier=1, related=("reachability",), refines=("html-error-page",)),
    _c("html-error-page", "proxy", "An HTML page instead of a registry answer",
       [r"invalid character '<' looking for beginning of value", r"error parsing http \d{3} response body",
        r"<html", r"<!doctype html"],
       ["invalid character", "response body", "html"],
       "The registry request got an HTML (or other non-JSON) page: a proxy, middlebox, portal "
       "or web server that is not the registry answered (wrong port/host, blocked, portal).",
       ["curl -v https://REGISTRY/v2/ (who answers?)", "proxy.daemon", "registry-mirrors"],
       "Find who served the page (its title says), then fix the proxy/mirror or the registry "
       "address.",
       tier=2, related=("reachability", "auth"), refines=("forbidden",)),
    _c("registry-denied-terse", "auth", "Registry said only 'denied'",
       [r"denied: denied", r"/manifests/\S+?\\?\"?: denied\W{0,4}$", r"^\W*denied\W*$",
        # moby's containerd image store (daemon/containerd/registry_errors.go) prefixes the
        # registry's own message
        r"error from registry: denied\W*(?:$|\n)"],
       ["denied"],
       "The registry refused the request without detail. ghcr.io and others say just "
       "'denied' for a repository that does not exist as well as for missing or stale "
       "credentials.",
       ["docker logout REGISTRY; pull again anonymously", "the exact repository path and case"],
       "Fix the repository path, or log in (or out: stale credentials break public pulls).",
       tier=1, related=("reference",)),
    # ---------------------------------------------------------------- ssh transport
    _c("docker-ssh-transport", "ssh", "The docker CLI's SSH connection to the host failed",
       [r"command \[ssh .{0,300}dial-stdio", r"docker system dial-stdio", r"commandconn",
        r"host key verification failed", r"exec: \\?\"?ssh\\?\"?: executable file not found",
        r"kex_exchange_identification", r"permission denied \(publickey",
        r"remote host identification has changed",
        # OpenSSH's refusal to open the forwarded channel (the remote socket)
        r"secsh channel \d+ open failed", r"channel \d+: open failed",
        # the OpenSSH client's own failures (ssh.c / sshconnect.c), when the ssh leg of a
        # deployment (docker -H ssh://, ssh HOST docker pull) is what broke
        r"ssh: connect to host \S+ port \d+", r"ssh: could not resolve hostname",
        r"banner exchange: connection to \S+ port \d+", r"too many authentication failures",
        r"permission denied, please try again",
        # golang.org/x/crypto/ssh (docker-machine, Go deploy tools): client.go / knownhosts
        r"ssh: handshake failed", r"ssh: unable to authenticate", r"knownhosts: key (?:mismatch|is unknown)",
        # OpenSSH's connection multiplexing (mux.c, ControlMaster): the master refused or lost
        # the new session ("Session open refused by peer": the server's MaxSessions), and
        # packet.c's "Connection closed by ADDR port N" when the server ends the connection
        r"mux_client_\w+: ", r"session open refused by peer", r"control ?socket connect\(",
        r"connection closed by \S+ port \d+",
        # paramiko (docker-py / docker-compose v1 with ssh:// hosts): client.py, transport.py
        r"no authentication methods available", r"error reading ssh protocol banner",
        r"server \S+ not found in known_hosts"],
       ["dial-stdio", "commandconn", "host key verification", "executable file not found",
        "kex_exchange_identification", "publickey",
        "host identification", "secsh channel", "open failed", "ssh: connect to host",
        "could not resolve hostname", "banner exchange", "too many authentication failures",
        "please try again", "ssh: handshake failed", "unable to authenticate", "knownhosts",
        "mux_client_", "session open refused", "controlsocket", "control socket", "connection closed by",
        "no authentication methods", "ssh protocol banner", "known_hosts"],
       "The docker CLI talks to the daemon through ssh (DOCKER_HOST/context ssh://) and ssh "
       "itself failed: unknown or changed host key, refused key, no ssh binary, or the "
       "remote user cannot use docker.",
       ["ssh -v USER@HOST docker system dial-stdio", "known_hosts entry for the host",
        "id USER on the host (docker group)"],
       "Add the host key to known_hosts (ssh-keyscan), use the right key/user, install ssh, "
       "put the user in the docker group.",
       tier=0, related=("daemon", "auth"), refines=("daemon-not-running",)),
    # ---------------------------------------------------------------- kubelet image GC
    _c("kubelet-image-gc-failed", "disk", "Node image filesystem full (kubelet)",
       [r"failed to garbage collect required amount of images", r"freediskspacefailed",
        r"imagegcfailed", r"diskpressure", r"disk pressure"],
       ["garbage collect", "freediskspacefailed", "imagegcfailed", "diskpressure",
        "disk pressure"],
       "The kubelet cannot free enough image space: the node's image filesystem is full.",
       ["df -h /var/lib/containerd /var/lib/docker", "crictl images"],
       "Free or grow the image filesystem; remove unused images (crictl rmi --prune).",
       tier=1),
    # ---------------------------------------------------------------- wrappers
    # Alone (no wrapped error), the wrapper ranks what the field guide (sections 3 and 4) and the
    # Kubernetes documentation of ImagePullBackOff give as the usual reasons: a wrong image name
    # or tag, then missing registry credentials, then the network.
    _c("kubelet-pull-failed", "reference", "Kubelet/CRI pull failure (wrapper)",
       [r"errimagepull", r"imagepullbackoff", r"back-off pulling image", r"failed to pull image",
        r"failed to pull and unpack image", r"cannotpullcontainererror", r"failed to get sandbox image"],
       ["errimagepull", "imagepullbackoff", "pulling image", "failed to pull",
        "cannotpullcontainererror", "sandbox image"],
       "The runtime failed to pull and is backing off; the cause is in the wrapped error.",
       ["the rest of the message; daemon_log of the node"],
       tier=3, wrapper=True, related=("auth", "reachability")),
    _c("registry-request-failed", "reachability", "Registry request failed (wrapper)",
       [r"failed to resolve reference", r"failed to do request", r"error pulling image configuration",
        r"error getting v2 registry", r"attempting next endpoint for pull after error",
        r"not continuing with pull after error", r"download failed after attempts",
        r"failed to resolve ref\b", r"pinging container registry", r"initializing source",
        r"talk to a v1 container registry"],
       ["resolve reference", "failed to do request", "image configuration", "v2 registry",
        "after error", "download failed", "resolve ref", "pinging container registry",
        "initializing source", "talk to a v1 container registry"],
       "dockerd/containerd report that a registry request failed; the cause follows in the "
       "same line.",
       ["the rest of the message"],
       tier=3, wrapper=True),
)

BY_ID: Dict[str, PullErrorClass] = {c.id: c for c in CLASSES}
_INDEX = {c.id: i for i, c in enumerate(CLASSES)}


def classify(line: str) -> List[str]:
    """Ids of the classes `line` matches, most specific first (see module doc)."""
    if not isinstance(line, str) or not line:
        return []
    hits = [c for c in CLASSES if c.matches(line)]
    if not hits:
        return []
    specific = [c for c in hits if not c.wrapper]
    if specific:
        hits = specific
    categories_with_precise = {c.category for c in hits if not c.fallback}
    hits = [c for c in hits if not (c.fallback and c.category in categories_with_precise)]
    refined = {r for c in hits for r in c.refines}
    hits = [c for c in hits if c.id not in refined]
    hits.sort(key=lambda c: (c.tier, _INDEX[c.id]))
    return [c.id for c in hits]


def primary(line: str) -> Optional[str]:
    """The most specific class of `line`, or None."""
    ids = classify(line)
    return ids[0] if ids else None


# Host-side prefilter: lines worth sending from a daemon log. Logrus levels catch the
# errors no class knows yet (they arrive as "unclassified").
_LEVELS = ("level=error", "level=warning", "level=fatal", "level=panic",
           '"level":"error"', '"level":"warning"', '"level":"fatal"')


def host_pattern() -> str:
    """A lowercase POSIX ERE matching every line any class could match.

    Built from plain keywords only (no backslashes, no quotes) so it can travel as a
    shell argument and an awk -v value unchanged.
    """
    words: List[str] = []
    for w in _LEVELS + tuple(k for c in CLASSES for k in c.keywords):
        w = w.replace('"', ".")  # '"level":"error"' -> '.level.:.error.'
        if w not in words:
            words.append(w)
    return "|".join(words)
