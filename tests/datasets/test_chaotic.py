import numpy as np
from scipy.integrate import solve_ivp

from neurodyn.datasets import henon, lorenz, mackey_glass


def _mackey_glass_reference(n_steps, history, delay, dt, beta=0.2, gamma=0.1, power=10.0):
    """Plain-loop RK4 over a growing list (the delayed value at half steps: mean of neighbours)."""
    xs = list(history)  # xs[-1] is x(0), xs[-1 - delay] is x(-tau)

    def f(x, lag):
        return beta * lag / (1 + lag ** power) - gamma * x

    for _ in range(n_steps):
        x, lag0, lag1 = xs[-1], xs[-1 - delay], xs[-delay]
        mid = 0.5 * (lag0 + lag1)
        k1 = f(x, lag0)
        k2 = f(x + 0.5 * dt * k1, mid)
        k3 = f(x + 0.5 * dt * k2, mid)
        k4 = f(x + dt * k3, lag1)
        xs.append(x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    return np.array(xs[len(history) - 1:])


def test_mackey_glass_matches_loop_rk4_reference():
    # 300 time units, dt = 0.1, sampled every 1: the scan equals an independent Python-loop RK4
    x, _ = mackey_glass(300, transient=0, seed=3)
    history = 1.2 + np.random.default_rng(3).uniform(-0.1, 0.1, 171)
    ref = _mackey_glass_reference(3000, history, 170, 0.1)[::10][:300]
    np.testing.assert_allclose(x[:, 0], ref, atol=1e-10)


def test_mackey_glass_converges_with_step():
    # halving dt changes the first 100 time units by 2.7e-5 (measured): far below the signal's
    # 0.2 spread; the derivative jumps where the constant history ends, which limits the order
    fine, _ = mackey_glass(100, transient=0, dt=0.05)
    coarse, _ = mackey_glass(100, transient=0, dt=0.1)
    assert np.max(np.abs(fine - coarse)) < 1e-4


def test_mackey_glass_attractor_statistics():
    # docs/models/reservoirs.md V8 (independent NumPy computation): mean 0.93, std 0.226, range [0.42, 1.32];
    # the attractor lies in [0.2, 1.4]
    x, y = mackey_glass(5000)
    assert 0.2 < x.min() and x.max() < 1.4
    assert abs(x.mean() - 0.93) < 0.02 and abs(x.std() - 0.226) < 0.01
    np.testing.assert_array_equal(x[1:], y[:-1])  # targets are the next sample


def test_lorenz_matches_scipy_solver():
    # 2 time units against an adaptive 8th-order solver at rtol 1e-12: RK4 with dt = 0.001 (sampled
    # every 10 steps) is within 1e-6; the default dt = 0.01 within 1e-3 (RK4 error ~ (dt L)^5 / 120
    # per step with L ~ 20)
    ref = solve_ivp(lambda t, s: [10 * (s[1] - s[0]), s[0] * (28 - s[2]) - s[1], s[0] * s[1] - 8 / 3 * s[2]],
                    (0, 1.99), [1.0, 1.0, 1.0], t_eval=np.arange(200) * 0.01, rtol=1e-12, atol=1e-12,
                    method="DOP853").y.T
    fine, _ = lorenz(200, dt=0.001, sample_every=10, transient=0)
    np.testing.assert_allclose(fine, ref, atol=1e-6)
    coarse, _ = lorenz(200, transient=0)
    np.testing.assert_allclose(coarse, ref, atol=1e-3)


def test_henon_matches_iteration_and_attractor():
    x, y = henon(500, transient=0)
    ref = np.zeros((500, 2))
    for n in range(1, 500):
        ref[n] = 1 - 1.4 * ref[n - 1, 0] ** 2 + ref[n - 1, 1], 0.3 * ref[n - 1, 0]
    np.testing.assert_allclose(x[:30], ref[:30], atol=1e-12)  # chaos amplifies round-off later
    # the Hénon attractor: |x| < 1.29, |y| < 0.39 (Hénon 1976, Fig. 2)
    assert np.abs(x[100:, 0]).max() < 1.29 and np.abs(x[100:, 1]).max() < 0.39
    np.testing.assert_array_equal(x[1:], y[:-1])
