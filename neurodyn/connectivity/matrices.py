"""Dense recurrent matrices for reservoirs: random sparse, orthogonal, cyclic, identity, and
spectral-radius scaling (docs/models/reservoirs.md). Seeded with NumPy ``default_rng``; built on the
host once, never differentiated through."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..resources import check_memory


def spectral_radius(w) -> float:
    """``rho(W) = max |lambda_i(W)|`` (dense eigenvalues; fine up to N ~ 5000)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(w, float)))))


def largest_singular_value(w) -> float:
    """``sigma_max(W) = ||W||_2``."""
    return float(np.linalg.norm(np.asarray(w, float), 2))


def scale_to_spectral_radius(w, rho: float) -> np.ndarray:
    """``W * rho / rho(W)``."""
    current = spectral_radius(w)
    if current == 0:
        raise SpecError("cannot scale a nilpotent matrix (spectral radius 0) to a spectral radius")
    return np.asarray(w, float) * (rho / current)


def random_sparse(n: int, *, density: float | None = None, per_row: int | None = None, seed: int = 0,
                  distribution: str = "uniform") -> np.ndarray:
    """Random ``n x n`` matrix with a fraction ``density`` of non-zeros (or ``per_row`` per row),
    values U(-0.5, 0.5) (``"uniform"``) or N(0, 1) (``"normal"``) (Lukoševičius 2012)."""
    if n <= 0:
        raise SpecError(f"reservoir size must be positive, got {n}")
    # the draw, the mask, the result and the dense eigenvalue solve of the scaling: ~5 n x n arrays
    check_memory(f"a random {n:,} x {n:,} reservoir matrix", 40.0 * n * n)
    rng = np.random.default_rng(seed)
    if per_row is not None:
        if not 0 < per_row <= n:
            raise SpecError(f"per_row must be in [1, {n}], got {per_row}")
        mask = np.zeros((n, n), bool)
        for i in range(n):
            mask[i, rng.choice(n, per_row, replace=False)] = True
    else:
        density = 0.1 if density is None else density
        if not 0 < density <= 1:
            raise SpecError(f"density must be in (0, 1], got {density}")
        mask = rng.random((n, n)) < density
    values = rng.uniform(-0.5, 0.5, (n, n)) if distribution == "uniform" else rng.normal(size=(n, n))
    return np.where(mask, values, 0.0)


def random_orthogonal(n: int, seed: int = 0) -> np.ndarray:
    """Q of the QR decomposition of a U(-1, 1) matrix (docs/models/reservoirs.md, ResESN)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).uniform(-1, 1, (n, n)))
    return q * np.sign(np.diag(r))


def cyclic(n: int) -> np.ndarray:
    """Cyclic permutation: ``O[0, n-1] = 1``, ``O[i, i-1] = 1`` (eigenvalues: n-th roots of unity)."""
    return np.roll(np.eye(n), 1, axis=0)
