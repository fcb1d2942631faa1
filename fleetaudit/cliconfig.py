"""Option defaults from the environment and a config file (docs/config.md).

Precedence, highest first: the command line; `FLEETAUDIT_<COMMAND>_<OPTION>`;
`FLEETAUDIT_<OPTION>`; the config file's per-command section; its top-level key; the
built-in default. Environment variables are set on the options (click reads them);
the file becomes click's default_map.

A *global* name (`FLEETAUDIT_<OPTION>`, a top-level key) applies to every command
whose option of that name means what it means in the top-level commands. Names whose
meaning differs between top-level commands (`--json` is a flag in `explain`, a path in
`audit`) and output paths are per command only: a global default that some commands
would read as a file to overwrite is a trap. An option that a parent group also has
(`history --history` and `history list --history`) takes the global at the group only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import click

from . import exitcodes
from .cliout import OutputPath, claim_stdout

ENV_PREFIX = "FLEETAUDIT"
NOT_CONFIGURABLE = {"config", "help", "version"}
# Options taken from the command line only: no variable or file turns them on unseen.
COMMAND_LINE_ONLY = {"pull": "it changes the hosts (a real docker pull); give --pull on the command line"}
# Same kind of value, another effect: `diff --inventory` turns a snapshot comparison into
# a live audit, which a FLEETAUDIT_INVENTORY set for the timer must not do unasked.
NOT_GLOBAL = {("diff", "inventory")}
COMMANDS_KEY = "commands"


def search_path() -> List[Path]:
    """Where the config file is looked for when --config is not given; first found wins."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path("fleetaudit.yml"), Path(xdg) / "fleetaudit" / "config.yml",
            Path("/etc/fleetaudit/config.yml")]


class ConfigError(click.ClickException):
    exit_code = exitcodes.USAGE

    def __init__(self, path, line: Optional[int], message: str):
        from .render.safe import visible
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(visible(f"{where}: {message}", newlines=True))


# --- the option tree ------------------------------------------------------------------

def option_name(param: click.Parameter) -> Optional[str]:
    """`known-hosts` for --known-hosts; None for arguments and unconfigurable options."""
    if not isinstance(param, click.Option):
        return None
    longs = [o[2:] for o in param.opts if o.startswith("--")]
    if not longs or longs[0] in NOT_CONFIGURABLE or longs[0] in COMMAND_LINE_ONLY:
        return None
    return longs[0]


def options(cmd: click.Command) -> Dict[str, click.Option]:
    out = {}
    for p in cmd.params:
        name = option_name(p)
        if name:
            out[name] = p
    return out


def kind(param: click.Option) -> tuple:
    """What an option means, as far as sharing one global default goes."""
    t = param.type
    if isinstance(t, OutputPath):
        cat: Any = "output"
    elif isinstance(t, click.Choice):
        cat = ("choice", tuple(sorted(map(str, t.choices))))
    elif isinstance(t, click.Path):
        cat = "path"
    else:
        cat = t.name
    return (bool(param.is_flag), bool(param.multiple), bool(getattr(param, "count", False)), cat)


def walk(cmd: click.Command, chain: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], click.Command]]:
    yield chain, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from walk(sub, chain + (name,))


class Schema:
    """Which option names are global, per root command (computed once)."""

    def __init__(self, root: click.Group):
        self.root = root
        kinds: Dict[str, set] = {}
        for chain, cmd in walk(root):
            if len(chain) > 1:
                continue
            for name, p in options(cmd).items():
                kinds.setdefault(name, set()).add(kind(p))
        self.globals: Dict[str, tuple] = {
            n: next(iter(k)) for n, k in kinds.items() if len(k) == 1 and next(iter(k))[3] != "output"}
        self.per_command_only = sorted(n for n, k in kinds.items() if n not in self.globals)

    def command(self, chain: Tuple[str, ...]) -> click.Command:
        cmd: click.Command = self.root
        for name in chain:
            cmd = cmd.commands[name]  # type: ignore[attr-defined]
        return cmd

    def takes_global(self, chain: Tuple[str, ...], name: str, param: click.Option) -> bool:
        if self.globals.get(name) != kind(param) or (" ".join(chain), name) in NOT_GLOBAL:
            return False
        # The highest command with the option takes the global (a group passes it down).
        return not any(name in options(self.command(chain[:i])) for i in range(1, len(chain)))

    @classmethod
    def of(cls, root: click.Group) -> "Schema":
        schema = root.__dict__.get("_fleet_schema")
        if schema is None:
            schema = root.__dict__["_fleet_schema"] = cls(root)
        return schema


