"""Online recursive-least-squares readout as a model: the reservoir and its readout weights
advance together inside the scan (S. Haykin, *Adaptive Filter Theory*, ch. 9; the learning rule
of FORCE, D. Sussillo, L. F. Abbott, Neuron 63:544, 2009; docs/models/reservoirs.md, "Readout").

Per step, with features ``phi = [1; x(t)]`` of the state after consuming ``u(t)``:
``y = W^T phi`` (a priori), ``k = P phi / (lambda + phi^T P phi)``, ``P <- (P - k phi^T P) / lambda``,
``W <- W - k (y - d)^T``. From ``W = 0``, ``P = I / delta`` and ``lambda = 1`` the weights after T
steps equal ridge regression with every feature (the bias too) regularised by ``delta``.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ..core.model import Model
from ..pytree import pytree_dataclass


def rls_update(weights: jax.Array, p: jax.Array, phi: jax.Array, y: jax.Array, target, forgetting,
               learn=1.0) -> tuple[jax.Array, jax.Array]:
    """One RLS step (module docstring): ``k = P phi / (lambda + phi^T P phi)``,
    ``P <- (P - k phi^T P) / lambda``, ``W <- W - k (y - d)^T``; weights and ``P`` are held when
    ``learn`` is not positive. Shared by :class:`RLS` and FORCE."""
    learn = jnp.asarray(learn, phi.dtype) > 0
    p_phi = p @ phi
    gain = p_phi / (forgetting + phi @ p_phi)
    new_p = (p - jnp.outer(gain, p_phi)) / forgetting
    new_weights = weights - jnp.outer(gain, y - jnp.reshape(target, y.shape))
    return jnp.where(learn, new_weights, weights), jnp.where(learn, new_p, p)


class RLSState(NamedTuple):
    """The reservoir's state, the readout ``weights`` ``(1 + N, n_outputs)``, the inverse
    correlation estimate ``p`` and the last (a priori) output ``y``."""

    reservoir: Any
    weights: jax.Array
    p: jax.Array
    y: jax.Array


@pytree_dataclass(static=("n_outputs", "names"))
class RLS(Model):
    """A reservoir with an online RLS readout. Ports: ``"u"`` (the reservoir's input),
    ``"target"`` (the desired output ``d(t)``; without it the readout only predicts), ``"learn"``
    (1 to update at this step, 0 to hold, e.g. during a washout; default 1 when a target is given).

    ``forgetting``: lambda in (0, 1] (1: no forgetting); ``delta``: ``P(0) = I / delta``;
    ``names``: the reservoir observables used as features (default ``("x",)``).
    """

    reservoir: Any = None
    n_outputs: int = 1
    forgetting: jax.Array = 1.0
    delta: jax.Array = 1.0
    names: tuple = ("x",)

    VARIABLES: ClassVar[tuple] = ("reservoir", "weights", "p", "y")
    PORTS: ClassVar[tuple] = ("u", "target", "learn")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"y": "1"}
    time_unit: ClassVar[str] = "step"

    def _features(self, res_state) -> jax.Array:
        obs = self.reservoir.observe(res_state)
        x = jnp.concatenate([jnp.ravel(obs[n]) for n in self.names])
        return jnp.concatenate([jnp.ones(1, x.dtype), x])

    def init(self, key: jax.Array) -> RLSState:
        """Reservoir initial state, zero weights, ``P = I / delta``."""
        res = self.reservoir.init(key)
        f = self._features(res).shape[0]
        dtype = self._features(res).dtype
        return RLSState(res, jnp.zeros((f, self.n_outputs), dtype), jnp.eye(f, dtype=dtype) / self.delta,
                        jnp.zeros(self.n_outputs, dtype))

    def step(self, state: RLSState, drive=None, t=None) -> RLSState:
        """Advance the reservoir on ``u(t)``, predict, and (given a target) update ``W`` and ``P``."""
        drive = drive if isinstance(drive, dict) else {"u": drive}
        res = self.reservoir.step(state.reservoir, drive.get("u"), t)
        phi = self._features(res)
        y = phi @ state.weights
        if "target" not in drive:
            return RLSState(res, state.weights, state.p, y)
        weights, p = rls_update(state.weights, state.p, phi, y, drive["target"], self.forgetting,
                                drive.get("learn", 1.0))
        return RLSState(res, weights, p, y)

    def observe(self, state: RLSState) -> dict:
        """The a priori output ``y``."""
        return {"y": state.y}
