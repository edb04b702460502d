"""The normal equations of a ridge readout: the one place a ridge regression is solved
(docs/models/reservoirs.md, "Readout"; the habit of ReservoirPy's ``nodes/readouts/ridge.py``:
accumulate, then solve once, offline and streamed alike).

A readout ``y = b + x W`` with an unregularised intercept ``b`` is fitted from the row moments
of its training rows, :class:`Moments` ``(n, sum x, sum y, X^T X, X^T Y, sum y^2)``. Moments
are sums, so they are accumulated chunk by chunk (:func:`accumulate`; a streamed run never
keeps its rows) and a block of rows is taken out of them by subtraction (:func:`subtract`: the
training moments of a cross-validation fold are the total less the fold's own). Rows carry
0/1 weights, so a split (washout, train, test, folds) is a set of row masks: static arrays for
a fixed split, traced ones for a split that is a sweep axis.

:func:`solve` gives the weights of every ridge value at once, on the host from ONE
eigendecomposition of the centred Gram matrix ``Xc^T Xc = X^T X - n m_x m_x^T = V diag(lambda)
V^T``: ``W(beta) = V diag(1 / (lambda + beta)) V^T Xc^T Yc`` and ``b = m_y - m_x W(beta)`` (in a
compiled chunk by one Cholesky solve per value, see :func:`solve`); this is
``(X^T X + beta P) W = X^T Y`` with the bias column unpenalised (M. Lukoševičius, "A Practical
Guide to Applying Echo State Networks", 2012); standardised features are rows divided by their
standard deviations before their moments. :func:`blocked_cv_errors` is the time-blocked k-fold cross-validation: fold
``f`` holds out the contiguous rows ``[e_f, e_{f+1})``, ``e = floor(linspace(0, n, k + 1))``,
the readout is fitted on the other rows (the total moments less the fold's) and scored by its
mean squared error on the held-out rows, averaged over the folds.

Every function takes the array module ``xp``: NumPy (float64, on the host: ``readout.Ridge``
and a spec's ``[task]``) or ``jax.numpy`` (inside a compiled, vmapped sweep chunk: the task
scores and the streamed ``Measure.ridge``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class Moments(NamedTuple):
    """Row moments of a readout's training rows (weighted by 0/1 row weights): the row count
    ``n``, ``sx = sum x`` ``(F,)``, ``sy = sum y`` ``(k,)``, ``gram = X^T X`` ``(F, F)``,
    ``cross = X^T Y`` ``(F, k)``, ``syy = sum y^2`` ``(k,)`` per output."""

    n: object
    sx: object
    sy: object
    gram: object
    cross: object
    syy: object


def moments(x, y, weight=None, xp=np) -> Moments:
    """The :class:`Moments` of rows ``x`` ``(T, F)``, targets ``y`` ``(T, k)`` over the rows where
    the 0/1 ``weight`` ``(T,)`` is 1 (every row when None)."""
    if weight is None:
        return Moments(xp.asarray(x.shape[0], x.dtype), xp.sum(x, axis=0), xp.sum(y, axis=0), x.T @ x, x.T @ y,
                       xp.sum(y ** 2, axis=0))
    wc = weight[:, None]
    return Moments(xp.sum(weight), weight @ x, weight @ y, x.T @ (wc * x), x.T @ (wc * y), weight @ (y ** 2))


def zeros(n_features: int, n_outputs: int, dtype, xp=np) -> Moments:
    """The moments of no rows (the start of a streamed accumulation)."""
    z = lambda *shape: xp.zeros(shape, dtype)  # noqa: E731
    return Moments(z(), z(n_features), z(n_outputs), z(n_features, n_features), z(n_features, n_outputs),
                   z(n_outputs))


def accumulate(m: Moments, x, y, xp=np, gram: Callable | None = None) -> Moments:
    """``m`` with the rows ``x`` ``(K, F)``, ``y`` ``(K, k)`` of one more chunk added.
    ``gram(G, x)``: the Gram update to use (``G + x^T x``; e.g. BLAS's rank-k update of
    :func:`neurodyn.ops.gram.accumulate_gram`, which keeps the lower triangle)."""
    return Moments(m.n + x.shape[0], m.sx + xp.sum(x, axis=0), m.sy + xp.sum(y, axis=0),
                   gram(m.gram, x) if gram is not None else m.gram + x.T @ x, m.cross + x.T @ y,
                   m.syy + xp.sum(y ** 2, axis=0))


def add(a: Moments, b: Moments) -> Moments:
    """The moments of the rows of ``a`` and of ``b`` together."""
    return Moments(*(p + q for p, q in zip(a, b)))


def subtract(total: Moments, part: Moments) -> Moments:
    """The moments of the rows of ``total`` that are not in ``part`` (a fold's training rows)."""
    return Moments(*(t - p for t, p in zip(total, part)))


def solve(m: Moments, ridges, *, bias: bool = True, xp=np):
    """Ridge readouts for every value in ``ridges`` ``(R,)``: ``(intercepts (R, k), weights
    (R, F, k))`` (see the module docstring). ``bias``: an unregularised intercept (the rows
    centred on their mean), else none (``b = 0``).

    With NumPy one eigendecomposition serves every value. With ``jax.numpy`` (inside a compiled
    chunk) each value is one Cholesky solve of ``Xc^T Xc + beta I``: XLA's CPU eigendecomposition
    of a vmapped batch stalled with OpenBLAS's threads (a sweep of 8 ESNs of 300 units never
    finished; with one OpenBLAS thread it took 2 s), and for the few values a task compares
    (R <= 4, one eigendecomposition costing about nine Cholesky factorisations) it is also the
    cheaper solve. A ridge below ``eps(dtype) * trace(Xc^T Xc)`` is raised to that value: the
    Gram matrix is only known to its rounding, which in float32 leaves nearly collinear states with
    eigenvalues down to about minus that (a smaller ridge made Cholesky fail: NaN readouts);
    larger ridges are used as given. The centring ``X^T X - n m_x m_x^T`` loses the digits of the
    mean: rows with a large mean are best shifted first (by their mean, or any row), the intercept
    absorbing the shift (:func:`unshift`)."""
    g, c = m.gram, m.cross
    if bias:
        mx, my = m.sx / m.n, m.sy / m.n
        g, c = g - m.n * xp.outer(mx, mx), c - m.n * xp.outer(mx, my)
    if xp is np:
        lam, v = np.linalg.eigh(g)
        beta = np.maximum(ridges, np.finfo(g.dtype).eps * np.trace(g))
        w = np.einsum("fk,rk,ko->rfo", v, 1.0 / (lam[None, :] + beta[:, None]), v.T @ c)
    else:
        import jax
        from jax.scipy.linalg import cho_factor, cho_solve

        eye = xp.eye(g.shape[0], dtype=g.dtype)
        # a ridge below the Gram matrix's rounding (eps * trace bounds it) is raised to it: in float32
        # the rounded Gram of nearly collinear states has eigenvalues down to about -eps * trace, and a
        # smaller ridge left Cholesky a negative pivot (NaN readouts); larger ridges are unchanged
        floor = xp.finfo(g.dtype).eps * xp.trace(g)
        w = jax.vmap(lambda beta: cho_solve(cho_factor(g + xp.maximum(beta, floor) * eye, lower=True), c))(ridges)
    if bias:
        return my[None, :] - xp.einsum("f,rfo->ro", mx, w), w
    return xp.zeros((w.shape[0], c.shape[1]), w.dtype), w


def unshift(intercepts, weights, shift, target_shift=0.0, xp=np):
    """``(intercepts, weights)`` of readouts fitted on rows ``x - shift`` and targets ``y -
    target_shift``, for the rows ``x`` and targets ``y`` themselves."""
    return intercepts - xp.einsum("f,rfo->ro", shift, weights) + target_shift, weights


def predict(intercepts, weights, x, xp=np):
    """``(R, T, k)`` outputs ``b_r + x W_r`` of every readout of :func:`solve` on rows ``x`` ``(T, F)``."""
    return intercepts[:, None, :] + xp.einsum("tf,rfo->rto", x, weights)


def squared_error(m: Moments, intercept, w, xp=np):
    """``sum over the rows of (b + x W - y)^2`` per output ``(k,)`` from the moments alone (no
    row kept): ``n b^2 + 2 b (sx W - sy) + diag(W^T G W) - 2 diag(W^T C) + syy``."""
    return (m.n * intercept ** 2 + 2 * intercept * (m.sx @ w - m.sy) + xp.einsum("fo,fg,go->o", w, m.gram, w)
            - 2 * xp.sum(w * m.cross, axis=0) + m.syy)


def fold_edges(n: int, folds: int) -> np.ndarray:
    """The ``folds + 1`` edges ``floor(linspace(0, n, folds + 1))`` of the contiguous blocks of
    ``n`` training rows (fold ``f``: rows ``edges[f] <= r < edges[f + 1]``)."""
    return np.linspace(0, n, folds + 1).astype(int)


def held_out_error(total: Moments, fold: Moments, x, y, held, ridges, *, bias: bool = True, xp=np):
    """The held-out mean squared error ``(R,)`` of one fold: the readouts fitted on ``total``
    less ``fold`` (the fold's own moments), scored on the rows ``x``, ``y`` where the 0/1
    ``held`` is 1 (0 when no row is held out)."""
    b, w = solve(subtract(total, fold), ridges, bias=bias, xp=xp)
    sq = xp.sum(held[None, :, None] * (predict(b, w, x, xp) - y[None]) ** 2, axis=(1, 2))
    count = xp.sum(held)
    return xp.where(count > 0, sq / (xp.maximum(count, 1) * y.shape[1]), 0.0)


def blocked_cv_errors(total: Moments, folds: Moments, rows: Callable, ridges, n_folds, *, bias: bool = True,
                      xp=np):
    """Mean held-out MSE ``(R,)`` of every ridge value over the folds (see the module
    docstring). ``folds``: the fold moments stacked on a leading axis (a fold of no rows
    counts for nothing); ``rows(f) -> (x, y, held)``: the rows of fold ``f`` with their 0/1
    held-out weights; ``n_folds``: the number of real folds the errors are averaged over. With
    ``jax.numpy`` the folds are solved one after the other (``lax.map``): XLA on CPU would
    otherwise run their LAPACK calls concurrently, which deadlocked."""
    count = folds.n.shape[0]

    def one(f, fold):
        return held_out_error(total, fold, *rows(f), ridges, bias=bias, xp=xp)

    if xp is np:
        errors = np.stack([one(f, Moments(*(a[f] for a in folds))) for f in range(count)])
    else:
        from jax import lax

        errors = lax.map(lambda args: one(*args), (xp.arange(count), folds))
    return xp.sum(errors, axis=0) / n_folds
