"""contrib/: the systemd service + timer and the cron line work as written.

- The unit files are checked by `systemd-analyze verify` (in a scratch root holding the
  machine's own unit directory and the executable the unit names: verify refuses a unit
  whose ExecStart binary does not exist), and by a small parser: known sections and
  keys, an absolute ExecStart, the timer's schedule.
- tests/test_contrib_fleet.py runs the exact command lines against a lab fleet, with the
  parsers defined here.
"""
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRIB = ROOT / "contrib"
SERVICE = CONTRIB / "systemd" / "fleetaudit-drift.service"
TIMER = CONTRIB / "systemd" / "fleetaudit-drift.timer"
ENV_EXAMPLE = CONTRIB / "systemd" / "drift.env"
CRON = CONTRIB / "cron" / "fleetaudit-drift"

# The keys our units use, by section: a typo (or a key this systemd does not know) is
# caught here even where systemd-analyze is missing.
KNOWN_KEYS = {
    "Unit": {"Description", "Documentation", "Wants", "After", "Requires"},
    "Service": {
        "Type", "User", "Group", "EnvironmentFile", "ExecStart", "SuccessExitStatus",
        "TimeoutStartSec", "Nice", "IOSchedulingClass", "StateDirectory", "StateDirectoryMode",
        "WorkingDirectory", "UMask", "NoNewPrivileges", "ProtectSystem", "ReadWritePaths",
        "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
        "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock",
        "ProtectHostname", "ProtectProc", "RestrictAddressFamilies", "RestrictNamespaces",
        "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures",
        "SystemCallFilter", "SystemCallErrorNumber", "CapabilityBoundingSet", "AmbientCapabilities"},
    "Timer": {"OnCalendar", "Persistent", "RandomizedDelaySec", "AccuracySec", "Unit"},
    "Install": {"WantedBy"},
}


def parse_unit(path):
    """{section: [(key, value), ...]} with systemd's rules: # and ; comments, a trailing
    backslash continues the line (joined with a space)."""
    sections, current, pending = {}, None, ""
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path}:{n}: bad section header"
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None and "=" in line, f"{path}:{n}: not KEY=VALUE inside a section"
        key, value = line.split("=", 1)
        sections[current].append((key.strip(), value.strip()))
    assert not pending, f"{path}: ends in a continuation"
    return sections


def unit_value(sections, section, key):
    values = [v for k, v in sections[section] if k == key]
    assert len(values) == 1, (section, key, values)
    return values[0]


def read_env_file(path):
    """KEY=value and KEY="value with spaces" lines: the subset on which systemd's
    EnvironmentFile= and sh's `.` agree (no $, backquote, backslash or inner quote)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), line
            if value.startswith('"'):
                assert value.endswith('"') and len(value) >= 2, line
                value = value[1:-1]
            else:
                assert " " not in value, f"a value with spaces needs double quotes: {line}"
            assert not set(value) & set('"$`\\'), line
            env[key] = value
    return env


def systemd_argv(command, env):
    """ExecStart= expanded as systemd does: words split with quotes honoured; ${VAR}
    replaced in place within one word; a word that is exactly $VAR split on whitespace
    (an empty value gives no word)."""
    assert command[0] not in "@-:+!", "no ExecStart prefixes in our units"
    out = []
    for word in shlex.split(command):
        bare = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if bare:
            out.extend(env.get(bare.group(1), "").split())
        else:
            out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return out


def parse_cron(path):
    """(environment assignments, [(schedule, user, command)]) of a cron.d file."""
    env, jobs = {}, []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"([A-Z_]+)=(\S*)", line)
        if m:
            env[m.group(1)] = m.group(2)
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"not 5 time fields + user + command: {line}"
        jobs.append((fields[:5], fields[5], fields[6]))
    return env, jobs


# ------------------------------------------------------------------------ static checks

def test_units_use_known_sections_and_keys_and_an_absolute_execstart():
    service, timer = parse_unit(SERVICE), parse_unit(TIMER)
    for unit in (service, timer):
        for section, items in unit.items():
            assert section in KNOWN_KEYS, section
            unknown = {k for k, _ in items} - KNOWN_KEYS[section]
            assert not unknown, (section, unknown)
    exec_start = unit_value(service, "Service", "ExecStart")
    assert exec_start.startswith("/usr/local/bin/fleetaudit drift ")
    assert Path(shlex.split(exec_start)[0]).is_absolute()
    assert unit_value(service, "Service", "Type") == "oneshot"
    assert unit_value(service, "Service", "EnvironmentFile") == "/etc/fleetaudit/drift.env"
    assert unit_value(service, "Service", "ProtectSystem") == "strict"
    assert unit_value(service, "Service", "NoNewPrivileges") == "yes"
    # SSH still works: TCP allowed, no PrivateNetwork/IPAddressDeny
    assert "AF_INET" in unit_value(service, "Service", "RestrictAddressFamilies")
    assert not {"PrivateNetwork", "IPAddressDeny"} & {k for k, _ in service["Service"]}
    assert unit_value(timer, "Timer", "OnCalendar") == "hourly"
    assert unit_value(timer, "Timer", "Persistent") == "true"
    assert unit_value(timer, "Timer", "RandomizedDelaySec")
    assert unit_value(timer, "Timer", "Unit") == SERVICE.name
    # every variable the units and the cron line use is set by the example env file
    example = read_env_file(ENV_EXAMPLE)
    assert "/etc/fleetaudit/drift.env" in CRON.read_text()
    used = set(re.findall(r"\$\{?([A-Z_]+)\}?", exec_start + CRON.read_text()))
    assert used - {"FLEETAUDIT_ENV"} == set(example), used ^ set(example)


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: apt-get install systemd (.ci/apt-packages.txt)"
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in (SERVICE, TIMER):
        shutil.copy(unit, units / unit.name)
    exe = root / "usr/local/bin/fleetaudit"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    res = subprocess.run([tool, "verify", f"--root={root}", TIMER.name, SERVICE.name],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stdout + res.stderr
    # the check has teeth: an unknown key is reported, a missing binary fails
    (units / SERVICE.name).write_text(SERVICE.read_text().replace("[Service]", "[Service]\nProtectSistem=strict"))
    exe.unlink()
    bad = subprocess.run([tool, "verify", f"--root={root}", SERVICE.name], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "Unknown key 'ProtectSistem'" in bad.stderr
    assert "is not executable" in bad.stderr


def test_cron_line_is_hourly_as_the_service_user_with_flock():
    env, jobs = parse_cron(CRON)
    assert env["SHELL"] == "/bin/sh" and "/usr/local/bin" in env["PATH"].split(":")
    (schedule, user, command), = jobs
    assert schedule[1:] == ["*"] * 4 and schedule[0].isdigit() and int(schedule[0]) < 60
    assert user == "fleetaudit"
    assert "%" not in command  # cron turns % into a newline
    assert " flock -n " in command and " fleetaudit drift --quiet " in command
