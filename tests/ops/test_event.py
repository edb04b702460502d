"""Synapse CSR builders and the sparse / event-driven products of neurodyn.ops.

Expected values come from the dense product ``y = x @ W`` (NumPy, float64) with ``W`` from
``SynapseCSR.todense()``; weights are small integers where the comparison is exact (every
partial sum is an exactly representable integer, so summation order cannot matter).
"""

import dataclasses
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.errors import SpecError
from neurodyn.ops import (SynapseCSR, csr_matmat, csr_matvec, default_backend, delayed_event_csr_matvec,
                          event_csr_matvec, ring_read)

RATES = (0.0, 0.01, 0.1, 1.0)


def _int_weights(rng, size):
    return rng.integers(-4, 5, size).astype(float)


def _connections(rng):
    """One of each layout: fixed fan-out (ELL view by reshape), homogeneous, Erdos-Renyi rows
    (padded ELL view) and one very long row (ragged layout)."""
    n_pre, n_post = 240, 170
    m = 3000
    skew_pre = np.r_[np.zeros(400, int), rng.integers(0, n_pre, 800)]
    return {
        "fixed": SynapseCSR.fixed_fanout(n_pre, n_post, 12, weight=_int_weights(rng, n_pre * 12), seed=1),
        "homogeneous": SynapseCSR.fixed_fanout(n_pre, n_post, 12, weight=3.0, seed=2),
        "random_rows": SynapseCSR.from_coo(rng.integers(0, n_pre, m), rng.integers(0, n_post, m),
                                           _int_weights(rng, m), n_pre=n_pre, n_post=n_post),
        "ragged": SynapseCSR.from_coo(skew_pre, rng.integers(0, n_post, skew_pre.size),
                                      _int_weights(rng, skew_pre.size), n_pre=n_pre, n_post=n_post),
    }


CONNS = _connections(np.random.default_rng(0))


# ---- builders ---------------------------------------------------------------------------------
def test_fixed_fanout_has_exactly_k_distinct_targets_and_no_self_connections():
    for n, k in ((500, 40), (60, 45)):  # sparse rows (redraw) and dense rows (random keys)
        conn = SynapseCSR.fixed_fanout(n, n, k, seed=3, self_connections=False)
        rows = np.asarray(conn.indices).reshape(n, k)
        assert conn.fixed and conn.fanout == k and conn.nnz == n * k
        assert conn.indptr is None  # row i is indices[i * k:(i + 1) * k]: no row pointers stored
        np.testing.assert_array_equal(np.diff(conn.row_pointers()), np.full(n, k))
        assert np.all(np.diff(rows, axis=1) > 0)  # sorted, hence distinct
        assert not np.any(rows == np.arange(n)[:, None])
        assert rows.min() >= 0 and rows.max() < n


def test_fixed_fanout_is_seeded_and_uniform():
    a = SynapseCSR.fixed_fanout(20_000, 50, 5, seed=7)
    b = SynapseCSR.fixed_fanout(20_000, 50, 5, seed=7)
    np.testing.assert_array_equal(np.asarray(a.indices), np.asarray(b.indices))
    assert not np.array_equal(np.asarray(a.indices), np.asarray(SynapseCSR.fixed_fanout(20_000, 50, 5, seed=8).indices))
    # each target is hit 20,000 * 5 / 50 = 2,000 times on average; binomial sd ~ 43
    hits = np.bincount(np.asarray(a.indices), minlength=50)
    assert np.all(np.abs(hits - 2000) < 6 * 43)


def test_builders_agree_with_scipy():
    rng = np.random.default_rng(1)
    m = sp.random(40, 30, density=0.2, random_state=2, format="csr")
    m.data = _int_weights(rng, m.nnz)
    conn = SynapseCSR.from_scipy(m)
    np.testing.assert_array_equal(conn.todense(), m.toarray())
    coo = m.tocoo()
    order = rng.permutation(m.nnz)  # any order of the (pre, post, weight) triples
    conn2 = SynapseCSR.from_coo(coo.row[order], coo.col[order], coo.data[order], n_pre=40, n_post=30)
    np.testing.assert_array_equal(conn2.todense(), m.toarray())
    assert (conn2.to_scipy() != m).nnz == 0
    # repeated (pre, post) pairs are separate synapses whose weights add
    dup = SynapseCSR.from_coo([0, 0, 1], [2, 2, 0], [1.0, 2.0, 5.0], n_pre=2, n_post=3)
    np.testing.assert_array_equal(dup.todense(), [[0, 0, 3], [5, 0, 0]])


