"""Bayesian hyper-parameter search: ``neurodyn search`` (optuna's TPE, a batch of trials per
compiled, vmapped sweep chunk) against ReservoirPy 0.4.2's ``reservoirpy.hyper.research``
(hyperopt's TPE, one trial at a time) on the same search space and task: the wall time each
takes to reach the same validation NRMSE.

Task (both sides, the same arrays: the spec's ``[task]`` data, ``neurodyn.datasets.task_data``):
NARMA-10, an ESN of N units (10 % dense, tanh), washout 100, 1,400 training rows, 500 validation
rows (the spec's ``task.test``, which a search optimises); ridge regression with an intercept;
score: validation NRMSE (standard-deviation convention). Search space (both sides): spectral
radius uniform in [0.1, 1.5], leak rate log-uniform in [0.05, 1], input scaling log-uniform in
[0.05, 2], ridge log-uniform in [1e-9, 1e-2]; TRIALS trials each, fixed seeds. The reservoirs
are each library's own (neurodyn's ESN and ReservoirPy's ``Reservoir``: different random
matrices and bias conventions), so the two best NRMSEs differ; the comparison is the wall time
from the start of the search (after imports; neurodyn's includes its compilation) until the
best-so-far NRMSE first reaches the *target*: the worse of the two final bests, a value both
searches reach. Each side runs in a child process of its own. The machine is shared (2 cores
with other work): timings are noisy, run once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from benchmarks import skip_missing_peer

WASHOUT, TRAIN, TEST = 100, 1400, 500
SPEC = f"""
name = "tpe_search"
steps = {WASHOUT + TRAIN + TEST}
seed = 1
precision = "float64"
[populations.reservoir]
model = "esn"
n = {{n}}
spectral_radius = 0.9
leak = 1.0
input_scaling = 1.0
bias_scaling = 1.0
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
ridge = 1e-6
"""
# (neurodyn spec path, ReservoirPy argument, hyperopt/optuna kind, low, high)
SPACE = [("populations.reservoir.spectral_radius", "sr", "uniform", 0.1, 1.5),
         ("populations.reservoir.leak", "lr", "loguniform", 0.05, 1.0),
         ("populations.reservoir.input_scaling", "iss", "loguniform", 0.05, 2.0),
         ("task.readout.ridge", "ridge", "loguniform", 1e-9, 1e-2)]

NEURODYN = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import neurodyn as nd
    nd.set_precision("float64")
    from neurodyn.runs.search import search
    spec, folder, trials, batch, space = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
        json.loads(sys.argv[5])
    params = [f"{p}={'log:' if kind == 'loguniform' else ''}{lo}:{hi}" for p, _, kind, lo, hi in space]
    res = search(spec, params, trials=trials, batch=batch, out=folder / "nd.h5", seed=0, startup=batch,
                 progress=False)
    print(json.dumps({"history": res.history, "wall": res.wall_time, "compile": res.compile_time,
                      "best": res.best["value"], "params": res.best["params"]}))
""")

RESERVOIRPY = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    import neurodyn as nd
    nd.set_precision("float64")
    from neurodyn.datasets.tasks import task_data
    from neurodyn.spec import load_spec
    import reservoirpy
    from reservoirpy.hyper import research
    from reservoirpy.nodes import Reservoir, Ridge
    spec, folder, trials, n, space = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \\
        json.loads(sys.argv[5])
    washout, train, test = (int(a) for a in sys.argv[6:9])
    data = task_data(load_spec(spec).task)
    u, y = np.asarray(data.inputs, float), np.asarray(data.targets, float)
    calls = []

    def objective(dataset, config, *, sr, lr, iss, ridge):
        u, y = dataset
        reservoir = Reservoir(n, sr=sr, lr=lr, input_scaling=iss, rc_connectivity=0.1, seed=1)
        states = reservoir.run(u)
        rows, held = slice(washout, washout + train), slice(washout + train, washout + train + test)
        readout = Ridge(ridge=ridge).fit(states[rows], y[rows])
        err = readout.run(states[held]) - y[held]
        nrmse = float(np.sqrt(np.mean(err ** 2) / np.var(y[held])))
        loss = nrmse if np.isfinite(nrmse) else 1e6
        calls.append((time.perf_counter() - t0, loss))
        return {"loss": loss}

    config = {"exp": "rpy", "hp_max_evals": trials, "hp_method": "tpe", "seed": 0, "instances_per_trial": 1,
              "hp_space": {arg: [kind, lo, hi] for _, arg, kind, lo, hi in space}}
    (folder / "rpy.json").write_text(json.dumps(config))
    t0 = time.perf_counter()
    research(objective, (u, y), str(folder / "rpy.json"), str(folder / "rpy_report"))
    wall = time.perf_counter() - t0
    best, history = np.inf, []
    for t, loss in calls:
        best = min(best, loss)
        history.append((t, best))
    print(json.dumps({"history": history, "wall": wall, "best": best}))
""")


def _child(code: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        for peer in ("reservoirpy", "hyperopt", "optuna"):
            if f"No module named '{peer}'" in out.stderr:
                raise ModuleNotFoundError(peer, name=peer)
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reached(history, target: float):
    """Seconds until the best-so-far first reached ``target`` (None if it never did)."""
    for t, best in history:
        if best is not None and best <= target:
            return t
    return None


def tpe_search(quick: bool):
    import hyperopt  # noqa: F401  (the peers: skipped with a message when missing)
    import optuna  # noqa: F401
    import reservoirpy  # noqa: F401

    n, trials, batch = (50, 16, 8) if quick else (100, 256, 32)
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "tpe_search.toml"
        spec.write_text(SPEC.replace("{n}", str(n)))
        space = json.dumps(SPACE)
        nd_run = _child(NEURODYN, spec, d, trials, batch, space)
        rpy = _child(RESERVOIRPY, spec, d, trials, n, space, WASHOUT, TRAIN, TEST)
    target = max(nd_run["best"], rpy["best"])
    t_nd, t_rpy = _reached(nd_run["history"], target), _reached(rpy["history"], target)
    yield (f"NARMA-10, ESN N = {n}, {WASHOUT}+{TRAIN}+{TEST} steps, 4-dimensional space (spectral radius, leak, "
           f"input scaling, ridge), {trials} trials each, validation NRMSE")
    yield (f"  neurodyn search (optuna TPE, batches of {batch}, one compiled chunk each): {nd_run['wall']:.1f} s "
           f"({trials / nd_run['wall']:.1f} trials/s; compilation {nd_run['compile']:.1f} s of it), best NRMSE "
           f"{nd_run['best']:.4f}")
    yield (f"  ReservoirPy research (hyperopt TPE, one trial at a time): {rpy['wall']:.1f} s "
           f"({trials / rpy['wall']:.1f} trials/s), best NRMSE {rpy['best']:.4f}")
    yield (f"  time to reach NRMSE {target:.4f} (the worse of the two bests): neurodyn {t_nd:.1f} s, "
           f"ReservoirPy {t_rpy:.1f} s; ratio {t_rpy / t_nd:.1f}x (whole searches: {rpy['wall'] / nd_run['wall']:.1f}x)")


def main(quick: bool = False):
    yield from skip_missing_peer(tpe_search(quick))
