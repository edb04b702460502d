"""Spiking neurons: the leaky integrate-and-fire (LIF) neuron with a refractory period.

``tau_m dV/dt = -(V - V_rest) + R I(t)``; when ``V >= V_th`` the neuron spikes, ``V`` is reset
to ``V_reset`` and held there for ``t_ref`` (Lapicque 1907; Gerstner, Kistler, Naud, Paninski,
*Neuronal Dynamics*, 2014, ch. 1). Integration is exponential Euler, exact between spikes for
constant input: ``V(t + dt) = V_inf + (V - V_inf) e^{-dt / tau_m}``, ``V_inf = V_rest + R I``.
For a constant supra-threshold input the rate is
``f = 1 / (t_ref + tau_m ln((V_inf - V_reset) / (V_inf - V_th)))``.

The spike is a boolean state variable exposed as the event observable ``spike``: a neuron that
crosses threshold and resets within one step is recorded as an event, which a threshold
crossing of the recorded ``v`` would miss. Units: mV and ms (SONATA's).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.continuous import ContinuousModel
from ..core.integrators import ExponentialEuler
from ..core.model import convert_parameters, drive_term, is_plain, plain, with_dtype
from ..errors import SpecError
from ..ops.lif import BACKENDS as STEP_BACKENDS
from ..ops.lif import fire_and_reset, kernel_parameters, synaptic_lif_step
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field


class LIFState(NamedTuple):
    """Membrane potential ``v`` (mV), remaining refractory time (ms) and the spike of the last step."""

    v: jax.Array
    refractory: jax.Array
    spike: jax.Array


def _fire_and_reset(model, state, integrated_v, drive):
    """``(v, refractory, spike)`` after a step: a refractory neuron is held at reset; a free one
    adds its voltage jumps (port ``"v"``), spikes at ``v >= v_th`` and is reset."""
    return fire_and_reset(integrated_v, state.refractory, drive_term(drive, "v", "I"), model.v_reset, model.v_th,
                          model.t_ref, model.dt)


@pytree_dataclass(static=("n", "integrator"))
class LIF(ContinuousModel):
    """A population of ``n`` LIF neurons (equations in the module docstring).

    Parameters (per neuron): ``tau_m`` membrane time constant (ms), ``v_rest`` resting
    potential, ``v_reset`` reset potential, ``v_th`` threshold (mV), ``t_ref`` refractory period
    (ms), ``i_ext`` constant input ``R I`` (mV). Ports: ``"I"`` an input ``R I`` in mV added to
    ``i_ext`` (the default port), ``"v"`` an instantaneous jump of ``V`` in mV (current-based
    synapses as voltage jumps).

    ``LIF(i_ext=30.0)`` or ``LIF(n=3, i_ext=[15.0, 25.0, 30.0], dt=0.01)``: numbers or one value
    per neuron, the defaults of :meth:`create` otherwise (one neuron, dt = 0.1 ms). See
    docs/models/spiking.md.
    """

    n: int = 1
    integrator: object = ExponentialEuler()
    tau_m: jax.Array = 20.0
    v_rest: jax.Array = -70.0
    v_reset: jax.Array = -70.0
    v_th: jax.Array = -50.0
    t_ref: jax.Array = 2.0
    i_ext: jax.Array = 0.0
    dt: jax.Array = 0.1

    VARIABLES: ClassVar[tuple] = ("v", "refractory", "spike")
    PORTS: ClassVar[tuple] = ("I", "v")
    INPUT_PORT: ClassVar[str] = "I"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"v": "mV", "refractory": "ms", "spike": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    def __post_init__(self):
        plain = {k for k in _PARAMETERS + ("dt",) if is_plain(getattr(self, k))}
        convert_parameters(self, _PARAMETERS, ("dt",))
        _check(self, plain)

    @classmethod
    def create(cls, n: int = 1, *, tau_m=20.0, v_rest=-70.0, v_reset=-70.0, v_th=-50.0, t_ref=2.0, i_ext=0.0,
               dt: float = 0.1, dtype=None) -> "LIF":
        """``n`` neurons; each parameter a number or one value per neuron."""
        values = map(plain, (tau_m, v_rest, v_reset, v_th, t_ref, i_ext, dt))
        return with_dtype(cls(n, ExponentialEuler(), *values), _PARAMETERS + ("dt",), dtype)

    def init(self, key: jax.Array) -> LIFState:
        """``V`` uniform between reset and threshold, not refractory, no spike."""
        u = jax.random.uniform(key, (self.n,), self.tau_m.dtype)
        return LIFState(self.v_reset + u * (self.v_th - self.v_reset), jnp.zeros_like(self.tau_m),
                        jnp.zeros((self.n,), bool))

    def vector_field(self, state: LIFState, drive, t) -> LIFState:
        """``dV/dt = (-(V - V_rest) + i_ext + I) / tau_m``; the refractory clock is advanced by the step."""
        dv = (-(state.v - self.v_rest) + self.i_ext + drive_term(drive, "I", "I")) / self.tau_m
        return LIFState(dv, jnp.zeros_like(state.refractory), state.spike)

    def linear_part(self, state: LIFState) -> LIFState:
        """The diagonal ``-1 / tau_m`` of the membrane equation (exponential Euler hook)."""
        return LIFState(-1.0 / self.tau_m, jnp.zeros_like(state.refractory), state.spike)

    def step(self, state: LIFState, drive=None, t=0.0) -> LIFState:
        """Integrate (held at reset while refractory), add voltage jumps, spike and reset."""
        integrated = self.integrator(self, state, drive, t, self.dt)
        return LIFState(*_fire_and_reset(self, state, integrated.v, drive))

    def observe(self, state: LIFState) -> dict:
        """``v``, the refractory clock and the boolean ``spike`` events."""
        return {"v": state.v, "refractory": state.refractory, "spike": state.spike}

    def rate(self) -> jax.Array:
        """Analytic firing rate (1/ms) for the constant input ``i_ext`` (0 below threshold)."""
        v_inf = self.v_rest + self.i_ext
        above = v_inf > self.v_th
        ratio = jnp.where(above, (v_inf - self.v_reset) / jnp.where(above, v_inf - self.v_th, 1.0), 2.0)
        return jnp.where(above, 1.0 / (self.t_ref + self.tau_m * jnp.log(ratio)), 0.0)


_PARAMETERS = ("tau_m", "v_rest", "v_reset", "v_th", "t_ref", "i_ext")


def _check(model: LIF, fields: set) -> None:
    """Range checks of the parameters named in ``fields`` (concrete values, read on the host: no
    JAX program is compiled to build a model)."""
    value = {k: np.asarray(getattr(model, k)) for k in fields & {"dt", "tau_m", "t_ref", "v_reset", "v_th"}}
    if "dt" in value and not np.all(value["dt"] > 0):
        raise SpecError(f"lif: dt must be > 0 ms, got {value['dt'].tolist()!r}")
    if "tau_m" in value and np.any(value["tau_m"] <= 0):
        raise SpecError(f"lif: tau_m must be > 0 ms, got {value['tau_m'].tolist()!r}")
    if "t_ref" in value and np.any(value["t_ref"] < 0):
        raise SpecError(f"lif: t_ref must be >= 0 ms, got {value['t_ref'].tolist()!r}")
    if {"v_reset", "v_th"} <= value.keys() and np.any(value["v_reset"] >= value["v_th"]):
        raise SpecError("lif: v_reset must be below v_th")


def _lif_from_spec(*, n, dt, dtype, **parameters) -> LIF:
    return LIF.create(n, dt=dt, dtype=dtype, **parameters)


MODELS.register("lif", _lif_from_spec, (
    Field("tau_m", "per_node", default=20.0, unit="ms", minimum=0.0, exclusive_minimum=True,
          doc="membrane time constant"),
    Field("v_rest", "per_node", default=-70.0, unit="mV", doc="resting potential"),
    Field("v_reset", "per_node", default=-70.0, unit="mV", doc="reset potential (below v_th)"),
    Field("v_th", "per_node", default=-50.0, unit="mV", doc="spike threshold"),
    Field("t_ref", "per_node", default=2.0, unit="ms", minimum=0.0, doc="refractory period"),
    Field("i_ext", "per_node", default=0.0, unit="mV", doc="constant input R I (port \"I\" adds to it)"),
), summary="Leaky integrate-and-fire neurons: tau_m dV/dt = -(V - V_rest) + R I, spike and reset at V_th, "
           "refractory t_ref; boolean spike events.",
    citation="W. Gerstner, W. M. Kistler, R. Naud, L. Paninski, Neuronal Dynamics (2014), ch. 1",
    example={"n": 3, "v_rest": 0.0, "v_reset": 0.0, "v_th": 1.0, "t_ref": 0.0, "tau_m": 5.0,
             "i_ext": [1.5, 2.0, 0.5]},
    context=("dt", "dtype"), cls=LIF)


# ---------------------------------------------------------------- LIF with exponential synapses

SYNAPSES = ("conductance", "current")


class SynapticLIFState(NamedTuple):
    """``v`` (mV), refractory clock (ms), last step's spike, and the excitatory and inhibitory
    synaptic variables ``g_e``, ``g_i`` (units of the leak conductance for conductance-based
    synapses, mV for current-based ones)."""

    v: jax.Array
    refractory: jax.Array
    spike: jax.Array
    g_e: jax.Array
    g_i: jax.Array


@pytree_dataclass(static=("n", "integrator", "synapse", "backend"))
class SynapticLIF(ContinuousModel):
    """LIF neurons with exponentially decaying excitatory and inhibitory synapses (Brette et al.,
    *J. Comput. Neurosci.* 23:349, 2007, benchmarks 1 and 2; Vogels & Abbott, *J. Neurosci.*
    25:10786, 2005).

    ``synapse = "conductance"`` (COBA)::

        tau_m dV/dt = (V_rest - V) + g_e (E_e - V) + g_i (E_i - V) + i_ext + I

    with ``g_e``, ``g_i`` in units of the leak conductance; ``synapse = "current"`` (CUBA)::

        tau_m dV/dt = (V_rest - V) + g_e + g_i + i_ext + I

    with ``g_e``, ``g_i`` in mV (inhibition enters through negative increments). Both decay as
    ``dg_e/dt = -g_e / tau_e``, ``dg_i/dt = -g_i / tau_i``; the ports ``"g_e"`` and ``"g_i"``
    add increments to them at the end of the step (one per presynaptic spike: a
    :class:`~neurodyn.models.synapses.SpikingProjection`). Spike, reset and refractory period as
    in :class:`LIF`; ports ``"I"`` (the default) and ``"v"`` as there. Exponential Euler with
    the linear part ``-(1 + g_e + g_i) / tau_m`` (conductance) or ``-1 / tau_m`` (current):
    exact decay of the synapses, exact membrane step for conductances frozen over ``dt``.
    Each parameter is a number shared by every neuron (kept a scalar) or one value per neuron;
    ``tau_e``, ``tau_i`` in ms, ``e_e``, ``e_i`` reversal potentials in mV (unused by current
    synapses). See docs/models/spiking.md.
    """

    n: int = 1
    integrator: object = ExponentialEuler()
    synapse: str = "conductance"
    tau_m: jax.Array = 20.0
    v_rest: jax.Array = -60.0
    v_reset: jax.Array = -60.0
    v_th: jax.Array = -50.0
    t_ref: jax.Array = 5.0
    i_ext: jax.Array = 0.0
    tau_e: jax.Array = 5.0
    tau_i: jax.Array = 10.0
    e_e: jax.Array = 0.0
    e_i: jax.Array = -80.0
    dt: jax.Array = 0.1
    backend: str | None = None

    VARIABLES: ClassVar[tuple] = ("v", "refractory", "spike", "g_e", "g_i")
    PORTS: ClassVar[tuple] = ("I", "v", "g_e", "g_i")
    INPUT_PORT: ClassVar[str] = "I"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"v": "mV", "refractory": "ms", "spike": "1", "g_e": "1", "g_i": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    def __post_init__(self):
        if self.synapse not in SYNAPSES:
            raise SpecError(f"synaptic lif: synapse must be one of {SYNAPSES}, got {self.synapse!r}")
        if self.backend is not None and self.backend not in STEP_BACKENDS:
            raise SpecError(f"synaptic lif: backend must be one of {STEP_BACKENDS} or None, got {self.backend!r}")
        plain = {k for k in _SYN_PARAMETERS + ("dt",) if is_plain(getattr(self, k))}
        # a value shared by every neuron stays a scalar: a large network's step then reads the
        # state only, not ten per-neuron parameter arrays (25-48 % faster at 64k-256k neurons)
        convert_parameters(self, (), ("dt",), _SYN_PARAMETERS)
        _check(self, plain)
        _check_synapses(self, plain)

    @classmethod
    def create(cls, n: int = 1, *, synapse: str = "conductance", tau_m=20.0, v_rest=-60.0, v_reset=-60.0,
               v_th=-50.0, t_ref=5.0, i_ext=0.0, tau_e=5.0, tau_i=10.0, e_e=0.0, e_i=-80.0, dt: float = 0.1,
               dtype=None, backend: str | None = None) -> "SynapticLIF":
        """``n`` neurons (defaults: the COBA benchmark cell); each parameter a number (kept a scalar,
        shared by all neurons) or one value per neuron; ``backend`` of the exponential-Euler step
        (:func:`neurodyn.ops.lif.synaptic_lif_step`: ``"numba"``, ``"jax"``, None for the platform's
        default)."""
        values = map(plain, (tau_m, v_rest, v_reset, v_th, t_ref, i_ext, tau_e, tau_i, e_e, e_i, dt))
        model = cls(n, ExponentialEuler(), synapse, *values, backend=backend)
        return with_dtype(model, _SYN_PARAMETERS + ("dt",), dtype)

    def init(self, key: jax.Array) -> SynapticLIFState:
        """``V`` uniform between reset and threshold, synapses closed, not refractory."""
        u = jax.random.uniform(key, (self.n,), self.tau_m.dtype)
        zero = jnp.zeros((self.n,), self.tau_m.dtype)
        return SynapticLIFState(self.v_reset + u * (self.v_th - self.v_reset), zero, jnp.zeros((self.n,), bool),
                                zero, zero)

    def _synaptic_input(self, state):
        if self.synapse == "conductance":
            return state.g_e * (self.e_e - state.v) + state.g_i * (self.e_i - state.v)
        return state.g_e + state.g_i

    def vector_field(self, state: SynapticLIFState, drive, t) -> SynapticLIFState:
        """Membrane and synaptic derivatives (see the class docstring)."""
        dv = ((self.v_rest - state.v) + self._synaptic_input(state) + self.i_ext
              + drive_term(drive, "I", "I")) / self.tau_m
        zero = jnp.zeros_like(state.refractory)
        return SynapticLIFState(dv, zero, state.spike, -state.g_e / self.tau_e, -state.g_i / self.tau_i)

    def linear_part(self, state: SynapticLIFState) -> SynapticLIFState:
        """The diagonal of the Jacobian (exponential Euler hook)."""
        leak = 1.0 + state.g_e + state.g_i if self.synapse == "conductance" else jnp.ones_like(state.v)
        return SynapticLIFState(-leak / self.tau_m, jnp.zeros_like(state.refractory), state.spike,
                                -1.0 / self.tau_e, -1.0 / self.tau_i)

    def step(self, state: SynapticLIFState, drive=None, t=0.0) -> SynapticLIFState:
        """Integrate, add the synaptic increments and voltage jumps, spike and reset.

        Exponential Euler (the default integrator) is written in its closed form, the same
        update with one exponential per neuron: ``V_inf + (V - V_inf) e^{-L dt / tau_m}`` with
        leak ``L = 1 + g_e + g_i`` (current synapses: ``L = 1``) and
        ``V_inf = (V_rest + g_e E_e + g_i E_i + i_ext + I) / L``
        (``V_rest + g_e + g_i + i_ext + I``), and ``g e^{-dt / tau}`` for the synapses, as one
        fused kernel on the CPU (:func:`neurodyn.ops.lif.synaptic_lif_step`; ``backend``). Other
        integrators go through :meth:`vector_field`.
        """
        if type(self.integrator) is ExponentialEuler:
            params = kernel_parameters({k: getattr(self, k) for k in _SYN_PARAMETERS + ("dt",)},
                                       self.synapse == "conductance")
            inputs = tuple(drive_term(drive, port, "I") for port in ("I", "v", "g_e", "g_i"))
            out = synaptic_lif_step((state.v, state.refractory, state.g_e, state.g_i), inputs, params,
                                    conductance=self.synapse == "conductance", backend=self.backend)
            return SynapticLIFState(out.v, out.refractory, out.spike, out.g_e, out.g_i)
        integrated = self.integrator(self, state, drive, t, self.dt)
        v, refractory, spike = _fire_and_reset(self, state, integrated.v, drive)
        return SynapticLIFState(v, refractory, spike, integrated.g_e + drive_term(drive, "g_e", "I"),
                                integrated.g_i + drive_term(drive, "g_i", "I"))

    def observe(self, state: SynapticLIFState) -> dict:
        """``v``, the refractory clock, the ``spike`` events and the synaptic variables."""
        return {"v": state.v, "refractory": state.refractory, "spike": state.spike,
                "g_e": state.g_e, "g_i": state.g_i}

    def currents(self, state: SynapticLIFState) -> tuple:
        """``(I_E, I_I)`` in mV, the excitatory and inhibitory synaptic inputs (E/I balance)."""
        if self.synapse == "conductance":
            return state.g_e * (self.e_e - state.v), state.g_i * (self.e_i - state.v)
        return state.g_e, state.g_i


_SYN_PARAMETERS = _PARAMETERS + ("tau_e", "tau_i", "e_e", "e_i")


def _check_synapses(model: SynapticLIF, fields: set) -> None:
    for name in ("tau_e", "tau_i"):
        if name not in fields:
            continue
        value = np.asarray(getattr(model, name))
        if np.any(value <= 0):
            raise SpecError(f"lif_{model.synapse}: {name} must be > 0 ms, got {value.tolist()!r}")


def _synaptic_fields(v_rest: float) -> tuple:
    return (
        Field("tau_m", "per_node", default=20.0, unit="ms", minimum=0.0, exclusive_minimum=True,
              doc="membrane time constant"),
        Field("v_rest", "per_node", default=v_rest, unit="mV", doc="resting (leak reversal) potential"),
        Field("v_reset", "per_node", default=-60.0, unit="mV", doc="reset potential (below v_th)"),
        Field("v_th", "per_node", default=-50.0, unit="mV", doc="spike threshold"),
        Field("t_ref", "per_node", default=5.0, unit="ms", minimum=0.0, doc="refractory period"),
        Field("i_ext", "per_node", default=0.0, unit="mV", doc="constant input R I"),
        Field("tau_e", "per_node", default=5.0, unit="ms", minimum=0.0, exclusive_minimum=True,
              doc="decay time of excitatory synapses"),
        Field("tau_i", "per_node", default=10.0, unit="ms", minimum=0.0, exclusive_minimum=True,
              doc="decay time of inhibitory synapses"),
    )


def _coba_from_spec(*, n, dt, dtype, **parameters) -> SynapticLIF:
    return SynapticLIF.create(n, synapse="conductance", dt=dt, dtype=dtype, **parameters)


def _cuba_from_spec(*, n, dt, dtype, **parameters) -> SynapticLIF:
    return SynapticLIF.create(n, synapse="current", dt=dt, dtype=dtype, **parameters)


_BRETTE = "R. Brette et al., J. Comput. Neurosci. 23:349 (2007), benchmarks 1 and 2"
MODELS.register("lif_coba", _coba_from_spec, _synaptic_fields(-60.0) + (
    Field("e_e", "per_node", default=0.0, unit="mV", doc="excitatory reversal potential"),
    Field("e_i", "per_node", default=-80.0, unit="mV", doc="inhibitory reversal potential"),
), summary="LIF with exponential conductance synapses: tau_m dV/dt = (V_rest - V) + g_e (E_e - V) + "
           "g_i (E_i - V) + R I; ports g_e, g_i add per-spike increments (units of g_L).",
    citation=_BRETTE, example={"n": 4, "i_ext": 15.0}, context=("dt", "dtype"), cls=SynapticLIF)
MODELS.register("lif_cuba", _cuba_from_spec, _synaptic_fields(-49.0),
                summary="LIF with exponential current synapses: tau_m dV/dt = (V_rest - V) + g_e + g_i + R I; "
                        "ports g_e, g_i add per-spike jumps in mV (negative for inhibition).",
                citation=_BRETTE, example={"n": 4}, context=("dt", "dtype"), cls=SynapticLIF)
