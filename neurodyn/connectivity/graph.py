"""Compressed sparse row (CSR) graphs as JAX pytrees.

Row ``i`` lists the nodes ``j`` that node ``i`` receives from: ``A[i, j] = weights[k]`` for
``k`` in ``indptr[i]:indptr[i+1]`` and ``j = indices[k]``. This is scipy's CSR convention, so
``to_scipy``/``from_scipy`` are lossless.

A builder that knows its graph's regular structure records it in the static ``structure``
field (``("circulant", start, size, offsets)`` or ``("star", hub)``); coupling operators use it
to pick a faster kernel than the generic sparse gather/scatter (see ``neurodyn.ops``). Any
construction that does not know the structure leaves it ``None``.
"""

from __future__ import annotations

import numpy as np

from ..pytree import pytree_dataclass
from ..errors import SpecError


@pytree_dataclass(static=("n", "structure"))
class CSRGraph:
    """A weighted directed graph on ``n`` nodes in CSR form (rows receive from columns)."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    structure: tuple | None = None

    @property
    def nnz(self) -> int:
        """Number of stored edges."""
        return int(np.asarray(self.indices).shape[0])

    def rows(self) -> np.ndarray:
        """Row index of every stored edge (COO rows), shape ``(nnz,)``."""
        return np.repeat(np.arange(self.n, dtype=np.int32), np.diff(np.asarray(self.indptr)))

    def in_degree(self) -> np.ndarray:
        """Weighted in-degree ``sum_j A[i, j]`` of every node."""
        return np.asarray(self.to_scipy().sum(axis=1)).ravel()

    def out_degree(self) -> np.ndarray:
        """Weighted out-degree ``sum_i A[i, j]`` of every node."""
        return np.asarray(self.to_scipy().sum(axis=0)).ravel()

    def is_symmetric(self, atol: float = 0.0) -> bool:
        """Whether ``A == A.T`` (within ``atol``)."""
        m = self.to_scipy()
        d = abs(m - m.T)
        return d.nnz == 0 or float(d.max()) <= atol

    def to_scipy(self) -> "scipy.sparse.csr_matrix":
        """The adjacency matrix as a ``scipy.sparse.csr_matrix``."""
        import scipy.sparse as sp  # imported on use: 0.07-0.16 s of start-up otherwise

        return sp.csr_matrix(
            (np.asarray(self.weights), np.asarray(self.indices), np.asarray(self.indptr)),
            shape=(self.n, self.n),
        )

    def to_dense(self) -> np.ndarray:
        """The adjacency matrix as a dense array."""
        return self.to_scipy().toarray()

    def laplacian(self) -> np.ndarray:
        """Graph Laplacian ``L = diag(in_degree) - A`` (dense), so ``-L x`` is diffusion."""
        return np.diag(self.in_degree()) - self.to_dense()

    def normalization(self, kind: str) -> np.ndarray:
        """Per-node factor for coupling sums: ``"none"`` (1), ``"degree"`` (1/k_i; 0 for nodes
        without links), ``"mean_degree"`` (1/<k>) or ``"size"`` (1/N)."""
        deg = self.in_degree()
        if kind == "none":
            return np.ones(self.n)
        if kind == "degree":
            return np.divide(1.0, deg, out=np.zeros(self.n), where=deg > 0)
        if kind == "mean_degree":
            return np.full(self.n, 1.0 / max(deg.mean(), np.finfo(float).tiny))
        if kind == "size":
            return np.full(self.n, 1.0 / self.n)
        raise SpecError(f"normalize: unknown value {kind!r} (allowed: none, degree, mean_degree, size)")

    def with_weights(self, weights) -> "CSRGraph":
        """The same edges with new weights (drops any structure tag)."""
        w = np.broadcast_to(np.asarray(weights, dtype=float), (self.nnz,)).copy()
        return CSRGraph(self.n, self.indptr, self.indices, w, None)


def from_scipy(matrix, structure: tuple | None = None) -> CSRGraph:
    """A :class:`CSRGraph` from any scipy sparse matrix (or dense array); explicit zeros dropped."""
    import scipy.sparse as sp

    m = sp.csr_matrix(matrix)
    if m.shape[0] != m.shape[1]:
        raise SpecError(f"adjacency matrix must be square, got shape {m.shape}")
    m.eliminate_zeros()
    m.sum_duplicates()
    m.sort_indices()
    return CSRGraph(
        m.shape[0],
        m.indptr.astype(np.int32),
        m.indices.astype(np.int32),
        m.data.astype(float),
        structure,
    )


def from_edges(n: int, edges, weights=None, *, symmetric: bool = False,
               structure: tuple | None = None) -> CSRGraph:
    """A graph from a list of ``(i, j)`` pairs meaning "i receives from j".

    ``symmetric=True`` makes every pair undirected: ``(i, j)`` and ``(j, i)`` are the same
    edge, stored in both directions once. Otherwise duplicate pairs have their weights summed.
    Self-loops are rejected: diffusive coupling ignores them.
    """
    if int(n) <= 0:
        raise SpecError(f"graph size must be a positive integer, got {n}")
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(e)) if weights is None else np.broadcast_to(np.asarray(weights, float), (len(e),))
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise SpecError(f"graph edges: node index out of range [0, {n}): min {e.min()}, max {e.max()}")
    if np.any(e[:, 0] == e[:, 1]):
        raise SpecError("graph edges: self-loops (i, i) are not allowed")
    rows, cols = e[:, 0], e[:, 1]
    if symmetric:
        lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
        _, first = np.unique(lo * n + hi, return_index=True)
        lo, hi, w = lo[first], hi[first], w[first]
        rows, cols, w = np.r_[lo, hi], np.r_[hi, lo], np.r_[w, w]
    import scipy.sparse as sp

    return from_scipy(sp.coo_matrix((w, (rows, cols)), shape=(n, n)), structure)
