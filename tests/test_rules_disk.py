"""disk rules on real captured disk facts (tests/facts/disk/*.json), each fault planted by a
minimal edit."""
import pytest

from rulekit import (
    facts_named, failed, findings, fixture, junk_variants, lab_fleet as fleet, lab_golden as golden,
    on, serious, with_capture,
)


def with_disk(case):
    return with_capture("disk", case)


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


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(golden, ('disk',)):
        broken = failed(findings(fleet(bad), "disk"))
        assert broken == [], (collector, path, value, broken[0].evidence)
