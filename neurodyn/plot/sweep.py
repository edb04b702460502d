"""``neurodyn plot`` for sweep files: one figure per measure.

* one grid axis: the measure against the parameter (an orbit measure: a bifurcation diagram);
* two or more axes of a Cartesian grid: a phase diagram over the first two, and one panel per
  value of the others (small multiples sharing one colour scale);
* random or Latin-hypercube samples: a scatter over the first two parameters, faceted by
  ranges of a third.

Every measure keeps one colour convention whatever the grid: a Lyapunov exponent on a diverging
map centred on zero (with its zero contour on grids), a cross-correlation on the same map fixed
to [-1, 1], the order parameter on [0, 1]. Points without a finite value are drawn in a colour
per reason (not computed yet, run diverged, undefined), named with their count in the legend.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..io import open_for_reading
# the measures whose non-finite value means the run diverged: the rule of neurodyn sweep's summary
from ..sweep.runner import point_reasons

MAX_PANELS = 48
CATEGORICAL = 8  # an axis with at most this many values gets one tick per value, labelled with it

REASONS = {"not computed yet": "#d9d9d9", "run diverged": "#000000", "undefined": "#8c8c8c",
           "diverged or undefined": "#8c8c8c"}  # the colour of points without a value, by reason


def read_sweep(path) -> dict:
    """The parts of a sweep file the figures need: ``paths``, ``grid`` (its JSON definition),
    ``params``, ``done``, ``results``, ``name``, ``time_unit``, ``steps``."""
    path = Path(path)
    with open_for_reading(path) as f:
        if "sweep" not in f:
            raise OutputError(f"{path} is not a sweep file (no /sweep group)")
        g = f["sweep"]
        paths = json.loads(g.attrs["paths"])
        spec = g.attrs.get("spec", "")
        spec = spec.decode() if isinstance(spec, bytes) else str(spec)
        facts = _spec_facts(spec, path)
        unit = f["neurodyn"].attrs.get("time_unit") if "neurodyn" in f else None
        if unit is not None:  # stored by the sweep from its model: the same for a spec or a Python model
            facts["time_unit"] = unit.decode() if isinstance(unit, bytes) else str(unit)
        return {"paths": paths, "grid": json.loads(g.attrs["grid"]),
                "params": {p: g["params"][p][()] for p in paths}, "done": g["done"][()],
                "results": {k: v[()] for k, v in g["results"].items()}, "steps": int(g.attrs.get("steps", 0)),
                **facts}


def _spec_facts(spec: str, path: Path) -> dict:
    """The sweep's name and the time unit of its models, from the stored spec text."""
    from ..models import MODELS

    try:
        data = tomllib.loads(spec)
    except tomllib.TOMLDecodeError:  # a sweep over a Python model stores "model <class> <digest>"
        return {"name": spec.split(" ")[1] if spec.startswith("model ") else path.stem, "time_unit": "time unit"}
    units = {getattr(MODELS[p["model"]].cls, "time_unit", "time unit")
             for p in data.get("populations", {}).values() if p.get("model") in MODELS}
    return {"name": data.get("name", path.stem), "time_unit": units.pop() if len(units) == 1 else "time unit"}


def _kind(name: str) -> str:
    return name.partition("(")[0]


def zero_tolerance(values: np.ndarray) -> float:
    """The exponent below which a maximal Lyapunov exponent is drawn as not chaotic: 2 % of the
    largest |value| (at least 1e-3). Quasi-periodic and marginal regions have exponents that
    scatter around zero by the estimate's finite-time error; a contour at exactly zero would
    trace that noise as spurious closed curves on the plateau."""
    finite = np.abs(values[np.isfinite(values)])
    return max(1e-3, 0.02 * float(finite.max())) if finite.size else 1e-3


