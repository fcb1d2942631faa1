#!/usr/bin/env python3
"""An old-style inventory script: no _meta in --list, so Ansible asks --host NAME per host."""
import json
import sys

GROUPS = {"web": ["web1", "web2"], "db": {"hosts": ["db1"], "vars": {"ansible_user": "dba"}}}
HOSTS = {"web1": {"ansible_host": "10.213.1.1"}, "web2": {"ansible_port": 2202}, "db1": {}}

if sys.argv[1:] == ["--list"]:
    print(json.dumps(GROUPS))
elif len(sys.argv) == 3 and sys.argv[1] == "--host":
    print(json.dumps(HOSTS[sys.argv[2]]))
else:
    sys.exit("usage: no_meta.py --list | --host NAME")
