"""Validation of harvest + readout on the standard tasks (docs/models/reservoirs.md)."""

import numpy as np
import pytest

from neurodyn.datasets import mackey_glass, narma
from neurodyn.models.reservoir import ESN
from neurodyn.readout import Ridge, harvest, nrmse


def _matrices(n, n_inputs, seed):
    rng = np.random.default_rng(seed)
    w = rng.uniform(-0.5, 0.5, (n, n)) * (rng.random((n, n)) < 0.1)
    w *= 0.9 / np.max(np.abs(np.linalg.eigvals(w)))
    return w, rng.uniform(-1, 1, (n, n_inputs)), rng.uniform(-0.5, 0.5, n)


def test_esn_states_equal_reservoirpy_without_shift():
    # ReservoirPy 0.4.2's Reservoir: x[t+1] = (1 - lr) x[t] + lr tanh(W x[t] + Win u[t+1] + bias), from 0;
    # its bias is a separate vector (no bias column in Win); run() returns the state after each input
    nodes = pytest.importorskip("reservoirpy.nodes")
    w, w_in, bias = _matrices(60, 2, 0)
    u = np.random.default_rng(1).uniform(-1, 1, (300, 2))
    ref = nodes.Reservoir(60, W=w, Win=w_in, bias=bias, lr=0.3).run(u)
    states = harvest(ESN.from_matrices(w, w_in, bias, leak=0.3), u)
    np.testing.assert_allclose(states, ref, atol=1e-10)


def test_narma10_readout_equals_reservoirpy_ridge():
    # same states, ReservoirPy's Ridge node (centred, bias not regularised, warmup = washout):
    # equal test NRMSE to 1e-8
    nodes = pytest.importorskip("reservoirpy.nodes")
    w, w_in, bias = _matrices(100, 1, 2)
    u, y = narma(1500, seed=3)
    states = harvest(ESN.from_matrices(w, w_in, bias), u)
    ours = Ridge(ridge=1e-7, washout=100).fit(states[:1000], y[:1000])
    theirs = nodes.Ridge(ridge=1e-7).fit(states[:1000], y[:1000], warmup=100)
    ref = nrmse(theirs.run(states[1000:]), y[1000:])
    assert abs(ours.score(states[1000:], y[1000:])["nrmse"] - ref) < 1e-8


def test_narma10_one_step_nrmse_with_400_units():
    # docs/models/reservoirs.md V7 (independent NumPy ESN, N = 400, rho 0.9, density 0.1, input and bias U(-1, 1),
    # ridge 1e-7, 3800 train / 2000 test, washout 200): NRMSE 0.22-0.25 over 3 seeds. Here (same
    # setup, 4000 train incl. washout / 2000 test, seeds 0-2): 0.244, 0.206, 0.210; asserted for
    # seed 1 within [0.15, 0.30] (std convention; the RMS convention gives 0.054)
    u, y = narma(6000, seed=0)
    esn = ESN.create(400, 1, spectral_radius=0.9, input_scaling=1.0, bias_scaling=1.0, density=0.1, seed=1)
    states = harvest(esn, u)
    scores = Ridge(ridge=1e-7, washout=200).fit(states[:4000], y[:4000]).score(states[4000:], y[4000:])
    assert 0.15 < scores["nrmse"] < 0.30
    assert 0.03 < scores["nrmse_rms"] < 0.08


def test_mackey_glass_one_step_nrmse_below_1e_2_with_500_units():
    # docs/models/reservoirs.md (Tasks), the untuned check (N = 500, density 2 %, rho 0.9, leak 0.5, input
    # tanh(x - 1), ridge 1e-8): one-step NRMSE here 5.0e-4 (seed 0) and 3.8e-4 (seed 1)
    x, y = mackey_glass(3000)
    esn = ESN.create(500, 1, spectral_radius=0.9, input_scaling=1.0, bias_scaling=1.0, density=0.02, leak=0.5, seed=0)
    states = harvest(esn, np.tanh(x - 1))
    scores = Ridge(ridge=1e-8, washout=200).fit(states[:2000], y[:2000]).score(states[2000:], y[2000:])
    assert scores["nrmse"] < 1e-2
