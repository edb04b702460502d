"""Current-injection schedules (issue 21, part 4): a step, ramp, sine or noise current added to
any input port of a population, as a projection without a source (like the ``poisson`` drive).

During step ``k`` (model time ``t = k dt`` ms to ``t + dt``) neuron ``i`` of the target receives
``scale_i I(t)`` on ``port``, held for the step, in the port's unit (mV for the ``I`` port of the
LIF models and of equation models whose equations read ``I/tau_m``; pA for an AdEx ``I``):

* ``step``:  ``I = offset + amplitude`` for ``start <= t < stop``, ``offset`` otherwise;
* ``ramp``:  ``I = offset + amplitude clip((t - start) / (stop - start), 0, 1)``: ``offset``
  until ``start``, rising linearly to ``offset + amplitude`` at ``stop``, held after;
* ``sine``:  ``I = offset + amplitude sin(2 pi frequency t / 1000 + phase)`` (frequency in Hz)
  for ``start <= t < stop``, ``offset`` otherwise;
* ``ou``:    ``I = x_i`` for ``start <= t < stop`` (0 otherwise), ``x_i`` an Ornstein-Uhlenbeck
  process per neuron of mean ``mean``, stationary standard deviation ``sigma`` and correlation
  time ``tau`` ms, advanced by its exact update ``x <- mean + (x - mean) e^{-dt/tau} + sigma
  sqrt(1 - e^{-2 dt/tau}) N(0, 1)`` and started from its stationary law ``N(mean, sigma^2)``;
* ``white``: ``I = mean + sigma N(0, 1)`` drawn per neuron and step for ``start <= t < stop``
  (0 otherwise): white noise held for one step, NEST's ``noise_generator`` with its interval
  equal to the step (its effect on a membrane grows as ``sqrt(dt)``; use ``ou`` for a
  step-independent coloured noise).

Every number is an array leaf of the projection (``couplings.<name>.amplitude`` etc.), so a
sweep over it runs without recompiling and ``neurodyn.grad`` differentiates it; the noise key is
the projection's state, split every step inside the compiled loop (reproducible from the
network's seed). See docs/models/stimuli.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..core.model import drive_port, float_dtype, per_node, surface
from ..core.projection import GeneratedInput
from ..errors import SpecError
from ..pytree import pytree_dataclass
from ..schema import PROJECTIONS, Field, check_choice, did_you_mean

# the numbers each waveform reads (required ones first); the others must not be given
WAVEFORM_FIELDS = {
    "step": (("amplitude",), ("offset", "start", "stop")),
    "ramp": (("amplitude", "stop"), ("offset", "start")),
    "sine": (("amplitude", "frequency"), ("offset", "phase", "start", "stop")),
    "ou": (("mean", "sigma", "tau"), ("start", "stop")),
    "white": (("mean", "sigma"), ("start", "stop")),
}
DEFAULTS = {"amplitude": 0.0, "offset": 0.0, "start": 0.0, "stop": float("inf"), "frequency": 0.0, "phase": 0.0,
            "mean": 0.0, "sigma": 0.0, "tau": 1.0}
NOISY = ("ou", "white")


@pytree_dataclass(static=("target", "port", "n", "waveform"), frozen=("dt",))
class CurrentInjection(GeneratedInput):
    """A current schedule ``scale_i I(t)`` on ``port`` of every neuron of ``target`` (see the
    module docstring for ``I(t)`` of each ``waveform``; times in ms, frequency in Hz, currents in
    the port's unit). Build it with :meth:`create`."""

    target: str
    port: str
    n: int
    waveform: str
    amplitude: jax.Array
    offset: jax.Array
    start: jax.Array
    stop: jax.Array
    frequency: jax.Array
    phase: jax.Array
    mean: jax.Array
    sigma: jax.Array
    tau: jax.Array
    scale: jax.Array
    dt: jax.Array

    @classmethod
    def create(cls, target: str, model, waveform: str = "step", *, port: str | None = None, scale=1.0,
               dtype=None, **numbers) -> "CurrentInjection":
        """A ``waveform`` current into population ``target`` whose model is ``model`` (its size,
        step ``dt`` in ms and ports are read from it); ``port`` defaults to its input port;
        ``numbers`` are the waveform's (``amplitude``, ``start``, ...; the module docstring)."""
        if waveform not in WAVEFORM_FIELDS:
            raise SpecError(f"waveform: expected one of {', '.join(WAVEFORM_FIELDS)}, got {waveform!r}"
                            f"{did_you_mean(str(waveform), tuple(WAVEFORM_FIELDS))}")
        desc = surface(model)
        port = drive_port(model, target, port, "a current schedule")
        required, optional = WAVEFORM_FIELDS[waveform]
        given = {k: v for k, v in numbers.items() if v is not None}
        extra = sorted(set(given) - set(required) - set(optional))
        if extra:
            raise SpecError(f"{extra[0]}: a {waveform} current does not read it (it reads "
                            f"{', '.join(required + optional)})")
        missing = [k for k in required if k not in given]
        if missing:
            raise SpecError(f"{missing[0]}: a {waveform} current needs it")
        values = {**DEFAULTS, **{k: float(v) for k, v in given.items()}}
        if waveform == "ramp" and not values["stop"] > values["start"]:
            raise SpecError(f"stop: a ramp needs stop > start, got start {values['start']:g} ms, "
                            f"stop {values['stop']:g} ms")
        if not values["sigma"] >= 0:
            raise SpecError(f"sigma: must be >= 0, got {values['sigma']:g}")
        if not values["tau"] > 0:
            raise SpecError(f"tau: must be > 0 ms, got {values['tau']:g}")
        d = float_dtype(dtype)
        n = int(model.n)
        return cls(target, port, n, waveform, **{k: jnp.asarray(v, d) for k, v in values.items()},
                   scale=per_node(scale, n, "scale", d), dt=jnp.asarray(desc.dt, d))

    def init(self, key, observables):
        """The noise's key and, for ``ou``, its value per neuron (stationary draw); ``()`` without noise."""
        if self.waveform not in NOISY:
            return ()
        key, sub = jax.random.split(key)
        x = self.mean + self.sigma * jax.random.normal(sub, (self.n,), self.scale.dtype)
        return (key, x)

    def current(self, t, noise=None):
        """``I(t)`` (before ``scale``); ``noise`` the OU values or the step's standard normals."""
        on = (t >= self.start) & (t < self.stop)
        if self.waveform == "step":
            return self.offset + jnp.where(on, self.amplitude, 0.0)
        if self.waveform == "ramp":
            return self.offset + self.amplitude * jnp.clip((t - self.start) / (self.stop - self.start), 0.0, 1.0)
        if self.waveform == "sine":
            wave = self.amplitude * jnp.sin(2 * jnp.pi * self.frequency * t * 1e-3 + self.phase)
            return self.offset + jnp.where(on, wave, 0.0)
        value = noise if self.waveform == "ou" else self.mean + self.sigma * noise
        return jnp.where(on, value, 0.0)

    def step(self, state, observables, step):
        """This step's current ``scale * I(k dt)``; then the noise advanced by one step."""
        t = jnp.asarray(step, self.dt.dtype) * self.dt
        if self.waveform not in NOISY:
            return state, {(self.target, self.port): self.scale * self.current(t)}
        key, x = state
        key, sub = jax.random.split(key)
        z = jax.random.normal(sub, (self.n,), self.scale.dtype)
        if self.waveform == "white":
            return (key, x), {(self.target, self.port): self.scale * self.current(t, z)}
        a = jnp.exp(-self.dt / self.tau)
        new = self.mean + (x - self.mean) * a + self.sigma * jnp.sqrt(1 - a * a) * z
        return (key, new), {(self.target, self.port): self.scale * self.current(t, x)}


def _population(path, value, *, models=None, **context) -> str:
    return check_choice(path, value, tuple(models or ()))


def _current_from_spec(*, target, port, waveform, scale, models, dtype, **numbers):
    return CurrentInjection.create(target, models[target], waveform, port=port, scale=scale, dtype=dtype,
                                   **numbers)


def _number(name: str, unit: str, doc: str) -> Field:
    return Field(name, default=None, unit=unit, doc=doc, default_text="required by its waveforms")


PROJECTIONS.register("current", _current_from_spec, (
    Field("target", "custom", validator=_population, type_text="string", doc="the population driven"),
    Field("port", "string", default=None, doc="the target's input port (I: an input current in the port's unit)",
          default_text="the target's input port"),
    Field("waveform", "choice", choices=tuple(WAVEFORM_FIELDS),
          doc="step | ramp | sine | ou | white (docs/models/stimuli.md)"),
    _number("amplitude", "port unit", "step height, ramp rise, sine amplitude (step, ramp, sine)"),
    Field("offset", default=None, unit="port unit", doc="current outside the step, before the ramp, sine mean",
          default_text="0"),
    Field("start", default=None, unit="ms", doc="the current (step, sine, noise) or the ramp starts", default_text="0"),
    Field("stop", default=None, unit="ms", doc="the current (step, sine, noise) stops, or the ramp reaches its top",
          default_text="never (required by ramp)"),
    _number("frequency", "Hz", "sine frequency"),
    Field("phase", default=None, unit="rad", doc="sine phase at t = 0", default_text="0"),
    _number("mean", "port unit", "mean of the noise (ou, white)"),
    _number("sigma", "port unit", "standard deviation of the noise: stationary (ou), per step (white)"),
    Field("tau", default=None, unit="ms", doc="correlation time of the ou noise", default_text="required by ou"),
    Field("scale", "per_node", default=1.0, doc="per-neuron factor of the current (one run, many amplitudes)"),
), summary="Current injection: a step, ramp, sine or noise (Ornstein-Uhlenbeck or white) current added to a port "
           "of every target neuron, scaled per neuron; its numbers are sweepable without recompiling.",
    citation="NEST step_current_generator, ac_generator and noise_generator; Brian2 TimedArray inputs",
    example={"target": "neurons", "port": "I", "waveform": "step", "amplitude": 15.0, "start": 20.0, "stop": 80.0},
    context=("models", "dtype"), cls=CurrentInjection)
