"""compare: flattening, ignore rules, drift normalization, the four baselines."""
import copy
import json

import pytest

from fleetaudit import snapshot
from fleetaudit.compare import (ABSENT, BaselineError, ConsensusBaseline, DriftItem, HostBaseline,
                                Ignore, SnapshotBaseline, annotate, compare_facts, compare_run,
                                diff_hosts, drift_from_json, drift_to_json, fact_matrix,
                                load_baseline, save_baseline, value_groups)
from fleetaudit.compare import paths
from fleetaudit.compare.flatten import canon_at, flatten, subtree
from fleetaudit.compare.ignore import matches
from fleetaudit.models import HostError

from test_compare_support import base_facts, host, interface, run

NO_IGNORE = Ignore(defaults=False)


# --- paths and flatten -------------------------------------------------------------------

def test_plain_and_quoted_segments_round_trip():
    keys = ("firewall", "iptables", "policies", "filter.OUTPUT")
    path = paths.join_all(keys)
    assert path == 'firewall.iptables.policies["filter.OUTPUT"]'
    assert paths.split(path) == keys
    assert paths.split('tls.certs_d["registry.lab:5000"]["ca.crt"].kind') == (
        "tls", "certs_d", "registry.lab:5000", "ca.crt", "kind")


@pytest.mark.parametrize("bad", ["", ".a", "a..b", 'a["x"', "a.b c", 'a"x"'])
def test_bad_paths_are_rejected(bad):
    with pytest.raises(paths.PathSyntaxError):
        paths.split(bad)


def test_flatten_keys_interfaces_by_name_and_keeps_scalar_lists_whole():
    facts = base_facts()
    flat = flatten(facts)
    eth0 = interface(facts, "eth0")
    assert flat["network.interfaces.eth0.mtu"] == eth0["mtu"]
    assert "network.interfaces.eth0.name" not in flat  # the key is in the path already
    assert flat["docker.info.registry_mirrors"] == facts["docker"]["info"]["registry_mirrors"]
    assert flat['firewall.iptables.policies["filter.OUTPUT"]'] == "ACCEPT"
    reg = next(iter(facts["tls"]["certs_d"]))
    assert flat[paths.join_all(["tls", "certs_d", reg, "ca.crt", "kind"])] == "ca"
    assert all(not isinstance(v, dict) or v == {} for v in flat.values())


def test_flatten_duplicate_names_fall_back_to_one_value():
    facts = {"network": {"interfaces": [{"name": "eth0", "mtu": 1500}, {"name": "eth0", "mtu": 1400}]}}
    assert flatten(facts) == {"network.interfaces": facts["network"]["interfaces"]}


def test_flatten_adds_ca_fingerprints_from_the_run_catalog():
    facts = base_facts()
    sha = facts["tls"]["bundle"]["sha256"]
    catalog = {sha: [{"sha256": "bb" * 32, "subject": "CN=B"}, {"sha256": "aa" * 32, "subject": "CN=A"}]}
    flat = flatten(facts, catalog)
    assert flat["tls.bundle.fingerprints"] == ["aa" * 32, "bb" * 32]
    assert "tls.bundle.fingerprints" not in flatten(facts)


def test_canonical_keys():
    assert canon_at("docker.info.warnings", ["b", "a"]) == canon_at("docker.info.warnings", ["a", "b"])
    assert canon_at("dns.resolv_conf.nameservers", ["b", "a"]) != canon_at("dns.resolv_conf.nameservers", ["a", "b"])
    assert canon_at("firewall.iptables.rules.filter", ["-A X", "-A Y"]) != \
        canon_at("firewall.iptables.rules.filter", ["-A Y", "-A X"])
    assert canon_at("x", True) != canon_at("x", 1)
    assert canon_at("x", [{"b": 1, "a": 2}]) == canon_at("x", [{"a": 2, "b": 1}])


