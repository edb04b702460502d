"""Tangent dynamics of one model step: the floating part of a state as one vector, and
Jacobian-vector products of a step by forward-mode autodiff (no finite differences).

Used by the Lyapunov exponents, the sweeps' in-scan ``max_lyapunov`` measure, fixed points
and the echo-state diagnostics. Integer leaves of a state (step counters, PRNG keys) are carried
along unchanged: the split is :func:`neurodyn.pytree.partition` with the inexact-leaf filter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..pytree import combine, is_inexact, partition
from .loop import drive_at


def flatten_state(state):
    """``(vector, unflatten)``: the inexact leaves of ``state`` concatenated, and
    ``unflatten(vector, like)`` which puts a vector back into a state shaped like ``like``
    (taking the non-float leaves from ``like``)."""
    dynamic, _ = partition(state, is_inexact)
    leaves = jax.tree_util.tree_leaves(dynamic)
    vec = jnp.concatenate([jnp.ravel(x) for x in leaves]) if leaves else jnp.zeros(0)

    def unflatten(v, like):
        dyn, rest = partition(like, is_inexact)
        parts, tree = jax.tree_util.tree_flatten(dyn)
        out, offset = [], 0
        for leaf in parts:
            size = int(jnp.size(leaf))
            out.append(jnp.reshape(v[offset:offset + size], jnp.shape(leaf)))
            offset += size
        return combine(jax.tree_util.tree_unflatten(tree, out), rest)

    return vec, unflatten


def tangent_step(model, state, q, drive, i, dt):
    """New state and ``J q`` for the columns of ``q`` (``J`` the Jacobian of the step at
    absolute step ``i``): one forward-mode pass for a single vector, one linearisation shared
    by the k tangent products otherwise (the step is evaluated once)."""
    vec, unflatten = flatten_state(state)
    d, t = drive_at(drive, i, dt), i * dt

    def f(v):
        return model.step(unflatten(v, state), d, t)

    if q.shape[1] == 1:
        new_state, tangent = jax.jvp(f, (vec,), (q[:, 0],))
        return new_state, flatten_state(tangent)[0][:, None]
    new_state, jvp = jax.linearize(f, vec)
    return new_state, jax.vmap(lambda c: flatten_state(jvp(c))[0], in_axes=1, out_axes=1)(q)
