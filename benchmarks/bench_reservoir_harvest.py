"""Reservoir state harvest against the machine's floor: neurodyn (float32 and float64; W dense or
sparse as ``ESN`` chooses, and both forms forced) beside ReservoirPy 0.4.2's NumPy backend and
its JAX backend (``reservoirpy.jax``), in this process, with the machine's rates measured in the
same run.

Task: an ESN of N units with 10 % recurrent density (ReservoirPy's seed-1 matrices up to N =
2,000 and the same construction scaled by the circular law above, used by all), driven by T steps of U(-1, 1) input; N in {500, 1,000, 2,000, 5,000, 10,000}; T = 2,000
up to N = 2,000 and 300 above (per-step times are printed, so sizes compare). Times are the
best of a few rounds after compilation, each round timing every variant once in turn.

The floor of a step is the recurrent product's, from the work and this machine's rates measured in
the same run (the elementwise work, tanh, leak and input, is not in it):

* sparse: the product must move ``nnz (s + c) + (N + 1) 4 + 2 N s`` bytes (values of s bytes,
  column indices of c = 2 bytes up to 65,536 columns, else 4) and do ``nnz`` gathered
  multiply-adds. Its floor is the larger of the bytes at the bandwidth of a triad
  ``a = b + 2 c`` whose three arrays hold as many bytes (so a matrix that fits in a cache is
  timed against that cache, not against memory; compiled by numba, on one thread and on every
  core, the better counted) and the multiply-adds at the best rate of a hand-written CSR loop
  (numba, four partial sums) times the number of cores. That rate is measured on 4,000
  non-zeros in rows of this N's mean length (50 at N = 500) with its column-index width, ``x``
  of its N entries (at most 16 KiB of them), all in the first cache levels: a row's fixed cost
  is spread over its length, so rows of 50 run at about 3.0 G non-zeros/s a core here where the
  20-a-row matrix of earlier runs (printed in the header) gave 2.6: that earlier rate made the
  floor at N = 500 about 13 % too lenient;
* dense: the best of NumPy's (OpenBLAS) ``W @ x`` at this N and dtype, on one thread and on all.

Each of these rates (triad, CSR loop, GEMV) is the best of its measures in the run: measured
for each N before and after the timings (best of 5-25 timings each; the CSR loop three times
each), and the best kept, since a
measure during which another agent held a core reads low (the in-L1 CSR rate read 1.6-2.6 G
non-zeros/s in single measures). The CSR loop, on one core, is timed by that thread's CPU time.
The bandwidth of a product is at least the memory's (the triad on 480 MB, measured at the start
and again with each N's rates), whatever its size's own two measures read.

Floor = min(sparse, dense); "fraction" = floor / measured time of neurodyn's automatic choice.
This floor is not reachable by a recurrence where the matrix is in cache (N up to about 2,000):
it counts two cores at the in-cache CSR rate with nothing for their meeting, which every step
needs (step t reads all of step t - 1's states).

The second floor, "recurrence floor", is a hand loop of the recurrence itself, timed in the same
run: numba, the same CSR matrix (16-bit column indices up to 65,536 columns), the input term
``v_t`` precomputed for all steps as neurodyn's ESN does, each row's product with four partial
sums, then ``(1 - a) x + a tanh(pre)`` over the rows (tanh by a vectorised approximation: the
C library's takes about 20 ns a call, which at N = 500 would be most of a step), T dependent
steps; on one thread, and on two threads with fixed halves of the rows (equal non-zeros) that
meet after every step at the cheapest barrier we could write (each thread counts its steps done
in a word of its own cache line and spins until the other's count reaches the step; after 1,000
tries, which a quiet machine never needs, it yields its core on each further try, so that on the
busy machine the thread it waits for can run). Its time is the better of the two. It has no column blocking, so above N = 2,048 (float64)
or 4,096 (float32), where neurodyn's kernel reads W in column blocks, it is not a floor (and is
not run above N = 5,000); it is what the machine reaches for the whole step where the step is
compute-bound and the two cores must meet every step. The two threads are Python threads
running the numba loop without the GIL, started for each call (about 0.1 ms, under 1 % of a
call here). It shares nothing with neurodyn's kernel but its tanh approximations
(:func:`neurodyn.ops._leaky_recurrence_kernel.tanh32` / ``tanh64``: Eigen's float32 rational one,
a float64 one within 2 ulp) and the atomic load and add and the ``sched_yield`` call of
:mod:`neurodyn.ops._threads`.

Each line ends with what the cores do **together** for the same work, measured in the same run and
printed beside the floor, not in it: the CSR loop on every core at once (a thread per core, each
on its own copy of the rows, wall time; :func:`csr_rate_both_cores`), where the floor counts the
cores times one core's rate, and the product's bytes read by every core with no arithmetic (a
vectorised dot product per core; :func:`read_bandwidth`), where the floor takes the triad, which
also writes. Their time, the larger of the two, is what the product itself would take at those
rates; on this machine's two vCPUs the first has read from 0.5x to 1.0x of twice one core's rate.

The machine has 2 cores shared with other agents: the load average and the triad bandwidth are
printed (a quiet machine gives about 35 GB/s); only ratios within one run mean anything.
"""

