import dataclasses

import jax
import numpy as np
import pytest
from scipy.linalg import lstsq

from neurodyn.readout import Ridge, blocked_cv_errors, ridge_path

RIDGES = np.logspace(-8, 2, 6)


def _problem(t=300, f=12, out=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, f)) @ rng.normal(size=(f, f)) + 3.0  # correlated, off-centre features
    y = x @ rng.normal(size=(f, out)) + 0.5 + rng.normal(scale=0.5, size=(t, out))
    return x, y


def _solve(x, y, ridge):
    """(X1^T X1 + beta P) W = X1^T Y, X1 = [1, X], P = I without its bias entry."""
    x1 = np.c_[np.ones(len(x)), x]
    reg = ridge * np.eye(x1.shape[1])
    reg[0, 0] = 0.0
    return np.linalg.solve(x1.T @ x1 + reg, x1.T @ y)


def test_ridge_path_equals_separate_solves_and_tikhonov_lstsq():
    x, y = _problem()
    path = ridge_path(x, y, RIDGES)
    for w, beta in zip(path, RIDGES):
        np.testing.assert_allclose(w, _solve(x, y, beta), atol=1e-8)
        # scipy least squares on the Tikhonov-augmented system [X1; sqrt(beta) P] W = [Y; 0]
        x1 = np.c_[np.ones(len(x)), x]
        penalty = np.sqrt(beta) * np.eye(x1.shape[1])[1:]
        ref = lstsq(np.r_[x1, penalty], np.r_[y, np.zeros((len(penalty), y.shape[1]))])[0]
        np.testing.assert_allclose(w, ref, atol=1e-8)


def test_ridge_fit_without_bias_equals_plain_tikhonov():
    x, y = _problem()
    fit = Ridge(ridge=0.3, bias=False).fit(x, y)
    np.testing.assert_allclose(fit.weights, np.linalg.solve(x.T @ x + 0.3 * np.eye(x.shape[1]), x.T @ y), atol=1e-8)


def test_blocked_cross_validation_matches_brute_force_and_picks_minimum():
    x, y = _problem(t=200)
    errors = blocked_cv_errors(x, y, RIDGES, folds=4)
    ref = np.zeros(len(RIDGES))
    for k in range(4):  # contiguous blocks of 50 rows held out in turn
        test = np.arange(50 * k, 50 * (k + 1))
        train = np.setdiff1d(np.arange(200), test)
        for i, beta in enumerate(RIDGES):
            w = _solve(x[train], y[train], beta)
            ref[i] += np.mean((np.c_[np.ones(50), x[test]] @ w - y[test]) ** 2) / 4
    np.testing.assert_allclose(errors, ref, rtol=1e-10)
    fit = Ridge(ridge=RIDGES, folds=4).fit(x, y)
    assert fit.ridge == RIDGES[np.argmin(ref)]
    np.testing.assert_allclose(fit.weights, _solve(x, y, fit.ridge), atol=1e-8)


def test_standardized_fit_equals_zscored_ridge_in_raw_units():
    x, y = _problem()
    x = x * np.logspace(-2, 2, x.shape[1])  # features on very different scales
    fit = Ridge(ridge=5.0, standardize=True).fit(x, y)
    mean, std = x.mean(axis=0), x.std(axis=0)
    w = _solve((x - mean) / std, y, 5.0)
    np.testing.assert_allclose(fit.predict(x), np.c_[np.ones(len(x)), (x - mean) / std] @ w, atol=1e-8)


def test_washout_and_sequence_list_equal_stacked_rows():
    x, y = _problem(t=300)
    cuts = [(0, 80), (80, 200), (200, 300)]
    fit = Ridge(ridge=1e-3, washout=10).fit([x[a:b] for a, b in cuts], [y[a:b] for a, b in cuts])
    rows = np.concatenate([np.arange(a + 10, b) for a, b in cuts])
    np.testing.assert_allclose(fit.weights, _solve(x[rows], y[rows], 1e-3), atol=1e-8)
    preds = fit.predict([x[a:b] for a, b in cuts])
    assert [len(p) for p in preds] == [80, 120, 100]


def test_inputs_enter_as_features():
    x, y = _problem()
    u = np.random.default_rng(5).normal(size=(len(x), 1))
    fit = Ridge(ridge=1e-2, use_inputs=True).fit(x, y + 2 * u, inputs=u)
    np.testing.assert_allclose(fit.weights, _solve(np.c_[u, x], y + 2 * u, 1e-2), atol=1e-8)
    with pytest.raises(ValueError, match="needs the inputs"):
        fit.predict(x)


def test_ridge_is_an_immutable_pytree():
    x, y = _problem()
    unfit = Ridge(ridge=1e-2)
    fit = unfit.fit(x, y)
    assert unfit.weights is None and fit.weights.shape == (13, 2)
    leaves = jax.tree_util.tree_leaves(fit)
    assert any(leaf is fit.weights for leaf in leaves)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.ridge = 1.0
