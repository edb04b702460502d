"""Closed-loop generation: the trained readout's output fed back as the next input
(docs/models/reservoirs.md, "Readout"; H. Jaeger, H. Haas, Science 304:78, 2004)."""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.loop import initial_state
from ..core.model import model_dt
from ..errors import SpecError
from .harvest import _drive


@partial(jax.jit, static_argnames=("steps", "into", "names", "use_inputs", "feedback"))
def _closed_loop(model, state, warmup, weights, steps: int, into, names, use_inputs: bool, feedback):
    def features(st, u):
        obs = model.observe(st)
        x = jnp.concatenate([jnp.ravel(obs[n]) for n in names])
        return jnp.concatenate([u, x]) if use_inputs else x

    def advance(st, u):
        return model.step(st, {into: u} if into is not None else u, None)

    def teacher(st, u):
        return advance(st, u), None

    state = lax.scan(teacher, state, warmup[:-1])[0]
    u = warmup[-1]

    def free(carry, _):
        st, u = carry
        st = advance(st, u)
        y = weights[0] + features(st, u) @ weights[1:]
        return (st, jnp.reshape(feedback(y), u.shape)), y

    return lax.scan(free, (state, u), None, length=steps)[1]


def generate(reservoir, readout, warmup, steps: int, *, feedback: Callable | None = None, state=None, key=None,
             into: str | None = None, record: tuple[str, ...] | None = None) -> np.ndarray:
    """Free-running output of ``reservoir`` + a fitted one-step-ahead ``readout`` (a
    :class:`neurodyn.readout.Ridge` with a bias trained on ``harvest`` states to predict the
    next value of the input series): teacher-forced on ``warmup`` ``(T_w, n_inputs)`` (true data),
    then ``steps`` outputs, each fed back through ``feedback`` (a JAX function of the output
    returning the next input, default the identity; e.g. ``lambda y: jnp.tanh(y - 1)`` when the
    inputs were transformed so) as the next input. Row 0 predicts the sample after
    ``warmup[-1]``. ``into`` and ``record`` as in :func:`neurodyn.readout.harvest`.
    """
    if readout.weights is None or not readout.bias:
        raise SpecError("generate: needs a fitted readout with a bias (Ridge(bias=True).fit(...))")
    init = state if state is not None else reservoir.init(key if key is not None else jax.random.PRNGKey(0))
    init = initial_state(reservoir, init)
    available = reservoir.observe(init)
    names = tuple(record) if record is not None else tuple(available)
    dtype = jnp.result_type(float)
    u = np.asarray(warmup, float)
    u = u.reshape(len(u), -1)
    _drive(reservoir, u, model_dt(reservoir), into)
    out = _closed_loop(reservoir, init, jnp.asarray(u, dtype), jnp.asarray(readout.weights, dtype), int(steps), into,
                       names, readout.use_inputs, feedback if feedback is not None else _identity)
    return np.asarray(out, float)


def _identity(y):
    return y
