"""The floor of an SSH collector: plain asyncssh, nothing else.

One connection and ONE exec of a given script per host, the output read and discarded,
a bounded number of hosts in flight. No parsing, no classification, no retries, no
report. It is what fleetaudit's collection cannot beat, so the benchmark measures it as
a separate process (interpreter start and imports included, as for `fleetaudit audit`)
and divides.

    python -m bench.floor --hosts hosts.json --script script.sh --key KEY \
        --known-hosts KNOWN_HOSTS [--concurrency 100]

hosts.json: [{"address": ..., "port": 22, "user": "root"}, ...]. Prints one JSON line:
{"hosts", "ok", "failed", "bytes", "wall_s", "errors": {message: count}}.

`--ciphers` sets the cipher preference (fleetaudit prefers AES-GCM, see fleetaudit/ssh.py:
a floor with the same preference is the fair comparison for the connection's own cost).

The key and known_hosts are parsed once, not per connection: a floor should not pay
for work a careful client would not do.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter

import asyncssh


async def _one(host: dict, script: bytes, keys, known, gate: asyncio.Semaphore, algs: dict) -> int:
    async with gate:
        async with asyncssh.connect(host["address"], port=int(host.get("port", 22)),
                                    username=host.get("user") or "root", client_keys=keys,
                                    known_hosts=known, config=[], agent_path=None, **algs) as conn:
            proc = await conn.create_process("sh -s", encoding=None)
            proc.stdin.write(script)
            proc.stdin.write_eof()
            size = 0
            while True:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                size += len(chunk)
            proc.close()
            return size


async def run(hosts, script: bytes, key_path: str, known_hosts: str, concurrency: int,
              ciphers: str = "") -> dict:
    keys = [asyncssh.read_private_key(key_path)]
    known = asyncssh.read_known_hosts(known_hosts)
    gate = asyncio.Semaphore(concurrency)
    algs = {"encryption_algs": ciphers.split(",")} if ciphers else {}
    t0 = time.monotonic()
    results = await asyncio.gather(*(_one(h, script, keys, known, gate, algs) for h in hosts),
                                   return_exceptions=True)
    wall = time.monotonic() - t0
    errors = Counter(f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException))
    sizes = [r for r in results if not isinstance(r, BaseException)]
    return {"hosts": len(hosts), "ok": len(sizes), "failed": len(hosts) - len(sizes),
            "bytes": sum(sizes), "wall_s": round(wall, 3), "errors": dict(errors)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", required=True, help="JSON list of {address, port, user}")
    ap.add_argument("--script", required=True, help="file with the script sent to every host")
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--ciphers", default="",
                    help="comma-separated cipher preference (default: asyncssh's); the bench "
                         "passes fleetaudit's own (fleetaudit.ssh.CIPHERS) for a floor with the "
                         "same cipher")
    a = ap.parse_args(argv)
    with open(a.hosts, encoding="utf-8") as fh:
        hosts = json.load(fh)
    with open(a.script, "rb") as fh:
        script = fh.read()
    out = asyncio.run(run(hosts, script, a.key, a.known_hosts, a.concurrency, a.ciphers))
    print(json.dumps(out))
    return 0 if out["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
