"""Round 6b rules: texts in the shapes the tools print them (OpenSSH mux.c/packet.c, paramiko,
S3's XML errors, the kubelet's ECR provider, moby's pull progress), not corpus texts."""
import pytest

from fleetaudit.explain import explain
from fleetaudit.pullerrors import classify


def rank(text):
    return [c.category for c in explain(text)]


@pytest.mark.parametrize("text", [
    # OpenSSH mux.c (ControlMaster): the master could not open a session (MaxSessions reached)
    "mux_client_request_session: session request failed: Session open refused by peer",
    # OpenSSH mux.c when the control socket is stale
    "Control socket connect(/home/ci/.ssh/cm-ci@build:22): Connection refused",
    # OpenSSH packet.c: the server ended the connection
    "error during connect: Get \"http://docker.example.com/v1.41/images/json\": command [ssh -- build "
    "docker system dial-stdio] has exited with exit status 255, please make sure the URL is valid, and "
    "Docker 18.09 or later is installed on the remote host: stderr=Connection closed by 10.0.0.7 port 22",
    # paramiko (docker-py / compose v1 with ssh:// hosts): client.py, transport.py, RejectPolicy
    "paramiko.ssh_exception.SSHException: No authentication methods available",
    "paramiko.ssh_exception.SSHException: Error reading SSH protocol banner",
    "paramiko.ssh_exception.SSHException: Server 'build.example.com' not found in known_hosts",
])
def test_ssh_client_texts_are_the_ssh_leg(text):
    assert "docker-ssh-transport" in classify(text)
    assert rank(text)[0] == "ssh", rank(text)


def test_a_reset_ssh_word_alone_is_not_ssh():
    # "connection closed" without OpenSSH's "by ADDR port N" is any peer's
    assert "docker-ssh-transport" not in classify('Get "https://registry.example.com/v2/": connection closed')


S3_DENIED = ('error pulling image configuration: error parsing HTTP 403 response body: invalid character '
             '\'<\' looking for beginning of value: "<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?>\\n<Error>'
             '<Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId>'
             '</Error>"')


def test_an_object_stores_access_denied_for_a_signed_blob_url_is_a_network_policy():
    ranked = rank(S3_DENIED)
    assert ranked[0] == "firewall" and "proxy" in ranked[:3], ranked


def test_an_expired_signed_blob_url_is_the_clock():
    text = S3_DENIED.replace("<Message>Access Denied</Message>", "<Message>Request has expired</Message>")
    assert rank(text)[0] == "time", rank(text)


def test_other_store_errors_keep_the_mirror_reading():
    text = S3_DENIED.replace("AccessDenied", "NoSuchKey").replace("Access Denied", "The specified key does not exist.")
    assert rank(text)[0] == "proxy", rank(text)


ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_a_failed_ecr_token_request_outranks_the_missing_credentials_it_causes():
    # the kubelet's in-tree AWS provider (aws_credentials.go) logs the token request's failure;
    # dockerd then pulls without credentials
    text = ("while requesting ECR authorization token RequestError: send request failed\ncaused by: Post "
            "https://api.ecr.eu-west-1.amazonaws.com/: dial tcp 52.95.1.1:443: i/o timeout\n"
            f'Error response from daemon: Get https://{ECR}/v2/app/manifests/1: no basic auth credentials')
    ranked = rank(text)
    assert ranked[:2] == ["firewall", "reachability"] and "auth" in ranked[:3], ranked
    routed = text.replace("i/o timeout", "connect: network is unreachable")
    assert rank(routed)[0] == "reachability", rank(routed)


def test_ecr_without_credentials_names_the_unreachable_ecr_api_but_keeps_auth_first():
    ranked = rank(f"Error response from daemon: Get https://{ECR}/v2/app/manifests/1: no basic auth credentials")
    assert ranked[0] == "auth" and "reachability" in ranked[:3], ranked
    # any other registry: no such reading
    other = rank("Error response from daemon: Get https://registry.example.com/v2/app/manifests/1: no basic auth credentials")
    assert "reachability" not in other[:3], other


