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
from ..connectivity.builders import DISTANCE_FIELDS
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
        """Push this step's spikes, propagate the (delayed) events, one result per target (the
        kernel writes each block of a fused projection as its own result)."""
        spikes = observables[self.source]["spike"]
        blocks = tuple(size for _, _, size in self.outputs) if len(self.outputs) > 1 else None
        if self.synapses.has_delays:
            state = delay_push(state, spikes, step)
            y = delayed_event_csr_matvec(self.synapses, state, step, backend=self.backend, blocks=blocks)
        else:
            y = event_csr_matvec(self.synapses, spikes, backend=self.backend, blocks=blocks)
        if blocks is None:
            y = (y,)
        return state, {(pop, port): part for (pop, port, _), part in zip(self.outputs, y)}


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


RULES = ("p", "fanout", "indegree", "total", "one_to_one", "distance")


def _synapse_values(path, value, **context):
    """A number, or ``{ dist = ..., seed = 0, clip = [low, high] }``: one independent draw per
    synapse from :data:`neurodyn.schema.DISTRIBUTIONS` (key ``PRNGKey(seed)``), then clipped
    (values outside ``[low, high]`` set to the bound) when ``clip`` is given."""
    from ..schema import DISTRIBUTIONS

    if not isinstance(value, dict):
        return Field(path.rpartition(".")[2] or "value").validate(path, value)
    rest = dict(value)
    seed, clip = rest.pop("seed", 0), rest.pop("clip", None)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SpecError(f"{path}.seed: expected an integer in [0, 2^32), got {seed!r}")
    if clip is not None and not (isinstance(clip, list) and len(clip) == 2 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in clip) and clip[0] <= clip[1]):
        raise SpecError(f"{path}.clip: expected [low, high] with low <= high, got {clip!r}")
    DISTRIBUTIONS.read(path, rest)  # the distribution and its fields, checked before anything is built
    return {**rest, "seed": seed, "clip": clip}


def _draw(path, value, nnz: int, dtype) -> np.ndarray | float:
    """The per-synapse values of a table of :func:`_synapse_values` (float64 on the host)."""
    import jax

    from ..schema import DISTRIBUTIONS

    if not isinstance(value, dict):
        return value
    rest = {k: v for k, v in value.items() if k not in ("seed", "clip")}
    x = np.asarray(DISTRIBUTIONS.build(path, rest, context={"key": jax.random.PRNGKey(value["seed"]), "n": nnz,
                                                              "dtype": jnp.result_type(float)}), np.float64)
    if value["clip"] is not None:
        x = np.clip(x, *value["clip"])
    return x


def delay_steps(delay_ms, dt: float) -> np.ndarray:
    """Delays in ms as whole steps of ``dt`` ms: ``rint(delay_ms / dt)`` (to the nearest step,
    halves to the even step, NumPy's ``rint``), negative values raised to 0."""
    return np.maximum(np.rint(np.asarray(delay_ms, np.float64) / float(dt)), 0).astype(np.int64)