def colour_convention(name: str, values: np.ndarray, time_unit: str = "time unit") -> dict:
    """The colour map, normalisation, contour level and label of measure ``name``: the same for
    every grid kind, so two figures of one measure read alike."""
    from matplotlib.colors import CenteredNorm, Normalize

    kind, hub = _kind(name), name.endswith(".hub")
    finite = values[np.isfinite(values)]
    if kind == "max_lyapunov":
        half = float(np.max(np.abs(finite))) if finite.size and np.max(np.abs(finite)) > 0 else 1.0
        tol = zero_tolerance(values)
        return {"cmap": "RdBu_r", "norm": CenteredNorm(0.0, half), "contour": tol,
                "contour_label": f"boundary of the points with λ_max > {tol:.2g}",
                "label": f"max Lyapunov exponent λ_max (1 / {time_unit})"}
    if kind == "cross_correlation":
        return {"cmap": "RdBu_r", "norm": Normalize(-1.0, 1.0), "contour": None,
                "label": f"cross-correlation Γ, {'hub' if hub else 'all'} pairs (dimensionless)"}
    if kind == "order_parameter":
        return {"cmap": "viridis", "norm": Normalize(0.0, 1.0), "contour": None,
                "label": "order parameter <r>_t (dimensionless)"}
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if kind == "ridge" and lo > 0 and hi > lo:  # the ridge chosen per point spans decades
        from matplotlib.colors import LogNorm

        return {"cmap": "viridis", "norm": LogNorm(lo, hi), "contour": None,
                "label": "ridge chosen by cross-validation (log scale)"}
    return {"cmap": "viridis", "norm": Normalize(lo, hi if hi > lo else lo + 1.0), "contour": None, "label": name}


def sweep_figures(sweep: dict) -> dict:
    """``{result name: matplotlib Figure}`` for a sweep read by :func:`read_sweep`."""
    paths, grid, done = sweep["paths"], sweep["grid"], np.asarray(sweep["done"], bool)
    reasons = point_reasons(sweep["results"], done)
    figures = {}
    for name, values in sweep["results"].items():
        values = np.where(done.reshape((-1,) + (1,) * (values.ndim - 1)), values, np.nan)
        title = f"{name}: {sweep['name']}, {len(done):,} points"
        if sweep.get("steps"):
            title += f", {sweep['steps']:,} steps"
        if values.ndim == 2 and len(paths) == 1:
            figures[name] = _orbit_figure(sweep, name, values, title)
        elif values.ndim != 1:
            continue
        elif len(paths) == 1:
            figures[name] = _curve_figure(sweep, name, values, reasons[name], title)
        elif grid.get("kind") == "cartesian":
            figures[name] = _grid_figure(sweep, name, values, reasons[name], title)
        else:
            figures[name] = _sample_figure(sweep, name, values, reasons[name], title)
    return figures


def plot_sweep_file(path: Path) -> list[Path]:
    """Draw each measure of a sweep file to ``<file stem>.<measure>.png`` beside it."""
    from .figures import save_beside, start_drawing

    start_drawing(path)
    return save_beside(path, sweep_figures(read_sweep(path)))


