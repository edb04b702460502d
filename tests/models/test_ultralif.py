"""UltraLIF cells against the theory of Miñoza, arXiv:2602.11206 (docs/models/ultralif.md):
LSE bounds (Lemma 3.2), the spike-gradient bound (Prop. 5.4), convergence to the max-plus LIF
(Prop. 5.2, Cor. 5.3), gradients where the hard cell has none, and NumPy reference loops."""

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models.ultralif import (MaxPlusLIF, UltraDLIF, UltraDPLIF, UltraLIF, UltraPLIF, _lse2, lse)

EPSILONS = (1.0, 0.3, 0.1, 0.03, 0.01)
ROOT = Path(__file__).resolve().parents[2]

finite = st.floats(-50, 50, allow_nan=False)


_lse = jax.jit(lse)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=2, max_size=3), st.floats(0.01, 20.0))
def test_lse_lies_between_the_max_and_the_max_plus_eps_log_n(values, eps):
    # Lemma 3.2: M <= LSE_eps(x) <= M + eps log n
    x = np.asarray(values)
    value = float(_lse(jnp.asarray(x), eps))
    m = x.max()
    assert m - 1e-12 <= value <= m + eps * math.log(len(x)) + 1e-12
    if len(x) == 2:  # the two-term form used inside the cell is the same function
        assert abs(float(_lse2(x[0], x[1], eps)) - value) <= 1e-12 * max(1.0, abs(value))


@settings(max_examples=100, deadline=None)
@given(finite, st.floats(0.01, 20.0))
def test_lse_of_zero_and_x_is_the_scaled_softplus(x, eps):
    # LSE_eps(0, x) = eps log(1 + e^{x/eps}), computed here with NumPy's logaddexp
    value = float(_lse(jnp.asarray([0.0, x]), eps))
    assert abs(value - eps * np.logaddexp(0.0, x / eps)) <= 1e-12 * max(1.0, abs(value))


def test_lse_gradient_is_the_softmax_and_equals_the_direct_formula():
    x = np.array([[0.3, -1.2, 2.0], [5.0, 5.0, -3.0]])
    eps = np.array([0.7, 2.0])
    direct = eps * np.log(np.exp(x / eps[:, None]).sum(-1))
    np.testing.assert_allclose(np.asarray(lse(jnp.asarray(x), jnp.asarray(eps))), direct, rtol=1e-13)
    g = jax.grad(lambda v: lse(v, 0.7))(jnp.asarray(x[0]))
    soft = np.exp(x[0] / 0.7) / np.exp(x[0] / 0.7).sum()
    np.testing.assert_allclose(np.asarray(g), soft, rtol=1e-13)


@pytest.mark.parametrize("eps", [0.1, 0.5, 2.0])
def test_max_spike_derivative_is_one_over_four_eps_at_threshold(eps):
    # Prop. 5.4: 0 < ds/dV~ <= 1/(4 eps), the maximum attained at V~ = theta
    cell = UltraLIF.create(1, eps=eps, theta=0.5)
    grid = jnp.linspace(-5.0, 6.0, 110001)
    d = jax.vmap(jax.grad(lambda v: cell.spike_of(v, cell.eps)[0]))(grid)
    d = np.asarray(d)
    assert np.all(d >= 0) and np.all(d[np.abs(np.asarray(grid) - 0.5) < 2.0] > 0)  # 0 only by underflow far out
    assert abs(d.max() - 1.0 / (4.0 * eps)) < 1e-10
    assert abs(float(grid[np.argmax(d)]) - 0.5) < 1e-4


def test_spike_gradient_with_respect_to_weights_is_bounded_by_input_over_four_eps():
    # Prop. 5.4: |ds_i/dW_ij| <= ||x||_inf / (4 eps) for one step from rest
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (6,)) * 2.0
    w = jax.random.normal(jax.random.fold_in(key, 1), (4, 6))
    jacobian = jax.jit(lambda cell, w: jax.jacobian(lambda w: cell.update(cell.batch_state(), w @ x)[1])(w))
    for eps in (0.2, 1.0, 3.0):
        jac = jacobian(UltraLIF.create(4, eps=eps), w)
        assert float(jnp.max(jnp.abs(jac))) <= float(jnp.max(jnp.abs(x))) / (4 * eps) + 1e-12
        assert float(jnp.max(jnp.abs(jac))) > 0.05 * float(jnp.max(jnp.abs(x))) / (4 * eps)


