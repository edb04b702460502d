"""NARMA tasks (A. F. Atiya, A. G. Parlos, IEEE Trans. Neural Networks 11:697, 2000).

``y(t+1) = a y(t) + b y(t) sum_{i=0}^{n-1} y(t-i) + c u(t-n+1) u(t) + d``, ``u(t)`` i.i.d.
U[0, 0.5], ``y = 0`` before the first input. The task pairs ``u(t)`` with ``y(t+1)``: the
target is a function of the inputs up to and including ``u(t)``.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError

# (a, b, c, d) by order. NARMA-10: Atiya & Parlos (2000). NARMA-30: the coefficients of the
# ResESN authors' narma30 data (Ceni & Gallicchio 2024); with b = 0.05 a 30-term sum diverges.
STANDARD = {10: (0.3, 0.05, 1.5, 0.1), 30: (0.3, 0.01, 1.5, 0.1)}


def _recurrence(u: np.ndarray, order: int, a: float, b: float, c: float, d: float) -> np.ndarray:
    """``y(t+1)`` for every ``t``; the running window sum keeps it O(T) (a scalar loop: each step
    needs the previous one, and T is at most a few 10^4)."""
    n = len(u)
    y = np.zeros(n + 1)
    window = 0.0
    for t in range(n):
        window += y[t] - (y[t - order] if t >= order else 0.0)
        past = u[t - order + 1] if t >= order - 1 else 0.0
        y[t + 1] = a * y[t] + b * y[t] * window + c * past * u[t] + d
        if abs(y[t + 1]) > 10:  # diverging: stop before overflow
            y[t + 1:] = np.inf
            break
    return y[1:]


def narma(n_samples: int, order: int = 10, *, coefficients: tuple[float, float, float, float] | None = None,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """NARMA-``order`` series: ``(u, y)`` of shape ``(n_samples, 1)`` with ``y[t] = y(t+1)``.

    ``coefficients`` ``(a, b, c, d)`` default to the standard ones (:data:`STANDARD`: orders 10
    and 30). Raises ``ValueError`` if the series diverges (|y| > 10, possible for unlucky draws
    at high order); draw another seed.
    """
    if coefficients is None:
        if order not in STANDARD:
            raise SpecError(f"narma: no standard coefficients for order {order} (known: "
                             f"{sorted(STANDARD)}); pass coefficients=(a, b, c, d)")
        coefficients = STANDARD[order]
    u = np.random.default_rng(seed).uniform(0.0, 0.5, n_samples)
    y = _recurrence(u, order, *coefficients)
    if not np.all(np.abs(y) < 10):
        raise ValueError(f"narma: the order-{order} series diverged (|y| > 10) for seed {seed}; use another seed")
    return u[:, None], y[:, None]


def narma_resesn(n_samples: int, order: int = 10, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The NARMA variants of the ResESN authors' data files (Ceni & Gallicchio 2024, code):
    order 10 has NO sum term, ``y(t+1) = 0.3 y(t) + 1.5 u(t-9) u(t) + 0.1``; order 30 is
    ``0.3 y + 0.01 y sum_{i=0}^{29} y(t-i) + 1.5 u(t-29) u(t) + 0.1`` (as :func:`narma`)."""
    coefficients = {10: (0.3, 0.0, 1.5, 0.1), 30: STANDARD[30]}.get(order)
    if coefficients is None:
        raise SpecError(f"narma_resesn: the ResESN code defines orders 10 and 30, got {order}")
    return narma(n_samples, order, coefficients=coefficients, seed=seed)
