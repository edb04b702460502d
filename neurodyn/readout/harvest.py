"""Reservoir states aligned with their targets: row ``t`` of :func:`harvest` is the state AFTER
consuming ``u(t)``, the state a readout maps to ``y(t)`` (``simulate``/``run`` record the state
before each step, hence one step apart)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core.loop import init_state, iterate, prepare_drive
from ..core.model import model_dt, surface
from ..errors import SpecError
from ..pytree import is_inexact


def feature_trajectory(model, state, drive, dt, length: int, names: tuple) -> jax.Array:
    """``(length, F)``: the observables ``names``, flattened and concatenated, of the state after
    each of ``length`` steps from ``state`` under ``drive`` (pure; usable inside jit and vmap)."""

    def features(new, i):
        obs = model.observe(new)
        return jnp.concatenate([jnp.ravel(obs[n]) for n in names])

    return iterate(model, state, drive, dt, jnp.asarray(0, jnp.int32), length, features)[1]


@partial(jax.jit, static_argnames=("length", "into", "names"))
def _states(model, state, inputs, dt, length: int, into, names):
    """:func:`feature_trajectory` with ``inputs`` sent to the port or population ``into`` (a name,
    or a tuple of names all given the same inputs; ``None``: ``inputs`` is the drive itself)."""
    if into is not None:
        inputs = {port: inputs for port in ((into,) if isinstance(into, str) else into)}
    return feature_trajectory(model, state, inputs, dt, length, names)


def harvest(reservoir, inputs, *, state=None, key=None, into: str | None = None,
            record: tuple[str, ...] | None = None, teacher=None, feedback_port: str = "y"):
    """States of ``reservoir`` driven by ``inputs`` through its input port.

    ``inputs``: an array ``(T, n_inputs)`` (or ``(T,)``), giving ``(T, N)`` states; or a list of
    such arrays of any lengths, giving a list of state arrays, each sequence started from
    ``state`` (default ``reservoir.init(key)``, zero for an ESN): the state is reset between
    sequences. The list is padded to its longest sequence and run as one vmapped scan; the
    padding is cut away. The features of a state are its observables ``record`` (default: every
    floating observable, e.g. ``x`` of an ESN, ``layer1.x, layer2.x, ...`` of a deep reservoir)
    concatenated in that order; ``N`` is their total size. ``into``: the drive key the inputs go
    to (a Network's input population, e.g. ``"layer1"`` of
    :func:`neurodyn.models.residual.deep_res_esn`); default the model's input port.

    ``teacher``: teacher forcing for a reservoir with output feedback (an ESN
    :meth:`~neurodyn.models.ESN.with_feedback`): the desired outputs ``(T, n_outputs)``; step
    ``t`` receives ``teacher[t - 1]`` (zero at ``t = 0``) on ``feedback_port``, so row ``t`` is
    the state a readout maps to ``teacher[t]`` (one array of inputs only).
    """
    init = init_state(reservoir, state, key)
    available = reservoir.observe(init)
    names = tuple(record) if record is not None else tuple(n for n, v in available.items() if is_inexact(v))
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise SpecError(f"harvest: record {list(names)} must name observables of the model "
                        f"(available: {', '.join(available)})")
    dtype = jnp.result_type(float)
    dt = model_dt(reservoir)
    if isinstance(inputs, (list, tuple)):
        seqs = [np.asarray(u, float).reshape(len(u), -1) for u in inputs]
        length = max(len(u) for u in seqs)
        padded = np.zeros((len(seqs), length, seqs[0].shape[1]))
        for i, u in enumerate(seqs):
            padded[i, :len(u)] = u
        _drive(reservoir, padded[0], dt, into)
        if _whole_sequence(reservoir, names, into):
            out = np.asarray(jax.vmap(_input_states, in_axes=(None, None, 0))(reservoir, init,
                                                                              jnp.asarray(padded, dtype)), float)
        else:
            run_one = jax.vmap(_states, in_axes=(None, None, 0, None, None, None, None))
            out = np.asarray(run_one(reservoir, init, jnp.asarray(padded, dtype), dt, length, into, names), float)
        return [out[i, :len(u)] for i, u in enumerate(seqs)]
    u = np.asarray(inputs, float)
    u = u.reshape(len(u), -1)
    if teacher is not None:
        fed = np.asarray(teacher, float).reshape(len(teacher), -1)
        if len(fed) != len(u):
            raise SpecError(f"harvest: teacher has {len(fed)} rows, the inputs {len(u)}: give one output per step")
        previous = np.vstack([np.zeros((1, fed.shape[1])), fed[:-1]])
        port = into if into is not None else surface(reservoir).input_port
        drive = {port: jnp.asarray(u, dtype), feedback_port: jnp.asarray(previous, dtype)}
        prepare_drive(reservoir, drive, len(u), dt, "harvest inputs and teacher")
        return np.asarray(_states(reservoir, init, drive, dt, len(u), None, names), float)
    _drive(reservoir, u, dt, into)
    if _whole_sequence(reservoir, names, into):
        return np.asarray(_input_states(reservoir, init, jnp.asarray(u, dtype)), float)
    return np.asarray(_states(reservoir, init, jnp.asarray(u, dtype), dt, len(u), into, names), float)


def _whole_sequence(reservoir, names, into) -> bool:
    """Whether the states are :meth:`ESN.input_states` (the whole sequence in one native call): an
    ESN itself (not a subclass, whose step may differ) with sparse W and no feedback, recording
    ``x``, driven on ``"u"``."""
    from ..models.reservoir import ESN
    from ..ops.sparse_matvec import SparseMatrix

    return (type(reservoir) is ESN and isinstance(reservoir.w, SparseMatrix) and reservoir.w_feedback is None
            and names == ("x",) and into in (None, "u"))


@jax.jit
def _input_states(reservoir, state, inputs):
    return reservoir.input_states(state, inputs)


def _drive(reservoir, u, dt, into):
    """Check that ``u`` fits the model's input (a SpecError naming the port otherwise)."""
    u = jnp.asarray(u, jnp.result_type(float))
    prepare_drive(reservoir, {into: u} if into is not None else u, len(u), dt, "harvest inputs")
