"""Event-driven spiking projections: presynaptic spike events through sparse synapses.

:class:`SpikingProjection` reads the boolean ``spike`` events of its source population and
delivers ``y_post = sum over spiking pre of W[pre, post]`` to one input port of its target
(the synaptic increments ``"g_e"`` / ``"g_i"`` of a
:class:`~neurodyn.models.spiking.SynapticLIF`, or voltage jumps ``"v"`` of a
:class:`~neurodyn.models.spiking.LIF`), reading only the rows of the neurons that spiked
(:func:`neurodyn.ops.event_csr_matvec`). Synapses with delays keep the last ``max_delay + 1``
spike vectors in a boolean ring buffer in the projection's state
(:mod:`neurodyn.core.delay`) and propagate with :func:`neurodyn.ops.delayed_event_csr_matvec`:
a spike of step ``s`` reaches the target's update of step ``s + d``; without delays it enters
the update of the step it was emitted at.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..core.delay import delay_push
from ..core.projection import Projection
from ..errors import SpecError
from ..ops.event import BACKENDS, delayed_event_csr_matvec, event_csr_matvec
from ..ops.synapses import SynapseCSR
from ..pytree import pytree_dataclass
from ..schema import PROJECTIONS, Field, check_choice, did_you_mean
from .plastic import STP_FIELDS, RULE_FIELDS, plastic_from_spec, read_plasticity, read_stp


@pytree_dataclass(static=("source", "outputs", "backend"))
class SpikingProjection(Projection):
    """Spikes of ``source`` through ``synapses`` (``W[pre, post]``, :class:`SynapseCSR`) into
    ``outputs``: ``((population, port, size), ...)``, consecutive blocks of the postsynaptic
    index (one block for a plain projection; several for a fused one, see :func:`fuse`);
    ``backend`` of the event kernel (None: the platform default, see :mod:`neurodyn.ops.event`).
    Sweep or differentiate the weights with
    ``dataclasses.replace(proj, synapses=proj.synapses.with_weights(w))``.
    """

    source: str
    outputs: tuple
    synapses: SynapseCSR
    backend: str | None = None
    PARAMETER_ALIASES = {"weight": "synapses.weights"}  # the spec's weight: couplings.<name>.weight sweeps it

    def __post_init__(self):
        if self.backend is not None and self.backend not in BACKENDS:
            raise SpecError(f"spiking projection: backend must be one of {BACKENDS} or None, got {self.backend!r}")

    @classmethod
    def create(cls, source: str, target: str, synapses: SynapseCSR, *, port: str = "g_e",
               backend: str | None = None) -> "SpikingProjection":
        """A projection over ``synapses`` into port ``port`` of ``target``; zero delays are
        dropped (no ring buffer)."""
        if not isinstance(synapses, SynapseCSR):
            raise SpecError(f"spiking projection: synapses must be a SynapseCSR, got {type(synapses).__name__}")
        if synapses.has_delays and synapses.max_delay == 0:
            synapses = synapses.without_delays()
        return cls(source, ((target, port, synapses.n_post),), synapses, backend)

    def sources(self) -> tuple:
        """The source population."""
        return (self.source,)

    def targets(self) -> tuple:
        """The ``(population, port)`` pairs written."""
        return tuple((pop, port) for pop, port, _ in self.outputs)

    def init(self, key, observables):
        """A ring buffer of ``max_delay + 1`` empty spike vectors (nothing without delays)."""
        if not self.synapses.has_delays:
            return ()
        return jnp.zeros((self.synapses.max_delay + 1, self.synapses.n_pre), bool)

    def step(self, state, observables, step):
        """Push this step's spikes, propagate the (delayed) events, split by target."""
        spikes = observables[self.source]["spike"]
        if self.synapses.has_delays:
            state = delay_push(state, spikes, step)
            y = delayed_event_csr_matvec(self.synapses, state, step, backend=self.backend)
        else:
            y = event_csr_matvec(self.synapses, spikes, backend=self.backend)
        out, start = {}, 0
        for pop, port, size in self.outputs:
            out[(pop, port)] = y[start:start + size]
            start += size
        return state, out


