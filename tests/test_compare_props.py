"""Property tests for the comparison (hypothesis).

- a host compared with itself has no drift;
- ignores are honoured: no drift item names, or carries inside its value, an ignored path;
- drift agrees with deepdiff on plain nested data (the normalization is faithful);
- fleet consensus does not depend on host order;
- an added copy of a host gets exactly that host's drift, and adding it creates drift
  for other hosts only on paths that had no majority before (where it can make one).
"""
import copy
import json

from deepdiff import DeepDiff
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from fleetaudit.compare import (ConsensusBaseline, HostBaseline, Ignore, compare_facts,
                                compare_run, paths, value_groups)
from fleetaudit.compare.flatten import flatten

from test_compare_support import base_facts, host, run

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NO_IGNORE = Ignore(defaults=False)

# Keys with dots, brackets, quotes, blanks and unicode exercise path quoting.
keys = st.text(alphabet=st.sampled_from(list("ab.[]\"' *é-_0")), max_size=4)
scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.text(alphabet="xy\n", max_size=3)
values = st.recursive(scalars | st.lists(scalars, max_size=3),
                      lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=3),
                      max_leaves=10)
collectors = ("c1", "c2")
plain_facts = st.fixed_dictionaries({c: st.dictionaries(keys, values, min_size=1, max_size=4)
                                     for c in collectors})


