"""Ridge (Tikhonov) readout ``y(t) = W_out [1; u(t); x(t)]`` (docs/models/reservoirs.md;
M. Lukoševičius, "A Practical Guide to Applying Echo State Networks", 2012).

Solved by the normal equations of :mod:`neurodyn.readout.normal_equations` in float64 on the
host, the solve the sweeps' task scores and ``Measure.ridge`` use inside their compiled calls:
all regularisation values from ONE eigendecomposition of the centred Gram matrix
``Xc^T Xc = V diag(lambda) V^T``, ``W(beta) = V diag(1 / (lambda + beta)) V^T Xc^T Yc``, the
intercept ``mean(y) - mean(x) W(beta)`` (the bias is not regularised). This equals solving
``(X^T X + beta P) W = X^T Y`` with ``P`` the identity without its bias entry. The
regularisation is chosen, when several values are given, by time-blocked k-fold
cross-validation: contiguous blocks of the (concatenated) training rows are held out in turn,
so no fold is scored on samples interleaved with its training samples; a fold's training
moments are the total less the block's own.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import SpecError
from ..pytree import pytree_dataclass
from . import normal_equations as ne
from .metrics import DEFAULT_SCORES, score


def _rows(features, targets):
    return np.asarray(features, float), np.asarray(targets, float).reshape(len(features), -1)


def _fit(x, y, ridges, bias: bool):
    """``(intercepts (R, k), weights (R, F, k))`` of rows ``x``, ``y`` for every ridge value; with
    an intercept the rows are centred on their mean first (the intercept absorbs it, and the
    Gram matrix of the centred rows loses no digits to the centring)."""
    ridges = np.atleast_1d(np.asarray(ridges, float))
    if not bias:
        return ne.solve(ne.moments(x, y), ridges, bias=False)
    shift, target_shift = x.mean(axis=0), y.mean(axis=0)
    return ne.unshift(*ne.solve(ne.moments(x - shift, y - target_shift), ridges), shift, target_shift)


def _cv_errors(x, y, ridges, folds: int, bias: bool):
    """:func:`neurodyn.readout.normal_equations.blocked_cv_errors` of the rows ``x``, ``y`` (centred
    on their means when ``bias``): the moments of each block, their sum the total."""
    if not 2 <= folds <= len(x):
        raise SpecError(f"Ridge.folds: need 2 <= folds <= number of training rows ({len(x)}), got {folds}")
    if bias:
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    edges = ne.fold_edges(len(x), folds)
    blocks = [ne.moments(x[lo:hi], y[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:])]
    per_fold = ne.Moments(*(np.stack(a) for a in zip(*blocks)))
    total = ne.Moments(*(np.sum(a, axis=0) for a in per_fold))

    def rows(f):
        lo, hi = edges[f], edges[f + 1]
        return x[lo:hi], y[lo:hi], np.ones(hi - lo)

    return ne.blocked_cv_errors(total, per_fold, rows, np.atleast_1d(np.asarray(ridges, float)), folds, bias=bias)


def ridge_path(features, targets, ridges) -> np.ndarray:
    """Ridge weights for every value in ``ridges`` at once: ``(len(ridges), 1 + F, n_out)``,
    row 0 the (unregularised) intercept. ``features`` ``(T, F)``, ``targets`` ``(T, n_out)``."""
    b, w = _fit(*_rows(features, targets), ridges, True)
    return np.concatenate([b[:, None, :], w], axis=1)


def blocked_cv_errors(features, targets, ridges, folds: int = 5, bias: bool = True) -> np.ndarray:
    """Mean held-out MSE of each ridge value over ``folds`` contiguous time blocks (each block
    held out once, the readout fitted on the rest, with an intercept when ``bias``)."""
    return _cv_errors(*_rows(features, targets), ridges, folds, bias)


def _sequences(value):
    """A list of 2-D float arrays from one array or a list of arrays (one per sequence)."""
    seqs = value if isinstance(value, (list, tuple)) else [value]
    return [np.asarray(s, float).reshape(len(s), -1) for s in seqs]


@pytree_dataclass(static=("washout", "bias", "use_inputs", "standardize", "folds"))
class Ridge:
    """Linear readout ``y(t) = W_out [1; u(t); x(t)]`` fitted by ridge regression; an immutable
    pytree: :meth:`fit` returns a fitted copy.

    ``ridge``: the regularisation beta, or several values to choose from by time-blocked
    ``folds``-fold cross-validation (the fitted copy holds the chosen value, and ``cv_errors``
    the mean held-out MSE of each candidate in ``candidates``). ``washout``: leading samples of
    EVERY sequence dropped from the fit. ``bias``: a constant feature, not regularised.
    ``use_inputs``: include u(t) (then pass ``inputs`` everywhere). ``standardize``: regularise
    features divided by their training standard deviation (with the unregularised intercept this
    equals z-scoring); the stored ``weights`` act on raw features either way.

    States come from :func:`neurodyn.readout.harvest` (row t: the state after consuming u(t)), so
    ``states[t]`` is paired with ``targets[t]`` as given, with no shift. ``states``, ``targets``
    and ``inputs`` may be lists of sequences of different lengths.
    """

    ridge: object = 1e-8
    washout: int = 0
    bias: bool = True
    use_inputs: bool = False
    standardize: bool = False
    folds: int = 5
    weights: np.ndarray | None = None
    candidates: np.ndarray | None = None
    cv_errors: np.ndarray | None = None

    def _features(self, states, inputs, drop: bool):
        xs = _sequences(states)
        if self.use_inputs and inputs is None:
            raise SpecError("Ridge: use_inputs=True needs the inputs")
        us = _sequences(inputs) if self.use_inputs else [None] * len(xs)
        start = self.washout if drop else 0
        return [np.concatenate([u, x], axis=1)[start:] if u is not None else x[start:] for x, u in zip(xs, us)]

    def fit(self, states, targets, inputs=None) -> "Ridge":
        """Fitted copy of this readout on ``states`` ``(T, N)`` and ``targets`` ``(T, n_out)`` (or
        lists of them, one per sequence)."""
        feats = self._features(states, inputs, True)
        ys = [y[self.washout:] for y in _sequences(targets)]
        if len(ys) != len(feats) or any(len(f) != len(y) for f, y in zip(feats, ys)):
            raise SpecError("Ridge.fit: states and targets must have the same sequences and lengths")
        x, y = np.concatenate(feats), np.concatenate(ys)
        scale = x.std(axis=0) if self.standardize else np.ones(x.shape[1])
        scale = np.where(scale > 0, scale, 1.0)
        z = x / scale
        candidates = np.atleast_1d(np.asarray(self.ridge, float))
        errors = _cv_errors(z, y, candidates, self.folds, self.bias) if candidates.size > 1 else None
        chosen = candidates[np.argmin(errors)] if errors is not None else candidates[0]
        b, w = _fit(z, y, chosen, self.bias)
        weights = w[0] / scale[:, None]
        weights = np.concatenate([b, weights]) if self.bias else weights
        return dataclasses.replace(self, ridge=float(chosen), weights=weights,
                                   candidates=candidates if errors is not None else None, cv_errors=errors)

    def predict(self, states, inputs=None):
        """Readout of ``states`` ``(T, N)`` -> ``(T, n_out)``; a list of sequences gives a list."""
        if self.weights is None:
            raise ValueError("Ridge.predict called before fit")
        feats = self._features(states, inputs, False)
        out = [f @ self.weights[1:] + self.weights[0] if self.bias else f @ self.weights for f in feats]
        return out if isinstance(states, (list, tuple)) else out[0]

    def score(self, states, targets, inputs=None, *, washout: int = 0, metrics=DEFAULT_SCORES) -> dict:
        """``{metric: value}`` for the registered ``metrics`` (:data:`neurodyn.readout.metrics.METRICS`;
        default ``nrmse``: divided by the target's standard deviation, ``nrmse_rms``: by its RMS,
        ``mse``, ``r2``). ``washout`` leading samples of every sequence are left out: 0 for a test
        stretch that continues the training run, the training washout for sequences started from
        a reset state."""
        pred = self.predict(states, inputs)
        pred = pred if isinstance(pred, list) else [pred]
        p = np.concatenate([q[washout:] for q in pred])
        y = np.concatenate([t[washout:] for t in _sequences(targets)])
        return {m: float(score(m, p, y)) for m in metrics}

