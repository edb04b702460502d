import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.connectivity import complete, erdos_renyi, ring_star
from neurodyn.core import Network
from neurodyn.diagnostics import fixed_points
from neurodyn.errors import SpecError
from neurodyn.models import (Chialvo, DiffusiveCoupling, Rulkov, RulkovPiecewise, SimplicialCoupling,
                             chialvo_ring_star, chialvo_rulkov_chain)
from neurodyn.models.maps import MapState
from neurodyn.pytree import partition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference as ref  # noqa: E402


def _numpy_orbit(step, state, n):
    out = []
    for _ in range(n):
        out.append(state[0].copy())
        state = step(*state)
    return np.array(out)


# ---------------------------------------------------------------- NumPy references

def test_chialvo_iterated_equals_numpy_reference_for_1000_steps():
    # k = 0.05: oscillating orbits (x in ~[0.05, 2.5]) in both b regimes whose rounding
    # differences (XLA's exp differs from NumPy's by <= 2 ulp) are not amplified
    b = np.array([0.6, 0.18, 0.3])
    model = Chialvo.create(3, b=b, k=0.05)
    s = model.init(jax.random.PRNGKey(0))
    _, rec = nd.run(model, s, 1000)
    expected = _numpy_orbit(lambda x, y: ref.chialvo_step(x, y, 0.89, b, 0.28, 0.05), (np.array(s.x), np.array(s.y)), 1000)
    assert expected[500:].std(axis=0).min() > 0.3  # really oscillating
    np.testing.assert_allclose(np.asarray(rec["x"]), expected, rtol=0, atol=1e-12)


def test_chialvo_one_step_map_equals_numpy_along_chaotic_orbit():
    # canonical chaotic bursting (b = 0.18, k = 0.03): the map applied to each point of the
    # orbit agrees with NumPy to a few ulp (iterating would amplify ulps: lambda_1 ~ 0.05)
    model = Chialvo.create(1, b=0.18)
    s = model.init(jax.random.PRNGKey(1))
    _, rec = nd.run(model, s, 1000)
    x, y = np.asarray(rec["x"])[:, 0], np.asarray(rec["y"])[:, 0]
    nx, ny = ref.chialvo_step(x, y, 0.89, 0.18, 0.28, 0.03)
    np.testing.assert_allclose(x[1:], nx[:-1], rtol=1e-14)
    np.testing.assert_allclose(y[1:], ny[:-1], rtol=1e-14, atol=1e-15)
    assert x.max() > 3.0  # bursts reach x ~ 5 (docs/models/maps.md)


def test_rulkov_iterated_equals_numpy_reference_for_1000_steps():
    alpha, sigma = np.array([2.5, 2.5, 2.5]), np.array([-1.0, -0.5, 0.5])  # oscillating, non-chaotic
    model = Rulkov.create(3, alpha=alpha, sigma=sigma)
    s = model.init(jax.random.PRNGKey(2))
    _, rec = nd.run(model, s, 1000)
    expected = _numpy_orbit(lambda x, y: ref.rulkov_step(x, y, alpha, 0.001, sigma), (np.array(s.x), np.array(s.y)), 1000)
    np.testing.assert_allclose(np.asarray(rec["x"]), expected, rtol=0, atol=1e-12)
    # chaotic regime: one-step agreement along the orbit
    chaotic = Rulkov.create(1, alpha=4.1, sigma=-1.0)
    _, rec = nd.run(chaotic, chaotic.init(jax.random.PRNGKey(3)), 1000)
    x, y = np.asarray(rec["x"])[:, 0], np.asarray(rec["y"])[:, 0]
    nx, ny = ref.rulkov_step(x, y, 4.1, 0.001, -1.0)
    np.testing.assert_allclose(x[1:], nx[:-1], rtol=1e-14, atol=1e-14)


def test_piecewise_rulkov_equals_numpy_reference_with_input():
    alpha = np.array([3.0, 4.5, 3.8])
    model = RulkovPiecewise.create(3, alpha=alpha, sigma=0.1)
    s = model.init(jax.random.PRNGKey(4))
    current = 0.05 * np.sin(0.01 * np.arange(1000))[:, None] * np.ones(3)
    _, rec = nd.run(model, s, 1000, drive=jnp.asarray(current))
    state = (np.array(s.x), np.array(s.x_prev), np.array(s.y))
    out = []
    for i in range(1000):
        out.append(state[0].copy())
        state = ref.rulkov_piecewise_step(*state, alpha, 0.001, 0.1, current[i])
    np.testing.assert_allclose(np.asarray(rec["x"]), np.array(out), rtol=0, atol=1e-12)
    assert np.sum(np.array(out) > 1.0) > 10  # it spikes


