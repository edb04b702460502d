"""The numba side of :mod:`neurodyn.ops.sparse_matvec` (imported on first use, by its
``NativeKernel``): module-level loops cached on disk by numba, so a process compiles only the
thin FFI handler that :func:`handler` builds around :func:`work`.

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

from . import _frame, ffi
from ._frame import address, buffer, frame_of
from ._threads import WORK, chunk_bounds, take, two_threads
from .ffi import FRAME_ARGS, FRAME_RETS, XLA_F64

THREAD_MIN_NNZ = 64_000
"""Below this many non-zeros in W (about 30-60 us of work a product) the kernel stays on the
calling thread: starting and joining a second one costs tens of microseconds on an idle machine
and far more when the cores are busy (measured on the shared 2-core machine: a 25,000-non-zero
product took 60 us split against 11 us for 9,000 unsplit; eight vmapped products of a
25,000-non-zero W took 15 us each split against 11 unsplit at load 5)."""

CHUNK_NNZ = 4096
"""Fewest non-zeros in a piece of work."""
MAX_CHUNKS = 2
"""Pieces a call of at least :data:`THREAD_MIN_NNZ` non-zeros when it has one product (or
SHARED); a PER_POINT call's pieces are its products. (Smaller calls run whole on the calling
thread.) Each call starts its second thread anew, so there is no step-to-step meeting to
smooth; halves of equal non-zero count, taken as tickets, leave the calling thread the second
half too when the started thread is slow to run. 64 pieces a call were measured against the
halves (scan of x <- tanh(W x) and vmapped products, N = 500-5,000, three interleaved
process pairs, load 5): no clear gain, and at N = 2,000 8-35 % slower by the best of three."""


# meta (int32): mode, batch, n_cols, n_rows, data batched, x batched
SINGLE, SHARED, PER_POINT = 0, 1, 2  # one product; B columns of x against one W; B products of B weight sets


@numba.njit(inline="always")
def _segment(data, indices, d0, x, x0, k, end):
    """``sum_k data[d0 + k] x[x0 + indices[k]]`` from ``k`` (uint64) up to ``end`` (excluded),
    four partial sums (k mod 4 from ``k``) added at the end (every index unsigned: no
    wrap-around tests)."""
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
def rows(indptr, indices, data, x, y, meta, lo, hi, first, last):
    """Rows ``lo <= i < hi`` of the call's products (module docstring; ``meta`` as above). SHARED:
    ``x`` is ``(n_cols, B)`` and ``y`` ``(n_rows, B)``, so the B columns of a row are read and
    written together; PER_POINT: products ``first <= b < last`` of the B, ``x`` ``(B or 1, n_cols)``."""
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
    for b in range(first, last):
        d0 = np.uint64(b) * nnz if data_batched else np.uint64(0)
        x0 = np.uint64(b * n_cols) if x_batched else np.uint64(0)
        for i in range(lo, hi):
            y[b * n_rows + i] = _row(indptr, indices, data, d0, x, x0, i)


@numba.njit(cache=True)
def apply(frame, lo, hi, first, last):
    """Rows ``lo <= i < hi`` of products ``first <= b < last`` of one call frame (:func:`rows`;
    ``hi = -1``: every row, ``last = -1``: every product). Arguments: row pointers, column
    indices, values, x, metadata; result: y."""
    ip, n_ip, _ = buffer(frame, FRAME_ARGS, 0)
    jp, nnz, _ = buffer(frame, FRAME_ARGS, 1)
    dp, n_d, code = buffer(frame, FRAME_ARGS, 2)
    xp, n_x, _ = buffer(frame, FRAME_ARGS, 3)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 4)
    yp, n_y, _ = buffer(frame, FRAME_RETS, 0)
    indptr = carray(address(ip), (n_ip,), np.uint32)
    indices = carray(address(jp), (nnz,), np.uint32)
    meta = carray(address(mp), (n_m,), np.int32)
    hi = n_ip - 1 if hi < 0 else hi
    last = (meta[1] if meta[0] == PER_POINT else 1) if last < 0 else last
    if code == XLA_F64:
        rows(indptr, indices, carray(address(dp), (n_d,), np.float64), carray(address(xp), (n_x,), np.float64),
             carray(address(yp), (n_y,), np.float64), meta, lo, hi, first, last)
    else:
        rows(indptr, indices, carray(address(dp), (n_d,), np.float32), carray(address(xp), (n_x,), np.float32),
             carray(address(yp), (n_y,), np.float32), meta, lo, hi, first, last)


def _work(frame_address, tickets, thread, yield_address):
    """The pieces of the call frame at ``frame_address`` this thread takes
    (:mod:`neurodyn.ops._threads`): chunk c of the rows (:func:`~neurodyn.ops._threads.chunk_bounds`)
    of product b, for each of the B products of a PER_POINT call, else of the one product (SHARED:
    all B columns of the rows)."""
    frame = frame_of(address(frame_address))
    ip, n_ip, _ = buffer(frame, FRAME_ARGS, 0)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 4)
    meta = carray(address(mp), (n_m,), np.int32)
    products = meta[1] if meta[0] == PER_POINT else 1
    bounds = chunk_bounds(carray(address(ip), (n_ip,), np.uint32), CHUNK_NNZ, max(1, MAX_CHUNKS // products))
    chunks = bounds.shape[0] - 1
    while True:
        piece = take(tickets)
        if piece >= chunks * products:
            return 0
        b = piece // chunks
        apply(frame, bounds[piece - b * chunks], bounds[piece - b * chunks + 1], b, b + 1)


def work():
    """The work of one thread (a ``numba.cfunc`` of :func:`_work`, cached on disk), compiled on
    first use: not when the leaky recurrence kernel imports this module's row sums."""
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = numba.cfunc(WORK, cache=True)(_work)
    return _COMPILED


_COMPILED = None


def handler(variant=()):
    """The FFI handler (a ``numba.cfunc``): arguments row pointers, column indices, values, x,
    metadata; result y. With at least :data:`THREAD_MIN_NNZ` non-zeros in W, where the machine
    has two cores, a thread started for the call takes pieces too
    (:func:`neurodyn.ops._threads.two_threads`)."""
    major, minor = ffi.api_version()
    share = two_threads(work().address)

    @numba.cfunc(types.int64(types.voidptr))
    def run_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        _, nnz, _ = buffer(frame, FRAME_ARGS, 1)
        if nnz < THREAD_MIN_NNZ:  # the whole call here, without the tickets' counters
            apply(frame, 0, -1, 0, -1)
            return 0
        return 0 if share(frame_address, True, 0) else 1

    return run_frame
