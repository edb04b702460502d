"""Running accumulators: one implementation of each streamed statistic, used by the sweeps'
in-scan measures (inside ``jit``/``vmap``, on JAX arrays), by the diagnostics streamed while a
run is written (on NumPy chunks) and by the whole-array functions (one block).

Each accumulator is three pure functions over a tuple of arrays: ``init(first_sample)``,
``update(acc, block)`` with ``block`` of shape ``(K,) + sample shape`` (K consecutive samples),
and ``finalize(acc)``. The array module follows the input (NumPy in, NumPy out; JAX in, JAX
out), so host-side streams keep float64 whatever JAX's precision setting.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _xp(x):
    return jnp if isinstance(x, jax.Array) else np


# ------------------------------------------------------------------ cross-correlation

CONSTANT_ULPS = 16  # a series is constant when its SD is within this many ulps of its mean


def xcorr_init(sample, shift=None):
    """Running sums for ``Gamma_ij``: ``(count, sum y, sum y y^T, shift)`` with ``y = x - shift``.

    ``shift`` defaults to the first sample: sums of deviations from a typical value keep the
    covariance free of the cancellation of ``<x^2> - <x>^2``."""
    xp = _xp(sample)
    v = xp.ravel(sample)
    shift = v if shift is None else xp.ravel(shift)
    return (xp.zeros((), v.dtype), xp.zeros_like(v), xp.zeros((v.size, v.size), v.dtype), shift)


def xcorr_update(acc, block):
    """Fold ``block`` (K samples) in: one matrix product per block."""
    count, s, ss, shift = acc
    y = block.reshape(block.shape[0], -1) - shift
    return (count + block.shape[0], s + y.sum(axis=0), ss + y.T @ y, shift)


def xcorr_finalize(acc):
    """The matrix ``Gamma_ij = C_ij / sqrt(C_ii C_jj)``, ``C`` the covariance over time
    (docs/diagnostics.md, cross-correlation), defined also where a series is constant.

    A series is constant when its standard deviation is at most :data:`CONSTANT_ULPS` units in
    the last place of its mean (a fixed point, reached exactly or up to rounding). Then:

    * two constant series have ``Gamma_ij = 1`` if their values are equal (to the same
      tolerance) and ``0`` otherwise;
    * a constant and a varying series have ``Gamma_ij = 0``.

    Why: identical series have ``Gamma = 1`` whether they vary or not, so a network resting at
    one common fixed point (synchronisation error zero) is completely synchronous, as it is
    when its nodes oscillate in step; a constant series shares no fluctuation with any other
    (its covariance with everything is zero), so it is uncorrelated rather than undefined. The
    diagonal is 1, every entry stays in [-1, 1], and a sweep map shows synchronous rest as 1 and
    asynchronous rest as 0 instead of holes. NaN remains only where there are no samples.
    """
    count, s, ss, shift = acc
    xp = _xp(ss)
    with np.errstate(invalid="ignore", divide="ignore"):  # no samples: NaN, quietly
        mean = s / count
        cov = ss / count - xp.outer(mean, mean)
        sd = xp.sqrt(xp.clip(xp.diagonal(cov), 0, None))
        level = xp.abs(shift + mean)  # |time average| of each series
        tol = CONSTANT_ULPS * xp.finfo(ss.dtype).eps
        constant = sd <= tol * level
        equal = xp.abs((shift + mean)[:, None] - (shift + mean)[None, :]) <= tol * xp.maximum(level[:, None],
                                                                                             level[None, :])
        both, either = constant[:, None] & constant[None, :], constant[:, None] | constant[None, :]
        scale = xp.where(constant, 1.0, sd)
        gamma = cov / xp.outer(scale, scale)
    return xp.where(either, xp.where(both & equal, 1.0, 0.0), gamma).astype(cov.dtype)


def pair_means(gamma) -> tuple:
    """Mean of ``Gamma`` over all pairs ``i < j`` and over hub pairs ``(0, j)``."""
    xp = _xp(gamma)
    n = gamma.shape[0]
    if n < 2:
        nan = xp.asarray(float("nan"), gamma.dtype)
        return nan, nan
    i, j = np.triu_indices(n, 1)
    return xp.mean(gamma[i, j]), xp.mean(gamma[0, 1:])


# ------------------------------------------------------------------ order parameter

def order_parameter_series(block):
    """``r(t) = |mean_j exp(i theta_j(t))|`` of each sample of ``block`` (phases on the last axis)."""
    xp = _xp(block)
    s, c = xp.sin(block), xp.cos(block)
    return xp.hypot(xp.mean(c, axis=-1), xp.mean(s, axis=-1))


def order_parameter_init(sample):
    """``(count, sum of r)``."""
    xp = _xp(sample)
    return (xp.zeros((), sample.dtype), xp.zeros((), sample.dtype))


def order_parameter_update(acc, block):
    """Add ``r`` of every sample of ``block``."""
    return (acc[0] + block.shape[0], acc[1] + order_parameter_series(block).sum())


def order_parameter_finalize(acc):
    """The time average ``<r>_t``."""
    return acc[1] / acc[0]


# ------------------------------------------------------------------ moments

def moments_init(sample):
    """``(count, sum x, sum x^2)`` per component."""
    xp = _xp(sample)
    return (xp.zeros((), sample.dtype), xp.zeros_like(sample), xp.zeros_like(sample))


def moments_update(acc, block):
    """Add the samples of ``block``."""
    return (acc[0] + block.shape[0], acc[1] + block.sum(axis=0), acc[2] + (block * block).sum(axis=0))


def moments_finalize(acc):
    """Per-component ``(mean, variance)`` over time."""
    mean = acc[1] / acc[0]
    return mean, acc[2] / acc[0] - mean * mean


# ------------------------------------------------------------------ threshold crossings

def crossings_init(sample):
    """``(count of upward crossings per component, previous sample)``."""
    xp = _xp(sample)
    return (xp.zeros(xp.shape(sample), xp.int32), sample)


def crossings_update(acc, block, threshold):
    """Count ``x_{n-1} < threshold <= x_n`` over ``block`` (continuing from the last sample)."""
    xp = _xp(block)
    count, prev = acc
    series = xp.concatenate([prev[None], block])
    ups = (series[:-1] < threshold) & (series[1:] >= threshold)
    return (count + ups.sum(axis=0, dtype=count.dtype), block[-1])  # int32 also with float64 on


# ------------------------------------------------------------------ last values (orbits)

def last_values_init(sample, length: int):
    """A window of the ``length`` most recent samples (zeros before any)."""
    xp = _xp(sample)
    return xp.zeros((length,) + xp.shape(sample), sample.dtype)


def last_values_update(acc, block):
    """Slide the window over ``block``."""
    xp = _xp(block)
    return xp.concatenate([acc, block])[-acc.shape[0]:]


# ------------------------------------------------------------------ spike trains (one sample per step)
# These fold in one step at a time (``update(acc, sample, ...)``): spike trains and bin boundaries
# are per step, inside the compiled loop of a running network (neurodyn.diagnostics.spiking).

def isi_init(n: int, dtype):
    """``(step of the last spike or -1, count of ISIs, sum ISI, sum ISI^2)`` per neuron (ISIs in steps)."""
    zero = jnp.zeros((n,), dtype)
    return (jnp.full((n,), -1, jnp.int32), jnp.zeros((n,), jnp.int32), zero, zero)


def isi_update(acc, spike, t):
    """Add the interval ending at step ``t`` (an integer) for every neuron that spikes now and
    has spiked before (integer steps: exact however long the run)."""
    last, count, s, ss = acc
    new = spike & (last >= 0)
    isi = jnp.where(new, t - last, 0).astype(s.dtype)
    return (jnp.where(spike, t, last), count + new, s + isi, ss + isi * isi)


def isi_finalize(acc):
    """``CV = std(ISI) / mean(ISI)`` per neuron (population SD; NaN below 2 intervals, i.e. 3 spikes)."""
    _, count, s, ss = acc
    c = jnp.maximum(count, 1).astype(s.dtype)
    mean = s / c
    sd = jnp.sqrt(jnp.maximum(ss / c - mean * mean, 0.0))
    return jnp.where(count >= 2, sd / jnp.where(count >= 2, mean, 1.0), jnp.nan)


def window_counts_init(n: int, dtype):
    """``(count in the open window, closed windows, sum of counts, sum of counts^2)`` per neuron."""
    zero = jnp.zeros((n,), dtype)
    return (zero, jnp.zeros((), jnp.int32), zero, zero)


def window_counts_update(acc, spike, close):
    """Count this step's spikes; when ``close`` the window ends here and its count is folded in."""
    current, windows, s, ss = acc
    current = current + spike
    return (jnp.where(close, 0.0, current), windows + close, s + jnp.where(close, current, 0.0),
            ss + jnp.where(close, current * current, 0.0))


