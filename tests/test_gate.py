"""`fleetaudit gate` without hosts: the probe fragment and the pull script run under a
local sh with stand-in `docker`/`getent` programs, verdicts are computed on the snapshot
captured from the demo fleet (tests/data/snapshots/demo-subset.json), and the CLI runs
with collection replaced by that snapshot. tests/test_fleet_gate.py does it for real."""
import copy
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetaudit import exitcodes, gate, snapshot
from fleetaudit.analyze import analyze
from fleetaudit.cli import main
from fleetaudit.collectors.probe import (NAME as PROBE, RC_SKIPPED, budget_s, parse_manifest,
                                         probe_collector)
from fleetaudit.collectors.base import Part
from fleetaudit.models import HostError, HostResult
from fleetaudit.reference import parse
from fleetaudit.script import ScriptOptions, build_script, split_output

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"
APP = parse("registry.fleet.test/team/app:1.0")
HUB = parse("busybox")


def fake_bin(tmp_path, name, body):
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return d


def run_sh(script, bindir, timeout=60):
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, env=env,
                          timeout=timeout)


# ------------------------------------------------------------------ probe fragment

MANIFEST_LIST = r'''[
	{
		"Ref": "registry.fleet.test/team/multi:1.0@sha256:aaa",
		"Descriptor": {
			"platform": {
				"architecture": "arm64",
				"os": "linux",
				"variant": "v8"
			}
		},
		"Raw": "ZZZZ",
		"SchemaV2Manifest": {"layers": []}
	}
]'''


def test_probe_fragment_runs_in_the_composite_script(tmp_path):
    """One exec: getent per registry, a manifest read per image, names quoted, only the
    platform lines travel, and a registry that does not resolve skips its reads."""
    bindir = fake_bin(tmp_path, "docker", f"""
case "$4" in
  *multi*) cat <<'EOF'
{MANIFEST_LIST}
EOF
  exit 0 ;;
  *nope*) echo "no such manifest: $4"; exit 1 ;;
  *) echo "unexpected $*"; exit 3 ;;
esac
""")
    fake_bin(tmp_path, "getent", """
case "$2" in registry.fleet.test) echo "10.213.16.3     registry.fleet.test"; exit 0 ;; esac
exit 2
""")
    refs = [parse("registry.fleet.test/team/multi:1.0"), parse("registry.fleet.test/team/app:nope"),
            parse("nosuch.fleet.test/x:1"), parse("10.1.2.3:5000/x")]
    c = probe_collector(refs)
    script = build_script([c], "n0nce", ScriptOptions())
    proc = run_sh(script, bindir)
    parsed = split_output(proc.stdout.decode(), "n0nce")
    assert parsed.complete, proc.stdout[-2000:]
    facts = c.parse(parsed.sections[PROBE])
    assert facts["as"] == "root" or facts["as"]  # whoever runs the test
    regs = facts["registries"]
    assert regs["registry.fleet.test"]["resolved"] is True
    assert regs["registry.fleet.test"]["addresses"] == ["10.213.16.3"]
    assert regs["nosuch.fleet.test"]["resolved"] is False
    assert regs["10.1.2.3:5000"]["ip_literal"] is True
    mans = facts["manifests"]
    assert mans["registry.fleet.test/team/multi:1.0"]["ok"] is True
    assert mans["registry.fleet.test/team/multi:1.0"]["platforms"] == ["linux/arm64/v8"]
    assert "ZZZZ" not in proc.stdout.decode(), "the Raw blob stays on the host"
    nope = mans["registry.fleet.test/team/app:nope"]
    assert nope["ok"] is False and nope["classes"] == ["manifest-unknown"]
    skipped = mans["nosuch.fleet.test/x:1"]
    assert skipped["ok"] is None and skipped["rc"] == RC_SKIPPED
    assert "did not resolve" in skipped["error"]
    # the IP-literal registry has no lookup: its read runs (and the stand-in refuses it)
    assert mans["10.1.2.3:5000/x:latest"]["ok"] is False


