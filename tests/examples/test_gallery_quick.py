"""The gallery examples' ``--quick`` modes: each runs, writes its figures, and finds the physics it
is about (with the tolerances a short, small run allows)."""

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lattice_phase_diagram_separates_random_deposition_from_synchronised_growth(tmp_path):
    out = _load("kuramoto_lattice_phase_diagram").main(["--quick", "--out", str(tmp_path)])
    assert out["figure"].is_file() and out["figure"].stat().st_size > 20_000
    beta = out["beta"]  # rows: noise D ascending; columns: non-oddity a ascending
    # strong noise: no synchronisation, independent random walks, beta = 1/2 (W^2 = 2 D t exactly at K = 0)
    np.testing.assert_allclose(beta[-1], 0.5, atol=0.04)
    # weak noise, odd coupling: synchronised, EW-like growth well below 1/2 (1/4 asymptotically)
    assert 0.12 < beta[0, 0] < 0.3
    # the width grows with the noise at every time (W^2 is proportional to D in the linear regime)
    assert np.all(np.diff(out["width"][:, 0, -1]) > 0)


def test_residual_reservoirs_memory_edge_and_forecast(tmp_path):
    example = _load("residual_reservoirs")
    out = example.main(["--quick", "--out", str(tmp_path)])
    for path in out["figures"].values():
        assert path.is_file() and path.stat().st_size > 20_000
    mc = out["memory"]["mc"].mean(-1)  # (model, spectral radius)
    n = 30
    # the capacity is bounded by N for i.i.d. input (plus the chance r^2 of 2N delays on 400 test steps)
    assert np.all(mc > 0) and np.all(mc <= n + 2 * n / 400 * 3)
    names = list(example.MODELS)
    # an orthogonal residual branch keeps more memory than the plain ESN at every radius
    assert np.all(mc[names.index("ResESN, random O")] > mc[names.index("ESN")])
    edge = out["edge"]
    assert np.isfinite(edge["nrmse"]).all() and np.nanmin(edge["nrmse"]) < 0.6
    forecast = out["forecast"]
    assert 0 < forecast["valid_time"] <= len(forecast["steps"])
