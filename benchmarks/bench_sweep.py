"""Sweep benchmarks.

1. 64 ESNs of 500 units (8 spectral radii x 8 input scalings), 5,000 steps each of U(-1, 1)
   input, state harvesting plus a ridge readout for a delayed-recall target y(n) = u(n - 5):
   ``neurodyn.sweep`` (one shared W, the gains swept, the readout trained inside the compiled
   call) against ReservoirPy 0.4.2 building and running the same 64 models one after another
   (same W and W_in: neurodyn takes them from ReservoirPy's seed-1 reservoir). neurodyn runs the
   streamed readout ``Measure.ridge`` (normal equations accumulated in float64 block by block,
   no trajectory kept), and, for comparison, a user measure that solves the ridge from the whole
   recorded trajectory. The machine floor is each kind of work at the best rate measured for it
   in the same run: the steps' dense ``W x`` (every point and step: the batched ``W X``
   product, NumPy and XLA, float64 and float32) and the readouts' ``X^T X`` in float64 (NumPy
   and XLA; float32 sums are not an option: they move this NRMSE by about 0.5 %,
   tests/sweep/test_ridge_measure.py); each line says the fraction of that floor reached.
2. 10,000-point Chialvo ring-star sweep (n = 100 neurons, 10,000 steps each, max Lyapunov +
   cross-correlation), grid couplings.star.strength x populations.neurons.k: points/s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn
from benchmarks import best_time, skip_missing_peer
from neurodyn.models import ESN
from neurodyn.sweep import Measure, cartesian, parse_axis, sweep

WASHOUT, DELAY, RIDGE = 200, 5, 1e-6


def _ridge_nrmse(records, target):
    x = records["x"][WASHOUT:].astype(jnp.float64)  # the ridge solve in float64 (docs/models/reservoirs.md)
    x = jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)
    y = target[WASHOUT:]
    reg = RIDGE * jnp.eye(x.shape[1], dtype=x.dtype).at[0, 0].set(0.0)
    w = jnp.linalg.solve(x.T @ x + reg, x.T @ y)
    return jnp.sqrt(jnp.mean((x @ w - y) ** 2) / jnp.var(y))


def machine_rates(units: int, steps: int, points: int) -> dict:
    """FLOP/s of the two kernels of the sweep, measured now: ``X^T X`` of a ``steps x units``
    float64 matrix (NumPy and XLA) and the batched step ``W @ X`` (``units x units`` times
    ``units x points``, the product every sweep step does; float64 and float32), best of 3."""
    rng = np.random.default_rng(0)
    out = {}
    x = rng.standard_normal((steps, units))
    gram = 2.0 * steps * units ** 2
    out["NumPy X^T X float64"] = gram / best_time(lambda: x.T @ x)
    xj = jnp.asarray(x)
    f = jax.jit(lambda a: a.T @ a)
    f(xj).block_until_ready()
    out["XLA X^T X float64"] = gram / best_time(lambda: f(xj))
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        w, b = rng.standard_normal((units, units)).astype(dtype), rng.standard_normal((units, points)).astype(dtype)
        step = 2.0 * units * units * points
        out[f"NumPy W X {name}"] = step / best_time(lambda: w @ b)
        wj, bj = jnp.asarray(w), jnp.asarray(b)
        g = jax.jit(lambda p, q: p @ q)
        g(wj, bj).block_until_ready()
        out[f"XLA W X {name}"] = step / best_time(lambda: g(wj, bj), repeat=20)
    return out


def esn_sweep(quick: bool):
    from reservoirpy.nodes import Reservoir, Ridge

    units, steps, side = (100, 1000, 4) if quick else (500, 5000, 8)
    u = np.random.default_rng(0).uniform(-1, 1, (steps, 1))
    y = np.roll(u, DELAY, axis=0)
    srs, scales = np.linspace(0.5, 1.2, side), np.linspace(0.1, 1.0, side)

    def reservoirpy_all():
        out = []
        for sr in srs:
            for sc in scales:
                res = Reservoir(units, sr=sr, input_scaling=sc, rc_connectivity=0.1, seed=1)
                states = res.run(u)
                readout = Ridge(ridge=RIDGE).fit(states[WASHOUT:], y[WASHOUT:])
                pred = readout.run(states)
                out.append(np.sqrt(np.mean((pred[WASHOUT:] - y[WASHOUT:]) ** 2) / np.var(y[WASHOUT:])))
        return np.array(out)

    t0 = time.perf_counter()
    ref = reservoirpy_all()
    t_rpy = time.perf_counter() - t0

    base_res = Reservoir(units, sr=1.0, input_scaling=1.0, rc_connectivity=0.1, seed=1)
    base_res.run(u[:2])
    w = base_res.W.toarray() if hasattr(base_res.W, "toarray") else np.asarray(base_res.W)
    w_in = base_res.Win.toarray() if hasattr(base_res.Win, "toarray") else np.asarray(base_res.Win)
    target = jnp.asarray(y, jnp.float64)

    def ridge_fit(records):
        return {"nrmse": _ridge_nrmse(records, target)}

    lines = []
    step_work = side * side * 2.0 * units * units * steps  # W x for every point and step
    gram_work = side * side * 2.0 * (steps - WASHOUT) * units ** 2  # X^T X of every readout
    work = step_work + gram_work
    rates = machine_rates(units, steps, side * side)
    # each kind of work at the best rate this machine reaches for THAT kind (steps are sequential
    # (units x units) @ (units x points) products; Gram matrices are large single products)
    step_name, step_rate = max(((k, v) for k, v in rates.items() if "W X" in k), key=lambda kv: kv[1])
    gram_name, gram_rate = max(((k, v) for k, v in rates.items() if "X^T X" in k), key=lambda kv: kv[1])
    floor = step_work / step_rate + gram_work / gram_rate
    streamed = Measure.ridge(y[WASHOUT:], "x", ridge=RIDGE)
    runs = [(np.float64, "streamed", streamed), (np.float32, "streamed", streamed),
            (np.float32, "recorded", Measure.function(ridge_fit, ("x",)))]
    for dtype, how, measure in runs:
        esn = ESN.from_matrices(w, w_in, dtype=dtype)
        grid = cartesian([parse_axis(f"recurrent_gain={','.join(map(str, srs))}"),
                          parse_axis(f"input_gain={','.join(map(str, scales))}")])
        # measured record i is the state after step i, which has taken input u(i): ReservoirPy's states[i]
        kw = dict(steps=steps, drive=jnp.asarray(u, dtype), progress=False, state=esn.init(jax.random.PRNGKey(0)))
        if how == "streamed":
            kw["transient"] = WASHOUT
        sweep(esn, grid, [measure], **kw)  # compile
        t0 = time.perf_counter()
        res = sweep(esn, grid, [measure], **kw)
        t_nd = time.perf_counter() - t0
        nrmse = res.results["ridge(x).nrmse" if how == "streamed" else "ridge_fit.nrmse"]
        diff = np.max(np.abs(nrmse - ref))
        label = ("streamed readout (float64 sums)" if how == "streamed" else
                 "readout solved from the recorded trajectory")
        lines.append(f"  ESN sweep, {np.dtype(dtype).name} run, {label}: neurodyn {t_nd:.2f} s | ReservoirPy "
                     f"{t_rpy:.2f} s | ratio {t_rpy / t_nd:.1f}x | max |NRMSE difference| {diff:.1e} (NRMSE "
                     f"{ref.min():.3f}-{ref.max():.3f}) | {floor / t_nd * 100:.0f}% of the machine floor "
                     f"({t_nd / floor:.1f}x above it)")
    yield f"{side * side} ESNs of {units} units, {steps} steps, ridge readout of u(n - {DELAY}); compile excluded"
    yield ("  machine rates measured now (GFLOP/s): " + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in rates.items()))
    yield (f"  work {work / 1e9:.0f} GFLOP: {step_work / 1e9:.0f} in the steps (dense W x, every point and step) at the "
           f"best batched-step rate ({step_name}) + {gram_work / 1e9:.0f} in X^T X of the readouts at the best Gram rate "
           f"({gram_name}); floor = {floor:.2f} s")
    xla = (step_work / max(rates["XLA W X float32"], rates["XLA W X float64"])
           + gram_work / rates["XLA X^T X float64"])
    yield (f"  the same work at XLA's own rates (best XLA W X, XLA float64 X^T X): {xla:.2f} s")
    yield from lines


def ring_star_sweep(quick: bool):
    side, n, steps = (20, 100, 2000) if quick else (100, 100, 10_000)
    spec = f"""
