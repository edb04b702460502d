"""NIR export and import of a Network of LIF / CUBA populations with spiking projections
(neurodyn.io.nir_network): the file round trip is spike for spike in float64, the graph read
back by the `nir` package and run by an independent NumPy loop of the documented discretisation
gives the same spikes, and what has no NIR primitive is refused in one line."""

import dataclasses

import jax
import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="the 'nir' package is not installed (pip install 'neurodyn[nir]')")

import neurodyn  # noqa: E402
from neurodyn.core.network import Network  # noqa: E402
from neurodyn.errors import SpecError  # noqa: E402
from neurodyn.io.nir import from_nir, read_nir, to_nir, write_nir  # noqa: E402
from neurodyn.models.spiking import LIF, SynapticLIF  # noqa: E402
from neurodyn.models.synapses import SpikingProjection  # noqa: E402
from neurodyn.ops.synapses import SynapseCSR  # noqa: E402

DT, STEPS, NE, NI = 0.1, 400, 12, 5
SPIKES = {"E.spike": None, "I.spike": None}


def _conn(rng, n_pre, n_post, p, low, high, max_delay):
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
    delays = rng.integers(0, max_delay + 1, pre.size) if max_delay else None
    return SynapseCSR.from_coo(pre, post, rng.uniform(low, high, pre.size), n_pre=n_pre, n_post=n_post,
                               delays=delays, dtype="float64")


def _network(seed: int = 0) -> Network:
    """E: lif_cuba (per-neuron tau_m and i_ext), I: lif; E->E and I->E with per-synapse delays."""
    rng = np.random.default_rng(seed)
    e = SynapticLIF.create(NE, synapse="current", tau_m=rng.uniform(10, 20, NE), v_rest=-60.0, v_reset=-65.0,
                           v_th=-50.0, t_ref=0.0, i_ext=rng.uniform(16, 26, NE), tau_e=4.0, tau_i=4.0, dt=DT,
                           dtype="float64")
    i = LIF.create(NI, tau_m=8.0, v_rest=-70.0, v_reset=-70.0, v_th=-55.0, t_ref=0.0, i_ext=rng.uniform(12, 22, NI),
                   dt=DT, dtype="float64")
    return Network({"E": e, "I": i}, {
        "ee": SpikingProjection.create("E", "E", _conn(rng, NE, NE, 0.3, 0.5, 2.0, 3), port="g_e"),
        "ei": SpikingProjection.create("E", "I", _conn(rng, NE, NI, 0.4, 1.0, 3.0, 0), port="v"),
        "ie": SpikingProjection.create("I", "E", _conn(rng, NI, NE, 0.5, -1.5, -0.5, 2), port="g_i"),
        "ii": SpikingProjection.create("I", "I", _conn(rng, NI, NI, 0.5, -2.0, -1.0, 0), port="v")})


def _numpy_run(graph, v0: dict, steps: int, dt: float) -> tuple[dict, float]:
    """The NIR graph run in NumPy by the discretisation docs/interchange.md states: per step, a
    CubaLIF's potential relaxes exactly towards ``v_leak + r I`` with ``I`` held, then
    ``I = I e^{-dt/tau_syn} + (w_in / tau_syn) W s``; a LIF relaxes towards ``v_leak`` and jumps by
    ``(r / tau) W s``; ``s`` is the source's spikes ``D / dt`` steps before the step ends; spike at
    ``v >= v_threshold``, then ``v = v_reset``. Returns the spike rasters and the least distance of
    a potential to its threshold (float rounding cannot flip a spike farther away)."""
    neurons = {k: n for k, n in graph.nodes.items() if isinstance(n, (nir.LIF, nir.CubaLIF))}
    paths = []  # (source, target, weight, steps of delay)
    pred = {b: a for a, b in graph.edges}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Linear):
            target = next(b for a, b in graph.edges if a == name)
            delay = graph.nodes[pred[name]]
            paths.append((pred[pred[name]], target, np.asarray(node.weight), int(round(delay.delay[0] / dt))))
    v = {k: np.array(v0[k], np.float64) for k in neurons}
    cur = {k: np.zeros_like(v[k]) for k in neurons}
    raster = {k: [np.zeros(v[k].size, bool)] for k in neurons}  # raster[k][t]: spikes of the state after t steps
    margin = np.inf
    for t in range(steps):
        arriving = {k: np.zeros_like(v[k]) for k in neurons}
        for src, tgt, w, m in paths:
            if t + 1 - m >= 0:
                arriving[tgt] += w @ raster[src][t + 1 - m]
        for k, n in neurons.items():
            if isinstance(n, nir.CubaLIF):
                target = n.v_leak + n.r * cur[k]
                v[k] = target + (v[k] - target) * np.exp(-dt / n.tau_mem)
                cur[k] = cur[k] * np.exp(-dt / n.tau_syn) + n.w_in / n.tau_syn * arriving[k]
            else:
                v[k] = n.v_leak + (v[k] - n.v_leak) * np.exp(-dt / n.tau) + n.r / n.tau * arriving[k]
            margin = min(margin, float(np.min(np.abs(v[k] - n.v_threshold))))
            s = v[k] >= n.v_threshold
            v[k] = np.where(s, n.v_reset, v[k])
            raster[k].append(s)
    return {k: np.array(r[1:]) for k, r in raster.items()}, margin


