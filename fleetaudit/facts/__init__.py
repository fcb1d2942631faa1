"""Derived facts: what each host's dockerd really uses, computed once per run.

Between the parsed facts (collectors/) and everything that judges them (compare/,
diagnose/, the gate's verdict, explain) sits this layer: a typed HostView per host and a
FleetView per run, holding the derived answers (the daemon's effective proxy and whether
a registry goes through it, the session's proxy, the CA trust dockerd applies per
registry, root's registries and credentials, platform, clock offset, data root) and the
fleet's (majorities, the fleet's CAs, the registries it uses). It also holds the fact
schema (schema.py: how a fact is named, the catalogue of every collector's facts).

Pure: no I/O, imports nothing from compare/diagnose/render/cli. See docs/facts.md.
"""
from .fleet import Expect, FleetView, MIN_MAJORITY_HOSTS  # noqa: F401
from .host import HostView  # noqa: F401
from .proxy import DaemonProxy, ProxyRoute  # noqa: F401
from .trust import ExpectedCA, FleetCA, Gap, RegistryTrust, Trust  # noqa: F401
from .values import MISSING  # noqa: F401