def locations(node, trail=()):
    """Every (parent, key, trail) inside nested dicts/lists, for mutation."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield node, k, trail + (k,)
            yield from locations(v, trail + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield node, i, trail + (i,)
            yield from locations(v, trail + (i,))


@st.composite
def mutated(draw, facts):
    """facts with 1-3 realistic edits: a changed/nulled value, a deleted or added key,
    a reversed list."""
    facts = copy.deepcopy(facts)
    for _ in range(draw(st.integers(1, 3))):
        spots = list(locations(facts))
        if not spots:
            break
        parent, key, _trail = draw(st.sampled_from(spots))
        op = draw(st.sampled_from(["set", "null", "delete", "add", "reverse"]))
        if op == "set":
            parent[key] = draw(scalars)
        elif op == "null":
            parent[key] = None
        elif op == "delete" and isinstance(parent, dict):
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif op == "reverse" and isinstance(parent[key], list):
            parent[key] = list(reversed(parent[key]))
    return facts


REAL = base_facts()
real_variant = mutated(REAL)


# --- self comparison and ignores ---------------------------------------------------------

@SETTINGS
@given(plain_facts)
def test_plain_facts_compared_with_themselves_have_no_drift(facts):
    assert compare_facts(facts, copy.deepcopy(facts), NO_IGNORE) == []


@SETTINGS
@given(real_variant)
def test_real_facts_compared_with_themselves_have_no_drift(facts):
    assert compare_facts(facts, copy.deepcopy(facts), NO_IGNORE) == []
    r = run([host("a", facts), host("b", facts), host("c", facts)])
    assert all(items == [] for items in compare_run(r).values())


def _covered(item):
    """Every full path an item names or carries inside its value."""
    out = [item.path]
    for value in (item.expected, item.actual):
        if isinstance(value, dict):
            out += [item.path + p[1:] for p in flatten({"x": value})]  # "x.a.b" -> path + ".a.b"
    return out


@SETTINGS
@given(real_variant, st.data())
def test_ignores_are_honoured(facts, data):
    base = copy.deepcopy(REAL)
    before = compare_facts(facts, base, NO_IGNORE)
    pool = sorted({p for p in flatten(base)} | {p for p in flatten(facts)})
    picked = data.draw(st.lists(st.sampled_from(pool), max_size=3))
    # patterns: exact paths, their parents, and globs over their last segment
    patterns = []
    for p in picked:
        keys = paths.split(p)
        patterns.append(data.draw(st.sampled_from([p, paths.join_all(keys[:-1]) if len(keys) > 1 else p,
                                                   paths.join_all(keys[:-1] + ("*",)) if len(keys) > 1 else p])))
    ign = Ignore(patterns, defaults=False)
    after = compare_facts(facts, base, ign)
    for item in after:
        for path in _covered(item):
            assert not ign(path), (path, patterns)
    # ignoring never invents drift: every remaining item was there (or collapsed) before
    before_paths = {i.path for i in before}
    for item in after:
        assert any(paths.is_under(item.path, b) or paths.is_under(b, item.path) for b in before_paths)


# --- faithful to deepdiff --------------------------------------------------------------------

def _deepdiff_paths(a, b):
    """deepdiff's changed locations as key tuples; list positions are dropped (a list of
    scalars is one fact)."""
    dd = DeepDiff(b, a, ignore_order=True, report_repetition=True, view="tree",
                  threshold_to_diff_deeper=0,  # always to the leaves, as drift does
                  ignore_private_variables=False)  # "__x" is a key like any other
    out = set()
    for report in dd.values():
        for level in report:
            keys = []
            for step in level.path(output_format="list"):
                if isinstance(step, int):
                    break
                keys.append(step)
            out.add(tuple(keys))
    return out


def _has_empty_dict(node):
    if isinstance(node, dict):
        return not node or any(_has_empty_dict(v) for v in node.values())
    return False


@settings(SETTINGS, max_examples=40)
@given(plain_facts, st.data())
def test_drift_agrees_with_deepdiff(baseline, data):
    """Same locations as deepdiff (ignore_order, repetitions counted), except by design:
    an empty mapping is no fact at all (so such cases are not drawn)."""
    facts = data.draw(mutated(baseline))
    assume(not _has_empty_dict(facts))
    ours = {paths.split(i.path) for i in compare_facts(facts, baseline, NO_IGNORE)}
    both = set(facts) & set(baseline)  # a collector one side did not report is not compared
    assert ours == {p for p in _deepdiff_paths(facts, baseline) if p and p[0] in both}


# --- consensus ---------------------------------------------------------------------------------

@st.composite
def fleets(draw):
    """3-8 hosts built from 1-3 variants of the real facts, so majorities and ties occur."""
    variants = [REAL] + draw(st.lists(real_variant, min_size=0, max_size=2))
    n = draw(st.integers(3, 8))
    picks = draw(st.lists(st.integers(0, len(variants) - 1), min_size=n, max_size=n))
    return [host(f"h{i}", copy.deepcopy(variants[v])) for i, v in enumerate(picks)]


def _view(drift):
    return {h: [json.dumps(i.to_json(), sort_keys=True, default=repr) for i in items]
            for h, items in drift.items()}


def _essence(items):
    return {(i.path, i.kind, json.dumps(i.to_json()["expected"], sort_keys=True, default=repr),
             json.dumps(i.to_json()["actual"], sort_keys=True, default=repr)) for i in items}


@SETTINGS
@given(fleets(), st.randoms(use_true_random=False))
def test_consensus_is_stable_under_host_order(hosts, rnd):
    shuffled = list(hosts)
    rnd.shuffle(shuffled)
    a = compare_run(run(hosts))
    b = compare_run(run(copy.deepcopy(shuffled)))
    assert _view(a) == _view(b)
    path = "network.interfaces.eth0.mtu"  # same groups in the same order (hosts: inventory order)
    assert [(v, sorted(h)) for v, h in value_groups(run(hosts), path)] == \
        [(v, sorted(h)) for v, h in value_groups(run(shuffled), path)]


@SETTINGS
@given(fleets(), st.data())
def test_adding_an_identical_host(hosts, data):
    r = run(hosts)
    base = ConsensusBaseline()
    before = compare_run(r, base)
    undecided = {p for c in base.partitions.values() for p in c.expected.undecided}
    original = data.draw(st.sampled_from(hosts))
    twin = host("twin", copy.deepcopy(original.facts))
    after = compare_run(run([copy.deepcopy(h) for h in hosts] + [twin]))
    assert _essence(after["twin"]) == _essence(after[original.name])
    for h in hosts:
        new = _essence(after[h.name]) - _essence(before[h.name])
        for path, *_ in new:  # (a collapsed item names an ancestor of the undecided leaves)
            assert any(paths.is_under(u, path) or paths.is_under(path, u) for u in undecided), path


@SETTINGS
@given(fleets(), st.data())
def test_golden_host_drift_does_not_depend_on_other_hosts(hosts, data):
    golden = hosts[0].name
    before = compare_run(run(hosts), HostBaseline(golden))
    extra = host("extra", copy.deepcopy(data.draw(st.sampled_from(hosts)).facts))
    after = compare_run(run([copy.deepcopy(h) for h in hosts] + [extra]), HostBaseline(golden))
    for h in hosts:
        assert _essence(after[h.name]) == _essence(before[h.name])
