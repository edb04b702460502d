"""Training checkpoints (neurodyn.train.checkpoint): HDF5 round trip of parameters and optimizer
state, resume to the identical continuation, and survival of a SIGKILL mid-training."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from neurodyn.errors import OutputError
from neurodyn.pytree import pytree_dataclass
from neurodyn.train import fit, read_checkpoint, read_histories, write_checkpoint

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("checkpoint_worker.py")


@pytree_dataclass
class Affine:
    w: jax.Array
    b: jax.Array


def _loss(model, batch, key):
    x, y = batch
    return jnp.mean((x @ model.w + model.b - y) ** 2), {}


def _data(n=96):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3))
    return x, x @ np.array([1.0, -2.0, 0.5]) + 0.25


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def test_checkpoint_round_trip_restores_parameters_and_adam_state_bitwise(tmp_path):
    params = Affine(jnp.asarray(np.random.default_rng(0).normal(size=3), jnp.float32), jnp.asarray(0.1, jnp.float32))
    opt = optax.adam(optax.cosine_decay_schedule(1e-2, 50))
    state = opt.init(params)
    grads = Affine(jnp.ones(3, jnp.float32), jnp.asarray(0.5, jnp.float32))
    for _ in range(3):  # a non-trivial state: moments and step count
        updates, state = opt.update(grads, state, params)
    path = write_checkpoint(tmp_path / "c.h5", params=params, opt_state=state, history={"loss": [3.0, 2.0]}, epoch=2,
                            key=jax.random.PRNGKey(5))
    back = read_checkpoint(path, params_like=params, opt_state_like=opt.init(params))
    assert back["epoch"] == 2 and np.array_equal(back["history"]["loss"], [3.0, 2.0])
    assert np.array_equal(np.asarray(back["key"]), np.asarray(jax.random.PRNGKey(5)))
    for a, b in zip(_leaves(state) + _leaves(params), _leaves(back["opt_state"]) + _leaves(back["params"])):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert jax.tree_util.tree_structure(back["opt_state"]) == jax.tree_util.tree_structure(state)
    assert int(back["opt_state"][0].count) == 3  # the schedule resumes at step 3, not 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]  # the temporary file was moved into place


def test_checkpoint_of_another_model_is_refused_naming_the_leaf(tmp_path):
    params = Affine(jnp.zeros(3), jnp.zeros(()))
    opt = optax.sgd(0.1)
    write_checkpoint(tmp_path / "c.h5", params=params, opt_state=opt.init(params), history={}, epoch=1,
                     key=jax.random.PRNGKey(0))
    other = Affine(jnp.zeros(4), jnp.zeros(()))
    with pytest.raises(OutputError, match=r"\.w is stored as float64\[3\].*float64\[4\]"):
        read_checkpoint(tmp_path / "c.h5", params_like=other)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(OutputError, match="not a readable HDF5 file"):
        read_checkpoint(tmp_path / "junk.h5")


def test_resumed_fit_equals_an_uninterrupted_fit_bitwise(tmp_path):
    x, y = _data()
    model = Affine(jnp.zeros(3), jnp.zeros(()))
    kw = dict(optimizer=optax.adam(optax.cosine_decay_schedule(0.05, 40)), batch_size=16, key=jax.random.PRNGKey(2),
              validation=(x[:20], y[:20]), progress=False)
    whole = fit(model, _loss, (x, y), epochs=5, **kw)
    first = fit(model, _loss, (x, y), epochs=2, checkpoint=tmp_path / "c.h5", **kw)
    assert first.epochs == 2 and read_checkpoint(tmp_path / "c.h5")["epoch"] == 2
    # a stale temporary file (a kill during a write) is simply overwritten
    (tmp_path / f".c.h5.{os.getpid()}.tmp").write_bytes(b"partial")
    rest = fit(model, _loss, (x, y), epochs=5, checkpoint=tmp_path / "c.h5", **kw)
    assert rest.epochs == 5
    for a, b in zip(_leaves(whole.model), _leaves(rest.model)):
        assert np.array_equal(a, b)
    for name in whole.history:
        assert np.array_equal(whole.history[name], rest.history[name])
    # a finished checkpoint trains no further; resume=False starts again from the given model
    again = fit(model, _loss, (x, y), epochs=5, checkpoint=tmp_path / "c.h5", **kw)
    assert np.array_equal(_leaves(again.model)[0], _leaves(whole.model)[0])
    assert again.epochs == 5 and np.array_equal(again.history["loss"], whole.history["loss"])
    fresh = fit(model, _loss, (x, y), epochs=5, checkpoint=tmp_path / "c.h5", resume=False, **kw)
    assert np.array_equal(_leaves(fresh.model)[0], _leaves(whole.model)[0])
    assert read_histories(tmp_path / "c.h5")["training"]["loss"].shape == (5,)


def _wait_for(predicate, timeout, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.05)
    return False


def _epoch(path):
    try:
        return read_checkpoint(path)["epoch"]
    except OutputError:  # not there yet
        return -1


def test_training_killed_with_sigkill_resumes_to_the_same_parameters_bitwise(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    run = [sys.executable, str(WORKER)]
    reference = subprocess.Popen(run + [str(tmp_path / "ref.h5"), str(tmp_path / "ref.npz")], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpt = tmp_path / "killed.h5"
    victim = subprocess.Popen(run + [str(ckpt), str(tmp_path / "never.npz"), "--pause-after", "2"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _epoch(ckpt) == 2, 240, victim), victim.communicate()[1].decode()[-2000:]
        os.kill(victim.pid, signal.SIGKILL)  # in the middle of fit, 2 of 6 epochs done
        victim.wait(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert victim.returncode == -signal.SIGKILL and not (tmp_path / "never.npz").exists()
    assert _epoch(ckpt) == 2
    resumed = subprocess.run(run + [str(ckpt), str(tmp_path / "resumed.npz")], cwd=ROOT, env=env, capture_output=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err.decode()[-2000:]
    ref, res = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
    assert sorted(ref.files) == sorted(res.files) and len(ref.files) > 3
    for name in ref.files:
        assert ref[name].dtype == res[name].dtype and np.array_equal(ref[name], res[name]), name
    assert ref["history_loss"].shape == (6,)
    with h5py.File(ckpt, "r") as f:  # the resumed run kept writing the same checkpoint to the end
        assert f["training"].attrs["epoch"] == 6
