"""Plasticity rules reproduce their papers' experiments (small versions; the full-size
Song-Miller-Abbott run is examples/stdp_song_miller_abbott.py)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn as nd
from neurodyn.core import Network
from neurodyn.diagnostics.spiking import ei_balance
from neurodyn.models import (InhibitorySTDP, PlasticProjection, PoissonInput, PoissonSource, SynapticLIF,
                             TripletSTDP)
from neurodyn.ops.synapses import SynapseCSR

# ---------------------------------------------------------------- Pfister & Gerstner 2006

PAIRINGS = 60  # Sjöström, Turrigiano & Nelson (2001): 60 pairings, delta t = +-10 ms, 0.1-50 Hz
FREQUENCIES = np.array([1.0, 10.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0])


def _triplet_steady_change(f, lag, rule):
    """Weight change per pairing of the all-to-all triplet rule (A3- = 0) in the steady state of
    periodic pairs at ``f`` Hz, post ``lag`` ms after pre (lag < 0: post first), by summing the
    traces' geometric series: ``r1 (A2+ + A3+ o2) - A2- o1``."""
    period = 1000.0 / f
    tp, tm, ty = float(rule.tau_plus), float(rule.tau_minus), float(rule.tau_y)
    if lag < 0:  # post at 0, pre at |lag|
        o1 = np.exp(-(-lag) / tm) / (1 - np.exp(-period / tm))
        r1 = np.exp(-(period + lag) / tp) / (1 - np.exp(-period / tp))
    else:
        o1 = np.exp(-(period - lag) / tm) / (1 - np.exp(-period / tm))
        r1 = np.exp(-lag / tp) / (1 - np.exp(-period / tp))
    o2 = np.exp(-period / ty) / (1 - np.exp(-period / ty))
    return r1 * (float(rule.a2_plus) + float(rule.a3_plus) * o2) - float(rule.a2_minus) * o1


def test_triplet_rule_reproduces_the_frequency_dependence_of_visual_cortex():
    """Pfister & Gerstner (2006), Fig. 6 (their minimal all-to-all model of Sjöström et al.'s
    visual-cortex data): post-before-pre pairs (-10 ms) depress at low frequencies and potentiate
    above a crossover (Sjöström et al.: LTD up to 20 Hz, LTP at 40-50 Hz); pre-before-post pairs
    (+10 ms) potentiate at 10 Hz and above. One synapse per (frequency, lag), 60 pairings, dt = 1 ms.
    Measured crossover: 34 Hz (the steady-state closed form gives 34.0 Hz)."""
    dt = 1.0
    rule = TripletSTDP.visual_cortex(nearest=False, w_max=100.0)
    lags = (-10, 10)
    protocols = [(f, lag) for lag in lags for f in FREQUENCIES]
    n = len(protocols)
    steps = int(PAIRINGS * 1000.0 / FREQUENCIES.min()) + 50
    pre, post = np.zeros((steps, n), bool), np.zeros((steps, n), bool)
    for i, (f, lag) in enumerate(protocols):
        first = 20 + max(0, -lag)
        onsets = first + np.round(np.arange(PAIRINGS) * 1000.0 / f / dt).astype(int)
        pre[onsets, i] = True
        post[onsets + lag, i] = True
    conn = SynapseCSR.from_coo(np.arange(n), np.arange(n), 50.0, n_pre=n, n_post=n, dtype=jnp.float64)
    proj = PlasticProjection.create("pre", "post", conn, rule=rule, dt=dt)
    quiet = jnp.zeros(n, bool)
    state = proj.init(jax.random.PRNGKey(0), {"pre": {"spike": quiet}, "post": {"spike": quiet}})

    def body(state, xs):
        s, a, b = xs
        return proj.step(state, {"pre": {"spike": a}, "post": {"spike": b}}, s)[0], None

    final = jax.jit(lambda st: jax.lax.scan(body, st, (jnp.arange(steps, dtype=jnp.int32), jnp.asarray(pre),
                                                       jnp.asarray(post)))[0])(state)
    change = (np.asarray(final.weights) - 50.0) / PAIRINGS  # per pairing
    minus, plus = change[:FREQUENCIES.size], change[FREQUENCIES.size:]
    assert np.all(minus[FREQUENCIES <= 20] < 0) and np.all(minus[FREQUENCIES >= 40] > 0)
    assert np.all(plus[FREQUENCIES >= 10] > 0) and abs(plus[0]) < 1e-4  # no LTP at 1 Hz (A2+ ~ 0)
    k = np.flatnonzero(np.diff(np.sign(minus)) > 0)[0]  # the sign change, interpolated linearly
    crossover = FREQUENCIES[k] - minus[k] * (FREQUENCIES[k + 1] - FREQUENCIES[k]) / (minus[k + 1] - minus[k])
    assert 25.0 < crossover < 40.0, crossover
    steady = np.array([_triplet_steady_change(f, -10, rule) for f in FREQUENCIES])
    k_s = np.flatnonzero(np.diff(np.sign(steady)) > 0)[0]
    closed = FREQUENCIES[k_s] - steady[k_s] * (FREQUENCIES[k_s + 1] - FREQUENCIES[k_s]) / (steady[k_s + 1] - steady[k_s])
    assert abs(crossover - closed) < 2.0, (crossover, closed)
    # at 50 Hz (20 ms period) +10 and -10 ms are the same periodic train: equal changes
    np.testing.assert_allclose(minus[-1], plus[-1], rtol=0.05)