@jax.jit
def _scan(model, state, currents):
    def body(st, i_t):
        st = model.step(st, i_t)
        return st, model.observe(st)

    return jax.lax.scan(body, state, currents)[1]


def _run(model, state, currents):
    """The observables after each step (row t: after t + 1 steps); one compilation per model class."""
    return {k: np.asarray(v) for k, v in _scan(model, state, jnp.asarray(currents)).items()}


def _numpy_ultralif(v0, currents, eps, tau, theta, v_reset):
    """Definition 4.1 written directly (independent of the library's stable forms)."""
    v, vs, ss = v0.copy(), [], []
    for i_t in currents:
        vt = eps * np.log(np.exp((v + np.log(tau)) / eps) + np.exp(i_t / eps))
        s = 1.0 / (1.0 + np.exp(-(vt - theta) / eps))
        v = vt * (1 - s) + v_reset * s
        vs.append(v)
        ss.append(s)
    return np.array(vs), np.array(ss)


def test_ultralif_trajectory_matches_a_numpy_loop_of_definition_4_1():
    rng = np.random.default_rng(1)
    currents = rng.uniform(-1, 2, (40, 5))
    cell = UltraLIF.create(5, eps=0.6, tau=[0.9, 0.8, 0.7, 0.95, 0.5], theta=0.5, v_reset=-0.2)
    v0 = rng.uniform(-0.5, 0.5, 5)
    state = cell.init(jax.random.PRNGKey(0))._replace(v=jnp.asarray(v0))
    rec = _run(cell, state, currents)
    v_ref, s_ref = _numpy_ultralif(v0, currents, 0.6, np.array([0.9, 0.8, 0.7, 0.95, 0.5]), 0.5, -0.2)
    np.testing.assert_allclose(np.asarray(rec["v"]), v_ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rec["spike"]), s_ref, rtol=1e-11, atol=1e-12)


def test_ultraplif_with_the_same_leak_is_ultralif_and_its_leak_is_learned():
    currents = jnp.asarray(np.random.default_rng(2).uniform(-1, 2, (20, 3)))
    a, b = UltraLIF.create(3, tau=0.85), UltraPLIF.create(3, tau=0.85)
    np.testing.assert_allclose(np.asarray(b.tau), 0.85, rtol=1e-14)
    s = a.batch_state()
    ra = nd.run(a, s, 20, drive=currents, record=("v",))[1]["v"]
    rb = nd.run(b, s, 20, drive=currents, record=("v",))[1]["v"]
    np.testing.assert_allclose(np.asarray(ra), np.asarray(rb), rtol=1e-12, atol=1e-13)
    assert b.learned() == ("tau_param", "log_eps") and a.learned() == ("log_eps",)
    g = jax.grad(lambda m: jnp.sum(nd.run(m, s, 20, drive=currents, record=())[0].v))(b)
    assert np.all(np.abs(np.asarray(g.tau_param)) > 0)


def test_ultradlif_matches_a_numpy_ring_loop_with_and_without_normalisation():
    rng = np.random.default_rng(3)
    currents = rng.uniform(-1.5, 0.5, (15, 6))
    for normalize in (False, True):
        cell = UltraDLIF.create(6, eps=0.4, theta=0.5, normalize=normalize)
        v = np.zeros(6)
        ref = []
        for i_t in currents:
            stack = np.stack([np.roll(v, 1), v, np.roll(v, -1)])
            vt = 0.4 * np.log(np.exp(stack / 0.4).sum(0)) + i_t - (0.4 * np.log(3) if normalize else 0.0)
            s = 1 / (1 + np.exp(-(vt - 0.5) / 0.4))
            v = vt * (1 - s)
            ref.append(v)
        got = _run(cell, cell.batch_state(), currents)["v"]
        np.testing.assert_allclose(np.asarray(got), np.array(ref), rtol=1e-11, atol=1e-12)


def test_ultradplif_puts_log_tau_on_the_centre_term():
    cell = UltraDPLIF.create(4, eps=0.5, tau=0.6)
    v = jnp.asarray([0.1, -0.3, 0.2, 0.0])
    terms = np.exp(np.roll(v, 1) / 0.5) + np.exp((v + np.log(0.6)) / 0.5) + np.exp(np.roll(v, -1) / 0.5)
    vt = 0.5 * np.log(terms) + 0.2
    s = 1 / (1 + np.exp(-(vt - 0.5) / 0.5))
    new, spike = cell.update(cell.batch_state()._replace(v=v), jnp.full(4, 0.2))
    np.testing.assert_allclose(np.asarray(spike), s, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(new.v), vt * (1 - s), rtol=1e-12)