def test_builders_reject_bad_input():
    with pytest.raises(SpecError, match="post index 5"):
        SynapseCSR.from_coo([0, 1], [1, 5], n_pre=2, n_post=5)
    with pytest.raises(SpecError, match="one value per synapse"):
        SynapseCSR.from_coo([0, 1], [1, 2], [1.0, 2.0, 3.0], n_pre=2, n_post=5)
    with pytest.raises(SpecError, match="delays must be integers >= 0"):
        SynapseCSR.from_coo([0, 1], [1, 2], delays=[1, -1], n_pre=2, n_post=5)
    with pytest.raises(SpecError, match="exceeds the 9 available"):
        SynapseCSR.fixed_fanout(10, 10, 10, self_connections=False)
    with pytest.raises(SpecError, match="n_pre == n_post"):
        SynapseCSR.fixed_fanout(10, 12, 3, self_connections=False)


# ---- products ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CONNS))
def test_csr_matvec_and_matmat_equal_dense_product(name):
    conn = CONNS[name]
    rng = np.random.default_rng(3)
    w = conn.todense()
    x = rng.normal(size=conn.n_pre)
    np.testing.assert_allclose(np.asarray(jax.jit(csr_matvec)(conn, x)), x @ w, rtol=1e-12, atol=1e-12)
    xs = rng.normal(size=(conn.n_pre, 5))
    np.testing.assert_allclose(np.asarray(jax.jit(csr_matmat)(conn, xs)), w.T @ xs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CONNS))
@pytest.mark.parametrize("capacity, backend", [(None, "jax"), (5, "jax"), (None, "numba"), (None, "brainevent")])
def test_event_product_equals_dense_product_exactly(name, capacity, backend):
    if backend != "jax":
        pytest.importorskip(backend)
    conn = CONNS[name]
    rng = np.random.default_rng(4)
    w = conn.todense()
    f = jax.jit(lambda c, s: event_csr_matvec(c, s, capacity=capacity, backend=backend))
    for rate in RATES:
        for _ in range(3):
            s = rng.random(conn.n_pre) < rate
            np.testing.assert_array_equal(np.asarray(f(conn, s)), s.astype(float) @ w)


def test_event_product_ranks_spikes_exactly_in_long_spike_vectors():
    # 20,000 neurons: 625 packed words, past the sizes where ranking switches from one small
    # product and a comparison with every word to a tree scan and a binary search
    rng = np.random.default_rng(11)
    conn = SynapseCSR.fixed_fanout(20_000, 50, 3, weight=_int_weights(rng, 60_000), seed=5)
    w = conn.todense()
    f = jax.jit(lambda c, s: event_csr_matvec(c, s, capacity=128, backend="jax"))
    for rate in (0.001, 0.05):
        s = rng.random(20_000) < rate
        np.testing.assert_array_equal(np.asarray(f(conn, s)), s.astype(float) @ w)


def test_capacity_overflow_never_drops_spikes():
    conn = CONNS["fixed"]
    s = np.ones(conn.n_pre, bool)  # every neuron spikes: 240 spikes through passes of 7 (or 1)
    expected = s.astype(float) @ conn.todense()
    for capacity in (1, 7, 240):
        f = jax.jit(lambda c, sp: event_csr_matvec(c, sp, capacity=capacity, backend="jax"))
        np.testing.assert_array_equal(np.asarray(f(conn, s)), expected)
    ragged = CONNS["ragged"]  # the 400-synapse row exceeds a chunk's synapse budget on its own
    f = jax.jit(lambda c, sp: event_csr_matvec(c, sp, capacity=2, backend="jax"))
    np.testing.assert_array_equal(np.asarray(f(ragged, s)), s.astype(float) @ ragged.todense())


