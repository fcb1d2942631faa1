"""proxy: host-side filtering (no secret leaves), systemd precedence, Go's proxy rules."""
import shutil
import subprocess

import pytest

from fleetaudit.collectors.base import Part
from fleetaudit.collectors.proxy import COLLECTOR, MASK, SEL, assignment, effective, no_proxy_list, parse
from fleetaudit.script import ScriptOptions, build_script, split_output

SHELLS = [["dash", "-s"], ["bash", "--posix", "-s"], ["busybox", "sh", "-s"]]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_fragment_runs_under_posix_shells(shell):
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    script = build_script([COLLECTOR], "n0nce", ScriptOptions())
    out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "https_proxy": "http://u:pw@p:1", "API_KEY": "k"})
    parsed = split_output(out.stdout.decode("utf-8", "replace"), "n0nce")
    assert parsed.complete
    section = parsed.sections["proxy"]
    assert set(section) == {"init", "units", "manager", "envfiles", "environ", "daemon_json",
                            "environment", "profile", "session"}
    facts = COLLECTOR.parse(section)
    assert facts["session_env"] == {"https_proxy": "http://REDACTED@p:1"}
    assert "session:https_proxy" in facts["has_credentials"]
    assert ":pw@" not in out.stdout.decode() and "API_KEY" not in out.stdout.decode()


MASK_CASES = [
    # (input line, expected output) -- other variables' values never leave the host
    ('Environment="HTTP_PROXY=http://p:3128" "AWS_SECRET=abc"', 'Environment="HTTP_PROXY=http://p:3128" "AWS_SECRET=MASKED"'),
    ("Environment=NO_PROXY=a,b API_KEY=xyz", "Environment=NO_PROXY=a,b API_KEY=MASKED"),
    ("Environment='FOO=bar baz' https_proxy=http://q", "Environment='FOO=MASKED' https_proxy=http://q"),
    ("Environment=KEY='a b' HTTP_PROXY=x", "Environment=KEY=MASKED HTTP_PROXY=x"),
    ("EnvironmentFile=-/etc/default/docker", "EnvironmentFile=-/etc/default/docker"),
    ("export http_proxy=http://p API_TOKEN=zzz", "export http_proxy=http://p API_TOKEN=MASKED"),
    ("HTTPS_PROXY=user:pass@proxy:8080", "HTTPS_PROXY=REDACTED@proxy:8080"),
    ('HTTPS_PROXY="user:pass@proxy:8080"', 'HTTPS_PROXY="REDACTED@proxy:8080"'),
    ("HTTP_PROXY=http://p:3128/?a=b", "HTTP_PROXY=http://p:3128/?a=b"),
]


@pytest.mark.parametrize("sed", [["sed"], ["busybox", "sed"]], ids=lambda s: s[0])
def test_mask_on_the_host(sed):
    if not shutil.which(sed[0]):
        pytest.skip(f"{sed[0]} not installed")
    text = "\n".join(i for i, _ in MASK_CASES) + "\n"
    out = subprocess.run(sed + ["-E", MASK], input=text.encode(), capture_output=True, check=True)
    assert out.stdout.decode().splitlines() == [o for _, o in MASK_CASES]


def test_select_only_proxy_lines():
    text = "PATH=/bin\nhttp_proxy=x\n  export HTTPS_PROXY=y\nDB_PASSWORD=z\nMY_PROXY_HOST=q\n"
    out = subprocess.run(["sed", "-n", "-E", SEL], input=text.encode(), capture_output=True, check=True)
    assert out.stdout.decode() == "http_proxy=x\n  export HTTPS_PROXY=y\n"


def test_assignment_forms():
    assert assignment('HTTPS_PROXY="http://a b"') == ("HTTPS_PROXY", "http://a b", False)
    assert assignment("export no_proxy=a,b # comment") == ("no_proxy", "a,b", True)
    assert assignment("NO_PROXY=a, b", literal=True) == ("NO_PROXY", "a, b", False)
    assert assignment("PATH=/bin") is None


def test_go_rules_upper_case_wins_and_empty_is_unset():
    env = {"HTTP_PROXY": {"value": "", "source": "a"}, "http_proxy": {"value": "http://l", "source": "b"},
           "HTTPS_PROXY": {"value": "http://U", "source": "c"}, "https_proxy": {"value": "http://l", "source": "d"}}
    eff = effective(env, {"no-proxy": "x"}, "daemon.json")
    assert eff["HTTP_PROXY"] == {"value": "http://l", "var": "http_proxy", "source": "b"}
    assert eff["HTTPS_PROXY"]["var"] == "HTTPS_PROXY"
    assert eff["NO_PROXY"] == {"value": "x", "var": "no-proxy", "source": "daemon.json"}


