"""The layering of docs/architecture.md, checked on the import graph (ast, no imports run).

inventory -> ssh/collect (+ the gate's pull step) -> collectors -> snapshot -> facts ->
compare -> diagnose -> render -> cli. A stage never imports a later one or the I/O around it; only
a few modules talk to the network or a database; only cli*.py use click or print.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "fleetaudit"


def _modules():
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (p, is_pkg)
    return out


MODULES = _modules()


def _imports(name):
    """Every module name `name` imports (absolute), and the names it calls."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
    imports, calls = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else (node.module or "")
            imports.add(base)
            # `from . import gate` imports the module fleetaudit.gate
            imports.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.add(node.func.id)
    return imports, calls


GRAPH = {name: _imports(name) for name in MODULES}


def _in(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _top(name):
    return name.split(".")[1] if name.count(".") >= 1 else ""


# The run's I/O and wiring: what the pure stages must never reach for.
IO_AND_WIRING = ["fleetaudit.collect", "fleetaudit.ssh", "fleetaudit.pull", "fleetaudit.gate",
                 "fleetaudit.notify", "fleetaudit.history", "fleetaudit.script"]
PURE_STAGES = ["fleetaudit.collectors", "fleetaudit.facts", "fleetaudit.compare", "fleetaudit.diagnose",
               "fleetaudit.render", "fleetaudit.verdict", "fleetaudit.models",
               "fleetaudit.models_gate", "fleetaudit.inventory", "fleetaudit.analyze"]
# Pipeline order: a stage may import an earlier one, never a later one.
ORDER = ["fleetaudit.collectors", "fleetaudit.snapshot", "fleetaudit.facts", "fleetaudit.compare",
         "fleetaudit.diagnose", "fleetaudit.render"]
# The only modules that open sockets or databases (docs/architecture.md says why each).
NETWORK_IO = {"fleetaudit.collect", "fleetaudit.ssh", "fleetaudit.pull", "fleetaudit.notify",
              "fleetaudit.history.backends",
              "fleetaudit.knownhosts",  # asyncssh's key parsing only, no connection
              "fleetaudit.cli_logging"}    # -vv: sets asyncssh's log level, no connection
NETWORK_LIBS = ["asyncssh", "socket", "urllib.request", "http.client", "psycopg", "sqlite3",
                "requests", "ssl"]
# Developer tools run by hand (`python -m fleetaudit.devtools.capture`), not the library.
TOOLS = ["fleetaudit.devtools"]


def _cli(name):
    return _top(name).startswith("cli")


def test_the_graph_is_read():
    assert "fleetaudit.render.gate" in MODULES and "fleetaudit.collect" in MODULES
    assert "fleetaudit.collect" in GRAPH["fleetaudit.gate"][0]  # the checker sees real edges


@pytest.mark.parametrize("name", [m for m in MODULES if _in(m, PURE_STAGES)])
def test_pure_stages_never_import_io_or_the_cli(name):
    bad = sorted(i for i in GRAPH[name][0]
                 if _in(i, IO_AND_WIRING) or (i.startswith("fleetaudit.cli")))
    assert not bad, f"{name} imports {bad}: move the I/O to the caller (docs/architecture.md)"


@pytest.mark.parametrize("stage", ORDER)
def test_no_import_runs_back_up_the_pipeline(stage):
    later = ORDER[ORDER.index(stage) + 1:]
    for name in MODULES:
        if _in(name, [stage]):
            bad = sorted(i for i in GRAPH[name][0] if _in(i, later))
            assert not bad, f"{name} ({stage}) imports later stages {bad}"


def test_only_the_io_modules_touch_the_network():
    offenders = {name: sorted(i for i in GRAPH[name][0] if _in(i, NETWORK_LIBS))
                 for name in MODULES if name not in NETWORK_IO and not _in(name, TOOLS)}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"network/database I/O outside {sorted(NETWORK_IO)}: {offenders}"


def test_only_the_cli_uses_click():
    users = sorted(n for n in MODULES if not _cli(n) and _in_any(GRAPH[n][0], ["click"]))
    assert not users, f"click outside cli*.py: {users}"


def test_the_library_never_prints():
    printers = sorted(n for n in MODULES if not _cli(n) and not _in(n, TOOLS) and "print" in GRAPH[n][1])
    assert not printers, f"print( in the library: {printers} (return data; the CLI prints)"


def _in_any(imports, prefixes):
    return any(_in(i, prefixes) for i in imports)


# The gate reads derived facts (fleetaudit.facts), never a rule module's helpers (issue 15).
GATE_MODULES = ["fleetaudit.verdict", "fleetaudit.gate", "fleetaudit.pull", "fleetaudit.models_gate"]


@pytest.mark.parametrize("name", GATE_MODULES)
def test_the_gate_imports_no_rule_module(name):
    bad = sorted(i for i in GRAPH[name][0]
                 if i.startswith("fleetaudit.diagnose.rules_") or i == "fleetaudit.diagnose.common")
    assert not bad, f"{name} imports rule modules {bad}: read fleetaudit.facts views instead"


def test_the_facts_layer_imports_no_judge_or_output():
    for name in MODULES:
        if _in(name, ["fleetaudit.facts"]):
            bad = sorted(i for i in GRAPH[name][0]
                         if _in(i, ["fleetaudit.diagnose", "fleetaudit.render", "fleetaudit.compare"])
                         or i.startswith("fleetaudit.cli"))
            assert not bad, f"{name} imports {bad}: derived facts come before judging and output"


def test_rule_modules_do_not_import_each_other():
    for name in MODULES:
        if name.startswith("fleetaudit.diagnose.rules_"):
            bad = sorted(i for i in GRAPH[name][0] if i.startswith("fleetaudit.diagnose.rules_"))
            assert not bad, f"{name} imports {bad}: shared knowledge goes in fleetaudit.facts"
