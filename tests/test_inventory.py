"""Inventory loading: native YAML, Ansible INI and YAML, vars dirs, errors."""
import dataclasses
import os
import re
import shutil
from pathlib import Path

import pytest

from fleetaudit.inventory import Host, InventoryError, load_inventory, parse_jump
from fleetaudit.inventory.ansible_ini import parse_value
from fleetaudit.inventory.loader import detect_format
from fleetaudit.inventory.sshargs import jump_from_ssh_args

DATA = Path(__file__).parent / "data" / "inventory"
ERRORS = sorted((DATA / "errors").iterdir())


def load(name):
    return load_inventory(str(DATA / name))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


# --- native format --------------------------------------------------------

def test_native_hosts_fields_and_precedence():
    inv = load("native.yml")
    assert list(inv.hosts) == ["eu-1", "eu-2", "us-1", "loose"]
    assert inv.source == str(DATA / "native.yml")
    assert inv.hosts["eu-1"] == Host(
        name="eu-1", address="10.213.1.11", port=22, user="audit",
        identity_file="~/.ssh/fleet_ed25519", jump="ops@10.213.0.2:2222",
        become=True, become_user="root",
        groups=("all", "canary", "docker", "docker-eu", "zeta"),
        # tier: defaults < docker < canary (same depth, name order) < docker-eu (deeper)
        # owner: canary and zeta are siblings, so the later name wins
        vars={"tier": "eu", "owner": "zeta-team", "region": "eu"},
        tags=("eu", "canary"))


def test_native_host_level_beats_groups_and_defaults():
    host = load("native.yml").hosts["eu-2"]
    assert (host.port, host.user, host.become_user, host.become) == (2202, "root", "root", True)
    assert host.become_method == "sudo"
    assert host.vars["tier"] == "host"
    assert host.groups == ("all", "docker", "docker-eu", "zeta")  # `groups: zeta` (a single name) works


def test_native_jump_list_and_tag_string():
    host = load("native.yml").hosts["us-1"]
    assert host.jump == "ops@10.213.0.2:22,bastion2.fleet:2200"
    assert [str(h) for h in host.jump_hops] == ["ops@10.213.0.2:22", "bastion2.fleet:2200"]
    assert host.tags == ("us", "web")


def test_native_null_host_uses_name_and_defaults():
    host = load("native.yml").hosts["loose"]
    assert (host.address, host.user, host.port, host.become) == ("loose", "audit", 22, False)
    assert host.groups == ("all", "ungrouped")
    assert host.vars == {"tier": "default"}


def test_native_groups_list_effective_members_in_host_order():
    inv = load("native.yml")
    assert inv.groups == {
        "all": ["eu-1", "eu-2", "us-1", "loose"],
        "ungrouped": ["loose"],
        "docker": ["eu-1", "eu-2", "us-1"],
        "docker-eu": ["eu-1", "eu-2"],
        "docker-us": ["us-1"],
        "canary": ["eu-1"],
        "zeta": ["eu-1", "eu-2"],
    }


def test_native_duplicate_host_with_same_address_is_still_an_error(tmp_path):
    path = write(tmp_path, "inv.yml", "hosts:\n  a:\n    address: 10.213.1.1\n  a:\n    address: 10.213.1.1\n")
    with pytest.raises(InventoryError) as exc:
        load_inventory(path)
    assert str(exc.value) == f"{path}:4: host 'a' is defined twice (first at line 2)"


def test_native_number_and_string_keys_naming_one_host_are_duplicates(tmp_path):
    path = write(tmp_path, "inv.yml", "hosts:\n  1:\n  '1':\n")
    with pytest.raises(InventoryError) as exc:
        load_inventory(path)
    assert str(exc.value) == f"{path}:3: host '1' is defined twice (first at line 2)"


def test_native_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = write(tmp_path, "inv.yml", (
        "defaults: &d\n  user: audit\n  port: 22\n"
        "hosts:\n  a:\n    <<: *d\n    port: 2222\n"))
    host = load_inventory(path).hosts["a"]
    assert (host.user, host.port) == ("audit", 2222)


def test_native_port_may_be_a_digit_string_but_not_a_bool(tmp_path):
    assert load_inventory(write(tmp_path, "a.yml", "hosts:\n  a:\n    port: '2222'\n")).hosts["a"].port == 2222
    with pytest.raises(InventoryError, match=r"b\.yml:3: port: True is not a port number"):
        load_inventory(write(tmp_path, "b.yml", "hosts:\n  a:\n    port: yes\n"))


def test_native_null_resets_a_field_to_its_default(tmp_path):
    path = write(tmp_path, "inv.yml", (
        "defaults: {user: audit, port: 2222, jump: ops@10.213.0.2}\n"
        "hosts:\n  a:\n    user: null\n    port: ~\n    jump:\n    address:\n"))
    host = load_inventory(path).hosts["a"]
    assert (host.user, host.port, host.jump, host.address) == (None, 22, None, "a")


def test_native_bad_value_in_unused_group_is_still_reported(tmp_path):
    # Nothing half-runs: a group nobody is in is validated too.
    path = write(tmp_path, "inv.yml", "groups:\n  spare:\n    vars:\n      port: 0\nhosts:\n  a:\n")
    with pytest.raises(InventoryError) as exc:
        load_inventory(path)
    assert (exc.value.path, exc.value.line) == (path, 4)


# --- Ansible INI ----------------------------------------------------------

def test_ini_ranges_children_and_vars():
    inv = load("ansible.ini")
    assert list(inv.hosts) == [
        "bastion", "web01", "web02", "web03", "web-a.fleet", "web-b.fleet",
        "edge1", "edge5", "edge9", "db01", "db02"]
    assert inv.groups["ungrouped"] == ["bastion"]
    assert inv.groups["docker"] == list(inv.hosts)[1:]
    assert inv.groups["db"] == ["db01", "db02"]
    web01 = inv.hosts["web01"]
    assert web01 == Host(
        name="web01", address="web01", port=22, user="audit", identity_file="~/.ssh/web",
        # docker's ProxyCommand "ssh -W %h:%p -p 2222 ops@10.213.0.2" read back as a jump
        jump="ops@10.213.0.2:2222", become=True, become_user="root",
        groups=("all", "docker", "web"),
        vars={"ansible_ssh_common_args": "-o ProxyCommand='ssh -W %h:%p -p 2222 ops@10.213.0.2'",
              "count": 3, "label": "quoted value"},
        tags=("docker", "prod"))


def test_ini_host_line_details():
    inv = load("ansible.ini")
    bastion = inv.hosts["bastion"]
    assert (bastion.address, bastion.port, bastion.user) == ("10.213.0.2", 2222, "fallback")
    assert inv.hosts["web-b.fleet"].port == 2201  # name:port on a range
    assert inv.hosts["edge5"].jump == "ops@10.213.0.2:2222"  # -J in the host's own args wins
    db01, db02 = inv.hosts["db01"], inv.hosts["db02"]
    assert db01.address == "10.213.3.1" and db01.become is False
    assert db01.vars["note"] == "two words"
    assert (db02.address, db02.user, db02.identity_file) == ("10.213.3.2", "root", "/keys/db")


def test_ini_forward_references_are_fine(tmp_path):
    path = write(tmp_path, "hosts.ini", (
        "[docker:children]\nweb\n[web:vars]\nansible_user=audit\n[web]\nweb1\n"))
    inv = load_inventory(path)
    assert inv.hosts["web1"].user == "audit"
    assert inv.hosts["web1"].groups == ("all", "docker", "web")


def test_ini_host_in_two_groups_merges_vars_last_wins(tmp_path):
    path = write(tmp_path, "hosts.ini", (
        "[a]\nh1 ansible_host=10.213.1.1 x=1\n[b]\nh1 ansible_host=10.213.1.2\n"))
    host = load_inventory(path).hosts["h1"]
    assert (host.address, host.vars, host.groups) == ("10.213.1.2", {"x": 1}, ("a", "all", "b"))


def test_ini_value_parsing_matches_ansible():
    assert parse_value("22") == 22
    assert parse_value("'22'") == "22"
    assert parse_value("yes") == "yes"
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("a b") == "a b"
    assert parse_value("") == ""
    assert parse_value("1j") == "1j"


