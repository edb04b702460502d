"""Lyapunov exponents of any model of the protocol, from autodiff tangent dynamics.

Benettin / QR method (G. Benettin et al., Meccanica 15:9, 1980; docs/diagnostics.md): propagate k
tangent vectors ``Q`` with the Jacobian of one model step, obtained by ``jax.linearize`` (no
finite differences, no explicit Jacobian matrix), re-orthonormalise ``Q R = J Q`` every
``renorm_every`` steps and accumulate ``log |diag R|``. Exponents are per step for maps
(``dt = 1``) and per time unit for flows (divided by ``dt`` of the integrator step).

With a ``drive`` (e.g. the input of a reservoir) the exponents are the conditional exponents of
the driven system along its input-driven trajectory. All functions are pure JAX: they can be
jitted and vmapped over parameter points (``jax.vmap(lambda m: max_lyapunov(m, ...))(models)``).
PRNG keys in a state are carried along (stochastic models: the exponent of the realisation).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from ..core.loop import init_state, join_drive, prepare_drive, scan_blocks, split_drive
from ..core.model import surface
from ..core.tangent import LyapunovSpectrum, MaxLyapunov, flatten_state


def lyapunov_spectrum(model, steps: int, k: int | None = None, *, transient: int = 0, drive: Any = None,
                      key: jax.Array | None = None, state: Any = None, renorm_every: int = 1,
                      dt: float | None = None) -> jax.Array:
    """The ``k`` leading Lyapunov exponents (all by default), sorted in decreasing order.

    Args:
        model: any model of the protocol (its step must be differentiable in the float state).
        steps: steps over which exponents are averaged (after ``transient`` steps); rounded
            down to a multiple of ``renorm_every``.
        k: number of exponents (default: the dimension of the float state).
        drive: input per step, a pytree of arrays with leading axis >= transient + steps, or a
            function of t; exponents are then conditional on this input.
        key / state: initial state (``model.init(key)``) or the state itself.
        renorm_every: steps between QR re-orthonormalisations (1 for maps; for flows choose
            ``renorm_every * dt`` ~ 0.1-1 time units).
        dt: time per step (default ``model.dt`` if it has one, else 1 -> per-step exponents).

    Returns:
        array ``(k,)``: exponents per time unit (per step for maps).
    """
    state = init_state(model, state, key)
    dt = surface(model).dt if dt is None else dt
    drive_fn, drive_arrays = split_drive(prepare_drive(model, drive, transient + steps, dt))
    return _spectrum(model, state, drive_arrays, dt, steps=steps, k=k, transient=transient,
                     renorm_every=renorm_every, drive_fn=drive_fn)


def _transient(model, state, drive, dt, transient):
    """The state after ``transient`` plain steps from step 0."""
    return scan_blocks(model, state, drive, dt, 0, None, transient)[0] if transient else state


@partial(jax.jit, static_argnames=("steps", "k", "transient", "renorm_every", "drive_fn"))
def _spectrum(model, state, drive_arrays, dt, *, steps, k, transient, renorm_every, drive_fn):
    # compiled with the model as an argument: one compilation for every parameter value, and
    # the same driver and tangent observer as a sweep's
    drive = join_drive(drive_fn, drive_arrays)
    state = _transient(model, state, drive, dt, transient)
    k = flatten_state(state)[0].shape[0] if k is None else k
    blocks = steps // renorm_every
    _, (carry,), _ = scan_blocks(model, state, drive, dt, transient, blocks, renorm_every, (LyapunovSpectrum(k),))
    return -jnp.sort(-carry[1] / (blocks * renorm_every * dt))


def max_lyapunov(model, steps: int, *, transient: int = 0, drive: Any = None, key: jax.Array | None = None,
                 state: Any = None, dt: float | None = None, seed_vector: jax.Array | None = None) -> jax.Array:
    """Largest Lyapunov exponent with one tangent vector renormalised every step:
    ``lambda_1 = (1 / (steps dt)) sum_n log ||J_n v_n||``, ``v_{n+1} = J_n v_n / ||J_n v_n||``.
    Cheaper than :func:`lyapunov_spectrum` (one tangent product per step). Same arguments."""
    state = init_state(model, state, key)
    dt = surface(model).dt if dt is None else dt
    drive_fn, drive_arrays = split_drive(prepare_drive(model, drive, transient + steps, dt))
    return _max_exponent(model, state, drive_arrays, dt, seed_vector, steps=steps, transient=transient,
                         drive_fn=drive_fn)


@partial(jax.jit, static_argnames=("steps", "transient", "drive_fn"))
def _max_exponent(model, state, drive_arrays, dt, seed_vector, *, steps, transient, drive_fn):
    drive = join_drive(drive_fn, drive_arrays)
    state = _transient(model, state, drive, dt, transient)
    vec = flatten_state(state)[0]
    v0 = jnp.ones_like(vec) if seed_vector is None else seed_vector
    v0 = v0 / jnp.linalg.norm(v0)
    _, (carry,), _ = scan_blocks(model, state, drive, dt, transient, None, steps, (MaxLyapunov(),),
                                 ((v0, jnp.zeros((), vec.dtype)),))
    return carry[1] / (steps * dt)
