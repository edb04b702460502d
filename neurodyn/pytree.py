"""Immutable dataclasses registered as JAX pytrees (the base of every model, graph and coupling)."""

from __future__ import annotations

import dataclasses

import jax


def pytree_dataclass(cls=None, *, static: tuple[str, ...] = ()):
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields listed in ``static`` become pytree metadata (hashable, compile-time constants such as
    sizes); all other fields are leaves (parameters).
    """

    def wrap(c):
        c = dataclasses.dataclass(frozen=True)(c)
        names = [f.name for f in dataclasses.fields(c)]
        unknown = set(static) - set(names)
        if unknown:
            raise TypeError(f"{c.__name__}: static fields {sorted(unknown)} are not fields")
        return jax.tree_util.register_dataclass(
            c, data_fields=[n for n in names if n not in static], meta_fields=list(static)
        )

    return wrap if cls is None else wrap(cls)
