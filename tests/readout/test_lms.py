"""The LMS readout against a NumPy loop of the Widrow-Hoff rule and ReservoirPy 0.4.2's LMS node, and
its convergence to the least-squares solution on a target the reservoir can represent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.core.simulate import run
from neurodyn.errors import SpecError
from neurodyn.models.reservoir import ESN
from neurodyn.readout import LMS, harvest


@pytest.fixture(scope="module")
def setup():
    u = np.random.default_rng(0).uniform(-1, 1, (1500, 1))
    esn = ESN.create(30, 1, spectral_radius=0.8, bias_scaling=0.3, input_scaling=0.5, seed=1)
    return u, esn, harvest(esn, u)


def _numpy_lms(x, d, eta, learn):
    """y = W^T [1; x]; W <- W - eta [1; x] (y - d)^T where learn is set."""
    w = np.zeros((x.shape[1] + 1, d.shape[1]))
    ys = []
    for t in range(len(x)):
        phi = np.r_[1.0, x[t]]
        y = phi @ w
        if learn[t]:
            w = w - eta * np.outer(phi, y - d[t])
        ys.append(y)
    return w, np.array(ys)


def test_lms_equals_a_numpy_loop_and_reservoirpy(setup):
    from reservoirpy.nodes import LMS as PeerLMS

    u, esn, x = setup
    d = np.c_[np.sin(np.arange(1500) / 7.0), np.roll(u[:, 0], 3)]
    learn = (np.arange(1500) >= 100).astype(float)  # a 100-step washout without learning
    model = LMS.create(esn, 2, learning_rate=0.02)
    drive = {"u": jnp.asarray(u), "target": jnp.asarray(d), "learn": jnp.asarray(learn)}
    final, rec = run(model, model.init(jax.random.PRNGKey(0)), 1500, drive=drive)
    w_ref, y_ref = _numpy_lms(x, d, 0.02, learn)
    np.testing.assert_allclose(np.asarray(final.weights), w_ref, rtol=0, atol=1e-12)
    # the recorded output is the state before each step: the a priori output of the step before
    np.testing.assert_allclose(np.asarray(rec["y"])[1:], y_ref[:-1], rtol=0, atol=1e-12)
    peer = PeerLMS(learning_rate=0.02)
    peer.partial_fit(x[100:], d[100:])
    np.testing.assert_allclose(np.vstack([peer.bias.reshape(1, -1), peer.Wout]), w_ref, rtol=0, atol=1e-12)


def test_lms_converges_to_the_least_squares_weights(setup):
    # a target exactly linear in [1; x]: the error is zero at the least-squares weights and LMS's
    # stochastic gradient descends towards them (eta = 0.2 < 2 / max |phi|^2 = 0.33); the states'
    # covariance has an eigenvalue spread of 3e9, so the slow directions remain: NRMSE 1.48 -> 0.086
    # after 6000 steps (0.107 at eta 0.05)
    u, esn, _ = setup
    u = np.tile(u, (4, 1))
    phi = np.c_[np.ones(len(u)), harvest(esn, u)]
    d = phi @ np.random.default_rng(2).normal(size=(31, 1))
    model = LMS.create(esn, 1, learning_rate=0.2)
    drive = {"u": jnp.asarray(u), "target": jnp.asarray(d)}
    final, _ = run(model, model.init(jax.random.PRNGKey(0)), 6000, drive=drive)
    errors = [np.sqrt(np.mean((phi[-1500:] @ w - d[-1500:]) ** 2)) / d.std()
              for w in (np.zeros((31, 1)), np.asarray(final.weights))]
    assert errors[1] < 0.1 * errors[0]
    with pytest.raises(SpecError, match="LMS.learning_rate: must be > 0"):
        LMS.create(esn, 1, learning_rate=0.0)
