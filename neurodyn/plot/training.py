"""``neurodyn plot`` for training files: learning curves (docs/training.md).

A training checkpoint (:mod:`neurodyn.train.checkpoint`) or any HDF5 file holding groups named
``history`` (one dataset per quantity, one value per epoch) gives one panel per quantity: the
training value solid, the validation value (``val_<name>``) dashed in the same colour. Histories
whose labels differ only by a final ``seed<k>`` (e.g. ``results/ultralif/T1/seed0..4``) are drawn
as their mean over seeds with a band of one standard deviation.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .figures import pyplot

MAX_LEGEND = 20  # more curves than this: the legend is left out (the title gives the count)


def has_history(f) -> bool:
    """Whether an open HDF5 file holds a training history (a checkpoint or a ``history`` group)."""
    import h5py

    if "training" in f:
        return True
    found = []

    def visit(name, node):
        if isinstance(node, h5py.Group) and name.rsplit("/", 1)[-1] == "history":
            found.append(name)
            return True
        return None

    f.visititems(visit)
    return bool(found)


def group_by_seed(histories: dict[str, dict[str, np.ndarray]]) -> dict[str, list[dict[str, np.ndarray]]]:
    """``{label without a final "/seed<k>": [histories of those seeds]}``, in the file's order."""
    groups: dict[str, list] = {}
    for label, curves in histories.items():
        groups.setdefault(re.sub(r"/seed\d+$", "", label), []).append(curves)
    return groups


def _quantity(name: str) -> str:
    return name.removeprefix("val_").removeprefix("train_")


def learning_curves(histories: dict[str, dict[str, np.ndarray]], title: str = "learning curves"):
    """A figure with one panel per quantity (``loss``, ``accuracy``, ...) against the epoch."""
    groups = group_by_seed(histories)
    names = [n for h in histories.values() for n in h]
    quantities = list(dict.fromkeys(_quantity(n) for n in names))
    plt = pyplot()
    cols = min(len(quantities), 3)
    rows = -(-len(quantities) // cols)
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols + 2.2, 3.6 * rows), squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(groups) > len(colours):
        colours = [plt.get_cmap("tab20")(i % 20) for i in range(len(groups))]
    for k, quantity in enumerate(quantities):
        ax, labelled = axes.flat[k], set()
        for g, (label, runs) in enumerate(groups.items()):
            colour = colours[g % len(colours)]
            for prefix, style in (("", "-"), ("train_", "-"), ("val_", "--")):
                name = prefix + quantity
                series = [np.asarray(r[name], float) for r in runs if name in r]
                if not series:
                    continue
                length = min(len(s) for s in series)
                values = np.stack([s[:length] for s in series])
                epochs = np.arange(1, length + 1)
                mean = values.mean(0)
                ax.plot(epochs, mean, style, color=colour, label=None if label in labelled else label)
                labelled.add(label)
                if len(series) > 1:
                    sd = values.std(0)
                    ax.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.15, linewidth=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(quantity)
        ax.grid(alpha=0.3)
    if len(groups) <= MAX_LEGEND:  # right of the last panel, never on a curve
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(quantities):]:
        ax.set_visible(False)
    seeds = max(len(r) for r in groups.values())
    extra = f" (mean +- sd over {seeds} seeds)" if seeds > 1 else ""
    fig.suptitle(f"{title}: {len(groups)} curve set(s){extra}; solid training, dashed validation")
    return fig


def plot_training_file(path) -> list[Path]:
    """Draw the learning curves of a checkpoint or history file to ``<file stem>.curves.png`` beside it."""
    from ..train.checkpoint import read_histories
    from .figures import save_beside, start_drawing

    start_drawing(path)
    return save_beside(path, {"curves": learning_curves(read_histories(path), title=Path(path).name)})
