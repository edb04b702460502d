import numpy as np
import pytest
import scipy.sparse as sp

from neurodyn.connectivity import (chain, complete, erdos_renyi, fixed_indegree, from_edges, from_scipy, lattice_1d,
                                   lattice_2d, ring, ring_star, star, triadic_laplacian, triangles, watts_strogatz)
from neurodyn.errors import SpecError


def test_ring_degrees_and_symmetry():
    g = ring(20, 3)
    assert g.is_symmetric()
    np.testing.assert_array_equal(g.in_degree(), np.full(20, 6))
    assert g.nnz == 20 * 6
    assert g.structure == ("circulant", 0, 20, (1, -1, 2, -2, 3, -3))


def test_star_and_ring_star_degrees():
    np.testing.assert_array_equal(star(6).in_degree(), [5, 1, 1, 1, 1, 1])
    g = ring_star(10, 2)
    assert g.is_symmetric()
    np.testing.assert_array_equal(g.in_degree(), [10] + [5] * 10)  # hub: 10 leaves; ring nodes: 4 + hub
    parts = ring_star(10, 2, "star").to_dense() + ring_star(10, 2, "ring").to_dense()
    np.testing.assert_array_equal(parts, g.to_dense())


def test_smallest_ring_star_is_complete_graph_k4():
    np.testing.assert_array_equal(ring_star(3).to_dense(), complete(4).to_dense())
    np.testing.assert_array_equal(complete(4).to_dense(), np.ones((4, 4)) - np.eye(4))


def test_chain_and_lattices():
    np.testing.assert_array_equal(chain(5).in_degree(), [1, 2, 2, 2, 1])
    np.testing.assert_array_equal(lattice_1d(6, periodic=False).in_degree(), [1, 2, 2, 2, 2, 1])
    np.testing.assert_array_equal(lattice_2d(4, 5).in_degree(), np.full(20, 4))
    open_deg = lattice_2d(3, 3, periodic=False).in_degree().reshape(3, 3)
    np.testing.assert_array_equal(open_deg, [[2, 3, 2], [3, 4, 3], [2, 3, 2]])
    assert lattice_2d(4, 5).is_symmetric()


def test_erdos_renyi_is_seeded_symmetric_and_has_expected_density():
    g1, g2, g3 = erdos_renyi(300, 0.05, seed=1), erdos_renyi(300, 0.05, seed=1), erdos_renyi(300, 0.05, seed=2)
    np.testing.assert_array_equal(g1.to_dense(), g2.to_dense())
    assert not np.array_equal(g1.to_dense(), g3.to_dense())
    assert g1.is_symmetric()
    pairs = 300 * 299 / 2
    edges = g1.nnz / 2
    # binomial(pairs, p): within 4 standard deviations
    assert abs(edges - 0.05 * pairs) < 4 * np.sqrt(pairs * 0.05 * 0.95)
    assert np.all(g1.to_dense().diagonal() == 0)


def test_fixed_indegree_exact_and_no_self_loops():
    g = fixed_indegree(50, 7, seed=4)
    np.testing.assert_array_equal(g.in_degree(), np.full(50, 7))
    assert np.all(g.to_dense().diagonal() == 0)
    np.testing.assert_array_equal(g.to_dense(), fixed_indegree(50, 7, seed=4).to_dense())


def test_watts_strogatz_keeps_edge_count_and_reduces_to_ring():
    np.testing.assert_array_equal(watts_strogatz(30, 2, 0.0, seed=1).to_dense(), ring(30, 2).to_dense())
    g = watts_strogatz(100, 3, 0.3, seed=5)
    assert g.is_symmetric()
    assert g.nnz == 2 * 100 * 3
    assert np.all(g.to_dense().diagonal() == 0)
    assert not np.array_equal(g.to_dense(), ring(100, 3).to_dense())
    np.testing.assert_array_equal(g.to_dense(), watts_strogatz(100, 3, 0.3, seed=5).to_dense())


def test_triangles_and_triadic_laplacian_on_k4_is_twice_pairwise():
    # docs/models/maps.md V24: on K4, T_i = 3, T_ij = 2, so L2 = 8 I - 2 * 11^T = 2 L
    k4 = ring_star(3)
    tris = triangles(k4)
    np.testing.assert_array_equal(tris, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(triadic_laplacian(tris, 4), 2 * k4.laplacian())
    assert len(triangles(ring(10))) == 0
    assert len(triangles(complete(6))) == 20  # C(6, 3)


def test_scipy_round_trip_and_edges():
    m = sp.random(40, 40, density=0.1, random_state=0, format="csr")
    m.setdiag(0)
    g = from_scipy(m)
    np.testing.assert_array_equal(g.to_scipy().toarray(), m.toarray())
    d = from_edges(3, [(0, 1), (1, 0), (0, 1)]).to_dense()
    np.testing.assert_array_equal(d, [[0, 2, 0], [1, 0, 0], [0, 0, 0]])  # directed duplicates add up


@pytest.mark.parametrize("build", [lambda: ring(4, 2), lambda: ring(0), lambda: star(1), lambda: erdos_renyi(10, 1.5),
                                   lambda: fixed_indegree(5, 5), lambda: from_edges(3, [(0, 0)]),
                                   lambda: from_edges(3, [(0, 3)]), lambda: ring_star(3, part="hub")])
def test_bad_graph_parameters_raise_spec_error(build):
    with pytest.raises(SpecError):
        build()
