"""Run checkpoints of ``simulate`` (issue 22): a run stopped at a chunk boundary and resumed from
its checkpoint returns the trajectory of an uninterrupted run bit for bit (records, spikes, the
in-loop statistics, the final state); a checkpoint of another run, or a damaged one, is refused
with one line and left as it was; a failed write leaves the last good checkpoint in place."""

from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.core.checkpoint import parse_interval
from neurodyn.errors import Interrupted, OutputError, SpecError
from neurodyn.models import chialvo_ring_star



@dataclass(frozen=True)
class SumOfSquares(nd.core.Observer):
    """An in-loop statistic whose carry a resumed run must take over: sum over steps of x^2."""

    def init(self, model, state):
        return jnp.zeros(model.observe(state)["neurons.x"].shape)

    def step(self, carry, model, state, i):
        return carry + model.observe(state)["neurons.x"] ** 2, None

    def finalize(self, carry, steps):
        return {"sum_x2": carry}


KW = dict(key=jax.random.PRNGKey(3), transient=50, every=3, spikes={"neurons.x": 1.0}, chunk=150,
          observers=(SumOfSquares(),))


def _net(b=0.18):
    return chialvo_ring_star(9, star=0.02, ring_strength=0.03, triadic=0.004, b=b)


class StopAfter:
    """``should_stop`` that says stop on its ``n``-th call (before the ``n``-th chunk)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self):
        self.calls += 1
        return self.calls >= self.n


def _equal(a, b):
    np.testing.assert_array_equal(a.times, b.times)
    assert a.names == b.names
    for name in a.names:
        np.testing.assert_array_equal(a[name], b[name])
    for name in a.spikes:
        for x, y in zip(a.spikes[name], b.spikes[name]):
            np.testing.assert_array_equal(x, y)
    for x, y in zip(jax.tree_util.tree_leaves(a.final_state), jax.tree_util.tree_leaves(b.final_state)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.steps == b.steps
    np.testing.assert_array_equal(a.diagnostics["sum_x2"][0], b.diagnostics["sum_x2"][0])


@pytest.mark.parametrize("stop_at", [1, 2, 5, 14])  # before the first chunk, in the transient, mid-run, last chunk
def test_a_stopped_run_resumed_from_its_checkpoint_equals_an_uninterrupted_one(tmp_path, stop_at):
    whole = nd.simulate(_net(), 2001, **KW)
    path = tmp_path / "run.ckpt.h5"
    with pytest.raises(Interrupted) as stopped:
        nd.simulate(_net(), 2001, should_stop=StopAfter(stop_at), checkpoint=nd.Checkpoint(path), **KW)
    assert path.is_file()
    assert stopped.value.steps < 2001
    resumed = nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path), **KW)
    _equal(resumed, whole)
    assert len(whole.spikes["neurons.x"][0]) > 50
    assert not path.exists()  # the run completed: its checkpoint is no longer needed


def test_a_run_of_a_subset_with_a_rate_monitor_resumes_bitwise(tmp_path):
    kw = {**KW, "neurons": {"neurons": "0:5"}, "rates": ("neurons.x",)}
    whole = nd.simulate(_net(), 2001, **kw)
    path = tmp_path / "run.ckpt.h5"
    with pytest.raises(Interrupted):
        nd.simulate(_net(), 2001, should_stop=StopAfter(6), checkpoint=nd.Checkpoint(path), **kw)
    resumed = nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path), **kw)
    _equal(resumed, whole)
    assert resumed.names == ("neurons.x", "neurons.y", "neurons.population_rate")
    assert resumed["neurons.x"].shape == (650, 5)
    with pytest.raises(Interrupted):  # another subset is another run
        nd.simulate(_net(), 2001, should_stop=StopAfter(6), checkpoint=nd.Checkpoint(path), **kw)
    with pytest.raises(OutputError, match="belongs to another run"):
        nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path), **{**kw, "neurons": {"neurons": "1:6"}})


def test_periodic_checkpoints_follow_the_step_interval(tmp_path):
    path = tmp_path / "run.ckpt.h5"
    checkpoint = nd.Checkpoint(path, "450steps", remove_when_done=False)
    nd.simulate(_net(), 2001, checkpoint=checkpoint, **KW)
    # chunks end at 150, 300, ... (the transient: one chunk of 50); a checkpoint at the first boundary
    # 450 steps after the last: 500, 950, 1400, 1850
    assert checkpoint.written == 4
    with __import__("h5py").File(path, "r") as f:
        assert int(f["checkpoint"].attrs["step"]) == 1850


def test_a_wall_time_interval_checkpoints_at_chunk_boundaries(tmp_path):
    checkpoint = nd.Checkpoint(tmp_path / "run.ckpt.h5", 1e-9, remove_when_done=False)
    nd.simulate(_net(), 2001, checkpoint=checkpoint, **KW)
    # every boundary but the end: the transient's chunk, 13 chunks of 150 recorded steps, no tail's end
    assert checkpoint.written == 14
    slow = nd.Checkpoint(tmp_path / "slow.ckpt.h5", "1h")
    nd.simulate(_net(), 2001, checkpoint=slow, **KW)
    assert slow.written == 0


def test_a_checkpoint_of_another_run_is_refused_with_one_line(tmp_path):
    path = tmp_path / "run.ckpt.h5"
    with pytest.raises(Interrupted):
        nd.simulate(_net(), 2001, should_stop=StopAfter(3), checkpoint=nd.Checkpoint(path), **KW)
    before = path.read_bytes()
    for other in (dict(model=_net(b=0.17)), dict(steps=2002), dict(every=4)):
        kw = {**KW, "every": other.get("every", KW["every"])}
        with pytest.raises(OutputError, match="belongs to another run") as err:
            nd.simulate(other.get("model", _net()), other.get("steps", 2001), checkpoint=nd.Checkpoint(path), **kw)
        assert "\n" not in str(err.value)
    assert path.read_bytes() == before


def _flip(path: Path, offset: int):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["truncate", "flip-data", "flip-header"])
def test_a_damaged_checkpoint_is_refused_and_left_as_it_was(tmp_path, damage):
    path = tmp_path / "run.ckpt.h5"
    with pytest.raises(Interrupted):
        nd.simulate(_net(), 2001, should_stop=StopAfter(5), checkpoint=nd.Checkpoint(path), **KW)
    size = path.stat().st_size
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:size // 2])
    else:
        _flip(path, size - 100 if damage == "flip-data" else 520)
    before = path.read_bytes()
    with pytest.raises(OutputError, match="is damaged") as err:
        nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path, "1steps"), **KW)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == before


def test_a_failed_checkpoint_write_keeps_the_last_good_one(tmp_path, monkeypatch):
    from neurodyn.core import checkpoint as ckpt

    path = tmp_path / "run.ckpt.h5"
    with pytest.raises(Interrupted):
        nd.simulate(_net(), 2001, should_stop=StopAfter(5), checkpoint=nd.Checkpoint(path), **KW)
    good = path.read_bytes()

    def broken_seal(tmp, fmt):  # the write is damaged on its way to disk: verification must catch it
        ckpt_seal(tmp, fmt)
        _flip(Path(tmp), Path(tmp).stat().st_size - 50)

    ckpt_seal = ckpt.seal
    monkeypatch.setattr(ckpt, "seal", broken_seal)
    with pytest.raises(OutputError, match="is damaged"):
        nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path, "1steps"), **KW)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    monkeypatch.undo()
    _equal(nd.simulate(_net(), 2001, checkpoint=nd.Checkpoint(path), **KW), nd.simulate(_net(), 2001, **KW))


def test_checkpoint_intervals_parse_times_and_step_counts():
    assert parse_interval("60s") == (60.0, None)
    assert parse_interval("5m") == (300.0, None)
    assert parse_interval("1.5h") == (5400.0, None)
    assert parse_interval("5000steps") == (None, 5000)
    assert parse_interval(2.5) == (2.5, None)
    for bad in ("60", "5 parsecs", "0s", "1.5steps", -3):
        with pytest.raises(SpecError, match="checkpoint every"):
            parse_interval(bad)