def test_event_product_float32_within_1e6_of_float64_dense():
    rng = np.random.default_rng(5)
    conn = SynapseCSR.fixed_fanout(400, 300, 20, weight=rng.normal(size=8000).astype(np.float32), seed=4,
                                   dtype=jnp.float32)
    w = conn.todense().astype(np.float64)
    for rate in (0.02, 0.5):
        s = rng.random(400) < rate
        y = np.asarray(event_csr_matvec(conn, s))
        assert y.dtype == np.float32
        scale = s.astype(float) @ np.abs(w)  # relative to the summed magnitudes (no cancellation)
        assert np.all(np.abs(y - s.astype(float) @ w) <= 1e-6 * np.maximum(scale, 1e-30))


@pytest.mark.parametrize("name", ["fixed", "random_rows", "ragged"])
def test_event_product_under_vmap_over_spikes_and_weights(name):
    conn = CONNS[name]
    rng = np.random.default_rng(6)
    w = conn.todense()
    spikes = rng.random((4, conn.n_pre)) < np.array([0.0, 0.02, 0.3, 1.0])[:, None]
    scales = np.array([1.0, -2.0, 3.0, 0.5])
    weights = jnp.asarray(np.asarray(conn.weights)[None] * scales[:, None])

    def f(wt, s):
        return event_csr_matvec(conn.with_weights(wt), s, capacity=6, backend="jax")

    by_spikes = jax.jit(jax.vmap(f, in_axes=(None, 0)))(conn.weights, spikes)
    np.testing.assert_array_equal(np.asarray(by_spikes), spikes.astype(float) @ w)
    by_weights = jax.jit(jax.vmap(f, in_axes=(0, None)))(weights, spikes[2])
    np.testing.assert_array_equal(np.asarray(by_weights), scales[:, None] * (spikes[2].astype(float) @ w))
    both = jax.jit(jax.vmap(f))(weights, spikes)
    np.testing.assert_array_equal(np.asarray(both), scales[:, None] * (spikes.astype(float) @ w))
    # vmap adds no sequential loop over the batch: the batched program has the loops of one call
    single = str(jax.make_jaxpr(f)(conn.weights, spikes[2]))
    batched = str(jax.make_jaxpr(jax.vmap(f))(weights, spikes))
    for loop in ("scan[", "while["):
        assert batched.count(loop) == single.count(loop)


def test_homogeneous_weight_sweep_is_one_batched_product():
    conn = CONNS["homogeneous"]
    s = np.random.default_rng(7).random(conn.n_pre) < 0.1
    g = jnp.asarray([0.5, 1.0, 2.0])
    y = jax.jit(jax.vmap(lambda wt: event_csr_matvec(conn.with_weights(wt), s)))(g)
    counts = s.astype(float) @ conn.with_weights(1.0).todense()
    np.testing.assert_allclose(np.asarray(y), np.asarray(g)[:, None] * counts, rtol=1e-15)


# ---- gradients --------------------------------------------------------------------------------
def _dense_from(conn, weights):
    """Differentiable dense ``W[pre, post]`` built from ``weights`` (the reference)."""
    pre, post = conn.presynaptic(), np.asarray(conn.indices)
    w = jnp.broadcast_to(weights, (conn.nnz,))
    return jnp.zeros((conn.n_pre, conn.n_post), w.dtype).at[pre, post].add(w)


