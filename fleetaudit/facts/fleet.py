"""FleetView: the fleet side of the derived facts, built once per run. It owns every
per-run cache (the HostViews, majorities, the registries the fleet uses, the fleet's
CAs), so nothing is hung on the run or host objects.

Build it with FleetView(run) once per diagnose/verdict pass; the run's hosts must not
change while it is in use (make a new one if they do).
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Collection, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from . import proxy as _proxy, trust as _trust
from .host import HostView
from .registries import DOCKER_HUB, Registry, is_public, registries_of, registry_host
from .schema import dig
from .values import canonical_json
from .values import MISSING

# A majority of one or two hosts is not a norm: below this many hosts that report a
# fact, the fleet has no expectation (same default as the consensus baseline).
MIN_MAJORITY_HOSTS = 3
# A fleet needs this many measured hosts before its median clock offset means anything.
MIN_HOSTS_FOR_MEDIAN = 3

Getter = Callable[[dict], Any]


@dataclass
class Expect:
    """An expected value and where the expectation comes from."""

    value: Any
    source: str       # "baseline" or "fleet majority (9 of 12 hosts)"


def _proxy_hosts(view: HostView) -> Set[str]:
    """host:port and host of the daemon's proxies (they show up in logs like registries)."""
    out = set()
    dp = view.daemon_proxy
    for var in ("HTTP_PROXY", "HTTPS_PROXY"):
        ep = _proxy.proxy_endpoint(dp.get(var)) if dp else ""
        if ep:
            out.add(ep.split("://", 1)[1])
            out.add(ep.split("://", 1)[1].rsplit(":", 1)[0])
    return out


