"""DeepESN (Gallicchio, Micheli, Pedrelli, Neurocomputing 268:87, 2017) against a NumPy loop of the
paper's equations, its spec, its readout over all layers and its stability at the origin."""

import numpy as np
import pytest

from neurodyn.connectivity.matrices import spectral_radius
from neurodyn.errors import SpecError
from neurodyn.models import DeepESN
from neurodyn.readout import Ridge, harvest
from neurodyn.spec import build_spec


def _numpy_loop(deep, u):
    """x1 <- (1-a) x1 + a tanh(W_in u + b1 + W1 x1); xl <- (1-a) xl + a tanh(V_l x_{l-1}(n) + bl + Wl xl)."""
    layers = [(np.asarray(la.w), np.asarray(la.w_in), np.asarray(la.bias), float(la.leak)) for la in deep.layers]
    v = np.asarray(deep.w_inter)
    xs = [np.zeros(len(b)) for _, _, b, _ in layers]
    out = []
    for ut in u:
        for l, (w, w_in, b, a) in enumerate(layers):
            drive = w_in @ ut if l == 0 else v[l - 1] @ xs[l - 1]
            xs[l] = (1 - a) * xs[l] + a * np.tanh(drive + b + w @ xs[l])
        out.append(np.concatenate(xs))
    return np.array(out)


@pytest.fixture(scope="module")
def deep():
    return DeepESN.create(3, 30, 2, spectral_radius=0.9, input_scaling=0.8, inter_scaling=0.4, bias_scaling=0.3,
                          leak=0.6, density=0.2, seed=4)


def test_states_equal_a_numpy_loop_of_the_equations(deep):
    u = np.random.default_rng(1).uniform(-1, 1, (200, 2))
    states = harvest(deep, u)
    assert states.shape == (200, 90)
    np.testing.assert_allclose(states, _numpy_loop(deep, u), rtol=0, atol=1e-12)


def test_leaky_radius_convention_and_the_origin_spectrum_is_the_union_of_the_layers():
    deep = DeepESN.create(3, 20, spectral_radius=0.95, leak=0.3, radius_of="leaky", seed=2)
    blocks = [(1 - 0.3) * np.eye(20) + 0.3 * np.asarray(la.w) for la in deep.layers]
    np.testing.assert_allclose([spectral_radius(b) for b in blocks], 0.95, rtol=1e-10)
    # block lower-triangular Jacobian: its spectral radius is the largest of the diagonal blocks'
    assert abs(spectral_radius(np.asarray(deep.jacobian_at_origin())) - 0.95) < 1e-8
    plain = DeepESN.create(2, 20, spectral_radius=0.95, leak=0.3, seed=2)
    np.testing.assert_allclose(spectral_radius(np.asarray(plain.layers[1].w)), 0.95, rtol=1e-10)


def test_spec_builds_the_same_network_and_reads_out_all_layers(deep):
    spec = build_spec({"name": "d", "steps": 10, "seed": 4, "precision": "float64",
                       "populations": {"r": {"model": "deep_esn", "n": 90, "layers": 3, "n_inputs": 2,
                                             "input_scaling": 0.8, "inter_scaling": 0.4, "bias_scaling": 0.3,
                                             "leak": 0.6, "density": 0.2}}})
    built = spec.model.populations["r"]
    for a, b in zip(built.layers, deep.layers):
        np.testing.assert_array_equal(np.asarray(a.w), np.asarray(b.w))
    np.testing.assert_array_equal(np.asarray(built.w_inter), np.asarray(deep.w_inter))
    # recall of u(n - 2): the readout of all layers beats layer 1's alone (measured NRMSE 0.55 vs 0.66;
    # deeper layers hold older inputs, the paper's memory argument)
    u = np.random.default_rng(3).uniform(-1, 1, (1500, 2))
    x = harvest(deep, u)
    target = np.roll(u[:, :1], 2, axis=0)
    fit = Ridge(ridge=1e-6, washout=100).fit(x[:1000], target[:1000])
    score_all = fit.score(x[1000:], target[1000:])["nrmse"]
    first = Ridge(ridge=1e-6, washout=100).fit(x[:1000, :30], target[:1000])
    score_first = first.score(x[1000:, :30], target[1000:])["nrmse"]
    assert score_all < score_first - 0.05
    with pytest.raises(SpecError, match="do not divide into 4 layers"):
        build_spec({"name": "d", "steps": 10, "populations": {"r": {"model": "deep_esn", "n": 90, "layers": 4}}})
