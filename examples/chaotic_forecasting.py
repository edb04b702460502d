"""Chaotic forecasting benchmark (W. Gilpin, "Chaos as an interpretable benchmark for forecasting and
data-driven modelling", NeurIPS Datasets and Benchmarks 2021, with its ``dysts`` package): ESN,
DeepResESN and NVAR forecasts of 20 dysts systems scored by sMAPE and valid prediction time in
Lyapunov times.

The protocol, the models and the published numbers quoted beside ours are described in
``benchmarks/bench_forecasting.py``, which this example runs (``python -m benchmarks forecasting``
prints the same table). Trajectories are generated here from dysts' equations (100 points per
dominant period, 12 periods per series, plus a longer forecast window for the valid time); nothing
is downloaded. The results and full table are in docs/models/reservoirs.md ("Chaotic forecasting
benchmark").

Run: ``python examples/chaotic_forecasting.py [--quick] [--systems Lorenz,Rossler] [--out DIR]``
(needs ``pip install -e '.[bench]'`` for dysts). Writes ``chaotic_forecasting.json`` (per system:
the exponents, the chosen hyper-parameters, sMAPE and valid time of each model) into ``--out``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from neurodyn.cli import example_options

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> dict:
    def options(parser):
        parser.add_argument("--systems", default=None, help="comma-separated dysts system names (default: the 20)")

    args = example_options(__doc__, "two systems, short series, small reservoirs", argv,
                           out="folder for chaotic_forecasting.json", options=options)

    sys.path.insert(0, str(ROOT))
    import neurodyn
    from benchmarks import bench_forecasting as bf

    neurodyn.set_precision("float64")
    size = dict(bf.SIZES["quick" if args.quick else "full"])
    if args.systems:
        import dysts.flows

        names = tuple(s.strip() for s in args.systems.split(",") if s.strip())
        unknown = [n for n in names if not isinstance(getattr(dysts.flows, n, None), type)]
        if unknown:
            args.parser.error(f"--systems: {', '.join(unknown)} is not a dysts flow (e.g. {', '.join(bf.SYSTEMS[:4])})")
        size["systems"] = names
    start = time.perf_counter()
    rows = list(bf.run(size))
    for line in bf.table(rows):
        print(line)
    print(f"({time.perf_counter() - start:.0f} s)")
    result = {data["name"]: {"lyapunov": data["lyapunov"], "lyapunov_source": data["lyapunov_source"],
                             "dysts_lyapunov": data["stored_lyapunov"], "period": data["period"],
                             **{k: {**r, "candidate": list(r["candidate"]) if isinstance(r["candidate"], tuple)
                                    else r["candidate"]} for k, r in res.items()}}
              for data, res in rows}
    (args.out / "chaotic_forecasting.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
