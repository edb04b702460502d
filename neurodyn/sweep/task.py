"""Task scores as sweep measures: every sweep point harvests its reservoir on the spec's
``[task]`` data, fits the readout and scores it, all inside the compiled, vmapped chunk.

The readout is the one :func:`neurodyn.spec.task.train_and_score` fits (``neurodyn run``), solved
in the compiled call instead of NumPy: ridge regression with an unregularised intercept,
``(Z^T Z + beta P) w = Z^T y`` with ``Z = [1, x]`` and ``P = diag(0, s^2)`` (``s`` the feature
standard deviations with ``standardize``, else ones), which equals the centred solve of
:class:`~neurodyn.readout.Ridge`; several ridge values are compared by the same time-blocked
``folds``-fold cross-validation (mean held-out MSE) and the smallest error wins, per point. A
swept ``task.readout.ridge`` gives every point its own single value instead.

Swept split (:data:`SWEEPABLE`): ``task.washout``, ``task.train``, ``task.test`` (series) and
``task.readout.folds`` change which rows train, test and form each fold, not any array's
shape: every point harvests all ``steps`` rows and weights them with 0/1 masks built inside the
compiled call from its own split, so one compilation serves the grid. Each fold is read as a
fixed-length window (the grid's longest fold) starting at its first row and masked to the
fold, so the fold Gram matrices, summed to the total, cost about one pass over the training
rows, as with a fixed split.

Ordinary measures (``mean``, ``max_lyapunov``, ...) asked for beside task scores run in the same
compiled chunk, on the same run a measure-only sweep makes (:func:`neurodyn.sweep.point.point`:
the spec's steps and transient, the sweep's ``drive``), so a mixed sweep's numbers equal the two
separate sweeps'.

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

from ..core.loop import join_drive
from ..core.parameters import with_parameter
from ..readout.harvest import feature_trajectory
from ..readout.metrics import METRICS, score
from .point import point


def is_task_score(name: str) -> bool:
    """Whether ``name`` is a task score: a metric of :data:`neurodyn.readout.metrics.METRICS`."""
    return name in METRICS

SPLIT_FIELDS = {"task.washout": "washout", "task.train": "train", "task.test": "test",
                "task.readout.folds": "folds"}
SWEEPABLE = ("task.readout.ridge", *SPLIT_FIELDS)
"""The ``[task]`` fields a task sweep can take as grid axes (no recompilation per point)."""


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
    split_traced: bool = False  # the split (washout, train, test, folds) is per point: masked rows
    max_folds: int = 0  # with split_traced: the largest fold count of the grid
    fold_rows: int = 0  # with split_traced: the longest cross-validation block of the grid


def config(task, metrics, n_ridges: int, data, splits=None) -> TaskConfig:
    """The :class:`TaskConfig` of a :class:`neurodyn.spec.task.Task` for the given metrics (a
    classification set trains on its first ``data.n_train`` sequences); ``splits`` (the
    ``(washout, train, test, folds)`` of every grid point, :func:`split_values`) makes the split
    per point, sized by its largest fold count and its longest fold."""
    r = task.readout
    train = task.train if task.kind == "series" else data.n_train
    max_folds = fold_rows = 0
    if splits is not None:
        max_folds = max(int(f) for *_, f in splits)
        fold_rows = max(int(np.max(np.diff(np.linspace(0, tr, int(f) + 1).astype(int)))) for _, tr, _, f in splits)
    return TaskConfig(task.kind, task.inputs, task.features, task.washout, train, task.test, r["folds"],
                      r["bias"], r["standardize"], r["use_inputs"], r["pool"], n_ridges, tuple(metrics),
                      splits is not None, max_folds, fold_rows)


def split_values(task, data) -> tuple:
    """``(washout, train, test, folds)`` of a validated task, as the masked split uses them (a
    classification set: no washout, its first ``data.n_train`` sequences train, the rest test)."""
    if task.kind == "series":
        return (task.washout, task.train, task.test, task.readout["folds"])
    return (0, data.n_train, data.inputs.shape[0] - data.n_train, task.readout["folds"])


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
    """``(n, sum x, sum y, X^T X, X^T Y)`` of a block of rows."""
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
    return {"ridge": beta, **scores(pred, y_test, jnp.ones(y_test.shape[0], pred.dtype), cfg.metrics)}


def _masked_moments(x, y, m) -> tuple:
    """:func:`_moments` of the rows where the 0/1 weights ``m`` are 1 (``sum m x x^T = (mX)^T (mX)``)."""
    return (jnp.sum(m), m @ x, m @ y, x.T @ (m[:, None] * x), x.T @ (m[:, None] * y))


def scores(pred, y, m, metrics) -> dict:
    """The registered ``metrics`` (:data:`neurodyn.readout.metrics.METRICS`) of ``pred`` against
    ``y`` over the rows where the 0/1 weights ``m`` are 1, in JAX (inside the compiled chunk)."""
    return {name: score(name, pred, y, m, jnp) for name in metrics}


def fit_and_score_masked(x, y, split, ridges, cfg: TaskConfig) -> dict:
    """:func:`fit_and_score` with the split given per point: ``split = (washout, train, test,
    folds)`` (traced numbers). Rows ``washout <= r < washout + train`` train, the next ``test``
    rows test; the training rows form ``folds`` contiguous blocks with the edges of
    :func:`neurodyn.readout.ridge.blocked_cv_errors` (``floor(i * (train / folds))``, the last
    ``train``), the blocks past ``folds`` (up to ``cfg.max_folds``) empty and left out of the mean.
    A block is read as a window of ``cfg.fold_rows`` rows (the grid's longest block) from its
    first row, masked to the block, so the Gram matrices cost about one pass over the training
    rows, as with a fixed split."""
    w0, n_tr, n_te, folds = (jnp.asarray(v, x.dtype) for v in split)
    r = jnp.arange(x.shape[0], dtype=x.dtype)
    pos = r - w0  # position among the training rows
    train = ((pos >= 0) & (pos < n_tr)).astype(x.dtype)
    test = ((pos >= n_tr) & (pos < n_tr + n_te)).astype(x.dtype)
    n = jnp.sum(train)
    mean = (train @ x) / n
    scale = jnp.sqrt((train @ (x - mean) ** 2) / n) if cfg.standardize else jnp.ones(x.shape[1], x.dtype)
    penalty = jnp.where(scale > 0, scale, 1.0) ** 2
    if cfg.n_ridges > 1:
        i = jnp.arange(cfg.max_folds + 1, dtype=x.dtype)
        edges = w0 + jnp.where(i >= folds, n_tr, jnp.floor(i * (n_tr / folds)))  # np.linspace(0, n, folds + 1)
        rows = min(cfg.fold_rows, x.shape[0])

        def block(f):
            """Rows, targets and 0/1 weights of fold ``f`` (a window of ``rows`` rows)."""
            start = jnp.clip(edges[f], 0, x.shape[0] - rows).astype(jnp.int32)
            idx = (start + jnp.arange(rows)).astype(x.dtype)
            held = ((idx >= edges[f]) & (idx < edges[f + 1])).astype(x.dtype)
            return lax.dynamic_slice_in_dim(x, start, rows), lax.dynamic_slice_in_dim(y, start, rows), held

        per_fold = lax.map(lambda f: _masked_moments(*block(f)), jnp.arange(cfg.max_folds))
        total = jax.tree_util.tree_map(lambda a: jnp.sum(a, axis=0), per_fold)

        def fold_error(args):
            f, fold = args
            xs, ys, held = block(f)
            rest = jax.tree_util.tree_map(lambda t, h: t - h, total, fold)
            b, w = _fit(rest, ridges, penalty, cfg.bias)
            pred = b[:, None, :] + jnp.einsum("tf,rfo->rto", xs, w)
            sq = jnp.sum(held[None, :, None] * (pred - ys[None]) ** 2, axis=(1, 2))
            count = jnp.sum(held)
            return jnp.where(count > 0, sq / (jnp.maximum(count, 1) * y.shape[1]), 0.0)

        errors = jnp.sum(lax.map(fold_error, (jnp.arange(cfg.max_folds), per_fold)), axis=0) / folds
        beta = ridges[jnp.argmin(errors)]
    else:
        total = _masked_moments(x, y, train)
        beta = ridges[0]
    b, w = _fit(total, beta[None], penalty, cfg.bias)
    return {"ridge": beta, **scores(b[0] + x @ w[0], y, test, cfg.metrics)}


def task_point(model, state, arrays, ridges, cfg: TaskConfig, dt, split=None):
    """The scores of one sweep point (pure; vmapped over points); ``split`` (with
    ``cfg.split_traced``): this point's ``(washout, train, test, folds)``."""
    u, y = arrays["u"], arrays["y"]
    if cfg.kind == "series":
        x = _features(model, state, u, dt, cfg)
        if cfg.use_inputs:
            x = jnp.concatenate([u.astype(x.dtype), x], axis=1)
        if cfg.split_traced:
            return fit_and_score_masked(x, y, split, ridges, cfg)
        w, tr, te = cfg.washout, cfg.train, cfg.test
        return fit_and_score(x[w:w + tr], y[w:w + tr], x[w + tr:w + tr + te], y[w + tr:w + tr + te], ridges, cfg)
    n = cfg.train
    x = _pooled(model, state, u, dt, cfg)
    if cfg.split_traced:
        return fit_and_score_masked(x, y, split, ridges, cfg)
    return fit_and_score(x[:n], y[:n], x[n:], y[n:], ridges, cfg)


@partial(jax.jit, static_argnames=("paths", "cfg", "dt", "batched_model", "columns", "measures", "steps",
                                   "transient", "drive_fn"))
def task_chunk(model, state, values, arrays, drive_arrays=None, *, paths, cfg: TaskConfig, dt, batched_model: bool,
               columns=(), measures=(), steps=0, transient=0, drive_fn=None):
    """Every point of a chunk in one vmapped call (``values``: ``(B, n_columns)``): the task
    scores and, when ``measures`` (ordinary sweep measures) are given, those of the run
    :func:`neurodyn.sweep.point.point` makes (``steps``, ``transient``, the drive), on the
    same parameters. ``columns``: ``(name, column)`` pairs of the values that are task fields
    (``"ridge"``, and with ``cfg.split_traced`` ``"washout"``, ``"train"``, ``"test"``,
    ``"folds"``: every one of the four, a per-point copy of the split)."""
    col = dict(columns)

    def one(m, s, v):
        for j, p in enumerate(paths):
            m = with_parameter(m, p, v[j])
        ridges = v[col["ridge"]][None] if "ridge" in col else arrays["ridges"]
        split = tuple(v[col[k]] for k in ("washout", "train", "test", "folds")) if cfg.split_traced else None
        out = task_point(m, s, arrays, ridges, cfg, dt, split)
        if measures:
            out.update(point(m, s, v[:0], join_drive(drive_fn, drive_arrays), paths=(), steps=steps,
                             transient=transient, measures=measures, dt=dt))
        return out

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
