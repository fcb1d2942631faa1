"""Shared setup of the rule tests (tests/test_rules_*.py): real captured facts
(tests/facts), the lab's golden host, small fleets as RunResults, diagnose, finding
lookups, and junk planted anywhere in a host's facts.

Two golden hosts: engine_golden() is what the engine-side families (daemon, proxy, auth,
arch, logs) look at; lab_golden() is every collector the lab captured, with a clock
reading, for the network and trust families (tls, dns, mtu, firewall, clock, disk).
"""
import copy
import json
from pathlib import Path

from fleetaudit.diagnose import diagnose, load_rules
from fleetaudit.models import HostResult, RunResult

HERE = Path(__file__).parent
FACTS = HERE / "facts"
NOW = 1795910400.0            # 2026-11-29T00:00:00Z, when the lab fixtures were captured
STARTED = "2026-11-29T00:00:00Z"


# ---------------------------------------------------------------- facts

def fixture(collector, case):
    """The facts of one captured collector run (a fresh copy: edit it freely)."""
    return copy.deepcopy(json.loads((FACTS / collector / f"{case}.json").read_text())["facts"])


def engine_golden():
    """The lab's golden host as the engine-side families see it."""
    return {
        "system": fixture("system", "debian12-local"),
        "docker": fixture("docker", "lab-golden"),
        "daemon_json": fixture("daemon_json", "lab-golden"),
        "proxy": fixture("proxy", "lab-golden"),
        "credentials": fixture("credentials", "lab-golden"),
        "daemon_log": fixture("daemon_log", "lab-golden-clean"),
        "restarts": fixture("restarts", "lab-golden"),
        "tls": fixture("tls", "lab-golden"),
    }


def lab_golden():
    """The lab's golden host, collector by collector, as captured (its clock read at NOW)."""
    facts = {c: fixture(c, "lab-golden") for c in
             ("docker", "daemon_json", "tls", "dns", "network", "firewall", "disk", "proxy", "credentials")}
    facts["system"] = fixture("system", "debian12-local")
    facts["time"] = fixture("time", "timedatectl-systemd")
    facts["time"]["clock"] = {"host_epoch": NOW, "controller_epoch": NOW, "skew_s": 0.0, "uncertainty_s": 0.004}
    facts["daemon_log"] = fixture("daemon_log", "lab-golden-clean")
    return facts


def with_capture(collector, case, base=lab_golden):
    """base() with one collector's facts replaced by another capture."""
    facts = base()
    facts[collector] = fixture(collector, case)
    return facts


# ---------------------------------------------------------------- runs

def plain_fleet(bad, healthy=3, make=engine_golden):
    """A run of `healthy` copies of make() plus the host "bad" (no addresses, no catalog)."""
    hosts = {f"good-{i}": HostResult(f"good-{i}", facts=make()) for i in range(healthy)}
    hosts["bad"] = HostResult("bad", facts=bad)
    return RunResult(hosts=hosts)


def run_of(hosts, catalog=None):
    """A run started at NOW over hosts (name -> facts) at 10.0.0.1, .2, ... with a catalog."""
    return RunResult(run={"started": STARTED},
                     hosts={n: HostResult(name=n, address=f"10.0.0.{i}", facts=f)
                            for i, (n, f) in enumerate(hosts.items(), 1)},
                     catalog=dict(catalog or {}))


def lab_fleet(bad, good=3, base=lab_golden, catalog=None, bad_name="bad"):
    """run_of `good` copies of base() plus the host bad_name."""
    hosts = {f"good-{i}": base() for i in range(good)}
    hosts[bad_name] = bad
    return run_of(hosts, catalog)


# ---------------------------------------------------------------- findings

def findings(run, family, **kw):
    """diagnose() with one rule family's rules only."""
    return diagnose(run, rules=[r for r in load_rules() if r.id.startswith(family + ".")], **kw)


def found(run, host="bad", prefix=""):
    """All rules' findings on one host whose rule id starts with prefix."""
    return [f for f in diagnose(run) if f.host == host and f.rule.startswith(prefix)]


def one(run, rule, host="bad"):
    """The one finding of a rule on a host (fails listing the host's findings otherwise)."""
    hits = [f for f in found(run, host) if f.rule == rule]
    assert len(hits) == 1, [(f.rule, f.title) for f in found(run, host)]
    return hits[0]


def on(found, host, rule_id=None):
    """The findings among `found` on host (of rule_id, when given)."""
    return [f for f in found if f.host == host and (rule_id is None or f.rule == rule_id)]


def facts_named(finding):
    """The fact paths a finding's evidence names, in order."""
    return [e["fact"] for e in finding.evidence]


def serious(found):
    """The findings of severity medium or worse."""
    return [f for f in found if f.severity in ("critical", "high", "medium")]


def failed(found):
    """The findings that report a rule raising ("rule X failed ...")."""
    return [f for f in found if f.title.startswith("rule ") and "failed" in f.title]


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


def junk_variants(make, collectors):
    """(collector, path, junk, facts): make()'s facts with one value (or a whole
    collector) replaced by one piece of JUNK, for every value of those collectors."""
    base = make()
    for c in collectors:
        for p in _paths(base[c]):
            for j in JUNK:
                yield c, p, j, _replaced(make(), c, p, j)
