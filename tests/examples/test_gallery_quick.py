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


def test_spiking_networks_sit_at_their_reference_rates(tmp_path):
    out = _load("spiking_ei_networks").main(["--quick", "--out", str(tmp_path)])
    assert out["figure"].is_file() and out["figure"].stat().st_size > 50_000
    coba, cuba = out["stats"]["coba_ei"], out["stats"]["cuba_ei"]
    # reference implementations (ANNarchy's notebooks, docs/models/spiking.md): COBA about 20.5 Hz,
    # CUBA about 5.6 Hz; 150 ms of a chaotic network: +-20 %
    for pop in ("exc", "inh"):
        assert 16.4 < coba[pop]["rates"].mean() < 24.6
        assert 4.5 < cuba[pop]["rates"].mean() < 6.7
    assert len(coba["exc"]["rates"]) == 3200 and len(coba["inh"]["rates"]) == 800


def test_local_adaptation_keeps_memory_where_global_tuning_loses_it(tmp_path):
    out = _load("ei_adaptive_reservoir").main(["--quick", "--out", str(tmp_path)])
    assert out["figure"].is_file()
    fixed, adaptive, designed = out["mc"].mean(-1)
    # globally tuned: good only near balance, worse at both ends of the range
    assert fixed[0] < 0.7 * fixed.max() and fixed[-1] < 0.7 * fixed.max()
    # locally adaptive and designed: flat across the range, and above the global tuning everywhere
    assert np.ptp(adaptive) < 0.1 * adaptive.mean() and np.all(adaptive > fixed)
    assert np.ptp(designed) < 0.1 * designed.mean()
    # the adaptation converges: the rate mismatch falls by orders of magnitude within the epochs
    assert np.all(out["mismatch"][:, :, -1] < 1e-3 * out["mismatch"][:, :, 0])
