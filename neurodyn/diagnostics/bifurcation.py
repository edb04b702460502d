"""Orbit (bifurcation) diagrams over a parameter, vmapped over its values (docs/diagnostics.md, docs/models/maps.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..core.loop import init_state
from ..core.parameters import with_parameter
from ..core.simulate import run


@dataclass
class BifurcationDiagram:
    """``orbits[i]``: the ``keep`` values of ``variable`` visited after the transient at
    ``values[i]``; ``periods[i]``: number of distinct values (clustered within ``tol``; ``keep``
    means no period found, i.e. quasi-periodic or chaotic)."""

    values: np.ndarray
    orbits: np.ndarray
    periods: np.ndarray

    def period_changes(self) -> list[tuple[float, int, int]]:
        """``(value, old period, new period)`` midway between consecutive values where it changes."""
        out = []
        for a in range(len(self.values) - 1):
            if self.periods[a] != self.periods[a + 1]:
                out.append((0.5 * (self.values[a] + self.values[a + 1]), int(self.periods[a]), int(self.periods[a + 1])))
        return out


def _period(orbit: np.ndarray, tol: float) -> int:
    s = np.sort(orbit)
    return int(1 + np.sum(np.diff(s) > tol))


def bifurcation_diagram(model, param: str, values, *, variable: str, transient: int = 10_000, keep: int = 500,
                        key: jax.Array | None = None, state: Any = None, node: int = 0, tol: float = 1e-6,
                        chunk: int = 256) -> BifurcationDiagram:
    """Orbit diagram of ``variable`` (an observable name; ``node`` picks one element of an array
    observable) as ``param`` (a dotted parameter path, see :func:`neurodyn.core.parameters.with_parameter`)
    takes each of ``values``: every value runs ``transient`` steps then records ``keep`` steps,
    all values of a chunk in one vmapped compiled call from the same initial state."""
    values = np.asarray(values, float)
    state = init_state(model, state, key)

    @jax.jit
    @jax.vmap
    def orbit(v):
        m = with_parameter(model, param, v)
        warm, _ = run(m, state, transient, record=())
        _, rec = run(m, warm, keep, record=(variable,))
        return jnp.reshape(rec[variable], (keep, -1))[:, node]

    dtype = jnp.result_type(float)
    parts = [np.asarray(orbit(jnp.asarray(values[i:i + chunk], dtype))) for i in range(0, len(values), chunk)]
    orbits = np.concatenate(parts)
    periods = np.array([_period(o, tol) for o in orbits])
    return BifurcationDiagram(values, orbits, periods)
