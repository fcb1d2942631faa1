"""What the HTML report's history view needs, read from the history store.

    history = report_history(store, inventory_key, runs=20, fact_runs=5, upto=run_id)
    render_html(result, history=history)

`runs`: the last N runs of the inventory, oldest first, with findings per severity (the
store keeps those counts on the run row, so this is one query however big the fleet).
`facts`: per host, the fact changes that earlier runs recorded in their own
`drift_since_last` section, with the run and time they were first seen (one section
read per run, never the run's hosts; the last `fact_runs` runs); the current run's own
changes come from its result, not from here.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

MAX_FACTS_PER_HOST = 50


def report_history(store: Any, inventory_key: str, *, runs: int = 20, fact_runs: int = 5,
                   upto: Optional[int] = None) -> dict:
    """{"runs": [RunInfo JSON, oldest first], "facts": {host: [change, ...]}}.

    upto: the current run's id once recorded (runs after it are left out, and it is not
    read for fact changes: its result already carries them)."""
    infos = [r for r in store.runs(inventory_key, limit=None if upto is not None else runs)
             if upto is None or r.id <= upto][:runs]
    infos.reverse()
    facts: Dict[str, List[dict]] = {}
    earlier = [r for r in infos if r.id != upto][-fact_runs:] if fact_runs else []
    for info in reversed(earlier):  # newest first: the cap keeps the latest changes
        section = store.load_section(info.id, "drift_since_last")
        items = section.get("facts") if isinstance(section, dict) else None
        for f in items if isinstance(items, list) else ():
            if not isinstance(f, dict) or not isinstance(f.get("host"), str):
                continue
            rows = facts.setdefault(f["host"], [])
            if len(rows) < MAX_FACTS_PER_HOST:
                rows.append({"path": f.get("path"), "before": f.get("before"),
                             "after": f.get("after"), "change": f.get("change"),
                             "run_id": info.id, "started": info.started})
    return {"runs": [r.to_json() for r in infos], "facts": facts}