def test_probe_quotes_what_it_is_given():
    ref = parse("registry.fleet.test/team/app:1.0")
    frag = probe_collector([ref]).script
    assert "getent hosts 'registry.fleet.test'" in frag
    assert "'registry.fleet.test/team/app:1.0'" in frag
    # a hostile string still cannot break out (the reference parser refuses it anyway)
    from fleetaudit.collectors.probe import _q
    assert _q("a'; rm -rf /; '") == "'a'\"'\"'; rm -rf /; '\"'\"''"


def test_probe_budget_covers_every_timeout():
    refs = [APP, parse("registry.fleet.test/team/multi:1.0"), HUB]
    assert budget_s(refs, daemon_path=False) == 2 * 8 + 3 * 15
    assert budget_s(refs, manifest=False, daemon_path=False) == 2 * 8
    # the daemon-path part per registry: /v2/ twice + token and manifest per image, 8 s each, + 2
    assert budget_s(refs) == 2 * 8 + 3 * 15 + (6 * 8 + 2) + (4 * 8 + 2)


def test_manifest_parse_cases():
    assert parse_manifest(Part("", None))["error"] == "no output (cut off)"
    missing = parse_manifest(Part("docker: 'manifest' is not a docker command.\n", 1))
    assert missing["cli_missing"] is True and missing["ok"] is None
    timeout = parse_manifest(Part("", 124))
    assert timeout["ok"] is False and timeout["classes"] == ["request-timeout"]
    x509 = parse_manifest(Part('failed to configure transport: error pinging v2 registry: Get '
                               '"https://r/v2/": x509: certificate signed by unknown authority\n', 1))
    assert x509["classes"] == ["x509-unknown-authority"]
    single = parse_manifest(Part('\t"Ref": "r/a:1",\n\t\t\t"architecture": "amd64",\n'
                                 '\t\t\t"os": "linux"\n', 0))
    assert single["platforms"] == ["linux/amd64"]
    attest = parse_manifest(Part('\t"Ref": "r/a:1@1",\n\t"architecture": "unknown",\n\t"os": "unknown"\n'
                                 '\t"Ref": "r/a:1@2",\n\t"architecture": "amd64",\n\t"os": "linux"\n', 0))
    assert attest["platforms"] == ["linux/amd64"], "attestation manifests are not platforms"


# ------------------------------------------------------------------ pull script

def test_pull_script_pulls_redacts_and_classifies(tmp_path):
    bindir = fake_bin(tmp_path, "docker", """
case "$2" in
  *app:1.0) printf '1.0: Pulling from team/app\\nStatus: Downloaded newer image\\n'; exit 0 ;;
  *app:nope) echo 'Error response from daemon: manifest for registry.fleet.test/team/app:nope not found: manifest unknown: manifest unknown'; exit 1 ;;
  *busybox*) echo 'Error response from daemon: Get "https://registry-1.docker.io/v2/": proxyconnect tcp: dial via http://puser:Sup3rSecret@proxy.fleet.test:3128 Authorization: Bearer t0kenT0ken'; exit 1 ;;
esac
exit 9
""")
    refs = [APP, parse("registry.fleet.test/team/app:nope"), HUB]
    script = gate.pull_script(refs, "abc123", become=False, timeout_s=30)
    assert subprocess.run(["sh", "-n"], input=script.encode()).returncode == 0
    proc = run_sh(script, bindir)
    text = proc.stdout.decode()
    assert "Sup3rSecret" not in text and "t0kenT0ken" not in text, "redacted on the host side"
    out = gate.parse_pull_output(text, "abc123", refs, 30)
    ok = out[str(APP)]
    assert ok.ok and ok.rc == 0 and ok.duration_s is not None
    nope = out["registry.fleet.test/team/app:nope"]
    assert nope.rc == 1 and nope.category == "reference" and "manifest-unknown" in nope.classes
    assert nope.error.startswith("Error response from daemon: manifest for")
    hub = out[str(HUB)]
    assert hub.category == "proxy" and hub.cause and hub.fix


