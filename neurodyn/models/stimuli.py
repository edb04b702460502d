"""Stimuli in specs (issue 21, part 4): a spike generator replaying given spike times, and a
Poisson generator whose rate varies in time (a registered waveform or an array) and per neuron.

* :class:`SpikeGenerator` -- neuron ``ids[j]`` spikes at ``times[j]`` ms (given, or read from the
  ``/spikes/<population>`` group of an HDF5/SONATA file: ``timestamps`` in ms, ``node_ids``).
  A time ``t`` is emitted by the step whose end is ``t``: step ``k = rint(t / dt)`` (the state
  after ``k`` steps), so a run records it at time ``k dt`` -- a file written by a neurodyn run
  (whose spike of the state after step ``s`` is stamped ``(s + 1) dt``) is replayed exactly.
* :class:`PoissonGenerator` -- ``n`` independent trains; neuron ``i`` spikes in step ``k`` (from
  ``t_k = k dt`` to ``t_k + dt``) with probability ``max(scale_i r(t_k), 0) dt / 1000`` (rate in
  Hz, time in ms; the Bernoulli discretisation of :class:`~neurodyn.models.sources.PoissonSource`),
  ``r`` one of the waveforms of :data:`WAVEFORMS`. The expected count of a neuron over steps
  ``K`` is ``sum_k p_k``, its variance ``sum_k p_k (1 - p_k)``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.model import Model, drive_term, float_dtype, per_node
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import MODELS, Field, check_table, read_fields

# ---------------------------------------------------------------- spike generator


class GeneratorState(NamedTuple):
    """The ``spike`` events of the step and the steps taken."""

    spike: jax.Array
    k: jax.Array


@pytree_dataclass(static=("n", "width"), frozen=("dt",))
class SpikeGenerator(Model):
    """Replays given spikes (see the module docstring). ``starts[k]`` is the first event of step
    ``k`` in ``ids`` (events sorted by step); ``width`` the most events of one step. Build it
    with :meth:`create`. Observable: ``spike``."""

    n: int
    width: int
    starts: jax.Array
    ids: jax.Array
    dt: jax.Array

    VARIABLES: ClassVar[tuple] = ("spike", "k")
    PORTS: ClassVar[tuple] = ("spike",)  # a nonzero drive adds spikes (as SpikeSource)
    INPUT_PORT: ClassVar[str] = "spike"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"spike": "1"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    @classmethod
    def create(cls, n: int, times, ids, *, dt: float = 0.1, dtype=None) -> "SpikeGenerator":
        """Neuron ``ids[j]`` spikes at ``times[j]`` ms, on a grid of ``dt`` ms (``rint(t / dt)``
        steps; times must round to step 1 or later)."""
        n = check_int("spike generator: n", n)
        t, i = np.asarray(times, np.float64).reshape(-1), np.asarray(ids).reshape(-1)
        if t.shape != i.shape:
            raise SpecError(f"spike generator: times and ids must have the same length, got {t.size} and {i.size}")
        if i.size and (not np.all(np.equal(np.mod(i, 1), 0)) or i.min() < 0 or i.max() >= n):
            raise SpecError(f"spike generator: ids must be integers in [0, {n}), got {i.min()!r}..{i.max()!r}")
        steps = np.rint(t / float(dt)).astype(np.int64)
        if steps.size and steps.min() < 1:
            raise SpecError(f"spike generator: spike times must exceed dt / 2 = {float(dt) / 2:g} ms "
                            f"(step 1 or later), got {t.min():g} ms")
        order = np.argsort(steps, kind="stable")
        steps, i = steps[order], i[order].astype(np.int32)
        last = int(steps.max(initial=0))
        starts = np.searchsorted(steps, np.arange(last + 2)).astype(np.int32)
        width = int(np.diff(starts).max(initial=0)) if last else 0
        ids_padded = np.concatenate([i, np.full(max(width, 1), n, np.int32)])
        return cls(n, width, jnp.asarray(starts), jnp.asarray(ids_padded), jnp.asarray(dt, float_dtype(dtype)))

    def init(self, key: jax.Array) -> GeneratorState:
        """No spike, no step taken."""
        return GeneratorState(jnp.zeros(self.n, bool), jnp.zeros((), jnp.int32))

    def step(self, state: GeneratorState, drive=None, t=None) -> GeneratorState:
        """The spikes of step ``k + 1`` (those stamped ``(k + 1) dt``)."""
        k = state.k + 1
        j = jnp.minimum(k, self.starts.shape[0] - 2)
        s, e = self.starts[j], jnp.where(k == j, self.starts[j + 1], self.starts[j])
        idx = s + jnp.arange(self.width, dtype=jnp.int32)
        targets = jnp.where(idx < e, self.ids[jnp.minimum(idx, self.ids.shape[0] - 1)], self.n)
        spike = jnp.zeros(self.n, bool).at[targets].set(True, mode="drop")
        if drive is not None:
            spike = spike | (jnp.broadcast_to(drive_term(drive, "spike", "spike"), (self.n,)) != 0)
        return GeneratorState(spike, k)

    def observe(self, state: GeneratorState) -> dict:
        """The ``spike`` events."""
        return {"spike": state.spike}


def read_spike_file(path, population: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps in ms, node_ids)`` of ``/spikes/<population>`` of an HDF5 run file or a
    SONATA spike file (the only population when ``population`` is None)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise SpecError(f"spike file {str(path)!r}: cannot be read as HDF5 ({err})") from None
    with f:
        pops = sorted(f["spikes"]) if "spikes" in f else []
        if population is None:
            if len(pops) != 1:
                raise SpecError(f"spike file {str(path)!r}: give population, one of {', '.join(pops) or 'none'}")
            population = pops[0]
        if population not in pops:
            raise SpecError(f"spike file {str(path)!r}: no population {population!r} (has {', '.join(pops) or 'none'})")
        g = f["spikes"][population]
        units = g["timestamps"].attrs.get("units", "ms")
        units = units.decode() if isinstance(units, bytes) else units
        scale = {"ms": 1.0, "s": 1000.0}.get(units)
        if scale is None:
            raise SpecError(f"spike file {str(path)!r}: timestamps in {units!r}, expected ms or s")
        return g["timestamps"][()].astype(np.float64) * scale, g["node_ids"][()].astype(np.int64)


def _spike_generator_from_spec(*, n, times, ids, file, population, dt, dtype) -> SpikeGenerator:
    if (file is None) == (times is None):
        raise SpecError("give either times and ids, or file")
    if file is not None:
        times, ids = read_spike_file(file, population)
    elif ids is None:
        raise SpecError("ids: give one neuron id per spike time")
    return SpikeGenerator.create(n, times, ids, dt=dt, dtype=dtype)


def _numbers(path, value, **context):
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise SpecError(f"{path}: expected a list of numbers, got {value!r}")
    return value


MODELS.register("spike_generator", _spike_generator_from_spec, (
    Field("n", "integer", minimum=1, doc="number of neurons"),
    Field("times", "custom", default=None, validator=_numbers, type_text="list of numbers", unit="ms",
          doc="spike times (emitted by step rint(t / dt))", default_text="none (give times and ids, or file)"),
    Field("ids", "custom", default=None, validator=_numbers, type_text="list of integers",
          doc="the neuron of each spike time", default_text="none"),
    Field("file", "string", default=None, doc="an HDF5 run file or SONATA spike file: /spikes/<population>",
          default_text="none"),
    Field("population", "string", default=None, doc="the population of the file", default_text="its only one"),
), summary="Spike generator: replays given spike times and neuron ids (a list, or a run/SONATA spike file) "
           "exactly on the time grid.", example={"n": 3, "times": [1.0, 2.0, 2.0], "ids": [0, 1, 2]},
    context=("dt", "dtype"), cls=SpikeGenerator)

# ---------------------------------------------------------------- time-varying Poisson rate

WAVEFORMS: dict[str, tuple] = {
    "constant": (Field("rate", minimum=0.0, unit="Hz", doc="the rate"),),
    "step": (Field("before", default=0.0, unit="Hz", doc="rate before at"), Field("after", unit="Hz", doc="rate from at"),
             Field("at", default=0.0, unit="ms", doc="time of the step")),
    "ramp": (Field("start", unit="Hz", doc="rate until t0"), Field("end", unit="Hz", doc="rate from t1"),
             Field("t0", default=0.0, unit="ms", doc="start of the ramp"), Field("t1", unit="ms", doc="end (> t0)")),
    "sine": (Field("mean", unit="Hz", doc="mean rate"), Field("amplitude", unit="Hz", doc="amplitude"),
             Field("frequency", unit="Hz", minimum=0.0, doc="frequency"),
             Field("phase", default=0.0, unit="rad", doc="phase at t = 0")),
    "ou": (Field("mean", unit="Hz", doc="mean rate"), Field("sigma", minimum=0.0, unit="Hz", doc="stationary std"),
           Field("tau", minimum=0.0, exclusive_minimum=True, unit="ms", doc="correlation time")),
    "array": (Field("values", "custom", validator=_numbers, type_text="list of numbers", unit="Hz",
                    doc="rate per interval (the last held)"),
              Field("interval", minimum=0.0, exclusive_minimum=True, unit="ms", doc="length of each value's interval")),
}


def waveform_rate(kind: str, params: dict, t, x=None):
    """``r(t)`` in Hz of a waveform of :data:`WAVEFORMS` at time ``t`` ms: constant ``rate``;
    step ``before`` then ``after`` from ``at``; ramp linear from ``start`` at ``t0`` to ``end`` at
    ``t1`` (held outside); sine ``mean + amplitude sin(2 pi frequency t / 1000 + phase)``; ou the
    Ornstein-Uhlenbeck value ``x``; array ``values[floor(t / interval)]`` (the last held)."""
    if kind == "constant":
        return params["rate"]
    if kind == "step":
        return jnp.where(t >= params["at"], params["after"], params["before"])
    if kind == "ramp":
        f = jnp.clip((t - params["t0"]) / (params["t1"] - params["t0"]), 0.0, 1.0)
        return params["start"] + (params["end"] - params["start"]) * f
    if kind == "sine":
        return params["mean"] + params["amplitude"] * jnp.sin(2 * jnp.pi * params["frequency"] * t * 1e-3
                                                              + params["phase"])
    if kind == "ou":
        return x
    values = params["values"]
    i = jnp.clip(jnp.floor(t / params["interval"]).astype(jnp.int32), 0, values.shape[0] - 1)
    return values[i]


class PoissonGeneratorState(NamedTuple):
    """The ``spike`` events, the PRNG key, the steps taken and the Ornstein-Uhlenbeck rate."""

    spike: jax.Array
    key: jax.Array
    k: jax.Array
    x: jax.Array


@pytree_dataclass(static=("n", "waveform"), frozen=("dt",))
class PoissonGenerator(Model):
    """Inhomogeneous Poisson trains (see the module docstring); the ``ou`` rate follows the exact
    update ``x <- mean + (x - mean) e^{-dt/tau} + sigma sqrt(1 - e^{-2 dt/tau}) N(0, 1)``, one
    value shared by the neurons, starting at ``mean``. Build it with :meth:`create`."""

    n: int
    waveform: str
    params: dict
    scale: jax.Array
    dt: jax.Array

    VARIABLES: ClassVar[tuple] = ("spike", "key", "k", "x")
    PORTS: ClassVar[tuple] = ("rate",)  # a gain: the rate times 1 + drive (as PoissonSource)
    INPUT_PORT: ClassVar[str] = "rate"
    EVENTS: ClassVar[tuple] = ("spike",)
    units: ClassVar[dict] = {"spike": "1", "rate": "Hz"}
    time_unit: ClassVar[str] = "ms"
    SMOOTH: ClassVar[bool] = False

    @classmethod
    def create(cls, n: int, waveform: str = "constant", *, scale=1.0, dt: float = 0.1, dtype=None,
               **params) -> "PoissonGenerator":
        """``n`` trains of rate ``scale_i r(t)`` Hz, ``r`` the ``waveform`` with ``params``."""
        n = check_int("poisson generator: n", n)
        if waveform not in WAVEFORMS:
            raise SpecError(f"poisson generator: waveform must be one of {', '.join(WAVEFORMS)}, got {waveform!r}")
        d = float_dtype(dtype)
        values = read_fields("rate", params, WAVEFORMS[waveform])
        if waveform == "ramp" and not values["t1"] > values["t0"]:
            raise SpecError("rate: a ramp needs t1 > t0")
        return cls(n, waveform, {k: jnp.asarray(v, d) for k, v in values.items()},
                   per_node(scale, n, "poisson generator: scale", dtype), jnp.asarray(dt, d))

    def init(self, key: jax.Array) -> PoissonGeneratorState:
        """No spike; the OU rate at its mean."""
        x = self.params.get("mean", jnp.zeros((), self.scale.dtype)) * jnp.ones((), self.scale.dtype)
        return PoissonGeneratorState(jnp.zeros(self.n, bool), key, jnp.zeros((), jnp.int32), x)

    def rate(self, state: PoissonGeneratorState) -> jax.Array:
        """The rates ``max(scale_i r(t_k), 0)`` in Hz of the coming step."""
        t = state.k.astype(self.scale.dtype) * self.dt
        return jnp.maximum(self.scale * waveform_rate(self.waveform, self.params, t, state.x), 0.0)

    def step(self, state: PoissonGeneratorState, drive=None, t=None) -> PoissonGeneratorState:
        """This step's spikes, then the OU rate advanced by one step."""
        key, sub, noise = jax.random.split(state.key, 3)
        p = self.rate(state) * (1.0 + drive_term(drive, "rate", "rate")) * self.dt * 1e-3
        spike = jax.random.uniform(sub, (self.n,), self.scale.dtype) < p
        x = state.x
        if self.waveform == "ou":
            a = jnp.exp(-self.dt / self.params["tau"])
            m = self.params["mean"]
            x = m + (x - m) * a + self.params["sigma"] * jnp.sqrt(1 - a * a) * jax.random.normal(noise, (), x.dtype)
        return PoissonGeneratorState(spike, key, state.k + 1, x)

    def observe(self, state: PoissonGeneratorState) -> dict:
        """The ``spike`` events and the rate of the coming step."""
        return {"spike": state.spike, "rate": self.rate(state)}


