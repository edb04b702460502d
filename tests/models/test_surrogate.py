"""Surrogate-gradient spike functions and the LIF baselines of Miñoza, arXiv:2602.11206, Eqs. 29-30
(docs/models/ultralif.md, "Baselines" and "Surrogate gradients"): the forward pass is the exact
step, the backward pass the analytic surrogate, and the cells match NumPy loops of their equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.errors import SpecError
from neurodyn.models.surrogate import PLIF, AdaLIF, DSpikeLIF, SurrogateLIF
from neurodyn.ops.spike import dspike, dspike_function, heaviside_surrogate

X = np.linspace(-2.0, 2.0, 401)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# analytic surrogate derivatives with the chain-rule factor k (scale_by_slope=True), written out by hand
ANALYTIC = {
    "sigmoid": lambda x, k: k * _sigmoid(k * x) * (1 - _sigmoid(k * x)),
    "fast_sigmoid": lambda x, k: k / (1 + k * np.abs(x)) ** 2,
    "arctan": lambda x, k: (k / 2) / (1 + (np.pi * k * x / 2) ** 2),
}


@pytest.mark.parametrize("kind", sorted(ANALYTIC))
@pytest.mark.parametrize("slope", [2.0, 10.0, 25.0])
def test_surrogate_gradient_equals_its_analytic_form_and_forward_is_the_step(kind, slope):
    x = jnp.asarray(X)
    forward = np.asarray(heaviside_surrogate(x, kind, slope))
    np.testing.assert_array_equal(forward, (X >= 0).astype(float))
    grad = np.asarray(jax.vmap(jax.grad(lambda v: heaviside_surrogate(v, kind, slope)))(x))
    np.testing.assert_allclose(grad, ANALYTIC[kind](X, slope), rtol=1e-13, atol=1e-300)
    unscaled = np.asarray(jax.vmap(jax.grad(lambda v: heaviside_surrogate(v, kind, slope, False)))(x))
    np.testing.assert_allclose(unscaled, ANALYTIC[kind](X, slope) / slope, rtol=1e-13, atol=1e-300)
    # forward mode sees the same surrogate
    _, tangent = jax.jvp(lambda v: heaviside_surrogate(v, kind, slope), (x,), (jnp.ones_like(x),))
    np.testing.assert_allclose(np.asarray(tangent), grad, rtol=1e-14)


def test_surrogate_peaks_are_the_documented_values():
    k = 10.0
    peak = {kind: float(jax.grad(lambda v: heaviside_surrogate(v, kind, k))(0.0)) for kind in ANALYTIC}
    assert peak == pytest.approx({"sigmoid": k / 4, "fast_sigmoid": k, "arctan": k / 2}, rel=1e-14)


def test_dspike_backward_is_the_derivative_of_its_smooth_step():
    # Li et al. 2021: f(x) = [tanh(b x / w) + tanh(b/2)] / (2 tanh(b/2)); with w = 2 theta, x = v - theta
    theta, b = 0.5, 4.0
    v = np.array([0.0, theta, 2 * theta])
    np.testing.assert_allclose(np.asarray(dspike_function(jnp.asarray(v - theta), b, 2 * theta)), [0.0, 0.5, 1.0],
                               atol=1e-15)
    x = jnp.asarray(X)
    smooth = np.asarray(jax.vmap(jax.grad(lambda u: dspike_function(u, b, 2 * theta)))(x))
    surrogate = np.asarray(jax.vmap(jax.grad(lambda u: dspike(u, b, 2 * theta)))(x))
    np.testing.assert_allclose(surrogate, smooth, rtol=1e-13, atol=1e-14)
    analytic = (b / 1.0) / np.cosh(b * X) ** 2 / (2 * np.tanh(b / 2))
    np.testing.assert_allclose(surrogate, analytic, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(dspike(x, b, 2 * theta)), (X >= 0).astype(float))


def _numpy_lif(currents, tau, theta, beta_adapt=0.0, tau_adapt=0.0):
    """Eqs. 29-30 (plus the AdaLIF threshold when beta_adapt > 0) as a plain loop."""
    v = np.zeros(currents.shape[1])
    s = np.zeros_like(v)
    b = np.zeros_like(v)
    vs, ss = [], []
    for i_t in currents:
        vt = tau * v + i_t
        new_s = (vt >= theta + beta_adapt * b).astype(float)
        b = tau_adapt * b + (1 - tau_adapt) * s
        s = new_s
        v = vt * (1 - s)
        vs.append(v)
        ss.append(s)
    return np.array(vs), np.array(ss)


def _scan(cell, currents):
    def body(state, i_t):
        state, s = cell.update(state, i_t)
        return state, (state.v, s)

    return jax.lax.scan(body, cell.batch_state(), jnp.asarray(currents))[1]


CURRENTS = np.random.default_rng(0).uniform(-0.2, 0.45, (60, 6))


@pytest.mark.parametrize("make", [lambda: SurrogateLIF.create(6, tau=0.9, theta=0.5),
                                  lambda: PLIF.create(6, tau=0.9, theta=0.5),
                                  lambda: DSpikeLIF.create(6, tau=0.9, theta=0.5),
                                  lambda: SurrogateLIF.create(6, kind="arctan")])
def test_lif_baselines_match_a_numpy_loop_of_the_papers_equations(make):
    v, s = _scan(make(), CURRENTS)
    v_ref, s_ref = _numpy_lif(CURRENTS, 0.9, 0.5)
    assert 0.05 < s_ref.mean() < 0.5  # the trajectory does spike
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(v), v_ref, rtol=1e-13, atol=1e-14)


def test_adaptive_lif_matches_a_numpy_loop_and_adapts():
    cell = AdaLIF.create(6, beta_adapt=0.3, tau_adapt=0.8)
    v, s = _scan(cell, CURRENTS)
    v_ref, s_ref = _numpy_lif(CURRENTS, 0.9, 0.5, 0.3, 0.8)
    np.testing.assert_array_equal(np.asarray(s), s_ref)
    np.testing.assert_allclose(np.asarray(v), v_ref, rtol=1e-13, atol=1e-14)
    assert s_ref.sum() < _numpy_lif(CURRENTS, 0.9, 0.5)[1].sum()  # the raised threshold removes spikes


def test_one_step_gradient_is_the_surrogate_at_the_membrane_potential():
    # ds/dI for one step from v: g(tau v + I - theta), the analytic surrogate
    cell = SurrogateLIF.create(5, tau=0.9, theta=0.5, slope=10.0)
    v = jnp.asarray([0.1, 0.4, -0.2, 0.55, 0.3])
    current = jnp.asarray([0.2, 0.05, 0.3, -0.1, 0.6])
    jac = np.asarray(jax.jacobian(lambda i: cell.update(cell.batch_state()._replace(v=v), i)[1])(current))
    x = 0.9 * np.asarray(v) + np.asarray(current) - 0.5
    np.testing.assert_allclose(np.diag(jac), ANALYTIC["sigmoid"](x, 10.0), rtol=1e-13)
    assert np.count_nonzero(jac - np.diag(np.diag(jac))) == 0


def test_plif_learns_its_leak_and_the_lif_has_nothing_to_learn():
    plif = PLIF.create(4, tau=0.8)
    np.testing.assert_allclose(np.asarray(plif.tau), 0.8, rtol=1e-14)
    loss = lambda m: jnp.sum(_scan(m, CURRENTS[:, :4] + 0.1)[1])  # noqa: E731
    g = jax.grad(loss)(plif)
    assert np.all(np.isfinite(np.asarray(g.tau_param))) and np.any(np.asarray(g.tau_param) != 0)
    assert plif.learned() == ("tau_param",) and SurrogateLIF.create(2).learned() == ()


def test_bad_surrogate_input_names_the_field():
    with pytest.raises(SpecError, match="kind"):
        SurrogateLIF.create(2, kind="tanh")
    with pytest.raises(SpecError, match="kind"):
        heaviside_surrogate(jnp.zeros(2), "tanh")
    with pytest.raises(SpecError, match="tau"):
        AdaLIF.create(2, tau=-0.1)
    with pytest.raises(SpecError, match="slope"):
        SurrogateLIF.create(2, slope=0.0)
