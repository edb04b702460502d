import dataclasses
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from neurodyn.connectivity.matrices import random_sparse, scale_to_spectral_radius
from neurodyn.diagnostics import edge_of_chaos, lyapunov_spectrum, max_lyapunov
from neurodyn.models import ESN, Chialvo, KuramotoMeanField
from neurodyn.models.maps import MapState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from systems import Henon, Logistic, Lorenz  # noqa: E402


def test_logistic_r4_exponent_is_ln2():
    # V1: lambda = ln 2 (per iteration)
    lam = float(max_lyapunov(Logistic(jnp.asarray(4.0)), 100_000, transient=100))
    assert abs(lam - np.log(2)) / np.log(2) < 0.01
    spec = lyapunov_spectrum(Logistic(jnp.asarray(4.0)), 100_000, transient=100)
    assert abs(float(spec[0]) - np.log(2)) / np.log(2) < 0.01


def test_henon_spectrum_and_sum_rule():
    # V2: (0.419, -1.623); the sum equals ln|det J| = ln b exactly at every step
    spec = np.asarray(lyapunov_spectrum(Henon(jnp.asarray(1.4), jnp.asarray(0.3)), 200_000, transient=1000))
    np.testing.assert_allclose(spec, [0.419, -1.623], atol=0.01)
    assert abs(spec.sum() - np.log(0.3)) < 1e-3


def test_lorenz_spectrum_per_time_unit():
    # V3: (0.906, 0, -14.57); sum = -(sigma + 1 + beta) = -13.667; RK4 dt = 0.01, T = 1000,
    # QR every 10 steps (0.1 time units)
    spec = np.asarray(lyapunov_spectrum(Lorenz(10.0, 28.0, 8 / 3, 0.01), 100_000, transient=2000, renorm_every=10))
    assert abs(spec[0] - 0.906) < 0.03
    assert abs(spec[1]) < 0.02
    assert abs(spec.sum() + (10 + 1 + 8 / 3)) < 1e-2


def test_linear_esn_without_input_has_exponent_ln_rho():
    # linear map x -> W x: lambda_max = ln rho(W) (docs/diagnostics.md)
    w = scale_to_spectral_radius(random_sparse(60, density=0.2, seed=2), 0.8)
    esn = ESN.from_matrices(w, np.zeros((60, 1)), activation="identity")
    state = esn.init(jax.random.PRNGKey(0))._replace(x=jnp.ones(60))
    lam = float(max_lyapunov(esn, 5000, state=state))
    assert abs(lam - np.log(0.8)) < 1e-3
    tanh = ESN.from_matrices(w, np.zeros((60, 1)))
    assert abs(float(max_lyapunov(tanh, 5000, state=state)) - np.log(0.8)) < 1e-3  # x -> 0, J -> W


def test_chialvo_regimes_lyapunov():
    # V12 (docs/models/maps.md, measured): b = 0.6 -> lambda_1 ~ 0 (invariant circle); b = 0.18 -> ~ +0.05
    state = MapState(jnp.array([0.5]), jnp.array([0.5]))
    osc = np.asarray(lyapunov_spectrum(Chialvo.create(1, b=0.6), 200_000, transient=10_000, state=state))
    chaos = np.asarray(lyapunov_spectrum(Chialvo.create(1, b=0.18), 200_000, transient=10_000, state=state))
    assert abs(osc[0]) < 5e-3
    assert 0.03 <= chaos[0] <= 0.07


def test_vmapped_exponents_equal_single_runs():
    rs = jnp.array([3.5, 3.7, 3.9, 4.0])
    batched = np.asarray(jax.vmap(lambda r: max_lyapunov(Logistic(r), 20_000, transient=100))(rs))
    single = [float(max_lyapunov(Logistic(r), 20_000, transient=100)) for r in rs]
    np.testing.assert_allclose(batched, single, rtol=1e-12)
    assert batched[0] < 0 < batched[-1]


def test_conditional_exponent_of_driven_reservoir_and_edge_of_chaos_grid():
    base = ESN.create(40, spectral_radius=1.0, input_scaling=1.0, seed=1)
    u = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (700, 1)))

    def make(rho, scale):  # one shared W: only the scalar gains change
        return dataclasses.replace(base, recurrent_gain=rho, input_gain=scale)

    res = edge_of_chaos(make, [0.5, 1.0, 1.6, 2.5], [0.05, 0.5], steps=500, transient=200, drive=u,
                        x_name="spectral radius", y_name="input scaling")
    lam = res.exponent
    assert lam.shape == (4, 2)
    assert lam[0, 0] < 0 and lam[-1, 0] > 0  # ordered at rho = 0.5, chaotic at 2.5 with weak input
    direct = float(max_lyapunov(make(1.6, 0.5), 500, transient=200, drive=u))
    assert abs(direct - lam[2, 1]) < 1e-10
    # along rho (first axis) at fixed small input the exponent crosses zero between 1.0 and 2.5
    from neurodyn.diagnostics.edge import _zero_crossings
    cross = _zero_crossings(res.x, res.exponent.T)[0]
    assert 1.0 < cross < 2.5


def test_phase_oscillator_exponent_per_time_unit():
    # identical Kuramoto oscillators, K > 0: the synchronous state is stable; the transverse
    # exponents are -K (per time unit) and one exponent is 0 (the common phase shift)
    m = KuramotoMeanField.create(6, omega=0.4, coupling=0.5, dt=0.01)
    state = m.init(jax.random.PRNGKey(0))
    spec = np.asarray(lyapunov_spectrum(m, 20_000, transient=5000, state=state, renorm_every=10))
    # the neutral exponent converges as O(1/T): log of the initial projection / T ~ 5e-3 at T = 200
    assert abs(spec[0]) < 1e-2
    np.testing.assert_allclose(spec[1:], -0.5, atol=5e-3)
