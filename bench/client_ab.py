"""In-process A/B of client CPU per host on a running lab fleet (profiling aid).

    python -m bench.client_ab STATE_DIR --modes floor,floor_gcm,collect --reps 5
    python -m bench.client_ab STATE_DIR --profile collect        # cProfile of one run

STATE_DIR is a lab fleet (lab/) with inventory.yml. Each mode is one pass over every
host in this process (asyncio.run), timed by time.process_time (all threads of the
process: asyncssh's executor threads included); modes are interleaved in a rotating
order per repetition and the median per host is printed. Modes:

  floor      plain asyncssh (bench/floor.py's coroutine), asyncssh's default ciphers
  floor_gcm  the same with fleetaudit.ssh.CIPHERS
  collect    fleetaudit.collect.collect_fleet (connect, exec, parse into HostResults)

`--pin-client CPU` pins this process, `--pin-hosts CPU` the fleet's host trees (sshd is
each host's PID 1; children inherit), see bench/pinning.py.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _fleet(state: Path):
    lab = json.loads((state / "lab.json").read_text())
    return lab


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.client_ab")
    ap.add_argument("state")
    ap.add_argument("--modes", default="floor,floor_gcm,collect")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--profile", default=None, metavar="MODE")
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=45)
    ap.add_argument("--dump", default=None, help="write the profile (pstats) here")
    ap.add_argument("--limit", type=int, default=0, help="first N hosts only")
    a = ap.parse_args(argv)

    import asyncssh  # noqa: F401  (import cost outside the timed passes)
    from bench.floor import run as floor_run
    from fleetaudit.collect import CollectOptions, collect_fleet
    from fleetaudit.collectors import REGISTRY
    from fleetaudit.inventory import load_inventory
    from fleetaudit.script import ScriptOptions, build_script, new_nonce
    from fleetaudit.ssh import CIPHERS, SSHOptions

    state = Path(a.state)
    inv = load_inventory(str(state / "inventory.yml"))
    hosts = list(inv.hosts.values())
    if a.limit:
        hosts = hosts[:a.limit]
    key = str(state / "keys" / "id_ed25519")
    known = str(state / "keys" / "known_hosts")
    plain = [{"address": h.address, "port": h.port, "user": h.user} for h in hosts]
    script = build_script(REGISTRY, new_nonce(), ScriptOptions()).encode()

    def floor(ciphers=""):
        out = asyncio.run(floor_run(plain, script, key, known, a.concurrency, ciphers))
        return out["ok"]

    def collect():
        opts = CollectOptions(ssh=SSHOptions(known_hosts=known), concurrency=a.concurrency)
        run = asyncio.run(collect_fleet(hosts, opts))
        return sum(1 for r in run.hosts.values() if r.status == "ok")

    modes = {"floor": floor, "floor_gcm": lambda: floor(",".join(CIPHERS)), "collect": collect}
    if a.profile:
        import cProfile
        import pstats
        modes[a.profile]()  # warm: imports, caches
        pr = cProfile.Profile(time.thread_time)  # CPU of this thread, not wall (load)
        t0 = time.process_time()
        pr.enable()
        ok = modes[a.profile]()
        pr.disable()
        cpu = time.process_time() - t0
        print(f"{a.profile}: ok {ok}/{len(hosts)} cpu {cpu:.3f}s ({1000 * cpu / len(hosts):.2f} ms/host, profiled)")
        pr.dump_stats(a.dump) if a.dump else None
        pstats.Stats(pr).sort_stats(a.sort).print_stats(a.top)
        return 0
    names = [m for m in a.modes.split(",") if m]
    for m in names:  # warm-up pass each (imports, caches), not counted
        modes[m]()
    res = {m: [] for m in names}
    for rep in range(a.reps):
        k = rep % len(names)
        for m in names[k:] + names[:k]:
            gc.collect()
            t0 = time.process_time()
            w0 = time.monotonic()
            ok = modes[m]()
            cpu = time.process_time() - t0
            res[m].append(cpu)
            print(f"rep {rep} {m}: ok {ok}/{len(hosts)} cpu {cpu:.3f}s wall {time.monotonic() - w0:.1f}s "
                  f"load {os.getloadavg()[0]:.0f}", file=sys.stderr, flush=True)
    for m in names:
        med = statistics.median(res[m])
        print(f"{m}: median {1000 * med / len(hosts):.2f} ms/host (min {1000 * min(res[m]) / len(hosts):.2f}) "
              f"runs {[round(x, 3) for x in res[m]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
