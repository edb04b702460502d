"""Run every ``benchmarks/bench_*.py`` (or the ones named on the command line) and print results.

Each benchmark module defines ``main(quick: bool)`` yielding the lines to print; ``--quick`` shrinks sizes for a
smoke run. Speed claims are ratios measured side by side in this one process.
"""

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("only", nargs="*", help=f"benchmarks to run (default all: {', '.join(names)})")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = p.parse_args()
    chosen = [n for n in names if not args.only or any(o in n for o in args.only)]
    for name in chosen:
        print(f"== {name}", flush=True)
        for line in importlib.import_module(f"benchmarks.{name}").main(quick=args.quick):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
