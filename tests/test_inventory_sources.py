"""Inventories people really have: `ansible-inventory --list` JSON, executable
inventory scripts, ad-hoc host lists (`-i web1,web2,`).

The JSON fixtures are genuine ansible-core 2.19 output, made from the sources next to
them (tests/data/inventory/listsrc/hosts.yml says how); the scripts print such output.
"""
import os
import shutil
import time
from pathlib import Path

import pytest

from fleetaudit.inventory import Host, InventoryError, load_inventory
from fleetaudit.inventory.script import MAX_OUTPUT, run_script

DATA = Path(__file__).parent / "data" / "inventory"
SCRIPTS = DATA / "scripts"


def error_of(source, **kw):
    with pytest.raises(InventoryError) as exc:
        load_inventory(str(source), **kw)
    return str(exc.value)


def write(tmp_path, name, text, mode=0o644):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


# --- ansible-inventory --list JSON ------------------------------------------------

def test_list_json_matches_the_yaml_it_was_made_from():
    """ansible-list.json is `ansible-inventory -i ansible.yml --list`: same hosts, same fields."""
    from_json = load_inventory(str(DATA / "ansible-list.json"))
    from_yaml = load_inventory(str(DATA / "ansible.yml"))
    assert sorted(from_json.hosts) == sorted(from_yaml.hosts)
    for name, host in from_json.hosts.items():
        assert host == from_yaml.hosts[name], name
        assert host.vars == {k: v for k, v in from_yaml.hosts[name].vars.items()
                             if k != "ansible_group_priority"}, name
    assert from_json.hosts["us1.fleet"] == Host(
        name="us1.fleet", address="10.213.2.11", port=2200, user="audit",
        jump="ops@10.213.0.2:22", become=True, groups=("all", "canary", "docker", "us"),
        tags=("us", "canary"),
        vars={"ansible_ssh_common_args": "-o ProxyJump=ops@10.213.0.2", "site": "canary-site"})
    assert from_json.groups["ungrouped"] == ["solo.fleet"]
    assert from_json.warnings == ()


def test_list_export_json_puts_group_vars_in_groups_and_resolves_the_same():
    exported = load_inventory(str(DATA / "ansible-list-export.json"))
    merged = load_inventory(str(DATA / "ansible-list.json"))
    assert exported.hosts == merged.hosts
    assert [h.vars for h in exported.hosts.values()] == [h.vars for h in merged.hosts.values()]


def test_list_json_vaulted_file_decrypted_by_ansible_inline_vault_kept_sealed():
    inv = load_inventory(str(DATA / "listsrc-limited.json"))
    assert [(h.name, h.address, h.port, h.user, h.become) for h in inv.hosts.values()] == [
        ("web1", "10.213.1.1", 22, "audit", True),
        ("web2", "10.213.1.2", 2222, "audit", True),
        ("web3", "10.213.1.3", 2200, "audit", False),   # port from a vault-encrypted group_vars file
    ]
    assert inv.hosts["web2"].vars == {"registry_password": "<vault-encrypted>", "site": "{{ 'fra' ~ '1' }}"}
    assert inv.hosts["web3"].vars == {"owner": "ops-from-vaulted-file"}
    assert "s3cret" not in repr(inv) + repr([h.vars for h in inv.hosts.values()])


def test_list_json_template_in_a_connection_field_is_refused_at_its_line():
    # ansible-inventory --list does not evaluate templates: say so where it is written.
    assert error_of(DATA / "listsrc.json") == (
        f"{DATA / 'listsrc.json'}:27: ansible_host: '{{{{ inventory_hostname }}}}.fleet' is a Jinja "
        "template, which fleetaudit does not evaluate (host 'web4')")


@pytest.mark.parametrize("text, line, message", [
    ('{"_meta": {"hostvars": {"web9": {}}}, "web": {"hosts": ["web1"]}}', 1,
     "'_meta.hostvars' has host 'web9', which no group lists (did you mean 'web1'?) (Ansible would ignore it)"),
    ('{"_meta": {"hostvar": {}}, "web": ["web1"]}', 1,
     "unexpected key 'hostvar' in '_meta' (did you mean 'hostvars'?); expected one of: hostvars, profile"),
    ('{"_meta": {},\n "web": {"host": ["web1"]}}', 2,
     "unexpected key 'host' in group 'web' (did you mean 'hosts'?); expected one of: hosts, vars, children"),
    ('{"_meta": {},\n "web": {"hosts": {"web1": {}}}}', 2,
     "hosts of group 'web' must be a list of names, got a mapping"),
    ('{"_meta": {"hostvars": {"web1": ["a"]}},\n "web": ["web1"]}', 1,
     "hostvars of 'web1' must be a mapping of variables, got a list"),
    ('{"_meta": {"hostvars": {"web1": {"ansible_port": "ssh"}}},\n "web": ["web1"]}', 1,
     "ansible_port: 'ssh' is not a port number (an integer 1-65535) (host 'web1')"),
    ('{"_meta": {},\n "web": ["web1"],\n "web": ["web2"]}', 3,
     "duplicate key 'web' (first at line 2)"),
])
def test_list_json_errors_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, "inv.json", text)
    assert error_of(path) == f"{path}:{line}: {message}"


