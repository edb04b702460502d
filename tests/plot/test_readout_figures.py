"""``neurodyn plot`` on task runs and trained readout files: the closed-loop forecast, the forgetting
curve of a memory task, every class of a confusion matrix, and the trained file's own figure."""

import h5py
import numpy as np

from neurodyn.cli import main
from neurodyn.plot import run_figures
from neurodyn.readout.metrics import forgetting_curve


def test_forecast_panel_draws_the_closed_loop_output_and_marks_the_valid_time(run_spec, workdir, capsys):
    data = run_spec("esn_mackey_glass", "--set", "populations.reservoir.n=60")
    figs = run_figures(data)
    axes = figs["readout"].axes
    forecast = axes[-1]
    truth, generated = forecast.get_lines()[:2]
    readout = data["readout"]
    np.testing.assert_array_equal(generated.get_ydata(), readout["generated"][:, 0])
    first = int(readout["test_start"]) - 1  # the first forecast answers the last teacher-forced input
    np.testing.assert_array_equal(truth.get_ydata(), readout["targets"][first:first + len(readout["generated"]), 0])
    valid = float(data["diagnostics"]["valid_time"])
    marker = forecast.get_lines()[2]
    assert marker.get_xdata()[0] == first + valid
    assert f"valid prediction time: {int(valid):,} steps" in [t.get_text() for t in forecast.get_legend().get_texts()]
    # the scores sit on lines of their own, so no title is clipped
    assert all(len(line) <= 110 for line in figs["readout"]._suptitle.get_text().split("\n"))
    # the trained file beside the run has its own figure instead of a traceback
    assert main(["plot", "esn_mackey_glass.trained.h5"]) == 0
    assert capsys.readouterr().out.split()[-1].endswith("esn_mackey_glass.trained.png")


def test_memory_task_draws_the_forgetting_curve_whose_sum_is_the_stored_capacity(run_spec, workdir):
    data = run_spec("deepresesn_memory", "--set", "populations.layer1.n=20", "--set", "populations.layer2.n=20",
                "--set", "populations.layer3.n=20", "--set", "task.dataset.max_delay=40")
    ax = run_figures(data)["readout"].axes[0]
    curve = ax.get_lines()[0].get_ydata()
    assert len(curve) == 40 and ax.get_xlabel() == "delay k (steps)"
    # independent of the figure code: the capacity neurodyn's task runner stored
    assert abs(curve.sum() - float(data["diagnostics"]["memory_capacity"])) < 1e-9
    assert curve[0] > 0.9 and curve[-1] < curve[0]  # short delays are remembered, long ones forgotten


def test_forgetting_curve_is_the_squared_correlation_per_delay():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(500, 3))
    p = y * np.array([1.0, 0.5, 0.0]) + rng.normal(size=(500, 3)) * np.array([0.0, 0.5, 1.0])
    expected = [np.corrcoef(p[:, k], y[:, k])[0, 1] ** 2 for k in range(3)]
    np.testing.assert_allclose(forgetting_curve(p, y), expected, rtol=1e-12)


def test_confusion_matrix_labels_every_class():
    data = {"meta": {"name": "t", "seed": 0}, "diagnostics": {"accuracy": np.float64(0.5)},
            "readout": {"n_test": 12, "labels": np.arange(12) % 10, "predictions": np.arange(12) % 10}}
    ax = run_figures({**data, "report": {}, "spikes": {}})["readout"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in range(10)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(k) for k in range(10)]


def test_trained_file_figure_shows_cv_curve_spectrum_and_weights(tmp_path):
    from neurodyn.plot.run import trained_figure

    rng = np.random.default_rng(1)
    w = rng.normal(size=(30, 30))
    w *= 0.9 / np.max(np.abs(np.linalg.eigvals(w)))
    path = tmp_path / "x.trained.h5"
    with h5py.File(path, "w") as f:
        r = f.create_group("readout")
        r.attrs.update({"class": "neurodyn.readout.ridge:Ridge", "float:ridge": 1e-4, "int:folds": 3})
        r["weights"], r["candidates"], r["cv_errors"] = rng.normal(size=(31, 1)), [1e-6, 1e-4, 1e-2], [0.3, 0.1, 0.2]
        f.create_group("reservoir/populations/res")["w"] = w
    fig = trained_figure(path)
    cv, spectrum, hist = fig.axes
    assert cv.get_xscale() == "log" and cv.get_lines()[1].get_xdata()[0] == 1e-4
    assert "spectral radius 0.9" in spectrum.get_title()
    assert sum(p.get_height() for p in hist.patches) == 31
