"""Memory capacity of residual reservoirs against a plain ESN of the same total size
(docs/models/reservoirs.md, "Memory capacity"; Ceni & Gallicchio 2024; Pinna, Ceni & Gallicchio
2025): the orthogonal residual branch carries the input much further back."""

import warnings

import numpy as np

from neurodyn.datasets import memory_task
from neurodyn.models import ESN, ResESN, deep_res_esn
from neurodyn.readout import harvest

N, MAX_DELAY, TRAIN, TEST, WASHOUT = 100, 200, 3000, 2000, 200


def _memory_capacity(model, into=None, seed=0):
    """Jaeger's MC (GMD Report 152): sum over delays k <= 2N of the held-out squared correlation
    between u(t - k) and its ridge readout from the harvested states (every layer of a stack)."""
    steps = WASHOUT + MAX_DELAY + TRAIN + TEST
    u, targets = memory_task(steps, MAX_DELAY, input_range=0.8, seed=seed)
    x = np.c_[np.ones(steps), harvest(model, u, into=into)][WASHOUT + MAX_DELAY:]
    y = targets[WASHOUT + MAX_DELAY:]
    reg = 1e-8 * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    w = np.linalg.solve(x[:TRAIN].T @ x[:TRAIN] + reg, x[:TRAIN].T @ y[:TRAIN])
    pred, y = x[TRAIN:] @ w - (x[TRAIN:] @ w).mean(axis=0), y[TRAIN:] - y[TRAIN:].mean(axis=0)
    return float(np.sum((pred * y).sum(axis=0) ** 2 / ((pred ** 2).sum(axis=0) * (y ** 2).sum(axis=0))))


def test_residual_orthogonal_branch_beats_a_plain_esn_of_equal_size():
    # docs/models/reservoirs.md: tanh, input scaling 0.1, rho(W) = 0.9, 100 units in every model
    esn = max(_memory_capacity(ESN.create(N, 1, spectral_radius=0.9, input_scaling=0.1, leak=leak, seed=0))
              for leak in (1.0, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # alpha = 0.9, beta = 0.1 satisfies rho(alpha O + beta W) < 1
        res = {o: _memory_capacity(ResESN.create(N, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, input_scaling=0.1,
                                                 orthogonal=o, seed=0)) for o in ("random", "cycle")}
        deep = _memory_capacity(deep_res_esn(2, N // 2, 1, alpha=0.9, beta=0.1, spectral_radius=0.9,
                                             input_scaling=0.1, orthogonal="random", seed=0), into="layer1")
    # measured: best ESN 28.6 (leak 1; 17.6 at leak 0.5), ResESN random 82.6, cycle 86.2, DeepResESN 2 x 50 81.0
    for mc in (esn, *res.values(), deep):
        assert 0 < mc <= N + 0.5
    assert min(res.values()) > 2.5 * esn
    assert deep > 2.5 * esn
