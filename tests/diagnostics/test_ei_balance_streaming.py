"""E/I-balance and spike-train statistics streamed on a running network (SpikingMonitor, an
observer of simulate's loop): each streamed value equals the offline function on full records of
the same run, and the reduced COBA network sits in the balanced asynchronous-irregular state
(docs/models/spiking.md)."""

import jax
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.diagnostics.spiking import (SpikingMonitor, bin_means, ei_balance, fano_factor, firing_rates, isi_cv,
                                          synchrony_chi)
from neurodyn.errors import SpecError
from neurodyn.models import coba_ei, coba_initial_state, cuba_ei

DT = 0.1


def _results(traj) -> dict:
    """``{population: {statistic: value}}`` from a trajectory's diagnostics (SpikingMonitor.finalize)."""
    out = {}
    for name, (value, attrs) in traj.diagnostics.items():
        pop, _, stat = name.partition(".")
        res = out.setdefault(pop, {})
        res[stat] = value
        res["steps"] = attrs["steps"]
        res.update({k: attrs[k] for k in ("windows", "bins", "chi_squared") if k in attrs})
    return out


def _network(kind):
    if kind == "coba":
        net = coba_ei(200, p=0.1, i_ext=20.0, seed=3)
        return net, coba_initial_state(net, jax.random.PRNGKey(2))
    net = cuba_ei(200, p=0.1, seed=3)
    return net, net.init(jax.random.PRNGKey(2))


@pytest.mark.parametrize("kind", ["coba", "cuba"])
def test_streamed_statistics_equal_the_offline_functions_on_full_records(kind):
    net, state = _network(kind)
    steps, start, bins, window = 3000, 500, 20, 500  # 300 ms, from 50 ms; 2 ms bins, 50 ms windows
    monitor = SpikingMonitor.create(net, bin_ms=2.0, window_ms=50.0, start=start)
    assert (monitor.bin_steps, monitor.window_steps) == (bins, window)
    streamed = nd.simulate(net, steps, state=state, record=("exc.v",), observers=[monitor])
    # the reference: every state of the plain network (records are the states before each step,
    # so steps + 1 of them; the monitor folds in the states after steps start .. steps - 1)
    full = nd.simulate(net, steps + 1, state=state, record=("exc.v", "exc.g_e", "exc.g_i", "inh.v"))
    np.testing.assert_array_equal(streamed["exc.v"], full["exc.v"][:steps])  # the monitor changes nothing
    for pop in ("exc", "inh"):
        np.testing.assert_array_equal(streamed.spikes[f"{pop}.spike"][1], full.spikes[f"{pop}.spike"][1][
            full.spikes[f"{pop}.spike"][0] <= steps * DT + 1e-9])
    results = _results(streamed)
    n = {"exc": 160, "inh": 40}
    for pop in ("exc", "inh"):
        res = results[pop]
        times, ids = streamed.spikes[f"{pop}.spike"]
        keep = times > start * DT + 1e-9
        t, i = times[keep], ids[keep]
        assert res["steps"] == steps - start and res["windows"] == 5 and len(t) > 2 * n[pop]
        duration = (steps - start) * DT
        np.testing.assert_allclose(res["rate"], firing_rates(t, i, n[pop], duration), rtol=1e-12)  # Hz
        cv = isi_cv(t, i, n[pop])
        np.testing.assert_array_equal(np.isnan(res["cv_isi"]), np.isnan(cv))
        np.testing.assert_allclose(res["cv_isi"], cv, rtol=1e-9, atol=1e-12)
        # windows [start, start + 50 ms), ...; a spike at the end of a step belongs to that step
        fano = fano_factor(t - DT / 2, i, n[pop], window * DT, start * DT, steps * DT)
        np.testing.assert_array_equal(np.isnan(res["fano"]), np.isnan(fano))
        np.testing.assert_allclose(res["fano"], fano, rtol=1e-9, atol=1e-12)
    v = full["exc.v"][start + 1:]
    chi = synchrony_chi(v)
    assert results["exc"]["chi_squared"] == pytest.approx(chi["chi_squared"], rel=1e-9)
    assert 0 < chi["chi_squared"] < 1
    g_e, g_i = full["exc.g_e"][start + 1:], full["exc.g_i"][start + 1:]
    if kind == "coba":
        i_e, i_i = g_e * (0.0 - v), g_i * (-80.0 - v)  # E_e = 0, E_i = -80 mV
    else:
        i_e, i_i = g_e, g_i
    offline = ei_balance(i_e, i_i, bins=bins)
    res = results["exc"]
    assert res["bins"] == len(bin_means(v, bins)) == 125
    for key in ("ratio", "net", "correlation"):
        finite = np.isfinite(offline[key])
        assert finite.sum() >= 150
        np.testing.assert_array_equal(np.isfinite(res[f"ei_{key}"]), finite)
        np.testing.assert_allclose(res[f"ei_{key}"][finite], offline[key][finite], rtol=1e-9, atol=1e-12)


def test_reduced_coba_network_is_balanced_asynchronous_and_irregular():
    # 1,000 neurons, scalable wiring (80 synapses per neuron: the 4,000-neuron in-degree), 0.5 s,
    # the first 100 ms discarded; rates and CV are asserted in tests/models/test_ei.py. A balanced
    # network (docs/models/spiking.md, E/I diagnostics; van Vreeswijk & Sompolinsky 1996, Vogels &
    # Abbott 2005) has <I_E> / |<I_I>| ~ 1 with a net input small against each part, tightly
    # tracking E and I inputs (Pearson of I_E and -I_I in 2 ms bins >~ 0.5), spike counts about as
    # variable as Poisson (Fano ~ 1 in 100 ms windows) and a small synchrony chi (Golomb 2007;
    # ~ 1/sqrt(N) for independent neurons, 1 for full synchrony). Measured here (float64):
    # excitatory ratio 1.01, net -0.03, correlation 0.73, Fano 1.7, chi 0.20 (inhibitory alike).
    net = coba_ei(1000, fanout=80, i_ext=20.0, seed=1)
    monitor = SpikingMonitor.create(net, bin_ms=2.0, window_ms=100.0, start=1000)
    traj = nd.simulate(net, 5000, state=coba_initial_state(net, jax.random.PRNGKey(0)), record=(), observers=[monitor])
    for pop, res in _results(traj).items():
        ratio, corr = np.nanmean(res["ei_ratio"]), np.nanmean(res["ei_correlation"])
        assert 0.8 < ratio < 1.3, (pop, ratio)
        assert abs(np.nanmean(res["ei_net"])) < 0.2, (pop, res["ei_net"])
        assert 0.5 < corr < 1.0, (pop, corr)
        assert 0.5 < np.nanmean(res["fano"]) < 3.0, (pop, np.nanmean(res["fano"]))
        assert res["synchrony"] < 0.4, (pop, res["synchrony"])


def test_monitor_errors_name_the_population_and_the_bin():
    net, _ = _network("cuba")
    with pytest.raises(SpecError, match="population 'x' is not a spiking population"):
        SpikingMonitor.create(net, populations=("x",))
    with pytest.raises(SpecError, match="bin_ms must be at least one step"):
        SpikingMonitor.create(net, bin_ms=0.05)
