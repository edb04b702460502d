"""Figures drawn with matplotlib (imported lazily; the Agg backend works headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """``matplotlib.pyplot``, imported on first use (the file writers select the Agg backend)."""
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out) -> Path:
    """Write ``fig`` to the PNG file ``out`` atomically (:func:`save_figures`) and close it."""
    return save_figures({Path(out): fig})[0]


def save_figures(figures: dict) -> list[Path]:
    """Write each figure of ``{png path: figure}`` and close them all. The PNGs replace earlier
    files of their names all together or not at all: each is rendered under a temporary name
    (:func:`neurodyn.files.atomic_write`) and all are renamed into place once the last is
    complete. A full disk or an unwritable folder is one :class:`~neurodyn.errors.OutputError`
    line; a SIGINT or SIGTERM under :func:`neurodyn.signals.stop_requested` (``neurodyn plot``)
    stops before the next figure is rendered or the renames start
    (:class:`~neurodyn.errors.Interrupted`). Either way no PNG is replaced and no temporary file
    is left."""
    import contextlib

    from ..errors import Interrupted
    from ..files import atomic_write
    from ..signals import active_flag

    def check() -> None:
        flag = active_flag()
        if flag is not None and flag.is_set():
            raise Interrupted(f"{flag.name}: plot stopped; no figure was written or replaced")

    paths = [Path(out) for out in figures]
    try:
        with contextlib.ExitStack() as staged:  # on leaving it normally, every PNG is renamed into place
            for out, fig in zip(paths, figures.values()):
                check()
                tmp = staged.enter_context(atomic_write(out, "figure"))
                fig.savefig(tmp, dpi=110, format="png")
            check()
    finally:
        for fig in figures.values():
            pyplot().close(fig)
    return paths


def check_folder(path) -> None:
    """Refuse (one line) before drawing if no figure can be written beside ``path``."""
    from ..resources import check_writable

    path = Path(path)
    stem = path.name[:-3] if path.name.endswith(".h5") else path.name
    check_writable(path.with_name(f"{stem}.png"), "figures such as",
                   "the figures are written beside the file: copy it to a writable folder and plot it there")


def start_drawing(path) -> None:
    """Before drawing the figures of the file ``path``: the headless Agg backend, and a check that
    they can be written beside it (:func:`check_folder`)."""
    import matplotlib

    matplotlib.use("Agg")
    check_folder(path)


def save_beside(path, figures: dict) -> list[Path]:
    """Write ``{name: figure}`` beside the file ``path`` as ``<file stem>.<name>.png``
    (``<file stem>.png`` for the name ``""``; a character of a name other than a letter, a digit
    or ``._-`` becomes ``_``), all or none (:func:`save_figures`)."""
    path = Path(path)
    stem = path.name[:-3] if path.name.endswith(".h5") else path.name
    safe = lambda name: "".join(c if c.isalnum() or c in "._-" else "_" for c in name)  # noqa: E731
    return save_figures({path.with_name(f"{stem}.{safe(name)}.png" if name else f"{stem}.png"): fig
                         for name, fig in figures.items()})


def axis_label(name: str, unit: str) -> str:
    """``"name (unit)"``; the unit "1" of a dimensionless quantity is written out."""
    return f"{name} ({'dimensionless' if unit in ('1', '') else unit})"


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    return pyplot().subplots(figsize=(5, 4))


def phase_diagram(x, y, z, *, x_label: str = "x", y_label: str = "y", label: str = "", contour: float | None = None,
                  ax=None, cmap: str = "viridis", centre: float | None = None):
    """Colour map of ``z[i, j]`` over ``x[i]``, ``y[j]``, with an optional contour line."""
    from matplotlib.colors import TwoSlopeNorm

    fig, ax = _axes(ax)
    z = np.asarray(z, float)
    norm = None
    if centre is not None and np.nanmin(z) < centre < np.nanmax(z):
        norm = TwoSlopeNorm(vcenter=centre, vmin=np.nanmin(z), vmax=np.nanmax(z))
    mesh = ax.pcolormesh(x, y, z.T, shading="auto", cmap=cmap, norm=norm)
    fig.colorbar(mesh, ax=ax, label=label)
    if contour is not None and np.nanmin(z) < contour < np.nanmax(z):
        ax.contour(x, y, z.T, levels=[contour], colors="k", linewidths=1)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    return fig


def edge_of_chaos(result, ax=None):
    """Phase diagram of an :class:`~neurodyn.diagnostics.EdgeOfChaos` result: the maximal
    exponent (diverging colours centred on 0) with its zero contour."""
    return phase_diagram(result.x, result.y, result.exponent, x_label=result.x_name, y_label=result.y_name,
                         label="max Lyapunov exponent", contour=0.0, ax=ax, cmap="RdBu_r", centre=0.0)


def bifurcation(values, orbits, *, x_label: str = "parameter", y_label: str = "x", ax=None):
    """Orbit diagram: every kept orbit point against its parameter value."""
    fig, ax = _axes(ax)
    values, orbits = np.asarray(values), np.asarray(orbits)
    ax.plot(np.repeat(values, orbits.shape[1]), orbits.ravel(), ",k", alpha=0.5)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    return fig


def traces(times, data, *, labels=None, ax=None, x_label: str = "time", y_label: str = ""):
    """Time series of the columns of ``data``."""
    fig, ax = _axes(ax)
    data = np.asarray(data).reshape(len(times), -1)
    for i in range(data.shape[1]):
        ax.plot(times, data[:, i], lw=0.8, label=None if labels is None else labels[i])
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if labels is not None:
        ax.legend(frameon=False)
    return fig


def raster(times, node_ids, *, ax=None, x_label: str = "time"):
    """Spike raster from SONATA-style (times, node_ids)."""
    fig, ax = _axes(ax)
    ax.plot(times, node_ids, "|k", ms=3)
    ax.set_xlabel(x_label)
    ax.set_ylabel("neuron")
    return fig