# ---------------------------------------------------------------- Vogels et al. 2011

def _vogels_network(eta, dt=0.5, n_post=20, n_inh=400, seed=0):
    """``n_post`` conductance-based LIF cells (Vogels et al. 2011: tau_m 20 ms, V_rest -60,
    V_th -50, V_reset -60 mV, refractory 5 ms, E_E 0, E_I -80 mV, tau_E 5, tau_I 10 ms), each
    driven by 800 excitatory Poisson trains at 10 Hz (fixed weights) and receiving all
    ``n_inh`` inhibitory Poisson neurons at 10 Hz through inhibitory STDP (target 5 Hz)."""
    cell = SynapticLIF.create(n_post, tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_th=-50.0, t_ref=5.0, tau_e=5.0,
                              tau_i=10.0, e_e=0.0, e_i=-80.0, dt=dt)
    inh = PoissonSource.create(n_inh, 10.0, dt=dt)
    conn = SynapseCSR.fixed_fanout(n_inh, n_post, n_post, weight=0.01, seed=seed)
    rule = InhibitorySTDP(tau=20.0, eta=eta, target_rate=5.0, w_max=5.0)
    plastic = PlasticProjection.create("inh", "cells", conn, rule=rule, port="g_i", dt=dt)
    exc = PoissonInput.create("cells", cell, rate=10.0, n_inputs=800, weight=0.02, port="g_e")
    return Network({"inh": inh, "cells": cell}, {"istdp": plastic, "exc": exc})


def test_inhibitory_stdp_drives_rates_to_the_target_and_balances_currents():
    """Vogels et al. (2011), Fig. 1: with inhibitory plasticity on, the postsynaptic rates
    settle at the target (5 Hz, within 10 %) and inhibition grows to match excitation
    (neurodyn's ei_balance: <I_E>/|<I_I>| towards 1); switched off (eta = 0) the cells keep
    firing far above the target. 20 s of learning at dt = 0.5 ms (the rates settle within
    10 s), rates over the next 20 s: 5.3 Hz measured (above the target by the negative
    correlation an inhibitory spike imposes on the cell's next spikes; 5.4 Hz with 200 inputs)."""
    dt = 0.5
    learn, measure = int(20_000 / dt), int(20_000 / dt)
    net = _vogels_network(2e-3, dt)
    state = net.init(jax.random.PRNGKey(3))
    names = ("cells.spike", "cells.g_e", "cells.g_i", "cells.v")

    def experiment(eta):  # eta is a leaf: plasticity off and on in one compiled, vmapped run
        proj = net.projections["istdp"]
        model = dataclasses.replace(net, projections={**net.projections, "istdp": dataclasses.replace(
            proj, rule=dataclasses.replace(proj.rule, eta=eta))})
        learned = nd.run(model, state, learn, record=())[0]
        return nd.run(model, learned, measure, record=names)[1]

    rec = jax.jit(jax.vmap(experiment))(jnp.asarray([0.0, 2e-3]))
    cell = net.populations["cells"]
    rates, ratios = [], []
    for b in range(2):
        v = np.asarray(rec["cells.v"][b])
        rates.append(np.asarray(rec["cells.spike"][b]).mean(axis=0) / dt * 1000.0)
        i_e = np.asarray(rec["cells.g_e"][b]) * (float(cell.e_e) - v)
        i_i = np.asarray(rec["cells.g_i"][b]) * (float(cell.e_i) - v)
        ratios.append(ei_balance(i_e, i_i)["ratio"])
    (rate_off, rate_on), (ratio_off, ratio_on) = rates, ratios
    assert abs(rate_on.mean() - 5.0) < 0.5, rate_on.mean()  # population mean within 10 % of the target
    assert rate_off.mean() > 10.0, rate_off.mean()  # without plasticity: far above it
    assert abs(np.median(ratio_on) - 1.0) < abs(np.median(ratio_off) - 1.0)  # inhibition caught up