def test_ini_inline_hash_comment_and_ipv6(tmp_path):
    path = write(tmp_path, "hosts", (
        "[v6]\n[2001:db8::5]:2200 ansible_user=audit # the canary\nfe80::1\n"))
    inv = load_inventory(path)
    assert inv.hosts["2001:db8::5"].port == 2200
    assert inv.hosts["2001:db8::5"].vars == {}
    assert inv.hosts["fe80::1"].port == 22


def test_ini_proxyjump_none_disables_inherited_jump(tmp_path):
    path = write(tmp_path, "hosts.ini", (
        "[edge]\ne1\ne2 ansible_ssh_extra_args='-o ProxyJump=none'\n"
        "[edge:vars]\nansible_ssh_common_args='-J ops@10.213.0.2'\n"))
    inv = load_inventory(path)
    # ssh keeps the first ProxyJump it sees; common args come before extra args
    assert inv.hosts["e1"].jump == "ops@10.213.0.2:22"
    assert inv.hosts["e2"].jump == "ops@10.213.0.2:22"
    path = write(tmp_path, "hosts2.ini", (
        "[edge]\ne1\ne2 fleetaudit_jump=none\n"
        "[edge:vars]\nansible_ssh_common_args='-J ops@10.213.0.2'\n"))
    assert load_inventory(path).hosts["e2"].jump is None


# --- Ansible YAML ---------------------------------------------------------

def test_ansible_yaml_nesting_ranges_ports():
    inv = load("ansible.yml")
    assert list(inv.hosts) == ["solo.fleet", "eu1.fleet", "eu2.fleet", "eu3.fleet", "us1.fleet"]
    assert inv.groups["docker"] == ["eu1.fleet", "eu2.fleet", "eu3.fleet", "us1.fleet"]
    assert inv.hosts["solo.fleet"].groups == ("all", "ungrouped")
    eu3 = inv.hosts["eu3.fleet"]
    assert (eu3.port, eu3.become, eu3.user, eu3.jump) == (2203, True, "audit", "ops@10.213.0.2:22")
    assert inv.hosts["eu2.fleet"].address == "10.213.1.10"


def test_ansible_yaml_depth_then_priority():
    us1 = load("ansible.yml").hosts["us1.fleet"]
    assert us1.groups == ("all", "canary", "docker", "us")
    assert us1.port == 2200  # us is deeper than canary
    assert us1.vars["site"] == "canary-site"  # same depth as docker, higher ansible_group_priority
    assert "ansible_group_priority" not in us1.vars
    assert us1.tags == ("us", "canary")


def test_ansible_yaml_group_seen_twice_is_merged(tmp_path):
    path = write(tmp_path, "inv.yaml", (
        "web:\n  hosts:\n    w1:\n  vars:\n    a: 1\n"
        "all:\n  children:\n    web:\n      hosts:\n        w2:\n      vars:\n        b: 2\n"))
    inv = load_inventory(path)
    assert inv.groups["web"] == ["w1", "w2"]
    assert inv.hosts["w1"].vars == {"a": 1, "b": 2}


def test_ansible_yaml_recursive_alias_is_a_cycle_not_a_hang(tmp_path):
    path = write(tmp_path, "inv.yml", "all:\n  children:\n    a: &a\n      hosts: {h: }\n      children:\n        b: *a\n")
    with pytest.raises(InventoryError, match=r"inv\.yml:6: group cycle: b -> b"):
        load_inventory(path)


def test_ansible_yaml_unsafe_and_vault_in_plain_vars(tmp_path):
    path = write(tmp_path, "inv.yml", (
        "all:\n  hosts:\n    h:\n      motd: !unsafe '{{ not a template }}'\n"
        "      secret: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n"))
    host = load_inventory(path).hosts["h"]
    assert host.vars["motd"] == "{{ not a template }}"
    assert host.vars["secret"] == "<vault-encrypted>"


def test_vars_are_plain_python_and_aliases_stay_linear(tmp_path):
    # Ten levels of ten-fold aliasing would be 10**10 items if anything copied them.
    lines = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [{', '.join(['*l%d' % (i - 1)] * 10)}]" for i in range(1, 10)]
    text = "all:\n  vars:\n    bomb:\n" + "".join(f"      {line}\n" for line in lines)
    text += "    nested: {a: [1, {b: 2}]}\n  hosts:\n    h:\n"
    host = load_inventory(write(tmp_path, "inv.yml", text)).hosts["h"]
    assert type(host.vars["nested"]) is dict and type(host.vars["nested"]["a"]) is list
    assert type(host.vars["nested"]["a"][1]) is dict
    assert type(host.vars["bomb"]) is dict


