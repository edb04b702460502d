"""The one step loop and the one drive convention shared by ``simulate``, ``run``, the
Lyapunov tangent loop and sweeps.

A drive is ``None``, a JAX-traceable function of model time ``t`` returning the input, or a
pytree of arrays whose leading axis is the absolute step index (row ``i`` is the input of step
``i``, counted from the start of the run, transient included). :func:`drive_at` reads it,
:func:`transition` takes one model step at absolute step ``i`` (model time ``t = i dt``), and
:func:`iterate` scans a number of steps; every loop in neurodyn is built from these.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from ..errors import SpecError

tmap = jax.tree_util.tree_map


def initial_state(model, state):
    """``state`` in the form ``model.step`` returns (e.g. a Network's plain dict of population
    states becomes its NetworkState), so a scan's carry keeps one type."""
    return model.as_state(state) if hasattr(model, "as_state") else state


def check_drive_length(drive, steps: int, what: str = "drive") -> None:
    """A SpecError if an array drive has fewer than ``steps`` rows."""
    if drive is None or callable(drive):
        return
    short = [jnp.shape(a)[0] for a in jax.tree_util.tree_leaves(drive) if jnp.ndim(a) == 0 or jnp.shape(a)[0] < steps]
    if short:
        raise SpecError(f"{what} has {min(short)} time steps but the run needs {steps}")


def prepare_drive(model, drive, steps: int, dt, what: str = "drive"):
    """Validate a drive before any compute (enough rows for ``steps``, only ports the model
    declares) and put its arrays on the device."""
    from .model import check_drive

    check_drive_length(drive, steps, what)
    drive = as_device_drive(drive)
    if drive is not None and not callable(drive):
        check_drive(model, drive_at(drive, 0, dt), what)
    return drive


def as_device_drive(drive):
    """``drive`` with array leaves as JAX arrays (functions and ``None`` unchanged)."""
    if drive is None or callable(drive):
        return drive
    return tmap(jnp.asarray, drive)


def drive_at(drive, i, dt):
    """The input of absolute step ``i``: ``None``, ``drive(i * dt)`` or row ``i`` of the arrays."""
    if drive is None:
        return None
    if callable(drive):
        return drive(i * dt)
    return tmap(lambda a: lax.dynamic_index_in_dim(a, i, keepdims=False), drive)


def transition(model, state, drive, i, dt):
    """One model step at absolute step ``i`` (model time ``i * dt``)."""
    return model.step(state, drive_at(drive, i, dt), i * dt)


def iterate(model, state, drive, dt, start, length: int, output: Callable[[Any, Any], Any] | None = None):
    """Scan ``length`` steps from absolute step ``start``; returns ``(final_state, outputs)``
    where ``outputs`` stacks ``output(new_state, i)`` of every step (``None`` if no output)."""

    def body(st, i):
        new = transition(model, st, drive, i, dt)
        return new, (output(new, i) if output is not None else None)

    return lax.scan(body, state, start + jnp.arange(length, dtype=jnp.int32))
