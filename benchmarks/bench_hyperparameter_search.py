"""Hyper-parameter search: 1,000 ESN configurations (N = 300, NARMA-10) as ONE ``neurodyn sweep``
of the spec's task score against a loop over ReservoirPy 0.4.2 models, time and peak memory.

Task (both sides): 2,000 steps of NARMA-10 (neurodyn.datasets.narma, seed 1), washout 100,
1,400 training and 500 test steps; ridge regression with an intercept, the regularisation chosen
from {1e-8, 1e-6, 1e-4, 1e-2} by 5-fold time-blocked cross-validation per configuration; score:
test NRMSE (standard-deviation convention). Grid: 10 spectral radii x 10 leak rates x 10 input
scalings. neurodyn fits every readout inside the vmapped chunks (one shared W: the spectral
radius and input scaling are swept as gains); ReservoirPy builds, runs and cross-validates each
model in turn with its ``Ridge`` node. Each side runs in a child process of this one, so its
peak resident memory (``ru_maxrss``) is its own; the ReservoirPy loop is timed on a subset of
the configurations and extrapolated to 1,000 (said in the output). The machine is shared
(2 cores): timings are noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import neurodyn  # noqa: F401
from benchmarks import skip_missing_peer

RIDGES = [1e-8, 1e-6, 1e-4, 1e-2]
FOLDS, WASHOUT, TRAIN, TEST = 5, 100, 1400, 500
SPEC = f"""
name = "hp_search"
steps = {WASHOUT + TRAIN + TEST}
seed = 1
precision = "float64"
[populations.reservoir]
model = "esn"
n = {{n}}
spectral_radius = 1.0
leak = 1.0
input_scaling = 1.0
bias_scaling = 0.0
density = 0.1
[record]
variables = []
[task]
washout = {WASHOUT}
train = {TRAIN}
test = {TEST}
metrics = ["nrmse"]
[task.dataset]
kind = "narma"
order = 10
[task.readout]
ridge = {RIDGES}
folds = {FOLDS}
"""

NEURODYN = textwrap.dedent("""
    import json, resource, sys, tempfile, time
    from pathlib import Path
    import numpy as np
    import neurodyn as nd
    from neurodyn.sweep import cartesian, sweep
    nd.set_precision("float64")
    spec_text, side = sys.argv[1], int(sys.argv[2])
    axes = [("populations.reservoir.spectral_radius", np.linspace(0.5, 1.2, side)),
            ("populations.reservoir.leak", np.linspace(0.1, 1.0, side)),
            ("populations.reservoir.input_scaling", np.linspace(0.1, 1.5, side))]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hp.toml"
        path.write_text(spec_text)
        grid = cartesian(axes)
        t0 = time.perf_counter()
        sweep(path, grid, ["nrmse"], out=Path(d) / "a.h5", progress=False)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = sweep(path, grid, ["nrmse"], out=Path(d) / "b.h5", progress=False)
        second = time.perf_counter() - t0
    print(json.dumps({"points": grid.n_points, "first": first, "second": second,
                      "best": float(np.nanmin(res.results["nrmse"])),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

RESERVOIRPY = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from reservoirpy.nodes import Reservoir, Ridge
    from neurodyn.datasets import narma
    n, side, count, ridges, folds, washout, train, test = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
        json.loads(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]))
    u, y = narma(washout + train + test, 10, seed=1)
    configs = [(sr, lr, sc) for sr in np.linspace(0.5, 1.2, side) for lr in np.linspace(0.1, 1.0, side)
               for sc in np.linspace(0.1, 1.5, side)]
    rng = np.random.default_rng(0)
    chosen = [configs[i] for i in rng.choice(len(configs), count, replace=False)]
    def nrmse(p, t):
        return float(np.sqrt(np.mean((p - t) ** 2) / np.var(t)))
    rss = []
    t0 = time.perf_counter()
    best = np.inf
    for k, (sr, lr, sc) in enumerate(chosen):
        res = Reservoir(n, sr=sr, lr=lr, input_scaling=sc, rc_connectivity=0.1, seed=1)
        states = res.run(u)
        x, t = states[washout:washout + train], y[washout:washout + train]
        edges = np.linspace(0, train, folds + 1).astype(int)
        errors = np.zeros(len(ridges))
        for lo, hi in zip(edges[:-1], edges[1:]):
            rows = np.r_[0:lo, hi:train]
            for j, r in enumerate(ridges):
                ro = Ridge(ridge=r).fit(x[rows], t[rows])
                errors[j] += np.mean((ro.run(x[lo:hi]) - t[lo:hi]) ** 2) / folds
        ro = Ridge(ridge=ridges[int(np.argmin(errors))]).fit(x, t)
        best = min(best, nrmse(ro.run(states[washout + train:]), y[washout + train:]))
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    wall = time.perf_counter() - t0
    print(json.dumps({"count": count, "wall": wall, "best": best, "rss_mb": rss[-1], "rss_first_mb": rss[0]}))
""")


def _child(code: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        if "No module named 'reservoirpy'" in out.stderr:
            raise ModuleNotFoundError("reservoirpy", name="reservoirpy")
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def search(quick: bool):
    import reservoirpy  # noqa: F401  (the peer: skipped with a message when missing)

    n, side, count = (100, 4, 8) if quick else (300, 10, 30)
    nd_run = _child(NEURODYN, SPEC.replace("{n}", str(n)), side)
    rpy = _child(RESERVOIRPY, n, side, count, json.dumps(RIDGES), FOLDS, WASHOUT, TRAIN, TEST)
    points = nd_run["points"]
    per_config = rpy["wall"] / rpy["count"]
    rpy_total = per_config * points
    yield (f"{points:,} ESN configurations (N = {n}, NARMA-10, {WASHOUT}+{TRAIN}+{TEST} steps, ridge from "
           f"{len(RIDGES)} values by {FOLDS}-fold blocked CV, test NRMSE)")
    yield (f"  neurodyn sweep: {nd_run['second']:.1f} s after compilation (the first sweep, compiling: "
           f"{nd_run['first']:.1f} s; compilation is a few seconds, below the noise of this shared machine), "
           f"peak RSS {nd_run['rss_mb']:.0f} MB, best NRMSE {nd_run['best']:.3f}")
    yield (f"  ReservoirPy loop: {per_config:.3f} s per configuration, timed on {rpy['count']} random configurations and "
           f"extrapolated to {points:,}: {rpy_total:.0f} s; peak RSS {rpy['rss_mb']:.0f} MB (after the first: "
           f"{rpy['rss_first_mb']:.0f} MB); best NRMSE of the subset {rpy['best']:.3f}")
    yield f"  ratio (ReservoirPy extrapolated / neurodyn): {rpy_total / nd_run['second']:.1f}x"


def main(quick: bool = False):
    yield from skip_missing_peer(search(quick))
