"""The bundled reservoir specs run from the command line: `neurodyn run` on a spec with a [task]
harvests the states, trains and scores the readout, and writes states, predictions, targets and
scores (plus the trained reservoir and readout beside the run file). Each score is asserted
against its published or derived range, and the written arrays against an independent solve."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.errors import SpecError
from neurodyn.io import load
from neurodyn.io.trained import load_trained
from neurodyn.spec import load_spec

SPECS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(spec: str, *options) -> tuple[dict, dict]:
    assert main(["run", str(SPECS / f"{spec}.toml"), "--out", "run.h5", "--quiet", *options]) == 0
    with h5py.File("run.h5") as f:
        readout = {k: v[()] for k, v in f["readout"].items()} | {"attrs": dict(f["readout"].attrs)}
    return load("run.h5"), readout


def _ridge_by_lstsq(x, y, beta):
    """min ||[1 x] w - y||^2 + beta ||w[1:]||^2 by least squares on the augmented system."""
    z = np.hstack([np.ones((len(x), 1)), x])
    aug = np.vstack([z, np.sqrt(beta) * np.eye(z.shape[1])[1:]])
    rhs = np.vstack([y, np.zeros((z.shape[1] - 1, y.shape[1]))])
    return np.linalg.lstsq(aug, rhs, rcond=None)[0]


def test_mackey_glass_one_step_nrmse_and_closed_loop_valid_time(workdir):
    # V23 (docs/models/reservoirs.md): 500 units, one-step NRMSE < 1e-2, valid time >= 200 steps
    data, r = _run("esn_mackey_glass", "--steps", "2500", "--set", "task.washout=300", "--set", "task.train=1500",
                   "--set", "task.test=500", "--set", "task.generate=300")
    d = data["diagnostics"]
    assert d["nrmse"] < 1e-2 and d["valid_time"] >= 200
    states, targets, pred = r["states"], r["targets"], r["predictions"]
    assert states.shape == (2500, 500) and targets.shape == pred.shape == (2500, 1)
    train, test = slice(300, 1800), slice(1800, 2300)
    # the written predictions: the ridge solution at the chosen beta, solved independently
    # (at a ridge this small the system is ill-conditioned: the two solvers agree to a small
    # fraction of the prediction error, about 5e-5)
    w = _ridge_by_lstsq(states[train], targets[train], float(r["attrs"]["ridge"]))
    independent = w[0] + states[test] @ w[1:]
    np.testing.assert_allclose(pred[test], independent, atol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.mean((independent - targets[test]) ** 2) / np.var(targets[test])),
                               d["nrmse"], rtol=0.05)
    err = pred[test] - targets[test]
    np.testing.assert_allclose(d["nrmse"], np.sqrt(np.mean(err ** 2) / np.var(targets[test])), rtol=1e-12)
    np.testing.assert_allclose(d["nrmse_rms"], np.sqrt(np.mean(err ** 2) / np.mean(targets[test] ** 2)), rtol=1e-12)
    assert sorted(r["cv_errors"].shape) == [4]
    # the saved reservoir and readout predict the same outputs
    trained = load_trained("run.trained.h5")
    np.testing.assert_allclose(trained["readout"].predict(states), pred, rtol=0, atol=1e-12)
    # the report holds the same states (row t: after step t, at time t + 1), every 10th
    rep = data["report"]["reservoir"]["x"]
    np.testing.assert_array_equal(rep["data"], states[::10])
    assert rep["times"][0] == 1.0 and rep["times"][1] == 11.0


def test_narma10_nrmse_in_the_untuned_reference_range(workdir):
    # V7 (docs/models/reservoirs.md): untuned 400-unit ESN, NRMSE (std convention) 0.22-0.25
    data, r = _run("esn_narma10")
    nrmse, rms = data["diagnostics"]["nrmse"], data["diagnostics"]["nrmse_rms"]
    assert 0.21 <= nrmse <= 0.26
    y = r["targets"][4000:6000]
    # the two conventions differ by std(y) / rms(y) (about 0.28 for NARMA-10, whose mean is large)
    np.testing.assert_allclose(rms / nrmse, np.std(y) / np.sqrt(np.mean(y ** 2)), rtol=1e-12)


def test_deep_residual_memory_capacity_within_the_bound(workdir):
    # Jaeger (2002): MC <= N (here 3 x 40 = 120 units); the stored arrays give the same sum of r^2
    data, r = _run("deepresesn_memory", "--steps", "2500", *(f"--set=populations.layer{l}.n=40" for l in (1, 2, 3)),
                   "--set", "task.dataset.max_delay=120", "--set", "task.washout=120", "--set", "task.train=1800",
                   "--set", "task.test=500")
    mc = data["diagnostics"]["memory_capacity"]
    assert 10 < mc <= 120
    pred, y = r["predictions"][1920:2420], r["targets"][1920:2420]
    corr = [np.corrcoef(pred[:, k], y[:, k])[0, 1] ** 2 for k in range(y.shape[1])]
    np.testing.assert_allclose(mc, np.sum(corr), rtol=1e-10)
    assert r["states"].shape == (2500, 120)  # the readout sees all three layers


def test_resrmn_classifies_pixel_digits(workdir):
    data, r = _run("resrmn_digits")
    acc = data["diagnostics"]["accuracy"]
    assert acc > 0.9  # measured 0.967 (ten classes: chance 0.1)
    n = int(r["attrs"]["n_train"])
    np.testing.assert_allclose(acc, np.mean(r["predictions"] == r["labels"][n:]), rtol=0)
    assert r["features"].shape == (1797, 100)


def test_adaptive_ei_reservoir_memory_capacity_above_the_fixed_one(workdir):
    short = ["--steps", "3000", "--set", "task.washout=1000", "--set", "task.train=1500", "--set", "task.test=500"]
    adaptive = _run("ei_reservoir_adaptive", *short)[0]["diagnostics"]["memory_capacity"]
    fixed = _run("ei_reservoir_adaptive", *short, "--set", "populations.reservoir.adapt=false")[0]
    assert 1 < adaptive <= 100  # at most the 100 delays
    # at the spec's excitation-dominated balance the fixed reservoir saturates (full run: 0.70 vs 5.96)
    assert adaptive > 2 * fixed["diagnostics"]["memory_capacity"]


@pytest.mark.parametrize("change,message", [
    ("task.train=9000", "task: washout (500) + train (9000) + test"),
    ("task.metrics=[\"accuracy\"]", "task.metrics: 'accuracy' does not apply"),
    ("task.dataset.kind=\"narmax\"", "task.dataset.kind: unknown dataset 'narmax'"),
    ("task.readout.ridge=-1.0", "task.readout.ridge: must be >= 0"),
    ("task.features=[\"reservoir.y\"]", "task.features: unknown observable 'reservoir.y'"),
    ("task.train=1.5", "task.train: a fraction must be in (0, 1)"),
])
def test_bad_task_fields_are_named(change, message):
    with pytest.raises(SpecError, match=None) as err:
        load_spec(SPECS / "esn_mackey_glass.toml", overrides=[change])
    assert str(err.value).startswith(message), str(err.value)


def test_plot_draws_the_readout_against_its_targets_and_the_confusion_matrix(workdir):
    from neurodyn.plot.run import readout_figure

    data, r = _run("esn_narma10", "--steps", "1200", "--set", "task.washout=100", "--set", "task.train=700",
                   "--set", "task.test=400")
    fig = readout_figure(data)
    target_line, readout_line = fig.axes[0].get_lines()[:2]
    start = int(r["attrs"]["test_start"])
    np.testing.assert_array_equal(target_line.get_ydata(), r["targets"][start:start + 400, 0])
    np.testing.assert_array_equal(readout_line.get_ydata(), r["predictions"][start:start + 400, 0])
    assert main(["plot", "run.h5"]) == 0 and Path("run.readout.png").stat().st_size > 0

    data, r = _run("resrmn_digits", "--set", "task.dataset.test_fraction=0.2")
    image = readout_figure(data).axes[0].get_images()[0].get_array()
    n_test = int(r["attrs"]["n_test"])
    # the confusion matrix counts every test sequence once; its trace is the number classified right
    assert image.sum() == n_test == len(r["predictions"])
    assert image.trace() == np.sum(r["predictions"] == r["labels"][-n_test:])
    assert image.trace() == round(data["diagnostics"]["accuracy"] * n_test)  # the test labels are the last rows
