"""Spectral radius and largest singular value: ARPACK (Arnoldi) against LAPACK, for NumPy, JAX and
scipy.sparse inputs, and no dense decomposition above ``DENSE_SPECTRUM_MAX`` units."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.connectivity import matrices
from neurodyn.connectivity.matrices import largest_singular_value, random_sparse, spectral_radius
from neurodyn.errors import SpecError
from neurodyn.models import ESN


def test_arnoldi_equals_dense_for_every_input_kind():
    w = random_sparse(400, density=0.1, seed=3)
    dense_rho = np.max(np.abs(np.linalg.eigvals(w)))  # LAPACK, the reference
    dense_sigma = np.linalg.svd(w, compute_uv=False)[0]
    for given in (w, jnp.asarray(w), sp.csr_matrix(w), w.tolist()):
        assert spectral_radius(given, method="arnoldi") == pytest.approx(dense_rho, rel=1e-10)
        assert spectral_radius(given, method="dense") == pytest.approx(dense_rho, rel=1e-12)
        assert largest_singular_value(given, method="arnoldi") == pytest.approx(dense_sigma, rel=1e-10)


def test_a_complex_leading_pair_and_a_rotation_are_found():
    # a scaled rotation block dominating a small random part: rho = 2 exactly, a complex pair
    w = 0.01 * random_sparse(200, density=0.05, seed=1)
    w[:2, :2] = [[0.0, -2.0], [2.0, 0.0]]
    assert spectral_radius(w, method="arnoldi") == pytest.approx(np.max(np.abs(np.linalg.eigvals(w))), rel=1e-10)


def test_large_matrices_are_never_decomposed_densely(monkeypatch):
    monkeypatch.setattr(matrices, "DENSE_SPECTRUM_MAX", 100)

    def refuse(*args, **kwargs):
        raise AssertionError("a dense decomposition above DENSE_SPECTRUM_MAX")

    reference = np.linalg.eigvals
    monkeypatch.setattr(np.linalg, "eigvals", refuse)
    monkeypatch.setattr(np.linalg, "norm", refuse)
    esn = ESN.create(300, spectral_radius=0.9, density=0.1, seed=2, dtype=np.float64)
    monkeypatch.setattr(np.linalg, "eigvals", reference)
    assert np.max(np.abs(np.linalg.eigvals(np.asarray(esn.w)))) == pytest.approx(0.9, rel=1e-10)


def test_bad_input_names_the_problem():
    with pytest.raises(SpecError, match="square matrix"):
        spectral_radius(np.ones((3, 4)))
    with pytest.raises(SpecError, match="method must be"):
        spectral_radius(np.eye(3), method="lanczos")