def test_pull_timeout_and_missing_docker(tmp_path):
    bindir = fake_bin(tmp_path, "docker", "sleep 30\n")
    script = gate.pull_script([APP], "t1", become=False, timeout_s=1)
    proc = run_sh(script, bindir)
    out = gate.parse_pull_output(proc.stdout.decode(), "t1", [APP], 1)[str(APP)]
    assert not out.ok and "did not finish within 1s" in out.error
    assert out.category == "reachability"
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True,
                          env={"PATH": f"{empty}:/usr/bin:/bin"})
    if proc.stdout and b"NODOCKER" in proc.stdout:  # no docker on this machine's PATH either
        out = gate.parse_pull_output(proc.stdout.decode(), "t1", [APP], 1)[str(APP)]
        assert out.not_run == "docker CLI not found on this host"


def test_pull_output_edge_cases():
    refs = [APP, HUB]
    sudo = gate.parse_pull_output("\n@@n:SUDO:refused\n\n@@n:E:\n", "n", refs, 60)
    assert all("sudo -n refused" in o.not_run for o in sudo.values())
    cut = gate.parse_pull_output("\n@@n:AS:root\n\n@@n:P:0\n\n@@n:T0:100\nPulling fs", "n", refs, 60)
    assert cut[str(APP)].error == "pull did not finish within 60s"
    assert cut[str(HUB)].not_run == "pull exec ended early"
    forged = gate.parse_pull_output("\n@@other:RC:0\n", "n", refs, 60)
    assert not forged[str(APP)].ok, "markers need this run's nonce"
    assert gate.error_line("1.0: Pulling from a\nabc123abc123: Pulling fs layer\nwrite /x: no space left on device\n") \
        == "write /x: no space left on device"


# ------------------------------------------------------------------ verdicts on captured facts

@pytest.fixture()
def snap():
    return snapshot.load(SNAP)


def probe_ok(platforms=("linux/amd64",), resolved=True):
    return {"as": "root",
            "registries": {"registry.fleet.test": {"lookup": "registry.fleet.test", "resolved": resolved,
                                                   "addresses": ["10.213.16.3"] if resolved else [],
                                                   "error": None if resolved else "registry.fleet.test does not resolve"}},
            "manifests": {str(APP): {"ok": True, "platforms": list(platforms), "error": None, "classes": []}}}


def evaluate(result, refs, probes=None, pull=False, pulls=None, fail_on="high", missing=None):
    analyze(result)
    return gate.evaluate(result, gate.GateOptions(images=refs, pull=pull, fail_on=fail_on),
                         probes or {}, missing or {}, pulls or {})


def test_read_only_verdicts_on_the_demo_subset(snap):
    probes = {h: probe_ok() for h in snap.hosts}
    g = evaluate(snap, [APP, HUB], probes)
    app = {h: row[str(APP)] for h, row in g.cells.items()}
    hub = {h: row[str(HUB)] for h, row in g.cells.items()}
    for h in ("golden", "good-1", "good-2", "good-3"):
        assert app[h].verdict == "no-blocker" and app[h].label.startswith("no blocker found"), (h, app[h])
    assert app["no-ca"].verdict == "blocked"
    assert app["no-ca"].blockers[0].category == "tls"
    # env-proxy's daemon has no proxy, but the fleet reaches registry.fleet.test directly
    assert app["env-proxy"].verdict == "no-blocker", [r.to_json() for r in app["env-proxy"].reasons]
    # ... while Docker Hub goes through the proxy on the fleet: there it is a blocker
    assert hub["env-proxy"].verdict == "blocked"
    assert hub["env-proxy"].blockers[0].category == "proxy"
    # no-ca's CA problem is about registry.fleet.test, not Docker Hub
    assert not any(r.category == "tls" for r in hub["no-ca"].reasons)
    assert g.exit_code() == exitcodes.FINDINGS
    assert g.counts() == {"no-blocker": 10, "blocked": 2, "unknown": 0}