def fuse(projections) -> SpikingProjection:
    """One projection doing the work of several spiking projections from the same source: their
    synapses side by side (postsynaptic blocks in the order given), so one event product per
    step replaces one per projection (``benchmarks/bench_coba.py``, the COBA network: 67
    instead of 115 us per step with brainevent's kernel; 19 instead of 20 us with the default
    numba kernel, whose calls cost about a microsecond). The result is the same sum, synapse by
    synapse. Without
    delays the rows are merged in one vectorised pass (no sort): the projections of a
    million-neuron network fuse in about two seconds."""
    projections = list(projections)
    if not projections or any(not isinstance(p, SpikingProjection) for p in projections):
        raise SpecError("fuse: expected one or more SpikingProjection")
    sources = {p.source for p in projections}
    if len(sources) > 1 or len({p.synapses.n_pre for p in projections}) > 1:
        raise SpecError(f"fuse: the projections must share their source, got {sorted(sources)}")
    conns = [p.synapses for p in projections]
    outputs = sum((p.outputs for p in projections), ())
    offsets = np.cumsum([0] + [c.n_post for c in conns])
    weights = [np.broadcast_to(np.asarray(c.weights), (c.nnz,)) for c in conns]
    scalars = [np.asarray(c.weights) for c in conns]
    homogeneous = all(c.homogeneous for c in conns) and all(x == scalars[0] for x in scalars)
    dtype = jnp.asarray(conns[0].weights).dtype
    if not any(c.has_delays for c in conns):
        conn = _merge_rows(conns, offsets, None if homogeneous else weights, scalars[0], dtype)
    else:
        w = np.concatenate(weights)
        d = np.concatenate([c.synapse_delays() for c in conns])
        conn = SynapseCSR.from_coo(np.concatenate([c.presynaptic() for c in conns]),
                                   np.concatenate([np.asarray(c.indices) + o for c, o in zip(conns, offsets)]),
                                   scalars[0] if homogeneous else w, n_pre=conns[0].n_pre, n_post=int(offsets[-1]),
                                   delays=d if d.size and d.max() > 0 else None, dtype=dtype)
    return SpikingProjection(projections[0].source, outputs, conn, projections[0].backend)


def _merge_rows(conns, offsets, weights, weight, dtype) -> SynapseCSR:
    """Synapses without delays side by side, row ``i`` of the result being the rows ``i`` of
    ``conns`` one after the other (targets shifted by ``offsets``): each synapse moves to its
    place in one vectorised pass (no sort; a concatenation of the rows for fixed fan-out).
    ``weights``: the per-synapse weights of each, or None for the one homogeneous ``weight``."""
    from ..ops.synapses import _assemble

    n_pre = conns[0].n_pre
    if all(c.fixed for c in conns):  # fixed fan-out: the rows side by side are a concatenation
        post = np.concatenate([np.asarray(c.indices).reshape(n_pre, c.fanout) + np.int32(o)
                               for c, o in zip(conns, offsets)], axis=1).reshape(-1)
        w = None if weights is None else np.concatenate(
            [np.asarray(x).reshape(n_pre, c.fanout) for c, x in zip(conns, weights)], axis=1).reshape(-1)
        total = np.full(n_pre, sum(c.fanout for c in conns), np.int64)
        return _assemble(n_pre, int(offsets[-1]), total, post, weight if w is None else w, (), None, dtype)
    pointers = [c.row_pointers() for c in conns]  # fixed fan-out stores none: built here, on the host
    counts = [np.diff(p) for p in pointers]
    total = np.sum(counts, axis=0)
    nnz = int(total.sum())
    post = np.empty(nnz, np.int32)
    w = None if weights is None else np.empty(nnz, np.result_type(*weights))
    start = np.concatenate([[0], np.cumsum(total)[:-1]]).astype(np.int64)
    for i, (c, count, ptr) in enumerate(zip(conns, counts, pointers)):
        dest = np.repeat(start - ptr[:-1], count) + np.arange(c.nnz, dtype=np.int64)
        post[dest] = np.asarray(c.indices) + int(offsets[i])
        if w is not None:
            w[dest] = weights[i]
        start += count
    return _assemble(n_pre, int(offsets[-1]), total, post, weight if w is None else w, (), None, dtype)


