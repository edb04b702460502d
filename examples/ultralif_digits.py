"""Every spiking cell trained on the 8x8 digits at T = 1 and T = 10 time steps (docs/training.md).

The setup of the UltraLIF paper (Miñoza, arXiv:2602.11206, section 6 and its code) scaled to
scikit-learn's bundled digits (1,348 train / 449 test images, no download): pixels scaled to
[0, 1], normalised with the training set's mean and standard deviation and clipped to [0, 1]
(the authors' preprocessing), then rate-coded with spike probability 0.5 x per step; one hidden
layer of 64 cells, a non-spiking output layer averaged over T; cross-entropy, Adam (lr 1e-3)
with cosine annealing, batch 128; the same epochs and seeds for every cell. The seed sets the
initial weights, the batch order and the encoding noise; the train/test split is fixed.

Test accuracy is measured after the last epoch, averaged over 10 draws of the rate code. There
is no published digits number to compare with: the table is this script's own measurement.

Writes ``<out>/ultralif_digits.h5``:
``/results/<cell>/T<T>/accuracy`` (one value per seed) and
``/results/<cell>/T<T>/seed<k>/history/{loss, train_accuracy, val_loss, val_accuracy, ...}``,
and ``<out>/ultralif_digits.png`` (mean test-accuracy and loss curves of every cell). ``neurodyn
plot <out>/ultralif_digits.h5`` draws the same curves from the file.

Run: python examples/ultralif_digits.py [--quick] [--seeds 2] [--epochs 60] [--cells a,b] [--out DIR]
(the defaults finish in a few minutes on 2 cores and make the gallery figure; the table of
docs/training.md is ``--seeds 5 --epochs 200``, about 25 minutes)
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax

from neurodyn.cli import example_options
from neurodyn.datasets import digits
from neurodyn.datasets.encoding import rate_code, standardize_then_clip
from neurodyn.models.snn import SpikingMLP, cross_entropy
from neurodyn.train import fit

CELLS = ("ultralif", "ultraplif", "ultradlif", "ultradplif", "surrogate_lif", "dspike")
QUICK_CELLS = ("ultralif", "surrogate_lif")
STEPS = (1, 10)
HIDDEN, BATCH, LR, GAIN, EVAL_DRAWS = 64, 128, 1e-3, 0.5, 10


def prepared_digits():
    """The digits split with the authors' preprocessing: ``clip((x - mean) / std, 0, 1)`` with the
    training pixels' mean and standard deviation."""
    split = digits()
    mean, std = float(split.x_train.mean()), float(split.x_train.std())
    return (standardize_then_clip(split.x_train, mean, std).astype(np.float32), split.y_train,
            standardize_then_clip(split.x_test, mean, std).astype(np.float32), split.y_test)


@functools.lru_cache
def classifier_loss(steps: int):
    """``loss_fn(model, (x, y), key)``: rate-code ``x`` for ``steps`` steps, run the network,
    cross-entropy; aux: batch accuracy and mean hidden spike rate. One function per ``steps``, so
    every seed of a cell reuses the compiled training epoch."""

    def loss_fn(model, batch, key):
        x, y = batch
        logits, aux = model.apply(rate_code(key, x, steps, GAIN))
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        return cross_entropy(logits, y), {"accuracy": accuracy, "rate": aux["rate"]}

    return loss_fn


@functools.lru_cache
def optimizer(total_steps: int):
    """Adam, learning rate 1e-3 annealed to 0 by a cosine over ``total_steps`` (one object per
    length, so runs of the same length share the compiled epoch)."""
    return optax.adam(optax.cosine_decay_schedule(LR, total_steps))


@functools.partial(jax.jit, static_argnames="steps")
def _accuracy(model, x, y, key, steps: int):
    logits, _ = model.apply(rate_code(key, x, steps, GAIN))
    return jnp.mean(jnp.argmax(logits, axis=-1) == y)


def held_out_accuracy(model, x, y, steps: int, seed: int) -> float:
    """Mean accuracy over ``EVAL_DRAWS`` independent draws of the rate code of the test images."""
    keys = jax.random.split(jax.random.PRNGKey(10_000 + seed), EVAL_DRAWS)
    return float(np.mean([_accuracy(model, x, y, k, steps) for k in keys]))


