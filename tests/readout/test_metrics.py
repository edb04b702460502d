import numpy as np

from neurodyn.readout import Ridge, accuracy, mse, nrmse, nrmse_rms, r2


def test_metrics_on_hand_computed_example():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.0, 3.0, 5.0])
    # mse = 1/4; var(y) = 1.25; mean(y^2) = 7.5; sum((y - mean)^2) = 5
    assert mse(p, y) == 0.25
    assert np.isclose(nrmse(p, y), np.sqrt(0.25 / 1.25))
    assert np.isclose(nrmse_rms(p, y), np.sqrt(0.25 / 7.5))
    assert np.isclose(r2(p, y), 1 - 1 / 5)
    assert accuracy([1, 2, 3], [1, 2, 0]) == 2 / 3


def test_score_reports_both_nrmse_conventions_after_washout():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([[1.0], [2.0], [-1.0]]) + 0.1 * rng.normal(size=(200, 1)) + 2.0
    fit = Ridge(ridge=1e-6, washout=20).fit(x, y)
    scores = fit.score(x, y, washout=20)
    p = fit.predict(x)[20:]
    assert np.isclose(scores["nrmse"], nrmse(p, y[20:])) and np.isclose(scores["nrmse_rms"], nrmse_rms(p, y[20:]))
    assert np.isclose(scores["r2"], 1 - scores["nrmse"] ** 2)  # one output: R^2 = 1 - NRMSE_std^2
