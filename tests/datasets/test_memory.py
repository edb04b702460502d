import numpy as np

from neurodyn.datasets import memory_task
from neurodyn.readout import memory_capacity
from neurodyn.models.reservoir import ESN
from neurodyn.readout import Ridge, harvest


def test_memory_task_targets_are_delayed_inputs():
    u, targets = memory_task(50, 5, seed=1)
    for k in range(1, 6):
        np.testing.assert_array_equal(targets[k:, k - 1], u[:-k, 0])
        assert not targets[:k, k - 1].any()
    assert np.abs(u).max() <= 0.8


def test_harvest_and_ridge_reproduce_memory_capacity_diagnostic():
    # the same pipeline assembled from the public pieces (memory_task, harvest, Ridge) equals
    # readout.memory_capacity (its own input draw and state alignment) to 1e-8 per delay
    esn = ESN.create(20, 1, spectral_radius=0.9, input_scaling=0.1, seed=3)
    washout, max_delay, train, test = 100, 40, 1000, 1000
    ref = memory_capacity(esn, max_delay=max_delay, train=train, test=test, washout=washout, seed=5)
    u, targets = memory_task(washout + max_delay + train + test, max_delay, seed=5)
    states = harvest(esn, u)
    fit_rows, test_rows = slice(washout + max_delay, -test), slice(-test, None)
    pred = Ridge(ridge=1e-10).fit(states[fit_rows], targets[fit_rows]).predict(states[test_rows])
    mc = [np.corrcoef(pred[:, k], targets[test_rows, k])[0, 1] ** 2 for k in range(max_delay)]
    np.testing.assert_allclose(mc, ref.per_delay, atol=1e-8)
    assert abs(ref.total - 13.22) < 0.01  # measured; MC <= N = 20 (Jaeger 2002)
