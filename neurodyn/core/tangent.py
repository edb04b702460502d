"""Tangent dynamics of one model step: the floating part of a state as one vector, and
Jacobian-vector products of a step by forward-mode autodiff (no finite differences).

Used by the Lyapunov exponents, the sweeps' in-scan ``max_lyapunov`` measure, fixed points
and the echo-state diagnostics. Integer leaves of a state (step counters, PRNG keys) are carried
along unchanged: the split is :func:`neurodyn.pytree.partition` with the inexact-leaf filter.
The Lyapunov tangent vectors are observers of the block-scan driver (:class:`MaxLyapunov`,
:class:`LyapunovSpectrum`): they take each step themselves (``advance``: the step and its
tangent products in one pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..pytree import combine, is_inexact, partition
from .loop import Observer, drive_at


def flatten_state(state):
    """``(vector, unflatten)``: the inexact leaves of ``state`` concatenated, and
    ``unflatten(vector, like)`` which puts a vector back into a state shaped like ``like``
    (taking the non-float leaves from ``like``)."""
    dynamic, _ = partition(state, is_inexact)
    leaves = jax.tree_util.tree_leaves(dynamic)
    vec = jnp.concatenate([jnp.ravel(x) for x in leaves]) if leaves else jnp.zeros(0)

    def unflatten(v, like):
        dyn, rest = partition(like, is_inexact)
        parts, tree = jax.tree_util.tree_flatten(dyn)
        out, offset = [], 0
        for leaf in parts:
            size = int(jnp.size(leaf))
            out.append(jnp.reshape(v[offset:offset + size], jnp.shape(leaf)))
            offset += size
        return combine(jax.tree_util.tree_unflatten(tree, out), rest)

    return vec, unflatten


def tangent_step(model, state, q, drive, i, dt):
    """New state and ``J q`` for the columns of ``q`` (``J`` the Jacobian of the step at
    absolute step ``i``): one forward-mode pass for a single vector, one linearisation shared
    by the k tangent products otherwise (the step is evaluated once)."""
    vec, unflatten = flatten_state(state)
    d, t = drive_at(drive, i, dt), i * dt

    def f(v):
        return model.step(unflatten(v, state), d, t)

    if q.shape[1] == 1:
        new_state, tangent = jax.jvp(f, (vec,), (q[:, 0],))
        return new_state, flatten_state(tangent)[0][:, None]
    new_state, jvp = jax.linearize(f, vec)
    return new_state, jax.vmap(lambda c: flatten_state(jvp(c))[0], in_axes=1, out_axes=1)(q)


@dataclass(frozen=True)
class MaxLyapunov(Observer):
    """The largest Lyapunov exponent along the run, one tangent vector renormalised every step
    (Benettin et al., Meccanica 15:9, 1980): ``lambda_1 = (1 / (n dt)) sum_k log ||J_k v_k||``,
    ``v_{k+1} = J_k v_k / ||J_k v_k||``, ``J_k`` the Jacobian of step ``k``; per time unit
    (per step for maps). Carry ``(v, sum of logs)``; ``v_0 = (1, ..., 1) / sqrt(dim)``.
    Result ``{label: exponent}``."""

    dt: float = 1.0
    name: str = "max_lyapunov"

    kind = "max_lyapunov"

    @property
    def label(self) -> str:
        return self.name

    def init(self, model, state):
        vec = flatten_state(state)[0]
        return jnp.ones_like(vec) / jnp.sqrt(vec.size), jnp.zeros((), vec.dtype)

    def advance(self, carry, model, state, drive, i, dt):
        v, logsum = carry
        state, z = tangent_step(model, state, v[:, None], drive, i, dt)
        norm = jnp.linalg.norm(z[:, 0])
        return state, (z[:, 0] / norm, logsum + jnp.log(norm))

    def finalize(self, carry, steps):
        return {self.name: carry[1] / (steps * self.dt)}


@dataclass(frozen=True)
class LyapunovSpectrum(Observer):
    """The ``k`` leading Lyapunov exponents (Benettin / QR): ``k`` tangent vectors ``Q``
    propagated with the step's Jacobian, re-orthonormalised ``Q R = J Q`` once per block (the
    driver's block is the renormalisation interval) and ``log |diag R|`` summed. Carry ``(Q,
    sums)``, ``Q_0`` the first ``k`` unit vectors; result ``{label: exponents}`` per time unit,
    sorted in decreasing order."""

    k: int = 1
    dt: float = 1.0
    name: str = "lyapunov_spectrum"

    kind = "lyapunov_spectrum"

    @property
    def label(self) -> str:
        return self.name

    def init(self, model, state):
        vec = flatten_state(state)[0]
        return jnp.eye(vec.shape[0], self.k, dtype=vec.dtype), jnp.zeros(self.k, vec.dtype)

    def advance(self, carry, model, state, drive, i, dt):
        q, total = carry
        state, q = tangent_step(model, state, q, drive, i, dt)
        return state, (q, total)

    def block(self, carry, model, state, i, outputs):
        q, r = jnp.linalg.qr(carry[0])
        return (q, carry[1] + jnp.log(jnp.abs(jnp.diagonal(r)))), None

    def finalize(self, carry, steps):
        return {self.name: -jnp.sort(-carry[1] / (steps * self.dt))}
