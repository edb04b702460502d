import numpy as np

import jax
import jax.numpy as jnp

from neurodyn.core.simulate import run
from neurodyn.models.reservoir import ESN
from neurodyn.models.residual import deep_res_esn
from neurodyn.readout import RidgeClassifier, harvest


def _reference_states(w, w_in, bias, leak, u):
    """x(t) = (1 - a) x(t-1) + a tanh(W x(t-1) + W_in u(t) + b), from x = 0: row t after u(t)."""
    x, out = np.zeros(len(w)), []
    for row in u:
        x = (1 - leak) * x + leak * np.tanh(w @ x + w_in @ row + bias)
        out.append(x)
    return np.array(out)


def test_harvest_row_t_is_state_after_input_t():
    rng = np.random.default_rng(0)
    w, w_in, bias = rng.normal(scale=0.2, size=(20, 20)), rng.uniform(-1, 1, (20, 2)), rng.uniform(-0.1, 0.1, 20)
    u = rng.uniform(-1, 1, (50, 2))
    states = harvest(ESN.from_matrices(w, w_in, bias, leak=0.4), u)
    np.testing.assert_allclose(states, _reference_states(w, w_in, bias, 0.4, u), atol=1e-12)


def test_harvest_list_resets_state_between_sequences():
    esn = ESN.create(20, 1, seed=1, bias_scaling=0.1)
    u = np.random.default_rng(1).uniform(-1, 1, (60, 1))
    parts = harvest(esn, [u[:60], u[:25], u[10:50]])
    assert [len(p) for p in parts] == [60, 25, 40]
    np.testing.assert_allclose(parts[1], harvest(esn, u[:25]), atol=1e-12)
    np.testing.assert_allclose(parts[2], harvest(esn, u[10:50]), atol=1e-12)


def test_harvest_deep_reservoir_concatenates_layers_one_step_after_run_records():
    # run() records the state before each step: its rows 1..T are harvest's rows 0..T-1
    net = deep_res_esn(2, 10, 1, alpha=0.7, beta=0.3, spectral_radius=0.8, seed=1)
    u = np.random.default_rng(0).uniform(-1, 1, (40, 1))
    states = harvest(net, u, into="layer1")
    _, rec = run(net, net.init(jax.random.PRNGKey(0)), 41, drive={"layer1": jnp.asarray(np.r_[u, u[-1:]])})
    np.testing.assert_allclose(states, np.c_[rec["layer1.x"], rec["layer2.x"]][1:], atol=1e-12)
    assert harvest(net, u, into="layer1", record=("layer2.x",)).shape == (40, 10)


def test_ridge_classifier_separates_sequence_frequencies():
    # sine sequences of two frequencies, lengths 30-59; with a bias the tanh makes the mean state
    # depend on the frequency (measured: 1.0 held-out accuracy for both pools; 0.75 without bias)
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 80)
    seqs = [np.sin((0.3 + 0.5 * c) * np.arange(rng.integers(30, 60)) + rng.uniform(0, 6))[:, None] for c in labels]
    states = harvest(ESN.create(30, 1, seed=2, spectral_radius=0.9, bias_scaling=0.5), seqs)
    clf = RidgeClassifier(pool="mean").fit(states[:60], labels[:60])
    assert list(clf.classes) == [0, 1]
    assert clf.score(states[60:], labels[60:])["accuracy"] == 1.0
    assert RidgeClassifier(pool="last").fit(states[:60], labels[:60]).score(states[60:], labels[60:])["accuracy"] == 1.0
    onehot = np.eye(2)[labels[:60]]
    feats = np.stack([s.mean(axis=0) for s in states[:60]])
    x1 = np.c_[np.ones(60), feats]
    reg = 1e-6 * np.eye(31)
    reg[0, 0] = 0
    np.testing.assert_allclose(clf.readout.weights, np.linalg.solve(x1.T @ x1 + reg, x1.T @ onehot), atol=1e-6)
