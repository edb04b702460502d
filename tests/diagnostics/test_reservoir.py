import jax.numpy as jnp
import numpy as np

from neurodyn.connectivity.matrices import cyclic, random_orthogonal
from neurodyn.diagnostics import echo_state_property, esp_conditions, generalization_rank, kernel_rank, spectral_radius
from neurodyn.models import ESN
from neurodyn.readout import Ridge, memory_capacity, nrmse

N = 50


def _input_weights():
    # random signs and magnitudes (a cycle with identical input weights loses memory, docs/models/reservoirs.md)
    return np.random.default_rng(0).uniform(-0.1, 0.1, (N, 1))


def test_memory_capacity_bounds_and_ordering():
    # V6: linear orthogonal reservoir MC > 0.9 N; every reservoir MC <= N; tanh < linear
    linear = memory_capacity(ESN.from_matrices(0.95 * random_orthogonal(N, 1), _input_weights(), activation="identity"))
    cycle = memory_capacity(ESN.from_matrices(0.95 * cyclic(N), _input_weights(), activation="identity"))
    tanh = memory_capacity(ESN.from_matrices(0.95 * random_orthogonal(N, 1), _input_weights()))
    random_tanh = memory_capacity(ESN.create(N, spectral_radius=0.95, input_scaling=0.1, seed=3))
    assert linear.total > 0.9 * N and cycle.total > 0.9 * N
    for r in (linear, cycle, tanh, random_tanh):
        assert r.total <= N + 0.5
        assert len(r.delays) == 2 * N and r.per_delay.shape == (2 * N,)
        assert np.all((r.per_delay >= 0) & (r.per_delay <= 1))
    assert tanh.total < linear.total
    assert random_tanh.total < tanh.total
    # MC_k non-increasing on average: the first ten delays remember more than the last ten
    assert linear.per_delay[:10].mean() > linear.per_delay[-10:].mean()


def test_echo_state_property_contraction_and_failure():
    u = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (600, 1)))
    good = echo_state_property(ESN.create(100, spectral_radius=0.9, seed=1), u)
    assert good.holds and good.converged_step < 600 and good.rate < 0
    bad = echo_state_property(ESN.create(100, spectral_radius=3.0, seed=1), jnp.zeros((600, 1)))
    assert not bad.holds and bad.distance[-1] > 1e-2


def test_esp_conditions_and_spectral_radius():
    esn = ESN.create(80, spectral_radius=0.9, leak=0.5, seed=2)
    assert abs(spectral_radius(esn) - 0.9) < 1e-10
    c = esp_conditions(esn)
    assert c["necessary"] and abs(c["spectral_radius_J0"] - np.max(np.abs(0.5 + 0.5 * np.linalg.eigvals(np.asarray(esn.w))))) < 1e-10
    assert c["sufficient"] == (0.5 + 0.5 * c["largest_singular_value"] < 1)
    assert abs(spectral_radius(cyclic(7)) - 1) < 1e-12


def test_kernel_rank_exceeds_generalization_rank():
    esn = ESN.create(40, spectral_radius=0.9, seed=4)
    k, g = kernel_rank(esn), generalization_rank(esn)
    assert k > g and k <= 40
    # a reservoir that forgets at once (rho = 0.01) keeps a function of the last input only:
    # tanh(w_i u) spans a few odd powers of u, far fewer dimensions than a fading memory
    assert kernel_rank(ESN.create(40, spectral_radius=0.01, seed=4)) < k / 4


def test_ridge_readout_recovers_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 5))
    w = rng.normal(size=(6, 2))
    y = np.c_[np.ones(500), x] @ w
    fit = Ridge(ridge=1e-12).fit(x, y)
    np.testing.assert_allclose(fit.weights, w, atol=1e-8)
    assert nrmse(fit.predict(x), y) < 1e-8
