"""The numba side of :mod:`neurodyn.ops.sparse_matvec` (imported on first use, by its
``NativeKernel``): module-level loops cached on disk by numba, so a process compiles only the
thin FFI handler that :func:`handler` builds around :func:`run`.

Row ``i`` of ``y = W x`` is ``sum_k data[k] x[indices[k]]`` over ``indptr[i] <= k < indptr[i+1]``,
summed in storage order with four partial sums (k mod 4) added at the end: the same rounding
however the rows are split between threads. Column indices are read as unsigned 32-bit
numbers: numba then drops the wrap-around test of a negative index, which made the loop 2-3x
slower.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import carray, types
from numba.core.extending import intrinsic

from . import _frame, ffi
from ._frame import address, buffer
from .ffi import FRAME_ARGS, FRAME_RETS, XLA_F64

THREAD_MIN_NNZ = 64_000
"""Below this many non-zeros (about 30-60 us of work) the kernel stays on the calling thread:
starting and joining a second one costs tens of microseconds on an idle machine and far more
when the cores are busy (measured on the shared 2-core machine: a 25,000-non-zero product took
60 us split against 11 us for 9,000 unsplit)."""

@intrinsic
def pointer_value(typingctx, pointer):
    """``void* -> int64`` (the handler hands its call frame to a second thread as a number)."""

    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], context.get_value_type(types.int64))

    return types.int64(types.voidptr), codegen


# meta (int32): mode, batch, n_cols, n_rows, data batched, x batched
SINGLE, SHARED, PER_POINT = 0, 1, 2  # one product; B columns of x against one W; B products of B weight sets


@numba.njit(inline="always")
def _segment(data, indices, d0, x, x0, k, end):
    """``sum_k data[d0 + k] x[x0 + indices[k]]`` over ``k`` (the first, uint64) to ``end`` (excluded), four partial
    sums (k mod 4 from ``k``) added at the end (every index unsigned: no wrap-around tests)."""
    zero = data[0] * 0
    s0, s1, s2, s3 = zero, zero, zero, zero
    four = np.uint64(4)
    while k + four <= end:
        s0 += data[d0 + k] * x[x0 + indices[k]]
        s1 += data[d0 + k + np.uint64(1)] * x[x0 + indices[k + np.uint64(1)]]
        s2 += data[d0 + k + np.uint64(2)] * x[x0 + indices[k + np.uint64(2)]]
        s3 += data[d0 + k + np.uint64(3)] * x[x0 + indices[k + np.uint64(3)]]
        k += four
    while k < end:
        s0 += data[d0 + k] * x[x0 + indices[k]]
        k += np.uint64(1)
    return (s0 + s1) + (s2 + s3)


@numba.njit(inline="always")
def _row(indptr, indices, data, d0, x, x0, i):
    """``sum_k data[d0 + k] x[x0 + indices[k]]`` over row ``i`` (:func:`_segment`)."""
    return _segment(data, indices, d0, x, x0, np.uint64(indptr[i]), np.uint64(indptr[i + 1]))


@numba.njit(cache=True)
def rows(indptr, indices, data, x, y, meta, lo, hi):
    """Rows ``lo <= i < hi`` of the call's products (module docstring; ``meta`` as above). SHARED:
    ``x`` is ``(n_cols, B)`` and ``y`` ``(n_rows, B)``, so the B columns of a row are read and
    written together; PER_POINT: ``B`` products one after the other, ``x`` ``(B or 1, n_cols)``."""
    mode, batch, n_cols, n_rows, data_batched, x_batched = meta[0], meta[1], meta[2], meta[3], meta[4], meta[5]
    if mode == SHARED:
        acc = np.zeros(batch, y.dtype)
        width = np.uint64(batch)
        for i in range(lo, hi):
            acc[:] = 0
            for k in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
                w = data[k]
                base = np.uint64(indices[k]) * width
                for b in range(width):
                    acc[b] += w * x[base + b]
            for b in range(batch):
                y[i * batch + b] = acc[b]
        return
    nnz = np.uint64(indices.shape[0])
    for b in range(batch if mode == PER_POINT else 1):
        d0 = np.uint64(b) * nnz if data_batched else np.uint64(0)
        x0 = np.uint64(b * n_cols) if x_batched else np.uint64(0)
        for i in range(lo, hi):
            y[b * n_rows + i] = _row(indptr, indices, data, d0, x, x0, i)


@numba.njit(cache=True)
def run(frame, lo_fraction, hi_fraction):
    """The rows of one call frame between the nnz fractions ``lo_fraction`` and ``hi_fraction``
    (in units of 1/2^20 of the non-zeros: a split of the work, not of the rows). Arguments:
    row pointers, column indices, values, x, metadata; result: y."""
    ip, n_ip, _ = buffer(frame, FRAME_ARGS, 0)
    jp, nnz, _ = buffer(frame, FRAME_ARGS, 1)
    dp, n_d, code = buffer(frame, FRAME_ARGS, 2)
    xp, n_x, _ = buffer(frame, FRAME_ARGS, 3)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 4)
    yp, n_y, _ = buffer(frame, FRAME_RETS, 0)
    indptr = carray(address(ip), (n_ip,), np.uint32)
    indices = carray(address(jp), (nnz,), np.uint32)
    meta = carray(address(mp), (n_m,), np.int32)
    n_rows = n_ip - 1
    total = np.uint64(indptr[n_rows])
    lo = np.searchsorted(indptr, total * np.uint64(lo_fraction) // np.uint64(1 << 20)) if lo_fraction > 0 else 0
    hi = np.searchsorted(indptr, total * np.uint64(hi_fraction) // np.uint64(1 << 20)) \
        if hi_fraction < (1 << 20) else n_rows
    lo, hi = min(lo, n_rows), min(hi, n_rows)
    if code == XLA_F64:
        rows(indptr, indices, carray(address(dp), (n_d,), np.float64), carray(address(xp), (n_x,), np.float64),
             carray(address(yp), (n_y,), np.float64), meta, lo, hi)
    else:
        rows(indptr, indices, carray(address(dp), (n_d,), np.float32), carray(address(xp), (n_x,), np.float32),
             carray(address(yp), (n_y,), np.float32), meta, lo, hi)


def handler(variant=()):
    """The FFI handler (a ``numba.cfunc``): arguments row pointers, column indices, values, x,
    metadata; result y. Above :data:`THREAD_MIN_NNZ` non-zeros, where the machine has two cores,
    the second half of the non-zeros goes to a thread the handler starts and joins."""
    import os

    from numba import types

    from ._gram_kernel import _pthread

    major, minor = ffi.api_version()
    whole = 1 << 20

    @numba.cfunc(types.voidptr(types.voidptr))
    def helper(task_address):
        task = carray(task_address, (3,), np.int64)
        run(_frame.frame_of(address(task[0])), task[1], task[2])
        return task_address

    helper_address = helper.address
    spawn, join = _pthread()
    split = spawn is not None and (os.cpu_count() or 1) >= 2

    @numba.cfunc(types.int64(types.voidptr))
    def run_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        _, nnz, _ = buffer(frame, FRAME_ARGS, 1)
        if not split or nnz < THREAD_MIN_NNZ:
            run(frame, 0, whole)
            return 0
        task = np.array([pointer_value(frame_address), whole // 2, whole], np.int64)
        thread = np.zeros(1, np.uint64)
        started = spawn(thread.ctypes.data, 0, helper_address, task.ctypes.data) == 0
        run(frame, 0, whole // 2)
        if started:
            join(thread[0], 0)
        else:
            run(frame, whole // 2, whole)
        return 0 if task[2] == whole else 1

    return run_frame
