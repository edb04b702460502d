"""Ridge (Tikhonov) readout: ``W_out = Y X^T (X X^T + beta I)^{-1}`` solved in float64
(docs/models/reservoirs.md; Lukoševičius 2012)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _design(states, inputs=None, bias: bool = True) -> np.ndarray:
    parts = []
    states = np.asarray(states, float)
    if bias:
        parts.append(np.ones((states.shape[0], 1)))
    if inputs is not None:
        parts.append(np.asarray(inputs, float).reshape(states.shape[0], -1))
    parts.append(states.reshape(states.shape[0], -1))
    return np.concatenate(parts, axis=1)


@dataclass
class Ridge:
    """Linear readout ``y(n) = W_out [1; u(n); x(n)]`` fitted by ridge regression.

    ``ridge``: the regularisation beta; ``washout``: leading samples dropped from the fit;
    ``bias``: prepend a constant feature (not regularised); ``use_inputs``: include u(n).
    """

    ridge: float = 1e-8
    washout: int = 0
    bias: bool = True
    use_inputs: bool = False
    weights: np.ndarray | None = None

    def fit(self, states, targets, inputs=None) -> "Ridge":
        """Fit on ``states`` (T x N) and ``targets`` (T x n_out or T); returns self."""
        x = _design(states, inputs if self.use_inputs else None, self.bias)[self.washout:]
        y = np.asarray(targets, float).reshape(len(states), -1)[self.washout:]
        reg = self.ridge * np.eye(x.shape[1])
        if self.bias:
            reg[0, 0] = 0.0
        self.weights = np.linalg.solve(x.T @ x + reg, x.T @ y)
        return self

    def predict(self, states, inputs=None) -> np.ndarray:
        """Readout of ``states`` (T x N) -> (T x n_out)."""
        if self.weights is None:
            raise ValueError("Ridge.predict called before fit")
        return _design(states, inputs if self.use_inputs else None, self.bias) @ self.weights


def nrmse(prediction, target) -> float:
    """``sqrt(mean((y_hat - y)^2) / var(y))`` (docs/models/reservoirs.md)."""
    prediction, target = np.asarray(prediction, float), np.asarray(target, float)
    return float(np.sqrt(np.mean((prediction - target) ** 2) / np.var(target)))
