"""One conformance test over every registered model (and every model registered later): it jits,
vmaps over a parameter, differentiates, sits in a Network with a projection, has the same
Lyapunov spectrum bare and wrapped, and round-trips through its spec.

Each model is built from its registry example (``neurodyn.schema.MODELS[name].example``) as the
population ``pop`` of a float64 spec."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
import neurodyn.models  # noqa: F401  (registers the models)
from neurodyn.core import Network, surface
from neurodyn.core.parameters import get_parameter, with_parameter
from neurodyn.diagnostics import lyapunov_spectrum
from neurodyn.models import LinearProjection
from neurodyn.pytree import is_inexact, partition, trainable_mask
from neurodyn.schema import MODELS
from neurodyn.spec import build_spec

NAMES = sorted(MODELS)
# stimuli replay or draw spikes: no float state to vary, differentiate, couple into or perturb
# (their own tests: tests/models/test_stimuli.py); jit, spec round trip and sizes still apply
STIMULI = {"spike_generator", "poisson_generator"}


def _skip_stimulus(name):
    if name in STIMULI:
        pytest.skip("a stimulus has no float state")
STEPS = 20


def _spec_data(name):
    return {"name": "conformance", "steps": STEPS, "seed": 3, "precision": "float64",
            "populations": {"pop": {"model": name, **MODELS[name].example}}}


def _build(name):
    spec = build_spec(_spec_data(name))
    return spec.model.populations["pop"], spec.state["pop"], spec


def _float_observables(model, state):
    return {k: v for k, v in model.observe(state).items() if is_inexact(v)}


def _final(model, state):
    """The state after ``STEPS`` steps. Recording every observable (unused here) makes this the
    same compiled program as the plain ``nd.run`` of the jit/vmap test: one compilation per
    model instead of two (the records cost nothing at 20 steps)."""
    return nd.run(model, state, STEPS)[0]


def _loss(model, state):
    final = _final(model, state)
    return sum(jnp.sum(jnp.tanh(v)) for v in _float_observables(model, final).values())


def _parameter_paths(model):
    """Dotted paths of the trainable leaves that are direct fields of the model."""
    mask = trainable_mask(model)
    static = getattr(type(model), "__static_fields__", frozenset())
    paths = []
    for f in dataclasses.fields(model):
        if f.name in static:
            continue
        m = getattr(mask, f.name)
        if m is True:
            paths.append(f.name)
        elif isinstance(m, dict):  # parameters held in a dict (equation models: params.<name>)
            paths += [f"{f.name}.{k}" for k, v in m.items() if v is True]
    return paths


def test_every_model_family_is_registered_with_an_example():
    assert {"chialvo", "rulkov", "rulkov_piecewise", "kuramoto", "kuramoto_graph", "kuramoto_lattice", "esn",
            "lif"} <= set(NAMES)
    for name in NAMES:
        assert MODELS[name].example, name


@pytest.mark.parametrize("name", NAMES)
def test_model_jits_and_vmaps_over_a_parameter(name):
    _skip_stimulus(name)
    model, state, _ = _build(name)
    eager = nd.run(model, state, STEPS)[1]
    jitted = jax.jit(lambda m, s: nd.run(m, s, STEPS)[1])(model, state)
    for k in eager:
        np.testing.assert_allclose(np.asarray(jitted[k]), np.asarray(eager[k]), rtol=1e-12, atol=1e-12)
    path = _parameter_paths(model)[0]
    base = jnp.asarray(get_parameter(model, path))
    scales = jnp.array([0.99, 1.0, 1.01])

    def final_obs(scale):
        m = with_parameter(model, path, base * scale)
        return _float_observables(m, _final(m, state))

    batched = jax.vmap(final_obs)(scales)
    for i, s in enumerate(np.asarray(scales)):
        one = final_obs(s)
        for k in one:
            np.testing.assert_allclose(np.asarray(batched[k][i]), np.asarray(one[k]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_is_finite_and_equals_central_finite_differences(name):
    _skip_stimulus(name)
    model, state, _ = _build(name)
    g = nd.grad(_loss)(model, state)
    g_leaves = jax.tree_util.tree_leaves(g)
    assert g_leaves and all(np.all(np.isfinite(np.asarray(x))) for x in g_leaves)
    if not surface(model).variables or not getattr(type(model), "SMOOTH", True):
        return  # thresholds: gradients exist almost everywhere but do not match a finite difference
    rng = np.random.default_rng(0)
    paths = _parameter_paths(model)
    assert paths
    for path in paths:
        leaf = np.asarray(get_parameter(model, path))
        v = rng.normal(size=leaf.shape)
        h = 1e-6 * max(1.0, float(np.abs(leaf).max()))
        plus = float(_loss(with_parameter(model, path, leaf + h * v), state))
        minus = float(_loss(with_parameter(model, path, leaf - h * v), state))
        fd = (plus - minus) / (2 * h)
        analytic = float(np.sum(np.asarray(get_parameter(g, path)) * v))
        assert abs(analytic - fd) <= 1e-4 * max(abs(fd), abs(analytic)) + 1e-7, (path, analytic, fd)


def _self_projection(model, state, gain):
    s = surface(model)
    port = next((p for p in s.ports if p in s.variables), s.input_port)  # a state port, else the input port
    obs = next(k for k, v in _float_observables(model, state).items() if k in s.variables)
    size_in = int(np.size(model.observe(state)[obs]))
    size_out = int(np.size(model.observe(state)[port])) if port in model.observe(state) else size_in
    return LinearProjection.create("pop", "pop", np.ones((size_out, size_in)) / size_in, observable=obs, port=port,
                                   gain=gain, delay=1)


@pytest.mark.parametrize("name", NAMES)
def test_model_sits_in_a_network_with_a_projection(name):
    _skip_stimulus(name)
    model, state, _ = _build(name)
    bare = nd.simulate(model, STEPS, state=state)
    silent = Network({"pop": model}, {"self": _self_projection(model, state, 0.0)})
    wrapped = nd.simulate(silent, STEPS, state={"pop": state})
    for k in bare.names:  # a zero-gain projection changes nothing (up to the compiler's operation order)
        np.testing.assert_allclose(wrapped[f"pop.{k}"], bare[k], rtol=1e-12, atol=1e-12)
    coupled = Network({"pop": model}, {"self": _self_projection(model, state, 0.5)})
    traj = nd.simulate(coupled, STEPS, state={"pop": state})
    floats = [k for k in bare.names if np.issubdtype(bare[k].dtype, np.floating)]
    assert all(np.all(np.isfinite(traj[f"pop.{k}"])) for k in floats)
    assert any(not np.array_equal(traj[f"pop.{k}"], bare[k]) for k in floats)


@pytest.mark.parametrize("name", NAMES)
def test_lyapunov_spectrum_is_the_same_bare_and_wrapped(name):
    _skip_stimulus(name)
    model, state, _ = _build(name)
    dim = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(partition(state, is_inexact)[0]))
    k = min(3, dim)
    bare = lyapunov_spectrum(model, 200, k=k, state=state)
    wrapped = lyapunov_spectrum(Network({"pop": model}), 200, k=k, state={"pop": state})
    np.testing.assert_allclose(np.asarray(wrapped), np.asarray(bare), rtol=0, atol=1e-10)
    assert np.all(np.isfinite(np.asarray(bare)) | (np.asarray(bare) == -np.inf))


@pytest.mark.parametrize("name", NAMES)
def test_model_round_trips_through_its_spec(name, tmp_path):
    import tomli_w

    from neurodyn.spec import load_spec

    model, state, spec = _build(name)
    path = tmp_path / "spec.toml"
    path.write_text(tomli_w.dumps(_spec_data(name)))
    again = load_spec(path)
    m2, s2 = again.model.populations["pop"], again.state["pop"]
    assert type(m2) is type(model)
    a, b = jax.tree_util.tree_flatten((model, state)), jax.tree_util.tree_flatten((m2, s2))
    assert a[1] == b[1]
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # the stored spec text re-builds the same model too
    path.write_text(again.text)
    third = load_spec(path)
    for x, y in zip(a[0], jax.tree_util.tree_leaves((third.model.populations["pop"], third.state["pop"]))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("name", NAMES)
def test_model_states_its_size_for_couplings_and_projections(name):
    # couplings and projections read a population's size as model.n (a spec's n)
    model, _, _ = _build(name)
    assert model.n == MODELS[name].example.get("n", model.n) and int(model.n) >= 1


def test_plastic_ei_reservoir_states_its_size():
    data = _spec_data("ei_reservoir")
    data["populations"]["pop"]["adapt"] = True
    model = build_spec(data).model.populations["pop"]
    assert type(model).__name__ == "AdaptiveEIReservoir" and model.n == MODELS["ei_reservoir"].example["n"]