# ---------------------------------------------------------------- spec registry

def _population(path, value, *, models=None, **context) -> str:
    return check_choice(path, value, tuple(models or ()))


def _spiking_from_spec(*, source, target, port, p, fanout, weight, delay, seed, self_connections, backend,
                       plasticity, stp, models, dtype):
    src, tgt = models[source], models[target]
    if "spike" not in getattr(src, "EVENTS", ()):
        raise SpecError(f"source: population {source!r} emits no spike events")
    if port not in tgt.PORTS:
        raise SpecError(f"port: population {target!r} has no input port {port!r} (ports: {', '.join(tgt.PORTS)})"
                        f"{did_you_mean(port, tgt.PORTS)}")
    if (p is None) == (fanout is None):
        raise SpecError("give exactly one of p (connection probability) and fanout (targets per neuron)")
    if not self_connections and source != target:
        raise SpecError("self_connections: false needs source == target")
    delays = delay if delay else None
    if p is not None:
        conn = SynapseCSR.fixed_probability(src.n, tgt.n, p, weight=weight, seed=seed,
                                            self_connections=self_connections, delays=delays, dtype=dtype)
    else:
        conn = SynapseCSR.fixed_fanout(src.n, tgt.n, fanout, weight=weight, seed=seed,
                                       self_connections=self_connections, delays=delays, dtype=dtype)
    if plasticity is not None or stp is not None:  # weights and resources in the projection's state
        return plastic_from_spec(source, target, port, conn, plasticity, stp, models, dtype)
    return SpikingProjection.create(source, target, conn, port=port, backend=None if backend == "auto" else backend)


PROJECTIONS.register("spiking", _spiking_from_spec, (
    Field("source", "custom", validator=_population, type_text="string", doc="the spiking population read"),
    Field("target", "custom", validator=_population, type_text="string", doc="the population written"),
    Field("port", "string", default="g_e", doc="the target's input port (g_e, g_i: synaptic increments; v: jumps)"),
    Field("p", default=None, minimum=0.0, maximum=1.0, doc="connection probability of every pair",
          default_text="none (give p or fanout)"),
    Field("fanout", "integer", default=None, minimum=0, doc="targets per presynaptic neuron (fixed fan-out)",
          default_text="none (give p or fanout)"),
    Field("weight", doc="increment per spike (g_L units for conductances, mV for currents and jumps)"),
    Field("delay", "integer", default=0, minimum=0, unit="steps", doc="transmission delay"),
    Field("seed", "integer", default=0, minimum=0, doc="seed of the random connectivity"),
    Field("self_connections", "bool", default=True, doc="allow i -> i (source == target)"),
    Field("backend", "choice", default="auto", choices=("auto",) + BACKENDS,
          doc="event kernel (auto: the platform default)"),
    Field("plasticity", "custom", default=None, validator=read_plasticity, type_text="table",
          doc="a learning rule and its parameters; the fields of rule = stdp are listed below, those of triplet, "
              "vogels and reward_stdp in docs/models/plasticity.md",
          fields=(Field("rule", "choice", choices=tuple(RULE_FIELDS), doc="the learning rule"), *RULE_FIELDS["stdp"])),
    Field("stp", "custom", default=None, validator=read_stp, type_text="table",
          doc="Tsodyks-Markram short-term plasticity {U, tau_rec, tau_facil} (docs/models/plasticity.md)",
          fields=STP_FIELDS),
), summary="Event-driven spiking projection: spikes of the source through random sparse synapses "
           "(probability p or fixed fan-out) into a port of the target.",
    citation="R. Brette et al., J. Comput. Neurosci. 23:349 (2007)",
    example={"source": "neurons", "target": "neurons", "port": "v", "p": 0.5, "weight": 0.5, "delay": 1},
    context=("models", "dtype"), cls=SpikingProjection)
