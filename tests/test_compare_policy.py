"""Policy files: operators on realistic facts, group scoping, and error messages that
name file, line and fact path."""
import textwrap
from pathlib import Path

import pytest

from fleetaudit.compare import ABSENT, ConsensusBaseline, PolicyError, compare_run, load_policy
from fleetaudit.compare.policy import VersionSpec, parse_policy, parse_version

from test_compare_support import host, interface, run

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, text, name="policy.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def violations(tmp_path, text, hosts, groups=None, ignore=None):
    policy = load_policy(write(tmp_path, text))
    drift = compare_run(run(hosts, groups), policy, ignore)
    strip = str(tmp_path) + "/"
    return {h: [(i.path, i.expected, i.actual, i.detail.replace(strip, "")) for i in items]
            for h, items in drift.items()}


def test_version_parsing():
    assert parse_version("20.10.24+dfsg1") == (20, 10, 24)
    assert parse_version("v28.0.0-rc.1") == (28, 0, 0)
    assert parse_version("unknown") is None and parse_version(None) is None
    spec = VersionSpec(">=24.0, <28")
    assert (27, 5, 1) in spec and (24, 0) in spec
    assert (28, 0, 0) not in spec and (23, 0, 6) not in spec
    assert (24, 0, 7) in VersionSpec("==24") and (25,) not in VersionSpec("24")
    assert (24, 0, 7) not in VersionSpec("!=24.0")
    with pytest.raises(ValueError, match="bad version clause"):
        VersionSpec("=>24")


