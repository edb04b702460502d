import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.connectivity import erdos_renyi, ring, ring_star, star, triadic_laplacian, triangles
from neurodyn.ops import Diffusion, SimplicialDiffusion


def _op(g, structure=True):
    return Diffusion.from_csr(g.n, g.indptr, g.indices, g.weights, g.structure if structure else None)


@pytest.mark.parametrize("graph", [ring(12, 2), ring_star(9, 1, "ring"), ring_star(9, 1, "star"), star(7),
                                   erdos_renyi(15, 0.3, seed=2)])
def test_diffusion_kernels_equal_minus_laplacian(graph):
    # (D x)_i = sum_j A_ij (x_j - x_i) = -(L x)_i with L = diag(deg) - A
    x = np.random.default_rng(0).normal(size=graph.n)
    expected = -graph.laplacian() @ x
    np.testing.assert_allclose(np.asarray(_op(graph)(jnp.asarray(x))), expected, atol=1e-13)
    np.testing.assert_allclose(np.asarray(_op(graph, structure=False)(jnp.asarray(x))), expected, atol=1e-13)


def test_structured_kernels_are_chosen_from_the_structure_tag():
    assert _op(ring(10)).kind == "circulant"
    assert _op(ring_star(5, 1, "star")).kind == "star"
    assert _op(ring_star(5, 1, "all")).kind == "csr"
    # non-uniform weights fall back to the generic kernel
    assert _op(ring(10).with_weights(np.arange(20) + 1.0)).kind == "csr"


def test_linear_simplicial_diffusion_equals_minus_triadic_laplacian():
    g = erdos_renyi(12, 0.5, seed=3)
    tris = triangles(g)
    assert len(tris) > 5
    x = np.random.default_rng(1).normal(size=g.n)
    op = SimplicialDiffusion(g.n, "linear", jnp.asarray(tris))
    np.testing.assert_allclose(np.asarray(op(jnp.asarray(x))), -triadic_laplacian(tris, g.n) @ x, atol=1e-12)


def test_quadratic_simplicial_diffusion_matches_loop():
    tris = np.array([[0, 1, 2], [1, 2, 3], [0, 2, 4]])
    x = np.random.default_rng(2).normal(size=5)
    expected = np.zeros(5)
    for t in tris:
        for p in range(3):
            i, j, l = t[p], t[(p + 1) % 3], t[(p + 2) % 3]
            expected[i] += x[j] * x[l] - x[i] ** 2
    op = SimplicialDiffusion(5, "quadratic", jnp.asarray(tris))
    np.testing.assert_allclose(np.asarray(op(jnp.asarray(x))), expected, atol=1e-13)
