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

from ..core.continuous import ContinuousModel
from ..core.integrators import ExponentialEuler
from ..core.model import convert_parameters, drive_term, float_dtype, is_plain, per_node
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field


class LIFState(NamedTuple):
    """Membrane potential ``v`` (mV), remaining refractory time (ms) and the spike of the last step."""

    v: jax.Array
    refractory: jax.Array
    spike: jax.Array


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
        n = check_int("lif: n", n)
        if not float(dt) > 0:
            raise SpecError(f"lif: dt must be > 0 ms, got {dt!r}")
        p = {k: per_node(v, n, f"lif.{k}", dtype) for k, v in
             dict(tau_m=tau_m, v_rest=v_rest, v_reset=v_reset, v_th=v_th, t_ref=t_ref, i_ext=i_ext).items()}
        model = cls(n, ExponentialEuler(), **p, dt=jnp.asarray(dt, float_dtype(dtype)))
        _check(model, set(_PARAMETERS))
        return model

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
        free = state.refractory <= 0
        v = jnp.where(free, integrated.v + drive_term(drive, "v", "I"), self.v_reset)
        spike = free & (v >= self.v_th)
        v = jnp.where(spike, self.v_reset, v)
        refractory = jnp.where(spike, self.t_ref, jnp.maximum(state.refractory - self.dt, 0.0))
        return LIFState(v, refractory, spike)

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
    """Range checks of the parameters named in ``fields`` (concrete values, not traced leaves)."""
    if "dt" in fields and not bool(jnp.all(model.dt > 0)):
        raise SpecError(f"lif: dt must be > 0 ms, got {model.dt.tolist()!r}")
    if "tau_m" in fields and bool(jnp.any(model.tau_m <= 0)):
        raise SpecError(f"lif: tau_m must be > 0 ms, got {model.tau_m.tolist()!r}")
    if "t_ref" in fields and bool(jnp.any(model.t_ref < 0)):
        raise SpecError(f"lif: t_ref must be >= 0 ms, got {model.t_ref.tolist()!r}")
    if {"v_reset", "v_th"} <= fields and bool(jnp.any(model.v_reset >= model.v_th)):
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