@pytest.mark.parametrize("name", sorted(CONNS))
def test_gradients_equal_those_of_the_dense_product(name):
    conn = CONNS[name]
    rng = np.random.default_rng(8)
    ct = jnp.asarray(rng.normal(size=conn.n_post))
    s = rng.random(conn.n_pre) < 0.2
    x = jnp.asarray(rng.normal(size=conn.n_pre))
    w0 = conn.weights + 0.25  # non-integer, float64

    def dense_loss(wt, v):
        return jnp.tanh(v @ _dense_from(conn, wt)) @ ct

    def event_loss(wt):
        return jnp.tanh(event_csr_matvec(conn.with_weights(wt), s, capacity=4, backend="jax")) @ ct

    def graded_loss(wt, v):
        return jnp.tanh(csr_matvec(conn.with_weights(wt), v)) @ ct

    # each transform is jitted: one compilation per program instead of one per primitive
    # (op-by-op dispatch of the event kernel's many small operations dominated this test)
    sf = jnp.asarray(s, jnp.float64)
    dense_grads = jax.jit(jax.grad(dense_loss, argnums=(0, 1)))
    np.testing.assert_allclose(jax.jit(jax.grad(event_loss))(w0), dense_grads(w0, sf)[0], rtol=1e-12, atol=1e-14)
    gw, gx = jax.jit(jax.grad(graded_loss, argnums=(0, 1)))(w0, x)
    dw, dx = dense_grads(w0, x)
    np.testing.assert_allclose(gw, dw, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gx, dx, rtol=1e-12, atol=1e-14)
    # forward mode too, and gradients batched over spike patterns
    t = jnp.asarray(rng.normal(size=np.shape(w0)))
    jv = jax.jit(lambda wt, tt: jax.jvp(lambda v: event_csr_matvec(conn.with_weights(v), s), (wt,), (tt,))[1])(w0, t)
    np.testing.assert_allclose(jv, sf @ _dense_from(conn, t), rtol=1e-12, atol=1e-12)
    spikes = rng.random((3, conn.n_pre)) < 0.3
    event_grad = jax.grad(lambda wt, sp_: event_csr_matvec(conn.with_weights(wt), sp_) @ ct)
    batched = jax.jit(jax.vmap(event_grad, (None, 0)))(w0, spikes)
    expected = jax.jit(jax.vmap(jax.grad(lambda wt, v: (v @ _dense_from(conn, wt)) @ ct), (None, 0)))(
        w0, spikes.astype(float))
    np.testing.assert_allclose(batched, expected, rtol=1e-12, atol=1e-14)


# ---- delays -----------------------------------------------------------------------------------
def _delayed_reference(conn, buffer, step):
    length = buffer.shape[0]
    return sum(buffer[(step - d) % length].astype(float) @ conn.todense(delay=d) for d in conn.delay_steps)


@pytest.mark.parametrize("kind", ["fixed", "random_rows", "uniform"])
def test_delayed_event_product_equals_dense_per_delay(kind):
    rng = np.random.default_rng(9)
    n_pre, n_post, m = 200, 150, 2400
    if kind == "fixed":
        conn = SynapseCSR.fixed_fanout(n_pre, n_post, 12, weight=_int_weights(rng, n_pre * 12),
                                       delays=rng.integers(1, 6, n_pre * 12), seed=1)
    elif kind == "random_rows":
        conn = SynapseCSR.from_coo(rng.integers(0, n_pre, m), rng.integers(0, n_post, m), _int_weights(rng, m),
                                   n_pre=n_pre, n_post=n_post, delays=rng.integers(0, 12, m))
    else:
        conn = SynapseCSR.fixed_fanout(n_pre, n_post, 12, weight=2.0, delays=3, seed=1)
    # the delays are a regrouping of the same synapses
    np.testing.assert_array_equal(sum(conn.todense(delay=d) for d in conn.delay_steps), conn.todense())
    length = conn.max_delay + 2
    buffers = rng.random((3, length, n_pre)) < np.array([0.02, 0.1, 0.6])[:, None, None]
    f = jax.jit(lambda c, b, step: delayed_event_csr_matvec(c, b, step, capacity=4, backend="jax"))
    for buffer in buffers:
        for step in (0, 17):
            np.testing.assert_array_equal(np.asarray(f(conn, buffer, step)), _delayed_reference(conn, buffer, step))
    # vmapped over buffers and over weights
    batched = jax.jit(jax.vmap(lambda b: delayed_event_csr_matvec(conn, b, 5)))(buffers)
    np.testing.assert_array_equal(np.asarray(batched), np.stack([_delayed_reference(conn, b, 5) for b in buffers]))
    scales = jnp.asarray([1.0, -3.0])
    scaled = jax.vmap(lambda k: delayed_event_csr_matvec(conn.with_weights(conn.weights * k), buffers[1], 5))
    np.testing.assert_array_equal(np.asarray(jax.jit(scaled)(scales)),
                                  np.asarray(scales)[:, None] * _delayed_reference(conn, buffers[1], 5))