def test_an_eof_on_the_first_request_keeps_a_registry_outage_in_the_set():
    ranked = rank('Error response from daemon: Get "https://registry.example.com/v2/": EOF')
    assert "reachability" in ranked[:3] and "proxy" in ranked[:3], ranked


def test_blob_unknown_names_a_mirrors_egress_allowlist():
    ranked = rank("error pulling image configuration: download failed after attempts=1: unknown blob")
    assert ranked[0] == "reference" and "firewall" in ranked[:3], ranked


@pytest.mark.parametrize("text", [
    # the RHEL docker fork and podman
    "$ sudo docker pull registry.example.com/team/app:1.2.3\nTrying to pull repository registry.example.com/team/app ...",
    "$ podman pull registry.example.com/team/app:1.2.3\nTrying to pull registry.example.com/team/app:1.2.3...\n"
    "Getting image source signatures\nCopying blob 2f1d7b6c1a2e",
    # moby's progress lines, as a terminal shows them while the pull hangs
    "1.2.3: Pulling from team/app\n2f1d7b6c1a2e: Pulling fs layer\n9b1e2c3d4f5a: Waiting",
])
def test_a_pull_that_prints_progress_and_no_error_is_a_stall(text):
    assert rank(text)[:3] == ["mtu", "reachability", "proxy"], rank(text)


def test_progress_followed_by_an_error_is_not_a_stall():
    text = "1.2.3: Pulling from team/app\n2f1d7b6c1a2e: Pulling fs layer\nmanifest unknown: manifest unknown"
    assert rank(text)[0] == "reference", rank(text)
    # a command line alone (nothing printed yet) is no evidence of a stall either
    assert rank("$ docker pull registry.example.com/team/app:1.2.3")[0] != "mtu"


def test_an_unknown_authority_in_front_of_a_public_blob_store_is_an_interceptor():
    # Docker Hub's blobs on Cloudflare R2 carry a public CA's certificate, like S3 and CloudFront
    text = ('Error: copying system image from manifest list: parsing image configuration: Get "https://'
            'docker-images-prod.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/registry-v2/docker/'
            'registry/v2/blobs/sha256/ab/abcd/data?X-Amz-Expires=1200": tls: failed to verify certificate: '
            'x509: certificate signed by unknown authority')
    ranked = rank(text)
    assert ranked[0] == "proxy" and "tls" in ranked[:3], ranked


def test_nxdomain_from_vmware_nat_dns_is_the_vms_forwarder():
    text = ('failed to do request: Head "https://registry.k8s.io/v2/pause/manifests/3.10": dial tcp: lookup '
            'registry.k8s.io on 192.168.142.2:53: no such host')
    causes = explain(text)
    assert causes[0].category == "dns" and "forwarder" in causes[0].why, [c.category for c in causes]
    # another address on the same kind of network keeps the proxy-only-network reading first
    assert rank(text.replace("192.168.142.2", "192.168.142.10"))[0] == "proxy"


def test_a_refusal_at_the_configuration_blob_stage_is_a_rule_on_the_path():
    # moby's wrapper names the stage: the manifest came, the blob host refused the connection
    ranked = rank("error pulling image configuration: connect: connection refused")
    assert ranked[:2] == ["firewall", "reachability"], ranked
    # the same errno with no stage named keeps the registry's own reading first
    assert rank('Get "https://registry.corp.example:5000/v2/": dial tcp 10.1.2.3:5000: connect: '
                'connection refused')[0] == "reachability"


def test_a_buildx_timeout_listing_workers_is_the_builder_connection_not_a_registry():
    ranked = rank("ERROR: listing workers for Build: failed to list workers: rpc error: code = DeadlineExceeded "
                  "desc = context deadline exceeded")
    assert ranked[:2] == ["daemon", "ssh"] and "reachability" in ranked[:3], ranked
    # the same timeout on a registry request keeps the network set
    assert rank('failed to do request: Head "https://registry.example.com/v2/app/manifests/1": context '
                'deadline exceeded')[0] != "daemon"
