"""Orders of convergence against ODEs/SDEs with known solutions."""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from neurodyn.core import euler, euler_maruyama, exponential_euler, rk4


def _solve(integrator, f, x0, t_end, n, **kw):
    dt = t_end / n

    def body(carry, _):
        x, t = carry
        return (integrator(f, x, None, t, dt, **kw), t + dt), None

    return lax.scan(body, (x0, 0.0), None, length=n)[0][0]


def _order(errors, ns):
    # slope of log(error) against log(dt)
    return -np.polyfit(np.log(ns), np.log(errors), 1)[0]


# dx/dt = -2x + sin t, x(0) = 1: x(t) = (2 sin t - cos t)/5 + (6/5) e^{-2t}; errors taken at t = 1
# (at t = 2 the Euler error constant nearly vanishes and the fitted order is meaningless)
def f_lin(x, drive, t):
    return -2.0 * x + jnp.sin(t)


def exact_lin(t):
    return (2 * np.sin(t) - np.cos(t)) / 5 + 1.2 * np.exp(-2 * t)


def test_euler_is_first_order():
    ns = [50, 100, 200, 400]
    errs = [abs(float(_solve(euler, f_lin, 1.0, 1.0, n)) - exact_lin(1.0)) for n in ns]
    assert abs(_order(errs, ns) - 1.0) < 0.1


def test_rk4_is_fourth_order():
    # a pytree state: (x, y) with y' = x (so y(t) = integral of x)
    def f(s, drive, t):
        return {"x": -2.0 * s["x"] + jnp.sin(t), "y": s["x"]}

    ns = [10, 20, 40, 80]
    errs = [abs(float(_solve(rk4, f, {"x": 1.0, "y": 0.0}, 1.0, n)["x"]) - exact_lin(1.0)) for n in ns]
    assert abs(_order(errs, ns) - 4.0) < 0.2


def test_exponential_euler_exact_for_linear_constant_input_and_first_order_otherwise():
    # tau dV/dt = -V + R I with constant I: V(t) = RI + (V0 - RI) e^{-t/tau}, exact in one step
    tau, ri = 20.0, 1.5
    v = _solve(exponential_euler, lambda x, d, t: -x / tau + ri / tau, 0.0, 7.0, 1,
               linear=lambda x: -jnp.ones_like(x) / tau)
    assert abs(float(v) - ri * (1 - np.exp(-7.0 / tau))) < 1e-14
    ns = [50, 100, 200, 400]
    errs = [abs(float(_solve(exponential_euler, f_lin, 1.0, 1.0, n, linear=lambda x: -2.0 * jnp.ones_like(x)))
                - exact_lin(1.0)) for n in ns]
    assert abs(_order(errs, ns) - 1.0) < 0.1


def test_euler_maruyama_strong_order_one_half_on_geometric_brownian_motion():
    # dX = mu X dt + s X dW: X_T = X0 exp((mu - s^2/2) T + s W_T) (Kloeden & Platen 1992, 4.4)
    mu, s, T, paths, fine = 1.0, 1.0, 1.0, 4000, 256
    dw = jax.random.normal(jax.random.PRNGKey(0), (paths, fine)) * np.sqrt(T / fine)
    exact = np.exp((mu - s * s / 2) * T + s * np.asarray(dw.sum(axis=1)))
    errs, ns = [], [8, 16, 32, 64]
    for n in ns:
        inc = dw.reshape(paths, n, fine // n).sum(axis=2)  # the same Brownian paths, coarser
        dt = T / n

        def em_path(incs):
            def body(x, w):
                return euler_maruyama(lambda y, d, t: mu * y, x, None, 0.0, dt,
                                      diffusion=lambda y, t: s * y, noise=w / jnp.sqrt(dt)), None
            return lax.scan(body, 1.0, incs)[0]

        errs.append(np.mean(np.abs(np.asarray(jax.vmap(em_path)(inc)) - exact)))
    assert abs(_order(errs, ns) - 0.5) < 0.15


def test_euler_maruyama_moments_of_ornstein_uhlenbeck():
    # dx = -theta x dt + sqrt(2D) dW: stationary variance D / theta
    theta, D, dt = 1.0, 0.5, 0.01

    def path(key):
        def body(carry, _):
            x, k = carry
            k, sub = jax.random.split(k)
            x = euler_maruyama(lambda y, d, t: -theta * y, x, None, 0.0, dt,
                               diffusion=lambda y, t: jnp.sqrt(2 * D) * jnp.ones_like(y), key=sub)
            return (x, k), None
        return lax.scan(body, (jnp.zeros(()), key), None, length=2000)[0][0]

    xs = np.asarray(jax.vmap(path)(jax.random.split(jax.random.PRNGKey(3), 4000)))
    # EM's exact stationary variance for this linear SDE: D dt / (1 - (1 - theta dt)^2)
    expected = 2 * D * dt / (1 - (1 - theta * dt) ** 2)
    assert abs(xs.var() / expected - 1) < 0.06  # 4000 samples: relative sd of a variance ~ 2.2 %
    assert abs(xs.mean()) < 4 * np.sqrt(expected / 4000)
