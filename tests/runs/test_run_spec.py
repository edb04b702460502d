"""The run layer (neurodyn.runs): a task run honours the stop flag before anything is written,
and RunSpec is plain data built by keyword."""

from pathlib import Path

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
def test_a_stopped_task_run_writes_nothing_and_keeps_the_earlier_files(tmp_path, checks, stage):
    spec = nd.load_spec(SPECS / "esn_narma10.toml", steps=120, overrides=SMALL_TASK)
    out = tmp_path / "task.h5"
    out.write_bytes(b"an earlier complete run")
    trained_path(out).write_bytes(b"its trained readout")
    with pytest.raises(Interrupted, match=f"SIGTERM {stage}; nothing was written"):
        run_spec(spec, out, should_stop=StopAfter(checks))
    assert out.read_bytes() == b"an earlier complete run"
    assert trained_path(out).read_bytes() == b"its trained readout"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["task.h5", "task.trained.h5"]
    if checks == 2:  # never stopped: the run completes and replaces both
        result = run_spec(spec, out, should_stop=StopAfter(3))
        assert result.path == out and set(result.task.scores) == {"nrmse", "nrmse_rms", "mse"}
        assert nd.io.load(out)["meta"]["status"] == "complete"


def test_run_spec_is_plain_data_built_by_keyword():
    spec = nd.load_spec(SPECS / "chialvo_single.toml", steps=10, overrides=["record.transient=0"])
    with pytest.raises(TypeError):
        RunSpec(spec.name, spec.steps)  # no positional construction
    # RunSpec.simulate / RunSpec.run are only the run layer's thin callers (tests/runs/test_runspec_callers.py)