name = "ring_star_{n}"
steps = {steps}
seed = 1
precision = "float64"
[populations.neurons]
model = "chialvo"
n = {n}
b = 0.18
init.x = {{ dist = "uniform", low = 0.0, high = 1.0 }}
init.y = {{ dist = "uniform", low = 0.0, high = 1.0 }}
[couplings.star]
kind = "diffusive"
population = "neurons"
graph = {{ kind = "ring_star", ring = {n - 1}, part = "star" }}
strength = 0.01
normalize = "degree"
[couplings.ring]
kind = "diffusive"
population = "neurons"
graph = {{ kind = "ring_star", ring = {n - 1}, part = "ring" }}
strength = 0.01
normalize = "degree"
[record]
transient = {steps // 10}
"""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ring_star.toml"
        path.write_text(spec)
        grid = cartesian([parse_axis(f"couplings.star.strength=0:0.1:{side}"),
                          parse_axis(f"populations.neurons.k=0.0:0.06:{side}")])
        t0 = time.perf_counter()
        res = sweep(path, grid, ["max_lyapunov", "cross_correlation"], out=Path(d) / "s.h5", chunk=1000,
                    progress=False)
        wall = time.perf_counter() - t0
    lam = res.results["max_lyapunov"]
    yield (f"Chialvo ring-star sweep: {grid.n_points:,} points x {steps:,} steps x {n} neurons in {wall:.0f} s "
           f"({grid.n_points / wall:.1f} points/s, compilation included); chaotic (lambda > 0.01) at "
           f"{np.mean(lam > 0.01) * 100:.0f}% of points")


def main(quick: bool = False):
    neurodyn.set_precision("float64")
    yield from skip_missing_peer(esn_sweep(quick))
    yield from ring_star_sweep(quick)