def env_name(chain: Tuple[str, ...], name: str) -> str:
    return "_".join((ENV_PREFIX,) + chain + (name,)).upper().replace("-", "_")


def assign_envvars(schema: Schema, chain: Tuple[str, ...], cmd: click.Command) -> None:
    """FLEETAUDIT_<COMMAND>_<OPTION>, then FLEETAUDIT_<OPTION> where global, then an
    option's own explicit envvar (FLEETAUDIT_HISTORY)."""
    for name, p in options(cmd).items():
        if "_fleet_explicit" not in p.__dict__:
            p.__dict__["_fleet_explicit"] = ([p.envvar] if isinstance(p.envvar, str) else list(p.envvar or []))
        names = [env_name(chain, name)]
        if schema.takes_global(chain, name, p):
            names.append(env_name((), name))
        names += p.__dict__["_fleet_explicit"]
        p.envvar = list(dict.fromkeys(names))


def _chain(parent: Optional[click.Context], info_name: Optional[str]) -> Tuple[str, ...]:
    if parent is None:
        return ()
    names = []
    c = parent
    while c.parent is not None:
        names.insert(0, c.info_name)
        c = c.parent
    return tuple(names) + (info_name,)


class _EnvMixin:
    def make_context(self, info_name, args, parent=None, **extra):
        root = parent.find_root().command if parent is not None else self
        assign_envvars(Schema.of(root), _chain(parent, info_name), self)  # type: ignore[arg-type]
        return super().make_context(info_name, args, parent=parent, **extra)  # type: ignore[misc]