def test_subtree():
    flat = {"network.interfaces.eth0.mtu": 1500, "network.interfaces.eth0.state": "UP",
            "network.interfaces.eth01.mtu": 9000}
    assert subtree(flat, "network.interfaces.eth0") == {"mtu": 1500, "state": "UP"}
    assert subtree(flat, "network.interfaces.eth1") is ABSENT


# --- ignore rules ------------------------------------------------------------------------

def test_default_rules_ignore_volatile_and_identity_facts():
    ign = Ignore()
    for path in ("system.uptime_s", "time.clock.skew_s", "disk.data_root.used_pct",
                 "disk.root.avail", "disk.data_root.inodes_used", "disk.docker_df.images_size",
                 "daemon_log.counts.x509-unknown-authority", "docker.info.containers_running_count",
                 "docker.info.images_count", "system.hostname", "network.interfaces.eth0.addresses",
                 "network.interfaces.veth1a2b3c.mtu", "restarts.containers.web.restart_count"):
        assert ign(path), path
    for path in ("docker.info.registry_mirrors", "disk.data_root.path", "disk.data_root.size",
                 "network.interfaces.eth0.mtu", "dns.resolv_conf.nameservers", "system.arch"):
        assert not ign(path), path
    assert "uptime" in ign.why("system.uptime_s")


def test_patterns_cover_subtrees_and_brackets_are_literal():
    assert matches("dns.hosts_entries", "dns.hosts_entries.registry")
    assert not matches("dns.hosts_entries", "dns.hosts_entriesx")
    assert matches('tls.certs_d["registry.lab:5000"]', 'tls.certs_d["registry.lab:5000"]["ca.crt"].kind')
    assert not matches('tls.certs_d["registry.lab:5000"]', 'tls.certs_d["registry.lab:50001"]')
    assert matches("*.mtu", "network.interfaces.eth0.mtu")
    ign = Ignore(["network.interfaces.eth0.mtu"])
    assert ign("network.interfaces.eth0.mtu") and ign.user_ignored("network.interfaces.eth0.mtu")
    assert not ign.user_ignored("system.uptime_s") and ign("system.uptime_s")


# --- compare_facts: deepdiff normalization ----------------------------------------------

def _by_path(items):
    return {i.path: i for i in items}


def test_nested_dict_change_is_one_item_at_the_leaf():
    a = base_facts()
    b = copy.deepcopy(a)
    b["docker"]["server"]["components"]["containerd"] = "1.7.0"
    items = compare_facts(b, a, NO_IGNORE, host="b")
    assert [(i.path, i.kind, i.expected, i.actual) for i in items] == [
        ("docker.server.components.containerd", "changed", a["docker"]["server"]["components"]["containerd"], "1.7.0")]


