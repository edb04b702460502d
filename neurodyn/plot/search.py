"""The figures of a search file of ``neurodyn search`` (``neurodyn plot search.h5``): the score of
every trial in order with the best so far, and the score against each searched parameter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .figures import pyplot


def read_search(path) -> dict:
    """``{"measure", "direction", "params": {path: (n,)}, "distributions": {path: text}, "values":
    (n,), "best": dict or None, "name"}`` of a search file."""
    import h5py

    def text(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    with h5py.File(path, "r") as f:
        g = f["search"]
        measure = text(g.attrs["measure"])
        out = {"measure": measure, "direction": text(g.attrs["direction"]),
               "name": text(f["neurodyn"].attrs.get("name", Path(path).stem)),
               "params": {p: g["params"][p][()] for p in g["params"]},
               "distributions": {p: text(g["params"][p].attrs.get("distribution", "")) for p in g["params"]},
               "values": g["results"][measure][()], "best": None}
        if "best" in g:
            out["best"] = {"trial": int(g["best"].attrs["trial"]), "value": float(g["best"].attrs["value"]),
                           "params": json.loads(text(g["best"].attrs["params"]))}
    return out


def search_figures(search: dict) -> dict:
    """``{"trials": figure, "params": figure}``: the score per trial (failed trials, whose score is
    not finite, marked on the axis) with the best so far; the score against each parameter (a log
    axis for a log-uniform one), the best trial marked."""
    plt = pyplot()
    values, measure = search["values"], search["measure"]
    n = len(values)
    ok = np.isfinite(values)
    maximise = search["direction"] == "maximize"
    fig, ax = plt.subplots(figsize=(7, 4))
    trial = np.arange(n)
    ax.plot(trial[ok], values[ok], ".", color="0.55", label="trial")
    filled = np.where(ok, values, -np.inf if maximise else np.inf)
    best = np.maximum.accumulate(filled) if maximise else np.minimum.accumulate(filled)
    shown = np.isfinite(best)
    ax.step(trial[shown], best[shown], where="post", color="C0", label="best so far")
    if (~ok).any():
        ax.plot(trial[~ok], np.full((~ok).sum(), np.nanmin(values) if ok.any() else 0.0), "x", color="C3",
                label=f"failed ({(~ok).sum()}: {measure} not finite)")
    ax.set_xlabel("trial (evaluation order)")
    ax.set_ylabel(measure)
    ax.set_title(f"{search['name']}: search of {measure} ({search['direction']}), {n} trials")
    ax.legend(loc="lower left", bbox_to_anchor=(1.0, 0.0), frameon=False)  # beside the axes, never on a trial
    fig.tight_layout()
    figures = {"trials": fig}
    paths = list(search["params"])
    cols = min(3, len(paths))
    rows = -(-len(paths) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, p in zip(axes.ravel(), paths):
        x = search["params"][p]
        ax.scatter(x[ok], values[ok], s=10, c=np.arange(n)[ok], cmap="viridis")
        if search["best"] is not None:
            ax.plot([search["best"]["params"][p]], [search["best"]["value"]], "*", color="C3", markersize=12)
        if "=log:" in search["distributions"].get(p, ""):
            ax.set_xscale("log")
        ax.set_xlabel(p)
        ax.set_ylabel(measure)
    for ax in axes.ravel()[len(paths):]:
        ax.set_visible(False)
    fig.suptitle(f"{measure} against each parameter (colour: trial order; star: the best)")
    fig.tight_layout()
    figures["params"] = fig
    return figures


def plot_search_file(path: Path) -> list[Path]:
    """Draw a search file to ``<file stem>.trials.png`` and ``<file stem>.params.png`` beside it."""
    from .figures import save_beside, start_drawing

    start_drawing(path)
    return save_beside(path, search_figures(read_search(path)))
