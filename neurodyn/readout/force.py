"""FORCE learning as a model: a reservoir whose output is fed back into it, with the readout
weights trained online by recursive least squares inside the scan (D. Sussillo, L. F. Abbott,
"Generating coherent patterns of activity from chaotic neural networks", Neuron 63:544, 2009;
docs/models/reservoirs.md, "Readout").

Per step, with ``y(t-1)`` the previous output:

``x(t) = reservoir step on u(t) with W_fb y(t-1) added to its pre-activation`` (port ``"x"``),
``phi = [1; x(t)]``, ``y(t) = W^T phi`` (the a-priori output, the one fed back),
``k = P phi / (lambda + phi^T P phi)``, ``P <- (P - k phi^T P) / lambda``, ``W <- W - k (y(t) - d(t))^T``.

During learning the network runs closed-loop (its own output is fed back: FORCE keeps the
error small from the first steps, so the fed-back signal stays close to the target); after
learning it keeps generating the pattern on its own. Giving port ``"feedback"`` replaces the
fed-back output by that signal instead (teacher forcing, the ESN way of training feedback).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core.model import Model, surface
from ..errors import SpecError
from ..pytree import pytree_dataclass
from .rls import rls_update


class FORCEState(NamedTuple):
    """The reservoir's state, the readout ``weights`` ``(1 + N, n_outputs)``, the inverse
    correlation estimate ``p`` and the last output ``y`` (fed back at the next step)."""

    reservoir: Any
    weights: jax.Array
    p: jax.Array
    y: jax.Array


@pytree_dataclass(static=("n_outputs", "names"))
class FORCE(Model):
    """A reservoir with output feedback ``W_fb`` and an RLS readout trained by FORCE (module
    docstring). The reservoir must take an additive pre-activation input on port ``"x"``
    (:class:`~neurodyn.models.ESN`, :class:`~neurodyn.models.ResESN`).

    Ports: ``"u"`` (the reservoir's input, optional), ``"target"`` (the desired output; without
    it the weights are held and the network runs free), ``"learn"`` (0 holds the weights at this
    step), ``"feedback"`` (teacher forcing: fed back instead of the output). Fields:
    ``w_feedback`` ``(N, n_outputs)``, ``delta`` (``P(0) = I / delta``, Sussillo & Abbott's
    alpha), ``forgetting`` lambda in (0, 1], ``names`` the reservoir observables used as features.
    """

    reservoir: Any = None
    w_feedback: jax.Array = None
    n_outputs: int = 1
    delta: jax.Array = 1.0
    forgetting: jax.Array = 1.0
    names: tuple = ("x",)

    VARIABLES: ClassVar[tuple] = ("reservoir", "weights", "p", "y")
    PORTS: ClassVar[tuple] = ("u", "target", "learn", "feedback")
    INPUT_PORT: ClassVar[str] = "u"
    units: ClassVar[dict] = {"y": "1"}
    time_unit: ClassVar[str] = "step"

    @classmethod
    def create(cls, reservoir, n_outputs: int = 1, *, feedback_scaling: float = 1.0, delta: float = 1.0,
               forgetting: float = 1.0, names: tuple = ("x",), seed: int = 0) -> "FORCE":
        """FORCE on ``reservoir`` with feedback weights U(-feedback_scaling, feedback_scaling)."""
        ports = surface(reservoir).ports
        if ports is not None and "x" not in ports:
            raise SpecError(f"FORCE: the reservoir {type(reservoir).__name__} has no port 'x' for the fed-back "
                            f"output (ports: {', '.join(ports)})")
        if not 0 < float(forgetting) <= 1:
            raise SpecError(f"FORCE.forgetting: must be in (0, 1], got {forgetting!r}")
        if not float(delta) > 0:
            raise SpecError(f"FORCE.delta: must be > 0, got {delta!r}")
        state = reservoir.init(jax.random.PRNGKey(0))
        size = int(np.size(reservoir.observe(state)["x"]))
        dtype = jnp.result_type(*(x for x in jax.tree_util.tree_leaves(state)))
        w_fb = np.random.default_rng(seed).uniform(-feedback_scaling, feedback_scaling, (size, n_outputs))
        return cls(reservoir, jnp.asarray(w_fb, dtype), int(n_outputs), jnp.asarray(delta, dtype),
                   jnp.asarray(forgetting, dtype), tuple(names))

    def _features(self, res_state) -> jax.Array:
        obs = self.reservoir.observe(res_state)
        x = jnp.concatenate([jnp.ravel(obs[n]) for n in self.names])
        return jnp.concatenate([jnp.ones(1, x.dtype), x])

    def init(self, key: jax.Array) -> FORCEState:
        """Reservoir initial state, zero weights and output, ``P = I / delta``."""
        res = self.reservoir.init(key)
        phi = self._features(res)
        return FORCEState(res, jnp.zeros((phi.shape[0], self.n_outputs), phi.dtype),
                          jnp.eye(phi.shape[0], dtype=phi.dtype) / self.delta, jnp.zeros(self.n_outputs, phi.dtype))

    def step(self, state: FORCEState, drive=None, t=None) -> FORCEState:
        """Feed back, advance the reservoir, read out, and (given a target) update ``W`` and ``P``."""
        drive = drive if isinstance(drive, dict) else ({} if drive is None else {"u": drive})
        fed = jnp.reshape(drive["feedback"], state.y.shape) if "feedback" in drive else state.y
        res_drive = {"x": self.w_feedback @ fed}
        if drive.get("u") is not None:
            res_drive["u"] = drive["u"]
        res = self.reservoir.step(state.reservoir, res_drive, t)
        phi = self._features(res)
        y = phi @ state.weights
        if "target" not in drive:
            return FORCEState(res, state.weights, state.p, y)
        weights, p = rls_update(state.weights, state.p, phi, y, drive["target"], self.forgetting,
                                drive.get("learn", 1.0))
        return FORCEState(res, weights, p, y)

    def observe(self, state: FORCEState) -> dict:
        """The output ``y``."""
        return {"y": state.y}