class FleetView:
    """The derived facts of a whole run: a HostView per host and the fleet's answers."""

    def __init__(self, run: Any, only: Optional[Collection[str]] = None,
                 views: Optional[Dict[str, HostView]] = None):
        """only: a part of the run's hosts (the analysis over worker processes): every
        fleet answer is then that part's, and only its tallies() are worth anything
        (they are merged with the other parts' by merge_tallies). views: HostViews to
        reuse (a host's view depends on its own facts only)."""
        self.run = run
        self.only = frozenset(only) if only is not None else None
        self._views: Dict[str, HostView] = views if views is not None else {}
        self.cache: Dict[Hashable, Any] = {}   # per-run answers (memo(); rule families may keep their own figures here)
        self._per_host: Dict[Tuple[str, Hashable], Tuple[Any, Any]] = {}

    # ------------------------------------------------------------ hosts

    def catalog(self, sha: Any) -> Any:
        """The run catalog's entry for a file hash (its certificates), None if absent."""
        cat = getattr(self.run, "catalog", None)
        return cat.get(sha) if sha and isinstance(cat, dict) else None

    def view_of(self, name: str, facts: Any) -> HostView:
        """A HostView of facts that are not a run host's (a baseline), uncached."""
        return HostView(name, facts, self.catalog, getattr(self.run, "run", None))

    def host(self, name: str) -> Optional[HostView]:
        """The HostView of the run's host `name` (None when the run has no such host)."""
        v = self._views.get(name)
        if v is None:
            h = self.run.hosts.get(name)
            if h is None:
                return None
            v = self._views[name] = HostView(name, h.facts, self.catalog, getattr(self.run, "run", None))
        return v

    def audited(self) -> List[Any]:
        """The run's hosts that were reached and have facts (HostResults)."""
        hosts = [h for h in self.run.hosts.values() if h.status != "unreachable" and isinstance(h.facts, dict)]
        if self.only is not None:
            hosts = [h for h in hosts if h.name in self.only]
        return hosts

    def views(self) -> List[HostView]:
        """HostViews of the audited hosts, in inventory order."""
        return [self.host(h.name) for h in self.audited()]

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A per-run answer computed once (for fleet-wide figures a rule family derives)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def per_host(self, name: str, key: Hashable, baseline: Any, compute: Callable[[], Any]) -> Any:
        """A per-host answer that depends on its baseline, computed once per (host, baseline)."""
        got = self._per_host.get((name, key))
        if got is not None and got[0] is baseline:
            return got[1]
        val = compute()
        self._per_host[(name, key)] = (baseline, val)
        return val

    # ------------------------------------------------------------ majorities

    def majority(self, key: str, getter: Getter) -> Optional[Expect]:
        """The value a strict majority of the audited hosts that know the fact share
        (getter returns MISSING when a host does not know it); None below
        MIN_MAJORITY_HOSTS hosts or without a strict majority. `key` names the getter
        for the cache."""
        def compute() -> Optional[Expect]:
            votes, sample = self._votes(key, getter)
            total = sum(votes.values())
            if total >= MIN_MAJORITY_HOSTS:
                top, n = votes.most_common(1)[0]   # ties: the value seen first, in host order
                if n * 2 > total:
                    return Expect(sample[top], f"fleet majority ({n} of {total} hosts)")
            return None
        return self.memo(("majority", key), compute)

    def _votes(self, key: str, getter: Getter) -> Tuple[Counter, Dict[str, Any]]:
        """How many audited hosts have each value (by canonical JSON), in the order the
        values are first seen, and the first host's value for each (a tally)."""
        def compute() -> Tuple[Counter, Dict[str, Any]]:
            votes: Counter = Counter()
            sample: Dict[str, Any] = {}
            for h in self.audited():
                v = getter(h.facts)
                if v is MISSING:
                    continue
                c = canonical_json(v)
                votes[c] += 1
                sample.setdefault(c, v)
            return votes, sample
        return self.memo(("votes", key), compute)

    def tallies(self) -> Dict[Hashable, Any]:
        """The fleet answers computed so far that are counts over the hosts, which the
        parts of a run merge exactly (merge_tallies): value votes, element counts, the
        registry scan."""
        return {k: v for k, v in self.cache.items()
                if k == "registries" or (isinstance(k, tuple) and k[0] in ("votes", "elements"))}

    def element_counts(self, key: str, getter: Getter) -> Tuple[Dict[str, int], int]:
        """For a set-valued fact: how many hosts have each element, and how many know the fact."""
        def compute() -> Tuple[Dict[str, int], int]:
            counts: Counter = Counter()
            total = 0
            for h in self.audited():
                v = getter(h.facts)
                if v is MISSING:
                    continue
                total += 1
                counts.update(set(v))
            return dict(counts), total
        return self.memo(("elements", key), compute)

    def expect(self, key: str, getter: Getter, baseline: Optional[dict] = None) -> Optional[Expect]:
        """What a host should have: the baseline's value when there is a baseline (the
        user chose it), else the fleet majority. None when nothing is known."""
        if baseline is not None:
            v = getter(baseline)
            return None if v is MISSING else Expect(v, "baseline")
        return self.majority(key, getter)

    def expect_elements(self, key: str, getter: Getter, baseline: Optional[dict] = None) -> Optional[Expect]:
        """For a set-valued fact: the elements the baseline has, else the elements a strict
        majority of the fleet has (robust when hosts differ in several ways at once)."""
        if baseline is not None:
            v = getter(baseline)
            return None if v is MISSING else Expect(sorted(set(v)), "baseline")
        counts, total = self.element_counts(key, getter)
        if total < MIN_MAJORITY_HOSTS:
            return None
        common = sorted(e for e, n in counts.items() if n * 2 > total)
        return Expect(common, f"fleet majority (of {total} hosts)")

    def clock_median_s(self) -> Optional[float]:
        """The median clock offset of the audited hosts: far from zero when the AUDITOR's
        clock is off. None below MIN_HOSTS_FOR_MEDIAN measured hosts."""
        def compute() -> Optional[float]:
            offs = [v.clock_offset_s for v in self.views() if v.clock_offset_s is not None]
            return statistics.median(offs) if len(offs) >= MIN_HOSTS_FOR_MEDIAN else None
        return self.memo("clock-median", compute)

    # ------------------------------------------------------------ registries the fleet uses

    def _registry_scan(self) -> Tuple[Dict[str, Dict[str, str]], Dict[str, Dict[str, Dict[str, str]]], Set[str]]:
        def compute():
            first: Dict[str, Dict[str, str]] = {}           # name -> signal -> "path on host"
            by_host: Dict[str, Dict[str, Dict[str, str]]] = {}
            proxies: Set[str] = set()
            for v in self.views():
                mine = by_host[v.name] = v.registries_named
                for name, sig in mine.items():
                    for s, p in sig.items():
                        first.setdefault(name, {}).setdefault(s, f"{p} on {v.name}")
                proxies |= _proxy_hosts(v)
            return first, by_host, proxies
        return self.memo("registries", compute)

    def registries(self, me: Optional[str] = None, baseline: Optional[dict] = None) -> Dict[str, Registry]:
        """Registries the fleet evidently uses (every audited host, and the baseline),
        with the signals that say so, the example paths taken from host `me` where it has
        them; proxies seen in logs are not registries."""
        first, by_host, proxies = self._registry_scan()
        own = by_host.get(me, {}) if me else {}
        out: Dict[str, Registry] = {}
        for name, sigs in first.items():
            reg = out[name] = Registry(name)
            for s, where in sigs.items():
                reg.signals[s] = own.get(name, {}).get(s) or where
        if baseline is not None:
            for name, sig in registries_of(baseline).items():
                reg = out.setdefault(name, Registry(name))
                for s, p in sig.items():
                    reg.signals.setdefault(s, f"{p} (baseline)")
        for p in proxies:
            if p in out and set(out[p].signals) == {"daemon log"}:
                del out[p]
        return out

    def registry_names(self, me: str, baseline: Optional[dict] = None) -> List[str]:
        """The registries the fleet uses (see registries), host `me`'s own first, then
        private ones, then by name (the order example commands pick from)."""
        def compute() -> List[str]:
            fleet_names = self.memo("registry-names", lambda: set(self.registries()))
            view = self.host(me)
            own = view.own_registries if view is not None else {}
            names = set(fleet_names) | set(own)
            if isinstance(baseline, dict):
                names |= set(self.view_of("baseline", baseline).own_registries)
                base_dirs = dig(baseline, "tls.certs_d")
                names |= {h for h in map(registry_host, base_dirs if isinstance(base_dirs, dict) else ()) if h}
            return sorted(names, key=lambda n: (n not in own, is_public(n) or n == DOCKER_HUB,
                                                not own.get(n, "").startswith("credentials"), n))
        return self.per_host(me, "registry-names", baseline, compute)

    # ------------------------------------------------------------ the fleet's CAs

    def trusts(self) -> List[Tuple[HostView, _trust.Trust]]:
        """(host view, its trust) of the audited hosts whose trust is known."""
        return self.memo("trusts", lambda: [(v, v.trust) for v in self.views() if v.trust is not None])

    def fleet_cas(self) -> Tuple[Dict[str, _trust.FleetCA], int]:
        """registry -> the fleet's certs.d CAs for it (FleetCA), and how many hosts'
        trust is known."""
        def compute():
            trusts = self.trusts()
            return _trust.count_fleet_cas([(v.name, t) for v, t in trusts]), len(trusts)
        return self.memo("fleet-cas", compute)

    def expected_cas(self, me: str, baseline: Optional[dict] = None) -> List[_trust.ExpectedCA]:
        """Registry CAs host `me` should trust: the baseline's certs.d CAs; those a strict
        majority of the fleet has; and those other hosts have for a registry this host
        evidently pulls from (its credentials, mirrors or daemon log name it)."""
        def compute():
            fleet, known = self.fleet_cas()
            view = self.host(me)
            own = view.own_registries if view is not None else {}
            base = self.view_of("baseline", baseline).trust if baseline is not None else None
            return _trust.expected_cas(me, fleet, known, own, base, MIN_MAJORITY_HOSTS)
        return self.per_host(me, "expected-cas", baseline, compute)

    def registry_gaps(self, me: str, baseline: Optional[dict] = None) -> List[_trust.Gap]:
        """The expected registry CAs host `me`'s dockerd does not trust."""
        def compute():
            view = self.host(me)
            if view is None:
                return []
            return _trust.registry_gaps(view.trust, self.expected_cas(me, baseline) if view.trust else [],
                                        view.insecure_registries)
        return self.per_host(me, "gaps", baseline, compute)

    # ------------------------------------------------------------ registries, credentials, proxy

    def root_credential_counts(self, registry: str, exclude: str = "") -> Tuple[int, int]:
        """(hosts whose root's credentials are known, of them those with credentials for
        `registry`), over the audited hosts other than `exclude`."""
        reg = registry_host(registry) or registry
        known = with_it = 0
        for v in self.views():
            if v.name == exclude:
                continue
            theirs = v.root_registries
            if theirs is MISSING:
                continue
            known += 1
            with_it += reg in theirs
        return known, with_it

    def daemons_via_proxy(self, registry: str, exclude: str = "") -> Optional[bool]:
        """Do most other audited hosts' daemons reach `registry` through a proxy? None when
        no other host's daemon proxy is known."""
        votes = [v.daemon_proxy_for(registry).via_proxy for v in self.views() if v.name != exclude]
        votes = [x for x in votes if x is not None]
        if not votes:
            return None
        return sum(votes) * 2 > len(votes)