def test_no_proxy_list():
    assert no_proxy_list(" b, a,,a ,.corp") == [".corp", "a", "b"]


def test_environment_file_overrides_environment_regardless_of_order():
    section = {
        "init": Part("systemd\n", 0),
        "units": Part("@file /etc/systemd/system/docker.service.d/a.conf\n"
                      "EnvironmentFile=/etc/docker/env\n"
                      "@file /etc/systemd/system/docker.service.d/b.conf\n"
                      "Environment=HTTPS_PROXY=http://unit\n", 0),
        "envfiles": Part("@file /etc/docker/env\nHTTPS_PROXY=http://file\n", 0),
        "environ": Part("", 0),
    }
    facts = parse(section)
    assert facts["daemon"]["HTTPS_PROXY"]["value"] == "http://file"
    assert facts["daemon"]["HTTPS_PROXY"]["source"] == "/etc/docker/env"
    assert facts["dockerd_running"] is False and facts["daemon_source"] == "systemd"


def test_manager_one_sed_selects_and_masks_like_the_two_it_replaces(tmp_path):
    """system.conf: the selection + mask in one sed -E prints what `sed -n SEL | sed -E
    MASK` printed (GNU sed and busybox sed)."""
    import shutil
    import subprocess
    from fleetaudit.collectors import proxy
    conf = tmp_path / "system.conf"
    conf.write_text("\n".join([
        "[Manager]", "#DefaultEnvironment=http_proxy=http://x:1", "DefaultEnvironment=",
        "DefaultEnvironment=  ", " DefaultEnvironment = HTTPS_PROXY=http://u:p@proxy:3128 FOO=bar",
        'DefaultEnvironment="no_proxy=a,b" "SECRET=x"', "DefaultEnvironment=LANG=C",
        "DefaultEnvironmentX=http_proxy=1", "LogLevel=info", "DefaultEnvironment=http_proxy=u:pw@h:3",
    ]) + "\n")
    for sed in [["sed"]] + ([["busybox", "sed"]] if shutil.which("busybox") else []):
        old = subprocess.run(sed + ["-n"] + [a for e in proxy.MANAGER_SEL for a in ("-e", e)] + [str(conf)],
                             capture_output=True, text=True, check=True).stdout
        old = subprocess.run(sed + ["-E", proxy.MASK], input=old, capture_output=True, text=True,
                             check=True).stdout
        new = subprocess.run(sed + ["-E", proxy.MANAGER_SEL_MASK, str(conf)], capture_output=True,
                             text=True, check=True).stdout
        assert new == old and new.count("\n") == 5, (sed, new)


@pytest.mark.parametrize("shell", [s for s in ("dash", "busybox") if shutil.which(s)])
def test_session_env_read_only_when_some_variable_says_proxy(shell):
    nonce = "s3ssn0nce"
    script = build_script([COLLECTOR], nonce, ScriptOptions(part_timeout_s=30))
    cmd = ["busybox", "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    for env, expected in ((base, {}),
                          (dict(base, Https_Proxy="http://u:pw@p:1", NO_PROXY="a"),
                           {"Https_Proxy": "http://REDACTED@p:1", "NO_PROXY": "a"}),
                          (dict(base, X="has proxy in a value only"), {})):
        out = subprocess.run(cmd, input=script.encode(), capture_output=True, env=env, timeout=60).stdout
        section = split_output(out.decode(), nonce).sections["proxy"]
        assert section["session"].rc == 0
        assert parse(section)["session_env"] == expected, env


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_files_the_grep_count_skips_read_the_same_as_with_their_sed(shell, tmp_path):
    """Round 3 (issue 11): a file with no "prox" line gets no sed. A grep that counts
    nothing (every file read by its sed, as before) must give the very same section."""
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "grep").write_text("#!/bin/sh\nexit 2\n")
    (stub / "grep").chmod(0o755)
    script = build_script([COLLECTOR], "n0nce", ScriptOptions())
    sections = []
    for path in ("/usr/bin:/bin", f"{stub}:/usr/bin:/bin"):
        out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=120,
                             env={"PATH": path, "http_proxy": "http://p:1"})
        parsed = split_output(out.stdout.decode("utf-8", "replace"), "n0nce")
        assert parsed.complete
        sections.append({k: (v.out, v.rc) for k, v in parsed.sections["proxy"].items()})
    assert sections[0] == sections[1]
    assert "@file /etc/profile" in sections[0]["profile"][0]
