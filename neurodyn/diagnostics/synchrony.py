"""Synchrony measures: Kuramoto order parameter (global and local), frequency locking, phase
slips, surface width and growth exponents of unwrapped phase fields, and the zero-lag
cross-correlation used in the map-network papers.

All functions take arrays (NumPy or JAX) with time along the first axis where a time axis
exists; phases are in radians and must be unwrapped where noted.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .accumulators import xcorr_finalize, xcorr_init, xcorr_update


def order_parameter(theta) -> tuple[np.ndarray, np.ndarray]:
    """Kuramoto order parameter ``r e^{i psi} = (1/N) sum_j e^{i theta_j}`` over the last axis.

    Returns ``(r, psi)`` with the leading axes of ``theta`` (e.g. one value per time sample).
    r ~ 1: phase synchrony; r ~ N^{-1/2}: incoherence (Kuramoto 1975; docs/diagnostics.md).
    """
    z = np.mean(np.exp(1j * np.asarray(theta)), axis=-1)
    return np.abs(z), np.angle(z)


def time_averaged_order_parameter(theta, transient: int = 0) -> float:
    """``<r(t)>_t`` over the samples after the first ``transient`` ones."""
    return float(np.mean(order_parameter(np.asarray(theta)[transient:])[0]))


def local_order_parameter(theta, radius: int = 1, periodic: bool = True) -> np.ndarray:
    """Lattice local order parameter ``r_j = |sum_{|k - j| <= radius} e^{i theta_k}| / (2 radius + 1)``
    over the last axis (a 1-D lattice); open boundaries average over the neighbours that exist."""
    z = np.exp(1j * np.asarray(theta))
    n = z.shape[-1]
    total = np.zeros_like(z)
    count = np.zeros(n)
    for d in range(-radius, radius + 1):
        if periodic:
            total += np.roll(z, -d, axis=-1)
            count += 1
        else:
            idx = np.arange(n) + d
            ok = (idx >= 0) & (idx < n)
            total[..., ok] += z[..., idx[ok]]
            count += ok
    return np.abs(total) / count


def graph_local_order_parameter(theta, graph) -> np.ndarray:
    """``r_i = |sum_j A_ij e^{i theta_j}| / k_i`` on a graph (docs/models/kuramoto.md); 0 for isolated nodes."""
    a = graph.to_scipy()
    z = np.exp(1j * np.asarray(theta))
    num = np.abs((a @ z.T).T)
    deg = graph.in_degree()
    return np.divide(num, deg, out=np.zeros_like(num), where=deg > 0)


def mean_frequencies(theta, times) -> np.ndarray:
    """Time-averaged frequencies ``Omega_j = [theta_j(t_end) - theta_j(t_0)] / (t_end - t_0)``
    of unwrapped phases sampled at ``times``."""
    theta = np.asarray(theta)
    return (theta[-1] - theta[0]) / (times[-1] - times[0])


def locked_fraction(theta, times, tol: float = 1e-2) -> float:
    """Fraction of oscillators frequency-locked to the majority: ``|Omega_j - median(Omega)| < tol``."""
    om = mean_frequencies(theta, times)
    return float(np.mean(np.abs(om - np.median(om)) < tol))


def phase_slips(theta, periodic: bool = True) -> np.ndarray:
    """Phase slips between nearest neighbours of a 1-D lattice, per bond.

    A slip is a change of the winding number ``round((theta_{j+1} - theta_j) / 2 pi)`` between
    consecutive samples, i.e. the bond difference crossing an odd multiple of pi (docs/models/kuramoto.md,
    Appendix F). ``theta``: unwrapped phases ``(n_times, n)``, sampled finely enough that a
    difference moves less than pi per sample. Returns the number of slips of each bond.
    """
    theta = np.asarray(theta)
    diff = (np.roll(theta, -1, axis=-1) - theta) if periodic else np.diff(theta, axis=-1)
    winding = np.round(diff / (2 * np.pi))
    return np.abs(np.diff(winding, axis=0)).sum(axis=0)


def surface_width(phi) -> np.ndarray:
    """Surface width ``W = sqrt(<(1/L) sum_j (phi_j - phi_bar)^2>)`` of unwrapped phase fields.

    ``phi``: ``(..., L)``; any leading axes except the first (time) are realizations, over which
    ``W^2`` is averaged (docs/models/kuramoto.md). Returns ``W`` with the time axis only (or a scalar).
    """
    phi = np.asarray(phi)
    w2 = np.var(phi, axis=-1)
    if w2.ndim > 1:
        w2 = w2.reshape(w2.shape[0], -1).mean(axis=1)
    return np.sqrt(w2)


def growth_exponent(times, width, t_min: float, t_max: float, points: int = 30) -> float:
    """Growth exponent ``beta`` of ``W ~ t^beta``: least-squares slope of log W against log t on
    ``points`` log-spaced times in ``[t_min, t_max]`` (W interpolated in log-log)."""
    times, width = np.asarray(times, float), np.asarray(width, float)
    ok = (times > 0) & (width > 0)
    lt, lw = np.log(times[ok]), np.log(width[ok])
    grid = np.linspace(np.log(t_min), np.log(t_max), points)
    if grid[0] < lt[0] - 1e-9 or grid[-1] > lt[-1] + 1e-9:
        raise ValueError(f"fit window [{t_min}, {t_max}] outside the sampled times [{np.exp(lt[0])}, {np.exp(lt[-1])}]")
    return float(np.polyfit(grid, np.interp(grid, lt, lw), 1)[0])


def roughness_exponent(sizes: Sequence[int], saturated_widths: Sequence[float]) -> float:
    """Roughness exponent ``alpha`` of ``W_sat ~ L^alpha`` (log-log least squares)."""
    return float(np.polyfit(np.log(sizes), np.log(saturated_widths), 1)[0])


def cross_correlation(x, pairs: str | np.ndarray = "all", hub: int = 0) -> tuple[np.ndarray, float]:
    """Zero-lag cross-correlation synchrony ``Gamma_ij = <x~_i x~_j> / sqrt(<x~_i^2><x~_j^2>)``,
    ``x~ = x - <x>_t`` over the time axis of ``x`` (``(n_times, n)``; docs/diagnostics.md).

    Returns the matrix ``Gamma`` and its mean over ``pairs``: ``"all"`` (i < j), ``"hub"``
    (``Gamma_{hub, j}``, j != hub: the ring-star measure), ``"neighbours"`` (i, i+1 along a ring)
    or an explicit ``(m, 2)`` array of pairs. Constant series (fixed points) are defined as in
    :func:`~neurodyn.diagnostics.accumulators.xcorr_finalize`: 1 between equal constants, 0
    between a constant and anything else.
    """
    x = np.asarray(x, float)
    # the streamed accumulator on one block, shifted by the exact time mean
    gamma = xcorr_finalize(xcorr_update(xcorr_init(x[0], shift=x.mean(axis=0)), x))
    n = x.shape[1]
    if isinstance(pairs, str):
        if pairs == "all":
            i, j = np.triu_indices(n, 1)
        elif pairs == "hub":
            j = np.array([k for k in range(n) if k != hub])
            i = np.full(len(j), hub)
        elif pairs == "neighbours":
            i = np.arange(n)
            j = (i + 1) % n
        else:
            raise ValueError(f"pairs must be 'all', 'hub', 'neighbours' or an array, got {pairs!r}")
    else:
        p = np.asarray(pairs).reshape(-1, 2)
        i, j = p[:, 0], p[:, 1]
    return gamma, float(np.mean(gamma[i, j]))


def width_growth(model, realizations: int, steps: int, every: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Surface width ``W(t)`` of a phase lattice averaged over independent realizations.

    Runs ``realizations`` copies of ``model`` (each with its own noise key, from the model's own
    initial condition, flat for :class:`~neurodyn.models.PhaseLattice1D`) as one vmapped
    compiled call and records the phases every ``every`` steps. Returns ``(times, W)`` with
    ``W^2`` averaged over realizations (docs/models/kuramoto.md).
    """
    import jax

    from ..core.simulate import run

    keys = jax.random.split(jax.random.PRNGKey(seed), realizations)

    def one(k):
        return run(model, model.init(k), steps, every=every, record=("theta",))[1]["theta"]

    phi = np.asarray(jax.jit(jax.vmap(one))(keys))  # (realizations, samples, L)
    times = np.arange(phi.shape[1]) * every * float(model.dt)
    return times, surface_width(np.moveaxis(phi, 0, 1))
