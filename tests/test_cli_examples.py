"""Every example in the CLI's help and in the README's Usage block runs as written as far
as files go (issue 14): each file an example reads exists in the repo, or is written by an
earlier example (an output option such as `--json reports/latest.json`). The demo's own
files (.lab/...) exist only once the demo fleet is up, so they are left out here."""
import re
import shlex
from pathlib import Path

import click
import pytest

from fleetaudit.cli import main
from fleetaudit.cliout import OutputPath

ROOT = Path(__file__).resolve().parent.parent


def _leaf(argv):
    """(command, its name, the rest of argv) for `fleetaudit SUB [SUB2] ARGS...`."""
    cmd, name, args = main, "fleetaudit", list(argv)
    while isinstance(cmd, click.Group) and args and args[0] in cmd.commands:
        name = args[0]
        cmd = cmd.commands[args.pop(0)]
    return cmd, name, args


def files_of(argv):
    """(files read, files written) by one command line, from click's own parse of it."""
    cmd, name, args = _leaf(argv)
    assert not isinstance(cmd, click.Group), f"not a command: {argv}"
    # click's own option parser, before types: a Path(exists=True) would drop a missing file.
    ctx = cmd.make_context(name, [], resilient_parsing=True)
    raw, _, _ = cmd.make_parser(ctx).parse_args(list(args))
    reads, writes = [], []
    for param in cmd.params:
        if param.name not in raw:
            continue
        value = raw[param.name]
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(v, str) or v == "-":
                continue
            if isinstance(param.type, OutputPath) or param.name == "out":
                writes.append(v)
            elif isinstance(param.type, click.Path) or param.name == "inventory":
                reads.append(v)
    return reads, writes


def _commands(group):
    for cmd in group.commands.values():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd)
        else:
            yield cmd


def help_examples():
    for cmd in _commands(main):
        for line in (cmd.help or "").splitlines():
            if line.strip().startswith("fleetaudit "):
                yield shlex.split(line.strip())[1:]


def readme_usage_examples():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^## Usage.*?```sh\n(.*?)```", text, re.S | re.M).group(1)
    variables = dict(re.findall(r'^(\w+)="([^"]*)"$', block, re.M))
    for line in block.splitlines():
        line = re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), line)
        if line.startswith("fleetaudit "):
            yield shlex.split(line.split(" | ")[0])[1:]


def unmet_reads(examples):
    written, missing = set(), []
    for argv in examples:
        reads, writes = files_of(argv)
        for path in reads:
            if path.startswith(".lab/") or path in written:
                continue
            if not (ROOT / path).exists():
                missing.append(f"{' '.join(argv)}: {path}")
        written.update(writes)
    return missing


def test_the_checker_sees_inputs_and_outputs():
    assert files_of(["report", "reports/x.json", "--html", "r.html", "--baseline", "b.json"]) == \
        (["reports/x.json", "b.json"], ["r.html"])
    assert files_of(["baseline", "save", "a.json", "b.json"]) == (["a.json"], ["b.json"])
    assert unmet_reads([["audit", "-i", "inventories/nope.ini"]]) == \
        ["audit -i inventories/nope.ini: inventories/nope.ini"]


def test_every_command_has_an_example():
    examples = list(help_examples())
    assert len(examples) >= len(list(_commands(main))) - 3  # a few groups' leaves share one


def test_every_file_a_help_example_reads_exists():
    assert unmet_reads(help_examples()) == []


def test_every_file_a_readme_usage_example_reads_exists():
    examples = list(readme_usage_examples())
    assert len(examples) >= 15
    assert unmet_reads(examples) == []
