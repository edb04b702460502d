"""Immutable dataclasses registered as JAX pytrees, and the one filter that splits a pytree into
its trainable leaves and the rest (the base of every model, graph, projection and state).

The filter follows Equinox's ``partition``/``combine``: a leaf is *trainable* when it is an
inexact (floating or complex) array and the dataclass field holding it is not declared frozen
(``frozen=("field", ...)`` in :func:`pytree_dataclass`). Integer index arrays, PRNG keys,
booleans and frozen fields are *static* for differentiation. Gradients, sweeps and diagnostics
all use this one filter.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp


def pytree_dataclass(cls=None, *, static: tuple[str, ...] = (), frozen: tuple[str, ...] = ()):
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields listed in ``static`` become pytree metadata (hashable, compile-time constants such as
    sizes); all other fields are leaves (parameters). Fields listed in ``frozen`` stay leaves
    (they can still be vmapped over) but are never trainable: :func:`partition` puts them in
    the static part, so ``neurodyn.grad`` does not differentiate them.
    """

    def wrap(c):
        c = dataclasses.dataclass(frozen=True)(c)
        names = [f.name for f in dataclasses.fields(c)]
        unknown = (set(static) | set(frozen)) - set(names)
        if unknown:
            raise TypeError(f"{c.__name__}: fields {sorted(unknown)} named in static/frozen are not fields")
        inherited = frozenset(getattr(c, "__frozen_fields__", frozenset()))
        c.__frozen_fields__ = inherited | frozenset(frozen)
        c.__static_fields__ = frozenset(static)
        data = tuple(n for n in names if n not in static)
        meta = tuple(n for n in names if n in static)
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in data)

        def flatten_with_keys(node):
            return [(k, getattr(node, n)) for k, n in zip(keys, data)], tuple(getattr(node, n) for n in meta)

        def flatten(node):
            return [getattr(node, n) for n in data], tuple(getattr(node, n) for n in meta)

        def unflatten(aux, children):
            # rebuilt without __init__ (Equinox's habit): validation and conversion ran once, on
            # the user's values; JAX's leaves (tracers, None, placeholders) are stored as they are
            new = object.__new__(c)
            for n, v in zip(data, children):
                object.__setattr__(new, n, v)
            for n, v in zip(meta, aux):
                object.__setattr__(new, n, v)
            return new

        jax.tree_util.register_pytree_with_keys(c, flatten_with_keys, unflatten, flatten)
        return c

    return wrap if cls is None else wrap(cls)


def is_inexact(leaf) -> bool:
    """Whether ``leaf`` is a floating or complex array or number (PRNG keys are not)."""
    try:
        dtype = jnp.result_type(leaf)
    except TypeError:
        return False
    return bool(jnp.issubdtype(dtype, jnp.inexact))


def trainable_mask(tree) -> Any:
    """A pytree like ``tree`` with one bool per leaf: inexact and not in a frozen field."""

    def walk(node, allowed: bool):
        if hasattr(type(node), "__static_fields__") and not isinstance(node, type):
            frozen, static = type(node).__frozen_fields__, type(node).__static_fields__
            children = {f.name: getattr(node, f.name) if f.name in static
                        else walk(getattr(node, f.name), allowed and f.name not in frozen)
                        for f in dataclasses.fields(node)}
            return _rebuild(node, children)
        if isinstance(node, dict):
            return {k: walk(v, allowed) for k, v in node.items()}
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*(walk(v, allowed) for v in node))
        if isinstance(node, (tuple, list)):
            return type(node)(walk(v, allowed) for v in node)
        leaves, treedef = jax.tree_util.tree_flatten(node)
        if treedef.num_leaves == 1 and treedef.num_nodes == 1:
            return bool(allowed and is_inexact(node))
        return jax.tree_util.tree_unflatten(treedef, [bool(allowed and is_inexact(x)) for x in leaves])

    return walk(tree, True)


def _rebuild(node, children: dict):
    """``node`` with its fields replaced, bypassing ``__init__`` checks (for masks and partitions)."""
    new = object.__new__(type(node))
    for name, value in children.items():
        object.__setattr__(new, name, value)
    return new


def partition(tree, filter_spec: Callable[[Any], Any] | Any = None):
    """Split ``tree`` into ``(trainable, static)``: two pytrees of the same structure, each
    holding ``None`` where the other holds the leaf. ``filter_spec`` is a mask pytree (default
    :func:`trainable_mask`) or a function ``leaf -> bool``."""
    if filter_spec is None:
        mask = trainable_mask(tree)
    elif callable(filter_spec):
        mask = jax.tree_util.tree_map(lambda x: bool(filter_spec(x)), tree)
    else:
        mask = filter_spec
    take = jax.tree_util.tree_map(lambda m, x: x if m else None, mask, tree)
    rest = jax.tree_util.tree_map(lambda m, x: None if m else x, mask, tree)
    return take, rest


def combine(*trees):
    """Merge partitioned pytrees back into one (the first non-``None`` leaf wins)."""

    def pick(*leaves):
        for leaf in leaves:
            if leaf is not None:
                return leaf
        return None

    return jax.tree_util.tree_map(pick, *trees, is_leaf=lambda x: x is None)
