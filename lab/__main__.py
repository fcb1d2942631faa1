"""CLI of the test fleet.

    python -m lab up STATE_DIR --demo            # the demo fleet + inventories
    python -m lab up STATE_DIR --ssh-hosts 500   # N cheap sshd-only hosts (benchmarks)
    python -m lab status STATE_DIR
    python -m lab exec STATE_DIR HOST 'command'
    python -m lab down STATE_DIR
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from .fleet import Fleet, HostSpec, LabError


def _summary(fleet: Fleet) -> dict:
    return {
        "state_dir": str(fleet.state_dir),
        "status": fleet.state.get("status"),
        "subnet": fleet.state.get("subnet"),
        "key_path": fleet.key_path,
        "known_hosts_path": fleet.known_hosts_path,
        "inventory": {"native": str(fleet.state_dir / "inventory.yml"), "ini": str(fleet.state_dir / "inventory.ini")},
        "ca_cert_path": fleet.ca_cert_path,
        "registry": fleet.registry if fleet.state.get("services") else None,
        "images": fleet.images,
        "hosts": {n: {"address": h.address, "kind": h.kind, "user": h.user, "docker": h.docker}
                  for n, h in fleet.hosts.items()},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab", description="fleetaudit test fleet")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build a fleet (idempotent)")
    up.add_argument("state_dir")
    what = up.add_mutually_exclusive_group(required=True)
    what.add_argument("--demo", action="store_true", help="the demo fleet (lab/demo.py)")
    what.add_argument("--ssh-hosts", type=int, metavar="N", help="N sshd-only hosts named h0001..")
    up.add_argument("--timeout", type=float, default=None, help="seconds (default 120, or scaled for --ssh-hosts)")
    up.add_argument("--json", action="store_true", help="print a JSON summary")
    down = sub.add_parser("down", help="tear down what STATE_DIR's fleet created")
    down.add_argument("state_dir")
    down.add_argument("--keep-files", action="store_true", help="keep logs and upper dirs")
    st = sub.add_parser("status", help="print the fleet's summary as JSON")
    st.add_argument("state_dir")
    ex = sub.add_parser("exec", help="run a shell command inside a host (as root)")
    ex.add_argument("state_dir")
    ex.add_argument("host")
    ex.add_argument("command", nargs="+")
    a = ap.parse_args(argv)
    log = lambda m: print(f"lab: {m}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        fleet = Fleet(a.state_dir)
        if a.cmd == "up":
            t0 = time.monotonic()
            if a.demo:
                from .demo import build_demo

                build_demo(fleet, progress=log)
            else:
                n = a.ssh_hosts
                specs = [HostSpec(f"h{i:04d}", kind="ssh", groups=["bench"]) for i in range(1, n + 1)]
                fleet.up(specs, services=False, timeout=a.timeout or max(120.0, n * 0.5), progress=log)
            fleet.write_inventory(fleet.state_dir / "inventory.yml", "native")
            fleet.write_inventory(fleet.state_dir / "inventory.ini", "ini")
            log(f"up in {time.monotonic() - t0:.1f}s: {len(fleet.hosts)} hosts; "
                f"inventory {fleet.state_dir / 'inventory.yml'}")
            if a.json:
                print(json.dumps(_summary(fleet), indent=1))
        elif a.cmd == "down":
            t0 = time.monotonic()
            fleet.down(keep_files=a.keep_files)
            log(f"down in {time.monotonic() - t0:.1f}s")
        elif a.cmd == "status":
            print(json.dumps(_summary(fleet), indent=1))
        elif a.cmd == "exec":
            p = fleet.exec(a.host, " ".join(a.command))
            sys.stdout.write(p.stdout)
            sys.stderr.write(p.stderr)
            return p.returncode
    except LabError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
