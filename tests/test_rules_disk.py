"""disk rules on real captured disk facts (tests/facts/disk/*.json), each fault planted by a
minimal edit."""
import copy
import json
from pathlib import Path

import pytest

from fleetaudit.diagnose import diagnose, load_rules
from fleetaudit.models import HostResult, RunResult

HERE = Path(__file__).parent
NOW = 1795910400.0            # 2026-11-29T00:00:00Z, when the lab fixtures were captured


def fixture(collector, case):
    return copy.deepcopy(json.loads((HERE / "facts" / collector / f"{case}.json").read_text())["facts"])


def golden():
    """The lab's golden host, collector by collector, as captured."""
    facts = {c: fixture(c, "lab-golden") for c in
             ("docker", "daemon_json", "tls", "dns", "network", "firewall", "disk", "proxy", "credentials")}
    facts["system"] = fixture("system", "debian12-local")
    facts["time"] = fixture("time", "timedatectl-systemd")
    facts["time"]["clock"] = {"host_epoch": NOW, "controller_epoch": NOW, "skew_s": 0.0, "uncertainty_s": 0.004}
    facts["daemon_log"] = fixture("daemon_log", "lab-golden-clean")
    return facts


def fleet(bad, good=3, base=golden, catalog=None):
    hosts = {f"good-{i}": base() for i in range(good)}
    hosts["bad"] = bad
    return RunResult(run={"started": "2026-11-29T00:00:00Z"},
                     hosts={n: HostResult(name=n, address=f"10.0.0.{i}", facts=f)
                            for i, (n, f) in enumerate(hosts.items(), 1)},
                     catalog=dict(catalog or {}))


def findings(run, family, **kw):
    return diagnose(run, rules=[r for r in load_rules() if r.id.startswith(family + ".")], **kw)


def on(found, host, rule_id):
    return [f for f in found if f.host == host and f.rule == rule_id]


def facts_named(f):
    return [e["fact"] for e in f.evidence]


def serious(found):
    return [f for f in found if f.severity in ("critical", "high", "medium")]


def with_disk(case):
    facts = golden()
    facts["disk"] = fixture("disk", case)
    return facts


def test_clean_fleet_is_quiet():
    assert serious(findings(fleet(golden()), "disk")) == []


@pytest.mark.parametrize("case", ["no-output", "junk", "local-debian12", "lab-bad-json", "lab-sudo-pw",
                                  "busybox-without-B", "lab-builder"])
def test_other_captures_are_quiet(case):
    found = findings(fleet(with_disk(case)), "disk")
    assert not [f for f in found if "failed" in f.title]
    assert serious(on(found, "bad", "disk.data-root-full")) == []


def test_full_data_root_with_almost_nothing_left_is_critical():
    bad = with_disk("lab-disk-full")
    bad["daemon_log"] = fixture("daemon_log", "lab-disk-full")
    f, = on(findings(fleet(bad), "disk"), "bad", "disk.data-root-full")
    assert (f.category, f.severity) == ("disk", "critical")
    assert f.evidence[0]["fact"] == "disk.data_root.used_pct" and f.evidence[0]["actual"] == 95.2
    assert "daemon_log.counts.no-space-left" in facts_named(f)
    assert any(r.startswith("docker system prune -f") for r in f.remediation)
    assert "no space left on device" in f.why


@pytest.mark.parametrize("pct,avail,severity", [
    (84.9, 40_000_000, None),
    (88.0, 30_000_000, "medium"),
    (96.0, 2 * 1024 ** 3, "high"),
    (90.0, 120 * 1024 ** 3, "low"),       # 90% of a huge disk still leaves 120 GB
])
def test_thresholds(pct, avail, severity):
    bad = golden()
    bad["disk"]["data_root"].update(used_pct=pct, avail=avail)
    got = [f.severity for f in on(findings(fleet(bad), "disk"), "bad", "disk.data-root-full")]
    assert got == ([severity] if severity else [])


def test_prune_hints_come_from_docker_system_df():
    bad = with_disk("lab-builder")
    bad["disk"]["data_root"].update(used_pct=90.0, avail=50_000_000)
    f, = on(findings(fleet(bad), "disk"), "bad", "disk.data-root-full")
    assert any(r.startswith("docker system prune -a -f") and "22.7 MB" in r for r in f.remediation)
    assert not any("--volumes" in r for r in f.remediation)      # no volume to reclaim


def test_exhausted_inodes_are_critical():
    f, = on(findings(fleet(with_disk("inodes-exhausted")), "disk"), "bad", "disk.inodes-full")
    assert (f.category, f.severity) == ("disk", "critical")
    assert facts_named(f) == ["disk.data_root.inodes_used_pct"]
    bad = golden()
    bad["disk"]["data_root"].update(inodes_used_pct=90.0, inodes_free=6000)
    assert [f.severity for f in on(findings(fleet(bad), "disk"), "bad", "disk.inodes-full")] == ["medium"]


def test_root_filesystem_only_when_separate():
    bad = golden()
    bad["disk"]["root"].update(used_pct=96.0, avail=3 * 1024 ** 3)
    f, = on(findings(fleet(bad), "disk"), "bad", "disk.root-full")
    assert (f.category, f.severity) == ("disk", "medium")
    assert facts_named(f) == ["disk.root.used_pct"]
    bad["disk"]["same_filesystem"] = True
    assert on(findings(fleet(bad), "disk"), "bad", "disk.root-full") == []


# ---------------------------------------------------------------- junk anywhere

JUNK = [None, "", "<script>x</script>", 0, -1, 1e300, float("nan"), True, [], {}, ["x", None, 3], {"a": None}]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _replaced(facts, collector, path, junk):
    facts = copy.deepcopy(facts)
    if not path:
        facts[collector] = junk
        return facts
    cur = facts[collector]
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = junk
    return facts


def junk_cases(make, collectors):
    base = make()
    return [(c, p, j) for c in collectors for p in _paths(base[c]) for j in JUNK]


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value in junk_cases(golden, ('disk',)):
        bad = _replaced(golden(), collector, path, value)
        run = fleet(bad)
        broken = [f for f in findings(run, "disk") if f.title.startswith("rule ") and "failed" in f.title]
        assert broken == [], (collector, path, value, broken[0].evidence)
