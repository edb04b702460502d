"""Scores of a readout's output: the one metric registry (docs/models/reservoirs.md, "Readout").

Every metric is registered once, here: its name, a one-line definition that states its
convention, and one function ``fn(prediction, target, weight, xp)`` of ``(T, k)`` predictions
and targets and ``(T,)`` 0/1 row weights (the rows scored), written with the array module
``xp`` (NumPy on the host, ``jax.numpy`` inside a compiled sweep chunk). A fixed split is the
weights of its rows; ``weight=None`` scores every row. The spec's ``[task] metrics``, the
sweep's task scores (``--measure nrmse``), ``Ridge.score`` and the functions below all read
:data:`METRICS`, so a metric registered with :func:`register_metric` is available to all of
them.

Two NRMSE conventions are in use: ``nrmse`` divides the RMS error by the target's standard
deviation (Jaeger; Lukoševičius 2012; ReservoirPy's default), ``nrmse_rms`` by the target's
RMS (the ResESN authors' code; about 3x smaller on NARMA, whose mean is large). Every result
says which it uses. Multi-output targets are pooled over all entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import SpecError

REGRESSION, CLASSIFICATION = "regression", "classification"
DEFAULT_SCORES = ("nrmse", "nrmse_rms", "mse", "r2")  # what Ridge.score reports unless asked


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``fn(prediction, target, weight, xp)`` -> scalar (see the module
    docstring); ``kind``: ``"regression"`` (series targets) or ``"classification"`` (one-hot
    targets, the prediction's largest entry is the class); ``dataset``: the only task dataset it
    applies to (``memory_capacity``: ``memory_task``), or None."""

    name: str
    doc: str
    fn: Callable
    kind: str = REGRESSION
    dataset: str | None = None
    citation: str = ""


METRICS: dict[str, Metric] = {}