def test_ring_star_network_equals_numpy_reference():
    ring, star, ring_s, tri = 6, 0.02, 0.03, 0.004
    net = chialvo_ring_star(ring, star=star, ring_strength=ring_s, triadic=tri, b=0.6, k=0.05)
    s = net.init(jax.random.PRNGKey(5))["neurons"]
    _, rec = nd.run(net, {"neurons": s}, 1000)

    def step(x, y):
        nx, ny = ref.chialvo_step(x, y, 0.89, 0.6, 0.28, 0.05)
        return nx + ref.ring_star_coupling(x, star, ring_s, tri, ring), ny

    expected = _numpy_orbit(step, (np.array(s.x), np.array(s.y)), 1000)
    np.testing.assert_allclose(np.asarray(rec["neurons.x"]), expected, rtol=0, atol=1e-12)


def test_chialvo_rulkov_chain_equals_numpy_reference():
    g12, g21, g23, g32 = 0.02, 0.01, 0.03, 0.015
    net = chialvo_rulkov_chain(sigma12=g12, sigma21=g21, sigma23=g23, sigma32=g32, chialvo={"k": 0.05, "b": 0.6},
                               rulkov={"alpha": 3.0})
    st = net.init(jax.random.PRNGKey(6))
    _, rec = nd.run(net, st, 1000)
    c, r = st["chialvo"], st["rulkov"]
    x1, y1, x3, y3 = float(c.x[0]), float(c.y[0]), float(c.x[1]), float(c.y[1])
    x2, y2 = float(r.x[0]), float(r.y[0])
    xs = []
    for _ in range(1000):
        xs.append((x1, x3, x2))
        fx1, fy1 = ref.chialvo_step(x1, y1, 0.89, 0.6, 0.28, 0.05)
        fx3, fy3 = ref.chialvo_step(x3, y3, 0.89, 0.6, 0.28, 0.05)
        fx2, fy2 = ref.rulkov_step(x2, y2, 3.0, 0.001, -1.0)
        x1, x2, x3 = fx1 + g12 * (x2 - x1), fx2 + g21 * (x1 - x2) + g23 * (x3 - x2), fx3 + g32 * (x2 - x3)
        y1, y2, y3 = fy1, fy2, fy3
    xs = np.array(xs)
    np.testing.assert_allclose(np.asarray(rec["chialvo.x"]), xs[:, :2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(rec["rulkov.x"])[:, 0], xs[:, 2], rtol=0, atol=1e-12)


# ---------------------------------------------------------------- published regimes

def test_chialvo_fixed_points_match_published_values():
    # docs/models/maps.md (measured): b = 0.6 -> (0.06807, 2.17419), multipliers 0.9852 +- 0.1174i
    # (|lambda| = 0.992, stable focus); b = 0.18 -> (0.96336, 0.96905), |lambda| = 1.031 (unstable focus)
    for b, guess, expected, modulus, kind in [(0.6, (0.1, 2.0), (0.06807, 2.17419), 0.992, "stable focus"),
                                              (0.18, (1.0, 1.0), (0.96336, 0.96905), 1.031, "unstable focus")]:
        model = Chialvo.create(1, b=b)
        (fp,) = fixed_points(model, [MapState(jnp.array([guess[0]]), jnp.array([guess[1]]))])
        assert fp.converged
        np.testing.assert_allclose([float(fp.state.x[0]), float(fp.state.y[0])], expected, atol=1e-5)
        np.testing.assert_allclose(np.abs(fp.multipliers), modulus, atol=1e-3)
        assert fp.kind == kind
        # y* = (c - b x*) / (1 - a) (DERIVED)
        assert abs(float(fp.state.y[0]) - (0.28 - b * float(fp.state.x[0])) / 0.11) < 1e-10
    (fp,) = fixed_points(Chialvo.create(1, b=0.6), [MapState(jnp.array([0.1]), jnp.array([2.0]))])
    np.testing.assert_allclose(sorted(fp.multipliers.imag), [-0.1174, 0.1174], atol=1e-3)
    np.testing.assert_allclose(fp.multipliers.real, 0.9852, atol=1e-3)


def test_chialvo_bistability_at_b_06():
    # V21: rest kept from (x* + 1e-3, y*); oscillation with x in [0.031, 1.63] from (0.5, 0.5)
    model = Chialvo.create(2, b=0.6)
    state = MapState(jnp.array([0.06807 + 1e-3, 0.5]), jnp.array([2.17419, 0.5]))
    traj = nd.simulate(model, 60_000, state=state, transient=20_000)
    rest, osc = traj["x"][:, 0], traj["x"][:, 1]
    assert np.max(np.abs(rest - 0.068068)) < 1e-3
    assert abs(osc.min() - 0.031) < 0.002 and abs(osc.max() - 1.63) < 0.01


def test_rulkov_rest_state_threshold():
    # V22 (alpha = 4.1, mu = 0.001): silent for sigma <= -1.65, bursting for sigma >= -1.60
    sigmas = np.array([-2.0, -1.7, -1.65, -1.60, -1.55])
    model = Rulkov.create(5, alpha=4.1, mu=0.001, sigma=sigmas)
    state = MapState(jnp.full(5, -1.0), jnp.full(5, -3.0))
    traj = nd.simulate(model, 350_000, state=state, transient=50_000, every=10, spikes={"x": 0.0})
    std = traj["x"].std(axis=0)
    counts = np.bincount(traj.spikes["x"][1].astype(int), minlength=5)
    assert np.all(std[:3] < 1e-6) and np.all(counts[:3] == 0)
    assert np.all(counts[3:] > 1000) and np.all(std[3:] > 0.5)


# ---------------------------------------------------------------- coupling identities

def test_triadic_coupling_on_k4_equals_doubled_pairwise():
    # V24: on K4 the linear triadic Laplacian is twice the pairwise one, so triadic strength s
    # and pairwise (complete-graph) strength 2s give the same dynamics
    s = 0.013
    neurons = Chialvo.create(4, b=0.6, k=0.05)
    tri = Network({"n": neurons}, (SimplicialCoupling.create(["n"], [4], "x", s, graph=ring_star(3)),))
    pair = Network({"n": neurons}, (DiffusiveCoupling.create(["n"], [4], "x", complete(4), 2 * s),))
    st = tri.init(jax.random.PRNGKey(7))
    a = nd.simulate(tri, 500, state=st)["n.x"]
    b = nd.simulate(pair, 500, state=st)["n.x"]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert np.ptp(a[-100:], axis=0).min() > 0.1


@pytest.mark.parametrize("strengths", [(0.0, 0.0, 0.0), (0.3, 0.1, 0.05), (1e-3, 2.0, -0.2)])
def test_identical_neurons_from_identical_states_stay_synchronized(strengths):
    star, ring_s, tri = strengths
    net = chialvo_ring_star(12, star=star, ring_strength=ring_s, triadic=tri, b=0.18)
    st = {"neurons": MapState(jnp.full(13, 0.3), jnp.full(13, 0.7))}
    x = nd.simulate(net, 3000, state=st, record=("neurons.x",))["neurons.x"]
    assert np.all(x == x[:, :1])  # bit for bit
    er = erdos_renyi(20, 0.3, seed=1)
    net2 = Network({"n": Chialvo.create(20, b=0.18)},
                   (DiffusiveCoupling.create(["n"], [20], "x", er, 0.7, "degree"),
                    SimplicialCoupling.create(["n"], [20], "x", 0.2, graph=er, normalize="triangles")))
    x2 = nd.simulate(net2, 2000, state={"n": MapState(jnp.full(20, 0.3), jnp.full(20, 0.7))})["n.x"]
    assert np.all(x2 == x2[:, :1]) and np.ptp(x2[:, 0]) > 1.0


def test_zero_coupling_decouples_exactly():
    net = chialvo_ring_star(5, star=0.0, ring_strength=0.0, triadic=0.0, b=[0.18, 0.6, 0.3, 0.18, 0.25, 0.6])
    st = net.init(jax.random.PRNGKey(8))
    coupled = nd.simulate(net, 2000, state=st)["neurons.x"]
    alone = nd.simulate(Chialvo.create(6, b=[0.18, 0.6, 0.3, 0.18, 0.25, 0.6]), 2000, state=st["neurons"])["x"]
    np.testing.assert_array_equal(coupled, alone)


def test_heterogeneous_population_equals_separate_neurons():
    bs = [0.18, 0.6, 0.3]
    pop = nd.simulate(Chialvo.create(3, b=bs), 1500, state=MapState(jnp.full(3, 0.2), jnp.full(3, 0.4)))["x"]
    for i, b in enumerate(bs):
        one = nd.simulate(Chialvo.create(1, b=b), 1500, state=MapState(jnp.full(1, 0.2), jnp.full(1, 0.4)))["x"]
        np.testing.assert_array_equal(pop[:, i], one[:, 0])


def test_coupling_normalisations():
    # ring-star with ring normalised per degree: (sigma / 2R) sum_j (x_j - x_i) for R = 2
    x = jnp.asarray(np.random.default_rng(0).normal(size=9))
    g = ring_star(8, 2, "ring")
    states = {"n": MapState(x, x)}
    got = DiffusiveCoupling.create(["n"], [9], "x", g, 0.4, "degree").inputs(states)[("n", "x")]
    np.testing.assert_allclose(np.asarray(got), 0.4 / 4 * (-g.laplacian() @ np.asarray(x)), atol=1e-14)
    got = DiffusiveCoupling.create(["n"], [9], "x", complete(9), 0.4, "size").inputs(states)[("n", "x")]
    np.testing.assert_allclose(np.asarray(got), 0.4 * (np.asarray(x).mean() - np.asarray(x)) * 9 / 9, atol=1e-14)
    tri = SimplicialCoupling.create(["n"], [9], "x", 1.0, graph=complete(9), normalize="triangles")
    count = 28  # triangles at a node of K9: C(8, 2)
    plain = SimplicialCoupling.create(["n"], [9], "x", 1.0, graph=complete(9))
    np.testing.assert_allclose(np.asarray(tri.inputs(states)[("n", "x")]) * count,
                               np.asarray(plain.inputs(states)[("n", "x")]), atol=1e-12)


# ---------------------------------------------------------------- constructors

@pytest.mark.parametrize("cls", [Chialvo, Rulkov, RulkovPiecewise])
def test_map_constructors_take_plain_numbers_with_the_canonical_defaults(cls):
    # Chialvo 1995: a = 0.89, b = 0.6 / 0.18, c = 0.28, k = 0.03; Rulkov 2001: alpha = 4.1, mu = 0.001,
    # sigma = -1 (docs/models/maps.md): the constructor's defaults are create()'s
    plain, created = cls(), cls.create()
    for name, value in vars(created).items():
        if name != "n":
            np.testing.assert_array_equal(getattr(plain, name), value)
            assert getattr(plain, name).shape == (1,)
    traj = nd.simulate(cls(n=3), 50, key=jax.random.PRNGKey(0))
    assert traj["x"].shape == (50, 3) and np.all(np.isfinite(traj["x"]))


def test_chialvo_from_plain_numbers_runs_as_the_issue_wrote_it():
    m = Chialvo(a=0.89, b=0.18, c=0.28, k=0.03)
    assert m.n == 1 and float(m.b[0]) == 0.18
    np.testing.assert_array_equal(Chialvo(n=2, b=[0.6, 0.18]).b, Chialvo.create(2, b=[0.6, 0.18]).b)
    ref_orbit = _numpy_orbit(lambda x, y: (x * x * np.exp(y - x) + 0.03, 0.89 * y - 0.18 * x + 0.28),
                             (np.array([0.5]), np.array([0.5])), 20)
    traj = nd.simulate(m, 20, state=MapState(jnp.array([0.5]), jnp.array([0.5])))
    np.testing.assert_allclose(np.asarray(traj["x"])[:, 0], ref_orbit[:, 0], rtol=1e-12)


@pytest.mark.parametrize("make,message", [
    (lambda: Chialvo(n=2, b=[0.6, 0.18, 0.1]), "Chialvo.b: expected a number or 2 values (one per neuron)"),
    (lambda: Chialvo(a=["x"]), "Chialvo.a: expected a number, or one number per neuron (n = 1)"),
    (lambda: Chialvo(k=float("nan")), "Chialvo.k: must be a finite number"),
    (lambda: Chialvo(n=0), "Chialvo: n must be an integer >= 1, got 0"),
    (lambda: Rulkov(n=2.5), "Rulkov: n must be an integer >= 1, got 2.5"),
    (lambda: RulkovPiecewise(n=2, mu=np.zeros(3)), "RulkovPiecewise.mu: expected a number or 2 values"),
])
def test_map_constructors_name_the_field_of_wrong_input(make, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_rebuilding_a_map_pytree_passes_placeholders_and_numpy_copies_through():
    # JAX calls the constructor with whatever the leaves are: None (partition), bools (masks),
    # arbitrary objects, tracers, and NumPy copies (a sweep ships models to Dask workers that way)
    m = Chialvo.create(2, b=[0.6, 0.18])
    token = object()
    assert jax.tree_util.tree_map(lambda _: token, m).a is token
    assert jax.tree_util.tree_map(lambda _: True, m).b is True
    assert partition(m)[1].a is None
    host = jax.tree_util.tree_map(np.asarray, m)
    assert type(host.a) is np.ndarray
    batched = jax.tree_util.tree_map(lambda x: np.stack([x, x]), m)
    assert host.b.shape == (2,) and batched.b.shape == (2, 2)
    out = jax.vmap(lambda b: Chialvo(2, m.a, b, m.c, m.k).step(MapState(jnp.ones(2), jnp.ones(2))).y)(jnp.ones((3, 2)))
    assert out.shape == (3, 2)
