"""Chaotic series for prediction tasks: Mackey–Glass, Lorenz, Hénon.

Each is integrated (or iterated) in one compiled ``lax.scan``, in float64 when JAX's 64-bit mode
is on and float32 otherwise (see :mod:`neurodyn.precision`); it returns NumPy arrays
``(inputs, targets)`` with ``targets[t] = inputs[t + horizon]`` (one-step prediction by
default). ``seed`` perturbs the initial condition; ``None`` keeps the stated one.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..errors import SpecError


def _float():
    return jnp.result_type(float)


def _pairs(series: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    series = series.reshape(len(series), -1)
    return series[:-horizon], series[horizon:]


@partial(jax.jit, static_argnames=("delay", "steps", "every"))
def _mackey_glass_scan(history, delay: int, steps: int, every: int, beta, gamma, power, dt):
    """RK4 on ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)``; ``x(t - tau)``
    at the half step is the mean of its neighbours on the grid (tau = delay * dt)."""

    def rhs(x, x_tau):
        return beta * x_tau / (1 + x_tau ** power) - gamma * x

    def step(carry, k):
        x, buf = carry
        lag0, lag1 = buf[k % delay], buf[(k + 1) % delay]  # x(t - tau), x(t - tau + dt)
        mid = 0.5 * (lag0 + lag1)
        k1 = rhs(x, lag0)
        k2 = rhs(x + 0.5 * dt * k1, mid)
        k3 = rhs(x + 0.5 * dt * k2, mid)
        k4 = rhs(x + dt * k3, lag1)
        buf = buf.at[k % delay].set(x)
        return (x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), buf), x

    def sample(carry, j):
        carry, xs = lax.scan(step, carry, j * every + jnp.arange(every))
        return carry, xs[0]

    _, out = lax.scan(sample, (history[-1], history[:-1]), jnp.arange(steps // every))
    return out


def mackey_glass(n_samples: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, power: float = 10.0,
                 dt: float = 0.1, sample_every: float = 1.0, x0: float = 1.2, transient: float = 500.0,
                 horizon: int = 1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mackey–Glass series (M. C. Mackey, L. Glass, Science 197:287, 1977), chaotic at tau = 17:
    ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)``.

    Integrated by RK4 with step ``dt`` (time units; ``tau / dt`` must be a whole number of steps,
    the delayed value at half steps is the mean of its two grid neighbours) from the constant
    history ``x = x0`` on ``[-tau, 0]`` (``seed``: plus U(-0.1, 0.1) noise per grid point),
    sampled every ``sample_every`` time units after ``transient`` time units. Returns
    ``(x(t), x(t + horizon))``, each of shape ``(n_samples, 1)``; the attractor lies in about
    [0.2, 1.4] (docs/models/reservoirs.md).
    """
    delay, every = round(tau / dt), round(sample_every / dt)
    if delay < 2 or not np.isclose(delay * dt, tau) or not np.isclose(every * dt, sample_every):
        raise SpecError(f"mackey_glass: tau ({tau}) and sample_every ({sample_every}) must be whole multiples "
                         f"of dt ({dt}), with tau >= 2 dt")
    history = np.full(delay + 1, x0, float)
    if seed is not None:
        history += np.random.default_rng(seed).uniform(-0.1, 0.1, delay + 1)
    skip = round(transient / sample_every)
    total = (skip + n_samples + horizon) * every
    d = _float()
    out = _mackey_glass_scan(jnp.asarray(history, d), delay, total, every, jnp.asarray(beta, d),
                             jnp.asarray(gamma, d), jnp.asarray(power, d), jnp.asarray(dt, d))
    return _pairs(np.asarray(out, float)[skip:], horizon)


@partial(jax.jit, static_argnames=("steps", "every"))
def _lorenz_scan(x0, steps: int, every: int, sigma, rho, beta, dt):
    def rhs(s):
        x, y, z = s
        return jnp.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])

    def step(s, _):
        k1 = rhs(s)
        k2 = rhs(s + 0.5 * dt * k1)
        k3 = rhs(s + 0.5 * dt * k2)
        k4 = rhs(s + dt * k3)
        return s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

    def sample(s, _):
        return lax.scan(step, s, None, length=every)[0], s

    return lax.scan(sample, x0, None, length=steps)[1]


def lorenz(n_samples: int, *, sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0, dt: float = 0.01,
           sample_every: int = 1, x0=(1.0, 1.0, 1.0), transient: int = 1000, horizon: int = 1,
           seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz system (E. N. Lorenz, J. Atmos. Sci. 20:130, 1963),
    ``x' = sigma (y - x), y' = x (rho - z) - y, z' = x y - beta z``, by RK4 with step ``dt``
    (time units), sampled every ``sample_every`` steps after ``transient`` samples, from ``x0``
    (``seed``: plus U(-1, 1) per coordinate). Returns ``(s(t), s(t + horizon))``, each
    ``(n_samples, 3)``."""
    start = np.asarray(x0, float)
    if seed is not None:
        start = start + np.random.default_rng(seed).uniform(-1, 1, 3)
    d = _float()
    out = _lorenz_scan(jnp.asarray(start, d), transient + n_samples + horizon, int(sample_every),
                       *(jnp.asarray(v, d) for v in (sigma, rho, beta, dt)))
    return _pairs(np.asarray(out, float)[transient:], horizon)


@partial(jax.jit, static_argnames=("steps",))
def _henon_scan(x0, steps: int, a, b):
    def step(s, _):
        return jnp.stack([1 - a * s[0] ** 2 + s[1], b * s[0]]), s

    return lax.scan(step, x0, None, length=steps)[1]


def henon(n_samples: int, *, a: float = 1.4, b: float = 0.3, x0=(0.0, 0.0), transient: int = 100, horizon: int = 1,
          seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hénon map (M. Hénon, Commun. Math. Phys. 50:69, 1976), ``x' = 1 - a x^2 + y, y' = b x``,
    from ``x0`` (``seed``: plus U(-0.1, 0.1) per coordinate) after ``transient`` iterations.
    Returns ``((x, y)(n), (x, y)(n + horizon))``, each ``(n_samples, 2)``."""
    start = np.asarray(x0, float)
    if seed is not None:
        start = start + np.random.default_rng(seed).uniform(-0.1, 0.1, 2)
    d = _float()
    out = _henon_scan(jnp.asarray(start, d), transient + n_samples + horizon, jnp.asarray(a, d), jnp.asarray(b, d))
    return _pairs(np.asarray(out, float)[transient:], horizon)
