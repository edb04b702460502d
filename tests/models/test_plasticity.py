"""Intrinsic plasticity (docs/models/reservoirs.md, "Intrinsic plasticity"): the in-scan update
against a NumPy loop of the published rules (Triesch 2005; Schrauwen et al. 2008), and the
output distribution moved to the target's mean and spread."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import ESN
from neurodyn.models.plasticity import IPReservoir
from neurodyn.readout import harvest


def _numpy_ip(esn, u, activation, eta, mu, sigma):
    """Reference loop: y = f(a z + b), x <- (1-l) x + l y; Triesch (sigmoid) / Schrauwen (tanh)."""
    w, w_in, bias, leak = (np.asarray(v, float) for v in (esn.w, esn.w_in, esn.bias, esn.leak))
    n = w.shape[0]
    x, a, b = np.zeros(n), np.ones(n), np.zeros(n)
    for t in range(len(u)):
        z = w @ x + w_in @ u[t] + bias
        if activation == "sigmoid":
            y = 1 / (1 + np.exp(-(a * z + b)))
            db = eta * (1 - (2 + 1 / mu) * y + y ** 2 / mu)
        else:
            y = np.tanh(a * z + b)
            db = -eta * (-mu / sigma ** 2 + y / sigma ** 2 * (2 * sigma ** 2 + 1 - y ** 2 + mu * y))
        a, b = a + eta / a + db * z, b + db
        x = (1 - leak) * x + leak * y
    return x, a, b


@pytest.mark.parametrize("activation,mu", [("tanh", 0.1), ("sigmoid", 0.2)])
def test_ip_update_equals_numpy_reference_of_the_published_rule(activation, mu):
    esn = ESN.create(25, 2, spectral_radius=0.9, input_scaling=0.8, bias_scaling=0.3, leak=0.7, seed=1)
    model = IPReservoir.from_esn(esn, activation=activation, learning_rate=5e-3, target_mean=mu, target_std=0.3)
    u = np.random.default_rng(2).uniform(-1, 1, (400, 2))
    final, _ = nd.run(model, model.init(None), 400, drive=jnp.asarray(u), record=())
    x, a, b = _numpy_ip(esn, u, activation, 5e-3, mu, 0.3)
    np.testing.assert_allclose(np.asarray(final.x), x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.gain), a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.shift), b, rtol=0, atol=1e-10)
    assert np.abs(a - 1).max() > 1e-2  # the rule did move the gains


@pytest.fixture(scope="module")
def driven():
    esn = ESN.create(100, 1, spectral_radius=0.95, input_scaling=1.0, bias_scaling=0.5, seed=0)
    return esn, np.random.default_rng(0).uniform(-1, 1, (20000, 1))


def _before_after(esn, u, **kw):
    model = IPReservoir.from_esn(esn, learning_rate=1e-3, **kw)
    final, _ = nd.run(model, model.init(None), len(u), drive=jnp.asarray(u), record=())
    before = harvest(model.freeze(model.init(None)), u[:3000])
    after = harvest(model.freeze(final), u[:3000], state=final)
    return model, final, before, after


def test_tanh_ip_moves_outputs_to_the_gaussian_target(driven):
    esn, u = driven
    model, final, before, after = _before_after(esn, u, activation="tanh", target_mean=0.0, target_std=0.2)
    # measured: std 0.480 -> 0.213, mean 0.004 -> 0.002 (target N(0, 0.2^2))
    assert before.std() > 0.4
    assert abs(after.std() - 0.2) < 0.03 and abs(after.mean()) < 0.02
    # folded into a plain ESN (diag(a) W, diag(a) W_in, a bias + b) the frozen reservoir is the same map
    np.testing.assert_allclose(harvest(model.as_esn(final), u[:200], state=esn.init(None)._replace(x=final.x)),
                               after[:200], rtol=0, atol=1e-12)


def test_sigmoid_ip_moves_outputs_to_the_exponential_target(driven):
    esn, u = driven
    _, _, before, after = _before_after(esn, u, activation="sigmoid", target_mean=0.2)
    # measured: mean 0.508 -> 0.185 (target exponential of mean 0.2), now right-skewed
    assert before.mean() > 0.45
    assert abs(after.mean() - 0.2) < 0.03
    skew = lambda v: np.mean((v - v.mean()) ** 3) / v.std() ** 3
    assert skew(after.ravel()) > 0.5 > abs(skew(before.ravel()))


def test_bad_targets_name_the_field():
    esn = ESN.create(10, density=0.5, seed=0)
    with pytest.raises(SpecError, match="target_mean"):
        IPReservoir.from_esn(esn, activation="sigmoid", target_mean=1.5)
    with pytest.raises(SpecError, match="activation"):
        IPReservoir.from_esn(esn, activation="relu")
