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


def _resolve(node, path: str) -> str:
    """``path`` with its first name expanded when ``node`` declares it an alias
    (``PARAMETER_ALIASES = {"weight": "synapses.weights"}``: the spec's name of a leaf the
    object stores deeper)."""
    head, _, rest = path.partition(".")
    alias = getattr(type(node), "PARAMETER_ALIASES", {}).get(head)
    return path if alias is None else f"{alias}.{rest}" if rest else alias


def get_parameter(model, path: str) -> Any:
    """The value at ``path`` in ``model``."""
    node, done, remaining = model, [], path
    while remaining:
        part, _, remaining = _resolve(node, remaining).partition(".")
        kids = _children(node)
        if part not in kids:
            where = ".".join(done) or type(model).__name__
            raise SpecError(f"unknown parameter path {path!r}: {where} has no {part!r} "
                            f"(available: {', '.join(kids) or 'nothing'})")
        node = kids[part]
        done.append(part)
    return node


def with_parameter(model, path: str, value) -> Any:
    """A copy of ``model`` with the leaf at ``path`` set to ``value`` (broadcast to its shape)."""
    head, _, rest = _resolve(model, path).partition(".")
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
