"""Spike encoders for static inputs (docs/models/ultralif.md, "Encoding"): rate and latency codes.

Both take values ``x`` of shape ``(B, n)`` (or ``(n,)``) and return float spike trains of shape
``(T, B, n)`` with time first, the layout :meth:`neurodyn.models.snn.SpikingMLP.apply` scans
over. They are pure JAX functions (jit- and vmap-able; the rate code is seeded by its key).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import SpecError, check_int

Array = jax.Array


def standardize_then_clip(x, mean: float, std: float):
    """``clip((x - mean) / std, 0, 1)``: the UltraLIF authors' preprocessing of static images
    (normalise with the dataset's mean and standard deviation, e.g. MNIST's 0.1307 and 0.3081,
    then clamp to [0, 1]) before rate coding. NumPy in, NumPy out; JAX in, JAX out."""
    if not float(std) > 0:
        raise SpecError(f"standardize_then_clip: std must be > 0, got {std!r}")
    lib = jnp if isinstance(x, jax.Array) else np
    return lib.clip((lib.asarray(x) - mean) / std, 0.0, 1.0)


def rate_code(key: Array, x, steps: int, gain: float = 0.5) -> Array:
    """Bernoulli rate code: ``s(t) ~ Bernoulli(gain * clip(x, 0, 1))`` independently for every
    step ``t < steps`` and every value (the UltraLIF paper's encoding with ``gain = 0.5``;
    a Poisson process sampled once per step). Returns float 0/1 spikes of shape ``(steps, *x.shape)``."""
    steps = check_int("rate_code: steps", steps)
    if not 0.0 <= float(gain) <= 1.0:
        raise SpecError(f"rate_code: gain must be in [0, 1] (it scales a probability), got {gain!r}")
    x = jnp.asarray(x)
    x = x.astype(x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else float)
    p = gain * jnp.clip(x, 0.0, 1.0)
    return jax.random.bernoulli(key, p, (steps, *x.shape)).astype(x.dtype)


def latency_code(x, steps: int, threshold: float = 0.0) -> Array:
    """Time-to-first-spike code: each value spikes once, at step
    ``t = round((1 - clip(x, 0, 1)) (steps - 1))`` -- ``x = 1`` at step 0, ``x`` near 0 at the
    last step -- and values ``<= threshold`` never spike (the linear latency code of snnTorch's
    ``spikegen.latency(..., linear=True)``). Returns float spikes of shape ``(steps, *x.shape)``."""
    steps = check_int("latency_code: steps", steps)
    x = jnp.asarray(x)
    x = x.astype(x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else float)
    c = jnp.clip(x, 0.0, 1.0)
    when = jnp.round((1.0 - c) * (steps - 1)).astype(jnp.int32)
    t = jnp.arange(steps).reshape((steps,) + (1,) * x.ndim)
    return ((t == when) & (x > threshold)).astype(x.dtype)
