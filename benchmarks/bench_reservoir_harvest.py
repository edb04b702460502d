"""Reservoir state harvest: neurodyn against ReservoirPy 0.4.2 (NumPy backend and its JAX
backend, ``reservoirpy.jax``), side by side in this process, with this machine's matrix-vector
rates measured in the same run.

Task: an ESN of N units with 10 % recurrent density (ReservoirPy's seed-1 matrices, used by
both), driven by T = 10,000 steps of U(-1, 1) input (N = 10,000: 500 steps, ReservoirPy's
NumPy backend needs ~20 ms a step there; per-step times are printed so sizes compare). Times
are the best of a few calls after compilation; compilation is reported apart.

Machine rates (the floor): a NumPy loop of dense ``W @ x`` (float32/64), a loop of scipy.sparse
CSR ``W @ x`` (float64, 10 % density), and one jitted XLA ``lax.scan`` of ``tanh(W x)`` dense
(float32) and with a ``jax.experimental.sparse`` BCOO matrix. neurodyn's ESN steps a dense W; the
line "dense vs sparse" says which form is faster here at each N (the measurement behind that
choice). The machine has 2 cores shared with other jobs: timings are noisy (a few 10 %).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn
from benchmarks import best_time, skip_missing_peer

SIZES = (500, 1000, 2000, 10_000)
DENSITY = 0.1


def _first_and_best(fn, repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = best_time(fn, repeat)
    return first - best, best  # compilation, run


def machine_rates(w_dense: np.ndarray, steps: int) -> dict:
    """Seconds per step of the matrix-vector forms this machine offers (see the module docstring)."""
    import scipy.sparse as sp
    from jax.experimental import sparse as jsparse

    n = w_dense.shape[0]
    loops = max(20, min(steps, int(2e9 // (2 * n * n))))  # each form a fraction of a second
    out = {}
    for dtype in (np.float32, np.float64):
        w = w_dense.astype(dtype)
        x = np.ones(n, dtype)

        def numpy_loop(w=w, x=x):
            for _ in range(loops):
                x = np.tanh(w @ x)
            return x

        out[f"numpy dense {np.dtype(dtype).name}"] = best_time(numpy_loop, 3) / loops
    csr = sp.csr_matrix(w_dense)

    def scipy_loop():
        x = np.ones(n)
        for _ in range(loops):
            x = np.tanh(csr @ x)
        return x

    out["scipy CSR float64"] = best_time(scipy_loop, 3) / loops
    w32 = jnp.asarray(w_dense, jnp.float32)
    dense_scan = jax.jit(lambda w, x: jax.lax.scan(lambda x, _: (jnp.tanh(w @ x), None), x, None, length=loops)[0])
    x0 = jnp.ones(n, jnp.float32)
    _, t = _first_and_best(lambda: dense_scan(w32, x0), 3)
    out["XLA scan dense float32"] = t / loops
    bcoo = jsparse.BCOO.fromdense(w32)
    sparse_scan = jax.jit(lambda w, x: jax.lax.scan(lambda x, _: (jnp.tanh(w @ x), None), x, None, length=loops)[0])
    _, t = _first_and_best(lambda: sparse_scan(bcoo, x0), 3)
    out["XLA scan BCOO float32"] = t / loops
    return out


def harvest(quick: bool):
    from reservoirpy.jax.nodes import Reservoir as JaxReservoir
    from reservoirpy.nodes import Reservoir

    from neurodyn.models import ESN
    from neurodyn.readout import harvest as nd_harvest

    sizes = (300, 600) if quick else SIZES
    yield ("ESN harvest, 10 % density; times after compilation (compile apart); ratio = ReservoirPy / neurodyn; "
           "rates in GFLOP/s counting 2 N^2 (dense) or 2 nnz (sparse) per step")
    for n in sizes:
        steps = 1000 if quick else (500 if n >= 10_000 else 10_000)
        repeat = 1 if n >= 2000 else 3
        u = np.random.default_rng(0).uniform(-1, 1, (steps, 1))
        res = Reservoir(n, sr=0.9, rc_connectivity=DENSITY, seed=1)
        res.run(u[:5])
        w = res.W.toarray() if hasattr(res.W, "toarray") else np.asarray(res.W)
        w_in = res.Win.toarray() if hasattr(res.Win, "toarray") else np.asarray(res.Win)
        bias = np.asarray(res.bias.toarray() if hasattr(res.bias, "toarray") else res.bias).reshape(-1)
        t_rpy = best_time(lambda: res.run(u), repeat)

        jres = JaxReservoir(n, sr=0.9, rc_connectivity=DENSITY, seed=1)
        c_jax, t_jax = _first_and_best(lambda: jres.run(u), repeat)

        times = {}
        for dtype in (np.float32, np.float64):
            esn = ESN.from_matrices(w, w_in, bias, dtype=dtype)
            c, t = _first_and_best(lambda: nd_harvest(esn, u), repeat)
            times[np.dtype(dtype).name] = (c, t)
        rates = machine_rates(w, steps)
        nnz = np.count_nonzero(w)
        c32, t32 = times["float32"]
        c64, t64 = times["float64"]
        yield (f"  N={n:>6} T={steps}: ReservoirPy NumPy {t_rpy:.3f} s ({t_rpy / steps * 1e6:.0f} us/step) | "
               f"ReservoirPy JAX {t_jax:.3f} s (+{c_jax:.2f} s compile) | neurodyn float32 {t32:.3f} s "
               f"(+{c32:.2f} s compile), float64 {t64:.3f} s (+{c64:.2f} s)")
        yield (f"    ratios vs neurodyn float32: ReservoirPy NumPy {t_rpy / t32:.1f}x, JAX {t_jax / t32:.1f}x; "
               f"vs float64: NumPy {t_rpy / t64:.1f}x, JAX {t_jax / t64:.1f}x")
        dense_flop, sparse_flop = 2 * n * n, 2 * nnz
        rate_text = ", ".join(f"{k} {(sparse_flop if ('CSR' in k or 'BCOO' in k) else dense_flop) / s / 1e9:.1f}"
                              for k, s in rates.items())
        yield f"    machine (GFLOP/s): {rate_text}"
        best_dense = min(s for k, s in rates.items() if "dense" in k)
        best_sparse = min(s for k, s in rates.items() if "CSR" in k or "BCOO" in k)
        floor = min(best_dense, best_sparse) * steps
        yield (f"    floor {floor:.3f} s (best form: {'dense' if best_dense <= best_sparse else 'sparse'}, "
               f"{min(best_dense, best_sparse) * 1e6:.1f} us/step); neurodyn float32 reaches "
               f"{floor / t32 * 100:.0f}% of it; dense vs sparse in XLA: "
               f"{rates['XLA scan dense float32'] * 1e6:.1f} vs {rates['XLA scan BCOO float32'] * 1e6:.1f} us/step "
               f"-> {'dense' if rates['XLA scan dense float32'] <= rates['XLA scan BCOO float32'] else 'sparse'}")


def main(quick: bool = False):
    neurodyn.set_precision("float64")
    yield from skip_missing_peer(harvest(quick))
