"""Diagnosis: the rule modules, in one explicit list."""
from __future__ import annotations

import importlib
from typing import List

from .base import Hit, HostContext, Rule, all_rules, dig, ev, rule
from .engine import diagnose

RULE_MODULES = (
    "daemon", "proxy", "tls", "dns", "mtu", "firewall", "clock", "disk", "auth",
    "arch", "logs",
)


def load_rules() -> List[Rule]:
    for mod in RULE_MODULES:
        importlib.import_module(f"{__name__}.rules_{mod}")
    return all_rules()


__all__ = ["Hit", "HostContext", "Rule", "all_rules", "dig", "ev", "rule", "diagnose", "load_rules"]
