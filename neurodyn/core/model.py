"""The model protocol shared by every neurodyn model, network and coupling.

A model is an immutable dataclass registered as a JAX pytree: array fields are parameters
(traced leaves, so they can be vmapped and differentiated), fields named in ``static`` are
shape-like metadata (a change recompiles). A model provides

* ``init(key) -> state``: a NamedTuple of arrays,
* ``step(state, drive, t) -> state``: one map iteration or one integrator step,
* ``observe(state) -> dict[str, Array]``: the named quantities that can be recorded.

``drive`` is an external input: ``None``, one array (added to the model's ``input_variable``)
or a dict mapping variable names to additive inputs.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, runtime_checkable

import jax
import jax.numpy as jnp


Array = jax.Array
State = Any


@runtime_checkable
class Model(Protocol):
    """What :func:`neurodyn.simulate` and the diagnostics need of a model."""

    def init(self, key: Array) -> State: ...

    def step(self, state: State, drive: Any, t: Array) -> State: ...

    def observe(self, state: State) -> dict[str, Array]: ...


def float_dtype(dtype=None):
    """The floating dtype to build parameters with: ``dtype`` or JAX's default float."""
    return jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)


def per_node(value, n: int, name: str, dtype=None) -> Array:
    """Broadcast a scalar or a length-``n`` sequence to a float array of shape ``(n,)``."""
    from ..errors import SpecError

    arr = jnp.asarray(value, dtype=float_dtype(dtype))
    if arr.ndim == 0:
        return jnp.full((n,), arr)
    if arr.shape != (n,):
        raise SpecError(f"{name}: expected a number or {n} values (one per neuron), got shape {arr.shape}")
    return arr


def drive_term(drive: Any, variable: str, input_variable: str):
    """The additive input for ``variable`` carried by ``drive`` (0 when there is none)."""
    if drive is None:
        return 0.0
    if isinstance(drive, Mapping):
        return drive.get(variable, 0.0)
    return drive if variable == input_variable else 0.0
