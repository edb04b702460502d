"""``neurodyn plot`` on sweep files: a third axis is faceted, missing values are named with their
reason, and each measure keeps one colour convention whatever the grid."""

from pathlib import Path

import numpy as np
import pytest

from neurodyn.cli import main
from neurodyn.plot import sweep_figures
from neurodyn.plot.sweep import read_sweep

SPEC = Path(__file__).resolve().parents[2] / "models" / "chialvo_ring_star.toml"


def _fake(kind: str, n_paths: int = 2):
    """A sweep as read_sweep returns it: 5 x 4 (x 3) points, or 60 sampled points."""
    rng = np.random.default_rng(0)
    axes = {"a": np.linspace(0, 1, 5), "b": np.linspace(0, 2, 4), "c": np.array([0.1, 0.2, 0.3])}
    paths = list(axes)[:n_paths]
    if kind == "cartesian":
        points = np.array(np.meshgrid(*[axes[p] for p in paths], indexing="ij")).reshape(n_paths, -1).T
        grid = {"kind": "cartesian", "axes": {p: axes[p].tolist() for p in paths}}
    else:
        points = rng.random((60, n_paths))
        grid = {"kind": kind, "n": 60}
    n = len(points)
    lam = np.sin(3 * points[:, 0]) - 0.2  # positive and negative exponents, asymmetric range
    return {"paths": paths, "grid": grid, "params": {p: points[:, j] for j, p in enumerate(paths)},
            "done": np.ones(n, bool), "results": {"max_lyapunov": lam, "mean(neurons.x)": np.ones(n),
                                                   "cross_correlation(neurons.x)": np.cos(points[:, -1]) * 0.5},
            "name": "fake", "time_unit": "iteration", "steps": 100}


