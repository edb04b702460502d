"""Sparse matrix times dense vector, ``y = W x``, at the machine's memory bandwidth: the recurrent
product of large sparse reservoirs (docs/models/reservoirs.md, "Large sparse reservoirs").

A step of an N-unit reservoir with a fraction p of non-zeros must read ``p N^2`` weights and
their column indices, ``p N^2 (s + 4)`` bytes for values of s bytes, against ``s N^2`` for the
dense matrix: at N = 10,000 and p = 0.1, 80 MB (float32) or 120 MB (float64) instead of 400 or
800 MB. :class:`SparseMatrix` holds W in CSR form (rows = outputs); ``W @ x`` is
:func:`sparse_matvec`.

On CPU the product is a :class:`~neurodyn.ops.kernel.NativeKernel`: a C function compiled by
numba that XLA calls through its typed FFI (loops in :mod:`neurodyn.ops._sparse_matvec_kernel`):
one pass over the non-zeros, the rows cut into chunks of about equal non-zero count that the
calling XLA thread and, for large products on a machine with two cores, one thread the kernel
starts take as tickets (:mod:`neurodyn.ops._threads`). Under
``jax.vmap`` it is one call: over ``x`` alone (a sweep of reservoirs sharing W: the batch's
states sit side by side, each weight read once for all of them) or over the weights too (a loop
over the batch inside the call); nested vmaps and batched structure (row pointers, indices) use
the reference formula. Elsewhere (other platforms, numba missing, a failed self-check,
``backend="jax"``) the product is the reference formula ``segment_sum(data * x[indices], rows)``,
which is also the product's derivative: the JVP is ``W dx + dW x`` in that form, so ``jax.grad``
transposes it (the kernel itself is never differentiated).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..pytree import pytree_dataclass
from .kernel import NativeKernel

_TARGET = "neurodyn_sparse_matvec"


@pytree_dataclass(static=("shape",))
class SparseMatrix:
    """A matrix in CSR form for ``W @ x``: ``indptr`` ``(M + 1,)``, ``indices`` ``(nnz,)`` column
    of each value, ``rows`` ``(nnz,)`` row of each value (for the reference formula), ``data``
    ``(nnz,)`` the values; ``shape = (M, N)``. ``data`` is the only trainable leaf."""

    shape: tuple = (0, 0)
    indptr: jax.Array = None
    indices: jax.Array = None
    rows: jax.Array = None
    data: jax.Array = None

    @classmethod
    def from_dense(cls, matrix, dtype=None) -> "SparseMatrix":
        """The non-zeros of a dense matrix (NumPy/JAX array or anything scipy.sparse reads)."""
        import scipy.sparse as sp

        csr = sp.csr_matrix(np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, float))
        return cls.from_scipy(csr, dtype)

    @classmethod
    def from_scipy(cls, matrix, dtype=None) -> "SparseMatrix":
        """From a scipy.sparse matrix (explicit zeros dropped, duplicates summed)."""
        import scipy.sparse as sp

        csr = sp.csr_matrix(matrix, dtype=float)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        if csr.nnz >= 2**31:
            raise ValueError(f"SparseMatrix: {csr.nnz:,} non-zeros exceed 32-bit indices")
        d = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int32), np.diff(csr.indptr))
        return cls(tuple(int(s) for s in csr.shape), jnp.asarray(csr.indptr, jnp.int32),
                   jnp.asarray(csr.indices, jnp.int32), jnp.asarray(rows), jnp.asarray(csr.data, d))

    @property
    def dtype(self):
        """The values' dtype."""
        return self.data.dtype

    @property
    def nnz(self) -> int:
        """Number of stored values."""
        return int(self.indices.shape[-1])

    def todense(self) -> jax.Array:
        """The dense ``(M, N)`` matrix."""
        return jnp.zeros(self.shape, self.data.dtype).at[self.rows, self.indices].add(self.data)

    def to_scipy(self):
        """A scipy.sparse CSR copy (float64)."""
        import scipy.sparse as sp

        return sp.csr_matrix((np.asarray(self.data, float), np.asarray(self.indices), np.asarray(self.indptr)),
                             shape=self.shape)

    def __matmul__(self, x):
        return sparse_matvec(self, x)

    def __mul__(self, scalar) -> "SparseMatrix":
        """``scalar * W``: the values scaled (a number or a 0-d array)."""
        if jnp.ndim(scalar):
            raise TypeError("SparseMatrix: only a scalar multiplies a sparse matrix elementwise; use todense()")
        return SparseMatrix(self.shape, self.indptr, self.indices, self.rows, self.data * scalar)

    __rmul__ = __mul__

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(W)``: the dense matrix."""
        dense = np.asarray(self.todense())
        return dense if dtype is None else dense.astype(dtype)


def sparse_matvec(w: SparseMatrix, x: jax.Array, *, backend: str | None = None) -> jax.Array:
    """``y = W x``: ``x`` ``(N,)`` -> ``(M,)`` (see the module docstring). Differentiable in ``x``
    and ``w.data``; batched by ``jax.vmap``. ``backend``: ``"numba"`` (the kernel; the default on
    CPU) or ``"jax"`` (the reference formula)."""
    x = jnp.asarray(x)
    if x.shape != (w.shape[1],):
        raise ValueError(f"sparse_matvec: x must have shape ({w.shape[1]},), got {x.shape}")
    dtype = jnp.result_type(w.data, x)
    if w.nnz == 0:
        return jnp.zeros(w.shape[0], dtype)
    backend = KERNEL.backend(backend, what="sparse_matvec") if dtype in (jnp.float32, jnp.float64) else "jax"
    return KERNEL((SINGLE, w.shape[0], 1, False), w.data.astype(dtype), x.astype(dtype), w.indptr, w.indices,
                  w.rows, backend=backend)


def reference(data, x, indices, rows, n_rows: int) -> jax.Array:
    """``y_i = sum_{k: rows_k = i} data_k x[indices_k]``: the product from differentiable
    primitives (the kernel's definition and derivative)."""
    return jax.ops.segment_sum(data * x[indices], rows, num_segments=n_rows, indices_are_sorted=True)


SINGLE, SHARED, PER_POINT = 0, 1, 2
"""Call modes (``static[0]``): one product; ``x`` ``(N, B)`` against one W giving ``(M, B)``; B
products of B weight sets, ``x`` ``(B, N)`` or one ``(N,)`` (``static[3]``: x batched)."""


def _reference(static, data, x, indptr, indices, rows):
    mode, n_rows, batch, x_batched = static
    if mode == SHARED:
        return jax.ops.segment_sum(data[:, None] * x[indices], rows, num_segments=n_rows, indices_are_sorted=True)
    if mode == PER_POINT:
        return jax.vmap(lambda d, v: reference(d, v, indices, rows, n_rows), in_axes=(0, 0 if x_batched else None))(
            data, x)
    return reference(data, x, indices, rows, n_rows)


def _ffi_call(target, static, data, x, indptr, indices, rows):
    mode, n_rows, batch, x_batched = static
    n_cols = x.shape[0] if mode == SHARED else x.shape[-1]
    shape = {SINGLE: (n_rows,), SHARED: (n_rows, batch), PER_POINT: (batch, n_rows)}[mode]
    meta = jnp.asarray([mode, batch, n_cols, n_rows, int(mode == PER_POINT), int(x_batched)], jnp.int32)
    return jax.ffi.ffi_call(target, jax.ShapeDtypeStruct(shape, data.dtype))(indptr, indices, data, x, meta)


def _vmap(static, backend, axis_size, in_batched, data, x, indptr, indices, rows):
    """One kernel call under one ``jax.vmap``: over ``x`` alone (SHARED: the states side by side)
    or over the weights too (PER_POINT); nested vmaps and batched structure: the formula."""
    mode, n_rows, _, _ = static
    data_b, x_b = in_batched[0], in_batched[1]
    if mode != SINGLE or any(in_batched[2:]):
        axes = [0 if b else None for b in in_batched]
        out = jax.vmap(lambda *ops: _reference(static, *ops), in_axes=axes, axis_size=axis_size)(
            data, x, indptr, indices, rows)
        return out, True
    if not data_b:
        y = KERNEL.batched((SHARED, n_rows, axis_size, True), data, x.T, indptr, indices, rows, backend=backend)
        return y.T, True
    return KERNEL.batched((PER_POINT, n_rows, axis_size, bool(x_b)), data, x, indptr, indices, rows,
                          backend=backend), True


def _handler(variant):
    from . import _sparse_matvec_kernel

    return _sparse_matvec_kernel.handler(variant)


def _check_case(variant):
    """Small integer-valued products (exact in float32): single, through the vmap modes below."""
    rng = np.random.default_rng(0)
    dense = rng.integers(-3, 4, (23, 17)).astype(np.float32) * (rng.random((23, 17)) < 0.4)
    w = SparseMatrix.from_dense(dense, np.float32)
    x = rng.integers(-3, 4, 17).astype(np.float32)
    return (SINGLE, 23, 1, False), (w.data, x, w.indptr, w.indices, w.rows)


#: the CSR product behind XLA's FFI (one target for both dtypes); the segment-sum formula where it
#: cannot serve; JVP from the formula
KERNEL = NativeKernel(
    _TARGET, title="the sparse matvec kernel", handler=_handler, ffi=_ffi_call, reference=_reference,
    vmap=_vmap, check=_check_case, fallback_title="the segment-sum formula")
