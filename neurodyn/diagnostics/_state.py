"""Flattening the floating-point part of a model state into one vector (PRNG keys and other
integer leaves are carried along unchanged), for tangent-space and Newton computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _is_float(leaf) -> bool:
    return jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)


def flatten_state(state):
    """``(vector, unflatten)``: the inexact leaves of ``state`` concatenated, and
    ``unflatten(vector, like)`` which puts a vector back into a state shaped like ``like``
    (taking the non-float leaves from ``like``)."""
    leaves, tree = jax.tree_util.tree_flatten(state)
    float_leaves = [l for l in leaves if _is_float(l)]
    vec = jnp.concatenate([jnp.ravel(l) for l in float_leaves]) if float_leaves else jnp.zeros(0)

    def unflatten(v, like):
        out, offset = [], 0
        for leaf in jax.tree_util.tree_leaves(like):
            if _is_float(leaf):
                size = int(np.prod(jnp.shape(leaf)))
                out.append(jnp.reshape(v[offset:offset + size], jnp.shape(leaf)))
                offset += size
            else:
                out.append(leaf)
        return jax.tree_util.tree_unflatten(tree, out)

    return vec, unflatten


def float_vector(state) -> jax.Array:
    """The inexact leaves of ``state`` as one vector."""
    return flatten_state(state)[0]
