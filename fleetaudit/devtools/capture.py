"""Capture real collector output as a parser fixture.

    python -m fleetaudit.devtools.capture COLLECTOR CASE [--via 'CMD PREFIX'] [--note TEXT]

Runs the collector's fragment inside the real composite script, either locally
(`sh -s`) or through a command prefix that reaches a test-fleet host, e.g.
`--via "ssh -i .lab/demo/id_ed25519 -o UserKnownHostsFile=.lab/demo/known_hosts root@10.213.1.3"`,
and writes tests/facts/COLLECTOR/CASE.json = {source, section, facts}, where facts is
what the parser returns today. Review `facts` by hand before committing: the fixture
asserts it from then on.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
from pathlib import Path

from ..collectors import by_name
from ..script import ScriptOptions, build_script, new_nonce, split_output


def capture(collector_name: str, via: str = "", become: bool = False, after: tuple = ()) -> dict:
    """`after`: collectors run first (their sections dropped), for a fragment that reads
    what an earlier one left (disk takes /system/df from the docker collector's curl)."""
    collector = by_name(collector_name)
    nonce = new_nonce()
    script = build_script([*(by_name(a) for a in after), collector], nonce, ScriptOptions(become=become))
    cmd = shlex.split(via) + ["sh", "-s"] if via else ["sh", "-s"]
    proc = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=120)
    parsed = split_output(proc.stdout.decode("utf-8", "replace"), nonce)
    section = parsed.sections.get(collector_name, {})
    return {name: p.to_json() for name, p in section.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("collector")
    ap.add_argument("case")
    ap.add_argument("--via", default="")
    ap.add_argument("--note", default="")
    ap.add_argument("--become", action="store_true")
    ap.add_argument("--after", action="append", default=[],
                    help="a collector to run first (repeatable), e.g. --after docker for disk")
    args = ap.parse_args()
    from ..collectors.base import Part

    section_json = capture(args.collector, args.via, args.become, tuple(args.after))
    section = {k: Part.from_json(v) for k, v in section_json.items()}
    facts = by_name(args.collector).parse(section)
    where = args.via or "local sh"
    doc = {
        "source": f"captured {datetime.date.today()} via {where}. {args.note}".strip(),
        "section": section_json,
        "facts": facts,
    }
    out = Path("tests/facts") / args.collector / f"{args.case}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(out)


if __name__ == "__main__":
    main()
