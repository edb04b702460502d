"""Gradients with respect to the trainable leaves of a model (Equinox's ``filter_grad``).

``jax.grad`` refuses integer leaves (a graph's index arrays, PRNG keys); :func:`grad`
differentiates only what :func:`neurodyn.pytree.partition` calls trainable (inexact leaves
outside frozen fields) and returns a pytree shaped like the first argument with ``None`` in
place of every static leaf.
"""

from __future__ import annotations

from typing import Callable

import jax

from ..pytree import combine, partition


def value_and_grad(fn: Callable, *, has_aux: bool = False) -> Callable:
    """``(value, gradient)`` of ``fn(model, *args)`` with respect to the trainable leaves of ``model``."""

    def wrapped(model, *args, **kwargs):
        trainable, static = partition(model)

        def inner(t):
            return fn(combine(t, static), *args, **kwargs)

        return jax.value_and_grad(inner, has_aux=has_aux)(trainable)

    return wrapped


def grad(fn: Callable, *, has_aux: bool = False) -> Callable:
    """The gradient of ``fn(model, *args)`` with respect to the trainable leaves of ``model``."""
    vg = value_and_grad(fn, has_aux=has_aux)

    def wrapped(model, *args, **kwargs):
        value, g = vg(model, *args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped
