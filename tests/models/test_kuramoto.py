"""Kuramoto validation (docs/models/kuramoto.md: V4, V5, V14)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.connectivity import complete, ring
from neurodyn.diagnostics import growth_exponent, locked_fraction, order_parameter, phase_slips, width_growth
from neurodyn.errors import SpecError
from neurodyn.models import KuramotoGraph, KuramotoMeanField, PhaseLattice1D, natural_frequencies
from neurodyn.models.kuramoto import PhaseState


def _mean_r(model, couplings, steps, average_from, key=0, lags=None):
    """<r> over steps [average_from, steps) for each coupling (one vmapped compiled call)."""
    state = model.init(jax.random.PRNGKey(key))
    lags = jnp.zeros_like(couplings) if lags is None else lags

    def one(k, lag):
        m = dataclasses.replace(model, coupling=k, lag=lag)
        return nd.run(m, state, steps, record=("r",))[1]["r"][average_from:].mean()

    return np.asarray(jax.jit(jax.vmap(one))(couplings, lags))


def test_lorentzian_order_parameter_matches_ott_antonsen():
    # V4: gamma = 0.5 (K_c = 1), N = 2000 quantile frequencies, RK4 dt = 0.05, t in [150, 300]
    m = KuramotoMeanField.create(2000, omega=natural_frequencies(2000, "lorentzian", 0.5, quantile=True), dt=0.05)
    ks = jnp.array([0.5, 1.5, 2.0, 3.0])
    r = _mean_r(m, ks, 6000, 3000)
    assert r[0] < 0.06  # finite-size level below K_c (docs/models/kuramoto.md, measured: 0.026)
    np.testing.assert_allclose(r[1:], np.sqrt(1 - 1.0 / np.asarray(ks[1:])), atol=0.01)


def test_gaussian_onset_at_sigma_sqrt_8_over_pi():
    # V5: K_c = sigma sqrt(8/pi) = 1.596 sigma; near onset r^2 grows linearly in K, so the
    # intercept of a line through r^2(K) just above onset estimates K_c
    m = KuramotoMeanField.create(4000, omega=natural_frequencies(4000, "gaussian", 1.0, quantile=True), dt=0.05)
    ks = jnp.linspace(1.7, 2.1, 5)
    r = _mean_r(m, ks, 8000, 4000)
    slope, intercept = np.polyfit(np.asarray(ks), r ** 2, 1)
    kc = -intercept / slope
    assert abs(kc - np.sqrt(8 / np.pi)) / np.sqrt(8 / np.pi) < 0.10, kc


def test_sakaguchi_lag_shifts_onset_to_2_gamma_over_cos_alpha():
    # Lorentzian with lag alpha: r^2 = 1 - K_c/K with K_c = 2 gamma / cos(alpha) (Ott-Antonsen)
    alpha, gamma = 0.6, 0.5
    m = KuramotoMeanField.create(3000, omega=natural_frequencies(3000, "lorentzian", gamma, quantile=True), dt=0.05)
    ks = jnp.array([2.0, 2.5, 3.0])
    r = _mean_r(m, ks, 8000, 4000, lags=jnp.full(3, alpha))
    kc_est = np.mean((1 - r ** 2) * np.asarray(ks))
    kc = 2 * gamma / np.cos(alpha)
    assert abs(kc_est - kc) / kc < 0.10, (kc_est, kc)


def test_identical_oscillators_synchronise_and_uncoupled_stay_incoherent():
    n = 1000
    m = KuramotoMeanField.create(n, omega=0.3, dt=0.05)
    r = _mean_r(m, jnp.array([0.5, 0.0]), 2000, 1999)
    assert r[0] > 0.999
    assert r[1] < 3 / np.sqrt(n)  # random phases: E r ~ sqrt(pi / 4N) = 0.028


def test_graph_version_on_complete_graph_equals_mean_field():
    n = 300
    omega = natural_frequencies(n, "gaussian", 0.5, seed=3)
    mf = KuramotoMeanField.create(n, omega=omega, coupling=1.3, dt=0.05)
    gr = KuramotoGraph.create(complete(n), omega=omega, coupling=1.3, dt=0.05, normalize="size")
    state = mf.init(jax.random.PRNGKey(1))
    a = nd.run(mf, state, 400)[1]["theta"]
    b = nd.run(gr, state, 400)[1]["theta"]
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-9)


def test_graph_kuramoto_matches_edge_sum_reference():
    g = ring(20, 2)
    omega = natural_frequencies(20, "uniform", 0.2, seed=1)
    model = KuramotoGraph.create(g, omega=omega, coupling=0.7, lag=0.3, dt=0.01)
    theta = np.random.default_rng(2).uniform(0, 2 * np.pi, 20)
    got = np.asarray(model.vector_field(PhaseState(jnp.asarray(theta), jax.random.PRNGKey(0)), None, 0.0).theta)
    a = g.to_dense()
    expected = omega + 0.7 * (a * np.sin(theta[None, :] - theta[:, None] - 0.3)).sum(axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_locked_fraction_matches_lorentzian_theory():
    # locked: |omega| <= K r; for quantile Lorentzian frequencies the fraction is (2/pi) arctan(K r / gamma)
    n, gamma, k = 2000, 0.5, 2.0
    m = KuramotoMeanField.create(n, omega=natural_frequencies(n, "lorentzian", gamma, quantile=True), coupling=k, dt=0.05)
    traj = nd.simulate(m, 8000, key=jax.random.PRNGKey(0), transient=3000, every=5, record=("theta",))
    theta = traj["theta"]
    r = order_parameter(theta)[0].mean()
    frac = locked_fraction(theta, traj.times * 0.05, tol=0.02)
    assert abs(frac - 2 / np.pi * np.arctan(k * r / gamma)) < 0.02


def test_random_deposition_growth_exponent_one_half():
    # K = 0, time noise: W^2 = 2 D t exactly, beta = 1/2 (V14)
    m = PhaseLattice1D.create(512, coupling=0.0, noise=0.1, dt=0.05)
    t, w = width_growth(m, 8, 20000, 20)
    beta = growth_exponent(t, w, 10.0, 990.0)
    assert abs(beta - 0.5) < 0.02, beta
    assert abs(w[-1] ** 2 / (2 * 0.1 * t[-1]) - 1) < 0.05


def test_columnar_disorder_linear_growth_exponent_one():
    # K = 0, quenched frequencies: W = std(omega) t exactly, beta = 1 (V14). Exact at any lattice
    # size (each site turns at its own frequency, no statistics): 64 sites (measured: beta - 1 and
    # W / (std t) - 1 both ~1e-14, as with 512)
    omega = natural_frequencies(64, "gaussian", 0.1, seed=4)
    m = PhaseLattice1D.create(64, omega=omega, coupling=0.0, dt=0.05)
    t, w = width_growth(m, 1, 20000, 20)
    assert abs(growth_exponent(t, w, 10.0, 990.0) - 1.0) < 0.01
    np.testing.assert_allclose(w[-1], np.std(omega) * t[-1], rtol=1e-9)


def test_edwards_wilkinson_growth_exponent():
    # odd coupling, weak noise: beta in [0.21, 0.27] for L >= 512 over t in [20, 2000]
    # (docs/models/kuramoto.md, measured: 0.23; asymptotically 1/4)
    m = PhaseLattice1D.create(512, coupling=1.0, noise=0.1, dt=0.05)
    t, w = width_growth(m, 16, 40000, 40)
    beta = growth_exponent(t, w, 20.0, 1990.0)
    assert 0.21 <= beta <= 0.27, beta


def test_phase_slips_zero_when_locked_positive_when_desynchronised():
    omega = natural_frequencies(64, "uniform", 0.1, seed=5)
    locked = PhaseLattice1D.create(64, omega=omega, coupling=2.0, dt=0.05)
    traj = nd.simulate(locked, 20000, state=PhaseState(jnp.zeros(64), jax.random.PRNGKey(0)), every=2,
                       record=("theta",))
    assert phase_slips(traj["theta"]).sum() == 0
    loose = dataclasses.replace(locked, coupling=jnp.asarray(0.01), omega=jnp.asarray(10 * omega))
    traj = nd.simulate(loose, 20000, state=PhaseState(jnp.zeros(64), jax.random.PRNGKey(0)), every=2,
                       record=("theta",))
    rate = phase_slips(traj["theta"]).sum() / (64 * 20000 * 0.05)
    assert rate > 0.01


def test_bad_parameters():
    with pytest.raises(SpecError, match="noise"):
        KuramotoMeanField.create(10, noise=-1.0)
    with pytest.raises(SpecError, match="euler_maruyama"):
        KuramotoMeanField.create(10, noise=0.1, method="rk4")
    with pytest.raises(SpecError, match="dist"):
        natural_frequencies(10, "cauchy")


def test_edwards_wilkinson_roughness_exponent_from_saturated_widths():
    # EW (odd coupling, time noise): W_sat ~ L^alpha with alpha = 1/2 (docs/models/kuramoto.md); saturation
    # time ~ L^2 / (pi^2 K) <= ~100 for L <= 32, widths averaged over t in [1000, 2000]
    from neurodyn.diagnostics import roughness_exponent

    sizes, saturated = [8, 16, 32], []
    for size in sizes:
        m = PhaseLattice1D.create(size, coupling=1.0, noise=0.1, dt=0.1)
        t, w = width_growth(m, 64, 20000, 50, seed=size)
        saturated.append(w[t >= 1000].mean())
    alpha = roughness_exponent(sizes, saturated)
    assert abs(alpha - 0.5) < 0.08, alpha
