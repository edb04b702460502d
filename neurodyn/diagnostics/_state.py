"""The floating part of a model state as one vector (see :mod:`neurodyn.core.tangent`)."""

from __future__ import annotations

import jax

from ..core.tangent import flatten_state

__all__ = ["flatten_state", "float_vector"]


def float_vector(state) -> jax.Array:
    """The inexact leaves of ``state`` as one vector."""
    return flatten_state(state)[0]
