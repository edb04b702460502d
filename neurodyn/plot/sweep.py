"""``neurodyn plot`` for sweep files: 1-D curves or 2-D phase diagrams of every scalar measure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..io import open_for_reading


def plot_sweep_file(path: Path) -> list[Path]:
    """Draw each scalar measure of a sweep file to ``<file stem>.<measure>.png`` beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .figures import phase_diagram

    with open_for_reading(path) as f:
        if "sweep" not in f:
            raise OutputError(f"{path} is not a sweep file (no /sweep group)")
        g = f["sweep"]
        paths = json.loads(g.attrs["paths"])
        grid = json.loads(g.attrs["grid"])
        params = {p: g["params"][p][()] for p in paths}
        done = g["done"][()]
        results = {k: v[()] for k, v in g["results"].items() if v.ndim == 1}
    written = []
    stem = path.name[:-3] if path.name.endswith(".h5") else path.name
    for name, values in results.items():
        values = np.where(done, values, np.nan)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
        out = path.with_name(f"{stem}.{safe}.png")
        if grid["kind"] == "cartesian" and len(paths) == 2:
            x, y = (np.asarray(grid["axes"][p]) for p in paths)
            fig = phase_diagram(x, y, values.reshape(len(x), len(y)), x_label=paths[0], y_label=paths[1], label=name,
                                contour=0.0 if name == "max_lyapunov" else None,
                                cmap="RdBu_r" if name == "max_lyapunov" else "viridis",
                                centre=0.0 if name == "max_lyapunov" else None)
        elif len(paths) == 1:
            fig, ax = plt.subplots(figsize=(5, 3.5))
            order = np.argsort(params[paths[0]])
            ax.plot(params[paths[0]][order], values[order], "o-", ms=3)
            ax.set_xlabel(paths[0])
            ax.set_ylabel(name)
        else:
            fig, ax = plt.subplots(figsize=(5, 4))
            sc = ax.scatter(params[paths[0]], params[paths[1]], c=values, s=12)
            fig.colorbar(sc, ax=ax, label=name)
            ax.set_xlabel(paths[0])
            ax.set_ylabel(paths[1])
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        plt.close(fig)
        written.append(out)
    return written
