"""Image references, normalized as `docker pull` does (distribution/reference)."""
import pytest

from fleetaudit.reference import DOCKER_HUB_API, ReferenceError, parse

SHA = "sha256:" + "0123456789abcdef" * 4

# input -> (normalized reference, registry, repository, tag, digest)
VALID = [
    ("nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", None),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", None),
    ("nginx:1.25-alpine", "docker.io/library/nginx:1.25-alpine", "docker.io", "library/nginx",
     "1.25-alpine", None),
    ("library/nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", None),
    ("docker.io/nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", None),
    ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1", "docker.io", "library/nginx",
     "1", None),
    ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None),
    ("grafana/grafana-oss", "docker.io/grafana/grafana-oss:latest", "docker.io",
     "grafana/grafana-oss", "latest", None),
    ("ghcr.io/owner/repo:v1.0.0", "ghcr.io/owner/repo:v1.0.0", "ghcr.io", "owner/repo", "v1.0.0", None),
    ("quay.io/prometheus/node-exporter:v1.7.0", "quay.io/prometheus/node-exporter:v1.7.0",
     "quay.io", "prometheus/node-exporter", "v1.7.0", None),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", None),
    ("mcr.microsoft.com/dotnet/aspnet:8.0", "mcr.microsoft.com/dotnet/aspnet:8.0",
     "mcr.microsoft.com", "dotnet/aspnet", "8.0", None),
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:2024.01.02",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:2024.01.02",
     "123456789012.dkr.ecr.us-east-1.amazonaws.com", "team/app", "2024.01.02", None),
    ("us-docker.pkg.dev/proj/repo/img", "us-docker.pkg.dev/proj/repo/img:latest",
     "us-docker.pkg.dev", "proj/repo/img", "latest", None),
    ("registry.fleet.test/team/app:1.0", "registry.fleet.test/team/app:1.0",
     "registry.fleet.test", "team/app", "1.0", None),
    ("localhost/app", "localhost/app:latest", "localhost", "app", "latest", None),
    ("localhost:5000/app:dev", "localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
    # no "/": "localhost:5000" is image "localhost" with tag "5000" on Docker Hub
    ("localhost:5000", "docker.io/library/localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("10.0.0.5:5000/team/app", "10.0.0.5:5000/team/app:latest", "10.0.0.5:5000", "team/app",
     "latest", None),
    ("[::1]:5000/app:1", "[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
    ("myregistry:5000/a/b/c:t", "myregistry:5000/a/b/c:t", "myregistry:5000", "a/b/c", "t", None),
    # an upper-case first component is a registry host, as in Docker
    ("Registry.Example.com/team/app", "Registry.Example.com/team/app:latest",
     "Registry.Example.com", "team/app", "latest", None),
    ("alpine@" + SHA, "docker.io/library/alpine@" + SHA, "docker.io", "library/alpine", None, SHA),
    ("alpine:3.20@" + SHA, "docker.io/library/alpine:3.20@" + SHA, "docker.io", "library/alpine",
     "3.20", SHA),
    ("reg.example/app@sha512:" + "a" * 128, "reg.example/app@sha512:" + "a" * 128, "reg.example",
     "app", None, "sha512:" + "a" * 128),
    ("a_b__c-d---e/x.y", "docker.io/a_b__c-d---e/x.y:latest", "docker.io", "a_b__c-d---e/x.y",
     "latest", None),
    ("app:_under.score-1", "docker.io/library/app:_under.score-1", "docker.io", "library/app",
     "_under.score-1", None),
]


@pytest.mark.parametrize("text,normalized,registry,repo,tag,digest", VALID)
def test_valid_references(text, normalized, registry, repo, tag, digest):
    ref = parse(text)
    assert str(ref) == normalized
    assert (ref.registry, ref.path, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert ref.original == text
    # the normalized form parses to itself
    assert str(parse(normalized)) == normalized


INVALID = [
    ("", "empty"),
    (" nginx", "whitespace"),
    ("nginx latest", "whitespace"),
    ("https://registry.example.com/app", "no scheme"),
    ("Nginx", "must be lowercase"),
    ("team/App:1", "must be lowercase"),
    ("registry.example.com/Team/app", "must be lowercase"),
    ("nginx:", "tag"),
    ("nginx:-bad", "tag"),
    ("nginx:" + "a" * 129, "tag"),
    ("nginx:a/b", "host[:port]"),   # "nginx:a" is taken for a registry with a bad port
    ("a_b.c/x", "host[:port]"),     # a "." makes it a registry host, and "_" is no host char
    ("nginx@sha256:abc", "digest"),
    ("nginx@sha256:" + "A" * 64, "lower-case hex"),
    ("nginx@md5:" + "0" * 32, "unsupported digest algorithm"),
    ("nginx@" + SHA + "@" + SHA, "more than one"),
    ("a" * 64, "64-byte hexadecimal"),
    ("team//app", "empty path component"),
    ("team/app/", "empty path component"),
    ("/app", "repository"),
    ("registry.example.com/", "empty path component"),
    ("registry.example.com:port/app", "host[:port]"),
    ("-registry.example.com/app", "host[:port]"),
    ("app-", "must be lower-case letters"),
    ("a..b/c", "host[:port]"),
    ("team/a" + "b" * 260, "255 characters"),
    ("nginx\x00", "printable"),
    ("ünïcode", "printable"),
]


@pytest.mark.parametrize("text,why", INVALID)
def test_invalid_references(text, why):
    with pytest.raises(ReferenceError) as exc:
        parse(text)
    assert why in str(exc.value)


def test_registry_parts():
    hub = parse("nginx")
    assert hub.api_host == DOCKER_HUB_API and hub.port == 443 and not hub.is_ip
    assert hub.familiar == "nginx:latest"
    local = parse("localhost:5000/app")
    assert (local.host, local.port, local.api_host) == ("localhost", 5000, "localhost")
    v6 = parse("[fd00::1]:5000/app")
    assert (v6.host, v6.port, v6.is_ip) == ("fd00::1", 5000, True)
    ip = parse("10.0.0.5/app")
    assert ip.is_ip and ip.port == 443
    assert parse("team/app:1").familiar == "team/app:1"
    assert parse("ghcr.io/o/r").familiar == "ghcr.io/o/r:latest"
    assert parse("registry.fleet.test/team/app:1.0").to_json() == {
        "input": "registry.fleet.test/team/app:1.0", "reference": "registry.fleet.test/team/app:1.0",
        "registry": "registry.fleet.test", "repository": "team/app", "tag": "1.0", "digest": None}