from __future__ import annotations

import functools
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
DENSE_MAX_UNITS = 5000
"""Above this the dense forms (neurodyn's forced dense W, the GEMV floor) are not run: 400-800 MB
a matrix, 5-10x slower than sparse at N = 5,000, and minutes of the shared machine."""


HAND_MAX_UNITS = 5000
"""Above this the recurrence floor's hand loop is not run (module docstring)."""


@functools.cache
def _row_sum():
    """Row ``i`` of a CSR product, ``sum_k data[k] x[indices[k]]``, in four partial sums with
    unsigned offsets: the one row sum of the floor's in-L1 CSR loop and of the recurrence floor's
    hand loop (numba, imported here only; inlined into both)."""
    import numba

    @numba.njit(inline="always")
    def row_sum(indptr, indices, data, x, i):
        s0 = s1 = s2 = s3 = data[0] * 0
        k, end = np.uint64(indptr[i]), np.uint64(indptr[i + 1])
        one = np.uint64(1)
        while k + np.uint64(4) <= end:
            s0 += data[k] * x[indices[k]]
            s1 += data[k + one] * x[indices[k + one]]
            s2 += data[k + np.uint64(2)] * x[indices[k + np.uint64(2)]]
            s3 += data[k + np.uint64(3)] * x[indices[k + np.uint64(3)]]
            k += np.uint64(4)
        while k < end:
            s0 += data[k] * x[indices[k]]
            k += one
        return (s0 + s1) + (s2 + s3)

    return row_sum


