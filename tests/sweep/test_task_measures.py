"""Task scores as sweep measures: every point's readout is fitted and scored inside the vmapped,
compiled chunk, and its scores equal the same configuration run one by one (the `neurodyn run`
path: harvest, NumPy ridge with blocked cross-validation, score) to 1e-9 in float64: both solve
the same normal equations (neurodyn.readout.normal_equations, rows centred on their training
mean), in XLA (a Cholesky solve per ridge) and in NumPy (one eigendecomposition)."""

from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
from neurodyn.cli import main
from neurodyn.spec import load_spec
from neurodyn.runs.task import train_and_score
from neurodyn.sweep import cartesian, parse_axis, sweep
from neurodyn.sweep.task import task_chunk

SPECS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(autouse=True)
def float64():
    nd.set_precision("float64")


def _one_by_one(spec_name, base, grid, i):
    sets = [f"{p}={v!r}" for p, v in zip(grid.paths, grid.values[i].tolist())]
    spec = load_spec(SPECS / f"{spec_name}.toml", overrides=[*base, *sets])
    return train_and_score(spec.model, spec.state, spec.task, spec.dt)


NARMA = ["steps=1500", "populations.reservoir.n=40", "task.train=900", "task.test=400",
         "task.readout.ridge=[1e-6, 1e-4, 1e-2]"]


def test_esn_sweep_scores_equal_single_runs_and_compile_once(tmp_path):
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=NARMA)
    grid = cartesian([parse_axis("populations.reservoir.spectral_radius=0.5,0.95"),
                      parse_axis("populations.reservoir.leak=0.5,1.0"),
                      parse_axis("populations.reservoir.input_scaling=0.5,1.0")])
    before = task_chunk._cache_size()
    res = sweep(spec, grid, ["nrmse", "nrmse_rms", "mse"], out=tmp_path / "s.h5", chunk=3, progress=False)
    assert task_chunk._cache_size() - before == 1  # 3 chunks (the last padded), one compilation
    assert np.all(res.done)
    for i in range(grid.n_points):
        one = _one_by_one("esn_narma10", NARMA, grid, i)
        assert res.results["ridge"][i] == one.attrs["ridge"]  # the same value won the cross-validation
        for m in ("nrmse", "nrmse_rms", "mse"):
            # one solve (readout.normal_equations) in the vmapped chunk and in the single run, a Cholesky
            # factorisation against an eigendecomposition: up to 1.05e-10 apart with NumPy 2.4.6's LAPACK
            # (2026-12-08; below 1e-10 with earlier installs); before the one solve (an uncentred XLA solve
            # against NumPy's centred eigh) they differed by 1.1e-8, which this bound still rejects
            np.testing.assert_allclose(res.results[m][i], one.scores[m], rtol=1e-9, err_msg=f"{m} at point {i}")
    # the scores move with the parameters (a sweep that ignored them would fail here)
    assert np.ptp(res.results["nrmse"]) > 0.05


DEEP = ["steps=1200", "populations.layer1.n=16", "populations.layer2.n=16", "populations.layer3.n=16",
        "task.dataset.max_delay=40", "task.washout=100", "task.train=700", "task.test=300"]


def test_residual_alpha_beta_and_ridge_sweep_memory_capacity_equals_single_runs(tmp_path, capsys):
    axes = ["populations.layer1.alpha=0.5,0.9", "populations.layer1.beta=0.05,0.3", "task.readout.ridge=1e-6,1e-3"]
    args = ["sweep", str(SPECS / "deepresesn_memory.toml"), *(f"--set={s}" for s in DEEP),
            *(f"--grid={a}" for a in axes), "--measure", "memory_capacity", "--measure", "r2",
            "--out", str(tmp_path / "deep.h5"), "--quiet"]
    assert main(args) == 0
    data = nd.io.load(tmp_path / "deep.h5")["sweep"]
    grid = cartesian([parse_axis(a) for a in axes])
    mc = data["results"]["memory_capacity"]
    np.testing.assert_array_equal(data["results"]["ridge"], grid.values[:, 2])  # swept, not cross-validated
    for i in range(grid.n_points):
        one = _one_by_one("deepresesn_memory", DEEP, grid, i)
        np.testing.assert_allclose(mc[i], one.scores["memory_capacity"], rtol=1e-10)
        assert mc[i] <= 48  # Jaeger (2002): at most the 48 units
    assert np.ptp(mc) > 1


def test_classification_sweep_accuracy_equals_single_runs(tmp_path):
    base = ["populations.reservoir.n=20", "task.readout.ridge=[0.01, 1.0]"]
    spec = load_spec(SPECS / "resrmn_digits.toml", overrides=base)
    grid = cartesian([parse_axis("populations.reservoir.alpha=0.9,0.99")])
    res = sweep(spec, grid, ["accuracy"], progress=False, out=tmp_path / "c.h5")
    for i in range(grid.n_points):
        one = _one_by_one("resrmn_digits", base, grid, i)
        n_test = int(one.attrs["n_test"])  # the same count of correct labels
        assert round(res.results["accuracy"][i] * n_test) == round(one.scores["accuracy"] * n_test)
        np.testing.assert_allclose(res.results["accuracy"][i], one.scores["accuracy"], rtol=1e-12)
        assert res.results["ridge"][i] == one.attrs["ridge"]
    assert np.all(res.results["accuracy"] > 0.5)


@pytest.mark.parametrize("spec,args,message", [
    ("chialvo_single", ["--grid", "populations.neuron.b=0.5,0.6", "--measure", "nrmse"],
     "--measure nrmse: task scores need a spec with a [task] table"),
    ("esn_narma10", ["--grid", "task.readout.standardize=0,1", "--measure", "nrmse", "--measure",
                     "mean:reservoir.x"],
     "--grid task.readout.standardize: not sweepable: it changes the readout's form, not a number of it; run one "
     "sweep per value. The [task] fields a sweep varies without recompiling: task.readout.ridge, task.washout, "
     "task.train, task.test, task.readout.folds"),
    ("esn_narma10", ["--grid", "task.dataset.order=10,20", "--measure", "nrmse"],
     "--grid task.dataset.order: not sweepable: it changes the task's data"),
    ("esn_narma10", ["--grid", "task.washout=10,20", "--measure", "mean:reservoir.x"],
     "--grid task.washout: a [task] field changes only task scores"),
    ("esn_narma10", ["--grid", "task.washout=10,2000", "--measure", "nrmse"],
     "sweep point 1 (task.washout=2000): task: washout (2000) + train"),
    ("resrmn_digits", ["--grid", "task.readout.folds=2,3", "--measure", "accuracy", "--measure", "max_lyapunov",
                       "--drive", "task"],
     "sweep: drive \"task\": the digits_sequences task is a set of sequences, not one input series"),
    ("resrmn_digits", ["--grid", "task.train=10,20", "--measure", "accuracy"],
     "--grid task.train: not sweepable for the classification set 'digits_sequences'"),
    ("esn_narma10", ["--grid", "populations.reservoir.leak=0.5,1", "--measure", "accuracy"],
     "--measure accuracy: not a score of the task's narma data"),
])
def test_bad_task_sweeps_fail_in_one_line(tmp_path, capsys, spec, args, message):
    assert main(["sweep", str(SPECS / f"{spec}.toml"), *args, "--out", str(tmp_path / "x.h5"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"neurodyn: error: {message}") and err.count("\n") == 1, err