def _colour_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_third_grid_axis_is_faceted_with_one_shared_colour_scale(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(SPEC), "--steps", "400", "--set", "record.transient=100", "--quiet",
                 "--grid", "couplings.star.strength=0:0.1:2", "--grid", "populations.neurons.k=0.02:0.04:2",
                 "--grid", "couplings.ring.strength=0,0.05,0.1", "--measure", "max_lyapunov"]) == 0
    path = tmp_path / "hdf5_outputs" / "chialvo_ring_star.sweep.h5"
    assert main(["plot", str(path)]) == 0
    assert (path.parent / "chialvo_ring_star.sweep.max_lyapunov.png").is_file()
    fig = sweep_figures(read_sweep(path))["max_lyapunov"]
    panels = [ax for ax in fig.axes if ax not in _colour_axes(fig) and ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [f"couplings.ring.strength = {v:g}" for v in (0, 0.05, 0.1)]
    assert panels[0].get_ylabel() == "populations.neurons.k"
    assert all(ax.get_xlabel() == "couplings.star.strength" for ax in panels)
    (bar,) = _colour_axes(fig)
    assert bar.get_ylabel().startswith("max Lyapunov exponent λ_max (1 / iteration)")
    meshes = [ax.collections[0] for ax in panels]
    assert len({id(m.norm) for m in meshes}) == 1  # one scale for every panel
    assert "chialvo_ring_star, 12 points, 400 steps" in fig._suptitle.get_text()


@pytest.mark.parametrize("kind", ["cartesian", "lhs", "random"])
def test_each_measure_keeps_its_colour_convention_on_every_grid(kind):
    figs = sweep_figures(_fake(kind, 3))
    lam = figs["max_lyapunov"]
    norm = [ax for ax in lam.axes if ax not in _colour_axes(lam)][0].collections[0].norm
    # zero in the middle of a symmetric diverging map, whatever the sampling (the LHS plot used to drop it)
    assert norm.vmin == -norm.vmax and norm(0.0) == 0.5
    assert [ax for ax in lam.axes if ax not in _colour_axes(lam)][0].collections[0].get_cmap().name == "RdBu_r"
    xc = figs["cross_correlation(neurons.x)"]
    norm = [ax for ax in xc.axes if ax not in _colour_axes(xc)][0].collections[0].norm
    assert (norm.vmin, norm.vmax) == (-1.0, 1.0)
    panels = [ax for ax in lam.axes if ax not in _colour_axes(lam) and ax.get_visible()]
    if kind == "cartesian":
        assert len(panels) == 3  # one per value of the third axis
    else:
        # samples: one panel per quartile range of the third parameter
        assert len(panels) == 4 and panels[0].get_title().startswith("c in [")
        shown = sum(len(ax.collections[0].get_offsets()) for ax in panels)
        assert shown == 60  # every sampled point in exactly one panel


def test_missing_values_are_named_in_the_legend_with_their_reason():
    sweep = _fake("cartesian")
    sweep["done"][-4:] = False  # an interrupted sweep
    sweep["results"]["max_lyapunov"][3] = np.nan
    sweep["results"]["mean(neurons.x)"][3] = np.inf  # the run diverged at point 3
    sweep["results"]["cross_correlation(neurons.x)"][5] = np.nan  # no value although the run is finite
    figs = sweep_figures(sweep)
    legends = {name: [t.get_text() for t in fig.legends[0].texts] for name, fig in figs.items()}
    assert legends["max_lyapunov"] == ["not computed yet (4 points)", "run diverged (1 point)"]
    assert legends["cross_correlation(neurons.x)"] == ["not computed yet (4 points)", "undefined (1 point)"]
    assert figs["max_lyapunov"].legends[0].get_title().get_text() == "no value:"
    one_axis = _fake("cartesian", 1)
    one_axis["results"]["max_lyapunov"][2] = np.nan
    one_axis["results"]["mean(neurons.x)"][2] = np.nan
    fig = sweep_figures(one_axis)["max_lyapunov"]
    assert [t.get_text() for t in fig.legends[0].texts] == ["run diverged (1 point)"]
    assert fig.axes[0].get_ylabel() == "max Lyapunov exponent λ_max (1 / iteration)" and fig.axes[0].get_xlabel() == "a"


def test_chaotic_region_is_outlined_along_cell_edges_and_short_axes_are_categorical():
    from neurodyn.plot.sweep import boundary_segments, zero_tolerance

    inside = np.array([[False, True], [True, True]])
    segments = boundary_segments(np.array([0.0, 1.0]), np.array([0.0, 2.0]), inside)
    # cell edges at -0.5, 0.5, 1.5 in x and -1, 1, 3 in y: the cell (0, 0) is cut off by two edges
    assert sorted(map(tuple, map(tuple, segments))) == [((-0.5, 1.0), (0.5, 1.0)), ((0.5, -1.0), (0.5, 1.0))]
    sweep = _fake("cartesian")
    lam = sweep["results"]["max_lyapunov"]
    lam[np.abs(lam) < 0.05] = 1e-4  # a plateau of noise around zero: no boundary may run through it
    fig = sweep_figures(sweep)["max_lyapunov"]
    ax = [a for a in fig.axes if a not in _colour_axes(fig)][0]
    tol = zero_tolerance(lam)
    assert tol > 1e-4
    drawn = ax.collections[-1].get_segments()
    expected = boundary_segments(np.linspace(0, 1, 5), np.linspace(0, 2, 4), lam.reshape(5, 4) > tol)
    assert len(drawn) == len(expected) > 0
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.6667", "1.333", "2"]  # 4 values: one tick each
    (bar,) = _colour_axes(fig)
    assert f"black line: boundary of the points with λ_max > {tol:.2g}" in bar.get_ylabel()


def test_log_spaced_axes_get_cells_of_equal_width_on_a_log_scale():
    """An axis swept log:low:high is a geometric progression: its cells' edges are the geometric
    midpoints (equal widths on the log scale the figure uses); a linear axis keeps arithmetic ones."""
    from neurodyn.plot.sweep import cell_edges, log_spaced

    geo = np.geomspace(0.05, 2.0, 4)
    assert log_spaced(geo) and not log_spaced(np.linspace(0.05, 2.0, 4)) and not log_spaced(geo[:2])
    edges = cell_edges(geo)
    np.testing.assert_allclose(np.diff(np.log(edges)), np.log(geo[1] / geo[0]), rtol=1e-12)
    np.testing.assert_allclose(edges[1:-1], np.sqrt(geo[1:] * geo[:-1]), rtol=1e-12)
    np.testing.assert_allclose(cell_edges(np.linspace(0.0, 1.0, 3)), [-0.25, 0.25, 0.75, 1.25])