def merge_tallies(parts: Sequence[Dict[Hashable, Any]]) -> Dict[Hashable, Any]:
    """FleetView.tallies() of consecutive parts of a run's hosts (in host order) -> the
    tallies one FleetView over all of them computes: counts added, and whatever is
    "first seen" (a vote's order and sample value, a registry signal's example path)
    taken from the earliest part. A tally some part lacks is left out (computed over the
    whole run when asked)."""
    if not parts:
        return {}
    out: Dict[Hashable, Any] = {}
    for key in parts[0]:
        if not all(key in p for p in parts):
            continue
        if key == "registries":
            first: Dict[str, Dict[str, str]] = {}
            by_host: Dict[str, Dict[str, Dict[str, str]]] = {}
            proxies: Set[str] = set()
            for f, b, x in (p[key] for p in parts):
                for name, sigs in f.items():
                    mine = first.setdefault(name, {})
                    for sig, where in sigs.items():
                        mine.setdefault(sig, where)
                by_host.update(b)
                proxies |= x
            out[key] = (first, by_host, proxies)
        elif key[0] == "votes":
            votes: Counter = Counter()
            sample: Dict[str, Any] = {}
            for v, smp in (p[key] for p in parts):
                for c, n in v.items():
                    votes[c] += n
                for c, val in smp.items():
                    sample.setdefault(c, val)
            out[key] = (votes, sample)
        elif key[0] == "elements":
            counts: Counter = Counter()
            total = 0
            for c, t in (p[key] for p in parts):
                counts.update(c)
                total += t
            out[key] = (dict(counts), total)
    return out
