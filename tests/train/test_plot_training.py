"""``neurodyn plot`` on a training checkpoint or history file draws its learning curves."""

import h5py
import jax
import numpy as np
import optax
import pytest

from neurodyn.cli import main
from neurodyn.errors import OutputError
from neurodyn.plot.training import learning_curves
from neurodyn.train import write_checkpoint


def test_plot_command_draws_the_curves_stored_in_a_checkpoint(tmp_path):
    history = {"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 0.9], "val_accuracy": [0.3, 0.6, 0.8]}
    params = {"w": np.zeros(2)}
    path = write_checkpoint(tmp_path / "run.h5", params=params, opt_state=optax.sgd(0.1).init(params),
                            history=history, epoch=3, key=jax.random.PRNGKey(0))
    assert main(["plot", str(path)]) == 0
    assert (tmp_path / "run.curves.png").stat().st_size > 5_000
    fig = learning_curves({"training": {k: np.asarray(v) for k, v in history.items()}})
    loss_ax, acc_ax = fig.axes[:2]
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["loss", "accuracy"]
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), history["loss"])  # solid: training
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), history["val_loss"])  # dashed: validation
    assert loss_ax.lines[1].get_linestyle() == "--"
    np.testing.assert_array_equal(acc_ax.lines[0].get_xdata(), [1, 2, 3])


def test_histories_of_several_seeds_are_drawn_as_their_mean(tmp_path):
    path = tmp_path / "seeds.h5"
    with h5py.File(path, "w") as f:
        for seed, values in enumerate(([1.0, 0.5], [3.0, 1.5])):
            f.create_dataset(f"results/cell/T1/seed{seed}/history/loss", data=values)
    assert main(["plot", str(path)]) == 0
    from neurodyn.train import read_histories

    fig = learning_curves(read_histories(path))
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [2.0, 1.0])  # mean over the two seeds
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(OutputError, match="no training history"):
        read_histories(empty)


def test_learning_curves_have_integer_epochs_and_the_legend_off_the_data():
    rng = np.random.default_rng(0)
    histories = {name: {"train_loss": rng.random(7), "val_loss": rng.random(7)} for name in ("a", "b")}
    fig = learning_curves(histories)
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert ax.get_legend() is None and [t.get_text() for t in fig.legends[0].texts] == ["a", "b"]
