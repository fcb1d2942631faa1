"""clock rules on real captured time facts (tests/facts/time/*.json) with the clock reading
the collection core adds, each fault planted by a minimal edit."""
import pytest

from fleetaudit.certs import digest

from rulekit import (
    HERE, NOW, facts_named, failed, findings, fixture, junk_variants, lab_fleet as fleet,
    lab_golden as golden, on, serious,
)

LAB_CA = "a4046c7352a7a0119da7c8298f7d80f31f3f7ac124a594a85d3f950ff04930cc"   # certs.d ca.crt of the lab


def skewed(skew, unc=0.004, time_case="lab-skew", now=NOW):
    facts = golden()
    facts["time"] = fixture("time", time_case)
    facts["time"]["clock"] = {"host_epoch": now + skew, "controller_epoch": now, "skew_s": skew,
                              "uncertainty_s": unc}
    return facts


def test_clean_fleet_is_quiet():
    assert serious(findings(fleet(golden()), "clock")) == []


@pytest.mark.parametrize("case", ["no-output", "junk", "chrony-no-daemon", "local-debian12", "ntpd-synced"])
def test_captures_without_a_verdict_are_quiet(case):
    found = findings(fleet(skewed(0.5, time_case=case)), "clock")
    assert serious(on(found, "bad", "clock.ntp-unsynchronized") + on(found, "bad", "clock.skew")) == []


def test_missing_clock_reading_is_not_skew():
    bad = golden()
    bad["time"]["clock"] = {"host_epoch": None, "controller_epoch": None, "skew_s": None, "uncertainty_s": None}
    assert on(findings(fleet(bad), "clock"), "bad", "clock.skew") == []


def test_two_hours_ahead_is_high():
    found = findings(fleet(skewed(7200.0)), "clock")       # the lab's "skew" host: +2h
    f, = on(found, "bad", "clock.skew")
    assert (f.category, f.severity) == ("time", "high")
    assert f.evidence[0]["fact"] == "time.clock.skew_s" and f.evidence[0]["actual"] == 7200.0
    assert "2.0 h ahead" in f.title
    assert "x509: certificate has expired or is not yet valid" in f.why
    assert on(found, "good-0", "clock.skew") == []


@pytest.mark.parametrize("skew,unc,severity", [
    (120.0, 0.01, "medium"), (-120.0, 0.01, "medium"), (30.0, 0.01, None),
    (70.0, 20.0, None),            # within the measuring error of a slow round trip
    (400.0, 0.01, "high"),
])
def test_thresholds(skew, unc, severity):
    got = [f.severity for f in on(findings(fleet(skewed(skew, unc)), "clock"), "bad", "clock.skew")]
    assert got == ([severity] if severity else [])


def test_small_skew_past_a_certificate_start_is_high():
    # the registry CA was issued 100 s ago; the host is 200 s behind: not yet valid there
    start = 1704067200.0                                    # valid.pem not_before 2024-01-01
    catalog = {LAB_CA: digest((HERE / "data" / "certs" / "valid.pem").read_bytes())}
    bad = skewed(-200.0, now=start + 100)
    f, = on(findings(fleet(bad, catalog=catalog), "clock"), "bad", "clock.skew")
    assert f.severity == "high" and "not yet valid" in f.title
    assert "time.clock.host_epoch" in facts_named(f)


def test_an_off_auditor_clock_is_not_blamed_on_the_hosts():
    base = lambda: skewed(3600.0)                          # noqa: E731  every host +1h vs the auditor
    found = findings(fleet(skewed(3600.5), base=base), "clock")
    assert serious(found) == []
    assert {f.severity for f in found if f.rule == "clock.skew"} == {"info"}
    f, = on(findings(fleet(skewed(7200.0), base=base), "clock"), "bad", "clock.skew")
    assert f.severity == "high" and "1.0 h ahead" in f.title     # relative to the fleet


@pytest.mark.parametrize("case,title", [("chrony-unsynced", "clock not synchronized (chronyc)"),
                                        ("chrony-local-clock", "clock not synchronized (chronyc)"),
                                        ("timedatectl-old-unsynced", "clock not synchronized (timedatectl)")])
def test_ntp_unsynchronized(case, title):
    f, = on(findings(fleet(skewed(0.2, time_case=case)), "clock"), "bad", "clock.ntp-unsynchronized")
    assert (f.category, f.severity, f.title) == ("time", "medium", title)
    assert f.evidence[0]["fact"] == "time.ntp.synchronized" and f.evidence[0]["actual"] is False


def test_ntp_disabled_and_family_commands():
    bad = skewed(0.2, time_case="timedatectl-old-unsynced")
    bad["time"]["ntp"]["enabled"] = False
    f, = on(findings(fleet(bad), "clock"), "bad", "clock.ntp-unsynchronized")
    assert f.title == "NTP is disabled" and "time.ntp.enabled" in facts_named(f)
    assert "sudo timedatectl set-ntp true" in f.remediation
    chrony = skewed(0.2, time_case="chrony-unsynced")
    f, = on(findings(fleet(chrony), "clock"), "bad", "clock.ntp-unsynchronized")
    assert "sudo chronyc makestep   # step the clock now" in f.remediation


def test_synchronized_hosts_are_quiet():
    for case in ("chrony-synced", "timedatectl-systemd", "ntpd-synced"):
        assert on(findings(fleet(skewed(0.2, time_case=case)), "clock"), "bad", "clock.ntp-unsynchronized") == []


# ---------------------------------------------------------------- junk anywhere


def test_junk_in_any_fact_never_breaks_a_rule():
    for collector, path, value, bad in junk_variants(golden, ('time',)):
        broken = failed(findings(fleet(bad), "clock"))
        assert broken == [], (collector, path, value, broken[0].evidence)
