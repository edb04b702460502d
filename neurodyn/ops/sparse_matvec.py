"""Sparse matrix times dense vector, ``y = W x``, at the machine's memory bandwidth: the recurrent
product of large sparse reservoirs (docs/models/reservoirs.md, "Large sparse reservoirs").

A step of an N-unit reservoir with a fraction p of non-zeros must read ``p N^2`` weights and
their column indices, ``p N^2 (s + 4)`` bytes for values of s bytes, against ``s N^2`` for the
dense matrix: at N = 10,000 and p = 0.1, 80 MB (float32) or 120 MB (float64) instead of 400 or
800 MB. :class:`SparseMatrix` holds W in CSR form (rows = outputs); ``W @ x`` is
:func:`sparse_matvec`.

On CPU the product is a C function compiled by numba that XLA calls through its typed FFI
(:mod:`neurodyn.ops.ffi`; loops in :mod:`neurodyn.ops._sparse_matvec_kernel`, cached on disk):
one pass over the non-zeros, the rows split between the calling XLA thread and one thread the
kernel starts when the machine has two cores (halves of equal non-zero count). Under
``jax.vmap`` it is one call: over ``x`` alone (a sweep of reservoirs sharing W: the batch's
states sit side by side, each weight read once for all of them) or over the weights too (a loop
over the batch inside the call); nested vmaps and batched structure (row pointers, indices) use
the reference formula. Elsewhere (other platforms, numba missing, a failed self-check) the
product is the reference formula ``segment_sum(data * x[indices], rows)``, which is also the
product's derivative: the JVP is ``W dx + dW x`` in that form, so ``jax.grad`` transposes it
(the kernel itself is never differentiated).
"""

from __future__ import annotations

import functools
import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..pytree import pytree_dataclass
from . import ffi

_TARGET = "neurodyn_sparse_matvec"
THREAD_MIN_NNZ = 64_000
"""Below this many non-zeros (about 30-60 us of work) the kernel stays on the calling thread:
starting and joining a second one costs tens of microseconds on an idle machine and far more
when the cores are busy (measured on the shared 2-core machine: a 25,000-non-zero product took
60 us split against 11 us for 9,000 unsplit)."""


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


def sparse_matvec(w: SparseMatrix, x: jax.Array) -> jax.Array:
    """``y = W x``: ``x`` ``(N,)`` -> ``(M,)`` (see the module docstring). Differentiable in ``x``
    and ``w.data``; batched by ``jax.vmap``."""
    x = jnp.asarray(x)
    if x.shape != (w.shape[1],):
        raise ValueError(f"sparse_matvec: x must have shape ({w.shape[1]},), got {x.shape}")
    dtype = jnp.result_type(w.data, x)
    if w.nnz == 0:
        return jnp.zeros(w.shape[0], dtype)
    return _product(w.data.astype(dtype), x.astype(dtype), w.indptr, w.indices, w.rows, w.shape[0])


def reference(data, x, indices, rows, n_rows: int) -> jax.Array:
    """``y_i = sum_{k: rows_k = i} data_k x[indices_k]``: the product from differentiable
    primitives (the kernel's definition and derivative)."""
    return jax.ops.segment_sum(data * x[indices], rows, num_segments=n_rows, indices_are_sorted=True)


@partial(jax.custom_jvp, nondiff_argnums=(5,))
def _product(data, x, indptr, indices, rows, n_rows):
    if jax.default_backend() == "cpu" and data.dtype in (jnp.float32, jnp.float64) and _kernel_ok():
        return _native(data, x, indptr, indices, rows, n_rows)
    return reference(data, x, indices, rows, n_rows)


@_product.defjvp
def _product_jvp(n_rows, primals, tangents):
    data, x, indptr, indices, rows = primals
    d_data, d_x = tangents[0], tangents[1]
    out = _product(data, x, indptr, indices, rows, n_rows)
    return out, reference(d_data, x, indices, rows, n_rows) + reference(data, d_x, indices, rows, n_rows)


