"""The Poisson drive (neurodyn.models.poisson): counts per step, a driven LIF against a NumPy
reference of the same model, reproducibility from the seed, spec errors."""

import jax
import numpy as np
import pytest
from jax import lax

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import LIF, PoissonInput
from neurodyn.runs import simulate_spec
from neurodyn.spec.build import build_spec


def test_counts_per_step_have_the_poisson_mean_and_variance():
    # 100 trains of 20 Hz into 200 neurons, dt = 0.1 ms: lambda = 100 * 20 * 0.1e-3 = 0.2 input
    # spikes per neuron and step. A Poisson count has mean = variance = lambda; with 400,000
    # samples the standard errors are 0.35 % (mean) and 0.42 % (variance, sqrt((lambda +
    # 2 lambda^2) / N) / lambda): asserted within 2 % and 3 % (about 6 standard errors).
    lif = LIF.create(200, dt=0.1)
    drive = PoissonInput.create("n", lif, rate=20.0, n_inputs=100, weight=0.5, port="v")
    assert float(drive.mean_count) == pytest.approx(0.2, rel=1e-6)

    def body(key, _):
        key, out = drive.step(key, {}, 0)
        return key, out[("n", "v")] / 0.5

    _, counts = lax.scan(body, jax.random.PRNGKey(3), None, length=2000)
    counts = np.asarray(counts, float)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0  # whole input spikes, weight 0.5 each
    assert counts.mean() == pytest.approx(0.2, rel=0.02)
    assert counts.var() == pytest.approx(0.2, rel=0.03)
    # independent across steps and neurons: lag-1 and neighbour correlations are 0 +- 0.0016 (1/sqrt(N))
    c = counts - counts.mean()
    assert abs((c[1:] * c[:-1]).mean() / c.var()) < 0.01
    assert abs((c[:, 1:] * c[:, :-1]).mean() / c.var()) < 0.01


def _numpy_lif_rate(n, steps, seed, lam, w, dt=0.1, tau=20.0, v_rest=-70.0, v_reset=-70.0, v_th=-50.0,
                    t_ref=2.0):
    """Independent reference: the LIF of docs/models/spiking.md (exact decay over dt, then the
    voltage jumps, threshold, reset, refractory clock) driven by NumPy's own Poisson counts."""
    rng = np.random.default_rng(seed)
    v = v_reset + rng.uniform(size=n) * (v_th - v_reset)
    refractory = np.zeros(n)
    spikes, decay = 0, np.exp(-dt / tau)
    for _ in range(steps):
        k = rng.poisson(lam, n)
        free = refractory <= 0
        v = np.where(free, v_rest + (v - v_rest) * decay + w * k, v_reset)
        s = free & (v >= v_th)
        spikes += int(s.sum())
        v = np.where(s, v_reset, v)
        refractory = np.where(s, t_ref, np.maximum(refractory - dt, 0.0))
    return spikes / n / (steps * dt * 1e-3)


def test_poisson_driven_lif_fires_at_the_rate_of_a_numpy_reference():
    # 1000 trains of 5 Hz, 0.2 mV jumps: mean input w n r tau = 20 mV (V_inf at threshold) with
    # fluctuations of sigma = w sqrt(n r tau / 2) = 1.4 mV: the fluctuation-driven regime, where
    # the rate depends on the input's variance, not only its mean. 500 neurons for 1 s (about
    # 7,000 spikes each): the two estimates differ by about 2 % (one standard error); asserted
    # within 7 %. Measured: 14.5 Hz both.
    lif = LIF.create(500, tau_m=20.0, v_rest=-70.0, v_reset=-70.0, v_th=-50.0, t_ref=2.0)
    net = nd.Network({"n": lif}, {"poisson": PoissonInput.create("n", lif, rate=5.0, n_inputs=1000, weight=0.2,
                                                                 port="v")})
    traj = nd.simulate(net, 10000, key=jax.random.PRNGKey(0), record=())
    rate = len(traj.spikes["n.spike"][0]) / 500 / 1.0
    reference = _numpy_lif_rate(500, 10000, 1, 1000 * 5.0 * 0.1e-3, 0.2)
    assert 10.0 < reference < 20.0, reference
    assert rate == pytest.approx(reference, rel=0.07)
    # without the drive the neurons relax to V_rest = -70 mV and stay silent
    silent = nd.simulate(nd.Network({"n": lif}), 2000, key=jax.random.PRNGKey(0), record=())
    assert len(silent.spikes["n.spike"][0]) == 0


