"""Plastic spiking projections against NumPy loops of the published equations.

The reference (:func:`reference`) is written synapse by synapse: every synapse keeps its own
presynaptic trace (of the spikes delivered to it, after its delay) and postsynaptic trace, as in
the rules' papers and NEST's ``stdp_synapse`` -- not the per-neuron traces and the row / column
passes of the implementation. Both run the same random spike trains through a small network
with several delays for 10,000 steps in float64; weights must agree to 1e-6 and so must every
step's transmitted input.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neurodyn.errors import SpecError
from neurodyn.models.plastic import (InhibitorySTDP, PairSTDP, PlasticProjection, RewardSTDP, TripletSTDP,
                                     TsodyksMarkram)
from neurodyn.ops.synapses import SynapseCSR

STEPS = 10_000
DT = 0.5
N_PRE, N_POST = 24, 12


def _network(seed=0, delays=True):
    rng = np.random.default_rng(seed)
    keep = rng.random((N_PRE, N_POST)) < 0.4
    pre, post = np.nonzero(keep)
    d = rng.integers(0, 4, pre.size) if delays else None
    w = rng.uniform(0.2, 0.8, pre.size)
    conn = SynapseCSR.from_coo(pre, post, w, n_pre=N_PRE, n_post=N_POST, delays=d, dtype=jnp.float64)
    return conn


def _rasters(seed=1, pre_rate=0.03, post_rate=0.02):
    rng = np.random.default_rng(seed)
    return rng.random((STEPS, N_PRE)) < pre_rate, rng.random((STEPS, N_POST)) < post_rate


def _run(proj, pre, post, modulation=None, batch=None):
    """The projection's step scanned over prescribed rasters: final weights, every step's input.
    ``batch``: ``(build, values)`` runs ``build(proj, v)`` for each row of ``values`` under
    ``jax.vmap`` (one compilation for several parameter sets of the same rule)."""
    obs0 = {"pre": {"spike": jnp.asarray(pre[0])}, "post": {"spike": jnp.asarray(post[0])}}
    if modulation is not None:
        obs0["mod"] = {"m": jnp.asarray(modulation[0])}
    state = proj.init(jax.random.PRNGKey(0), obs0)
    mods = jnp.zeros(STEPS) if modulation is None else jnp.asarray(modulation)
    xs = (jnp.arange(STEPS, dtype=jnp.int32), jnp.asarray(pre), jnp.asarray(post), mods)

    def simulate(p):
        def body(state, x):
            s, a, b, m = x
            state, out = p.step(state, {"pre": {"spike": a}, "post": {"spike": b}, "mod": {"m": m}}, s)
            return state, out[("post", "g_e")]

        state_end, ys = jax.lax.scan(body, state, xs)
        return state_end.weights, ys

    if batch is None:
        w, ys = jax.jit(simulate)(proj)
    else:
        build, values = batch
        w, ys = jax.jit(jax.vmap(lambda v: simulate(build(proj, v))))(jnp.asarray(values))
    return np.asarray(w), np.asarray(ys)


def reference(conn, pre_raster, post_raster, kind, p, *, nearest=False, stp=None, modulation=None, dt=DT):
    """Synapse-by-synapse NumPy loop of the published rules (see the module docstring)."""
    pre_idx, post_idx = conn.presynaptic(), np.asarray(conn.indices)
    delays = conn.synapse_delays()
    w = np.array(np.broadcast_to(np.asarray(conn.weights), (conn.nnz,)), float)
    nnz, steps = conn.nnz, pre_raster.shape[0]
    taus_pre = {"stdp": [p.get("tau_plus")], "triplet": [p.get("tau_plus"), p.get("tau_x")],
                "vogels": [p.get("tau")], "reward": [p.get("tau_plus")], None: []}[kind]
    taus_post = {"stdp": [p.get("tau_minus")], "triplet": [p.get("tau_minus"), p.get("tau_y")],
                 "vogels": [p.get("tau")], "reward": [p.get("tau_minus")], None: []}[kind]
    x = np.zeros((len(taus_pre), nnz))
    y = np.zeros((len(taus_post), nnz))
    c = np.zeros(nnz)
    acc = 0.0
    out = np.zeros((steps, conn.n_post))
    # Tsodyks-Markram in its interval form: the factor of every presynaptic spike, event by event
    factor = np.ones(pre_raster.shape, float)
    if stp is not None:
        for i in range(pre_raster.shape[1]):
            u_last, x_last, t_last = 0.0, 1.0, None
            for s in np.flatnonzero(pre_raster[:, i]):
                gap = np.inf if t_last is None else (s - t_last) * dt
                u = u_last * (np.exp(-gap / stp["tau_facil"]) if stp["tau_facil"] > 0 else 0.0)
                xr = 1.0 - (1.0 - x_last) * np.exp(-gap / stp["tau_rec"])
                u = u + stp["U"] * (1.0 - u)
                factor[s, i] = u * xr
                u_last, x_last, t_last = u, xr - u * xr, s
    w_max = p.get("w_max", np.inf)
    for s in range(steps):
        for k, tau in enumerate(taus_pre):
            x[k] *= np.exp(-dt / tau)
        for k, tau in enumerate(taus_post):
            y[k] *= np.exp(-dt / tau)
        src = s - delays
        arrive = (src >= 0) & pre_raster[np.maximum(src, 0), pre_idx]
        np.add.at(out[s], post_idx[arrive], (w * factor[np.maximum(src, 0), pre_idx])[arrive])
        a = arrive
        if kind == "stdp":
            dep = w_max * p["a_minus"] * (np.clip(w / w_max, 0, 1)) ** p["mu_minus"] * y[0]
            w[a] = np.clip(w[a] - dep[a], 0, w_max)
        elif kind == "triplet":
            w[a] = np.clip(w[a] - y[0][a] * (p["a2_minus"] + p["a3_minus"] * x[1][a]), 0, w_max)
        elif kind == "vogels":
            alpha = 2 * p["target_rate"] * p["tau"] * 1e-3
            w[a] = np.clip(w[a] + p["eta"] * (y[0][a] - alpha), 0, w_max)
        elif kind == "reward":
            c[a] -= p["a_minus"] * y[0][a]
        if kind is not None:
            x[:, a] = 1.0 if nearest else x[:, a] + 1.0
            b = post_raster[s, post_idx]
            if kind == "stdp":
                pot = w_max * p["a_plus"] * (1 - np.clip(w / w_max, 0, 1)) ** p["mu_plus"] * x[0]
                w[b] = np.clip(w[b] + pot[b], 0, w_max)
            elif kind == "triplet":
                w[b] = np.clip(w[b] + x[0][b] * (p["a2_plus"] + p["a3_plus"] * y[1][b]), 0, w_max)
            elif kind == "vogels":
                w[b] = np.clip(w[b] + p["eta"] * x[0][b], 0, w_max)
            elif kind == "reward":
                c[b] += p["a_plus"] * x[0][b]
            y[:, b] = 1.0 if nearest else y[:, b] + 1.0
        if kind == "reward":
            acc += modulation[s] * dt
            if (s + 1) % p["period"] == 0:
                w = np.clip(w + c * acc, 0, w_max)
                c *= np.exp(-p["period"] * dt / p["tau_c"])
                acc = 0.0
    return w, out


PAIR = dict(tau_plus=16.8, tau_minus=33.7, a_plus=0.02, a_minus=0.0105, w_max=1.0)  # drift near 0: weights wander


@pytest.mark.parametrize("nearest, exponents, backend", [(False, [(0.0, 0.0), (1.0, 1.0), (0.5, 2.0)], None),
                                                         (True, [(0.0, 0.0), (0.0, 1.0)], None),
                                                         (True, [(0.0, 0.0), (0.0, 1.0)], "jax")],
                         ids=["all_to_all", "nearest", "nearest-jax"])
def test_pair_stdp_matches_numpy_loop(nearest, exponents, backend):
    """Additive with hard bounds (Song et al. 2000), multiplicative with soft bounds and other
    exponents (Gütig et al. 2003: the kernel's pow path; all-to-all), additive and van Rossum et
    al. (2000) (nearest-spike): the weight-dependence
    exponents are array leaves, so one compiled run serves both sets under ``jax.vmap``. The
    default backend on the CPU is the compiled kernel; "jax" runs the pure-JAX passes."""
    conn = _network()
    pre, post = _rasters()
    proj = PlasticProjection.create("pre", "post", conn, rule=PairSTDP(**PAIR, nearest=nearest), dt=DT,
                                    backend=backend)
    build = lambda p, mu: dataclasses.replace(p, rule=dataclasses.replace(p.rule, mu_plus=mu[0], mu_minus=mu[1]))  # noqa: E731
    w, ys = _run(proj, pre, post, batch=(build, exponents))
    for b, mu in enumerate(exponents):
        params = dict(PAIR, mu_plus=mu[0], mu_minus=mu[1])
        w_ref, y_ref = reference(conn, pre, post, "stdp", params, nearest=nearest)
        moved = np.abs(w_ref - np.asarray(conn.weights))
        assert moved.max() > 0.2 and np.ptp(w_ref) > 0.1  # the weights moved, and apart
        np.testing.assert_allclose(w[b], w_ref, atol=1e-6)
        np.testing.assert_allclose(ys[b], y_ref, atol=1e-6)


@pytest.mark.parametrize("nearest, backend", [(False, None), (True, None)], ids=["all_to_all", "nearest"])
def test_triplet_stdp_matches_numpy_loop(nearest, backend):
    conn = _network(2)
    pre, post = _rasters(3, 0.04, 0.04)
    # the minimal visual-cortex sets of Pfister & Gerstner (2006) with A3- switched on, so that
    # every trace plays a part, and amplitudes scaled up so 10,000 steps move the weights
    base = TripletSTDP.visual_cortex(nearest)
    p = dict(tau_plus=16.8, tau_minus=33.7, tau_x=101.0, tau_y=float(base.tau_y), a2_plus=1e-3,
             a3_plus=20 * float(base.a3_plus), a2_minus=2 * float(base.a2_minus), a3_minus=2e-3, w_max=1.0)
    proj = PlasticProjection.create("pre", "post", conn, rule=TripletSTDP(**p, nearest=nearest), dt=DT,
                                    backend=backend)
    w, ys = _run(proj, pre, post)
    w_ref, y_ref = reference(conn, pre, post, "triplet", p, nearest=nearest)
    assert np.abs(w_ref - np.asarray(conn.weights)).max() > 0.05
    np.testing.assert_allclose(w, w_ref, atol=1e-6)
    np.testing.assert_allclose(ys, y_ref, atol=1e-6)


@pytest.mark.parametrize("backend", [None, "jax"])
def test_inhibitory_stdp_matches_numpy_loop(backend):
    conn = _network(4)
    pre, post = _rasters(5, 0.03, 0.01)
    p = dict(tau=20.0, eta=0.01, target_rate=5.0, w_max=1.0)
    proj = PlasticProjection.create("pre", "post", conn, rule=InhibitorySTDP(**p), dt=DT, backend=backend)
    w, ys = _run(proj, pre, post)
    w_ref, y_ref = reference(conn, pre, post, "vogels", p)
    assert np.abs(w_ref - np.asarray(conn.weights)).max() > 0.05
    np.testing.assert_allclose(w, w_ref, atol=1e-6)
    np.testing.assert_allclose(ys, y_ref, atol=1e-6)


def test_reward_stdp_matches_numpy_loop():
    conn = _network(6)
    pre, post = _rasters(7)
    rng = np.random.default_rng(8)
    modulation = np.where(rng.random(STEPS) < 0.01, 0.5, 0.0)
    modulation = np.array([modulation[: s + 1] @ np.exp(-(s - np.arange(s + 1)) * DT / 200.0)
                           for s in range(STEPS)])  # rewards decaying with 200 ms (dopamine)
    p = dict(tau_plus=20.0, tau_minus=20.0, a_plus=0.1, a_minus=0.15, tau_c=1000.0, w_max=1.0, period=10)
    proj = PlasticProjection.create("pre", "post", conn, rule=RewardSTDP(**p), dt=DT, modulator=("mod", "m"))
    w, ys = _run(proj, pre, post, modulation)
    w_ref, y_ref = reference(conn, pre, post, "reward", p, modulation=modulation)
    assert np.abs(w_ref - np.asarray(conn.weights)).max() > 0.05
    np.testing.assert_allclose(w, w_ref, atol=1e-6)
    np.testing.assert_allclose(ys, y_ref, atol=1e-6)


def test_tsodyks_markram_matches_interval_form():
    """Depressing (tau_facil = 0) and facilitating synapses, one compiled run under vmap; the
    reference applies the closed form over each interspike interval."""
    conn = _network(9)
    pre, post = _rasters(10, 0.05)
    proj = PlasticProjection.create("pre", "post", conn, stp=TsodyksMarkram(U=0.3, tau_rec=150.0), dt=DT)
    build = lambda p, f: dataclasses.replace(p, stp=dataclasses.replace(p.stp, tau_facil=f))  # noqa: E731
    w, ys = _run(proj, pre, post, batch=(build, [0.0, 300.0]))
    for b, tau_facil in enumerate([0.0, 300.0]):
        _, y_ref = reference(conn, pre, post, None, {}, stp=dict(U=0.3, tau_rec=150.0, tau_facil=tau_facil))
        np.testing.assert_allclose(w[b], np.asarray(conn.weights))
        np.testing.assert_allclose(ys[b], y_ref, atol=1e-9)


def test_tsodyks_markram_steady_state_equals_closed_form():
    """Periodic trains at 5-500 Hz: the last transmitted factor u* x* equals the closed form of
    Tsodyks, Pawelzik & Markram (1998) (:meth:`TsodyksMarkram.steady_state`); depression deepens
    with the rate, a facilitating synapse first grows. Both synapse types in one vmapped run."""
    sets = np.array([[0.5, 800.0, 0.0], [0.05, 50.0, 300.0]])  # (U, tau_rec, tau_facil): depressing, facilitating
    periods = np.array([2000, 1000, 200, 100, 50, 20])  # steps of 0.1 ms: 5 to 500 Hz
    n, steps = periods.size, 60_000
    conn = SynapseCSR.from_coo(np.arange(n), np.arange(n), 1.0, n_pre=n, n_post=n, dtype=jnp.float64)
    proj = PlasticProjection.create("pre", "post", conn, stp=TsodyksMarkram(), dt=0.1)
    pre = (np.arange(steps)[:, None] % periods[None, :]) == 0
    quiet = jnp.zeros(n, bool)
    state = proj.init(jax.random.PRNGKey(0), {"pre": {"spike": quiet}, "post": {"spike": quiet}})

    def run(values):
        p = dataclasses.replace(proj, stp=TsodyksMarkram(*values))

        def body(state, xs):
            state, out = p.step(state, {"pre": {"spike": xs[1]}, "post": {"spike": quiet}}, xs[0])
            return state, out[("post", "g_e")]

        return jax.lax.scan(body, state, (jnp.arange(steps, dtype=jnp.int32), jnp.asarray(pre)))[1]

    ys = np.asarray(jax.jit(jax.vmap(run))(jnp.asarray(sets)))
    last_spike = np.array([np.flatnonzero(pre[:, i])[-1] for i in range(n)])
    for b, values in enumerate(sets):
        last = ys[b, last_spike, np.arange(n)]
        expected = np.asarray(TsodyksMarkram(*values).steady_state(periods * 0.1))
        np.testing.assert_allclose(last, expected, rtol=1e-6)  # 30 spikes at 5 Hz: converged to 1e-7
        if values[2] == 0:
            assert np.all(np.diff(last) < 0)  # depression deepens with the rate
        else:
            assert last[2] > 2 * last[0]  # facilitation: 50 Hz above 5 Hz


def test_plastic_projection_rejects_bad_parameters():
    conn = _network()
    with pytest.raises(SpecError, match="tau"):
        PlasticProjection.create("pre", "post", conn, rule=PairSTDP(tau_plus=-1.0))
    with pytest.raises(SpecError, match="modulator"):
        PlasticProjection.create("pre", "post", conn, rule=RewardSTDP())
    with pytest.raises(SpecError, match="initial weights"):
        PlasticProjection.create("pre", "post", conn.with_weights(2.0), rule=PairSTDP(w_max=1.0))
    with pytest.raises(SpecError, match="stp.U"):
        PlasticProjection.create("pre", "post", conn, stp=TsodyksMarkram(U=1.5))


def test_plastic_coba_with_fused_inhibition_is_the_same_network():
    """The plastic benchmark network (benchmarks/bench_plasticity.py) with ``ie`` and ``ii`` fused
    into one projection and both it and ``ei`` carried by the plastic E->E projection's kernel
    (one projection left) gives bit for bit the spikes and learned E->E weights of its four
    projections (the same sums, synapse by synapse), and the weights did move."""
    import neurodyn as nd
    from benchmarks.bench_plasticity import plastic
    from neurodyn.models import coba_ei, coba_initial_state

    base = coba_ei(400, i_ext=20.0, seed=1)
    results = []
    for fused in (False, True):
        net = plastic(base, fused=fused)
        assert set(net.projections) == ({"ee"} if fused else {"ee", "ei", "ie", "ii"})
        state = coba_initial_state(net, jax.random.PRNGKey(0))
        final, rec = nd.run(net, state, 2000, record=("exc.spike", "inh.spike"))
        results.append((np.asarray(rec["exc.spike"]), np.asarray(rec["inh.spike"]),
                        np.asarray(final.projections["ee"].weights)))
    (e0, i0, w0), (e1, i1, w1) = results
    assert e0.sum() > 100 and i0.sum() > 20
    np.testing.assert_array_equal(e0, e1)
    np.testing.assert_array_equal(i0, i1)
    np.testing.assert_array_equal(w0, w1)
    assert np.abs(w0 - 0.6).max() > 1e-3


def _scan_outputs(proj, pre, post, keys):
    """The projection's step scanned over the rasters: final weights and each step's inputs of ``keys``."""
    obs0 = {"pre": {"spike": jnp.asarray(pre[0])}, "post": {"spike": jnp.asarray(post[0])}}
    state = proj.init(jax.random.PRNGKey(0), obs0)

    def body(state, x):
        s, a, b = x
        state, out = proj.step(state, {"pre": {"spike": a}, "post": {"spike": b}}, s)
        return state, tuple(out[k] for k in keys)

    xs = (jnp.arange(pre.shape[0], dtype=jnp.int32), jnp.asarray(pre), jnp.asarray(post))
    final, ys = jax.jit(lambda: jax.lax.scan(body, state, xs))()
    return np.asarray(final.weights), [np.asarray(y) for y in ys]


@pytest.mark.parametrize("dtype, delays", [(jnp.float32, False), (jnp.float64, True)])
def test_two_threads_give_the_weights_and_inputs_of_one(monkeypatch, dtype, delays):
    """The compiled kernel cuts the synapses at the postsynaptic neuron ``index.split`` into two
    parts (each row at ``row_split``); with ``THREADS = 3`` the calling thread leaves the second
    part to the worker every step: the weights and the inputs equal those of one thread bit for
    bit, and the worker did parts (where the machine has two cores)."""
    import os

    from neurodyn.ops import _plasticity_kernel, plasticity

    rng = np.random.default_rng(11)
    n_pre, n_post, steps = 300, 200, 1500
    keep = rng.random((n_pre, n_post)) < 0.1
    a, b = np.nonzero(keep)
    conn = SynapseCSR.from_coo(a, b, rng.uniform(0.2, 0.8, a.size), n_pre=n_pre, n_post=n_post,
                               delays=rng.integers(0, 3, a.size) if delays else None, dtype=dtype)
    pre = rng.random((steps, n_pre)) < 0.03
    post = rng.random((steps, n_post)) < 0.03
    proj = PlasticProjection.create("pre", "post", conn, rule=PairSTDP(**PAIR), dt=DT)
    assert 0 < proj.index.split < n_post
    low = np.asarray(proj.index.targets) < proj.index.split
    starts, ends = np.asarray(proj.index.row_start), np.asarray(proj.index.row_start + proj.index.row_length)
    cut = np.asarray(proj.index.row_split)
    for r in range(proj.index.n_rows):  # each row: targets below the split, then from it
        assert low[starts[r]:cut[r]].all() and not low[cut[r]:ends[r]].any()
    results = []
    for threads in (1, 3):
        monkeypatch.setattr(plasticity, "THREADS", threads)
        before = _plasticity_kernel.worker_parts()
        results.append(_scan_outputs(proj, pre, post, [("post", "g_e")]))
        done = _plasticity_kernel.worker_parts() - before
        if threads == 3 and (os.cpu_count() or 1) >= 2:
            assert done >= steps // 2
    (w1, (y1,)), (w2, (y2,)) = results
    assert np.abs(w1 - np.asarray(conn.weights)).max() > 0.05
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("backend", [None, "jax"])
@pytest.mark.parametrize("homogeneous", [True, False], ids=["one_weight", "per_synapse"])
def test_carried_projection_delivers_what_it_delivers_alone(backend, homogeneous):
    """A plastic projection carrying a static one from the same source (``carrying``: the kernel
    adds its rows in the same pass) writes the same inputs as the two projections apart, bit
    for bit, and learns the same weights; a projection with delays, a second one from the same
    source or a fused one from the same source is refused."""
    from neurodyn.models.synapses import SpikingProjection, fuse

    rng = np.random.default_rng(12)
    conn = _network(13, delays=False)
    pre, post = _rasters(14, 0.05, 0.03)
    pre, post = pre[:2000], post[:2000]
    n_other = 9
    keep = rng.random((N_PRE, n_other)) < 0.3
    a, b = np.nonzero(keep)
    weights = 0.7 if homogeneous else rng.uniform(0.1, 0.9, a.size)
    other = SynapseCSR.from_coo(a, b, weights, n_pre=N_PRE, n_post=n_other, dtype=jnp.float64)
    static = SpikingProjection.create("pre", "other", other, port="g_e")
    proj = PlasticProjection.create("pre", "post", conn, rule=PairSTDP(**PAIR), dt=DT, backend=backend)
    both = proj.carrying(static)
    assert both.targets() == (("post", "g_e"), ("other", "g_e"))
    w, (y, z) = _scan_outputs(both, pre, post, [("post", "g_e"), ("other", "g_e")])
    w_alone, (y_alone,) = _scan_outputs(proj, pre, post, [("post", "g_e")])
    z_alone = np.asarray(jax.jit(jax.vmap(lambda s: static.step((), {"pre": {"spike": s}}, 0)[1][("other", "g_e")]))(
        jnp.asarray(pre)))
    assert np.abs(z_alone).sum() > 10
    np.testing.assert_array_equal(w, w_alone)
    np.testing.assert_array_equal(y, y_alone)
    np.testing.assert_array_equal(z, z_alone)
    with pytest.raises(SpecError, match="delays"):
        proj.carrying(SpikingProjection.create("pre", "other", other.with_delays(np.ones(other.nnz, int))
                                               if hasattr(other, "with_delays") else
                                               SynapseCSR.from_coo(a, b, 0.5, n_pre=N_PRE, n_post=n_other,
                                                                   delays=np.ones(a.size, int))))
    with pytest.raises(SpecError, match="already carries"):
        both.carrying(static)
    with pytest.raises(SpecError, match="one \\(population, port\\)"):
        proj.carrying(fuse([static, SpikingProjection.create("pre", "post", other, port="g_i")]))


def _guest_outputs(proj, rasters, keys):
    """``proj``'s step scanned over the spike ``rasters`` (population -> (steps, n) flags): final
    weights and each step's inputs of ``keys``."""
    obs0 = {pop: {"spike": jnp.asarray(r[0])} for pop, r in rasters.items()}
    state = proj.init(jax.random.PRNGKey(0), obs0)
    names = list(rasters)

    def body(state, x):
        s, *flags = x
        state, out = proj.step(state, {pop: {"spike": f} for pop, f in zip(names, flags)}, s)
        return state, tuple(out[k] for k in keys)

    steps = next(iter(rasters.values())).shape[0]
    xs = (jnp.arange(steps, dtype=jnp.int32), *(jnp.asarray(rasters[pop]) for pop in names))
    final, ys = jax.jit(lambda: jax.lax.scan(body, state, xs))()
    return (np.asarray(final.weights) if hasattr(final, "weights") else None), [np.asarray(y) for y in ys]


@pytest.mark.parametrize("backend", [None, "jax"])
@pytest.mark.parametrize("homogeneous", [0.7, -0.7, False], ids=["one_weight", "one_negative_weight", "per_synapse"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_carried_projection_from_another_source_delivers_what_it_delivers_alone(backend, homogeneous, dtype):
    """A plastic projection ``pre -> post`` carrying a fused static projection from another
    population (``inh -> post`` and ``inh -> other``, two blocks: the inhibitory ``ie`` + ``ii``
    of a COBA network whose E->E synapses learn) and a companion from its own source: every
    input equals that of the projections apart bit for bit (the kernel counts a homogeneous
    projection's synapses and multiplies once, like the event kernel), the weights are the
    same, and the guest's source is one of the projection's sources; compared as bits, so a
    negative weight's -0 on the targets no spike reached counts (the kernel multiplies only
    the targets reached by a positive weight: fails if it does so for a negative one, or drops
    a flag of the guest's last block)."""
    from neurodyn.models.synapses import SpikingProjection, fuse

    rng = np.random.default_rng(21)
    steps, n_inh, n_other = 1500, 71, 9  # 71: a tail of flags after the last block of 64
    conn = _network(13, delays=False)
    conn = SynapseCSR.from_coo(conn.presynaptic(), np.asarray(conn.indices), np.asarray(conn.weights), n_pre=N_PRE,
                               n_post=N_POST, dtype=dtype)

    def static(source, n_pre, target, n_post, port, p, seed):
        r = np.random.default_rng(seed)
        a, b = np.nonzero(r.random((n_pre, n_post)) < p)
        w = homogeneous if homogeneous else r.uniform(0.1, 0.9, a.size)
        return SpikingProjection.create(source, target, SynapseCSR.from_coo(a, b, w, n_pre=n_pre, n_post=n_post,
                                                                            dtype=dtype), port=port)

    ie, ii = static("inh", n_inh, "post", N_POST, "g_i", 0.3, 1), static("inh", n_inh, "other", n_other, "g_i", 0.3, 2)
    if homogeneous:  # fuse keeps one weight only where both share it
        assert np.asarray(fuse([ie, ii]).synapses.weights).size == 1
    inh = fuse([ie, ii])
    ei = static("pre", N_PRE, "other", n_other, "g_e", 0.3, 3)
    rasters = {"pre": rng.random((steps, N_PRE)) < 0.05, "post": rng.random((steps, N_POST)) < 0.03,
               "inh": rng.random((steps, n_inh)) < 0.08}
    rasters["inh"][:, -1] |= rng.random(steps) < 0.5  # the last neuron (the tail) spikes often
    proj = PlasticProjection.create("pre", "post", conn, rule=PairSTDP(**PAIR), dt=DT, backend=backend)
    carried = proj.carrying(ei).carrying(inh)
    assert carried.sources() == ("pre", "post", "inh")
    assert carried.targets() == (("post", "g_e"), ("other", "g_e"), ("post", "g_i"), ("other", "g_i"))
    keys = [("post", "g_e"), ("other", "g_e"), ("post", "g_i"), ("other", "g_i")]
    w, got = _guest_outputs(carried, rasters, keys)
    w_alone, (y_alone,) = _guest_outputs(proj, {k: rasters[k] for k in ("pre", "post")}, [("post", "g_e")])
    _, (z_alone,) = _guest_outputs(ei, {"pre": rasters["pre"]}, [("other", "g_e")])
    _, (gi_post, gi_other) = _guest_outputs(inh, {"inh": rasters["inh"]}, [("post", "g_i"), ("other", "g_i")])
    assert np.abs(gi_post).sum() > 10 and np.abs(gi_other).sum() > 10
    np.testing.assert_array_equal(w, w_alone)
    bits = np.uint32 if dtype == jnp.float32 else np.uint64
    for mine, alone in zip(got, (y_alone, z_alone, gi_post, gi_other)):
        np.testing.assert_array_equal(mine.view(bits), alone.view(bits))
    if homogeneous and homogeneous < 0:  # the targets no spike reached hold -0, like the event kernel's
        zeros = gi_post == 0
        assert zeros.any() and np.signbit(gi_post[zeros]).all()
    with pytest.raises(SpecError, match="already carries"):
        carried.carrying(inh)
    with pytest.raises(SpecError, match="one or two"):
        proj.carrying(fuse([ie, ii, static("inh", n_inh, "pre", N_PRE, "g_i", 0.3, 4)]))


def test_the_plasticity_kernels_cached_functions_have_no_literal_argument_types(monkeypatch):
    """The plasticity kernel's numba functions cached on disk are compiled for plain argument
    types, never for a constant's value (numba's literal types): a constant the handler passes
    (the control block's address, a part number) would key the disk cache on its value, so every
    process compiled the kernel again (handler build 5 s instead of 2) and the cache grew."""
    import inspect

    import numba
    from numba.core import types

    from neurodyn.ops import _plasticity_kernel, plasticity

    rng = np.random.default_rng(15)
    keep = rng.random((120, 80)) < 0.2
    a, b = np.nonzero(keep)
    conn = SynapseCSR.from_coo(a, b, 0.5, n_pre=120, n_post=80, dtype=jnp.float32)
    pre, post = rng.random((50, 120)) < 0.1, rng.random((50, 80)) < 0.1
    for threads in (1, 3):  # the calling thread alone, and the worker (its entry passes its own numbers)
        monkeypatch.setattr(plasticity, "THREADS", threads)
        _scan_outputs(PlasticProjection.create("pre", "post", conn, rule=PairSTDP(), dt=DT), pre, post,
                      [("post", "g_e")])
    compiled = {name: obj for name, obj in inspect.getmembers(_plasticity_kernel)
                if isinstance(obj, numba.core.registry.CPUDispatcher) and obj._cache.__class__.__name__ != "NullCache"}
    assert compiled["run"].signatures  # the kernel ran here (its callees show where this process compiled them)
    literal = {name: sig for name, d in compiled.items() for sig in d.signatures
               if any(isinstance(t, types.Literal) for t in sig)}
    assert not literal, literal


_ONE_VARIANT = """
import jax, jax.numpy as jnp, numpy as np
from neurodyn.models.plastic import PairSTDP, PlasticProjection
from neurodyn.ops.synapses import SynapseCSR
from neurodyn.ops import _plasticity_kernel as kernel

rng = np.random.default_rng(0)
a, b = np.nonzero(rng.random((60, 40)) < 0.2)
conn = SynapseCSR.from_coo(a, b, 0.5, n_pre=60, n_post=40, dtype=jnp.float32)
proj = PlasticProjection.create("pre", "post", conn, rule=PairSTDP(), dt=0.5)
spikes = {"pre": {"spike": jnp.ones(60, bool)}, "post": {"spike": jnp.ones(40, bool)}}
state = proj.init(jax.random.PRNGKey(0), spikes)
state, _ = jax.jit(lambda s: proj.step(s, spikes, 0))(state)
assert float(jnp.abs(state.weights - 0.5).max()) > 0  # the kernel ran and learned
print(sorted({str(sig[-1]) for f in (kernel.run, kernel.run_task, kernel.begin) for sig in f.signatures}),
      len(kernel.run_part.signatures) + len(kernel.run_threaded.signatures), kernel._WORKER is None)
"""


def test_a_process_compiles_only_the_kernel_variant_it_runs():
    """The plasticity kernel is compiled per variant (dtype, one or two threads) on first use: a
    process running float32 weights on one thread has compiled (or loaded from numba's cache)
    no float64 loops, not the worker's part runner and not the worker (the whole kernel at
    import took 19 s of a cold 34 s before, fresh numba cache, load 7)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _ONE_VARIANT], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "['float32'] 0 True", out.stdout


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_a_recurrent_projection_learns_as_its_jax_passes(dtype):
    """A plastic projection of a population onto itself (no delays): its events and its
    postsynaptic spikes are one buffer, and the compiled kernel lists the spikes once for both
    (rows and columns); weights and inputs equal those of the pure-JAX passes (float64: to
    1e-12; float32: to 1e-6) after 2,000 steps, and the weights moved."""
    rng = np.random.default_rng(16)
    n, steps = 60, 2000
    a, b = np.nonzero(rng.random((n, n)) < 0.2)
    conn = SynapseCSR.from_coo(a, b, rng.uniform(0.2, 0.8, a.size), n_pre=n, n_post=n, dtype=dtype)
    raster = rng.random((steps, n)) < 0.04
    out = []
    for backend in (None, "jax"):
        proj = PlasticProjection.create("pop", "pop", conn, rule=PairSTDP(**PAIR), dt=DT, backend=backend)
        obs0 = {"pop": {"spike": jnp.asarray(raster[0])}}
        state = proj.init(jax.random.PRNGKey(0), obs0)

        def body(state, x):
            s, spikes = x
            state, inputs = proj.step(state, {"pop": {"spike": spikes}}, s)
            return state, inputs[("pop", "g_e")]

        xs = (jnp.arange(steps, dtype=jnp.int32), jnp.asarray(raster))
        final, ys = jax.jit(lambda: jax.lax.scan(body, state, xs))()
        out.append((np.asarray(final.weights), np.asarray(ys)))
    (w, y), (w_jax, y_jax) = out
    tol = 1e-12 if dtype == jnp.float64 else 1e-6
    assert np.abs(w - np.asarray(conn.weights)).max() > 0.05
    np.testing.assert_allclose(w, w_jax, atol=tol, rtol=0)
    np.testing.assert_allclose(y, y_jax, atol=10 * tol, rtol=0)


def test_the_kernels_flag_scan_lists_every_set_flag_in_order():
    """The compiled kernel lists a step's event rows and spikes 64 flags at a time (one OR of
    eight words, ``_plasticity_kernel._flagged``), the flags after the last whole block one at a
    time, all of them one at a time where the flags are not 8-byte aligned: for sizes around the
    block boundaries, sparse and dense flags, set flags in the last block and the tail, the list
    equals ``np.flatnonzero`` (fails for a scan that skips the tail or a block's last word)."""
    import numba

    from neurodyn.ops import _plasticity_kernel as kernel

    @numba.njit
    def listed(flags, words):
        out = np.full(flags.shape[0] + 1, -1, np.int64)
        n = kernel._flagged(flags, words, out, np.int64(1))  # from 1: the start is honoured
        return out[:n]

    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 8, 63, 64, 65, 127, 128, 130, 800, 3200, 3201):
        for density in (0.0, 0.01, 0.3, 1.0):
            raw = np.zeros(n + 16, np.uint8)
            for offset in (0, 1):  # 8-byte aligned (words read) or not (flags one at a time)
                flags = raw[offset:offset + n]
                flags[:] = rng.random(n) < density
                if n:
                    flags[-1] = 1  # the tail's (or the last block's) last flag
                aligned = flags.ctypes.data % 8 == 0
                words = flags[:n - n % 8].view(np.uint64) if aligned else np.zeros(0, np.uint64)
                got = listed(flags, words)
                assert got[0] == -1
                np.testing.assert_array_equal(got[1:], np.flatnonzero(flags), err_msg=f"n {n} offset {offset}")
