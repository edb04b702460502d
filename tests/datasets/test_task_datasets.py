"""Task datasets live in neurodyn.datasets.tasks (the registry, the builders, task_data); the
spec only reads and validates a [task] into plain data, and the run layer builds and trains it:
a dataset registered here from a test is read by the spec, built by task_data, trained and
scored by neurodyn.runs.task, with no change elsewhere."""

from pathlib import Path

import numpy as np
import pytest

import neurodyn as nd
from neurodyn.datasets import DATASETS, TaskData, narma, task_data
from neurodyn.runs.task import ridge_readout, train_and_score
from neurodyn.schema import Field
from neurodyn.spec import load_spec
from neurodyn.spec.task import Task

SPECS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def ramp():
    """A series dataset registered from a test (input a sine, target its value ``lag`` steps back)."""

    def build(*, lag, steps, spec_seed):
        u = np.sin(0.3 * np.arange(steps))[:, None]
        return TaskData("series", u, np.roll(u, lag, axis=0))

    DATASETS.register("test_lagged_sine", build, (Field("lag", "integer", default=2, minimum=1, doc="the lag"),),
                      summary="a lagged sine (test)", context=("steps", "spec_seed"))
    yield
    DATASETS._entries.pop("test_lagged_sine")


def test_the_spec_task_is_plain_data_built_by_task_data():
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=["steps=700", "task.washout=50", "task.train=400", "task.test=200",
                                                             "populations.reservoir.n=20"])
    task = spec.task
    assert isinstance(task, Task) and not hasattr(task, "data") and not hasattr(task, "ridge_readout")
    data = task_data(task)
    u, y = narma(700, 10, seed=spec.seed)  # the generator itself, seeded by the spec's seed
    np.testing.assert_array_equal(data.inputs, np.asarray(u, float).reshape(700, -1))
    np.testing.assert_array_equal(data.targets, np.asarray(y, float).reshape(700, -1))
    readout = ridge_readout(task)
    assert readout.ridge == [1e-9, 1e-7, 1e-5] and readout.folds == 5 and readout.bias


def test_a_dataset_registered_in_datasets_is_read_built_and_trained(ramp):
    nd.set_precision("float64")
    spec = load_spec(SPECS / "esn_narma10.toml", overrides=[
        "steps=600", "populations.reservoir.n=30", "task.washout=50", "task.train=350", "task.test=200",
        'task.dataset={kind = "test_lagged_sine", lag = 3}', "task.readout.ridge=1e-6"])
    assert spec.task.dataset == "test_lagged_sine" and spec.task.dataset_values == {"lag": 3}
    result = train_and_score(spec.model, spec.state, spec.task, spec.dt)
    # recalling a sine 3 steps back is easy for 30 units (a task the readout ignored would score ~1)
    assert result.scores["nrmse"] < 0.05
    np.testing.assert_array_equal(result.arrays["targets"][10:], np.sin(0.3 * np.arange(7, 597))[:, None])