def test_fail_on_none_blocks_nothing(snap):
    g = evaluate(snap, [APP], {h: probe_ok() for h in snap.hosts}, fail_on="none")
    assert {c.verdict for row in g.cells.values() for c in row.values()} == {"no-blocker"}
    assert g.exit_code() == exitcodes.CLEAN


def test_missing_probe_is_unknown_not_pass(snap):
    g = evaluate(snap, [APP], {h: probe_ok() for h in snap.hosts if h != "good-1"},
                 missing={"good-1": "no output (script cut off before this section)"})
    assert g.cells["good-1"][str(APP)].verdict == "unknown"
    assert g.exit_code() == exitcodes.NOT_AUDITED


def test_probe_reasons_arch_dns_auth(snap):
    probes = {h: probe_ok() for h in snap.hosts}
    probes["good-1"] = probe_ok(platforms=("linux/arm64/v8",))
    probes["good-2"] = probe_ok(resolved=False)
    probes["good-3"] = copy.deepcopy(probe_ok())
    probes["good-3"]["manifests"][str(APP)] = {
        "ok": False, "classes": ["no-basic-auth-credentials"], "platforms": [],
        "error": 'Get "https://registry.fleet.test/v2/team/app/manifests/1.0": no basic auth credentials'}
    g = evaluate(snap, [APP], probes)
    arch = g.cells["good-1"][str(APP)]
    assert arch.verdict == "blocked" and arch.blockers[0].category == "arch"
    assert "no matching manifest for linux/amd64" in arch.blockers[0].message
    dns = g.cells["good-2"][str(APP)]
    assert dns.verdict == "blocked" and dns.blockers[0].category == "dns"
    auth = g.cells["good-3"][str(APP)]
    assert auth.verdict == "blocked" and auth.blockers[0].category == "auth"
    assert "CLI-side" in auth.blockers[0].message
    # the CLI read as another user than root proves nothing about root's pulls
    probes["good-3"]["as"] = "deploy"
    g = evaluate(snapshot.load(SNAP), [APP], probes)
    assert g.cells["good-3"][str(APP)].verdict == "no-blocker"


def test_root_credentials_compared_with_the_fleet(snap):
    snap.hosts["good-2"].facts["credentials"]["users"].pop("root", None)
    snap.hosts["good-2"].facts["credentials"]["root_registries"] = []
    snap.hosts["good-2"].facts["credentials"]["root_has_auth"] = False
    g = evaluate(snap, [APP], {h: probe_ok() for h in snap.hosts})
    cell = g.cells["good-2"][str(APP)]
    assert cell.verdict == "blocked"
    assert any(r.category == "auth" for r in cell.blockers), [r.to_json() for r in cell.reasons]


def test_unreachable_and_sudo_refused_are_unknown(snap):
    snap.hosts["good-1"] = HostResult("good-1", status="unreachable",
                                      error=HostError("refused", "connection refused"))
    snap.hosts["good-2"].status = "partial"
    snap.hosts["good-2"].error = HostError("sudo", "`sudo -n` refused for user deploy")
    g = evaluate(snap, [APP], {h: probe_ok() for h in snap.hosts})
    assert g.cells["good-1"][str(APP)].verdict == "unknown"
    assert "refused" in g.cells["good-1"][str(APP)].label
    assert g.cells["good-2"][str(APP)].verdict == "unknown"
    assert g.exit_code() == exitcodes.NOT_AUDITED


