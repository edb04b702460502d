"""Fixed-step integrators that turn a vector field into a model ``step``.

A vector field is ``f(state, drive, t) -> dstate/dt`` with the same pytree structure as
``state``. Every integrator here takes and returns pytrees and is pure, so it can sit inside
``jax.lax.scan``, ``jax.vmap`` and ``jax.grad``.

Orders of convergence (global error ~ dt^p), checked in ``tests/core/test_integrators.py``:
Euler p = 1, RK4 p = 4, exponential Euler p = 1 (exact for linear ODEs with constant input),
Euler–Maruyama strong order 1/2 (1 for additive noise). References: E. Hairer, S. P. Nørsett,
G. Wanner, *Solving Ordinary Differential Equations I* (1993); M. Hochbruck, A. Ostermann,
"Exponential integrators", Acta Numerica 19:209 (2010); P. E. Kloeden, E. Platen, *Numerical
Solution of Stochastic Differential Equations* (1992).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

VectorField = Callable[[Any, Any, Any], Any]
tmap = jax.tree_util.tree_map


def _axpy(x, a, y):
    """x + a * y over pytrees."""
    return tmap(lambda u, v: u + a * v, x, y)


def euler(f: VectorField, state, drive, t, dt):
    """Forward Euler: ``x_{n+1} = x_n + dt f(x_n, t_n)``."""
    return _axpy(state, dt, f(state, drive, t))


def rk4(f: VectorField, state, drive, t, dt):
    """Classical fourth-order Runge–Kutta (drive held constant over the step)."""
    k1 = f(state, drive, t)
    k2 = f(_axpy(state, dt / 2, k1), drive, t + dt / 2)
    k3 = f(_axpy(state, dt / 2, k2), drive, t + dt / 2)
    k4 = f(_axpy(state, dt, k3), drive, t + dt)
    return tmap(lambda x, a, b, c, d: x + dt / 6 * (a + 2 * b + 2 * c + d), state, k1, k2, k3, k4)


def _phi1(z):
    """phi_1(z) = (e^z - 1) / z, with phi_1(0) = 1."""
    small = jnp.abs(z) < 1e-8
    safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2, jnp.expm1(safe) / safe)


def exponential_euler(f: VectorField, state, drive, t, dt, *, linear: Callable[[Any], Any]):
    """Exponential Euler for ``dx/dt = A x + N(x, t)`` with diagonal ``A = linear(state)``.

    ``x_{n+1} = x_n + dt * phi_1(A dt) * f(x_n, t_n)``, ``phi_1(z) = (e^z - 1)/z``, which is
    ``x_n e^{A dt} + (e^{A dt} - 1)/A * N`` — exact when ``A`` and ``N`` are constant (e.g. a
    leaky membrane ``tau dV/dt = -V + R I`` with constant ``I``). ``f`` is the full vector field
    ``A x + N``; ``linear`` returns the diagonal of ``A`` as a pytree like ``state``.
    """
    return tmap(lambda x, a, g: x + dt * _phi1(a * dt) * g, state, linear(state), f(state, drive, t))


def euler_maruyama(f: VectorField, state, drive, t, dt, *, diffusion: Callable[[Any, Any], Any],
                   key=None, noise=None):
    """Euler–Maruyama for the Itô SDE ``dx = f dt + g dW`` (diagonal noise).

    ``x_{n+1} = x_n + f dt + g sqrt(dt) xi``, ``xi ~ N(0, 1)`` independent per component.
    For ``<eta(t) eta(t')> = 2 D delta(t - t')`` use ``g = sqrt(2 D)``. ``diffusion(state, t)``
    returns ``g`` as a pytree like ``state``. The standard normal draws ``xi`` come from ``key``
    (used once) or are given as ``noise`` (a pytree like ``state``), e.g. to integrate the same
    Brownian path at several step sizes.
    """
    leaves, tree = jax.tree_util.tree_flatten(state)
    if noise is None:
        keys = jax.random.split(key, len(leaves))
        noise = jax.tree_util.tree_unflatten(tree, [
            jax.random.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in zip(keys, leaves)])
    return tmap(lambda x, a, b, xi: x + a * dt + b * jnp.sqrt(dt) * xi,
                state, f(state, drive, t), diffusion(state, t), noise)


INTEGRATORS = {"euler": euler, "rk4": rk4, "exponential_euler": exponential_euler,
               "euler_maruyama": euler_maruyama}
