"""Projections: what connects the populations of a :class:`~neurodyn.core.Network`.

A projection reads observables of its source populations (spike events included), updates its
own state (delay ring buffers, synaptic traces, plastic weights, adaptive gains) and returns
additive inputs to named input ports of its target populations:

* ``sources() -> tuple[str, ...]``: the populations it reads;
* ``targets() -> tuple[tuple[str, str], ...]``: the ``(population, port)`` pairs it writes;
* ``init(key, observables) -> state``: its initial state (``()`` for a stateless projection);
* ``step(state, observables, step) -> (state, {(population, port): input})``, where
  ``observables[population][name]`` are the source observables at the current step and
  ``step`` is the network's integer step counter (for ring buffers).

A stateless projection (a diffusive coupling) only defines ``inputs(observables)``. A drive
generated inside the network (a current schedule, Poisson trains) is a :class:`GeneratedInput`:
it reads no population and writes the one ``(target, port)`` its fields name.
"""

from __future__ import annotations

from typing import Any

import jax


class Projection:
    """Base class of projections (see the module docstring). A subclass defines ``sources``,
    ``targets`` and either ``step`` or, when stateless, ``inputs`` (checked when it is created)."""

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract or cls.__name__.startswith("_"):
            return  # an intermediate base
        absent = [name for name in ("sources", "targets") if not callable(getattr(cls, name, None))]
        if cls.step is Projection.step and not callable(getattr(cls, "inputs", None)):
            absent.append("step (or inputs, for a stateless projection)")
        if absent:
            raise TypeError(f"projection {cls.__name__} does not define {', '.join(absent)}")

    def init(self, key: jax.Array, observables: dict) -> Any:
        """Initial projection state (none by default)."""
        return ()

    def step(self, state: Any, observables: dict, step) -> tuple[Any, dict]:
        """One step: new state and the inputs ``{(population, port): array}``."""
        return state, self.inputs(observables)


class GeneratedInput(Projection, abstract=True):
    """A projection that generates its input itself (from its own state and the step) into the
    port ``port`` of every neuron of the population ``target`` (fields of the subclass): it reads
    no population. A subclass defines ``step``."""

    def sources(self) -> tuple:
        """None: the input is generated here."""
        return ()

    def targets(self) -> tuple:
        """The one ``(population, port)`` written."""
        return ((self.target, self.port),)
