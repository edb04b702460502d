"""The LIF neuron: analytic rate, events recorded directly, refractory period."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import LIF


def test_lif_constant_input_fires_at_the_analytic_rate():
    # docs/models/spiking.md V19: tau_m = 20 ms, V_rest = V_reset = 0, V_th = 1, R I = 1.5, t_ref = 0:
    # f = 1 / (20 ms ln 3) = 45.51 Hz; and a refractory case from the same formula
    for t_ref, i_ext in ((0.0, 1.5), (2.0, 3.0)):
        lif = LIF.create(1, tau_m=20.0, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref=t_ref, i_ext=i_ext, dt=0.01)
        expected = 1.0 / (t_ref + 20.0 * np.log((i_ext - 0.0) / (i_ext - 1.0)))  # 1/ms
        assert abs(float(lif.rate()[0]) - expected) < 1e-12
        state = lif.init(jax.random.PRNGKey(0))._replace(v=jnp.zeros(1))
        traj = nd.simulate(lif, 100_000, state=state, record=("v",))  # 1 s
        times, ids = traj.spikes["spike"]
        isi = np.diff(times)
        assert len(times) > 40 and np.all(ids == 0)
        assert abs(1.0 / isi.mean() - expected) / expected < 0.01
    assert abs(1000 * 1.0 / (20.0 * np.log(3.0)) - 45.51) < 0.01


def test_spikes_that_reset_within_the_step_are_events_not_threshold_crossings():
    lif = LIF.create(3, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref=0.0, i_ext=[1.5, 2.0, 0.5], dt=0.1)
    traj = nd.simulate(lif, 2000, key=jax.random.PRNGKey(1), spikes={"v": 1.0})
    crossings = traj.spikes["v"][0]
    events_t, events_i = traj.spikes["spike"]
    assert len(crossings) == 0  # v is reset in the step that crosses: never recorded above threshold
    counts = np.bincount(events_i.astype(int), minlength=3)
    assert counts[0] > 0 and counts[1] > counts[0] and counts[2] == 0  # below threshold: silent
    np.testing.assert_array_equal(np.sort(events_t), events_t)


def test_refractory_neuron_is_held_at_reset():
    lif = LIF.create(1, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref=5.0, i_ext=20.0, dt=0.1)
    state = lif.init(jax.random.PRNGKey(0))._replace(v=jnp.zeros(1))
    traj = nd.simulate(lif, 300, state=state, record=("v", "refractory"))
    times = traj.spikes["spike"][0]
    assert np.all(np.diff(times) > 5.0 - 1e-9)
    held = traj["refractory"][:, 0] > 1e-9
    np.testing.assert_array_equal(traj["v"][held, 0], 0.0)


def test_lif_spec_writes_its_spike_events_at_the_analytic_rates(tmp_path):
    import h5py

    from neurodyn.cli import main

    out = tmp_path / "lif.h5"
    assert main(["run", str(Path(__file__).resolve().parents[2] / "models" / "lif_rate.toml"), "--out", str(out), "--quiet"]) == 0
    with h5py.File(out) as f:
        times = f["spikes/neurons/timestamps"][()]
        ids = f["spikes/neurons/node_ids"][()]
    counts = np.bincount(ids.astype(int), minlength=3)
    # 1 s of simulated time: 45.5 Hz and 98.6 Hz (docs/models/spiking.md V19 formula), the third neuron silent
    assert abs(counts[0] - 1000 / (20 * np.log(3))) <= 1
    assert abs(counts[1] - 1000 / (2 + 20 * np.log(1.5))) <= 1
    assert counts[2] == 0 and np.all(np.diff(times) >= 0)


def test_lif_constructor_takes_plain_numbers_and_checks_them():
    # the same neuron as create(): tau_m = 20 ms, R I = 1.5 above V_th - V_rest = 1, f = 1 / (20 ms ln 3)
    lif = LIF(tau_m=20.0, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref=0.0, i_ext=1.5, dt=0.01)
    assert lif.n == 1 and lif.dt.shape == () and lif.tau_m.shape == (1,)
    assert abs(float(lif.rate()[0]) - 1.0 / (20.0 * np.log(3.0))) < 1e-12
    for name, value in vars(LIF.create()).items():
        np.testing.assert_array_equal(getattr(LIF(), name), value)
    for kwargs, message in [({"tau_m": 0.0}, "tau_m must be > 0 ms"), ({"v_reset": -40.0}, "v_reset must be below v_th"),
                            ({"dt": -0.1}, "dt must be > 0 ms"), ({"n": 2, "i_ext": [1.0, 2.0, 3.0]}, "LIF.i_ext")]:
        with pytest.raises(SpecError, match=message):
            LIF(**kwargs)
