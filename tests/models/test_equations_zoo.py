"""The model zoo (neurodyn.models.zoo): each preset reproduces its paper's behaviour or an
independent NumPy loop of its equations (docs/models/zoo.md)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.core import Network
from neurodyn.models import SpikingProjection
from neurodyn.models.zoo import PRESETS, preset
from neurodyn.ops.synapses import SynapseCSR


def _spike_times(model, steps, dt, **kw):
    tr = nd.simulate(model, steps, **kw)
    sp = np.asarray(tr["spike"])
    return [np.nonzero(sp[:, k])[0] * dt for k in range(sp.shape[1])]


# ------------------------------------------------------------------ Izhikevich (2003)

def _izhikevich_network_reference(a, b, c, d, w, noise, dt, steps):
    """The network of Izhikevich (2003)'s listing in NumPy: v' = 0.04 v^2 + 5 v + 140 - u + I,
    u' = a (b v - u), forward Euler at dt (both variables from the state at the start of the
    step), spike at v >= 30 mV -> v = c, u += d; the spikes of a step add column w[:, j] of every
    spiking neuron j to I during the next step (summed in the order of j)."""
    n = a.size
    v, u = c.copy(), b * c
    spike = np.zeros(n, bool)
    raster = np.zeros((steps, n), bool)
    for k in range(steps):
        syn = np.zeros(n)
        for j in np.nonzero(spike)[0]:
            syn = syn + w[:, j]
        i = noise[k] + syn if spike.any() else noise[k] + np.zeros(n)
        v_new = v + dt * ((0.04 * (v * v) + 5 * v + 140.0 - u + 0.0 + i) / 1.0)
        u_new = u + dt * (a * (b * v - u))
        spike = v_new >= 30.0
        v = np.where(spike, c, v_new)
        u = np.where(spike, u_new + d, u_new)
        raster[k] = spike
    return raster


def test_izhikevich_network_equals_a_numpy_loop_of_the_paper():
    # the 2003 paper's network (800 RS-to-CH excitatory, 200 FS-to-LTS inhibitory cells, all to all,
    # thalamic noise 5 / 2 mV per ms), Euler at 0.5 ms (the listing's half step), its weights per ms
    # delivered within one step (x 1 ms / dt), the noise of each ms held over its two steps
    rng = np.random.default_rng(2003)
    ne, ni, dt, steps = 800, 200, 0.5, 600
    re, ri = rng.random(ne), rng.random(ni)
    a = np.r_[0.02 * np.ones(ne), 0.02 + 0.08 * ri]
    b = np.r_[0.2 * np.ones(ne), 0.25 - 0.05 * ri]
    c = np.r_[-65 + 15 * re**2, -65 * np.ones(ni)]
    d = np.r_[8 - 6 * re**2, 2 * np.ones(ni)]
    s = np.c_[0.5 * rng.random((ne + ni, ne)), -rng.random((ne + ni, ni))]
    w = s * (1.0 / dt)
    noise_ms = np.c_[5 * rng.standard_normal((steps // 2, ne)), 2 * rng.standard_normal((steps // 2, ni))]
    noise = np.repeat(noise_ms, 2, axis=0)
    n = ne + ni
    model = preset("izhikevich", n, a=a, b=b, c=c, d=d, dt=dt, dtype=jnp.float64)
    post, pre = np.nonzero(np.ones((n, n), bool))
    conn = SynapseCSR.from_coo(pre, post, w[post, pre], n_pre=n, n_post=n, dtype=jnp.float64)
    net = Network({"izh": model}, {"rec": SpikingProjection.create("izh", "izh", conn, port="I")})
    raster = np.asarray(nd.simulate(net, steps, drive={"izh": {"I": jnp.asarray(noise)}})["izh.spike"])[1:]
    expected = _izhikevich_network_reference(a, b, c, d, w, noise, dt, steps)
    np.testing.assert_array_equal(raster, expected[:-1])  # the trajectory's row k is the state after k steps
    rate = expected.sum() / n / (steps * dt * 1e-3)
    assert 3 < rate < 30, rate  # the paper's network fires at a few to tens of Hz, with rhythms


def test_izhikevich_cell_classes_show_their_patterns():
    # Izhikevich (2003), Fig. 2: constant input I = 10 (mV/ms): RS adapts, FS does not and fires
    # fastest, CH fires bursts (bimodal ISIs), IB fires an initial burst then single spikes
    dt = 0.1
    ts = {v: _spike_times(preset("izhikevich", 1, variant=v, i_ext=10.0, dt=dt, dtype=jnp.float64), 3000, dt)[0]
          for v in ("RS", "IB", "CH", "FS", "LTS")}
    isi = {k: np.diff(t) for k, t in ts.items()}
    assert isi["RS"][-1] > 1.5 * isi["RS"][0]                      # adaptation
    assert len(ts["FS"]) > 3 * len(ts["RS"]) and isi["FS"][-1] < isi["RS"][-1] / 4  # fast spiking
    assert len(ts["LTS"]) > 2 * len(ts["RS"]) and isi["LTS"][-1] > 3 * isi["LTS"][0]  # fast, adapting
    ch = isi["CH"]
    assert ch.min() < 10 and ch.max() > 3 * ch.min() and np.sum(ch < 10) >= 2 * np.sum(ch > 20) > 0  # bursts
    ib = isi["IB"]
    assert ib[0] < 10 and np.median(ib[3:]) > 3 * ib[0]            # initial burst, then tonic


# ------------------------------------------------------------------ AdEx (Naud et al. 2008)

def _adex_metrics(variant):
    dt = 0.05
    t = _spike_times(preset("adex", 1, variant=variant, dt=dt, dtype=jnp.float64), 10000, dt)[0]
    isi = np.diff(t)
    adaptation = np.mean(np.diff(isi) / (isi[1:] + isi[:-1])) if isi.size > 2 else np.nan
    cv = isi.std() / isi.mean() if isi.size > 1 else np.nan
    return t, isi, adaptation, cv


def test_adex_reproduces_the_firing_patterns_of_naud_2008():
    # Naud et al. (2008), Table 1 parameters and step currents, 500 ms; the classification of their
    # Fig. 2-4: adaptation index A = <(ISI_k+1 - ISI_k)/(ISI_k+1 + ISI_k)>, A ~ 0 tonic, A > 0
    # adapting, A < 0 accelerating; bursts: ISIs of two scales; transient: a few spikes, then silence
    t, isi, a, cv = _adex_metrics("tonic")
    assert abs(a) < 0.01 and cv < 0.05 and len(t) > 20
    t, isi, a, cv = _adex_metrics("adapting")
    assert a > 0.05 and isi[-1] > 3 * isi[0]
    t, isi, a, cv = _adex_metrics("initial_burst")
    assert isi[0] < 0.15 * np.median(isi) and np.all(isi[3:] > 0.5 * np.median(isi))
    t, isi, a, cv = _adex_metrics("bursting")
    assert cv > 0.8 and isi.max() > 10 * isi.min() and np.sum(isi > 0.5 * isi.max()) >= 3  # repeated bursts
    t, isi, a, cv = _adex_metrics("irregular")
    assert cv > 0.3 and len(np.unique(np.round(isi[5:]))) > 5  # no short cycle of ISIs
    t, isi, a, cv = _adex_metrics("transient")
    assert 1 <= len(t) <= 3 and t[-1] < 100
    t, isi, a, cv = _adex_metrics("delayed")
    assert a < 0 and t[0] > 25 and isi[-1] < isi[0]


# ------------------------------------------------------------------ Hodgkin-Huxley (1952)

def test_hodgkin_huxley_rheobase_and_fi_curve_at_6_3_celsius():
    # repetitive firing from rest begins at about 6.26 uA/cm^2 (the saddle-node of periodic orbits,
    # J. Rinzel, R. N. Miller, Math. Biosci. 49:27, 1980), with a nonzero frequency (class II, about
    # 50 Hz), rising with the current; below it a step gives at most a few spikes
    i_ua = np.array([5.0, 6.2, 6.35, 10.0, 20.0])
    dt = 0.05
    m = preset("hodgkin_huxley", i_ua.size, i_ext=list(i_ua * 0.01), dt=dt, dtype=jnp.float64)  # uA/cm2 -> pA/um2
    ts = _spike_times(m, 12000, dt)
    late = [np.sum(t > 100.0) / 0.5 for t in ts]  # Hz over the last 500 ms
    assert late[0] == 0 and late[1] == 0
    assert 45 <= late[2] <= 60, late
    assert late[2] < late[3] < late[4] and 60 < late[3] < 75 and 80 < late[4] < 95, late


def test_hodgkin_huxley_periodic_firing_has_a_zero_lyapunov_exponent():
    m = preset("hodgkin_huxley", 1, i_ext="10 uA/cm**2", dt=0.05, dtype=jnp.float64)
    state = nd.run(m, m.init(jax.random.PRNGKey(0)), 2000)[0]  # onto the limit cycle
    spectrum = np.asarray(nd.diagnostics.lyapunov_spectrum(m, 40000, k=2, state=state, renorm_every=20))
    assert abs(spectrum[0]) < 1e-3 and spectrum[1] < -0.01, spectrum


# ------------------------------------------------------------------ Traub-Miles (COBAHH cell)

def _traub_reference(p, v, m, n, h, g_e, g_i, i_ext, dt, steps):
    """The Traub-Miles cell of Brette et al. (2007) benchmark 3 in NumPy, exponential Euler per
    variable (x' = x_inf + (x - x_inf) exp(-dt / tau_x) with the other variables frozen)."""
    out = []
    for _ in range(steps):
        vt = p["v_t"]
        exprel = lambda x: np.expm1(x) / x
        am = 1.28 / exprel((13 - v + vt) / 4)
        bm = 1.4 / exprel((v - vt - 40) / 5)
        ah = 0.128 * np.exp((17 - v + vt) / 18)
        bh = 4 / (1 + np.exp((40 - v + vt) / 5))
        an = 0.16 / exprel((15 - v + vt) / 5)
        bn = 0.5 * np.exp((10 - v + vt) / 40)
        leak = p["g_l"] + g_e + g_i + p["g_na"] * m**3 * h + p["g_kd"] * n**4
        rest = (p["g_l"] * p["e_l"] + g_e * p["e_e"] + g_i * p["e_i"] + p["g_na"] * m**3 * h * p["e_na"]
                + p["g_kd"] * n**4 * p["e_k"] + i_ext)
        v_inf = rest / leak
        v_new = v_inf + (v - v_inf) * np.exp(-leak * dt / p["c_m"])
        gate = lambda x, a, b: a / (a + b) + (x - a / (a + b)) * np.exp(-(a + b) * dt)
        m, n, h = gate(m, am, bm), gate(n, an, bn), gate(h, ah, bh)
        g_e, g_i = g_e * np.exp(-dt / p["tau_e"]), g_i * np.exp(-dt / p["tau_i"])
        v = v_new
        out.append(v)
    return np.array(out)


def test_traub_miles_cell_equals_a_numpy_loop_of_its_equations():
    from neurodyn.models.equations.units import parse_quantity

    p = {k: parse_quantity(q, k)[0] for k, q in PRESETS["traub_miles"].parameters.items()}
    model = preset("traub_miles", 1, i_ext=300.0, dt=0.05, dtype=jnp.float64)
    state = model.init(jax.random.PRNGKey(0))._replace(g_e=jnp.asarray([20.0]), g_i=jnp.asarray([50.0]))
    v = np.asarray(nd.simulate(model, 2000, state=state)["v"])[1:, 0]  # row 0 is the initial state
    ref = _traub_reference(p, -60.0, 0.0, 0.0, 1.0, 20.0, 50.0, 300.0, 0.05, 1999)
    np.testing.assert_allclose(v, ref, rtol=0, atol=1e-6)
    assert np.sum((ref[1:] > -20) & (ref[:-1] <= -20)) >= 5  # it fires: the comparison covers spikes


# ------------------------------------------------------------------ QIF, EIF: analytic results

def test_qif_period_matches_the_integral_of_its_equation():
    # tau v' = k (v - v_r)(v - v_c) + I = k x^2 + J with x = v - (v_r + v_c)/2, J = I - k ((v_c - v_r)/2)^2:
    # time from reset to peak tau / sqrt(k J) [arctan(x_peak sqrt(k/J)) - arctan(x_reset sqrt(k/J))]
    tau, k, vr, vc, peak, reset, i = 10.0, 0.04, -65.0, -50.0, -10.0, -70.0, 20.0
    dt = 0.001
    t = _spike_times(preset("qif", 1, i_ext=i, dt=dt, dtype=jnp.float64), 100_000, dt)[0]
    j = i - k * ((vc - vr) / 2) ** 2
    mid = (vr + vc) / 2
    period = tau / np.sqrt(k * j) * (np.arctan((peak - mid) * np.sqrt(k / j)) - np.arctan((reset - mid) * np.sqrt(k / j)))
    assert abs(np.diff(t).mean() - period) < 0.01 * period, (np.diff(t).mean(), period)


def test_eif_rheobase_is_the_saddle_node_of_its_equation():
    # -(v - E_L) + D exp((v - V_T)/D) + I has a zero (a rest state) iff I <= V_T - E_L - D
    rheobase = -59.9 - (-65.0) - 3.48
    m = preset("eif", 2, i_ext=[rheobase - 0.05, rheobase + 0.05], dt=0.05, dtype=jnp.float64)
    counts = [len(t) for t in _spike_times(m, 20000, 0.05)]
    assert counts[0] == 0 and counts[1] >= 2, counts


# ------------------------------------------------------------------ rate and smooth models

def test_fitzhugh_nagumo_rests_below_and_oscillates_above_its_hopf_point():
    # fixed point: v - v^3/3 - (v + a)/b + I = 0; Hopf where 1 - v*^2 = eps b (the lower one, v* < 0)
    a, b, eps = 0.7, 0.8, 0.08
    v_h = -np.sqrt(1 - eps * b)
    i_hopf = -(v_h - v_h**3 / 3 - (v_h + a) / b)
    m = preset("fitzhugh_nagumo", 2, i_ext=[i_hopf - 0.1, i_hopf + 0.1], dt=0.1, dtype=jnp.float64)
    v = np.asarray(nd.simulate(m, 20000, transient=15000)["v"])
    root = [r.real for r in np.roots([-1 / 3, 0, 1 - 1 / b, i_hopf - 0.1 - a / b]) if abs(r.imag) < 1e-9]
    assert np.ptp(v[:, 0]) < 1e-3 and abs(v[-1, 0] - root[0]) < 1e-3
    assert np.ptp(v[:, 1]) > 1.0


def test_morris_lecar_rest_state_matches_its_nullclines():
    from scipy.optimize import brentq

    m = preset("morris_lecar", 1, dt=0.2, dtype=jnp.float64)
    v = float(np.asarray(nd.simulate(m, 10000)["v"])[-1, 0])
    minf = lambda x: 0.5 * (1 + np.tanh((x + 1.2) / 18))
    winf = lambda x: 0.5 * (1 + np.tanh((x - 2) / 30))
    f = lambda x: -2 * (x + 60) - 4 * minf(x) * (x - 120) - 8 * winf(x) * (x + 84)
    assert abs(v - brentq(f, -80, -20)) < 1e-6
    osc = dataclasses.replace(m, params={**m.params, "i_ext": jnp.asarray(1.0)})  # 100 uA/cm2, same compiled step
    assert np.ptp(np.asarray(nd.simulate(osc, 10000, transient=5000)["v"])) > 50  # Hopf regime fires


def test_hindmarsh_rose_bursts_and_wilson_cowan_oscillates():
    hr = np.asarray(nd.simulate(preset("hindmarsh_rose", 1, dt=0.1, dtype=jnp.float64), 20000, transient=5000)["x"])[:, 0]
    ups = np.nonzero((hr[1:] > 1.0) & (hr[:-1] <= 1.0))[0]
    gaps = np.diff(ups)
    between = np.sum(gaps > 2 * np.median(gaps))
    assert between >= 5 and np.sum(gaps <= 2 * np.median(gaps)) >= 2 * between  # spikes grouped in bursts
    wc = np.asarray(nd.simulate(preset("wilson_cowan", 1, dt=0.1, dtype=jnp.float64), 20000, transient=10000)["e"])[:, 0]
    assert np.ptp(wc) > 0.1  # the 1972 limit cycle (P = 1.25)
    rest = np.asarray(nd.simulate(preset("wilson_cowan", 1, p=0.0, dt=0.1, dtype=jnp.float64), 20000)["e"])[-2000:, 0]
    assert np.ptp(rest) < 1e-6


def test_every_zoo_model_is_registered_with_a_bundled_spec():
    from pathlib import Path

    from neurodyn.schema import MODELS

    root = Path(__file__).resolve().parents[2] / "models"
    for name in PRESETS:
        assert name in MODELS
        assert any(f'model = "{name}"' in p.read_text() for p in root.glob("*.toml")), name