def test_list_json_old_script_forms_and_implicit_children(tmp_path):
    path = write(tmp_path, "inv.json", (
        '{"_meta": {"hostvars": {"db1": {"ansible_host": "10.213.3.1"}}},\n'
        ' "db": ["db1"],\n'
        ' "prod": {"children": ["db", "web"], "vars": {"ansible_user": "ops"}},\n'
        ' "web": {"hosts": ["web1"], "vars": {"token": {"__ansible_unsafe": "{{ not a template }}"}}}}'))
    inv = load_inventory(path)
    assert inv.hosts["db1"] == Host(name="db1", address="10.213.3.1", user="ops", groups=("all", "db", "prod"))
    assert inv.hosts["web1"].vars == {"token": "{{ not a template }}"}
    assert inv.groups["prod"] == ["db1", "web1"]


# --- executable inventory scripts --------------------------------------------------

def test_script_is_run_with_list_like_ansible_does():
    inv = load_inventory(str(SCRIPTS / "cat_list.sh"))
    assert inv.source == str(SCRIPTS / "cat_list.sh")
    assert inv.hosts == load_inventory(str(DATA / "listsrc-limited.json")).hosts


def test_script_without_meta_is_asked_host_by_host():
    inv = load_inventory(str(SCRIPTS / "no_meta.py"))
    assert [(h.name, h.address, h.port, h.user, h.groups) for h in inv.hosts.values()] == [
        ("web1", "10.213.1.1", 22, None, ("all", "web")),
        ("web2", "web2", 2202, None, ("all", "web")),
        ("db1", "db1", 22, "dba", ("all", "db")),
    ]


def test_script_failure_shows_status_and_stderr():
    path = SCRIPTS / "fails.sh"
    assert error_of(path) == (
        f"{path}: inventory script `{path} --list` exited with status 3; its stderr ends:\n"
        "ERROR! Unable to reach the cloud API: credentials expired")


def test_script_that_hangs_is_killed_with_its_children():
    path = SCRIPTS / "hangs.sh"
    started = time.monotonic()
    assert error_of(path, script_timeout=0.5) == (
        f"{path}: inventory script `{path} --list` did not finish within 0.5s and was killed (nothing on stderr)")
    assert time.monotonic() - started < 5  # not the child's 30 s sleep: the group was killed


def test_script_output_that_is_not_json_names_the_output_line():
    path = SCRIPTS / "not_json.sh"
    assert error_of(path) == f"{path} --list output:2: invalid JSON: Expecting value at column 8"


def test_script_printing_nothing(tmp_path):
    path = write(tmp_path, "empty.sh", "#!/bin/sh\nexit 0\n", 0o755)
    assert error_of(path) == f"{path} --list output:1: invalid JSON: Expecting value at column 1 (it printed nothing)"


def test_script_output_is_capped(tmp_path):
    path = write(tmp_path, "big.sh", "#!/bin/sh\nhead -c 300000 /dev/zero\n", 0o755)
    with pytest.raises(InventoryError) as exc:
        run_script(path, ("--list",), max_output=100 * 1024)
    assert str(exc.value) == f"{path}: inventory script `{path} --list` printed more than 0 MiB; refusing to read it"
    assert MAX_OUTPUT == 64 * 1024 * 1024


def test_script_that_is_not_executable_is_never_read_as_ini():
    path = SCRIPTS / "not_executable.py"
    assert not os.access(path, os.X_OK)
    assert error_of(path) == (
        f"{path}: looks like an inventory script (it starts with '#!') but is not executable: "
        f"`chmod +x {path}` to run it as Ansible would (`{path} --list`), or save its output once "
        f"with `ansible-inventory -i {path} --list > inventory.json` and pass that")


def test_script_reads_vars_dirs_next_to_it(tmp_path):
    shutil.copy(SCRIPTS / "no_meta.py", tmp_path / "inv.py")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("ansible_user: from-group-vars\n")
    inv = load_inventory(str(tmp_path / "inv.py"))
    assert [h.user for h in inv.hosts.values()] == ["from-group-vars", "from-group-vars", "dba"]


# --- ad-hoc host lists -------------------------------------------------------------