def test_ring_read_follows_the_core_delay_convention():
    # step s writes row s mod L; delay d at step s reads what step s - d wrote
    buffer = jnp.arange(5)[:, None] * jnp.ones((1, 3))
    np.testing.assert_array_equal(np.asarray(ring_read(buffer, 7, (0, 1, 4))[:, 0]), [2, 1, 3])


def test_delay_and_shape_errors_are_clear():
    conn = SynapseCSR.fixed_fanout(10, 10, 3, delays=np.arange(30) % 4, seed=0)
    with pytest.raises(SpecError, match="carry delays"):
        event_csr_matvec(conn, np.zeros(10, bool))
    with pytest.raises(SpecError, match="needs at least 4"):
        delayed_event_csr_matvec(conn, np.zeros((3, 10), bool), 0)
    with pytest.raises(SpecError, match="no delays"):
        delayed_event_csr_matvec(conn.without_delays(), np.zeros((4, 10), bool), 0)
    with pytest.raises(SpecError, match="10 presynaptic"):
        event_csr_matvec(conn.without_delays(), np.zeros(9, bool))
    with pytest.raises(SpecError, match="capacity"):
        event_csr_matvec(conn.without_delays(), np.zeros(10, bool), capacity=0)
    with pytest.raises(SpecError, match="unknown backend"):
        event_csr_matvec(conn.without_delays(), np.zeros(10, bool), backend="cuda")


def test_the_brainevent_backend_without_brainevent_names_the_extra(monkeypatch):
    import neurodyn.ops.event as event

    monkeypatch.setattr(event, "_brainevent_installed", lambda: False)  # brainpy is an extra, not a dependency
    with pytest.raises(SpecError, match=r"pip install 'neurodyn\[brainevent\]'"):
        event_csr_matvec(CONNS["fixed"], np.zeros(CONNS["fixed"].n_pre, bool), backend="brainevent")


# ---- brainevent backend -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fixed", "homogeneous", "ragged"])
def test_brainevent_backend_equals_dense_and_batches_through_jax(name):
    pytest.importorskip("brainevent")
    conn = CONNS[name]
    rng = np.random.default_rng(10)
    w = conn.todense()
    spikes = rng.random((3, conn.n_pre)) < 0.1
    f = jax.jit(lambda c, s: event_csr_matvec(c, s, backend="brainevent"))
    np.testing.assert_array_equal(np.asarray(f(conn, spikes[0])), spikes[0].astype(float) @ w)
    scales = jnp.asarray([1.0, 2.0, -1.0])
    y = jax.jit(jax.vmap(lambda k, s: event_csr_matvec(conn.with_weights(conn.weights * k), s,
                                                       backend="brainevent")))(scales, spikes)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(scales)[:, None] * (spikes.astype(float) @ w))
    ct = jnp.asarray(rng.normal(size=conn.n_post))
    g = jax.jit(jax.grad(lambda wt: event_csr_matvec(conn.with_weights(wt), spikes[0], backend="brainevent") @ ct))(
        conn.weights)
    dense = jax.jit(jax.grad(lambda wt: (spikes[0].astype(float) @ _dense_from(conn, wt)) @ ct))(conn.weights)
    np.testing.assert_allclose(g, dense, rtol=1e-12)


