"""Jaeger's short-term memory capacity of a reservoir (H. Jaeger, GMD Report 152, 2002;
docs/models/reservoirs.md, "Memory capacity"): a readout task, so it lives with the readouts and
solves its ridge readouts through :mod:`neurodyn.readout.normal_equations` like every other."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..core.simulate import run
from ..core.tangent import flatten_state
from .metrics import forgetting_curve
from .ridge import ridge_path


@dataclass
class MemoryCapacityResult:
    """``total = sum_k MC_k`` with ``MC_k`` the squared correlation between ``u(n - k)`` and its
    best linear readout on held-out data, for the delays in ``delays``."""

    total: float
    delays: np.ndarray
    per_delay: np.ndarray


def memory_capacity(reservoir, *, max_delay: int | None = None, train: int = 5000, test: int = 5000,
                    washout: int = 200, input_range: float = 0.8, ridge: float = 1e-10,
                    seed: int = 0) -> MemoryCapacityResult:
    """Jaeger's short-term memory capacity (H. Jaeger, GMD Report 152, 2002; docs/models/reservoirs.md).

    Input u(n) i.i.d. U(-input_range, input_range) (the draw of
    :func:`neurodyn.datasets.memory_task` for the same ``seed``); one ridge readout ``y_k = b_k +
    x W_k`` (intercept not regularised, ``ridge`` on ``W``) per delay k = 1..max_delay (default
    2N, N the size of the reservoir's state), fitted on ``train`` samples after ``washout`` +
    ``max_delay`` and evaluated on the next ``test`` samples: ``MC_k = corr^2(u(n - k), y_k(n))``
    (:func:`neurodyn.readout.metrics.forgetting_curve`). Bound: MC <= N for i.i.d. input.
    Held-out evaluation avoids the ~N/T in-sample bias (docs/models/reservoirs.md). Works for any
    model of the protocol driven by a scalar input whose observables include its state ``"x"``.
    """
    n_units = int(flatten_state(reservoir.init(jax.random.PRNGKey(0)))[0].shape[0])
    max_delay = 2 * n_units if max_delay is None else max_delay
    total_steps = washout + max_delay + train + test + 1
    u = np.random.default_rng(seed).uniform(-input_range, input_range, total_steps)
    _, rec = run(reservoir, reservoir.init(jax.random.PRNGKey(seed)), total_steps,
                 drive=jnp.asarray(u.reshape(-1, 1), jnp.result_type(float)), record=("x",))
    # states[i] is the state after step i, whose newest input is u(i); delay k targets u(i - k)
    states = np.asarray(rec["x"], float)[1:]
    start = washout + max_delay
    rows = np.arange(start, len(states))
    delays = np.arange(1, max_delay + 1)
    targets = np.stack([u[rows - k] for k in delays], axis=1)
    x = states[rows]
    fit, held = slice(0, train), slice(train, None)
    weights = ridge_path(x[fit], targets[fit], [ridge])[0]
    per_delay = forgetting_curve(weights[0] + x[held] @ weights[1:], targets[held])
    return MemoryCapacityResult(float(per_delay.sum()), delays, per_delay)
