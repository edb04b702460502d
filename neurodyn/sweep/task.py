"""Task scores as sweep measures: every sweep point harvests its reservoir on the spec's
``[task]`` data, fits the readout and scores it, all inside the compiled, vmapped chunk.

The readout is the one :func:`neurodyn.spec.task.train_and_score` fits (``neurodyn run``), solved
in the compiled call instead of NumPy: ridge regression with an unregularised intercept,
``(Z^T Z + beta P) w = Z^T y`` with ``Z = [1, x]`` and ``P = diag(0, s^2)`` (``s`` the feature
standard deviations with ``standardize``, else ones), which equals the centred solve of
:class:`~neurodyn.readout.Ridge`; several ridge values are compared by the same time-blocked
``folds``-fold cross-validation (mean held-out MSE) and the smallest error wins, per point. A
swept ``task.readout.ridge`` gives every point its own single value instead.

Memory: a point holds its harvested features (``T x F`` values for a series, one pooled vector
per sequence for a classification set); the sweep's chunk size is chosen so a chunk stays in
the memory budget, so the number of points never changes the memory used.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core.parameters import with_parameter
from ..readout.harvest import feature_trajectory

TASK_MEASURES = ("nrmse", "nrmse_rms", "mse", "r2", "memory_capacity", "accuracy")


@dataclass(frozen=True)
class TaskConfig:
    """The static part of a task sweep (hashable: a compile-time constant)."""

    kind: str
    inputs: tuple
    features: tuple
    washout: int
    train: int
    test: int
    folds: int
    bias: bool
    standardize: bool
    use_inputs: bool
    pool: str
    n_ridges: int
    metrics: tuple


def config(task, metrics, n_ridges: int, data) -> TaskConfig:
    """The :class:`TaskConfig` of a :class:`neurodyn.spec.task.Task` for the given metrics (a
    classification set trains on its first ``data.n_train`` sequences)."""
    r = task.readout
    train = task.train if task.kind == "series" else data.n_train
    return TaskConfig(task.kind, task.inputs, task.features, task.washout, train, task.test, r["folds"],
                      r["bias"], r["standardize"], r["use_inputs"], r["pool"], n_ridges, tuple(metrics))


def task_arrays(task, data) -> dict:
    """Traced arrays of a task sweep: inputs, targets (one-hot for classification), ridges."""
    if task.kind == "series":
        return {"u": np.asarray(data.inputs, float), "y": np.asarray(data.targets, float)}
    n = data.n_train
    classes = np.unique(data.labels[:n])
    onehot = (data.labels[:, None] == classes[None, :]).astype(float)
    return {"u": np.asarray(data.inputs, float), "y": onehot}


def _features(model, state, u, dt, cfg: TaskConfig):
    """``(T, F)`` features of one run (the state after each step)."""
    return feature_trajectory(model, state, {p: u for p in cfg.inputs}, dt, u.shape[0], cfg.features)


def _pooled(model, state, u, dt, cfg: TaskConfig):
    """One feature vector per sequence (``u``: ``(n, T, d)``): the last or the mean state."""
    drive_of = lambda seq: {p: seq for p in cfg.inputs}

    def one(seq):
        def body(carry, i):
            st, total = carry
            st = model.step(st, {p: v[i] for p, v in drive_of(seq).items()}, i * dt)
            obs = model.observe(st)
            x = jnp.concatenate([jnp.ravel(obs[n]) for n in cfg.features])
            return (st, total + x), None

        obs0 = model.observe(state)
        zero = jnp.zeros(sum(jnp.size(obs0[n]) for n in cfg.features), jnp.result_type(float))
        (st, total), _ = lax.scan(body, (state, zero), jnp.arange(seq.shape[0], dtype=jnp.int32))
        obs = model.observe(st)
        last = jnp.concatenate([jnp.ravel(obs[n]) for n in cfg.features])
        return last if cfg.pool == "last" else total / seq.shape[0]

    return jax.vmap(one)(u)


def _moments(x, y) -> tuple:
    """``(n, sum x, sum y, X^T X, X^T Y)`` of a block of rows (one matrix product)."""
    return (jnp.asarray(x.shape[0], x.dtype), jnp.sum(x, axis=0), jnp.sum(y, axis=0), x.T @ x, x.T @ y)


def _fit(moments, betas, penalty, bias: bool):
    """Ridge readouts ``(intercepts (R, k), weights (R, F, k))`` from the row moments of the
    training rows, for every ``beta``: the intercept unregularised (the rows centred, as
    :func:`neurodyn.readout.ridge_path` does), the weights solving
    ``(Xc^T Xc + beta diag(penalty)) w = Xc^T Yc`` with ``Xc^T Xc = X^T X - n m_x m_x^T``."""
    n, sx, sy, g, c = moments
    if bias:
        mx, my = sx / n, sy / n
        g, c = g - n * jnp.outer(mx, mx), c - n * jnp.outer(mx, my)
    w = jax.vmap(lambda b: jnp.linalg.solve(g + b * jnp.diag(penalty), c))(betas)
    intercept = my[None, :] - jnp.einsum("f,rfo->ro", mx, w) if bias else jnp.zeros((len(betas), c.shape[1]), c.dtype)
    return intercept, w


def fit_and_score(x_train, y_train, x_test, y_test, ridges, cfg: TaskConfig) -> dict:
    """Cross-validate (when several ridges), fit, predict the test rows and score them.

    The Gram matrix of the training rows is formed once, as the sum of one block per fold; a
    fold's training moments are the total minus its own. The folds are solved one after the
    other (``lax.map``): XLA on CPU would otherwise run their LAPACK solves concurrently, which
    deadlocked here."""
    scale = jnp.std(x_train, axis=0) if cfg.standardize else jnp.ones(x_train.shape[1], x_train.dtype)
    penalty = jnp.where(scale > 0, scale, 1.0) ** 2
    n = x_train.shape[0]
    if cfg.n_ridges > 1:
        edges = np.linspace(0, n, cfg.folds + 1).astype(int)
        blocks = [_moments(x_train[lo:hi], y_train[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]
        per_fold = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *blocks)
        total = jax.tree_util.tree_map(lambda a: jnp.sum(a, axis=0), per_fold)
        held = np.stack([(np.arange(n) >= lo) & (np.arange(n) < hi) for lo, hi in zip(edges[:-1], edges[1:])])

        def fold_error(args):
            fold, out = args
            rest = jax.tree_util.tree_map(lambda t, f: t - f, total, fold)
            b, w = _fit(rest, ridges, penalty, cfg.bias)
            pred = b[:, None, :] + jnp.einsum("tf,rfo->rto", x_train, w)
            sq = jnp.sum(out[None, :, None] * (pred - y_train[None]) ** 2, axis=(1, 2))
            return sq / (jnp.sum(out) * y_train.shape[1])

        errors = jnp.mean(lax.map(fold_error, (per_fold, jnp.asarray(held, x_train.dtype))), axis=0)
        beta = ridges[jnp.argmin(errors)]
        b, w = _fit(total, beta[None], penalty, cfg.bias)
    else:
        beta = ridges[0]
        b, w = _fit(_moments(x_train, y_train), beta[None], penalty, cfg.bias)
    pred = b[0] + x_test @ w[0]
    err2 = (pred - y_test) ** 2
    out = {"ridge": beta}
    for m in cfg.metrics:
        if m == "mse":
            out[m] = jnp.mean(err2)
        elif m == "nrmse":
            out[m] = jnp.sqrt(jnp.mean(err2) / jnp.var(y_test))
        elif m == "nrmse_rms":
            out[m] = jnp.sqrt(jnp.mean(err2) / jnp.mean(y_test ** 2))
        elif m == "r2":
            ss_tot = jnp.sum((y_test - jnp.mean(y_test, axis=0)) ** 2, axis=0)
            out[m] = jnp.mean(1 - jnp.sum(err2, axis=0) / ss_tot)
        elif m == "memory_capacity":
            pc, yc = pred - jnp.mean(pred, axis=0), y_test - jnp.mean(y_test, axis=0)
            out[m] = jnp.sum(jnp.sum(pc * yc, axis=0) ** 2 / (jnp.sum(pc * pc, axis=0) * jnp.sum(yc * yc, axis=0)))
        elif m == "accuracy":
            out[m] = jnp.mean((jnp.argmax(pred, axis=1) == jnp.argmax(y_test, axis=1)).astype(pred.dtype))
    return out


def task_point(model, state, arrays, ridges, cfg: TaskConfig, dt):
    """The scores of one sweep point (pure; vmapped over points)."""
    u, y = arrays["u"], arrays["y"]
    if cfg.kind == "series":
        x = _features(model, state, u, dt, cfg)
        if cfg.use_inputs:
            x = jnp.concatenate([u.astype(x.dtype), x], axis=1)
        w, tr, te = cfg.washout, cfg.train, cfg.test
        return fit_and_score(x[w:w + tr], y[w:w + tr], x[w + tr:w + tr + te], y[w + tr:w + tr + te], ridges, cfg)
    n = cfg.train
    x = _pooled(model, state, u, dt, cfg)
    return fit_and_score(x[:n], y[:n], x[n:], y[n:], ridges, cfg)


@partial(jax.jit, static_argnames=("paths", "cfg", "dt", "batched_model", "ridge_column"))
def task_chunk(model, state, values, arrays, *, paths, cfg: TaskConfig, dt, batched_model: bool, ridge_column):
    """Every point of a chunk in one vmapped call (``values``: ``(B, n_columns)``)."""

    def one(m, s, v):
        for j, p in enumerate(paths):
            m = with_parameter(m, p, v[j])
        ridges = v[ridge_column][None] if ridge_column is not None else arrays["ridges"]
        return task_point(m, s, arrays, ridges, cfg, dt)

    axes = (0, 0, 0) if batched_model else (None, None, 0)
    return jax.vmap(one, in_axes=axes)(model, state, values)


def bytes_per_point(cfg: TaskConfig, arrays, n_features: int, state_size: int) -> int:
    """Memory one point of a chunk holds at its peak (features, their copies, the solves)."""
    f = n_features + (arrays["u"].shape[-1] if cfg.use_inputs else 0) + 1
    if cfg.kind == "series":
        rows = arrays["u"].shape[0]
        return 8 * (3 * rows * f + 2 * cfg.n_ridges * f * arrays["y"].shape[1] + 3 * f * f)
    n = arrays["u"].shape[0]
    return 8 * (3 * n * f + 3 * n * state_size + 2 * cfg.n_ridges * f * arrays["y"].shape[1] + 3 * f * f)
