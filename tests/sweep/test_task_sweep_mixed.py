"""Task sweeps beyond the ridge (neurodyn.sweep.task, docs/models/reservoirs.md "Sweeps of task
scores"): task scores mixed with ordinary measures in one compiled chunk equal the two separate
sweeps to 1e-12, and a swept split (washout, train, test, folds), computed with 0/1 row masks
inside the compiled call, equals the same configurations run one by one (`neurodyn run`'s NumPy
readout) to 1e-8 in float64."""

from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.spec import load_spec
from neurodyn.datasets import task_data
from neurodyn.runs.task import train_and_score
from neurodyn.sweep import cartesian, parse_axis, sweep
from neurodyn.sweep.task import task_chunk

SPECS = Path(__file__).resolve().parents[2] / "models"
SMALL = ["steps=1200", "populations.reservoir.n=30", "task.washout=100", "task.train=700", "task.test=300",
         "task.readout.ridge=[1e-7, 1e-4, 1e-1]", 'task.metrics=["nrmse", "nrmse_rms", "mse", "r2"]']


@pytest.fixture(autouse=True)
def float64():
    nd.set_precision("float64")


def _as_set(path, value):
    value = float(value)
    return f"{path}={int(value) if value.is_integer() else value!r}"


def _one_by_one(spec_name, base, grid, i):
    sets = [_as_set(p, v) for p, v in zip(grid.paths, grid.values[i])]
    spec = load_spec(SPECS / f"{spec_name}.toml", overrides=[*base, *sets])
    return train_and_score(spec.model, spec.state, spec.task, spec.dt)


def test_mixed_sweep_equals_task_only_and_measure_only_sweeps(tmp_path):
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=SMALL)
    grid = cartesian([parse_axis("populations.reservoir.spectral_radius=0.6,1.3"),
                      parse_axis("populations.reservoir.leak=0.4,1.0")])
    drive = {"reservoir": task_data(spec.task).inputs}  # the ordinary measures' run, driven by the task's input
    tasks, others = ["nrmse", "mse"], ["mean:reservoir.x", "var:reservoir.x", "max_lyapunov"]
    before = task_chunk._cache_size()
    mixed = sweep(spec, grid, tasks + others, drive=drive, progress=False, out=tmp_path / "m.h5")
    assert task_chunk._cache_size() - before == 1  # one compiled chunk holds both
    task_only = sweep(spec, grid, tasks, progress=False, out=tmp_path / "t.h5")
    measure_only = sweep(spec, grid, others, drive=drive, progress=False, out=tmp_path / "o.h5")
    assert set(mixed.results) == set(task_only.results) | set(measure_only.results)
    for name, ref in [*task_only.results.items(), *measure_only.results.items()]:
        np.testing.assert_allclose(mixed.results[name], ref, rtol=1e-12, atol=0, err_msg=name)
    # the numbers are not trivial: the spectral radius moves the exponent and the score
    lyap = mixed.results["max_lyapunov"]
    assert lyap[2] > lyap[0] + 0.02 and np.ptp(mixed.results["nrmse"]) > 0.01
    assert np.all(mixed.results["var(reservoir.x)"] > 1e-3)


def test_mixed_sweep_from_the_cli_writes_both_kinds(tmp_path):
    out = tmp_path / "mixed.h5"
    assert main(["sweep", str(SPECS / "esn_narma10.toml"), *(f"--set={s}" for s in SMALL),
                 "--grid", "populations.reservoir.leak=0.5,1", "--measure", "nrmse", "--measure", "max_lyapunov",
                 "--drive", "task", "--out", str(out), "--quiet"]) == 0
    results = nd.io.load(out)["sweep"]["results"]
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=SMALL)
    grid = {"populations.reservoir.leak": [0.5, 1.0]}
    alone = sweep(spec, grid, ["max_lyapunov"], progress=False, out=tmp_path / "alone.h5",
                  drive={"reservoir": task_data(spec.task).inputs})  # drive "task": the task's input series
    np.testing.assert_allclose(results["max_lyapunov"], alone.results["max_lyapunov"], rtol=1e-12)
    undriven = sweep(spec, grid, ["max_lyapunov"], progress=False, out=tmp_path / "undriven.h5")
    assert np.all(np.abs(undriven.results["max_lyapunov"] - results["max_lyapunov"]) > 1e-3)
    for i, leak in enumerate((0.5, 1.0)):
        one = load_spec(SPECS / "esn_narma10.toml", overrides=[*SMALL, f"populations.reservoir.leak={leak}"])
        scores = train_and_score(one.model, one.state, one.task, one.dt).scores
        np.testing.assert_allclose(results["nrmse"][i], scores["nrmse"], rtol=1e-10)