def test_every_operator_on_real_facts(tmp_path):
    ok = host("good")
    for h in (ok,):
        h.facts["docker"]["server"]["version"] = "27.5.1"
        h.facts["docker"]["info"].update(storage_driver="overlay2", insecure_registries=["127.0.0.0/8"],
                                         live_restore=False)
        h.facts["disk"]["data_root"]["used_pct"] = 40.0
        h.facts["proxy"]["daemon_no_proxy"] = ["*.corp", "localhost"]
        h.facts["proxy"]["daemon"]["HTTPS_PROXY"] = {"value": "http://proxy.corp:3128", "var": "HTTPS_PROXY",
                                                     "source": "dockerd environ"}
        h.facts["daemon_json"]["config"].pop("debug", None)
    bad = host("bad")
    facts = bad.facts
    facts["docker"]["server"]["version"] = "19.03.15"
    facts["docker"]["info"]["storage_driver"] = "devicemapper"
    facts["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "mirror.corp:5000"]
    facts["disk"]["data_root"]["used_pct"] = 96.5
    facts["proxy"]["daemon_no_proxy"] = ["localhost"]
    facts["proxy"]["daemon"]["HTTPS_PROXY"] = None
    facts["daemon_json"]["config"]["debug"] = True
    facts["docker"]["info"]["live_restore"] = True
    got = violations(tmp_path, """
        version: 1
        checks:
          - path: docker.server.version
            version: ">=20.10, <29"
          - path: docker.info.storage_driver
            in: [vfs, overlay2]
          - path: docker.info.insecure_registries
            excludes: [mirror.corp:5000]
          - path: disk.data_root.used_pct
            max: 85
          - path: proxy.daemon_no_proxy
            contains: ["*.corp", localhost]
            note: internal registry bypasses the proxy
          - path: proxy.daemon.HTTPS_PROXY
            present: true
          - path: daemon_json.config.debug
            absent: true
          - path: docker.info.live_restore
            equals: false
    """, [ok, bad])
    assert got["good"] == []
    assert got["bad"] == [
        ("daemon_json.config.debug", "absent", True, "policy.yml:16"),
        ("disk.data_root.used_pct", "<= 85", 96.5, "policy.yml:9"),
        ("docker.info.insecure_registries", "excludes mirror.corp:5000", ["127.0.0.0/8", "mirror.corp:5000"],
         "policy.yml:7 (has mirror.corp:5000)"),
        ("docker.info.live_restore", "== False", True, "policy.yml:18"),
        ("docker.info.storage_driver", "one of vfs, overlay2", "devicemapper", "policy.yml:5"),
        ("docker.server.version", "version >=20.10, <29", "19.03.15", "policy.yml:3"),
        ("proxy.daemon.HTTPS_PROXY", "present", None, "policy.yml:14"),
        ("proxy.daemon_no_proxy", "contains *.corp, localhost", ["localhost"],
         "policy.yml:11: internal registry bypasses the proxy (lacks *.corp)"),
    ]


def test_violation_items_are_drift_items(tmp_path):
    bad = host("bad")
    bad.facts["disk"]["data_root"]["used_pct"] = 91.0
    policy = load_policy(write(tmp_path, "checks:\n  - path: disk.data_root.used_pct\n    max: 85\n"))
    (item,) = compare_run(run([host("a"), bad]), policy)["bad"]
    assert item.kind == "violation" and item.baseline == f"policy {tmp_path / 'policy.yml'}"
    assert item.share == {"expected": 0, "actual": 1, "of": 2, "hosts": ["bad"]}
    assert item.to_json()["expected"] == "<= 85"


def test_missing_facts_wildcards_and_subtrees(tmp_path):
    a, b = host("a"), host("b")
    interface(b.facts, "eth0")["mtu"] = 1200
    reg = next(iter(a.facts["tls"]["certs_d"]))
    b.facts["tls"]["certs_d"] = {}
    del b.facts["docker"]["server"]["version"]
    got = violations(tmp_path, f"""
        checks:
          - path: network.interfaces.*.mtu
            min: 1280
          - path: tls.certs_d["{reg}"]
            present: true
          - path: tls.certs_d
            contains: ["{reg}"]
          - path: docker.server.version
            version: ">=20"
          - path: restarts.containers.*.restart_count
            max: 5
    """, [a, b])
    assert got["a"] == []
    assert got["b"] == [
        ("docker.server.version", "version >=20", ABSENT, "policy.yml:8 (the host does not have this fact)"),
        ("network.interfaces.eth0.mtu", ">= 1280", 1200, "policy.yml:2"),
        ("tls.certs_d", f"contains {reg}", ABSENT, "policy.yml:6 (the host does not have this fact)"),
        (f'tls.certs_d["{reg}"]', "present", ABSENT, "policy.yml:4"),
    ]


def test_type_mismatches_say_so(tmp_path):
    a = host("a")
    a.facts["docker"]["server"]["version"] = "master-dockerproject-2024"
    a.facts["disk"]["data_root"]["used_pct"] = None
    got = violations(tmp_path, """
        checks:
          - path: docker.server.version
            version: ">=20"
          - path: disk.data_root.used_pct
            max: 85
    """, [a])
    assert [d for _, _, _, d in got["a"]] == [
        "policy.yml:4 (None is not a number)",
        "policy.yml:2 ('master-dockerproject-2024' is not a version)"]


def test_groups_scope_checks(tmp_path):
    hosts = [host("dc1-a"), host("dc2-a")]
    for h in hosts:
        h.facts["proxy"]["daemon"]["HTTPS_PROXY"] = None
    text = """
        checks:
          - path: proxy.daemon.HTTPS_PROXY
            present: true
            groups: ["dc1*"]
          - path: system.arch
            equals: aarch64
            groups: [nowhere]
    """
    got = violations(tmp_path, text, hosts, groups={"dc1": ["dc1-a"], "dc2": ["dc2-a"]})
    assert [p for p, *_ in got["dc1-a"]] == ["proxy.daemon.HTTPS_PROXY"]
    assert got["dc2-a"] == []
    policy = load_policy(tmp_path / "policy.yml")
    compare_run(run(hosts, {"dc1": ["dc1-a"]}), policy)
    assert policy.warnings == ["policy.yml:5: system.arch: group 'nowhere' matches no audited host".replace(
        "policy.yml", str(tmp_path / "policy.yml"))]


def test_policy_ignores_default_rules_but_honours_user_ignores(tmp_path):
    a = host("a")
    a.facts["disk"]["data_root"]["used_pct"] = 99.0  # volatile for drift, still checked
    text = "checks:\n  - path: disk.data_root.used_pct\n    max: 85\n"
    assert len(violations(tmp_path, text, [a])["a"]) == 1
    assert violations(tmp_path, text, [a], ignore=["disk"])["a"] == []


def test_incomplete_collectors_and_unreachable_hosts_are_not_judged(tmp_path):
    partial = host("partial", status="partial", incomplete={"disk": "output truncated at the size cap"})
    partial.facts["disk"] = {}
    down = host("down", status="unreachable")
    got = violations(tmp_path, "checks:\n  - path: disk.data_root.used_pct\n    max: 85\n", [partial, down])
    assert got == {"partial": []}


def test_policy_combines_with_consensus(tmp_path):
    hosts = [host(f"h{i}") for i in range(4)]
    hosts[0].facts["system"]["arch"] = "aarch64"
    hosts[1].facts["disk"]["data_root"]["used_pct"] = 97.0
    policy = load_policy(write(tmp_path, "checks:\n  - path: disk.data_root.used_pct\n    max: 85\n"))
    drift = compare_run(run(hosts), [ConsensusBaseline(), policy])
    assert [(i.path, i.kind) for i in drift["h0"]] == [("system.arch", "changed")]
    assert [(i.path, i.kind) for i in drift["h1"]] == [("disk.data_root.used_pct", "violation")]


def test_the_example_policy_loads_and_runs():
    policy = load_policy(ROOT / "inventories" / "policy-example.yml")
    assert len(policy.checks) >= 10
    compare_run(run([host("a")]), policy)  # every path resolves on real facts without error


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("checks:\n  - path: docker.server.versoin\n    version: '>=24'\n",
     "policy.yml:2: docker.server.versoin: unknown fact path (did you mean docker.server.version?)"),
    ("checks:\n  - path: no.such.thing\n    equals: 1\n",
     "policy.yml:2: no.such.thing: unknown fact path"),
    ("checks:\n  - path: disk.data_root.used_pct\n    max: 85%\n",
     "policy.yml:3: disk.data_root.used_pct: 'max' must be a number, not '85%'"),
    ("checks:\n  - path: docker.server.version\n\n    version: '=>24'\n",
     "policy.yml:4: docker.server.version: bad version clause '=>24' (use e.g. >=24.0, <28, ==27)"),
    ("checks:\n  - path: proxy.daemon_no_proxy\n    contain: [x]\n",
     "policy.yml:3: proxy.daemon_no_proxy: unknown key 'contain' (expected one of: path, groups, note, "
     "equals, in, version, min, max, contains, excludes, present, absent)"),
    ("checks:\n  - path: system.arch\n",
     "policy.yml:2: system.arch: check has no constraint"),
    ("checks:\n  - equals: 1\n", "policy.yml:2: check without 'path'"),
    ("checks:\n  - path: system.arch\n    present: yes please\n",
     "policy.yml:3: system.arch: 'present' must be true or false"),
    ("checks:\n  - path: system.arch\n    in: x86_64\n",
     "policy.yml:3: system.arch: 'in' must be a non-empty list of allowed values"),
    ("checks:\n  - path: system.arch\n    groups: [1]\n    equals: x\n",
     "policy.yml:3: system.arch: 'groups' must be a list of names"),
    ("checks:\n  - path: system.ar*\n    equals: x\n",
     "policy.yml:2: system.ar*: unknown fact path"),
    ("checks:\n  - path: 'system.arch x'\n    equals: x\n",
     "policy.yml:2: system.arch x: bad fact path"),
    ("checks:\n- path: system.arch\n  equals: x\n  equals: y\n",
     "policy.yml:4: a check: duplicate key 'equals'"),
    ("checks:\n  - path: system.arch\n    equals: [x\n",
     "policy.yml:4: not valid YAML"),
    ("rules:\n  - path: system.arch\n", "policy.yml:1: unknown top-level key 'rules'"),
    ("version: 2\nchecks: []\n", "policy.yml:1: unsupported policy version"),
    ("checks: {path: x}\n", "policy.yml:1: 'checks' must be a list of checks"),
    ("- path: system.arch\n", "policy.yml:1: the policy must be a mapping"),
    ("", "policy.yml: empty policy file"),
])
def test_errors_name_file_line_and_path(tmp_path, text, message):
    path = write(tmp_path, text) if text else tmp_path / "policy.yml"
    if not text:
        path.write_text("")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_unreadable_policy(tmp_path):
    with pytest.raises(PolicyError, match="missing.yml: cannot read policy file"):
        load_policy(tmp_path / "missing.yml")


def test_error_attributes():
    with pytest.raises(PolicyError) as err:
        parse_policy("checks:\n  - path: docker.info.bogus\n    equals: 1\n", "p.yml")
    e = err.value
    assert (e.file, e.line, e.path) == ("p.yml", 2, "docker.info.bogus")


def test_numbers_match_numbers_reported_as_text(tmp_path):
    a = host("a")
    a.facts["docker"]["info"]["cgroup_version"] = "2"
    got = violations(tmp_path, """
        checks:
          - path: docker.info.cgroup_version
            equals: 2
          - path: docker.info.cgroup_version
            in: [1, 2]
          - path: docker.info.live_restore
            equals: 0
    """, [a])
    assert [p for p, *_ in got["a"]] == ["docker.info.live_restore"]  # false is not 0
