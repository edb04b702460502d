"""The streamed ridge readout measure (``Measure.ridge``) against a NumPy ESN loop and a
Tikhonov least-squares solve (scipy), and its checks."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from neurodyn.errors import SpecError
from neurodyn.models import ESN
from neurodyn.sweep import Measure, cartesian, parse_axis, sweep
from neurodyn.sweep.store import SweepMismatchError

STEPS, TRANSIENT, DELAY, RIDGE = 700, 100, 3, 1e-4
GAINS, SCALES = (0.5, 0.95), (0.3, 1.0)


def _numpy_states(esn, gain, scale, u):
    w, w_in, b = (np.asarray(a, float) for a in (esn.w, esn.w_in, esn.bias))
    x, out = np.zeros(esn.n), []
    for ut in u:
        x = np.tanh(gain * w @ x + scale * w_in @ ut + b)
        out.append(x)
    return np.array(out)


def _reference(states, y):
    """(NRMSE, NRMSE_rms, MSE) of the ridge readout with an unregularised intercept: the centred
    problem solved as scipy least squares of [Xc; sqrt(ridge) I] w = [yc; 0]."""
    xc, yc = states - states.mean(axis=0), y - y.mean(axis=0)
    aug = np.vstack([xc, np.sqrt(RIDGE) * np.eye(xc.shape[1])])
    w = scipy.linalg.lstsq(aug, np.vstack([yc, np.zeros((xc.shape[1], y.shape[1]))]))[0]
    mse = np.mean((xc @ w - yc) ** 2, axis=0)
    return (np.mean(np.sqrt(mse / np.var(y, axis=0))), np.mean(np.sqrt(mse / np.mean(y ** 2, axis=0))),
            np.mean(mse))


def _run(esn, target, dtype=np.float64, **kw):
    u = np.random.default_rng(0).uniform(-1, 1, (STEPS, 1))
    grid = cartesian([parse_axis(f"recurrent_gain={','.join(map(str, GAINS))}"),
                      parse_axis(f"input_gain={','.join(map(str, SCALES))}")])
    res = sweep(esn, grid, [Measure.ridge(target(u), "x", ridge=RIDGE)], steps=STEPS, transient=TRANSIENT,
                drive=jnp.asarray(u, dtype), progress=False, state=esn.init(jax.random.PRNGKey(0)), **kw)
    return u, grid, res.results


def _delayed(u):
    """Two outputs: u(t - 3) and u(t - 5) of the measured steps."""
    return np.concatenate([np.roll(u, DELAY, axis=0), np.roll(u, 5, axis=0)], axis=1)[TRANSIENT:]


def test_streamed_ridge_equals_least_squares_on_numpy_states():
    esn = ESN.create(40, seed=2, spectral_radius=1.0, bias_scaling=0.1, dtype=np.float64)
    u, grid, results = _run(esn, _delayed, chunk=3)  # chunks of 3, 1 (padded): the chunking is invisible
    for i, (gain, scale) in enumerate(np.asarray(grid.values)):
        states = _numpy_states(esn, gain, scale, u)[TRANSIENT:]
        nrmse, nrmse_rms, mse = _reference(states, _delayed(u))
        assert results["ridge(x).nrmse"][i] == pytest.approx(nrmse, rel=1e-8)
        assert results["ridge(x).nrmse_rms"][i] == pytest.approx(nrmse_rms, rel=1e-8)
        assert results["ridge(x).mse"][i] == pytest.approx(mse, rel=1e-8)
    assert results["ridge(x).nrmse"].min() < 0.1  # the delayed recall is learnt: the check is not vacuous


def test_float32_run_equals_a_float64_solve_on_its_recorded_states():
    """Float32 states, float64 sums: the streamed readout equals the float64 ridge solved on the
    recorded float32 trajectory (a user measure). Summing the products in float32 instead moved
    this NRMSE by 0.5 % (the reason the Gram matrix is accumulated in float64)."""
    esn = ESN.create(40, seed=2, spectral_radius=1.0, dtype=np.float32)

    def recorded(records):
        x = records["x"].astype(jnp.float64)
        xc, y = x - x.mean(axis=0), jnp.asarray(target)
        yc = y - y.mean(axis=0)
        w = jnp.linalg.solve(xc.T @ xc + RIDGE * jnp.eye(x.shape[1]), xc.T @ yc)
        return {"nrmse": jnp.mean(jnp.sqrt(jnp.mean((xc @ w - yc) ** 2, axis=0) / jnp.var(y, axis=0)))}

    u = np.random.default_rng(0).uniform(-1, 1, (STEPS, 1))
    target = _delayed(u)
    grid = cartesian([parse_axis(f"recurrent_gain={','.join(map(str, GAINS))}"),
                      parse_axis(f"input_gain={','.join(map(str, SCALES))}")])
    res = sweep(esn, grid, [Measure.ridge(target, "x", ridge=RIDGE), Measure.function(recorded, ("x",))],
                steps=STEPS, transient=TRANSIENT, drive=jnp.asarray(u, np.float32), progress=False,
                state=esn.init(jax.random.PRNGKey(0)))
    np.testing.assert_allclose(res.results["ridge(x).nrmse"], res.results["recorded.nrmse"], rtol=1e-6)


def test_a_target_of_the_wrong_length_is_refused():
    esn = ESN.create(10, seed=0, dtype=np.float64)
    with pytest.raises(SpecError, match="target has 50 rows but the sweep measures 600"):
        _run(esn, lambda u: u[:50])
    with pytest.raises(SpecError, match="finite"):
        Measure.ridge(np.full(10, np.nan), "x")


def test_a_run_shorter_than_a_block_and_a_target_with_a_large_mean_equal_least_squares():
    """130 measured steps (a block is 256) and a target offset by 1e4: the moments of the centred
    target lose no digits (before centring, the error came out of a 1e8 cancellation)."""
    esn = ESN.create(20, seed=3, spectral_radius=0.9, dtype=np.float64)
    u = np.random.default_rng(4).uniform(-1, 1, (150, 1))
    target = 1e4 + np.roll(u, 2, axis=0)[20:]
    grid = cartesian([parse_axis("recurrent_gain=0.8,1.0")])
    res = sweep(esn, grid, [Measure.ridge(target, "x", ridge=RIDGE)], steps=150, transient=20, drive=jnp.asarray(u),
                progress=False, state=esn.init(jax.random.PRNGKey(0)))
    for i, (gain,) in enumerate(np.asarray(grid.values)):
        states = _numpy_states(esn, gain, 1.0, u)[20:]
        nrmse, nrmse_rms, mse = _reference(states, target)
        assert res.results["ridge(x).nrmse"][i] == pytest.approx(nrmse, rel=1e-7)
        assert res.results["ridge(x).nrmse_rms"][i] == pytest.approx(nrmse_rms, rel=1e-7)
        assert res.results["ridge(x).mse"][i] == pytest.approx(mse, rel=1e-7)
    assert res.results["ridge(x).nrmse"].max() < 0.2  # learnt: the values compared are not noise


def test_bad_observables_ridges_and_float32_mode_are_refused_before_any_run():
    esn = ESN.create(10, seed=0, dtype=np.float64)
    grid = cartesian([parse_axis("recurrent_gain=0.5,1.0")])
    kw = dict(steps=60, transient=10, progress=False)
    with pytest.raises(SpecError, match="unknown observable 'nope'"):
        sweep(esn, grid, [Measure.ridge(np.zeros(50), "nope")], **kw)
    for bad in ("a", float("inf"), -1.0, True):
        with pytest.raises(SpecError, match="the ridge must be a number >= 0"):
            Measure.ridge(np.zeros(50), "x", ridge=bad)
    assert Measure("mean", "x").penalty == 0.0  # the field keeps its default (the constructor is not it)


def test_without_float64_mode_the_streamed_ridge_is_refused_with_one_line():
    # JAX's default precision, in a process of its own (this one runs with float64 on, and
    # switching it off and on again here would leave caches of the other precision behind)
    script = textwrap.dedent("""
        import numpy as np
        from neurodyn.errors import SpecError
        from neurodyn.models import ESN
        from neurodyn.sweep import Measure, cartesian, parse_axis, sweep
        grid = cartesian([parse_axis("recurrent_gain=0.5,1.0")])
        try:
            sweep(ESN.create(10, seed=0), grid, [Measure.ridge(np.zeros(50), "x")], steps=60, transient=10,
                  progress=False)
        except SpecError as e:
            print("REFUSED", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("REFUSED Measure.ridge sums its normal equations in float64") and \
        "set_precision('float64')" in out.stdout, out.stdout


def test_resuming_a_file_with_another_target_or_ridge_is_refused(tmp_path):
    esn = ESN.create(10, seed=0, dtype=np.float64)
    grid = cartesian([parse_axis("recurrent_gain=0.5,1.0")])
    u = np.random.default_rng(0).uniform(-1, 1, (60, 1))
    kw = dict(steps=60, transient=10, progress=False, drive=jnp.asarray(u), out=tmp_path / "s.h5")
    first = sweep(esn, grid, [Measure.ridge(u[10:, 0], "x")], **kw)
    again = sweep(esn, grid, [Measure.ridge(u[10:, 0], "x")], **kw)  # the same sweep: resumed, nothing to do
    np.testing.assert_array_equal(first.results["ridge(x).nrmse"], again.results["ridge(x).nrmse"])
    for measure in (Measure.ridge(u[9:-1, 0], "x"), Measure.ridge(u[10:, 0], "x", ridge=1.0)):
        with pytest.raises(SweepMismatchError, match="its measures differ"):
            sweep(esn, grid, [measure], **kw)
