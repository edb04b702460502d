"""All-to-all Kuramoto, mean-field form, RK4: neurodyn against a straightforward vectorised
NumPy implementation of the same update, plus the machine's memory bandwidth for context.

N = 100,000 oscillators (Lorentzian quantile frequencies, K = 2), 10,000 RK4 steps of dt = 0.05
for neurodyn; NumPy runs 300 steps and is scaled to 10,000 (its cost per step is constant).
Bytes per step: RK4 reads theta and omega and writes theta at least once (12 B per oscillator in
float32, 24 B in float64) -- the compulsory traffic; the bound quoted is that traffic at the
measured triad bandwidth.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import neurodyn as nd
from neurodyn.models import KuramotoMeanField, natural_frequencies


def numpy_rk4(theta, omega, k, dt, steps):
    """Straightforward vectorised NumPy mean-field RK4 (independent of neurodyn)."""

    def f(th):
        c, s = np.cos(th), np.sin(th)
        return omega + k * (s.mean() * c - c.mean() * s)

    for _ in range(steps):
        k1 = f(theta)
        k2 = f(theta + dt / 2 * k1)
        k3 = f(theta + dt / 2 * k2)
        k4 = f(theta + dt * k3)
        theta = theta + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return theta


def triad_bandwidth(n=20_000_000) -> float:
    """STREAM-like add ``a = b + c`` in NumPy on arrays far larger than the caches: bytes/s,
    counting the two reads and one write (best of 5)."""
    b, c = np.ones(n), np.ones(n)
    a = np.empty(n)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        np.add(b, c, out=a)
        best = min(best, time.perf_counter() - t0)
    return 3 * 8 * n / best


def main(quick: bool = False):
    nd.set_precision("float64")
    n, steps, np_steps = (10_000, 1_000, 100) if quick else (100_000, 10_000, 300)
    bw = triad_bandwidth(2_000_000 if quick else 20_000_000)
    yield f"N = {n:,}, {steps:,} RK4 steps (NumPy: {np_steps} steps, scaled); memory bandwidth (NumPy a = b + c) {bw / 1e9:.1f} GB/s"
    omega = natural_frequencies(n, "lorentzian", 0.5, quantile=True)
    for dtype in (np.float32, np.float64):
        model = KuramotoMeanField.create(n, omega=omega, coupling=2.0, dt=0.05, dtype=dtype)
        state = model.init(jax.random.PRNGKey(0))
        run = jax.jit(lambda m, s: nd.run(m, s, steps, every=100, record=("r",)))
        out = run(model, state)
        jax.block_until_ready(out)
        best = np.inf
        for _ in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(run(model, state))
            best = min(best, time.perf_counter() - t0)
        theta0 = np.asarray(state.theta)
        t0 = time.perf_counter()
        ref = numpy_rk4(theta0.astype(dtype), omega.astype(dtype), dtype(2.0), dtype(0.05), np_steps)
        t_np = (time.perf_counter() - t0) * steps / np_steps
        check = nd.run(model, state, np_steps)[0].theta
        r_ref = abs(np.exp(1j * ref).mean())
        r_nd = abs(np.exp(1j * np.asarray(check, float)).mean())
        compulsory = 3 * np.dtype(dtype).itemsize * n
        bound = compulsory * steps / bw
        yield (f"  {np.dtype(dtype).name}: neurodyn {best:6.2f} s ({best / steps / n * 1e9:5.2f} ns per oscillator-step) | "
               f"NumPy {t_np:7.1f} s ({t_np / steps / n * 1e9:6.1f} ns) | ratio {t_np / best:5.1f}x | "
               f"bandwidth bound {bound:5.2f} s ({compulsory / 1e6:.1f} MB/step), neurodyn at {best / bound:4.1f}x it | "
               f"r after {np_steps} steps: {r_nd:.4f} vs NumPy {r_ref:.4f}; final <r> {float(out[1]['r'][-10:].mean()):.4f} "
               f"(theory {np.sqrt(0.5):.4f})")
    yield from kpz_crossover(quick)


def kpz_crossover(quick: bool):
    """EW -> KPZ drift of the growth exponent on the 1-D ring (too slow for the test suite)."""
    from neurodyn.diagnostics import growth_exponent, width_growth
    from neurodyn.models import PhaseLattice1D

    size, steps, reps = (256, 4_000, 2) if quick else (1024, 40_000, 8)
    t_end = steps * 0.05
    yield f"1-D lattice L = {size}, {reps} realizations, Euler-Maruyama dt = 0.05 to t = {t_end:g}"
    for label, a, d in (("odd (EW), D = 0.1", 0.0, 0.1), ("non-odd a = 2, D = 0.05", 2.0, 0.05)):
        model = PhaseLattice1D.create(size, coupling=1.0, nonodd=a, noise=d, dt=0.05)
        t0 = time.perf_counter()
        times, w = width_growth(model, reps, steps, 20)
        wall = time.perf_counter() - t0
        windows = ((20.0, t_end - 1), (200.0, t_end - 1)) if not quick else ((2.0, t_end - 1),)
        fits = ", ".join(f"beta on t in [{lo:g}, {hi:g}] = {growth_exponent(times, w, lo, hi):.3f}" for lo, hi in windows)
        yield (f"  {label}: {fits}  ({reps * size * steps / wall / 1e6:.0f} M oscillator-steps/s incl. compile, "
               f"{wall:.1f} s)")
