"""Diagnostics benchmarks.

1. Sample entropy (m = 2, r = 0.2 SD, strict '<' as nolds counts) of Gaussian noise: neurodyn
   (numba, sorted sweep) against nolds 0.6.2 (O(N^2)) on 5,000 points, and neurodyn alone on
   100,000 points (nolds' time there is extrapolated from its N^2 cost, not run).
2. Edge of chaos: maximal conditional Lyapunov exponent of a 200-unit tanh ESN driven by
   U(-1, 1) input, 1,000 steps per point, on a 100 x 100 grid of (spectral radius, input scaling):
   one vmapped run (one shared W, gains swept) against calling the same jitted function point by
   point (measured on a sample of points and scaled to the grid).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn
from benchmarks import skip_missing_peer
from neurodyn.diagnostics import edge_of_chaos, max_lyapunov, sample_entropy
from neurodyn.models import ESN


def _best(f, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main(quick: bool = False):
    neurodyn.set_precision("float64")
    yield from skip_missing_peer(sample_entropy_against_nolds(quick))
    yield from edge_of_chaos_grid(quick)


def sample_entropy_against_nolds(quick: bool):
    import nolds

    n_small = 2_000 if quick else 5_000
    x = np.random.default_rng(0).normal(size=n_small)
    r = 0.2 * x.std()
    sample_entropy(x[:100], 2, r, closed=False)  # compile
    t_nd = _best(lambda: sample_entropy(x, 2, r, closed=False))
    t_nolds = _best(lambda: nolds.sampen(x, emb_dim=2, tolerance=r), repeat=1 if not quick else 2)
    same = abs(sample_entropy(x, 2, r, closed=False) - nolds.sampen(x, emb_dim=2, tolerance=r))
    yield (f"sample entropy, N = {n_small:,}: neurodyn {t_nd * 1e3:.1f} ms | nolds {t_nolds * 1e3:.0f} ms | "
           f"ratio {t_nolds / t_nd:.0f}x | |difference| {same:.1e}")
    big = np.random.default_rng(1).normal(size=20_000 if quick else 100_000)
    t_big = _best(lambda: sample_entropy(big), repeat=1)
    yield (f"sample entropy, N = {len(big):,}: neurodyn {t_big:.2f} s (SampEn {sample_entropy(big):.4f}); "
           f"nolds extrapolated ~{t_nolds * (len(big) / n_small) ** 2 / 60:.0f} min")


def edge_of_chaos_grid(quick: bool):
    side, steps, units = (20, 300, 100) if quick else (100, 1000, 200)
    base = ESN.create(units, spectral_radius=1.0, input_scaling=1.0, seed=0)
    u = jnp.asarray(np.random.default_rng(2).uniform(-1, 1, (steps, 1)))
    rhos, scales = np.linspace(0.1, 2.5, side), np.linspace(0.01, 2.0, side)

    def make(rho, scale):
        return dataclasses.replace(base, recurrent_gain=rho, input_gain=scale)

    t0 = time.perf_counter()
    res = edge_of_chaos(make, rhos, scales, steps=steps, transient=0, drive=u, chunk=1000)
    t_grid = time.perf_counter() - t0
    one = jax.jit(lambda rho, scale: max_lyapunov(make(rho, scale), steps, drive=u, key=jax.random.PRNGKey(0)))
    one(rhos[0], scales[0]).block_until_ready()
    sample = [(rhos[i % side], scales[(7 * i) % side]) for i in range(20 if quick else 50)]
    t0 = time.perf_counter()
    vals = [float(one(a, b)) for a, b in sample]
    t_loop = (time.perf_counter() - t0) / len(sample) * side * side
    # in the ordered region trajectories converge, so batched and single runs must agree to
    # rounding; in the chaotic region rounding differences grow and finite-time estimates differ
    grid_vals = [res.exponent[i % side, (7 * i) % side] for i in range(len(sample))]
    check = max([abs(v - g) for v, g in zip(vals, grid_vals) if g < -0.05] or [np.nan])
    crossing = np.nanmean(res.boundary)
    yield (f"edge of chaos {side}x{side} grid, ESN N = {units}, {steps} steps: vmapped {t_grid:.1f} s "
           f"({side * side / t_grid:.0f} points/s, compilation included) | point-by-point loop {t_loop:.0f} s "
           f"(from {len(sample)} points, after compilation) | ratio {t_loop / t_grid:.0f}x | "
           f"max |diff| at ordered points {check:.1e} | "
           f"mean zero-crossing in input scaling {crossing:.2f}")
