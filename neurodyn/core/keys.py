"""PRNG keys derived on the host: ``PRNGKey``, ``split`` and ``fold_in`` of JAX's default
Threefry-2x32 generator computed by NumPy, bit for bit as JAX computes them.

Why: setting a model up calls these a handful of times, eagerly, on concrete keys. Each eager
JAX call traces, lowers and compiles (or loads) a tiny program, tens of milliseconds apiece, a
measurable part of a short command-line run's start-up. The Threefry hash is integer arithmetic
(additions mod 2^32, rotations, exclusive or), so NumPy gives exactly JAX's bits. Anything else
(a key under ``jit``/``vmap``, a typed key, another generator, a seed outside ``[0, 2^31)``) goes
to ``jax.random`` unchanged.

Threefry-2x32 with 20 rounds: J. K. Salmon, M. A. Moraes, R. O. Dror and D. E. Shaw, "Parallel
random numbers: as easy as 1, 2, 3", SC '11 (2011); the key schedule and the counters of
``split`` / ``fold_in`` follow ``jax._src.random.threefry2x32`` (``split`` in both settings of
``jax_threefry_partitionable``).
"""

from __future__ import annotations

import jax
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32(k1, k2, x1, x2) -> tuple[np.ndarray, np.ndarray]:
    """The Threefry-2x32 hash (20 rounds) of the counter words ``(x1, x2)`` under the key
    ``(k1, k2)``; all ``uint32`` (arrays of one shape), arithmetic modulo 2^32."""
    k1, k2 = np.uint32(k1), np.uint32(k2)
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    with np.errstate(over="ignore"):
        x = [np.asarray(x1, np.uint32) + ks[0], np.asarray(x2, np.uint32) + ks[1]]
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x[0] = x[0] + x[1]
                x[1] = (x[1] << np.uint32(r)) | (x[1] >> np.uint32(32 - r))
                x[1] = x[0] ^ x[1]
            x[0] = x[0] + ks[(i + 1) % 3]
            x[1] = x[1] + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x[0], x[1]


def _host_key(key) -> np.ndarray | None:
    """``key`` as a NumPy ``uint32[2]`` when it is a concrete raw key of the default generator."""
    if jax.config.jax_default_prng_impl != "threefry2x32" or isinstance(key, jax.core.Tracer):
        return None
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype != np.uint32 or shape != (2,):
        return None
    return np.asarray(key)


def seed_key(seed: int) -> jax.Array:
    """``jax.random.PRNGKey(seed)``."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and 0 <= seed < 2**31 \
            and jax.config.jax_default_prng_impl == "threefry2x32" and not jax.config.jax_enable_custom_prng:
        return jax.device_put(np.array([0, seed], np.uint32))
    return jax.random.PRNGKey(seed)


def split(key, num: int = 2) -> list:
    """``list(jax.random.split(key, num))``: ``num`` new keys."""
    k = _host_key(key)
    if k is None:
        return list(jax.random.split(key, num))
    if jax.config.jax_threefry_partitionable:
        hi, lo = threefry2x32(k[0], k[1], np.zeros(num, np.uint32), np.arange(num, dtype=np.uint32))
        keys = np.stack([hi, lo], axis=-1)
    else:
        counts = np.arange(2 * num, dtype=np.uint32)
        keys = np.concatenate(threefry2x32(k[0], k[1], counts[:num], counts[num:])).reshape(num, 2)
    return [jax.device_put(row) for row in keys]


def fold_in(key, data: int) -> jax.Array:
    """``jax.random.fold_in(key, data)`` for an integer ``0 <= data < 2^32``."""
    k = _host_key(key)
    if k is None or not isinstance(data, (int, np.integer)) or not 0 <= data < 2**32:
        return jax.random.fold_in(key, data)
    hi, lo = threefry2x32(k[0], k[1], np.zeros(1, np.uint32), np.array([data], np.uint32))
    return jax.device_put(np.concatenate([hi, lo]))
