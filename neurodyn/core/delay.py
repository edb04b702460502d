"""Ring buffers of delayed values, held in a projection's state.

A buffer of length ``L = max_delay + 1`` stores the last ``L`` presynaptic values; at step ``s``
the value is written into slot ``s mod L`` and a delay of ``d`` steps reads slot
``(s - d) mod L``, i.e. the value written ``d`` steps ago (``d = 0`` is the value just written).
Slots not yet written hold zeros (nothing arrives before the run starts). This is the delay line
of BrainPy's ``LengthDelay`` without its global context: the buffer is an ordinary array in the
state, so runs are pure and vmappable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def delay_buffer(max_delay: int, like: jax.Array) -> jax.Array:
    """A zero buffer holding ``max_delay + 1`` values shaped like ``like``."""
    return jnp.zeros((int(max_delay) + 1,) + jnp.shape(like), jnp.result_type(like))


def delay_push(buffer: jax.Array, value: jax.Array, step) -> jax.Array:
    """``buffer`` with ``value`` written at step ``step`` (slot ``step mod L``)."""
    return buffer.at[step % buffer.shape[0]].set(value.astype(buffer.dtype))


def delay_read(buffer: jax.Array, step, delay) -> jax.Array:
    """The value written ``delay`` steps before ``step`` (one delay for all nodes)."""
    return buffer[(step - delay) % buffer.shape[0]]


def delay_read_edges(buffer: jax.Array, step, delays: jax.Array, sources: jax.Array) -> jax.Array:
    """Per-synapse delays: ``out[k] = value of node sources[k] written delays[k] steps ago``."""
    return buffer[(step - delays) % buffer.shape[0], sources]