class FleetCommand(_EnvMixin, click.Command):
    """A command whose options read FLEETAUDIT_* variables and whose outputs take `-`;
    -v and --log-file work after the command name too."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        from .cli_logging import params
        self.params.extend(params())

    def invoke(self, ctx: click.Context):
        claim_stdout(ctx)
        return super().invoke(ctx)


class FleetGroup(_EnvMixin, click.Group):
    command_class = FleetCommand
    group_class = type  # subgroups are FleetGroups too


# --- the config file ------------------------------------------------------------------

def find_config(explicit: Optional[str]) -> Optional[Path]:
    if explicit:
        return Path(explicit)
    for path in search_path():
        if path.is_file():
            return path
    return None


def _yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read config file: {exc.strerror or exc}")
    except UnicodeDecodeError:
        raise ConfigError(path, None, "config file is not UTF-8 text")
    if not text.strip():  # empty (--config /dev/null): YAML's None, without loading yaml
        return {}
    from .inventory.errors import InventoryError
    from .inventory.yamlsrc import load_yaml
    try:
        data, dups = load_yaml(text, str(path))
    except InventoryError as exc:
        raise ConfigError(path, exc.line, exc.message)
    if dups:
        d = dups[0]
        raise ConfigError(path, d.line, f"key {d.key!r} given twice (first at line {d.first_line})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(path, getattr(data, "line", 1), "expected a mapping of option names to values")
    return data


def _norm(key: Any) -> str:
    return str(key).replace("_", "-")


def _line(mapping, key) -> Optional[int]:
    return mapping.line_of(key) if hasattr(mapping, "line_of") else None


def _check_value(path: Path, line: Optional[int], name: str, param: click.Option, value: Any) -> Any:
    """Type-check what click can check without the file system (paths are checked when used)."""
    if isinstance(value, dict):
        raise ConfigError(path, line, f"{name}: expected a value, not a mapping")
    if param.multiple or (param.nargs != 1):
        if not isinstance(value, list):
            value = [value]
    elif isinstance(value, list):
        raise ConfigError(path, line, f"{name}: expected one value, not a list")
    if isinstance(param.type, click.Path):
        # No shell expands a file's `~`; do it here (os.path.expanduser leaves URLs alone).
        expand = lambda v: os.path.expanduser(v) if isinstance(v, str) else v  # noqa: E731
        return [expand(v) for v in value] if isinstance(value, list) else expand(value)
    try:
        items = value if isinstance(value, list) else [value]
        for item in items:
            param.type.convert(item, param, None)
    except click.BadParameter as exc:
        raise ConfigError(path, line, f"{name}: {exc.message}")
    return value


def _section(path: Path, schema: Schema, chain: Tuple[str, ...], data) -> Dict[str, Any]:
    """A per-command section -> {param name or subcommand: value or nested section}."""
    cmd = schema.command(chain)
    opts = options(cmd)
    subs = cmd.commands if isinstance(cmd, click.Group) else {}
    out: Dict[str, Any] = {}
    if not isinstance(data, dict):
        raise ConfigError(path, getattr(data, "line", None),
                          f"{COMMANDS_KEY}: {' '.join(chain) or '(top)'}: expected a mapping")
    for key, value in data.items():
        name, line = _norm(key), _line(data, key)
        if name in COMMAND_LINE_ONLY:
            raise ConfigError(path, line, f"{key!r} cannot be set in a config file: {COMMAND_LINE_ONLY[name]}")
        if name in opts:
            out[opts[name].name] = _check_value(path, line, name, opts[name], value)
        elif name in subs:
            out[name] = _section(path, schema, chain + (name,), value)
        else:
            from .inventory.errors import did_you_mean
            what = f"fleetaudit {' '.join(chain)}" if chain else "fleetaudit"
            kinds = "option or subcommand" if subs else "option"
            raise ConfigError(path, line, f"unknown key {key!r}: not an {kinds} of `{what}`"
                              + did_you_mean(name, list(opts) + list(subs)))
    return out


def load_default_map(path: Path, root: click.Group) -> Dict[str, Any]:
    """The click default_map for `root` from the config file at `path`."""
    schema = Schema.of(root)
    data = _yaml(path)
    top: Dict[str, Tuple[Any, Optional[int]]] = {}
    sections: Dict[str, Any] = {}
    root_opts = options(root)
    for key, value in data.items():
        name, line = _norm(key), _line(data, key)
        if name == COMMANDS_KEY:
            sections = _section(path, schema, (), value)
            continue
        if name in COMMAND_LINE_ONLY:
            raise ConfigError(path, line, f"{key!r} cannot be set in a config file: {COMMAND_LINE_ONLY[name]}")
        if name in schema.globals or name in root_opts:
            top[name] = (value, line)
            continue
        if name in schema.per_command_only:
            users = sorted(" ".join(c) for c, cmd in walk(root) if c and name in options(cmd))
            raise ConfigError(path, line, f"{key!r} cannot be a top-level key: it is an output or "
                              f"means different things in different commands; set it under "
                              f"`{COMMANDS_KEY}:` for one of: {', '.join(users)}")
        from .inventory.errors import did_you_mean
        raise ConfigError(path, line, f"unknown key {key!r}"
                          + did_you_mean(name, list(schema.globals) + list(root_opts) + [COMMANDS_KEY]))
    default_map: Dict[str, Any] = {}
    for chain, cmd in walk(root):
        node = default_map
        sect = sections
        for name in chain:
            node = node.setdefault(name, {})
            sect = sect.get(name) or {}
        for name, p in options(cmd).items():
            if name in top and (not chain or schema.takes_global(chain, name, p)):
                value, line = top[name]
                node[p.name] = _check_value(path, line, name, p, value)
            if p.name in sect:
                node[p.name] = sect[p.name]
    return default_map


def config_callback(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """Eager --config: load the file before any other option is resolved."""
    path = find_config(value)
    if path is None:
        return None
    if value and not path.exists():
        raise ConfigError(path, None, "config file not found")
    dm = load_default_map(path, ctx.find_root().command)  # type: ignore[arg-type]
    ctx.default_map = {**(ctx.default_map or {}), **dm}
    ctx.meta["fleetaudit.config"] = str(path)
    return str(path)
