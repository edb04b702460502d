"""A small training run for the checkpoint tests, run as a subprocess so it can be killed.

``python tests/train/checkpoint_worker.py CHECKPOINT OUT.npz [--pause-after K]``: trains a tiny
MLP for 6 epochs (Adam with a cosine schedule, validation, early stopping) with ``checkpoint``;
writes the final trainable leaves and the history to ``OUT.npz``. ``--pause-after K`` sleeps
(for the test to SIGKILL it) once the checkpoint of epoch K is on disk.
"""

import argparse
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurodyn.pytree import partition, pytree_dataclass
from neurodyn.train import EarlyStopping, fit
from neurodyn.train import loop

EPOCHS = 6


@pytree_dataclass(frozen=("scale",))
class MLP:
    w1: jax.Array
    b1: jax.Array
    w2: jax.Array
    scale: jax.Array


def loss_fn(model, batch, key):
    x, y = batch
    noise = 0.01 * jax.random.normal(key, x.shape)  # the per-batch key must be restored too
    h = jnp.tanh((x + noise) @ model.w1 + model.b1)
    pred = model.scale * (h @ model.w2)
    return jnp.mean((pred - y) ** 2), {"mean_abs_hidden": jnp.mean(jnp.abs(h))}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--pause-after", type=int, default=None)
    args = p.parse_args(argv)
    if args.pause_after is not None:
        write = loop.write_checkpoint

        def write_then_pause(path, **kw):
            written = write(path, **kw)
            if kw["epoch"] == args.pause_after:
                print("paused", flush=True)
                time.sleep(600)
            return written

        loop.write_checkpoint = write_then_pause
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 4)).astype(np.float32)
    y = np.sin(x @ rng.normal(size=(4, 1))).astype(np.float32)
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    model = MLP(0.5 * jax.random.normal(k1, (4, 16)), jnp.zeros(16), 0.5 * jax.random.normal(k2, (16, 1)),
                jnp.asarray(1.0))
    steps = EPOCHS * (160 // 16)
    result = fit(model, loss_fn, (x[:160], y[:160]), optimizer=optax.adam(optax.cosine_decay_schedule(1e-2, steps)),
                 epochs=EPOCHS, batch_size=16, key=jax.random.PRNGKey(7), validation=(x[160:], y[160:]),
                 early_stopping=EarlyStopping(patience=100, restore_best=False), checkpoint=args.checkpoint,
                 progress=False)
    leaves = jax.tree_util.tree_leaves(partition(result.model)[0])
    np.savez(args.out, *[np.asarray(a) for a in leaves], **{f"history_{k}": v for k, v in result.history.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