def _raster(traj, pop: str, n: int) -> np.ndarray:
    times, ids = traj.spikes[f"{pop}.spike"]
    out = np.zeros((STEPS, n), bool)
    out[np.rint(np.asarray(times) / DT).astype(int) - 1, np.asarray(ids, int)] = True
    return out


def test_network_file_round_trip_is_spike_for_spike(tmp_path):
    net = _network()
    write_nir(net, tmp_path / "net.nir")
    back = read_nir(tmp_path / "net.nir")
    assert sorted(back.populations) == ["E", "I"] and sorted(back.projections) == ["ee", "ei", "ie", "ii"]
    assert back.projections["ie"].outputs == (("E", "g_i", NE),)
    state = net.init(jax.random.PRNGKey(3))
    a = neurodyn.simulate(net, STEPS, state=state, record=("E.v", "I.v"), spikes=SPIKES)
    b = neurodyn.simulate(back, STEPS, state=state, record=("E.v", "I.v"), spikes=SPIKES)
    for pop in ("E", "I"):
        np.testing.assert_array_equal(a.spikes[f"{pop}.spike"][0], b.spikes[f"{pop}.spike"][0])
        np.testing.assert_array_equal(a.spikes[f"{pop}.spike"][1], b.spikes[f"{pop}.spike"][1])
        # v_leak = V_rest + i_ext is one number on import: potentials agree to rounding
        np.testing.assert_allclose(a.data[f"{pop}.v"], b.data[f"{pop}.v"], rtol=0, atol=1e-11)
    assert len(a.spikes["E.spike"][0]) > 15 and len(a.spikes["I.spike"][0]) > 15
    syn_a, syn_b = net.projections["ee"].synapses, back.projections["ee"].synapses
    np.testing.assert_array_equal(syn_a.synapse_delays(), syn_b.synapse_delays())
    np.testing.assert_array_equal(np.asarray(syn_a.weights), np.asarray(syn_b.weights))


def test_exported_network_matches_an_independent_run_of_the_nir_graph(tmp_path):
    net = _network(seed=1)
    write_nir(net, tmp_path / "net.nir")
    graph = nir.read(str(tmp_path / "net.nir"))  # the nir package's reader, not neurodyn's
    assert isinstance(graph.nodes["E"], nir.CubaLIF) and isinstance(graph.nodes["I"], nir.LIF)
    state = net.init(jax.random.PRNGKey(5))
    traj = neurodyn.simulate(net, STEPS, state=state, record=(), spikes=SPIKES)
    rasters, margin = _numpy_run(graph, {"E": state["E"].v, "I": state["I"].v}, STEPS, DT)
    assert margin > 1e-9
    for pop, n in (("E", NE), ("I", NI)):
        np.testing.assert_array_equal(_raster(traj, pop, n), rasters[pop])
    assert rasters["E"].sum() > 15 and rasters["I"].sum() > 15


def _refused(net) -> str:
    with pytest.raises(SpecError) as err:
        to_nir(net)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_what_has_no_nir_primitive_is_refused_in_one_line():
    net = _network()
    e, i = net.populations["E"], net.populations["I"]
    with_ref = dataclasses.replace(net, populations={"E": e, "I": LIF.create(NI, t_ref=2.0, dt=DT)})
    assert "'I' (LIF): t_ref = 2 ms" in _refused(with_ref)
    two_taus = SynapticLIF.create(NE, synapse="current", tau_e=4.0, tau_i=8.0, t_ref=0.0, dt=DT)
    assert "tau_e != tau_i" in _refused(Network({"E": two_taus, "I": i}, net.projections))
    coba = SynapticLIF.create(NE, synapse="conductance", t_ref=0.0, dt=DT)
    assert "lif_coba" in _refused(Network({"E": coba, "I": i}, net.projections))
    assert "sequential network" in _refused(Network({"E": e, "I": i}, net.projections, order=("E", "I")))
    into_i = SpikingProjection.create("E", "I", net.projections["ei"].synapses, port="I")
    assert "port 'I'" in _refused(Network({"E": e, "I": i}, {"ei": into_i}))


def test_unsupported_primitive_in_a_network_graph_is_refused_in_one_line():
    graph = to_nir(_network())
    graph.nodes["ei"] = nir.Affine(weight=graph.nodes["ei"].weight, bias=np.ones(NI))
    with pytest.raises(SpecError, match=r"^from_nir: unsupported NIR primitive Affine \(node 'ei'\)"):
        from_nir(graph)
    graph = to_nir(_network())
    graph.nodes["ei.delay"] = nir.Delay(delay=np.full(NE, DT / 4))
    with pytest.raises(SpecError, match="under one step"):
        from_nir(graph)