def register_metric(name: str, fn: Callable, doc: str, *, kind: str = REGRESSION, dataset: str | None = None,
                    citation: str = "") -> Metric:
    """Register a metric under ``name`` (see :class:`Metric`); ``doc`` is its one-line
    definition with its convention, stored with every score written to a file."""
    if name in METRICS:
        raise SpecError(f"metric {name!r} is already registered")
    if kind not in (REGRESSION, CLASSIFICATION):
        raise SpecError(f"metric {name!r}: kind must be {REGRESSION!r} or {CLASSIFICATION!r}, got {kind!r}")
    METRICS[name] = Metric(name, doc, fn, kind, dataset, citation)
    return METRICS[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    """The registered metric names (of one ``kind``), in registration order."""
    return tuple(n for n, m in METRICS.items() if kind is None or m.kind == kind)


def score(name: str, prediction, target, weight=None, xp=np):
    """The metric ``name`` of ``prediction`` against ``target`` over the rows where ``weight``
    is 1 (every row when None): ``(T,)`` or ``(T, k)`` arrays of ``xp`` (NumPy: float64)."""
    if name not in METRICS:
        raise SpecError(f"unknown metric {name!r} (registered: {', '.join(METRICS)})")
    if xp is np:
        prediction, target = np.asarray(prediction, float), np.asarray(target, float)
    target = target.reshape(target.shape[0], -1)
    prediction = prediction.reshape(target.shape)
    if weight is None:
        weight = xp.ones(target.shape[0], target.dtype)
    return METRICS[name].fn(prediction, target, weight, xp)


def _sums(pred, y, w, xp):
    """``(n, k, squared errors, row weights as a column)``."""
    return xp.sum(w), y.shape[1], (pred - y) ** 2, w[:, None]


def _mse(pred, y, w, xp):
    n, k, err2, wc = _sums(pred, y, w, xp)
    return xp.sum(wc * err2) / (n * k)


def _nrmse(pred, y, w, xp):
    n, k, err2, wc = _sums(pred, y, w, xp)
    mu = xp.sum(wc * y) / (n * k)
    return xp.sqrt((xp.sum(wc * err2) / (n * k)) / (xp.sum(wc * (y - mu) ** 2) / (n * k)))


def _nrmse_rms(pred, y, w, xp):
    n, k, err2, wc = _sums(pred, y, w, xp)
    return xp.sqrt(xp.sum(wc * err2) / xp.sum(wc * y ** 2))


def _column_mean(a, wc, n, xp):
    return xp.sum(wc * a, axis=0) / n


def _r2(pred, y, w, xp):
    n, k, err2, wc = _sums(pred, y, w, xp)
    ss_tot = xp.sum(wc * (y - _column_mean(y, wc, n, xp)) ** 2, axis=0)
    return xp.mean(1 - xp.sum(wc * err2, axis=0) / ss_tot)


def _squared_correlations(pred, y, w, xp):
    """``r^2`` of each output column with its target column (the forgetting curve of a memory task)."""
    n, k, err2, wc = _sums(pred, y, w, xp)
    pc, yc = pred - _column_mean(pred, wc, n, xp), y - _column_mean(y, wc, n, xp)
    return xp.sum(wc * pc * yc, axis=0) ** 2 / (xp.sum(wc * pc * pc, axis=0) * xp.sum(wc * yc * yc, axis=0))


def _memory_capacity(pred, y, w, xp):
    return xp.sum(_squared_correlations(pred, y, w, xp))


def _accuracy(pred, y, w, xp):
    hit = (xp.argmax(pred, axis=1) == xp.argmax(y, axis=1)).astype(pred.dtype)
    return xp.sum(w * hit) / xp.sum(w)


register_metric("nrmse", _nrmse, "sqrt(mean((y_hat - y)^2) / var(y)) on the test data (normalised by the target's "
                                 "standard deviation)")
register_metric("nrmse_rms", _nrmse_rms, "sqrt(mean((y_hat - y)^2) / mean(y^2)) on the test data (normalised by the "
                                         "target's RMS, as in the ResESN authors' code)",
                citation="A. Ceni, C. Gallicchio, Neurocomputing 597:127966 (2024)")
register_metric("mse", _mse, "mean((y_hat - y)^2) on the test data")
register_metric("r2", _r2, "coefficient of determination on the test data, averaged over target columns")
register_metric("memory_capacity", _memory_capacity, "sum over delays k of the squared correlation of output k with "
                                                     "u(t - k) on the test data", dataset="memory_task",
                citation="H. Jaeger, GMD Report 152 (2002)")
register_metric("accuracy", _accuracy, "fraction of test sequences classified correctly", kind=CLASSIFICATION)


def mse(prediction, target) -> float:
    """``mean((y_hat - y)^2)`` (:data:`METRICS` ``"mse"``)."""
    return float(score("mse", prediction, target))


def nrmse(prediction, target) -> float:
    """``sqrt(mean((y_hat - y)^2) / var(y))``: NRMSE normalised by the target's standard deviation."""
    return float(score("nrmse", prediction, target))


def nrmse_rms(prediction, target) -> float:
    """``sqrt(mean((y_hat - y)^2) / mean(y^2))``: NRMSE normalised by the target's RMS (ResESN code)."""
    return float(score("nrmse_rms", prediction, target))


def r2(prediction, target) -> float:
    """Coefficient of determination ``1 - sum((y_hat - y)^2) / sum((y - mean y)^2)`` (per output
    column, then averaged over columns)."""
    return float(score("r2", prediction, target))


def forgetting_curve(prediction, target) -> np.ndarray:
    """``r^2(k)``: the squared Pearson correlation of readout column ``k - 1`` with its target
    ``u(t - k)``, for each delay ``k`` (H. Jaeger, GMD Report 152, 2002); its sum is
    :func:`memory_capacity` (the score; :func:`neurodyn.readout.memory_capacity` measures it for a
    reservoir)."""
    y = np.asarray(target, float)
    y = y.reshape(y.shape[0], -1)
    return _squared_correlations(np.asarray(prediction, float).reshape(y.shape), y, np.ones(y.shape[0]), np)


def memory_capacity(prediction, target) -> float:
    """``sum_k r^2(prediction[:, k], target[:, k])`` (squared Pearson correlations; H. Jaeger,
    GMD Report 152, 2002)."""
    return float(score("memory_capacity", prediction, target))


def accuracy(predicted_labels, labels) -> float:
    """Fraction of labels predicted exactly (the ``"accuracy"`` metric of the labels' one-hot codes)."""
    return float(score("accuracy", *one_hot(predicted_labels, labels)))


def one_hot(*label_arrays) -> list[np.ndarray]:
    """One-hot codes ``(n, n_classes)`` of label arrays over the classes they hold together, so a
    classification metric reads predicted labels through the prediction's largest entry."""
    arrays = [np.asarray(a).ravel() for a in label_arrays]
    classes = np.unique(np.concatenate(arrays))
    return [(a[:, None] == classes[None, :]).astype(float) for a in arrays]