def _spiking_from_spec(*, source, target, port, p, fanout, indegree, total, one_to_one, distance, weight, delay,
                       delay_ms, seed, self_connections, autapses, multapses, backend, plasticity, stp, models, dtype):
    from ..connectivity.builders import (connect_distance, connect_fixed_indegree, connect_fixed_total,
                                         connect_one_to_one, expected_synapses)
    from ..resources import check_memory

    src, tgt = models[source], models[target]
    if "spike" not in getattr(src, "EVENTS", ()):
        raise SpecError(f"source: population {source!r} emits no spike events")
    if port not in tgt.PORTS:
        raise SpecError(f"port: population {target!r} has no input port {port!r} (ports: {', '.join(tgt.PORTS)})"
                        f"{did_you_mean(port, tgt.PORTS)}")
    given = {"p": p, "fanout": fanout, "indegree": indegree, "total": total,
             "one_to_one": one_to_one or None, "distance": distance}
    rules = [r for r in RULES if given[r] is not None]
    if len(rules) != 1:
        raise SpecError(f"give exactly one of p, fanout, indegree, total, one_to_one or distance (the connection rule), got "
                        f"{', '.join(rules) if rules else 'none'}")
    rule = rules[0]
    autapses = self_connections if autapses is None else autapses
    if not autapses and source != target:
        raise SpecError("autapses (self_connections) = false needs source == target")
    if multapses and rule not in ("indegree", "total"):
        raise SpecError(f"multapses: only the indegree and total rules can repeat a pair, not {rule}")
    if weight is None:
        raise SpecError("weight: give the increment per spike (a number or a { dist = ... } table)")
    if delay and delay_ms is not None:
        raise SpecError("give one of delay (steps) and delay_ms")
    nnz = expected_synapses(rule, src.n, tgt.n, given)
    check_memory(f"the spiking projection {source} -> {target} (about {nnz:,.0f} synapses)", 48.0 * nnz)
    drawn = isinstance(weight, dict) or delay_ms is not None
    dt = float(getattr(src, "dt", getattr(tgt, "dt", 0.1)))
    if delay or isinstance(delay_ms, (int, float)):  # the ring buffer: max_delay + 1 spike vectors of the source
        steps = int(delay) if delay else int(round(float(delay_ms) / dt))
        check_memory(f"the delay of the spiking projection {source} -> {target} ({steps:,} steps: a ring buffer of "
                     f"{steps + 1:,} x {src.n:,} spike flags)", float(steps + 1) * src.n)
    if rule == "fanout" and drawn:  # fixed fan-out keeps its layout: draws per row
        n = src.n * fanout
        d = delay if delay else None if delay_ms is None else delay_steps(_draw("delay_ms", delay_ms, n, dtype), dt)
        conn = SynapseCSR.fixed_fanout(src.n, tgt.n, fanout, weight=_draw("weight", weight, n, dtype), seed=seed,
                                       self_connections=autapses, delays=d, dtype=dtype)
    elif rule == "fanout":
        conn = SynapseCSR.fixed_fanout(src.n, tgt.n, fanout, weight=weight, seed=seed,
                                       self_connections=autapses, delays=delay if delay else None, dtype=dtype)
    elif rule == "p" and not drawn:
        conn = SynapseCSR.fixed_probability(src.n, tgt.n, p, weight=weight, seed=seed,
                                            self_connections=autapses, delays=delay if delay else None, dtype=dtype)
    else:
        if rule == "p":
            base = SynapseCSR.fixed_probability(src.n, tgt.n, p, seed=seed, self_connections=autapses)
            pre, post = base.presynaptic(), np.asarray(base.indices)
        elif rule == "indegree":
            pre, post = connect_fixed_indegree(src.n, tgt.n, indegree, seed=seed, autapses=autapses,
                                               multapses=multapses)
        elif rule == "total":
            pre, post = connect_fixed_total(src.n, tgt.n, total, seed=seed, autapses=autapses, multapses=multapses)
        elif rule == "one_to_one":
            pre, post = connect_one_to_one(src.n, tgt.n, autapses=autapses)
        else:
            pre, post = connect_distance(src.n, tgt.n, **distance, seed=seed, autapses=autapses)
        n = pre.size
        if delay_ms is not None:
            d = delay_steps(_draw("delay_ms", delay_ms, n, dtype), dt)
            d = d if d.max(initial=0) > 0 else None
        else:
            d = delay if delay else None
        conn = SynapseCSR.from_coo(pre, post, _draw("weight", weight, n, dtype), n_pre=src.n, n_post=tgt.n,
                                   delays=d, dtype=dtype)
    if plasticity is not None or stp is not None:  # weights and resources in the projection's state
        return plastic_from_spec(source, target, port, conn, plasticity, stp, models, dtype)
    return SpikingProjection.create(source, target, conn, port=port, backend=None if backend == "auto" else backend)


def _distance_table(path, value, **context) -> dict:
    from ..connectivity.builders import DISTANCE_FIELDS
    from ..schema import check_table, read_fields

    return read_fields(path, check_table(path, value), DISTANCE_FIELDS)


_RULE_TEXT = "none (give one rule: p, fanout, indegree, total, one_to_one or distance)"
_SYNAPSE_DIST = "a number or { dist = normal | lognormal | uniform | constant, ..., seed = 0, clip = [low, high] }"


PROJECTIONS.register("spiking", _spiking_from_spec, (
    Field("source", "custom", validator=_population, type_text="string", doc="the spiking population read"),
    Field("target", "custom", validator=_population, type_text="string", doc="the population written"),
    Field("port", "string", default="g_e", doc="the target's input port (g_e, g_i: synaptic increments; v: jumps)"),
    Field("p", default=None, minimum=0.0, maximum=1.0, doc="connection probability of every pair",
          default_text="none (give p or fanout)"),
    Field("fanout", "integer", default=None, minimum=0, doc="targets per presynaptic neuron (fixed fan-out)",
          default_text=_RULE_TEXT),
    Field("indegree", "integer", default=None, minimum=0, doc="sources per postsynaptic neuron (fixed in-degree)",
          default_text=_RULE_TEXT),
    Field("total", "integer", default=None, minimum=0, doc="exact number of synapses on uniformly drawn pairs",
          default_text=_RULE_TEXT),
    Field("one_to_one", "bool", default=False, doc="neuron i to neuron i (equal sizes)"),
    Field("distance", "custom", default=None, validator=_distance_table, type_text="table",
          doc="distance-dependent probability on a sheet or ring (docs/spec/graphs.md#distance)",
          default_text=_RULE_TEXT, fields=DISTANCE_FIELDS),
    Field("weight", "custom", default=None, validator=_synapse_values, type_text="number or table",
          doc="increment per spike (g_L units for conductances, mV for currents and jumps), or drawn per synapse: "
              + _SYNAPSE_DIST, default_text="required"),
    Field("delay", "integer", default=0, minimum=0, unit="steps", doc="transmission delay"),
    Field("delay_ms", "custom", default=None, validator=_synapse_values, type_text="number or table", unit="ms",
          doc="transmission delay in ms, or drawn per synapse (same tables as weight); rounded to the nearest step "
              "(halves to even, NumPy rint), negative draws to 0", default_text="none (delay in steps)"),
    Field("seed", "integer", default=0, minimum=0, doc="seed of the random connectivity"),
    Field("self_connections", "bool", default=True, doc="allow i -> i (source == target); autapses is its new name"),
    Field("autapses", "bool", default=None, doc="allow i -> i (source == target)",
          default_text="self_connections"),
    Field("multapses", "bool", default=False, doc="allow several synapses on one pair (indegree and total rules)"),
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
