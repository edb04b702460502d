import numpy as np

from neurodyn.connectivity import ring
from neurodyn.diagnostics import (cross_correlation, graph_local_order_parameter, local_order_parameter,
                                  order_parameter, roughness_exponent, surface_width)
from neurodyn.diagnostics.streaming import CrossCorrelationStream, OrderParameterStream


def test_order_parameter_values():
    r, psi = order_parameter(np.full((3, 50), 1.2))
    np.testing.assert_allclose(r, 1.0)
    np.testing.assert_allclose(psi, 1.2)
    r, _ = order_parameter(np.linspace(0, 2 * np.pi, 40, endpoint=False))  # splay state
    assert r < 1e-14
    r, _ = order_parameter(np.array([0.0, np.pi / 2]))
    assert abs(r - np.sqrt(2) / 2) < 1e-15


def test_local_order_parameters():
    theta = np.array([0.0, 0.0, np.pi, np.pi, 0.0, 0.0])
    loc = local_order_parameter(theta, radius=1)
    np.testing.assert_allclose(loc, [1, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 1], atol=1e-15)
    np.testing.assert_allclose(graph_local_order_parameter(theta, ring(6, 1)), [1, 0, 0, 0, 0, 1], atol=1e-15)


def test_cross_correlation_matches_numpy_corrcoef():
    x = np.random.default_rng(0).normal(size=(500, 5)).cumsum(axis=0)
    gamma, mean = cross_correlation(x)
    np.testing.assert_allclose(gamma, np.corrcoef(x.T), atol=1e-12)
    i, j = np.triu_indices(5, 1)
    assert abs(mean - np.corrcoef(x.T)[i, j].mean()) < 1e-12
    _, hub = cross_correlation(x, "hub")
    assert abs(hub - np.corrcoef(x.T)[0, 1:].mean()) < 1e-12
    _, same = cross_correlation(np.repeat(x[:, :1], 3, axis=1) * [1, 2, 5])  # amplitude-rescaled copies
    assert abs(same - 1) < 1e-12


def test_streams_equal_batch_results():
    x = np.random.default_rng(1).normal(size=(300, 4))
    s = CrossCorrelationStream()
    for part in np.array_split(x, 7):
        s.update(part)
    np.testing.assert_allclose(s.result()[0], np.corrcoef(x.T), atol=1e-12)
    theta = np.random.default_rng(2).uniform(0, 6, size=(100, 30))
    o = OrderParameterStream()
    for part in np.array_split(theta, 3):
        o.update(part)
    np.testing.assert_allclose(o.result()[0], order_parameter(theta)[0])


def test_surface_width_and_roughness_fit():
    phi = np.random.default_rng(3).normal(size=(10, 4, 256)) * 2.0  # (time, realizations, L)
    w = surface_width(phi)
    assert w.shape == (10,) and np.all(np.abs(w - 2.0) < 0.1)
    sizes = np.array([64, 128, 256, 512])
    assert abs(roughness_exponent(sizes, 0.3 * sizes ** 0.5) - 0.5) < 1e-12
