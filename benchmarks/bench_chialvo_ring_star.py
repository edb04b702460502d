"""Chialvo ring-star network: neurodyn (JAX, one compiled scan per chunk) against the same
computation in plain NumPy (one vectorised update per step, the same structured algorithm:
rolls for the ring, a sum for the hub).

Network: hub + ring of n - 1 Chialvo neurons (b = 0.18, chaotic bursting), star coupling mu
(hub normalised by its degree: (mu / (n - 1)) sum_j (x_j - x_hub); leaves mu (x_hub - x_i)),
ring coupling sigma / 2R (R = 1); optionally the linear triadic coupling on the ring-star's
triangles, normalised per triangle (the hub sits in n - 1 triangles). x is recorded every 100 steps in both implementations.

The linear triadic term is linear in x: neurodyn precomputes it once as a weighted pairwise
diffusion (W_ij = triangles holding edge ij; here a star of weight 2 plus the ring) and runs it on
the same star and circulant kernels, so the triadic network costs about as much per step as the
pairwise one (the last lines print that ratio). The NumPy reference keeps the direct form, a
gather per triangle and a bincount.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import neurodyn as nd
from neurodyn.models import chialvo_ring_star
from neurodyn.connectivity import ring_star, triangles

MU, SIGMA, SIGMA2 = 0.01, 0.02, 0.002
EVERY = 100


def numpy_run(x, y, steps, *, triadic: bool, dtype, every: int = EVERY):
    """Plain NumPy, one vectorised update per step (independent of neurodyn)."""
    x, y = x.astype(dtype), y.astype(dtype)
    a, b, c, k = (dtype(v) for v in (0.89, 0.18, 0.28, 0.03))
    mu, sig, sig2 = dtype(MU), dtype(SIGMA / 2), dtype(SIGMA2)
    n = len(x)
    if triadic:
        tris = triangles(ring_star(n - 1))
        per_node = np.bincount(tris.ravel(), minlength=n)
    out = []
    for s in range(steps):
        if s % every == 0:
            out.append(x.copy())
        ring = x[1:]
        d = np.empty_like(x)
        d[0] = mu * np.sum(ring - x[0]) / dtype(n - 1)
        d[1:] = mu * (x[0] - ring) + sig * ((np.roll(ring, 1) - ring) + (np.roll(ring, -1) - ring))
        if triadic:
            v = x[tris]
            contrib = (v[:, [1, 2, 0]] - v) + (v[:, [2, 0, 1]] - v)
            d += sig2 * (np.bincount(tris.ravel(), weights=contrib.ravel(), minlength=n) / per_node).astype(dtype)
        x, y = x * x * np.exp(y - x) + k + d, a * y - b * x + c
    return np.array(out)


def _best(f, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(quick: bool = False):
    nd.set_precision("float64")
    n, steps = (200, 5_000) if quick else (1_000, 100_000)
    np_steps = steps if not quick else steps
    yield f"n = {n} neurons, {steps:,} steps, x recorded every {EVERY} steps; best of 3 after compilation"
    times = {}
    for triadic in (False, True):
        for dtype in (np.float32, np.float64):
            net = chialvo_ring_star(n - 1, star=MU, ring_strength=SIGMA, triadic=SIGMA2 if triadic else 0.0,
                                    star_normalize="degree", triadic_normalize="triangles", b=0.18,
                                    dtype=dtype)
            if not triadic:
                net = nd.Network(net.populations, {k: v for k, v in net.projections.items() if k != "triadic"})
            state = net.init(jax.random.PRNGKey(0))

            def jax_run():
                return nd.simulate(net, steps, state=state, every=EVERY, record=("neurons.x",), progress=False)

            traj = jax_run()  # compile
            t_jax = _best(jax_run)
            x0, y0 = np.asarray(state["neurons"].x), np.asarray(state["neurons"].y)
            # both compute the same thing: compare after 10 steps (chaos amplifies rounding later)
            ref = numpy_run(x0, y0, 20, triadic=triadic, dtype=dtype, every=10)
            short = nd.simulate(net, 20, state=state, every=10, record=("neurons.x",), progress=False)
            agree = np.max(np.abs(ref - short["neurons.x"]))
            np_reps = 1 if not quick else 3
            t_np = _best(lambda: numpy_run(x0, y0, np_steps, triadic=triadic, dtype=dtype), repeat=np_reps)
            t_np *= steps / np_steps
            label = f"{'star+ring+triadic' if triadic else 'star+ring'} {np.dtype(dtype).name}"
            times[triadic, np.dtype(dtype).name] = t_jax
            yield (
                f"  {label:28s} neurodyn {t_jax:6.3f} s ({steps / t_jax:10,.0f} steps/s, "
                f"{n * steps / t_jax / 1e6:7.1f} M neuron-updates/s) | NumPy {t_np:6.2f} s "
                f"({steps / t_np:8,.0f} steps/s) | ratio {t_np / t_jax:5.1f}x | max |diff| at step 10 {agree:.0e}")
            assert traj["neurons.x"].shape == (steps // EVERY, n)
    for name in ("float32", "float64"):
        yield (f"  neurodyn time star+ring+triadic / star+ring, {name}: "
               f"{times[True, name] / times[False, name]:.2f}x")
