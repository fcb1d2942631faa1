"""auth.* rules (and the Docker Hub rate-limit rule) on small fleets built from real
captured facts (tests/facts), each mutated minimally to plant one fault."""
from fleetaudit.diagnose import diagnose
from fleetaudit.models import HostResult, RunResult

from rulekit import engine_golden as golden, fixture, one, plain_fleet as fleet, with_capture
from rulekit import found as found_on


def with_credentials(case):
    return with_capture("credentials", case, golden)


def found(run, host="bad", prefix="auth."):
    return found_on(run, host, prefix)


def only(run, rule, host="bad"):
    return [f for f in found(run, host, "") if f.rule == rule]


def test_golden_fleet_is_quiet():
    run = fleet(golden())
    for host in run.hosts:
        assert found(run, host) == []
    # the lab's sudo host (root's config read through sudo) is golden too
    assert found(fleet(with_credentials("lab-sudo-nopw"))) == []


def test_login_only_for_a_non_root_user():
    f = one(fleet(with_credentials("lab-user-creds")), "auth.user-only-credentials")
    assert (f.category, f.severity) == ("auth", "high")
    assert f.evidence[0]["fact"] == "credentials.root_registries"
    assert f.evidence[0]["actual"] == []
    assert f.evidence[1] == {"fact": "credentials.users.deploy.credential_registries",
                             "actual": "registry.fleet.test", "note": "deploy has a login for it"}
    assert f.remediation[0].startswith("sudo docker login registry.fleet.test")
    assert "no basic auth credentials" in f.why
    # reported once: missing-credentials leaves it to this rule
    assert only(fleet(with_credentials("lab-user-creds")), "auth.missing-credentials") == []


def test_user_only_logins_everywhere_are_medium():
    run = fleet(with_credentials("lab-user-creds"), make=lambda: with_credentials("lab-user-creds"))
    assert one(run, "auth.user-only-credentials").severity == "medium"


def test_rootless_daemon_pulls_as_the_user():
    bad = with_credentials("lab-user-creds")
    bad["docker"]["info"]["rootless"] = True
    assert only(fleet(bad), "auth.user-only-credentials") == []


def test_credentials_missing_compared_with_the_fleet():
    f = one(fleet(with_credentials("local-no-configs")), "auth.missing-credentials")
    assert (f.category, f.severity) == ("auth", "high")
    assert f.evidence[0]["fact"] == "credentials.root_registries"
    assert (f.evidence[0]["actual"], f.evidence[0]["expected"]) == ([], ["registry.fleet.test"])
    assert any(r.startswith("sudo docker login registry.fleet.test") for r in f.remediation)


def test_credentials_missing_against_a_golden_baseline():
    run = RunResult(hosts={"bad": HostResult("bad", facts=with_credentials("local-no-configs"))})
    f = [x for x in diagnose(run, baselines={"bad": golden()}) if x.rule == "auth.missing-credentials"]
    assert len(f) == 1 and f[0].evidence[0]["note"] == "baseline"


def test_unreadable_root_config_is_not_a_missing_login():
    # sudo needs a password: root's config.json could not be read, so nothing is known
    assert only(fleet(with_credentials("lab-sudo-pw")), "auth.missing-credentials") == []
    assert only(fleet(with_credentials("not-root")), "auth.missing-credentials") == []


def test_credential_helpers_not_installed():
    hits = only(fleet(with_credentials("planted-weird")), "auth.helper-missing")
    by_user = {f.evidence[0]["fact"]: f for f in hits}
    root = by_user["credentials.users.root.missing_helpers"]
    assert (root.category, root.severity) == ("auth", "high")
    assert root.evidence[0]["actual"] == ["ecr-login"]
    assert "docker-credential-ecr-login" in root.title
    assert by_user["credentials.users.bob.missing_helpers"].severity == "medium"


def test_config_json_not_valid():
    hits = only(fleet(with_credentials("planted-weird")), "auth.config-invalid")
    assert sorted(f.evidence[0]["fact"] for f in hits) == ["credentials.users.carol.valid",
                                                          "credentials.users.dave.valid"]
    assert all(f.severity == "medium" for f in hits)
    bad = with_credentials("planted-weird")
    bad["credentials"]["users"]["root"].update(valid=False, error="invalid JSON: Expecting value")
    root = [f for f in only(fleet(bad), "auth.config-invalid") if "root" in f.evidence[0]["fact"]]
    assert root[0].severity == "high"


def no_mirror():
    h = golden()
    h["docker"]["info"]["registry_mirrors"] = []
    h["daemon_json"]["config"].pop("registry-mirrors")
    return h


def test_anonymous_docker_hub_without_mirror_is_low_ratelimit():
    run = fleet(no_mirror(), make=no_mirror)
    f = one(run, "auth.dockerhub-anonymous")
    assert (f.category, f.severity) == ("ratelimit", "low")
    assert [e["fact"] for e in f.evidence] == ["credentials.root_registries", "docker.info.registry_mirrors"]
    assert "toomanyrequests" in f.why


def test_anonymous_docker_hub_is_medium_once_the_fleet_hits_the_limit():
    limited = no_mirror()
    limited["daemon_log"] = fixture("daemon_log", "journal-x509")     # has a toomanyrequests line
    run = fleet(limited, make=no_mirror)
    f = one(run, "auth.dockerhub-anonymous", "good-0")
    assert f.severity == "medium"
    assert f.evidence[-1]["actual"] == ["bad"]


def test_docker_hub_login_or_mirror_is_enough():
    assert only(fleet(golden()), "auth.dockerhub-anonymous") == []          # mirror
    hub = no_mirror()
    hub["credentials"] = fixture("credentials", "planted-weird")                 # root has docker.io
    assert only(fleet(hub, make=no_mirror), "auth.dockerhub-anonymous") == []
