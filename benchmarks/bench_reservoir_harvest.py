"""Reservoir state harvest against the machine's floor: neurodyn (float32 and float64; W dense or
sparse as ``ESN`` chooses, and both forms forced) beside ReservoirPy 0.4.2's NumPy backend and
its JAX backend (``reservoirpy.jax``), in this process, with the machine's rates measured in the
same run.

Task: an ESN of N units with 10 % recurrent density (ReservoirPy's seed-1 matrices, used by
all), driven by T steps of U(-1, 1) input; N in {500, 1,000, 2,000, 5,000, 10,000}; T = 2,000
up to N = 2,000 and 300 above (per-step times are printed, so sizes compare). Times are the
best of a few calls after compilation (compilation apart).

The floor of a step is the recurrent product's, computed from the work and this machine's best
rates measured here: (a) the bytes a sparse product must move, ``nnz (s + 4) + (N + 1) 4 + 2 N s``
for values of s bytes, at the bandwidth of a NumPy triad ``a = b + 2 c`` on 160 MB arrays
(counting 3 arrays, as STREAM does); (b) the dense product's ``2 N^2`` flops at the best rate
of NumPy's (OpenBLAS) matrix-vector product measured at this N and dtype (which includes what
the caches give a matrix that fits in them). Floor = min(a, b); "fraction" = floor / measured.
The triad streams from memory, so (a) overstates the time of a sparse matrix that fits in cache
(N <= 1,000 here): a fraction above 100 % there means the cache beat the memory floor. The
elementwise work (tanh, leak, input) is not in the floor.

The machine has 2 cores shared with other agents: the load average and the triad bandwidth are
printed (a quiet machine gives about 35 GB/s); only ratios within one run mean anything.
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np

import neurodyn
from benchmarks import best_time, skip_missing_peer

SIZES = (500, 1000, 2000, 5000, 10_000)
DENSITY = 0.1
STEPS = 2000
"""Steps harvested up to N = 2,000."""
LARGE_STEPS = 300
"""Steps harvested above N = 2,000."""


def triad_bandwidth(n: int = 20_000_000) -> float:
    """Bytes per second of ``a = b + 2 c`` (float64, 3 arrays counted), best of 5."""
    b, c, a = np.ones(n), np.ones(n), np.empty(n)
    tmp = np.empty(n)

    def triad():
        np.multiply(c, 2.0, out=tmp)
        np.add(b, tmp, out=a)

    best = best_time(triad, 5)
    # the temporary costs a write and a read more: count the traffic of the fused triad (3 arrays),
    # so the bandwidth is a lower bound on the machine's
    return 3 * 8 * n / best


def gemv_seconds(w_dense: np.ndarray, dtype) -> float:
    """Seconds per product of NumPy's (OpenBLAS) dense ``W @ x`` at this N and dtype: the best of
    3 with OpenBLAS on one thread and on all (its threads stall each other when the cores are
    busy, so the best of the two is the machine's rate)."""
    from threadpoolctl import threadpool_limits

    w = w_dense.astype(dtype)
    x = np.ones(len(w), dtype)
    loops = max(3, min(200, int(4e8 // w.nbytes)))

    def loop():
        for _ in range(loops):
            w @ x

    with threadpool_limits(limits=1, user_api="blas"):
        one = best_time(loop, 3)
    return min(one, best_time(loop, 3)) / loops


def _first_and_best(fn, repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = best_time(fn, repeat)
    return first - best, best


def harvest(quick: bool):
    from reservoirpy.jax.nodes import Reservoir as JaxReservoir
    from reservoirpy.nodes import Reservoir

    from neurodyn.models import ESN
    from neurodyn.readout import harvest as nd_harvest

    bandwidth = triad_bandwidth(2_000_000 if quick else 20_000_000)
    yield (f"machine: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared with other agents); "
           f"NumPy triad {bandwidth / 1e9:.1f} GB/s")
    yield ("per N: times after compilation; ratio = ReservoirPy NumPy / neurodyn; floor and fraction as in the "
           "module docstring; 'auto' is the form ESN chooses (use_sparse)")
    sizes = (300, 1200) if quick else SIZES
    for n in sizes:
        steps = 200 if quick else (STEPS if n <= 2000 else LARGE_STEPS)
        repeat = 3 if n <= 1000 else 1
        u = np.random.default_rng(0).uniform(-1, 1, (steps, 1))
        res = Reservoir(n, sr=0.9, rc_connectivity=DENSITY, seed=1)
        res.run(u[:5])
        w = res.W.tocsr() if hasattr(res.W, "tocsr") else np.asarray(res.W)
        w_in = res.Win.toarray() if hasattr(res.Win, "toarray") else np.asarray(res.Win)
        bias = np.asarray(res.bias.toarray() if hasattr(res.bias, "toarray") else res.bias).reshape(-1)
        nnz = w.nnz if hasattr(w, "nnz") else np.count_nonzero(w)
        t_rpy = best_time(lambda: res.run(u), repeat)
        jres = JaxReservoir(n, sr=0.9, rc_connectivity=DENSITY, seed=1)
        c_jax, t_jax = _first_and_best(lambda: jres.run(u), repeat)
        w_dense = w.toarray() if hasattr(w, "toarray") else w
        yield (f"  N={n:>6} T={steps} nnz={nnz:,}: ReservoirPy NumPy {t_rpy / steps * 1e6:8.1f} us/step, "
               f"JAX {t_jax / steps * 1e6:8.1f} us/step (+{c_jax:.1f} s compile)")
        for dtype in (np.float32, np.float64):
            s = np.dtype(dtype).itemsize
            times = {}
            for form, sparse in (("auto", None), ("dense", False), ("sparse", True)):
                esn = ESN.from_matrices(w, w_in, bias, dtype=dtype, sparse=sparse)
                if form == "auto":
                    chosen = "sparse" if not hasattr(esn.w, "ndim") else "dense"
                _, times[form] = _first_and_best(lambda: nd_harvest(esn, u), repeat)
                del esn
            sparse_floor = (nnz * (s + 4) + (n + 1) * 4 + 2 * n * s) / bandwidth
            gemv = gemv_seconds(w_dense, dtype)
            floor = min(sparse_floor, gemv)
            auto = times["auto"] / steps
            yield (f"    {np.dtype(dtype).name}: neurodyn auto ({chosen}) {auto * 1e6:8.1f} us/step "
                   f"[dense {times['dense'] / steps * 1e6:.1f}, sparse {times['sparse'] / steps * 1e6:.1f}] | "
                   f"x ReservoirPy NumPy {t_rpy / times['auto']:.1f}, JAX {t_jax / times['auto']:.1f} | floor "
                   f"{floor * 1e6:.1f} us/step (sparse bytes {sparse_floor * 1e6:.1f}, dense GEMV "
                   f"{gemv * 1e6:.1f} = {2 * n * n / gemv / 1e9:.1f} GFLOP/s) -> fraction {floor / auto:.0%}")
    yield f"machine at the end: load average {os.getloadavg()[0]:.1f}"


def main(quick: bool = False):
    neurodyn.set_precision("float64")
    yield from skip_missing_peer(harvest(quick))
