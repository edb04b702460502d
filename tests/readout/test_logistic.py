"""Multinomial logistic readout against scikit-learn's LogisticRegression on the same features
(docs/models/reservoirs.md, "Readout")."""

import dataclasses

import jax
import numpy as np
import pytest

from neurodyn.datasets import digits_sequences
from neurodyn.errors import SpecError
from neurodyn.models import ESN
from neurodyn.readout import LogisticClassifier, harvest, pool_states

sklearn = pytest.importorskip("sklearn.linear_model")


@pytest.fixture(scope="module")
def digit_states():
    split = digits_sequences("row", seed=0)
    esn = ESN.create(40, 8, spectral_radius=0.9, input_scaling=0.5, bias_scaling=0.2, seed=1)
    train = harvest(esn, list(split.x_train[:300]))
    test = harvest(esn, list(split.x_test[:200]))
    return train, split.y_train[:300], test, split.y_test[:200]


@pytest.mark.parametrize("pool,l2", [("last", 1.0), ("mean", 1.0)])
def test_probabilities_equal_scikit_learn_logistic_regression(digit_states, pool, l2):
    # the same objective: sum of cross-entropies + (l2 / 2) ||W||^2, intercept free (sklearn C = 1 / l2)
    train, y_train, test, _ = digit_states
    ours = LogisticClassifier(l2=l2, pool=pool).fit(train, y_train)
    ref = sklearn.LogisticRegression(C=1 / l2, tol=1e-12, max_iter=20000).fit(pool_states(train, pool), y_train)
    p_ref = ref.predict_proba(pool_states(test, pool))
    np.testing.assert_array_equal(ours.classes, ref.classes_)
    np.testing.assert_allclose(ours.predict_proba(test), p_ref, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(ours.predict(test), ref.predict(pool_states(test, pool)))
    np.testing.assert_allclose(ours.weights[1:] - ours.weights[1:].mean(axis=1, keepdims=True),
                               ref.coef_.T - ref.coef_.T.mean(axis=1, keepdims=True), atol=1e-3)


def test_gradient_vanishes_at_the_fit_and_scores_are_consistent(digit_states):
    train, y_train, test, y_test = digit_states
    model = LogisticClassifier(l2=0.5, pool="none").fit(pool_states(train, "last"), y_train)
    z = pool_states(train, "last")
    p = model.predict_proba(z)
    onehot = (y_train[:, None] == model.classes[None, :]).astype(float)
    # stationarity: Z^T (P - Y) + l2 W = 0 and sum_n (P - Y) = 0 (exact gradient of the objective)
    np.testing.assert_allclose(z.T @ (p - onehot) + 0.5 * model.weights[1:], 0, atol=1e-5)
    np.testing.assert_allclose((p - onehot).sum(axis=0), 0, atol=1e-5)
    s = model.score(pool_states(test, "last"), y_test)
    assert 0.5 < s["accuracy"] <= 1 and s["log_loss"] > 0
    np.testing.assert_allclose(np.sum(p, axis=1), 1, atol=1e-12)
    # standardize=True is the plain fit on z-scored features, its weights mapped back to raw ones
    std = LogisticClassifier(l2=0.5, pool="none", standardize=True).fit(z, y_train)
    zs = (z - z.mean(axis=0)) / np.where(z.std(axis=0) > 0, z.std(axis=0), 1.0)
    plain = LogisticClassifier(l2=0.5, pool="none").fit(zs, y_train)
    np.testing.assert_allclose(std.predict_proba(z), plain.predict_proba(zs), rtol=0, atol=1e-6)
    assert jax.tree_util.tree_leaves(model)  # a pytree
    assert dataclasses.replace(model, weights=None).weights is None


def test_bad_input_names_the_field():
    with pytest.raises(SpecError, match="pool"):
        LogisticClassifier(pool="max").fit([np.zeros((3, 2))] * 2, [0, 1])
    with pytest.raises(SpecError, match="l2"):
        LogisticClassifier(l2=0.0).fit([np.zeros((3, 2))] * 2, [0, 1])