def test_list_order_is_not_drift_unless_order_matters():
    a = base_facts()
    a["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "registry.lab:5000"]
    a["firewall"]["iptables"]["rules"]["filter"] = ["-A OUTPUT -d 10.0.0.0/8 -j ACCEPT", "-A OUTPUT -j DROP"]
    b = copy.deepcopy(a)
    b["docker"]["info"]["insecure_registries"].reverse()
    assert compare_facts(b, a, NO_IGNORE) == []
    b["firewall"]["iptables"]["rules"]["filter"].reverse()
    (item,) = compare_facts(b, a, NO_IGNORE)
    assert item.path == "firewall.iptables.rules.filter"
    assert "different order" in item.detail


def test_added_and_removed_keys_are_extra_and_missing():
    a = base_facts()
    b = copy.deepcopy(a)
    b["daemon_json"]["config"]["insecure-registries"] = ["registry.lab:5000"]
    del b["docker"]["info"]["registry_mirrors"]
    got = {(i.path, i.kind) for i in compare_facts(b, a, NO_IGNORE)}
    assert got == {("daemon_json.config.insecure-registries", "extra"),
                   ("docker.info.registry_mirrors", "missing")}


def test_a_missing_subtree_is_one_item():
    a = base_facts()
    a["network"]["interfaces"].append({"name": "docker0", "mtu": 1500, "state": "DOWN", "addresses": [],
                                       "master": None, "virtual": True})
    b = copy.deepcopy(a)
    b["network"]["interfaces"] = [i for i in b["network"]["interfaces"] if i["name"] != "docker0"]
    (item,) = compare_facts(b, a, NO_IGNORE)
    assert (item.path, item.kind) == ("network.interfaces.docker0", "missing")
    assert item.expected["mtu"] == 1500 and item.actual is ABSENT
    (back,) = compare_facts(a, b, NO_IGNORE)
    assert (back.path, back.kind, back.actual["mtu"]) == ("network.interfaces.docker0", "extra", 1500)


def test_daemon_down_is_one_changed_item_not_dozens():
    a = base_facts()
    b = copy.deepcopy(a)
    b["docker"]["info"] = None
    items = _by_path(compare_facts(b, a, Ignore()))
    assert items["docker.info"].kind == "changed"
    assert items["docker.info"].actual is None
    assert items["docker.info"].expected["storage_driver"] == a["docker"]["info"]["storage_driver"]
    assert not [p for p in items if p.startswith("docker.info.")]
    (back,) = [i for i in compare_facts(a, b, Ignore()) if i.path.startswith("docker.info")]
    assert (back.path, back.kind, back.expected) == ("docker.info", "changed", None)


def test_detail_says_what_changed_inside_a_list():
    a = base_facts()
    a["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8"]
    b = copy.deepcopy(a)
    b["docker"]["info"]["insecure_registries"] = ["127.0.0.0/8", "mirror.corp:5000"]
    (item,) = compare_facts(b, a, NO_IGNORE)
    assert item.detail == "added mirror.corp:5000"
    a["firewall"]["nft"]["ruleset"] = "table inet f {\n chain out {\n  type filter hook output priority 0;\n }\n}"
    b = copy.deepcopy(a)
    b["firewall"]["nft"]["ruleset"] = a["firewall"]["nft"]["ruleset"].replace(
        "priority 0;", "priority 0; policy drop;")
    (item,) = compare_facts(b, a, NO_IGNORE)
    assert "+  type filter hook output priority 0; policy drop;" in item.detail


def test_collectors_only_one_side_reported_are_not_compared():
    a = base_facts()
    b = copy.deepcopy(a)
    del b["firewall"]
    assert compare_facts(b, a, NO_IGNORE) == []


def test_drift_item_json_round_trip():
    a = base_facts()
    b = copy.deepcopy(a)
    del b["docker"]["info"]["registry_mirrors"]
    (item,) = compare_facts(b, a, NO_IGNORE, host="b", baseline="host a")
    data = json.loads(json.dumps(item.to_json()))
    assert data["actual"] is None and data["kind"] == "missing" and data["host"] == "b"
    assert DriftItem.from_json(data) == item
    with pytest.raises(ValueError):
        DriftItem("h", "p", 1, 2, "b", "weird")


# --- fleet consensus ---------------------------------------------------------------------

def _fleet(n=5, **mut):
    hosts = [host(f"web{i}") for i in range(1, n + 1)]
    return hosts


def test_consensus_flags_the_outlier_with_share():
    hosts = _fleet(5)
    interface(hosts[2].facts, "eth0")["mtu"] = 1400
    drift = compare_run(run(hosts))
    assert [h for h, items in drift.items() if items] == ["web3"]
    (item,) = drift["web3"]
    assert (item.path, item.expected, item.actual, item.kind) == ("network.interfaces.eth0.mtu", 1500, 1400, "changed")
    assert item.share == {"expected": 4, "actual": 1, "of": 5, "hosts": ["web3"]}
    assert item.baseline == "consensus of all audited hosts"


def test_no_majority_means_no_expectation():
    hosts = _fleet(4)
    for h in hosts[:2]:
        h.facts["docker"]["info"]["storage_driver"] = "overlay2"
    base = ConsensusBaseline()
    drift = compare_run(run(hosts), base)
    assert all(items == [] for items in drift.values())
    cons = base.partitions["all audited hosts"]
    assert "docker.info.storage_driver" in cons.expected.undecided
    assert "no majority" in cons.expected.undecided["docker.info.storage_driver"]
    assert cons.majority_of("docker.info.storage_driver")[1] == 0


def test_below_quorum_nothing_is_expected():
    hosts = _fleet(2)
    hosts[1].facts["system"]["arch"] = "aarch64"
    assert compare_run(run(hosts)) == {"web1": [], "web2": []}
    assert compare_run(run(hosts), ConsensusBaseline(min_hosts=2)) == {"web1": [], "web2": []}  # 1:1, a tie


def test_absent_majority_makes_extra_and_missing():
    hosts = _fleet(4)
    hosts[0].facts["daemon_json"]["config"]["insecure-registries"] = ["registry.lab:5000"]
    del hosts[1].facts["docker"]["info"]["registry_mirrors"]
    drift = compare_run(run(hosts))
    assert [(i.path, i.kind) for i in drift["web1"]] == [("daemon_json.config.insecure-registries", "extra")]
    assert [(i.path, i.kind) for i in drift["web2"]] == [("docker.info.registry_mirrors", "missing")]
    assert drift["web1"][0].share["expected"] == 3  # three hosts lack it


def test_majority_of_reports_value_count_and_outliers():
    hosts = _fleet(5)
    hosts[0].facts["system"]["arch"] = "aarch64"
    hosts[3].facts["system"]["arch"] = "aarch64"
    base = ConsensusBaseline().bind(run(hosts))
    value, count, total, outliers = base.consensus_for("web2").majority_of("system.arch")
    assert (value, count, total, outliers) == ("x86_64", 3, 5, ["web1", "web4"])


def test_consensus_within_groups():
    hosts = [host(f"dc1-{i}") for i in range(3)] + [host(f"dc2-{i}") for i in range(3)] + [host("lone")]
    for h in hosts[3:6]:
        h.facts["dns"]["resolv_conf"]["nameservers"] = ["10.2.0.53"]
    groups = {"dc1": ["dc1-0", "dc1-1", "dc1-2"], "dc2": ["dc2-0", "dc2-1", "dc2-2"], "ungrouped": ["lone"]}
    r = run(hosts, groups)
    flat = compare_run(r)  # fleet-wide: dc1 + lone (4) outvote dc2 (3)
    assert {h for h, items in flat.items() if items} == {"dc2-0", "dc2-1", "dc2-2"}
    base = ConsensusBaseline(partition_by=["dc*"])
    by_dc = compare_run(r, base)
    assert all(items == [] for items in by_dc.values())
    assert set(base.partitions) == {"dc1", "dc2", "all audited hosts"}  # lone: below quorum
    assert base.consensus_for("lone").label == "all audited hosts"
    assert by_dc["dc1-0"] == []


def test_unreachable_hosts_have_no_drift_and_do_not_vote():
    hosts = _fleet(3) + [host("down1", status="unreachable"), host("down2", status="unreachable")]
    drift = compare_run(run(hosts))
    assert set(drift) == {"web1", "web2", "web3"}


def test_partial_hosts_are_compared_only_on_complete_collectors():
    hosts = _fleet(4)
    hosts[0].status = "partial"
    hosts[0].error = HostError("sudo", "sudo: a password is required")
    hosts[0].incomplete = {"firewall": "sudo"}
    hosts[0].facts["firewall"] = {"iptables": {"installed": True, "error": "permission denied"}}
    hosts[0].facts["system"]["arch"] = "aarch64"
    drift = compare_run(run(hosts))
    assert [i.path for i in drift["web1"]] == ["system.arch"]


def test_user_ignores_are_honored():
    hosts = _fleet(4)
    interface(hosts[0].facts, "eth0")["mtu"] = 1400
    hosts[0].facts["system"]["arch"] = "aarch64"
    drift = compare_run(run(hosts), ignore=["network.interfaces"])
    assert [i.path for i in drift["web1"]] == ["system.arch"]


# --- golden host, snapshot ----------------------------------------------------------------

def test_golden_host():
    hosts = _fleet(3)
    hosts[0].facts["system"]["arch"] = "aarch64"
    drift = compare_run(run(hosts), HostBaseline("web1"))
    assert drift["web1"] == []
    assert [(i.path, i.expected, i.actual, i.baseline) for i in drift["web2"]] == [
        ("system.arch", "aarch64", "x86_64", "host web1")]
    assert drift["web2"][0].share == {"expected": 1, "actual": 2, "of": 3, "hosts": ["web2", "web3"]}


def test_golden_host_must_exist_and_be_audited():
    r = run(_fleet(2) + [host("down", status="unreachable", error=HostError("connect-timeout", "timed out"))])
    with pytest.raises(BaselineError, match="'nope' is not in this run"):
        compare_run(r, HostBaseline("nope"))
    with pytest.raises(BaselineError, match=r"'down' was not audited \(connect-timeout: timed out\)"):
        compare_run(r, HostBaseline("down"))


def test_saved_snapshot_baseline(tmp_path):
    hosts = _fleet(4)
    path = tmp_path / "baseline.json"
    save_baseline(run(hosts), path)
    saved = json.loads(path.read_text())
    assert saved["schema"].startswith("fleetaudit/") and saved["baseline_saved"]["hosts"] == 4

    later = [copy.deepcopy(h) for h in hosts] + [host("newcomer")]
    later[1].facts["docker"]["info"]["registry_mirrors"] = []
    later[4].facts["system"]["arch"] = "aarch64"
    base = load_baseline(str(path))
    drift = compare_run(run(later), base)
    assert [(i.path, i.baseline) for i in drift["web2"]] == [
        ("docker.info.registry_mirrors", f"snapshot {path}, host web2")]
    assert [(i.path, i.baseline) for i in drift["newcomer"]] == [
        ("system.arch", f"consensus of snapshot {path}")]
    assert drift["web1"] == []


def test_bad_snapshot_baseline(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BaselineError, match="bad.json:1"):
        load_baseline(str(bad))
    empty = tmp_path / "empty.json"
    snapshot.save(run([host("x", status="unreachable")]), empty)
    with pytest.raises(BaselineError, match="no audited host"):
        SnapshotBaseline.load(empty)


# --- diff, value groups, matrix, annotate ---------------------------------------------------

def test_diff_hosts():
    hosts = _fleet(4)
    hosts[3].facts["proxy"]["daemon"]["HTTPS_PROXY"] = None
    r = run(hosts)
    items = diff_hosts(r, "web1", "web4")
    assert [(i.host, i.path, i.kind) for i in items] == [("web4", "proxy.daemon.HTTPS_PROXY", "changed")]
    assert items[0].actual is None and items[0].expected["var"] == "HTTPS_PROXY"
    assert diff_hosts(r, "web1", "web2") == []
    with pytest.raises(BaselineError):
        diff_hosts(r, "web1", "ghost")


def test_value_groups_and_matrix():
    hosts = _fleet(5)
    for h in hosts[:2]:
        interface(h.facts, "eth0")["mtu"] = 1400
    del hosts[4].facts["network"]["interfaces"][0]
    r = run(hosts + [host("down", status="unreachable")])
    groups = value_groups(r, "network.interfaces.eth0.mtu")
    assert groups == [(1400, ["web1", "web2"]), (1500, ["web3", "web4"]), (ABSENT, ["web5"])]
    rows = fact_matrix(r)
    assert "system.arch" not in rows  # everyone agrees
    assert "system.hostname" not in rows  # identity fact
    mtu = rows["network.interfaces.eth0.mtu"]
    assert mtu == [{"value": 1400, "hosts": ["web1", "web2"]}, {"value": 1500, "hosts": ["web3", "web4"]},
                   {"value": None, "absent": True, "hosts": ["web5"]}]


def test_annotate_fills_the_snapshot_contract():
    hosts = _fleet(4)
    hosts[1].facts["system"]["arch"] = "aarch64"
    r = run(hosts)
    drift = annotate(r)
    assert [i.path for i in drift["web2"]] == ["system.arch"]
    doc = json.loads(json.dumps(snapshot.to_json(r)))
    assert doc["drift"]["web2"][0]["path"] == "system.arch"
    assert "web1" not in doc["drift"]  # hosts without drift are left out
    assert doc["baseline"]["kind"] == "consensus" and doc["baseline"]["name"]
    assert doc["matrix"]["system.arch"][0] == {"value": "x86_64", "hosts": ["web1", "web3", "web4"]}
    assert drift_from_json(doc["drift"])["web2"][0].path == "system.arch"
    assert drift_to_json(drift)["web2"][0]["host"] == "web2"


# --- the fact path catalogue --------------------------------------------------------------

def _fixture_files():
    from test_compare_support import FACTS_DIR
    return sorted(FACTS_DIR.glob("*/*.json"))


@pytest.mark.parametrize("fixture", _fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_path_a_collector_produces_is_catalogued(fixture):
    collector = fixture.parent.name
    facts = json.loads(fixture.read_text())["facts"]
    unknown = [p for p in flatten({collector: facts}) if not paths.known(p)]
    assert unknown == [], f"add to fleetaudit/compare/paths.py TREE: {unknown}"


def test_catalogue_follows_the_collector_docstrings():
    """Each collector's docstring lists its facts as '- key: ...' bullets."""
    import re
    from fleetaudit.collectors import REGISTRY
    assert {c.name for c in REGISTRY} <= set(paths.COLLECTORS)
    for c in REGISTRY:
        keys = re.findall(r"^- ([a-z0-9_]+)\s*:", c.doc, flags=re.M)
        assert keys, c.name
        missing = [k for k in keys if not paths.known(f"{c.name}.{k}")]
        assert missing == [], f"{c.name}: catalogue lacks {missing}"


def test_unknown_paths_are_unknown():
    assert paths.known("network.interfaces.*.mtu") and paths.known('tls.certs_d["r:5000"]["ca.crt"].sha256')
    assert paths.known("daemon_json.config.log-opts.max-size")
    assert not paths.known("network.interfaces.eth0.mtux")
    assert not paths.known("docker.info.registry_mirror")
    assert paths.suggest("docker.info.registry_mirror") == "docker.info.registry_mirrors"


# --- captured faults from the test fleet ---------------------------------------------------

def _captured(collector, case):
    from test_compare_support import FACTS_DIR
    path = FACTS_DIR / collector / f"{case}.json"
    if not path.exists():
        pytest.skip(f"no capture {collector}/{case}")
    return json.loads(path.read_text())["facts"]


def test_captured_faults_are_drift_on_the_right_host():
    hosts = [host(f"h{i}") for i in range(6)]
    hosts[1].facts["network"] = _captured("network", "lab-mtu-1400")
    hosts[2].facts["firewall"] = _captured("firewall", "lab-fw-443")
    hosts[3].facts["tls"] = _captured("tls", "lab-no-ca")
    drift = compare_run(run(hosts))
    assert [h for h, items in drift.items() if items] == ["h1", "h2", "h3"]
    assert [(i.path, i.expected, i.actual) for i in drift["h1"]] == [("network.interfaces.eth0.mtu", 1500, 1400)]
    fw = _by_path(drift["h2"])
    assert fw["firewall.output_blocks_443"].actual is True
    assert fw["firewall.iptables.rules.filter"].detail == "added -A OUTPUT -p tcp -m tcp --dport 443 -j DROP"
    tls = _by_path(drift["h3"])
    assert tls["tls.certs_d"].kind == "missing"  # the registry's certs.d dir, as one item
    assert tls["tls.bundle.sha256"].kind == "changed"
    assert any(p.startswith("tls.anchors[") and i.kind == "missing" for p, i in tls.items())
