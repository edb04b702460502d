"""The COBA and CUBA excitatory-inhibitory benchmark networks (R. Brette et al., *J. Comput.
Neurosci.* 23:349, 2007, benchmarks 1 and 2, after T. P. Vogels and L. F. Abbott, *J. Neurosci.*
25:10786, 2005).

``n`` LIF neurons with exponential synapses (:class:`~neurodyn.models.spiking.SynapticLIF`),
80 % excitatory (population ``"exc"``) and 20 % inhibitory (``"inh"``), the same cell in both;
four event-driven projections ``ee``, ``ei``, ``ie``, ``ii`` (source letter first) connect every
pair with probability ``p = 0.02`` (each neuron receives on average 64 excitatory and 16
inhibitory inputs at n = 4,000), or -- the scalable variant, ``fanout=80`` -- every neuron projects
to exactly ``fanout`` targets, 80 % of them excitatory, which keeps the in-degree of the 4,000
neuron network at any ``n``. Excitatory spikes go to port ``g_e``, inhibitory ones to ``g_i``.
Units and parameters: docs/models/spiking.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..core.network import Network, NetworkState
from ..errors import SpecError, check_int
from ..ops.synapses import SynapseCSR
from .spiking import SynapticLIF
from .synapses import SpikingProjection, fuse

EXC_FRACTION = 0.8


def ei_network(exc: SynapticLIF, inh: SynapticLIF, *, w_e: float, w_i: float, p: float | None = 0.02,
               fanout: int | None = None, delay: int = 0, seed: int = 0, backend: str | None = None,
               fused: bool = False, dtype=None) -> Network:
    """Populations ``exc`` and ``inh`` joined by four spiking projections: excitatory spikes add
    ``w_e`` to ``g_e``, inhibitory ones ``w_i`` to ``g_i`` of their targets; connection
    probability ``p``, or (``fanout`` given) ``fanout`` targets per neuron split 80/20 over the
    populations; ``delay`` in steps; connectivity seeded by ``seed``. ``fused``: the two
    projections of each source as one (:func:`~neurodyn.models.synapses.fuse`, named ``"exc"`` and
    ``"inh"``): the same network, one event product per source and step."""
    if (p is None) == (fanout is None):
        raise SpecError("ei_network: give exactly one of p (connection probability) and fanout")
    n_e, n_i = exc.n, inh.n
    seeds = np.random.SeedSequence(check_int("seed", seed, 0)).generate_state(4)
    delays = delay if delay else None
    pairs = {"ee": ("exc", "exc"), "ei": ("exc", "inh"), "ie": ("inh", "exc"), "ii": ("inh", "inh")}
    sizes = {"exc": n_e, "inh": n_i}
    if fanout is not None:
        fanout = check_int("fanout", fanout, 0)
        to_exc = int(round(EXC_FRACTION * fanout))
        out_degree = {"exc": to_exc, "inh": fanout - to_exc}
    projections = {}
    for (name, (src, tgt)), s in zip(pairs.items(), seeds):
        port, w = ("g_e", w_e) if src == "exc" else ("g_i", w_i)
        if fanout is None:
            conn = SynapseCSR.fixed_probability(sizes[src], sizes[tgt], p, weight=w, seed=int(s), delays=delays,
                                                dtype=dtype)
        else:
            conn = SynapseCSR.fixed_fanout(sizes[src], sizes[tgt], out_degree[tgt], weight=w, seed=int(s),
                                           delays=delays, dtype=dtype)
        projections[name] = SpikingProjection.create(src, tgt, conn, port=port, backend=backend)
    if fused:
        projections = {"exc": fuse([projections["ee"], projections["ei"]]),
                       "inh": fuse([projections["ie"], projections["ii"]])}
    return Network({"exc": exc, "inh": inh}, projections)


def _split(n: int) -> tuple[int, int]:
    n = check_int("n", n, 2)
    n_e = int(round(EXC_FRACTION * n))
    return n_e, n - n_e


def coba_ei(n: int = 4000, *, p: float | None = 0.02, fanout: int | None = None, w_e: float = 0.6,
            w_i: float = 6.7, i_ext: float = 0.0, delay: int = 0, seed: int = 0, dt: float = 0.1,
            backend: str | None = None, fused: bool = False, dtype=None) -> Network:
    """Brette et al. (2007) benchmark 1 (COBA): ``tau_m = 20`` ms, ``V_rest = V_reset = -60``,
    ``V_th = -50`` mV, ``t_ref = 5`` ms, ``tau_e = 5``, ``tau_i = 10`` ms, ``E_e = 0``,
    ``E_i = -80`` mV; increments ``w_e = 0.6`` and ``w_i = 6.7`` in units of the leak
    conductance (6 nS and 67 nS for g_L = 10 nS). Start it from :func:`coba_initial_state`.
    ``fanout=80`` instead of ``p`` gives the scalable variant."""
    n_e, n_i = _split(n)
    cell = dict(synapse="conductance", tau_m=20.0, v_rest=-60.0, v_reset=-60.0, v_th=-50.0, t_ref=5.0,
                i_ext=i_ext, tau_e=5.0, tau_i=10.0, e_e=0.0, e_i=-80.0, dt=dt, dtype=dtype)
    return ei_network(SynapticLIF.create(n_e, **cell), SynapticLIF.create(n_i, **cell), w_e=w_e, w_i=w_i,
                      p=None if fanout is not None else p, fanout=fanout, delay=delay, seed=seed, backend=backend,
                      fused=fused, dtype=dtype)

def cuba_ei(n: int = 4000, *, p: float | None = 0.02, fanout: int | None = None, w_e: float = 1.62,
            w_i: float = -9.0, i_ext: float = 0.0, delay: int = 0, seed: int = 0, dt: float = 0.1,
            backend: str | None = None, fused: bool = False, dtype=None) -> Network:
    """Brette et al. (2007) benchmark 2 (CUBA): as :func:`coba_ei` with current synapses,
    ``V_rest = -49`` mV (above threshold: self-sustained activity) and jumps ``w_e = +1.62``,
    ``w_i = -9`` mV. The default initial state (``V`` uniform between reset and threshold,
    synapses closed) is the PyNN/ANNarchy recipe."""
    n_e, n_i = _split(n)
    cell = dict(synapse="current", tau_m=20.0, v_rest=-49.0, v_reset=-60.0, v_th=-50.0, t_ref=5.0,
                i_ext=i_ext, tau_e=5.0, tau_i=10.0, dt=dt, dtype=dtype)
    return ei_network(SynapticLIF.create(n_e, **cell), SynapticLIF.create(n_i, **cell), w_e=w_e, w_i=w_i,
                      p=None if fanout is not None else p, fanout=fanout, delay=delay, seed=seed, backend=backend,
                      fused=fused, dtype=dtype)


def coba_initial_state(network: Network, key: jax.Array) -> NetworkState:
    """Brian's COBA start: ``V ~ N(-65, 5^2)`` mV, ``g_e ~ N(4, 1.5^2)`` and ``g_i ~ N(20, 12^2)``
    in units of g_L (clipped at 0), independently per neuron (MODELS of Brette et al. 2007)."""
    state = network.init(key)
    for i, name in enumerate(network.populations):
        pop = state[name]
        kv, ke, ki = jax.random.split(jax.random.fold_in(key, i + 1), 3)
        shape, dt = pop.v.shape, pop.v.dtype
        state = state.replace_population(name, pop._replace(
            v=-65.0 + 5.0 * jax.random.normal(kv, shape, dt),
            g_e=jnp.maximum(4.0 + 1.5 * jax.random.normal(ke, shape, dt), 0.0),
            g_i=jnp.maximum(20.0 + 12.0 * jax.random.normal(ki, shape, dt), 0.0)))
    return state
