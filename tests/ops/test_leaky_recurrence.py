"""The leaky recurrence in one native call (neurodyn.ops.leaky_recurrence) equals a NumPy loop of
x_t = (1 - a) x_{t-1} + a phi(g W x_{t-1} + v_t) with the dense W in float32 and float64, on one
and two threads, with 16- and 32-bit column indices; under jax.vmap; with the gradients of the
dense scan; and an ESN harvest with W sparse (which uses it) equals the harvest with W dense."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.models import ESN
from neurodyn.ops.leaky_recurrence import KERNEL, leaky_recurrence
from neurodyn.ops.sparse_matvec import SparseMatrix
from neurodyn.readout import harvest


def _loop(dense, inputs, x0, leak, gain, activation):
    """The recurrence in float64 NumPy, one step at a time (the definition)."""
    phi = np.tanh if activation == "tanh" else (lambda v: v)
    x, out = np.asarray(x0, float), []
    for v in np.asarray(inputs, float):
        x = (1 - leak) * x + leak * phi(gain * (dense @ x) + v)
        out.append(x)
    return np.array(out)


def _case(n, steps, density, seed, dtype):
    rng = np.random.default_rng(seed)
    a = sp.random(n, n, density, random_state=seed, format="csr", data_rvs=lambda k: rng.uniform(-1, 1, k))
    a = a * (0.9 / max(abs(sp.linalg.eigs(a, k=1, return_eigenvectors=False)[0]), 1e-9)) if n > 2 else a
    return (SparseMatrix.from_scipy(a, dtype), a.toarray(), rng.normal(size=(steps, n)).astype(dtype),
            rng.normal(size=n).astype(dtype))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("n,density,threads", [(60, 0.2, 1), (400, 0.2, 2), (400, 0.2, 1)])  # 32,000 non-zeros: split
@pytest.mark.parametrize("activation", ["tanh", "identity"])
def test_recurrence_equals_the_dense_loop(dtype, tol, n, density, threads, activation):
    w, dense, inputs, x0 = _case(n, 50, density, 1, dtype)
    run = jax.jit(lambda w, v, x: leaky_recurrence(w, v, x, 0.6, 0.95, activation=activation, threads=threads))
    # the FFI kernel serves and is in the compiled program (else this would test the scan only)
    variant = (np.dtype(dtype).name, 16)
    assert KERNEL.serves(variant) and KERNEL.target(variant) in run.lower(w, inputs, x0).as_text()
    got = np.asarray(run(w, inputs, x0))
    want = _loop(dense, inputs, x0, 0.6, 0.95, activation)
    scale = 1 + np.abs(want).max()
    assert got.dtype == dtype and got.shape == (50, n)
    np.testing.assert_allclose(got, want, atol=tol * scale * (10 if activation == "identity" else 1))
    scan = np.asarray(jax.jit(lambda w, v, x: leaky_recurrence(w, v, x, 0.6, 0.95, activation=activation,
                                                               backend="jax"))(w, inputs, x0))
    np.testing.assert_allclose(got, scan, atol=tol * scale * (10 if activation == "identity" else 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_matrices_use_32_bit_indices(dtype):
    # 70,000 columns: indices beyond 16 bits (one non-zero per row, a shifted identity), read by
    # the kernel's 32-bit variant
    n = 70_000
    a = sp.csr_matrix((np.full(n, 0.5), (np.arange(n), (np.arange(n) + 69_000) % n)), shape=(n, n))
    w = SparseMatrix.from_scipy(a, dtype)
    inputs = np.random.default_rng(0).integers(-4, 5, size=(3, n)).astype(dtype)
    x0 = np.random.default_rng(1).integers(-4, 5, size=n).astype(dtype)
    run = jax.jit(lambda w, v, x: leaky_recurrence(w, v, x, 1.0, 1.0, activation="identity"))
    variant = (np.dtype(dtype).name, 32)
    assert KERNEL.serves(variant) and KERNEL.target(variant) in run.lower(w, inputs, x0).as_text()
    want = [x0]
    for v in inputs:
        want.append(0.5 * np.roll(want[-1], -69_000) + v)
    # halves and sums of small integers: exact in both precisions
    np.testing.assert_array_equal(np.asarray(run(w, inputs, x0)), np.array(want[1:]))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_vmap_over_inputs_and_weights_equals_each_call(dtype, tol):
    w, dense, inputs, x0 = _case(300, 20, 0.2, 2, dtype)
    batch = np.stack([inputs, 2 * inputs, -inputs])
    got = np.asarray(jax.jit(jax.vmap(lambda v: leaky_recurrence(w, v, x0, 0.5, 0.9)))(batch))
    for member, v in zip(got, batch):
        np.testing.assert_allclose(member, _loop(dense, v, x0, 0.5, 0.9, "tanh"), atol=tol)
    scales = np.array([1.0, 0.5, -1.0], dtype)
    data = np.stack([np.asarray(w.data) * s for s in scales])
    each = np.asarray(jax.jit(jax.vmap(lambda d, g: leaky_recurrence(
        SparseMatrix(w.shape, w.indptr, w.indices, w.rows, d), inputs, x0, 0.5, g)))(data, scales + 1))
    for member, s in zip(each, scales):
        np.testing.assert_allclose(member, _loop(s * dense, inputs, x0, 0.5, s + 1, "tanh"), atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_equal_the_dense_scans(dtype):
    w, dense, inputs, x0 = _case(40, 15, 0.2, 3, dtype)

    def loss_sparse(data, v, x, leak):
        m = SparseMatrix(w.shape, w.indptr, w.indices, w.rows, data)
        return jnp.sum(jnp.sin(leaky_recurrence(m, v, x, leak, 0.9)))

    def loss_dense(d, v, x, leak):
        def step(s, vt):
            new = (1 - leak) * s + leak * jnp.tanh(0.9 * (d @ s) + vt)
            return new, new
        return jnp.sum(jnp.sin(jax.lax.scan(step, x, v)[1]))

    leak = jnp.asarray(0.7, dtype)
    got = jax.jit(jax.grad(loss_sparse, argnums=(0, 1, 2, 3)))(w.data, inputs, x0, leak)
    want = jax.grad(loss_dense, argnums=(0, 1, 2, 3))(jnp.asarray(dense, dtype), inputs, x0, leak)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    rows, cols = np.asarray(w.rows), np.asarray(w.indices)
    np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0])[rows, cols], rtol=tol, atol=tol)
    for g, h in zip(got[1:], want[1:]):
        np.testing.assert_allclose(np.asarray(g), np.asarray(h), rtol=tol, atol=tol)
    # forward mode (the Lyapunov tangents): the tangent of the states along a direction of x0
    d = jnp.asarray(dense, dtype)

    def states_dense(x):
        def step(s, vt):
            new = 0.3 * s + 0.7 * jnp.tanh(0.9 * (d @ s) + vt)
            return new, new
        return jax.lax.scan(step, x, jnp.asarray(inputs))[1]

    direction = jnp.ones(40, dtype)
    tangent = jax.jvp(lambda x: leaky_recurrence(w, inputs, x, 0.7, 0.9), (jnp.asarray(x0),), (direction,))[1]
    expected = jax.jvp(states_dense, (jnp.asarray(x0),), (direction,))[1]
    np.testing.assert_allclose(np.asarray(tangent), np.asarray(expected), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_sparse_esn_harvest_equals_the_dense_harvest(dtype, tol):
    rng = np.random.default_rng(4)
    a = sp.random(300, 300, 0.2, random_state=4, format="csr", data_rvs=lambda k: rng.uniform(-1, 1, k))
    w_in, bias = rng.uniform(-1, 1, (300, 2)), rng.uniform(-0.2, 0.2, 300)
    u = rng.uniform(-1, 1, (200, 2))
    sparse = ESN.from_matrices(a * 0.1, w_in, bias, leak=0.3, dtype=dtype, sparse=True)
    dense = ESN.from_matrices(a * 0.1, w_in, bias, leak=0.3, dtype=dtype, sparse=False)
    # the sparse harvest is the kernel's (one call for the sequence), not the scan's
    program = jax.jit(sparse.input_states).lower(sparse.init(None), u).as_text()
    assert "neurodyn_leaky_recurrence" in program and "while" not in program
    np.testing.assert_allclose(harvest(sparse, u), harvest(dense, u), atol=tol)
    short = [u[:50], u[:120]]
    for s, d in zip(harvest(sparse, short), harvest(dense, short)):
        np.testing.assert_allclose(s, d, atol=tol)


def test_kernel_tanh_is_within_a_few_ulp_and_keeps_nan():
    import numba

    from neurodyn.ops._leaky_recurrence_kernel import tanh32, tanh64

    @numba.njit(error_model="numpy")
    def apply(f, xs, out):
        for i in range(xs.shape[0]):
            out[i] = f(xs[i])

    x = np.concatenate([np.linspace(-25, 25, 400_001), 10.0 ** np.linspace(-300, 1.5, 40_001),
                        -(10.0 ** np.linspace(-30, 1.5, 4_001)), np.nextafter(0.4, [0.0, 1.0])])
    out = np.empty_like(x)
    apply(tanh64, x, out)
    # float64: against NumPy's tanh (the C library's, within 1 ulp); the two formulas meet at 0.4
    ulp = np.abs(out - np.tanh(x)) / np.spacing(np.abs(np.tanh(x)))
    assert ulp.max() <= 3
    x32 = x.astype(np.float32)
    out32 = np.empty_like(x32)
    apply(tanh32, x32, out32)
    exact = np.tanh(x32.astype(np.float64))
    # float32: relative error within 4 float32 epsilons (Eigen's approximation: about 3)
    nonzero = exact != 0
    assert (np.abs(out32 - exact)[nonzero] / np.abs(exact[nonzero])).max() <= 4 * np.finfo(np.float32).eps
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0])
    for f, dtype in ((tanh64, np.float64), (tanh32, np.float32)):
        s = special.astype(dtype)
        got = np.empty_like(s)
        apply(f, s, got)
        assert np.isnan(got[0]) and list(got[1:]) == [1.0, -1.0, 0.0, 0.0] and np.signbit(got[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_threads_give_the_bits_of_one(dtype):
    # 225,000 non-zeros: 54 chunks a step shared by the two threads in whatever order they come
    w, _, inputs, x0 = _case(1500, 30, 0.1, 5, dtype)
    one, two = (np.asarray(jax.jit(lambda w, v, x, k=k: leaky_recurrence(w, v, x, 0.4, 1.0, threads=k))(w, inputs, x0))
                for k in (1, 2))
    assert np.array_equal(one, two) and np.all(np.isfinite(one))


def test_empty_matrix_gives_the_leaky_inputs():
    # W = 0: x_t = (1 - a) x_{t-1} + a tanh(v_t) (the formula serves: the kernel needs one value)
    w = SparseMatrix.from_scipy(sp.csr_matrix((5, 5)), np.float64)
    v = np.random.default_rng(0).normal(size=(4, 5))
    got = np.asarray(leaky_recurrence(w, v, np.zeros(5), 0.5))
    np.testing.assert_allclose(got, _loop(np.zeros((5, 5)), v, np.zeros(5), 0.5, 1.0, "tanh"), atol=1e-15)


def test_blocked_layout_holds_the_same_matrix():
    # rows copied block by block (block_chunk) decode to W: every (row, column, value) once
    from neurodyn.ops._leaky_recurrence_kernel import block_chunk
    from neurodyn.ops._threads import chunk_bounds

    a = sp.random(90, 90, 0.3, random_state=6, format="csr")
    a.indices = a.indices.copy()
    for i in range(90):  # columns out of order within rows: the layout must not assume sorted rows
        lo, hi = a.indptr[i], a.indptr[i + 1]
        order = np.random.default_rng(i).permutation(hi - lo)
        a.indices[lo:hi], a.data[lo:hi] = a.indices[lo:hi][order], a.data[lo:hi][order]
    indptr, indices = a.indptr.astype(np.uint32), a.indices.astype(np.uint16)
    width, blocks = 16, 6
    values, columns = np.zeros(a.nnz), np.zeros(a.nnz, np.uint16)
    seg = np.zeros(blocks * 90 + 1, np.uint32)
    bounds = chunk_bounds(indptr, 500, 64)
    for c in range(len(bounds) - 1):
        block_chunk(indptr, indices, a.data, bounds[c], bounds[c + 1], width, values, columns, seg)
    decoded = np.zeros((90, 90))
    for c in range(len(bounds) - 1):
        lo, hi = bounds[c], bounds[c + 1]
        starts = list(seg[blocks * lo:blocks * hi]) + [indptr[hi]]
        for e in range(blocks * (hi - lo)):
            b, r = divmod(e, hi - lo)
            for k in range(starts[e], starts[e + 1]):
                assert columns[k] < width
                decoded[lo + r, b * width + columns[k]] += values[k]
    np.testing.assert_array_equal(decoded, a.toarray())


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_blocked_recurrence_equals_the_dense_loop_on_one_and_two_threads(dtype, tol, monkeypatch):
    from neurodyn.ops import leaky_recurrence as module

    # blocks of 16 (float32) or 8 (float64) columns: the blocked layout at a size the tests afford
    monkeypatch.setattr(module, "BLOCK_BYTES", 64)
    monkeypatch.setattr(module, "BLOCK_ABOVE_BYTES", 64)
    w, dense, inputs, x0 = _case(400, 12, 0.2, 7, dtype)
    assert module.block_width(400, 12, dtype) == 64 // np.dtype(dtype).itemsize
    assert module.block_width(400, module.BLOCK_MIN_STEPS - 1, dtype) == 0
    want = _loop(dense, inputs, x0, 0.6, 0.95, "tanh")
    got = [np.asarray(jax.jit(lambda w, v, x, k=k: leaky_recurrence(w, v, x, 0.6, 0.95, threads=k))(w, inputs, x0))
           for k in (1, 2)]
    np.testing.assert_allclose(got[0], want, atol=tol * (1 + np.abs(want).max()))
    assert np.array_equal(got[0], got[1])
    # fewer steps than BLOCK_MIN_STEPS: W as given, the same states to rounding
    short = np.asarray(leaky_recurrence(w, inputs[:5], x0, 0.6, 0.95))
    np.testing.assert_allclose(short, want[:5], atol=tol * (1 + np.abs(want).max()))


@pytest.mark.parametrize("width", [0, 16])
def test_a_stalled_second_thread_is_covered_with_the_same_bits(width):
    # the second thread claims the last chunk of every step and never runs (as if the busy machine
    # had descheduled it): the calling thread computes those chunks itself after its wait, and the
    # states are bitwise those of one thread alone (also with the blocked layout, 16 columns a block)
    from neurodyn.ops import _leaky_recurrence_kernel as kernel
    from neurodyn.ops import _threads

    w, _, inputs, x0 = _case(120, 6, 0.3, 8, np.float64)
    indptr = np.asarray(w.indptr).astype(np.uint32)
    indices = np.asarray(w.indices).astype(np.uint16)
    data, scalars = np.asarray(w.data), np.array([0.6, 0.95])
    bounds = _threads.chunk_bounds(indptr, 1000, 64)
    chunks, steps, n = len(bounds) - 1, 6, 120
    blocks = -(-n // width) if width else 1
    size = w.nnz if width else 1
    yield_address = _threads.sched_yield_address()

    def run(stalled):
        counters = np.zeros(_threads.COUNTER_WORDS + steps + (steps * chunks + 7) // 8, np.int64)
        if stalled:
            counters[_threads.COUNTER_WORDS:_threads.COUNTER_WORDS + steps] = 1 << 32  # one claim from the back
        y = np.full(steps * n, np.nan)
        kernel.recur(indptr, indices, data, x0, inputs.reshape(-1), scalars, 1, y, bounds,
                     counters.ctypes.data + 64, 0, yield_address, width, np.zeros(size), np.zeros(size, np.uint16),
                     np.zeros(blocks * n + 1 if width else 1, np.uint32))
        return y

    assert chunks >= 3
    alone, covered = run(False), run(True)
    assert np.all(np.isfinite(alone)) and np.array_equal(alone, covered)


def test_two_threads_cut_each_step_into_an_even_number_of_pieces():
    # even, so that each of two threads claiming from its end does half a step; one piece on one thread
    from neurodyn.ops.leaky_recurrence import MAX_CHUNKS, step_pieces

    assert [step_pieces(nnz, 2) for nnz in (16_000, 25_000, 100_000, 400_000, 10_000_000)] == [2, 2, 12, 48, MAX_CHUNKS]
    assert all(step_pieces(nnz, 2) % 2 == 0 for nnz in range(16_000, 2_000_000, 7_777))
    assert step_pieces(10_000_000, 1) == 1
