"""Online least-mean-squares readout as a model: the reservoir and its readout weights advance
together inside the scan (B. Widrow, M. E. Hoff, "Adaptive switching circuits", IRE WESCON 1960;
S. Haykin, *Adaptive Filter Theory*, ch. 5; docs/models/reservoirs.md, "Readout").

Per step, with features ``phi = [1; x(t)]`` of the state after consuming ``u(t)``:
``y = W^T phi`` (a priori), ``W <- W - eta phi (y - d)^T``: a stochastic-gradient step of size
``eta`` on ``|y - d|^2 / 2``, the bias (row 0) learnt at the same rate. It costs O(N) per output
and step against RLS's O(N^2), and converges when ``0 < eta < 2 / |phi|^2``; slower than RLS
for correlated reservoir states (its speed is set by the spread of their covariance's
eigenvalues). ReservoirPy's ``LMS`` node makes the same update.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ..core.model import Model
from ..errors import SpecError
from ..pytree import pytree_dataclass


def lms_update(weights: jax.Array, phi: jax.Array, y: jax.Array, target, learning_rate, learn=1.0) -> jax.Array:
    """``W - eta phi (y - d)^T``, or ``W`` when ``learn`` is not positive."""
    new = weights - learning_rate * jnp.outer(phi, y - jnp.reshape(target, y.shape))
    return jnp.where(jnp.asarray(learn, phi.dtype) > 0, new, weights)


class LMSState(NamedTuple):
    """The reservoir's state, the readout ``weights`` ``(1 + N, n_outputs)`` and the last (a
    priori) output ``y``."""

    reservoir: Any
    weights: jax.Array
    y: jax.Array


@pytree_dataclass(static=("n_outputs", "names"))
class LMS(Model):
    """A reservoir with an online LMS readout (module docstring). Ports: ``"u"`` (the
    reservoir's input), ``"target"`` (the desired output ``d(t)``; without it the readout only
    predicts), ``"learn"`` (1 to update at this step, 0 to hold, e.g. during a washout).

    ``learning_rate``: eta > 0 (a parameter: sweepable and differentiable); ``names``: the
    reservoir observables used as features (default ``("x",)``).
    """

    reservoir: Any = None
    n_outputs: int = 1
    learning_rate: jax.Array = 1e-3
    names: tuple = ("x",)

    VARIABLES: ClassVar[tuple] = ("reservoir", "weights", "y")
    PORTS: ClassVar[tuple] = ("u", "target", "learn")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"y": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def create(cls, reservoir, n_outputs: int = 1, *, learning_rate: float = 1e-3, names: tuple = ("x",)) -> "LMS":
        """LMS readout of ``reservoir`` (checked: ``learning_rate > 0``)."""
        if not float(learning_rate) > 0:
            raise SpecError(f"LMS.learning_rate: must be > 0, got {learning_rate!r}")
        dtype = jnp.result_type(*jax.tree_util.tree_leaves(reservoir.init(jax.random.PRNGKey(0))))
        return cls(reservoir, int(n_outputs), jnp.asarray(learning_rate, dtype), tuple(names))

    def _features(self, res_state) -> jax.Array:
        obs = self.reservoir.observe(res_state)
        x = jnp.concatenate([jnp.ravel(obs[n]) for n in self.names])
        return jnp.concatenate([jnp.ones(1, x.dtype), x])

    def init(self, key: jax.Array) -> LMSState:
        """Reservoir initial state, zero weights and output."""
        res = self.reservoir.init(key)
        phi = self._features(res)
        return LMSState(res, jnp.zeros((phi.shape[0], self.n_outputs), phi.dtype), jnp.zeros(self.n_outputs, phi.dtype))

    def step(self, state: LMSState, drive=None, t=None) -> LMSState:
        """Advance the reservoir on ``u(t)``, predict, and (given a target) update ``W``."""
        drive = drive if isinstance(drive, dict) else {"u": drive}
        res = self.reservoir.step(state.reservoir, drive.get("u"), t)
        phi = self._features(res)
        y = phi @ state.weights
        if "target" not in drive:
            return LMSState(res, state.weights, y)
        weights = lms_update(state.weights, phi, y, drive["target"], self.learning_rate, drive.get("learn", 1.0))
        return LMSState(res, weights, y)

    def observe(self, state: LMSState) -> dict:
        """The a priori output ``y``."""
        return {"y": state.y}