def test_pull_mode_verdicts(snap):
    ok = gate.PullOutcome(rc=0, duration_s=2.0, as_user="root")
    bad = gate.classify_pull(gate.PullOutcome(
        rc=1, error='Error response from daemon: Get "https://registry.fleet.test/v2/": x509: '
                    'certificate signed by unknown authority'))
    pulls = {h: {str(APP): ok} for h in snap.hosts}
    pulls["no-ca"] = {str(APP): bad}
    pulls["good-3"] = {str(APP): gate.PullOutcome(not_run="sudo -n refused: cannot pull as root")}
    g = evaluate(snap, [APP], {h: probe_ok() for h in snap.hosts}, pull=True, pulls=pulls)
    cells = {h: row[str(APP)] for h, row in g.cells.items()}
    assert cells["golden"].verdict == "pass" and cells["golden"].label == "pulled"
    assert cells["no-ca"].verdict == "fail"
    assert cells["no-ca"].label == "pull failed: tls: Certificate signed by an unknown CA"
    lead = cells["no-ca"].reasons[0]
    assert lead.source == "pull" and lead.blocking and lead.category == "tls"
    # the finding that explains it comes right after, as a note
    assert cells["no-ca"].reasons[1].rule == "tls.registry-ca-missing"
    assert not cells["no-ca"].reasons[1].blocking
    assert cells["good-3"].verdict == "unknown"
    assert g.exit_code() == exitcodes.NOT_AUDITED
    pulls["good-3"] = {str(APP): ok}
    g = evaluate(snapshot.load(SNAP), [APP], {}, pull=True, pulls=pulls)
    assert g.exit_code() == exitcodes.FINDINGS
    doc = g.to_json()
    assert doc["schema"] == gate.SCHEMA and doc["mode"] == "pull"
    assert doc["hosts"]["no-ca"][str(APP)]["pull"]["classes"] == ["x509-unknown-authority"]
    assert set(doc["hosts"]["golden"][str(APP)]) >= {"verdict", "reasons", "pull"}


def test_relevance_rules(snap):
    analyze(snap)
    host = snap.hosts["good-1"]
    others = gate.known_registries(snap, [APP])
    fw = {"host": "good-1", "rule": "firewall.output-443-blocked", "category": "firewall",
          "severity": "critical", "title": "outgoing tcp/443 is blocked", "evidence": []}
    assert gate.relevant(fw, APP, host, snap, others)
    assert not gate.relevant(fw, parse("registry.fleet.test:5000/team/app"), host, snap, others)
    tls_other = {"rule": "tls.registry-ca-missing", "category": "tls", "title": "no CA for mirror.fleet.test",
                 "evidence": [{"fact": "tls.certs_d[\"mirror.fleet.test\"]", "actual": None}]}
    assert not gate.relevant(tls_other, APP, host, snap, others | {"mirror.fleet.test"})
    disk = {"rule": "disk.data-root-full", "category": "disk", "title": "full", "evidence": []}
    assert gate.relevant(disk, APP, host, snap, others)
    mirrors = {"rule": "daemon.registry-mirrors", "category": "daemon", "title": "x", "evidence": []}
    assert gate.relevant(mirrors, HUB, host, snap, others)
    assert not gate.relevant(mirrors, APP, host, snap, others)
    assert gate.mentions("Get https://registry.fleet.test/v2/", ["registry.fleet.test"])
    assert not gate.mentions("expired.registry.fleet.test.example", ["registry.fleet.test"])
    assert not gate.mentions("myregistry.fleet.tester", ["registry.fleet.test"])


