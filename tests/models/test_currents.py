"""Current-injection schedules (issue 21, part 4; neurodyn.models.currents): a step into an
equation-model LIF neuron gives the analytic membrane response and the rheobase; each waveform
delivers its formula; the noises have their stated statistics; an amplitude sweep is one compiled,
vmapped call (the numbers are array leaves)."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import CurrentInjection, Equations
from neurodyn.spec.build import build_spec
from neurodyn.sweep import Measure, compile_count, sweep
from neurodyn.sweep.job import prepare
from neurodyn.sweep.runner import as_grid

TAU, V_REST, V_TH, T_REF, DT = 20.0, -70.0, -60.0, 2.0, 0.1
CELL = {  # the LIF membrane as equations: dv/dt = (v_rest - v + I) / tau_m, I in mV (R I)
    "model": "equations", "n": 6,
    "equations": "dv/dt = (v_rest - v + I)/tau_m : mV (unless refractory)",
    "threshold": "v >= v_th", "reset": "v = v_rest", "refractory": "t_ref", "ports": ["I"],
    "parameters": {"tau_m": f"{TAU} ms", "v_rest": f"{V_REST} mV", "v_th": f"{V_TH} mV", "t_ref": f"{T_REF} ms"},
    "init": {"v": V_REST},
}


def _spec(current: dict, steps: int = 2000, n: int = 6):
    cell = dict(CELL, n=n)
    return build_spec({"name": "step", "steps": steps, "dt": DT, "precision": "float64",
                       "populations": {"cell": copy.deepcopy(cell)},
                       "couplings": {"i1": {"kind": "current", "target": "cell", "port": "I", **current}},
                       "record": {"variables": ["cell.v"]}})


def test_a_current_step_gives_the_analytic_lif_response():
    # below threshold, exponential Euler is exact for an input held over the step:
    # v(t) = v_rest + A (1 - exp(-(t - start) / tau)) from the step's onset (Dayan & Abbott 2001, eq. 5.9)
    amplitudes = np.array([2.0, 5.0, 8.0, 9.5, -4.0, 0.0])
    spec = _spec({"waveform": "step", "amplitude": 1.0, "start": 20.0, "stop": 150.0, "scale": amplitudes.tolist()})
    traj = spec.simulate()
    t, v = traj.times, traj["cell.v"]
    on = t - 20.0
    expected = V_REST + np.where(on[:, None] > 0, amplitudes * (1 - np.exp(-np.maximum(on, 0)[:, None] / TAU)), 0.0)
    during = t <= 150.0
    np.testing.assert_allclose(v[during], expected[during], rtol=0, atol=1e-9)
    # after the stop it decays back: v = v_rest + (v(stop) - v_rest) exp(-(t - stop) / tau)
    after = t >= 150.0
    v_stop = V_REST + amplitudes * (1 - np.exp(-130.0 / TAU))
    np.testing.assert_allclose(v[after], V_REST + (v_stop - V_REST) * np.exp(-(t[after, None] - 150.0) / TAU),
                               rtol=0, atol=1e-9)
    assert not traj.spikes["cell.spike"][0].size  # all below the rheobase


def test_the_rheobase_and_the_lif_firing_period():
    # the LIF fires iff v_inf = v_rest + A reaches v_th: rheobase A = v_th - v_rest = 10 mV; above
    # it the period is T = t_ref + tau ln(A / (A - 10 mV)) (Gerstner et al. 2014, eq. 1.11), each
    # threshold crossing falling on the next step (the mean ISI within one step of T)
    amplitudes = np.array([9.9, 9.999, 10.05, 11.0, 15.0, 30.0])
    steps = 20000  # 2 s
    spec = _spec({"waveform": "step", "amplitude": 1.0, "scale": amplitudes.tolist()}, steps=steps)
    times, ids = spec.simulate().spikes["cell.spike"]
    counts = np.bincount(ids.astype(int), minlength=6)
    assert counts[0] == 0 and counts[1] == 0  # below the rheobase: silent
    for i in range(2, 6):
        a = amplitudes[i]
        period = T_REF + TAU * np.log(a / (a - (V_TH - V_REST)))
        isi = np.diff(times[ids == i]).mean()
        assert abs(isi - period) <= DT, (a, isi, period)
        assert counts[i] >= 3


def _delivered(proj, steps, dt=DT):
    """The currents the projection adds, step by step: (steps, n)."""
    state = proj.init(jax.random.PRNGKey(1), {})

    def body(s, k):
        s, out = proj.step(s, {}, k)
        return s, out[(proj.target, proj.port)]

    return np.asarray(jax.lax.scan(body, state, jnp.arange(steps))[1])


def test_each_waveform_delivers_its_formula():
    cell = Equations(CELL["equations"], threshold="v >= v_th", reset="v = v_rest", refractory="t_ref",
                     parameters=CELL["parameters"], ports=["I"], n=2, dt=DT, dtype=jnp.float64)
    t = np.arange(1000) * DT
    cases = {
        "step": (dict(amplitude=3.0, offset=1.0, start=10.0, stop=50.0), 1.0 + 3.0 * ((t >= 10) & (t < 50))),
        "ramp": (dict(amplitude=4.0, offset=-1.0, start=20.0, stop=60.0), -1.0 + 4.0 * np.clip((t - 20) / 40, 0, 1)),
        "sine": (dict(amplitude=2.0, offset=0.5, frequency=25.0, phase=0.3, start=5.0),
                 0.5 + np.where(t >= 5, 2.0 * np.sin(2 * np.pi * 25.0 * t * 1e-3 + 0.3), 0.0)),
    }
    for waveform, (numbers, expected) in cases.items():
        proj = CurrentInjection.create("cell", cell, waveform, port="I", scale=[1.0, -2.0], dtype=jnp.float64, **numbers)
        got = _delivered(proj, 1000)
        np.testing.assert_allclose(got, expected[:, None] * np.array([1.0, -2.0]), rtol=0, atol=1e-12,
                                   err_msg=waveform)


def test_noise_currents_have_their_stated_statistics():
    cell = Equations(CELL["equations"], threshold="v >= v_th", reset="v = v_rest", refractory="t_ref",
                     parameters=CELL["parameters"], ports=["I"], n=4000, dt=DT, dtype=jnp.float64)
    # OU: stationary from the start, mean 2, std 3, lag-1 correlation exp(-dt / tau)
    ou = _delivered(CurrentInjection.create("cell", cell, "ou", mean=2.0, sigma=3.0, tau=5.0, dtype=jnp.float64), 200)
    n_samples = ou.size
    assert abs(ou.mean() - 2.0) < 5 * 3.0 / np.sqrt(n_samples / 100)  # about 100 correlated steps per tau span
    assert abs(ou.std() - 3.0) / 3.0 < 0.02
    lag1 = np.mean((ou[1:] - 2.0) * (ou[:-1] - 2.0)) / 9.0
    assert abs(lag1 - np.exp(-DT / 5.0)) < 0.01, lag1
    # white: independent per step, mean 1, std 0.5, zero from start = 10 ms on... before it
    white = _delivered(CurrentInjection.create("cell", cell, "white", mean=1.0, sigma=0.5, start=10.0,
                                               dtype=jnp.float64), 300)
    assert np.all(white[:100] == 0.0)
    w = white[100:]
    assert abs(w.mean() - 1.0) < 5 * 0.5 / np.sqrt(w.size) and abs(w.std() - 0.5) / 0.5 < 0.01
    assert abs(np.mean((w[1:] - 1.0) * (w[:-1] - 1.0)) / 0.25) < 0.01


@pytest.mark.parametrize("current, words", [
    ({"waveform": "step"}, "amplitude: a step current needs it"),
    ({"waveform": "step", "amplitude": 1.0, "frequency": 5.0}, "frequency: a step current does not read it"),
    ({"waveform": "ramp", "amplitude": 1.0, "start": 5.0, "stop": 5.0}, "stop: a ramp needs stop > start"),
    ({"waveform": "ou", "mean": 0.0, "sigma": 1.0, "tau": 0.0}, "tau: must be > 0"),
    ({"waveform": "stepp", "amplitude": 1.0}, "waveform"),
    ({"waveform": "step", "amplitude": 1.0, "port": "g_e"}, "port: population 'cell' has no input port 'g_e'"),
])
def test_bad_current_schedules_name_the_field(current, words):
    with pytest.raises(SpecError, match=words):
        _spec(current)


def test_an_amplitude_sweep_is_one_compiled_call_without_rebuilding(tmp_path):
    spec = _spec({"waveform": "step", "amplitude": 5.0, "start": 10.0}, steps=1000, n=1)
    amplitudes = np.linspace(11.0, 18.0, 4)
    grid = as_grid({"couplings.i1.amplitude": amplitudes})
    measures = [Measure.function(_spike_count, ("cell.spike",))]
    job, _, _ = prepare(spec, grid, measures, chunk=4)
    assert job.traced_paths == ("projections.i1.amplitude",) and job.structural is None
    before = compile_count()
    res = sweep(spec, grid, measures, out=tmp_path / "a.sweep.h5", chunk=4, progress=False)
    assert compile_count() - before == 1 and res.computed == 4
    counts = np.asarray(res.results["_spike_count.count"])
    # each point equals the analytic LIF count: firing from 10 ms with period T(A) (within one spike)
    periods = T_REF + TAU * np.log(amplitudes / (amplitudes - (V_TH - V_REST)))
    expected = np.floor((100.0 - 10.0 - (periods - T_REF)) / periods) + 1
    np.testing.assert_allclose(counts, expected, atol=1)
    assert np.all(np.diff(counts) > 0)  # a larger step fires faster


def _spike_count(recs):
    return {"count": recs["cell.spike"].sum()}


def test_the_bundled_fi_curve_spec_fires_at_the_analytic_rates():
    # models/lif_fi_curve.toml: 20 neurons, step currents 0..38 mV from t = 0, 1 s; the first
    # spike after T - t_ref (from rest, not refractory), then one every T: the streamed rate is that
    # count per second, within one spike (each crossing lands on the next step)
    from pathlib import Path

    from neurodyn.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parents[2] / "models" / "lif_fi_curve.toml")
    traj = spec.simulate()
    rate = traj.diagnostics["cell.rate"][0]
    amplitudes = 2.0 * np.arange(20)
    with np.errstate(divide="ignore", invalid="ignore"):
        period = T_REF + TAU * np.log(amplitudes / (amplitudes - (V_TH - V_REST)))
        expected = np.where(amplitudes > V_TH - V_REST, np.floor((1000.0 - (period - T_REF)) / period) + 1, 0.0)
    np.testing.assert_allclose(rate, expected, atol=1.0)
    assert rate[5] == 0 and rate[6] > 20  # the rheobase lies between 10 and 12 mV
    # the population rate monitor: the spikes of all 20 per 1 ms interval, in Hz
    assert traj.data["cell.population_rate"].mean() == pytest.approx(rate.mean(), rel=1e-6)
