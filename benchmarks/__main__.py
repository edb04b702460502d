"""Run every ``benchmarks/bench_*.py`` (or the ones named on the command line) and print results.

Each benchmark module defines ``main(quick: bool)`` yielding the lines to print; ``--quick`` shrinks sizes for a
smoke run. Speed claims are ratios measured side by side in this one process. A comparison whose peer library
is not installed is skipped with a line saying so; a name that matches no benchmark exits with status 2.
"""

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks import skip_missing_peer


def main(argv=None) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    short = [n.removeprefix("bench_") for n in names]
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("only", nargs="*", help=f"benchmarks to run (default all: {', '.join(short)})")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = p.parse_args(argv)
    unknown = [o for o in args.only if not any(o in n for n in names)]
    if unknown:
        print(f"python -m benchmarks: no benchmark matches {', '.join(map(repr, unknown))} "
              f"(available: {', '.join(short)})", file=sys.stderr)
        return 2
    chosen = [n for n in names if not args.only or any(o in n for o in args.only)]
    for name in chosen:
        print(f"== {name}", flush=True)
        for line in skip_missing_peer(importlib.import_module(f"benchmarks.{name}").main(quick=args.quick)):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
