"""Scores of a readout's output (docs/models/reservoirs.md, "Readout").

Two NRMSE conventions are in use: :func:`nrmse` divides the RMS error by the target's standard
deviation (Jaeger; Lukoševičius 2012; ReservoirPy's default), :func:`nrmse_rms` by the target's
RMS (the ResESN authors' code; about 3x smaller on NARMA, whose mean is large). Every result
says which it uses. Multi-output targets are pooled over all entries.
"""

from __future__ import annotations

import numpy as np


def _pair(prediction, target):
    prediction, target = np.asarray(prediction, float), np.asarray(target, float)
    return prediction.reshape(target.shape), target


def mse(prediction, target) -> float:
    """``mean((y_hat - y)^2)``."""
    prediction, target = _pair(prediction, target)
    return float(np.mean((prediction - target) ** 2))


def nrmse(prediction, target) -> float:
    """``sqrt(mean((y_hat - y)^2) / var(y))``: NRMSE normalised by the target's standard deviation."""
    prediction, target = _pair(prediction, target)
    return float(np.sqrt(mse(prediction, target) / np.var(target)))


def nrmse_rms(prediction, target) -> float:
    """``sqrt(mean((y_hat - y)^2) / mean(y^2))``: NRMSE normalised by the target's RMS (ResESN code)."""
    prediction, target = _pair(prediction, target)
    return float(np.sqrt(mse(prediction, target) / np.mean(target ** 2)))


def r2(prediction, target) -> float:
    """Coefficient of determination ``1 - sum((y_hat - y)^2) / sum((y - mean y)^2)`` (per output
    column, then averaged over columns)."""
    prediction, target = _pair(prediction, target)
    prediction, target = prediction.reshape(len(target), -1), target.reshape(len(target), -1)
    ss_res = np.sum((prediction - target) ** 2, axis=0)
    ss_tot = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
    return float(np.mean(1 - ss_res / ss_tot))


def accuracy(predicted_labels, labels) -> float:
    """Fraction of labels predicted exactly."""
    return float(np.mean(np.asarray(predicted_labels) == np.asarray(labels)))
