"""Reservoir diagnostics: echo-state property, kernel and generalization rank
(docs/models/reservoirs.md). They take any reservoir model of the protocol whose step is driven
by a scalar or vector input and whose observables include its state ``"x"``. The memory
capacity, a readout task, is :func:`neurodyn.readout.memory_capacity`."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..connectivity.matrices import largest_singular_value
from ..connectivity.matrices import spectral_radius as _matrix_radius
from ..core.simulate import run
from ._state import flatten_state


def spectral_radius(matrix_or_reservoir) -> float:
    """``rho(M) = max |lambda_i(M)|`` of a matrix, or of a reservoir's recurrent matrix ``w``."""
    m = getattr(matrix_or_reservoir, "effective_w", matrix_or_reservoir)
    return _matrix_radius(np.asarray(m))


def esp_conditions(reservoir) -> dict:
    """Algebraic echo-state conditions of a leaky tanh ESN (docs/models/reservoirs.md):
    necessary ``rho((1 - a) I + a W) < 1``; sufficient ``(1 - a) + a sigma_max(W) < 1``."""
    a = float(reservoir.leak)
    w = np.asarray(reservoir.effective_w)
    rho_j0 = _matrix_radius((1 - a) * np.eye(w.shape[0]) + a * w)
    sigma = largest_singular_value(w)
    return {"spectral_radius": _matrix_radius(w), "spectral_radius_J0": rho_j0, "necessary": rho_j0 < 1,
            "largest_singular_value": sigma, "sufficient": (1 - a) + a * sigma < 1}


@dataclass
class EchoStateResult:
    """Distances between copies of a reservoir started from different states under one input.

    ``distance[n]``: largest Euclidean distance to the first copy after n steps; ``rate``: fitted
    exponential rate (per step) of its decay, ``log d(n) ~ rate * n``; ``converged_step``: first
    step with distance below ``tol`` (None if never); ``holds``: converged within the run.
    """

    distance: np.ndarray
    rate: float
    converged_step: int | None
    holds: bool


def echo_state_property(reservoir, drive, *, n_states: int = 2, tol: float = 1e-10, scale: float = 1.0,
                        seed: int = 0) -> EchoStateResult:
    """Forgetting test (docs/models/reservoirs.md): run ``n_states`` copies from states drawn U(-scale, scale)
    under the same ``drive`` (array, leading time axis) and measure how their distance contracts."""
    template = reservoir.init(jax.random.PRNGKey(seed))
    vec, unflatten = flatten_state(template)
    starts = jax.random.uniform(jax.random.PRNGKey(seed + 1), (n_states, vec.shape[0]), vec.dtype, -scale, scale)
    steps = jax.tree_util.tree_leaves(drive)[0].shape[0]

    def trajectory(v):
        _, rec = run(reservoir, unflatten(v, template), steps + 1, drive=_pad(drive), record=("x",))
        return rec["x"]

    xs = np.asarray(jax.jit(jax.vmap(trajectory))(starts))  # (n_states, steps + 1, N)
    distance = np.max(np.linalg.norm(xs[1:] - xs[:1], axis=-1), axis=0)
    below = np.nonzero(distance < tol)[0]
    converged = int(below[0]) if len(below) else None
    stop = converged if converged else len(distance)
    fit = slice(0, max(stop, 2))
    rate = float(np.polyfit(np.arange(len(distance))[fit], np.log(np.maximum(distance[fit], 1e-300)), 1)[0])
    return EchoStateResult(distance, rate, converged, converged is not None)


def _pad(drive):
    return jax.tree_util.tree_map(lambda a: jnp.concatenate([a, a[-1:]]), drive)


def _final_states(reservoir, streams) -> np.ndarray:
    init = reservoir.init(jax.random.PRNGKey(0))

    def final(u):
        return flatten_state(run(reservoir, init, u.shape[0], drive=u, record=())[0])[0]

    return np.asarray(jax.jit(jax.vmap(final))(streams))


def _numerical_rank(m: np.ndarray, tol: float) -> int:
    s = np.linalg.svd(m, compute_uv=False)
    return int(np.sum(s > tol * s[0])) if s[0] > 0 else 0


def kernel_rank(reservoir, *, n_streams: int | None = None, length: int = 100, input_range: float = 1.0,
                tol: float = 1e-3, seed: int = 0) -> int:
    """Kernel (computational) rank (Legenstein & Maass, Neural Networks 20:323, 2007): numerical
    rank (singular values above ``tol * sigma_1``) of the N x m matrix of final states reached
    from zero under m independent random input streams (m = N by default). High = separation."""
    n_units = int(flatten_state(reservoir.init(jax.random.PRNGKey(0)))[0].shape[0])
    m = n_units if n_streams is None else n_streams
    u = np.random.default_rng(seed).uniform(-input_range, input_range, (m, length, 1))
    return _numerical_rank(_final_states(reservoir, jnp.asarray(u, jnp.result_type(float))).T, tol)


def generalization_rank(reservoir, *, n_streams: int | None = None, length: int = 100, input_range: float = 1.0,
                        noise: float = 0.01, tol: float = 1e-3, seed: int = 0) -> int:
    """Generalization rank (Legenstein & Maass 2007; Büsing et al. 2010): the same rank for m
    noisy copies (``noise`` x N(0, 1) added) of one base stream. Low = similar inputs map to
    similar states; good reservoirs keep kernel rank - generalization rank large."""
    n_units = int(flatten_state(reservoir.init(jax.random.PRNGKey(0)))[0].shape[0])
    m = n_units if n_streams is None else n_streams
    rng = np.random.default_rng(seed)
    base = rng.uniform(-input_range, input_range, (1, length, 1))
    u = base + noise * rng.normal(size=(m, length, 1))
    return _numerical_rank(_final_states(reservoir, jnp.asarray(u, jnp.result_type(float))).T, tol)
