"""How `fleetaudit explain` scales with the length of what is pasted: a whole CI log, or
text shaped to make a regular expression backtrack (a long run of letters, digits,
"a.a.a", "https://https://..."). Each shape at each size is explained in a subprocess
per tree (this tree, and with --ref the tree of that commit, `git archive`), so both run
the same inputs in the same run. Linear matching keeps seconds growing with the size;
a backtracking pattern makes them grow with its square.

    python -m bench.explain_long --ref 89c1b2b [--sizes 2000,8000,32000] [--out PATH]
    python -m bench.explain_long --quick        # tiny sizes, this tree only (tests/test_bench_smoke.py)

Explain's inputs from hosts are already capped (a pull's output at 2,000 characters,
pull.py); a paste at the command line is not.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.report_wall import ref_tree   # the package as of a commit (git archive)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> the unit repeated up to the size
SHAPES = {
    "letters": "a",
    "digits": "0",
    "dotted": "a.",
    "dashed": "a-",
    "urls": "https://",
    "spaces": " ",
    "ci-log": ("Step 3/9 : RUN make\n ---> Running in 4f2a\n"
               "Downloading 12.5MB/40.1MB\nError response from daemon: Get "
               "\"https://registry-1.docker.io/v2/\": net/http: TLS handshake timeout\n"),
}

_CHILD = """
import json, sys, time
from fleetaudit.explain import explain
shapes, sizes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
explain("warm up")
out = []
for name, unit in shapes.items():
    for n in sizes:
        text = (unit * (n // len(unit) + 1))[:n]
        t0 = time.perf_counter()
        causes = explain(text)
        out.append({"shape": name, "size": n, "seconds": time.perf_counter() - t0,
                    "first": causes[0].category if causes else None})
print(json.dumps(out))
"""


def measure(code: Path, sizes) -> list:
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(SHAPES), json.dumps(list(sizes))],
                          cwd=code, env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", help="also measure the tree of this commit")
    ap.add_argument("--sizes", default="2000,8000,32000")
    ap.add_argument("--quick", action="store_true", help="sizes 200,800; this tree only")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    sizes = [200, 800] if args.quick else [int(s) for s in args.sizes.split(",")]
    trees = {"this": ROOT}
    with tempfile.TemporaryDirectory(prefix="fa-explain-long-") as tmp:
        if args.ref and not args.quick:
            trees[args.ref] = ref_tree(args.ref, Path(tmp) / "ref")
        rows = {name: measure(code, sizes) for name, code in trees.items()}
    names = list(rows)
    print(f"{'shape':<9}{'chars':>8}" + "".join(f"{n + ' s':>14}" for n in names))
    for i, r in enumerate(rows["this"]):
        print(f"{r['shape']:<9}{r['size']:>8}" + "".join(f"{rows[n][i]['seconds']:>14.3f}" for n in names))
    if args.out:
        args.out.write_text(json.dumps({"sizes": sizes, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
