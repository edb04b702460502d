import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.connectivity import erdos_renyi, ring, ring_star, star, triadic_laplacian, triangles
from neurodyn.ops import CompositeDiffusion, Diffusion, SimplicialDiffusion, triadic_diffusion


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


@pytest.mark.parametrize("graph", [ring_star(999), ring_star(3), ring_star(20, 2), ring_star(30, 3),
                                   erdos_renyi(40, 0.3, seed=4), erdos_renyi(60, 0.1, seed=5), ring(15, 3)])
def test_triadic_diffusion_equals_linear_simplicial_diffusion(graph):
    tris = triangles(graph)
    assert len(tris) > 0
    op = triadic_diffusion(graph.n, tris)
    ref = SimplicialDiffusion(graph.n, "linear", jnp.asarray(tris))
    rng = np.random.default_rng(6)
    # jitted (as in a simulation): one compilation per operator instead of one per primitive
    fast, slow = jax.jit(lambda x: op(x)), jax.jit(lambda x: ref(x))
    for x in (rng.normal(size=graph.n), rng.uniform(-1, 3, size=graph.n)):
        np.testing.assert_allclose(np.asarray(fast(jnp.asarray(x))), np.asarray(slow(jnp.asarray(x))),
                                   rtol=1e-14, atol=1e-12)  # the hub's sum reaches ~4e3
    # difference form: identical node values give exactly zero (synchrony stays bitwise), eager
    # and compiled
    for dt in (jnp.float32, jnp.float64):
        op_dt = triadic_diffusion(graph.n, tris, dt)
        compiled = jax.jit(lambda x: op_dt(x))
        for v in (0.3, -1.7, 1e3 / 7):
            x = jnp.full(graph.n, v, dt)
            assert np.all(np.asarray(compiled(x)) == 0) and np.all(np.asarray(op_dt(x)) == 0)


def test_triadic_diffusion_on_the_ring_star_uses_structured_kernels():
    # ring-star triangles (0, i, i+1): the hub shares 2 triangles with every leaf, ring edges 1
    op = triadic_diffusion(1000, triangles(ring_star(999)))
    assert op.kinds == ("star", "circulant")
    star, circ = op.parts
    assert star.hub == 0 and float(star.weights[0]) == 2.0
    assert (circ.start, circ.size, circ.offsets, float(circ.weights[0])) == (1, 999, (1, -1), 1.0)
    # k = 2: star weight 2k, ring offsets 1 and 2 in 2 + 1 and 1 + 1 triangles
    op2 = triadic_diffusion(21, triangles(ring_star(20, 2)))
    assert op2.kinds == ("star", "circulant", "circulant")
    assert [(p.offsets, float(p.weights[0])) for p in op2.parts] == [((), 4.0), ((1, -1), 3.0), ((2, -2), 2.0)]
    # a random graph keeps the generic kernel
    g = erdos_renyi(40, 0.3, seed=4)
    assert triadic_diffusion(g.n, triangles(g)).kinds == ("csr",)


@pytest.mark.parametrize("graph", [ring(12, 2), ring_star(9, 1, "ring"), ring_star(9, 1, "star"), ring_star(9, 2),
                                   star(7), erdos_renyi(15, 0.3, seed=2)])
def test_composite_diffusion_detects_structure_and_equals_minus_laplacian(graph):
    x = np.random.default_rng(0).normal(size=graph.n)
    op = CompositeDiffusion.from_csr(graph.n, graph.indptr, graph.indices, graph.weights)
    np.testing.assert_allclose(np.asarray(op(jnp.asarray(x))), -graph.laplacian() @ x, atol=1e-13)
    if graph.structure is not None:
        assert op.kinds == (graph.structure[0],)


def test_composite_diffusion_with_perturbed_weights_keeps_a_csr_remainder():
    # a ring-star whose weights differ on a few edges: star + circulant + remainder
    g = ring_star(30, 1)
    w = np.asarray(g.weights, float).copy()
    w[[3, 17, 40]] += [0.5, -2.0, 1.25]
    g = g.with_weights(w)
    op = CompositeDiffusion.from_csr(g.n, g.indptr, g.indices, g.weights)
    assert op.kinds == ("star", "circulant", "csr")
    assert op.parts[-1].weights.size == 3
    x = np.random.default_rng(1).normal(size=g.n)
    np.testing.assert_allclose(np.asarray(op(jnp.asarray(x))), -g.laplacian() @ x, atol=1e-13)
    assert np.all(np.asarray(op(jnp.full(g.n, 0.7))) == 0)
