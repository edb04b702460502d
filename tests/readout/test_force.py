"""FORCE learning (Sussillo & Abbott, Neuron 63:544, 2009; docs/models/reservoirs.md, "Readout"):
the update against a NumPy loop, a periodic pattern learnt and then generated closed-loop, and
teacher-forced output feedback equal to ridge regression on the teacher-forced states."""

import jax.numpy as jnp
import numpy as np
import pytest

import neurodyn as nd
from neurodyn.errors import SpecError
from neurodyn.models import ESN
from neurodyn.readout import harvest
from neurodyn.readout.force import FORCE

PERIOD = 200


def _pattern(t):
    return np.sin(2 * np.pi * t / PERIOD) + 0.5 * np.sin(4 * np.pi * t / PERIOD)


def test_force_step_equals_numpy_loop():
    esn = ESN.create(30, 1, spectral_radius=1.3, leak=0.2, bias_scaling=0.1, seed=2)
    model = FORCE.create(esn, 1, feedback_scaling=0.7, delta=0.5, seed=3)
    u = np.random.default_rng(1).uniform(-1, 1, 120)
    d = np.sin(np.arange(120) / 5)
    learn = (np.arange(120) >= 20).astype(float)
    drive = {"u": jnp.asarray(u[:, None]), "target": jnp.asarray(d[:, None]), "learn": jnp.asarray(learn)}
    final, _ = nd.run(model, model.init(None), 120, drive=drive)
    w_res, w_in, b, fb = (np.asarray(a, float) for a in (esn.w, esn.w_in, esn.bias, model.w_feedback))
    x, w, p, y = np.zeros(30), np.zeros((31, 1)), np.eye(31) / 0.5, np.zeros(1)
    for t in range(120):  # x <- (1-a) x + a tanh(W x + W_in u + b + W_fb y); RLS on phi = [1; x]
        x = 0.8 * x + 0.2 * np.tanh(w_res @ x + w_in[:, 0] * u[t] + b + fb @ y)
        phi = np.r_[1.0, x]
        y = w.T @ phi
        if learn[t]:
            k = p @ phi / (1 + phi @ p @ phi)
            p = p - np.outer(k, phi @ p)
            w = w - np.outer(k, y - d[t])
    np.testing.assert_allclose(np.asarray(final.weights), w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.p), p, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.y), y, rtol=0, atol=1e-10)


def test_force_learns_a_periodic_pattern_and_generates_it_closed_loop():
    # Sussillo & Abbott's setting scaled down: a chaotic reservoir (rho = 1.5, leak = dt/tau = 0.1)
    n, train, free = 200, 4000, 2000
    esn = ESN.create(n, 1, spectral_radius=1.5, leak=0.1, input_scaling=0.0, seed=0)
    model = FORCE.create(esn, 1, feedback_scaling=1.0, delta=1.0, seed=1)
    start = model.init(None)
    start = start._replace(reservoir=start.reservoir._replace(
        x=jnp.asarray(np.random.default_rng(0).uniform(-0.5, 0.5, n))))
    f = _pattern(np.arange(train + free))
    trained, rec = nd.run(model, start, train + 1, drive={"target": jnp.asarray(np.r_[f[:train], 0.0][:, None])})
    y = np.asarray(rec["y"])[1:, 0]  # run records the state before each step: row t + 1 is y(t)
    during = np.sqrt(np.mean((y[train // 2:] - f[train // 2:train]) ** 2)) / np.std(f)
    _, rec = nd.run(model, trained, free + 1)  # no target: weights frozen, the output fed back
    generated = np.asarray(rec["y"])[1:, 0]
    closed = np.sqrt(np.mean((generated - f[train:]) ** 2)) / np.std(f)
    # measured: 0.005 while learning, 0.036 over 2000 free-running steps (10 periods)
    assert during < 0.02
    assert closed < 0.1
    # the free run keeps the pattern's amplitude (it does not decay to a constant)
    assert np.std(generated) > 0.5 * np.std(f)


def test_teacher_forced_feedback_equals_ridge_on_teacher_forced_states():
    # ESN-style training of feedback: the target d(t-1) is fed back through W_fb (port "feedback");
    # RLS from P = I / delta then equals ridge on those states (Haykin, ch. 9). The ESN itself has no
    # W_fb: the same states come from its port "x" driven with W_fb d(t-1).
    esn = ESN.create(40, 1, spectral_radius=0.9, leak=0.5, seed=4)
    model = FORCE.create(esn, 1, feedback_scaling=0.5, delta=1e-2, seed=5)
    d = _pattern(np.arange(600))[:, None]
    fed = np.r_[np.zeros((1, 1)), d[:-1]]
    final, _ = nd.run(model, model.init(None), 600, drive={"target": jnp.asarray(d), "feedback": jnp.asarray(fed)})
    x = harvest(esn, fed @ np.asarray(model.w_feedback).T, into="x")
    x1 = np.c_[np.ones(600), x]
    ridge = np.linalg.solve(x1.T @ x1 + 1e-2 * np.eye(41), x1.T @ d)
    np.testing.assert_allclose(np.asarray(final.weights), ridge, atol=1e-8)


def test_force_needs_a_feedback_port():
    from neurodyn.models import EIReservoir  # ports "u" and "v": nowhere to feed the output back

    with pytest.raises(SpecError, match="port 'x'"):
        FORCE.create(EIReservoir.create(10, in_degree=1), 1)
