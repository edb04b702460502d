"""E/I-balanced adaptive reservoir (docs/models/reservoirs.md, "E/I reservoir"; Srinivasan, Plenz &
Girvan, arXiv:2504.12480): construction, the homeostatic rule against a NumPy loop, its fixed
point, the one-step design, and memory capacity against the global E/I balance."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.readout import memory_capacity
from neurodyn.errors import SpecError
from neurodyn.models.ei_reservoir import (AdaptiveEIReservoir, EIReservoir, EIState, adapt, ei_balance,
                                          one_step_design, one_step_factors, target_rates)
from neurodyn.spec import build_spec

N, K = 100, 10
MC = dict(max_delay=60, train=2000, test=1000, washout=100)


def test_construction_obeys_dale_law_in_degree_and_exact_balance():
    r = EIReservoir.create(N, in_degree=K, balance=1.3, input_fraction=0.3, input_scaling=2.0, seed=2)
    w_exc, w_inh, w_in = (np.asarray(a) for a in (r.w_exc, r.w_inh, r.w_in))
    assert r.n_exc == 80
    assert (w_exc >= 0).all() and (w_inh >= 0).all()
    assert not w_exc[:, 80:].any() and not w_inh[:, :80].any()  # Dale: presynaptic type fixes the sign
    assert ((w_exc > 0).sum(axis=1) == K).all() and ((w_inh > 0).sum(axis=1) == K).all()
    assert not np.diag(w_exc).any() and not np.diag(w_inh).any()
    np.testing.assert_allclose(float(ei_balance(r)), 1.3, rtol=1e-12)
    np.testing.assert_allclose(float(ei_balance(r, signed=True)), 0.3, rtol=1e-10)
    assert (np.abs(w_in) > 0).sum() == 30 and np.abs(w_in).max() <= 1.0
    # mean excitatory weight 1 / (k f_E) (third-party default), spread 0.2 mu
    mu = 1 / (K * 0.8)
    np.testing.assert_allclose(w_exc[w_exc > 0].mean(), mu, rtol=0.05)
    with pytest.raises(SpecError, match="in_degree"):
        EIReservoir.create(20, in_degree=4)
    # with self-connections allowed all 4 inhibitory units can be inputs, and some are autapses
    loops = EIReservoir.create(20, in_degree=4, self_connections=True, seed=0)
    assert ((np.asarray(loops.w_inh) > 0).sum(axis=1) == 4).all() and np.diag(np.asarray(loops.w_inh))[16:].all()
    with pytest.raises(SpecError, match="Dale"):
        EIReservoir.from_matrices(np.ones((3, 3)), np.zeros((3, 3)), np.ones(3), n_exc=2)


def test_plastic_step_equals_numpy_loop_of_the_published_rule():
    r = EIReservoir.create(30, in_degree=4, balance=0.8, leak=0.3, gain=4.0, threshold=0.1, seed=1)
    # every other unit aims at a rate it cannot reach: its inhibition is driven to zero and clipped
    rho = np.where(np.arange(30) % 2, 0.995, target_rates(30, "heterogeneous", seed=3))
    model = AdaptiveEIReservoir.create(r, rho, 0.3)
    u = np.random.default_rng(0).uniform(-0.8, 0.8, (200, 1))
    traj = nd.simulate(model, 201, drive=jnp.asarray(np.r_[u, u[-1:]]), record=("x",))
    we, wi, win = (np.asarray(a, float) for a in (r.w_exc, r.w_inh, r.w_in))
    mask = wi > 0
    v, rates = np.zeros(30), []
    for t in range(200):  # V <- l V + A^E r - A^I r + W_in u; A^I_ij <- max(0, A^I_ij + delta (r_i - rho_i))
        s = 1 / (1 + np.exp(-4.0 * (v - 0.1)))
        v = 0.3 * v + we @ s - wi @ s + win @ u[t]
        s = 1 / (1 + np.exp(-4.0 * (v - 0.1)))
        wi = np.where(mask, np.maximum(wi + 0.3 * (s - rho)[:, None], 0.0), 0.0)
        rates.append(s)
    np.testing.assert_allclose(np.asarray(traj["x"])[1:], np.array(rates), rtol=0, atol=1e-10)
    final = nd.run(model, model.init(None), 200, drive=jnp.asarray(u), record=())[0]
    np.testing.assert_allclose(np.asarray(final.w_inh), wi, rtol=0, atol=1e-10)
    assert (wi == 0).sum() > (~mask).sum()  # some synapses were clipped at zero


def test_adaptation_reaches_the_target_rates_monotonically():
    # [DERIVED] the rule's fixed point has <r_i> = rho_i: the epoch mismatch mean_i |<r_i> - rho_i| decays
    r = EIReservoir.create(N, in_degree=K, balance=0.7, seed=0)
    model = AdaptiveEIReservoir.create(r, target_rates(N, "heterogeneous", seed=1), 3e-4)
    u = np.random.default_rng(5).uniform(-0.8, 0.8, (300, 1))
    frozen, state, mismatch = adapt(model, u, epochs=20)
    # measured: 0.246, 0.068, 0.041, ... 1.1e-4 (strictly decreasing)
    assert mismatch[0] > 0.2
    assert np.all(np.diff(mismatch) < 0)
    assert mismatch[-1] < 2e-4
    np.testing.assert_array_equal(np.asarray(frozen.w_inh), np.asarray(state.w_inh))
    # frozen reservoir (no plasticity) driven by the same input keeps its rates near the targets
    x = nd.simulate(frozen, 300, drive=jnp.asarray(u), state=EIState(state.v))["x"]
    assert np.mean(np.abs(np.asarray(x).mean(axis=0) - np.asarray(model.targets))) < 0.01


def test_one_step_design_places_the_fixed_point_at_the_targets():
    # [DERIVED] with Omega_i from the fixed-point equation, V*_i = theta + logit(rho_i)/c is a fixed point
    for kind, gain, leak in (("homogeneous", 10.0, 0.0), ("heterogeneous", 10.0, 0.5), ("heterogeneous", 5.0, 0.5)):
        rho = target_rates(N, kind, rate=0.2, seed=1)
        r = EIReservoir.create(N, in_degree=K, balance=1.0, gain=gain, leak=leak, seed=0)
        designed = one_step_design(r, rho, 0.3)
        assert float(jnp.min(one_step_factors(r, rho, 0.3))) > 0  # nothing clipped here
        v_star = designed.threshold + jnp.log(rho / (1 - rho)) / designed.gain
        v_next = designed.step(EIState(v_star), jnp.array([0.3])).v
        np.testing.assert_allclose(np.asarray(designed.rates(v_next)), rho, rtol=0, atol=1e-12)
    # where that fixed point attracts, the run from rest converges onto the targets
    x = nd.simulate(designed, 3000, drive=jnp.full((3000, 1), 0.3))["x"]
    np.testing.assert_allclose(np.asarray(x)[-1], rho, rtol=0, atol=1e-6)
    # the third-party reading (logit term without 1/c) misses the targets
    a_e, a_i, w_u = (np.asarray(m) for m in (r.w_exc @ rho, r.w_inh @ rho, r.w_in @ jnp.array([0.3])))
    wrong = (a_e + w_u - 0.5 * np.log(rho / (1 - rho))) / a_i
    v = 0.5 * np.asarray(v_star) + a_e - wrong * a_i + w_u
    assert np.max(np.abs(1 / (1 + np.exp(-5.0 * v)) - rho)) > 0.05


def _mc(reservoir, seed):
    return memory_capacity(reservoir, seed=seed, **MC).total


def test_self_adapting_reservoir_beats_global_tuning_when_excitation_dominates():
    # [SRC-abstract] local adaptation rescues an excitation-dominated reservoir (balance 0.5); 5 seeds
    fixed, adapted = [], []
    for seed in range(5):
        r = EIReservoir.create(N, in_degree=K, balance=0.5, seed=seed)
        model = AdaptiveEIReservoir.create(r, target_rates(N, "heterogeneous", seed=seed), 1e-2)
        u = np.random.default_rng(100 + seed).uniform(-0.8, 0.8, (1000, 1))
        fixed.append(_mc(r, seed))
        adapted.append(_mc(adapt(model, u, epochs=10)[0], seed))
    fixed, adapted = np.array(fixed), np.array(adapted)
    # measured: fixed about 2.5 (2.4-2.6), adapted about 8.5 (8.4-8.6) of N = 100
    assert np.all(adapted > fixed + 3.0)
    assert adapted.mean() > 2.5 * fixed.mean()


def test_memory_capacity_peaks_at_balance_or_slight_inhibition():
    # [SRC-abstract] best at balance or slightly inhibition-dominated, worst when excitation dominates
    balances = [0.5, 0.8, 1.0, 1.2, 1.5, 2.0]
    mc = np.array([np.mean([_mc(EIReservoir.create(N, in_degree=K, balance=b, seed=s), s) for s in range(3)])
                   for b in balances])
    # measured: 2.5, 7.4, 9.2, 8.3, 6.2, 2.7
    assert balances[int(np.argmax(mc))] in (1.0, 1.2)
    assert mc[0] < 0.5 * mc.max() and mc[-1] < 0.5 * mc.max()


def test_spec_builds_the_adaptive_reservoir():
    data = {"name": "ei", "steps": 5, "seed": 2, "precision": "float64",
            "populations": {"res": {"model": "ei_reservoir", "n": 20, "in_degree": 3, "adapt": True,
                                    "targets": "homogeneous", "target_rate": 0.3, "learning_rate": 0.01}}}
    spec = build_spec(data)
    model = spec.model.populations["res"]
    assert isinstance(model, AdaptiveEIReservoir)
    np.testing.assert_allclose(np.asarray(model.targets), 0.3)
    final, _ = nd.run(spec.model, spec.state, 5)
    assert final["res"].w_inh.shape == (20, 20)
