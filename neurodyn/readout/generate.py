"""Closed-loop generation: the trained readout's output fed back as the next input
(docs/models/reservoirs.md, "Readout"; H. Jaeger, H. Haas, Science 304:78, 2004)."""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.loop import init_state, prepare_drive
from ..core.model import model_dt, surface
from ..errors import SpecError
from .harvest import _drive


@partial(jax.jit, static_argnames=("steps", "into", "names", "use_inputs", "feedback", "increment"))
def _closed_loop(model, state, warmup, weights, steps: int, into, names, use_inputs: bool, feedback,
                 increment: bool = False):
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
        if increment:
            y = u + jnp.reshape(y, u.shape)
        return (st, jnp.reshape(feedback(y), u.shape)), y

    return lax.scan(free, (state, u), None, length=steps)[1]


@partial(jax.jit, static_argnames=("port", "feedback_port", "names", "use_inputs"))
def _closed_loop_output(model, state, inputs, warmup, weights, port, feedback_port, names, use_inputs: bool):
    """Teacher-forced on ``warmup`` (outputs fed back on ``feedback_port``), then free running
    on the readout's own outputs; ``inputs`` cover both phases."""
    def features(st, u):
        obs = model.observe(st)
        x = jnp.concatenate([jnp.ravel(obs[n]) for n in names])
        return jnp.concatenate([u, x]) if use_inputs else x

    def teacher(st, pair):
        u, y_prev = pair
        return model.step(st, {port: u, feedback_port: y_prev}, None), None

    n_warm = warmup.shape[0]
    previous = jnp.concatenate([jnp.zeros_like(warmup[:1]), warmup[:-1]])
    state = lax.scan(teacher, state, (inputs[:n_warm], previous))[0]

    def free(carry, u):
        st, y = carry
        st = model.step(st, {port: u, feedback_port: y}, None)
        y = weights[0] + features(st, u) @ weights[1:]
        return (st, y), y

    return lax.scan(free, (state, warmup[-1]), inputs[n_warm:])[1]


def generate(reservoir, readout, warmup, steps: int, *, feedback: Callable | None = None, state=None, key=None,
             into: str | None = None, record: tuple[str, ...] | None = None, feedback_port: str | None = None,
             inputs=None, increment: bool = False) -> np.ndarray:
    """Free-running output of ``reservoir`` + a fitted one-step-ahead ``readout`` (a
    :class:`neurodyn.readout.Ridge`, with or without a bias, trained on ``harvest`` states to predict the
    next value of the input series): teacher-forced on ``warmup`` ``(T_w, n_inputs)`` (true data),
    then ``steps`` outputs, each fed back through ``feedback`` (a JAX function of the output
    returning the next input, default the identity; e.g. ``lambda y: jnp.tanh(y - 1)`` when the
    inputs were transformed so) as the next input. Row 0 predicts the sample after
    ``warmup[-1]``. ``into`` and ``record`` as in :func:`neurodyn.readout.harvest`.
    ``increment=True``: the readout was trained on the change of the series, ``u(n+1) - u(n)``
    (as NVAR forecasts are, Gauthier et al. 2021), so each output is ``u(n) + y`` (then fed
    back through ``feedback``).

    With ``feedback_port`` (a reservoir with output feedback, readout trained on
    ``harvest(..., teacher=...)`` states): ``warmup`` holds the teacher's OUTPUTS
    ``(T_w, n_outputs)``, fed back on that port during the warm-up, after which the readout's own
    outputs are; the reservoir's input is ``inputs`` ``(T_w + steps, n_inputs)`` (default zero,
    a pure pattern generator). Row 0 is the output after the warm-up.
    """
    if readout.weights is None:
        raise SpecError("generate: needs a fitted readout (Ridge(...).fit(...))")
    init = init_state(reservoir, state, key)
    available = reservoir.observe(init)
    names = tuple(record) if record is not None else tuple(available)
    dtype = jnp.result_type(float)
    if feedback_port is not None:
        if increment:
            raise SpecError("generate: increment=True predicts the next input, not a fed-back output; "
                            "drop feedback_port or increment")
        return _generate_with_output_feedback(reservoir, readout, init, warmup, int(steps), feedback_port, inputs,
                                              into, names, dtype)
    u = np.asarray(warmup, float)
    u = u.reshape(len(u), -1)
    _drive(reservoir, u, model_dt(reservoir), into)
    weights = jnp.asarray(_with_intercept(readout), dtype)
    out = _closed_loop(reservoir, init, jnp.asarray(u, dtype), weights, int(steps), into,
                       names, readout.use_inputs, feedback if feedback is not None else _identity, bool(increment))
    return np.asarray(out, float)


def _with_intercept(readout) -> np.ndarray:
    """The readout's weights with the intercept as row 0 (a zero row for a readout without bias)."""
    w = np.asarray(readout.weights, float)
    return w if readout.bias else np.concatenate([np.zeros((1, w.shape[1])), w])


def _identity(y):
    return y


def _generate_with_output_feedback(reservoir, readout, init, warmup, steps, feedback_port, inputs, into, names,
                                   dtype) -> np.ndarray:
    y = np.asarray(warmup, float)
    y = y.reshape(len(y), -1)
    port = into if into is not None else surface(reservoir).input_port
    if inputs is None:
        inputs = np.zeros((len(y) + steps, int(getattr(reservoir, "n_inputs", 1) or 1)))
    u = np.asarray(inputs, float)
    u = u.reshape(len(u), -1)
    if len(u) != len(y) + steps:
        raise SpecError(f"generate: inputs need {len(y) + steps} rows (warm-up {len(y)} + {steps} steps), got {len(u)}")
    drive = {port: jnp.asarray(u, dtype), feedback_port: jnp.asarray(np.vstack([y, np.zeros((steps, y.shape[1]))]), dtype)}
    prepare_drive(reservoir, drive, len(u), model_dt(reservoir), "generate inputs and warm-up outputs")
    out = _closed_loop_output(reservoir, init, jnp.asarray(u, dtype), jnp.asarray(y, dtype),
                              jnp.asarray(_with_intercept(readout), dtype), port, feedback_port, names,
                              readout.use_inputs)
    return np.asarray(out, float)
