"""Saving from Python: neurodyn.runs.save and run_spec write the file `neurodyn run` writes, and
a run file's report and spike times always share the run's time axis."""

import sys
from pathlib import Path

import h5py
import jax
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.errors import OutputError
from neurodyn.io import RunWriter, load
from neurodyn.models import chialvo_ring_star

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundled import SMALL_RUNS, SPECS  # noqa: E402

# /neurodyn attributes that differ between two writes of the same run
VARYING = {"created", "wall_time_s"}


def _datasets(path) -> dict:
    """Every dataset of a file with its attributes, and the /neurodyn attributes."""
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj[()], dict(obj.attrs)))
                     if isinstance(obj, h5py.Dataset) else None)
        out["/neurodyn"] = {k: v for k, v in f["neurodyn"].attrs.items() if k not in VARYING}
    return out


def _assert_same_file(a, b):
    da, db = _datasets(a), _datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        if name == "/neurodyn":
            assert da[name].keys() == db[name].keys()
            for k in da[name]:
                assert np.array_equal(da[name][k], db[name][k]), k
            continue
        (va, attrs_a), (vb, attrs_b) = da[name], db[name]
        assert va.dtype == vb.dtype and va.shape == vb.shape, name
        np.testing.assert_array_equal(va, vb, err_msg=name)
        assert attrs_a.keys() == attrs_b.keys(), name
        for k in attrs_a:
            assert np.array_equal(attrs_a[k], attrs_b[k]), (name, k)


@pytest.mark.parametrize("spec", ["chialvo_ring_star", "kuramoto_all_to_all", "lif_rate"])
def test_save_and_run_from_python_write_the_file_of_the_cli(tmp_path, spec):
    path, options = SPECS / f"{spec}.toml", SMALL_RUNS[spec]
    assert main(["run", str(path), *options, "--out", str(tmp_path / "cli.h5"), "--quiet"]) == 0
    steps = int(options[options.index("--steps") + 1])
    sets = [options[i + 1] for i, o in enumerate(options) if o == "--set"]
    seed = int(options[options.index("--seed") + 1]) if "--seed" in options else None
    run = nd.load_spec(path, steps=steps, seed=seed, overrides=sets, output=tmp_path / "cli.h5")
    traj = nd.runs.simulate_spec(run)
    nd.runs.save(traj, tmp_path / "saved.h5", spec=run)
    _assert_same_file(tmp_path / "cli.h5", tmp_path / "saved.h5")
    assert nd.runs.write_run(run) == tmp_path / "cli.h5"  # the spec's own output: the CLI's file, written again
    nd.runs.run_spec(run, tmp_path / "ran.h5")
    _assert_same_file(tmp_path / "cli.h5", tmp_path / "ran.h5")

    # without the spec: the same reports, spikes and time axes (no stored spec or diagnostics)
    nd.runs.save(traj, tmp_path / "bare.h5")
    cli, bare = load(tmp_path / "cli.h5"), load(tmp_path / "bare.h5")
    assert bare["meta"]["time_unit"] == cli["meta"]["time_unit"] and bare["meta"]["units"] == cli["meta"]["units"]
    for pop, variables in cli["report"].items():
        for var, rep in variables.items():
            for key in ("data", "time", "times", "node_ids"):
                np.testing.assert_array_equal(bare["report"][pop][var][key], rep[key])
    for pop, spikes in cli["spikes"].items():
        for key in ("timestamps", "node_ids"):
            np.testing.assert_array_equal(bare["spikes"][pop][key], spikes[key])


def test_report_and_spike_times_share_the_run_time_axis(tmp_path):
    net = chialvo_ring_star(3, b=0.18)
    traj = nd.simulate(net, 4000, key=jax.random.PRNGKey(1), transient=1009, every=3, spikes={"neurons.x": 1.0})
    data = load(nd.runs.save(traj, tmp_path / "run.h5"))
    rep, spikes = data["report"]["neurons"]["x"], data["spikes"]["neurons"]
    n = len(traj.times)  # samples before steps 1009, 1012, ..., 3997
    assert n == 997
    np.testing.assert_array_equal(rep["time"], [1009.0, 1009.0 + 3 * n, 3.0])
    np.testing.assert_array_equal(rep["times"], 1009.0 + 3.0 * np.arange(n))
    assert data["meta"]["time_unit"] == spikes["units"] == "iteration"
    # a spike at time t: x(t - 1) < 1 <= x(t), where x(t) is the state after t steps, which the
    # report holds at t = 1009 + 3 j; so on the report's axis a spike lies after a sample below 1
    # or at a sample at or above 1
    t, node = spikes["timestamps"], spikes["node_ids"]
    assert len(t) > 0 and t.min() >= 1010.0 and t.max() <= 4000.0 and np.all(t == np.round(t))
    at, before = (t - 1009.0) % 3 == 0, (t - 1010.0) % 3 == 0
    at &= t <= rep["times"][-1]
    before &= t - 1 <= rep["times"][-1]
    assert at.sum() > 5 and before.sum() > 5
    assert np.all(rep["data"][((t[at] - 1009) // 3).astype(int), node[at]] >= 1.0)
    assert np.all(rep["data"][((t[before] - 1010) // 3).astype(int), node[before]] < 1.0)


def test_writer_refuses_sample_times_off_its_declared_axis(tmp_path):
    net = chialvo_ring_star(3, b=0.18)
    state = net.init(jax.random.PRNGKey(0))
    obs = net.observe(state)
    # the hand-built writer of neurodyn 0.1 silently gave report times [0, 1, 2] here
    writer = RunWriter(tmp_path / "run.h5", meta={}, shapes={n: obs[n].shape for n in obs}, units={},
                       spikes=("neurons.x",), time=(0.0, 1.0), time_unit="iteration")
    with pytest.raises(OutputError, match=r"sample 0 is at time 1000 but the report's time axis \(start 0, step 1\)"):
        nd.simulate(net, 1200, state=state, transient=1000, spikes={"neurons.x": 1.0}, writer=writer)
    writer.abort()


def test_writer_takes_its_time_axis_from_the_samples(tmp_path):
    net = chialvo_ring_star(3, b=0.18)
    state = net.init(jax.random.PRNGKey(0))
    obs = net.observe(state)
    writer = RunWriter(tmp_path / "run.h5", meta={}, shapes={n: obs[n].shape for n in obs}, units={},
                       spikes=("neurons.x",), time_unit="iteration")
    # one sample per chunk: the step comes from the second chunk
    traj = nd.simulate(net, 1300, state=state, transient=1000, every=4, chunk=4, spikes={"neurons.x": 1.0},
                       writer=writer)
    writer.close()
    rep = load(tmp_path / "run.h5")["report"]["neurons"]["x"]
    np.testing.assert_array_equal(rep["time"], [1000.0, 1300.0, 4.0])
    np.testing.assert_array_equal(rep["times"], traj.times)
    with pytest.raises(OutputError, match="no sample times given and no time= declared"):
        RunWriter(tmp_path / "x.h5", meta={}, shapes={"a": (2,)}, units={}).append(None, {"a": np.zeros((1, 2))}, {})
