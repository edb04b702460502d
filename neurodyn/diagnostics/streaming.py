"""Diagnostics computed chunk by chunk while a run streams to disk (the CLI's ``[diagnostics]``).

Each class takes the recorded samples of one observable, chunk after chunk (``update``), and
returns ``(values, attrs)`` at the end (``result``), so nothing needs the whole run in memory.
"""

from __future__ import annotations

import numpy as np

from .synchrony import order_parameter


class OrderParameterStream:
    """``r(t)`` of recorded phases (``/diagnostics/order_parameter``), and its time average."""

    method = "Kuramoto order parameter r(t) = |mean_j exp(i theta_j(t))| of the recorded phases"

    def __init__(self):
        self.parts: list[np.ndarray] = []

    def update(self, samples: np.ndarray) -> None:
        """Fold one chunk of recorded samples in."""
        self.parts.append(order_parameter(samples)[0])

    def result(self) -> tuple[np.ndarray, dict]:
        """``(values, attrs)`` for ``/diagnostics/<name>``."""
        r = np.concatenate(self.parts) if self.parts else np.zeros(0)
        return r, {"method": self.method, "time_average": float(r.mean()) if r.size else float("nan")}


class CrossCorrelationStream:
    """Zero-lag cross-correlation matrix ``Gamma_ij`` of a recorded variable (MODELS.md 9.7),
    from running sums; attrs hold its mean over all pairs and over hub pairs (node 0)."""

    method = "Gamma_ij = <x~_i x~_j> / sqrt(<x~_i^2> <x~_j^2>), x~ = x - <x>_t over the recorded samples"

    def __init__(self):
        self.count = 0
        self.sum = None
        self.outer = None

    def update(self, samples: np.ndarray) -> None:
        """Fold one chunk of recorded samples in."""
        x = np.asarray(samples, float).reshape(len(samples), -1)
        if self.sum is None:
            self.sum = np.zeros(x.shape[1])
            self.outer = np.zeros((x.shape[1], x.shape[1]))
        self.count += len(x)
        self.sum += x.sum(axis=0)
        self.outer += x.T @ x

    def result(self) -> tuple[np.ndarray, dict]:
        """``(values, attrs)`` for ``/diagnostics/<name>``."""
        mean = self.sum / self.count
        cov = self.outer / self.count - np.outer(mean, mean)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            gamma = cov / np.outer(sd, sd)
        n = len(mean)
        i, j = np.triu_indices(n, 1)
        return gamma, {"method": self.method, "mean_all_pairs": float(np.mean(gamma[i, j])) if n > 1 else float("nan"),
                       "mean_hub_pairs": float(np.mean(gamma[0, 1:])) if n > 1 else float("nan")}


STREAMS = {"order_parameter": (OrderParameterStream, "theta"), "cross_correlation": (CrossCorrelationStream, "x")}
