"""docker: version/info JSON, the plain-text fallback, error classification."""

import pytest

from fleetaudit.collectors.base import Part
from fleetaudit.collectors.docker import COLLECTOR, INFO_TEMPLATE, error_kind, info_from_json, info_from_text
from collectorkit import POSIX_SHELLS, run_section

TEXT_INFO = """Client:
 Context:    default
 Debug Mode: false

Server:
 Containers: 3
  Running: 1
  Paused: 0
 Images: 5
 Server Version: 19.03.15
 Storage Driver: overlay2
  Backing Filesystem: extfs
 Security Options:
  seccomp
   Profile: default
  rootless
 Kernel Version: 4.19.0-27-amd64
 Architecture: x86_64
 Docker Root Dir: /var/lib/docker
 HTTP Proxy: http://REDACTED@proxy.corp:3128
 Registry: https://index.docker.io/v1/
 Insecure Registries:
  registry.lab:5000
  127.0.0.0/8
 Registry Mirrors:
  https://mirror.lab/
 Live Restore Enabled: true
 Default Address Pools:
   Base: 10.10.0.0/16, Size: 24

WARNING: No swap limit support
"""


@pytest.mark.parametrize("shell", POSIX_SHELLS, ids=lambda s: s[0])
def test_fragment_runs_under_posix_shells(shell):
    section = run_section(COLLECTOR, shell)
    assert {"version", "dockerd_path", "dockerd_pids"} <= set(section)
    facts = COLLECTOR.parse(section)
    assert facts["installed"] in (True, False)


def test_template_is_one_json_object_of_known_fields():
    assert INFO_TEMPLATE.startswith('{"Driver":{{json .Driver}},')
    assert "'" not in INFO_TEMPLATE  # it travels inside single quotes


def test_text_fallback():
    info = info_from_text(TEXT_INFO)
    assert info["server_version"] == "19.03.15" and info["storage_driver"] == "overlay2"
    assert info["containers_count"] == 3 and info["containers_running_count"] == 1
    assert info["insecure_registries"] == ["127.0.0.0/8", "registry.lab:5000"]
    assert info["registry_mirrors"] == ["https://mirror.lab/"]
    assert info["live_restore"] is True and info["rootless"] is True
    assert info["default_address_pools"] == [{"base": "10.10.0.0/16", "size": 24}]
    assert info["warnings"] == ["WARNING: No swap limit support"]
    assert info["cgroup_version"] is None


def test_insecure_registries_from_json():
    info = info_from_json({"ServerVersion": "20.10.24", "RegistryConfig": {
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {"docker.io": {"Secure": True}, "registry.lab:5000": {"Secure": False}},
        "Mirrors": ["https://b/", "https://a/"]}})
    assert info["insecure_registries"] == ["127.0.0.0/8", "registry.lab:5000"]
    assert info["registry_mirrors"] == ["https://b/", "https://a/"]  # order is the daemon's


@pytest.mark.parametrize("text, rc, kind", [
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", 1, "daemon-down"),
    ("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
     "Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version\": dial unix /var/run/docker.sock: connect: permission denied",
     1, "permission-denied"),
    ("Error response from daemon: client version 1.50 is too new. Maximum supported API version is 1.41", 1, "api-version"),
    ("docker version timed out", 124, "timeout"),
    ("docker: not found", 127, "not-installed"),
    ("something else", 1, "other"),
])
def test_error_kind(text, rc, kind):
    assert error_kind(text, rc) == kind


def test_daemon_down_zero_info_is_not_info():
    section = {
        "version": Part('{"Client":{"Version":"28.2.2"},"Server":null}\nCannot connect to the Docker daemon at x\n', 1),
        "info": Part('{"Driver":"","ServerVersion":""}\nCannot connect to the Docker daemon at x\n', 1),
    }
    facts = COLLECTOR.parse(section)
    assert facts["daemon_up"] is False and facts["info"] is None and facts["error_kind"] == "daemon-down"
