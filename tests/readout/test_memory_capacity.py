import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.connectivity.matrices import random_orthogonal
from neurodyn.core.simulate import run
from neurodyn.models import ESN
from neurodyn.readout import memory_capacity

N = 20


def _tanh_reservoir():
    w_in = np.random.default_rng(0).uniform(-0.1, 0.1, (N, 1))
    return ESN.from_matrices(0.9 * random_orthogonal(N, 1), w_in)


def test_memory_capacity_equals_the_diagnostic_it_replaced():
    # measured with neurodyn.diagnostics.memory_capacity (its own np.linalg.solve of the uncentred
    # normal equations) at commit 20872da, before the solve moved to readout.normal_equations (float64,
    # as tests/conftest.py sets)
    r = memory_capacity(_tanh_reservoir(), max_delay=30, train=1000, test=500, washout=50, seed=2)
    assert abs(r.total - 18.50365115601908) < 1e-10
    np.testing.assert_allclose(r.per_delay[:3], [0.9868432428869396, 0.9865911817104696, 0.9864083233439771],
                               rtol=0, atol=1e-10)


def test_memory_capacity_matches_a_least_squares_reference():
    # the ridge problem min |[1 X] W - Y|^2 + beta |W_x|^2 solved independently as the augmented
    # least-squares system [1 X; 0 sqrt(beta) I] W = [Y; 0] by np.linalg.lstsq (SVD), then the
    # squared correlation per delay by np.corrcoef
    esn, beta, washout, max_delay, train, test, seed = _tanh_reservoir(), 1e-6, 50, 30, 1000, 500, 4
    r = memory_capacity(esn, max_delay=max_delay, train=train, test=test, washout=washout, ridge=beta, seed=seed)
    steps = washout + max_delay + train + test + 1
    u = np.random.default_rng(seed).uniform(-0.8, 0.8, steps)
    _, rec = run(esn, esn.init(jax.random.PRNGKey(seed)), steps, drive=jnp.asarray(u[:, None], jnp.result_type(float)), record=("x",))
    states = np.asarray(rec["x"], float)[1:]  # row i: the state after consuming u(i)
    rows = np.arange(washout + max_delay, len(states))
    x = np.concatenate([np.ones((len(rows), 1)), states[rows]], axis=1)
    y = np.stack([u[rows - k] for k in range(1, max_delay + 1)], axis=1)
    a = np.vstack([x[:train], np.sqrt(beta) * np.eye(N + 1)[1:]])
    w = np.linalg.lstsq(a, np.vstack([y[:train], np.zeros((N, max_delay))]), rcond=None)[0]
    pred = x[train:] @ w
    ref = [np.corrcoef(pred[:, k], y[train:, k])[0, 1] ** 2 for k in range(max_delay)]
    np.testing.assert_allclose(r.per_delay, ref, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(r.delays, np.arange(1, max_delay + 1))
    assert 0 < r.total <= N  # MC <= N for i.i.d. input (Jaeger 2002)
