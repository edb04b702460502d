"""Residual reservoirs: ResESN, DeepResESN, ResRMN against their defining equations
(docs/models/reservoirs.md; Ceni & Gallicchio 2024; Pinna, Ceni & Gallicchio 2025)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import ESN, ResESN, deep_res_esn, res_rmn
from neurodyn.models.residual import StabilityWarning, orthogonal_matrix


def _input(t, seed=0, n_inputs=1):
    return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (t, n_inputs)))


def test_res_esn_with_identity_branch_is_exactly_the_leaky_esn():
    # O = I, alpha = 1 - a, beta = a: x = (1 - a) x + a tanh(W x + W_in u + b)
    a = 0.3
    esn = ESN.create(40, 2, spectral_radius=0.9, bias_scaling=0.2, leak=a, seed=4)
    res = ResESN.from_matrices(esn.w, esn.w_in, esn.bias, o="identity", alpha=1 - a, beta=a)
    u = _input(300, n_inputs=2)
    np.testing.assert_allclose(nd.simulate(res, 300, drive=u)["x"], nd.simulate(esn, 300, drive=u)["x"],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["random", "cycle"])
def test_pure_orthogonal_branch_conserves_the_norm(kind):
    # beta -> 0 removes the non-linear branch: x(n) = O x(n-1) keeps ||x|| exactly (O orthogonal)
    o = orthogonal_matrix(30, kind, seed=3)
    np.testing.assert_allclose(o @ o.T, np.eye(30), atol=1e-12)
    res = ResESN.from_matrices(np.zeros((30, 30)), np.zeros((30, 1)), o=o if kind == "random" else kind,
                               alpha=1.0, beta=1e-300, stability="off")
    x0 = jnp.asarray(np.random.default_rng(1).normal(size=30))
    traj = nd.simulate(res, 200, state=res.init(jax.random.PRNGKey(0))._replace(x=x0))
    norms = np.linalg.norm(traj["x"], axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(x0), rtol=1e-12)
    if kind == "cycle":  # (O x)_i = x_{i-1}: the eigenvalues are the 30th roots of unity
        np.testing.assert_array_equal(traj["x"][1], np.roll(np.asarray(x0), 1))
        eig = np.linalg.eigvals(o)
        np.testing.assert_allclose(np.abs(eig), 1.0, atol=1e-12)
        angles = np.sort(np.mod(np.angle(eig) + 1e-9, 2 * np.pi)) - 1e-9
        np.testing.assert_allclose(angles, 2 * np.pi * np.arange(30) / 30, atol=1e-9)


def test_jacobian_at_origin_and_stability_conditions():
    res = ResESN.create(50, alpha=0.6, beta=0.3, spectral_radius=0.9, orthogonal="identity", seed=2)
    w = np.asarray(res.w)
    # with O = I the spectrum of alpha I + beta W is alpha + beta lambda_i(W)
    expected = np.max(np.abs(0.6 + 0.3 * np.linalg.eigvals(w)))
    jac = jax.jacfwd(lambda x: res.step(res.init(None)._replace(x=x)).x)(jnp.zeros(50))
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(np.asarray(jac)))), expected, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(res.jacobian_at_origin()), np.asarray(jac), atol=1e-14)
    # rho(alpha O + beta W) >= 1 violates the necessary condition: a warning, or refused when strict
    with pytest.warns(StabilityWarning, match="rho\\(alpha O \\+ beta W\\)"):
        ResESN.create(50, alpha=1.0, beta=1.0, spectral_radius=0.9, orthogonal="identity", seed=2)
    with pytest.raises(SpecError, match="no fading memory"):
        ResESN.create(50, alpha=1.0, beta=1.0, spectral_radius=0.9, orthogonal="identity", seed=2, stability="strict")


def test_contracting_res_esn_forgets_its_initial_state():
    # alpha + beta ||W||_2 < 1: two initial states under the same input converge at rate <= that bound
    res = ResESN.create(40, alpha=0.5, beta=0.3, spectral_radius=0.5, orthogonal="cycle", seed=5)
    from neurodyn.models.residual import stability_margins

    _, bound = stability_margins(res.w, orthogonal_matrix(40, "cycle"), 0.5, 0.3)
    assert bound < 1
    u = _input(60, seed=2)
    a = nd.simulate(res, 60, drive=u, state=res.init(None)._replace(x=jnp.ones(40)))["x"]
    b = nd.simulate(res, 60, drive=u, state=res.init(None)._replace(x=-jnp.ones(40)))["x"]
    d = np.linalg.norm(a - b, axis=1)
    assert np.all(d[1:] <= d[:-1] * bound + 1e-15)


def test_deep_res_esn_layers_follow_the_stacked_equations_in_the_same_step():
    net = deep_res_esn(3, 10, 1, alpha=0.7, beta=0.3, spectral_radius=0.8, inter_scaling=0.5, seed=1,
                       orthogonal="cycle")
    u = _input(50, seed=3)
    traj = nd.simulate(net, 50, drive={"layer1": u})
    layers = [net.populations[f"layer{l}"] for l in (1, 2, 3)]
    w_x = [None, np.asarray(net.projections["layer1_to_layer2"].weights),
           np.asarray(net.projections["layer2_to_layer3"].weights)]
    xs = [np.zeros(10) for _ in layers]
    for n in range(50):
        for l, m in enumerate(layers):
            np.testing.assert_allclose(traj[f"layer{l + 1}.x"][n], xs[l], atol=1e-12)
        for l, m in enumerate(layers):
            drive = np.asarray(layers[0].w_in)[:, 0] * float(u[n, 0]) if l == 0 else w_x[l] @ xs[l - 1]
            xs[l] = 0.7 * np.roll(xs[l], 1) + 0.3 * np.tanh(np.asarray(m.w) @ xs[l] + drive)


def test_res_rmn_memory_recalls_every_past_input_exactly():
    # a cyclic linear memory of size T holds sum_k V^k v u(T-k): a ridge readout on m(T) recovers u(T-k)
    t = 16
    net = res_rmn(t, 8, 1, alpha=0.5, beta=0.5, spectral_radius=0.8, seed=3)
    memory = net.populations["memory"]
    eig = np.linalg.eigvals(np.asarray(memory.w))
    np.testing.assert_allclose(np.abs(eig), 1.0, atol=1e-12)  # unit spectral radius: a lossless delay line
    u = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (400, t, 1)))
    state = net.init(jax.random.PRNGKey(0))

    def final_memory(seq):
        final, _ = nd.run(net, state, t, drive={"memory": seq, "reservoir": seq}, record=())
        return final["memory"].x

    m = np.asarray(jax.vmap(final_memory)(u))  # (400, t)
    targets = np.asarray(u[:, ::-1, 0])  # column k: u(T - k)
    coef, *_ = np.linalg.lstsq(m, targets, rcond=None)
    residual = targets - m @ coef
    r2 = 1 - residual.var(axis=0) / targets.var(axis=0)
    assert r2.min() > 1 - 1e-10
    # and the non-linear reservoir reads m of the same step
    traj = nd.simulate(net, 3, drive={"memory": u[0, :3], "reservoir": u[0, :3]})
    assert np.abs(traj["reservoir.x"][1]).max() > 0


# ---------------------------------------------------------------- ResRMN from a spec (linear memory)

SPECS = __import__("pathlib").Path(__file__).resolve().parents[2] / "models"


def _resrmn_spec(*overrides):
    from neurodyn.spec import load_spec

    return load_spec(SPECS / "resrmn_digits.toml", overrides=["populations.reservoir.n=12", *overrides])


def test_res_esn_identity_activation_is_the_linear_residual_map():
    # activation = "identity": x(n) = alpha O x(n-1) + beta (W x(n-1) + W_in u(n) + b), checked by a NumPy loop
    res = ResESN.create(20, 2, alpha=0.4, beta=0.5, spectral_radius=0.7, bias_scaling=0.3, orthogonal="random",
                        activation="identity", seed=6)
    u = np.asarray(_input(80, seed=4, n_inputs=2))
    o, w, w_in, b = (np.asarray(a) for a in (res.o, res.w, res.w_in, res.bias))
    x, ref = np.zeros(20), []
    for n in range(80):  # simulate records the state before each step
        ref.append(x)
        x = 0.4 * o @ x + 0.5 * (w @ x + w_in @ u[n] + b)
    np.testing.assert_allclose(nd.simulate(res, 80, drive=jnp.asarray(u))["x"], np.array(ref), rtol=0, atol=1e-12)
    with pytest.raises(SpecError, match="res_esn: activation: must be one of 'tanh', 'identity', got 'relu'"):
        ResESN.create(5, activation="relu")


def test_spec_built_resrmn_memory_is_linear_and_recalls_its_last_inputs_exactly():
    # docs/models/reservoirs.md (ResRMN); Pinna, Ceni & Gallicchio (arXiv:2508.09925): m(t) = O m(t-1) + V_x u(t),
    # O the cyclic permutation of N_m units (alpha = beta = 1, no recurrent matrix); after T = N_m steps from m = 0,
    # m(T) = sum_k O^k V_x u(T - k) = C [u(T), ..., u(1)] with C circulant: the last N_m inputs exactly
    spec = _resrmn_spec()
    memory = spec.model.populations["memory"]
    n = memory.n
    assert memory.activation == "identity" and n == 64 == spec.steps
    v = np.asarray(memory.w_in)[:, 0]
    u = np.random.default_rng(5).uniform(0, 1, (n, 1))  # digits pixels lie in [0, 1]
    drive = {"memory": jnp.asarray(u), "reservoir": jnp.asarray(u)}
    final, traj = nd.run(spec.model, spec.state, n, drive=drive, record=("memory.x",))
    m, ref = np.zeros(n), []
    for t in range(n):  # the NumPy loop of the linear memory (rows: the state before each step)
        ref.append(m)
        m = np.roll(m, 1) + v * u[t, 0]
    np.testing.assert_allclose(traj["memory.x"], np.array(ref), rtol=0, atol=1e-12)
    np.testing.assert_allclose(final["memory"].x, m, rtol=0, atol=1e-12)
    circulant = np.stack([np.roll(v, k) for k in range(n)], axis=1)  # column k: O^k V_x
    assert np.linalg.cond(circulant) < 1e3
    recalled = np.linalg.solve(circulant, np.asarray(final["memory"].x))
    np.testing.assert_allclose(recalled, u[::-1, 0], rtol=0, atol=1e-10)  # u(T), u(T-1), ..., u(1)
    # the former tanh memory (m = O m + tanh(V_x u)) is not that delay line: the test above would fail on it
    tanh = _resrmn_spec("populations.memory.activation=\"tanh\"")
    assert np.abs(nd.run(tanh.model, tanh.state, n, drive=drive, record=())[0]["memory"].x - m).max() > 1e-5


def test_spec_built_resrmn_equals_python_res_rmn_with_the_same_matrices():
    import dataclasses

    from neurodyn.core.network import stack

    spec = _resrmn_spec()
    mem, res = spec.model.populations["memory"], spec.model.populations["reservoir"]
    proj = spec.model.projections["memory_to_reservoir"]
    py = res_rmn(64, 12, 1, alpha=0.99, beta=0.01, spectral_radius=1.0, memory_input_scaling=0.1,
                 bias_scaling=0.1, memory_scaling=0.1, orthogonal="identity", stability="off", seed=0)
    same = stack({"memory": dataclasses.replace(py.populations["memory"], w_in=mem.w_in),
                  "reservoir": dataclasses.replace(py.populations["reservoir"], w=res.w, w_in=res.w_in,
                                                   bias=res.bias)},
                 {"memory_to_reservoir": dataclasses.replace(py.projections["memory_to_reservoir"],
                                                             weights=proj.weights)})
    u = jnp.asarray(np.random.default_rng(8).uniform(0, 1, (150, 1)))
    drive = {"memory": u, "reservoir": u}
    a, b = nd.simulate(spec.model, 150, drive=drive), nd.simulate(same, 150, drive=drive)
    assert np.abs(b["reservoir.x"]).max() > 0.1
    np.testing.assert_allclose(a["memory.x"], b["memory.x"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(a["reservoir.x"], b["reservoir.x"], rtol=0, atol=1e-10)