def _native(data, x, indptr, indices, rows, n_rows):
    """The FFI kernel, one call also under one ``jax.vmap`` (module docstring)."""
    from jax.custom_batching import custom_vmap

    @custom_vmap
    def run(data, x, indptr, indices, rows):
        return _call(data, x, indptr, indices, (0, 1, x.shape[0], n_rows, 0, 0), (n_rows,))

    @run.def_vmap
    def run_batched(axis_size, in_batched, data, x, indptr, indices, rows):
        data_b, x_b = in_batched[0], in_batched[1]
        if in_batched[2] or in_batched[3] or in_batched[4] or data.ndim > 2 or x.ndim > 2:
            axes = [0 if b else None for b in in_batched]
            return jax.vmap(lambda d, v, p, i, r: reference(d, v, i, r, n_rows), in_axes=axes,
                            axis_size=axis_size)(data, x, indptr, indices, rows), True
        n_cols = x.shape[-1]
        if not data_b:  # B states against one W: x as (N, B), y as (M, B)
            y = _call(data, x.T, indptr, indices, (1, axis_size, n_cols, n_rows, 0, 1), (n_rows, axis_size))
            return y.T, True
        meta = (2, axis_size, n_cols, n_rows, 1, int(x_b))
        return _call(data, x, indptr, indices, meta, (axis_size, n_rows)), True

    return run(data, x, indptr, indices, rows)


def _call(data, x, indptr, indices, meta, shape):
    call = jax.ffi.ffi_call(_target(), jax.ShapeDtypeStruct(shape, data.dtype), vmap_method="sequential")
    return call(indptr, indices, data, x, jnp.asarray(meta, jnp.int32))


@functools.cache
def _target() -> str:
    """Register the kernel (a numba C function XLA calls; loops cached on disk, only this thin
    handler compiled per process); returns the target name."""
    import numba
    from numba import carray, types

    from . import _frame, _sparse_matvec_kernel
    from .gram import _pthread

    major, minor = ffi.api_version()
    whole = 1 << 20

    @numba.cfunc(types.voidptr(types.voidptr))
    def helper(task_address):
        task = carray(task_address, (3,), np.int64)
        _sparse_matvec_kernel.run(_frame.frame_of(_frame.address(task[0])), task[1], task[2])
        return task_address

    helper_address = helper.address
    spawn, join = _pthread()
    split = spawn is not None and (os.cpu_count() or 1) >= 2

    @numba.cfunc(types.int64(types.voidptr))
    def handler(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        _, nnz, _ = _frame.buffer(frame, ffi.FRAME_ARGS, 1)
        if not split or nnz < THREAD_MIN_NNZ:
            _sparse_matvec_kernel.run(frame, 0, whole)
            return 0
        task = np.array([_sparse_matvec_kernel.pointer_value(frame_address), whole // 2, whole], np.int64)
        thread = np.zeros(1, np.uint64)
        started = spawn(thread.ctypes.data, 0, helper_address, task.ctypes.data) == 0
        _sparse_matvec_kernel.run(frame, 0, whole // 2)
        if started:
            join(thread[0], 0)
        else:
            _sparse_matvec_kernel.run(frame, whole // 2, whole)
        return 0 if task[2] == whole else 1

    return ffi.register_handler(_TARGET, handler)


@functools.cache
def _kernel_ok() -> bool:
    """Whether the kernel serves here: numba installed, an FFI API of the 0.x layout and, at first
    use, small products (single, shared-W batch, per-point batch; float32) equal to the reference
    formula; otherwise a warning and the reference formula."""
    import warnings

    if not ffi.numba_installed() or ffi.api_version()[0] != 0:
        return False
    rng = np.random.default_rng(0)
    dense = rng.integers(-3, 4, (23, 17)).astype(np.float32) * (rng.random((23, 17)) < 0.4)
    x = rng.integers(-3, 4, (3, 17)).astype(np.float32)
    try:
        with jax.ensure_compile_time_eval():
            w = SparseMatrix.from_dense(dense, np.float32)
            data = jnp.stack([w.data, 2 * w.data, -w.data])
            one = _native(w.data, jnp.asarray(x[0]), w.indptr, w.indices, w.rows, 23)
            shared = jax.vmap(lambda v: _native(w.data, v, w.indptr, w.indices, w.rows, 23))(jnp.asarray(x))
            each = jax.vmap(lambda d, v: _native(d, v, w.indptr, w.indices, w.rows, 23))(data, jnp.asarray(x))
    except Exception as e:  # noqa: BLE001 - any failure means: do not use this kernel
        warnings.warn(f"neurodyn: the sparse matvec kernel failed its self-check ({e}); using the reference formula",
                      RuntimeWarning, stacklevel=3)
        return False
    scales = np.array([1.0, 2.0, -1.0], np.float32)[:, None]
    if not (np.array_equal(np.asarray(one), dense @ x[0]) and np.array_equal(np.asarray(shared), x @ dense.T)
            and np.array_equal(np.asarray(each), scales * (x @ dense.T))):
        warnings.warn("neurodyn: the sparse matvec kernel failed its self-check (wrong sums); using the reference "
                      "formula", RuntimeWarning, stacklevel=3)
        return False
    return True