# ---- numba backend (compiled XLA FFI kernel) ---------------------------------------------------
@pytest.mark.parametrize("name", ["fixed", "homogeneous", "ragged"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_numba_backend_equals_dense_batched_differentiated_and_delayed(name, dtype):
    pytest.importorskip("numba")
    conn = dataclasses.replace(CONNS[name], weights=jnp.asarray(CONNS[name].weights, dtype))
    rng = np.random.default_rng(12)
    w = conn.todense()
    spikes = rng.random((3, conn.n_pre)) < np.array([0.0, 0.1, 1.0])[:, None]

    def f(c, s):
        return event_csr_matvec(c, s, backend="numba")

    y = jax.jit(f)(conn, spikes[1])
    assert y.dtype == dtype
    assert "neurodyn_event_csr" in jax.jit(f).lower(conn, spikes[1]).as_text()  # the FFI kernel, no fallback
    np.testing.assert_array_equal(np.asarray(y), spikes[1].astype(float) @ w)
    # one batched kernel call under vmap over spikes, over weights, over both, and nested
    scales = jnp.asarray([1.0, 2.0, -1.0], dtype)
    scaled = lambda k, s: f(conn.with_weights(conn.weights * k), s)
    dense = spikes.astype(float) @ w
    np.testing.assert_array_equal(np.asarray(jax.vmap(lambda s: f(conn, s))(spikes)), dense)
    np.testing.assert_array_equal(np.asarray(jax.vmap(scaled, (0, None))(scales, spikes[1])),
                                  np.asarray(scales)[:, None] * dense[1])
    np.testing.assert_array_equal(np.asarray(jax.vmap(scaled)(scales, spikes)), np.asarray(scales)[:, None] * dense)
    nested = jax.vmap(jax.vmap(scaled, (0, None)), (None, 0))(scales, spikes)
    np.testing.assert_array_equal(np.asarray(nested), np.asarray(scales)[None, :, None] * dense[:, None])
    jaxpr = str(jax.make_jaxpr(jax.vmap(scaled))(scales, spikes))
    assert "scan[" not in jaxpr and "while[" not in jaxpr and jaxpr.count("custom_call") <= 1
    # gradients equal those of the dense product
    ct = jnp.asarray(rng.normal(size=conn.n_post), dtype)
    g = jax.grad(lambda wt: f(conn.with_weights(wt), spikes[1]) @ ct)(conn.weights)
    ref = jax.grad(lambda wt: (jnp.asarray(spikes[1], dtype) @ _dense_from(conn, wt)) @ ct)(conn.weights)
    np.testing.assert_allclose(g, ref, rtol=1e-6 if dtype == jnp.float32 else 1e-12)
    # per-synapse delays: the (pre, delay) groups in the same kernel
    delayed = SynapseCSR.fixed_fanout(conn.n_pre, 90, 6, weight=_int_weights(rng, conn.n_pre * 6),
                                      delays=rng.integers(0, 5, conn.n_pre * 6), seed=3, dtype=dtype)
    buffer = rng.random((delayed.max_delay + 1, conn.n_pre)) < 0.2
    for step in (0, 9):
        np.testing.assert_array_equal(
            np.asarray(delayed_event_csr_matvec(delayed, buffer, step, backend="numba")),
            _delayed_reference(delayed, buffer, step))


def test_numba_backend_float32_sums_in_presynaptic_order():
    # the kernel adds the spiking rows in presynaptic order, synapse by synapse: a float32
    # NumPy loop in that order gives the same bits
    pytest.importorskip("numba")
    rng = np.random.default_rng(13)
    conn = SynapseCSR.fixed_probability(300, 50, 0.3, seed=2, dtype=jnp.float32)
    conn = conn.with_weights(rng.normal(size=conn.nnz).astype(np.float32))
    s = rng.random(300) < 0.5
    y = np.asarray(event_csr_matvec(conn, s, backend="numba"))
    expected = np.zeros(50, np.float32)
    indptr, indices, weights = (np.asarray(a) for a in (conn.indptr, conn.indices, conn.weights))
    for i in np.flatnonzero(s):
        for k in range(indptr[i], indptr[i + 1]):
            expected[indices[k]] += weights[k]
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("backend", ["numba", "jax"])
@pytest.mark.parametrize("name", ["fixed", "homogeneous", "random_rows"])
def test_blocks_are_the_slices_of_the_product_and_one_weight_is_weight_times_count(name, backend):
    # blocks (a fused projection's populations): each result equals its slice of the whole
    # product bit for bit; one weight: w * (number of spiking synapses), one float32 rounding,
    # so a weight of 0.1 (inexact) tells w * count from a sum of w's
    if backend == "numba":
        pytest.importorskip("numba")
    conn = CONNS[name].with_weights(np.asarray(CONNS[name].weights) * 0.1)
    if name == "homogeneous":  # float32: a sum of a few 0.1s differs from 0.1 * count there, not in float64
        conn = SynapseCSR.fixed_fanout(240, 170, 12, weight=0.1, seed=2, dtype=jnp.float32)
    s = np.random.default_rng(15).random(conn.n_pre) < 0.3
    whole = np.asarray(event_csr_matvec(conn, s, backend=backend))
    parts = event_csr_matvec(conn, s, backend=backend, blocks=(100, 50, 20))
    assert isinstance(parts, tuple) and [p.shape for p in parts] == [(100,), (50,), (20,)]
    np.testing.assert_array_equal(np.concatenate([np.asarray(p) for p in parts]), whole)
    (one,) = event_csr_matvec(conn, s, backend=backend, blocks=(170,))
    np.testing.assert_array_equal(np.asarray(one), whole)
    two = event_csr_matvec(conn, s, backend=backend, blocks=(100, 70))  # the kernel sums into both at once
    np.testing.assert_array_equal(np.concatenate([np.asarray(p) for p in two]), whole)
    dense = s.astype(np.float64) @ CONNS[name].todense()
    if name == "homogeneous":  # counts times the weight, in the product's dtype
        weight = np.asarray(conn.weights).astype(whole.dtype)
        np.testing.assert_array_equal(whole, weight * (dense / 3.0).astype(whole.dtype))
    else:
        np.testing.assert_allclose(whole, 0.1 * dense, rtol=1e-5, atol=1e-5)
    # under vmap: over the one weight (the same spikes: counted once), over spikes, both
    g = jnp.asarray([0.1, 0.7, -2.3], jnp.float32)
    spikes = np.random.default_rng(16).random((3, conn.n_pre)) < 0.3

    def f(w, x):
        return event_csr_matvec(conn.with_weights(w) if name == "homogeneous" else conn, x, backend=backend,
                                blocks=(100, 70))

    counts = np.asarray(event_csr_matvec(conn.with_weights(np.float32(1.0)), s, backend=backend))
    by_weight = jax.jit(jax.vmap(f, in_axes=(0, None)))(g, s)
    by_both = jax.jit(jax.vmap(f))(g, spikes)
    for k in range(3):
        got = np.concatenate([np.asarray(by_weight[0][k]), np.asarray(by_weight[1][k])])
        if name == "homogeneous":
            np.testing.assert_array_equal(got, np.asarray(g)[k] * counts)
        alone = np.asarray(event_csr_matvec(conn.with_weights(g[k]) if name == "homogeneous" else conn,
                                            spikes[k], backend=backend))
        np.testing.assert_array_equal(np.concatenate([np.asarray(by_both[0][k]), np.asarray(by_both[1][k])]),
                                      alone)


def test_blocked_homogeneous_product_differentiates_as_weight_times_count():
    # d/dw of sum(c * (w * count)) = sum(c * count), through the kernel's own multiplication
    conn = CONNS["homogeneous"]
    s = np.random.default_rng(17).random(conn.n_pre) < 0.2
    c = np.random.default_rng(18).normal(size=conn.n_post)
    counts = s.astype(float) @ conn.with_weights(1.0).todense()
    for blocks in (None, (100, 70)):
        def loss(w):
            y = event_csr_matvec(conn.with_weights(w), s, blocks=blocks)
            return jnp.sum(jnp.asarray(c) * (jnp.concatenate(y) if blocks else y))

        value, grad = jax.value_and_grad(loss)(jnp.float64(2.5) if jax.config.jax_enable_x64 else 2.5)
        np.testing.assert_allclose(float(grad), float(c @ counts), rtol=1e-5)
        np.testing.assert_allclose(float(value), 2.5 * float(c @ counts), rtol=1e-5)


def test_bad_blocks_are_refused_with_one_line():
    conn = CONNS["fixed"]
    with pytest.raises(SpecError, match="blocks must be positive sizes summing to n_post = 170"):
        event_csr_matvec(conn, np.zeros(conn.n_pre, bool), blocks=(100, 60))


def test_default_backend_is_the_measured_one_per_platform():
    # CPU: the numba kernel when numba is installed (benchmarks/bench_event_ops.py); unmeasured
    # platforms: JAX
    assert default_backend("gpu") == "jax"
    expected = "numba" if importlib.util.find_spec("numba") else "jax"
    assert default_backend("cpu") == default_backend("cpu", delayed=True) == expected


@pytest.mark.parametrize("kind", ["fixed", "random_rows", "per_synapse"])
def test_fuse_places_the_synapses_side_by_side(kind):
    # fuse (neurodyn.models.synapses) merges row by row without a sort: the fused matrix is
    # [W1 | W2], each row holding the first projection's synapses, then the second's
    from neurodyn.models.synapses import SpikingProjection, fuse

    rng = np.random.default_rng(14)
    if kind == "random_rows":
        a = SynapseCSR.fixed_probability(60, 40, 0.2, weight=2.0, seed=1)
        b = SynapseCSR.fixed_probability(60, 25, 0.3, weight=2.0, seed=2)
    else:
        a = SynapseCSR.fixed_fanout(60, 40, 5, weight=_int_weights(rng, 300) if kind == "per_synapse" else 2.0, seed=1)
        b = SynapseCSR.fixed_fanout(60, 25, 3, weight=_int_weights(rng, 180) if kind == "per_synapse" else 2.0, seed=2)
    fused = fuse([SpikingProjection.create("x", "p", a), SpikingProjection.create("x", "q", b)]).synapses
    np.testing.assert_array_equal(fused.todense(), np.concatenate([a.todense(), b.todense()], axis=1))
    assert fused.homogeneous == (kind != "per_synapse") and fused.fixed == (kind != "random_rows")
    rows_a, rows_b, rows = (np.split(np.asarray(c.indices), c.row_pointers()[1:-1]) for c in (a, b, fused))
    for ra, rb, r in zip(rows_a, rows_b, rows):
        np.testing.assert_array_equal(r, np.concatenate([ra, rb + 40]))


@pytest.mark.parametrize("synapse", ["conductance", "current"])
def test_synaptic_lif_closed_form_step_equals_exponential_euler(synapse):
    # SynapticLIF.step writes exponential Euler in closed form (one exponential per neuron, the
    # fast path of the event-driven networks); the generic integrator gives the same update
    from neurodyn.core.model import drive_term
    from neurodyn.models.spiking import SynapticLIF, SynapticLIFState

    rng = np.random.default_rng(15)
    n = 50
    model = SynapticLIF.create(n, synapse=synapse, tau_m=rng.uniform(10, 30, n), i_ext=rng.uniform(0, 20, n),
                               v_rest=-60.0 if synapse == "conductance" else -49.0, dt=0.1)
    state = SynapticLIFState(jnp.asarray(rng.uniform(-70, -51, n)), jnp.asarray(rng.choice([0.0, 0.0, 2.0], n)),
                             jnp.zeros(n, bool), jnp.asarray(rng.uniform(0, 5, n)), jnp.asarray(rng.uniform(0, 30, n)))
    drive = {"I": jnp.asarray(rng.normal(size=n)), "g_e": jnp.asarray(rng.uniform(0, 1, n))}
    new = model.step(state, drive)
    generic = model.integrator(model, state, drive, 0.0, model.dt)
    free = np.asarray(state.refractory) <= 0
    expected_v = np.where(free, np.asarray(generic.v), -60.0)
    spiking = np.asarray(new.spike)
    np.testing.assert_allclose(np.asarray(new.v)[~spiking], expected_v[~spiking], rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(np.asarray(new.g_e), np.asarray(generic.g_e + drive_term(drive, "g_e", "I")), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(new.g_i), np.asarray(generic.g_i), rtol=1e-13)
    np.testing.assert_array_equal(spiking, free & (expected_v >= -50.0))
