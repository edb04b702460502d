"""Sequence classification of the 8x8 digits (pixel by pixel, like sMNIST, and permuted, like
psMNIST; neurodyn.datasets.digits_sequences) with reservoirs of equal total size, the state reset
before every sequence (docs/models/reservoirs.md, "Readout"): DeepResESN and ResRMN against a
plain ESN, ridge readout on the last state."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.datasets import digits_sequences
from neurodyn.models import ESN, deep_res_esn, res_rmn
from neurodyn.readout import LogisticClassifier, Ridge, RidgeClassifier, harvest

N = 100


def _accuracy(train, test, split):
    clf = RidgeClassifier(Ridge([1e-4, 1e-2, 1.0, 10.0], standardize=True), pool="last").fit(train, split.y_train)
    return clf.score(test, split.y_test)["accuracy"]


def _harvest_rmn(net, x):
    """Final nonlinear-reservoir state h(T) of every sequence from the reset state, both modules
    driven by the input (vmapped over sequences, one compiled scan)."""
    init = net.init(jax.random.PRNGKey(0))

    def last(u):
        final, _ = nd.run(net, init, u.shape[0], drive={"memory": u, "reservoir": u}, record=())
        return net.observe(final)["reservoir.x"]

    return [h[None] for h in np.asarray(jax.jit(jax.vmap(last))(jnp.asarray(x)))]


@pytest.fixture(scope="module", params=["pixel", "permuted"])
def scores(request):
    split = digits_sequences(request.param, seed=0)
    out = {}
    for leak in (1.0, 0.3):  # the plain ESN gets its better leak rate
        esn = ESN.create(N, 1, spectral_radius=0.9, leak=leak, seed=0)
        out[f"esn_{leak}"] = _accuracy(harvest(esn, list(split.x_train)), harvest(esn, list(split.x_test)), split)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deep = deep_res_esn(2, N // 2, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, orthogonal="random", seed=0)
        rmn = res_rmn(N // 2, N // 2, 1, alpha=0.9, beta=0.1, spectral_radius=0.9, memory_input_scaling=0.1,
                      memory_scaling=0.1, bias_scaling=0.1, orthogonal="identity", seed=0)
    deep_states = harvest(deep, list(split.x_train), into="layer1"), harvest(deep, list(split.x_test), into="layer1")
    out["deep"] = _accuracy(*deep_states, split)
    out["rmn"] = _accuracy(_harvest_rmn(rmn, split.x_train), _harvest_rmn(rmn, split.x_test), split)
    return request.param, out, split, deep_states


def test_residual_reservoirs_beat_a_plain_esn_of_equal_size(scores):
    mode, acc, _, _ = scores
    esn = max(acc["esn_1.0"], acc["esn_0.3"])
    # measured (449 test digits, seed 0): pixel ESN 0.706 / 0.878 (leak 1 / 0.3), DeepResESN 2 x 50 0.955,
    # ResRMN 50 + 50 (readout on its 50 non-linear units) 0.962; permuted ESN 0.764 / 0.884, 0.953, 0.935
    assert esn > 0.6
    assert acc["deep"] > esn + 0.03, (mode, acc)
    assert acc["rmn"] > esn + 0.03, (mode, acc)


def test_logistic_readout_on_the_mean_state_classifies_digits(scores):
    mode, _, split, (train, test) = scores
    clf = LogisticClassifier(l2=0.1, pool="mean", standardize=True).fit(train, split.y_train)
    score = clf.score(test, split.y_test)
    # measured (DeepResESN 2 x 50): pixel digits accuracy 0.944, log-loss 0.18; permuted 0.929, 0.23
    assert score["accuracy"] > 0.9 and score["log_loss"] < 0.3
