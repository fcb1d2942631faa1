"""Round 7 explain rules (issue 10): each from how the programs behave, with texts in
their sources' phrasing, not copied from the corpus."""
import pytest

from fleetaudit.explain import explain


def ranked(text):
    return [c.category for c in explain(text)]


@pytest.mark.parametrize("text", [
    'Error response from daemon: Get "https://registry.corp.example/v2/": dial tcp 10.2.3.4:443: '
    'connect: connection refused',
    # Go before 1.8 said "getsockopt" for the same refusal
    "Error response from daemon: Get https://10.9.8.7/v1/_ping: dial tcp 10.9.8.7:443: getsockopt: "
    "connection refused",
])
def test_refused_https_of_a_self_hosted_registry_keeps_an_http_only_registry_in_view(text):
    causes = ranked(text)
    assert causes[0] == "reachability"          # nothing listening is still the first reading
    assert "tls" in causes[:3]                  # ...a registry serving only plain HTTP
    assert "firewall" in causes[:3]             # ...and a REJECT rule, which answers with the same RST


def test_refused_https_of_a_public_registry_is_not_an_http_only_registry():
    causes = ranked('Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp '
                    '3.216.34.172:443: connect: connection refused')
    assert "tls" not in causes[:3]


def test_refused_on_an_explicit_other_port_is_not_the_https_default():
    causes = ranked('Error response from daemon: Get "https://registry.corp.example:5000/v2/": dial '
                    'tcp 10.2.3.4:5000: connect: connection refused')
    assert "tls" not in causes[:3]


def test_a_registry_on_port_80_spoken_to_over_https_is_tls():
    assert ranked("Trying to pull docker://registry.corp.example:80/team/app:1...\nError: "
                  "initializing source docker://registry.corp.example:80/team/app:1: pinging "
                  "container registry registry.corp.example:80: Get "
                  '"https://registry.corp.example:80/v2/": EOF')[0] == "tls"


def test_port_80_already_spoken_to_in_plain_http_is_not_tls():
    causes = ranked('Error response from daemon: Get "http://registry.corp.example:80/v2/": dial tcp '
                    "10.2.3.4:80: connect: connection refused")
    assert causes[0] == "reachability" and "tls" not in causes[:3]


@pytest.mark.parametrize("text, first, also", [
    ("Error: copying system image from manifest list: Unexpectedly received a manifest list instead "
     "of a manifest for a single image", "arch", "reference"),
    ('Error: parsing image configuration: unsupported image-specific operation on artifact with type '
     '"application/vnd.cncf.helm.config.v1+json"', "reference", "arch"),
    ("failed to pull and unpack image \"docker.io/acme/app:1\": failed to unpack image on snapshotter "
     "overlayfs: number of layers and diffIDs don't match: 3 != 15", "daemon", "reference"),
])
def test_image_layout_errors_from_containers_image_and_containerd(text, first, also):
    causes = ranked(text)
    assert causes[0] == first and also in causes[:3]


def test_an_unreadable_layer_archive_is_the_engine_before_the_disk():
    causes = ranked("failed to register layer: ApplyLayer exit status 1 stdout:  stderr: "
                    "archive/tar: invalid tar header")
    assert causes[:2] == ["daemon", "disk"]


def test_a_private_endpoint_alias_in_the_image_name_is_the_reference():
    causes = ranked('Error response from daemon: Get "https://acme.privatelink.azurecr.io/v2/": '
                    "tls: failed to verify certificate: x509: certificate is valid for "
                    "*.azurecr.io, *.blob.core.windows.net, not acme.privatelink.azurecr.io")
    assert causes[0] == "reference"


def test_the_clients_own_api_call_cut_off_is_the_daemon_link():
    """`docker pull` is POST /vN.NN/images/create to the daemon: when that request itself
    ends with no answer, the client-daemon link failed, not a registry."""
    causes = ranked("Post http://10.0.0.5:2375/v1.41/images/create?fromImage=busybox&tag=latest: EOF")
    assert causes[0] == "daemon"


def test_an_api_call_the_daemon_answered_keeps_the_registry_error():
    causes = ranked("500 Server Error for http+docker://localhost/v1.43/images/create?tag=1&fromImage="
                    "acme%2Fapp: Internal Server Error (\"Get https://registry-1.docker.io/v2/: EOF\")")
    assert causes[0] != "daemon"


def test_a_long_log_is_read_from_its_end_where_the_error_is():
    """A whole build log piped in (`... 2>&1 | fleetaudit explain -`) ends with the pull's
    error; what is beyond the cap is its beginning, not its end."""
    from fleetaudit.explain import PASTE_CAP
    log = "".join(f"Step {i}/900 : RUN make target-{i}\n ---> Running in 4f2a{i:04d}\n" for i in range(600))
    assert len(log) > PASTE_CAP
    log += ('Error response from daemon: Get "https://registry-1.docker.io/v2/": x509: certificate '
            "signed by unknown authority\n")
    causes = explain(log)
    assert not causes[0].generic and causes[0].category in ("tls", "proxy")