# --- group_vars / host_vars -------------------------------------------------

def test_vars_dirs_precedence_and_vault_skip():
    inv = load("withdirs/hosts")
    web1, web2 = inv.hosts["web1"], inv.hosts["web2"]
    # inline group < group_vars/all < group_vars/web/ < inline host < host_vars/
    assert web1.vars == {"role": "inline"}
    assert web2.vars == {"role": "from-host-file"}
    assert (web1.user, web1.become, web2.port) == ("audit", True, 2222)
    assert inv.warnings == (
        f"{DATA / 'withdirs/group_vars/web/vault.yml'}: vault-encrypted variables file skipped",)


def test_vars_dir_errors_name_the_vars_file(tmp_path):
    inv = write(tmp_path, "hosts", "[web]\nweb1\n")
    bad = write(tmp_path, "group_vars/web.yml", "ansible_user: audit\nansible_port: [22]\n")
    with pytest.raises(InventoryError) as exc:
        load_inventory(inv)
    assert str(exc.value) == f"{bad}:2: ansible_port: [22] is not a port number (an integer 1-65535)"
    write(tmp_path, "group_vars/web.yml", "- a list\n")
    with pytest.raises(InventoryError, match=r"web\.yml:1: a variables file must be a mapping"):
        load_inventory(inv)


def test_native_reads_vars_dirs_too(tmp_path):
    inv = write(tmp_path, "fleet.yml", "hosts:\n  a:\n    groups: [web]\ngroups:\n  web:\n")
    write(tmp_path, "group_vars/web.yml", "user: audit\nport: 2222\n")
    host = load_inventory(inv).hosts["a"]
    assert (host.user, host.port) == ("audit", 2222)


# --- errors ------------------------------------------------------------------

@pytest.mark.parametrize("path", ERRORS, ids=[p.name for p in ERRORS])
def test_error_fixture_names_file_and_line(path):
    """Each file's first line reads `# expect: LINE: message part` (LINE '-' = none)."""
    line, message = re.match(r"# expect: (\S+): (.*)$", path.read_text().splitlines()[0]).groups()
    with pytest.raises(InventoryError) as exc:
        load_inventory(str(path))
    err = exc.value
    assert err.path == str(path)
    assert err.line == (None if line == "-" else int(line))
    assert message in err.message
    prefix = f"{path}:{line}: " if line != "-" else f"{path}: "
    assert str(err) == prefix + err.message


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.ini")
    with pytest.raises(InventoryError) as exc:
        load_inventory(path)
    assert str(exc.value) == f"{path}: no such inventory file"
    assert exc.value.line is None


def test_inventory_error_str_forms():
    assert str(InventoryError("f.yml", 3, "bad")) == "f.yml:3: bad"
    assert str(InventoryError("f.yml", None, "bad")) == "f.yml: bad"
    assert str(InventoryError(None, None, "bad")) == "bad"


# --- format detection -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("[web]\nweb1\n", "ini"),
    ("# c\n\nweb1 ansible_host=10.213.1.1\n", "ini"),
    ("web1:2222\n", "ini"),
    ("all:\n  hosts:\n", "yaml"),
    ("# c\nfleetaudit: 1\n", "yaml"),
    ("---\nall:\n", "yaml"),
    ('{"all": {}}', "yaml"),
    ("", "yaml"),
])
def test_detect_format_without_extension(text, expected):
    assert detect_format("inventory", text) == expected


def test_detect_format_extension_wins():
    assert detect_format("x.ini", "all:\n") == "ini"
    assert detect_format("x.YML", "[web]\n") == "yaml"