def log_spaced(centres: np.ndarray) -> bool:
    """Whether sorted ``centres`` are a geometric progression (at least three positive values with
    a constant ratio other than 1): an axis swept as ``log:low:high``, drawn on a log scale."""
    c = np.asarray(centres, float)
    if len(c) < 3 or np.any(c <= 0):
        return False
    steps = np.diff(np.log(c))
    return bool(np.allclose(steps, steps[0], rtol=1e-6) and not np.allclose(np.diff(c), c[1] - c[0], rtol=1e-6))


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """The edges of the cells around sorted ``centres``: midpoints, and half a spacing beyond the ends
    (as ``pcolormesh(shading="auto")`` draws them); for a log-spaced axis (:func:`log_spaced`) the
    same in the logarithm, so every cell is as wide as the others on the log scale."""
    c = np.asarray(centres, float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    if log_spaced(c):
        return np.exp(cell_edges(np.log(c)))
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def boundary_segments(x: np.ndarray, y: np.ndarray, inside: np.ndarray) -> list:
    """Line segments along the cell edges that separate ``inside[i, j]`` from its neighbours: the
    boundary of a region of a grid drawn as cells, exact where an interpolated contour would cut
    through cells whose values are only known at their centres."""
    xe, ye = cell_edges(x), cell_edges(y)
    inside = np.asarray(inside, bool)
    segments = []
    for i, j in zip(*np.nonzero(inside[1:, :] != inside[:-1, :])):
        segments.append([(xe[i + 1], ye[j]), (xe[i + 1], ye[j + 1])])
    for i, j in zip(*np.nonzero(inside[:, 1:] != inside[:, :-1])):
        segments.append([(xe[i], ye[j + 1]), (xe[i + 1], ye[j + 1])])
    return segments


def _legend(fig, why: np.ndarray, marker: bool = False) -> None:
    """One legend entry per reason for missing values, with its count."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for reason in sorted(set(why) - {""}):
        count = int((why == reason).sum())
        label = f"{reason} ({count:,} point{'s' if count > 1 else ''})"
        handles.append(Line2D([], [], ls="", marker="x", color=REASONS[reason], label=label) if marker
                       else Patch(facecolor=REASONS[reason], edgecolor="#555555", label=label))
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
                   title="no value:")


def _curve_figure(sweep, name, values, why, title):
    from .figures import pyplot

    plt = pyplot()
    p = sweep["paths"][0]
    x = np.asarray(sweep["params"][p], float)
    order = np.argsort(x, kind="stable")
    conv = colour_convention(name, values, sweep["time_unit"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    ax.plot(x[order], values[order], "o-", ms=3, color="C0")
    if conv["contour"] is not None:
        ax.axhline(0.0, color="k", lw=0.8, ls="--", label="λ_max = 0")
        ax.legend(frameon=False, fontsize=8, loc="best")
    if _kind(name) == "cross_correlation":
        ax.set_ylim(-1.05, 1.05)
    elif _kind(name) == "order_parameter":
        ax.set_ylim(0.0, 1.05)
    for reason in sorted(set(why) - {""}):
        ax.plot(x[why == reason], np.zeros((why == reason).sum()), "x", color=REASONS[reason], ms=6,
                transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xlabel(p)
    ax.set_ylabel(conv["label"])
    ax.set_title(title, fontsize=9)
    _legend(fig, why, marker=True)
    return fig


def _orbit_figure(sweep, name, values, title):
    from .figures import bifurcation

    p = sweep["paths"][0]
    fig = bifurcation(sweep["params"][p], values, x_label=p, y_label=f"{name}: last values")
    fig.axes[0].set_title(title, fontsize=9)
    return fig


def _panels(n: int):
    from .figures import pyplot

    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(2.6 + 3.6 * cols, 1.8 + 3.0 * rows), squeeze=False,
                                  sharex=True, sharey=True, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def _label_panels(panels, x_label: str, y_label: str) -> None:
    """Axis labels on the outer panels: x where no panel is below, y in the first column."""
    cols = panels[0].get_subplotspec().get_gridspec().ncols
    for i, ax in enumerate(panels):
        if i + cols >= len(panels):
            ax.set_xlabel(x_label)
            ax.xaxis.set_tick_params(labelbottom=True)
        if i % cols == 0:
            ax.set_ylabel(y_label)


def _grid_figure(sweep, name, values, why, title):
    """Phase diagram over the first two axes; one panel per combination of the others."""
    from matplotlib.colors import ListedColormap
    from matplotlib.ticker import NullFormatter

    paths, axes = sweep["paths"], sweep["grid"]["axes"]
    shape = tuple(len(axes[p]) for p in paths)
    ordered = [np.argsort(np.asarray(axes[p], float), kind="stable") for p in paths]
    coords = [np.asarray(axes[p], float)[o] for p, o in zip(paths, ordered)]
    z = values.reshape(shape)[np.ix_(*ordered)]
    w = why.reshape(shape)[np.ix_(*ordered)]
    conv = colour_convention(name, values, sweep["time_unit"])
    edges = [cell_edges(c) for c in coords[:2]]
    extra = list(itertools.product(*[range(s) for s in shape[2:]]))
    shown = extra[:MAX_PANELS]
    fig, panels = _panels(len(shown))
    mesh, contoured = None, False
    for ax, idx in zip(panels, shown):
        zz, ww = z[(slice(None), slice(None)) + idx], w[(slice(None), slice(None)) + idx]
        mesh = ax.pcolormesh(edges[0], edges[1], zz.T, shading="flat", cmap=conv["cmap"], norm=conv["norm"])
        for reason in sorted(set(ww.ravel()) - {""}):
            mask = np.where(ww == reason, 1.0, np.nan)
            ax.pcolormesh(edges[0], edges[1], mask.T, shading="flat", cmap=ListedColormap([REASONS[reason]]))
        level = conv["contour"]
        if level is not None and len(coords[0]) > 1 and len(coords[1]) > 1 and \
                np.nanmin(zz) < level < np.nanmax(zz):
            from matplotlib.collections import LineCollection

            segments = boundary_segments(coords[0], coords[1], zz > level)
            ax.add_collection(LineCollection(segments, colors="k", linewidths=1.4))
            contoured = True
        for axis, values_ in (("x", coords[0]), ("y", coords[1])):
            if log_spaced(values_):
                getattr(ax, f"set_{axis}scale")("log")
                getattr(ax, f"{axis}axis").set_minor_formatter(NullFormatter())
            if len(values_) <= CATEGORICAL:
                getattr(ax, f"set_{axis}ticks")(values_, [f"{v:.4g}" for v in values_])
        if idx:
            ax.set_title(", ".join(f"{paths[2 + k]} = {coords[2 + k][i]:.4g}" for k, i in enumerate(idx)), fontsize=9)
    _label_panels(panels, paths[0], paths[1])
    bar = fig.colorbar(mesh, ax=list(panels), label=conv["label"], shrink=0.9)
    if contoured:  # the boundary's level, marked on the colour scale and named in its label
        bar.ax.axhline(conv["contour"], color="k", lw=1.4)
        bar.set_label(f"{conv['label']}\nblack line: {conv['contour_label']}")
    more = f" (first {MAX_PANELS} of {len(extra)} panels)" if len(extra) > MAX_PANELS else ""
    fig.suptitle(title + more, fontsize=10)
    _legend(fig, why)
    return fig


def _sample_figure(sweep, name, values, why, title):
    """Random or Latin-hypercube samples: a scatter over the first two parameters, one panel per
    quartile range of a third."""
    paths, params = sweep["paths"], sweep["params"]
    conv = colour_convention(name, values, sweep["time_unit"])
    x, y = (np.asarray(params[p], float) for p in paths[:2])
    groups = [(np.ones(len(values), bool), "")]
    if len(paths) > 2:
        third = np.asarray(params[paths[2]], float)
        edges = np.unique(np.quantile(third, np.linspace(0, 1, min(4, len(third)) + 1)))
        groups = [((third >= lo) & ((third < hi) | (k == len(edges) - 2) & (third <= hi)),
                   f"{paths[2]} in [{lo:.4g}, {hi:.4g}{']' if k == len(edges) - 2 else ')'}")
                  for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]
    fig, panels = _panels(len(groups))
    sc = None
    for ax, (members, label) in zip(panels, groups):
        ok = members & (why == "")
        sc = ax.scatter(x[ok], y[ok], c=values[ok], s=14, cmap=conv["cmap"], norm=conv["norm"])
        for reason in sorted(set(why[members]) - {""}):
            sel = members & (why == reason)
            ax.scatter(x[sel], y[sel], marker="x", s=18, color=REASONS[reason])
        if label:
            ax.set_title(label, fontsize=9)
    _label_panels(panels, paths[0], paths[1])
    fig.colorbar(sc, ax=list(panels), label=conv["label"], shrink=0.9)
    fig.suptitle(f"{title} ({sweep['grid'].get('kind', 'sampled')} sample)", fontsize=10)
    _legend(fig, why, marker=True)
    return fig
