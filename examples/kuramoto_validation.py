"""Prints the Kuramoto validation numbers that tests/models/test_kuramoto.py asserts:
r(K) against Ott–Antonsen (Lorentzian), the Gaussian and Sakaguchi onsets, and the growth and
roughness exponents of the 1-D lattice (docs/models/kuramoto.md: V4, V5, V14).

Run: python examples/kuramoto_validation.py   (about one minute on 2 cores)
"""

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import neurodyn as nd
from neurodyn.diagnostics import growth_exponent, roughness_exponent, width_growth
from neurodyn.models import KuramotoMeanField, PhaseLattice1D, natural_frequencies

nd.set_precision("float64")


def mean_r(model, couplings, lags, steps, average_from):
    state = model.init(jax.random.PRNGKey(0))

    def one(k, lag):
        m = dataclasses.replace(model, coupling=k, lag=lag)
        return nd.run(m, state, steps, record=("r",))[1]["r"][average_from:].mean()

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(couplings), jnp.asarray(lags)))


def main():
    n = 2000
    m = KuramotoMeanField.create(n, omega=natural_frequencies(n, "lorentzian", 0.5, quantile=True), dt=0.05)
    ks = np.array([0.5, 1.5, 2.0, 3.0])
    r = mean_r(m, ks, np.zeros(4), 6000, 3000)
    print("Lorentzian gamma = 0.5 (K_c = 1): r =", r.round(4), " theory", np.sqrt(np.clip(1 - 1 / ks, 0, None)).round(4))
    m = KuramotoMeanField.create(4000, omega=natural_frequencies(4000, "gaussian", 1.0, quantile=True), dt=0.05)
    ks = np.linspace(1.7, 2.1, 5)
    r = mean_r(m, ks, np.zeros(5), 8000, 4000)
    slope, intercept = np.polyfit(ks, r ** 2, 1)
    print(f"Gaussian sigma = 1: K_c from the r^2 line = {-intercept / slope:.3f}  theory sqrt(8/pi) = {np.sqrt(8 / np.pi):.3f}")
    m = KuramotoMeanField.create(3000, omega=natural_frequencies(3000, "lorentzian", 0.5, quantile=True), dt=0.05)
    ks = np.array([2.0, 2.5, 3.0])
    r = mean_r(m, ks, np.full(3, 0.6), 8000, 4000)
    print(f"Sakaguchi alpha = 0.6: K_c = {np.mean((1 - r ** 2) * ks):.4f}  theory 2 gamma / cos(alpha) = {1 / np.cos(0.6):.4f}")
    cases = [("random deposition (K = 0, D = 0.1)", PhaseLattice1D.create(512, coupling=0.0, noise=0.1, dt=0.05), 8,
              20000, 20, (10, 990), 0.5),
             ("linear growth (K = 0, columnar)", PhaseLattice1D.create(512, omega=natural_frequencies(512, "gaussian", 0.1, seed=4),
                                                                        coupling=0.0, dt=0.05), 1, 20000, 20, (10, 990), 1.0),
             ("Edwards-Wilkinson (K = 1, D = 0.1)", PhaseLattice1D.create(512, coupling=1.0, noise=0.1, dt=0.05), 16,
              40000, 40, (20, 1990), 0.25)]
    for label, model, reps, steps, every, window, theory in cases:
        t, w = width_growth(model, reps, steps, every)
        print(f"{label}: beta = {growth_exponent(t, w, *window):.3f} on t in {window}  (asymptotic {theory})")
    sizes, saturated = [8, 16, 32], []
    for size in sizes:
        t, w = width_growth(PhaseLattice1D.create(size, coupling=1.0, noise=0.1, dt=0.1), 64, 20000, 50, seed=size)
        saturated.append(w[t >= 1000].mean())
    print(f"Edwards-Wilkinson roughness: alpha = {roughness_exponent(sizes, saturated):.3f} (L = {sizes}; theory 1/2)")


if __name__ == "__main__":
    # no options: an unknown one (--quick included) is an error, never silently ignored
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
