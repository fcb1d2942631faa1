"""Shell completion helpers (click's own completion does the rest: docs/config.md).

`--limit` completes host and group names of the inventory given earlier on the same
command line (`-i FILE`, or its FLEETAUDIT_* / config default). Completion runs on
every TAB: any error, a missing or half-typed inventory, simply completes nothing.
"""
from __future__ import annotations

import re
from typing import List

import click
from click.shell_completion import CompletionItem


def complete_limit(ctx: click.Context, param: click.Parameter, incomplete: str) -> List[CompletionItem]:
    try:
        inventory = ctx.params.get("inventory")
        if not inventory:
            return []
        from .inventory import load_inventory
        inv = load_inventory(inventory)
        names = set(inv.hosts)
        names.update(getattr(inv, "groups", None) or ())
        # 'web*,!db0' -> complete the last term, keep what came before it.
        head, _, term = incomplete.rpartition(",")
        prefix = head + "," if head else ""
        m = re.match(r"[!&]?", term)
        mark = m.group(0) if m else ""
        term = term[len(mark):]
        return [CompletionItem(prefix + mark + n) for n in sorted(names, key=str)
                if str(n).startswith(term) and str(n).isprintable()]
    except Exception:  # noqa: BLE001 - completion must never print a traceback
        return []
