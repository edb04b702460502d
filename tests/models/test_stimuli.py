"""Stimuli (issue 21, part 4): a spike generator replays a spike file exactly; a time-varying
Poisson generator's counts match the integrated rate (mean and variance, chi-square over bins)."""

import h5py
import numpy as np
from scipy import stats

import neurodyn as nd
from neurodyn.spec.build import build_spec

DT = 0.1


def test_spike_generator_replays_a_spike_file_exactly(tmp_path):
    # spikes of a real run: 20 LIF neurons with different drives
    spec = build_spec({"name": "src", "steps": 600, "dt": DT, "seed": 1, "precision": "float64",
                       "populations": {"pop": {"model": "lif", "n": 20, "i_ext": list(np.linspace(21, 40, 20))}}})
    traj = nd.simulate(spec.model, 600, state=spec.state, record=())
    t, i = (np.asarray(x) for x in traj.spikes["pop.spike"])
    assert t.size >= 40
    path = tmp_path / "spikes.h5"
    with h5py.File(path, "w") as f:  # the layout of a neurodyn run file / SONATA spikes
        g = f.create_group("spikes/pop")
        g.create_dataset("timestamps", data=t).attrs["units"] = "ms"
        g.create_dataset("node_ids", data=i.astype(np.uint64))
    replay = build_spec({"name": "replay", "steps": 600, "dt": DT, "seed": 0,
                         "populations": {"gen": {"model": "spike_generator", "n": 20, "file": str(path)}}})
    out = nd.simulate(replay.model, 600, state=replay.state, record=())
    t2, i2 = (np.asarray(x) for x in out.spikes["gen.spike"])
    a = sorted(zip(np.rint(t / DT).astype(int).tolist(), i.tolist()))
    b = sorted(zip(np.rint(t2 / DT).astype(int).tolist(), i2.tolist()))
    assert a == b
    assert np.array_equal(np.sort(t), np.sort(t2))


def test_time_varying_poisson_counts_match_the_integrated_rate():
    n, steps, mean, amp, freq = 400, 4000, 40.0, 30.0, 5.0
    spec = build_spec({"name": "poisson", "steps": steps, "dt": DT, "seed": 3, "precision": "float64",
                       "populations": {"p": {"model": "poisson_generator", "n": n, "scale": 1.0,
                                             "rate": {"waveform": "sine", "mean": mean, "amplitude": amp,
                                                      "frequency": freq}}}})
    traj = nd.simulate(spec.model, steps, state=spec.state, record=())
    t, i = (np.asarray(x) for x in traj.spikes["p.spike"])
    k = np.rint(t / DT).astype(int) - 1  # the step that drew the spike (its start: k dt)
    p = np.maximum(mean + amp * np.sin(2 * np.pi * freq * np.arange(steps) * DT * 1e-3), 0) * DT * 1e-3
    bins = np.arange(0, steps + 1, 100)
    observed = np.histogram(k, bins)[0]
    expected = n * np.add.reduceat(p, bins[:-1])
    var = n * np.add.reduceat(p * (1 - p), bins[:-1])
    chi2 = np.sum((observed - expected) ** 2 / var)
    assert stats.chi2.sf(chi2, len(expected)) > 1e-3, chi2
    # a constant rate of the same mean is rejected by the same statistic
    flat = n * 100 * mean * DT * 1e-3
    assert stats.chi2.sf(np.sum((observed - flat) ** 2 / flat), len(expected)) < 1e-6
    # per-neuron counts: mean sum p, variance sum p (1 - p)
    counts = np.bincount(i, minlength=n)
    assert abs(counts.mean() - p.sum()) < 4 * np.sqrt(p.sum() / n)
    assert 0.8 < counts.var(ddof=1) / np.sum(p * (1 - p)) < 1.2


def test_per_neuron_scale_and_step_waveform():
    spec = build_spec({"name": "s", "steps": 2000, "dt": DT, "seed": 2,
                       "populations": {"p": {"model": "poisson_generator", "n": 2, "scale": [1.0, 0.0],
                                             "rate": {"waveform": "step", "before": 0.0, "after": 500.0,
                                                      "at": 100.0}}}})
    traj = nd.simulate(spec.model, 2000, state=spec.state, record=())
    t, i = (np.asarray(x) for x in traj.spikes["p.spike"])
    assert np.all(i == 0) and t.min() > 100.0  # neuron 1 silent; nothing before the step
    assert abs(t.size - 500 * 0.1) < 4 * np.sqrt(50)
