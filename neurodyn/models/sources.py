"""Spike sources and a neuromodulator: populations that emit what a plastic projection reads.

* :class:`PoissonSource` -- ``n`` independent Poisson spike trains (a spike in a step with
  probability ``rate * dt / 1000``, rates per neuron in Hz, optionally scaled per step by a
  drive), the presynaptic inputs of Song, Miller & Abbott (2000) and Vogels et al. (2011).
* :class:`SpikeSource` -- spikes given as a drive (a boolean raster ``(steps, n)``): prescribed
  pairing protocols (Sjöström et al. 2001; Pfister & Gerstner 2006).
* :class:`Modulator` -- a global neuromodulator concentration ``m`` (dopamine in Izhikevich
  2007): ``dm/dt = -m / tau`` plus the increments given as a drive, read by reward-modulated
  STDP (:class:`neurodyn.models.plastic.RewardSTDP`).

All three are models of the protocol (:class:`neurodyn.core.Model`) with time in ms.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ..core.model import Model, drive_term, float_dtype, per_node
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass


class SourceState(NamedTuple):
    """The ``spike`` events of the step and the PRNG key."""

    spike: jax.Array
    key: jax.Array


@pytree_dataclass(static=("n",), frozen=("dt",))
class PoissonSource(Model):
    """``n`` independent Poisson trains: neuron ``i`` spikes in a step with probability
    ``rate_i * g * dt / 1000`` (``rate`` in Hz, ``dt`` in ms, ``g`` = 1 plus the drive on port
    ``"rate"``, a gain per step). Exact for a Bernoulli process on the time grid, the usual
    discretisation of a Poisson train (Brian 2's ``PoissonGroup``). Observable: ``spike``.
    Build it with :meth:`create`."""

    n: int
    rate: jax.Array
    dt: jax.Array

    VARIABLES: ClassVar[tuple] = ("spike", "key")
    PORTS: ClassVar[tuple] = ("rate",)
    INPUT_PORT: ClassVar[str] = "rate"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"spike": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    @classmethod
    def create(cls, n: int, rate, *, dt: float = 0.1, dtype=None) -> "PoissonSource":
        """``n`` trains of ``rate`` Hz (a number or one per neuron) on a grid of ``dt`` ms."""
        n = check_int("poisson source: n", n)
        rate = per_node(rate, n, "poisson source: rate", dtype)
        if bool(jnp.any(rate < 0)) or not float(dt) > 0:
            raise SpecError(f"poisson source: rates must be >= 0 Hz and dt > 0 ms, got rate {rate.tolist()}, dt {dt!r}")
        return cls(n, rate, jnp.asarray(dt, float_dtype(dtype)))

    def init(self, key: jax.Array) -> SourceState:
        """No spike yet; the key of the trains."""
        return SourceState(jnp.zeros(self.n, bool), key)

    def step(self, state: SourceState, drive=None, t=None) -> SourceState:
        """Split the key and draw this step's spikes."""
        key, sub = jax.random.split(state.key)
        p = self.rate * (1.0 + drive_term(drive, "rate", "rate")) * self.dt * 1e-3
        return SourceState(jax.random.uniform(sub, (self.n,), self.rate.dtype) < p, key)

    def observe(self, state: SourceState) -> dict:
        """The ``spike`` events."""
        return {"spike": state.spike}


class PrescribedState(NamedTuple):
    """The ``spike`` events of the step."""

    spike: jax.Array


@pytree_dataclass(static=("n",), frozen=("dt",))
class SpikeSource(Model):
    """``n`` neurons that spike when their drive (port ``"spike"``, one row per step) is
    nonzero: a prescribed raster. Observable: ``spike``."""

    n: int
    dt: jax.Array = 0.1

    VARIABLES: ClassVar[tuple] = ("spike",)
    PORTS: ClassVar[tuple] = ("spike",)
    INPUT_PORT: ClassVar[str] = "spike"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"spike": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    def init(self, key: jax.Array) -> PrescribedState:
        """No spike."""
        return PrescribedState(jnp.zeros(self.n, bool))

    def step(self, state: PrescribedState, drive=None, t=None) -> PrescribedState:
        """The spikes of this step's drive."""
        return PrescribedState(jnp.broadcast_to(drive_term(drive, "spike", "spike") != 0, (self.n,)))

    def observe(self, state: PrescribedState) -> dict:
        """The ``spike`` events."""
        return {"spike": state.spike}


class ModulatorState(NamedTuple):
    """The concentration ``m`` (one value)."""

    m: jax.Array


@pytree_dataclass(frozen=("dt",))
class Modulator(Model):
    """A global neuromodulator: ``m <- m exp(-dt / tau) + drive`` each step (``tau`` in ms;
    the drive, port ``"m"``, holds the released amounts, e.g. a reward's dopamine). Izhikevich
    (Cereb. Cortex 17:2443, 2007): ``tau = 200`` ms, ``0.5`` released per reward. Observable ``m``."""

    tau: jax.Array = 200.0
    dt: jax.Array = 1.0

    VARIABLES: ClassVar[tuple] = ("m",)
    PORTS: ClassVar[tuple] = ("m",)
    INPUT_PORT: ClassVar[str] = "m"
    units: ClassVar[dict] = {"m": "1"}
    time_unit: ClassVar[str] = "ms"

    def init(self, key: jax.Array) -> ModulatorState:
        """Zero concentration."""
        return ModulatorState(jnp.zeros((), jnp.result_type(self.tau, float)))

    def step(self, state: ModulatorState, drive=None, t=None) -> ModulatorState:
        """Exact decay over the step, then the released amount."""
        released = jnp.sum(jnp.asarray(drive_term(drive, "m", "m")))
        return ModulatorState(state.m * jnp.exp(-self.dt / self.tau) + released)

    def observe(self, state: ModulatorState) -> dict:
        """The concentration ``m``."""
        return {"m": state.m}