def test_junit_and_terminal_outputs(snap):
    snap.hosts["golden"].name = "golden"
    probes = {h: probe_ok() for h in snap.hosts}
    g = evaluate(snap, [APP], probes)
    # a host-sent string that looks like markup or carries control characters
    g.cells["no-ca"][str(APP)].reasons.append(
        gate.Reason("finding", "tls", "low", "[bold red]x[/] \x07bell", False))
    root = ET.fromstring(gate.render_junit(g))
    assert root.get("tests") == str(len(snap.hosts))
    cases = {c.get("classname"): c for c in root.iter("testcase")}
    assert cases["fleetaudit.gate.no-ca"].find("failure") is not None
    assert cases["fleetaudit.gate.no-ca"].find("failure").get("type") == "tls"
    assert "not pulled" in cases["fleetaudit.gate.golden"].find("system-out").text
    from rich.console import Console
    console = Console(record=True, width=200)
    for r in gate.renderables(g):
        console.print(r)
    text = console.export_text()
    assert "[bold red]x[/]" in text, "host text is shown literally, never as markup"
    assert "no blocker found" in text and "nothing was pulled" in text


# ------------------------------------------------------------------ CLI

def test_invalid_image_reference_is_a_usage_error(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_host=10.0.0.1\n")
    res = CliRunner().invoke(main, ["gate", "-i", str(inv), "--image", "Team/App:1"])
    assert res.exit_code == exitcodes.USAGE
    assert "--image 'Team/App:1': invalid reference format: repository name (App) must be lowercase" \
        in res.output
    res = CliRunner().invoke(main, ["gate", "-i", str(inv), "--image", "https://r.example/app"])
    assert res.exit_code == exitcodes.USAGE and "no scheme" in res.output
    res = CliRunner().invoke(main, ["gate", "-i", str(inv)])
    assert res.exit_code == exitcodes.USAGE and "--image" in res.output


def test_help_says_pull_modifies_hosts():
    res = CliRunner().invoke(main, ["gate", "--help"])
    assert res.exit_code == 0
    assert "MODIFIES HOSTS" in res.output and "Example:" in res.output


def test_cli_gate_on_a_snapshot_instead_of_ssh(tmp_path, monkeypatch):
    """The command end to end, with collection replaced by the captured snapshot (plus
    probe facts as the composite script would return them)."""
    import fleetaudit.cli as cli

    inv = tmp_path / "hosts.ini"
    inv.write_text("[docker]\n" + "".join(f"{h} ansible_host=10.0.0.{i + 1}\n"
                                            for i, h in enumerate(snapshot.load(SNAP).hosts)))
    seen = {}

    def fake_collect(hosts, opts, progress=None, interrupt=None):
        seen["collectors"] = [c.name for c in opts.all_collectors]
        seen["timeout"] = opts.command_timeout
        result = snapshot.load(SNAP)
        for name, h in result.hosts.items():
            h.facts[PROBE] = probe_ok()
        result.run["collectors"] = seen["collectors"]
        return result

    monkeypatch.setattr(cli, "collect", fake_collect)
    res = CliRunner().invoke(main, ["gate", "-i", str(inv), "--image", str(APP), "--json",
                                    str(tmp_path / "g.json"), "--junit", str(tmp_path / "g.xml"),
                                    "--snapshot", str(tmp_path / "s.json")])
    assert res.exit_code == exitcodes.FINDINGS, res.output
    assert seen["collectors"][-1] == PROBE and seen["timeout"] == 60 + 8 + 15 + (4 * 8 + 2)
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["mode"] == "read-only" and doc["images"][0]["reference"] == str(APP)
    assert doc["hosts"]["no-ca"][str(APP)]["verdict"] == "blocked"
    assert doc["hosts"]["golden"][str(APP)]["verdict"] == "no-blocker"
    assert doc["host_status"]["golden"] == {"status": "ok", "error": None}
    saved = json.loads((tmp_path / "s.json").read_text())
    assert PROBE not in saved["hosts"]["golden"]["facts"], "the probe is the gate's, not a fact"
    assert PROBE not in saved["run"]["collectors"]
    assert ET.parse(tmp_path / "g.xml").getroot().get("failures") == "1"
    assert "no-ca" in res.output and "blocked: tls" in res.output