def test_swept_washout_train_test_and_folds_equal_single_runs(tmp_path):
    base = [*SMALL, "task.readout.ridge=[1e-3, 1e-2, 0.1, 1.0, 10.0]"]
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=base)
    axes = ["task.washout=0,150", "task.train=500,0.45", "task.test=200,300", "task.readout.folds=3,5"]
    grid = cartesian([parse_axis(a) for a in axes])
    before = task_chunk._cache_size()
    res = sweep(spec, grid, ["nrmse", "nrmse_rms", "r2"], chunk=8, progress=False, out=tmp_path / "s.h5")
    assert task_chunk._cache_size() - before == 1  # 16 splits, 2 chunks, one compilation
    for i in range(grid.n_points):
        one = _one_by_one("esn_narma10", base, grid, i)
        assert res.results["ridge"][i] == one.attrs["ridge"], i  # the same value won the cross-validation
        for m in ("nrmse", "nrmse_rms", "r2"):
            np.testing.assert_allclose(res.results[m][i], one.scores[m], rtol=1e-10, err_msg=f"{m} at point {i}")
    assert np.ptp(res.results["nrmse"]) > 1e-3  # the split matters (a sweep that ignored it would fail)
    assert len(set(res.results["ridge"])) >= 3  # and so do the folds: the cross-validation picks different values


def test_swept_ridge_and_washout_on_a_memory_task_equal_single_runs(tmp_path):
    base = ["steps=900", "populations.layer1.n=12", "populations.layer2.n=12", "populations.layer3.n=12",
            "task.dataset.max_delay=20", "task.washout=50", "task.train=500", "task.test=300"]
    spec = load_spec(SPECS / "deepresesn_memory.toml", overrides=base)
    grid = cartesian([parse_axis("task.readout.ridge=1e-8,1e-2"), parse_axis("task.washout=20,80")])
    res = sweep(spec, grid, ["memory_capacity"], progress=False, out=tmp_path / "mc.h5")
    np.testing.assert_array_equal(res.results["ridge"], grid.values[:, 0])
    for i in range(grid.n_points):
        one = _one_by_one("deepresesn_memory", base, grid, i)
        np.testing.assert_allclose(res.results["memory_capacity"][i], one.scores["memory_capacity"], rtol=1e-10)


def test_swept_folds_of_a_classification_task_equal_single_runs(tmp_path):
    base = ["populations.reservoir.n=16", "task.readout.ridge=[0.003, 0.006, 0.01, 0.02, 0.04]"]
    spec = load_spec(SPECS / "resrmn_digits.toml", overrides=base)
    grid = cartesian([parse_axis("task.readout.folds=2,4")])
    res = sweep(spec, grid, ["accuracy"], progress=False, out=tmp_path / "c.h5")
    for i in range(grid.n_points):
        one = _one_by_one("resrmn_digits", base, grid, i)
        assert res.results["ridge"][i] == one.attrs["ridge"]
        np.testing.assert_allclose(res.results["accuracy"][i], one.scores["accuracy"], rtol=1e-12)
    np.testing.assert_array_equal(res.results["ridge"], [0.02, 0.04])  # 2 and 4 folds choose differently
    assert np.all(res.results["accuracy"] > 0.5)
