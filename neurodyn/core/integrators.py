"""Fixed-step integrators that turn a vector field into a model ``step``.

Two layers: the functions (``euler(f, state, drive, t, dt)``, ...) are the numerical schemes on
a vector field; the :class:`Integrator` objects (``Euler()``, ``RK4()``, ``ExponentialEuler()``,
``EulerMaruyama()``) share ONE signature ``integrator(model, state, drive, t, dt, key)`` and
take what they need from the model: ``model.vector_field(state, drive, t)`` always, the diagonal
linear part ``model.linear_part(state)`` (exponential Euler) and the noise amplitude
``model.noise_amplitude(state, t)`` (Euler–Maruyama) as optional hooks. Only the inexact
leaves of the state are integrated; integer leaves (counters, PRNG keys) pass through.

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

from ..pytree import combine, is_inexact, partition

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


class Integrator:
    """A fixed-step scheme applied to a model: ``integrator(model, state, drive, t, dt, key)``.

    A subclass sets ``name`` and defines ``scheme(model, f, y, rest, drive, t, dt, key)``, which
    advances the inexact part ``y`` of the state with the vector field ``f`` (checked when the
    subclass is created).

    Integrators have no parameters, so they are hashable and sit in a model's static fields.
    """

    name: str = ""
    stochastic: bool = False

    def __call__(self, model, state, drive, t, dt, key=None):
        dynamic, rest = partition(state, is_inexact)

        def f(y, d, tt):
            return partition(model.vector_field(combine(y, rest), d, tt), is_inexact)[0]

        return combine(self.scheme(model, f, dynamic, rest, drive, t, dt, key), rest)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.name or "scheme" not in cls.__dict__:
            raise TypeError(f"integrator {cls.__name__} must set name and define "
                            f"scheme(model, f, y, rest, drive, t, dt, key) -> new y")

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self).__name__)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Euler(Integrator):
    """Forward Euler (order 1)."""

    name = "euler"

    def scheme(self, model, f, y, rest, drive, t, dt, key):
        return euler(f, y, drive, t, dt)


class RK4(Integrator):
    """Classical Runge–Kutta (order 4), drive held constant over the step."""

    name = "rk4"

    def scheme(self, model, f, y, rest, drive, t, dt, key):
        return rk4(f, y, drive, t, dt)


class ExponentialEuler(Integrator):
    """Exponential Euler with the model's diagonal linear part ``model.linear_part(state)``."""

    name = "exponential_euler"

    def scheme(self, model, f, y, rest, drive, t, dt, key):
        linear = lambda yy: partition(model.linear_part(combine(yy, rest)), is_inexact)[0]
        return exponential_euler(f, y, drive, t, dt, linear=linear)


class EulerMaruyama(Integrator):
    """Euler–Maruyama with the model's noise amplitude ``model.noise_amplitude(state, t)``."""

    name = "euler_maruyama"
    stochastic = True

    def scheme(self, model, f, y, rest, drive, t, dt, key):
        g = lambda yy, tt: partition(model.noise_amplitude(combine(yy, rest), tt), is_inexact)[0]
        return euler_maruyama(f, y, drive, t, dt, diffusion=g, key=key)


INTEGRATORS = {cls.name: cls() for cls in (Euler, RK4, ExponentialEuler, EulerMaruyama)}