def _machine_loops():
    """The triad and CSR loops of the floor, compiled by numba (imported here only)."""
    import numba

    @numba.njit(parallel=True)
    def triad_parallel(a, b, c, loops, parts):
        n = len(a)
        for _ in range(loops):
            for p in numba.prange(parts):
                for i in range(p * n // parts, (p + 1) * n // parts):
                    a[i] = b[i] + 2 * c[i]

    @numba.njit
    def triad(a, b, c, loops):
        for _ in range(loops):
            for i in range(len(a)):
                a[i] = b[i] + 2 * c[i]

    row_sum = _row_sum()

    @numba.njit(nogil=True)  # nogil: csr_rate_both_cores runs it on every core at once
    def csr(indptr, indices, data, x, y, loops):
        for _ in range(loops):
            for i in range(len(y)):
                y[i] = row_sum(indptr, indices, data, x, i)

    return triad, triad_parallel, csr


def _recurrence_loops(dtype):
    """The hand loop of the recurrence floor (module docstring), compiled by numba for ``dtype``:
    ``(one_thread, one_half)``."""
    import numba

    from neurodyn.ops._leaky_recurrence_kernel import tanh32, tanh64
    from neurodyn.ops._threads import call_int, fetch_add, load_acquire

    tanh = tanh32 if dtype == np.float32 else tanh64
    row_sum = _row_sum()

    @numba.njit(nogil=True, error_model="numpy")
    def step(indptr, indices, data, v, y, x0, leak, lo, hi, t, pre):
        x = x0 if t == 0 else y[t - 1]
        for i in range(lo, hi):
            pre[i - lo] = row_sum(indptr, indices, data, x, i) + v[t, i]
        keep = 1 - leak
        for i in range(lo, hi):
            y[t, i] = keep * x[i] + leak * tanh(pre[i - lo])

    @numba.njit(nogil=True)
    def one_thread(indptr, indices, data, v, y, x0, leak):
        pre = np.empty(len(x0), y.dtype)
        for t in range(v.shape[0]):
            step(indptr, indices, data, v, y, x0, leak, 0, len(x0), t, pre)

    @numba.njit(nogil=True)
    def one_half(indptr, indices, data, v, y, x0, leak, lo, hi, counts, me, yield_address):
        # counts: this thread's steps done at word 8 me, the other's at 8 (1 - me) (own cache lines)
        pre = np.empty(hi - lo, y.dtype)
        mine, other = counts.ctypes.data + 64 * me, counts.ctypes.data + 64 * (1 - me)
        for t in range(v.shape[0]):
            tries = 0
            while load_acquire(other) < t:
                tries += 1
                if tries > 1000:  # the other thread was descheduled (never on a quiet machine): let it run
                    call_int(yield_address)
            step(indptr, indices, data, v, y, x0, leak, lo, hi, t, pre)
            fetch_add(mine, 1)

    return one_thread, one_half


def hand_recurrence(w, v, x0, leak, dtype):
    """The hand loop of the recurrence floor (module docstring) for the scipy CSR matrix ``w``,
    the input terms ``v`` ``(T, N)``, ``x0`` and leak rate ``leak`` in ``dtype``:
    ``(one_thread, two_threads, y)``, two functions that each write the ``(T, N)`` states into
    ``y``."""
    from neurodyn.ops._threads import sched_yield_address

    one_thread, one_half = _recurrence_loops(dtype)
    indptr = w.indptr.astype(np.uint32)
    indices = w.indices.astype(np.uint16 if w.shape[1] <= 65536 else np.uint32)
    data, v, x0 = w.data.astype(dtype), v.astype(dtype), x0.astype(dtype)
    leak = dtype(leak)
    y = np.empty(v.shape, dtype)
    half = int(np.searchsorted(indptr, indptr[-1] // 2))

    def single():
        one_thread(indptr, indices, data, v, y, x0, leak)

    yield_address = sched_yield_address()

    def two():
        counts = np.zeros(16, np.int64)
        on_every_core([lambda lo=lo, hi=hi, me=me: one_half(indptr, indices, data, v, y, x0, leak, lo, hi, counts, me,
                                                   yield_address) for lo, hi, me in ((0, half, 0), (half, len(x0), 1))])

    return single, two, y


def recurrence_floor(w, v, x0, leak, dtype, repeat: int) -> tuple[float, float]:
    """Seconds per call of the hand loop of the recurrence (:func:`hand_recurrence`) over the
    steps of ``v``: ``(one thread, two threads)``, each the best of ``repeat`` after a first
    (compiling) call."""
    single, two, _ = hand_recurrence(w, v, x0, leak, dtype)
    single(), two()
    return best_time(single, repeat), best_time(two, repeat)


def triad_bandwidth(nbytes: float, loops=None) -> float:
    """Bytes per second of ``a = b + 2 c`` on three float64 arrays of ``nbytes`` in all (3 arrays
    counted, as STREAM does), the best of one thread and of every core (best of 5 each)."""
    triad, triad_parallel, _ = loops or _machine_loops()
    n = max(512, int(nbytes / 24))
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    reps = max(1, int(2e8 // (24 * n)))  # about 0.2 GB of traffic a timing
    cores = os.cpu_count() or 1
    triad(a, b, c, 1), triad_parallel(a, b, c, 1, cores)
    one = best_time(lambda: triad(a, b, c, reps), 5)
    every = best_time(lambda: triad_parallel(a, b, c, reps, cores), 5)
    return 24 * n * reps / min(one, every)


def csr_matrix_of_rows(rows: int, row_nnz: int, n_cols: int, dtype, index):
    """CSR arrays ``(indptr uint32, indices, data)`` of ``rows`` rows of exactly ``row_nnz``
    non-zeros each, in distinct random columns ``0 <= j < n_cols`` (sorted, as scipy stores them),
    column indices of type ``index``: the matrix on which :func:`csr_rate` times the row sums."""
    rng = np.random.default_rng(0)
    row_nnz = min(row_nnz, n_cols)
    indices = np.concatenate([np.sort(rng.choice(n_cols, row_nnz, replace=False)) for _ in range(rows)])
    indptr = (np.arange(rows + 1) * row_nnz).astype(np.uint32)
    return indptr, indices.astype(index), rng.uniform(-1, 1, rows * row_nnz).astype(dtype)


CSR_RATE_NNZ = 4000
"""Non-zeros of the matrix on which :func:`csr_rate` times the CSR loop (24-48 KB with its
indices: in the first two cache levels, so its time is the loop's, not the memory's)."""


def csr_rate(dtype, loops=None, row_nnz: int = 0, n_cols: int = 200, index=np.uint32) -> float:
    """Non-zeros per second of a hand-written CSR ``W @ x`` on one core with W and ``x`` in the
    first cache levels, best CPU time of 25 (:func:`best_cpu_time`): ``row_nnz = 0``, a 200 x 200 scipy random matrix at 10 %
    (4,000 non-zeros, 20 a row; the rate printed in the header); else :data:`CSR_RATE_NNZ`
    non-zeros in rows of ``row_nnz`` over ``n_cols`` columns with ``index`` column indices
    (:func:`csr_matrix_of_rows`), the shape of a given product's rows: a row's fixed cost is
    spread over its length (N = 500 at 10 %, 50 a row with 16-bit indices: about 3.0 G
    non-zeros/s against 2.6 for 20 a row with 32-bit ones)."""
    *_, csr = loops or _machine_loops()
    if row_nnz:
        indptr, indices, data = csr_matrix_of_rows(max(1, CSR_RATE_NNZ // row_nnz), row_nnz, n_cols, dtype, index)
        rows = len(indptr) - 1
    else:
        import scipy.sparse as sp

        a = sp.random(200, 200, 0.1, random_state=0, format="csr", dtype=dtype)
        # unsigned indices: numba then drops the test for negative ones (a 2-3x slower loop)
        indptr, indices, data, rows = a.indptr.astype(np.uint32), a.indices.astype(np.uint32), a.data, 200
    x, y = np.ones(n_cols, dtype), np.zeros(rows, dtype)
    reps = max(1, 2_000_000 // len(data))
    csr(indptr, indices, data, x, y, 1)
    return len(data) * reps / best_cpu_time(lambda: csr(indptr, indices, data, x, y, reps), 25)


def on_every_core(calls) -> float:
    """Wall seconds to run ``calls`` (one callable a core) at once: the first on this thread, each
    other on a thread started for it (the calls must release the GIL to overlap)."""
    import threading

    others = [threading.Thread(target=c) for c in calls[1:]]
    t0 = time.perf_counter()
    for t in others:
        t.start()
    calls[0]()
    for t in others:
        t.join()
    return time.perf_counter() - t0


def csr_rate_both_cores(dtype, loops=None, row_nnz: int = 50, n_cols: int = 500, index=np.uint16,
                        repeat: int = 15) -> float:
    """Non-zeros per second of the CSR loop of :func:`csr_rate` run on every core at once (each
    thread its own copy of the matrix of :func:`csr_matrix_of_rows`, in its own core's cache), by
    wall time, best of ``repeat``: what the cores do together, where the floor counts the cores
    times one core's rate (two vCPUs of a shared host do not always add up to twice one)."""
    *_, csr = loops or _machine_loops()
    cores = os.cpu_count() or 1
    copies = []
    for _ in range(cores):
        indptr, indices, data = csr_matrix_of_rows(max(1, CSR_RATE_NNZ // row_nnz), row_nnz, n_cols, dtype, index)
        copies.append((indptr, indices, data, np.ones(n_cols, dtype), np.zeros(len(indptr) - 1, dtype)))
    reps = max(1, 20_000_000 // len(copies[0][2]))  # ~10 ms a thread
    csr(*copies[0], 1)
    calls = [lambda c=c: csr(*c, reps) for c in copies]
    best = min(on_every_core(calls) for _ in range(repeat))
    return cores * len(copies[0][2]) * reps / best


def read_bandwidth(nbytes: float, repeat: int = 5) -> float:
    """Bytes per second at which this machine reads an array of ``nbytes`` (float64) and does
    nothing else: a dot product of each core's part with itself on a thread per core (NumPy's
    BLAS on one thread each: vectorised, so the arithmetic does not bound it), and of the whole on
    one thread, best of ``repeat`` each. Read-only, as the product reads W (the triad also
    writes)."""
    from threadpoolctl import threadpool_limits

    cores = os.cpu_count() or 1
    a = np.ones(max(cores * 512, int(nbytes / 8)))
    parts = np.array_split(a, cores)
    reps = max(1, int(4e8 // a.nbytes))  # about 0.4 GB read a timing

    def read(v):
        for _ in range(reps):
            v.dot(v)

    with threadpool_limits(limits=1, user_api="blas"):
        read(a[:1024])
        best = min(min(on_every_core([lambda: read(a)]), on_every_core([lambda v=v: read(v) for v in parts]))
                   for _ in range(repeat))
    return a.nbytes * reps / best


def best_cpu_time(fn, repeat: int) -> float:
    """Best CPU time of the calling thread (``time.thread_time``) in seconds over ``repeat`` calls
    of ``fn()``, which runs on that thread only: what one core does while it runs the loop, whether
    or not the shared machine took the core away for a while (a wall-clock best of 25 read as low
    as 2.0 G non-zeros/s at load 3 where the CPU time gave 2.9-3.0 in the same minute)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


class BestRates:
    """The best value of each of the floor's rates measured so far in the run (a floor is the best
    the machine did: a rate measured while another agent held a core is too low, so each is
    measured several times over the run and its best kept)."""

    def __init__(self):
        self.best: dict = {}

    def __call__(self, key, measure) -> float:
        """``measure()`` once more; the best of it and the earlier measures under ``key``."""
        self.best[key] = max(self.best.get(key, 0.0), measure())
        return self.best[key]


def row_shape(dtype, n: int, nnz: int) -> tuple:
    """``(row_nnz, n_cols, index)`` of the rows on which the floor's CSR loop is timed for an N x N
    product with ``nnz`` non-zeros: this product's mean row length, ``x`` of its N entries up to
    16 KiB (beyond, the first 16 KiB worth of columns: the largest ``x`` the first-level cache holds
    beside W) and its column-index width (16 bits up to 65,536 columns)."""
    return max(1, round(nnz / n)), min(n, 16384 // np.dtype(dtype).itemsize), np.uint16 if n <= 65536 else np.uint32


def row_rate(rates: BestRates, dtype, n: int, nnz: int, loops) -> float:
    """The CSR loop's best rate (:func:`csr_rate`) for rows of this product's shape (:func:`row_shape`)."""
    shape = row_shape(dtype, n, nnz)
    return rates((np.dtype(dtype).name, *shape), lambda: csr_rate(dtype, loops, *shape))


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


def _rpy_reservoir(kind, n: int):
    """ReservoirPy's seed-1 reservoir of n units (10 % density, spectral radius 0.9); above 2,000
    units the same construction with W (normal values) scaled by the circular law's radius
    ``sigma sqrt(p N)`` (V. L. Girko 1984; Z. D. Bai 1997) instead: an iterative eigenvalue
    solver converges slowly on a random matrix, whose spectrum fills a disc (ReservoirPy's own
    scaling took minutes at N = 5,000, ARPACK more than 9 at N = 10,000)."""
    if n <= 2000:
        return kind(n, sr=0.9, rc_connectivity=DENSITY, seed=1)
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    w = sp.random(n, n, DENSITY, format="csr", random_state=rng, data_rvs=lambda k: rng.normal(size=k))
    w = w * (0.9 / np.sqrt(DENSITY * n))
    w_in = sp.csr_matrix(rng.uniform(-1, 1, (n, 1)) * (rng.random((n, 1)) < 0.1))
    return kind(W=w, Win=w_in, bias=np.zeros(n))


def harvest(quick: bool, sizes=None):
    import scipy.sparse as sp
    from reservoirpy.jax.nodes import Reservoir as JaxReservoir
    from reservoirpy.nodes import Reservoir

    from neurodyn.models import ESN
    from neurodyn.models.reservoir import use_sparse
    from neurodyn.readout import harvest as nd_harvest

    loops = _machine_loops()
    rates = BestRates()
    for _ in range(3):
        memory = rates(("memory",), lambda: triad_bandwidth(480e6, loops))
        l1 = {d: rates(("L1", d), lambda: csr_rate(d, loops)) for d in (np.float32, np.float64)}
    cores = os.cpu_count() or 1
    yield (f"machine: load average {os.getloadavg()[0]:.1f} on {cores} cores (shared with other agents); "
           f"triad from memory (480 MB) {memory / 1e9:.1f} GB/s; CSR loop in L1, 20 non-zeros a row "
           f"{l1[np.float32] / 1e9:.2f} (float32) / {l1[np.float64] / 1e9:.2f} (float64) G non-zeros/s a core "
           "(each the best of 3 measures; the floors use the rates for each N's rows, measured before and after "
           "its timings)")
    yield ("per N: times after compilation; ratio = ReservoirPy NumPy / neurodyn; floor and fraction as in the "
           "module docstring (the bandwidth/BLAS floor, then the recurrence floor of a hand loop up to N = "
           f"{HAND_MAX_UNITS:,}); 'auto' is the form ESN chooses (use_sparse)")
    sizes = sizes or ((300, 1200) if quick else SIZES)
    for n in sizes:
        steps = 200 if quick else (STEPS if n <= 2000 else LARGE_STEPS)
        repeat = 9 if n <= 1000 else (3 if n <= 2000 else 2)
        u = np.random.default_rng(0).uniform(-1, 1, (steps, 1))
        res = _rpy_reservoir(Reservoir, n)
        res.run(u[:5])
        w = res.W.tocsr() if hasattr(res.W, "tocsr") else np.asarray(res.W)
        w_in = res.Win.toarray() if hasattr(res.Win, "toarray") else np.asarray(res.Win)
        bias = np.asarray(res.bias.toarray() if hasattr(res.bias, "toarray") else res.bias).reshape(-1)
        nnz = w.nnz if hasattr(w, "nnz") else np.count_nonzero(w)
        w_csr = sp.csr_matrix(w)
        v = u @ w_in.T + bias  # the input terms of the hand loop (any values: its time does not depend on them)
        # ReservoirPy's JAX backend holds W dense: above 2,000 units it is not run (minutes)
        jres = JaxReservoir(n, sr=0.9, rc_connectivity=DENSITY, seed=1) if n <= 2000 else None
        c_jax, t_jax = _first_and_best(lambda: jres.run(u), repeat) if jres else (0.0, float("nan"))
        w_dense = (w.toarray() if hasattr(w, "toarray") else w) if n <= DENSE_MAX_UNITS else None
        s_of = {d: np.dtype(d).itemsize for d in (np.float32, np.float64)}
        work = {d: nnz * (s_of[d] + (2 if n <= 65536 else 4)) + (n + 1) * 4 + 2 * n * s_of[d] for d in s_of}

        def machine_rates(dtype):
            """The floor's rates for this N (each the best measured so far in the run: :class:`BestRates`)."""
            bandwidth = rates(("triad", work[dtype]), lambda: triad_bandwidth(work[dtype], loops))
            # any array moves at least at the memory's rate (480 MB), also measured several times: where
            # the other agents loaded the memory during this N's two measures, that one is the better
            bandwidth = max(bandwidth, rates(("memory",), lambda: triad_bandwidth(480e6, loops)))
            gemv = (1 / rates(("gemv", n, dtype), lambda: 1 / gemv_seconds(w_dense, dtype))
                    if n <= DENSE_MAX_UNITS else float("inf"))
            rate = max(row_rate(rates, dtype, n, nnz, loops) for _ in range(3))  # 25 timings of ~1 ms each
            # what the cores do together, beside the floor's cores x one core (printed, not in the floor)
            shape = row_shape(dtype, n, nnz)
            both = rates(("both cores", np.dtype(dtype).name, *shape),
                         lambda: csr_rate_both_cores(dtype, loops, *shape))
            read = rates(("read", work[dtype]), lambda: read_bandwidth(work[dtype]))
            return bandwidth, rate, gemv, both, read

        for dtype in (np.float32, np.float64):
            machine_rates(dtype)
        # the two forms in both precisions and ReservoirPy, timed in turn, `repeat` rounds: each
        # one's best, so a busy moment of the shared machine does not fall on one of them only
        runs, chosen = {"rpy": lambda: res.run(u)}, {}
        for dtype in (np.float32, np.float64):
            for form, sparse in (("dense", False), ("sparse", True)):
                if form == "dense" and n > DENSE_MAX_UNITS:
                    continue
                esn = ESN.from_matrices(w, w_in, bias, dtype=dtype, sparse=sparse)
                jax.block_until_ready(nd_harvest(esn, u))
                runs[form, dtype] = (lambda e: lambda: nd_harvest(e, u))(esn)
            chosen[dtype] = "sparse" if use_sparse(n, nnz, dtype) else "dense"
        best = {key: float("inf") for key in runs}
        for _ in range(repeat):
            for key, run in runs.items():
                best[key] = min(best[key], best_time(run, 1))
        del runs
        t_rpy = best["rpy"]
        yield (f"  N={n:>6} T={steps} nnz={nnz:,} (load {os.getloadavg()[0]:.1f}): ReservoirPy NumPy "
               f"{t_rpy / steps * 1e6:8.1f} us/step, JAX {t_jax / steps * 1e6:8.1f} us/step (+{c_jax:.1f} s compile)")
        for dtype in (np.float32, np.float64):
            dense, sparse = best.get(("dense", dtype), float("nan")) / steps, best["sparse", dtype] / steps
            auto = sparse if chosen[dtype] == "sparse" else dense
            bandwidth, rate, gemv, both, read = machine_rates(dtype)  # the second measures, after the timings
            moved = work[dtype]
            together = max(moved / read, nnz / both)  # the product at the rates the cores reach together
            sparse_floor = max(moved / bandwidth, nnz / (cores * rate))
            floor = min(sparse_floor, gemv)
            hand = ""
            if n <= HAND_MAX_UNITS:
                one, two = (t / steps for t in recurrence_floor(w_csr, v, np.zeros(n), 0.3, dtype, repeat))
                hand = (f" | recurrence floor {min(one, two) * 1e6:.1f} us/step (hand loop: 1 thread "
                        f"{one * 1e6:.1f}, 2 threads {two * 1e6:.1f}) -> fraction {min(one, two) / auto:.0%}")
            yield (f"    {np.dtype(dtype).name}: neurodyn auto ({chosen[dtype]}) {auto * 1e6:8.1f} us/step "
                   f"[dense {dense * 1e6:.1f}, sparse {sparse * 1e6:.1f}] | x ReservoirPy NumPy "
                   f"{t_rpy / steps / auto:.1f}, JAX {t_jax / steps / auto:.1f} | floor "
                   f"{floor * 1e6:.1f} us/step (sparse {moved / 1e6:.2f} MB at {bandwidth / 1e9:.0f} GB/s = "
                   f"{moved / bandwidth * 1e6:.1f}, {nnz:,} multiply-adds on {cores} cores at "
                   f"{rate / 1e9:.2f} G/s = {nnz / cores / rate * 1e6:.1f}; dense GEMV {gemv * 1e6:.1f} = "
                   f"{2 * n * n / gemv / 1e9:.1f} GFLOP/s) -> fraction {floor / auto:.0%}{hand} | the cores "
                   f"together: CSR loop on {cores} at once {both / 1e9:.2f} G/s (the floor counts "
                   f"{cores * rate / 1e9:.2f}), the product's bytes read at {read / 1e9:.0f} GB/s (no arithmetic) "
                   f"-> {together * 1e6:.1f} us/step, fraction {together / auto:.0%}")
    yield f"machine at the end: load average {os.getloadavg()[0]:.1f}"


def main(quick: bool = False, sizes=None):
    neurodyn.set_precision("float64")
    yield from skip_missing_peer(harvest(quick, sizes))


if __name__ == "__main__":  # python -m benchmarks.bench_reservoir_harvest [N ...]: chosen sizes only
    import sys

    for line in main(sizes=tuple(int(a) for a in sys.argv[1:]) or None):
        print(line, flush=True)
