"""Plastic spiking projections: per-synapse weights that learn, event by event
(docs/models/plasticity.md).

:class:`PlasticProjection` propagates the spikes of its source through sparse synapses (as
:class:`~neurodyn.models.synapses.SpikingProjection`) and keeps the weights, the spike traces,
the delay ring buffer and, with short-term plasticity, the resources of every presynaptic
neuron in its state. A learning rule (:class:`PairSTDP`, :class:`TripletSTDP`,
:class:`InhibitorySTDP`, :class:`RewardSTDP`) changes the weights only where spikes happen:

* a presynaptic spike arriving at its synapses (after the delay) updates its **row** (the
  synapses of that neuron and delay) -- transmission and depression in one pass;
* a postsynaptic spike updates its **column**, through a transposed index built once
  (:class:`neurodyn.ops.plasticity.PlasticIndex`) -- potentiation.

Traces live per neuron (presynaptic ones per neuron and delay, as seen at the synapse) and
decay in closed form, ``x <- x exp(-dt / tau)`` each step: ``O(N)`` work, never ``O(synapses)``.
The cost per step is spikes x fan-out plus postsynaptic spikes x fan-in.

Order within one step ``s`` (Brian 2's default: ``on_pre`` before ``on_post``):

1. traces decay by one step;
2. presynaptic spikes arriving at step ``s`` (emitted at ``s - d``) transmit the weight *before*
   this step's change (scaled by the Tsodyks-Markram factor of their emission), then the rule's
   presynaptic update runs with the postsynaptic traces of spikes before ``s``; then the
   presynaptic traces jump (``+1``, or to ``1`` for nearest-spike interactions);
3. postsynaptic spikes of step ``s`` run the rule's postsynaptic update with the presynaptic
   traces including this step's arrivals (a pre and a post spike in the same step count as
   pre-before-post); then the postsynaptic traces jump.

Delays are axonal: the synapse sees the presynaptic spike when it is delivered; the
postsynaptic spike acts at the synapse at once. A rule's parameters are array leaves (sweep
them with ``jax.vmap``); ``nearest`` is static.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.delay import delay_push
from ..core.model import float_dtype
from ..core.projection import Projection
from ..errors import SpecError
from ..ops.event import event_csr_matvec, ring_read
from ..ops.plasticity import (BACKENDS, PlasticIndex, column_pass, default_backend, gather, native_step,
                              row_pass, scatter)
from ..ops.synapses import SynapseCSR
from ..pytree import pytree_dataclass
from ..schema import Field, check_choice, check_table, read_fields


# ---------------------------------------------------------------------------- learning rules
def _weight_step(w, w_max, amplitude, exponent, potentiate):
    """``w_max a (1 - w / w_max)^mu`` (potentiation) or ``w_max a (w / w_max)^mu`` (depression):
    the weight dependence of Gütig et al. (2003) / NEST's ``stdp_synapse``: ``mu = 0`` additive
    (Song et al. 2000), ``mu = 1`` multiplicative (soft bounds; van Rossum et al. 2000 for the
    depression)."""
    x = jnp.clip(w / w_max, 0.0, 1.0)
    base = 1.0 - x if potentiate else x
    return w_max * amplitude * jnp.power(base, exponent)


@pytree_dataclass(static=("nearest",))
class PairSTDP:
    """Pair-based STDP with a presynaptic trace ``x`` (``tau_plus``) and a postsynaptic trace
    ``y`` (``tau_minus``), both ``+1`` per spike (all-to-all) or set to ``1`` (``nearest``: each
    spike pairs with the nearest one of the other side, symmetric nearest-spike of Morrison,
    Diesmann & Gerstner 2008)::

        on a presynaptic spike:  w <- w - w_max a_minus (w / w_max)^mu_minus     y
        on a postsynaptic spike: w <- w + w_max a_plus  (1 - w / w_max)^mu_plus  x

    then ``w`` is clipped to ``[0, w_max]``. ``mu_plus = mu_minus = 0``: additive with hard
    bounds (Song, Miller & Abbott, Nat. Neurosci. 3:919, 2000: ``a_minus / a_plus = 1.05``,
    ``tau = 20`` ms); ``mu_plus = 0, mu_minus = 1``: van Rossum, Bi & Turrigiano (J. Neurosci.
    20:8812, 2000); ``mu = 1`` both: multiplicative, soft bounds. Times in ms; ``a_plus``,
    ``a_minus`` relative to ``w_max``."""

    tau_plus: Any = 16.8
    tau_minus: Any = 33.7
    a_plus: Any = 0.005
    a_minus: Any = 0.005
    w_max: Any = 1.0
    mu_plus: Any = 0.0
    mu_minus: Any = 0.0
    nearest: bool = False

    def pre_taus(self) -> tuple:
        return (self.tau_plus,)

    def post_taus(self) -> tuple:
        return (self.tau_minus,)

    def bounds(self) -> tuple:
        return 0.0, self.w_max

    def on_pre(self, w, pre, post):
        """Depression by the postsynaptic trace at the synapse."""
        return jnp.clip(w - _weight_step(w, self.w_max, self.a_minus, self.mu_minus, False) * post[0], 0.0, self.w_max)

    def on_post(self, w, pre, post):
        """Potentiation by the presynaptic trace at the synapse."""
        return jnp.clip(w + _weight_step(w, self.w_max, self.a_plus, self.mu_plus, True) * pre[0], 0.0, self.w_max)

    def kernel_rule(self) -> tuple:
        """``(name, parameters)`` of this rule in the compiled kernel (:data:`neurodyn.ops.plasticity.RULE_CODES`)."""
        return "pair", (self.w_max, self.a_plus, self.a_minus, self.mu_plus, self.mu_minus)

    @classmethod
    def song2000(cls, w_max: float = 1.0) -> "PairSTDP":
        """Song, Miller & Abbott (2000): additive, ``tau_+ = tau_- = 20`` ms, ``A_+ = 0.005``,
        ``A_- / A_+ = 1.05``, hard bounds ``[0, w_max]``."""
        return cls(20.0, 20.0, 0.005, 0.00525, w_max, 0.0, 0.0, False)


@pytree_dataclass(static=("nearest",))
class TripletSTDP:
    """The triplet rule (Pfister & Gerstner, J. Neurosci. 26:9673, 2006): presynaptic traces
    ``r1`` (``tau_plus``), ``r2`` (``tau_x``), postsynaptic ``o1`` (``tau_minus``), ``o2``
    (``tau_y``)::

        on a presynaptic spike:  w <- w - o1 (a2_minus + a3_minus r2)   (r2 before its jump)
        on a postsynaptic spike: w <- w + r1 (a2_plus  + a3_plus  o2)   (o2 before its jump)

    clipped to ``[0, w_max]``; traces ``+1`` per spike (all-to-all) or set to ``1`` (nearest).
    :meth:`visual_cortex` gives the minimal models of their Table 4."""

    tau_plus: Any = 16.8
    tau_minus: Any = 33.7
    tau_x: Any = 101.0
    tau_y: Any = 125.0
    a2_plus: Any = 5e-10
    a3_plus: Any = 6.2e-3
    a2_minus: Any = 7e-3
    a3_minus: Any = 0.0
    w_max: Any = 1.0
    nearest: bool = False

    def pre_taus(self) -> tuple:
        return (self.tau_plus, self.tau_x)

    def post_taus(self) -> tuple:
        return (self.tau_minus, self.tau_y)

    def bounds(self) -> tuple:
        return 0.0, self.w_max

    def on_pre(self, w, pre, post):
        return jnp.clip(w - post[0] * (self.a2_minus + self.a3_minus * pre[1]), 0.0, self.w_max)

    def on_post(self, w, pre, post):
        return jnp.clip(w + pre[0] * (self.a2_plus + self.a3_plus * post[1]), 0.0, self.w_max)

    def kernel_rule(self) -> tuple:
        return "triplet", (self.w_max, self.a2_plus, self.a3_plus, self.a2_minus, self.a3_minus)

    @classmethod
    def visual_cortex(cls, nearest: bool = False, w_max: float = 1.0) -> "TripletSTDP":
        """The minimal visual-cortex models of Pfister & Gerstner (2006), Table 4 (fitted to
        Sjöström et al. 2001): all-to-all ``tau_y = 125`` ms, ``A2+ = 5e-10``,
        ``A3+ = 6.2e-3``, ``A2- = 7e-3``; nearest-spike ``tau_y = 40`` ms, ``A2+ = 8.8e-11``,
        ``A3+ = 5.3e-2``, ``A2- = 8e-3``; both ``tau_+ = 16.8``, ``tau_- = 33.7`` ms,
        ``A3- = 0`` (so ``tau_x`` plays no part)."""
        if nearest:
            return cls(16.8, 33.7, 101.0, 40.0, 8.8e-11, 5.3e-2, 8e-3, 0.0, w_max, True)
        return cls(16.8, 33.7, 101.0, 125.0, 5e-10, 6.2e-3, 7e-3, 0.0, w_max, False)


@pytree_dataclass(static=("nearest",))
class InhibitorySTDP:
    """Inhibitory STDP that holds the postsynaptic rate at ``target_rate`` (Vogels, Sprekeler,
    Zenke, Clopath & Gerstner, Science 334:1569, 2011): traces ``x`` (pre), ``y`` (post) with
    time constant ``tau`` (20 ms), ``+1`` per spike::

        on a presynaptic spike:  w <- w + eta (y - alpha),   alpha = 2 target_rate tau / 1000
        on a postsynaptic spike: w <- w + eta x

    clipped to ``[0, w_max]`` (``w`` the inhibitory increment, a positive number).
    ``target_rate`` in Hz, ``tau`` in ms."""

    tau: Any = 20.0
    eta: Any = 1e-3
    target_rate: Any = 5.0
    w_max: Any = 1.0
    nearest: bool = False

    def pre_taus(self) -> tuple:
        return (self.tau,)

    def post_taus(self) -> tuple:
        return (self.tau,)

    def bounds(self) -> tuple:
        return 0.0, self.w_max

    def on_pre(self, w, pre, post):
        alpha = 2.0 * self.target_rate * self.tau * 1e-3
        return jnp.clip(w + self.eta * (post[0] - alpha), 0.0, self.w_max)

    def on_post(self, w, pre, post):
        return jnp.clip(w + self.eta * pre[0], 0.0, self.w_max)

    def kernel_rule(self) -> tuple:
        return "vogels", (self.w_max, self.eta, 2.0 * self.target_rate * self.tau * 1e-3)


@pytree_dataclass(static=("nearest", "period"))
class RewardSTDP:
    """Reward-modulated STDP with an eligibility trace (Izhikevich, Cereb. Cortex 17:2443,
    2007). Pair STDP (additive, traces ``tau_plus``, ``tau_minus``) writes into a per-synapse
    eligibility ``c`` instead of the weight; ``c`` decays with ``tau_c`` and the weight follows
    the global modulator ``m`` (a population's observable, e.g. :class:`~neurodyn.models.sources.Modulator`)::

        on a presynaptic spike:  c <- c - a_minus y
        on a postsynaptic spike: c <- c + a_plus  x
        dw/dt = c m,   dc/dt = -c / tau_c

    As in Izhikevich's code, the weights move every ``period`` steps (10 ms in the paper):
    ``w <- clip(w + c M, 0, w_max)`` with ``M`` the integral of ``m`` over the period, then
    ``c <- c exp(-period dt / tau_c)`` -- a pass over every synapse once per period, the one
    place where a global signal touches every synapse. ``a_plus``, ``a_minus`` absolute."""

    tau_plus: Any = 20.0
    tau_minus: Any = 20.0
    a_plus: Any = 1.0
    a_minus: Any = 1.5
    tau_c: Any = 1000.0
    w_max: Any = 4.0
    period: int = 10
    nearest: bool = False

    eligibility = True

    def pre_taus(self) -> tuple:
        return (self.tau_plus,)

    def post_taus(self) -> tuple:
        return (self.tau_minus,)

    def bounds(self) -> tuple:
        return 0.0, self.w_max

    def on_pre(self, c, pre, post):
        return c - self.a_minus * post[0]

    def on_post(self, c, pre, post):
        return c + self.a_plus * pre[0]


RULES = {"stdp": PairSTDP, "triplet": TripletSTDP, "vogels": InhibitorySTDP, "reward_stdp": RewardSTDP}


@pytree_dataclass
class TsodyksMarkram:
    """Short-term plasticity per presynaptic neuron (Tsodyks, Pawelzik & Markram, Neural
    Comput. 10:821, 1998; the event-driven form of NEST's ``tsodyks2_synapse``): utilisation
    ``u`` and available resources ``x``, between spikes in closed form::

        u(t) = u e^{-t / tau_facil},     x(t) = 1 - (1 - x) e^{-t / tau_rec}

    and at a spike: ``u <- u + U (1 - u)``, the transmitted weight is ``w u x``, then
    ``x <- x - u x``. ``tau_facil = 0``: a depressing synapse (``u = U`` at every spike). For a
    periodic train of interval ``T`` the steady state is
    ``u* = U / (1 - (1 - U) e^{-T / tau_facil})``,
    ``x* = (1 - e^{-T / tau_rec}) / (1 - (1 - u*) e^{-T / tau_rec})``. Times in ms."""

    U: Any = 0.5
    tau_rec: Any = 800.0
    tau_facil: Any = 0.0

    def decay(self, u, x, dt):
        """One step of recovery (exact)."""
        fac = jnp.where(self.tau_facil > 0, jnp.exp(-dt / jnp.where(self.tau_facil > 0, self.tau_facil, 1.0)), 0.0)
        return u * fac, 1.0 - (1.0 - x) * jnp.exp(-dt / self.tau_rec)

    def emit(self, u, x, spikes):
        """``(u, x, factor)`` after this step's spikes; ``factor = u x`` where a neuron spiked, else 0."""
        u_new = jnp.where(spikes, u + self.U * (1.0 - u), u)
        factor = jnp.where(spikes, u_new * x, 0.0)
        return u_new, x - factor, factor

    def steady_state(self, interval):
        """The factor ``u* x*`` of a periodic train of ``interval`` ms (the closed form above)."""
        interval = jnp.asarray(interval)
        ef = jnp.where(self.tau_facil > 0, jnp.exp(-interval / jnp.where(self.tau_facil > 0, self.tau_facil, 1.0)), 0.0)
        u = self.U / (1.0 - (1.0 - self.U) * ef)
        er = jnp.exp(-interval / self.tau_rec)
        return u * (1.0 - er) / (1.0 - (1.0 - u) * er)


# ---------------------------------------------------------------------------- the projection
#: synapses whose weights ``w_sample`` records, and bins of ``w_hist``
SAMPLE = 100
HIST_BINS = 20

class PlasticState(NamedTuple):
    """State of a :class:`PlasticProjection`: ``weights`` (one per synapse, storage order),
    presynaptic traces ``pre`` (traces x event rows), postsynaptic traces ``post`` (traces x
    n_post), the delay ring ``buffer`` (``()`` without delays), the Tsodyks-Markram ``u``, ``x``
    (``()`` without), the ``eligibility`` per synapse and the modulator integral of the period
    (``()`` without a reward-modulated rule)."""

    weights: jax.Array
    pre: jax.Array
    post: jax.Array
    buffer: Any
    u: Any
    x: Any
    eligibility: Any
    modulation: Any


@pytree_dataclass(static=("source", "target", "port", "modulator", "capacity", "backend", "companion_target",
                          "companion_port", "threads"), frozen=("dt",))
class PlasticProjection(Projection):
    """Spikes of ``source`` through ``synapses`` into ``port`` of ``target``, with plastic
    weights (``rule``: :class:`PairSTDP`, :class:`TripletSTDP`, :class:`InhibitorySTDP`,
    :class:`RewardSTDP`, or None) and/or short-term plasticity (``stp``:
    :class:`TsodyksMarkram`, or None). The weights start at ``synapses.weights`` and live in the
    state (``state.weights``, storage order of ``synapses``; :meth:`weight_matrix`).
    ``modulator``: ``(population, observable)`` of the neuromodulator (:class:`RewardSTDP`).
    ``backend``: ``"numba"`` (the compiled kernel, the CPU default for pair, triplet and
    inhibitory STDP), ``"jax"`` (the pure-JAX passes: every platform, differentiable, used for
    reward-modulated STDP and short-term plasticity alone) or None (the platform default).
    ``companion``: static synapses from the same source delivered by the same pass
    (:meth:`carrying`) into ``companion_port`` of ``companion_target``; ``guest``: a static
    :class:`~neurodyn.models.synapses.SpikingProjection` from another source (no delays; one or
    two blocks of targets) delivered by the same call (:meth:`carrying`). ``threads``: how many
    threads the compiled kernel may use (1 or 2: a worker thread takes half the synapses where
    the machine has two cores; None: :data:`neurodyn.ops.plasticity.THREADS`).
    Build it with :meth:`create` (module docstring for the order of updates)."""

    source: str
    target: str
    port: str
    synapses: SynapseCSR
    index: PlasticIndex
    rule: Any
    stp: Any
    dt: jax.Array
    modulator: tuple | None = None
    capacity: int | None = None
    backend: str | None = None
    companion: SynapseCSR | None = None
    companion_target: str | None = None
    companion_port: str | None = None
    threads: int | None = None
    guest: Any = None
    # the spec's names: couplings.<name>.weight (initial weights), .plasticity.<field>, .stp.<field>
    PARAMETER_ALIASES = {"weight": "synapses.weights", "plasticity": "rule"}

    @classmethod
    def create(cls, source: str, target: str, synapses: SynapseCSR, *, rule=None, stp=None, port: str = "g_e",
               dt: float = 0.1, modulator: tuple | None = None, capacity: int | None = None,
               backend: str | None = None) -> "PlasticProjection":
        """A plastic projection over ``synapses`` (``dt``: the network's step in ms). Checks
        the rule's parameters (time constants > 0, ``w_max > 0``, amplitudes >= 0) and that a
        reward-modulated rule names its modulator."""
        if not isinstance(synapses, SynapseCSR):
            raise SpecError(f"plastic projection: synapses must be a SynapseCSR, got {type(synapses).__name__}")
        if backend is not None and backend not in BACKENDS:
            raise SpecError(f"plastic projection: backend must be one of {BACKENDS} or None, got {backend!r}")
        if rule is None and stp is None:
            raise SpecError("plastic projection: give a learning rule (rule=), short-term plasticity (stp=) or both")
        if rule is not None and not isinstance(rule, tuple(RULES.values())):
            raise SpecError(f"plastic projection: rule must be one of {', '.join(c.__name__ for c in RULES.values())}, "
                            f"got {type(rule).__name__}")
        if stp is not None and not isinstance(stp, TsodyksMarkram):
            raise SpecError(f"plastic projection: stp must be a TsodyksMarkram, got {type(stp).__name__}")
        if synapses.has_delays and synapses.max_delay == 0:
            synapses = synapses.without_delays()
        dtype = jnp.asarray(synapses.weights).dtype
        if synapses.homogeneous:
            synapses = synapses.with_weights(jnp.full(synapses.nnz, synapses.weights, dtype))
        eligible = getattr(rule, "eligibility", False)
        if eligible and modulator is None:
            raise SpecError("plastic projection: a reward-modulated rule needs modulator=(population, observable)")
        if modulator is not None and not eligible:
            raise SpecError("plastic projection: modulator= is read by a reward-modulated rule (RewardSTDP) only")
        if rule is not None:
            _check_rule(rule)
            _, high = rule.bounds()
            w0 = np.asarray(synapses.weights)
            if w0.size and (w0.min() < 0 or w0.max() > float(np.max(high))):
                raise SpecError(f"plastic projection: initial weights must lie in [0, w_max = {float(np.max(high)):g}], "
                                f"got [{w0.min():g}, {w0.max():g}]")
        if stp is not None:
            _check_positive("stp", {"tau_rec": stp.tau_rec})
            if not (0 < float(np.min(stp.U)) and float(np.max(stp.U)) <= 1):
                raise SpecError(f"stp.U: must lie in (0, 1], got {stp.U!r}")
            if float(np.min(stp.tau_facil)) < 0:
                raise SpecError(f"stp.tau_facil: must be >= 0 ms, got {stp.tau_facil!r}")
        return cls(source, target, port, synapses, PlasticIndex.build(synapses), rule, stp,
                   jnp.asarray(dt, float_dtype(dtype)), None if modulator is None else tuple(modulator), capacity,
                   backend)

    # ---- surface
    def sources(self) -> tuple:
        """The source, the target (its spikes drive the rule) and the modulator's population."""
        names = [self.source]
        if self.rule is not None and self.target != self.source:
            names.append(self.target)
        if self.modulator is not None and self.modulator[0] not in names:
            names.append(self.modulator[0])
        if self.guest is not None and self.guest.source not in names:
            names.append(self.guest.source)
        return tuple(names)

    def targets(self) -> tuple:
        """The ``(population, port)`` written (and the companion's and the guest's)."""
        written = ((self.target, self.port),)
        if self.companion is not None:
            written += ((self.companion_target, self.companion_port),)
        if self.guest is not None:
            written += tuple(key for key in self.guest.targets() if key not in written)
        return written

    def carrying(self, projection) -> "PlasticProjection":
        """This projection also delivering the static :class:`~neurodyn.models.synapses.SpikingProjection`
        ``projection`` (no delays, and none here either), in the same native call per step
        instead of one of its own; the network is the same (same spikes and weights). From the
        same source (one target): the E->I synapses of a network whose E->E ones learn, say --
        its spikes are this projection's event rows, so the kernel adds its rows in the same
        pass (the companion). From another source (one or two blocks of targets, a fused
        projection such as the inhibitory ``ie`` + ``ii`` of a COBA network): the kernel also
        takes that source's spikes and delivers their rows (the guest); one of each. The same
        sums as the projection's own event product; the pure-JAX passes call the event product."""
        from .synapses import SpikingProjection

        if not isinstance(projection, SpikingProjection):
            raise SpecError(f"carrying: expected a SpikingProjection, got {type(projection).__name__}")
        if projection.synapses.has_delays or self.synapses.has_delays:
            raise SpecError("carrying: neither projection may have delays (the event rows must be the source's neurons)")
        if projection.source != self.source:
            if self.guest is not None:
                raise SpecError("carrying: this plastic projection already carries a projection from another source")
            if len(projection.outputs) > 2:
                raise SpecError(f"carrying: a projection from another source may write one or two (population, port) "
                                f"blocks, got {len(projection.outputs)}")
            if jnp.asarray(projection.synapses.weights).dtype != jnp.asarray(self.synapses.weights).dtype:
                raise SpecError("carrying: the projection's weights must have this projection's dtype")
            return dataclasses.replace(self, guest=projection)
        if self.companion is not None:
            raise SpecError("carrying: this plastic projection already carries a projection from its source")
        if len(projection.outputs) != 1:
            raise SpecError("carrying: a projection from the same source must write one (population, port) "
                            "(not a fused one)")
        pop, port, _ = projection.outputs[0]
        return dataclasses.replace(self, companion=projection.synapses, companion_target=pop, companion_port=port)

    # ---- state
    def init(self, key, observables) -> PlasticState:
        """Initial weights, zero traces, an empty ring buffer, resting resources."""
        conn, index = self.synapses, self.index
        dtype = jnp.asarray(conn.weights).dtype
        n_pre_traces = len(self.rule.pre_taus()) if self.rule is not None else 0
        n_post_traces = len(self.rule.post_taus()) if self.rule is not None else 0
        buffer = ()
        if conn.has_delays:
            buffer = jnp.zeros((conn.max_delay + 1, conn.n_pre), dtype if self.stp is not None else bool)
        u = x = ()
        if self.stp is not None:
            u, x = jnp.zeros(conn.n_pre, dtype), jnp.ones(conn.n_pre, dtype)
        eligible = getattr(self.rule, "eligibility", False)
        return PlasticState(jnp.asarray(conn.weights, dtype), jnp.zeros((n_pre_traces, index.n_rows), dtype),
                            jnp.zeros((n_post_traces, index.n_post), dtype), buffer, u, x,
                            jnp.zeros(conn.nnz, dtype) if eligible else (),
                            jnp.zeros((), dtype) if eligible else ())

    # ---- one step
    def step(self, state: PlasticState, observables, step):
        """Transmit, learn, decay (module docstring)."""
        conn, index, rule = self.synapses, self.index, self.rule
        spikes = _flags(observables[self.source]["spike"])
        dtype = state.weights.dtype
        dt = self.dt

        # emission: Tsodyks-Markram factor of this step's spikes
        u, x = state.u, state.x
        emitted = spikes
        if self.stp is not None:
            u, x = self.stp.decay(u, x, dt)
            u, x, emitted = self.stp.emit(u, x, spikes)
        # delivery after the delays: the event rows of this step
        buffer = state.buffer
        if conn.has_delays:
            buffer = delay_push(buffer, emitted, step)
            arrived = ring_read(buffer, step, conn.delay_steps).reshape(-1)
        else:
            arrived = emitted
        events = arrived != 0 if self.stp is not None else arrived
        scale = arrived.astype(dtype) if self.stp is not None else None

        pre, post = state.pre, state.post
        eligible = getattr(rule, "eligibility", False)
        if self._native(dtype):  # decay, transmission, learning and jumps in one in-place call
            post_spikes = _flags(observables[self.target]["spike"])
            name, params = rule.kernel_rule()
            decay = jnp.concatenate([_decays(rule.pre_taus(), dt, dtype), _decays(rule.post_taus(), dt, dtype)])
            guest = self.guest
            g_synapses = g_spikes = g_blocks = carried = None
            if guest is not None:
                g_synapses, g_spikes = guest.synapses, _flags(observables[guest.source]["spike"])
                g_blocks = tuple(size for _, _, size in guest.outputs)
            w, y, pre, post, z, g = native_step(
                state.weights, events, scale, pre, post, post_spikes, index, name, params, decay, rule.nearest,
                self.backend, self.companion, self.threads, g_synapses, g_spikes, g_blocks)
            if guest is not None:
                carried = {(pop, port): part for (pop, port, _), part in zip(guest.outputs, g)}
            return PlasticState(w, pre, post, buffer, u, x, (), ()), self._outputs(y, z, carried)
        if rule is not None:
            pre = pre * _decays(rule.pre_taus(), dt, dtype)[:, None]
            post = post * _decays(rule.post_taus(), dt, dtype)[:, None]
        learned = state.eligibility if eligible else state.weights

        def on_rows(carry, rows, slots, mask):
            w, y, learned = carry
            w_old = gather(w, slots)
            targets = gather(index.targets, slots, index.n_post)
            sent = w_old if scale is None else w_old * scale[rows][:, None]
            y = y.at[targets].add(jnp.where(mask, sent, 0.0), mode="drop")
            if rule is not None:
                post_at = tuple(gather(trace, targets) for trace in post)
                pre_row = tuple(trace[rows][:, None] for trace in pre)
                old = w_old if not eligible else gather(learned, slots)
                learned = scatter(learned, slots, rule.on_pre(old, pre_row, post_at))
                if not eligible:
                    w = learned
            return w, y, learned

        carry = (state.weights, jnp.zeros(conn.n_post, dtype), learned)
        w, y, learned = row_pass(index, events, on_rows, carry, self.capacity)

        if rule is not None:
            pre = jnp.where(events[None, :], 1.0 if rule.nearest else pre + 1.0, pre)
            post_spikes = _flags(observables[self.target]["spike"])

            def on_columns(learned, cols, slots, rows, mask):
                pre_at = tuple(trace[rows] for trace in pre)
                post_col = tuple(trace[cols][:, None] for trace in post)
                return scatter(learned, slots, rule.on_post(gather(learned, slots), pre_at, post_col))

            learned = column_pass(index, post_spikes, on_columns, learned, self.capacity)
            post = jnp.where(post_spikes[None, :], 1.0 if rule.nearest else post + 1.0, post)
            if not eligible:
                w = learned

        modulation = state.modulation
        if eligible:
            m = jnp.sum(jnp.asarray(observables[self.modulator[0]][self.modulator[1]], dtype))
            modulation = modulation + m * dt
            w, learned, modulation = lax.cond((step + 1) % rule.period == 0, _apply_modulation,
                                              lambda *a: a[:3], w, learned, modulation, rule, dt)
        new = PlasticState(w, pre, post, buffer, u, x, learned if eligible else (), modulation)
        z = carried = None
        if self.companion is not None:
            z = event_csr_matvec(self.companion, spikes != 0 if spikes.dtype != jnp.bool_ else spikes)
        if self.guest is not None:
            carried = self.guest.step((), observables, step)[1]
        return new, self._outputs(y, z, carried)

    def _outputs(self, y, z, carried=None) -> dict:
        """The inputs written: ``y`` into the target's port, ``z`` (the companion's) into its,
        ``carried`` (the guest's, by ``(population, port)``) into theirs."""
        written = [((self.target, self.port), y)]
        if self.companion is not None:
            written.append(((self.companion_target, self.companion_port), z))
        written += list((carried or {}).items())
        out = {}
        for key, value in written:
            out[key] = out[key] + value if key in out else value
        return out

    def _native(self, dtype) -> bool:
        """Whether this step goes through the plasticity kernel (:data:`neurodyn.ops.plasticity.KERNEL`:
        compiled on the CPU, its JAX passes elsewhere): rules it knows (pair, triplet,
        inhibitory), float weights. Reward-modulated STDP and short-term plasticity alone run
        the passes here."""
        return (self.rule is not None and hasattr(self.rule, "kernel_rule") and dtype in (jnp.float32, jnp.float64)
                and (self.backend or default_backend()) != "jax")

    # ---- reading the weights
    def observe(self, state: PlasticState) -> dict:
        """What a run can record of the weights (a Network names them ``<projection>.<name>``):
        ``w_mean`` (the mean weight), ``w_sample`` (the weights of up to ``SAMPLE`` synapses
        evenly spaced in storage order, :meth:`sample_synapses`) and, with a learning rule,
        ``w_hist`` (counts in ``HIST_BINS`` equal bins over ``[0, w_max]``). Each is a pass over
        the synapses, computed only at the steps that record it."""
        high = None if self.rule is None else self.rule.bounds()[1]
        return _weight_summary(state.weights, jnp.asarray(self.sample_synapses()), high)

    def sample_synapses(self) -> np.ndarray:
        """Storage positions of the synapses ``w_sample`` records (evenly spaced, at most
        ``SAMPLE``)."""
        return np.unique(np.linspace(0, max(self.synapses.nnz - 1, 0), min(SAMPLE, self.synapses.nnz)).astype(np.int64))

    def weight_matrix(self, state: PlasticState) -> np.ndarray:
        """The dense ``W[pre, post]`` of ``state`` (duplicate synapses summed; host NumPy)."""
        return self.synapses.with_weights(state.weights).todense()


@jax.jit  # one compiled call where a run asks eagerly (simulate's setup), not hundreds of small ones
def _weight_summary(w, sample, high):
    """``w_mean``, ``w_sample`` (the weights at the storage positions ``sample``) and, given the
    upper bound ``high``, ``w_hist`` (:meth:`PlasticProjection.observe`)."""
    out = {"w_mean": jnp.mean(w), "w_sample": w[sample]}
    if high is not None:
        bins = jnp.clip(jnp.floor(w / jnp.max(jnp.asarray(high, w.dtype)) * HIST_BINS).astype(jnp.int32), 0,
                        HIST_BINS - 1)
        out["w_hist"] = jnp.zeros(HIST_BINS, jnp.int32).at[bins].add(1)
    return out


def _apply_modulation(w, c, modulation, rule, dt):
    """Every ``period`` steps: ``w <- clip(w + c M)``, ``c <- c exp(-period dt / tau_c)``, ``M <- 0``."""
    low, high = rule.bounds()
    w = jnp.clip(w + c * modulation, low, high)
    return w, c * jnp.exp(-rule.period * dt / rule.tau_c), jnp.zeros_like(modulation)


def _flags(spikes) -> jax.Array:
    """Spike flags as booleans (as they are: no pass over them if they already are)."""
    spikes = jnp.asarray(spikes)
    return spikes if spikes.dtype == jnp.bool_ else spikes != 0


def _decays(taus, dt, dtype):
    return jnp.stack([jnp.exp(-dt / jnp.asarray(tau, dtype)) for tau in taus]).astype(dtype)


def _check_positive(where: str, values: dict) -> None:
    for name, value in values.items():
        if not float(np.min(np.asarray(value))) > 0:
            raise SpecError(f"{where}.{name}: must be > 0, got {np.asarray(value).tolist()!r}")


def _check_rule(rule) -> None:
    where = f"plasticity ({type(rule).__name__})"
    taus = {f"tau_{i}": t for i, t in enumerate(rule.pre_taus() + rule.post_taus())}
    _check_positive(where, {**{k: v for k, v in taus.items()}, "w_max": rule.w_max})
    for name in ("a_plus", "a_minus", "a2_plus", "a3_plus", "a2_minus", "a3_minus", "eta", "target_rate",
                 "mu_plus", "mu_minus"):
        if hasattr(rule, name) and float(np.min(np.asarray(getattr(rule, name)))) < 0:
            raise SpecError(f"{where}.{name}: must be >= 0, got {np.asarray(getattr(rule, name)).tolist()!r}")
    if isinstance(rule, RewardSTDP):
        _check_positive(where, {"tau_c": rule.tau_c})
        if not isinstance(rule.period, int) or rule.period < 1:
            raise SpecError(f"{where}.period: must be an integer >= 1 step, got {rule.period!r}")


# ---------------------------------------------------------------------------- spec tables
_TAU = dict(minimum=0.0, exclusive_minimum=True, unit="ms")
_AMP = dict(minimum=0.0)
_NEAREST = Field("nearest", "bool", default=False, doc="nearest-spike interactions (traces set to 1, not +1)")
_W_MAX = Field("w_max", default=1.0, minimum=0.0, exclusive_minimum=True,
               doc="upper bound of the weights (the lower bound is 0)")

#: the fields of each rule's table (``plasticity = { rule = "...", ... }`` in a spiking coupling)
RULE_FIELDS = {
    "stdp": (Field("tau_plus", default=16.8, doc="presynaptic trace time constant", **_TAU),
             Field("tau_minus", default=33.7, doc="postsynaptic trace time constant", **_TAU),
             Field("a_plus", default=0.005, doc="potentiation per pair, relative to w_max", **_AMP),
             Field("a_minus", default=0.005, doc="depression per pair, relative to w_max", **_AMP),
             _W_MAX,
             Field("mu_plus", default=0.0, doc="weight dependence of potentiation (0 additive, 1 soft bound)", **_AMP),
             Field("mu_minus", default=0.0, doc="weight dependence of depression (0 additive, 1 multiplicative)",
                   **_AMP),
             _NEAREST),
    "triplet": (Field("tau_plus", default=16.8, doc="fast presynaptic trace r1", **_TAU),
                Field("tau_minus", default=33.7, doc="fast postsynaptic trace o1", **_TAU),
                Field("tau_x", default=101.0, doc="slow presynaptic trace r2", **_TAU),
                Field("tau_y", default=125.0, doc="slow postsynaptic trace o2", **_TAU),
                Field("a2_plus", default=5e-10, doc="pair potentiation", **_AMP),
                Field("a3_plus", default=6.2e-3, doc="triplet potentiation", **_AMP),
                Field("a2_minus", default=7e-3, doc="pair depression", **_AMP),
                Field("a3_minus", default=0.0, doc="triplet depression", **_AMP),
                _W_MAX, _NEAREST),
    "vogels": (Field("tau", default=20.0, doc="trace time constant", **_TAU),
               Field("eta", default=1e-3, doc="learning rate", **_AMP),
               Field("target_rate", default=5.0, minimum=0.0, unit="Hz", doc="postsynaptic target rate"),
               _W_MAX, _NEAREST),
    "reward_stdp": (Field("tau_plus", default=20.0, doc="presynaptic trace time constant", **_TAU),
                    Field("tau_minus", default=20.0, doc="postsynaptic trace time constant", **_TAU),
                    Field("a_plus", default=1.0, doc="eligibility increment per pre-post pair", **_AMP),
                    Field("a_minus", default=1.5, doc="eligibility decrement per post-pre pair", **_AMP),
                    Field("tau_c", default=1000.0, doc="eligibility time constant", **_TAU),
                    Field("w_max", default=4.0, minimum=0.0, exclusive_minimum=True, doc="upper weight bound"),
                    Field("period", "integer", default=10, minimum=1, unit="steps",
                          doc="steps between weight updates"),
                    Field("modulator", "string", doc="the modulator observable, population.name (e.g. dopamine.m)"),
                    _NEAREST),
}

STP_FIELDS = (Field("U", default=0.5, minimum=0.0, maximum=1.0, exclusive_minimum=True,
                    doc="utilisation increment per spike"),
              Field("tau_rec", default=800.0, doc="recovery time constant of the resources", **_TAU),
              Field("tau_facil", default=0.0, minimum=0.0, unit="ms", doc="facilitation time constant (0: none)"))


def read_plasticity(path: str, value, **context) -> dict:
    """Validate a ``plasticity`` table: ``rule`` (one of :data:`RULE_FIELDS`) and that rule's fields."""
    table = check_table(path, value)
    rule = check_choice(f"{path}.rule", table.get("rule"), tuple(RULE_FIELDS))
    fields = read_fields(path, {k: v for k, v in table.items() if k != "rule"}, RULE_FIELDS[rule],
                         allowed=("rule",))
    return {"rule": rule, **fields}


def read_stp(path: str, value, **context) -> dict:
    """Validate an ``stp`` table (Tsodyks-Markram: ``U``, ``tau_rec``, ``tau_facil``)."""
    return read_fields(path, check_table(path, value), STP_FIELDS)


def plastic_from_spec(source: str, target: str, port: str, synapses: SynapseCSR, plasticity: dict | None,
                      stp: dict | None, models: dict, dtype) -> PlasticProjection:
    """The :class:`PlasticProjection` of a spiking coupling with a ``plasticity`` and/or ``stp``
    table (validated by :func:`read_plasticity` / :func:`read_stp`); parameters become arrays
    of ``dtype`` (sweepable leaves: ``couplings.<name>.plasticity.a_plus``)."""
    d = float_dtype(dtype)
    leaf = lambda v: jnp.asarray(v, d)  # noqa: E731
    rule = modulator = None
    if plasticity is not None:
        values = dict(plasticity)
        kind = values.pop("rule")
        nearest = values.pop("nearest")
        if kind == "reward_stdp":
            population, _, name = values.pop("modulator").partition(".")
            if population not in models or not name:
                raise SpecError(f"plasticity.modulator: expected population.observable with one of "
                                f"{', '.join(models)}, got {plasticity['modulator']!r}")
            modulator = (population, name)
            period = values.pop("period")
            rule = RewardSTDP(**{k: leaf(v) for k, v in values.items()}, period=period, nearest=nearest)
        else:
            rule = RULES[kind](**{k: leaf(v) for k, v in values.items()}, nearest=nearest)
    tm = None if stp is None else TsodyksMarkram(**{k: leaf(v) for k, v in stp.items()})
    dt = float(np.asarray(getattr(models[target], "dt", 1.0)))
    if plasticity is not None and "spike" not in getattr(models[target], "EVENTS", ()):
        raise SpecError(f"plasticity: the target population {target!r} emits no spike events (a rule needs them)")
    return PlasticProjection.create(source, target, synapses, rule=rule, stp=tm, port=port, dt=dt,
                                    modulator=modulator)


def final_weights(network, state) -> dict:
    """``/diagnostics`` datasets of a run's plastic projections, ``{name: (values, attrs)}``:
    ``<projection>.weights`` (final weight of every synapse, storage order) with
    ``<projection>.pre`` / ``.post`` (its neurons) and ``.delay`` (steps)."""
    out = {}
    for name, proj in getattr(network, "projections", {}).items():
        if not isinstance(proj, PlasticProjection):
            continue
        w = np.asarray(state.projections[name].weights)
        rule = type(proj.rule).__name__ if proj.rule is not None else "none"
        attrs = {"method": f"final weights of a plastic projection ({rule}, {proj.source} -> {proj.target})",
                 "mean": float(w.mean()) if w.size else float("nan")}
        out[f"{name}.weights"] = (w, attrs)
        out[f"{name}.pre"] = (proj.synapses.presynaptic(), {"method": "presynaptic neuron of each synapse"})
        out[f"{name}.post"] = (np.asarray(proj.synapses.indices), {"method": "postsynaptic neuron of each synapse"})
        out[f"{name}.delay"] = (proj.synapses.synapse_delays(), {"method": "delay of each synapse", "units": "steps"})
    return out
