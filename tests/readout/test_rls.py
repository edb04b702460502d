import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.core.simulate import run
from neurodyn.datasets import narma
from neurodyn.models.reservoir import ESN
from neurodyn.readout import RLS, harvest


def test_rls_weights_equal_ridge_with_regularised_bias_and_predict_after_training():
    # RLS from W = 0, P = I / delta, lambda = 1 gives (delta I + sum phi phi^T)^{-1} sum phi d^T
    # (Haykin, Adaptive Filter Theory, ch. 9); learning gated off for a 100-step washout
    u, y = narma(600, seed=0)
    esn = ESN.create(20, 1, spectral_radius=0.9, bias_scaling=0.5, seed=0)
    model = RLS(esn, n_outputs=1, forgetting=1.0, delta=1e-2)
    learn = (np.arange(600) >= 100).astype(float)
    drive = {"u": jnp.asarray(u), "target": jnp.asarray(y), "learn": jnp.asarray(learn)}
    final, _ = run(model, model.init(jax.random.PRNGKey(0)), 600, drive=drive)
    x1 = np.c_[np.ones(500), harvest(esn, u)[100:]]
    ridge = np.linalg.solve(x1.T @ x1 + 1e-2 * np.eye(21), x1.T @ y[100:])
    np.testing.assert_allclose(final.weights, ridge, atol=1e-8)
    # without a target the weights stay; the recorded output (state before each step) lags one row
    _, rec = run(model, final._replace(reservoir=esn.init(None)), 51, drive={"u": jnp.asarray(u[:51])})
    np.testing.assert_allclose(np.asarray(rec["y"])[1:], np.c_[np.ones(50), harvest(esn, u[:50])] @ ridge,
                               atol=1e-10)
