"""Addressing model parameters by dotted path, for sweeps and bifurcation diagrams.

A path walks dataclass fields, dict keys and tuple indices: ``"b"`` on a Chialvo population,
``"populations.neurons.k"`` or ``"projections.star.strength"`` on a Network. ``with_parameter``
returns a new model (models are immutable) with the leaf replaced; a scalar value is broadcast
to the leaf's shape, so a per-neuron parameter can be swept as one number. It is traceable:
inside ``jax.vmap`` the value can be a tracer, and the compiled code is the same for every value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

from ..errors import SpecError


def _children(node) -> dict:
    if dataclasses.is_dataclass(node):
        return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
    if isinstance(node, dict):
        return dict(node)
    if isinstance(node, (tuple, list)):
        return {str(i): v for i, v in enumerate(node)}
    return {}


def get_parameter(model, path: str) -> Any:
    """The value at ``path`` in ``model``."""
    node = model
    for i, part in enumerate(path.split(".")):
        kids = _children(node)
        if part not in kids:
            where = ".".join(path.split(".")[:i]) or type(model).__name__
            raise SpecError(f"unknown parameter path {path!r}: {where} has no {part!r} "
                            f"(available: {', '.join(kids) or 'nothing'})")
        node = kids[part]
    return node


def with_parameter(model, path: str, value) -> Any:
    """A copy of ``model`` with the leaf at ``path`` set to ``value`` (broadcast to its shape)."""
    head, _, rest = path.partition(".")
    kids = _children(model)
    if head not in kids:
        raise SpecError(f"unknown parameter path {path!r}: no {head!r} in {type(model).__name__} "
                        f"(available: {', '.join(kids) or 'nothing'})")
    child = kids[head]
    if rest:
        new_child = with_parameter(child, rest, value)
    else:
        if not hasattr(child, "shape"):
            raise SpecError(f"parameter {path!r} is structural ({type(child).__name__}), not a number")
        new_child = jnp.broadcast_to(jnp.asarray(value, child.dtype), child.shape)
    if dataclasses.is_dataclass(model):
        return dataclasses.replace(model, **{head: new_child})
    if isinstance(model, dict):
        return {**model, head: new_child}
    items = list(model)
    items[int(head)] = new_child
    return type(model)(items)
