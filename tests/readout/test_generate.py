import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.datasets import mackey_glass
from neurodyn.models.reservoir import ESN
from neurodyn.readout import Ridge, generate, harvest


@pytest.fixture(scope="module")
def trained():
    # docs/models/reservoirs.md (Tasks): N = 500, density 2 %, rho 0.9, leak 0.5, input tanh(x - 1)
    x, y = mackey_glass(4400)
    esn = ESN.create(500, 1, spectral_radius=0.9, input_scaling=1.0, bias_scaling=1.0, density=0.02, leak=0.5,
                     seed=0)
    fit = Ridge(ridge=1e-8, washout=500).fit(harvest(esn, np.tanh(x[:4000] - 1)), y[:4000])
    return x, esn, fit


def test_generate_equals_harvest_on_its_own_fed_back_outputs(trained):
    # closed loop = teacher forcing on the sequence warmup + feedback(outputs): same predictions
    x, esn, fit = trained
    warmup = np.tanh(x[:4000] - 1)
    gen = generate(esn, fit, warmup, 20, feedback=lambda v: jnp.tanh(v - 1))
    replay = fit.predict(harvest(esn, np.r_[warmup, np.tanh(gen[:-1] - 1)]))[3999:]
    np.testing.assert_allclose(gen, replay, atol=1e-10)


def test_mackey_glass_closed_loop_valid_time_at_least_200_steps(trained):
    # valid time: first step with |error| > 0.4 SD of the series (docs/models/reservoirs.md, Tasks);
    # measured here for seeds 0, 1, 2: 730, 851, 851 steps (error at step 84: 2.6e-3, 3.3e-3,
    # 6.0e-4 SD); asserted for seed 0: >= 200 steps and error at step 84 < 0.05 SD
    x, esn, fit = trained
    gen = generate(esn, fit, np.tanh(x[:4000] - 1), 400, feedback=lambda v: jnp.tanh(v - 1))[:, 0]
    err = np.abs(gen - x[4000:4400, 0]) / x.std()
    assert not np.any(err[:200] > 0.4)
    assert err[83] < 0.05