def test_host_list_like_ansible_takes_it():
    inv = load_inventory("web1, web2:2222,,[2001:db8::1]:2201,")
    assert inv.hosts == {
        "web1": Host(name="web1", address="web1", groups=("all", "ungrouped")),
        "web2": Host(name="web2", address="web2", port=2222, groups=("all", "ungrouped")),
        "2001:db8::1": Host(name="2001:db8::1", address="2001:db8::1", port=2201, groups=("all", "ungrouped")),
    }
    assert inv.source == "host list 'web1, web2:2222,,[2001:db8::1]:2201,'"
    assert list(load_inventory("web1,").hosts) == ["web1"]


@pytest.mark.parametrize("source, message", [
    ("web1,web 2", "'web 2' is not a host name (spaces, or a leading '-')"),
    ("-oProxyCommand=x,", "'-oProxyCommand=x' is not a host name (spaces, or a leading '-')"),
    ("root@web1,", "'root@web1': a host list takes no user; use --user root (or an inventory file)"),
    ("web[1:3],", "'web[1:3]': ranges are not expanded in a host list (nor by Ansible); "
                  "list the hosts or use an inventory file"),
    ("web1:99999,", "host pattern 'web1:99999' has bad port '99999' (expected 1-65535)"),
    (",,", "host list names no hosts"),
])
def test_host_list_errors(source, message):
    assert error_of(source) == f"host list {source!r}: {message}"


def test_existing_file_with_a_comma_is_a_file(tmp_path):
    path = write(tmp_path, "a,b.ini", "web1\n")
    assert list(load_inventory(path).hosts) == ["web1"]


def test_missing_inventory_suggests_the_close_name_or_the_host_list_form(tmp_path, monkeypatch):
    (tmp_path / "hosts.ini").write_text("web1\n")
    assert error_of(tmp_path / "host.ini") == (
        f"{tmp_path / 'host.ini'}: no such inventory file (did you mean '{tmp_path / 'hosts.ini'}'?)")
    monkeypatch.chdir(tmp_path)
    assert error_of("web1") == "web1: no such inventory file (one host is a host list, with a comma: -i 'web1,')"
    assert error_of(tmp_path) == (
        f"{tmp_path}: is a directory; pass the inventory file inside it "
        "(or `ansible-inventory -i DIR --list > inventory.json`)")


# --- the same answers as Ansible -----------------------------------------------------

def test_example_ini_resolves_as_ansible_resolves_it():
    """example-ansible-list.json is ansible-core 2.19's `--list` of inventories/example-ansible.ini:
    every host gets the same fields and variables from either file."""
    ini = load_inventory(str(Path(__file__).resolve().parent.parent / "inventories" / "example-ansible.ini"))
    listed = load_inventory(str(DATA / "example-ansible-list.json"))
    assert sorted(listed.hosts) == sorted(ini.hosts)
    for name, host in listed.hosts.items():
        assert (host, host.vars) == (ini.hosts[name], ini.hosts[name].vars), name
    # us-docker02: host ansible_ssh_user=root, group [docker:vars] ansible_user=audit.
    # Ansible's --list output carries both; its ssh plugin takes the last alias set.
    assert listed.hosts["us-docker02"].user == "root"


@pytest.mark.parametrize("host_line, group_var, expected", [
    ("h ansible_ssh_user=root", "ansible_user=audit", ("root", 22, None)),
    ("h ansible_user=root", "ansible_ssh_user=audit", ("audit", 22, None)),
    ("h ansible_port=2201", "ansible_ssh_port=2202", (None, 2202, None)),
    ("h ansible_port=2201 ansible_ssh_port=None", "ansible_ssh_port=2202", (None, 2201, None)),
    ("h ansible_ssh_private_key_file=/k/ssh", "ansible_private_key_file=/k/plain", (None, 22, "/k/ssh")),
    ("h ansible_private_key_file=/k/plain", "ansible_ssh_private_key_file=/k/ssh", (None, 22, "/k/ssh")),
])
def test_the_last_ansible_alias_set_wins_whatever_its_layer(tmp_path, host_line, group_var, expected):
    # As ansible-core 2.19 connects (checked with `ansible -m ping -vvv`: the user, Port=
    # and IdentityFile= it passes to ssh for each of these inventories).
    path = write(tmp_path, "hosts", f"[g]\n{host_line}\n[g:vars]\n{group_var}\n")
    host = load_inventory(path).hosts["h"]
    assert (host.user, host.port, host.identity_file) == expected


def test_script_that_leaves_a_child_holding_its_output_open(tmp_path):
    path = write(tmp_path, "inv.sh", '#!/bin/sh\necho \'{"_meta": {}, "web": ["web1"]}\'\nsleep 30 &\n', 0o755)
    started = time.monotonic()
    assert list(load_inventory(path).hosts) == ["web1"]
    assert time.monotonic() - started < 10  # 2 s of grace, then its process group is killed