def _trajectories(cell, hard, v0, currents):
    soft = _run(cell, cell.batch_state()._replace(v=jnp.asarray(v0)), currents)
    return soft, _run(hard, hard.batch_state()._replace(v=jnp.asarray(v0)), currents)


def _check_convergence(make_cell, hard, v0, currents, log_n, expect_spikes):
    t = np.arange(1, len(currents) + 1)[:, None]
    errors = []
    for eps in EPSILONS:
        soft, ref = _trajectories(make_cell(eps), hard, v0, currents)
        err = np.abs(soft["v"] - ref["v"])
        # Prop. 5.2 / Cor. 5.3: |V_eps(t) - V_0(t)| <= t eps log n (spike-error terms e^{-delta/eps} ~ 1e-12 here)
        assert np.all(err <= t * eps * math.log(log_n) + 1e-9), (eps, float((err - t * eps * math.log(log_n)).max()))
        np.testing.assert_array_equal(np.round(soft["spike"]), ref["spike"])
        errors.append(err.max())
    assert expect_spikes == bool(ref["spike"].any())
    # the error shrinks monotonically with eps, and roughly in proportion to it
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.05 * errors[0]
    return errors


def test_ultralif_converges_to_the_max_plus_lif_below_threshold():
    rng = np.random.default_rng(4)
    currents = rng.uniform(-3, 3, (60, 8))
    v0 = rng.uniform(-1, 1, 8)
    hard = MaxPlusLIF.create(8, tau=0.9, theta=50.0)
    make = lambda e: UltraLIF.create(8, eps=e, tau=0.9, theta=50.0, learn_eps=False)  # noqa: E731
    _check_convergence(make, hard, v0, currents, 2, False)


def test_ultralif_converges_to_the_max_plus_lif_with_spikes_far_from_threshold():
    rng = np.random.default_rng(5)
    # inputs far above threshold (spike) or near the potential, far below it: every margin |V~ - theta| >= 27
    currents = np.where(rng.random((60, 8)) < 0.15, rng.uniform(60, 70, (60, 8)), rng.uniform(-3, 3, (60, 8)))
    hard = MaxPlusLIF.create(8, tau=0.9, theta=30.0)
    make = lambda e: UltraLIF.create(8, eps=e, tau=0.9, theta=30.0, learn_eps=False)  # noqa: E731
    _check_convergence(make, hard, np.zeros(8), currents, 2, True)


@pytest.mark.parametrize("normalize", [False, True])
def test_ultradlif_converges_to_max_plus_diffusion(normalize):
    rng = np.random.default_rng(6)
    currents = rng.uniform(-1.0, 0.2, (40, 10))
    v0 = rng.uniform(-2, 2, 10)
    hard = MaxPlusLIF.create(10, theta=50.0, mode="spatial")
    make = lambda e: UltraDLIF.create(10, eps=e, theta=50.0, normalize=normalize, learn_eps=False)  # noqa: E731
    _check_convergence(make, hard, v0, currents, 3, False)


def _layer_loss(cell, w, x_seq):
    def body(state, x):
        state, s = cell.update(state, x @ w)
        return state, s

    _, spikes = jax.lax.scan(body, cell.batch_state((x_seq.shape[1],)), x_seq)
    return jnp.sum(spikes * jnp.linspace(-1.0, 1.3, spikes.shape[-1]))


def test_gradients_flow_through_ultralif_where_the_hard_lif_has_none():
    key = jax.random.PRNGKey(7)
    x_seq = jax.random.bernoulli(key, 0.4, (6, 4, 12)).astype(float)
    w = jax.random.normal(jax.random.fold_in(key, 1), (12, 5)) * 0.5
    grad = jax.jit(jax.grad(_layer_loss, argnums=1))
    g_hard = grad(MaxPlusLIF.create(5, theta=0.5), w, x_seq)
    assert np.all(np.asarray(g_hard) == 0.0)  # a step function has zero derivative almost everywhere
    for cls in (UltraLIF, UltraPLIF, UltraDLIF, UltraDPLIF):
        g = np.asarray(grad(cls.create(5), w, x_seq))
        assert np.all(np.isfinite(g)) and np.count_nonzero(g) == g.size, cls.__name__
        assert np.abs(g).max() > 1e-3


