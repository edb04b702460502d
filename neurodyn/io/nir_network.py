"""NIR export and import of a :class:`~neurodyn.core.Network` of LIF / CUBA populations with
spiking projections (docs/interchange.md, "Networks to NIR").

Each population is one NIR neuron node with an ``Input`` (NIR's entry point: a spike on it is a
spike of weight 1 mV, into ``v`` or ``g_e``) and an ``Output`` (its spikes); each spiking
projection is one ``Delay -> Linear`` path per distinct delay from its source to its target::

    lif       (tau_m dV/dt = (V_rest - V) + i_ext + I, jumps on port v)
        -> LIF(tau = tau_m, r = tau_m, v_leak = V_rest + i_ext, v_threshold = V_th, v_reset = V_reset)
    lif_cuba  with tau_e == tau_i (tau_m dV/dt = (V_rest - V) + g_e + g_i + i_ext, dg/dt = -g / tau_syn)
        -> CubaLIF(tau_syn = tau_e, tau_mem = tau_m, r = 1, w_in = tau_e, v_leak = V_rest + i_ext, ...)
    SpikingProjection W[pre, post], delay d steps
        -> Delay(delay = (d + 1) dt) -> Linear(weight = W.T, n_post x n_pre)

NIR's spikes are Dirac deltas: through a ``Linear`` weight ``W`` a spike moves a LIF's ``v`` by
``r W / tau`` and a CubaLIF's current ``I`` by ``w_in W / tau_syn``; with ``r = tau_m`` and
``w_in = tau_syn`` both are ``W``, the neurodyn weight in mV, as the projection adds it. A
projection delivers a spike one step after it is emitted plus its delay (it reads the spikes of
the state before the step), so the ``Delay`` holds ``(d + 1) dt``. The graph's metadata keeps
``dt`` (ms), the discretisation (exponential Euler, :mod:`neurodyn.ops.lif`) and each ``Linear``'s
projection and port, so :func:`network_from_nir` rebuilds the same network: the same spikes,
spike for spike, in float64.

Refused with one line naming what and why (NIR has no primitive for it): a refractory period
(``t_ref > 0``), ``lif_cuba`` with ``tau_e != tau_i`` (CubaLIF has one synaptic current),
conductance synapses (``lif_coba``), any other model, plastic or non-spiking projections,
projections into a port other than ``v`` (lif) or ``g_e`` / ``g_i`` (lif_cuba), sequential
networks (``order``), integrators other than exponential Euler.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import SpecError

MAX_DENSE = 50_000_000
"""Most weights of the dense NIR ``Linear`` matrices of one export (NIR has no sparse weights)."""

PORTS = {"lif": ("v",), "lif_cuba": ("g_e", "g_i")}


def _nir():
    from .nir import _nir as load

    return load()


def _vector(x, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, np.float64), (n,)).copy()


def _kind(name: str, model) -> str:
    """``"lif"`` or ``"lif_cuba"`` for an exportable population, else one line saying why not."""
    from ..core.integrators import ExponentialEuler
    from ..models.spiking import LIF, SynapticLIF

    label = type(model).__name__
    if isinstance(model, SynapticLIF):
        label = f"lif_{'coba' if model.synapse == 'conductance' else 'cuba'}"
        if model.synapse == "conductance":
            raise SpecError(f"to_nir: population {name!r} (lif_coba): conductance synapses g (E - V) have no NIR "
                            f"primitive (CubaLIF's synaptic current does not depend on V)")
        if not np.array_equal(_vector(model.tau_e, model.n), _vector(model.tau_i, model.n)):
            raise SpecError(f"to_nir: population {name!r} (lif_cuba): tau_e != tau_i; NIR's CubaLIF has one "
                            f"synaptic time constant")
    elif type(model) is not LIF:
        raise SpecError(f"to_nir: population {name!r} ({label}) has no exact NIR primitive (exported: lif, lif_cuba)")
    if type(model.integrator) is not ExponentialEuler:
        raise SpecError(f"to_nir: population {name!r} ({label}): integrator {type(model.integrator).__name__}; the "
                        f"export states neurodyn's exponential-Euler step")
    if np.any(_vector(model.t_ref, model.n) != 0):
        raise SpecError(f"to_nir: population {name!r} ({label}): t_ref = {np.max(np.asarray(model.t_ref)):g} ms; NIR's "
                        f"LIF and CubaLIF have no refractory period (give t_ref = 0)")
    return "lif" if type(model) is LIF else "lif_cuba"


def network_to_nir(network):
    """A :class:`~neurodyn.core.Network` of ``lif`` / ``lif_cuba`` populations and spiking
    projections as a ``nir.NIRGraph`` (module docstring): nodes named after the populations, the
    projections (``<projection>`` or ``<projection>.d<steps>`` for ``Linear``, ``.delay`` for the
    ``Delay`` before it), ``<population>.input`` and ``<population>.output``. Time in ms; ``dt`` is the network's."""
    from ..core.network import Network
    from ..models.synapses import SpikingProjection

    nir = _nir()
    if not isinstance(network, Network):
        raise SpecError(f"to_nir: expected a Network or a SpikingMLP, got {type(network).__name__}")
    if network.order is not None:
        raise SpecError("to_nir: a sequential network (order) updates populations within a step; NIR's graph has "
                        "no update order (export a network with order = None)")
    dt = float(np.asarray(network.dt))
    nodes: dict[str, Any] = {}
    edges: list = []
    kinds = {}
    for name, model in network.populations.items():
        kind = kinds[name] = _kind(name, model)
        n = model.n
        leak = _vector(model.v_rest, n) + _vector(model.i_ext, n)
        common = dict(v_leak=leak, v_threshold=_vector(model.v_th, n), v_reset=_vector(model.v_reset, n))
        tau_m = _vector(model.tau_m, n)
        if kind == "lif":
            nodes[name] = nir.LIF(tau=tau_m, r=tau_m.copy(), **common)
        else:
            tau_s = _vector(model.tau_e, n)
            nodes[name] = nir.CubaLIF(tau_syn=tau_s, tau_mem=tau_m, r=np.ones(n), w_in=tau_s.copy(), **common)
        nodes[f"{name}.input"] = nir.Input(input_type=np.array([n]))
        nodes[f"{name}.output"] = nir.Output(output_type=np.array([n]))
        edges += [(f"{name}.input", name), (name, f"{name}.output")]
    linear: dict[str, list] = {}
    total = 0
    for pname, proj in network.projections.items():
        if type(proj) is not SpikingProjection:
            raise SpecError(f"to_nir: projection {pname!r} ({type(proj).__name__}) has no NIR primitive (exported: "
                            f"static spiking projections)")
        if len(proj.outputs) != 1:
            raise SpecError(f"to_nir: projection {pname!r} is fused over {len(proj.outputs)} targets; export the "
                            f"projections before fusing")
        (target, port, n_post), = proj.outputs
        if port not in PORTS[kinds[target]]:
            raise SpecError(f"to_nir: projection {pname!r} writes port {port!r} of {target!r} ({kinds[target]}); "
                            f"a NIR spike enters {' or '.join(PORTS[kinds[target]])}")
        syn = proj.synapses
        pre, post = syn.presynaptic(), np.asarray(syn.indices)
        w = np.broadcast_to(np.asarray(syn.weights, np.float64), (syn.nnz,))
        d = syn.synapse_delays() if syn.has_delays else np.zeros(syn.nnz, np.int64)
        groups = np.unique(d) if d.size else np.zeros(1, np.int64)
        total += groups.size * syn.n_pre * n_post
        if total > MAX_DENSE:
            raise SpecError(f"to_nir: projection {pname!r}: the dense NIR Linear weights would hold more than "
                            f"{MAX_DENSE:,} values (NIR has no sparse weights)")
        for k in groups:
            sel = d == k
            weight = np.zeros((n_post, syn.n_pre))
            np.add.at(weight, (post[sel], pre[sel]), w[sel])
            lname = pname if groups.size == 1 else f"{pname}.d{int(k)}"
            nodes[f"{lname}.delay"] = nir.Delay(delay=np.full(syn.n_pre, (int(k) + 1) * dt))
            nodes[lname] = nir.Linear(weight=weight)
            edges += [(proj.source, f"{lname}.delay"), (f"{lname}.delay", lname), (lname, target)]
            linear[lname] = [pname, port]
    metadata = {"neurodyn_kind": "network", "neurodyn_dt": dt, "neurodyn_time_unit": "ms",
                "neurodyn_method": "exponential_euler", "neurodyn_projections": json.dumps(linear)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def network_from_nir(graph, dt: float | None = None, dtype=None):
    """A :class:`~neurodyn.core.Network` from a NIR graph (object or file path) of ``LIF`` and
    ``CubaLIF`` nodes joined by ``[Delay ->] Linear`` paths, with ``Output`` nodes on populations.

    ``LIF`` -> ``lif`` (``tau_m = tau``, ``V_rest = v_leak``, ``i_ext = 0``, ``t_ref = 0``; a spike
    through ``W`` jumps ``v`` by ``r W / tau``), ``CubaLIF`` -> ``lif_cuba`` with
    ``tau_e = tau_i = tau_syn`` (a spike adds ``r w_in W / tau_syn`` mV to ``g_e``); a ``Delay`` of
    ``D`` becomes ``rint(D / dt) - 1`` buffered steps (a path without one: a spike arrives one
    step after it is emitted, neurodyn's least). ``dt`` (ms) defaults to the graph's
    ``neurodyn_dt``. ``Input`` nodes feeding neuron nodes are entry points, not part of the
    network (drive the populations' ports). Anything else is refused with one line naming the
    node and primitive."""
    from ..core.model import float_dtype
    from ..core.network import Network
    from ..models.spiking import LIF, SynapticLIF
    from ..models.synapses import SpikingProjection
    from ..ops.synapses import SynapseCSR
    from .nir import _check_dt, _meta

    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(os.fspath(graph))
    if not isinstance(graph, nir.NIRGraph):
        raise SpecError(f"from_nir: expected a nir.NIRGraph or a file path, got {type(graph).__name__}")
    dt = _meta(graph, "neurodyn_dt") if dt is None else dt
    if dt is None:
        raise SpecError("from_nir: dt: NIR graphs are continuous time; give the step dt in ms")
    dt = _check_dt(dt)
    d = float_dtype(dtype)
    pred: dict[str, list] = {}
    succ: dict[str, list] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    populations, factor, kinds, names = {}, {}, {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, (nir.LIF, nir.CubaLIF)):
            pop = name.replace(".", "_")
            names[name] = pop
            par = {k: np.atleast_1d(np.asarray(getattr(node, k), np.float64)) for k in
                   (("tau", "r") if isinstance(node, nir.LIF) else ("tau_syn", "tau_mem", "r", "w_in"))}
            n = max([p.size for p in par.values()] + [np.size(node.v_leak), np.size(node.v_threshold)])
            par = {k: _vector(v, n) for k, v in par.items()}
            common = dict(v_rest=_vector(node.v_leak, n), v_th=_vector(node.v_threshold, n),
                          v_reset=_vector(0.0 if node.v_reset is None else node.v_reset, n), t_ref=0.0, i_ext=0.0)
            try:
                if isinstance(node, nir.LIF):
                    populations[pop] = LIF.create(n, tau_m=par["tau"], dt=dt, dtype=d, **common)
                    factor[pop], kinds[pop] = par["r"] / par["tau"], "v"
                else:
                    populations[pop] = SynapticLIF.create(n, synapse="current", tau_m=par["tau_mem"],
                                                          tau_e=par["tau_syn"], tau_i=par["tau_syn"], dt=dt, dtype=d,
                                                          **common)
                    factor[pop], kinds[pop] = par["r"] * (par["w_in"] / par["tau_syn"]), "g_e"
            except SpecError as e:
                raise SpecError(f"from_nir: node {name!r}: {e}") from None
        elif not isinstance(node, (nir.Linear, nir.Delay, nir.Input, nir.Output)):
            raise SpecError(f"from_nir: unsupported NIR primitive {type(node).__name__} (node {name!r}); a network "
                            f"graph imports LIF, CubaLIF, Linear, Delay, Input and Output")
    if not populations:
        raise SpecError("from_nir: the graph has no LIF or CubaLIF node")
    meta = json.loads(_meta(graph, "neurodyn_projections") or "{}")
    parts: dict[str, list] = {}
    for name, node in graph.nodes.items():
        ins, outs = pred.get(name, []), succ.get(name, [])
        if isinstance(node, nir.Output):
            if len(ins) != 1 or ins[0] not in names:
                raise SpecError(f"from_nir: Output node {name!r} must read one LIF or CubaLIF node")
            continue
        if isinstance(node, nir.Input):
            if not outs or any(o not in names for o in outs):
                raise SpecError(f"from_nir: Input node {name!r} must feed LIF or CubaLIF nodes directly (a network "
                                f"graph's drives go to the populations' ports)")
            continue
        if isinstance(node, nir.Delay):
            if len(ins) != 1 or ins[0] not in names or len(outs) != 1 or \
                    not isinstance(graph.nodes[outs[0]], nir.Linear):
                raise SpecError(f"from_nir: Delay node {name!r} must sit between a neuron node and a Linear")
            continue
        if not isinstance(node, nir.Linear):
            continue
        if len(ins) != 1 or len(outs) != 1 or outs[0] not in names:
            raise SpecError(f"from_nir: Linear node {name!r} must have one input and one LIF/CubaLIF target")
        delay_node = graph.nodes[ins[0]] if isinstance(graph.nodes[ins[0]], nir.Delay) else None
        source = pred[ins[0]][0] if delay_node is not None else ins[0]
        if source not in names:
            raise SpecError(f"from_nir: Linear node {name!r} reads {source!r}, not a LIF or CubaLIF node")
        src, tgt = names[source], names[outs[0]]
        weight = np.asarray(node.weight, np.float64)
        n_pre, n_post = populations[src].n, populations[tgt].n
        if weight.shape != (n_post, n_pre):
            raise SpecError(f"from_nir: Linear node {name!r}: weight of shape {weight.shape}, expected "
                            f"{(n_post, n_pre)} ({source} -> {outs[0]})")
        post, pre = np.nonzero(weight)
        steps = np.zeros(pre.size, np.int64)
        if delay_node is not None:
            delay = _vector(delay_node.delay, n_pre)
            k = np.rint(delay / dt).astype(np.int64)
            if np.any(k < 1):
                raise SpecError(f"from_nir: Delay node {ins[0]!r}: delay {float(delay.min()):g} is under one step "
                                f"(dt = {dt:g}); a neurodyn spike arrives one step after it is emitted at the earliest")
            steps = (k - 1)[pre]
        pname, port = meta.get(name, [name.replace(".", "_"), kinds[tgt]])
        if port not in (("v",) if kinds[tgt] == "v" else ("g_e", "g_i")):
            raise SpecError(f"from_nir: Linear node {name!r}: port {port!r} does not fit {tgt!r}")
        w = weight[post, pre] * factor[tgt][post]
        parts.setdefault(pname, []).append((src, tgt, port, pre, post, w, steps))
    projections = {}
    for pname, pieces in parts.items():
        if len({p[:3] for p in pieces}) != 1:
            raise SpecError(f"from_nir: projection {pname!r}: its Linear nodes join different populations or ports")
        src, tgt, port = pieces[0][:3]
        pre, post, w, steps = (np.concatenate([p[i] for p in pieces]) for i in range(3, 7))
        conn = SynapseCSR.from_coo(pre, post, w, n_pre=populations[src].n, n_post=populations[tgt].n,
                                   delays=steps if steps.size and steps.max() > 0 else None, dtype=d)
        projections[pname] = SpikingProjection.create(src, tgt, conn, port=port)
    return Network(populations, projections)
