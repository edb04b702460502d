"""Fixed fan-out synapses store no row pointers (row ``i`` is ``indices[i * K:(i + 1) * K]``):
exactly 4 bytes per synapse with one homogeneous weight, 8 with float32 per-synapse weights, and
every backend's product still equals the dense one exactly.

Expected values: the dense product ``s @ W`` (NumPy, float64) with ``W`` from ``todense()``;
weights are small integers, so every partial sum is exact in float32 and summation order cannot
matter.
"""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.ops import SynapseCSR, csr_matvec, delayed_event_csr_matvec, event_csr_matvec

BACKENDS = [b for b in ("jax", "numba", "brainevent") if b == "jax" or importlib.util.find_spec(b)]
N_PRE, N_POST, K = 300, 200, 16


def _fixed(weight, seed=1, delays=None):
    return SynapseCSR.fixed_fanout(N_PRE, N_POST, K, weight=weight, seed=seed, delays=delays, dtype=jnp.float32)


def _int_weights(rng, size=N_PRE * K):
    return rng.integers(-4, 5, size).astype(np.float32)


def test_fixed_fanout_stores_exactly_4_or_8_bytes_per_synapse():
    rng = np.random.default_rng(0)
    homogeneous = SynapseCSR.fixed_fanout(1000, 1000, 80, weight=0.5, seed=0, dtype=jnp.float32)
    per_synapse = homogeneous.with_weights(rng.random(80_000).astype(np.float32))
    assert homogeneous.indptr is None and per_synapse.indptr is None
    # int32 target per synapse; + float32 weight per synapse; no (n_pre + 1) row pointers
    assert homogeneous.bytes_per_synapse() == 4.0
    assert per_synapse.bytes_per_synapse() == 8.0
    assert homogeneous.nbytes == 80_000 * 4 + 4  # the one homogeneous weight, counted in nbytes
    # rows of unequal length keep their row pointers: 8 + 4 (n_pre + 1) / nnz
    random_rows = SynapseCSR.fixed_probability(1000, 1000, 0.05, seed=0, dtype=jnp.float32)
    random_rows = random_rows.with_weights(np.ones(random_rows.nnz, np.float32))
    assert not random_rows.fixed and random_rows.indptr.shape == (1001,)
    assert random_rows.bytes_per_synapse() == (8 * random_rows.nnz + 4 * 1001) / random_rows.nnz
    # several delays: the (pre, delay) group pointers stay, the row pointers do not
    delayed = _fixed(1.0, delays=rng.integers(1, 4, N_PRE * K))
    assert delayed.indptr is None and delayed.delay_ptr.shape == (N_PRE * 3 + 1,)
    assert delayed.bytes_per_synapse() == 4 + 4 * (N_PRE * 3 + 1) / (N_PRE * K)


def test_row_pointers_and_presynaptic_follow_from_the_fan_out():
    conn = _fixed(1.0)
    np.testing.assert_array_equal(conn.row_pointers(), np.arange(N_PRE + 1) * K)
    np.testing.assert_array_equal(conn.presynaptic(), np.repeat(np.arange(N_PRE), K))
    # the same synapses built as COO (row pointers stored) give the same matrix
    coo = SynapseCSR.from_coo(conn.presynaptic(), np.asarray(conn.indices)[::-1].reshape(N_PRE, K)[::-1].ravel(),
                              n_pre=N_PRE, n_post=N_POST)
    assert coo.fixed and coo.indptr is None
    np.testing.assert_array_equal(coo.todense(), conn.todense())


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_fanout_event_product_equals_dense_exactly_batched_and_differentiated(backend):
    rng = np.random.default_rng(1)
    conn = _fixed(_int_weights(rng))
    dense = conn.todense()
    spikes = rng.random((4, N_PRE)) < 0.1
    weights = np.stack([_int_weights(rng) for _ in range(3)])
    expected = spikes.astype(float) @ dense
    # every product is jitted (one compilation per program; op-by-op dispatch of the JAX
    # backend's many small operations dominated this test), the same program for every spike vector
    product = jax.jit(lambda c, s: event_csr_matvec(c, s, backend=backend))
    for s, e in zip(spikes, expected):
        np.testing.assert_array_equal(np.asarray(product(conn, s)), e)
    np.testing.assert_array_equal(np.asarray(jax.jit(csr_matvec)(conn, spikes[0].astype(np.float32))), expected[0])
    # vmap over spikes, over weights, over both (the weight sweep of a parameter study)
    over_spikes = jax.jit(jax.vmap(lambda s: event_csr_matvec(conn, s, backend=backend)))(spikes)
    np.testing.assert_array_equal(np.asarray(over_spikes), expected)
    over_weights = jax.jit(jax.vmap(lambda w: event_csr_matvec(conn.with_weights(w), spikes[0], backend=backend)))(
        weights)
    for w, y in zip(weights, np.asarray(over_weights)):
        np.testing.assert_array_equal(y, spikes[0].astype(float) @ conn.with_weights(w).todense())
    both = jax.jit(jax.vmap(lambda w, s: event_csr_matvec(conn.with_weights(w), s, backend=backend)))(weights,
                                                                                                       spikes[:3])
    for w, s, y in zip(weights, spikes, np.asarray(both)):
        np.testing.assert_array_equal(y, s.astype(float) @ conn.with_weights(w).todense())
    # homogeneous weight: w * (number of spiking synapses onto each target)
    homogeneous = _fixed(2.0, seed=4)
    np.testing.assert_array_equal(np.asarray(product(homogeneous, spikes[1])),
                                  spikes[1].astype(float) @ homogeneous.todense())
    # gradient in the weights: d/dw_k sum(c * y) = c[post_k] * s[pre_k], that of the dense product
    c = rng.normal(size=N_POST).astype(np.float32)
    pre, post = conn.presynaptic(), np.asarray(conn.indices)
    grad = jax.jit(jax.grad(lambda w: jnp.sum(c * event_csr_matvec(conn.with_weights(w), spikes[2],
                                                                   backend=backend))))(jnp.asarray(conn.weights))

    def dense_loss(w):
        return jnp.sum(c * (spikes[2].astype(np.float32) @ jnp.zeros((N_PRE, N_POST)).at[pre, post].add(w)))

    np.testing.assert_array_equal(np.asarray(grad),
                                  np.asarray(jax.jit(jax.grad(dense_loss))(jnp.asarray(conn.weights))))
    assert np.count_nonzero(np.asarray(grad)) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_fanout_delayed_products_equal_dense_per_delay(backend):
    # one delay for all synapses (plain rows, no pointers) and three delays (group pointers)
    rng = np.random.default_rng(2)
    buffer = rng.random((5, N_PRE)) < 0.15
    for delays in (2, rng.integers(0, 3, N_PRE * K)):
        conn = _fixed(_int_weights(rng), seed=3, delays=delays)
        assert conn.indptr is None
        step = 7
        expected = sum(buffer[(step - d) % 5].astype(float) @ conn.todense(delay=d) for d in conn.delay_steps)
        y = jax.jit(lambda c, b: delayed_event_csr_matvec(c, b, step, backend=backend))(conn, buffer)
        np.testing.assert_array_equal(np.asarray(y), expected)