def _rate_table(path, value, **context) -> dict:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"waveform": "constant", "rate": value}
    table = dict(check_table(path, value))
    kind = table.pop("waveform", None)
    if kind not in WAVEFORMS:
        from ..schema import did_you_mean
        raise SpecError(f"{path}.waveform: expected one of {', '.join(WAVEFORMS)}, got {kind!r}"
                        f"{did_you_mean(str(kind), tuple(WAVEFORMS))}")
    return {"waveform": kind, **read_fields(path, table, WAVEFORMS[kind])}


def _poisson_generator_from_spec(*, n, rate, scale, dt, dtype) -> PoissonGenerator:
    rate = dict(rate)
    return PoissonGenerator.create(n, rate.pop("waveform"), scale=scale, dt=dt, dtype=dtype, **rate)


MODELS.register("poisson_generator", _poisson_generator_from_spec, (
    Field("n", "integer", minimum=1, doc="number of neurons"),
    Field("rate", "custom", validator=_rate_table, type_text="number or table", unit="Hz",
          doc="a rate, or { waveform = constant | step | ramp | sine | ou | array, ... } (docs/models/stimuli.md)"),
    Field("scale", "per_node", default=1.0, minimum=0.0, doc="per-neuron factor of the rate (inhomogeneous rates)"),
), summary="Poisson generator: independent trains of a time-varying rate (a waveform or an array) scaled per neuron.",
    example={"n": 4, "rate": {"waveform": "sine", "mean": 20.0, "amplitude": 10.0, "frequency": 5.0},
             "scale": [1.0, 0.5, 2.0, 1.0]},
    context=("dt", "dtype"), cls=PoissonGenerator)