def train_one(cell: str, steps: int, seed: int, epochs: int, data=None) -> tuple[float, dict]:
    """Train one cell at ``steps`` time steps from ``seed``; returns (test accuracy, history)."""
    x_train, y_train, x_test, y_test = data if data is not None else prepared_digits()
    init_key, fit_key = jax.random.split(jax.random.PRNGKey(seed))
    model = SpikingMLP.create(init_key, sizes=(64, HIDDEN, 10), cell=cell)
    total = epochs * (len(y_train) // BATCH)
    result = fit(model, classifier_loss(steps), (x_train, y_train), optimizer=optimizer(total),
                 epochs=epochs, batch_size=BATCH, key=fit_key, validation=(x_test, y_test), progress=False)
    return held_out_accuracy(result.model, jnp.asarray(x_test), jnp.asarray(y_test), steps, seed), result.history


def figure(curves: dict, path: Path) -> None:
    """Mean (over seeds) test accuracy and training loss per epoch, one line per cell, a panel per T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(STEPS), figsize=(5.5 * len(STEPS), 7), squeeze=False, sharex=True)
    for j, steps in enumerate(STEPS):
        # cells whose curves coincide (the UltraLIF variants with and without a learned tau, the
        # two surrogate gradients) stay apart by line style and marker
        for k, cell in enumerate(CELLS):
            runs = curves.get((cell, steps))
            if not runs:
                continue
            for i, name in enumerate(("val_accuracy", "loss")):
                values = np.array([h[name] for h in runs])
                epochs = np.arange(1, values.shape[1] + 1)
                mean, sd = values.mean(0), values.std(0)
                axes[i, j].plot(epochs, mean, label=cell, linestyle=("-", "--", ":")[k % 3],
                                marker=("", "", "", "o", "s", "^")[k % 6], markevery=max(1, len(epochs) // 8),
                                markersize=4)
                axes[i, j].fill_between(epochs, mean - sd, mean + sd, alpha=0.2)
        axes[0, j].set_title(f"digits, T = {steps}, 64 hidden (mean +- sd over seeds)")
        axes[0, j].set_ylabel("test accuracy (one rate-code draw)")
        axes[1, j].set_ylabel("training cross-entropy")
        axes[1, j].set_xlabel("epoch")
        axes[0, j].legend(fontsize=8, loc="lower right")
        axes[1, j].xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    """Train, print the accuracy table, write the HDF5 file and the figure; returns
    ``{(cell, T): test accuracy per seed}``."""
    def options(p):
        p.add_argument("--seeds", type=int, default=2)
        p.add_argument("--epochs", type=int, default=60)
        p.add_argument("--cells", default=None, help=f"comma-separated cell names (default: {','.join(CELLS)})")

    args = example_options(__doc__, "smoke run: 1 seed, 2 epochs, UltraLIF and surrogate LIF", argv,
                           options=options)
    seeds, epochs = (1, 2) if args.quick else (args.seeds, args.epochs)
    cells = [c.strip() for c in (args.cells or ",".join(QUICK_CELLS if args.quick else CELLS)).split(",") if c.strip()]
    data = prepared_digits()
    table, curves = {}, {}
    h5_path = args.out / "ultralif_digits.h5"
    with h5py.File(h5_path, "w") as f:
        f.attrs["setup"] = json.dumps({"hidden": HIDDEN, "batch": BATCH, "lr": LR, "schedule": "cosine", "gain": GAIN,
                                       "epochs": epochs, "seeds": seeds, "eval_draws": EVAL_DRAWS,
                                       "preprocessing": "clip((x - mean) / std, 0, 1), training-set mean/std"})
        for steps in STEPS:
            for cell in cells:
                t0 = time.perf_counter()
                accs, runs = [], []
                for seed in range(seeds):
                    acc, history = train_one(cell, steps, seed, epochs, data)
                    accs.append(acc)
                    runs.append(history)
                    g = f.require_group(f"results/{cell}/T{steps}/seed{seed}/history")
                    for name, values in history.items():
                        g.create_dataset(name, data=values)
                f[f"results/{cell}/T{steps}"].create_dataset("accuracy", data=np.asarray(accs))
                table[(cell, steps)], curves[(cell, steps)] = np.asarray(accs), runs
                print(f"T = {steps:2d}  {cell:14s} test accuracy {100 * np.mean(accs):6.2f} +- "
                      f"{100 * np.std(accs, ddof=1) if seeds > 1 else 0.0:4.2f} %  ({seeds} seeds, {epochs} epochs, "
                      f"{time.perf_counter() - t0:.0f} s)", flush=True)
    figure(curves, args.out / "ultralif_digits.png")
    print(f"wrote {h5_path} and {args.out / 'ultralif_digits.png'}")
    return table


if __name__ == "__main__":
    main()
