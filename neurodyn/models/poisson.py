"""Poisson drive: independent Poisson spike trains feeding a population.

Every neuron of the target receives ``n_inputs`` independent Poisson spike trains of rate
``rate`` (Hz); each input spike adds ``weight`` to the target's port (``g_e`` / ``g_i`` of a
synaptic LIF: a conductance or current increment; ``v``: a voltage jump; ``I``: an input held
for one step). The number of input spikes a neuron receives during one step of ``dt`` ms is the
count of a Poisson process of rate ``n_inputs * rate`` over ``dt``:

    k_i(t) ~ Poisson(lambda),   lambda = n_inputs * rate * dt / 1000,

drawn independently per neuron and per step, so the port receives ``weight * k_i(t)`` (mean
``weight * lambda``, variance ``weight^2 * lambda``). This is the superposition of the
``n_inputs`` trains exactly (a sum of independent Poisson processes is Poisson), without one
random number per input (Brian 2's ``PoissonInput`` draws the binomial count instead, the same
to order ``rate * dt``). The PRNG key is the projection's state, split every step inside the
compiled loop: a run is reproducible from the network's seed. ``rate`` and ``weight`` are
traced leaves (sweepable, and ``weight`` differentiable). See docs/models/spiking.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..core.model import drive_port, float_dtype, surface
from ..core.projection import GeneratedInput
from ..errors import SpecError, check_int
from ..pytree import pytree_dataclass
from ..schema import PROJECTIONS, Field, check_choice, did_you_mean


@pytree_dataclass(static=("target", "port", "n", "n_inputs"), frozen=("dt",))
class PoissonInput(GeneratedInput):
    """``n_inputs`` independent Poisson trains of ``rate`` Hz into each of the ``n`` neurons of
    ``target``, ``weight`` per input spike added to ``port`` (see the module docstring);
    ``dt`` the step in ms. Build it with :meth:`create`."""

    target: str
    port: str
    n: int
    n_inputs: int
    rate: jax.Array
    weight: jax.Array
    dt: jax.Array

    @classmethod
    def create(cls, target: str, model, *, rate: float, n_inputs: int, weight: float, port: str | None = None,
               dtype=None) -> "PoissonInput":
        """A Poisson drive of population ``target`` whose model is ``model`` (its size ``n``, its
        step ``dt`` in ms and its ports are read from it); ``port`` defaults to the model's
        input port. ``rate`` in Hz (>= 0), ``weight`` in the port's unit."""
        desc = surface(model)
        port = drive_port(model, target, port, "a Poisson drive (rate in Hz)")
        n_inputs = check_int("n_inputs", n_inputs, 0)
        if not float(rate) >= 0:
            raise SpecError(f"rate must be >= 0 Hz, got {rate!r}")
        dtype = float_dtype(dtype)
        return cls(target, port, int(model.n), n_inputs, jnp.asarray(rate, dtype), jnp.asarray(weight, dtype),
                   jnp.asarray(desc.dt, dtype))

    @property
    def mean_count(self) -> jax.Array:
        """``lambda = n_inputs * rate * dt / 1000``: mean input spikes per neuron and step."""
        return self.n_inputs * self.rate * self.dt * 1e-3

    def init(self, key, observables):
        """The PRNG key of the trains (from the network's key)."""
        return key

    def step(self, state, observables, step):
        """Split the key, draw this step's counts ``k ~ Poisson(lambda)`` per neuron, deliver ``weight * k``."""
        key, sub = jax.random.split(state)
        counts = jax.random.poisson(sub, self.mean_count, (self.n,))
        return key, {(self.target, self.port): self.weight * counts.astype(self.weight.dtype)}


def _population(path, value, *, models=None, **context) -> str:
    return check_choice(path, value, tuple(models or ()))


def _poisson_from_spec(*, target, port, rate, n_inputs, weight, models, dtype):
    return PoissonInput.create(target, models[target], rate=rate, n_inputs=n_inputs, weight=weight, port=port,
                               dtype=dtype)


PROJECTIONS.register("poisson", _poisson_from_spec, (
    Field("target", "custom", validator=_population, type_text="string", doc="the population driven"),
    Field("port", "string", default=None, doc="the target's input port (g_e, g_i: synaptic increments; v: jumps)",
          default_text="the target's input port"),
    Field("rate", minimum=0.0, unit="Hz", doc="rate of each input train"),
    Field("n_inputs", "integer", minimum=0, doc="independent input trains per target neuron"),
    Field("weight", doc="increment per input spike (g_L units for conductances, mV for currents and jumps)"),
), summary="Poisson drive: every target neuron receives n_inputs independent Poisson trains of the given rate; "
           "each input spike adds weight to the port (counts drawn per step, keys split inside the loop).",
    citation="N. Brunel, J. Comput. Neurosci. 8:183 (2000); R. Brette et al., J. Comput. Neurosci. 23:349 (2007)",
    example={"target": "neurons", "port": "v", "rate": 10.0, "n_inputs": 100, "weight": 0.5},
    context=("models", "dtype"), cls=PoissonInput)
