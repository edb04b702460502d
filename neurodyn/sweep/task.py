"""Task scores as sweep measures: every sweep point harvests its reservoir on the spec's
``[task]`` data, fits the readout and scores it, all inside the compiled, vmapped chunk.

The readout is the one :func:`neurodyn.runs.task.train_and_score` fits (``neurodyn run``), solved
in the compiled call by the same normal equations (:mod:`neurodyn.readout.normal_equations`):
ridge regression with an unregularised intercept, the rows centred on their training mean, a
Cholesky solve of the centred Gram matrix per ridge value, several values compared by
time-blocked ``folds``-fold cross-validation (mean held-out MSE; a fold's training moments are
the total less its own) and the smallest error wins, per point. A swept ``task.readout.ridge`` gives every point its own
single value instead.

A split is 0/1 row masks: every point harvests all ``steps`` rows and weights them. A fixed
split's masks are compile-time constants; a swept one (:data:`SWEEPABLE`: ``task.washout``,
``task.train``, ``task.test`` (series) and ``task.readout.folds``) builds them inside the
compiled call from the point's own split, so one compilation serves the grid. Each fold is read
as a fixed-length window (the longest fold) starting at its first row and masked to the fold,
so the fold moments, summed to the total, cost about one pass over the training rows.

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

from ..core.loop import join_drive, transition
from ..core.parameters import with_parameter
from ..readout.harvest import feature_trajectory
from ..readout import normal_equations as ne
from ..readout.metrics import METRICS, score
from ..readout.normal_equations import fold_edges
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
    split: tuple  # (washout, train, test, folds) of the spec: the static masks of a fixed split
    bias: bool
    standardize: bool
    use_inputs: bool
    pool: str
    n_ridges: int
    metrics: tuple
    split_traced: bool = False  # the split is per point (a grid axis): traced masks
    max_folds: int = 0  # the largest fold count (of the grid)
    fold_rows: int = 0  # the longest cross-validation block (of the grid)


def config(task, metrics, n_ridges: int, data, splits=None) -> TaskConfig:
    """The :class:`TaskConfig` of a :class:`neurodyn.spec.task.Task` for the given metrics (a
    classification set trains on its first ``data.n_train`` sequences); ``splits`` (the
    ``(washout, train, test, folds)`` of every grid point, :func:`split_values`) makes the split
    per point, sized by its largest fold count and its longest fold."""
    r = task.readout
    fixed = split_values(task, data)
    every = splits if splits is not None else [fixed]
    max_folds = max(int(f) for *_, f in every)
    fold_rows = max(int(np.max(np.diff(fold_edges(int(tr), int(f))))) for _, tr, _, f in every)
    return TaskConfig(task.kind, task.inputs, task.features, fixed, r["bias"], r["standardize"], r["use_inputs"],
                      r["pool"], n_ridges, tuple(metrics), splits is not None, max_folds, fold_rows)


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
    """One feature vector per sequence (``u``: ``(n, T, d)``, each run from ``state``): the last
    or the mean state (summed as the run goes, so no trajectory is kept)."""

    def one(seq):
        drive = {p: seq for p in cfg.inputs}

        def body(carry, i):
            st, total = carry
            st = transition(model, st, drive, i, dt)
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


def scores(pred, y, m, metrics) -> dict:
    """The registered ``metrics`` (:data:`neurodyn.readout.metrics.METRICS`) of ``pred`` against
    ``y`` over the rows where the 0/1 weights ``m`` are 1, in JAX (inside the compiled chunk)."""
    return {name: score(name, pred, y, m, jnp) for name in metrics}


def fit_and_score(x, y, split, ridges, cfg: TaskConfig) -> dict:
    """Cross-validate (when several ridges), fit and score one point's readout on its rows ``x``
    ``(T, F)``, ``y`` ``(T, k)`` with the split ``(washout, train, test, folds)`` (a fixed split:
    numbers, static masks; a swept one: traced numbers), through the normal equations of
    :mod:`neurodyn.readout.normal_equations`.

    Rows ``washout <= r < washout + train`` train, the next ``test`` rows test; the training rows
    form ``folds`` contiguous blocks with the edges of
    :func:`neurodyn.readout.normal_equations.fold_edges` (``floor(i * (train / folds))``, the last
    ``train``), the blocks past ``folds`` (up to ``cfg.max_folds``) empty and left out of the mean.
    A block is read as a window of ``cfg.fold_rows`` rows (the grid's longest block) from its
    first row, masked to the block, so its moments cost about one pass over the training rows;
    the total is the sum of the blocks', and a fold's training moments are the total less its
    own."""
    w0, n_tr, n_te, folds = (jnp.asarray(v, x.dtype) for v in split)
    pos = jnp.arange(x.shape[0], dtype=x.dtype) - w0  # position among the training rows
    train = ((pos >= 0) & (pos < n_tr)).astype(x.dtype)
    test = ((pos >= n_tr) & (pos < n_tr + n_te)).astype(x.dtype)
    n = jnp.sum(train)
    if cfg.standardize:
        scale = jnp.sqrt((train @ (x - (train @ x) / n) ** 2) / n)
        x = x / jnp.where(scale > 0, scale, 1.0)
    target, y_mean = y, jnp.zeros(y.shape[1], y.dtype)
    if cfg.bias:  # rows centred on the training means, as Ridge centres them (the intercept absorbs them)
        y_mean = (train @ y) / n
        x, y = x - (train @ x) / n, y - y_mean
    if cfg.n_ridges > 1:
        i = jnp.arange(cfg.max_folds + 1, dtype=x.dtype)
        edges = w0 + jnp.where(i >= folds, n_tr, jnp.floor(i * (n_tr / folds)))  # fold_edges(train, folds)
        rows = min(cfg.fold_rows, x.shape[0])

        def block(f):
            """Rows, targets and 0/1 weights of fold ``f`` (a window of ``rows`` rows)."""
            start = jnp.clip(edges[f], 0, x.shape[0] - rows).astype(jnp.int32)
            idx = (start + jnp.arange(rows)).astype(x.dtype)
            held = ((idx >= edges[f]) & (idx < edges[f + 1])).astype(x.dtype)
            return lax.dynamic_slice_in_dim(x, start, rows), lax.dynamic_slice_in_dim(y, start, rows), held

        per_fold = lax.map(lambda f: ne.moments(*block(f), jnp), jnp.arange(cfg.max_folds))
        total = ne.Moments(*(jnp.sum(a, axis=0) for a in per_fold))
        errors = ne.blocked_cv_errors(total, per_fold, block, ridges, folds, bias=cfg.bias, xp=jnp)
        beta = ridges[jnp.argmin(errors)]
    else:
        total, beta = ne.moments(x, y, train, jnp), ridges[0]
    b, w = ne.solve(total, beta[None], bias=cfg.bias, xp=jnp)
    return {"ridge": beta, **scores(b[0] + y_mean + x @ w[0], target, test, cfg.metrics)}


def task_point(model, state, arrays, ridges, cfg: TaskConfig, dt, split=None):
    """The scores of one sweep point (pure; vmapped over points); ``split`` (with
    ``cfg.split_traced``): this point's ``(washout, train, test, folds)``."""
    u, y = arrays["u"], arrays["y"]
    if cfg.kind == "series":
        x = _features(model, state, u, dt, cfg)
        if cfg.use_inputs:
            x = jnp.concatenate([u.astype(x.dtype), x], axis=1)
    else:
        x = _pooled(model, state, u, dt, cfg)
    return fit_and_score(x, y, split if cfg.split_traced else cfg.split, ridges, cfg)


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
    """Memory one point of a chunk holds at its peak: its features and their centred, scaled and
    weighted copies, and the normal equations (the total Gram matrix, one per fold, one shifted
    matrix per ridge value for the Cholesky solves, the weights)."""
    f = n_features + (arrays["u"].shape[-1] if cfg.use_inputs else 0) + 1
    solves = 2 * cfg.n_ridges * f * arrays["y"].shape[1] + (3 + cfg.max_folds + cfg.n_ridges) * f * f
    if cfg.kind == "series":
        return 8 * (3 * arrays["u"].shape[0] * f + solves)
    n = arrays["u"].shape[0]
    return 8 * (3 * n * f + 3 * n * state_size + solves)
