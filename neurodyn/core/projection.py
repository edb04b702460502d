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

A stateless projection (a diffusive coupling) only defines ``inputs(observables)``.
"""

from __future__ import annotations

from typing import Any

import jax


class Projection:
    """Base class of projections (see the module docstring)."""

    def sources(self) -> tuple[str, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def targets(self) -> tuple[tuple[str, str], ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def init(self, key: jax.Array, observables: dict) -> Any:
        """Initial projection state (none by default)."""
        return ()

    def step(self, state: Any, observables: dict, step) -> tuple[Any, dict]:
        """One step: new state and the inputs ``{(population, port): array}``."""
        return state, self.inputs(observables)

    def inputs(self, observables: dict) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError
