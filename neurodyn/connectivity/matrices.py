"""Dense recurrent matrices for reservoirs: random sparse, orthogonal, cyclic, identity, and
spectral-radius scaling (docs/models/reservoirs.md). Seeded with NumPy ``default_rng``; built on the
host once, never differentiated through."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..resources import check_memory


#: above this size the spectral radius and the largest singular value come from ARPACK on the
#: sparse matrix, never from a dense decomposition (O(N^3): minutes at N = 10,000)
DENSE_SPECTRUM_MAX = 2000


def _method(w, method: str) -> str:
    if method not in ("auto", "dense", "arnoldi"):
        raise SpecError(f"method must be 'auto', 'dense' or 'arnoldi', got {method!r}")
    if method == "auto":
        return "dense" if w.shape[0] <= DENSE_SPECTRUM_MAX else "arnoldi"
    return method


def _host_matrix(w, sparse: bool):
    """``w`` (NumPy, JAX, nested lists or scipy.sparse) as a float64 scipy CSR matrix (``sparse``:
    non-zeros only, a dense input is never decomposed densely) or a dense NumPy array."""
    import scipy.sparse as sp

    if sp.issparse(w):
        return sp.csr_matrix(w, dtype=float) if sparse else w.toarray().astype(float)
    w = np.asarray(w, float)
    return sp.csr_matrix(w) if sparse else w


def spectral_radius(w, *, method: str = "auto") -> float:
    """``rho(W) = max_i |lambda_i(W)|`` of a square matrix (NumPy, JAX or scipy.sparse).

    ``method``: ``"dense"`` (all eigenvalues, LAPACK), ``"arnoldi"`` (the eigenvalue of largest
    magnitude alone: ARPACK's implicitly restarted Arnoldi on the sparse matrix,
    ``scipy.sparse.linalg.eigs(k=1, which="LM")`` with 32 Lanczos vectors, a fixed start vector
    and full precision, as ReservoirPy scales its reservoirs) or ``"auto"`` (dense up to
    :data:`DENSE_SPECTRUM_MAX` units, Arnoldi above)."""
    w = w if hasattr(w, "shape") else np.asarray(w, float)
    if len(w.shape) != 2 or w.shape[0] != w.shape[1]:
        raise SpecError(f"the spectral radius needs a square matrix, got shape {tuple(w.shape)}")
    if _method(w, method) == "dense":
        return float(np.max(np.abs(np.linalg.eigvals(_host_matrix(w, False)))))
    from scipy.sparse.linalg import ArpackNoConvergence, eigs

    m = _host_matrix(w, True)
    n = m.shape[0]
    try:
        value = eigs(m, k=1, which="LM", ncv=min(n - 1, 32), maxiter=20 * n, tol=0.0,
                     v0=np.ones(n) / np.sqrt(n), return_eigenvectors=False)
    except ArpackNoConvergence as e:
        raise SpecError(f"the spectral radius of the {n:,} x {n:,} matrix did not converge in ARPACK ({e}); "
                        f"pass method='dense'") from None
    return float(np.max(np.abs(value)))


def largest_singular_value(w, *, method: str = "auto") -> float:
    """``sigma_max(W) = ||W||_2``: ``"dense"`` (LAPACK's SVD), ``"arnoldi"`` (the largest
    singular value alone, ``scipy.sparse.linalg.svds(k=1)`` by ARPACK on the sparse matrix) or
    ``"auto"`` (dense up to :data:`DENSE_SPECTRUM_MAX`, Arnoldi above)."""
    w = w if hasattr(w, "shape") else np.asarray(w, float)
    if _method(w, method) == "dense":
        return float(np.linalg.norm(_host_matrix(w, False), 2))
    from scipy.sparse.linalg import svds

    m = _host_matrix(w, True)
    n = min(m.shape)
    return float(svds(m, k=1, which="LM", ncv=min(n - 1, 32), tol=0.0, v0=np.ones(m.shape[0]) / np.sqrt(m.shape[0]),
                      return_singular_vectors=False)[0])


def scale_to_spectral_radius(w, rho: float) -> np.ndarray:
    """``W * rho / rho(W)`` (``rho(W)`` by :func:`spectral_radius`: dense eigenvalues up to
    :data:`DENSE_SPECTRUM_MAX` units, Arnoldi above)."""
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
