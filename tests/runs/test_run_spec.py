"""The run layer (neurodyn.runs): a task run honours the stop flag, keeping what it harvested,
and RunSpec is plain data built by keyword."""

from pathlib import Path

import h5py
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import Interrupted
from neurodyn.runs import run_spec, trained_path
from neurodyn.spec import RunSpec

SPECS = Path(__file__).resolve().parents[2] / "models"
SMALL_TASK = ["populations.reservoir.n=20", "task.washout=10", "task.train=60", "task.test=30", "precision=\"float32\""]


class StopAfter:
    """A stop flag that turns True at its ``n``-th check (as a signal landing mid-run would)."""

    name = "SIGTERM"

    def __init__(self, n):
        self.n = n

    def __call__(self):
        self.n -= 1
        return self.n < 0


@pytest.mark.parametrize("checks, stage", [(0, "before the task's harvest"), (1, "after the task's harvest"),
                                           (2, "after training the readout")])
def test_a_stopped_task_run_keeps_its_states_and_the_earlier_files(tmp_path, checks, stage):
    spec = nd.load_spec(SPECS / "esn_narma10.toml", steps=120, overrides=SMALL_TASK)
    out = tmp_path / "task.h5"
    out.write_bytes(b"an earlier complete run")
    trained_path(out).write_bytes(b"its trained readout")
    kept = "nothing was computed or written" if checks == 0 else f"the 120 harvested states are in {tmp_path}/task.partial.h5"
    with pytest.raises(Interrupted, match=f"SIGTERM {stage}; {kept}"):
        run_spec(spec, out, should_stop=StopAfter(checks))
    assert out.read_bytes() == b"an earlier complete run"
    assert trained_path(out).read_bytes() == b"its trained readout"
    partial = ["task.partial.h5"] if checks else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["task.h5", "task.trained.h5", *partial])
    if checks:
        with h5py.File(tmp_path / "task.partial.h5") as f:
            assert f["neurodyn"].attrs["status"] == "interrupted" and f["harvest/states"].shape == (120, 20)
            states = f["harvest/states"][()]
    if checks == 2:  # never stopped: the run completes and replaces both; its states are the partial's
        result = run_spec(spec, out, should_stop=StopAfter(3))
        assert result.path == out and set(result.task.scores) == {"nrmse", "nrmse_rms", "mse"}
        assert nd.io.load(out)["meta"]["status"] == "complete"
        np.testing.assert_array_equal(nd.io.load(out)["readout"]["states"], states)


def test_a_task_run_stopped_during_its_harvest_keeps_the_states_harvested_until_then(tmp_path, monkeypatch):
    """A series is harvested in blocks with the stop flag checked between them; the blocks give
    the states of one call bit for bit, and a stop keeps the finished blocks' states in the
    partial file (a signal mid-harvest used to wait for the whole harvest, then keep nothing)."""
    import neurodyn.runs.task as run_task

    monkeypatch.setattr(run_task, "MIN_BLOCK", 50)  # 3 blocks of 50 steps for 120 steps (the last one padded)
    spec = nd.load_spec(SPECS / "esn_narma10.toml", steps=120, overrides=SMALL_TASK)
    data = run_task.task_data(spec.task)
    whole = run_task.harvest_task(spec.model, spec.state, spec.task, data.inputs, spec.dt)
    blocks, done = run_task.harvest_series(spec.model, spec.state, spec.task, data.inputs, spec.dt)
    assert done == 120
    np.testing.assert_array_equal(blocks, whole)
    out = tmp_path / "task.h5"
    # checks: before the harvest, before the second block (go on), before the third (stop)
    with pytest.raises(Interrupted, match=r"SIGTERM during the task's harvest, after 100 of 120 steps; the 100 "
                                          r"harvested states are in .*task\.partial\.h5 \(no readout was saved"):
        run_spec(spec, out, should_stop=StopAfter(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task.partial.h5"]
    with h5py.File(tmp_path / "task.partial.h5") as f:
        assert f["neurodyn"].attrs["status"] == "interrupted" and f["neurodyn"].attrs["stopped_step"] == 100
        np.testing.assert_array_equal(f["harvest/states"][()], whole[:100])
        np.testing.assert_array_equal(f["harvest/inputs"][()], data.inputs[:100])


def test_run_spec_is_plain_data_built_by_keyword():
    spec = nd.load_spec(SPECS / "chialvo_single.toml", steps=10, overrides=["record.transient=0"])
    with pytest.raises(TypeError):
        RunSpec(spec.name, spec.steps)  # no positional construction
    # RunSpec.simulate / RunSpec.run are only the run layer's thin callers (tests/runs/test_runspec_callers.py)