def _spec(seed, rate=8.0):
    return {"name": "poisson", "steps": 3000, "dt": 0.1, "seed": seed,
            "populations": {"exc": {"model": "lif_cuba", "n": 50, "v_rest": -60.0}},
            "couplings": {"drive": {"kind": "poisson", "target": "exc", "port": "g_e", "rate": rate,
                                    "n_inputs": 400, "weight": 1.0}},
            "record": {"variables": ["exc.g_e"], "every": 10}}


def test_spec_drive_is_reproducible_from_the_seed_and_feeds_its_port():
    a, b, c = (simulate_spec(build_spec(_spec(s))) for s in (5, 5, 6))
    np.testing.assert_array_equal(a["exc.g_e"], b["exc.g_e"])
    np.testing.assert_array_equal(a.spikes["exc.spike"][1], b.spikes["exc.spike"][1])
    assert not np.array_equal(a["exc.g_e"], c["exc.g_e"])
    # g_e is the Poisson shot noise filtered by tau_e = 5 ms: its stationary mean is
    # weight * lambda * tau_e / dt = 1 * (400 * 8 * 1e-4) * 50 = 16 mV (Campbell's theorem),
    # averaged over 50 neurons and 250 ms (after 50 ms) to within 3 %.
    g = a["exc.g_e"][50:]
    assert g.mean() == pytest.approx(16.0, rel=0.03)


def test_poisson_spec_errors_name_the_field():
    data = _spec(1)
    data["couplings"]["drive"]["port"] = "x"
    with pytest.raises(SpecError, match="couplings.drive: port: population 'exc' has no input port 'x'"):
        build_spec(data)
    with pytest.raises(SpecError, match="couplings.drive.rate"):
        build_spec(_spec(1, rate=-1.0))
    data = _spec(1)
    data["couplings"]["drive"]["n_inputs"] = 2.5
    with pytest.raises(SpecError, match="couplings.drive.n_inputs"):
        build_spec(data)


def test_weight_is_differentiable_and_vmappable():
    # g_e of a current synapse is linear in the drive's weight (the counts do not depend on it):
    # d<g_e>/dw = <g_e>(w) / w exactly, and a vmapped batch of weights scales <g_e> by w
    import dataclasses

    import jax.numpy as jnp

    from neurodyn.models import SynapticLIF

    cell = SynapticLIF.create(20, synapse="current", v_rest=-70.0)
    net = nd.Network({"n": cell}, {"d": PoissonInput.create("n", cell, rate=10.0, n_inputs=100, weight=1.0,
                                                            port="g_e")})
    state = net.init(jax.random.PRNGKey(0))

    def mean_g(w):
        m = dataclasses.replace(net, projections={"d": dataclasses.replace(net.projections["d"], weight=w)})
        return jnp.mean(nd.run(m, state, 200, record=())[0]["n"].g_e)

    g1 = float(mean_g(1.0))
    assert g1 > 0
    assert float(jax.grad(mean_g)(jnp.asarray(2.0))) == pytest.approx(g1, rel=1e-12)
    np.testing.assert_allclose(jax.vmap(mean_g)(jnp.array([0.5, 1.0, 2.0])), [0.5 * g1, g1, 2 * g1], rtol=1e-12)
