from pathlib import Path

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


def test_cross_correlation_is_defined_at_fixed_points_the_same_way_everywhere(tmp_path):
    import jax
    import jax.numpy as jnp

    from neurodyn.diagnostics import accumulators as acc_
    from neurodyn.sweep import sweep

    # columns: two nodes resting at one value, a node resting elsewhere, two varying nodes
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(400, 2)).cumsum(axis=0)
    x = np.column_stack([np.full(400, 0.0146), np.full(400, 0.0146), np.full(400, 0.7), noise])
    # definition (accumulators.xcorr_finalize): equal constants 1, a constant with anything else 0
    expected = np.zeros((5, 5))
    expected[:2, :2] = 1.0
    expected[2, 2] = 1.0
    expected[3:, 3:] = np.corrcoef(noise.T)
    gamma, mean = cross_correlation(x)
    np.testing.assert_allclose(gamma, expected, atol=1e-12)
    assert abs(mean - expected[np.triu_indices(5, 1)].mean()) < 1e-12
    stream = CrossCorrelationStream()
    for part in np.array_split(x, 6):
        stream.update(part)
    np.testing.assert_allclose(stream.result()[0], expected, atol=1e-12)
    in_jit = jax.jit(lambda a: acc_.xcorr_finalize(acc_.xcorr_update(acc_.xcorr_init(a[0]), a)))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(in_jit), expected, atol=1e-12)
    # an exact fixed point (0) and one reached up to rounding, in float32 too: no NaN
    for dtype in (np.float64, np.float32):
        y = np.column_stack([np.zeros(50), np.full(50, 0.3) + np.tile([0, np.finfo(dtype).eps * 0.3], 25)]).astype(dtype)
        np.testing.assert_array_equal(cross_correlation(y)[0], [[1, 0], [0, 1]])
    # the sweep measure: the ring-star network rests at x = 0 for k = 0 and at x ~ 0.0146 for
    # k = 0.012 (all four nodes at one fixed point), which used to be NaN
    spec = Path(__file__).resolve().parents[2] / "models" / "chialvo_ring_star.toml"
    res = sweep(spec, {"populations.neurons.k": [0.0, 0.012]}, ["cross_correlation:neurons.x", "var:neurons.x"],
                steps=1500, transient=1000, out=tmp_path / "s.h5", progress=False)
    assert np.all(res.results["var(neurons.x)"] < 1e-18)  # <x^2> - <x>^2: zero up to rounding
    np.testing.assert_array_equal(res.results["cross_correlation(neurons.x)"], [1.0, 1.0])
    np.testing.assert_array_equal(res.results["cross_correlation(neurons.x).hub"], [1.0, 1.0])