def test_same_inventory_in_three_formats_resolves_the_same(tmp_path):
    native = write(tmp_path, "n/inv", (
        "hosts:\n  h1:\n    address: 10.213.1.1\n    port: 2201\n    groups: [web]\n"
        "groups:\n  web:\n    vars: {user: audit, become: true}\n"))
    ini = write(tmp_path, "i/inv", "[web]\nh1 ansible_host=10.213.1.1 ansible_port=2201\n"
                                   "[web:vars]\nansible_user=audit\nansible_become=true\n")
    yml = write(tmp_path, "y/inv", "web:\n  hosts:\n    h1:2201: {ansible_host: 10.213.1.1}\n"
                                   "  vars: {ansible_user: audit, ansible_become: true}\n")
    hosts = [load_inventory(p).hosts["h1"] for p in (native, ini, yml)]
    assert hosts[0] == hosts[1] == hosts[2]


# --- model helpers --------------------------------------------------------------

def test_host_is_frozen_hashable_and_hides_vars_in_repr():
    host = Host(name="a", address="a", vars={"ansible_password": "hunter2"})
    assert hash(host) == hash(dataclasses.replace(host, vars={}))
    assert "hunter2" not in repr(host)
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.port = 2  # type: ignore[misc]


def test_parse_jump():
    hops = parse_jump("ssh://ops@bastion:2222, [fe80::1]:22,jump2")
    assert [(h.user, h.host, h.port) for h in hops] == [
        ("ops", "bastion", 2222), (None, "fe80::1", 22), (None, "jump2", 22)]
    for bad in ("", "a b", "a:0", "-oProxyCommand=x", "a,,b"):
        with pytest.raises(ValueError):
            parse_jump(bad)


@pytest.mark.parametrize("args, expected", [
    ("-o ProxyJump=ops@10.213.0.2:2222", (True, "ops@10.213.0.2:2222")),
    ("-o StrictHostKeyChecking=no -J a,b", (True, "a,b")),
    ("-J first -o ProxyJump=second", (True, "first")),
    ('-o "ProxyJump bastion"', (True, "bastion")),
    ("-oProxyJump=none", (True, None)),
    ("-o StrictHostKeyChecking=no", (False, None)),
    ('-o ProxyCommand="ssh -W %h:%p -q -l ops -p 2200 bastion"', (True, "ops@bastion:2200")),
    ("-o 'ProxyCommand=ssh -J j1 -W %h:%p ops@b'", (True, "j1,ops@b")),
    ("-o 'ProxyCommand=/usr/bin/ssh ops@b nc %h %p'", (True, "ops@b")),
])
def test_jump_from_ssh_args(args, expected):
    assert jump_from_ssh_args(args) == expected


@pytest.mark.parametrize("args", ["-J", "-o 'unclosed", "-o 'ProxyCommand=nc -x p:1080 %h %p'",
                                  "-o 'ProxyCommand=ssh bastion'"])
def test_jump_from_ssh_args_rejects(args):
    with pytest.raises(ValueError):
        jump_from_ssh_args(args)


def test_example_inventories_load():
    root = Path(__file__).parent.parent / "inventories"
    native = load_inventory(str(root / "example-native.yml"))
    ini = load_inventory(str(root / "example-ansible.ini"))
    assert native.hosts and ini.hosts


# --- become: root with sudo, or a clear refusal (issue 7) ------------------------

@pytest.mark.parametrize("line", ["ansible_become_user=dbadmin", "ansible_become_method=pbrun"])
def test_cli_refuses_another_become_user_or_method_with_exit_2(tmp_path, line):
    """Never audit as someone else while reporting it as the host's root view."""
    from click.testing import CliRunner
    from fleetaudit import exitcodes
    from fleetaudit.cli import main
    path = write(tmp_path, "hosts.ini", f"[web]\nweb1 ansible_host=10.0.0.1 ansible_become=yes {line}\n")
    res = CliRunner().invoke(main, ["audit", "-i", path, "--reports-dir", str(tmp_path / "r")])
    assert res.exit_code == exitcodes.USAGE
    name, value = line.split("=")
    assert f"{path}:2: {name} '{value}' is not supported: " in res.stderr
    assert not (tmp_path / "r").exists()


def test_become_user_root_and_become_method_sudo_are_accepted(tmp_path):
    path = write(tmp_path, "hosts.ini", "[web]\nweb1 ansible_become=yes ansible_become_user=root "
                                        "ansible_become_method=sudo\nweb2\n")
    inv = load_inventory(path)
    for host in inv.hosts.values():
        assert (host.become_user, host.become_method) == ("root", "sudo")
        assert "ansible_become_method" not in host.vars