def window_counts_finalize(acc):
    """``(mean count, Fano factor Var / mean)`` over the closed windows (NaN for a silent neuron)."""
    _, windows, s, ss = acc
    w = jnp.maximum(windows, 1).astype(s.dtype)
    mean = s / w
    var = jnp.maximum(ss / w - mean * mean, 0.0)
    return mean, jnp.where(mean > 0, var / jnp.where(mean > 0, mean, 1.0), jnp.nan)


def binned_pair_init(n: int, dtype):
    """Running sums for the Pearson correlation of two series averaged in bins: ``(open bin sums
    of x and y, closed bins, sum x, sum y, sum x^2, sum y^2, sum x y)`` per component."""
    zero = jnp.zeros((n,), dtype)
    return (zero, zero, jnp.zeros((), jnp.int32), zero, zero, zero, zero, zero)


def binned_pair_update(acc, x, y, close, bin_steps: int):
    """Add one sample; when ``close`` the bin ends here and its means are folded in."""
    bx, by, bins, sx, sy, sxx, syy, sxy = acc
    bx, by = bx + x, by + y
    mx, my = bx / bin_steps, by / bin_steps
    keep = lambda total, value: total + jnp.where(close, value, 0.0)
    return (jnp.where(close, 0.0, bx), jnp.where(close, 0.0, by), bins + close, keep(sx, mx), keep(sy, my),
            keep(sxx, mx * mx), keep(syy, my * my), keep(sxy, mx * my))


def binned_pair_finalize(acc):
    """Pearson ``r = cov(x, y) / (sd x sd y)`` of the bin means (NaN where a series is constant)."""
    _, _, bins, sx, sy, sxx, syy, sxy = acc
    b = jnp.maximum(bins, 1).astype(sx.dtype)
    mx, my = sx / b, sy / b
    cov = sxy / b - mx * my
    vx, vy = jnp.maximum(sxx / b - mx * mx, 0.0), jnp.maximum(syy / b - my * my, 0.0)
    ok = (vx > 0) & (vy > 0)
    return jnp.where(ok, cov / jnp.sqrt(jnp.where(ok, vx * vy, 1.0)), jnp.nan)
