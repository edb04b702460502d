"""The short-term memory task (H. Jaeger, GMD Report 152, 2002; docs/models/reservoirs.md,
"Memory capacity"): i.i.d. input, one target per delay."""

from __future__ import annotations

import numpy as np


def memory_task(n_samples: int, max_delay: int, *, input_range: float = 0.8,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``u`` ``(n_samples, 1)`` i.i.d. U(-input_range, input_range) and targets
    ``(n_samples, max_delay)`` with column ``k - 1`` holding ``u(t - k)`` (zero for ``t < k``: use
    a washout of at least ``max_delay``). The draw is the one
    :func:`neurodyn.readout.memory_capacity` uses for the same seed."""
    u = np.random.default_rng(seed).uniform(-input_range, input_range, n_samples)
    targets = np.zeros((n_samples, max_delay))
    for k in range(1, max_delay + 1):
        targets[k:, k - 1] = u[:-k]
    return u[:, None], targets
