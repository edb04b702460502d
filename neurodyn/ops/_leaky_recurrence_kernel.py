"""The numba side of :mod:`neurodyn.ops.leaky_recurrence` (imported on first use, by its
``NativeKernel``): the whole recurrence of T steps in one call, its loops cached on disk by numba.

Each step is the CSR product of :mod:`neurodyn.ops._sparse_matvec_kernel` (the same row sums,
four partial sums in storage order) followed by the leaky update of the same rows. The rows are
cut into chunks of about equal non-zero count, and the chunks of each step are claimed
(:func:`neurodyn.ops._threads.claim`) by the calling thread from the first and, with enough
non-zeros on a machine with two cores, by one more thread started for the call from the last,
until they meet; a piece of step t starts once every piece of step t - 1 is flagged done. On a
quiet machine each thread thus does the same rows in every step (its part of W stays in its
core's second-level cache: 1 MB here, which holds half of a 1,000-unit float64 matrix but not
all of it). A thread that waits long for a piece (the busy, shared machine descheduled the
thread that claimed it) computes it itself: a piece writes only the final states of its rows,
the same whoever computes it, so the other thread's late copy changes nothing. Each row is
always summed the same way, so the result does not depend on which thread did what.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core.extending import intrinsic, overload

from . import _frame, ffi
from ._frame import address, buffer, frame_of
from ._sparse_matvec_kernel import _row, _segment
from ._threads import SPIN, WORK, all_done, call_int, chunk_bounds, claim, flags, is_done, mark_done, two_threads
from .ffi import FRAME_ARGS, FRAME_RETS

XLA_U16 = 7
"""XLA_FFI_DataType of unsigned 16-bit integers (column indices of matrices up to 65,536 columns)."""

# meta (int32): activation (1: tanh, 0: identity), threads (1 or 2), block width (0: W as given), non-zeros a
# chunk, most chunks a step (the policies: neurodyn.ops.leaky_recurrence)
TANH = 1


@numba.njit(inline="always", error_model="numpy")
def tanh32(x):
    """tanh in float32 to about 3 ulp: Eigen's rational approximation (``generic_fast_tanh_float``),
    clamped at +-7.9053 where tanh rounds to +-1, x itself below 4e-4; NaN stays NaN. Unlike the C
    library's ``tanhf`` (about 20 ns a call here) it vectorises (numba's error model "numpy": no
    test for a zero divisor, which would stop LLVM from vectorising the loop)."""
    c = np.float32(7.90531110763549805)
    x = c if x > c else x
    x = -c if x < -c else x
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    tiny = abs(x) < np.float32(0.0004)  # tanh x = x there; x p would lose the digits of a subnormal x
    return x if tiny else x * p / q


@intrinsic
def power_of_two(typingctx, kf):
    """``2.0 ** kf`` for an integer-valued float ``0 <= kf <= 1023``, built from the bits of
    ``kf + 2^52 + 1023`` (whose low bits hold ``kf + 1023`` exactly) shifted into the exponent:
    no float-to-integer conversion, which AVX2 lacks for 64-bit integers (LLVM converted one lane
    at a time)."""

    def codegen(context, builder, signature, args):
        d, i64 = ir.DoubleType(), ir.IntType(64)
        biased = builder.fadd(args[0], ir.Constant(d, 4503599627370496.0 + 1023.0))
        return builder.bitcast(builder.shl(builder.bitcast(biased, i64), ir.Constant(i64, 52)), d)

    return types.float64(types.float64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a b + c`` rounded once (``llvm.fma``: one instruction on a CPU with FMA, as this
    machine's; it vectorises)."""

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        d = ir.DoubleType()
        return builder.call(cgutils.get_or_insert_function(builder.module, ir.FunctionType(d, [d, d, d]),
                                                           "llvm.fma.f64"), args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@numba.njit(inline="always", error_model="numpy")
def tanh64(x):
    """tanh in float64 to within 2 ulp (1.79 ulp at most against mpmath at 120 bits on 85,000
    points of [-20, 20], [-0.5, 0.5] and 10^[-8, 0]; tests/ops: within 3 of NumPy's): below
    |x| = 0.4 its Taylor series to x^31 (terms 2^2n (2^2n - 1) B_2n / (2n)!, the last below
    1e-19 of the first), above it ``1 - 2 / (exp(2|x|) + 1)`` with exp by Cody and Waite's
    reduction ``2^k exp(r)``, |r| <= ln 2 / 2, and exp(r) to r^13; both polynomials by Horner's
    rule in fused multiply-adds (:func:`fma`); |x| clamped at 19.1 where tanh rounds to 1; NaN
    stays NaN. The C library's ``tanh`` (about 20 ns a call here) does not vectorise; this does.
    Both branches are computed for every x (so the loop vectorises), and each Horner step waits for
    the last: with separate multiplies and adds and k converted to an integer one lane at a time,
    250 values took 2.1 us on one core here (the whole of float64's extra cost over float32 per
    step of a 500-unit reservoir on two threads), with fused ones and 2^k from k's float bits
    1.25 us."""
    x2 = x * x
    p = -1.0597268320104654e-06
    p = fma(p, x2, 2.6147711512907546e-06)
    p = fma(p, x2, -6.451689215655431e-06)
    p = fma(p, x2, 1.5918905069328964e-05)
    p = fma(p, x2, -3.927832388331683e-05)
    p = fma(p, x2, 9.691537956929451e-05)
    p = fma(p, x2, -0.00023912911424355248)
    p = fma(p, x2, 0.000590027440945586)
    p = fma(p, x2, -0.0014558343870513183)
    p = fma(p, x2, 0.003592128036572481)
    p = fma(p, x2, -0.008863235529902197)
    p = fma(p, x2, 0.021869488536155203)
    p = fma(p, x2, -0.05396825396825397)
    p = fma(p, x2, 0.13333333333333333)
    p = fma(p, x2, -0.3333333333333333)
    p = fma(p, x2, 1.0)
    small = x * p
    ax = abs(x)
    ax = ax if ax <= 19.1 else 19.1  # NaN becomes 19.1 here, so k below is in range; put back at the end
    y = 2 * ax
    v = y * 1.4426950408889634 + 0.5  # k = floor(v) (v >= 0): the nearest integer to y / ln 2
    kf = (v + 4503599627370496.0) - 4503599627370496.0  # v's integer part, rounded to nearest ...
    kf = kf - 1.0 if kf > v else kf  # ... so one less where that rounded up
    r = (y - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10
    e = 1.6059043836821613e-10
    e = fma(e, r, 2.08767569878681e-09)
    e = fma(e, r, 2.505210838544172e-08)
    e = fma(e, r, 2.755731922398589e-07)
    e = fma(e, r, 2.7557319223985893e-06)
    e = fma(e, r, 2.48015873015873e-05)
    e = fma(e, r, 0.0001984126984126984)
    e = fma(e, r, 0.001388888888888889)
    e = fma(e, r, 0.008333333333333333)
    e = fma(e, r, 0.041666666666666664)
    e = fma(e, r, 0.16666666666666666)
    e = fma(e, r, 0.5)
    e = fma(e, r, 1.0)
    e = fma(e, r, 1.0)
    e = e * power_of_two(kf)
    big = 1 - 2 / (e + 1)
    big = big if x >= 0 else -big
    big = big if x == x else x
    return small if ax < 0.4 else big


def tanh_of(x):
    """tanh by :func:`tanh32` for a float32 ``x``, else :func:`tanh64`, chosen when numba compiles
    the caller (so a kernel variant compiles only its own)."""
    return np.tanh(x)


@overload(tanh_of, inline="always")
def _tanh_of(x):
    return (lambda x: tanh32(x)) if x == types.float32 else (lambda x: tanh64(x))


@numba.njit(cache=True)
def block_chunk(indptr, indices, data, lo, hi, width, sdata, sidx, seg):
    """Rows ``lo <= i < hi`` of W (CSR) copied into the column-blocked layout: for each block b
    of ``width`` (a power of two) columns in turn, the rows' non-zeros in columns ``b width <= j < (b + 1)
    width``, row after row, each row's in storage order, the column stored as ``j - b width``
    (uint16); ``seg[blocks lo + b (hi - lo) + r]`` the start of row ``lo + r``'s piece of block
    b (they follow each other: a piece ends where the next starts, the chunk's last at
    ``indptr[hi]``). The chunk stays at its place ``indptr[lo] <= k < indptr[hi]``."""
    n_rows = hi - lo
    blocks = (seg.shape[0] - 1) // (indptr.shape[0] - 1)
    shift = np.uint64(0)  # width is a power of two: shifts, not divisions (10x slower here)
    while np.uint64(1) << shift < np.uint64(width):
        shift += np.uint64(1)
    count = np.zeros(blocks * n_rows, np.int64)
    for r in range(n_rows):
        for k in range(indptr[lo + r], indptr[lo + r + 1]):
            count[np.int64(np.uint64(indices[k]) >> shift) * n_rows + r] += 1
    start = np.int64(indptr[lo])
    for e in range(blocks * n_rows):
        seg[blocks * lo + e] = start
        start, count[e] = start + count[e], start  # count[e] becomes the piece's write cursor
    for r in range(n_rows):
        for k in range(indptr[lo + r], indptr[lo + r + 1]):
            j = np.uint64(indices[k])
            piece = np.int64(j >> shift) * n_rows + r
            at = count[piece]
            sdata[at] = data[k]
            sidx[at] = j & np.uint64(width - 1)
            count[piece] = at + 1


RESCUE_YIELDS = 16
"""Yields of a wait (after :data:`~neurodyn.ops._threads.SPIN` tries) before the waiting thread
computes the pieces it waits for itself (:func:`recur`): about 10-20 us on a quiet machine, far
less than the milliseconds for which the busy machine deschedules a thread."""


@numba.njit(cache=True, error_model="numpy")
def piece(t, c, indptr, indices, data, x0, inputs, scalars, activation, y, bounds, width, blocks, sdata,
          sidx, seg, pre):
    """Rows ``bounds[c] <= i < bounds[c + 1]`` of step t (:func:`recur`): the pre-activations
    into ``pre`` (this thread's), then the states into ``y``, so ``y`` is only ever written with
    a row's final value. Step 0 first builds the chunk's part of the blocked layout."""
    n = x0.shape[0]
    lo, hi = bounds[c], bounds[c + 1]
    leak, gain = scalars[0], scalars[1]
    keep = 1 - leak
    zero = np.uint64(0)
    if t == 0 and width > 0:
        block_chunk(indptr, indices, data, lo, hi, width, sdata, sidx, seg)
    out = t * n
    x, x_off = (x0, 0) if t == 0 else (y, out - n)
    if width > 0:
        for i in range(lo, hi):
            pre[i - lo] = 0
        e, last, end = blocks * lo, blocks * hi - 1, np.uint64(indptr[hi])
        for b in range(blocks):
            xb = np.uint64(x_off + b * width)
            for i in range(lo, hi):
                pre[i - lo] += _segment(sdata, sidx, zero, x, xb, np.uint64(seg[e]),
                                        np.uint64(seg[e + 1]) if e < last else end)
                e += 1
        us = np.uint64(out + lo)  # unsigned: LLVM gathered the inputs for the wrap-around test of out + i
        for r in range(hi - lo):
            pre[r] = gain * pre[r] + inputs[us + np.uint64(r)]
    else:
        for i in range(lo, hi):
            pre[i - lo] = gain * _row(indptr, indices, data, zero, x, np.uint64(x_off), i) + inputs[out + i]
    if activation == TANH:
        # in place, in a loop of its own: tanh vectorises here, not in the loop below, which reads
        # and writes y (x is y's previous row: LLVM must assume they overlap). One thread, N = 500,
        # CPU time a step: float64 12.3-13.4 us against 18.8-24.5, float32 11.2-11.7 against 12.8-13.1
        for r in range(hi - lo):
            pre[r] = tanh_of(pre[r])
    xs, ys = np.uint64(x_off + lo), np.uint64(out + lo)  # unsigned: no wrap-around tests
    for r in range(hi - lo):
        y[ys + np.uint64(r)] = keep * x[xs + np.uint64(r)] + leak * pre[r]


@numba.njit(cache=True, error_model="numpy")
def await_step(s, flag_address, yield_address, indptr, indices, data, x0, inputs, scalars, activation, y,
               bounds, width, blocks, sdata, sidx, seg, pre):
    """Until every piece of step ``s`` is done: spin, then yield the core; after
    :data:`RESCUE_YIELDS` yields compute the pieces not yet done of the steps from the last
    complete one to ``s`` here (the other thread, descheduled while it holds one, would
    otherwise hold this one up until it runs again; it writes the same values when it does).
    Every piece of these steps has been claimed: this thread is past them."""
    chunks = bounds.shape[0] - 1
    tries = 0
    while not all_done(flag_address, s * chunks, chunks):
        tries += 1
        if tries <= SPIN:
            continue
        if yield_address != 0:
            call_int(yield_address)
        if tries > SPIN + RESCUE_YIELDS:
            v = s - 1
            while v >= 0 and not all_done(flag_address, v * chunks, chunks):
                v -= 1
            for u in range(v + 1, s + 1):
                for c in range(chunks):
                    if not is_done(flag_address, u * chunks + c):
                        piece(u, c, indptr, indices, data, x0, inputs, scalars, activation, y, bounds,
                              width, blocks, sdata, sidx, seg, pre)
                        mark_done(flag_address, u * chunks + c)
            return


@numba.njit(cache=True, error_model="numpy")
def recur(indptr, indices, data, x0, inputs, scalars, activation, y, bounds, tickets, thread,
          yield_address, width, sdata, sidx, seg):
    """This thread's part of the call: ``y[t, i] = (1 - a) x[t-1, i] + a phi(g (W x[t-1])_i +
    inputs[t, i])``, with ``x[-1] = x0``, ``scalars = (a, g)``, rows of ``(T, N)`` flattened,
    tanh by :func:`tanh32` for float32 arrays, else :func:`tanh64`. Step t's
    chunk c (the rows ``bounds[c] <= i < bounds[c + 1]``) is a piece claimed from the step's
    two ends (:func:`neurodyn.ops._threads.claim`; ``tickets``: the call's counters); it is
    computed once every piece of step t - 1 is flagged done (:func:`await_step`), then flagged
    done itself. Thread 0 returns once the last step is done. ``width > 0``: W is read in the
    column-blocked layout ``sdata, sidx, seg`` (:func:`block_chunk`; step 0 of a chunk builds
    the chunk's part first), block after block, so that the gathered ``x`` stays in the
    first-level cache; row i's sum is then the sum of its blocks' pieces in block order."""
    n = x0.shape[0]
    steps = inputs.shape[0] // n
    chunks = bounds.shape[0] - 1
    blocks = (seg.shape[0] - 1) // n if width > 0 else 1
    flag_address = flags(tickets, steps)
    pre = np.empty(n, y.dtype)
    t = np.int64(0)  # not the literal 0: numba would compile claim for it
    while t < steps:
        c = claim(tickets, t, thread, chunks)
        if c < 0:
            t += 1
            continue
        if t > 0:
            await_step(t - 1, flag_address, yield_address, indptr, indices, data, x0, inputs, scalars, activation,
                       y, bounds, width, blocks, sdata, sidx, seg, pre)
        if not is_done(flag_address, t * chunks + c):  # else the other thread computed it while waiting
            piece(t, c, indptr, indices, data, x0, inputs, scalars, activation, y, bounds, width, blocks,
                  sdata, sidx, seg, pre)
            mark_done(flag_address, t * chunks + c)
    if thread == 0:
        await_step(steps - 1, flag_address, yield_address, indptr, indices, data, x0, inputs, scalars, activation,
                   y, bounds, width, blocks, sdata, sidx, seg, pre)


@numba.njit(cache=True)
def run(frame_address, tickets, thread, yield_address, real, index):
    """One thread's part of the call frame at ``frame_address`` (:func:`recur`), its values of
    type ``real`` and its column indices of type ``index`` (NumPy scalar types). Arguments: row
    pointers, column indices (uint16 or uint32), values, x0, inputs ``(T, N)``, scalars (a, g),
    metadata (as above); results: the states ``(T, N)`` and the blocked layout's values, columns
    (uint16) and piece starts (uint32; each of one element when the width is 0)."""
    frame = frame_of(address(frame_address))
    ip, n_ip, _ = buffer(frame, FRAME_ARGS, 0)
    jp, nnz, _ = buffer(frame, FRAME_ARGS, 1)
    dp, n_d, _ = buffer(frame, FRAME_ARGS, 2)
    xp, n_x, _ = buffer(frame, FRAME_ARGS, 3)
    up, n_u, _ = buffer(frame, FRAME_ARGS, 4)
    sp, _, _ = buffer(frame, FRAME_ARGS, 5)
    mp, n_m, _ = buffer(frame, FRAME_ARGS, 6)
    yp, n_y, _ = buffer(frame, FRAME_RETS, 0)
    bdp, n_bd, _ = buffer(frame, FRAME_RETS, 1)
    bip, n_bi, _ = buffer(frame, FRAME_RETS, 2)
    gp, n_g, _ = buffer(frame, FRAME_RETS, 3)
    indptr = carray(address(ip), (n_ip,), np.uint32)
    meta = carray(address(mp), (n_m,), np.int32)
    recur(indptr, carray(address(jp), (nnz,), index), carray(address(dp), (n_d,), real),
          carray(address(xp), (n_x,), real), carray(address(up), (n_u,), real), carray(address(sp), (2,), real),
          np.int64(meta[0]), carray(address(yp), (n_y,), real),
          chunk_bounds(indptr, meta[3], meta[4]), tickets, thread, yield_address, np.int64(meta[2]),
          carray(address(bdp), (n_bd,), real), carray(address(bip), (n_bi,), np.uint16),
          carray(address(gp), (n_g,), np.uint32))
    return 0


# one thread's work for each (value type, index width): a C function (the two_threads WORK
# signature) compiled on first use of its variant and cached on disk, so that no call compiles
# the other three (36 s of numba together, cold) and a new process loads it rather than linking
# and optimising the loops again inside its handler
def _work_float32_16(frame_address, tickets, thread, yield_address):
    return run(frame_address, tickets, thread, yield_address, np.float32, np.uint16)


def _work_float32_32(frame_address, tickets, thread, yield_address):
    return run(frame_address, tickets, thread, yield_address, np.float32, np.uint32)


def _work_float64_16(frame_address, tickets, thread, yield_address):
    return run(frame_address, tickets, thread, yield_address, np.float64, np.uint16)


def _work_float64_32(frame_address, tickets, thread, yield_address):
    return run(frame_address, tickets, thread, yield_address, np.float64, np.uint32)


_WORK = {("float32", 16): _work_float32_16, ("float32", 32): _work_float32_32,
         ("float64", 16): _work_float64_16, ("float64", 32): _work_float64_32}
_COMPILED: dict = {}


def work(variant):
    """The work of one thread (``numba.cfunc``) of ``variant = (dtype name, index bits)``,
    compiled (or loaded from numba's disk cache) on first use."""
    if variant not in _COMPILED:
        _COMPILED[variant] = numba.cfunc(WORK, cache=True)(_WORK[variant])
    return _COMPILED[variant]


def handler(variant):
    """The FFI handler (a ``numba.cfunc``) of ``variant = (dtype name, index bits)``. Where the
    metadata asks for two threads and the machine has two cores, a second thread started for the
    call takes pieces of the work too (:func:`neurodyn.ops._threads.two_threads`)."""
    major, minor = ffi.api_version()
    share = two_threads(work(variant).address)

    @numba.cfunc(types.int64(types.voidptr))
    def run_frame(frame_address):
        frame = _frame.frame_of(frame_address)
        if _frame.metadata_query(frame, major, minor):
            return 0
        _, n, _ = buffer(frame, FRAME_ARGS, 3)
        _, n_u, _ = buffer(frame, FRAME_ARGS, 4)
        mp, n_m, _ = buffer(frame, FRAME_ARGS, 6)
        meta = carray(address(mp), (n_m,), np.int32)
        steps = n_u // n
        # each step's claims (a word) and its pieces' done flags (a byte each, at most meta[4])
        return 0 if share(frame_address, meta[1] >= 2, steps + (steps * meta[4] + 7) // 8) else 1

    return run_frame