def test_eps_is_learned_clipped_and_can_be_frozen():
    currents = jnp.asarray(np.random.default_rng(8).uniform(-1, 2, (10, 3)))

    def loss(m):
        return jnp.sum(nd.run(m, m.batch_state(), 10, drive=currents, record=("spike",))[1]["spike"])

    learned = UltraLIF.create(3, eps=0.7)
    g = float(jax.grad(loss)(learned).log_eps)
    h = 1e-6
    plus, minus = (float(loss(UltraLIF.create(3, eps=0.7 * math.exp(s * h)))) for s in (1, -1))
    fd = (plus - minus) / (2 * h)
    assert g != 0.0 and abs(g - fd) <= 1e-6 * abs(fd)
    assert float(jax.grad(loss)(UltraLIF.create(3, eps=0.7, learn_eps=False)).log_eps) == 0.0
    assert UltraLIF.create(3, eps=0.7, learn_eps=False).learned() == ()
    assert float(dataclasses.replace(learned, log_eps=jnp.asarray(5.0)).eps) == 20.0
    assert float(dataclasses.replace(learned, log_eps=jnp.asarray(-5.0)).eps) == pytest.approx(0.1)
    assert float(UltraLIF.create(3, eps=0.01, learn_eps=False).eps) == pytest.approx(0.01)  # fixed: not clipped
    with pytest.raises(SpecError, match="learn_eps"):
        UltraLIF.create(3, eps=0.01)


def test_disentangled_sharpness_replaces_one_over_eps():
    cell = UltraLIF.create(2, eps=2.0, sharpness=7.0)
    v = jnp.asarray([0.3, 0.9])
    np.testing.assert_allclose(np.asarray(cell.spike_of(v, cell.eps)), 1 / (1 + np.exp(-7.0 * (np.asarray(v) - 0.5))),
                               rtol=1e-13)
    assert cell.disentangled and not UltraLIF.create(2).disentangled


def test_cells_run_on_batches_like_one_population_each():
    cell = UltraDLIF.create(4)
    currents = jnp.asarray(np.random.default_rng(9).normal(size=(3, 4)))
    batched = cell.update(cell.batch_state((3,)), currents)[1]
    single = jnp.stack([cell.update(cell.batch_state(), c)[1] for c in currents])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(single), rtol=1e-14)


def test_bad_parameters_name_the_field():
    with pytest.raises(SpecError, match="tau"):
        UltraLIF.create(3, tau=1.5)
    with pytest.raises(SpecError, match="eps"):
        UltraLIF.create(3, eps=50.0)
    with pytest.raises(SpecError, match="mode"):
        MaxPlusLIF.create(3, mode="diagonal")
    with pytest.raises(SpecError, match="theta"):
        UltraDLIF.create(3, theta=[0.5, 0.5])


def test_soft_spike_example_writes_its_curves(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "ultralif_soft_spike.py"), "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    h5, png = tmp_path / "ultralif_soft_spike.h5", tmp_path / "ultralif_soft_spike.png"
    assert h5.is_file() and png.is_file() and png.stat().st_size > 1000
    with h5py.File(h5) as f:
        eps = f["eps"][:]
        v = f["v"][:]
        gap = f["l1_gap_to_heaviside"][:]
        peak = f["max_slope"][:]
        err = f["max_trajectory_error"][:]
        bound = f["trajectory_bound"][:]
        curves = f["soft_spike"][:]
    # sigma((v - theta)/eps) against H(v - theta): Lemma 5.1 |sigma(x/eps) - H(x)| <= e^{-|x|/eps}
    theta = 0.5
    x = v - theta
    assert np.all(np.abs(curves - (x >= 0)) <= np.exp(-np.abs(x) / eps[:, None]) + 1e-12)
    np.testing.assert_allclose(peak, 1 / (4 * eps), rtol=1e-3)  # Prop. 5.4
    # L1 distance to the step over [theta - 3, theta + 3]: 2 eps (log 2 - log(1 + e^{-3/eps})) (trapezoid rule)
    np.testing.assert_allclose(gap, 2 * eps * (np.log(2) - np.log1p(np.exp(-3 / eps))), rtol=2e-3)
    assert np.all(err <= bound) and np.all(np.diff(err) < 0)
